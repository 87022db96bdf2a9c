# layers.sh — the include structure: every #include points down the layers, no two
# modules include each other (directly or through others), library header basenames are
# unique and shadow no system header. The checker then runs on scratch copies of the
# tree with a deliberate upward include, a cycle and a duplicate header, and must flag
# each (so the check itself can fail).
#
# Layers, lowest first (a file may include its own layer or below):
#   0 schemas/   1 cluster/, pipeline/   2 tools/core/util/   3 quant/   4 lm/   5 train/
#   6 rl/   any other tools/core/<domain>/: one above the highest layer it includes
#   (computed; domains that include each other can get no layer and are reported)
#   top: tools/rz-*/ (a tool includes the library and its own folder, never another
#   tool's folder). tests/ and bench/ are consumers: they may include anything.
# An include "name.h" resolves as the compiler does: the including file's folder first,
# then the library folders (all on the include path); anything else is a system header.
# Cycles are between modules (x.c + x.h are one module): llama.c → qlinear.h →
# qlayer.h → llama.h is the cycle llama → qlinear → qlayer → llama.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# check_tree DIR: prints one line per violation ("upward: …", "cycle: …", "basename: …",
# "shadow: …", "domain: …"), nothing when the tree is clean; the number of resolved
# include lines goes to $T/.edges.
check_tree() (
  cd "$1" || exit 1
  lib_dirs="schemas pipeline cluster $(ls -d tools/core/*/ 2>/dev/null | sed 's|/$||')"
  files=$(for d in $lib_dirs tools/rz-*; do ls "$d"/*.[ch] 2>/dev/null; done)
  for f in $(for d in $lib_dirs; do ls "$d"/*.h 2>/dev/null; done); do
    b=$(basename "$f")
    for s in /usr/include /usr/include/x86_64-linux-gnu; do
      [ -e "$s/$b" ] && echo "shadow: $f hides the system header $s/$b"; done
  done
  # one awk pass: resolve every quoted include, rank the folders, report upward edges;
  # the resolved edges go to $T/.edge_list for the cycle search
  { printf 'LIB %s\n' $lib_dirs; printf 'FILE %s\n' $files
    grep -H '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' $files; } | awk -v edges="$T/.edge_list" '
    function dirname(p) { return p ~ /\// ? substr(p, 1, match(p, /\/[^\/]*$/) - 1) : "." }
    function basename(p) { sub(/.*\//, "", p); return p }
    function norm(p,   n, i, k, part, out) {
      n = split(p, part, "/"); k = 0
      for (i = 1; i <= n; i++) {
        if (part[i] == "." || part[i] == "") continue
        if (part[i] == ".." && k > 0) { k--; continue }
        st[++k] = part[i]
      }
      out = st[1]; for (i = 2; i <= k; i++) out = out "/" st[i]
      return out
    }
    $1 == "LIB" { islib[$2] = 1; next }
    $1 == "FILE" {
      exists[$2] = 1; d = dirname($2)
      if (d in islib) {
        b = basename($2)
        if (b in lib) print "basename: " b " is both " lib[b] " and " $2; else lib[b] = $2
      }
      next
    }
    {
      f = substr($0, 1, index($0, ":") - 1)
      inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*/, "", inc)
      to = norm(dirname(f) "/" inc)
      if (!(to in exists)) { if (inc !~ /\// && (inc in lib)) to = lib[inc]; else next }
      if (to == f) next
      ne++; ef[ne] = f; et[ne] = to
    }
    END {
      rank["schemas"] = 0; rank["cluster"] = 1; rank["pipeline"] = 1; rank["tools/core/util"] = 2
      rank["tools/core/quant"] = 3; rank["tools/core/lm"] = 4; rank["tools/core/train"] = 5; rank["tools/core/rl"] = 6
      for (d in islib) if (!(d in rank)) other[d] = 1
      # other core domains: one above the highest layer they include (at least quant),
      # to a fixpoint; if they include each other it never settles
      for (it = 0; it < 64; it++) {
        changed = 0
        for (d in other) {
          r = 3
          for (i = 1; i <= ne; i++) {
            fd = dirname(ef[i]); td = dirname(et[i])
            if (fd == d && td != d && (td in rank) && rank[td] + 1 > r) r = rank[td] + 1
          }
          if (!(d in rank) || rank[d] != r) { rank[d] = r; changed = 1 }
        }
        if (!changed) break
      }
      if (changed) { s = ""; for (d in other) s = s " " d; print "domain: the layers of" s " do not settle (they include each other)" }
      for (i = 1; i <= ne; i++) {
        print ef[i], et[i] > edges
        fd = dirname(ef[i]); td = dirname(et[i])
        if (fd ~ /^tools\/rz-/) {
          if (td ~ /^tools\/rz-/ && td != fd) print "upward: " ef[i] " includes " et[i] ", a header of another tool"
          continue
        }
        tl = td ~ /^tools\/rz-/ ? 100 : rank[td]
        if (tl > rank[fd]) print "upward: " ef[i] " (layer " fd ") includes " et[i] " (layer " td ", higher)"
      }
      print ne > (edges ".n")
    }'
  cp "$T/.edge_list.n" "$T/.edges"
  # cycles between modules (x.c and x.h are one module); tsort names each loop
  sed 's/\.[ch]\( \|$\)/\1/g' "$T/.edge_list" | awk '$1 != $2' | tsort 2>&1 >/dev/null |
    sed -n 's/^tsort: -: input contains a loop:$/cycle:/p; s/^tsort: \(.*\)$/  \1/p' |
    awk '/^cycle:/ { if (c) print c; c = "cycle:"; next } { sub(/^ +/, ""); c = c " " $0 } END { if (c) print c }'
)

out=$(check_tree "$ROOT")
edges=$(cat "$T/.edges")
for kind in upward cycle basename shadow domain; do
  bad=$(printf '%s\n' "$out" | grep "^$kind:")
  if [ -z "$bad" ]; then ok "no $kind violations in the tree ($edges project includes)"
  else printf '%s\n' "$bad" | while read -r line; do fail "$line"; done; fi
done
[ "$edges" -gt 100 ] && ok "the checker resolved the includes ($edges > 100)" || fail "only $edges includes resolved"

# The checker must catch each kind of violation: scratch copies with one planted each.
copy() { rm -rf "$T/tree"; mkdir -p "$T/tree"; (cd "$ROOT" && find schemas pipeline cluster tools -name '*.[ch]' -print0 | xargs -0 cp --parents -t "$T/tree"); }
copy; sed -i '0,/#include "rz.h"/s//#include "rz.h"\n#include "llama.h"/' "$T/tree/schemas/record.h"
check_tree "$T/tree" | grep -q '^upward: schemas/record.h (layer schemas) includes tools/core/lm/llama.h' &&
  ok "a planted upward include (schemas/record.h → llama.h) is reported" || fail "planted upward include not reported"
copy; sed -i '0,/#include "rz.h"/s//#include "rz.h"\n#include "caldera.h"/' "$T/tree/tools/core/quant/rht.h"
check_tree "$T/tree" | grep -Eq '^cycle:.*tools/core/quant/(rht|caldera)' &&
  ok "a planted cycle (rht.h → caldera.h → rht.h) is reported" || fail "planted cycle not reported"
copy; cp "$T/tree/tools/core/util/linalg.h" "$T/tree/tools/core/rl/linalg.h"
check_tree "$T/tree" | grep -q '^basename: linalg.h' &&
  ok "a duplicate header basename is reported" || fail "duplicate basename not reported"
copy; mkdir -p "$T/tree/tools/core/newdom"; printf '#include "fb.h"\n' > "$T/tree/tools/core/newdom/x.c"
printf '#include "x.h"\n' > "$T/tree/tools/core/newdom/x.h"; printf '#include "x.h"\n' >> "$T/tree/tools/core/lm/rope.c"
check_tree "$T/tree" | grep -q '^upward: tools/core/lm/rope.c (layer tools/core/lm) includes tools/core/newdom/x.h' &&
  ok "a new domain sits above what it includes (lm → newdom → rl is upward)" || fail "new-domain layer not enforced"
copy; printf '#include "../rz-agent/rzagent.h"\n' >> "$T/tree/tools/rz-pack/main.c"
check_tree "$T/tree" | grep -q '^upward: tools/rz-pack/main.c includes tools/rz-agent/rzagent.h' &&
  ok "a tool including another tool's header is reported" || fail "tool-to-tool include not reported"
