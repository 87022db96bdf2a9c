# fbcpr.sh — rz-agent online / expert / track end to end on tiny budgets: point-mass
# expert data, online FB-CPR and FB, bit-identical resume through checkpoint files, the
# online checkpoint read by eval and track, 1 and 2 environment workers writing the same
# checkpoint, JSON reports, observation normalisation and rollout zs from the buffer of
# training zs (resume byte for byte; version-3 and -4 checkpoints resume with the defaults
# of what they lack),
# and bad expert data / corrupted
# checkpoints exiting 2 with a message naming the file and field.
. "$(dirname "$0")/lib.sh"
A=rz-agent
tiny="--hidden 32 --zdim 8 --batch 32 --disc-hidden 32 --seed-steps 200 --envs 2 -q"

check "online help" $A online --help
grep -q "Example" "$T/.out" && ok "online help has an example" || fail "online help has an example"
check "expert" $A expert --env pointmass-maze --trajectories 20 --seed 1 --json -o "$T/ex.rz"
grep -q '"reached":20' "$T/.out" && ok "every planned trajectory reaches its goal" || fail "every planned trajectory reaches its goal" "$(cat "$T/.out")"
check "held-out expert" $A expert --trajectories 4 --seed 9 -o "$T/held.rz" -q
check "online fbcpr" $A online --env pointmass-maze --cpr --expert "$T/ex.rz" --steps 600 $tiny --json -o "$T/cpr.rz"
for f in env_steps updates disc_loss grad_penalty critic_loss q_fb updates_per_s; do
  v=$(json_field $f < "$T/.out"); is_num "$v" && ok "online report $f" || fail "online report $f" "'$v'"
done
check "online fbcpr on 2 environment workers" $A online --env pointmass-maze --cpr --expert "$T/ex.rz" --steps 600 $tiny -t 2 -o "$T/cpr2.rz"
cmp -s "$T/cpr2.rz" "$T/cpr.rz" && ok "2 workers write the 1-worker checkpoint byte for byte" || fail "2 workers write the 1-worker checkpoint byte for byte"
check "online fb" $A online --env pointmass-maze --steps 600 $tiny -o "$T/fb.rz"
check "online half" $A online --env pointmass-maze --cpr --expert "$T/ex.rz" --steps 300 $tiny -o "$T/half.rz"
check "online resume" $A online --resume "$T/half.rz" --steps 600 -q -o "$T/full.rz"
cmp -s "$T/full.rz" "$T/cpr.rz" && ok "resume reproduces the uncut run byte for byte" || fail "resume reproduces the uncut run byte for byte"
check "eval reads an online checkpoint" $A eval -a "$T/cpr.rz" --tasks goals --episodes 2 -q
check "track" $A track --expert "$T/held.rz" --dims 2 --json "$T/cpr.rz" "$T/fb.rz"
v=$(json_field iqm < "$T/.out"); is_num "$v" && ok "track report iqm" || fail "track report iqm" "'$v'"
for f in random_iqm upright_iqm still_upright; do
  v=$(json_field $f < "$T/.out"); is_num "$v" && ok "track report $f" || fail "track report $f" "'$v'"
done
check "eval --random (the floor)" $A eval -a "$T/cpr.rz" --random --tasks goals --episodes 2 --json
v=$(json_field goal_success < "$T/.out"); is_num "$v" && ok "random floor goal_success" || fail "random floor goal_success" "'$v'"
check "eval --goal-z labels" $A eval -a "$T/cpr.rz" --goal-z labels --tasks goals --episodes 2 -q
check_err "eval --goal-z of an unknown kind" 2 "expected goal or labels" $A eval -a "$T/cpr.rz" --goal-z pose -q

