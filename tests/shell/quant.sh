# quant.sh — calibrate → quantize → pack → ppl on stories260K: the packed model gives the
# same perplexity as the fake-quantised float32 model, bits per weight are what the
# format stores, MPI and thread counts do not change results, and bad input (Hessians of
# another model, missing layers/Hessians, a non-positive-definite H, unknown methods,
# bit widths out of range) fails with a clear message, exit 2 and no output left.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data tinystories-valid.txt
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin F=$RIZZ_DATA/tinystories-valid.txt
head -c 60000 "$F" > "$T/calib.txt"
# evaluation: 1,024 tokens from 100 KB on (disjoint from the calibration text), tokenised once
tail -c +100001 "$F" | head -c 8000 > "$T/eval.txt"
rz-tokenize -q -z "$Z" -f "$T/eval.txt" -o "$T/eval.tok"
EV="-t 1 --tokens $T/eval.tok --ctx 256 --max-tokens 1024"
if [ -n "${RZ_SANITIZED:-}" ]; then NW=2; else NW=8; fi

check "rz-calibrate writes Hessians" rz-calibrate -q -m "$M" -z "$Z" -f "$T/calib.txt" --ctx 128 -n $NW -o "$T/h.rzs"
same "20 hessian records (5 blocks x 4 groups)" 20 "$(rz-cat --count "$T/h.rzs")"
same "records carry n and tokens" '"n":172,"tokens":'$((NW * 128)) "$(rz-cat "$T/h.rzs" | grep -o '"n":172,"tokens":[0-9]*' | head -1)"

# Under ASan/UBSan the e8p defaults (10 tune passes x 7 scale targets: ~30x the work of a
# plain LDLQ pass) would take this script past its time limit; there one pass and one
# extra target keep every code path (test_quant checks the defaults' numbers).
E8P=""; [ -n "${RZ_SANITIZED:-}" ] && E8P="--tune-iters 1 --scale-search 1"

# packed model == fake-quantised float32 model, for a scalar and a vector method
for meth in "ldlq --bits 4" "e8p --bits 2 --incoherence $E8P" "rtn --bits 3 --group 32" "e8p --bits 3 $E8P" "ldlq --bits 3 --incoherence=in"; do
  tag=$(echo "${meth%%--tune*}" | tr -d ' -')  # the same file names with or without $E8P
  rz-quantize -q -t 1 -m "$M" -H "$T/h.rzs" --method $meth -o "$T/$tag.q" > /dev/null &&
  rz-quantize -q -t 1 -m "$M" -H "$T/h.rzs" --method $meth --fake -o "$T/$tag.fake.rzm" > /dev/null &&
  rz-pack -q -m "$M" "$T/$tag.q" -o "$T/$tag.rzm" > /dev/null
  pf=$(rz-ppl -q -m "$T/$tag.fake.rzm" $EV --json | json_field ppl)
  pd=$(rz-ppl -q --dense -m "$T/$tag.rzm" $EV --json | json_field ppl)
  pp=$(rz-ppl -q -m "$T/$tag.rzm" $EV --json | json_field ppl)
  [ -n "$pd" ] && same "packed ppl decoded at load = fake-quant ppl ($meth: $pd)" "$pf" "$pd" || fail "packed ppl ($meth)" "no ppl"
  # from the codes (the default): the transforms act on the activations instead of the
  # weights, which changes float rounding only: logits agree to ~1e-6 relative (test_qlinear),
  # so the perplexity to 1e-5
  awk -v a="$pf" -v b="$pp" 'BEGIN{d=(a-b)/a; if(d<0)d=-d; exit !(b > 0 && d < 1e-5)}' &&
    ok "packed ppl from the codes = fake-quant ppl to 1e-5 ($meth: $pp vs $pf)" || fail "ppl from codes ($meth)" "$pp vs $pf"
