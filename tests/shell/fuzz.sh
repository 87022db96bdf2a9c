# fuzz.sh — short libFuzzer runs of the parsers (record streams, model checkpoints,
# tokenizer files, GGUF and safetensors files, JSON lines, rz-agent datasets, checkpoints, expert streams and online checkpoints,
# keyframe motions, rz-serve requests, rz-agent iqm's table lines, rz-lowrank --curves reports), seeded with valid
# inputs made by the tools. Runs when RZ_FUZZ_DIR names the built targets (make check
# sets it); prints nothing otherwise.
# tests/run timeout: 600 (14 fuzzers × RZ_FUZZ_SECONDS, ~235 s in CI under ASan's build; the default 300 is too near)
. "$(dirname "$0")/lib.sh"
[ -n "${RZ_FUZZ_DIR:-}" ] || exit 0
secs=${RZ_FUZZ_SECONDS:-15}
for d in stream checkpoint tokenizer json agent serve maze gguf safetensors kvline expert online keyframe rank_curves; do mkdir -p "$T/$d"; done
rz-convert --random --dim 16 --layers 1 --heads 2 --hidden 24 --vocab 40 --seq-len 8 -o "$T/stream/m.rzm"
rz-convert --random --dim 16 --layers 1 --heads 2 --kv-heads 1 --hidden 24 --vocab 40 --seq-len 8 --unshared -o "$T/checkpoint/m.bin"
cp "$T/stream/m.rzm" "$T/checkpoint/"
echo '{"type":"tokens","v":1,"n":2,"vocab_size":40,"ids":{"$bin":"AQAAAAIAAAA="}}' > "$T/json/t.json"
rz-cat --from-json "$T/json/t.json" -o "$T/stream/t.rzs"
# a qlayer v3 record (2 x 2 rtn 8-bit with fp16 line scales out_scale, in_scale), by hand
echo '{"type":"qlayer","v":3,"name":"layers.0.attention.wq.weight","rows":2,"cols":2,"pcols":2,"method":"rtn","bits":8,"group":0,"incoherent":false,"seed_u":0,"seed_v":0,"model_hash":0,"loss":0.0,"rel_loss":0.0,"codes":{"$bin":"AQIDBA=="},"scales":{"$bin":"AACAPwAAAD8="},"zeros":{"$bin":"AAE="},"out_scale":{"$bin":"ADwAOA=="},"in_scale":{"$bin":"ADwAQA=="}}' > "$T/json/q3.json"
rz-cat --from-json "$T/json/q3.json" -o "$T/stream/q3.rzs"
rz-cat --full "$T/stream/m.rzm" | head -3 | while read -r line; do echo "$line" > "$T/json/$RANDOM.json"; done
rz-agent collect --env fourrooms --steps 40 -q -o "$T/agent/d.rz"
rz-agent collect --env pointmass-maze --steps 20 -q -o "$T/agent/pm.rz"
rz-agent train --algo vcfb -d "$T/agent/d.rz" --steps 2 --zdim 4 --hidden 8 --batch 4 --labels 8 -q -o "$T/agent/a.rz"
# FB-CPR: an expert stream, and an online checkpoint with every kind of tensor
rz-agent expert --env pointmass-maze --trajectories 3 -q -o "$T/expert/e.rz"
rz-agent online --env pointmass-maze --cpr --expert "$T/expert/e.rz" --steps 40 --seed-steps 20 --envs 1 --hidden 8 \
  --zdim 4 --batch 8 --disc-hidden 8 --seq-length 2 --buffer 64 --labels 8 --rollout-z buffer --z-buffer 16 --fall continue --init-expert 0.5 -q -o "$T/online/o.rz"
