/* test_rope.c — RoPE and its extensions (rope.h), and plain/PI/NTK/YaRN attention
 * (attention.h) against a naive float64 reference.
 *
 * What is checked, each against something computed independently here:
 *   - frequencies: plain f_j = theta^(-2j/hs); PI f_j / scale; NTK's defining properties
 *     (f_0 kept, the lowest frequency divided by exactly scale); YaRN's ramp ends (pairs
 *     turning more than beta times kept, fewer than alpha times interpolated) and its
 *     temperature (0.1 ln scale + 1)^2;
 *   - PI, NTK and YaRN at scale 1 are plain RoPE (frequencies, rotations, attention);
 *   - the rotation is orthogonal (norms kept) and relative (q.k depends on the position
 *     difference only) for every method, in and beyond the angle table;
 *   - DCA's position indices reproduce the paper's worked example (Fig. 2);
 *   - attention of each method equals a naive float64 softmax(q.k) v with its own RoPE;
 *   - bad methods and options are rejected with RZ_EINPUT and a message naming the reason.
 */
#include <math.h>
#include <stdint.h>

#include "../check.h"
#include "attention.h"
#include "rope.h"

/* ---------------------------------------------------------------- helpers */

/* Deterministic uniforms in [-1, 1) (xorshift64*). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float urand(void)
{
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    return (float)((double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) * 0x1p-52 - 1.0);
}

static void fill(float *x, size_t n, float amp)
{
    for (size_t i = 0; i < n; i++) x[i] = amp * urand();
}

/* The frequency of pair j of each method, written from the formulas (double). */
static double ref_freq(const rz_rope_method *m, int hs, int j)
{
    double f = pow(m->theta, -2.0 * j / hs);
    if (m->method == RZ_ROPE_PI) return f / m->scale;
    if (m->method == RZ_ROPE_NTK) return pow(m->theta * pow(m->scale, hs / (hs - 2.0)), -2.0 * j / hs);
    if (m->method == RZ_ROPE_YARN) {
        double turns = m->orig_ctx * f / (2 * M_PI);
        double g = (turns - m->yarn_alpha) / (m->yarn_beta - m->yarn_alpha);
        g = fmin(1.0, fmax(0.0, g));
        return f / m->scale * (1 - g) + f * g;
    }
    return f;
}

/* Temperature multiplier of the logits: YaRN's (0.1 ln s + 1)^2, else 1. */
static double ref_temperature(const rz_rope_method *m)
{
    double ms = m->method == RZ_ROPE_YARN ? 0.1 * log(m->scale) + 1.0 : 1.0;
    return ms * ms;
}

/* Rotate one head x[hs] (double) to position index p with the reference frequencies. */
static void ref_rotate(const rz_rope_method *m, double *x, int hs, double p)
{
    for (int j = 0; j < hs / 2; j++) {
        double a = p * ref_freq(m, hs, j), c = cos(a), s = sin(a);
        double x0 = x[2 * j], x1 = x[2 * j + 1];
        x[2 * j] = x0 * c - x1 * s;
        x[2 * j + 1] = x0 * s + x1 * c;
    }
}

static rz_rope_method method(int kind, double scale, int orig_ctx)
{
    rz_rope_method m = rz_rope_default(10000.0);
    m.method = kind;
    m.scale = scale;
    if (kind == RZ_ROPE_YARN) m.orig_ctx = orig_ctx;
    return m;
}

/* ---------------------------------------------------------------- frequencies */