done
check "rz-generate runs a packed model from its codes" rz-generate -q -t 2 -m "$T/e8pbits2incoherence.rzm" -z "$Z" --temp 0 -n 40
# a packed model runs past its context with Dual Chunk Attention like any model
# (the text is tokenised from the calibration file: it has the 1,024 tokens needed)
# one-sided incoherence: recorded in the layer records, one 64-bit seed per layer
same "input-side incoherence recorded" 35 "$(rz-cat "$T/ldlqbits3incoherence=in.q" | grep -c '"incoherent":true,"incoherence_sides":"in"')"
check_err "unknown incoherence side" 2 "expected both or in" rz-quantize -m "$M" -H "$T/h.rzs" --method ldlq --incoherence=out -o "$T/bad_side.q"
# DCA on a packed model, by value: one window of 2048 tokens against the same tokens in
# four windows of 512. pipeline/longctx.md (float32, 131,072 tokens): DCA at 2048 is
# within 1% of ctx 512 (3.903 vs 3.927) and beats plain extrapolation (4.464). A 4-bit
# model keeps that: within 5% of its own ctx-512 perplexity and below its extrapolation.
pq() { rz-ppl -q -t 1 -m "$T/ldlqbits4.rzm" -z "$Z" -f "$T/calib.txt" --max-tokens 2048 --json "$@" | json_field ppl; }
q512=$(pq --ctx 512); qdca=$(pq --ctx 2048 --rope-ext dca); qnone=$(pq --ctx 2048 --rope-ext none)
is_num "$q512" && is_num "$qdca" && awk -v a="$q512" -v b="$qdca" 'BEGIN{d=(b-a)/a; if(d<0)d=-d; exit !(a > 1 && d < 0.05)}' \
  && ok "packed 4-bit model, dca at 2048 ($qdca) within 5% of ctx 512 ($q512)" || fail "packed dca at 2048" "$qdca vs $q512"
is_num "$qnone" && is_num "$qdca" && awk -v a="$qnone" -v b="$qdca" 'BEGIN{exit !(b > 1 && b < a)}' \
  && ok "packed 4-bit model, dca ($qdca) below extrapolation ($qnone) at 2048" || fail "packed dca below extrapolation" "$qdca vs $qnone"
base=$(rz-ppl -q -m "$M" $EV --json | json_field ppl)
p4=$(rz-ppl -q -m "$T/ldlqbits4.rzm" $EV --json | json_field ppl)
is_num "$base" && is_num "$p4" && awk -v a="$base" -v b="$p4" 'BEGIN{exit !(b > a && b < a * 1.15)}' && ok "4-bit ldlq ppl $p4 within 15% of fp32 $base" || fail "4-bit ppl" "$p4 vs $base"
# E8P (QuIP#, with incoherence as the paper uses it) at 2, 3 and 4 bits against fp32.
# Bounds from reasoning, not from our own runs:
# - order: fp32 < 4 < 3 < 2 bits < 512, the perplexity of the uniform prediction over the
#   512-token vocabulary (a model worse than that has lost all information). The 3- and
#   4-bit codes are the same 2-bit E8P code plus a residual stage of 1 bit (E8 1-bit) or
#   2 bits (E8P) per weight (QuIP#'s RVQ): more bits on the same residual, less distortion.
# - rate: a bit of residual cuts the distortion by about 3x — Lloyd-Max quantisers of a
#   Gaussian keep 0.363 (1 bit) and 0.118 (2 bits) of its variance (Max 1960, Table I) —
#   and to second order the excess log-perplexity is proportional to the distortion (the
#   quadratic model of OBS/GPTQ: ΔL ≈ ½ tr(ΔW H ΔWᵀ)). So log(ppl/ppl_fp32) must at least
#   halve from 2 to 3 and from 3 to 4 bits (2 rather than ~3: the second-order model is
#   loose at 2 bits, where the excess is large).
for b in 3 4; do
  rz-quantize -q -t 1 -m "$M" -H "$T/h.rzs" --method e8p --bits $b --incoherence $E8P -o "$T/e8p$b.q" > /dev/null &&
    rz-pack -q -m "$M" "$T/e8p$b.q" -o "$T/e8p$b.rzm" > /dev/null
done
e2=$(rz-ppl -q -m "$T/e8pbits2incoherence.rzm" $EV --json | json_field ppl)
e3=$(rz-ppl -q -m "$T/e8p3.rzm" $EV --json | json_field ppl)
e4=$(rz-ppl -q -m "$T/e8p4.rzm" $EV --json | json_field ppl)
is_num "$e2" && is_num "$e3" && is_num "$e4" && awk -v f="$base" -v a="$e4" -v b="$e3" -v c="$e2" 'BEGIN{exit !(f > 1 && f < a && a < b && b < c && c < 512)}' \
  && ok "e8p ppl: fp32 $base < 4-bit $e4 < 3-bit $e3 < 2-bit $e2 < 512 (uniform)" || fail "e8p ppl order" "$base $e4 $e3 $e2"
