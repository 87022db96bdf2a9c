# agent.sh — rz-agent end to end on small workloads: collect/train/eval, exact resume
# through checkpoint files, JSON reports, and every kind of bad input exiting 2 with a
# message naming the file/record/field and leaving no output behind.
. "$(dirname "$0")/lib.sh"
A=rz-agent
small="--zdim 8 --hidden 32 --batch 32 -q"
# The trained state of a checkpoint: every tensor record (networks, targets, Adam moments,
# counters, RNG) in full, without the header (which records the options and so differs
# between runs that train identically). Empty when the file is missing or unreadable.
tensors() { rz-cat --full "$1" 2>/dev/null | grep '"type":"tensor"'; }
# same_state NAME A B / other_state NAME A B : the trained tensors are (are not) identical;
# both files must hold the 13+ tensor records of an FB agent.
n_tensors() { tensors "$1" | grep -c '"name":"F1"'; }
same_state() {
  if [ "$(n_tensors "$2")" -ne 1 ] || [ "$(n_tensors "$3")" -ne 1 ]; then fail "$1" "no trained tensors in $2 or $3"
  elif [ "$(tensors "$2" | md5sum)" = "$(tensors "$3" | md5sum)" ]; then ok "$1"; else fail "$1" "trained tensors differ"; fi
}
other_state() {
  if [ "$(n_tensors "$2")" -ne 1 ] || [ "$(n_tensors "$3")" -ne 1 ]; then fail "$1" "no trained tensors in $2 or $3"
  elif [ "$(tensors "$2" | grep '"name":"F1"' | md5sum)" != "$(tensors "$3" | grep '"name":"F1"' | md5sum)" ]; then ok "$1"
  else fail "$1" "the F1 network is the same"; fi
}

check "help" $A --help
grep -q "Example" "$T/.out" && ok "help has an example" || fail "help has an example"
check "train help" $A train --help
check "version" $A --version
check_status "no subcommand" 2 $A
check_status "unknown subcommand" 2 $A frobnicate

check "collect coverage" $A collect --env fourrooms --policy coverage --steps 3000 --seed 4 -o "$T/d.rz" -q
check "collect room" $A collect --env fourrooms --policy room --steps 500 -o "$T/room.rz" -q
check "collect json" $A collect --env fourrooms --policy random --steps 100 --json -o "$T/r.rz"
grep -q '"policy":"random"' "$T/.out" && ok "collect report names the policy" || fail "collect report names the policy" "$(cat "$T/.out")"

# the study's dataset designs: half the (cell, action) pairs of the full-coverage data
# removed (260 of 520), a 1000-transition subsample, a few fixed-policy trajectories
check "data drop-pairs" $A data -d "$T/d.rz" --drop-pairs 0.5 --seed 3 -o "$T/drop.rz"
grep -q "removed 260 of 520 cell-action pairs" "$T/.err" && ok "drop-pairs removes exactly half the pairs" || fail "drop-pairs removes exactly half the pairs" "$(cat "$T/.err")"
check "data subsample" $A data -d "$T/d.rz" --subsample 1000 --seed 3 --json -o "$T/n1000.rz"
grep -q '"policy":"coverage-n1000","steps":1000' "$T/.out" && ok "subsample keeps 1000 and names the design" || fail "subsample keeps 1000 and names the design" "$(cat "$T/.out")"
# the reach ceiling: full coverage connects every pair; --reach writes nothing
check "data reach" $A data -d "$T/d.rz" --reach --json -q
same "full coverage reaches every (start, goal) pair" "$(json_field reach < "$T/.out")" "1.0"
check "data reach of a design" $A data -d "$T/drop.rz" --reach --json -q
r=$(json_field reach < "$T/.out"); awk -v r="$r" 'BEGIN{exit !(r != "" && r > 0 && r < 1)}' && ok "half the pairs removed: reach strictly between 0 and 1" || fail "half the pairs removed: reach strictly between 0 and 1" "$r"
# the same half removed while keeping the reach: every (start, goal) pair stays connected
check "data drop-pairs --keep-reach" $A data -d "$T/d.rz" --drop-pairs 0.5 --keep-reach --seed 3 --json -o "$T/dropr.rz"
same "--keep-reach keeps the reach at 1" "$(json_field reach < "$T/.out")" "1.0"
grep -q '"policy":"coverage-drop0.50-reach"' "$T/.out" && ok "--keep-reach names the design" || fail "--keep-reach names the design" "$(cat "$T/.out")"
check_status "--keep-reach beyond what keeps the reach" 2 $A data -d "$T/d.rz" --drop-pairs 0.79 --keep-reach -o "$T/x.rz"
grep -q "keeping the data's reach: only" "$T/.err" && ok "--keep-reach refusal says how many could go" || fail "--keep-reach refusal says how many could go" "$(cat "$T/.err")"
[ ! -e "$T/x.rz" ] && ok "refused --keep-reach design leaves no file" || fail "refused --keep-reach design leaves no file"
check_status "--keep-reach without --drop-pairs" 2 $A data -d "$T/d.rz" --subsample 10 --keep-reach -o "$T/x.rz"
check "data goal-policy" $A data --env fourrooms --goal-policy 37 --trajs 4 --len 50 -o "$T/few.rz" -q
check_status "drop-pairs beyond coverage" 2 $A data -d "$T/few.rz" --drop-pairs 0.9 -o "$T/x.rz"
[ ! -e "$T/x.rz" ] && ok "refused design leaves no file" || fail "refused design leaves no file"
check "train --reference" $A train --algo vcfb -d "$T/drop.rz" --steps 20 $small --reference --json -o "$T/ref.rz"
grep -q '"alpha":0.9' "$T/.out" && ok "reference alpha starts at 1 and follows the Lagrange rule" || fail "reference alpha starts at 1 and follows the Lagrange rule" "$(cat "$T/.out")"
check "eval in support" $A eval -a "$T/ref.rz" --episodes 1 --json
grep -q '"n_goals_in_support":104,' "$T/.out" && ok "full state coverage: every goal in support" || fail "full state coverage: every goal in support" "$(cat "$T/.out" | head -c 400)"

