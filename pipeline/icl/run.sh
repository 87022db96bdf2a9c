#!/usr/bin/env bash
# icl/run.sh TASK OUT — one task's runs for pipeline/icl.mk (variables from it): starts
# rz-serve on an ipc:// socket in OUT, runs select -> pack -> eval for every method and
# budget, the noise and augmentation studies, and stops the server.
set -euo pipefail
task=$1; out=$2
B=$RZ_BIN D=$RIZZ_DATA
mkdir -p "$out"
case $task in
  sst2) head -n "$POOL_N" "$D/sst2/stsa.binary.train" > "$out/pool.txt"
        cp "$D/sst2/stsa.binary.dev" "$out/dev.txt"; K=64 ;;
  trec) awk -v n="$POOL_N" 'NR % 10 != 1 && ++k <= n' "$D/trec/train.txt" > "$out/pool.txt"
        awk 'NR % 10 == 1' "$D/trec/train.txt" > "$out/dev.txt"; K=96 ;;
  *) echo "unknown task $task" >&2; exit 2 ;;
esac
S=ipc://$(cd "$out" && pwd)/serve.sock
"$B/rz-serve" -m "$MODEL" -z "$TOK" -e "$S" $SERVE_FLAGS --timeout 900 -q --json > "$out/serve.json" &
spid=$!
trap 'kill -TERM $spid 2>/dev/null; wait $spid 2>/dev/null' EXIT
for _ in $(seq 100); do
  echo '{"id":0,"op":"info"}' | "$B/rz-icl" request --server "$S" --timeout 0.2 2>/dev/null | grep -q rz-serve && break
  sleep 0.2
done
T=(--task "$task" --pool "$out/pool.txt")
run_eval() { # DEMOS NAME BUDGET [eval flags]
  local d=$1 name=$2 b=$3; shift 3
  [ -s "$out/e-$name-$b.json" ] && return 0  # done by an earlier, interrupted run
  "$B/rz-icl" pack "${T[@]}" --test "$out/dev.txt" --demos "$d" -z "$TOK" --budget "$b" -q --json \
    -o "$out/p-$name-$b.rzs" > "$out/pack-$name-$b.json"
  "$B/rz-icl" eval --task "$task" --prompts "$out/p-$name-$b.rzs" --server "$S" -q --json "$@" \
    > "$out/e-$name-$b.json"
  rm -f "$out/p-$name-$b.rzs"
  echo "$task $name budget $b: $(grep -o '"accuracy":[0-9.]*' "$out/e-$name-$b.json")" >&2
}
for m in $METHODS; do
  [ -s "$out/d-$m.rzs" ] ||
  "$B/rz-icl" select "${T[@]}" --test "$out/dev.txt" --test-max "$TEST_MAX" --method "$m" -k $K \
    --server "$S" --seed 1 -q --json -o "$out/d-$m.rzs" > "$out/select-$m.json"
  for b in $BUDGETS; do run_eval "$out/d-$m.rzs" "$m" "$b"; done
done
run_eval "$out/d-random.rzs" random-cal "$NOISE_BUDGET" --calibrate
for r in $NOISE; do
  "$B/rz-icl" noise "${T[@]}" --demos "$out/d-random.rzs" --rate "$r" --seed 1 -q -o "$out/dn-$r.rzs" --json \
    > "$out/noise-$r.json"
  run_eval "$out/dn-$r.rzs" "noise$r" "$NOISE_BUDGET"
done
# synthetic demonstrations when real ones are scarce: a pool of the first 4 examples of
# each label; 3 real ones of the target label per generation prompt; then random
# selection from real only vs real + kept synthetic, at the same budget
awk '{ split($1, f, ":"); if (c[f[1]]++ < 4) print }' "$out/pool.txt" > "$out/scarce.txt"
n_real=$(wc -l < "$out/scarce.txt")
# the judge threshold at the scale's midpoint (3), and off (1: only the label-consistency
# and duplicate filters), each pool evaluated when it kept anything
for J in 3 1; do
  "$B/rz-icl" augment --task "$task" --pool "$out/scarce.txt" --server "$S" -k 3 --generate "$GENERATE" \
    --min-judge $J --seed 1 -q --json -o "$out/synthetic-j$J.txt" > "$out/augment-j$J.json"
  cat "$out/scarce.txt" "$out/synthetic-j$J.txt" > "$out/pool-aug-j$J.txt"
done
for v in scarce aug-j3 aug-j1; do
  pool=$out/pool-$v.txt; [ $v = scarce ] && pool=$out/scarce.txt
  k=$(wc -l < "$pool"); [ $k -gt $K ] && k=$K
  if [ $v != scarce ] && [ "$(wc -l < "$pool")" -eq "$n_real" ]; then continue; fi  # nothing kept
  "$B/rz-icl" select --task "$task" --pool "$pool" --test "$out/dev.txt" --test-max "$TEST_MAX" \
    --method random -k $k --seed 1 -q -o "$out/d-$v.rzs"
  T=(--task "$task" --pool "$pool")
  run_eval "$out/d-$v.rzs" "real-$v" "$NOISE_BUDGET"
done
touch "$out/done"
