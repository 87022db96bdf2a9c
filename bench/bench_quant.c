/* bench_quant.c — speed and quality of rizz's Hessian-aware quantisers, and the Gaussian
 * MSE of the codebooks. Figures and ratios only, never pass/fail.
 *
 * One n × n weight matrix (n = 4096 by default, entries N(0, 0.02²)) with an n × n
 * Hessian H = XᵀX/T from T = n correlated inputs (AR(1) across features, ρ = 0.8, plus a
 * common factor and log-normal feature scales), quantised by
 *   - ldlq-4bit: GPTQ on the 4-bit min-max grid, per row, lazy batches of 128;
 *   - e8p-2bit:  block LDLQ with QuIP#'s E8P codebook (blocks of 8), lazy batches of 128;
 * each timed as LDL factorisation (double LAPACK, single-threaded OpenBLAS) plus the sweep
 * (OpenMP over row chunks). "updates" times the same sweep with a no-op quantiser, i.e.
 * only the feedback products, and reports their GFLOP/s (2 flops per multiply-add,
 * counted exactly from the batch shapes). Proxy losses tr(ΔW H ΔWᵀ)/tr(W H Wᵀ) are
 * computed on the first 512 rows (every row is an independent problem with the same H).
 * The random Hadamard transform of W and H (both sides) is timed too.
 *
 * usage: bench_quant [n [threads]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e8p.h"
#include "rht.h"
#include "linalg.h"
#include "rng.h"
#include "ldlq.h"
#include "rz.h"

static void die(const rz_err *e)
{
    fprintf(stderr, "bench_quant: %s\n", e->msg);
    exit(e->code ? e->code : 1);
}

static void noop_colq(void *ctx, float *X, long ldx, int r0, int rows, int j, int b)
{
    (void)ctx, (void)X, (void)ldx, (void)r0, (void)rows, (void)j, (void)b;
}

/* Multiply-adds ×2 of rz_ldlq's feedback products for m rows, n columns, block b,
 * lazy batch B: inside each batch rows·b·(c1 − j − b) per block, then rows·B·(n − c1). */
