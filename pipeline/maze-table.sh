#!/bin/sh
# maze-table.sh — rz-maze train reports (--json with --eval) → a markdown table of
# held-out accuracy against steps, mazes seen and training seconds, one row per eval.
# usage: pipeline/maze-table.sh REPORT.json...
set -eu
echo "| objective | params | step | mazes seen | train s | held-out exact | valid path |"
echo "|---|---|---|---|---|---|---|"
for f in "$@"; do
  jq -r '. as $r | .evals[] | "| \($r.objective) | \($r.params) | \(.step) | \(.samples) | \(.train_seconds | floor) | \(.exact * 1000 | round / 10)% | \(.valid * 1000 | round / 10)% |"' "$f"
done
