/* test_dca.c — Dual Chunk Attention and the KV-cache paths of attention.h.
 *
 * The reference here is deliberately literal: in float64, it builds the paper's position
 * index vectors and the full query-position matrix (Eqs. 2, 5, 7, 8: P_k = j mod s;
 * the query index of pair (i, j) is P_q^Intra[i], P_q^Succ[i] or P_q^Inter[i] as
 * floor(i/s) - floor(j/s) is 0, 1 or more), rotates q_i and k_j to those indices, and
 * takes one softmax over all of row i's scores (Eq. 9). The library never forms that
 * matrix: it computes three streamed partial attentions and merges them by log-sum-exp,
 * so agreement checks the decomposition, the index formulas and the merge at once.
 *
 * Also: DCA on T <= s tokens is ordinary causal attention; DCA beyond s is not plain
 * extrapolation; decoding one token at a time and prefill in uneven pieces give the
 * prefill output, for every method; the output is bitwise the same for 1, 2 and 4
 * threads; strided q/out work and leave other columns alone; scratch memory does not
 * grow with the context. Under RZ_SANITIZED (ASan/UBSan) the sequences are shorter.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <unistd.h>

#include "../check.h"
#include "attention.h"
#include "rope.h"


/* Deterministic uniforms in [-1, 1) (xorshift64*). */
static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static float urand(void)
{
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    return (float)((double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) * 0x1p-52 - 1.0);
}

static void fill(float *x, size_t n, float amp)
{
    for (size_t i = 0; i < n; i++) x[i] = amp * urand();
}

/* Random q [T][nh hs], k, v [T][nkv hs]: q amplitude 3 makes logits of a few units, so
 * the softmax is neither flat nor one-hot and position errors show. */
typedef struct {
    int T, nh, nkv, hs;
    float *q, *k, *v;
} inputs;

static inputs make_inputs(int T, int nh, int nkv, int hs)
{
    inputs in = {T, nh, nkv, hs, NULL, NULL, NULL};
    in.q = malloc(sizeof(float) * (size_t)T * nh * hs);
    in.k = malloc(sizeof(float) * (size_t)T * nkv * hs);
    in.v = malloc(sizeof(float) * (size_t)T * nkv * hs);
    fill(in.q, (size_t)T * nh * hs, 3), fill(in.k, (size_t)T * nkv * hs, 1), fill(in.v, (size_t)T * nkv * hs, 1);
    return in;
}

static void free_inputs(inputs *in) { free(in->q), free(in->k), free(in->v); }

static rz_rope_method dca_method(int s, int w, int c)
{
    rz_rope_method m = rz_rope_default(10000.0);
    m.method = RZ_ROPE_DCA, m.chunk = s, m.local = w, m.orig_ctx = c;
    return m;
}

/* Runs the library over in, with the tokens given to it in calls of sizes pieces[]
 * (summing to T; a single piece of T is prefill, all 1s is decoding). out [T][nh hs]. */
static int run(const rz_rope_method *m, const inputs *in, const int *pieces, int n_pieces, float *out)
{
    rz_attn *a;
    rz_err e = {0};
    if (rz_attn_new(m, in->nh, in->nkv, in->hs, in->T, &a, &e) != 0) {
        printf("#   %s\n", e.msg);
        return -1;
    }
    int dim = in->nh * in->hs, kvd = in->nkv * in->hs, pos = 0, rc = 0;
    float *kc = malloc(sizeof(float) * (size_t)in->T * kvd), *vc = malloc(sizeof(float) * (size_t)in->T * kvd);
    for (int p = 0; p < n_pieces && rc == 0; p++) {
        int n = pieces[p];
        rc = rz_attn_store_kv(a, in->k + (size_t)pos * kvd, kvd, in->v + (size_t)pos * kvd, kvd, n, pos, kc, vc);
        rc = rc ? rc : rz_attn_forward(a, in->q + (size_t)pos * dim, dim, n, pos, kc, vc, out + (size_t)pos * dim, dim);
        pos += n;
    }
    free(kc), free(vc);
    rz_attn_free(a);
    return rc;
}

