# humanoid.sh — rz-agent on MuJoCo's humanoid: keyframe motions into an expert stream
# (deterministic for a seed, a picture), the humanoid through collect → train → eval on a
# tiny budget, and bad input (a broken keyframe file, an unknown joint, a missing model
# file, --model with another environment) exiting 2 with the file, line and field named
# and no output left behind; online training with the reference environment's falls and
# starts (--fall continue, --init-expert, --init-fall): the report names them, 1 and 2
# environment workers and a cut-and-resumed run write the same bytes, bad values exit 2
# naming the flag. Skips when libmujoco-samples' model is absent.
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

# online with the reference's falls and starts (HumEnv: never terminal; 0.8 motion, 0.2 fallen)
ref="--fall continue --init-expert 0.8 --init-fall 0.2 --fall-steps 30"
tinyh="--hidden 16 --zdim 4 --batch 16 --disc-hidden 16 --seed-steps 200 --envs 3 --episode-len 50 -q"
check "online, reference starts" $A online --env humanoid --cpr --expert "$T/x1.rz" --steps 600 $tinyh $ref --json -o "$T/ref.rz"
jq -e '.fall == "continue" and .init_expert == 0.8 and .init_fall == 0.2 and .fall_steps == 30' "$T/.out" >/dev/null \
  && ok "online report: fall, init_expert, init_fall, fall_steps" || fail "online report: fall, init_expert, init_fall, fall_steps" "$(head -c 300 "$T/.out")"
rz-cat --full "$T/ref.rz" | grep -q '"fall":"continue","init_expert":0.8' && ok "the checkpoint records the start rule" || fail "the checkpoint records the start rule"
check "online, reference starts, 2 workers" $A online --env humanoid --cpr --expert "$T/x1.rz" --steps 600 $tinyh $ref -t 2 -o "$T/ref2.rz"
cmp -s "$T/ref.rz" "$T/ref2.rz" && ok "reference starts: 2 workers write the 1-worker bytes" || fail "reference starts: 2 workers write the 1-worker bytes"
check "online, reference starts, half" $A online --env humanoid --cpr --expert "$T/x1.rz" --steps 300 $tinyh $ref -o "$T/refh.rz"
check "online, reference starts, resumed" $A online --resume "$T/refh.rz" --steps 600 -q -o "$T/reff.rz"
cmp -s "$T/ref.rz" "$T/reff.rz" && ok "reference starts: resume reproduces the uncut run" || fail "reference starts: resume reproduces the uncut run"
# plain FB with expert starts reads the expert stream (and resume reloads it from the checkpoint)
check "online FB, expert starts, half" $A online --env humanoid --expert "$T/x1.rz" --steps 300 $tinyh --init-expert 1 --fall continue -o "$T/fbh.rz"
check "online FB, expert starts, resumed" $A online --resume "$T/fbh.rz" --steps 600 -q -o "$T/fbf.rz"
check "online FB, expert starts, uncut" $A online --env humanoid --expert "$T/x1.rz" --steps 600 $tinyh --init-expert 1 --fall continue -o "$T/fbu.rz"
cmp -s "$T/fbf.rz" "$T/fbu.rz" && ok "FB with expert starts: resume reproduces the uncut run" || fail "FB with expert starts: resume reproduces the uncut run"
check_err "--fall of an unknown kind" 2 "fall 'maybe': expected end or continue" $A online --env humanoid --fall maybe --steps 10 -o "$T/o.rz"
check_err "--init-fall under --fall end" 2 "init-fall 0.2 needs --fall continue" $A online --env humanoid --init-fall 0.2 --steps 10 -o "$T/o.rz"
check_err "start shares over 1" 2 "init-expert 0.9 and --init-fall 0.2: expected a sum of at most 1" \
  $A online --env humanoid --expert "$T/x1.rz" --init-expert 0.9 --init-fall 0.2 --fall continue --steps 10 -o "$T/o.rz"
check_err "--init-expert without --expert" 2 "init-expert needs --expert" $A online --env humanoid --init-expert 0.5 --steps 10 -o "$T/o.rz"
check_err "--init-expert out of range" 2 "init-expert: 1.5 is out of range" $A online --env humanoid --init-expert 1.5 --steps 10 -o "$T/o.rz"
check_err "--fall-steps out of range" 2 "fall-steps: 5000 is out of range" $A online --env humanoid --fall-steps 5000 --steps 10 -o "$T/o.rz"
check_err "--init-fall on a kind without falls" 2 "environment pointmass-maze has no falls" \
  $A online --env pointmass-maze --init-fall 0.5 --fall continue --steps 10 -o "$T/o.rz"
check_err "resume with a changed start rule" 2 "keeps the checkpoint" $A online --resume "$T/refh.rz" --init-fall 0.1 --steps 600 -o "$T/o.rz"
rz-cat --full "$T/refh.rz" | sed 's/"fall":"continue"/"fall":"never"/' | rz-cat --from-json -o "$T/badf.rz"
check_err "an unknown fall rule in the record" 2 "badf.rz: record 1 \(agent_online\): field 'fall'" $A online --resume "$T/badf.rz" --steps 600 -o "$T/o.rz"
rz-cat --full "$T/refh.rz" | sed 's/,"init_fall":0.2//' | rz-cat --from-json -o "$T/badf.rz"
check_err "a version-5 record without init_fall" 2 "badf.rz: record 1 \(agent_online\): field 'init_fall'.*missing" $A online --resume "$T/badf.rz" --steps 600 -o "$T/o.rz"
[ -e "$T/o.rz" ] && fail "no output after bad online input" || ok "no output after bad online input"
