#!/usr/bin/env bash
# bench_quant_mpi.sh — speedup of `mpirun -np 2 rz-quantize` over one process on a whole
# random 12-layer model (dim 512, hidden 1376 = 32·43, so the incoherent runs use the
# non-power-of-two Hadamard path). The Hessians come from rz-calibrate on TinyStories
# text (8 windows of 128 tokens). Each rank and the single process run one OpenMP
# thread (-t 1), so the ratio measures the layer distribution (dynamic assignment,
# ordered gather), not threading. Target: ≥ 1.7× on 2 cores. Prints figures only.
set -uo pipefail
D=${RIZZ_DATA:-../shared/data}
W=${RZ_BENCH_DIR:-build/bench}; mkdir -p "$W"
BIN=${RZ_BIN:-bin}
# Open MPI refuses root without these (containers)
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
M="$W/q12.rzm" H="$W/q12.hess.rzs"
[ -s "$M" ] || "$BIN/rz-convert" -q --random --dim 512 --layers 12 --heads 8 --hidden 1376 --vocab 512 \
  --seq-len 256 --seed 3 -o "$M"
if [ ! -s "$H" ]; then
  head -c 40000 "$D/tinystories-valid.txt" > "$W/q12.txt"
  "$BIN/rz-calibrate" -q -m "$M" -z "$D/tok512.bin" -f "$W/q12.txt" --ctx 128 --windows 8 -o "$H"
fi
echo "  model: 12 layers, dim 512, hidden 1376 (84 linears, 37.9M weights); load $(cut -d' ' -f1 /proc/loadavg)"
sec() { grep -o '"seconds":[0-9.e+-]*' "$1" | cut -d: -f2; }
for meth in "ldlq --bits 3" "e8p --bits 2 --incoherence"; do
  t0=$(date +%s.%N)
  "$BIN/rz-quantize" -q -t 1 -m "$M" -H "$H" --method $meth -o "$W/q12.one.q" --json > "$W/q12.one.json"
  t1=$(date +%s.%N)
  mpirun -np 2 "$BIN/rz-quantize" -q -t 1 -m "$M" -H "$H" --method $meth -o "$W/q12.mpi.q" --json > "$W/q12.mpi.json" 2>"$W/q12.mpi.err"
  t2=$(date +%s.%N)
  same=$(cmp -s "$W/q12.one.q" "$W/q12.mpi.q" && echo identical || echo DIFFERENT)
  # wall time of the whole run (start-up, model + Hessian loading on every rank, writing)
  # and of the quantisation phase alone (the tool's "seconds": first layer to gathered output)
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v q1="$(sec "$W/q12.one.json")" -v q2="$(sec "$W/q12.mpi.json")" -v m="$meth" -v s="$same" 'BEGIN{
    printf "  %-28s whole run: 1 process %6.2f s, mpirun -np 2 %6.2f s, speedup %.2fx\n", m, b - a, c - b, (b - a) / (c - b);
    printf "  %-28s quantisation: 1 process %6.2f s, 2 ranks %6.2f s, speedup %.2fx (target 1.7x); output %s\n", "", q1, q2, q1 / q2, s }'
done