static int run_prefill(const rz_rope_method *m, const inputs *in, float *out)
{
    return run(m, in, &in->T, 1, out);
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs((double)a[i] - b[i]));
    return w;
}

/* ---------------------------------------------------------------- the literal reference */

/* Rotates x[hs] (double) to position index p with the trained frequencies
 * theta^(-2j/hs), via a table cs/sn [c][hs/2] of every index DCA can use (all < c). */
static void rotate_d(double *x, int hs, const double *cs, const double *sn, int p)
{
    for (int j = 0; j < hs / 2; j++) {
        double c = cs[(size_t)p * (hs / 2) + j], s = sn[(size_t)p * (hs / 2) + j];
        double x0 = x[2 * j], x1 = x[2 * j + 1];
        x[2 * j] = x0 * c - x1 * s;
        x[2 * j + 1] = x0 * s + x1 * c;
    }
}

/* DCA from the paper's definitions, float64, for positions 0..T-1. out [T][nh hs]. */
static void ref_dca(int s, int w, int c, double theta, const inputs *in, double *out)
{
    int T = in->T, hs = in->hs, nh = in->nh, nkv = in->nkv, dim = nh * hs, kvd = nkv * hs;
    /* Position index vectors (Eqs. 2, 5, 7): */
    int *Pk = malloc(sizeof(int) * T), *Pintra = malloc(sizeof(int) * T);
    int *Psucc = malloc(sizeof(int) * T), *Pinter = malloc(sizeof(int) * T);
    for (int i = 0; i < T; i++) {
        Pk[i] = i % s;                          /* P_k = [0, 1, ..., l-1] mod s */
        Pintra[i] = Pk[i];                      /* P_q^Intra = P_k */
        Psucc[i] = i % s < w ? s + i % s : c - 1; /* [s, s+1, ..., s+w-1, c-1, ..., c-1] per chunk */
        Pinter[i] = c - 1;                      /* [c-1, ..., c-1] */
    }
    /* The query index of every pair (Eq. 8 without the subtraction): Mq[i][j]. */
    int *Mq = malloc(sizeof(int) * (size_t)T * T);
    for (int i = 0; i < T; i++)
        for (int j = 0; j <= i; j++) {
            int d = i / s - j / s;
            Mq[(size_t)i * T + j] = d == 0 ? Pintra[i] : d == 1 ? Psucc[i] : Pinter[i];
        }
    double *cs = malloc(sizeof(double) * (size_t)c * (hs / 2)), *sn = malloc(sizeof(double) * (size_t)c * (hs / 2));
    for (int p = 0; p < c; p++)
        for (int j = 0; j < hs / 2; j++) {
            double a = p * pow(theta, -2.0 * j / hs);
            cs[(size_t)p * (hs / 2) + j] = cos(a), sn[(size_t)p * (hs / 2) + j] = sin(a);
        }
    double *kr = malloc(sizeof(double) * (size_t)T * hs), *qr = malloc(sizeof(double) * hs);
    double *sc = malloc(sizeof(double) * T);
    for (int h = 0; h < nh; h++) {
        int g = h / (nh / nkv);
        for (int j = 0; j < T; j++) {
            for (int d = 0; d < hs; d++) kr[(size_t)j * hs + d] = in->k[(size_t)j * kvd + g * hs + d];
            rotate_d(kr + (size_t)j * hs, hs, cs, sn, Pk[j]);
        }
        for (int i = 0; i < T; i++) {
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j <= i; j++) {
                for (int d = 0; d < hs; d++) qr[d] = in->q[(size_t)i * dim + h * hs + d];
                rotate_d(qr, hs, cs, sn, Mq[(size_t)i * T + j]);
                double dot = 0;
                for (int d = 0; d < hs; d++) dot += qr[d] * kr[(size_t)j * hs + d];
                sc[j] = dot / sqrt((double)hs);
                mx = fmax(mx, sc[j]);
            }
            /* one softmax over the concatenated intra | succ | inter scores (Eq. 9) */
            for (int j = 0; j <= i; j++) sum += (sc[j] = exp(sc[j] - mx));
            for (int d = 0; d < hs; d++) {
                double o = 0;
                for (int j = 0; j <= i; j++) o += sc[j] * in->v[(size_t)j * kvd + g * hs + d];
                out[(size_t)i * dim + h * hs + d] = o / sum;
            }
        }
    }
    free(Pk), free(Pintra), free(Psucc), free(Pinter), free(Mq), free(cs), free(sn), free(kr), free(qr), free(sc);
}

