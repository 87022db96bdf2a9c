#!/usr/bin/env bash
# demo.sh — the main job on the default model: perplexity of Karpathy's stories260K on
# TinyStories validation text (raw, and in the one-newline paragraph format the model
# was trained on), greedy generation, and a look inside the model as a record stream.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${RIZZ_DATA:-../shared/data}
for f in stories260K.bin tok512.bin tinystories-valid.txt; do
  if [ ! -r "$D/$f" ]; then
    echo "demo: $D/$f not found. Set RIZZ_DATA to the folder holding the data files;" >&2
    echo "      README.md ('Data') says where to download them." >&2
    exit 2
  fi
done
out=${RZ_OUT:-build/demo}; mkdir -p "$out"
echo "== rz-convert: llama2.c checkpoint -> .rzm record stream"
bin/rz-convert "$D/stories260K.bin" -o "$out/stories260K.rzm"
bin/rz-cat "$out/stories260K.rzm" > "$out/stories260K.jsonl"
head -2 "$out/stories260K.jsonl" | cut -c1-160
echo "== rz-ppl: TinyStories validation text as-is (paragraphs separated by blank lines)"
bin/rz-ppl -m "$out/stories260K.rzm" -z "$D/tok512.bin" -f "$D/tinystories-valid.txt" -q
echo "== rz-ppl: the same text with paragraphs joined by one newline (training format)"
awk 'BEGIN{RS="\n\n"; ORS="\n"} {print}' "$D/tinystories-valid.txt" > "$out/valid-oneline.txt"
bin/rz-ppl -m "$out/stories260K.rzm" -z "$D/tok512.bin" -f "$out/valid-oneline.txt" -q
echo "== rz-generate: greedy from BOS (llama2.c 'run -t 0' prints the same text)"
bin/rz-generate -m "$out/stories260K.rzm" -z "$D/tok512.bin" --temp 0 -q | tee "$out/greedy.txt"
if cmp -s "$out/greedy.txt" "$D/stories260K.greedy256.txt"; then echo "(identical to llama2.c's output)"; else echo "(DIFFERS from llama2.c's output)"; exit 1; fi