static void test_frequencies(void)
{
    int hs = 64;
    const int kinds[4] = {RZ_ROPE_NONE, RZ_ROPE_PI, RZ_ROPE_NTK, RZ_ROPE_YARN};
    for (int k = 0; k < 4; k++) {
        rz_rope_method m = method(kinds[k], kinds[k] == RZ_ROPE_NONE ? 1.0 : 8.0, 256);
        rz_rope r;
        rz_err e = {0};
        CHECK_EQ_INT(rz_rope_init(&r, &m, hs, 100, &e), 0);
        /* the same formula evaluated the same way in double: agreement to a few ulps */
        for (int j = 0; j < hs / 2; j++) CHECK_NEAR(r.freq[j] / ref_freq(&m, hs, j), 1.0, 1e-14);
        CHECK_NEAR(r.logit_scale, ref_temperature(&m) / 8.0, 1e-7);
        rz_rope_free(&r);
    }
    /* NTK: the highest frequency is kept and the lowest is interpolated by exactly scale
     * (that is what hs/(hs-2) in the base exponent is for). */
    rz_rope_method plain = method(RZ_ROPE_NONE, 1, 0), ntk = method(RZ_ROPE_NTK, 8, 0);
    rz_rope a, b;
    rz_err e = {0};
    CHECK_EQ_INT(rz_rope_init(&a, &plain, hs, 10, &e), 0);
    CHECK_EQ_INT(rz_rope_init(&b, &ntk, hs, 10, &e), 0);
    CHECK_NEAR(b.freq[0], a.freq[0], 0);
    CHECK_NEAR(b.freq[hs / 2 - 1] * 8.0 / a.freq[hs / 2 - 1], 1.0, 1e-12);
    rz_rope_free(&b);
    /* YaRN with c = 256, scale 8: pair j turns 256 f_j / 2pi times; more than 32 -> kept,
     * fewer than 1 -> f / 8, and in between strictly between the two. */
    rz_rope_method yarn = method(RZ_ROPE_YARN, 8, 256);
    CHECK_EQ_INT(rz_rope_init(&b, &yarn, hs, 10, &e), 0);
    int kept = 0, interp = 0, blended = 0;
    for (int j = 0; j < hs / 2; j++) {
        double turns = 256 * a.freq[j] / (2 * M_PI);
        if (turns > 32) {
            kept++;
            CHECK_NEAR(b.freq[j], a.freq[j], 0);
        } else if (turns < 1) {
            interp++;
            CHECK_NEAR(b.freq[j] * 8 / a.freq[j], 1.0, 1e-12);
        } else {
            blended++;
            CHECK(b.freq[j] < a.freq[j] && b.freq[j] > a.freq[j] / 8);
        }
    }
    CHECK(kept > 0 && interp > 0 && blended > 0); /* the test covers all three regimes */
    double ms = 0.1 * log(8.0) + 1.0;
    CHECK_NEAR(b.logit_scale, ms * ms / 8.0, 1e-7);
    rz_rope_free(&a);
    rz_rope_free(&b);
}

/* PI, NTK and YaRN with scale 1 are plain RoPE: same frequencies (YaRN's blend
 * (1-g) f + g f may round differently by an ulp), same rotated rows, same logit scale. */
static void test_scale_one_is_plain(void)
{
    int hs = 32, width = 3 * hs;
    rz_rope_method plain = method(RZ_ROPE_NONE, 1, 0);
    rz_rope ref;
    rz_err e = {0};
    CHECK_EQ_INT(rz_rope_init(&ref, &plain, hs, 64, &e), 0);
    const int kinds[3] = {RZ_ROPE_PI, RZ_ROPE_NTK, RZ_ROPE_YARN};
    for (int k = 0; k < 3; k++) {
        rz_rope_method m = method(kinds[k], 1.0, 64);
        rz_rope r;
        CHECK_EQ_INT(rz_rope_init(&r, &m, hs, 64, &e), 0);
        for (int j = 0; j < hs / 2; j++) CHECK_NEAR(r.freq[j] / ref.freq[j], 1.0, 1e-15);
        CHECK_NEAR(r.logit_scale, ref.logit_scale, 0);
        float x[96], y[96];
        for (int p = 0; p < 200; p += 7) { /* in the table (< 64) and beyond it */
            fill(x, width, 1);
            memcpy(y, x, sizeof x);
            rz_rope_rotate(&r, x, width, p);
            rz_rope_rotate(&ref, y, width, p);
            /* same angles up to an ulp in double: the float results agree to rounding */
            for (int i = 0; i < width; i++) CHECK_NEAR(x[i], y[i], 1e-6);
        }
        rz_rope_free(&r);
    }
    rz_rope_free(&ref);
}

