# decode.sh — token-by-token decoding from the codes on stories260K: packed models with
# quantised token embeddings / classifier (rz-pack --embed-bits) store exactly the bits
# they should, run from their codes (fused kernels, tools/core/quant/qdot.h) with the same
# perplexity and the same greedy text as the same file decoded to float32 at load
# (--dense), for any thread count (also with --int8 inputs; e8p 2-, 3- and 4-bit and ldlq 4- and 8-bit linears); tables quantised in a form the engine cannot read row
# by row (incoherent, or e8p), and bad --embed-* options, exit 2. A model quantised with
# --share-input-rht (wq, wk, wv and w1, w3 with one input transform each, computed once
# per token) stores one seed_v per input and decodes the same way.
# tests/run timeout: 600 (the ASan build takes ~205 s; the default 300 is too near)
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data tinystories-valid.txt
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin F=$RIZZ_DATA/tinystories-valid.txt
head -c 60000 "$F" > "$T/calib.txt"
tail -c +100001 "$F" | head -c 8000 > "$T/eval.txt"
rz-tokenize -q -z "$Z" -f "$T/eval.txt" -o "$T/eval.tok"
EV="-t 1 --tokens $T/eval.tok --ctx 256 --max-tokens 1024"

check "rz-calibrate" rz-calibrate -q -t 1 -m "$M" -z "$Z" -f "$T/calib.txt" --ctx 128 -n 2 -o "$T/h.rzs"
check "rz-quantize e8p 2-bit + RHT" rz-quantize -q -t 1 -m "$M" -H "$T/h.rzs" --method e8p --bits 2 --incoherence -o "$T/e2.q"
check "rz-quantize e8p 2-bit + RHT, shared input transforms" rz-quantize -q -t 1 -m "$M" -H "$T/h.rzs" --method e8p --bits 2 --incoherence --share-input-rht -o "$T/e2s.q"
check "rz-quantize e8p 3-bit (RVQ) + RHT" rz-quantize -q -t 1 -m "$M" -H "$T/h.rzs" --method e8p --bits 3 --incoherence -o "$T/e3.q"
check "rz-quantize e8p 4-bit (RVQ) + RHT" rz-quantize -q -t 1 -m "$M" -H "$T/h.rzs" --method e8p --bits 4 --incoherence -o "$T/e4.q"
check "rz-quantize ldlq 4-bit" rz-quantize -q -t 1 -m "$M" -H "$T/h.rzs" --method ldlq --bits 4 -o "$T/l4.q"
check "rz-quantize ldlq 8-bit" rz-quantize -q -t 1 -m "$M" -H "$T/h.rzs" --method ldlq --bits 8 -o "$T/l8.q"
rz-pack -q -m "$M" "$T/e2.q" --embed-bits 4 -o "$T/e2.emb4.rzm" --json > "$T/p4.json"
rz-pack -q -m "$M" "$T/e2s.q" --embed-bits 4 -o "$T/e2s.emb4.rzm"
rz-pack -q -m "$M" "$T/e3.q" --embed-bits 4 -o "$T/e3.emb4.rzm"
rz-pack -q -m "$M" "$T/e4.q" --embed-bits 4 -o "$T/e4.emb4.rzm"
rz-pack -q -m "$M" "$T/l4.q" --embed-bits 8 -o "$T/l4.emb8.rzm" --json > "$T/p8.json"
rz-pack -q -m "$M" "$T/l4.q" --embed-bits 4 --embed-group 16 -o "$T/l4.emb4g16.rzm" --json > "$T/p4g16.json"
rz-pack -q -m "$M" "$T/l8.q" --embed-bits 8 -o "$T/l8.emb8.rzm"

