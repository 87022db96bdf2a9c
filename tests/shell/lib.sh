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
need_data() { [ -r "$RIZZ_DATA/$1" ] || { fail "data $1" "not found in RIZZ_DATA=$RIZZ_DATA"; exit 0; }; }
# json_field NAME < JSON : the first numeric value of "NAME" in a JSON report.
json_field() { grep -o "\"$1\":[-0-9.e+]*" | head -1 | cut -d: -f2; }
