# maze.sh — rz-maze end to end: generation is deterministic and splits never overlap;
# a resumed training run equals an uninterrupted one bit for bit, and so do other
# thread counts and mpirun -np 2/3 (same --batch/--micro); eval under mpirun gives the
# one-process counts; bad input exits 2 naming the field and leaves no output.
. "$(dirname "$0")/lib.sh"
san=${RZ_SANITIZED:-}
check "rz-maze --help has an example" sh -c "rz-maze --help | grep -q 'rz-maze gen -n 5'"

# 1. generation
check "gen 4x4" rz-maze gen -q -n 4 --count 300 --seed 2 -o "$T/a.rz"
rz-maze gen -q -n 4 --count 300 --seed 2 -o "$T/b.rz"
check "same seed, same bytes" cmp "$T/a.rz" "$T/b.rz"
rz-maze gen -q -n 4 --count 40 --seed 2 --first 1000000 --exclude "$T/a.rz" -o "$T/held.rz" --json > "$T/g.json"
same "held-out split excludes the training mazes" "$(json_field excluded < "$T/g.json")" 300
check "gen picture" rz-maze gen -q -n 6 --count 1 -o "$T/one.rz" --png "$T/one.png"
check "picture is a PNG" sh -c "head -c 8 '$T/one.png' | od -An -c | grep -q 'P   N   G'"

# 2. training: resume, threads, ranks
n=6; [ -n "$san" ] && n=3
TR="rz-maze train -q --objective mlmu --dim 16 --layers 2 --heads 2 --batch 8 --micro 2 --warmup 2 --seed 5"
$TR --steps $n -o "$T/full" "$T/a.rz" 2>"$T/err" && ok "train $n steps" || fail "train" "$(tail -3 "$T/err")"
$TR --steps $n --until 2 --checkpoint "$T/ck" "$T/a.rz" 2>/dev/null
$TR --steps $n --resume "$T/ck" -o "$T/resumed" "$T/a.rz" 2>/dev/null
check "resumed run = uninterrupted run (bit for bit)" cmp "$T/full" "$T/resumed"
$TR --steps $n -t 1 -o "$T/t1" "$T/a.rz" 2>/dev/null
check "1 thread = default threads (bit for bit)" cmp "$T/full" "$T/t1"
if [ -z "$san" ]; then
  for np in 2 3; do
    mpirun -np $np $TR --steps $n -o "$T/mpi$np" "$T/a.rz" > "$T/mpi.out" 2>&1
    check "mpirun -np $np = one process (bit for bit)" cmp "$T/full" "$T/mpi$np"
  done
  rz-maze eval -q -m "$T/full" --json "$T/held.rz" > "$T/e1.json"
  mpirun -np 2 rz-maze eval -q -m "$T/full" --json "$T/held.rz" > "$T/e2.json" 2>/dev/null
  same "eval under mpirun -np 2 = one process" "$(grep -o '"mazes.*"valid":[0-9]*' "$T/e1.json")" \
    "$(grep -o '"mazes.*"valid":[0-9]*' "$T/e2.json")"
fi
# MLM-U with visible keys (--keys visible): its own model, and the same guarantees
check "rz-maze train --help documents --keys" sh -c "rz-maze train --help | grep -q 'keys all|visible'"
$TR --keys visible --steps $n -o "$T/vfull" "$T/a.rz" 2>/dev/null
$TR --keys visible --steps $n --until 2 --checkpoint "$T/vck" "$T/a.rz" 2>/dev/null
$TR --keys visible --steps $n --resume "$T/vck" -o "$T/vresumed" "$T/a.rz" 2>/dev/null
check "visible keys: resumed run = uninterrupted run (bit for bit)" cmp "$T/vfull" "$T/vresumed"
$TR --keys visible --steps $n -t 1 -o "$T/vt1" "$T/a.rz" 2>/dev/null
check "visible keys: 1 thread = default threads (bit for bit)" cmp "$T/vfull" "$T/vt1"
[ -n "$san" ] || { mpirun -np 2 $TR --keys visible --steps $n -o "$T/vmpi2" "$T/a.rz" > "$T/mpi.out" 2>&1
  check "visible keys: mpirun -np 2 = one process (bit for bit)" cmp "$T/vfull" "$T/vmpi2"; }
