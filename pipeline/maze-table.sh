#!/bin/sh
# maze-table.sh — rz-maze reports → markdown. Training reports (rz-maze train --json
# with --eval): held-out accuracy against steps, mazes seen and training seconds, one
# row per eval. Eval reports (rz-maze eval --json), if any are given: a second table of
# the final models' teacher-forced single steps (step accuracy; of the wrong cells, the
# share that were a legal move, an open neighbour of the previous cell).
# usage: pipeline/maze-table.sh REPORT.json...
set -eu
echo "| objective | params | step | mazes seen | train s | held-out exact | valid path |"
echo "|---|---|---|---|---|---|---|"
for f in "$@"; do
  jq -r 'select(.tool == "rz-maze train") | . as $r | .evals[] | "| \($r.objective) | \($r.params) | \(.step) | \(.samples) | \(.train_seconds | floor) | \(.exact * 1000 | round / 10)% | \(.valid * 1000 | round / 10)% |"' "$f"
done
if jq -e 'select(.tool == "rz-maze eval")' "$@" > /dev/null; then
  echo
  echo "| objective | step | mazes | exact | single-step accuracy | wrong cells | of them legal moves |"
  echo "|---|---|---|---|---|---|---|"
  for f in "$@"; do
    jq -r 'select(.tool == "rz-maze eval") | "| \(.objective) | \(.step) | \(.mazes) | \(.exact_rate * 1000 | round / 10)% | \(.step_accuracy * 1000 | round / 10)% | \(.wrong_steps) | \(if .wrong_steps > 0 then (.wrong_steps_open / .wrong_steps * 1000 | round / 10 | tostring) + "%" else "" end) |"' "$f"
  done
fi
