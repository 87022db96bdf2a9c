# gguf.sh — GGUF models from llama.cpp: the same numbers as the llama2.c checkpoint they
# were converted from, the tokenizer from the metadata, llama.cpp's perplexity protocol,
# and damaged files refused with exit 2 naming the file and the field.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data tinystories-valid.txt
need_data stories260K-f32.gguf; need_data stories260K-f16.gguf
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin F=$RIZZ_DATA/tinystories-valid.txt
G32=$RIZZ_DATA/stories260K-f32.gguf G16=$RIZZ_DATA/stories260K-f16.gguf
H=$(dirname "$0")
N=4096

# f32: the converter copied the weights, so every number is identical. The GGUF says
# context 128 (llama.cpp's converter default), so windows of 128 by default; at 512
# the plain RoPE (--rope-ext none) is the .bin's own.
bin=$(rz-ppl -q -m "$M" -z "$Z" -f "$F" --max-tokens $N --ctx 128 --json | json_field nll_mean)
same "f32 GGUF nll = .bin nll at ctx 128 ($bin)" "$bin" "$(rz-ppl -q -m "$G32" -f "$F" --max-tokens $N --json | json_field nll_mean)"
bin512=$(rz-ppl -q -m "$M" -z "$Z" -f "$F" --max-tokens $N --json | json_field nll_mean)
same "f32 GGUF nll = .bin nll at ctx 512 ($bin512)" "$bin512" \
  "$(rz-ppl -q -m "$G32" -f "$F" --max-tokens $N --ctx 512 --rope-ext none --json | json_field nll_mean)"
same "f32 GGUF with -z tok512.bin: the same" "$bin" "$(rz-ppl -q -m "$G32" -z "$Z" -f "$F" --max-tokens $N --json | json_field nll_mean)"

# f16: every matrix is the nearest f16 of the f32 weight (test_gguf checks each value),
# a relative change of at most 2^-11 = 0.05% per weight. Its effect on the mean NLL is
# not bounded in closed form; measured it is ~1e-4 relative (llama.cpp: "within 0.01%"
# in ppl), so 0.1% is a loose bound that a wrong dequantisation (bf16 read as f16, a
# scale off) breaks by orders of magnitude.
p16=$(rz-ppl -q -m "$G16" -f "$F" --max-tokens $N --json | json_field nll_mean)
awk -v a="$bin" -v b="$p16" 'BEGIN{d=(a-b)/a; if(d<0)d=-d; exit !(d < 1e-3)}' \
  && ok "f16 GGUF nll $p16 within 0.1% of f32's $bin" || fail "f16 GGUF nll" "$p16 vs $bin"

# the tokenizer from the metadata: the same ids as tok512.bin on the whole text
rz-tokenize -q -z "$G32" -f "$F" -o "$T/g.rzs"
rz-tokenize -q -z "$Z" -f "$F" -o "$T/b.rzs"
check "GGUF tokenizer ids = tok512.bin ids on the whole validation text" cmp "$T/g.rzs" "$T/b.rzs"
# greedy decoding without -z: the first 127 tokens of llama2.c's run output (the GGUF's
# context of 128 ends generation there)
rz-generate -q -m "$G32" --temp 0 -n 256 > "$T/gen.txt"
rz-generate -q -m "$M" -z "$Z" --temp 0 -n 128 > "$T/gen_bin.txt"
check "greedy text from the GGUF = from the .bin (128 positions)" cmp "$T/gen.txt" "$T/gen_bin.txt"

# llama.cpp's protocol against plain windows on a decimated stream: llama.cpp overwrites
# each chunk's first token with BOS; prepending BOS (--bos) to the chunk's other C-1
# tokens gives the same sequences, and --skip C/2+1 the same scored positions.
C=128
rz-tokenize -q -z "$Z" -f "$F" --bos -o - | rz-cat --full | python3 "$H/tokens_decimate.py" $C $N \
  | rz-cat --from-json -o "$T/dec.rzs"
lc=$(rz-ppl -q -m "$G32" -f "$F" --protocol llamacpp --ctx $C --max-tokens $N --json | json_field nll_mean)
pl=$(rz-ppl -q -m "$G32" --tokens "$T/dec.rzs" --ctx $C --bos --skip $((C / 2 + 1)) --json | json_field nll_mean)
same "--protocol llamacpp = plain --bos --skip $((C / 2 + 1)) on the decimated stream" "$lc" "$pl"
rz-ppl -q -m "$G32" -f "$F" --protocol llamacpp --ctx $C --max-tokens 1024 --json > "$T/lc.json"
same "--protocol llamacpp scores ctx - ctx/2 - 1 tokens per window" "$((8 * 63))" "$(json_field tokens_scored < "$T/lc.json")"

