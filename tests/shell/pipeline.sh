# pipeline.sh — the pipeline conventions of every tool (pipeline/cli.h): record input
# defaults to stdin and record output to stdout, records are never written to (or read
# from) a terminal, and the pipelines the README shows work exactly as written.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data tinystories-valid.txt
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin F=$RIZZ_DATA/tinystories-valid.txt
N=2048 # 4 windows of 512: quick, and the same tokens on both sides of each comparison

# Text through rz-tokenize's stdin/stdout into rz-ppl --tokens -: the perplexity must be
# the one rz-ppl computes when it tokenises the file itself (a different code path:
# rz_corpus_from_text instead of a "tokens" stream).
rz-convert "$M" -o "$T/s.rzm"
check "rz-convert m.bin -o s.rzm" test -s "$T/s.rzm"
base=$(rz-ppl -q -m "$T/s.rzm" -z "$Z" -f "$F" --max-tokens $N --json | json_field ppl)
[ -n "$base" ] && ok "rz-ppl on the text file ($base)" || fail "rz-ppl on the text file"
got=$(rz-tokenize -q -z "$Z" < "$F" | rz-ppl -q -m "$T/s.rzm" --tokens - --max-tokens $N --json | json_field ppl)
same "rz-tokenize -z TOK < text | rz-ppl -m s.rzm --tokens -" "$base" "$got"
# without -f and --tokens, rz-ppl reads the text (with -z) or the tokens (without) on stdin
same "rz-ppl -z TOK < text" "$base" "$(rz-ppl -q -m "$T/s.rzm" -z "$Z" --max-tokens $N --json < "$F" | json_field ppl)"
same "rz-tokenize | rz-ppl (tokens on stdin)" "$base" \
  "$(rz-tokenize -q -z "$Z" -f "$F" | rz-ppl -q -m "$T/s.rzm" --max-tokens $N --json | json_field ppl)"

# rz-finetune likewise: one step's loss from text on stdin = from a token stream on stdin
# = from -f FILE (where the text is tokenised in-process)
ft="--max-tokens 3000 --steps 1 --ctx 16 --batch 2 --rank 2 --json"
l0=$(rz-finetune -q -m "$T/s.rzm" -z "$Z" -f "$F" $ft -o "$T/ft0.rzm" | json_field loss_first)
[ -n "$l0" ] && ok "rz-finetune -f FILE ($l0)" || fail "rz-finetune -f FILE"
same "rz-finetune -z TOK < text" "$l0" "$(rz-finetune -q -m "$T/s.rzm" -z "$Z" $ft -o "$T/ft1.rzm" < "$F" | json_field loss_first)"
same "rz-tokenize | rz-finetune" "$l0" \
  "$(rz-tokenize -q -z "$Z" < "$F" | rz-finetune -q -m "$T/s.rzm" $ft -o "$T/ft2.rzm" | json_field loss_first)"

# rz-convert to stdout: the same bytes as to a file; rz-cat reads stdin by default.
rz-convert "$M" > "$T/stdout.rzm"
check "rz-convert m.bin > FILE equals -o FILE" cmp "$T/stdout.rzm" "$T/s.rzm"
rz-convert < "$T/s.rzm" > "$T/again.rzm"
check "rz-convert < s.rzm > FILE (input from stdin)" cmp "$T/again.rzm" "$T/s.rzm"
# stories260K: 5 layers; records = model + tok_embeddings + 9 per layer + norm (shared
# classifier: no output.weight) = 1 + 1 + 45 + 1 = 48, the first (the model) unnamed.
if command -v jq >/dev/null; then
  rz-convert "$M" | rz-cat | jq -c .name > "$T/names" 2> "$T/jq.err"
  same "rz-convert m.bin | rz-cat | jq -c .name: 48 records" 48 "$(wc -l < "$T/names" | tr -d ' ')"
  same "... the model record first (no name), then tok_embeddings" 'null "tok_embeddings.weight"' \
    "$(head -2 "$T/names" | tr '\n' ' ' | sed 's/ $//')"
  same "... norm.weight last" '"norm.weight"' "$(tail -1 "$T/names")"
else
  ok "# SKIP jq not installed: rz-convert | rz-cat | jq not run"
fi

# --json and records cannot share stdout
check_err "--json with records on stdout is refused" 2 "share stdout" rz-agent collect --env fourrooms --steps 10 --json

# A terminal on stdout (or on stdin, for record input): exit 2 with a hint. script(1)
# gives the command a pseudo-terminal; -e returns the command's status.
if command -v script >/dev/null && script -qec true /dev/null >/dev/null 2>&1; then
  tty_run() { script -qec "$1" /dev/null < /dev/null > "$T/tty.out" 2>&1; }
  tty_run "rz-convert '$M'"; rc=$?
  [ $rc -eq 2 ] && grep -q "refusing to write records to a terminal; use -o FILE or a pipe" "$T/tty.out" \
    && ok "rz-convert to a terminal: exit 2 with a hint" || fail "rz-convert to a terminal" "exit $rc: $(head -c 200 "$T/tty.out")"
  tty_run "rz-tokenize -z '$Z' -f '$F'"; rc=$?
  [ $rc -eq 2 ] && grep -q "refusing to write records to a terminal" "$T/tty.out" \
    && ok "rz-tokenize to a terminal: exit 2" || fail "rz-tokenize to a terminal" "exit $rc: $(head -c 200 "$T/tty.out")"
  tty_run "rz-convert '$M' -o - --to rzm"; rc=$?
  [ $rc -eq 2 ] && ok "rz-convert -o - to a terminal: exit 2" || fail "rz-convert -o - to a terminal" "exit $rc"
  tty_run "rz-cat"; rc=$?
  [ $rc -eq 2 ] && grep -q "refusing to read stream records from a terminal" "$T/tty.out" \
    && ok "rz-cat with a terminal on stdin: exit 2" || fail "rz-cat with a terminal on stdin" "exit $rc: $(head -c 200 "$T/tty.out")"
  tty_run "rz-convert '$M' -o '$T/tty.rzm'"; rc=$?
  [ $rc -eq 0 ] && cmp -s "$T/tty.rzm" "$T/s.rzm" && ok "rz-convert -o FILE from a terminal still works" \
    || fail "rz-convert -o FILE from a terminal" "exit $rc"
else
  ok "# SKIP no pseudo-terminal (script -qec failed): terminal refusal not checked"
fi
