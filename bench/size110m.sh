#!/usr/bin/env bash
# bench/size110m.sh [BUILD] — the packed file size of a stories110M-shaped model (dim 768,
# 12 layers, 12 heads, hidden 2048, vocab 32000; random weights from rz-convert --random,
# so the size is what matters, not the quality) at e8p 2-bit + RHT on both sides with
# the embedding/classifier table (shared) at 4 bits per 32 columns, and at 8 bits per
# row: every step of the real pipeline (rz-calibrate on 4 windows of 128 tokens of
# TinyStories, rz-quantize, rz-pack), then `ls -l` of the .rzm and rz-pack's bpw figures.
# The target: under 40 MB at 2 bits with a 4-bit table. One thread; about
# 3-10 CPU minutes (the quantisation of 84 matrices dominates).
set -euo pipefail
B=${1:-build/release}
D=${RIZZ_DATA:-../shared/data}
W=${RZ_BENCH_DIR:-build/bench}; mkdir -p "$W"
[ -r "$D/tokenizer.bin" ] && [ -r "$D/tinystories-valid.txt" ] || { echo "needs $D/tokenizer.bin and tinystories-valid.txt"; exit 0; }
[ -s "$W/s110m.rzm" ] || bin/rz-convert -q --random --dim 768 --layers 12 --heads 12 --hidden 2048 --vocab 32000 \
  --seq-len 1024 --seed 7 -o "$W/s110m.rzm"
head -c 200000 "$D/tinystories-valid.txt" > "$W/s110m.calib.txt"
[ -s "$W/s110m.e8p2.rzs" ] || bin/rz-calibrate -q -t 1 -m "$W/s110m.rzm" -z "$D/tokenizer.bin" -f "$W/s110m.calib.txt" \
  --ctx 128 -n 4 -o "$W/s110m.h.rzs"
[ -s "$W/s110m.e8p2.rzs" ] || bin/rz-quantize -q -t 1 -m "$W/s110m.rzm" -H "$W/s110m.h.rzs" --method e8p --bits 2 \
  --incoherence -o "$W/s110m.e8p2.rzs" > /dev/null
rm -f "$W/s110m.h.rzs" # 573 MB of Hessians, no longer needed
for tb in 4 8; do
  js=$(bin/rz-pack -q -m "$W/s110m.rzm" "$W/s110m.e8p2.rzs" --embed-bits $tb -o "$W/s110m.e8p2.emb$tb.rzm" --json)
  bytes=$(stat -c %s "$W/s110m.e8p2.emb$tb.rzm")
  bm=$(echo "$js" | grep -o '"bpw_model":[0-9.e+]*' | cut -d: -f2)
  bl=$(echo "$js" | grep -o '"bpw_linears":[0-9.e+]*' | cut -d: -f2)
  awk -v t=$tb -v b="$bytes" -v bm="$bm" -v bl="$bl" 'BEGIN{
    printf "  e8p 2-bit + RHT, %d-bit table: %d bytes = %.1f MB (%.2f MiB); bpw linears %.3f, whole model %.3f\n", t, b, b / 1e6, b / 1048576, bl, bm }'
done
bytes=$(stat -c %s "$W/s110m.rzm")
awk -v b="$bytes" 'BEGIN{ printf "  float32 .rzm for comparison: %.1f MB\n", b / 1e6 }'