/* ---------------------------------------------------------------- cases */

/* Against the literal reference, over configurations that exercise: chunk = query block
 * (QB = RZ_ATTN_QBLOCK), chunks not a multiple of QB, inter parts over more than one key
 * block (KB = RZ_ATTN_KBLOCK keys), intra parts over more than one key block (s > KB),
 * tiny chunks (many inter chunks), the paper's example (s 6, c 10, w 4), grouped-query
 * heads, w < c - s, w = c - s and w = s. */
static void test_dca_vs_reference(void)
{
    const int QB = RZ_ATTN_QBLOCK, KB = RZ_ATTN_KBLOCK;
    struct {
        int s, w, c, T, T_san, nh, nkv, hs;
    } cfg[] = {
        {QB, 32, QB + 72, 3 * QB + 44, 2 * QB + 44, 4, 2, 16},
        {50, 20, 80, 260, 160, 2, 1, 8},
        {100, 60, 200, 2 * KB + 100, KB + 300, 3, 3, 32},
        {7, 3, 12, 40, 40, 2, 2, 4},
        {KB + 88, 200, KB + 488, 2 * KB + 376, 2 * KB + 226, 2, 1, 16},
        {6, 4, 10, 30, 30, 1, 1, 8},
        {40, 40, 80, 170, 130, 2, 1, 8},
    };
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
        int T = check_sanitized() ? cfg[k].T_san : cfg[k].T;
        inputs in = make_inputs(T, cfg[k].nh, cfg[k].nkv, cfg[k].hs);
        rz_rope_method m = dca_method(cfg[k].s, cfg[k].w, cfg[k].c);
        size_t n = (size_t)T * cfg[k].nh * cfg[k].hs;
        float *out = malloc(sizeof(float) * n);
        double *ref = malloc(sizeof(double) * n);
        CHECK_EQ_INT(run_prefill(&m, &in, out), 0);
        ref_dca(cfg[k].s, cfg[k].w, cfg[k].c, 10000.0, &in, ref);
        double worst = 0;
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(out[i] - ref[i]));
        printf("#   s %d w %d c %d T %d heads %d/%d hs %d: max |out - ref| = %.2e\n", cfg[k].s, cfg[k].w, cfg[k].c, T,
               cfg[k].nh, cfg[k].nkv, cfg[k].hs, worst);
        /* float32 vs float64: rotated values and hs-term logits carry ~1e-7 relative
         * rounding (|logit| <~ 10 -> ~1e-6 absolute), exp is within ~2e-7, outputs are
         * convex combinations of |v| <= 1 summed in float over <= 1400 keys, and the merge
         * of three parts adds a few float roundings. Observed ~3e-7; 5e-6 is the bound. */
        CHECK_NEAR(worst, 0, 5e-6);
        free(out), free(ref), free_inputs(&in);
    }
}

/* With T <= s every token is in chunk 0: only the intra part exists, its indices are
 * the positions themselves, so DCA is ordinary causal RoPE attention. Same blocks and
 * same sgemms in both runs, so the agreement is to float rounding (in practice exact). */