! cmp -s "$T/full" "$T/vfull" && ok "visible keys train another model" || fail "visible keys train another model"
rz-maze eval -q -m "$T/vfull" --json "$T/held.rz" > "$T/ev.json"
same "eval reads the keys mode from the checkpoint" "$(grep -o "\"keys\":\"[a-z]*\"" "$T/ev.json")" "\"keys\":\"visible\""
# MLM-U with the PAST decoder (--arch past): its own model, the same guarantees
check "rz-maze train --help documents --arch" sh -c "rz-maze train --help | grep -q 'arch enc|past'"
$TR --arch past --dec-layers 1 --steps $n -o "$T/pfull" "$T/a.rz" 2>/dev/null
$TR --arch past --dec-layers 1 --steps $n --until 2 --checkpoint "$T/pck" "$T/a.rz" 2>/dev/null
$TR --arch past --dec-layers 1 --steps $n --resume "$T/pck" -o "$T/presumed" "$T/a.rz" 2>/dev/null
check "past: resumed run = uninterrupted run (bit for bit)" cmp "$T/pfull" "$T/presumed"
$TR --arch past --dec-layers 1 --steps $n -t 1 -o "$T/pt1" "$T/a.rz" 2>/dev/null
$TR --arch past --dec-layers 1 --steps $n -t 2 -o "$T/pt2" "$T/a.rz" 2>/dev/null
check "past: 1 thread = 2 threads (bit for bit)" cmp "$T/pt1" "$T/pt2"
check "past: 1 thread = default threads (bit for bit)" cmp "$T/pfull" "$T/pt1"
[ -n "$san" ] || { mpirun -np 2 $TR --arch past --dec-layers 1 --steps $n -o "$T/pmpi2" "$T/a.rz" > "$T/mpi.out" 2>&1
  check "past: mpirun -np 2 = one process (bit for bit)" cmp "$T/pfull" "$T/pmpi2"; }
! cmp -s "$T/vfull" "$T/pfull" && ok "past trains another model" || fail "past trains another model"
rz-maze eval -q -m "$T/pfull" --json "$T/held.rz" > "$T/ep.json"
same "eval reads the arch from the checkpoint" "$(grep -o "\"arch\":\"[a-z]*\"" "$T/ep.json")" "\"arch\":\"past\""
same "past implies visible keys" "$(grep -o "\"keys\":\"[a-z]*\"" "$T/ep.json")" "\"keys\":\"visible\""
rz-maze eval -q -m "$T/vfull" --json "$T/held.rz" > "$T/ev.json"
same "an enc checkpoint (no arch field) decodes as enc" "$(grep -o "\"arch\":\"[a-z]*\"" "$T/ev.json")" "\"arch\":\"enc\""
rz-cat --full "$T/vfull" | head -1 | grep -q '"arch"' && fail "enc checkpoints carry no arch field" \
  || ok "enc checkpoints carry no arch field"
check_err "resume a past run as enc" 2 "arch" $TR --keys visible --steps $n --resume "$T/pck" -o "$T/bad.rz" "$T/a.rz"
check_err "resume with another decoder depth" 2 "dec_layers" $TR --arch past --dec-layers 2 --layers 1 --steps $n \
  --resume "$T/pck" -o "$T/bad.rz" "$T/a.rz"
check_err "next-token refuses --arch past" 2 "arch past" rz-maze train -q --objective next --arch past --steps 1 \
  -o "$T/bad.rz" "$T/a.rz"
