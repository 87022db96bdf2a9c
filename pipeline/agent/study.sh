#!/bin/sh
# study.sh DIR "DESIGNS" SEEDS RZ_AGENT — the low-quality-data study's tables and plots from
# the runs pipeline/agent.mk wrote into DIR (DESIGN-ALGO-sSEED{,-best}.json and .csv):
#   DIR/runs.tsv     design, algo, checkpoint (final/best), metric, value: one line per run
#   DIR/summary.tsv  IQM over seeds and its 95% percentile-bootstrap CI per design × algo ×
#                    checkpoint × metric (rz-agent iqm: tools/core/rl/stats.c)
#   DIR/table.md     the same as a markdown table (goal success and reward return, overall
#                    and inside the data's support, test tasks only), with each design's
#                    reach ceiling (rz-agent data --reach) and the IQM of the best steps
#   DIR/size.png     goal success (test goals) vs dataset size, FB / VC-FB / MC-FB, CIs
#   DIR/curves.png   mean validation goal success over training per design and algorithm
set -eu
dir=$1; designs=$2; seeds=$3; agent=$4
algos="fb vcfb mcfb"
num() { grep -o "\"$1\":[^,}]*" "$2" | head -1 | cut -d: -f2 | sed 's/null/nan/'; }
: > "$dir/runs.tsv.tmp"
for d in $designs; do for a in $algos; do for s in $(seq "$seeds"); do
  for ck in final best; do
    f="$dir/$d-$a-s$s.json"; [ "$ck" = best ] && f="$dir/$d-$a-s$s-best.json"
    [ -f "$f" ] || continue
    for m in goal_success reward_norm_return goal_success_in_support reward_norm_return_in_support n_goals_in_support n_rewards_in_support; do
      printf '%s\t%s\t%s\t%s\t%s\n' "$d" "$a" "$ck" "$m" "$(num $m "$f")" >> "$dir/runs.tsv.tmp"
    done
  done
  c="$dir/$d-$a-s$s.csv"
  [ -f "$c" ] && printf '%s\t%s\tbest_step\tstep\t%s\n' "$d" "$a" \
    "$(awk -F, 'NR > 1 && (b == "" || $7 > b) {b = $7; s = $1} END {print s}' "$c")" >> "$dir/runs.tsv.tmp"
done; done; done
mv "$dir/runs.tsv.tmp" "$dir/runs.tsv"
"$agent" iqm "$dir/runs.tsv" -o "$dir/summary.tsv"
# summary.tsv columns: design algo checkpoint metric n iqm lo hi (the key holds 4 fields)
{
  echo "| data | reach ceiling | algo | seeds | goal success, final | goal success, best by validation | reward return, final | reward return, best | test goals in support | their success, final | reward tasks in support | their return, final | best step (IQM) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for d in $designs; do
    reach=$("$agent" data -d "$dir/$d.rz" --reach --json -q | grep -o '"reach":[^,}]*' | cut -d: -f2)
    for a in $algos; do
    awk -F'\t' -v d="$d" -v a="$a" -v r="$reach" '
      $1 == d && $2 == a { v[$3 "/" $4] = sprintf("%.3f [%.3f, %.3f]", $6, $7, $8); n[$3 "/" $4] = $5; m[$3 "/" $4] = $6 }
      END { printf "| %s | %.3f | %s | %s | %s | %s | %s | %s | %.0f | %s | %.0f | %s | %.0f |\n", d, r, a, n["final/goal_success"],
            v["final/goal_success"], v["best/goal_success"], v["final/reward_norm_return"], v["best/reward_norm_return"],
            m["final/n_goals_in_support"], v["final/goal_success_in_support"],
            m["final/n_rewards_in_support"], v["final/reward_norm_return_in_support"], m["best_step/step"] }' "$dir/summary.tsv"
  done; done
} > "$dir/table.md.tmp"
mv "$dir/table.md.tmp" "$dir/table.md"
# size plot: x = transitions (n1000, n10000, n100000), one series per algo, final and best
tmp=$(mktemp); trap 'rm -f "$tmp" "$tmp".*' EXIT
for a in $algos; do for ck in final best; do
  for n in 1000 10000 100000; do
    awk -F'\t' -v d="n$n" -v a="$a" -v c="$ck" -v n="$n" \
      '$1 == d && $2 == a && $3 == c && $4 == "goal_success" {print n, $6, $7, $8}' "$dir/summary.tsv"
  done > "$tmp.$a.$ck"
done; done
gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced
set output "$dir/size.png.tmp"
set logscale x
set xrange [600:160000]
set yrange [0:1]
set xlabel "dataset size (transitions, uniform subsamples of the full-coverage data)"
set ylabel "goal success, test goals (IQM over seeds, 95% CI)"
set title "four-rooms: goal success vs dataset size"
set key top left
plot "$tmp.fb.final" u (\$1*0.93):2:3:4 w yerrorlines lc rgb "#1f77b4" t "FB (final)", \
     "$tmp.vcfb.final" u 1:2:3:4 w yerrorlines lc rgb "#d62728" t "VC-FB (final)", \
     "$tmp.mcfb.final" u (\$1*1.07):2:3:4 w yerrorlines lc rgb "#2ca02c" t "MC-FB (final)", \
     "$tmp.fb.best" u (\$1*0.93):2 w lp dt 2 lc rgb "#1f77b4" t "FB (best by validation)", \
     "$tmp.vcfb.best" u 1:2 w lp dt 2 lc rgb "#d62728" t "VC-FB (best)", \
     "$tmp.mcfb.best" u (\$1*1.07):2 w lp dt 2 lc rgb "#2ca02c" t "MC-FB (best)"
GP
mv "$dir/size.png.tmp" "$dir/size.png"
# learning curves: mean over seeds of the validation goal success, per design and algo
for d in $designs; do for a in $algos; do
  files=$(ls "$dir/$d-$a"-s*.csv 2>/dev/null | grep -v -- -best || true)
  [ -n "$files" ] || continue
  awk -F, 'FNR > 1 {s[$1] += $7; n[$1]++} END {for (k in s) print k, s[k] / n[k]}' $files | sort -n > "$tmp.c.$d.$a"
done; done
# four x tics whatever the budget (the last validation step of any curve)
last=$(cat "$tmp".c.* 2>/dev/null | awk '$1 > m {m = $1} END {print m + 0}')
# panels: up to four per row, 350 × 350 pixels each
nd=$(echo $designs | wc -w); cols=$(( nd < 4 ? nd : 4 )); rows=$(( (nd + 3) / 4 ))
{
  echo "set terminal pngcairo size $(( cols * 350 )),$(( rows * 350 )) noenhanced"
  echo "set output \"$dir/curves.png.tmp\""
  echo "set multiplot layout $rows,$cols title \"validation goal success during training (mean over seeds)\""
  echo "set yrange [0:*]; set xtics $(( last > 4 ? last / 4 : 1 )); set key bottom right; set xlabel \"step\""
  for d in $designs; do
    echo "set title \"$d\""
    echo "plot \"$tmp.c.$d.fb\" w l lc rgb \"#1f77b4\" t \"FB\", \"$tmp.c.$d.vcfb\" w l lc rgb \"#d62728\" t \"VC-FB\", \"$tmp.c.$d.mcfb\" w l lc rgb \"#2ca02c\" t \"MC-FB\""
  done
  echo 'unset multiplot'
} | gnuplot
mv "$dir/curves.png.tmp" "$dir/curves.png"