static void test_short_equals_plain(void)
{
    rz_rope_method plain = rz_rope_default(10000.0);
    const int Ts[4] = {1, 63, 130, 192};
    for (int t = 0; t < 4; t++) {
        inputs in = make_inputs(Ts[t], 4, 2, 16);
        rz_rope_method m = dca_method(192, 64, 256); /* T <= s = 192 */
        size_t n = (size_t)Ts[t] * 4 * 16;
        float *o1 = malloc(sizeof(float) * n), *o2 = malloc(sizeof(float) * n);
        CHECK_EQ_INT(run_prefill(&m, &in, o1), 0);
        CHECK_EQ_INT(run_prefill(&plain, &in, o2), 0);
        CHECK_NEAR(max_diff(o1, o2, n), 0, 1e-6);
        free(o1), free(o2), free_inputs(&in);
    }
}

/* Beyond one chunk DCA must change the output (the successive and inter parts use other
 * query positions than plain extrapolation): rows of chunk 0 identical, later rows not. */
static void test_dca_differs_beyond_chunk(void)
{
    int T = 200, s = 64;
    inputs in = make_inputs(T, 2, 2, 16);
    rz_rope_method m = dca_method(s, 16, 100), plain = rz_rope_default(10000.0);
    size_t n = (size_t)T * 32;
    float *o1 = malloc(sizeof(float) * n), *o2 = malloc(sizeof(float) * n);
    CHECK_EQ_INT(run_prefill(&m, &in, o1), 0);
    CHECK_EQ_INT(run_prefill(&plain, &in, o2), 0);
    CHECK_NEAR(max_diff(o1, o2, (size_t)s * 32), 0, 1e-6);
    double later = max_diff(o1 + (size_t)s * 32, o2 + (size_t)s * 32, n - (size_t)s * 32);
    printf("#   rows past the first chunk: max |dca - plain| = %.3f\n", later);
    CHECK(later > 1e-2);
    free(o1), free(o2), free_inputs(&in);
}

/* Decoding (T = 1 at each position, keys added to the cache one at a time) and prefill
 * in uneven pieces give the prefill output, for every method. The blocks differ (1-row
 * sgemv and 37-row blocks vs QB-row ones), so BLAS may sum in another order: float
 * rounding only, ~2e-7 observed; 2e-6 bound. */
static void test_decode_equals_prefill(void)
{
    int T = check_sanitized() ? 200 : RZ_ATTN_KBLOCK + 100; /* prefill spans several query and key blocks */
    rz_rope_method ms[6];
    for (int i = 0; i < 6; i++) ms[i] = rz_rope_default(10000.0);
    ms[1].method = RZ_ROPE_PI, ms[1].scale = 4;
    ms[2].method = RZ_ROPE_NTK, ms[2].scale = 4;
    ms[3].method = RZ_ROPE_YARN, ms[3].scale = 4, ms[3].orig_ctx = 64;
    ms[4] = dca_method(48, 16, 64);
    ms[5] = dca_method(70, 30, 100);
    inputs in = make_inputs(T, 4, 2, 16);
    size_t n = (size_t)T * 64;
    float *pre = malloc(sizeof(float) * n), *dec = malloc(sizeof(float) * n), *pcs = malloc(sizeof(float) * n);
    int *ones = malloc(sizeof(int) * T);
    for (int t = 0; t < T; t++) ones[t] = 1;
    int pieces[4] = {37, 64, 11, T - 112}; /* boundaries inside chunks and blocks */
    for (int i = 0; i < 6; i++) {
        CHECK_EQ_INT(run_prefill(&ms[i], &in, pre), 0);
        CHECK_EQ_INT(run(&ms[i], &in, ones, T, dec), 0);
        CHECK_EQ_INT(run(&ms[i], &in, pieces, 4, pcs), 0);
        double d1 = max_diff(pre, dec, n), d2 = max_diff(pre, pcs, n);
        printf("#   %s: decode %.2e, pieces %.2e\n", rz_rope_method_name(ms[i].method), d1, d2);
        CHECK_NEAR(d1, 0, 2e-6);
        CHECK_NEAR(d2, 0, 2e-6);
    }
    free(pre), free(dec), free(pcs), free(ones), free_inputs(&in);
}

