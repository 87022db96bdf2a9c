/* bench_rht.c — what the random Hadamard transforms of the activations cost per generated
 * token (issue: token-by-token decode), measured outside the library with the thread's
 * CPU clock.
 *
 * A decode step of the stories110M shape (dim 768 = 256·3, hidden 2048, 12 layers) with
 * two-sided incoherence on every linear transforms each linear's input (x̃ = V x) and
 * output (y = Uᵀ ỹ) once:
 *   inputs   wq wk wv wo w1 w3 at 768, w2 at 2048            7 per layer
 *   outputs  wq wk wv wo w2 at 768, w1 w3 at 2048 (inverse)  7 per layer
 * With a shared input transform (wq|wk|wv and w1|w3 quantised with one seed_v: qlinear.h
 * rz_qlinear_apply_group) the inputs drop to 4 per layer (wqkv, wo, w13 at 768, w2 at
 * 2048). The bench times one rz_rht_rows call of each kind (T = 1, best of 5 runs of at
 * least 0.05 s of CPU) and prints the per-token total both ways, then what a 512-token
 * prefill spends in them (one thread; all 512 rows of a linear in one call).
 *
 * usage: bench_rht [n_small [n_big]]   (defaults 768 2048)
 *        bench_rht --step [i8]   where one thread's decode step goes, by linear: the 84
 *            linears of the 110M shape as e8p 2-bit + RHT on both sides with random codes
 *            (bench_roofline's format 2, its seeds) and the 32000 × 768 4-bit table
 *            (groups of 32): per linear kind, summed over the 12 layers, the CPU time of
 *            rz_qlinear_apply (T = 1) and of its fused kernel alone (rz_qdot_rows_e8p2n
 *            over all rows); the difference is the transforms plus copies. Layers are
 *            taken in model order, so the codes stream from memory as in a step.
 *            Best of 5 passes of 20 tokens. i8: int8 inputs (rz-generate --int8). Then
 *            one token's attention over positions 0 .. 127 of a 12-layer KV cache.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attention.h"
#include "llama.h"
#include "qdot.h"
#include "qlayer.h"
#include "qlinear.h"
#include "rht.h"
#include "rz.h"

static double thread_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds per call on `rows` rows of n (one thread), best of 5: rz_rht_rows, or
 * rz_rht_rows_ref when ref (the loops rz_rht_rows replaced; the same bits). */
static double per_call_rows(int n, int rows, int inverse, int ref)
{
    rz_rht t;
    rz_err e = {0};
    if (rz_rht_init(&t, n, 12345 + (uint64_t)n, &e)) {
        fprintf(stderr, "bench_rht: %s\n", e.msg);
        exit(1);
    }
    float *x = malloc(sizeof(float) * (size_t)n * (size_t)rows);
    for (long i = 0; i < (long)n * rows; i++) x[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    int reps_per = rows > 1 ? 1 : 200;
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        long reps = 0;
        double t0 = thread_cpu_now(), dt;
        do { /* 200 one-row calls between clock reads: reading the thread's CPU clock is a system call */
            for (int k = 0; k < reps_per; k++) (ref ? rz_rht_rows_ref : rz_rht_rows)(&t, x, rows, n, inverse, NULL);
            reps += reps_per;
            dt = thread_cpu_now() - t0;
        } while (dt < 0.05);
        if (dt / reps < best) best = dt / reps;
    }
    free(x);
    rz_rht_free(&t);
    return best;
}

static double per_call(int n, int inverse, int ref) { return per_call_rows(n, 1, inverse, ref); }