/* The rotation keeps the norm of every pair (so of every head), for every method and at
 * positions inside and far beyond the table; and (R(a) q).(R(b) k) depends on a - b only. */
static void test_orthogonal_and_relative(void)
{
    int hs = 64;
    rz_rope_method ms[5] = {method(RZ_ROPE_NONE, 1, 0), method(RZ_ROPE_PI, 4, 0), method(RZ_ROPE_NTK, 4, 0),
                            method(RZ_ROPE_YARN, 4, 512), rz_rope_default(10000.0)};
    ms[4].method = RZ_ROPE_DCA, ms[4].orig_ctx = 512, ms[4].chunk = 384, ms[4].local = 128;
    const int pos[6] = {0, 1, 63, 511, 4095, 100000};
    for (int k = 0; k < 5; k++) {
        rz_rope r;
        rz_err e = {0};
        CHECK_EQ_INT(rz_rope_init(&r, &ms[k], hs, 512, &e), 0);
        for (int pi = 0; pi < 6; pi++) {
            float x[64], y[64];
            fill(x, hs, 2);
            memcpy(y, x, sizeof x);
            rz_rope_rotate(&r, y, hs, pos[pi]);
            for (int j = 0; j < hs / 2; j++) {
                double n0 = (double)x[2 * j] * x[2 * j] + (double)x[2 * j + 1] * x[2 * j + 1];
                double n1 = (double)y[2 * j] * y[2 * j] + (double)y[2 * j + 1] * y[2 * j + 1];
                /* cos^2 + sin^2 = 1 up to float rounding of cos, sin and the products:
                 * a few float ulps relative */
                CHECK_NEAR(n1, n0, 1e-6 * (n0 + 1e-3));
            }
        }
        /* relative: shift both positions by d */
        float q[64], kk[64];
        fill(q, hs, 1);
        fill(kk, hs, 1);
        const int a0 = 37, b0 = 5, d[3] = {11, 300, 2000};
        float qa[64], kb[64];
        memcpy(qa, q, sizeof q), memcpy(kb, kk, sizeof kk);
        rz_rope_rotate(&r, qa, hs, a0), rz_rope_rotate(&r, kb, hs, b0);
        double dot0 = 0;
        for (int i = 0; i < hs; i++) dot0 += (double)qa[i] * kb[i];
        for (int di = 0; di < 3; di++) {
            memcpy(qa, q, sizeof q), memcpy(kb, kk, sizeof kk);
            rz_rope_rotate(&r, qa, hs, a0 + d[di]), rz_rope_rotate(&r, kb, hs, b0 + d[di]);
            double dot = 0;
            for (int i = 0; i < hs; i++) dot += (double)qa[i] * kb[i];
            /* the angles p f_j are formed in double and only cos/sin rounded to float
             * (~6e-8 relative), so each of the 64 products |q_i k_i| <= 1 is off by
             * ~1e-7: a sum error of a few 1e-6 at most; 2e-5 is a safe bound */
            CHECK_NEAR(dot, dot0, 2e-5);
        }
        rz_rope_free(&r);
    }
}

/* The paper's worked example (Fig. 2): s = 6, c = 10, w = 4 gives
 * P_q^Succ = [6,7,8,9,9,9, 6,7,8,9,9,9], P_k = P_q^Intra = [0..5, 0..5], P_q^Inter = 9;
 * and every inter-chunk relative position is >= c - s. */
