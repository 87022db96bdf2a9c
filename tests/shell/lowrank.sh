# lowrank.sh — rz-lowrank (CALDERA: W ≈ Q + L·R) on stories260K: the records pack into
# an .rzm whose perplexity equals that of a dense float32 model built from the fits' own
# Q + L R (--fake), bits per weight agree between rz-lowrank and rz-pack, --set patterns
# set per-matrix ranks, --budget stays within its budget, convergence tables print (and
# -q silences them), mpirun writes the same bytes, and bad input (rank above min(m, n),
# a budget below Q alone, Hessians of another model, an unknown Q method) exits 2 with a
# message and no output left.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data tinystories-valid.txt
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin F=$RIZZ_DATA/tinystories-valid.txt
json_str() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
head -c 60000 "$F" > "$T/calib.txt"
tail -c +100001 "$F" | head -c 8000 > "$T/eval.txt"
rz-tokenize -q -z "$Z" -f "$T/eval.txt" -o "$T/eval.tok"
EV="-t 1 --tokens $T/eval.tok --ctx 256 --max-tokens 1024"
# under ASan/UBSan also one LDLQ tune pass instead of the reference's 10 (the code path
# stays; 10 took the script to 280 s of its 300 s limit)
if [ -n "${RZ_SANITIZED:-}" ]; then NW=2; IT="--outer 2 --inner 1 --tune-iters 1"; else NW=8; IT="--outer 4 --inner 2"; fi
LR="-t 1 -m $M -H $T/h.rzs $IT"

check "rz-calibrate writes Hessians" rz-calibrate -q -t 1 -m "$M" -z "$Z" -f "$T/calib.txt" --ctx 128 -n $NW -o "$T/h.rzs"

# fit, table, records
rz-lowrank $LR --rank 4 --incoherence -o "$T/r4.q" > "$T/r4.txt" 2> "$T/r4.err"
same "rz-lowrank exits 0" 0 $?
same "35 qlayer records" 35 "$(rz-cat --count "$T/r4.q")"
same "one convergence table per matrix" 35 "$(grep -c 'f after LR' "$T/r4.txt")"
n_outer=$(awk '/^layers.0.attention.wq.weight  /{f=1; next} f && /^ +[0-9]+ /{n++} f && /best:/{print n; exit}' "$T/r4.txt")
same "an objective row per outer iteration" "$(echo "$IT" | awk '{print $2}')" "$n_outer"
grep -q '^total: 35 matrices, proxy loss' "$T/r4.txt" && ok "summary line" || fail "summary line" "$(tail -2 "$T/r4.txt")"
same "records carry rank 4 (v2)" '"v":2' "$(rz-cat "$T/r4.q" | grep -o '"v":2' | head -1)"
q_out=$(rz-lowrank -q $LR --rank 4 --incoherence -o "$T/r4b.q")
[ -z "$(grep 'f after LR' <<< "$q_out")" ] && ok "-q silences the tables" || fail "-q" "tables printed"
check "same records with -q" cmp "$T/r4.q" "$T/r4b.q"

# pack/load round trip: packed Q + L R == dense float32 model of the fits' own Q + L R
rz-lowrank -q $LR --rank 4 --incoherence --fake -o "$T/r4.fake.rzm" > /dev/null
rz-pack -q -m "$M" "$T/r4.q" -o "$T/r4.rzm" --json > "$T/pack.json"
pf=$(rz-ppl -q -m "$T/r4.fake.rzm" $EV --json | json_field ppl)
pp=$(rz-ppl -q -m "$T/r4.rzm" $EV --json | json_field ppl)
awk -v a="$pf" -v b="$pp" 'BEGIN{d=(a-b)/a; if(d<0)d=-d; exit !(a > 0 && d < 1e-5)}' \
  && ok "packed Q+LR ppl $pp = dense Q+LR ppl $pf" || fail "packed ppl" "$pp vs $pf"
# Quality against fp32 and against Q alone at equal Q (same method, bits and iterations,
# rank 0): L R is fitted to the residual W - Q under the same proxy loss, and rank 0 is
# one of the points it can take, so Q + L R must not be worse; CALDERA (Saha et al.,
# NeurIPS 2024) reports lower perplexity than Q alone for every rank > 0 it tries. Both
# stay above fp32 and below 512 (the uniform prediction over the vocabulary).
rz-lowrank -q $LR --rank 0 --incoherence -o "$T/r0.q" > /dev/null && rz-pack -q -m "$M" "$T/r0.q" -o "$T/r0.rzm" > /dev/null
p0=$(rz-ppl -q -m "$T/r0.rzm" $EV --json | json_field ppl)
pfp=$(rz-ppl -q -m "$M" $EV --json | json_field ppl)
is_num "$p0" && is_num "$pp" && is_num "$pfp" && awk -v f="$pfp" -v a="$pp" -v b="$p0" 'BEGIN{exit !(f > 1 && f < a && a < b && b < 512)}' \
  && ok "ppl: fp32 $pfp < Q + LR (rank 4) $pp < Q alone (rank 0) $p0 < 512" || fail "Q + LR between fp32 and Q alone" "fp32 $pfp, rank 4 $pp, rank 0 $p0"
