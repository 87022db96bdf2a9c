# deps.sh — `make demo` / `make check` / `make test` on a machine without the Debian
# packages: the package check (and install) must run BEFORE anything compiles.
#
# Simulation: the real GNUmakefile drives a two-file project in a scratch folder whose
# library source includes a header ("fakedep.h") that exists only after "installing".
# DEPS_INC points the package check at an empty include folder and SUDO at a fake
# installer that creates the headers there (apt-get is never run). If any compile
# starts before the install, it fails on the missing header, and the log shows the order.
# (A real fresh-machine run is a Debian 12 chroot; see the README's quick start.)
. "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v make >/dev/null || { ok "deps: # SKIP no make"; exit 0; }

mkproj() {
  local d=$1
  mkdir -p "$d/schemas" "$d/tools/rz-x" "$d/pipeline" "$d/tests" "$d/inc"
  cp "$repo/GNUmakefile" "$d/"
  printf '#include "fakedep.h"\nint rz_fake(void) { return FAKEDEP; }\n' > "$d/schemas/fake.c"
  printf 'int rz_fake(void);\nint main(void) { return rz_fake() - 42; }\n' > "$d/tools/rz-x/main.c"
  printf '#!/bin/sh\necho "demo ran"; bin/rz-x\n' > "$d/pipeline/demo.sh"
  printf '#!/bin/sh\necho "1 passed, 0 failed"\n' > "$d/tests/run"
  chmod +x "$d/pipeline/demo.sh" "$d/tests/run"
  # the fake "sudo": logs the apt-get call; "install" creates every header checked for
  cat > "$d/fake-sudo" <<EOF
#!/bin/sh
echo "FAKE-APT \$*"
case "\$*" in *" install "*)
  mkdir -p "$d/inc/mujoco"
  for h in zmq.h msgpack.h lapacke.h cblas.h mpi.h mujoco/mujoco.h; do : > "$d/inc/\$h"; done
  mkdir -p "$d/share/mujoco/model/humanoid"; : > "$d/share/mujoco/model/humanoid/humanoid.xml"
  echo '#define FAKEDEP 42' > "$d/inc/fakedep.h";;
esac
EOF
  chmod +x "$d/fake-sudo"
}

for target in demo test check; do
  d=$T/$target; mkproj "$d"
  # -j2: the failure reported on a fresh machine came with parallel make too
  make -C "$d" -j2 --no-print-directory "$target" DEPS_INC="$d/inc" DEPS_SHARE="$d/share" SUDO="$d/fake-sudo" \
       EXTRA_CFLAGS="-I$d/inc" OPT=-O0 WARN= > "$d/log" 2>&1
  rc=$?
  first_cc=$(grep -n '^CC ' "$d/log" | head -1 | cut -d: -f1)
  install=$(grep -n 'apt-get install ' "$d/log" | head -1 | cut -d: -f1)
  if [ "$rc" -eq 0 ] && [ -n "$install" ] && [ -n "$first_cc" ] && [ "$install" -lt "$first_cc" ]; then
    ok "make $target on a machine without the packages: install (line $install) before the first compile (line $first_cc)"
  else
    fail "make $target on a machine without the packages" "rc $rc, install line ${install:-none}, first CC line ${first_cc:-none}: $(head -c 600 "$d/log")"
  fi
done
# demo ran the demo script after the build
grep -q "demo ran" "$T/demo/log" && ok "make demo ran the demo after installing and building" \
  || fail "make demo ran the demo" "$(tail -c 300 "$T/demo/log")"
# and with everything present nothing is installed
d=$T/present; mkproj "$d"; "$d/fake-sudo" x install y >/dev/null
make -C "$d" --no-print-directory demo DEPS_INC="$d/inc" DEPS_SHARE="$d/share" SUDO="$d/fake-sudo" EXTRA_CFLAGS="-I$d/inc" OPT=-O0 WARN= > "$d/log" 2>&1
if [ $? -eq 0 ] && ! grep -q FAKE-APT "$d/log"; then ok "make demo with the packages present installs nothing"
else fail "make demo with the packages present installs nothing" "$(head -c 400 "$d/log")"; fi
# .ci/run runs exactly the README's quick-start commands, and no `make deps`
readme=$(sed -n '/^## Quick start/,/^## /p' "$repo/README.md" | sed -n '/^```sh/,/^```/p' | grep '^make' | sed 's/ *#.*//')
ci=$(grep -E '^[[:space:]]*make' "$repo/.ci/run" | sed 's/^[[:space:]]*//; s/ *#.*//')
same ".ci/run runs exactly the README's commands" "$ci" "$readme"