static uint64_t rng = 88172645463325252ull;
static uint32_t next_u32(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* A layer of random codes, as bench_roofline's random_qlinear; the view (and its codes)
 * stay with the caller for the kernel-alone timing. */
typedef struct {
    rz_qlayer_view v;
    uint8_t *nib; /* int8 kernels: the nibble re-coding (qdot.h) */
    rz_qlinear *q;
} blayer;

static void random_q(blayer *b, int method, int bits, int group, int incoh, int rows, int cols, uint64_t seed, int isa)
{
    rz_qlayer_view *v = &b->v;
    memset(b, 0, sizeof *b);
    snprintf(v->name, sizeof v->name, "bench");
    v->rows = rows, v->cols = cols, v->pcols = method == RZ_QM_E8P ? (cols + 7) / 8 * 8 : cols;
    v->method = method, v->bits = bits, v->group = group, v->incoherent = incoh;
    v->seed_u = seed, v->seed_v = seed + 1;
    v->codes_n = rz_qlayer_codes_bytes(method, bits, rows, v->pcols);
    v->n_scales = rz_qlayer_n_scales(method, rows, v->pcols, group);
    uint8_t *codes = malloc(v->codes_n), *zeros = NULL;
    float *scales = malloc(v->n_scales * sizeof *scales);
    for (size_t i = 0; i < v->codes_n; i++) codes[i] = (uint8_t)next_u32();
    for (size_t i = 0; i < v->n_scales; i++) scales[i] = method == RZ_QM_E8P ? 0.02f : 0.02f / (float)(1 << bits);
    if (method != RZ_QM_E8P) {
        v->n_zeros = v->n_scales;
        zeros = malloc(v->n_zeros);
        for (size_t i = 0; i < v->n_zeros; i++) zeros[i] = (uint8_t)((1 << bits) / 2);
    }
    v->codes = codes, v->scales = scales, v->zeros = zeros;
    rz_err e = {0};
    if (rz_qlinear_new(v, &b->q, &e)) {
        fprintf(stderr, "bench_rht: %s\n", e.msg);
        exit(1);
    }
    rz_qlinear_set_isa(b->q, isa);
    size_t nb = rz_qdot_e8p2n_bytes(v);
    if ((isa == RZ_QDOT_AUTO_I8) && nb && (b->nib = malloc(nb))) rz_qdot_e8p2n_encode(v, b->nib);
}

static void free_q(blayer *b)
{
    rz_qlinear_free(b->q);
    free((void *)b->v.codes), free((void *)b->v.scales), free((void *)b->v.zeros), free(b->nib);
}

static void step(int i8)
{
    rz_llama_config c = {.dim = 768, .hidden_dim = 2048, .n_layers = 12, .n_heads = 12, .n_kv_heads = 12,
                         .vocab_size = 32000, .seq_len = 1024};
    int L = c.n_layers, isa = i8 ? RZ_QDOT_AUTO_I8 : RZ_QDOT_AUTO;
    blayer *q = malloc(sizeof *q * (size_t)RZ_LIN_PER_LAYER * (size_t)L), cls;
    for (long i = 0; i < (long)RZ_LIN_PER_LAYER * L; i++) {
        int r, k;
        rz_llama_linear_shape(&c, i, &r, &k);
        random_q(&q[i], RZ_QM_E8P, 2, 0, RZ_INCOH_BOTH, r, k, 1000 + (uint64_t)i, isa);
    }
    random_q(&cls, RZ_QM_RTN, 4, 32, RZ_INCOH_NONE, c.vocab_size, c.dim, 5, isa);
    size_t ns = rz_qlinear_scratch_floats(cls.q, 1, 1);
    for (long i = 0; i < (long)RZ_LIN_PER_LAYER * L; i++) {
        size_t n = rz_qlinear_scratch_floats(q[i].q, 1, 1);
        ns = n > ns ? n : ns;
    }
    float *scr = malloc(sizeof(float) * ns), *x = malloc(sizeof(float) * 2048), *y = malloc(sizeof(float) * 32000);
    for (int j = 0; j < 2048; j++) x[j] = (float)((j * 37) % 101) / 101.0f - 0.5f;
    static const char *const names[RZ_LIN_PER_LAYER] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};
    double apply[RZ_LIN_PER_LAYER + 1], kern[RZ_LIN_PER_LAYER + 1];
    enum { TOK = 20 };
    for (int k = 0; k <= RZ_LIN_PER_LAYER; k++) {
        apply[k] = kern[k] = 1e30;
        for (int run = 0; run < 5; run++)
            for (int mode = 0; mode < 2; mode++) {
                if (k == RZ_LIN_PER_LAYER && mode) continue; /* classifier: apply only (no transforms) */
                double t0 = thread_cpu_now();
                for (int tok = 0; tok < TOK; tok++) {
                    if (k == RZ_LIN_PER_LAYER) {
                        rz_qlinear_apply(cls.q, 1, x, c.dim, y, c.vocab_size, 0, scr, 1);
                        continue;
                    }
                    for (int l = 0; l < L; l++) {
                        const blayer *a = &q[(size_t)RZ_LIN_PER_LAYER * l + (size_t)k];
                        if (!mode)
                            rz_qlinear_apply(a->q, 1, x, a->v.cols, y, a->v.rows, 0, scr, 1);
                        else /* the kernel alone, on the untransformed x (its speed does not depend on x) */
                            rz_qdot_rows_e8p2n(&a->v, a->nib, isa, 0, a->v.rows, 1, x, a->v.pcols, y, a->v.rows);
                    }
                }
                double t = (thread_cpu_now() - t0) / TOK;
                double *best = mode ? &kern[k] : &apply[k];
                if (t < *best) *best = t;
            }
    }
    printf("one thread, CPU ms per token (12 layers), e8p 2-bit + RHT, 4-bit table, %s kernels:\n",
           i8 ? "int8-input" : "float");
    printf("%-10s %9s %9s %12s\n", "linear", "apply", "kernel", "apply-kernel");
    double sa = 0, sk = 0;
    for (int k = 0; k < RZ_LIN_PER_LAYER; k++) {
        printf("%-10s %9.3f %9.3f %12.3f\n", names[k], 1e3 * apply[k], 1e3 * kern[k], 1e3 * (apply[k] - kern[k]));
        sa += apply[k], sk += kern[k];
    }
    printf("%-10s %9.3f\n", "classifier", 1e3 * apply[RZ_LIN_PER_LAYER]);
    /* attention of one token over positions 0 .. 127 of a KV cache per layer (as
     * bench_roofline's decode steps), averaged over the positions */
    {
        enum { CTX = 128 };
        rz_rope_method rm = rz_rope_default(10000.0);
        rz_attn *at;
        rz_err e = {0};
        if (rz_attn_new(&rm, c.n_heads, c.n_kv_heads, c.dim / c.n_heads, CTX, &at, &e)) {
            fprintf(stderr, "bench_rht: %s\n", e.msg);
            exit(1);
        }
        size_t per = (size_t)CTX * (size_t)c.dim;
        float *kc = malloc(sizeof(float) * per * (size_t)L), *vc = malloc(sizeof(float) * per * (size_t)L);
        for (size_t i = 0; i < per * (size_t)L; i++) kc[i] = vc[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
        double best = 1e30;
        for (int run = 0; run < 5; run++) {
            double t0 = thread_cpu_now();
            for (int pos = 0; pos < CTX; pos++)
                for (int l = 0; l < L; l++)
                    rz_attn_forward(at, x, c.dim, 1, pos, kc + (size_t)l * per, vc + (size_t)l * per, y, c.dim);
            double t = (thread_cpu_now() - t0) / CTX;
            if (t < best) best = t;
        }
        printf("%-10s %9.3f   (one token, 12 layers, positions 0..%d averaged)\n", "attention", 1e3 * best, CTX - 1);
        free(kc), free(vc);
        rz_attn_free(at);
    }
    printf("%-10s %9.3f %9.3f %12.3f   (+ classifier = %.3f ms)\n", "linears", 1e3 * sa, 1e3 * sk, 1e3 * (sa - sk),
           1e3 * (sa + apply[RZ_LIN_PER_LAYER]));
    for (long i = 0; i < (long)RZ_LIN_PER_LAYER * L; i++) free_q(&q[i]);
    free_q(&cls);
    free(q), free(scr), free(x), free(y);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--step") == 0) {
        step(argc > 2 && strcmp(argv[2], "i8") == 0);
        return 0;
    }
    int ns = argc > 1 ? atoi(argv[1]) : 768, nb = argc > 2 ? atoi(argv[2]) : 2048, layers = 12;
    if (ns < 1 || nb < 1) {
        fprintf(stderr, "usage: bench_rht [n_small [n_big]]\n");
        return 2;
    }
    printf("rz_rht_rows, one row, CPU us per call (one thread); reference = rz_rht_rows_ref:\n");
    double own[2], shared[2];
    for (int ref = 1; ref >= 0; ref--) {
        double sf = per_call(ns, 0, ref), si = per_call(ns, 1, ref), bf = per_call(nb, 0, ref), bi = per_call(nb, 1, ref);
        const char *who = ref ? "reference" : "fast";
        printf("  %-9s n %5d forward %7.3f  inverse %7.3f\n", who, ns, 1e6 * sf, 1e6 * si);
        printf("  %-9s n %5d forward %7.3f  inverse %7.3f\n", who, nb, 1e6 * bf, 1e6 * bi);
        own[ref] = layers * (6 * sf + bf + 5 * si + 2 * bi);
        shared[ref] = layers * (3 * sf + bf + 5 * si + 2 * bi);
    }
    printf("per token, %d layers, ms (reference / fast): each linear its own input transform %.3f / %.3f; "
           "wq|wk|wv and w1|w3 sharing one %.3f / %.3f\n",
           layers, 1e3 * own[1], 1e3 * own[0], 1e3 * shared[1], 1e3 * shared[0]);
    /* prefill: every linear transforms all T rows in one call (rows in chunks of 16) */
    int T = 512;
    omp_set_num_threads(1);
    double pf[2];
    for (int ref = 1; ref >= 0; ref--)
        pf[ref] = layers * (6 * per_call_rows(ns, T, 0, ref) + per_call_rows(nb, T, 0, ref) + 5 * per_call_rows(ns, T, 1, ref) +
                            2 * per_call_rows(nb, T, 1, ref));
    printf("prefill of %d tokens, one thread, each linear its own transforms, ms (reference / fast): %.1f / %.1f\n", T,
           1e3 * pf[1], 1e3 * pf[0]);
    return 0;
}