bl=$(rz-lowrank -q $LR --rank 4 --incoherence --json -o "$T/r4c.q" | json_field bpw_linears)
bp=$(json_field bpw_linears < "$T/pack.json")
same "bpw of rz-lowrank = bpw of rz-pack" "$(printf %.6f "$bl")" "$(printf %.6f "$bp")"
# expected bpw: per block 2 bits on 35 linears with w2 padded 172->176, + 32-bit scale and
# 128 bits of seeds per matrix, + rank 4 x (rows + pcols) 4-bit codes + 2 x 4 x 40 bits
want=$(awk 'BEGIN{ split("64 64 32 64 32 64 64 64 172 64 64 176 172 64", s, " ");
  for (l = 0; l < 5; l++) for (i = 1; i <= 14; i += 2) { r = s[i]; c = s[i+1];
    b += 2*r*c + 32 + 128 + 8*(int((4*r*4+7)/8) + int((4*c*4+7)/8)) + 8*40; w += r*(c == 176 ? 172 : c) }
  printf "%.6f", b / w }')
same "bpw counted from the format" "$want" "$(printf %.6f "$bp")"

# per-matrix settings
rz-lowrank $LR --rank 4 --set 'attention.*:rank=2' --set 'feed_forward.*:rank=6' --set 'layers.1.*.w2.*:rank=1' \
  -o "$T/set.q" > "$T/set.txt" 2>&1
rk() { awk -v n="$1" '$1 == n && NF == 7 {print $3}' "$T/set.txt"; }
same "--set attention.* -> rank 2" "2" "$(rk layers.3.attention.wk.weight)"
same "--set feed_forward.* -> rank 6" "6" "$(rk layers.0.feed_forward.w1.weight)"
same "a later --set wins (layers.1.*.w2.*)" "1" "$(rk layers.1.feed_forward.w2.weight)"

# f16 L, R cost 16 bits per entry and fit at least as well as 4-bit ones
l4=$(rz-lowrank -q $LR --rank 4 --incoherence --json -o "$T/a.q" | json_field loss)
l16=$(rz-lowrank -q $LR --rank 4 --incoherence --lr-bits 16 --json -o "$T/b.q" | json_field loss)
is_num "$l4" && is_num "$l16" && awk -v a="$l4" -v b="$l16" 'BEGIN{exit !(a > 0 && b > 0 && b <= a * 1.05)}' && ok "16-bit L, R loss $l16 <= 4-bit $l4 (+5%)" || fail "lr-bits 16" "$l16 vs $l4"

# budget: chosen ranks, achieved bpw within the budget (counted by rz-pack)
rz-lowrank -q $LR --budget 2.8 --candidates 0,2,4,8 --json -o "$T/bud.q" > "$T/bud.json"
rz-pack -q -m "$M" "$T/bud.q" -o "$T/bud.rzm" --json > "$T/budp.json"
bb=$(json_field bpw_linears < "$T/budp.json"); ch=$(json_str ranks_chosen < "$T/bud.json")
# (the lower bound only says the budget bought something beyond Q's 2.0x bpw: the greedy
# stops where no larger rank lowers a matrix's error, and with the Hessian downdate on by
# default some curves stop falling early, pipeline/caldera_ref.md)
awk -v b="$bb" 'BEGIN{exit !(b <= 2.8 && b > 2.1)}' && ok "--budget 2.8: achieved $bb bpw" || fail "budget" "$bb"
same "35 chosen ranks" 35 "$(tr ',' '\n' <<< "$ch" | grep -c .)"
[ -n "$(tr ',' '\n' <<< "$ch" | grep -v '^0$')" ] && ok "budget buys some rank ($ch)" || fail "budget ranks" "$ch"
# budget with the measured objective (KL from the float model, each matrix alone): the
# allocation's bits are the records' (rz-pack counts the same), and --curves re-reads the
# report's curves: the same ranks without measuring, and another budget from them too
KL="--objective kl -z $Z -f $T/calib.txt --probe-windows 2 --probe-ctx 32 --candidates 0,2,4,8"
rz-lowrank -q $LR --budget 2.8 $KL --json -o "$T/kl.q" > "$T/kl.json"
rz-pack -q -m "$M" "$T/kl.q" -o "$T/kl.rzm" --json > "$T/klp.json"
kb=$(json_field bpw_linears < "$T/klp.json"); kc=$(json_str ranks_chosen < "$T/kl.json")
awk -v b="$kb" 'BEGIN{exit !(b <= 2.8 && b > 2.2)}' && ok "--objective kl --budget 2.8: achieved $kb bpw" || fail "kl budget" "$kb"
same "kl: objective reported" kl "$(json_str objective < "$T/kl.json")"
same "kl: 35 curves of 4 candidates" 35 "$(jq '[.curves[] | select(length == 4)] | length' "$T/kl.json")"
rz-lowrank -q $LR --budget 2.8 --candidates 0,2,4,8 --curves "$T/kl.json" --json -o "$T/kl2.q" > "$T/kl2.json"
same "--curves: the same ranks" "$kc" "$(json_str ranks_chosen < "$T/kl2.json")"
check "--curves: the same records" cmp "$T/kl.q" "$T/kl2.q"
# the measured KL of the allocation: a second round's baseline is the first round's
# allocation, so a 2-round run's kl_baselines[1] is the 1-round run's kl_measured exactly
# (the written model, probed after the allocation), and --curves measures nothing
rz-lowrank -q $LR --budget 2.8 $KL --kl-rounds 2 --json -o "$T/klr2.q" > "$T/klr2.json"
same "kl: one baseline per round" 2 "$(jq '.kl_baselines | length' "$T/klr2.json")"
same "kl: round 2's baseline = the 1-round allocation's measured KL" "$(jq .kl_measured "$T/kl.json")" \
  "$(jq '.kl_baselines[1]' "$T/klr2.json")"
