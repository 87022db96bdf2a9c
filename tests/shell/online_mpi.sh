# online_mpi.sh — rz-agent online under mpirun: the environments split over ranks, the
# update replicated. The checkpoint (networks, optimisers, replay buffer, RNGs) and the
# JSON report (minus its timing fields) of a small point-mass FB-CPR run are byte for
# byte those of a plain run under -np 1, 2 and 3; a plain run's checkpoint resumed under
# -np 2 equals the uncut run; ranks given different inputs, or more ranks than
# environments, exit 2 with a message naming them. The expected bytes come from the plain
# run, whose own determinism (resume, threads) fbcpr.sh checks.
. "$(dirname "$0")/lib.sh"
command -v mpirun >/dev/null || { ok "online under mpirun # SKIP no mpirun"; exit 0; }
# OpenMPI's own allocations at exit look like leaks to LeakSanitizer (see mpi.sh)
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
A=rz-agent
n=2000; h=1000; [ -n "${RZ_SANITIZED:-}" ] && n=800 h=400
$A expert --env pointmass-maze --trajectories 20 --seed 1 -q -o "$T/ex.rz"
$A expert --env pointmass-maze --trajectories 20 --seed 2 -q -o "$T/ex2.rz"
R="online --env pointmass-maze --cpr --expert $T/ex.rz --hidden 32 --zdim 8 --batch 32 --disc-hidden 32 --seed-steps 200 --envs 4 -t 1 --seed 3"
# the report without its timing fields (seconds and the rates derived from them)
untimed() { sed -E 's/"(seconds|env_steps_per_s|updates_per_s)":[^,}]*[,]?//g' "$1"; }

check "plain run" $A $R --steps $n --json -o "$T/plain.rz"
cp "$T/.out" "$T/plain.json"
v=$(json_field updates < "$T/plain.json"); is_num "$v" && [ "$v" -gt 0 ] && ok "the plain run updated ($v updates)" \
  || fail "the plain run updated" "'$v'"
for np in 1 2 3; do
  mpirun -np $np $A $R --steps $n --json -o "$T/mpi$np.rz" > "$T/mpi$np.json" 2> "$T/mpi$np.err" \
    && ok "mpirun -np $np runs" || fail "mpirun -np $np runs" "$(tail -c 400 "$T/mpi$np.err")"
  cmp -s "$T/plain.rz" "$T/mpi$np.rz" && ok "-np $np writes the plain run's checkpoint byte for byte" \
    || fail "-np $np writes the plain run's checkpoint byte for byte"
  same "-np $np prints the plain run's report (timing aside)" "$(untimed "$T/plain.json" | md5sum)" "$(untimed "$T/mpi$np.json" | md5sum)"
  [ "$(grep -c '"env_steps"' "$T/mpi$np.json")" = 1 ] && ok "-np $np: one report (rank 0's)" || fail "-np $np: one report (rank 0's)" "$(cat "$T/mpi$np.json")"
done
# resume: the first half plain, the rest under -np 2 (and a checkpoint written mid-run by rank 0)
$A $R --steps $h -q -o "$T/half.rz"
mpirun -np 2 $A online --resume "$T/half.rz" --steps $n -q -t 1 -o "$T/res2.rz" 2> "$T/res.err" \
  && ok "resume under -np 2" || fail "resume under -np 2" "$(tail -c 400 "$T/res.err")"
cmp -s "$T/plain.rz" "$T/res2.rz" && ok "a plain checkpoint resumed under -np 2 = the uncut run" \
  || fail "a plain checkpoint resumed under -np 2 = the uncut run"
mpirun -np 3 $A $R --steps $n --checkpoint-every $h -q -o "$T/ck3.rz" 2> "$T/ck.err"
cmp -s "$T/plain.rz" "$T/ck3.rz" && ok "-np 3 with --checkpoint-every = the plain run" \
  || fail "-np 3 with --checkpoint-every = the plain run" "$(tail -c 400 "$T/ck.err")"
# bad input
check_err "ranks given different expert files → exit 2 naming --expert and rank 1" 2 \
  "rank 0 has --expert [^ ]*ex\.rz .*rank 1 has --expert [^ ]*ex2\.rz" \
  mpirun -np 1 $A $R --steps 300 -q -o "$T/x.rz" : -np 1 $A ${R/ex.rz/ex2.rz} --steps 300 -q -o "$T/x.rz"
[ -e "$T/x.rz" ] && fail "no checkpoint after disagreeing ranks" || ok "no checkpoint after disagreeing ranks"
check_err "ranks given different -t → exit 2 naming the BLAS threads" 2 "rank 1 has -t 2 \(BLAS threads\)" \
  mpirun -np 1 $A $R --steps 300 -q -o "$T/x.rz" : -np 1 $A ${R/-t 1/-t 2} --steps 300 -q -o "$T/x.rz"
check_err "more ranks than environments → exit 2" 2 "3 MPI ranks but 2 environments" \
  mpirun -np 3 $A ${R/--envs 4/--envs 2} --steps 300 -q -o "$T/x.rz"
[ -e "$T/x.rz" ] && fail "no checkpoint after too many ranks" || ok "no checkpoint after too many ranks"
check_err "an expert stream on stdin under mpirun → exit 2" 2 "every rank reads the expert stream: give a file" \
  mpirun -np 2 $A ${R/$T\/ex.rz/-} --steps 300 -q -o "$T/x.rz"
# the replicated update needs the same bits on every rank: rank 1 on another OpenBLAS
# kernel (SSE-only Nehalem; sums in another order) drifts, and the state digests compared
# at the end of the run catch it (exit 1, no checkpoint). If that kernel happens to give
# the same bits, the run must equal the plain one.
if [ "$(uname -m)" = x86_64 ]; then
  mpirun -np 1 $A $R --steps $n -q -o "$T/k.rz" : -np 1 -x OPENBLAS_CORETYPE=Nehalem $A $R --steps $n -q -o "$T/k.rz" > "$T/k.err" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    cmp -s "$T/plain.rz" "$T/k.rz" && ok "ranks on two BLAS kernels # SKIP the kernels gave the same bits" \
      || fail "ranks on two BLAS kernels drifted silently"
  else
    [ $rc -eq 1 ] && grep -q "the ranks' copies of the run differ after $n environment steps.*rank 1 has state digest" "$T/k.err" \
      && [ ! -e "$T/k.rz" ] && ok "ranks on two BLAS kernels: the drift is an error (exit 1, no checkpoint)" \
      || fail "ranks on two BLAS kernels: the drift is an error" "exit $rc: $(head -c 300 "$T/k.err")"
  fi
fi