is_num "$e2" && is_num "$e3" && is_num "$e4" && awk -v f="$base" -v a="$e4" -v b="$e3" -v c="$e2" \
  'BEGIN{x4 = log(a/f); x3 = log(b/f); x2 = log(c/f); exit !(x4 > 0 && x3 >= 2 * x4 && x2 >= 2 * x3)}' \
  && ok "e8p: each residual bit at least halves the excess log-ppl" || fail "e8p excess log-ppl per bit" "$base $e4 $e3 $e2"

# bits per weight: 4-bit codes + one f32 scale and one u8 zero per row over 45,312 weights
# and 600 rows per block; the whole model adds 33,472 f32 weights (embeddings, norms)
rz-pack -q -m "$M" "$T/ldlqbits4.q" -o "$T/again.rzm" --json > "$T/pack.json"
same "bpw of the linears (4 + 600*40/45312)" "$(awk 'BEGIN{printf "%.6f", 4 + 600*40/45312}')" "$(awk '{printf "%.6f", $0}' <<< "$(json_field bpw_linears < "$T/pack.json")")"
same "bpw of the model" "$(awk 'BEGIN{printf "%.6f", (5*(45312*4 + 600*40) + 32*33472) / (5*45312 + 33472)}')" "$(awk '{printf "%.6f", $0}' <<< "$(json_field bpw_model < "$T/pack.json")")"
bytes=$(json_field bytes < "$T/pack.json"); fsize=$(stat -c %s "$T/again.rzm")
awk -v b="$bytes" -v f="$fsize" 'BEGIN{exit !(f > b && f < b + 64)}' && ok "stream bytes $bytes = file size $fsize minus the end record" || fail "stream bytes" "$bytes vs $fsize"
# e8p pads 172 to 176 columns: w2's codes count 176/172 of 2 bits
same "e8p 2-bit pads w2 (64x172 -> 176): 2*176/172 + 32/(64*172)" "$(awk 'BEGIN{printf "%.3f", 2*176/172 + 32/(64*172)}')" \
  "$(rz-quantize -m "$M" -H "$T/h.rzs" --method e8p $E8P -o "$T/x.q" | grep 'layers.0.feed_forward.w2' | awk '{print $NF}')"

# thread count and MPI: identical layer records
rz-quantize -q -t 1 -m "$M" -H "$T/h.rzs" --method ldlq --bits 3 --incoherence -o "$T/t1.q" > /dev/null
rz-quantize -q -t 2 -m "$M" -H "$T/h.rzs" --method ldlq --bits 3 --incoherence -o "$T/t2.q" > /dev/null
check "same layers with 1 and 2 threads" cmp "$T/t1.q" "$T/t2.q"
# 1, 2 and 3 ranks (layers handed out dynamically, gathered in layer order): the same
# bytes; Hessians summed over ranks in rank order: the same H to rounding. Run in the
# sanitizer build too (the MPI paths' memory errors are caught there).
for np in 2 3; do
  mpi $np rz-quantize -q -m "$M" -H "$T/h.rzs" --method ldlq --bits 3 --incoherence -o "$T/mpi$np.q" > /dev/null 2>>"$T/mpi.err"
  check "mpirun -np $np rz-quantize writes the same bytes" cmp "$T/t1.q" "$T/mpi$np.q"
done
l1=$(rz-quantize -q -m "$M" -H "$T/h.rzs" --method rtn --json -o "$T/a.q" | json_field loss)
for np in 2 3; do
  mpi $np rz-calibrate -q -m "$M" -z "$Z" -f "$T/calib.txt" --ctx 128 -n $NW -o "$T/hm$np.rzs" 2>>"$T/mpi.err"
  l2=$(rz-quantize -q -m "$M" -H "$T/hm$np.rzs" --method rtn --json -o "$T/b.q" | json_field loss)
  is_num "$l1" && is_num "$l2" && awk -v a="$l1" -v b="$l2" 'BEGIN{d=(a-b)/a; if(d<0)d=-d; exit !(a > 0 && d < 1e-12)}' \
    && ok "mpirun -np $np rz-calibrate: same H to rounding (loss $l1 vs $l2)" || fail "mpi calibrate -np $np" "$l1 vs $l2: $(tail -c 300 "$T/mpi.err")"