/* Bitwise the same output with 1, 2 and 4 OpenMP threads: each (head, block) unit is
 * computed by one thread with single-threaded BLAS, whatever the team size. */
static void test_threads_bitwise(void)
{
    int saved = omp_get_max_threads();
    int T = check_sanitized() ? 200 : 400;
    inputs in = make_inputs(T, 6, 2, 16);
    size_t n = (size_t)T * 96;
    rz_rope_method ms[2] = {rz_rope_default(10000.0), dca_method(96, 32, 128)};
    float *o[3];
    for (int i = 0; i < 3; i++) o[i] = malloc(sizeof(float) * n);
    for (int k = 0; k < 2; k++) {
        const int threads[3] = {1, 2, 4};
        for (int i = 0; i < 3; i++) {
            omp_set_num_threads(threads[i]);
            CHECK_EQ_INT(run_prefill(&ms[k], &in, o[i]), 0);
        }
        CHECK(memcmp(o[0], o[1], n * sizeof(float)) == 0);
        CHECK(memcmp(o[0], o[2], n * sizeof(float)) == 0);
    }
    omp_set_num_threads(saved);
    for (int i = 0; i < 3; i++) free(o[i]);
    free_inputs(&in);
}

/* One decoded row far enough into the context that attention splits the heads over the
 * threads (work = heads · positions · 2 hs ≥ 2²²: 4 heads of 64 at position 8199, and
 * the scores fit the scratch, so the key-order path runs): the same bits with 1, 2, 4
 * and 3 threads (heads 4 | 2 + 2 | 1 + 1 + 1 + 1 | 1 + 1 + 2). */
static void test_decode_threads_bitwise(void)
{
    int saved = omp_get_max_threads();
    omp_set_num_threads(4); /* scratch slots for 4 */
    int T = 8200, nh = 4, nkv = 2, hs = 64, dim = nh * hs, kvd = nkv * hs;
    inputs in = make_inputs(T, nh, nkv, hs);
    rz_rope_method m = rz_rope_default(10000.0);
    rz_attn *a;
    rz_err e = {0};
    CHECK_EQ_INT(rz_attn_new(&m, nh, nkv, hs, T, &a, &e), 0);
    float *kc = malloc(sizeof(float) * (size_t)T * kvd), *vc = malloc(sizeof(float) * (size_t)T * kvd);
    CHECK_EQ_INT(rz_attn_store_kv(a, in.k, kvd, in.v, kvd, T, 0, kc, vc), 0);
    float o[4][256];
    const int threads[4] = {1, 2, 4, 3};
    for (int i = 0; i < 4; i++) {
        omp_set_num_threads(threads[i]);
        CHECK_EQ_INT(rz_attn_forward(a, in.q + (size_t)(T - 1) * dim, dim, 1, T - 1, kc, vc, o[i], dim), 0);
    }
    for (int i = 1; i < 4; i++) CHECK(memcmp(o[0], o[i], sizeof o[0]) == 0);
    omp_set_num_threads(saved);
    free(kc), free(vc);
    rz_attn_free(a);
    free_inputs(&in);
}

/* q and out with row strides wider than the heads (as llama.c's qkv rows are): the same
 * result as contiguous rows, q untouched, out's extra columns untouched. */