# llama.cpp's own figures (llama-perplexity -c 512 / -c 256 on this file: 4.9954, 4.8783);
# whole-file runs, left out of the sanitizer build
if [ -z "${RZ_SANITIZED:-}" ]; then
  for c in 512:4.9954 256:4.8783; do
    p=$(rz-ppl -q -m "$G32" -f "$F" --protocol llamacpp --ctx ${c%%:*} --json | json_field ppl)
    awk -v a="$p" -v b="${c##*:}" 'BEGIN{d=(a-b)/b; if(d<0)d=-d; exit !(d < 1e-3)}' \
      && ok "llama.cpp protocol ctx ${c%%:*}: ppl $p within 0.1% of llama.cpp's ${c##*:}" \
      || fail "llama.cpp protocol ctx ${c%%:*}" "$p vs ${c##*:}"
  done
fi

# damaged files: exit 2, the file and the field named
for k in tensor_count:"tensor_count 1099511627776" offset_past_end:"blk.4.ffn_norm.weight.*past the end" \
         overlap:"overlap" dtype_unknown:"token_embd.weight.*unknown \(99\)" dtype_q4k:"token_embd.weight.*q4_K" \
         arch:"general.architecture 'qwen2' is not supported" dims_overflow:"token_embd.weight.*dimension 0" \
         string_len:"key 0: length" dup_tensor:"appears twice" blocks:"describe [0-9]+ weights, the data section holds"; do
  python3 "$H/gguf_mutate.py" "$G32" "$T/bad_${k%%:*}.gguf" "${k%%:*}"
  check_err "damaged GGUF: ${k%%:*}" 2 "bad_${k%%:*}.gguf: .*${k#*:}" rz-ppl -m "$T/bad_${k%%:*}.gguf" -z "$Z" -f "$F"
done
for n in 24 1000 14000 600000; do
  head -c $n "$G32" > "$T/trunc$n.gguf"
  check_err "GGUF truncated to $n bytes" 2 "trunc$n.gguf: .*(truncated|past the end|cannot fit)" rz-ppl -m "$T/trunc$n.gguf" -z "$Z" -f "$F"
done
python3 "$H/gguf_mutate.py" "$G32" "$T/gpt2.gguf" tok_gpt2
check_err "gpt2 tokenizer refused, -z asked for" 2 "gpt2.gguf: tokenizer.ggml.model 'gpt2'.*-z" rz-ppl -m "$T/gpt2.gguf" -f "$F"
check_err "a .bin model without -z" 2 "needs -z" rz-ppl -m "$M" -f "$F"

# the writer: rz-convert .bin -> GGUF gives llama.cpp's own files back: every key, value,
# tensor name, shape, type, data byte and the alignment, except llama.context_length
# (llama.cpp's llama2.c converter writes 128; rizz the model's 512)
rz-convert -q "$M" -z "$Z" -o "$T/w32.gguf"
rz-convert -q "$M" -z "$Z" --dtype f16 -o "$T/w16.gguf"
check "rz-convert f32 GGUF = llama.cpp's file but for context_length" python3 "$H/gguf_compare.py" "$T/w32.gguf" "$G32" llama.context_length
check "rz-convert f16 GGUF = llama-quantize's F16 file but for context_length" python3 "$H/gguf_compare.py" "$T/w16.gguf" "$G16" llama.context_length
same "round trip .bin -> GGUF -> rz-ppl: identical nll" "$bin512" "$(rz-ppl -q -m "$T/w32.gguf" -f "$F" --max-tokens $N --json | json_field nll_mean)"
rz-convert -q "$T/w32.gguf" -o "$T/w32.rzm"
same "GGUF -> .rzm (tokenizer-free) with -z: identical nll" "$bin512" "$(rz-ppl -q -m "$T/w32.rzm" -z "$Z" -f "$F" --max-tokens $N --json | json_field nll_mean)"
# q8_0: 8-bit weights (per-block bound checked in test_gguf); w2's rows of 172 stay f16
rz-convert -q "$M" -z "$Z" --dtype q8_0 -o "$T/w8.gguf"
p8=$(rz-ppl -q -m "$T/w8.gguf" -f "$F" --max-tokens $N --json | json_field nll_mean)
awk -v a="$bin512" -v b="$p8" 'BEGIN{d=(a-b)/a; if(d<0)d=-d; exit !(d < 5e-3 && d > 0)}' \
  && ok "q8_0 GGUF nll $p8 within 0.5% of f32's $bin512 (and not equal)" || fail "q8_0 GGUF nll" "$p8 vs $bin512"
check_err "GGUF output needs a tokenizer" 2 "stories260K.bin: .*-z" rz-convert "$M" -o "$T/notok.gguf"
check_err "q8_0 is for GGUF only" 2 "q8_0 is for GGUF" rz-convert "$M" --dtype q8_0 -o "$T/x.rzm"
