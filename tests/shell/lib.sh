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
# same NAME A B : the two strings must be equal.
same() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "'$2' != '$3'"; fi; }
need_data() { [ -r "$RIZZ_DATA/$1" ] || { fail "data $1" "not found in RIZZ_DATA=$RIZZ_DATA"; exit 0; }; }
# json_field NAME < JSON : the first numeric value of "NAME" in a JSON report.
json_field() { grep -o "\"$1\":[-0-9.e+]*" | head -1 | cut -d: -f2; }
