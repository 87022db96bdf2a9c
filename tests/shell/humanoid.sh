# humanoid.sh — rz-agent on MuJoCo's humanoid: keyframe motions into an expert stream
# (deterministic for a seed, a picture), the humanoid through collect → train → eval on a
# tiny budget, and bad input (a broken keyframe file, an unknown joint, a missing model
# file, --model with another environment) exiting 2 with the file, line and field named
# and no output left behind. Skips when libmujoco-samples' model is absent.
. "$(dirname "$0")/lib.sh"
M=/usr/share/mujoco/model/humanoid/humanoid.xml
[ -r "$M" ] || { ok "humanoid # SKIP $M absent (install libmujoco-samples: make deps)"; exit 0; }
A=rz-agent
K=$(dirname "$0")/../../pipeline/motions
check "keyframes: every motion, 2 repeats, picture" $A keyframes -q --repeats 2 --picture "$T/crouch.png" -o "$T/x1.rz" \
  "$K/crouch.kf" "$K/stand.kf" "$K/raise_arms.kf" "$K/turn.kf" "$K/step.kf" "$K/step_left.kf"
[ -s "$T/crouch.png" ] && ok "keyframes picture written" || fail "keyframes picture written"
$A keyframes -q --repeats 2 -o "$T/x2.rz" "$K/crouch.kf" "$K/stand.kf" "$K/raise_arms.kf" "$K/turn.kf" "$K/step.kf" "$K/step_left.kf"
cmp -s "$T/x1.rz" "$T/x2.rz" && ok "keyframes: the same seed gives the same bytes" || fail "keyframes: the same seed gives the same bytes"
$A keyframes -q --repeats 2 --seed 9 -o "$T/x3.rz" "$K/crouch.kf"
$A keyframes -q --repeats 2 --seed 10 -o "$T/x4.rz" "$K/crouch.kf"
cmp -s "$T/x3.rz" "$T/x4.rz" && fail "keyframes: another seed, other jitter" || ok "keyframes: another seed, other jitter"

printf 'rz-keyframes 1\nname b\njoints right_knee\n0 0\n1 -10 5\n' > "$T/bad.kf"
check_err "keyframes: a frame with too many values" 2 "bad.kf:5: field 'frame'" $A keyframes -o "$T/o.rz" "$T/bad.kf"
printf 'rz-keyframes 1\nname b\njoints right_knee tail\n0 0 0\n1 -10 0\n' > "$T/tail.kf"
check_err "keyframes: a joint the model lacks" 2 "tail.kf:3: field 'joints': 'tail'" $A keyframes -o "$T/o.rz" "$T/tail.kf"
printf 'rz-keyframes 1\nname b\njoints right_knee\n0 0\n1 90\n' > "$T/range.kf"
check_err "keyframes: outside the joint's range" 2 "range.kf:5: field 'right_knee'" $A keyframes -o "$T/o.rz" "$T/range.kf"
check_err "keyframes: a missing model file" 2 "cannot open the model file $T/none.xml" \
  $A keyframes --model "$T/none.xml" -o "$T/o.rz" "$K/crouch.kf"
check_err "keyframes: a missing motion file" 2 "nothere.kf" $A keyframes -o "$T/o.rz" "$T/nothere.kf"
check_err "--model with a grid" 2 "model applies to --env humanoid" $A collect --env fourrooms --model "$M" --steps 10 -o "$T/o.rz"
[ -e "$T/o.rz" ] && fail "no output after bad input" || ok "no output after bad input"

check "humanoid collect" $A collect --env humanoid --policy random --steps 600 -o "$T/h.rz" -q
check "humanoid collect with --model" $A collect --env humanoid --model "$M" --policy random --steps 50 -o "$T/h2.rz" -q
check "humanoid train" $A train --algo fb -d "$T/h.rz" --steps 3 --zdim 8 --hidden 16 --batch 8 -o "$T/ha.rz" -q
check "humanoid eval" $A eval -a "$T/ha.rz" --tasks all --episodes 1 -q --json
jq -e '.n_tasks == 8' "$T/.out" >/dev/null && ok "humanoid eval: 5 reward and 3 goal tasks" || fail "humanoid eval: 5 reward and 3 goal tasks" "$(head -c 300 "$T/.out")"
