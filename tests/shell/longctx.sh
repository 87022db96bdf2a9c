# longctx.sh — rz-ppl past the trained context: the extension flags, their reductions to
# plain RoPE where the math says so, --by-position, and bad parameters.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data tinystories-valid.txt
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin F=$RIZZ_DATA/tinystories-valid.txt
ppl() { rz-ppl -q -m "$M" -z "$Z" -f "$F" --json "$@" | json_field ppl; }
close() { awk -v a="$2" -v b="$3" -v t="$4" 'BEGIN{d=(a-b)/a; if(d<0)d=-d; exit !(d <= t)}' && ok "$1 ($2 vs $3)" || fail "$1" "$2 vs $3"; }
N=4096
base=$(ppl --max-tokens $N --ctx 256)
# scale 1: PI and NTK are plain RoPE exactly (same frequencies); YaRN's ramp and
# temperature are 1 at scale 1. Equality to float rounding: the tables are computed the
# same way, so equal bits are expected, 1e-6 relative allowed for the temperature path.
for m in pi ntk yarn; do close "$m at scale 1 = plain RoPE" "$base" "$(ppl --max-tokens $N --ctx 256 --rope-ext $m --rope-scale 1)" 1e-6; done
# DCA with the window inside one chunk (256 <= s = 384) is ordinary attention
close "dca with ctx <= chunk = plain attention" "$base" "$(ppl --max-tokens $N --ctx 256 --rope-ext dca)" 1e-6
# explicit extrapolation is allowed with --rope-ext none; DCA past the context
check "ctx 1024 with --rope-ext none (extrapolation)" rz-ppl -q -m "$M" -z "$Z" -f "$F" --max-tokens 4096 --ctx 1024 --rope-ext none
rz-ppl -q -m "$M" -z "$Z" -f "$F" --max-tokens 4096 --ctx 1024 --rope-ext dca --by-position 256 --json > "$T/dca.json"
n=$(grep -o '"start":' "$T/dca.json" | wc -l)
same "by_position has ctx/B buckets" 4 "$n"
sum=$(grep -o '"tokens":[0-9]*' "$T/dca.json" | cut -d: -f2 | awk '{s+=$1} END{print s}')
same "bucket token counts add up to tokens_scored" "$(json_field tokens_scored < "$T/dca.json")" "$sum"
rz-ppl -q -m "$M" -z "$Z" -f "$F" --max-tokens 4096 --ctx 1024 --rope-ext dca --by-position 256 > "$T/dca.csv"
grep -q '^start,end,tokens,nll_mean,ppl$' "$T/dca.csv" && [ "$(grep -c '^[0-9]' "$T/dca.csv")" -eq 4 ] && ok "by-position CSV" || fail "by-position CSV" "$(cat "$T/dca.csv")"
# bad parameters: exit 2 with the reason
check_err "chunk >= pretraining length" 2 "chunk" rz-ppl -m "$M" -z "$Z" -f "$F" --ctx 1024 --rope-ext dca --chunk 512
check_err "local out of range" 2 "local" rz-ppl -m "$M" -z "$Z" -f "$F" --ctx 1024 --rope-ext dca --chunk 384 --local 200
check_err "unknown method" 2 "foo" rz-ppl -m "$M" -z "$Z" -f "$F" --ctx 1024 --rope-ext foo
check_err "parameter given to a method that takes none" 2 "none|chunk" rz-ppl -m "$M" -z "$Z" -f "$F" --ctx 1024 --rope-ext none --chunk 100
check_err "scale given to dca" 2 "scale" rz-ppl -m "$M" -z "$Z" -f "$F" --ctx 1024 --rope-ext dca --rope-scale 2
check_err "pi without its scale" 2 "scale" rz-ppl -m "$M" -z "$Z" -f "$F" --ctx 1024 --rope-ext pi
# Quality at 8x the trained context. pipeline/longctx.md (131,072 tokens of the text in
# the model's training format, paragraphs joined by one newline) measured ppl 3.927 at
# 512, DCA 3.958 at 4096 (+0.8%) and plain RoPE extrapolation 28.7 at 4096. One window of
# 4096 tokens here (the sanitizer build is slow), the 512 windows over the same tokens:
# DCA within 5% of ctx 512, and below half of plain extrapolation.
awk 'BEGIN{RS="\n\n"; ORS="\n"} {print}' "$F" > "$T/oneline.txt"
lppl() { rz-ppl -q -m "$M" -z "$Z" -f "$T/oneline.txt" --max-tokens 4096 --json "$@" | json_field ppl; }
p512=$(lppl --ctx 512); d4k=$(lppl --ctx 4096 --rope-ext dca); n4k=$(lppl --ctx 4096 --rope-ext none)
is_num "$p512" && is_num "$d4k" && awk -v a="$p512" -v b="$d4k" 'BEGIN{d=(b-a)/a; if(d<0)d=-d; exit !(a > 1 && d < 0.05)}' \
  && ok "dca at 4096 ($d4k) within 5% of ctx 512 ($p512)" || fail "dca at 4096 within 5% of ctx 512" "$d4k vs $p512"
