# generate.sh — rz-generate itself (not a copy of its loop) against llama2.c's printed
# greedy output, seeded sampling reproducible, and rz-tokenize's --decode inverting -f.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data stories260K.greedy256.txt; need_data tinystories-valid.txt
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin G=$RIZZ_DATA/stories260K.greedy256.txt

# The golden file is llama2.c's `run stories260K.bin -z tok512.bin -t 0.0 -n 256` stdout
# (SOURCES.md of the data; also the expected block of llama2.c's doc/stories260K.md):
# the generated text and one final newline.
check "greedy 256 steps" rz-generate -q -m "$M" -z "$Z" --temp 0 -n 256
cp "$T/.out" "$T/greedy.txt"
[ -s "$T/greedy.txt" ] && cmp -s "$T/greedy.txt" "$G" && ok "rz-generate --temp 0 -n 256 = llama2.c's output, byte for byte" \
  || fail "greedy text = llama2.c's" "$(cmp "$T/greedy.txt" "$G" 2>&1)"
# the same run as a token stream, decoded: the text without run's final newline
check "greedy ids as a token stream" rz-generate -q -m "$M" -z "$Z" --temp 0 -n 256 -o "$T/greedy.tok"
rz-tokenize -z "$Z" --decode "$T/greedy.tok" > "$T/greedy.dec" 2> "$T/dec.err"
cmp -s "$T/greedy.dec" <(head -c -1 "$G") && ok "decoded token stream = the text" || fail "decoded token stream = the text" "$(cmp "$T/greedy.dec" <(head -c -1 "$G") 2>&1)"

# Sampling (temp 1, top-p 0.9): a function of --seed only — the same text twice and with
# another thread count; another seed gives another text.
s1=$(rz-generate -q -m "$M" -z "$Z" --seed 11 -n 200 | md5sum)
s2=$(rz-generate -q -m "$M" -z "$Z" --seed 11 -n 200 -t 1 | md5sum)
s3=$(rz-generate -q -m "$M" -z "$Z" --seed 12 -n 200 | md5sum)
same "seeded sampling repeats (any thread count)" "$s1" "$s2"
[ "$s1" != "$s3" ] && ok "another seed, another text" || fail "another seed, another text" "$s1"
g=$(md5sum < "$G")
[ "$s1" != "$g" ] && ok "sampling is not greedy" || fail "sampling is not greedy"

# Round trip on real text (3000 bytes of stories, UTF-8 included in the file's quotes):
# with --bos the decoded text is the text; without it, " " + text (the encoder's dummy
# prefix space, as sentencepiece's add_dummy_prefix — see tokenizer.h).
head -c 3000 "$RIZZ_DATA/tinystories-valid.txt" > "$T/s.txt"
printf 'héllo wörld 😀 – tab\tend\n' >> "$T/s.txt"
rz-tokenize -q -z "$Z" -f "$T/s.txt" --bos -o "$T/s.tok"
[ "$(rz-cat "$T/s.tok" | grep -c '"type":"tokens"')" -ge 1 ] && ok "tokenize writes tokens records" || fail "tokenize writes tokens records"
rz-tokenize -z "$Z" --decode "$T/s.tok" > "$T/s.dec"
[ -s "$T/s.dec" ] && cmp -s "$T/s.txt" "$T/s.dec" && ok "decode(encode(text, BOS)) = text" || fail "decode(encode(text, BOS)) = text" "$(cmp "$T/s.txt" "$T/s.dec" 2>&1)"
rz-tokenize -q -z "$Z" -f "$T/s.txt" -o - | rz-tokenize -z "$Z" --decode > "$T/s2.dec"
cmp -s "$T/s2.dec" <(printf ' '; cat "$T/s.txt") && ok "decode(encode(text)) = ' ' + text (through a pipe)" || fail "decode without BOS" "$(head -c 80 "$T/s2.dec")"
