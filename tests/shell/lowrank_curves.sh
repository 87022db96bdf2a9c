# lowrank_curves.sh — rz-lowrank --budget's robust curves on stories260K (a tiny probe):
# --curve-seeds averages each seed's own curve (the mean of the single-seed runs' curves,
# their baselines' mean too), --curve-seeds = --seed is the default run byte for byte,
# --monotone fits every curve non-increasing in rank while keeping each curve's sum (the
# pooled values are replaced by their mean) and leaving falling curves alone, --curves
# with --monotone re-reads raw or fitted curves to the same ranks, and misuse exits 2.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data tinystories-valid.txt
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin F=$RIZZ_DATA/tinystories-valid.txt
head -c 60000 "$F" > "$T/calib.txt"
if [ -n "${RZ_SANITIZED:-}" ]; then IT="--outer 1 --inner 1 --tune-iters 1"; else IT="--outer 2 --inner 1"; fi
check "rz-calibrate writes Hessians" rz-calibrate -q -t 1 -m "$M" -z "$Z" -f "$T/calib.txt" --ctx 128 -n 4 -o "$T/h.rzs"
# one round (each seed's baseline: its own fits at rank <= 2), 3 candidates, 2 windows of 32
KL="-q -t 1 -m $M -H $T/h.rzs $IT --incoherence --budget 2.6 --candidates 0,2,4 --objective kl -z $Z -f $T/calib.txt
  --probe-windows 2 --probe-ctx 32 --kl-base 2 --seed 3 --json"
rz-lowrank $KL -o "$T/d.q" > "$T/d.json"
rz-lowrank $KL --curve-seeds 3 -o "$T/s3.q" > "$T/s3.json"
check "--curve-seeds = --seed: the same records" cmp "$T/d.q" "$T/s3.q"
same "--curve-seeds reported" "3" "$(jq -r .curve_seeds "$T/s3.json")"
rz-lowrank $KL --curve-seeds 5 -o "$T/s5.q" > "$T/s5.json"
rz-lowrank $KL --curve-seeds 3,5 -o "$T/s35.q" > "$T/s35.json"
# (the code sums v/2 + w/2 from 0, jq (v + w)/2: the same up to one rounding, ~1e-17 of
# values of order 0.1)
dev=$(jq -s '[.[0].curves, .[1].curves, .[2].curves] | transpose | map(transpose | map((.[0][1] + .[1][1]) / 2 - .[2][1]
  | if . < 0 then -. else . end)) | flatten | max' "$T/s3.json" "$T/s5.json" "$T/s35.json")
awk -v d="$dev" 'BEGIN { exit !(d != "" && d + 0 < 1e-12) }' && ok "two seeds' curves = the mean of each seed's ($dev)" \
  || fail "curve mean" "largest deviation $dev"
dev=$(jq -s '(.[0].kl_baselines[0] + .[1].kl_baselines[0]) / 2 - .[2].kl_baselines[0] | if . < 0 then -. else . end' \
  "$T/s3.json" "$T/s5.json" "$T/s35.json")
awk -v d="$dev" 'BEGIN { exit !(d != "" && d + 0 < 1e-12) }' && ok "the baseline KL = the mean of each seed's ($dev)" \
  || fail "baseline mean" "$dev"
# the seeds' curves must differ, or the mean above shows nothing
jq -e -s '.[0].curves != .[1].curves' "$T/s3.json" "$T/s5.json" > /dev/null && ok "seeds 3 and 5 measure other curves" \
  || fail "seeds' curves" "identical"

rz-lowrank $KL --curve-seeds 3,5 --monotone -o "$T/m.q" > "$T/m.json"
same "--monotone reported" true "$(jq .monotone "$T/m.json")"
rises=$(jq '[.curves[] | . as $c | range(1; length) | select($c[.][1] > $c[. - 1][1])] | length' "$T/m.json")
same "--monotone: no curve rises with the rank" 0 "$rises"
raw_rises=$(jq '[.curves[] | . as $c | range(1; length) | select($c[.][1] > $c[. - 1][1])] | length' "$T/s35.json")
[ "$raw_rises" -gt 0 ] && ok "the raw curves rise somewhere ($raw_rises), so the fit had work" || fail "raw rises" "$raw_rises"
# (.[0] the raw curve, .[1] the fitted: each pooled block's values sum to what they
# replaced, up to a rounding per value)
dev=$(jq -s '[.[0].curves, .[1].curves] | transpose | map(((.[0] | map(.[1]) | add) - (.[1] | map(.[1]) | add))
  | if . < 0 then -. else . end) | max' "$T/s35.json" "$T/m.json")
awk -v d="$dev" 'BEGIN { exit !(d != "" && d + 0 < 1e-12) }' && ok "--monotone keeps each curve's sum ($dev)" \
  || fail "curve sums" "$dev"
kept=$(jq -s '[.[0].curves, .[1].curves] | transpose | map(select(.[0] as $c | [range(1; $c | length) | select($c[.][1] > $c[. - 1][1])] | length == 0)
  | select(.[0] != .[1])) | length' "$T/s35.json" "$T/m.json")
same "--monotone leaves falling curves alone" 0 "$kept"
# --curves: raw curves fitted now, or the fitted ones again: the ranks of the measured run
RC="-q -t 1 -m $M -H $T/h.rzs $IT --incoherence --budget 2.6 --candidates 0,2,4 --objective kl --seed 3 --json"
rz-lowrank $RC --curves "$T/s35.json" --monotone -o "$T/c1.q" > "$T/c1.json"
rz-lowrank $RC --curves "$T/m.json" --monotone -o "$T/c2.q" > "$T/c2.json"
same "--curves raw + --monotone: the measured run's ranks" "$(jq -r .ranks_chosen "$T/m.json")" "$(jq -r .ranks_chosen "$T/c1.json")"
check "--curves fitted + --monotone: the same records" cmp "$T/m.q" "$T/c2.q"

check_err "--curve-seeds with --curves" 2 "measured before" rz-lowrank $RC --curves "$T/s35.json" --curve-seeds 3 -o "$T/bad1.q"
[ ! -e "$T/bad1.q" ] && ok "no output (--curve-seeds with --curves)" || fail "output left"
check_err "--monotone without --budget" 2 "need --budget" rz-lowrank -t 1 -m "$M" -H "$T/h.rzs" --rank 2 --monotone -o "$T/bad2.q"
check_err "a curve seed twice" 2 "given twice" rz-lowrank $KL --curve-seeds 3,3 -o "$T/bad3.q"
# the shared list parser: empty items and too many items are refused, not skipped
check_err "an empty candidate between commas" 2 "--candidates '0,,4': an empty item" rz-lowrank $KL --candidates 0,,4 -o "$T/bad4.q"
check_err "a trailing comma in the candidates" 2 "--candidates '0,4,': an empty item" rz-lowrank $KL --candidates 0,4, -o "$T/bad5.q"
check_err "17 curve seeds" 2 "more than 16 items" rz-lowrank $KL --curve-seeds 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17 -o "$T/bad6.q"
check_err "a curve seed that is not an integer" 2 "--curve-seeds: expected an integer, got '2x'" rz-lowrank $KL --curve-seeds 1,2x -o "$T/bad7.q"
