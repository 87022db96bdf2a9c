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
