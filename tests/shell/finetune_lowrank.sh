# finetune_lowrank.sh — rz-finetune on a packed Q + L·R model (rz-calibrate + rz-lowrank +
# rz-pack on stories260K, tiny settings): it trains the model's own L, R (per-matrix ranks,
# some 0) with Q frozen; --packed-out keeps Q's codes byte for byte and changes only L, R;
# the training loss falls; a resumed run equals an uninterrupted one; the packed output
# loads in rz-ppl with the ppl of the dense merged output (f32 L, R: equal to float
# rounding; 4-bit L, R: after the final rounding, still better than before tuning);
# --qat (steps at the rounded pair) makes -o and --packed-out agree. --rht-scales (a
# scale per row and column of every linear, qlayer v3): trained with or instead of L, R,
# stored at fp16 with Q's codes untouched, counted in the bits, refused by the codes path.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data tinystories-valid.txt
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin F=$RIZZ_DATA/tinystories-valid.txt
san=${RZ_SANITIZED:-}
head -c 60000 "$F" > "$T/calib.txt"
tail -c +100001 "$F" | head -c 8000 > "$T/eval.txt"
if [ -n "$san" ]; then NW=2; IT="--outer 2 --inner 1"; steps=4; else NW=8; IT="--outer 4 --inner 2"; steps=20; fi
EV="-t 1 -z $Z -f $T/eval.txt --ctx 256 --max-tokens 2048 --json"
ppl() { rz-ppl -q -m "$1" $EV | json_field ppl; }
# the qlayer records of a stream: Q's part, the pair, and every other record
qpart() { rz-cat --full "$1" | jq -c 'select(.type=="qlayer") | [.name,.rows,.cols,.pcols,.method,.bits,.incoherent,.seed_u,.seed_v,.model_hash,.codes,.scales,.zeros,.rank,.lr_format,.lr_bits,.lr_group]'; }
lrpart() { rz-cat --full "$1" | jq -c 'select(.type=="qlayer") | [.L,.R,.L_scales,.R_scales,.L_zeros,.R_zeros]'; }
others() { rz-cat --full "$1" | jq -c 'select(.type!="qlayer" and .type!="end")'; }

rz-convert -q --random --dim 64 --layers 5 --heads 8 --kv-heads 4 --hidden 172 --vocab 256 --seq-len 512 -o "$T/otherv.rzm"
check "rz-calibrate" rz-calibrate -q -t 1 -m "$M" -z "$Z" -f "$T/calib.txt" --ctx 128 -n $NW -o "$T/h.rzs"
# 2-bit E8P Q with incoherence (w2 is 172 wide: padded to 176); ranks 4, w2 2, layer 1 0
# except its w2; L, R as 4-bit grids, and a second model with f32 L, R
LR="-q -t 1 -m $M -H $T/h.rzs $IT --q-method e8p --bits 2 --incoherence --rank 4 --set layers.1.*:rank=0 --set feed_forward.w2*:rank=2"
check "rz-lowrank, 4-bit L, R" rz-lowrank $LR --lr-bits 4 -o "$T/g.q"
check "rz-lowrank, f32 L, R" rz-lowrank $LR --lr-bits 32 -o "$T/f.q"
check "rz-pack" sh -c "rz-pack -q -m '$M' '$T/g.q' -o '$T/g.rzm' && rz-pack -q -m '$M' '$T/f.q' -o '$T/f.rzm'"

check "rz-finetune --help has a --packed-out example" sh -c "rz-finetune --help | grep -q 'rz-finetune -m cal_r8_lr4.rzm.*'"
FT="rz-finetune -q -t 1 -z $Z -f $T/calib.txt --batch 4 --micro 2 --ctx 64 --lr 3e-3 --warmup 2 --seed 3"

# 1. 4-bit L, R: train, dense and packed outputs
$FT -m "$T/g.rzm" --steps $steps -o "$T/gd.rzm" --packed-out "$T/gp.rzm" --json > "$T/g.json" 2> "$T/err" \
  && ok "fine-tune the packed model's L, R ($steps steps)" || fail "fine-tune packed" "$(tail -3 "$T/err")"
