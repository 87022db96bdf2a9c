# cli.sh — the command-line conventions every tool shares (pipeline/cli.h): --help,
# --man and --version answer with exit 0, an unknown flag is a usage error (exit 2), and
# the free text of each help (usage lines, descriptions, the tool's own examples) names
# only flags that the tool declares, so a usage text cannot drift from the parser.
. "$(dirname "$0")/lib.sh"

# declared CMD... : the long options the help lists as option lines, one per line
declared() {
  "$@" --help | sed -nE 's/^  (-[[:alnum:]], )?--([a-z][a-z0-9-]*).*/\2/p; s/^      --([a-z][a-z0-9-]*).*/\1/p' | sort -u
}
# mentioned NAME CMD... : long options named in the help's text before "Examples:" and in
# the example commands of the tool itself (pipeline segments starting with NAME)
mentioned() {
  local name=$1; shift
  "$@" --help | awk -v name="$name" '
    /^Common options:/ { exit }
    /^Examples?:/ { ex = 1; next }
    !ex { print; next }
    { n = split($0, seg, /[|;&]+/)
      for (i = 1; i <= n; i++) { s = seg[i]; sub(/^ +/, "", s); if (index(s, name " ") == 1) print s } }' |
    grep -oE -- '--[a-z][a-z0-9-]*' | sed 's/^--//' | sort -u
}

for t in rz-ppl rz-generate rz-convert rz-tokenize rz-cat rz-calibrate rz-quantize rz-pack rz-lowrank rz-finetune rz-serve rz-icl \
         "rz-agent collect" "rz-agent train" "rz-agent eval" "rz-agent sweep" "rz-agent keyframes" "rz-maze gen" "rz-maze train" "rz-maze eval"; do
  set -- $t
  check "$t --help" "$@" --help
  "$@" --man > "$T/man" 2>&1 && grep -q '^SYNOPSIS' "$T/man" && grep -q '^COMMON OPTIONS' "$T/man" &&
    ok "$t --man" || fail "$t --man" "$(head -c 200 "$T/man")"
  "$@" --version 2>&1 | grep -q "^$t (rizz) " && ok "$t --version" || fail "$t --version"
  check_err "$t --no-such-flag: exit 2" 2 "Try '$t --help'" "$@" --no-such-flag
  declared "$@" > "$T/declared"
  mentioned "$1" "$@" > "$T/mentioned"
  none "$t: every flag its help text names is declared" "$(comm -23 "$T/mentioned" "$T/declared" | tr '\n' ' ')"
done
# the common options are declared once, for every tool
for t in rz-ppl rz-cat "rz-agent eval"; do
  set -- $t
  declared "$@" > "$T/declared"
  same "$t has the common options" "help json man output quiet report seed threads timeout version" \
    "$(grep -xE 'help|json|man|output|quiet|report|seed|threads|timeout|version' "$T/declared" | tr '\n' ' ' | sed 's/ $//')"
done
check "rz-agent --help" rz-agent --help
check "rz-maze --help" rz-maze --help
check_status "rz-maze with no command: exit 2" 2 rz-maze
check_status "rz-agent with no subcommand: exit 2" 2 rz-agent
