# reports.sh — every tool's --json report carries exactly the fields schemas/ lists for
# it (README.md, and the tools with their own schema file: maze.md, serve.md), in that
# order, and its --help names the same ones ("Report fields").
# The three are written separately (a table in the doc, a string in the tool's
# declaration, rz_rec_* calls in its code); this test is what keeps them equal.
. "$(dirname "$0")/lib.sh"
need_data tok512.bin; need_data tinystories-valid.txt
Z=$RIZZ_DATA/tok512.bin F=$RIZZ_DATA/tinystories-valid.txt
command -v jq >/dev/null || { ok "# SKIP jq not installed: report fields not compared"; exit 0; }
SCH=$(dirname "$0")/../../schemas
DOC=$SCH/README.md
DOCS="$DOC $SCH/maze.md $SCH/serve.md"

# doc_fields 'rz-ppl' : the field column of the table under "### `rz-ppl`" (in any of
# $DOCS), one per line
doc_fields() {
  awk -v h="### \`$1\`" '
    $0 == h { on = 1; next }
    on && (/^#/ || FNR == 1) { exit }
    on && /^\| `/ { split($0, c, "`"); print c[2] }' $DOCS
}
# help_fields TOOL... [--codebook-mse] : the "Report fields" list of --help, one per line
# (a tool with two report shapes separates them with "; for --OPTION:")
help_fields() {
  local which=$1; shift
  "$@" --help | awk '
    /^Report fields/ { on = 1; sub(/^[^:]*:/, ""); printf "%s ", $0; next }
    on && /^  / { printf "%s ", $0; next }
    on { exit }' | sed 's/  */ /g' | awk -v w="$which" -F '; for [^:]*: ' '{ print (w == "main" ? $1 : $2) }' |
    tr ',' '\n' | sed 's/^ *//; s/ *$//' | grep -v '^$'
}
# json_fields JSON-FILE : the report's own keys, in order
json_fields() { jq -r 'keys_unsorted[]' "$1" | grep -vx 'type\|v\|tool\|version'; }

# compare NAME JSON-FILE WHICH TOOL-ARGV... : doc == code == help
compare() {
  local name=$1 json=$2 which=$3; shift 3
  doc_fields "$name" > "$T/doc"; json_fields "$json" > "$T/code" 2> "$T/jq.err"; help_fields "$which" "$@" > "$T/help"
  if [ ! -s "$T/doc" ]; then fail "$name: schemas/ has a field table" "no '### \`$name\`' section"
  elif [ ! -s "$T/code" ]; then fail "$name: --json printed a report" "$(head -c 200 "$T/jq.err") $(head -c 200 "$json")"
  elif ! diff -u "$T/doc" "$T/code" > "$T/d1"; then fail "$name: --json keys = schemas/README.md" "$(tr '\n' ' ' < "$T/d1" | head -c 400)"
  elif ! diff -u "$T/doc" "$T/help" > "$T/d2"; then fail "$name: --help's report fields = schemas/README.md" "$(tr '\n' ' ' < "$T/d2" | head -c 400)"
  else ok "$name: report fields agree ($(wc -l < "$T/doc" | tr -d ' ') fields: doc, --help, --json)"; fi
  echo "$name" >> "$T/compared"
}

# a tiny random model with tok512's vocabulary: every run below takes well under a second
M=$T/m.rzm
rz-convert --random --dim 32 --layers 1 --heads 2 --hidden 64 --vocab 512 --seq-len 64 -o "$M" -q
rz-ppl -q -m "$M" -z "$Z" -f "$F" --max-tokens 512 --json > "$T/ppl.json"
compare rz-ppl "$T/ppl.json" main rz-ppl
rz-generate -q -m "$M" -z "$Z" -n 16 --temp 0 --json > "$T/gen.json"
compare rz-generate "$T/gen.json" main rz-generate
rz-calibrate -q -m "$M" -z "$Z" -f "$F" -c 32 -n 4 -o "$T/h.rzs" --json > "$T/cal.json"
compare rz-calibrate "$T/cal.json" main rz-calibrate
rz-quantize -q -m "$M" -H "$T/h.rzs" --method ldlq --bits 4 -o "$T/q.rzs" --json > "$T/quant.json"
compare rz-quantize "$T/quant.json" main rz-quantize
rz-quantize -q --codebook-mse e8p --samples 4096 --json > "$T/cb.json"
compare "rz-quantize --codebook-mse" "$T/cb.json" other rz-quantize
rz-lowrank -q -m "$M" -H "$T/h.rzs" --rank 2 --outer 1 --inner 1 -o "$T/lr.q" --json > "$T/lr.json"
compare rz-lowrank "$T/lr.json" main rz-lowrank
rz-pack -q -m "$M" "$T/q.rzs" -o "$T/p.rzm" --json > "$T/pack.json"
compare rz-pack "$T/pack.json" main rz-pack
rz-finetune -q -m "$M" -z "$Z" -f "$F" --max-tokens 2000 --steps 1 --ctx 16 --batch 2 --rank 2 -o "$T/t.rzm" --json > "$T/ft.json"
compare rz-finetune "$T/ft.json" main rz-finetune
rz-agent collect -q --env fourrooms --policy random --steps 300 -o "$T/d.rz" --json > "$T/col.json"
compare "rz-agent collect" "$T/col.json" main rz-agent collect
rz-agent data -q -d "$T/d.rz" --subsample 100 -o "$T/d100.rz" --json > "$T/data.json"
compare "rz-agent data" "$T/data.json" main rz-agent data
small="--zdim 8 --hidden 16 --batch 16"
rz-agent train -q --algo fb -d "$T/d.rz" --steps 5 $small -o "$T/a.rz" --json > "$T/train.json"
compare "rz-agent train" "$T/train.json" main rz-agent train
rz-agent eval -q -a "$T/a.rz" --tasks rewards --episodes 1 --json > "$T/eval.json"
compare "rz-agent eval" "$T/eval.json" main rz-agent eval
rz-agent sweep -q --env fourrooms --seeds 1 --steps 5 --data random:300 --algos fb --tasks rewards --episodes 1 \
  $small -o "$T/runs.tsv" --json > "$T/sweep.json"
compare "rz-agent sweep" "$T/sweep.json" main rz-agent sweep
rz-agent expert -q --trajectories 3 -o "$T/ex.rz" --json > "$T/expert.json"
compare "rz-agent expert" "$T/expert.json" main rz-agent expert
rz-agent online -q --env pointmass-maze --cpr --expert "$T/ex.rz" --steps 40 --seed-steps 20 --envs 1 --hidden 8 --zdim 4 \
  --batch 8 --disc-hidden 8 --seq-length 2 -o "$T/on.rz" --json > "$T/online.json"
compare "rz-agent online" "$T/online.json" main rz-agent online
rz-agent track -q --expert "$T/ex.rz" "$T/on.rz" --json > "$T/track.json"
compare "rz-agent track" "$T/track.json" main rz-agent track
rz-maze gen -q -n 3 --count 4 -o "$T/mz.rz" --json > "$T/mzgen.json"
compare "rz-maze gen" "$T/mzgen.json" main rz-maze gen
rz-maze train -q --objective next --dim 8 --layers 1 --heads 2 --batch 2 --steps 1 --warmup 0 \
  --eval "$T/mz.rz" -o "$T/mz.ck" "$T/mz.rz" --json > "$T/mztrain.json"
compare "rz-maze train" "$T/mztrain.json" main rz-maze train
rz-maze eval -q -m "$T/mz.ck" "$T/mz.rz" --json > "$T/mzeval.json"
compare "rz-maze eval" "$T/mzeval.json" main rz-maze eval
if [ -r /usr/share/mujoco/model/humanoid/humanoid.xml ]; then
  rz-agent keyframes -q --hold 0 -o "$T/kf.rz" "$(dirname "$0")/../../pipeline/motions/crouch.kf" --json > "$T/kf.json"
  compare "rz-agent keyframes" "$T/kf.json" main rz-agent keyframes
else
  ok "rz-agent keyframes # SKIP the humanoid model (libmujoco-samples) is absent"; echo "rz-agent keyframes" >> "$T/compared"
fi
# rz-serve reports when it exits: here after --timeout seconds without a request
rz-serve -q -m "$M" -z "$Z" -e "ipc://$T/serve" -t 1 --timeout 0.3 --json > "$T/serve.json"
compare rz-serve "$T/serve.json" main rz-serve

# every field table in the docs belongs to a tool compared above, and a tool without a
# table has no "Report fields" in its --help (rz-icl: one declaration for six commands
# with six report shapes, listed in schemas/icl.md as prose and compared in icl.sh)
cat $DOCS | grep '^### `rz-' | sed 's/^### `//; s/`$//' | sort > "$T/doc_tools"
sort "$T/compared" > "$T/compared_sorted"
none "every report table in schemas/ is checked" "$(comm -23 "$T/doc_tools" "$T/compared_sorted" | tr '\n' ' ')"
for t in rz-convert rz-tokenize rz-cat rz-icl; do
  if $t --help | grep -q '^Report fields'; then fail "$t: --help lists report fields but the tool has no report"
  else ok "$t: no report, none listed"; fi
done
