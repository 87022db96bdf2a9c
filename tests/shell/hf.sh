# hf.sh — Hugging Face Llama folders: a folder built from stories260K.bin the way HF's
# conversion script lays a Meta checkpoint out (q/k rows permuted for rotate-half RoPE,
# tests/shell/hf_build.py) must give the .bin's numbers exactly; its tokenizer.json the
# same ids as tok512.bin; damaged safetensors and configs exit 2 naming file and field.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data tinystories-valid.txt
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin F=$RIZZ_DATA/tinystories-valid.txt
H=$(dirname "$0")
N=4096
python3 "$H/hf_build.py" "$M" "$Z" "$T/hf"
python3 "$H/hf_build.py" "$M" "$Z" "$T/hf2" --shards 2

# identical weights after un-permuting q and k -> identical logits -> the same nll to
# the last bit (printed with 17 digits); without the un-permutation the model is wrong
bin=$(rz-ppl -q -m "$M" -z "$Z" -f "$F" --max-tokens $N --json | json_field nll_mean)
same "HF folder nll = .bin nll ($bin)" "$bin" "$(rz-ppl -q -m "$T/hf" -z "$Z" -f "$F" --max-tokens $N --json | json_field nll_mean)"
same "HF folder with its tokenizer.json (no -z): the same" "$bin" "$(rz-ppl -q -m "$T/hf" -f "$F" --max-tokens $N --json | json_field nll_mean)"
same "HF folder in 2 shards + index: the same" "$bin" "$(rz-ppl -q -m "$T/hf2" -f "$F" --max-tokens $N --json | json_field nll_mean)"
rz-generate -q -m "$T/hf" --temp 0 -n 256 > "$T/gen.txt"
check "greedy text from the HF folder = llama2.c's run output" cmp "$T/gen.txt" "$RIZZ_DATA/stories260K.greedy256.txt"
rz-tokenize -q -z "$T/hf/tokenizer.json" -f "$F" -o "$T/a.rzs"
rz-tokenize -q -z "$Z" -f "$F" -o "$T/b.rzs"
check "tokenizer.json ids = tok512.bin ids on the whole validation text" cmp "$T/a.rzs" "$T/b.rzs"

# bad folders
cp -r "$T/hf2" "$T/noshard"; rm "$T/noshard/model-00002-of-00002.safetensors"
check_err "missing shard" 2 "model-00002-of-00002.safetensors: missing shard" rz-ppl -m "$T/noshard" -f "$F"
cp -r "$T/hf" "$T/badcfg"; sed -i 's/"intermediate_size": 172/"intermediate_size": 160/' "$T/badcfg/config.json"
check_err "config disagreeing with the tensor shapes" 2 "model.safetensors: tensor 'model.layers.0.mlp.gate_proj.weight' has shape \[172, 64\], config.json says \[160, 64\]" rz-ppl -m "$T/badcfg" -f "$F"
cp -r "$T/hf" "$T/huge"; sed -i 's/"num_hidden_layers": 5/"num_hidden_layers": 60000/' "$T/huge/config.json"
check_err "config.json claiming more weights than the files hold (no allocation)" 2 "describes [0-9]+ weights, the safetensors hold" rz-ppl -m "$T/huge" -f "$F"
cp -r "$T/hf" "$T/mistral"; sed -i 's/LlamaForCausalLM/MistralForCausalLM/; s/"model_type": "llama"/"model_type": "mistral"/' "$T/mistral/config.json"
check_err "unsupported architecture named" 2 "config.json: architectures/model_type 'MistralForCausalLM' is not supported" rz-ppl -m "$T/mistral" -f "$F"
for k in header_len:"header length" overlap:"overlaps the previous tensor" dtype:"dtype 'I8' is not supported" \
         shape:"do not hold" past_end:"past the end" json:"header"; do
  cp -r "$T/hf" "$T/st_${k%%:*}"
  python3 "$H/st_mutate.py" "$T/hf/model.safetensors" "$T/st_${k%%:*}/model.safetensors" "${k%%:*}"
  check_err "damaged safetensors: ${k%%:*}" 2 "st_${k%%:*}/model.safetensors: .*${k#*:}" rz-ppl -m "$T/st_${k%%:*}" -f "$F"
done
head -c 5000 "$T/hf/model.safetensors" > "$T/st_json/model.safetensors"
check_err "truncated safetensors" 2 "st_json/model.safetensors: .*(past the end|header)" rz-ppl -m "$T/st_json" -f "$F"

# GQA (1 kv head of 2) and a separate lm_head: HF folder -> .bin gives back the same bytes
rz-convert -q --random --dim 16 --layers 2 --heads 2 --kv-heads 1 --hidden 24 --vocab 40 --seq-len 8 --unshared -o "$T/r.bin"
python3 "$H/hf_build.py" "$T/r.bin" "$Z" "$T/hfr"
rz-convert -q "$T/hfr" -o "$T/r2.bin"
check "GQA + lm_head: HF folder -> .bin = the original .bin, byte for byte" cmp "$T/r.bin" "$T/r2.bin"