check_err "--arch past with --keys all" 2 "keys" $TR --arch past --keys all --steps 1 -o "$T/bad.rz" "$T/a.rz"
check_err "--arch unknown" 2 "arch" $TR --arch mixed --steps 1 -o "$T/bad.rz" "$T/a.rz"
rz-cat --full "$T/pfull" > "$T/pck.json"
sed '1s/"arch":"past"/"arch":"pest"/' "$T/pck.json" > "$T/bad.json"
rz-cat --from-json "$T/bad.json" -o "$T/badck.rz"
check_err "checkpoint arch unknown: field named" 2 "field 'arch'" rz-maze eval -m "$T/badck.rz" "$T/held.rz"
sed '1s/"dec_layers":1/"dec_layers":3/' "$T/pck.json" > "$T/bad.json"
rz-cat --from-json "$T/bad.json" -o "$T/badck.rz"
check_err "checkpoint decoder depth out of range: field named" 2 "field 'dec_layers'" rz-maze eval -m "$T/badck.rz" "$T/held.rz"
TN="rz-maze train -q --objective next --dim 16 --layers 2 --heads 2 --batch 8 --warmup 2 --steps 2"
check "next-token objective trains" $TN -o "$T/next" "$T/a.rz"
check "eval with a picture" rz-maze eval -q -m "$T/next" --png "$T/ev.png" "$T/held.rz"
# next-token decodes through the KV cache; --full-forward is the slow reference (the paths
# themselves are compared token for token in test_maze)
rz-maze eval -q -t 2 -m "$T/next" --json "$T/held.rz" > "$T/ec.json"
rz-maze eval -q -t 1 -m "$T/next" --json "$T/held.rz" > "$T/ec1.json"
rz-maze eval -q -m "$T/next" --full-forward --png "$T/evf.png" --json "$T/held.rz" > "$T/ef.json"
same "next-token eval decodes through the cache" "$(grep -o '"decoder":"[a-z]*"' "$T/ec.json")" '"decoder":"cached"'
same "--full-forward decodes without it" "$(grep -o '"decoder":"[a-z]*"' "$T/ef.json")" '"decoder":"full"'
same "cached = full-forward counts" "$(grep -o '"mazes.*"valid":[0-9]*' "$T/ec.json")" \
  "$(grep -o '"mazes.*"valid":[0-9]*' "$T/ef.json")"
same "cached: 1 thread = 2 threads" "$(grep -o '"mazes.*"valid":[0-9]*' "$T/ec1.json")" \
  "$(grep -o '"mazes.*"valid":[0-9]*' "$T/ec.json")"
check "cached = full-forward picture" cmp "$T/ev.png" "$T/evf.png"
[ -n "$san" ] || { mpirun -np 2 rz-maze eval -q -m "$T/next" --json "$T/held.rz" > "$T/ec2.json" 2>/dev/null
  same "cached: mpirun -np 2 = one process" "$(grep -o '"mazes.*"valid":[0-9]*' "$T/ec2.json")" \
    "$(grep -o '"mazes.*"valid":[0-9]*' "$T/ec.json")"; }
same "MLM-U decodes with the full forward" "$(grep -o '"decoder":"[a-z]*"' "$T/ev.json")" '"decoder":"full"'

# 3. bad input
check_err "size below 2" 2 "-n|--size" rz-maze gen -n 1 -o "$T/bad.rz"
check_err "size too large for the vocabulary" 2 "-n|--size" rz-maze gen -n 65 -o "$T/bad.rz"
rz-maze gen -q -n 5 --count 5 -o "$T/five.rz"
check_err "a 5x5 stream for a 4x4 model" 2 "field 'n'.*5x5.*4x4" rz-maze eval -m "$T/full" "$T/five.rz"
check_err "resume with another objective" 2 "objective" \
  rz-maze train -q --objective next --dim 16 --layers 2 --heads 2 --batch 8 --micro 2 --seed 5 --steps $n \
  --resume "$T/ck" -o "$T/bad.rz" "$T/a.rz"
