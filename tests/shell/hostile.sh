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

# ---- rz-finetune --resume: a checkpoint past the end, or nothing left to train → exit 2
FTA="-q -z $Z -f $RIZZ_DATA/tinystories-valid.txt --max-tokens 4096 --rank 2 --batch 2 --ctx 32 --seed 1"
FT="rz-finetune -m $M $FTA"
$FT --steps 4 --until 2 --checkpoint "$T/ck" 2>/dev/null
rz-cat --full "$T/ck" | sed '1s/"step":2,/"step":1002,/' | rz-cat --from-json -o "$T/forged"
check_err "resume from step 1002 of 4 → exit 2" 2 "forged.*step 1002" $FT --steps 4 --resume "$T/forged" -o "$T/bad.rzm"
check_err "--steps 1 on a step-2 checkpoint → exit 2, nothing left to train" 2 "ck.*step 2.*nothing is left to train" \
  $FT --steps 1 --resume "$T/ck" -o "$T/bad.rzm"
check_err "--steps 2 on a step-2 checkpoint → exit 2" 2 "nothing is left to train" $FT --steps 2 --resume "$T/ck" -o "$T/bad.rzm"
[ ! -e "$T/bad.rzm" ] && ok "no output written by the rejected resumes" || fail "no output written by the rejected resumes"
check "--steps 4 resumes the step-2 checkpoint" $FT --steps 4 --resume "$T/ck" -o "$T/good.rzm"
# ---- rz-finetune on an .rzm model without L, R pairs (the sanitizer build runs this too:
# a leak there made the ASan build exit 1 on a successful run)
check "rz-finetune on an .rzm model (no L, R pairs)" rz-finetune -m "$T/m.rzm" $FTA --steps 1 --adapters "$T/ad_rzm"

# ---- rz-cat --from-json: numbers beyond 64 bits and lone surrogates are rejected
j() { printf '%s\n' "$1" > "$T/in.jsonl"; }
j '{"type":"tokens","v":1,"n":123456789012345678901234567890}'
check_err "30-digit integer → exit 2 naming line and field" 2 "line 1: JSON: field 'n': integer out of the 64-bit range" \
  rz-cat --from-json "$T/in.jsonl" -o "$T/j.rzs"
j '{"type":"tokens","v":1,"n":-99999999999999999999}'
check_err "20-digit negative integer → exit 2" 2 "field 'n': integer out of" rz-cat --from-json "$T/in.jsonl" -o "$T/j.rzs"
j '{"type":"tokens","v":1,"n":18446744073709551615,"m":-9223372036854775808}'
check "the 64-bit limits themselves are accepted" rz-cat --from-json "$T/in.jsonl" -o "$T/j.rzs"
same "... and read back exactly" "$(rz-cat "$T/j.rzs" | grep -o '"n":[0-9]*,"m":-[0-9]*')" '"n":18446744073709551615,"m":-9223372036854775808'
j '{"type":"tokens","v":1,"s":"\ud800"}'
check_err "lone high surrogate → exit 2" 2 "line 1: JSON: field 's': lone UTF-16 surrogate" rz-cat --from-json "$T/in.jsonl" -o "$T/j.rzs"
j '{"type":"tokens","v":1,"s":"a\udc00b"}'
check_err "lone low surrogate → exit 2" 2 "lone UTF-16 surrogate" rz-cat --from-json "$T/in.jsonl" -o "$T/j.rzs"
j '{"type":"tokens","v":1,"s":"\ud83d\ude00"}'
rz-cat --from-json "$T/in.jsonl" -o "$T/j.rzs"
same "a surrogate pair is one 4-byte UTF-8 character" "$(printf %s "$(rz-cat "$T/j.rzs" | grep -o '"s":"[^"]*"')" | od -An -tx1 | tr -d ' \n')" \
  "$(printf '"s":"\xf0\x9f\x98\x80"' | od -An -tx1 | tr -d ' \n')"
j '{"type":"tokens","v":1,"s":"ok"}
{"type":"tokens","v":1,"s":"\udfff"}'
rz-cat --from-json "$T/in.jsonl" -o "$T/rej.rzs" 2>/dev/null
[ ! -e "$T/rej.rzs" ] && ok "no stream left by a rejected JSON input" || fail "no stream left by a rejected JSON input"

# ---- messages that say what is really wrong (exit codes were right)
cat "$T/m.rzm" "$T/m.rzm" > "$T/twice.rzm"
size=$(stat -c %s "$T/m.rzm")
check_err "a second model appended: all $size trailing bytes counted" 2 "twice.rzm: $size unexpected bytes after the end record.*second stream" \
  rz-ppl -m "$T/twice.rzm" -z "$Z" -f "$T/text.txt"
{ head -c 20 "$M"; printf '\x00\x00\x00\x80'; tail -c +25 "$M"; } > "$T/vmin.bin"
check_err ".bin with vocab_size INT_MIN → its real value in the message" 2 "vmin.bin.*vocab_size is -2147483648" \
  rz-ppl -m "$T/vmin.bin" -z "$Z" -f "$T/text.txt"
mkdir "$T/tokdir"
check_err "a directory as tokenizer → 'is a directory'" 2 "tokdir: is a directory" rz-ppl -m "$M" -z "$T/tokdir" -f "$T/text.txt"
check_err "--seed 18446744073709551615 → out of range (not 'expected an integer')" 2 "seed: 18446744073709551615 is out of range" \
  rz-ppl -m "$M" -z "$Z" -f "$T/text.txt" --seed 18446744073709551615
check_err "--seed abc → expected an integer" 2 "seed: expected an integer" rz-ppl -m "$M" -z "$Z" -f "$T/text.txt" --seed abc
