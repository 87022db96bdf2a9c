# blas.sh — OpenBLAS kernels at start-up (pipeline/blas.h): the exact sgemm
# self-check runs and rz-ppl reports blas_core; a CPU that supports better kernels than
# the library picked gets them (in process, or by one re-exec), a user's
# OPENBLAS_CORETYPE is kept, and kernels failing the check fall back with one warning.
. "$(dirname "$0")/lib.sh"
need_data stories260K.bin; need_data tok512.bin; need_data tinystories-valid.txt
D=$RIZZ_DATA
unset OPENBLAS_CORETYPE RZ_BLAS_REEXEC
ppl() { timeout 60 rz-ppl -q -m "$D/stories260K.bin" -z "$D/tok512.bin" -f "$D/tinystories-valid.txt" --max-tokens 1024 --json "$@"; }
str() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
ppl > "$T/plain.json" 2> "$T/plain.err"
core=$(str blas_core < "$T/plain.json"); cpu=$(str blas_cpu < "$T/plain.json")
[ -n "$core" ] && ok "rz-ppl --json reports blas_core ($core; CPU family '${cpu}')" || fail "blas_core reported" "$(head -c 300 "$T/plain.json")"
grep -q '"blas_check":true' "$T/plain.json" && ok "the exact sgemm self-check passed" || fail "self-check passed" "$(head -c 300 "$T/plain.json")"
g=$(json_field blas_sgemm_gflops < "$T/plain.json")
awk -v g="$g" 'BEGIN{exit !(g > 0)}' && ok "sgemm rate measured ($g GFLOP/s, load-dependent)" || fail "sgemm rate measured" "$g"
none "no warning on a plain start" "$(cat "$T/plain.err")"
case "$cpu:$core" in
  SkylakeX:SkylakeX|SkylakeX:Cooperlake|SkylakeX:SapphireRapids|Haswell:Haswell|Haswell:Zen|Haswell:SkylakeX|Haswell:Cooperlake|Haswell:SapphireRapids|:*)
    ok "the kernels in use are at least what the CPU supports ($core for $cpu)";;
  *) fail "the kernels in use are at least what the CPU supports" "$core for $cpu";;
esac
if [ "$cpu" = "" ]; then ok "switching # SKIP this CPU supports no AVX2+FMA kernels"; exit 0; fi
# pretend the library's core is older than the CPU's family (Haswell kernels run on
# every AVX2+FMA CPU); in process, then by re-exec (the only way the re-exec'd process
# can show Haswell while the in-process switch is disabled)
same "in-process switch to the CPU's kernels" "$(RZ_TEST_BLAS_WANT=Haswell ppl | str blas_core)" "Haswell"
same "re-exec with OPENBLAS_CORETYPE" "$(RZ_TEST_BLAS_WANT=Haswell RZ_TEST_BLAS_REEXEC=1 ppl | str blas_core)" "Haswell"
same "a user's OPENBLAS_CORETYPE is never overridden" \
  "$(OPENBLAS_CORETYPE=Prescott RZ_TEST_BLAS_WANT=Haswell ppl 2>"$T/user.err" | str blas_core)" "Prescott"
none "... and gets no warning" "$(cat "$T/user.err")"
for path in in-process re-exec; do
  [ $path = re-exec ] && export RZ_TEST_BLAS_REEXEC=1
  RZ_TEST_BLAS_WANT=Haswell RZ_TEST_BLAS_CORRUPT=1 ppl > "$T/fb.json" 2> "$T/fb.err"; rc=$?
  same "$path: kernels failing the check fall back to the library's ($core)" "$rc $(str blas_core < "$T/fb.json")" "0 $core"
  if [ "$(wc -l < "$T/fb.err")" -eq 1 ] && grep -q "warning: OpenBLAS Haswell kernels failed the start-up check; using its default ($core)" "$T/fb.err"
  then ok "$path: one warning line"; else fail "$path: one warning line" "$(cat "$T/fb.err")"; fi
done
