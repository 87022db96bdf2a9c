# finetune.sh — rz-finetune on stories260K: the loss falls and held-out perplexity
# improves, a resumed run equals an uninterrupted one bit for bit, the result does not
# depend on the thread count or (same --batch/--micro) on mpirun -np 2, checkpoints of
# another model are rejected, bad input exits 2 and leaves no output.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data tinystories-valid.txt
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin
# training text: the first 200 KB of the validation file; held out: the next 60 KB
head -c 200000 "$RIZZ_DATA/tinystories-valid.txt" > "$T/train.txt"
tail -c +200001 "$RIZZ_DATA/tinystories-valid.txt" | head -c 60000 > "$T/held.txt"
san=${RZ_SANITIZED:-}
steps=30; [ -n "$san" ] && steps=6
FT="rz-finetune -q -m $M -z $Z -f $T/train.txt --rank 4 --batch 4 --micro 2 --ctx 64 --lr 3e-3 --warmup 2 --weight-decay 0.01 --seed 3"

check "rz-finetune --help has an example" sh -c "rz-finetune --help | grep -q 'rz-finetune -m stories260K.bin'"

# 1. loss curve and held-out perplexity
$FT --steps $steps -o "$T/tuned.rzm" --adapters "$T/ad" --json > "$T/rep.json" 2> "$T/err" \
  && ok "fine-tune $steps steps" || fail "fine-tune" "$(tail -3 "$T/err")"
l0=$(json_field loss_first < "$T/rep.json"); l1=$(json_field loss_final < "$T/rep.json")
# first step vs the mean of the last five (single steps are noisy)
lN=$(grep -o '"losses":\[[^]]*\]' "$T/rep.json" | tr -d '"losses:[]' | tr ',' '\n' | tail -5 | awk '{s+=$1} END{print s/NR}')
awk -v a="$l0" -v b="$lN" 'BEGIN{exit !(b < a - 0.02)}' && ok "loss falls: $l0 -> $lN (last 5 mean; final $l1)" \
  || fail "loss falls" "$l0 -> $lN"
if [ -z "$san" ]; then
  p0=$(rz-ppl -q -m "$M" -z "$Z" -f "$T/held.txt" --ctx 256 --max-tokens 6144 --json | json_field ppl)
  p1=$(rz-ppl -q -m "$T/tuned.rzm" -z "$Z" -f "$T/held.txt" --ctx 256 --max-tokens 6144 --json | json_field ppl)
  awk -v a="$p0" -v b="$p1" 'BEGIN{exit !(b < a)}' && ok "held-out ppl improves: $p0 -> $p1" || fail "held-out ppl" "$p0 -> $p1"
fi
check "adapter stream reads back" sh -c "rz-cat '$T/ad' | head -1 | grep -q lora_adapters"

# 2. resume: stop after 3 steps with a checkpoint, resume to the end = uninterrupted
n=8; [ -n "$san" ] && n=4
$FT --steps $n --adapters "$T/full" 2>/dev/null
$FT --steps $n --until 3 --checkpoint "$T/ck" 2>/dev/null
$FT --steps $n --resume "$T/ck" --adapters "$T/resumed" --checkpoint "$T/ck2" 2>/dev/null
check "resumed run = uninterrupted run (adapters bit for bit)" cmp "$T/full" "$T/resumed"
check "checkpoint streams are readable" sh -c "rz-cat '$T/ck' | head -1 | grep -q '\"step\":3'"

# 3. threads and ranks
$FT --steps $n -t 1 --adapters "$T/t1" 2>/dev/null
check "1 thread = default threads (bit for bit)" cmp "$T/full" "$T/t1"
if [ -z "$san" ]; then
  # batch 8 of micro 2: 4 micro-batches, two all-reduce rounds on 2 ranks, an idle rank
  # in the second round on 3
  $FT --steps 4 --batch 8 --adapters "$T/b8" 2>/dev/null
  for np in 2 3; do
    mpirun -np $np $FT --steps 4 --batch 8 --adapters "$T/mpi$np" > "$T/mpi.out" 2>&1
    check "mpirun -np $np = one process, same --batch/--micro (bit for bit)" cmp "$T/b8" "$T/mpi$np"
  done
fi

# 4. errors: another model's checkpoint, bad shapes, no output left behind
rz-convert -q "$M" --dtype bf16 -o "$T/other.rzm"
check_err "checkpoint of another model rejected" 2 "another model" \
  rz-finetune -q -m "$T/other.rzm" -z "$Z" -f "$T/train.txt" --rank 4 --batch 4 --micro 2 --ctx 64 --steps $n \
  --resume "$T/ck" -o "$T/bad.rzm"
[ ! -e "$T/bad.rzm" ] && ok "no output after a rejected checkpoint" || fail "no output after a rejected checkpoint"
check_err "resume with another --rank rejected" 2 "rank" $FT --rank 2 --steps $n --resume "$T/ck" -o "$T/bad.rzm"
check_err "--batch not a multiple of --micro" 2 "multiple" $FT --batch 5 --steps 2 -o "$T/bad.rzm"
check_err "--ctx beyond the model" 2 "longer than the model" $FT --ctx 4096 --steps 2 -o "$T/bad.rzm"
check_err "a model stream as checkpoint" 2 "train_checkpoint" $FT --steps 2 --resume "$T/tuned.rzm" -o "$T/bad.rzm"
check_err "nothing to write" 2 "nothing to write" $FT --steps 2
[ ! -e "$T/bad.rzm" ] && ok "failed runs leave no output" || fail "failed runs leave no output"

# 5. CALDERA initialisation: Q = 2-bit LDLQ of W, L R its rank-8 fit; fine-tuning L and R
#    recovers part of the quantisation loss (held-out ppl below the untrained Q + L R)
CF="rz-finetune -q -m $M -z $Z -f $T/train.txt --rank 8 --batch 4 --ctx 64 --init caldera --q-method ldlq --q-bits 2 --caldera-iters 2"
cs=20; [ -n "$san" ] && cs=3
check "CALDERA init, no training (--lr 0)" $CF --steps 1 --lr 0 -o "$T/c0.rzm"
$CF --steps $cs --lr 3e-3 --checkpoint "$T/cck" -o "$T/c1.rzm" --json > "$T/c.json" 2> "$T/err" \
  && ok "CALDERA init + $cs steps" || fail "CALDERA init + $cs steps" "$(tail -3 "$T/err")"
if [ -z "$san" ]; then
  q0=$(rz-ppl -q -m "$T/c0.rzm" -z "$Z" -f "$T/held.txt" --ctx 256 --max-tokens 6144 --json | json_field ppl)
  q1=$(rz-ppl -q -m "$T/c1.rzm" -z "$Z" -f "$T/held.txt" --ctx 256 --max-tokens 6144 --json | json_field ppl)
  awk -v a="$q0" -v b="$q1" -v p="${p0:-0}" 'BEGIN{exit !(b < a && b > p)}' \
    && ok "CALDERA 2-bit: held-out ppl $q0 -> $q1 after fine-tuning (dense: $p0)" || fail "CALDERA fine-tune ppl" "$q0 -> $q1"
fi
check "CALDERA checkpoint resumes (same Q, same model id)" $CF --steps $((cs + 1)) --lr 3e-3 --resume "$T/cck" -o "$T/c2.rzm"
check_err "e8p needs columns in multiples of 8 (w2 has 172)" 2 "multiple of 8" $CF --q-method e8p --steps 1 -o "$T/bad.rzm"
