#!/usr/bin/env bash
# longctx-table.sh OUT "METHODS" "CTXS" — markdown table of perplexity by method and
# context length from the rz-ppl JSON reports OUT/METHOD-CTX.json, plus a CSV beside it.
set -euo pipefail
out=$1; methods=$2; ctxs=$3
field() { grep -o "\"$2\":[-0-9.e+]*" "$1" | head -1 | cut -d: -f2; }
printf '| method |'; for c in $ctxs; do printf ' ctx %s |' "$c"; done; echo
printf '|---|'; for c in $ctxs; do printf -- '---|'; done; echo
echo "method,ctx,ppl,nll_mean,tokens_scored,tokens_per_s" > "$out/longctx.csv"
for m in $methods; do
  printf '| %s |' "$m"
  for c in $ctxs; do
    f="$out/$m-$c.json"
    p=$(field "$f" ppl); printf ' %.3f |' "$p"
    echo "$m,$c,$p,$(field "$f" nll_mean),$(field "$f" tokens_scored),$(field "$f" tokens_per_s)" >> "$out/longctx.csv"
  done
  echo
done
