/* bench_lowrank_infer.c — two ways to run a CALDERA layer W = Q + L·R at inference:
 *   merge  dequantise and add once at load (rz_qlayer_dequant: W = Q + L R dense), then
 *          one product y = x Wᵀ per call — what rz_model_load does (the default);
 *   thin   keep Q (dense float32 after dequantisation: rizz has no quantised kernels) and
 *          L, R, and per call y = x Qᵀ + (x Rᵀ) Lᵀ: the same dense product plus two thin
 *          ones, T·n·k and T·k·m multiply-adds.
 * Shape: a stories110M linear, m = 2048 outputs × n = 768 inputs (w1/w3), prefill
 * T = 512 and decode T = 1, ranks 16 and 64. All products are rz_matmul_nt, the
 * engine's linear. Figures only, never pass/fail.
 *
 * With Q dense in float32 the thin path does strictly more work, so it can only win if Q
 * ran in a quantised kernel that is faster than the dense float32 one; it exists to show
 * the size of the extra cost (and the merge's one-off cost at load).
 *
 * usage: bench_lowrank_infer [reps [threads]]
 */
#include <stdio.h>
#include <stdlib.h>

#include "linalg.h"
#include "rz.h"

static uint64_t rng_state = 12345;
static float frand(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (float)((double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53 - 0.5);
}

static float *rnd(size_t n)
{
    float *x = malloc(n * sizeof *x);
    if (!x) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) x[i] = frand();
    return x;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5, threads = argc > 2 ? atoi(argv[2]) : 0;
    if (reps < 1) reps = 1;
    rz_linalg_threads(threads);
    const int m = 2048, n = 768;
    const int Ts[2] = {512, 1}, ks[2] = {16, 64};
    float *Q = rnd((size_t)m * n), *W = rnd((size_t)m * n), *X = rnd((size_t)512 * n);
    float *Y = malloc(sizeof(float) * 512 * m), *tmp = malloc(sizeof(float) * 512 * 64);
    printf("linear %d x %d (out x in), rz_matmul_nt, best of %d\n", m, n, reps);
    printf("%5s %5s %12s %12s %10s %14s\n", "T", "rank", "merge ms", "thin ms", "thin/merge", "merge-at-load ms");
    for (int ki = 0; ki < 2; ki++) {
        int k = ks[ki];
        float *L = rnd((size_t)m * k), *R = rnd((size_t)k * n);
        /* the one-off merge: W = Q + L R (L [m][k], R [k][n]; as B[N][K] = Rᵀ rows) */
        float *Rt = malloc(sizeof(float) * (size_t)n * k);
        for (int a = 0; a < k; a++)
            for (int j = 0; j < n; j++) Rt[(size_t)j * k + a] = R[(size_t)a * n + j];
        double tl = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = rz_now();
            for (size_t i = 0; i < (size_t)m * n; i++) W[i] = Q[i];
            rz_matmul_nt(m, n, k, L, k, Rt, k, W, n, 1);
            double t = rz_now() - t0;
            if (t < tl) tl = t;
        }
        for (int ti = 0; ti < 2; ti++) {
            int T = Ts[ti], inner = T == 1 ? 200 : 1; /* T = 1: time 200 calls per rep */
            double tm = 1e30, tt = 1e30;
            for (int r = 0; r < reps; r++) {
                double t0 = rz_now();
                for (int c = 0; c < inner; c++) rz_matmul_nt(T, m, n, X, n, W, n, Y, m, 0);
                double t1 = rz_now();
                for (int c = 0; c < inner; c++) {
                    rz_matmul_nt(T, m, n, X, n, Q, n, Y, m, 0);
                    rz_matmul_nt(T, k, n, X, n, R, n, tmp, k, 0);   /* x Rᵀ: T × k */
                    rz_matmul_nt(T, m, k, tmp, k, L, k, Y, m, 1);   /* + (x Rᵀ) Lᵀ */
                }
                double t2 = rz_now();
                if ((t1 - t0) / inner < tm) tm = (t1 - t0) / inner;
                if ((t2 - t1) / inner < tt) tt = (t2 - t1) / inner;
            }
            printf("%5d %5d %12.4f %12.4f %10.3f %14.3f\n", T, k, 1e3 * tm, 1e3 * tt, tt / tm, 1e3 * tl);
        }
        free(L);
        free(R);
        free(Rt);
    }
    printf("faster: merge whenever thin/merge > 1 (Q is dense float32 either way)\n");
    free(Q);
    free(W);
    free(X);
    free(Y);
    free(tmp);
    return 0;
}