static double ldlq_flops(int m, int n, int b, int B)
{
    double f = 0;
    for (int c0 = 0; c0 < n; c0 += B) {
        int c1 = c0 + B < n ? c0 + B : n;
        for (int j = c0; j < c1; j += b) f += 2.0 * m * b * (c1 - j - b);
        f += 2.0 * m * (c1 - c0) * (n - c1);
    }
    return f;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4096, threads = argc > 2 ? atoi(argv[2]) : 2;
    if (n < 64 || n % 128) {
        fprintf(stderr, "usage: bench_quant [n (multiple of 128) [threads]]\n");
        return 2;
    }
    rz_linalg_threads(threads);
    int m = n, T = n, lrows = m < 512 ? m : 512;
    rz_err e = {0};
    rz_rng r;
    rz_rng_seed(&r, 2024);

    /* inputs X (stored transposed, n × T) and H = XᵀX/T */
    double t0 = rz_now();
    float *Xt = malloc(sizeof(float) * (size_t)n * T), *Hf = malloc(sizeof(float) * (size_t)n * n);
    double *H = malloc(sizeof(double) * (size_t)n * n), *sig = malloc(sizeof(double) * n);
    float *W = malloc(sizeof(float) * (size_t)m * n), *Wh = malloc(sizeof(float) * (size_t)m * n);
    uint32_t *codes = malloc(sizeof(uint32_t) * (size_t)m * n / 8);
    if (!Xt || !Hf || !H || !sig || !W || !Wh || !codes) return 1;
    for (int j = 0; j < n; j++) sig[j] = exp(0.5 * rz_rng_normal(&r));
    for (int t = 0; t < T; t++) {
        double f = rz_rng_normal(&r), prev = 0;
        for (int j = 0; j < n; j++) {
            double v = 0.8 * prev + 0.6 * rz_rng_normal(&r) + 0.3 * f;
            prev = v;
            Xt[(long)j * T + t] = (float)(sig[j] * v / sqrt((double)T));
        }
    }
    rz_matmul_nt(n, n, T, Xt, T, Xt, T, Hf, n, 0);
    for (long k = 0; k < (long)n * n; k++) H[k] = Hf[k];
    for (long k = 0; k < (long)m * n; k++) W[k] = (float)(0.02 * rz_rng_normal(&r));
    printf("bench_quant: W %d x %d, H %d x %d from %d correlated inputs, %d threads (setup %.1f s)\n", m, n, n,
           n, T, threads, rz_now() - t0);

    double loss_rtn, loss, l_e8p_near, l_e8p;
    /* ---- scalar 4-bit: RTN and LDLQ (GPTQ) ---- */
    rz_rtn(W, m, n, 4, 0, Wh, NULL, NULL, NULL, &e);
    rz_proxy_loss(W, Wh, lrows, n, H, NULL, &loss_rtn, &e);
    rz_ldl f;
    t0 = rz_now();
    if (rz_ldl_factor(H, n, 1, 0.01, &f, &e)) die(&e);
    double t_fac1 = rz_now() - t0;
    t0 = rz_now();
    if (rz_gptq(W, m, n, &f, 4, 0, 128, Wh, NULL, NULL, NULL, &e)) die(&e);
    double t_sweep1 = rz_now() - t0;
    rz_proxy_loss(W, Wh, lrows, n, H, NULL, &loss, &e);
    memcpy(Wh, W, sizeof(float) * (size_t)m * n);
    t0 = rz_now();
    rz_ldlq(Wh, m, n, n, &f, 1, 128, noop_colq, NULL, &e);
    double t_upd1 = rz_now() - t0, fl1 = ldlq_flops(m, n, 1, 128);
    rz_ldl_free(&f);
    printf("\nldlq-4bit (scalar, per-row min-max grid, lazy 128)\n");
    printf("  factor (damp, chol, inverse, chol)  %7.2f s\n", t_fac1);
    printf("  sweep (quantise + feedback)         %7.2f s\n", t_sweep1);
    printf("  total                               %7.2f s\n", t_fac1 + t_sweep1);
    printf("  updates alone                       %7.2f s  %.1f GFLOP, %.1f GFLOP/s\n", t_upd1, fl1 / 1e9,
           fl1 / 1e9 / t_upd1);
    printf("  relative proxy loss: rtn %.5f  ldlq %.5f  ratio %.3f\n", loss_rtn, loss, loss / loss_rtn);

    /* ---- E8P 2-bit: nearest and block LDLQ ---- */
    float ws;
    t0 = rz_now();
    rz_ldlq_e8p(W, m, n, NULL, 2, 0, 128, Wh, codes, &ws, &e);
    double t_near = rz_now() - t0;
    rz_proxy_loss(W, Wh, lrows, n, H, NULL, &l_e8p_near, &e);
    t0 = rz_now();
    if (rz_ldl_factor(H, n, 8, 0.01, &f, &e)) die(&e);
    double t_fac8 = rz_now() - t0;
    t0 = rz_now();
    if (rz_ldlq_e8p(W, m, n, &f, 2, 0, 128, Wh, codes, &ws, &e)) die(&e);
    double t_sweep8 = rz_now() - t0;
    rz_proxy_loss(W, Wh, lrows, n, H, NULL, &l_e8p, &e);
    memcpy(Wh, W, sizeof(float) * (size_t)m * n);
    t0 = rz_now();
    rz_ldlq(Wh, m, n, n, &f, 8, 128, noop_colq, NULL, &e);
    double t_upd8 = rz_now() - t0, fl8 = ldlq_flops(m, n, 8, 128);
    printf("\ne8p-2bit (block LDLQ, blocks of 8, lazy 128, target rms 0.9)\n");
    printf("  factor                              %7.2f s\n", t_fac8);
    printf("  sweep (E8P search + feedback)       %7.2f s  (%.2f us per 8-vector incl. updates)\n", t_sweep8,
           t_sweep8 / ((double)m * n / 8) * 1e6 * threads);
    printf("  total                               %7.2f s  (target < 30 s)\n", t_fac8 + t_sweep8);
    printf("  updates alone                       %7.2f s  %.1f GFLOP, %.1f GFLOP/s\n", t_upd8, fl8 / 1e9,
           fl8 / 1e9 / t_upd8);
    printf("  nearest E8P without feedback        %7.2f s\n", t_near);
    printf("  relative proxy loss: nearest %.5f  ldlq %.5f  ratio %.3f\n", l_e8p_near, l_e8p, l_e8p / l_e8p_near);

    /* ---- the same with random Hadamard incoherence (W ← U W Vᵀ, H ← V H Vᵀ) ---- */
    rz_rht U, V;
    rz_rht_init(&U, m, 11, &e);
    rz_rht_init(&V, n, 12, &e);
    float *Wr = malloc(sizeof(float) * (size_t)m * n);
    memcpy(Wr, W, sizeof(float) * (size_t)m * n);
    t0 = rz_now();
    rz_rht_cols(&U, Wr, n, n, 0, &e);
    rz_rht_rows(&V, Wr, m, n, 0, &e);
    double t_rw = rz_now() - t0;
    t0 = rz_now();
    rz_rht_cols_d(&V, H, n, n, 0, &e);
    rz_rht_rows_d(&V, H, n, n, 0, &e);
    double t_rh = rz_now() - t0;
    rz_ldl_free(&f);
    double l_rht;
    if (rz_ldl_factor(H, n, 8, 0.01, &f, &e)) die(&e);
    rz_ldlq_e8p(Wr, m, n, &f, 2, 0, 128, Wh, codes, &ws, &e);
    rz_proxy_loss(Wr, Wh, lrows, n, H, NULL, &l_rht, &e);
    printf("\nrandom Hadamard transform (n = %d = %d x %d)\n", n, V.p, V.m);
    printf("  W <- U W V^T (float)                %7.3f s\n", t_rw);
    printf("  H <- V H V^T (double)               %7.3f s\n", t_rh);
    printf("  e8p-2bit ldlq relative proxy loss after RHT %.5f (ratio to no RHT %.3f; first %d rows of\n"
           "  the rotated problem; W is Gaussian already, the gain comes from H's uneven feature scales)\n",
           l_rht, l_rht / l_e8p, lrows);
    rz_rht_free(&U);
    rz_rht_free(&V);
    rz_ldl_free(&f);

    /* ---- codebook MSE on N(0,1) ---- */
    const char *names[] = {"lloydmax2", "rtn2", "minmax2", "e8p", "rtn3", "minmax3", "e8p-rvq3",
                           "rtn4", "minmax4", "e8p-rvq4"};
    long samples = 1L << 20;
    double lm_ref = 0.11748; /* REFERENCES.md §2.4, computed there: 4-level Lloyd–Max */
    printf("\ncodebook MSE per coordinate on %ld N(0,1) samples at the best input scale\n", samples);
    printf("  %-10s %5s %7s %9s %10s %12s\n", "codebook", "bits", "scale", "mse", "mse/D(R)", "mse/LM2bit");
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        double bits, s, mse;
        t0 = rz_now();
        if (rz_codebook_mse(names[k], samples, 1, &bits, &s, &mse, &e)) die(&e);
        printf("  %-10s %5.2f %7.3f %9.5f %10.3f %12.3f   (%.1f s)\n", names[k], bits, s, mse,
               mse / pow(2.0, -2.0 * bits), mse / lm_ref, rz_now() - t0);
    }
    printf("  D(R) = 2^(-2R): 0.06250 (2 bits), 0.01563 (3), 0.00391 (4)\n");
    printf("  quoted (REFERENCES.md 2.4, quip-sharp scripts/plot_data.pkl, ball codebooks, not E8P12):\n"
           "    E8 ball 1.9745 bits 0.09347; half-integer scalar grid 2 bits 0.11998; D4 ball 2 bits 0.10193\n"
           "    Lloyd-Max 2 bits 0.11748 (levels +-0.4528, +-1.5104)\n");
    printf("  QuIP# constants: opt_scale e8p %.2f, rvq3 %.2f (resid %.2f), rvq4 %.2f (resid %.2f)\n",
           RZ_E8P_OPT_SCALE2, RZ_E8P_OPT_SCALE3, RZ_E8P_RVQ3_RSCALE, RZ_E8P_OPT_SCALE4, RZ_E8P_RVQ4_RSCALE);
    free(Xt), free(Hf), free(H), free(sig), free(W), free(Wh), free(codes), free(Wr);
    return 0;
}