static void test_dca_indices(void)
{
    rz_rope_method m = rz_rope_default(10000.0);
    m.method = RZ_ROPE_DCA, m.orig_ctx = 10, m.chunk = 6, m.local = 4;
    rz_rope r;
    rz_err e = {0};
    CHECK_EQ_INT(rz_rope_init(&r, &m, 8, 1000, &e), 0);
    CHECK_EQ_INT(r.n_pos, 10); /* every index is < c, so the table is c rows */
    const int succ[12] = {6, 7, 8, 9, 9, 9, 6, 7, 8, 9, 9, 9};
    for (int i = 0; i < 12; i++) {
        CHECK_EQ_INT(rz_rope_query_index(&r, i, RZ_DCA_SUCC), succ[i]);
        CHECK_EQ_INT(rz_rope_query_index(&r, i, RZ_DCA_INTRA), i % 6);
        CHECK_EQ_INT(rz_rope_query_index(&r, i, RZ_DCA_INTER), 9);
        CHECK_EQ_INT(rz_rope_key_index(&r, i), i % 6);
    }
    for (int i = 0; i < 60; i++)
        for (int j = 0; j < i; j++)
            if (i / 6 - j / 6 > 1) CHECK(rz_rope_query_index(&r, i, RZ_DCA_INTER) - rz_rope_key_index(&r, j) >= 10 - 6);
    rz_rope_free(&r);
}

/* ---------------------------------------------------------------- attention */

/* Naive float64 causal attention from position 0: for head h and query i,
 * out = sum_j softmax_j(temp * (R(i) q_i).(R(j) k_j) / sqrt(hs)) v_j, j <= i. */
static void ref_attention(const rz_rope_method *m, const float *q, const float *k, const float *v, int T, int nh,
                          int nkv, int hs, double *out)
{
    int dim = nh * hs, kvd = nkv * hs;
    double *qr = malloc(sizeof(double) * hs), *kr = malloc(sizeof(double) * (size_t)T * hs);
    double *sc = malloc(sizeof(double) * T);
    for (int h = 0; h < nh; h++) {
        int g = h / (nh / nkv);
        for (int j = 0; j < T; j++) {
            for (int d = 0; d < hs; d++) kr[(size_t)j * hs + d] = k[(size_t)j * kvd + g * hs + d];
            ref_rotate(m, kr + (size_t)j * hs, hs, j);
        }
        for (int i = 0; i < T; i++) {
            for (int d = 0; d < hs; d++) qr[d] = q[(size_t)i * dim + h * hs + d];
            ref_rotate(m, qr, hs, i);
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j <= i; j++) {
                double dot = 0;
                for (int d = 0; d < hs; d++) dot += qr[d] * kr[(size_t)j * hs + d];
                sc[j] = dot * ref_temperature(m) / sqrt((double)hs);
                mx = fmax(mx, sc[j]);
            }
            for (int j = 0; j <= i; j++) sum += (sc[j] = exp(sc[j] - mx));
            for (int d = 0; d < hs; d++) {
                double o = 0;
                for (int j = 0; j <= i; j++) o += sc[j] * v[(size_t)j * kvd + g * hs + d];
                out[(size_t)i * dim + h * hs + d] = o / sum;
            }
        }
    }
    free(qr), free(kr), free(sc);
}

/* Prefill of T tokens from position 0 through the library: store all keys, attend. */
static int run_prefill(const rz_rope_method *m, const float *q, const float *k, const float *v, int T, int nh,
                       int nkv, int hs, float *out)
{
    rz_attn *a;
    rz_err e = {0};
    if (rz_attn_new(m, nh, nkv, hs, T, &a, &e) != 0) {
        printf("#   %s\n", e.msg);
        return -1;
    }
    int kvd = nkv * hs;
    float *kc = malloc(sizeof(float) * (size_t)T * kvd), *vc = malloc(sizeof(float) * (size_t)T * kvd);
    int rc = rz_attn_store_kv(a, k, kvd, v, kvd, T, 0, kc, vc);
    rc = rc ? rc : rz_attn_forward(a, q, nh * hs, T, 0, kc, vc, out, nh * hs);
    free(kc), free(vc);
    rz_attn_free(a);
    return rc;
}