# checkpoint selection by validation: scoring the validation goals every 10 steps leaves the
# trained bits alone; --best holds the step of the curve's first maximum (read back from
# the CSV here), and evaluating it on the validation split with the same starts reproduces
# that score; --split test and val partition the tasks (78 + 8 rewards vs 26 goals)
check "train --val-every" $A train --algo fb -d "$T/drop.rz" --steps 40 $small --seed 5 --val-every 10 --best "$T/best.rz" --curve "$T/curve.csv" --json -o "$T/val.rz"
cp "$T/.out" "$T/val.json"
check "train without validation" $A train --algo fb -d "$T/drop.rz" --steps 40 $small --seed 5 -o "$T/val2.rz"
same_state "validation leaves training unchanged" "$T/val.rz" "$T/val2.rz"
[ "$(wc -l < "$T/curve.csv")" -eq 5 ] && head -1 "$T/curve.csv" | grep -q '^step,.*,val_goal_success$' && ok "curve: header and one row per validation point" || fail "curve: header and one row per validation point" "$(cat "$T/curve.csv")"
best_csv=$(awk -F, 'NR > 1 && (b == "" || $7 > b) {b = $7; s = $1} END {print s}' "$T/curve.csv")
same "best step is the curve's first argmax" "$(json_field best_step < "$T/val.json")" "$best_csv"
same "best checkpoint holds that step" "$(rz-cat "$T/best.rz" | grep -o '"steps_done":[0-9]*' | cut -d: -f2)" "$best_csv"
check "eval best on the validation goals" $A eval -a "$T/best.rz" --tasks goals --split val --episodes 4 --seed 4242 --json -q
same "best checkpoint's validation score reproduces" "$(json_field goal_success < "$T/.out")" "$(json_field best_val_goal_success < "$T/val.json")"
grep -q '"n_tasks":26,' "$T/.out" && ok "validation split: 26 goals" || fail "validation split: 26 goals" "$(head -c 300 "$T/.out")"
check "eval test split" $A eval -a "$T/best.rz" --split test --episodes 1 --json -q
grep -q '"n_tasks":86,' "$T/.out" && ok "test split: the other 78 goals and 8 rewards" || fail "test split: the other 78 goals and 8 rewards" "$(head -c 300 "$T/.out")"
check_status "bad --split" 2 $A eval -a "$T/best.rz" --split train
check_status "--best without --val-every" 2 $A train --algo fb -d "$T/drop.rz" --steps 5 $small --best "$T/x.rz" -o "$T/x.rz"
printf 'fb\t1\nfb\t2\nvcfb\t5\nfb\t3\nfb\tnan\nfb\t4\nfb\t100\n' > "$T/kv.tsv"
check "iqm" $A iqm "$T/kv.tsv" -o "$T/kv-sum.tsv"
# fb: 1 2 3 4 100 (NaN dropped) → the middle three average 3; vcfb: one value
same "iqm of a key = mean of the middle three" "$(awk -F'\t' '$1 == "fb" {print $2, $3}' "$T/kv-sum.tsv")" "5 3.0000"
same "iqm of a single value" "$(awk -F'\t' '$1 == "vcfb" {print $3, $4, $5}' "$T/kv-sum.tsv")" "5.0000 5.0000 5.0000"
printf 'fb 1\n' > "$T/kv-bad.tsv"
check_err "iqm bad line" 2 "kv-bad.tsv: line 1: expected KEY<TAB>NUMBER" $A iqm "$T/kv-bad.tsv"