# bits: the shared 512 x 64 table, per row at 8 bits (8 + 40/64: one f32 scale and one u8
# zero point per 64-wide row), per group of 32 (16) at 4 bits (4 + 40/32, 4 + 40/16)
same "8-bit table: 8 + 40/64 bpw" 8.625 "$(json_field bpw_tables < "$T/p8.json")"
same "4-bit table, groups of 32: 4 + 40/32 bpw" 5.25 "$(json_field bpw_tables < "$T/p4.json")"
same "4-bit table, groups of 16: 4 + 40/16 bpw" 6.5 "$(json_field bpw_tables < "$T/p4g16.json")"
same "table weights 512 x 64" 32768 "$(json_field table_weights < "$T/p8.json")"
# the whole model: linears at their bits + the table + 704 float32 norm weights
bl=$(json_field bpw_linears < "$T/p8.json")
same "bpw of the whole model with an 8-bit table" \
  "$(awk -v b="$bl" 'BEGIN{printf "%.6f", (b*226560 + 8.625*32768 + 32*704) / (226560 + 32768 + 704)}')" \
  "$(awk '{printf "%.6f", $0}' <<< "$(json_field bpw_model < "$T/p8.json")")"
same "table stored as one qlayer record (rtn, 8 bits)" 1 \
  "$(rz-cat "$T/l4.emb8.rzm" | grep -c '"name":"tok_embeddings.weight","rows":512,"cols":64,"pcols":64,"method":"rtn","bits":8')"

# --share-input-rht: per layer, wq wk wv carry one seed_v and w1 w3 another (5 layers: 10
# distinct input seeds for those 25 records); without the flag all 35 differ
sv() { rz-cat "$1" | jq -r 'select(.name != null and (.name | test("wq|wk|wv|w1|w3"))) | .seed_v' | sort -u | wc -l; }
same "--share-input-rht: one seed_v per input (wq|wk|wv, w1|w3)" 10 "$(sv "$T/e2s.q")"
same "without it: one seed_v per layer" 25 "$(sv "$T/e2.q")"
check_err "--share-input-rht without --incoherence" 2 "needs --incoherence" rz-quantize -q -m "$M" -H "$T/h.rzs" --method e8p --share-input-rht -o "$T/x.q"

# from the codes (fused kernels, quantised embedding rows and classifier) = decoded at load
for f in e2.emb4 e2s.emb4 e3.emb4 e4.emb4 l4.emb8 l4.emb4g16 l8.emb8; do
  pd=$(rz-ppl -q --dense -m "$T/$f.rzm" $EV --json | json_field ppl)
  pc=$(rz-ppl -q -m "$T/$f.rzm" $EV --json | json_field ppl)
  # float rounding only (transforms on the activations, sums in another order): 1e-5
  awk -v a="$pd" -v b="$pc" 'BEGIN{d=(a-b)/a; if(d<0)d=-d; exit !(b > 0 && d < 1e-5)}' &&
    ok "$f: ppl from the codes = --dense to 1e-5 ($pc vs $pd)" || fail "$f ppl" "$pc vs $pd"
  g1=$(rz-generate -q -t 1 -m "$T/$f.rzm" -z "$Z" --temp 0 -n 200)
  g2=$(rz-generate -q -t 2 -m "$T/$f.rzm" -z "$Z" --temp 0 -n 200)
  gd=$(rz-generate -q -t 2 --dense -m "$T/$f.rzm" -z "$Z" --temp 0 -n 200)
  [ -n "$g1" ] && [ "$g1" = "$gd" ] && ok "$f: greedy text from the codes = --dense" || fail "$f greedy" "$g1 /// $gd"
  same "$f: greedy text, 1 thread = 2 threads" "$g1" "$g2"
  # int8 inputs (--int8: e8p 2/3/4-bit and 2/4/8-bit grid layers): the same bits for any thread
  # count (each kernel call quantises the whole input row); what they cost in quality is
  # bench/act8.sh's, not a test's, business
  i1=$(rz-generate -q -t 1 --int8 -m "$T/$f.rzm" -z "$Z" --temp 0 -n 200)
  i2=$(rz-generate -q -t 2 --int8 -m "$T/$f.rzm" -z "$Z" --temp 0 -n 200)
  [ -n "$i1" ] && [ "$i1" = "$i2" ] && ok "$f: --int8 greedy text, 1 thread = 2 threads" || fail "$f --int8" "$i1 /// $i2"
done