is_num "$n4k" && is_num "$d4k" && awk -v a="$n4k" -v b="$d4k" 'BEGIN{exit !(b > 1 && b < a / 2)}' \
  && ok "dca at 4096 ($d4k) below half of plain extrapolation ($n4k)" || fail "dca below half of --rope-ext none" "$d4k vs $n4k"
# rz-generate takes the same flags; without them it stops at the trained context. A
# 457-token prompt (the first 900 bytes of the text) and greedy decoding: the story
# continues past position 512 (llama2.c's stop condition, BOS, comes at 870 tokens today;
# the check needs only > 512), and the stream starts with the prompt's own ids.
head -c 900 "$F" | tr '\n' ' ' > "$T/prompt.txt"
check "rz-generate past the context with --rope-ext dca" rz-generate -q -m "$M" -z "$Z" --temp 0 -n 1000 --rope-ext dca -p "$(cat "$T/prompt.txt")" -o "$T/long.tok"
rz-tokenize -q -z "$Z" -f "$T/prompt.txt" --bos -o "$T/prompt.tok"
nl=$(rz-cat "$T/long.tok" | grep -o '"n":[0-9]*' | cut -d: -f2); np=$(rz-cat "$T/prompt.tok" | grep -o '"n":[0-9]*' | cut -d: -f2)
is_num "$nl" && [ "$nl" -gt 513 ] && ok "rz-generate --rope-ext dca: $nl ids (> BOS + 512)" || fail "rz-generate past the context" "${nl:-no} tokens"
ids() { rz-cat --full "$1" | grep -o '"ids":{"$bin":"[^"]*"' | cut -d'"' -f6 | base64 -d | od -An -v -tu4 | tr -s ' \n' '\n' | grep .; }
[ -n "$np" ] && [ "$(ids "$T/long.tok" | head -n "$np" | md5sum)" = "$(ids "$T/prompt.tok" | md5sum)" ] \
  && ok "the generated stream starts with the prompt's $np ids" || fail "generated stream starts with the prompt"
rz-generate -q -m "$M" -z "$Z" --temp 0 -n 1000 -p "$(cat "$T/prompt.txt")" -o "$T/plain.tok"
n0=$(rz-cat "$T/plain.tok" | grep -o '"n":[0-9]*' | cut -d: -f2)
is_num "$n0" && [ "$n0" -le 513 ] && ok "without --rope-ext: stops at the context ($n0 ids: BOS + 512)" || fail "stops at the context" "${n0:-no} tokens"
check_err "rz-generate: bad extension parameter" 2 "chunk" rz-generate -m "$M" -z "$Z" -n 700 --rope-ext dca --chunk 600