jq -e '.kl_measured > 0 and .kl_measured != .kl_baselines[0]' "$T/kl.json" > /dev/null \
  && ok "kl: the allocation's own KL, not the baseline's" || fail "kl_measured" "$(jq -c '[.kl_measured, .kl_baselines]' "$T/kl.json")"
same "--curves: nothing measured" "0 0" "$(jq -r '"\(.kl_measured) \(.kl_baselines | length)"' "$T/kl2.json")"
check_err "--curves at other candidates" 2 "other ranks than --candidates" \
  rz-lowrank $LR --budget 2.8 --candidates 0,2,4 --curves "$T/kl.json" -o "$T/bad7.q"
check_err "--curves of another objective" 2 "field 'objective': expected \"proxy\"" \
  rz-lowrank $LR --budget 2.8 --candidates 0,2,4,8 --objective proxy --curves "$T/kl.json" -o "$T/bad8.q"
check_err "-f without --objective kl" 2 "only used by --objective kl" \
  rz-lowrank $LR --budget 2.8 --objective proxy -z "$Z" -f "$T/calib.txt" -o "$T/bad9.q"

for np in 2 3; do   # both builds: the sanitizers watch the MPI paths too
  mpi $np rz-lowrank -q $LR --rank 4 --incoherence -o "$T/mpi$np.q" > /dev/null 2> "$T/mpi.err"
  check "mpirun -np $np rz-lowrank writes the same bytes" cmp "$T/r4.q" "$T/mpi$np.q"
done

# ---- bad input: exit 2, a message, nothing written ----
check_err "rank above min(m, n)" 2 "rank 40 is larger than min\(rows, cols\)" rz-lowrank $LR --rank 40 -o "$T/bad1.q"
[ ! -e "$T/bad1.q" ] && ok "no output (rank)" || fail "output left (rank)"
check_err "budget below Q alone" 2 "below the 2.0[0-9]* that Q alone needs" rz-lowrank $LR --budget 1.5 -o "$T/bad2.q"
[ ! -e "$T/bad2.q" ] && ok "no output (budget)" || fail "output left (budget)"
rz-convert -q --random --dim 64 --layers 5 --heads 8 --kv-heads 4 --hidden 172 --vocab 512 --seq-len 512 -o "$T/other.rzm"
check_err "Hessians of another model" 2 "computed for another model" rz-lowrank -t 1 -m "$T/other.rzm" -H "$T/h.rzs" -o "$T/bad3.q"
[ ! -e "$T/bad3.q" ] && ok "no output (hessians)" || fail "output left (hessians)"
check_err "unknown q-method" 2 "unknown method 'gptq'" rz-lowrank $LR --q-method gptq -o "$T/bad4.q"
[ ! -e "$T/bad4.q" ] && ok "no output (q-method)" || fail "output left (q-method)"
check_err "bad --set" 2 "unknown key 'rnk'" rz-lowrank $LR --set 'attention.*:rnk=2' -o "$T/bad5.q"
check_err "--rank and --budget" 2 "not both" rz-lowrank $LR --rank 2 --budget 3 -o "$T/bad6.q"