/* Every non-DCA method against the naive reference, with T spanning several query
 * blocks and key blocks (RZ_ATTN_QBLOCK, RZ_ATTN_KBLOCK), grouped-query heads, and
 * scales that move the frequencies a lot (8) so that a wrong formula could not hide. */
static void test_attention_vs_reference(void)
{
    int T = RZ_ATTN_KBLOCK + 88, nh = 4, nkv = 2, hs = 16, dim = nh * hs, kvd = nkv * hs;
    float *q = malloc(sizeof(float) * (size_t)T * dim), *k = malloc(sizeof(float) * (size_t)T * kvd);
    float *v = malloc(sizeof(float) * (size_t)T * kvd), *out = malloc(sizeof(float) * (size_t)T * dim);
    double *ref = malloc(sizeof(double) * (size_t)T * dim);
    /* q amplitude 3: logits of a few units, so the softmax is neither flat nor one-hot */
    fill(q, (size_t)T * dim, 3), fill(k, (size_t)T * kvd, 1), fill(v, (size_t)T * kvd, 1);
    rz_rope_method ms[5] = {method(RZ_ROPE_NONE, 1, 0), method(RZ_ROPE_PI, 8, 0), method(RZ_ROPE_NTK, 8, 0),
                            method(RZ_ROPE_YARN, 8, 64), method(RZ_ROPE_YARN, 1, 64)};
    for (int c = 0; c < 5; c++) {
        CHECK_EQ_INT(run_prefill(&ms[c], q, k, v, T, nh, nkv, hs, out), 0);
        ref_attention(&ms[c], q, k, v, T, nh, nkv, hs, ref);
        double worst = 0;
        for (size_t i = 0; i < (size_t)T * dim; i++) worst = fmax(worst, fabs(out[i] - ref[i]));
        /* float32 pipeline vs float64: logits are 16-term float dot products of rotated
         * values (|q.k| <~ 10, error ~1e-6), exp_f is within ~2e-7 relative, and the
         * output is a convex combination of |v| <= 1 accumulated in float over <= 600
         * keys (~1e-6 at worst). Observed: ~3e-7; 5e-6 allows other BLAS kernels. */
        printf("#   %s: max |out - ref| = %.2e\n", rz_rope_method_name(ms[c].method), worst);
        CHECK_NEAR(worst, 0, 5e-6);
    }
    free(q), free(k), free(v), free(out), free(ref);
}

/* PI, NTK and YaRN at scale 1 give the same attention as plain RoPE. */
static void test_attention_scale_one(void)
{
    int T = 100, nh = 2, nkv = 1, hs = 32, dim = nh * hs, kvd = nkv * hs;
    float *q = malloc(sizeof(float) * (size_t)T * dim), *k = malloc(sizeof(float) * (size_t)T * kvd);
    float *v = malloc(sizeof(float) * (size_t)T * kvd);
    float *o0 = malloc(sizeof(float) * (size_t)T * dim), *o1 = malloc(sizeof(float) * (size_t)T * dim);
    fill(q, (size_t)T * dim, 3), fill(k, (size_t)T * kvd, 1), fill(v, (size_t)T * kvd, 1);
    rz_rope_method plain = method(RZ_ROPE_NONE, 1, 0);
    CHECK_EQ_INT(run_prefill(&plain, q, k, v, T, nh, nkv, hs, o0), 0);
    const int kinds[3] = {RZ_ROPE_PI, RZ_ROPE_NTK, RZ_ROPE_YARN};
    for (int c = 0; c < 3; c++) {
        rz_rope_method m = method(kinds[c], 1.0, 32);
        CHECK_EQ_INT(run_prefill(&m, q, k, v, T, nh, nkv, hs, o1), 0);
        double worst = 0;
        for (size_t i = 0; i < (size_t)T * dim; i++) worst = fmax(worst, fabs(o0[i] - o1[i]));
        /* the only difference is YaRN's frequencies rounding by an ulp in double, which
         * reaches the floats only through a rare different rounding of cos/sin */
        CHECK_NEAR(worst, 0, 1e-6);
    }
    free(q), free(k), free(v), free(o0), free(o1);
}