check_err "a maze stream as checkpoint" 2 "maze_checkpoint" rz-maze eval -m "$T/a.rz" "$T/held.rz"
# corrupt one header field of the checkpoint (dim 16 -> 17 in its JSON view) and rebuild it
rz-cat --full "$T/full" > "$T/ck.json"
sed '1s/"dim":16/"dim":17/' "$T/ck.json" > "$T/bad.json"
rz-cat --from-json "$T/bad.json" -o "$T/badck.rz"
check_err "corrupted checkpoint: field named" 2 "field 'dim'|tensor.*shape|field 'shape'" rz-maze eval -m "$T/badck.rz" "$T/held.rz"
sed '1s/"rope_theta":[0-9.e+]*/"rope_theta":1/' \
  "$T/ck.json" > "$T/bad.json"
rz-cat --from-json "$T/bad.json" -o "$T/badck.rz"
check_err "checkpoint RoPE base out of range: field named" 2 "field 'rope_theta'" rz-maze eval -m "$T/badck.rz" "$T/held.rz"
check_err "resume with another RoPE base" 2 "dim|shape" $TR --rope-theta 100 --steps $n --resume "$T/ck" -o "$T/bad.rz" "$T/a.rz"
sed '1s/"keys":"all"/"keys":"some"/' "$T/ck.json" > "$T/bad.json"
rz-cat --from-json "$T/bad.json" -o "$T/badck.rz"
check_err "checkpoint keys mode unknown: field named" 2 "field 'keys'" rz-maze eval -m "$T/badck.rz" "$T/held.rz"
sed '1s/"keys":"all",//' "$T/ck.json" > "$T/old.json" # a checkpoint from before the field
rz-cat --from-json "$T/old.json" -o "$T/oldck.rz"
rz-maze eval -q -m "$T/oldck.rz" --json "$T/held.rz" > "$T/ev.json"
same "a checkpoint without keys decodes with every key" "$(grep -o "\"keys\":\"[a-z]*\"" "$T/ev.json")" "\"keys\":\"all\""
check_err "resume with other keys" 2 "keys" $TR --keys visible --steps $n --resume "$T/ck" -o "$T/bad.rz" "$T/a.rz"
check_err "--keys unknown" 2 "keys" $TR --keys some --steps 1 -o "$T/bad.rz" "$T/a.rz"
head -c 3000 "$T/full" > "$T/trunc.rz"
check_err "truncated checkpoint" 2 "trunc|end" rz-maze eval -m "$T/trunc.rz" "$T/held.rz"
check_err "--micro must divide --batch" 2 "divide" $TR --micro 3 --steps 1 -o "$T/bad.rz" "$T/a.rz"
[ ! -e "$T/bad.rz" ] && ok "failed runs leave no output" || fail "failed runs leave no output"

# 4. curves: pipeline/maze.mk maze-curves on tiny runs (one seed per objective; the rows
# against the reports' evals read here with sed and awk, not jq), and maze-seeds-curves
# on made-up reports of 2 seeds, whose 95% t-interval has a closed form: mean ± t(1) ·
# sd / √2 with sd = |a − b| / √2, i.e. mean ± 12.706 · |a − b| / 2.
R=$(cd "$(dirname "$0")/../.." && pwd)
CV="$T/cv"; mkdir -p "$CV"
for o in next mlmu; do
  rz-maze train -q --objective $o --dim 16 --layers 2 --heads 2 --batch 8 --warmup 2 --steps 4 --seed 5 \
    --eval "$T/held.rz" --eval-every 2 --json "$T/a.rz" > "$CV/4x4-$o.json" 2>/dev/null
done
check "maze-curves" make -s -f "$R/pipeline/maze.mk" maze-curves N=4 OUT="$CV" RZ_BIN="$RZ_BIN"
for p in seen seconds; do
  check "curves-4-$p.png is a PNG" sh -c "head -c 8 '$CV/curves-4-$p.png' | od -An -c | grep -q 'P   N   G'"
