#!/usr/bin/env bash
# bench/run.sh BUILD — every benchmark, printing figures and ratios (never pass/fail).
# Results on the 2-core reference machine are in bench/README.md. Needs RIZZ_DATA for
# the end-to-end perplexity run (the Llama-2 tokenizer.bin and the TinyStories text).
set -uo pipefail
B=${1:-build/release}
D=${RIZZ_DATA:-../shared/data}
W=${RZ_BENCH_DIR:-build/bench}; mkdir -p "$W"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"

echo; echo "== BLAS: OpenBLAS kernels at start-up (pipeline/blas.h), sgemm peak, rz-ppl per core"
if [ ! -s "$W/s110m.rzm" ]; then
  bin/rz-convert -q --random --dim 768 --layers 12 --heads 12 --hidden 2048 --vocab 32000 \
    --seq-len 1024 --seed 7 -o "$W/s110m.rzm"
fi
if [ -r "$D/tokenizer.bin" ] && [ -r "$D/tinystories-valid.txt" ]; then
  # rz-ppl tokens/s at ctx 512 (4 windows) with the environment given as arguments
  ppl_rate() { env "$@" bin/rz-ppl -q -m "$W/s110m.rzm" -z "$D/tokenizer.bin" -f "$D/tinystories-valid.txt" \
                 --ctx 512 --max-tokens 2048 --json 2>/dev/null; }
  js=$(ppl_rate RZ_BENCH=1)
  core=$(echo "$js" | grep -o '"blas_core":"[^"]*"' | cut -d'"' -f4)
  cpu=$(echo "$js" | grep -o '"blas_cpu":"[^"]*"' | cut -d'"' -f4)
  g=$(echo "$js" | grep -o '"blas_sgemm_gflops":[0-9.e+]*' | cut -d: -f2)
  t0=$(echo "$js" | grep -o '"tokens_per_s":[0-9.e+]*' | cut -d: -f2)
  printf '  kernels in use: %s (CPU supports: %s); sgemm 256^3, 1 thread: %.1f GFLOP/s; sgemm peak (bench_prefill): %s GFLOP/s\n' \
    "$core" "${cpu:-generic only}" "$g" "$("$B/bench/bench_prefill" --peak)"
  printf '  rz-ppl as installed (%s): %.0f tokens/s\n' "$core" "$t0"
  for forced in SkylakeX Haswell; do
    # AVX-512 kernels on a CPU without AVX-512 would die of SIGILL: only what cpuid offers
    if [ "$forced" = SkylakeX ] && [ "$cpu" != SkylakeX ]; then
      echo "  OPENBLAS_CORETYPE=SkylakeX: skipped (no AVX-512 F/BW/VL on this CPU)"; continue; fi
    if [ -z "$cpu" ]; then echo "  OPENBLAS_CORETYPE=$forced: skipped (no AVX2+FMA)"; continue; fi
    t=$(ppl_rate OPENBLAS_CORETYPE=$forced | grep -o '"tokens_per_s":[0-9.e+]*' | cut -d: -f2)
    awk -v f=$forced -v t="$t" -v t0="$t0" 'BEGIN{
      printf "  OPENBLAS_CORETYPE=%-8s: %6.0f tokens/s; as installed / forced = %.2f\n", f, t, t0 / t }'
  done
else
  echo "  (skipped: $D/tokenizer.bin or tinystories-valid.txt not found)"
fi

echo; echo "== prefill: rz_llama_forward, stories110M shape, T = 512 and 1024"
for T in 512 1024; do "$B/bench/bench_prefill" $T 5; done

echo; echo "== rz-ppl end to end (load, tokenise, forward, log-softmax), stories110M-shaped random model"
if [ -r "$D/tokenizer.bin" ] && [ -r "$D/tinystories-valid.txt" ]; then
  for ctx in 512 1024; do
    # windows x flops per window (rz_llama_forward_flops via bench_prefill --flops)
    json=$(bin/rz-ppl -q -m "$W/s110m.rzm" -z "$D/tokenizer.bin" -f "$D/tinystories-valid.txt" \
             --ctx $ctx --max-tokens $((ctx * 8)) --json)
    tps=$(echo "$json" | grep -o '"tokens_per_s":[0-9.e+]*' | cut -d: -f2)
    fpw=$("$B/bench/bench_prefill" --flops $ctx)
    peak=$("$B/bench/bench_prefill" --peak)
    awk -v c=$ctx -v tps="$tps" -v f="$fpw" -v p="$peak" 'BEGIN{
      g = tps / c * f / 1e9;
      printf "  ctx %4d: %6.0f tokens/s  %6.1f GFLOP/s  sgemm peak %6.1f GFLOP/s  ratio %5.1f%%\n", c, tps, g, p, 100 * g / p }'
  done
  echo; echo "== long context: rz-ppl with DCA at 4096 vs plain attention at 512 (same model)"
  for run in "512 none" "4096 dca" "4096 none"; do
    set -- $run
    json=$(bin/rz-ppl -q -m "$W/s110m.rzm" -z "$D/tokenizer.bin" -f "$D/tinystories-valid.txt" \
             --ctx $1 --rope-ext $2 --max-tokens $(( $1 > 2048 ? 2 * $1 : 8 * $1 )) --json)
    echo "$json" | awk -v c=$1 -v m=$2 '{
      match($0, /"tokens_per_s":[0-9.e+]*/); t = substr($0, RSTART + 15, RLENGTH - 15);
      match($0, /"max_rss_mb":[0-9.e+]*/); r = substr($0, RSTART + 13, RLENGTH - 13);
      printf "  ctx %4d %-4s: %6.0f tokens/s, peak memory %5.0f MB\n", c, m, t, r }'
  done
else
  echo "  (skipped: $D/tokenizer.bin or tinystories-valid.txt not found)"
fi

echo; echo "== roofline: read bandwidth, bytes per token and decode/prefill speed of every format"
"$B/bench/bench_roofline" --kernels
"$B/bench/bench_roofline" 3 2
echo; echo "== activation Hadamard transforms (decode and prefill) and where a one-thread decode step goes"
"$B/bench/bench_rht"
"$B/bench/bench_rht" --step i8
for b in bench_tokenizer bench_attention bench_quant bench_qinfer bench_lowrank bench_lowrank_infer bench_finetune bench_agent bench_fbcpr bench_humanoid bench_serve; do
  if [ -x "$B/bench/$b" ]; then echo; echo "== $b"; "$B/bench/$b"; fi
done
[ -x "$B/bench/bench_maze" ] && { echo; echo "== bench_maze"; "$B/bench/bench_maze" 3 0; }
[ -x "$B/bench/bench_fb_ref" ] && { echo; echo "== bench_fb_ref (FB at the reference's widths, % of sgemm peak)"; "$B/bench/bench_fb_ref" 1; "$B/bench/bench_fb_ref" 2; }
for s in bench/*.sh; do
  [ "$s" = bench/run.sh ] && continue
  echo; echo "== $s"; bash "$s" "$B"
done