# the report names the kernels that ran (rz-generate's `kernels`), against the CPU's flags
# as the kernel reads them (/proc/cpuinfo, not cpuid) and RZ_QDOT_ISA's cap
kj() { rz-generate -q "$@" -m "$T/l4.emb8.rzm" -z "$Z" --temp 0 -n 8 --json -o "$T/k.tok" | jq -r .kernels; rm -f "$T/k.tok"; }
same "kernels, --dense: none" "none" "$(kj --dense)"
same "kernels, a float32 model: none" "none" "$(rz-generate -q -m "$M" -z "$Z" --temp 0 -n 8 --json -o "$T/k.tok" | jq -r .kernels)"
rm -f "$T/k.tok"
same "kernels, RZ_QDOT_ISA=ref --int8: the portable ones" "ref-i8, grids ref-i8, e8p nibbles ref-i8" "$(RZ_QDOT_ISA=ref kj --int8)"
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  same "kernels, from the codes: avx2" "avx2" "$(kj)"
  same "kernels, RZ_QDOT_ISA=avx2 --int8: avx2-i8 for every format" "avx2-i8, grids avx2-i8, e8p nibbles avx2-i8" "$(RZ_QDOT_ISA=avx2 kj --int8)"
  want="avx2-i8, grids avx2-i8, e8p nibbles avx2-i8"
  if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo &&
     grep -qw avx512_vnni /proc/cpuinfo; then
    g="avx512-vnni"; grep -qw avx512vbmi /proc/cpuinfo || g="$g (8-bit: avx2-i8)"
    want="avx2-i8, grids $g, e8p nibbles avx512-vnni (2-bit: avx2-i8)"
  fi
  same "kernels, --int8 on this CPU: $want" "$want" "$(kj --int8)"
fi

# an embedding read one row per token cannot carry incoherence (nor be e8p): exit 2 in
# both load modes, naming the record and field
rz-cat --full "$T/l4.emb8.rzm" | jq -c 'if .name == "tok_embeddings.weight" then .incoherent = true | .seed_u = 3 | .seed_v = 4 else . end' |
  rz-cat --from-json -o "$T/bad.rzm"
check_err "incoherent embedding table, from the codes" 2 "tok_embeddings.weight.*read one row per token" rz-ppl -q -m "$T/bad.rzm" $EV
check_err "incoherent embedding table, --dense" 2 "field 'incoherent'" rz-ppl -q --dense -m "$T/bad.rzm" $EV
# the same table as a well-formed e8p record (4-bit RVQ codes are 4 bytes per 8 weights,
# as many bytes as the 4-bit grid's; one scale, no zero points): e8p is allowed in a
# qlayer record but not for a table read one row per token: exit 2, every load mode
one=$(printf '\315\314\114\075' | base64)  # the float32 0.05, little-endian
rz-cat --full "$T/l4.emb4g16.rzm" |
  jq -c --arg s "$one" 'if .name == "tok_embeddings.weight" then .method = "e8p" | .bits = 4 | .group = 0 | .scales = {"$bin": $s} | .zeros = {"$bin": ""} else . end' |
  rz-cat --from-json -o "$T/bad_e8p.rzm"
check_err "e8p embedding table, from the codes" 2 "field 'method'.*tok_embeddings.weight.*got e8p" rz-ppl -q -m "$T/bad_e8p.rzm" $EV
check_err "e8p embedding table, --dense" 2 "tok_embeddings.weight.*got e8p" rz-ppl -q --dense -m "$T/bad_e8p.rzm" $EV
check_err "e8p embedding table, rz-generate" 2 "tok_embeddings.weight.*got e8p" rz-generate -q -m "$T/bad_e8p.rzm" -z "$Z" --temp 0 -n 5
check_err "--embed-bits 5" 2 "expected 8, 4 or 32" rz-pack -m "$M" "$T/l4.q" --embed-bits 5 -o "$T/x.rzm"
check_err "--embed-group without --embed-bits" 2 "needs --embed-bits" rz-pack -m "$M" "$T/l4.q" --embed-group 16 -o "$T/x.rzm"
[ ! -e "$T/x.rzm" ] && ok "nothing written on bad options" || fail "x.rzm exists"
