/* bench_attention.c — speed and memory of attention.h at long context: Dual Chunk
 * Attention at T = 4096 against plain RoPE attention at T = 512 (the trained regime).
 *
 * Shape: one layer of stories110M (12 heads x 64, no grouped-query heads, trained
 * context c = 1024); DCA with the paper's defaults s = 3c/4 = 768, w = c - s = 256.
 * Each figure is the best of several runs of one layer's prefill from position 0
 * (rz_attn_store_kv + rz_attn_forward on random q, k, v). GFLOP/s counts the useful
 * work only, 2 x the multiply-adds of the exact causal triangle of Q K^T and P V
 * (4 hs heads T(T+1)/2); the blocks actually computed are a little more.
 * Also: plain attention at 4096 (extrapolation: the same work as DCA, so the cost of
 * DCA's three query rotations and merge), one decoding step at the end of each context,
 * peak RSS (getrusage) right after the T = 4096 runs, the one-thread sgemm peak, the memory a T x T score matrix
 * per head would take, and a whole-model projection: stories110M's linears and
 * classifier timed as sgemms at T = 512 (their cost is linear in T) plus 12 layers of
 * the measured attention.
 *
 * usage: bench_attention [runs]
 */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "attention.h"
#include "blas.h"
#include "rz.h"

enum { HEADS = 12, HS = 64, DIM = HEADS * HS, CTX_TRAINED = 1024, LAYERS = 12, HIDDEN = 2048, VOCAB = 32000 };

static float *rand_floats(size_t n, unsigned seed)
{
    float *x = malloc(sizeof(float) * n);
    if (!x) {
        fprintf(stderr, "bench_attention: out of memory\n");
        exit(1);
    }
    unsigned s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) * (1.0 / 16777216.0) - 0.5);
    }
    return x;
}

typedef struct {
    double prefill; /* best seconds of one layer's prefill of T tokens */
    double decode;  /* best seconds of one decoding step at position T - 1 (after the prefill) */
} timing;

/* One layer: prefill T tokens, best of runs; then decode the last position again. */
static timing time_layer(const rz_rope_method *m, int T, int runs)
{
    rz_attn *a;
    rz_err e = {0};
    if (rz_attn_new(m, HEADS, HEADS, HS, T, &a, &e)) {
        fprintf(stderr, "bench_attention: %s\n", e.msg);
        exit(1);
    }
    float *q = rand_floats((size_t)T * DIM, 1), *k = rand_floats((size_t)T * DIM, 2), *v = rand_floats((size_t)T * DIM, 3);
    float *kc = malloc(sizeof(float) * (size_t)T * DIM), *vc = malloc(sizeof(float) * (size_t)T * DIM);
    float *out = malloc(sizeof(float) * (size_t)T * DIM);
    timing t = {1e30, 1e30};
    for (int r = 0; r < runs + 1; r++) { /* run 0 warms up */
        double t0 = rz_now();
        rz_attn_store_kv(a, k, DIM, v, DIM, T, 0, kc, vc);
        rz_attn_forward(a, q, DIM, T, 0, kc, vc, out, DIM);
        double dt = rz_now() - t0;
        if (r > 0 && dt < t.prefill) t.prefill = dt;
    }
    for (int r = 0; r < 4 * runs + 1; r++) {
        double t0 = rz_now();
        rz_attn_store_kv(a, k + (size_t)(T - 1) * DIM, DIM, v + (size_t)(T - 1) * DIM, DIM, 1, T - 1, kc, vc);
        rz_attn_forward(a, q + (size_t)(T - 1) * DIM, DIM, 1, T - 1, kc, vc, out, DIM);
        double dt = rz_now() - t0;
        if (r > 0 && dt < t.decode) t.decode = dt;
    }
    free(q), free(k), free(v), free(kc), free(vc), free(out);
    rz_attn_free(a);
    return t;
}

static double useful_gflop(int T) { return 4.0 * HS * HEADS * (double)T * (T + 1) / 2 / 1e9; }

/* Best seconds of the stories110M linears of one layer (qkv, wo, w1|w3, w2) and of the
 * classifier, for T tokens, as OpenBLAS sgemms with its default threads. */
