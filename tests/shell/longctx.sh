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
# rz-generate takes the same flags; without them it stops at the trained context
check "rz-generate past the context with --rope-ext dca" rz-generate -q -m "$M" -z "$Z" --temp 0 -n 700 --rope-ext dca
check_err "rz-generate: bad extension parameter" 2 "chunk" rz-generate -m "$M" -z "$Z" -n 700 --rope-ext dca --chunk 600