check_err "--cpr without --expert" 2 "needs --expert" $A online --env pointmass-maze --cpr --steps 10 -o "$T/x.rz"
check_err "resume with a changed option" 2 "keeps the checkpoint" $A online --resume "$T/half.rz" --reg 1 --steps 600 -o "$T/x.rz"
check_err "discrete environment" 2 "continuous" $A online --env fourrooms --steps 10 -o "$T/x.rz"
check_err "an offline-only flag" 2 "mix does not apply to online" $A online --env pointmass-maze --mix 0.3 --steps 10 -o "$T/x.rz"
# hand-made expert streams: the real header with a changed state size / one NaN state
hdr=$(rz-cat "$T/ex.rz" | head -1 | sed 's/"trajectories":[0-9]*/"trajectories":1/; s/"steps":[0-9]*/"steps":2/')
mkx() { printf '%s\n{"type":"agent_traj","v":1,"name":"x","n":2,"s":{"$bin":"%s"}}\n' "$1" "$2" | rz-cat --from-json -o "$T/$3"; }
good='mpkZvpqZGT4AAAAAAAAAAJqZGb6amRk+AAAAAAAAAAA='  # two states (−0.15, 0.15, 0, 0): rest in the top-left room
mkx "$hdr" "$good" good.rz
check "hand-made expert accepted" $A track --expert "$T/good.rz" --window 1 "$T/fb.rz" -q
mkx "$(printf '%s' "$hdr" | sed 's/"state_dim":4/"state_dim":3/')" "$good" dim3.rz
check_err "expert of the wrong state size" 2 "dim3.rz.*state_dim.*4 floats" $A online --env pointmass-maze --cpr --expert "$T/dim3.rz" --steps 10 -o "$T/x.rz"
mkx "$hdr" 'AADAf5qZGT4AAAAAAAAAAJqZGb6amRk+AAAAAAAAAAA=' nan.rz
check_err "NaN expert state" 2 "nan.rz: record 1 \(agent_traj\): field 's'.*not finite" $A online --env pointmass-maze --cpr --expert "$T/nan.rz" --steps 10 -o "$T/x.rz"
check_err "a checkpoint as expert data" 2 "fb.rz: not an expert stream \(first record is agent, expected agent_expert\)" $A online --env pointmass-maze --cpr --expert "$T/fb.rz" --steps 10 -o "$T/x.rz"
# corrupted checkpoints: a replay array renamed away, a truncated file
rz-cat --full "$T/half.rz" | sed 's/"name":"replay.S2"/"name":"replay.Sx"/' | rz-cat --from-json -o "$T/bad.rz"
check_err "checkpoint without its replay array" 2 "bad.rz: tensor 'replay.S2' is missing" $A online --resume "$T/bad.rz" --steps 600 -o "$T/x.rz"
rz-cat --full "$T/half.rz" | sed 's/"name":"replay.done"/"name":"replay.dx"/' | rz-cat --from-json -o "$T/bad.rz"
check_err "checkpoint without its terminal flags" 2 "bad.rz: tensor 'replay.done' is missing" $A online --resume "$T/bad.rz" --steps 600 -o "$T/x.rz"
# a version-1 checkpoint (no terminal flags: falls bootstrapped) is refused, not resumed
rz-cat --full "$T/half.rz" | sed 's/"type":"agent_online","v":5/"type":"agent_online","v":1/' | rz-cat --from-json -o "$T/v1.rz"
check_err "version-1 online checkpoint" 2 "v1.rz: record 1 \\(agent_online\\).*version 1" $A online --resume "$T/v1.rz" --steps 600 -o "$T/x.rz"
# a version-2 checkpoint (one RNG for every environment) is refused by resume; eval still reads its agent
rz-cat --full "$T/half.rz" | sed 's/"type":"agent_online","v":5/"type":"agent_online","v":2/' | rz-cat --from-json -o "$T/v2.rz"
check_err "version-2 online checkpoint" 2 "v2.rz: record 1 \\(agent_online\\).*version 2" $A online --resume "$T/v2.rz" --steps 600 -o "$T/x.rz"
check "eval reads a version-2 online checkpoint's agent" $A eval -a "$T/v2.rz" --tasks goals --episodes 2 -q
# observation normalisation (on by default: the reference's) and rollout zs from recent training zs
check "online with the reference's rollout zs" $A online --env pointmass-maze --cpr --expert "$T/ex.rz" --steps 600 $tiny --rollout-z buffer --z-buffer 500 -o "$T/buf.rz"
rz-cat --full "$T/buf.rz" | grep -q '"norm_obs":1' && ok "the agent header records norm_obs" || fail "the agent header records norm_obs"
rz-cat --full "$T/buf.rz" | grep -q '"name":"online.zbuf"' && ok "the checkpoint holds the z buffer" || fail "the checkpoint holds the z buffer"
check "online half, rollout zs from the buffer" $A online --env pointmass-maze --cpr --expert "$T/ex.rz" --steps 300 $tiny --rollout-z buffer --z-buffer 500 -o "$T/bufh.rz"
check "resume with the z buffer" $A online --resume "$T/bufh.rz" --steps 600 -q -o "$T/buff.rz"
cmp -s "$T/buff.rz" "$T/buf.rz" && ok "resume with normalisation and the z buffer is byte for byte" || fail "resume with normalisation and the z buffer is byte for byte"
check_err "an unknown rollout-z rule" 2 "rollout-z 'goal': expected mixture, buffer or sphere" $A online --env pointmass-maze --rollout-z goal --steps 10 -o "$T/x.rz"
check_err "a z buffer over the size bound" 2 "buffer of 16777216 rollout zs of 64 floats needs more than 1 GiB" $A online --env pointmass-maze --rollout-z buffer --z-buffer 16777216 --zdim 64 --hidden 32 --batch 32 --steps 10 -o "$T/x.rz"
# a version-4 checkpoint (before the fall and start rules) resumes with their defaults
rz-cat --full "$T/half.rz" | sed 's/"type":"agent_online","v":5/"type":"agent_online","v":4/; s/,"fall":"end"//; s/,"init_expert":[^,]*//; s/,"init_fall":[^,]*//; s/,"fall_steps":[0-9]*//' | rz-cat --from-json -o "$T/v4.rz"
rz-cat --full "$T/v4.rz" | grep -q '"fall"\|init_expert\|init_fall\|fall_steps' && fail "the version-4 file lacks the new fields" || ok "the version-4 file lacks the new fields"
check "resume a version-4 checkpoint" $A online --resume "$T/v4.rz" --steps 600 -q -o "$T/v4f.rz"
cmp -s "$T/v4f.rz" "$T/cpr.rz" && ok "a version-4 checkpoint resumes as the uncut run" || fail "a version-4 checkpoint resumes as the uncut run"
# a version-3 checkpoint (before normalisation and rollout rules) resumes with their defaults
check "online without normalisation" $A online --env pointmass-maze --cpr --expert "$T/ex.rz" --steps 600 $tiny --norm-obs 0 -o "$T/nn.rz"
check "online half without normalisation" $A online --env pointmass-maze --cpr --expert "$T/ex.rz" --steps 300 $tiny --norm-obs 0 -o "$T/nnh.rz"
rz-cat --full "$T/nnh.rz" | sed 's/"type":"agent_online","v":5/"type":"agent_online","v":3/; s/,"norm_momentum":[^,]*//; s/,"rollout_z":"mixture"//; s/,"z_buffer":[0-9]*//; s/,"norm_obs":0//; s/,"fall":"end"//; s/,"init_expert":[^,]*//; s/,"init_fall":[^,]*//; s/,"fall_steps":[0-9]*//' | rz-cat --from-json -o "$T/v3.rz"
rz-cat --full "$T/v3.rz" | grep -q 'norm_momentum\|rollout_z\|norm_obs\|init_fall' && fail "the version-3 file lacks the new fields" || ok "the version-3 file lacks the new fields"
check "resume a version-3 checkpoint" $A online --resume "$T/v3.rz" --steps 600 -q -o "$T/v3f.rz"
cmp -s "$T/v3f.rz" "$T/nn.rz" && ok "a version-3 checkpoint resumes as the uncut run" || fail "a version-3 checkpoint resumes as the uncut run"
rz-cat --full "$T/buf.rz" | sed 's/"rollout_z":"buffer"/"rollout_z":"recent"/' | rz-cat --from-json -o "$T/bad.rz"
check_err "an unknown rollout_z in the record" 2 "bad.rz: record 1 \\(agent_online\\): field 'rollout_z'" $A online --resume "$T/bad.rz" --steps 900 -o "$T/x.rz"
rz-cat --full "$T/buf.rz" | sed 's/"name":"obs_norm"/"name":"obs_nrm"/' | rz-cat --from-json -o "$T/bad.rz"
check_err "checkpoint without its observation statistics" 2 "bad.rz: tensor 'obs_norm' is missing" $A eval -a "$T/bad.rz" --tasks goals --episodes 2 -q
rz-cat --full "$T/buf.rz" | sed 's/"name":"online.zbuf"/"name":"online.zbx"/' | rz-cat --from-json -o "$T/bad.rz"
check_err "checkpoint without its z buffer" 2 "bad.rz: tensor 'online.zbuf' is missing" $A online --resume "$T/bad.rz" --steps 900 -o "$T/x.rz"
head -c 5000 "$T/half.rz" > "$T/trunc.rz"
check_status "truncated checkpoint" 2 $A online --resume "$T/trunc.rz" --steps 600 -o "$T/x.rz"
[ -e "$T/x.rz" ] && fail "nothing written on failure" || ok "nothing written on failure"