static void time_linears(int T, int runs, double *layer, double *classifier)
{
    float *x = rand_floats((size_t)T * HIDDEN * 2, 4), *y = malloc(sizeof(float) * (size_t)T * VOCAB);
    float *w = rand_floats((size_t)VOCAB * DIM, 5); /* big enough for every weight matrix */
    const int n_out[4] = {3 * DIM, DIM, 2 * HIDDEN, DIM}, n_in[4] = {DIM, DIM, DIM, HIDDEN};
    *layer = *classifier = 1e30;
    for (int r = 0; r < runs + 1; r++) {
        double t0 = rz_now();
        for (int i = 0; i < 4; i++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, n_out[i], n_in[i], 1.0f, x, n_in[i], w, n_in[i],
                        0.0f, y, n_out[i]);
        double t1 = rz_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, VOCAB, DIM, 1.0f, x, DIM, w, DIM, 0.0f, y, VOCAB);
        double t2 = rz_now();
        if (r > 0 && t1 - t0 < *layer) *layer = t1 - t0;
        if (r > 0 && t2 - t1 < *classifier) *classifier = t2 - t1;
    }
    free(x), free(y), free(w);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 3;
    if (runs < 1) {
        fprintf(stderr, "usage: bench_attention [runs >= 1]\n");
        return 2;
    }
    rz_rope_method plain = rz_rope_default(10000.0), dca;
    rz_err e = {0};
    if (rz_rope_parse("dca", NULL, NULL, NULL, CTX_TRAINED, 10000.0, &dca, &e)) {
        fprintf(stderr, "bench_attention: %s\n", e.msg);
        return 1;
    }
    int T_long = 4096, T_short = 512;
    printf("bench_attention: one layer of stories110M (%d heads x %d), trained context %d; dca s=%d w=%d; "
           "%d OpenMP threads, best of %d\n", HEADS, HS, CTX_TRAINED, dca.chunk, dca.local, omp_get_max_threads(),
           runs);

    timing dca_long = time_layer(&dca, T_long, runs);
    timing plain_long = time_layer(&plain, T_long, runs);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = ru.ru_maxrss / 1024.0; /* KiB on Linux */
    timing plain_short = time_layer(&plain, T_short, runs);

    printf("  %-26s %9s %11s %9s %12s\n", "per layer, prefill", "ms", "tokens/s", "GFLOP/s", "decode ms");
    printf("  %-26s %9.1f %11.0f %9.1f %12.3f\n", "dca   T=4096", dca_long.prefill * 1e3, T_long / dca_long.prefill,
           useful_gflop(T_long) / dca_long.prefill, dca_long.decode * 1e3);
    printf("  %-26s %9.1f %11.0f %9.1f %12.3f\n", "plain T=4096 (extrapolate)", plain_long.prefill * 1e3,
           T_long / plain_long.prefill, useful_gflop(T_long) / plain_long.prefill, plain_long.decode * 1e3);
    printf("  %-26s %9.1f %11.0f %9.1f %12.3f\n", "plain T=512", plain_short.prefill * 1e3,
           T_short / plain_short.prefill, useful_gflop(T_short) / plain_short.prefill, plain_short.decode * 1e3);
    double peak = rz_blas_sgemm_gflops(1024, 1, runs); /* the per-core peak */
    printf("  sgemm peak, one thread: %.1f GFLOP/s; dca@4096 runs at %.0f%% of it per thread (%d threads)\n", peak,
           100 * useful_gflop(T_long) / dca_long.prefill / peak / omp_get_max_threads(), omp_get_max_threads());
    printf("  ratios: tokens/s dca@4096 / plain@512 = %.3f (the causal work per token grows 8x); "
           "dca@4096 / plain@4096 time = %.3f\n",
           (T_long / dca_long.prefill) / (T_short / plain_short.prefill), dca_long.prefill / plain_long.prefill);

    /* What the T = 4096 runs hold: q, k, v, out and the layer's KV cache (6 x T x dim
     * floats), the RoPE table, the per-thread scratch. */
    rz_attn *a;
    if (rz_attn_new(&dca, HEADS, HEADS, HS, T_long, &a, &e)) {
        fprintf(stderr, "bench_attention: %s\n", e.msg);
        return 1;
    }
    double buf_mb = 6.0 * T_long * DIM * 4 / 1048576.0, scratch_mb = rz_attn_scratch_bytes(a) / 1048576.0;
    double tt_mb = (double)T_long * T_long * 4 / 1048576.0;
    rz_attn_free(a);
    printf("  peak RSS after the T=4096 runs: %.1f MiB, of which the bench's buffers (q, k, v, out, KV cache) "
           "%.1f MiB and attention scratch %.2f MiB (all threads);\n  a T x T float score matrix would be %.0f MiB "
           "per head, %.0f MiB for %d heads\n", rss_mb, buf_mb, scratch_mb, tt_mb, HEADS * tt_mb, HEADS);

    /* Whole model: 12 layers of attention + linears, classifier on every token (as for
     * perplexity). Linears timed at T=512 and scaled linearly to 4096. */
    double lin512, cls512;
    time_linears(T_short, runs, &lin512, &cls512);
    double scale = (double)T_long / T_short;
    double model_dca = LAYERS * (dca_long.prefill + lin512 * scale) + cls512 * scale;
    double model_short = LAYERS * (plain_short.prefill + lin512) + cls512;
    printf("  whole-model projection (stories110M, %d layers): T=4096 dca %.2f s = %.0f tokens/s "
           "(attention %.0f%%); T=512 plain %.3f s = %.0f tokens/s (attention %.0f%%); ratio %.3f\n",
           LAYERS, model_dca, T_long / model_dca, 100 * LAYERS * dca_long.prefill / model_dca, model_short,
           T_short / model_short, 100 * LAYERS * plain_short.prefill / model_short,
           (T_long / model_dca) / (T_short / model_short));
    return 0;
}