grep -q '"init":"model"' "$T/g.json" && ok "a packed Q + L R model trains its own pairs (init model)" \
  || fail "init model" "$(head -c 300 "$T/g.json")"
# trained parameters = Σ k (m + n) over the pairs of the records
want=$(rz-cat "$T/g.rzm" | jq -s '[.[] | select(.type=="qlayer") | (.rank // 0) * (.rows + .cols)] | add')
same "trained parameters = the pairs' k (m + n), per-matrix ranks" "$want" "$(json_field trained_params < "$T/g.json")"
l0=$(json_field loss_first < "$T/g.json")
lN=$(grep -o '"losses":\[[^]]*\]' "$T/g.json" | tr -d '"losses:[]' | tr ',' '\n' | tail -3 | awk '{s+=$1} END{print s/NR}')
awk -v a="$l0" -v b="$lN" 'BEGIN{exit !(b < a - 0.05)}' && ok "training loss falls: $l0 -> $lN (last 3 mean)" \
  || fail "loss falls" "$l0 -> $lN"
same "Q's codes, scales, seeds identical in the packed output" "$(qpart "$T/g.rzm" | md5sum)" "$(qpart "$T/gp.rzm" | md5sum)"
same "every other record identical" "$(others "$T/g.rzm" | md5sum)" "$(others "$T/gp.rzm" | md5sum)"
[ "$(lrpart "$T/g.rzm" | md5sum)" != "$(lrpart "$T/gp.rzm" | md5sum)" ] && ok "L, R changed" || fail "L, R changed"
same "same stream size (same L/R format and ranks: same bpw)" "$(rz-cat "$T/g.rzm" | jq -c 'select(.type=="qlayer") | [.L, .R]' | md5sum)" \
  "$(rz-cat "$T/gp.rzm" | jq -c 'select(.type=="qlayer") | [.L, .R]' | md5sum)"
if [ -z "$san" ]; then
  p0=$(ppl "$T/g.rzm"); pd=$(ppl "$T/gd.rzm"); pp=$(ppl "$T/gp.rzm")
  awk -v a="$p0" -v d="$pd" -v p="$pp" 'BEGIN{exit !(d < a && p < a && p >= d * 0.98)}' \
    && ok "4-bit L, R: eval ppl $p0 -> $pd dense, $pp packed (after the final rounding)" \
    || fail "4-bit ppl" "$p0 -> $pd dense, $pp packed"
fi

# 1a. --distill to the float model with --holdout: the KL is the loss, it falls on the
# held-out windows, the best step's L, R are written (packed and dense agree on bpw)
$FT -m "$T/g.rzm" --steps $steps --distill "$M" --holdout 2 --eval-every 2 -o "$T/kd.rzm" --packed-out "$T/kp.rzm" \
  --json > "$T/k.json" 2> "$T/err" && ok "--distill --holdout runs" || fail "distill" "$(tail -3 "$T/err")"
same "loss_kind kl" kl "$(jq -r .loss_kind "$T/k.json")"
jq -e '.holdout_best < .holdout_first and .holdout_first > 0 and .best_step > 0' "$T/k.json" > /dev/null \
  && ok "held-out KL falls: $(jq -c '[.holdout_first, .holdout_best, .best_step]' "$T/k.json")" || fail "held-out KL" "$(cat "$T/k.json")"
check_err "--holdout with --resume" 2 "not with --resume" $FT -m "$T/g.rzm" --steps 2 --holdout 2 --resume "$T/none" -o "$T/bad.rzm"
check_err "teacher of another vocabulary" 2 "teacher's vocabulary" \
  $FT -m "$T/g.rzm" --steps 2 --distill "$T/otherv.rzm" -o "$T/bad.rzm"

# 1b. --qat: steps at the rounded 4-bit pair; -o merges the rounded pair = --packed-out
$FT -m "$T/g.rzm" --steps $steps --qat -o "$T/qd.rzm" --packed-out "$T/qp.rzm" --json > "$T/q.json" 2> "$T/err" \
  && ok "fine-tune with --qat" || fail "fine-tune --qat" "$(tail -3 "$T/err")"
