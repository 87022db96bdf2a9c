/* blas.h — which OpenBLAS kernels run, chosen and verified at start-up.
 *
 * Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernels from cpuid when it loads. Builds
 * that predate a processor fall back to a generic core: 0.3.21 runs "Prescott" kernels
 * on Sapphire-Rapids Xeons, 4-8x slower than the AVX-512 ones the CPU supports.
 * rz_blas_startup compares openblas_get_corename() with what cpuid offers
 *   AVX-512 F+BW+VL → "SkylakeX"      AVX2+FMA → "Haswell"      else: nothing better
 * (core families ranked generic < Haswell/Zen < SkylakeX/Cooperlake/SapphireRapids) and,
 * when the library's core is older, selects the better kernels:
 *   - in process, through OpenBLAS's own dynamic-arch entry points (it re-reads
 *     OPENBLAS_CORETYPE), when the library exports them (DYNAMIC_ARCH builds do);
 *   - otherwise by re-executing the program once with OPENBLAS_CORETYPE set (the library
 *     reads it only when it loads); RZ_BLAS_REEXEC marks the re-executed process so it
 *     never loops. Not under mpirun (MPI is initialised by then): there the library's
 *     core stays and the status says so.
 * A value of OPENBLAS_CORETYPE set by the user is never overridden.
 * Then the kernels in use are verified against an exact product (small integers in
 * float32, so every partial sum is exact: the product must equal an integer reference
 * bit for bit). If better kernels were selected and fail, the library's own choice is
 * restored (in process, or by one more re-exec) and the status carries a one-line
 * warning; the caller prints it (this library never prints).
 *
 * Test hooks (environment): RZ_TEST_BLAS_WANT=CORE pretends the CPU wants CORE and the
 * library's core is older; RZ_TEST_BLAS_REEXEC=1 takes the re-exec path even when the
 * in-process switch is available; RZ_TEST_BLAS_CORRUPT=1 makes the exact check of
 * selected kernels fail.
 */
#ifndef RZ_BLAS_H
#define RZ_BLAS_H

typedef struct {
    char core[32];     /* openblas_get_corename() once start-up is done */
    char library[32];  /* the core OpenBLAS chose by itself */
    char cpu[32];      /* best kernel family the CPU supports ("" if none above generic) */
    int switched;      /* 1: running `core` instead of `library` */
    int check_ok;      /* 1: the exact product check passed on the kernels in use */
    char warning[200]; /* one line for stderr, "" when there is nothing to say */
} rz_blas_status;

/* Once, at program start, before other BLAS calls and before threads start. May
 * re-execute the program (see above); returns in the final process. Idempotent. */
const rz_blas_status *rz_blas_startup(void);
/* The status of the last rz_blas_startup (zeroed before it ran). */
const rz_blas_status *rz_blas_status_get(void);

/* The exact product check of the kernels in use: 0 when exact, -1 otherwise. */
int rz_blas_selfcheck(void);

/* The sgemm rate in GFLOP/s, C[n][n] = A[n][n] B[n][n]: one untimed warm-up (thread
 * wake-up, page faults), then the best of reps, on `threads` OpenBLAS threads (0: as
 * currently set; the previous count is restored). The one sgemm peak every benchmark
 * and report compares with; 0 on allocation failure. A few milliseconds for n = 256 on
 * one thread, ~0.1 s a run for n = 2048 on two. */
double rz_blas_sgemm_gflops(int n, int threads, int reps);

#endif
