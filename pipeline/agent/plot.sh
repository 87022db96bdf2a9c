#!/bin/sh
# plot.sh SUMMARY.tsv OUT.png — bar chart of the IQM goal success and reward normalised
# return per (dataset, algorithm) with 95% bootstrap CIs, from rz-agent sweep --summary.
set -eu
in=$1; out=$2
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
# columns: label, goal IQM, lo, hi, reward IQM, lo, hi
awk -F'\t' 'NR>1 {printf "%s:%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\n", $2, $3, $4, $6, $7, $8, $15, $16, $17}' "$in" > "$tmp"
gnuplot <<GP
set terminal pngcairo size 1100,500 noenhanced
set output "$out.tmp"
set datafile separator "\t"
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.7 border -1
set yrange [0:1.05]
set ylabel "IQM over seeds (95% bootstrap CI)"
set title "four-rooms: FB vs VC-FB vs MC-FB on full-coverage and low-quality data"
set xtics rotate by -30
set key top right
plot "$tmp" using 2:3:4:xtic(1) title "goal success", "" using 5:6:7 title "reward tasks: normalised return"
GP
mv "$out.tmp" "$out"