same "--qat: Q's codes identical" "$(qpart "$T/g.rzm" | md5sum)" "$(qpart "$T/qp.rzm" | md5sum)"
ql0=$(json_field loss_first < "$T/q.json"); ql1=$(json_field loss_final < "$T/q.json")
awk -v a="$ql0" -v b="$ql1" 'BEGIN{exit !(b < a)}' && ok "--qat: training loss falls: $ql0 -> $ql1" || fail "--qat loss" "$ql0 -> $ql1"
if [ -z "$san" ]; then
  qd=$(ppl "$T/qd.rzm"); qp=$(ppl "$T/qp.rzm")
  awk -v a="$qd" -v b="$qp" -v z="$p0" 'BEGIN{d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * a && b < z)}' \
    && ok "--qat: packed ppl $qp = merged ppl $qd (rel. 1e-5; before $p0, without --qat $pp)" || fail "--qat ppl" "$qd vs $qp"
fi
check_err "--qat with --init lora" 2 "needs --init model" $FT -m "$T/g.rzm" --init lora --qat --steps 2 -o "$T/bad.rzm"

# 2. f32 L, R: the packed output is the dense merged model up to float rounding
$FT -m "$T/f.rzm" --steps $steps -o "$T/fd.rzm" --packed-out "$T/fp.rzm" 2> "$T/err" \
  && ok "fine-tune f32 L, R" || fail "fine-tune f32" "$(tail -3 "$T/err")"
same "f32: Q's codes identical" "$(qpart "$T/f.rzm" | md5sum)" "$(qpart "$T/fp.rzm" | md5sum)"
f0=$(ppl "$T/f.rzm"); fd=$(ppl "$T/fd.rzm"); fp=$(ppl "$T/fp.rzm")
awk -v a="$fd" -v b="$fp" 'BEGIN{d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * a)}' \
  && ok "f32 L, R: packed ppl $fp = dense merged ppl $fd (rel. 1e-5; before $f0)" || fail "f32 ppl" "$fd vs $fp"

# 3. resume = uninterrupted (per-matrix ranks in the checkpoint), packed outputs too
n=6; [ -n "$san" ] && n=4
$FT -m "$T/g.rzm" --steps $n --adapters "$T/full" --packed-out "$T/full.rzm" 2>/dev/null
$FT -m "$T/g.rzm" --steps $n --until 2 --checkpoint "$T/ck" 2>/dev/null
$FT -m "$T/g.rzm" --steps $n --resume "$T/ck" --adapters "$T/res" --packed-out "$T/res.rzm" 2>/dev/null
check "resumed = uninterrupted (adapters bit for bit)" cmp "$T/full" "$T/res"
check "resumed = uninterrupted (packed model bit for bit)" cmp "$T/full.rzm" "$T/res.rzm"
$FT -m "$T/g.rzm" --qat --steps $n --packed-out "$T/qfull.rzm" 2>/dev/null
$FT -m "$T/g.rzm" --qat --steps $n --until 3 --checkpoint "$T/qck" 2>/dev/null
$FT -m "$T/g.rzm" --qat --steps $n --resume "$T/qck" --packed-out "$T/qres.rzm" 2>/dev/null
check "--qat: resumed = uninterrupted (packed model bit for bit)" cmp "$T/qfull.rzm" "$T/qres.rzm"
check_err "checkpoint of another model rejected" 2 "another model" $FT -m "$T/f.rzm" --steps $n --resume "$T/ck" -o "$T/bad.rzm"

# 4. controls and errors
check "--init lora on a packed model: fresh adapters on the merged model" \
  $FT -m "$T/g.rzm" --init lora --rank 2 --steps 2 -o "$T/lora.rzm"
check_err "--rank with the model's own pairs" 2 "rank" $FT -m "$T/g.rzm" --rank 4 --steps 2 -o "$T/bad.rzm"
check_err "--packed-out of a model without L, R" 2 "stories260K.bin: no qlayer record carries L, R" \
  $FT -m "$M" --steps 2 --packed-out "$T/bad.rzm"
