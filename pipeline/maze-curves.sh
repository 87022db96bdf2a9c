#!/bin/sh
# maze-curves.sh PREFIX REPORT.json... — held-out exact path rate against mazes seen
# (PREFIX-seen.png) and against training seconds (PREFIX-seconds.png), one curve per
# objective, from rz-maze train reports (--json with --eval; one or several seeds per
# objective). Each point is the mean over the reports of that objective at that eval
# step, with the 95% t-interval of the mean as error bars when there are 2–10 seeds
# (pipeline/maze-seeds.sh --data computes both; x of the seconds plot: the mean training
# seconds over the seeds). PREFIX.dat holds the plotted rows:
#   objective step samples train_seconds seeds mean lo hi
# (lo = hi = mean with one seed). Every file is written to .tmp and renamed; PREFIX.dat
# last, so a make target on it is complete only when the pictures are.
set -eu
prefix=$1; shift
dat=$prefix.dat
"$(dirname "$0")/maze-seeds.sh" --data "$@" |
  awk '{ lo = $8 == "-" ? $6 : $8; hi = $9 == "-" ? $6 : $9; print $1, $2, $3, $4, $5, $6, lo, hi }' > "$dat.tmp"
[ -s "$dat.tmp" ] || { echo "maze-curves.sh: no evals in the reports (train with --eval)" >&2; rm -f "$dat.tmp"; exit 2; }
objs=$(awk '{ print $1 }' "$dat.tmp" | sort -u | tr '\n' ' ')
seeds=$(awk 'NR == 1 || $5 > k { k = $5 } END { print k }' "$dat.tmp")
batch=$(awk 'NR == 1 { print $3 / $2 }' "$dat.tmp")
bars=$([ "$seeds" -gt 1 ] && echo "mean of $seeds seeds, 95% t-interval" || echo "one seed")
plot() { # x column, x label, output
  gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced
set output '$3.tmp'
set title 'maze navigation: held-out exact paths ($bars)'
set xlabel '$2'
set ylabel 'held-out exact path rate'
set yrange [0:1.05]
set grid
set key top left
set xrange [0:*]
name(o) = o eq 'mlmu' ? 'MLM-U' : o eq 'next' ? 'next-token' : o
plot for [o in "$objs"] '$dat.tmp' using (strcol(1) eq o ? \$$1 : NaN):6:7:8 with yerrorlines title name(o)
GP
  mv "$3.tmp" "$3"
}
plot 3 "mazes seen (steps x $batch)" "$prefix-seen.png"
plot 4 "training seconds (evaluation excluded)" "$prefix-seconds.png"
mv "$dat.tmp" "$dat"