done

# codebook figures: E8P beats the 2-bit scalar grid (QuIP#: 0.0935 vs 0.1175 Lloyd-Max)
mse=$(rz-quantize --codebook-mse e8p --samples 16384 --json | json_field mse)
awk -v x="$mse" 'BEGIN{exit !(x > 0.085 && x < 0.095)}' && ok "e8p codebook mse $mse" || fail "e8p mse" "$mse"

# ---- bad input: exit 2, a message naming the problem, nothing written ----
rz-convert -q --random --dim 64 --layers 5 --heads 8 --kv-heads 4 --hidden 172 --vocab 512 --seq-len 512 -o "$T/other.rzm"
check_err "Hessians of another model" 2 "computed for another model" rz-quantize -m "$T/other.rzm" -H "$T/h.rzs" --method rtn -o "$T/bad1.q"
rz-cat --full "$T/h.rzs" | grep -v '"layer":3,"group":"mlp_down"' | rz-cat --from-json -o "$T/h19.rzs"
check_err "a missing Hessian" 2 "layer 3 group mlp_down is missing" rz-quantize -m "$M" -H "$T/h19.rzs" --method ldlq -o "$T/bad2.q"
rz-cat --full "$T/ldlqbits4.q" | grep -v 'layers.2.attention.wo' | rz-cat --from-json -o "$T/l34.q"
check_err "a missing layer" 2 "layers.2.attention.wo.weight' is missing" rz-pack -m "$M" "$T/l34.q" -o "$T/bad3.rzm"
check_err "layers of another model" 2 "quantised from another model" rz-pack -m "$T/other.rzm" "$T/ldlqbits4.q" -o "$T/bad4.rzm"
check_err "a layer twice" 2 "appears twice" rz-pack -m "$M" "$T/ldlqbits4.q" "$T/l34.q" -o "$T/bad5.rzm"
# H = -I for layer 0's attention input: not positive definite, damping cannot fix it
B=$(for i in $(seq 0 63); do
      awk -v i=$i 'BEGIN{for(j=0;j<64;j++) printf (i==j ? "\\x00\\x00\\x00\\x00\\x00\\x00\\xf0\\xbf" : "\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00")}' | xargs -0 printf '%b'
    done | base64 -w0)
rz-cat --full "$T/h.rzs" | sed "1s|\"H\":{\"\$bin\":\"[^\"]*\"}|\"H\":{\"\$bin\":\"$B\"}|" | rz-cat --from-json -o "$T/hneg.rzs"
check_err "a non-positive-definite H (ldlq)" 2 "layers.0.attention.wq.weight: the Hessian is not positive definite even after damping" \
  rz-quantize -m "$M" -H "$T/hneg.rzs" --method ldlq -o "$T/bad6.q"
check_err "a non-positive-definite H (e8p)" 2 "not positive definite" rz-quantize -m "$M" -H "$T/hneg.rzs" --method e8p -o "$T/bad7.q"
check_err "unknown method" 2 "unknown method 'gptq4'" rz-quantize -m "$M" -H "$T/h.rzs" --method gptq4 -o "$T/bad8.q"
check_err "e8p at 8 bits" 2 "--bits 8 is out of range for e8p" rz-quantize -m "$M" -H "$T/h.rzs" --method e8p --bits 8 -o "$T/bad9.q"
check_err "rtn at 5 bits" 2 "--bits 5 is out of range for rtn" rz-quantize -m "$M" -H "$T/h.rzs" --method rtn --bits 5 -o "$T/bad10.q"
check_err "bits 9" 2 "bits" rz-quantize -m "$M" -H "$T/h.rzs" --method rtn --bits 9 -o "$T/bad11.q"
check_err "unknown codebook" 2 "codebook|e8p" rz-quantize --codebook-mse e9p
check_err "a model stream as Hessians" 2 "expected \"hessian\" records" rz-quantize -m "$M" -H "$T/other.rzm" --method rtn -o "$T/bad12.q"
left=$(ls "$T" | grep -c '^bad' || true)
same "no output left by the failures" 0 "$left"