/* ---------------------------------------------------------------- parameters */

/* 1 if the message contains the text. */
static int says(const rz_err *e, const char *text) { return strstr(e->msg, text) != NULL; }

static void expect_parse_error(const char *ext, const char *scale, const char *chunk, const char *local,
                               const char *text)
{
    rz_rope_method m;
    rz_err e = {0};
    int rc = rz_rope_parse(ext, scale, chunk, local, 1024, 10000.0, &m, &e);
    CHECK_EQ_INT(rc, RZ_EINPUT);
    CHECK_EQ_INT(e.code, RZ_EINPUT);
    if (!says(&e, text)) {
        printf("#   --rope-ext %s: message '%s' lacks '%s'\n", ext ? ext : "(null)", e.msg, text);
        CHECK(0);
    }
}

static void test_parse(void)
{
    rz_rope_method m;
    rz_err e = {0};
    /* valid */
    CHECK_EQ_INT(rz_rope_parse(NULL, NULL, NULL, NULL, 1024, 10000.0, &m, &e), 0);
    CHECK_EQ_INT(m.method, RZ_ROPE_NONE);
    CHECK_EQ_INT(rz_rope_parse("yarn", "4", NULL, NULL, 1024, 10000.0, &m, &e), 0);
    CHECK_EQ_INT(m.method, RZ_ROPE_YARN);
    CHECK_NEAR(m.scale, 4, 0);
    CHECK_EQ_INT(m.orig_ctx, 1024);
    CHECK_EQ_INT(rz_rope_parse("pi", "2.5", NULL, NULL, 1024, 10000.0, &m, &e), 0);
    CHECK_NEAR(m.scale, 2.5, 0);
    /* dca defaults: s = 3c/4, w = c - s (the paper) */
    CHECK_EQ_INT(rz_rope_parse("dca", NULL, NULL, NULL, 1024, 10000.0, &m, &e), 0);
    CHECK_EQ_INT(m.chunk, 768);
    CHECK_EQ_INT(m.local, 256);
    CHECK_EQ_INT(rz_rope_parse("dca", NULL, "300", NULL, 1024, 10000.0, &m, &e), 0);
    CHECK_EQ_INT(m.local, 300); /* c - s = 724 > s: capped at s */
    CHECK_EQ_INT(rz_rope_parse("dca", NULL, "512", "64", 1024, 10000.0, &m, &e), 0);
    CHECK_EQ_INT(m.chunk, 512);
    CHECK_EQ_INT(m.local, 64);

    /* rejected, each with its reason */
    expect_parse_error("longrope", NULL, NULL, NULL, "unknown method");
    expect_parse_error("", NULL, NULL, NULL, "unknown method");
    expect_parse_error("none", "2", NULL, NULL, "takes no scale");
    expect_parse_error("none", NULL, "512", NULL, "only --rope-ext dca takes --chunk");
    expect_parse_error("none", NULL, NULL, "16", "--local given");
    expect_parse_error("pi", "2", "512", NULL, "only --rope-ext dca");
    expect_parse_error("ntk", "2", NULL, "64", "only --rope-ext dca");
    expect_parse_error("dca", "2", NULL, NULL, "takes no scale");
    expect_parse_error("pi", NULL, NULL, NULL, "needs --rope-scale");
    expect_parse_error("yarn", "abc", NULL, NULL, "not a number");
    expect_parse_error("ntk", "0.5", NULL, NULL, "not in [1, 1e6]");
    expect_parse_error("pi", "nan", NULL, NULL, "not in [1, 1e6]");
    expect_parse_error("dca", NULL, "1024", NULL, "chunk size 1024 must be in [1, original context 1024 - 1]");
    expect_parse_error("dca", NULL, "2000", NULL, "chunk size");
    expect_parse_error("dca", NULL, "0", NULL, "chunk size");
    expect_parse_error("dca", NULL, "12x", NULL, "not an integer");
    expect_parse_error("dca", NULL, "768", "0", "local window 0 must be in [1, ");
    expect_parse_error("dca", NULL, "768", "-5", "local window");
    expect_parse_error("dca", NULL, "768", "257", "local window 257"); /* > c - s = 256 */
    expect_parse_error("dca", NULL, "300", "301", "local window 301");  /* > s = 300 */

    /* the struct-level check, as a program filling rz_rope_method itself would call it */
    rz_rope_method bad = rz_rope_default(10000.0);
    bad.method = 9;
    CHECK_EQ_INT(rz_rope_check(&bad, 64, &e), RZ_EINPUT);
    CHECK(says(&e, "unknown method"));
    bad = rz_rope_default(1.0);
    CHECK_EQ_INT(rz_rope_check(&bad, 64, &e), RZ_EINPUT);
    CHECK(says(&e, "theta"));
    bad = rz_rope_default(10000.0), bad.method = RZ_ROPE_PI, bad.scale = 2, bad.chunk = 8;
    CHECK_EQ_INT(rz_rope_check(&bad, 64, &e), RZ_EINPUT);
    CHECK(says(&e, "takes no chunk"));
    bad = rz_rope_default(10000.0), bad.method = RZ_ROPE_NTK, bad.scale = 2;
    CHECK_EQ_INT(rz_rope_check(&bad, 2, &e), RZ_EINPUT);
    CHECK(says(&e, "head size 2 < 4"));
    CHECK_EQ_INT(rz_rope_check(&bad, 63, &e), RZ_EINPUT);
    CHECK(says(&e, "not even"));
    bad = rz_rope_default(10000.0), bad.method = RZ_ROPE_YARN, bad.scale = 2, bad.orig_ctx = 0;
    CHECK_EQ_INT(rz_rope_check(&bad, 64, &e), RZ_EINPUT);
    CHECK(says(&e, "original context 0"));
    bad.orig_ctx = 512, bad.yarn_alpha = 32, bad.yarn_beta = 1;
    CHECK_EQ_INT(rz_rope_check(&bad, 64, &e), RZ_EINPUT);
    CHECK(says(&e, "alpha < beta"));

    /* attention-level arguments */
    rz_attn *a = NULL;
    rz_rope_method ok = rz_rope_default(10000.0);
    CHECK_EQ_INT(rz_attn_new(&ok, 6, 4, 16, 64, &a, &e), RZ_EINPUT);
    CHECK(says(&e, "kv heads must divide heads"));
    CHECK(a == NULL);
    CHECK_EQ_INT(rz_attn_new(&bad, 4, 2, 16, 64, &a, &e), RZ_EINPUT);
    CHECK(says(&e, "attention: rope yarn"));
    CHECK_EQ_INT(rz_attn_new(&ok, 4, 2, 16, 64, &a, &e), 0);
    float x[64 * 64] = {0}, kc[64 * 32], vc[64 * 32], o[64];
    CHECK_EQ_INT(rz_attn_store_kv(a, x, 32, x, 32, 1, 64, kc, vc), RZ_EINPUT); /* past max_ctx */
    CHECK_EQ_INT(rz_attn_store_kv(a, x, 32, x, 32, 0, 0, kc, vc), RZ_EINPUT);
    CHECK_EQ_INT(rz_attn_forward(a, x, 64, 2, 63, kc, vc, o, 64), RZ_EINPUT);
    CHECK_EQ_INT(rz_attn_forward(a, x, 64, 1, -1, kc, vc, o, 64), RZ_EINPUT);
    rz_attn_free(a);
}

int main(void)
{
    RUN(test_frequencies);
    RUN(test_scale_one_is_plain);
    RUN(test_orthogonal_and_relative);
    RUN(test_dca_indices);
    RUN(test_attention_vs_reference);
    RUN(test_attention_scale_one);
    RUN(test_parse);
    return check_summary();
}
