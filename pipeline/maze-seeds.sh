#!/bin/sh
# maze-seeds.sh — rz-maze train reports of several seeds (--json with --eval) → a
# markdown table per objective and eval step: seeds, mean held-out exact rate, its
# sample standard deviation and a 95% t-interval of the mean (t quantiles for 2–10
# seeds; with one seed the spread is blank).
# usage: pipeline/maze-seeds.sh [--data] REPORT.json...
#   --data: the numbers instead of the table, one line per objective and eval step
#     (maze-curves.sh plots them): objective step samples train_seconds seeds mean sd lo
#     hi — train_seconds the mean over the seeds, rates as fractions, and sd, lo, hi "-"
#     where the table leaves them blank.
set -eu
data=0
[ "${1:-}" = "--data" ] && { data=1; shift; }
for f in "$@"; do
  jq -r '. as $r | .evals[] | "\($r.objective) \(.step) \(.samples) \(.exact) \(.train_seconds)"' "$f"
done | sort -k1,1 -k2,2n | awk '
  function flush() {
    if (k == 0) return
    m = s / k; sd = k > 1 ? sqrt((ss - k * m * m) / (k - 1)) : -1
    # two-sided 95% t quantiles, k - 1 degrees of freedom
    split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262", tq, " ")
    if (k > 1 && k <= 10) { lo = sprintf("%.17g", m - tq[k - 1] * sd / sqrt(k)); hi = sprintf("%.17g", m + tq[k - 1] * sd / sqrt(k)) }
    else { lo = "-"; hi = "-" }
    printf "%s %s %s %.17g %d %.17g %s %s %s\n", o, st, seen, secs / k, k, m, sd < 0 ? "-" : sprintf("%.17g", sd), lo, hi
  }
  { if ($1 != o || $2 != st) { flush(); o = $1; st = $2; seen = $3; k = 0; s = 0; ss = 0; secs = 0 }
    k++; s += $4; ss += $4 * $4; secs += $5 }
  END { flush() }' | if [ $data = 1 ]; then cat; else
  echo "| objective | step | mazes seen | seeds | mean exact | sd | 95% CI of the mean |"
  echo "|---|---|---|---|---|---|---|"
  awk '{ ci = $8 == "-" ? "" : sprintf("%.1f%% – %.1f%%", 100 * $8, 100 * $9)
         printf "| %s | %s | %s | %d | %.1f%% | %s | %s |\n", $1, $2, $3, $5, 100 * $6, $7 == "-" ? "" : sprintf("%.1f%%", 100 * $7), ci }'
fi
