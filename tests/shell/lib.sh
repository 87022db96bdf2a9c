# lib.sh — helpers for rizz's shell tests (sourced, not run).
#
# Each check prints one TAP line. Programs are in $RZ_BIN; shared data in $RIZZ_DATA.
# A scratch folder $T is made per test file and removed at exit.
set -u
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
PATH="$RZ_BIN:$PATH"
ok()   { echo "ok - $1"; }
fail() { echo "not ok - $1${2:+: $2}"; }
# check NAME CMD... : the command must succeed.
check() { local n=$1; shift; if "$@" >"$T/.out" 2>"$T/.err"; then ok "$n"; else fail "$n" "exit $? from: $* ($(tail -c 300 "$T/.err"))"; fi; }
# check_status NAME STATUS CMD... : exit status must be STATUS; stderr kept in $T/.err.
check_status() {
  local n=$1 want=$2; shift 2
  "$@" >"$T/.out" 2>"$T/.err"; local rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$n"; else fail "$n" "exit $rc, expected $want from: $* ($(tail -c 300 "$T/.err"))"; fi
}
# check_err NAME STATUS REGEX CMD... : exit STATUS and stderr matching REGEX.
check_err() {
  local n=$1 want=$2 re=$3; shift 3
  "$@" >"$T/.out" 2>"$T/.err"; local rc=$?
  if [ "$rc" -eq "$want" ] && grep -Eq -- "$re" "$T/.err"; then ok "$n"
  else fail "$n" "exit $rc (want $want), stderr: $(head -c 300 "$T/.err") (want /$re/)"; fi
}
# is_num V : V is one finite decimal number (what json_field and printf %f print).
is_num() { [[ $1 =~ ^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]]; }
# same NAME A B : the two strings must be equal, and a real value: neither empty, not the
# md5sum of empty output, and a number-like value (only the characters json_field
# collects) must be a whole number — so two failed extractions never compare equal.
same() {
  local v
  for v in "$2" "$3"; do
    if [ -z "$v" ]; then fail "$1" "empty value ('$2' vs '$3')"; return; fi
    if [ "$v" = "d41d8cd98f00b204e9800998ecf8427e  -" ]; then fail "$1" "md5sum of empty output"; return; fi
    if [[ $v =~ ^[-+0-9.eE]+$ ]] && ! is_num "$v"; then fail "$1" "'$v' is not a number"; return; fi
  done
  if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "'$2' != '$3'"; fi
}
# none NAME VALUE : VALUE must be empty (e.g. the list of things missing); what `same NAME
# "" VALUE` used to express — same now refuses empty values.
none() { if [ -z "$2" ]; then ok "$1"; else fail "$1" "expected nothing, got '$2'"; fi; }
need_data() { [ -r "$RIZZ_DATA/$1" ] || { fail "data $1" "not found in RIZZ_DATA=$RIZZ_DATA"; exit 0; }; }
# json_field NAME < JSON : the first numeric value of "NAME" in a JSON report.
json_field() { grep -o "\"$1\":[-0-9.e+]*" | head -1 | cut -d: -f2; }

# ---- TCP ports without races: pick, bind, and retry on collision ----------------------
# listen_addrs PORT : the local addresses listening on TCP PORT (IPv4, dotted; IPv6 as
# the kernel's hex), one a line, read from /proc/net/tcp{,6} (state 0A = LISTEN).
listen_addrs() {
  local hex; hex=$(printf '%04X' "$1")
  awk -v h="$hex" 'function x(s) { return 16 * (index("0123456789ABCDEF", substr(s, 1, 1)) - 1) + index("0123456789ABCDEF", substr(s, 2, 1)) - 1 }
    FNR > 1 && $4 == "0A" { split($2, a, ":"); if (a[2] != h) next
    if (length(a[1]) == 8) printf "%d.%d.%d.%d\n", x(substr(a[1], 7, 2)), x(substr(a[1], 5, 2)), x(substr(a[1], 3, 2)), x(substr(a[1], 1, 2))
    else print a[1] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# free_port : a TCP port nobody listens on, below the kernel's ephemeral range (outgoing
# connections never take those), drawn at random so parallel suites rarely collide.
free_port() {
  local lo p i; lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$lo" -gt 11000 ] || lo=32768
  for i in $(seq 50); do
    p=$((10000 + RANDOM % (lo - 10000)))
    [ -z "$(listen_addrs $p)" ] && { echo $p; return 0; }
  done
  return 1
}
# bg_listen CMD... : runs CMD in the background with every "@PORT@" in its arguments
# replaced by a free port, and returns once that port is listening (an event, not a
# sleep: it polls /proc until the socket appears or CMD exits). If another process took
# the port first (bind fails: "in use"), it retries with a new port, up to 5 times.
# Sets PORT and BG_PID; CMD's stderr is in $T/.bg.err. Returns 1 if CMD never listened.
bg_listen() {
  local try i p a args
  for try in 1 2 3 4 5; do
    p=$(free_port) || return 1
    args=(); for a in "$@"; do args+=("${a//@PORT@/$p}"); done
    "${args[@]}" 2> "$T/.bg.err" &
    BG_PID=$!
    for i in $(seq 1200); do   # up to ~60 s for a slow (sanitizer) start
      [ -n "$(listen_addrs $p)" ] && { PORT=$p; return 0; }
      kill -0 $BG_PID 2>/dev/null || break
      sleep 0.05
    done
    kill $BG_PID 2>/dev/null; wait $BG_PID 2>/dev/null
    grep -qi "in use" "$T/.bg.err" || return 1
  done
  return 1
}

# mpi NP CMD... : CMD under mpirun with NP ranks. Under the sanitizer build OpenMPI's own
# allocations at exit look like leaks to LeakSanitizer: memory errors are still caught
# (detect_leaks=0 only), so MPI paths are exercised in both builds.
mpi() { local np=$1; shift; ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 mpirun -np "$np" "$@"; }