check_err "--init model on a model without L, R" 2 "no qlayer record carries L, R" \
  $FT -m "$M" --init model --steps 2 -o "$T/bad.rzm"
check_err "--packed-out with --init lora" 2 "needs --init model" \
  $FT -m "$T/g.rzm" --init lora --steps 2 --packed-out "$T/bad.rzm"
[ ! -e "$T/bad.rzm" ] && ok "failed runs leave no output" || fail "failed runs leave no output"

# 1c. --rht-scales: with f32 L, R (so -o and --packed-out differ only by the fp16 scales)
$FT -m "$T/f.rzm" --steps $steps --distill "$M" --rht-scales with -o "$T/sd.rzm" --packed-out "$T/sp.rzm" --json \
  > "$T/s.json" 2> "$T/err" && ok "--rht-scales with" || fail "--rht-scales with" "$(tail -3 "$T/err")"
want=$(rz-cat "$T/f.rzm" | jq -s '[.[] | select(.type=="qlayer") | (.rank // 0) * (.rows + .cols) + .rows + .cols] | add')
same "--rht-scales with: trained parameters = Σ k (m + n) + (m + n)" "$want" "$(json_field trained_params < "$T/s.json")"
same "--rht-scales: every qlayer is v3 with out_scale, in_scale" "$(rz-cat "$T/f.rzm" | jq -s '[.[] | select(.type=="qlayer")] | length')" \
  "$(rz-cat "$T/sp.rzm" | jq -s '[.[] | select(.type=="qlayer" and .v==3 and .out_scale != null and .in_scale != null)] | length')"
same "--rht-scales: Q's codes identical" "$(qpart "$T/f.rzm" | md5sum)" "$(qpart "$T/sp.rzm" | md5sum)"
if [ -z "$san" ]; then
  f0=$(ppl "$T/f.rzm"); sd=$(rz-ppl -q -m "$T/sd.rzm" $EV | json_field ppl); sp=$(rz-ppl -q --dense -m "$T/sp.rzm" $EV | json_field ppl)
  # fp16 scales: each weight off by ≤ 2^-11 relative, so the ppl by ≲ 1e-3
  awk -v a="$sd" -v b="$sp" -v z="$f0" 'BEGIN{d = a - b; if (d < 0) d = -d; exit !(d <= 2e-3 * a && b < z)}' \
    && ok "--rht-scales: packed (v3, --dense) ppl $sp = merged $sd (rel. 2e-3; before $f0)" || fail "--rht-scales ppl" "$sd vs $sp (before $f0)"
fi
check_err "a v3 record on the codes path" 2 "out_scale" rz-ppl -q -m "$T/sp.rzm" $EV
check_err "a v3 model without --rht-scales" 2 "rht-scales" $FT -m "$T/sp.rzm" --steps 2 -o "$T/bad.rzm"
check_err "--rht-scales with --checkpoint" 2 "rht-scales" $FT -m "$T/f.rzm" --rht-scales only --steps 2 --checkpoint "$T/ck"
# only: L, R stay as they were; a second run starts from the stored scales
$FT -m "$T/f.rzm" --steps $steps --distill "$M" --rht-scales only --packed-out "$T/so.rzm" --json > "$T/so.json" 2> "$T/err" \
  && ok "--rht-scales only" || fail "--rht-scales only" "$(tail -3 "$T/err")"
same "--rht-scales only: L, R unchanged" "$(lrpart "$T/f.rzm" | md5sum)" "$(lrpart "$T/so.rzm" | md5sum)"
$FT -m "$T/so.rzm" --steps 2 --lr 0 --distill "$M" --rht-scales only -o "$T/so2.rzm" --json > "$T/so2.json" 2> "$T/err" \
  && ok "a v3 model trains on from its scales" || fail "v3 resume" "$(tail -3 "$T/err")"
l2=$(json_field loss_first < "$T/so2.json"); l0=$(json_field loss_first < "$T/so.json")
awk -v a="$l0" -v b="$l2" 'BEGIN{exit !(b < a)}' && ok "it starts from the stored scales: first loss $l2 < the untuned $l0" \
  || fail "starts from the scales" "$l2 vs $l0"