done
# expected rows: objective step samples train_seconds 1 exact exact exact, sorted as the script sorts
rows() { for o in "$@"; do grep -o '{"step":[^}]*}' "$CV/4x4-$o.json" |
  sed -E 's/.*"step":([0-9]+),"samples":([0-9]+),"train_seconds":([^,]+),"exact":([^,]+),.*/\1 \2 \3 \4/' |
  awk -v o=$o '{ print o, $1, $2, $3, 1, $4, $4, $4 }'; done; }
rows mlmu next > "$T/want.dat"
same "curves: one row per objective and eval" "$(wc -l < "$CV/curves-4.dat")" "$(wc -l < "$T/want.dat")"
awk 'NR == FNR { w[FNR] = $0; next }
     { split(w[FNR], a, " "); if ($1 != a[1] || NF != 8) bad = 1
       for (i = 2; i <= 8; i++) if ((a[i] - $i) ^ 2 > 1e-20 * (1 + a[i] ^ 2)) bad = 1 }
     END { exit bad || NR != 2 * FNR }' "$T/want.dat" "$CV/curves-4.dat" \
  && ok "curves: rows = the reports' evals" || fail "curves: rows = the reports' evals"
SC="$T/sc"
for s in 1 2; do mkdir -p "$SC/seed$s"; for o in next mlmu; do
  # exact at step 10: 0.1 s + (mlmu 0.3), at step 20: 0.2 s + (mlmu 0.4); train_seconds 10 step + s
  awk -v s=$s -v o=$o 'BEGIN { printf "{\"objective\":\"%s\",\"evals\":[", o
    for (st = 10; st <= 20; st += 10) printf "%s{\"step\":%d,\"samples\":%d,\"train_seconds\":%g,\"exact\":%g,\"valid\":1}",
      (st > 10 ? "," : ""), st, 8 * st, 10 * st + s, st / 100 * s + (o == "mlmu" ? st / 100 + 0.2 : 0)
    print "]}" }' > "$SC/seed$s/4x4-$o.json"
done; done
"$R/pipeline/maze-seeds.sh" "$SC"/seed*/4x4-*.json > "$SC/seeds-4.md"
check "maze-seeds-curves" make -s -f "$R/pipeline/maze.mk" maze-seeds-curves N=4 SEEDS="1 2" OUT="$SC" RZ_BIN="$RZ_BIN"
check "seeds-4-curves-seen.png is a PNG" sh -c "head -c 8 '$SC/seeds-4-curves-seen.png' | od -An -c | grep -q 'P   N   G'"
awk 'BEGIN { for (o = 0; o < 2; o++) for (st = 10; st <= 20; st += 10) {
    a = st / 100 + (o ? st / 100 + 0.2 : 0); b = 2 * st / 100 + (o ? st / 100 + 0.2 : 0); m = (a + b) / 2
    h = 12.706 * (b - a) / 2
    print (o ? "mlmu" : "next"), st, 8 * st, 10 * st + 1.5, 2, m, m - h, m + h } }' | sort -k1,1 -k2,2n > "$T/want.dat"
awk 'NR == FNR { w[FNR] = $0; next }
     { split(w[FNR], a, " "); if ($1 != a[1] || NF != 8) bad = 1
       for (i = 2; i <= 8; i++) if ((a[i] - $i) ^ 2 > 1e-20 * (1 + a[i] ^ 2)) bad = 1 }
     END { exit bad || NR != 2 * FNR || NR != 8 }' "$T/want.dat" "$SC/seeds-4-curves.dat" \
  && ok "seed curves: mean and 95% t-interval = closed form" || fail "seed curves: mean and 95% t-interval = closed form"
check_err "curves of reports without evals" 2 "no evals" "$R/pipeline/maze-curves.sh" "$T/none" "$T/g.json"