static void test_strides(void)
{
    int T = 90, nh = 2, nkv = 1, hs = 16, dim = nh * hs, kvd = nkv * hs, ldq = dim + 2 * kvd, ldo = dim + 5;
    inputs in = make_inputs(T, nh, nkv, hs);
    rz_rope_method m = dca_method(40, 10, 60);
    float *ref = malloc(sizeof(float) * (size_t)T * dim);
    CHECK_EQ_INT(run_prefill(&m, &in, ref), 0);
    float *qkv = malloc(sizeof(float) * (size_t)T * ldq), *out = malloc(sizeof(float) * (size_t)T * ldo);
    for (int t = 0; t < T; t++) {
        memcpy(qkv + (size_t)t * ldq, in.q + (size_t)t * dim, sizeof(float) * dim);
        memcpy(qkv + (size_t)t * ldq + dim, in.k + (size_t)t * kvd, sizeof(float) * kvd);
        memcpy(qkv + (size_t)t * ldq + dim + kvd, in.v + (size_t)t * kvd, sizeof(float) * kvd);
    }
    float *copy = malloc(sizeof(float) * (size_t)T * ldq);
    memcpy(copy, qkv, sizeof(float) * (size_t)T * ldq);
    for (size_t i = 0; i < (size_t)T * ldo; i++) out[i] = 12345.0f;
    rz_attn *a;
    rz_err e = {0};
    CHECK_EQ_INT(rz_attn_new(&m, nh, nkv, hs, T, &a, &e), 0);
    float *kc = malloc(sizeof(float) * (size_t)T * kvd), *vc = malloc(sizeof(float) * (size_t)T * kvd);
    CHECK_EQ_INT(rz_attn_store_kv(a, qkv + dim, ldq, qkv + dim + kvd, ldq, T, 0, kc, vc), 0);
    CHECK_EQ_INT(rz_attn_forward(a, qkv, ldq, T, 0, kc, vc, out, ldo), 0);
    CHECK(memcmp(copy, qkv, sizeof(float) * (size_t)T * ldq) == 0);
    double worst = 0;
    int extra_ok = 1;
    for (int t = 0; t < T; t++) {
        worst = fmax(worst, max_diff(out + (size_t)t * ldo, ref + (size_t)t * dim, (size_t)dim));
        for (int i = dim; i < ldo; i++) extra_ok &= out[(size_t)t * ldo + i] == 12345.0f;
    }
    CHECK_NEAR(worst, 0, 0); /* same blocks, same sgemm shapes: bitwise */
    CHECK(extra_ok);
    rz_attn_free(a);
    free(ref), free(qkv), free(out), free(copy), free(kc), free(vc), free_inputs(&in);
}

/* Memory: the scratch is per thread and per block, not per token pair: identical for a
 * context of 512 and of 65536, and small (stories110M heads: hs 64). The DCA angle table
 * is c rows whatever the context (all indices are < c). */
static void test_memory_bounded(void)
{
    rz_rope_method plain = rz_rope_default(10000.0), dca = dca_method(768, 256, 1024);
    rz_attn *a, *b;
    rz_err e = {0};
    CHECK_EQ_INT(rz_attn_new(&dca, 12, 12, 64, 512, &a, &e), 0);
    CHECK_EQ_INT(rz_attn_new(&dca, 12, 12, 64, 65536, &b, &e), 0);
    CHECK_EQ_INT(rz_attn_scratch_bytes(a), rz_attn_scratch_bytes(b));
    CHECK_EQ_INT(rz_attn_rope(b)->n_pos, 1024);
    size_t per_thread = rz_attn_scratch_bytes(b) / (size_t)omp_get_max_threads();
    printf("#   scratch %zu bytes per thread (a 4096 x 4096 score matrix would be %d)\n", per_thread, 4096 * 4096 * 4);
    CHECK(per_thread < 1024 * 1024); /* QB x KB scores + 6 QB x hs rows: ~0.5 MiB at hs 64 */
    rz_attn_free(a);
    rz_attn_free(b);
    CHECK_EQ_INT(rz_attn_new(&plain, 12, 12, 64, 4096, &a, &e), 0);
    CHECK_EQ_INT(rz_attn_rope(a)->n_pos, 4096);
    rz_attn_free(a);
}

int main(void)
{
    RUN(test_dca_vs_reference);
    RUN(test_short_equals_plain);
    RUN(test_dca_differs_beyond_chunk);
    RUN(test_decode_equals_prefill);
    RUN(test_threads_bitwise);
    RUN(test_decode_threads_bitwise);
    RUN(test_strides);
    RUN(test_memory_bounded);
    return check_summary();
}