rz-maze gen -n 3 --count 4 -q -o "$T/maze/g.rz"
# rz-lowrank --curves: a report's curves (3 matrices, the target's model hash), by hand
echo '{"type":"report","v":1,"tool":"rz-lowrank","layers":3,"objective":"kl","model_hash":"0123456789abcdef","curves":[[[0,0.9],[2,0.5],[4,0.25]],[[0,1.5],[8,0.1]],[[0,2],[2,1],[4,0.5],[8,0.2]]]}' > "$T/rank_curves/report.json"
cp "$(dirname "$0")"/../../pipeline/motions/*.kf "$T/keyframe/"
# an expert stream: the humanoid's crouch as tracked (when libmujoco-samples is installed)
[ -r /usr/share/mujoco/model/humanoid/humanoid.xml ] &&
  rz-agent keyframes -q --hold 0 -o "$T/expert/crouch.rz" "$(dirname "$0")"/../../pipeline/motions/crouch.kf
rz-maze train --objective mlmu --dim 8 --layers 1 --heads 2 --steps 1 --batch 2 -q -o "$T/maze/c.rz" "$T/maze/g.rz"
{ printf '\000'; cat "$T/maze/g.rz"; } > "$T/maze/seed-set"
{ printf '\003'; cat "$T/maze/c.rz"; } > "$T/maze/seed-ckpt"
rz-maze train --objective mlmu --keys visible --dim 8 --layers 1 --heads 2 --steps 1 --batch 2 -q -o "$T/maze/v.rz" "$T/maze/g.rz"
{ printf '\001'; cat "$T/maze/v.rz"; } > "$T/maze/seed-ckpt-keys"
rz-maze train --objective mlmu --arch past --dim 8 --layers 1 --heads 2 --steps 1 --batch 2 -q -o "$T/maze/p.rz" "$T/maze/g.rz"
{ printf '\003'; cat "$T/maze/p.rz"; } > "$T/maze/seed-ckpt-past"
rm -f "$T/maze/g.rz" "$T/maze/c.rz" "$T/maze/v.rz" "$T/maze/p.rz"
if [ -r "$RIZZ_DATA/tok512.bin" ]; then
  { cat "$RIZZ_DATA/tok512.bin"; head -c 6227 "$RIZZ_DATA/tinystories-valid.txt"; } > "$T/tokenizer/seed"
fi
# rz-serve requests, MessagePack by hand: {"id":1,"op":"count","text":"t"} and
# {"id":1,"op":"score","context":"a","continuations":["b"]}
printf '\x83\xa2id\x01\xa2op\xa5count\xa4text\xa1t' > "$T/serve/count"
printf '\x84\xa2id\x01\xa2op\xa5score\xa7context\xa1a\xadcontinuations\x91\xa1b' > "$T/serve/score"
# GGUF: the header of llama.cpp's file (metadata, tokenizer and tensor table, 14 KB), and
# a whole small model written by rz-convert (q8_0, so all three tensor types occur)
[ -r "$RIZZ_DATA/stories260K-f32.gguf" ] && head -c 65536 "$RIZZ_DATA/stories260K-f32.gguf" > "$T/gguf/head"
if [ -r "$RIZZ_DATA/tok512.bin" ]; then
  rz-convert --random --dim 32 --layers 1 --heads 2 --kv-heads 1 --hidden 40 --vocab 512 --seq-len 8 -o "$T/g.bin"
  rz-convert -q "$T/g.bin" -z "$RIZZ_DATA/tok512.bin" --dtype q8_0 -o "$T/gguf/small.gguf"
fi
# safetensors: a tiny HF folder's weights and tokenizer.json (tests/shell/hf_build.py)
if [ -r "$RIZZ_DATA/tok512.bin" ]; then
  python3 "$(dirname "$0")/hf_build.py" "$T/checkpoint/m.bin" "$RIZZ_DATA/tok512.bin" "$T/hfs"
  cp "$T/hfs/model.safetensors" "$T/hfs/tokenizer.json" "$T/safetensors/"
fi
# rz-agent iqm's KEY<TAB>VALUE lines
printf 'n1000\tfb\tbest\tgoal_success\t0.25\n' > "$T/kvline/line"
printf 'k\tnan\r\n' > "$T/kvline/nan"
# every target in tests/fuzz runs here: one missing from the list above is a failure
for src in "$(dirname "$0")"/../fuzz/fuzz_*.c; do
  d=$(basename "$src" .c); d=${d#fuzz_}
  [ -d "$T/$d" ] || fail "fuzz_$d" "tests/fuzz/fuzz_$d.c has no seed folder in fuzz.sh: add it to the lists"
done
for d in stream checkpoint tokenizer json agent serve maze gguf safetensors kvline expert online keyframe rank_curves; do
  f="$RZ_FUZZ_DIR/fuzz_$d"
  [ -x "$f" ] || { fail "fuzz_$d" "not built in $RZ_FUZZ_DIR"; continue; }
  # -timeout is wall time per input: the slowest seeds take ~0.4 s alone under ASan, and
  # 10 s was passed by expert/online/checkpoint inputs on a machine loaded 3x its cores
  # (reran alone: 0.4 s); 30 s still catches a hang within the run's budget
  if TMPDIR="$T" "$f" -max_total_time="$secs" -rss_limit_mb=4096 -max_len=65536 -timeout=30 -artifact_prefix="$T/" \
       "$T/$d" > "$T/fuzz.log" 2>&1; then
    ok "fuzz_$d: $(grep -o 'Done [0-9]* runs' "$T/fuzz.log" | tail -1) in ${secs}s, no crash"
  else
    fail "fuzz_$d" "$(grep -E 'ERROR|SUMMARY|Test unit' "$T/fuzz.log" | head -5)"
  fi
done
