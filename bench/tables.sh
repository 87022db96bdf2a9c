#!/usr/bin/env bash
# bench/tables.sh BUILD — what low-bit token embeddings / classifier cost (rz-pack
# --embed-bits): perplexity of stories260K and bits per weight of the whole model, for
# two linear formats × three table formats. Calibration: the first 60,000 bytes of
# tinystories-valid.txt (rz-calibrate --ctx 128 -n 8); evaluation: 10,240 tokens from byte
# 100,001 on (disjoint), context 256, run from the codes. Needs RIZZ_DATA (stories260K.bin,
# tok512.bin, tinystories-valid.txt). Takes well under a minute on an idle 2-core machine.
set -uo pipefail
. "$(dirname "$0")/stories_calib.sh"
tail -c +100001 "$F" > "$W/eval.txt"
$P/rz-tokenize -q -z "$Z" -f "$W/eval.txt" -o "$W/eval.tok"
EV="-t 2 --tokens $W/eval.tok --ctx 256 --max-tokens 10240"
printf "  %-26s %-22s %9s %9s %8s\n" linears tables bpw_model ppl "vs f32"
base=$($P/rz-ppl -q -m "$M" $EV --json | grep -o '"ppl":[0-9.]*' | cut -d: -f2)
printf "  %-26s %-22s %9.3f %9.4f %8s\n" "float32" "float32" 32 "$base" "1.000"
for lin in "ldlq --bits 4" "e8p --bits 2 --incoherence"; do
  $P/rz-quantize -q -t 2 -m "$M" -H "$W/h.rzs" --method $lin -o "$W/l.q" > /dev/null
  for tab in "" "--embed-bits 8" "--embed-bits 4"; do
    bpw=$($P/rz-pack -q -m "$M" "$W/l.q" $tab -o "$W/p.rzm" --json | grep -o '"bpw_model":[0-9.]*' | cut -d: -f2)
    ppl=$($P/rz-ppl -q -m "$W/p.rzm" $EV --json | grep -o '"ppl":[0-9.]*' | cut -d: -f2)
    printf "  %-26s %-22s %9.3f %9.4f %8.3f\n" "$lin" "${tab:-float32}" "$bpw" "$ppl" "$(awk -v a="$ppl" -v b="$base" 'BEGIN{print a/b}')"
  done
done
