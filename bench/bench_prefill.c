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

int main(int argc, char **argv)
{
    rz_blas_startup(); /* the kernels the programs run (blas.h), not the library's guess */
    if (argc > 1 && strcmp(argv[1], "--peak") == 0) {
        /* the peak is OpenBLAS's own threaded sgemm over all cores (rizz's forward runs
         * OpenBLAS single-threaded under OpenMP panels, linalg.h) */
        printf("%.1f\n", rz_blas_sgemm_gflops(2048, omp_get_max_threads(), 5));
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

    /* The probe (OpenBLAS's threaded sgemm, 2048^3) and the forward alternate, best of
     * runs each (after one warm-up of each), so that other load on the machine affects
     * both alike. */
    double best = 1e30, peak = 0;
    for (int r = 0; r < runs + 1; r++) {
        double gp = rz_blas_sgemm_gflops(2048, omp_get_max_threads(), 1);
        double t0 = rz_now();
        rz_llama_forward(m, s, tok, T, 0, logits);
        double dt = rz_now() - t0;
        if (r > 0 && dt < best) best = dt;
        if (r > 0 && gp > peak) peak = gp;
    }
    double flops = rz_llama_forward_flops(m, T, 0);
    double gf = flops / best / 1e9;
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
