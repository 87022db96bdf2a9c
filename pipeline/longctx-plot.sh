#!/usr/bin/env bash
# longctx-plot.sh OUT "METHODS" CTX PNG — perplexity by position inside windows of CTX
# tokens, one curve per method, from the "by_position" lists of the rz-ppl reports.
set -euo pipefail
out=$1; methods=$2; ctx=$3; png=$4
plot=""
for m in $methods; do
  # {"start":0,"end":256,"tokens":..,"nll_mean":..,"ppl":..} -> "start ppl" lines
  grep -o '{"start":[0-9]*,"end":[0-9]*,"tokens":[0-9]*,"nll_mean":[-0-9.e+]*,"ppl":[-0-9.e+]*}' "$out/$m-$ctx.json" |
    sed -E 's/.*"start":([0-9]+),"end":([0-9]+).*"ppl":([-0-9.e+]+)}/\1 \2 \3/' |
    awk '{print ($1 + $2) / 2, $3}' > "$out/$m-$ctx.pos.dat"
  plot="$plot${plot:+, }'$out/$m-$ctx.pos.dat' using 1:2 with linespoints title '$m'"
done
gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced
set output '$png.tmp'
set title 'stories260K (trained at 512) on TinyStories windows of $ctx tokens'
set xlabel 'position in window (bucket centre)'
set ylabel 'perplexity'
set logscale y
set grid
set arrow from 512, graph 0 to 512, graph 1 nohead dashtype 2
set key top left
plot $plot
GP
mv "$png.tmp" "$png"