# the grid default anneals the learning rate over the last third of --steps; one explicit
# window for the 60-step run and the 30-step run it is resumed from
check "train 60" $A train --algo fb -d "$T/d.rz" --steps 60 $small --anneal 40:60 -o "$T/a60.rz"
check "train 30" $A train --algo fb -d "$T/d.rz" --steps 30 $small --anneal 40:60 -o "$T/a30.rz"
check "resume to 60" $A train --resume "$T/a30.rz" -d "$T/d.rz" --steps 60 -q -o "$T/r60.rz"
cmp -s "$T/a60.rz" "$T/r60.rz" && ok "resume is bit-exact" || fail "resume is bit-exact"
same_state "resume: same trained tensors" "$T/a60.rz" "$T/r60.rz"
# --target min (not the grid default, mean): recorded in the checkpoint (resume reproduces
# it) and a different training
check "train 60, min target" $A train --algo fb -d "$T/d.rz" --steps 60 $small --anneal 40:60 --target min -o "$T/m60.rz"
check "train 30, min target" $A train --algo fb -d "$T/d.rz" --steps 30 $small --anneal 40:60 --target min -o "$T/m30.rz"
check "resume min target to 60" $A train --resume "$T/m30.rz" -d "$T/d.rz" --steps 60 -q -o "$T/rm60.rz"
cmp -s "$T/m60.rz" "$T/rm60.rz" && ok "resume keeps the min target" || fail "resume keeps the min target"
other_state "min target changes training" "$T/m60.rz" "$T/a60.rz"
check_err "bad --target" 2 "target.*min or mean" $A train --algo fb -d "$T/d.rz" --target max -o "$T/x.rz"
# --lr-final, --qloss and --traj: recorded in the checkpoint, so a resume that starts
# inside the annealing window (steps 20..50) reproduces the straight run byte for byte
ann="--lr-final 1e-5 --anneal 20:50 --qloss 0.1 --traj 0.3 --traj-len 4"
check "train 60, annealed" $A train --algo fb -d "$T/d.rz" --steps 60 $small $ann -o "$T/n60.rz"
check "train 30, annealed" $A train --algo fb -d "$T/d.rz" --steps 30 $small $ann -o "$T/n30.rz"
check "resume annealed to 60" $A train --resume "$T/n30.rz" -d "$T/d.rz" --steps 60 -q -o "$T/rn60.rz"
cmp -s "$T/n60.rz" "$T/rn60.rz" && ok "resume keeps the annealing" || fail "resume keeps the annealing"
other_state "annealing changes training" "$T/n60.rz" "$T/a60.rz"
check "train 60, annealed only" $A train --algo fb -d "$T/d.rz" --steps 60 $small --lr-final 1e-5 --anneal 20:50 -o "$T/o60.rz"
other_state "the annealing window alone changes training" "$T/o60.rz" "$T/a60.rz"
check "train 1 step (the default annealing window is never empty)" $A train --algo fb -d "$T/d.rz" --steps 1 $small -o "$T/one.rz"
check_err "bad --anneal" 2 "anneal 9:3.*START:END" $A train --algo fb -d "$T/d.rz" --lr-final 1e-5 --anneal 9:3 -o "$T/x.rz"
check_err "--lr-final above --lr" 2 "lr-final 0.5.*at most --lr" $A train --algo fb -d "$T/d.rz" --lr-final 0.5 -o "$T/x.rz"
check_err "--mix + --traj above 1" 2 "mix 0.8 plus --traj 0.5" $A train --algo fb -d "$T/d.rz" --mix 0.8 --traj 0.5 -o "$T/x.rz"
check_err "--resume with --lr-final" 2 "keeps the checkpoint" $A train --resume "$T/n30.rz" -d "$T/d.rz" --lr-final 1e-6 -o "$T/x.rz"
[ -e "$T/x.rz" ] && fail "no output after bad flags" || ok "no output after bad flags"
check "train vcfb" $A train --algo vcfb -d "$T/room.rz" --steps 20 $small -o "$T/v.rz"
check "train mcfb lagrange" $A train --algo mcfb --lagrange 2 -d "$T/room.rz" --steps 20 $small -o "$T/m.rz"

