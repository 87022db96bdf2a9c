# zmq.sh — record streams over ZeroMQ: the loopback-only default of tcp://:PORT (a
# security promise, checked on the bound address), the star host, bind:/connect:
# swapping (a reader that binds, a writer that connects) over tcp:// and ipc://, and
# high-water-mark back-pressure (a stopped reader makes the writer wait; nothing lost).
# Ports come from bg_listen (free port, wait for the listening socket, retry if taken).
. "$(dirname "$0")/lib.sh"

# 40 small records, and the JSON every transport must deliver (the file path's own)
for i in $(seq 40); do echo "{\"type\":\"note\",\"v\":1,\"i\":$i,\"s\":\"r$i\"}"; done > "$T/n.json"
rz-cat --from-json "$T/n.json" -o "$T/n.rzs" && rz-cat "$T/n.rzs" > "$T/want.json"
[ "$(grep -c '"type":"note"' "$T/want.json")" -eq 40 ] && ok "reference stream (40 records)" || fail "reference stream"

# writer binds (the default for writers) on tcp://:PORT -> 127.0.0.1 only
if bg_listen rz-cat --timeout 30 --from-json "$T/n.json" -o "tcp://:@PORT@"; then
  addrs=$(listen_addrs $PORT | sort -u | tr '\n' ' ')
  same "tcp://:PORT listens on loopback only" "127.0.0.1 " "$addrs"
  rz-cat --timeout 30 "tcp://127.0.0.1:$PORT" > "$T/got1.json" 2> "$T/r1.err"; rc=$?
  wait $BG_PID; wrc=$?
  [ $rc -eq 0 ] && [ $wrc -eq 0 ] && cmp -s "$T/got1.json" "$T/want.json" && ok "tcp: reader connects, every record arrives" \
    || fail "tcp: reader connects" "reader $rc, writer $wrc: $(head -c 300 "$T/r1.err")"
else fail "tcp://:PORT writer listens" "$(head -c 300 "$T/.bg.err")"; fi

# the star host written out listens on every interface
if bg_listen rz-cat --timeout 30 --from-json "$T/n.json" -o "tcp://*:@PORT@"; then
  addrs=$(listen_addrs $PORT | sort -u | tr '\n' ' ')
  same "tcp://*:PORT listens on every interface" "0.0.0.0 " "$addrs"
  rz-cat --timeout 30 --count "tcp://127.0.0.1:$PORT" > /dev/null 2>&1; wait $BG_PID
else fail "tcp://*:PORT writer listens" "$(head -c 300 "$T/.bg.err")"; fi

# swapped sides: the reader binds (bind:), the writer connects (connect:)
if bg_listen rz-cat --timeout 30 "bind:tcp://:@PORT@" > "$T/got2.json"; then
  rpid=$BG_PID
  same "a binding reader listens on loopback only" "127.0.0.1 " "$(listen_addrs $PORT | sort -u | tr '\n' ' ')"
  rz-cat --timeout 30 --from-json "$T/n.json" -o "connect:tcp://127.0.0.1:$PORT" 2> "$T/w2.err"; wrc=$?
  wait $rpid; rc=$?
  [ $rc -eq 0 ] && [ $wrc -eq 0 ] && cmp -s "$T/got2.json" "$T/want.json" && ok "tcp: binding reader + connecting writer, every record" \
    || fail "tcp: swapped sides" "reader $rc, writer $wrc: $(head -c 300 "$T/w2.err")"
else fail "binding reader listens" "$(head -c 300 "$T/.bg.err")"; fi

# a connecting writer with no reader at all: it must not queue the records and exit 0 at
# close having dropped them (ZeroMQ's default for connect), but fail after its timeout
port=$(free_port)
t0=$(date +%s)
rz-cat --timeout 2 --from-json "$T/n.json" -o "connect:tcp://127.0.0.1:$port" 2> "$T/w4.err"; wrc=$?
t1=$(date +%s)
[ $wrc -eq 2 ] && grep -q "no reader" "$T/w4.err" && [ $((t1 - t0)) -lt 20 ] \
  && ok "connecting writer with no reader: exit 2 after its timeout, nothing claimed delivered" \
  || fail "connecting writer with no reader" "exit $wrc after $((t1 - t0)) s: $(head -c 300 "$T/w4.err")"

