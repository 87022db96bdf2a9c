#!/bin/sh
# fbcpr-humanoid-table.sh — the humanoid comparison table of pipeline/fbcpr.mk from its
# JSON products (run by `make -f pipeline/fbcpr.mk humanoid-table`):
#   fbcpr-humanoid-table.sh DIR SEEDS AGENT
# DIR holds track-cpr.json, track-fb.json (rz-agent track over the seeds' agents, with
# the random-action floor), {cpr,fb}-sN-tasks.json and random-sN-tasks.json (rz-agent
# eval, N = 1 … SEEDS). Per metric and method: IQM and 95% bootstrap CI over the seeds
# (rz-agent iqm), then the per-seed values. Writes DIR/table.md and prints it.
set -eu
D=$1 S=$2 A=$3
num() { grep -o "\"$1\":[-0-9.e]*" | cut -d: -f2; }
stand() { grep -o '"name":"stand","kind":"reward","success":null,"return":[-0-9.e]*' "$1" | sed 's/.*://'; }
goal() { num goal_success < "$1"; }
{
  for m in cpr fb; do
    num mean_dist < "$D/track-$m.json" | sed "s/^/$m-track\t/"
    num upright < "$D/track-$m.json" | sed "s/^/$m-upright\t/"
  done
  num random_dist < "$D/track-cpr.json" | sed "s/^/random-track\t/"
  num random_upright < "$D/track-cpr.json" | sed "s/^/random-upright\t/"
  for s in $(seq 1 "$S"); do
    for m in cpr fb random; do
      printf '%s-stand\t%s\n' $m "$(stand "$D/$m-s$s-tasks.json")"
      printf '%s-goal\t%s\n' $m "$(goal "$D/$m-s$s-tasks.json")"
    done
  done
} > "$D/values.tsv"
$A iqm -q "$D/values.tsv" -o "$D/iqm.tsv"
cell() { awk -F'\t' -v k="$1" -v f="$2" '$1 == k { printf f, $3, $4, $5 }' "$D/iqm.tsv"; }
per() { awk -F'\t' -v k="$1" -v f="$2" '$1 == k { printf f " ", $2 }' "$D/values.tsv"; }
{
  echo "| method | stand-still return (of 300), IQM [95% CI] over seeds | tracking: qpos distance (lower is better) | tracking: episodes upright | goal poses reached |"
  echo "|---|---|---|---|---|"
  for m in cpr fb random; do
    case $m in cpr) name=FB-CPR;; fb) name='FB (online)';; *) name='random actions';; esac
    printf '| %s | %s | %s | %s | %s |\n' "$name" "$(cell $m-stand '%.1f [%.1f, %.1f]')" "$(cell $m-track '%.3f [%.3f, %.3f]')" \
      "$(cell $m-upright '%.2f [%.2f, %.2f]')" "$(cell $m-goal '%.2f [%.2f, %.2f]')"
  done
  printf '| zero torques (limp) | | %.3f | %.2f | |\n' "$(num still_dist < "$D/track-fb.json")" "$(num still_upright < "$D/track-fb.json")"
  echo
  echo "Per seed (1 … $S):"
  echo
  echo "| method | stand-still return | tracking distance | tracking episodes upright |"
  echo "|---|---|---|---|"
  for m in cpr fb random; do
    case $m in cpr) name=FB-CPR;; fb) name='FB (online)';; *) name='random actions';; esac
    printf '| %s | %s| %s| %s|\n' "$name" "$(per $m-stand '%.1f')" "$(per $m-track '%.3f')" "$(per $m-upright '%.2f')"
  done
} > "$D/table.md.tmp"
mv "$D/table.md.tmp" "$D/table.md"
cat "$D/table.md"
