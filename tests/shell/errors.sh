# errors.sh — bad input: each case a clear message naming the culprit, exit status 2,
# and no output file left behind (neither the target nor a temporary).
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data tokenizer.bin
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin
printf 'Once upon a time there was a cat.\n' > "$T/text.txt"
no_output() { if ls "$T" | grep -q "^$1"; then fail "$2: no output left" "$(ls "$T" | grep "^$1")"; else ok "$2: no output left"; fi; }

check_err "missing model file" 2 "nope.bin.*cannot open|nope.bin" rz-ppl -m "$T/nope.bin" -z "$Z" -f "$T/text.txt"
head -c 100000 "$M" > "$T/trunc.bin"
check_err "truncated checkpoint" 2 "trunc.bin.*(expected|bytes)" rz-ppl -m "$T/trunc.bin" -z "$Z" -f "$T/text.txt"
cat "$M" "$Z" > "$T/over.bin"
check_err "oversized checkpoint" 2 "over.bin.*(expected|bytes)" rz-ppl -m "$T/over.bin" -z "$Z" -f "$T/text.txt"
check_err "tokenizer/model vocabulary mismatch" 2 "32000.*512|512.*32000" rz-ppl -m "$M" -z "$RIZZ_DATA/tokenizer.bin" -f "$T/text.txt"
printf 'good start \xff\xfe bad bytes' > "$T/bad.txt"
check_err "non-UTF-8 text" 2 "bad.txt.*UTF-8" rz-ppl -m "$M" -z "$Z" -f "$T/bad.txt"
: > "$T/empty.txt"
check_err "empty text" 2 "empty.txt.*empty" rz-ppl -m "$M" -z "$Z" -f "$T/empty.txt"
check_err "text shorter than one window" 2 "fewer than one window" rz-ppl -m "$M" -z "$Z" -f "$T/text.txt" --ctx 512
check_err "context longer than the model's" 2 "ctx 1024.*512" rz-ppl -m "$M" -z "$Z" -f "$T/text.txt" --ctx 1024 -o "$T/rep1.rzs"
no_output rep1 "failed rz-ppl"

# record streams
rz-convert "$M" -o "$T/m.rzm"
size=$(stat -c %s "$T/m.rzm")
head -c $((size - 30)) "$T/m.rzm" > "$T/noend.rzm"
check_err "stream without its end record" 2 "noend.rzm.*(end record|truncated)" rz-ppl -m "$T/noend.rzm" -z "$Z" -f "$T/text.txt"
cp "$T/m.rzm" "$T/corrupt.rzm"
printf '\xc1\xc1\xc1\xc1' | dd of="$T/corrupt.rzm" bs=1 seek=200 conv=notrunc status=none
check_err "corrupt MessagePack" 2 "corrupt.rzm.*(corrupt|checksum|field)" rz-ppl -m "$T/corrupt.rzm" -z "$Z" -f "$T/text.txt"
check_err "rz-cat on a corrupt stream" 2 "corrupt.rzm" rz-cat "$T/corrupt.rzm"
check_err "rz-convert of a truncated stream" 2 "noend.rzm" rz-convert "$T/noend.rzm" -o "$T/out1.bin"
no_output out1 "failed rz-convert"
check_err "rz-convert of a truncated checkpoint" 2 "trunc.bin" rz-convert "$T/trunc.bin" -o "$T/out2.rzm"
no_output out2 "failed rz-convert"
check_err "output into a missing folder" 2 "cannot create" rz-convert "$M" -o "$T/no/such/dir/m.rzm"
echo '{"type":"model","v":1,"arch":"gpt2"}' | rz-cat --from-json -o "$T/gpt2.rzm"
check_err "unsupported architecture named" 2 "arch.*gpt2" rz-ppl -m "$T/gpt2.rzm" -z "$Z" -f "$T/text.txt"
check_err "JSON that is not a record" 2 "line 1" sh -c "echo '[1,2]' | rz-cat --from-json -o '$T/x.rzs'"
no_output x.rzs "failed rz-cat --from-json"

