# outputs.sh — fault injection on output locations: a device node, a FIFO with a reader,
# a directory, a read-only filesystem, SIGKILL mid-write (no temporaries left), the
# named-temporary fallback and its cleanup of dead writers' temporaries.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin
M=$RIZZ_DATA/stories260K.bin Z=$RIZZ_DATA/tok512.bin
printf 'Once upon a time there was a cat. The cat sat on the mat and was happy.\n' > "$T/text.txt"
leftovers() { ls -a "$1" | grep -E "$2" | tr '\n' ' '; }

# 1. a character device (a private /dev/null twin) is written in place, not replaced
if mknod "$T/null" c 1 3 2>/dev/null; then
  check "rz-convert -o CHARDEV succeeds" rz-convert "$M" -o "$T/null"
  if [ -c "$T/null" ]; then ok "a device output stays a device"; else fail "a device output stays a device" "$(ls -l "$T/null")"; fi
  none "no temporary beside the device" "$(leftovers "$T" '^null\.')"
else
  ok "device output # SKIP cannot mknod here (not root?)"
fi

# 2. a FIFO gets the stream, and stays a FIFO
mkfifo "$T/fifo"
timeout 20 rz-cat "$T/fifo" > "$T/fifo.jsonl" 2>"$T/fifo.err" & reader=$!
check "rz-convert -o FIFO succeeds" timeout 20 rz-convert "$M" -o "$T/fifo"
wait $reader; rc=$?
rz-convert "$M" -o "$T/ref.rzm" && rz-cat "$T/ref.rzm" > "$T/ref.jsonl"
if [ $rc -eq 0 ] && cmp -s "$T/fifo.jsonl" "$T/ref.jsonl"; then ok "the FIFO's reader got the whole stream"
else fail "the FIFO's reader got the whole stream" "reader exit $rc: $(head -c 200 "$T/fifo.err")"; fi
if [ -p "$T/fifo" ]; then ok "a FIFO output stays a FIFO"; else fail "a FIFO output stays a FIFO" "$(ls -l "$T/fifo")"; fi

# 3. a directory as output (-o, --report, a tool's own output flag): exit 2 before the work
mkdir "$T/dir"
check_err "-o DIRECTORY → exit 2" 2 "dir.*is a directory" rz-convert "$M" -o "$T/dir"
start=$(date +%s%N)
check_err "--report DIRECTORY → exit 2" 2 "dir.*is a directory" rz-ppl -m "$M" -z "$Z" -f "$T/text.txt" --report "$T/dir"
check_err "rz-finetune --adapters DIRECTORY → exit 2" 2 "dir.*is a directory" \
  rz-finetune -m "$M" -z "$Z" -f "$T/text.txt" --steps 1 --adapters "$T/dir"
check_err "-o in a missing folder → exit 2" 2 "nope/x.rzm.*(folder|No such)" rz-convert "$M" -o "$T/nope/x.rzm"

# 4. read-only filesystem: exit 2 naming the path (needs a mount; skipped where not allowed)
mkdir "$T/ro"
if mount -t tmpfs -o ro,size=1m tmpfs "$T/ro" 2>/dev/null; then
  check_err "-o on a read-only filesystem → exit 2 with the path" 2 "ro/x.rzm.*Read-only" rz-convert "$M" -o "$T/ro/x.rzm"
  check_err "--report on a read-only filesystem → exit 2" 2 "ro/r.rzs.*Read-only" \
    rz-ppl -m "$M" -z "$Z" -f "$T/text.txt" --report "$T/ro/r.rzs"
  umount "$T/ro"
else
  ok "read-only filesystem # SKIP cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)"
fi

# 5. SIGKILL mid-write leaves no temporary (unnamed O_TMPFILE file). big runs in a &
# subshell that execs rz-convert, so $! is its PID. The kill comes as
# soon as a temporary shows up, or after 3 s of writing.
big() { exec rz-convert --random --dim 512 --layers 8 --heads 8 --hidden 1376 --vocab 8000 --seq-len 256 -q -o "$1"; }
kill_mid_write() {
  big "$1" & local pid=$!
  for _ in $(seq 60); do
    ls "$1".* >/dev/null 2>&1 && break
    sleep 0.05
  done
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
}
kill_mid_write "$T/big.rzm"
none "SIGKILL mid-write leaves no temporary" "$(leftovers "$T" '^big\.rzm\.')"

# 6. without O_TMPFILE (RZ_TEST_NO_TMPFILE): named temporaries "OUT.tmp.PID.XXXXXX";
# a dead writer's is removed by the next writer of the same output, a live one's is kept.
: > "$T/m.rzm.tmp.999999999.AbCdEf"      # PID beyond pid_max: never running
: > "$T/m.rzm.tmp.$$.AbCdEf"             # this shell: alive
RZ_TEST_NO_TMPFILE=1 rz-convert "$M" -o "$T/m.rzm"
same "named fallback: a dead writer's temporary is removed, a live one's kept" \
  "$(leftovers "$T" '^m\.rzm\.tmp')" "m.rzm.tmp.$$.AbCdEf "
cmp -s "$T/m.rzm" "$T/ref.rzm" && ok "named fallback writes the same bytes" || fail "named fallback writes the same bytes"
rm -f "$T/m.rzm.tmp.$$.AbCdEf"
# SIGTERM still removes the named temporary and keeps the old output
cp "$T/ref.rzm" "$T/old.rzm"
RZ_TEST_NO_TMPFILE=1 big "$T/old.rzm" & pid=$!
for _ in $(seq 60); do ls "$T"/old.rzm.tmp.* >/dev/null 2>&1 && break; sleep 0.05; done
kill -TERM $pid; wait $pid 2>/dev/null
none "SIGTERM: temporary removed" "$(leftovers "$T" '^old\.rzm\.tmp')"
cmp -s "$T/old.rzm" "$T/ref.rzm" && ok "SIGTERM: the old output is kept" || fail "SIGTERM: the old output is kept"
