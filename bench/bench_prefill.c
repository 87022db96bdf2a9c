/* bench_prefill.c — prefill speed of rz_llama_forward against the machine's sgemm peak.
 *
 * A random model shaped like stories110M (dim 768, hidden 2048, 12 layers, 12 heads,
 * vocab 32000) runs one forward of T = 512 tokens from position 0, best of several runs.
 * Achieved GFLOP/s counts 2 x the multiply-adds of every matrix product the forward
 * computes (rz_llama_forward_flops): the linears and the classifier for all T tokens,
 * and for attention Q K^T and P V over the exact causal triangle (the useful work; the
 * masked parts of blocks that the streaming attention also multiplies are not counted).
 * Elementwise work (norms, RoPE, softmax, SwiGLU) is not counted.
 * The peak is OpenBLAS's threaded cblas_sgemm on 2048 x 2048 x 2048 in the same process,
 * with as many threads as the forward's OpenMP.
 * For comparison it also times T = 1 decoding (matrix-vector, bound by memory bandwidth).
 *
 * usage: bench_prefill [T [runs]]
 *        bench_prefill --flops T   FLOPs of one forward of T tokens (for bench/run.sh)
 *        bench_prefill --peak      the sgemm peak alone, GFLOP/s
 */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "linalg.h"
#include "llama.h"
#include "rz.h"

/* Seconds of one 2048^3 sgemm, the peak probe. a, b, c: [n][n]. */
static double sgemm_seconds(const float *a, const float *b, float *c, int n)
{
    /* the peak is OpenBLAS's own threaded sgemm over all cores; rizz's forward runs
     * OpenBLAS single-threaded under OpenMP panels (linalg.h), so switch back and forth */
    openblas_set_num_threads(omp_get_max_threads());
    double t = rz_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    t = rz_now() - t;
    rz_linalg_threads(0);
    return t;
}

static double peak_gflops(int n, int runs)
{
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *cc = malloc(sizeof(float) * n * n);
    if (!a || !b || !cc) exit(1);
    for (long i = 0; i < (long)n * n; i++) {
        a[i] = (float)(i % 13) * 0.01f;
        b[i] = (float)(i % 7) * 0.01f;
    }
    double best = 1e30;
    for (int r = 0; r < runs + 1; r++) {
        double t = sgemm_seconds(a, b, cc, n);
        if (r > 0 && t < best) best = t;
    }
    free(a), free(b), free(cc);
    return 2.0 * n * n * (double)n / best / 1e9;
}

int main(int argc, char **argv)
{
    rz_blas_startup(); /* the kernels the programs run (blas.h), not the library's guess */
    if (argc > 1 && strcmp(argv[1], "--peak") == 0) {
        rz_linalg_threads(0);
        printf("%.1f\n", peak_gflops(2048, 5));
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "--flops") == 0) {
        rz_llama_config c = {768, 2048, 12, 12, 12, 32000, 1024, 1, 10000.0f, 1e-5f};
        rz_llama m = {0};
        m.config = c;
        printf("%.6g\n", rz_llama_forward_flops(&m, atoi(argv[2]), 0));
        return 0;
    }
    int T = argc > 1 ? atoi(argv[1]) : 512, runs = argc > 2 ? atoi(argv[2]) : 5;
    rz_llama_config c = {768, 2048, 12, 12, 12, 32000, 1024, 1, 10000.0f, 1e-5f};
    rz_err e = {0};
    rz_llama *m;
    rz_llama_state *s;
    rz_linalg_threads(0);
    if (T < 1 || T > c.seq_len || runs < 1) {
        fprintf(stderr, "usage: bench_prefill [T (1..%d) [runs]]\n", c.seq_len);
        return 2;
    }
    if (rz_llama_random(&c, 42, &m, &e) || rz_llama_state_new(m, T, T, &s, &e)) {
        fprintf(stderr, "bench_prefill: %s\n", e.msg);
        return e.code;
    }
    int *tok = malloc(sizeof(int) * T);
    float *logits = malloc(sizeof(float) * (size_t)T * c.vocab_size);
    if (!tok || !logits) return 1;
    for (int t = 0; t < T; t++) tok[t] = (t * 7919 + 13) % c.vocab_size;

    /* The probe and the forward alternate, best of runs each (after one warm-up of each),
     * so that other load on the machine affects both alike. */
    int n = 2048;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *cc = malloc(sizeof(float) * n * n);
    if (!a || !b || !cc) return 1;
    for (long i = 0; i < (long)n * n; i++) {
        a[i] = (float)(i % 13) * 0.01f;
        b[i] = (float)(i % 7) * 0.01f;
    }
    double best = 1e30, best_peak = 1e30;
    for (int r = 0; r < runs + 1; r++) {
        double tp = sgemm_seconds(a, b, cc, n);
        double t0 = rz_now();
        rz_llama_forward(m, s, tok, T, 0, logits);
        double dt = rz_now() - t0;
        if (r > 0 && dt < best) best = dt;
        if (r > 0 && tp < best_peak) best_peak = tp;
    }
    free(a), free(b), free(cc);
    double flops = rz_llama_forward_flops(m, T, 0);
    double gf = flops / best / 1e9, peak = 2.0 * n * n * (double)n / best_peak / 1e9;
    printf("bench_prefill: stories110M shape (dim 768, hidden 2048, 12 layers, 12 heads, vocab 32000), T=%d, "
           "%d threads (OpenMP panels over single-threaded OpenBLAS)\n", T, omp_get_max_threads());
    printf("  forward      %.1f ms  %.0f tokens/s  %.1f GFLOP (%.1f GFLOP/s)\n", best * 1e3, T / best, flops / 1e9, gf);
    printf("  sgemm peak   %.1f GFLOP/s (n=2048)\n", peak);
    printf("  ratio        %.1f%% of sgemm peak\n", 100.0 * gf / peak);

    /* Decoding: 64 single-token steps at positions 0..63, after one warm-up step. */
    rz_llama_state *s1;
    if (rz_llama_state_new(m, 1, 64, &s1, &e) == 0) {
        rz_llama_forward(m, s1, tok, 1, 0, logits);
        double t0 = rz_now();
        for (int p = 0; p < 64; p++) rz_llama_forward(m, s1, tok + p % T, 1, p, logits);
        printf("  decode T=1   %.0f tokens/s\n", 64 / (rz_now() - t0));
        rz_llama_state_free(s1);
    }
    free(tok), free(logits);
    rz_llama_state_free(s);
    rz_llama_free(m);
    return 0;
}
