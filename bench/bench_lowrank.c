/* bench_lowrank.c — speed of CALDERA's fit (caldera.h) on one 4096 × 4096 layer at rank
 * 64: time per outer iteration and its parts, and the objective after every step.
 * Figures only, never pass/fail.
 *
 * Problem: W = 0.02·G + a rank-256 part with singular values falling like j^-0.7 (real
 * weights have such a slowly decaying head), G standard normal; H = XᵀX/T from T = n
 * correlated inputs (AR(1) across features, ρ = 0.8, a common factor, log-normal feature
 * scales), as bench_quant. Fit: Q = E8P 2-bit by block LDLQ with the random Hadamard
 * transform, L and R on 4-bit grids (CALDERA's reference script), CALDERA's default
 * 5 inner iterations, randomized SVD init (16 extra vectors, 2 power iterations).
 * Flops per outer iteration (2 per multiply-add), m = n, k = 64, l = k + 16:
 *   Y H after the Q step 2n³; LDLQ feedback ≈ n³; init (2·power + 2)·2·(n²l + n²l);
 *   each inner iteration R H 2kn², R (Y H)ᵀ 2kn², Lᵀ Y 2kn², two objectives 8kn².
 *
 * usage: bench_lowrank [n [outer [threads [rank]]]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "caldera.h"
#include "rz.h"

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double rng_normal(uint64_t *s)
{
    double u1 = ((rng_next(s) >> 11) + 1.0) * 0x1.0p-53, u2 = (rng_next(s) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void die(const rz_err *e)
{
    fprintf(stderr, "bench_lowrank: %s\n", e->msg);
    exit(e->code ? e->code : 1);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4096, outer = argc > 2 ? atoi(argv[2]) : 2;
    int threads = argc > 3 ? atoi(argv[3]) : 2, k = argc > 4 ? atoi(argv[4]) : 64;
    if (n < 256 || n % 128 || outer < 1 || k < 1 || k > n) {
        fprintf(stderr, "usage: bench_lowrank [n (multiple of 128, >= 256) [outer [threads [rank]]]]\n");
        return 2;
    }
    rz_linalg_threads(threads);
    int m = n, T = n, r = 256 < n / 4 ? 256 : n / 4;
    rz_err e = {0};
    uint64_t s = 2024;
    double t0 = rz_now();
    float *Xt = malloc(sizeof(float) * (size_t)n * T), *Hf = malloc(sizeof(float) * (size_t)n * n);
    float *W = malloc(sizeof(float) * (size_t)m * n), *A = malloc(sizeof(float) * (size_t)m * r);
    float *B = malloc(sizeof(float) * (size_t)n * r);
    double *H = malloc(sizeof(double) * (size_t)n * n), *sig = malloc(sizeof(double) * n);
    if (!Xt || !Hf || !W || !A || !B || !H || !sig) return 1;
    for (int j = 0; j < n; j++) sig[j] = exp(0.5 * rng_normal(&s));
    for (int t = 0; t < T; t++) {
        double f = rng_normal(&s), prev = 0;
        for (int j = 0; j < n; j++) {
            prev = 0.8 * prev + 0.6 * rng_normal(&s) + 0.3 * f;
            Xt[(long)j * T + t] = (float)(sig[j] * prev / sqrt((double)T));
        }
    }
    rz_matmul_nt(n, n, T, Xt, T, Xt, T, Hf, n, 0);
    for (long t = 0; t < (long)n * n; t++) H[t] = Hf[t];
    /* W = 0.02 G + A Bᵀ, column j of A and B scaled so the rank-r part has singular values
     * ≈ 0.02·√n·(j+1)^-0.7 */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < r; j++) A[(long)i * r + j] = (float)(rng_normal(&s) * 0.02 * pow(j + 1, -0.35));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < r; j++) B[(long)i * r + j] = (float)(rng_normal(&s) * pow(j + 1, -0.35));
    rz_matmul_nt(m, n, r, A, r, B, r, W, n, 0);
    for (long t = 0; t < (long)m * n; t++) W[t] += (float)(0.02 * rng_normal(&s));
    free(Xt), free(Hf), free(A), free(B), free(sig);
    printf("bench_lowrank: W %d x %d (0.02 noise + rank-%d head), H from %d correlated inputs, %d threads "
           "(setup %.1f s)\n",
           m, n, r, T, threads, rz_now() - t0);

    rz_caldera_opts o;
    rz_caldera_defaults(&o); /* e8p 2-bit + RHT, L/R 4-bit, randomized SVD */
    /* the settings bench/README's figures were measured with (before the reference's
     * steps became the defaults, caldera.h) */
    o.inner = 5, o.h_reg = 0, o.q_downdate = 0, o.q_tune_iters = 0, o.q_target_rms = 0.9f;
    o.outer = outer;
    printf("fit: rank %d, Q e8p %d-bit with RHT, L/R %d-bit grids, %d outer x %d inner, randomized SVD "
           "(+%d vectors, %d power it.)\n",
           k, o.q_bits, o.lr_bits, o.outer, o.inner, o.svd_oversample, o.svd_power);
    rz_caldera c;
    t0 = rz_now();
    if (rz_caldera_fit(W, H, m, n, k, &o, &c, &e)) die(&e);
    double total = rz_now() - t0;

    printf("\n  outer inner step   f/tr(WHW')  sqrt   seconds\n");
    for (int t = 0; t < c.n_trace; t++) {
        const rz_caldera_trace *x = &c.trace[t];
        const char *step = x->step == RZ_CSTEP_INIT ? "init" : x->step == RZ_CSTEP_L ? "L" : x->step == RZ_CSTEP_R ? "R" : "Q";
        printf("  %5d %5d %-5s %11.6f %7.4f %8.2f\n", x->outer, x->inner > 0 ? x->inner : 0, step, x->obj / c.ref,
               sqrt(x->obj / c.ref), x->sec);
    }
    printf("\nsetup (RHT of W and H, LDL factor, Cholesky, Y H)  %7.2f s\n", c.t_setup);
    double init = 0, lr = 0, q = 0;
    for (int t = 0; t < c.n_trace; t++) {
        const rz_caldera_trace *x = &c.trace[t];
        if (x->step == RZ_CSTEP_INIT) init += x->sec;
        else if (x->step == RZ_CSTEP_Q) q += x->sec;
        else lr += x->sec;
    }
    for (int it = 0; it < c.outer_run; it++) printf("outer iteration %d                                  %7.2f s\n", it + 1, c.t_outer[it]);
    printf("  per outer iteration: SVD init %.2f s, %d inner L/R iterations %.2f s (%.2f s each), Q step "
           "(LDLQ + Y H) %.2f s\n",
           init / c.outer_run, o.inner, lr / c.outer_run, lr / c.outer_run / o.inner, q / c.outer_run);
    printf("total fit                                          %7.2f s\n", total);
    printf("best: outer %d, relative error f/tr %.6f (CALDERA's sqrt form %.4f)\n", c.best_outer, c.obj / c.ref,
           sqrt(c.obj / c.ref));
    rz_caldera_free(&c);

    /* Q alone (k = 0, one LDLQ) for scale */
    o.outer = 1;
    t0 = rz_now();
    if (rz_caldera_fit(W, H, m, n, 0, &o, &c, &e)) die(&e);
    printf("Q alone (k = 0): relative error f/tr %.6f (sqrt %.4f), %.2f s incl. setup\n", c.obj / c.ref,
           sqrt(c.obj / c.ref), rz_now() - t0);
    double bpw_q = rz_caldera_q_bits(&o, m, n) / ((double)m * n);
    printf("bits per weight: Q %.3f, + L/R at rank %d: %.3f (grid scales not counted)\n", bpw_q, k,
           bpw_q + (double)o.lr_bits * k * (m + n) / ((double)m * n));
    rz_caldera_free(&c);
    free(W), free(H);
    return 0;
}
