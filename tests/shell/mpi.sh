# mpi.sh — the MPI layer under a real mpirun (2 and 3 ranks): dynamic partition,
# ordered gathers, deterministic reductions. rz-ppl's MPI equality is in ppl.sh.
. "$(dirname "$0")/lib.sh"
for np in 2 3; do
  # under the sanitizer build OpenMPI's own allocations at exit look like leaks to
  # LeakSanitizer; memory errors are still caught (detect_leaks=0 only)
  if ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 mpirun -np $np "$RZ_BUILD/tests/test_cluster" > "$T/out" 2> "$T/err"; then
    n=$(grep -c '^ok - ' "$T/out")
    grep -q "# ranks: $np" "$T/out" && [ "$n" -eq 5 ] && ok "test_cluster under mpirun -np $np ($n cases)" \
      || fail "test_cluster under mpirun -np $np" "$(cat "$T/out")"
  else
    fail "test_cluster under mpirun -np $np" "$(tail -n 5 "$T/out" "$T/err")"
  fi
done