# the same over ipc://: the socket file appears when the reader has bound (waited for)
rz-cat --timeout 30 "bind:ipc://$T/s.ipc" > "$T/got3.json" 2> "$T/r3.err" &
rpid=$!
for i in $(seq 1200); do [ -S "$T/s.ipc" ] && break; kill -0 $rpid 2>/dev/null || break; sleep 0.05; done
rz-cat --timeout 30 --from-json "$T/n.json" -o "connect:ipc://$T/s.ipc" 2> "$T/w3.err"; wrc=$?
wait $rpid; rc=$?
[ $rc -eq 0 ] && [ $wrc -eq 0 ] && cmp -s "$T/got3.json" "$T/want.json" && ok "ipc: binding reader + connecting writer, every record" \
  || fail "ipc: swapped sides" "reader $rc, writer $wrc: $(head -c 300 "$T/r3.err" "$T/w3.err")"

# High-water mark: 480 records of 64 KiB (30 MiB), fed to the writer one line at a time
# through a FIFO by a generator that notes how many lines it has handed over, to a reader
# stopped with SIGSTOP right after its first record. Queues hold 64 records on each side
# (stream.h) plus the kernel's loopback socket buffers (tcp_rmem + tcp_wmem maxima, ~10
# MiB = 160 records by default), so a writer that respects the mark stops taking lines
# near 300 and the generator can never finish while the reader is stopped; after SIGCONT
# every record arrives, in order.
b=$(head -c 65536 /dev/zero | base64 -w0)
N=480
mkfifo "$T/big.fifo"
( for i in $(seq $N); do printf '{"type":"blob","v":1,"i":%d,"d":{"$bin":"%s"}}\n' $i "$b"; echo $i > "$T/gen.n"; done ) > "$T/big.fifo" &
gpid=$!
if bg_listen rz-cat --timeout 60 --from-json "$T/big.fifo" -o "tcp://:@PORT@"; then
  wpid=$BG_PID
  rz-cat --timeout 60 "tcp://127.0.0.1:$PORT" > "$T/big.out" 2> "$T/big.err" &
  rpid=$!
  # stop the reader as soon as its first record is out (an event: the output grows)
  for i in $(seq 1200); do [ -s "$T/big.out" ] && break; kill -0 $rpid 2>/dev/null || break; sleep 0.05; done
  kill -STOP $rpid
  # wait for an event: either the generator finishes (the writer took everything: no
  # back-pressure) or its count stops moving for a full second below N (the writer waits)
  prev=-1; verdict=""
  for i in $(seq 120); do
    sleep 0.5
    kill -0 $gpid 2>/dev/null || { verdict=done; break; }
    cur=$(cat "$T/gen.n" 2>/dev/null); [ -n "$cur" ] || continue   # mid-rewrite: look again
    if [ $((i % 2)) -eq 0 ]; then [ "$cur" = "$prev" ] && { verdict=stalled; break; }; prev=$cur; fi
  done
  [ "$verdict" = stalled ] && kill -0 $wpid 2>/dev/null && ok "a stopped reader makes the writer wait (HWM): it took $cur of $N records" \
    || fail "HWM back-pressure" "${verdict:-still moving}: the writer took $(cat "$T/gen.n" 2>/dev/null) of $N records while the reader was stopped"
  kill -CONT $rpid
  wait $rpid; rc=$?; wait $wpid; wrc=$?
  n=$(grep -o '"i":[0-9]*' "$T/big.out" | cut -d: -f2 | tr '\n' ' ')
  [ $rc -eq 0 ] && [ $wrc -eq 0 ] && [ "$n" = "$(seq $N | tr '\n' ' ')" ] && ok "after the pause: all $N records, in order" \
    || fail "nothing lost under back-pressure" "reader $rc, writer $wrc, $(wc -w <<< "$n") records"
else fail "big writer listens" "$(head -c 300 "$T/.bg.err")"; fi
wait $gpid 2>/dev/null
