#!/usr/bin/env bash
# bench/act8.sh [BUILD] — what int8 inputs to the decode kernels cost in quality, on
# stories260K packed as bench/tables.sh packs it (calibration: the first 60,000 bytes of
# tinystories-valid.txt, rz-calibrate --ctx 128 -n 8; then rz-quantize and rz-pack):
# e8p 2-, 3- and 4-bit (RVQ) + RHT with the 4-bit table, and ldlq 4-bit (group 32, the
# int8 grid kernel) with the 4-bit table, and ldlq 8-bit per row with the 8-bit table. bench_act8 then scores 4,096 tokens from byte 100,001 on,
# token by token in windows of 256, with the float kernels, int8 inputs, and the dense
# float32 path. Needs RIZZ_DATA (stories260K.bin, tok512.bin, tinystories-valid.txt).
# About a minute on one core.
set -uo pipefail
B=${1:-build/release}
CALIB_THREADS=1 . "$(dirname "$0")/stories_calib.sh"
tail -c +100001 "$F" | head -c 40000 > "$W/eval.txt"
for lin in "e8p --bits 2 --incoherence" "e8p --bits 3 --incoherence" "e8p --bits 4 --incoherence" "ldlq --bits 4 --group 32" "ldlq --bits 8"; do
  eb=4; [ "${lin#ldlq --bits 8}" != "$lin" ] && eb=8  # 8-bit linears with the 8-bit table (per row)
  $P/rz-quantize -q -t 1 -m "$M" -H "$W/h.rzs" --method $lin -o "$W/l.q" > /dev/null
  $P/rz-pack -q -m "$M" "$W/l.q" --embed-bits $eb -o "$W/p.rzm" > /dev/null
  echo "linears: $lin, table: $eb-bit$([ $eb = 4 ] && echo ' per 32' || echo ' per row')"
  "$B/bench/bench_act8" "$W/p.rzm" "$Z" "$W/eval.txt" 4096 256
done
