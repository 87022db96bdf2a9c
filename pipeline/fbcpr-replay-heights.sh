#!/bin/sh
# fbcpr-replay-heights.sh — where the humanoid's replay buffer spends its time: for each
# online checkpoint, the share of next states with the torso below the fall height (0.8 m:
# on the floor), at or above 1.2 m (upright) and between, and the rows that rise from a
# fallen state above the fall height (getting up):
#   fbcpr-replay-heights.sh CKPT...      (one line per checkpoint, tab-separated)
# The torso height is entry 2 of each 55-float humanoid state (humanoid.h); the arrays
# are read from the checkpoint's replay.S / replay.S2 tensors (schemas/agent.md).
set -eu
RZ_CAT=${RZ_CAT:-rz-cat}
col() { # the torso heights of tensor $2 of checkpoint $1, one per line
  $RZ_CAT --full "$1" | jq -r --arg n "$2" 'select(.type == "tensor" and .name == $n) | .data."$bin"' |
    base64 -d | od -An -v -f -w220 | awk '{ print $3 }'
}
printf 'checkpoint\trows\tfallen\tupright\tbetween\trises\tmax_from_floor\n'
for f in "$@"; do
  col "$f" replay.S > "$f.z1.tmp"
  col "$f" replay.S2 > "$f.z2.tmp"
  paste "$f.z1.tmp" "$f.z2.tmp" | awk -v f="$f" '
    BEGIN { hi = -1 }
    { n++; if ($2 < 0.8) fl++; else if ($2 >= 1.2) up++; if ($1 < 0.8 && $2 >= 0.8) rise++; if ($1 < 0.5 && $2 > hi) hi = $2 }
    END { printf "%s\t%d\t%.3f\t%.3f\t%.3f\t%d\t%.2f\n", f, n, fl / n, up / n, (n - fl - up) / n, rise, hi }'
  rm -f "$f.z1.tmp" "$f.z2.tmp"
done