check "eval json" $A eval -a "$T/a60.rz" --tasks all --episodes 4 --json -q
out=$(cat "$T/.out")
case "$out" in *'"goal_success":'*'"reward_norm_return":'*'"tasks":[{'*) ok "eval json has per-task and aggregate fields";;
  *) fail "eval json has per-task and aggregate fields" "$out";; esac
# the aggregates as numbers, recomputed from the per-task fields (rz-agent eval --help):
# a task's norm_return = return / optimal_return; goal_norm_return and norm_return pool
# Σ return / Σ optimal_return over goal tasks and over all tasks; reward_norm_return is
# the mean of the reward tasks' ratios; goal_success the mean success, goals_solved the
# fraction with success 1. 1e-9 relative: the JSON carries 17 significant digits. Both
# kinds must score above 0 here (4 episodes), or pooled and averaged ratios look alike.
agg=$(jq -r '[.tasks[] | select(.kind == "goal")] as $g | [.tasks[] | select(.kind != "goal")] as $r |
  def rel(a; b): ((a - b) | fabs) <= 1e-9 * ((b | fabs) + 1e-12);
  [ (.tasks | length) > 0, ($g | length) > 0, ($r | length) > 0,
    (.tasks | all(.optimal_return > 0 and rel(.norm_return; .return / .optimal_return))),
    rel(.goal_norm_return; ($g | map(.return) | add) / ($g | map(.optimal_return) | add)),
    rel(.norm_return; (.tasks | map(.return) | add) / (.tasks | map(.optimal_return) | add)),
    rel(.reward_norm_return; ($r | map(.norm_return) | add) / ($r | length)),
    rel(.goal_success; ($g | map(.success) | add) / ($g | length)),
    rel(.goals_solved; ($g | map(select(.success == 1)) | length) / ($g | length)),
    (.goal_norm_return > 0), (.reward_norm_return > 0) ] | all' <<< "$out" 2>&1)
[ "$agg" = true ] && ok "eval aggregates = sums and means of the per-task numbers" || fail "eval aggregates as numbers" "$agg"
check "eval every start" $A eval -a "$T/a60.rz" --tasks goals --all-starts --json -q
grep -q '"starts":"all"' "$T/.out" && ok "every-start report says so" || fail "every-start report says so" "$(cat "$T/.out")"
check "eval table + png" $A eval -a "$T/v.rz" --tasks rewards --episodes 1 --png "$T/pic" -q
[ -s "$T/pic-room-top-left.png" ] && ok "policy picture written" || fail "policy picture written"
# ensembles: -a repeated; one agent twice acts exactly as the agent alone (its Q summed
# twice), and the report lists every member
check "eval alone" $A eval -a "$T/a60.rz" --tasks goals --all-starts --json -q
alone=$(grep -o '"goal_success":[^,]*' "$T/.out")
check "eval the agent twice" $A eval -a "$T/a60.rz" -a "$T/a60.rz" --tasks goals --all-starts --json -q
[ "$(grep -o '"goal_success":[^,]*' "$T/.out")" = "$alone" ] && ok "an agent twice scores as the agent" || fail "an agent twice scores as the agent" "$alone vs $(cat "$T/.out")"
check "eval an ensemble + png" $A eval -a "$T/a60.rz" -a "$T/m60.rz" -a "$T/v.rz" --tasks all --episodes 2 --png "$T/ens" --json -q
grep -q '"ensemble":\["[^"]*a60.rz","[^"]*m60.rz","[^"]*v.rz"\]' "$T/.out" && ok "ensemble report lists its members" || fail "ensemble report lists its members" "$(cat "$T/.out")"
[ -s "$T/ens-room-top-left.png" ] && ok "ensemble picture written" || fail "ensemble picture written"
many=""; for i in $(seq 17); do many="$many -a $T/a60.rz"; done
check_err "17 members" 2 "at most 16 agents" $A eval $many

# ---- bad input ----------------------------------------------------------------------------
printf '#####\n#..#\n#####\n' > "$T/ragged.txt"
check_err "ragged map" 2 "ragged.txt.*ragged" $A collect --env "$T/ragged.txt" --steps 10 -o "$T/x.rz"
printf '###\n###\n' > "$T/walls.txt"
check_err "no free cell" 2 "walls.txt.*no free cell" $A collect --env "$T/walls.txt" --steps 10 -o "$T/x.rz"
[ ! -e "$T/x.rz" ] && ok "no output after a failure" || fail "no output after a failure"
check_err "bad policy" 2 "policy" $A collect --env fourrooms --policy greedy --steps 10 -o "$T/x.rz"
check_err "bad algo" 2 "algo" $A train --algo dqn -d "$T/d.rz" -o "$T/x.rz"

# A dataset of another environment cannot resume an agent trained on four-rooms.
printf '.......\n.......\n' > "$T/open.txt"
check "collect other env" $A collect --env "$T/open.txt" --steps 200 -o "$T/other.rz" -q
check_err "dataset for another env" 2 "environment.*does not match" $A train --resume "$T/a30.rz" -d "$T/other.rz" --steps 60 -o "$T/x.rz"

# Hand-made datasets: header from a real one with steps=1, then one transition.
hdr=$(rz-cat "$T/d.rz" | head -1 | sed 's/"steps":[0-9]*/"steps":1/')
one='AACAPwAAgD8='   # f32 (1, 1): the top-left free cell
mk() { printf '%s\n{"type":"agent_steps","v":1,"n":1,"s":{"$bin":"%s"},"a":{"$bin":"%s"},"s2":{"$bin":"%s"}}\n' "$hdr" "$1" "$2" "$3" | rz-cat --from-json -o "$T/$4"; }
mk "$one" 'AADgQA==' "$one" act7.rz        # action 7.0
check_err "action out of range" 2 "act7.rz: record 1 \(agent_steps\): field 'a'" $A train --algo fb -d "$T/act7.rz" -o "$T/x.rz"
mk "$one" 'AADAfw==' "$one" nan.rz         # action NaN
check_err "NaN in a dataset" 2 "nan.rz: record 1 \(agent_steps\): field 'a'.*not finite" $A train --algo fb -d "$T/nan.rz" -o "$T/x.rz"
mk 'AAAAAAAAAAA=' 'AAAAAA==' "$one" wall.rz  # state (0, 0) is a wall
check_err "state in a wall" 2 "wall.rz: record 1 \(agent_steps\): field 's'" $A train --algo fb -d "$T/wall.rz" -o "$T/x.rz"
hdr=$(rz-cat "$T/d.rz" | head -1 | sed 's/"steps":[0-9]*/"steps":4000000000/')
mk "$one" 'AAAAAA==' "$one" promise.rz     # one transition where 4e9 were promised (≈ 48 GB if trusted)
check_err "header promises more than it holds" 2 "promise.rz: 1 transitions, but the header says steps = 4000000000" $A train --algo fb -d "$T/promise.rz" -o "$T/x.rz"
check_err "agent file is not a dataset" 2 "not an rz-agent dataset" $A train --algo fb -d "$T/a30.rz" -o "$T/x.rz"
check_err "dataset is not an agent" 2 "not an rz-agent checkpoint" $A eval -a "$T/d.rz"
head -c 2000 "$T/a30.rz" > "$T/trunc.rz"
check_status "truncated checkpoint" 2 $A eval -a "$T/trunc.rz"
# every size in range on its own (hidden ≤ 8192, layers ≤ 7, batch ≤ 65536), hundreds of
# GiB together: refused from the header, before anything is allocated
rz-cat --full "$T/a30.rz" | sed '1s/"hidden":32/"hidden":8192/; 1s/"layers":2/"layers":7/; 1s/"batch":32/"batch":65536/' |
  rz-cat --from-json -o "$T/huge.rz"
check_err "checkpoint too large to load" 2 "huge.rz: record 0 \(agent\).*GiB.*at most 4 GiB" $A eval -a "$T/huge.rz"
[ ! -e "$T/x.rz" ] && ok "still no output after failures" || fail "still no output after failures"

# ---- sweep: one table; under mpirun the same table ---------------------------------------
sw="--env fourrooms --data coverage:1000,room:300 --algos fb,vcfb --seeds 2 --steps 20 --zdim 8 --hidden 32 --batch 32 --episodes 1 -q"
check "sweep" $A sweep $sw -o "$T/runs1.tsv" --summary "$T/sum.tsv"
[ "$(wc -l < "$T/runs1.tsv")" -eq 9 ] && ok "sweep writes one row per run" || fail "sweep writes one row per run" "$(cat "$T/runs1.tsv")"
grep -q "goal_success_iqm" "$T/sum.tsv" && ok "sweep summary has IQM columns" || fail "sweep summary has IQM columns"
# The summary as numbers, recomputed here from the per-run table: 5 seeds, so the IQM is
# the mean of the middle three of each metric (Agarwal et al. 2021: drop floor(n/4) from
# each end). Both tables print 4 decimals, so the recomputed mean of rounded values and
# the rounded IQM differ by at most 1e-4. The bootstrap CI's ends are IQMs of resamples
# of the five values, so lo <= hi within [min, max] of the seeds, and a spread of middle
# values gives an interval of positive width.
check "sweep, 5 seeds" $A sweep --env fourrooms --data coverage:1000 --algos fb --seeds 5 --steps 20 --zdim 8 --hidden 32 \
  --batch 32 --episodes 1 -q -o "$T/runs5.tsv" --summary "$T/sum5.tsv"
iqm_out=$(awk -F'\t' 'NR == FNR { if (FNR > 1) for (m = 0; m < 5; m++) v[m, FNR - 1] = $(6 + m); next }
  FNR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  { split("goal_success goals_solved goal_norm reward_norm norm_return", name, " ")
    for (m = 0; m < 5; m++) {
      for (i = 1; i <= 5; i++) w[i] = v[m, i]
      for (i = 1; i <= 5; i++) for (j = i + 1; j <= 5; j++) if (w[j] < w[i]) { t = w[i]; w[i] = w[j]; w[j] = t }
      want = (w[2] + w[3] + w[4]) / 3; n = name[m + 1]
      got = $col[n "_iqm"]; lo = $col[n "_lo"]; hi = $col[n "_hi"]
      if (got == "" || lo == "" || hi == "") { print "missing " n; continue }
      d = got - want; if (d < 0) d = -d
      if (d > 1.01e-4) print n ": IQM " got " but the middle three of the seeds average " want
      if (!(lo <= hi && lo >= w[1] - 1e-4 && hi <= w[5] + 1e-4)) print n ": CI [" lo ", " hi "] outside the seeds [" w[1] ", " w[5] "]"
      if (w[1] < w[5] - 2e-4 && w[2] < w[4] && !(hi > lo)) print n ": zero-width CI for distinct values"
      checked++ }
    print "checked " checked }' "$T/runs5.tsv" "$T/sum5.tsv")
[ "$iqm_out" = "checked 5" ] && [ "$(wc -l < "$T/runs5.tsv")" -eq 6 ] && ok "sweep IQM = mean of the middle three seeds, CI within the seeds' range" \
  || fail "sweep IQM and CI as numbers" "$iqm_out"
for np in 2 3; do   # both builds: the sanitizers watch the MPI paths too
  check "sweep under mpirun -np $np" mpi $np $A sweep $sw -o "$T/runs$np.tsv"
  cmp -s "$T/runs1.tsv" "$T/runs$np.tsv" && ok "mpirun -np $np table equals the single-process one" || fail "mpirun -np $np table equals the single-process one"
done

# ---- the MuJoCo maze, end to end on a tiny budget -------------------------------------------
check "maze collect" $A collect --env pointmass-maze --policy coverage --steps 500 -o "$T/pm.rz" -q
check "maze train" $A train --algo vcfb -d "$T/pm.rz" --steps 5 $small -o "$T/pm-a.rz"
check "maze eval" $A eval -a "$T/pm-a.rz" --tasks goals --episodes 1 --png "$T/pm" --json -q
[ -s "$T/pm-reach-top-left.png" ] && ok "maze picture written" || fail "maze picture written"
check_err "maze has no reward tasks" 2 "only goal tasks" $A eval -a "$T/pm-a.rz" --tasks rewards
check_err "every start on the maze" 2 "all-starts needs a grid" $A eval -a "$T/pm-a.rz" --all-starts
check "maze ensemble eval" $A eval -a "$T/pm-a.rz" -a "$T/pm-a.rz" --tasks goals --episodes 1 -q
check_err "ensemble across environments" 2 "pm-a.rz: not the environment of .*a60.rz" $A eval -a "$T/a60.rz" -a "$T/pm-a.rz"
check_err "slip on the maze" 2 "slip" $A collect --env pointmass-maze --slip 0.1 --steps 10 -o "$T/x.rz"
