# hostile.sh — defects found by hostile probes (issue: fresh machine and hostile input):
# record versions, JSON strictness in rz-cat --from-json, resume checks in rz-finetune,
# and messages that must say what is really wrong.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin
printf 'Once upon a time there was a cat. The cat sat on the mat and was happy.\n' > "$T/text.txt"
rz-convert "$M" -o "$T/m.rzm"
rz-cat --full "$T/m.rzm" > "$T/m.jsonl"

# ---- record versions: an unknown "v" is rejected naming the record and field
sed '1s/"v":1,/"v":2,/' "$T/m.jsonl" | rz-cat --from-json -o "$T/v2.rzm"
check_err "model record v2 → exit 2 naming record and 'v'" 2 "v2.rzm: record 0 \(model\): field 'v'.*version 2" \
  rz-ppl -m "$T/v2.rzm" -z "$Z" -f "$T/text.txt" --ctx 8
check_err "rz-cat of a model record v2 → exit 2" 2 "record 0 \(model\): field 'v'" rz-cat "$T/v2.rzm"
sed '2s/"v":1,/"v":7,/' "$T/m.jsonl" | rz-cat --from-json -o "$T/t7.rzm"
check_err "tensor record v7 → exit 2" 2 "record 1 \(tensor\): field 'v'" rz-cat "$T/t7.rzm"
check "a known version still reads" rz-cat "$T/m.rzm"