# a producer killed mid-stream: over a pipe the reader sees EOF without "end"; over
# tcp:// it waits --timeout seconds and then says so. Never a short success. Each kill
# waits for an event (wait_for polls a condition), never for a fixed time.
wait_for() { local i; for i in $(seq 1200); do eval "$1" && return 0; sleep 0.05; done; return 1; }
mkfifo "$T/fifo" "$T/mid"
rz-cat --from-json "$T/fifo" -o - > "$T/mid" &
producer=$!
( rz-cat < "$T/mid" > "$T/pipe.out" 2> "$T/pipe.err"; echo $? > "$T/pipe.rc" ) &
consumer=$!
exec 3> "$T/fifo"
echo '{"type":"note","v":1,"i":1}' >&3
# the producer buffers its pipe output until it ends, so the kill may land before or
# after it has read the line: both are a stream without its end record, same outcome
kill -KILL $producer; exec 3>&-
wait $consumer
same "pipe: killed producer -> exit 2" "2" "$(cat "$T/pipe.rc")"
grep -q "without an end record" "$T/pipe.err" && ok "pipe: killed producer -> message" || fail "pipe: killed producer message" "$(cat "$T/pipe.err")"
rm -f "$T/fifo"; mkfifo "$T/fifo"
exec 3<> "$T/fifo"   # held open read-write so the producer's open never blocks
if bg_listen rz-cat --from-json "$T/fifo" -o "tcp://:@PORT@"; then
  producer=$BG_PID
  ( rz-cat --timeout 2 "tcp://127.0.0.1:$PORT" > "$T/tcp.out" 2> "$T/tcp.err"; echo $? > "$T/tcp.rc" ) &
  consumer=$!
  echo '{"type":"note","v":1,"i":1}' >&3
  wait_for 'grep -q "\"i\":1" "$T/tcp.out"'   # the first record has arrived
  kill -KILL $producer; exec 3>&-
  wait $consumer
  same "tcp: killed producer -> exit 2" "2" "$(cat "$T/tcp.rc")"
  grep -q "no record for 2 s" "$T/tcp.err" && ok "tcp: killed producer -> message after --timeout" || fail "tcp: killed producer message" "$(cat "$T/tcp.err")"
  grep -q '"i":1' "$T/tcp.out" && ok "tcp: records before the kill were delivered" || fail "tcp: delivered records"
else exec 3>&-; fail "tcp: producer listens" "$(head -c 300 "$T/.bg.err")"; fi
# SIGTERM during a file write leaves neither the file nor its temporary: killed once the
# output is open (the write has begun)
rm -f "$T/fifo"; mkfifo "$T/fifo"
rz-cat --from-json "$T/fifo" -o "$T/term.rzs" &
producer=$!
exec 3> "$T/fifo"; echo '{"type":"note","v":1}' >&3
# (the temporary may be unnamed — O_TMPFILE — so look at the writer's open files: one in
# $T other than the FIFO)
wait_for 'ls -l /proc/$producer/fd 2>/dev/null | grep "$T/" | grep -vq "fifo"' || fail "SIGTERM during write: the output is open"
kill -TERM $producer; wait $producer 2>/dev/null; exec 3>&-
no_output term.rzs "SIGTERM during write"

# usage: unknown options and bad values are exit 2 with a hint; --help and --version 0
for t in rz-ppl rz-convert rz-cat rz-generate rz-tokenize rz-calibrate rz-quantize rz-pack rz-lowrank rz-finetune; do
  check_err "$t: unknown option" 2 "Try '$t --help'" $t --no-such-option
  check_status "$t --help" 0 $t --help
  grep -q "Example" "$T/.out" && ok "$t --help has an example" || fail "$t --help has an example"
  check_status "$t --version" 0 $t --version
done
check_err "bad numeric value" 2 "--ctx: expected an integer" rz-ppl -m "$M" -z "$Z" -f "$T/text.txt" --ctx 12x
