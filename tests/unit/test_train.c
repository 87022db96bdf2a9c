/* test_train.c — the adapter-training core (lora.h), AdamW (adamw.h) and training
 * checkpoints (tools/core/train/checkpoint.h), each against an independent computation.
 *
 * Gradients: every backward op and the whole model are checked against central
 * differences (f(x + h) − f(x − h)) / 2h of a scalar objective accumulated in double.
 * The ops run in float, so the difference quotient carries two errors:
 *   rounding: the objective is known to about δ ≈ 1e-7 relative (float outputs, each
 *     correct to an ulp, summed in double), i.e. an error ≈ δ·|f| / h in the quotient;
 *   truncation: h²/6 · |f'''|, with third derivatives O(1) for these O(1)-scaled inputs.
 * With h = 1e-2 (ops) both are ≲ 1e-4·(1 + |f|), so we require
 *     |fd − g| ≤ atol + rtol·|g|,  atol = 5e-4·(1 + |f|), rtol = 1e-2,
 * which a wrong term in a backward (a missing factor, a transposed product, a sign)
 * violates by orders of magnitude (checked once by hand by breaking each op). The whole
 * model uses the same h on adapters with weights scaled to O(1) activations.
 *
 * Other references: attention against a direct double-precision loop; the NLL against
 * rz_log_softmax_nll (llama.c); the training forward's logits against
 * rz_llama_forward on the merged weights W = Q + L R; AdamW against the update written
 * out in double from the paper's algorithm; schedules against hand-computed values.
 * Also: checkpoint and adapter streams round-trip exactly and reject another model, and
 * a header with one bad field is refused naming it; the key-masked softmax row has the
 * bits of the plain scalar row; a step's gradient is bitwise the same with 1 and 2
 * threads; training on stories260K
 * lowers the training loss and the loss of held-out sequences. (Exact resume and
 * mpirun -np 2 = one process are checked end to end in tests/shell/finetune.sh.)
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "adamw.h"
#include "corpus.h"
#include "linalg.h"
#include "llama.h"
#include "model_io.h"
#include "tokenizer.h"
#include "lora.h"
#include "checkpoint.h"
#include "field_cases.h"
#include "tiny_llama.h"
#include "vexp.h"

static double dot_d(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- per-op checks: objective Σ c ⊙ op(inputs) --------------------------------------- */

typedef struct {
    int N, n;
    float *x, *w, *c, *out, *inv;
} norm_ctx;

static double norm_obj(void *p)
{
    norm_ctx *z = p;
    rz_tr_rmsnorm_fwd(z->out, z->inv, z->x, z->w, z->N, z->n, 1e-5f);
    return dot_d(z->c, z->out, (size_t)z->N * z->n);
}

static void test_rmsnorm_grad(void)
{
    uint64_t s = 1;
    norm_ctx z = {3, 16, NULL, NULL, NULL, NULL, NULL};
    size_t n = (size_t)z.N * z.n;
    z.x = rng_randn(n, 1, &s), z.w = rng_randn((size_t)z.n, 1, &s), z.c = rng_randn(n, 1, &s);
    z.out = malloc(sizeof(float) * n), z.inv = malloc(sizeof(float) * (size_t)z.N);
    float *dx = calloc(n, sizeof(float));
    norm_obj(&z);
    rz_tr_rmsnorm_bwd(dx, z.c, z.x, z.w, z.inv, z.N, z.n);
    CHECK(check_fd("rmsnorm dx", norm_obj, &z, z.x, n, dx, 1e-2f, 0, 5e-4) == 0);
    /* forward against the definition in double */
    double worst = 0;
    for (int t = 0; t < z.N; t++) {
        double ss = 0;
        for (int i = 0; i < z.n; i++) ss += (double)z.x[t * z.n + i] * z.x[t * z.n + i];
        double r = 1 / sqrt(ss / z.n + 1e-5);
        for (int i = 0; i < z.n; i++) {
            double ref = z.w[i] * z.x[t * z.n + i] * r; /* a few float roundings: ~1e-7 relative */
            worst = fmax(worst, fabs(z.out[t * z.n + i] - ref) / (1 + fabs(ref)));
        }
    }
    CHECK(worst < 1e-6);
    free(z.x), free(z.w), free(z.c), free(z.out), free(z.inv), free(dx);
}

typedef struct {
    int B, T, width;
    float *v, *c, *tmp;
    rz_rope *r;
} rope_ctx;

static double rope_obj(void *p)
{
    rope_ctx *z = p;
    size_t n = (size_t)z->B * z->T * z->width;
    memcpy(z->tmp, z->v, sizeof(float) * n);
    rz_tr_rope(z->tmp, z->width, z->width, z->B, z->T, z->r, 0);
    return dot_d(z->c, z->tmp, n);
}

static void test_rope_grad(void)
{
    uint64_t s = 2;
    rz_rope r;
    rz_err e = {0};
    rz_rope_method m = rz_rope_default(10000);
    CHECK(rz_rope_init(&r, &m, 8, 6, &e) == 0);
    rope_ctx z = {2, 6, 16, NULL, NULL, NULL, &r};
    size_t n = (size_t)z.B * z.T * z.width;
    z.v = rng_randn(n, 1, &s), z.c = rng_randn(n, 1, &s), z.tmp = malloc(sizeof(float) * n);
    /* forward = rz_rope_rotate of each row at its position */
    rope_obj(&z);
    int same = 1;
    for (int row = 0; row < z.B * z.T; row++) {
        float ref[16];
        memcpy(ref, z.v + row * 16, sizeof ref);
        rz_rope_rotate(&r, ref, 16, row % z.T);
        for (int i = 0; i < 16; i++) same &= fabsf(ref[i] - z.tmp[row * 16 + i]) <= 1e-6f;
    }
    CHECK(same);
    /* backward: the inverse rotation of c */
    float *dv = malloc(sizeof(float) * n);
    memcpy(dv, z.c, sizeof(float) * n);
    rz_tr_rope(dv, z.width, z.width, z.B, z.T, &r, 1);
    CHECK(check_fd("rope dv", rope_obj, &z, z.v, n, dv, 1e-2f, 0, 5e-4) == 0);
    free(z.v), free(z.c), free(z.tmp), free(dv);
    rz_rope_free(&r);
}

typedef struct {
    int B, T, nh, nkv, hs, causal, self;
    float scale;
    float *q, *k, *v, *c, *out, *att;
    const uint8_t *keys; /* [B][T] or NULL */
} attn_ctx;

static double attn_obj(void *p)
{
    attn_ctx *z = p;
    if (z->self)
        rz_tr_attn_fwd_mask(z->out, z->att, z->q, z->k, z->v, z->B, z->T, z->nh, z->nkv, z->hs, z->scale, z->causal,
                            z->keys);
    else
        rz_tr_attn_fwd_keys(z->out, z->att, z->q, z->k, z->v, z->B, z->T, z->nh, z->nkv, z->hs, z->scale, z->causal,
                            z->keys, 0);
    return dot_d(z->c, z->out, (size_t)z->B * z->T * z->nh * z->hs);
}

/* Attention, causal (keys j <= i) or bidirectional (every key), grouped-query: 4 query
 * heads over 2 kv heads; masked = 1 adds a key mask (keys[b][j] = 0 at a few positions of
 * each sequence, different per sequence: those are keys of their own query only);
 * masked = 2 is the cross-attention of the PAST decoder (rz_tr_attn_fwd_keys, self = 0):
 * the hidden positions are no key even of their own query, and sequence 1 has a single
 * key (position 5 — so under the causal mask its rows 0–4 have none and must come out
 * zero, gradients too). q and k, v are separate arrays in every case, so the check of dq
 * against dk, dv is the check of a query stream apart from its memory. */
static void attention_case(int causal, int masked, uint64_t s)
{
    attn_ctx z = {2, 7, 4, 2, 4, causal, 1, 0.5f, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    uint8_t keys[14] = {1, 1, 0, 1, 0, 0, 1, /* b = 1: */ 1, 0, 1, 1, 1, 0, 0};
    if (masked == 2) {
        z.self = 0;
        memcpy(keys + 7, (uint8_t[7]){0, 0, 0, 0, 0, 1, 0}, 7);
    }
    if (masked) z.keys = keys;
    size_t nq = (size_t)z.B * z.T * z.nh * z.hs, nk = (size_t)z.B * z.T * z.nkv * z.hs;
    z.q = rng_randn(nq, 1, &s), z.k = rng_randn(nk, 1, &s), z.v = rng_randn(nk, 1, &s), z.c = rng_randn(nq, 1, &s);
    z.out = malloc(sizeof(float) * nq), z.att = malloc(sizeof(float) * (size_t)z.B * z.nh * z.T * z.T);
    attn_obj(&z);
    /* forward against a direct double loop over the keys the mask lets through */
    double worst = 0;
    for (int b = 0; b < z.B; b++)
        for (int h = 0; h < z.nh; h++)
            for (int i = 0; i < z.T; i++) {
                int g = h / (z.nh / z.nkv), nkeys = causal ? i + 1 : z.T;
                double sc[16], mx = -1e300, sum = 0;
                for (int j = 0; j < nkeys; j++) {
                    sc[j] = -INFINITY; /* exp(−inf − mx) = 0: a key outside the mask */
                    if (z.keys && !z.keys[b * z.T + j] && (j != i || !z.self)) continue;
                    double d = 0;
                    for (int x = 0; x < z.hs; x++)
                        d += (double)z.q[((b * z.T + i) * z.nh + h) * z.hs + x] * z.k[((b * z.T + j) * z.nkv + g) * z.hs + x];
                    sc[j] = d * z.scale;
                    mx = fmax(mx, sc[j]);
                }
                for (int j = 0; j < nkeys; j++) sum += (sc[j] = exp(sc[j] - mx));
                for (int x = 0; x < z.hs; x++) {
                    double o = 0;
                    for (int j = 0; j < nkeys && sum > 0; j++) /* no key: the row is 0 */
                        o += sc[j] / sum * z.v[((b * z.T + j) * z.nkv + g) * z.hs + x];
                    worst = fmax(worst, fabs(o - z.out[((b * z.T + i) * z.nh + h) * z.hs + x]));
                }
            }
    CHECK(worst < 1e-5); /* float softmax and products of O(1) values: ~1e-7 per term */
    float *dq = malloc(sizeof(float) * nq), *dk = malloc(sizeof(float) * nk), *dv = malloc(sizeof(float) * nk);
    int nthr = omp_get_max_threads();
    float *scr = malloc(sizeof(float) * (size_t)nthr * z.T * z.T);
    rz_tr_attn_bwd_keys(dq, dk, dv, scr, nthr, z.c, z.att, z.q, z.k, z.v, z.B, z.T, z.nh, z.nkv, z.hs, z.scale, causal,
                        z.keys, z.self);
    const char *what[3][2][3] = {{{"bidirectional dq", "bidirectional dk", "bidirectional dv"},
                                  {"causal dq", "causal dk", "causal dv"}},
                                 {{"key-masked dq", "key-masked dk", "key-masked dv"},
                                  {"causal key-masked dq", "causal key-masked dk", "causal key-masked dv"}},
                                 {{"cross dq", "cross dk", "cross dv"},
                                  {"causal cross dq", "causal cross dk", "causal cross dv"}}};
    CHECK(check_fd(what[masked][causal][0], attn_obj, &z, z.q, nq, dq, 1e-2f, 0, 5e-4) == 0);
    CHECK(check_fd(what[masked][causal][1], attn_obj, &z, z.k, nk, dk, 1e-2f, 0, 5e-4) == 0);
    CHECK(check_fd(what[masked][causal][2], attn_obj, &z, z.v, nk, dv, 1e-2f, 0, 5e-4) == 0);
    free(z.q), free(z.k), free(z.v), free(z.c), free(z.out), free(z.att), free(dq), free(dk), free(dv), free(scr);
}

static void test_attention_grad(void) { attention_case(1, 0, 3); }
static void test_bidirectional_attention_grad(void) { attention_case(0, 0, 5); }
static void test_key_masked_attention_grad(void) { attention_case(0, 1, 7), attention_case(1, 1, 9); }
static void test_cross_attention_grad(void) { attention_case(0, 2, 11), attention_case(1, 2, 13); }

/* A key outside the mask is read by its own query only: changing its value (by a lot)
 * leaves every other row's output bit for bit, and its own row does change (the check
 * can fail); its probabilities in other rows are exactly 0. */
static void test_key_masked_value_unseen(void)
{
    uint64_t s = 11;
    int B = 2, T = 9, nh = 2, hs = 4, ld = nh * hs;
    uint8_t keys[18] = {1, 1, 1, 0, 1, 0, 1, 1, 0, /* b = 1 */ 1, 0, 1, 1, 1, 1, 1, 0, 1};
    size_t n = (size_t)B * T * ld;
    float *q = rng_randn(n, 1, &s), *k = rng_randn(n, 1, &s), *v = rng_randn(n, 1, &s);
    float *o1 = malloc(sizeof(float) * n), *o2 = malloc(sizeof(float) * n);
    float *att = malloc(sizeof(float) * (size_t)B * nh * T * T);
    rz_tr_attn_fwd_mask(o1, att, q, k, v, B, T, nh, nh, hs, 0.5f, 0, keys);
    int zero = 1;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < nh; h++)
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++)
                    if (!keys[b * T + j] && j != i) zero &= att[(((size_t)b * nh + h) * T + i) * T + j] == 0.0f;
    CHECK(zero);
    int j0 = 5; /* a hidden key of sequence 0 */
    for (int x = 0; x < ld; x++) v[(size_t)j0 * ld + x] += 100.0f, k[(size_t)j0 * ld + x] -= 3.0f;
    rz_tr_attn_fwd_mask(o2, att, q, k, v, B, T, nh, nh, hs, 0.5f, 0, keys);
    int others_same = 1, own_changed = 0;
    for (int r = 0; r < B * T; r++) {
        int same = !memcmp(o1 + (size_t)r * ld, o2 + (size_t)r * ld, sizeof(float) * ld);
        if (r == j0) own_changed = !same;
        else others_same &= same;
    }
    CHECK(others_same);
    CHECK(own_changed);
    free(q), free(k), free(v), free(o1), free(o2), free(att);
}

/* The key-masked forward and backward give the same bits on 1 thread and on 3 (a shape
 * above the ops' parallel threshold, B·nh·T²·hs ≥ 2e6). */
static void test_key_masked_threads(void)
{
    uint64_t s = 13;
    int B = 4, T = 96, nh = 4, hs = 16, ld = nh * hs;
    size_t n = (size_t)B * T * ld, na = (size_t)B * nh * T * T;
    uint8_t *keys = malloc((size_t)B * T);
    for (int i = 0; i < B * T; i++) keys[i] = rng_next(&s) % 3 != 0;
    float *q = rng_randn(n, 1, &s), *k = rng_randn(n, 1, &s), *v = rng_randn(n, 1, &s), *c = rng_randn(n, 1, &s);
    float *out[2], *att[2], *dq[2], *dk[2], *dv[2];
    int saved = omp_get_max_threads();
    for (int r = 0; r < 2; r++) {
        int nthr = r ? 3 : 1;
        omp_set_num_threads(nthr);
        out[r] = malloc(sizeof(float) * n), att[r] = malloc(sizeof(float) * na);
        dq[r] = malloc(sizeof(float) * n), dk[r] = malloc(sizeof(float) * n), dv[r] = malloc(sizeof(float) * n);
        float *scr = malloc(sizeof(float) * (size_t)nthr * T * T);
        rz_tr_attn_fwd_mask(out[r], att[r], q, k, v, B, T, nh, nh, hs, 0.25f, 0, keys);
        rz_tr_attn_bwd_mask(dq[r], dk[r], dv[r], scr, nthr, c, att[r], q, k, v, B, T, nh, nh, hs, 0.25f, 0, keys);
        free(scr);
    }
    omp_set_num_threads(saved);
    CHECK(!memcmp(out[0], out[1], sizeof(float) * n) && !memcmp(att[0], att[1], sizeof(float) * na));
    CHECK(!memcmp(dq[0], dq[1], sizeof(float) * n) && !memcmp(dk[0], dk[1], sizeof(float) * n) &&
          !memcmp(dv[0], dv[1], sizeof(float) * n));
    for (int r = 0; r < 2; r++) free(out[r]), free(att[r]), free(dq[r]), free(dk[r]), free(dv[r]);
    free(q), free(k), free(v), free(c), free(keys);
}

/* The key-masked probabilities, bit for bit, against the row written out as a plain
 * scalar loop (the form it had before it was vectorised): max over the keys, rz_expf of
 * each key's s − max (0 for a hidden one), their sum serially in key order, each times
 * 1/sum. The logits are exact — small integer q and k, a power-of-two scale — so the
 * reference does not depend on how the library multiplies them. Every T from 1 to 40
 * (every vector tail), causal and bidirectional, masks from none to all keys hidden. */
static void test_key_masked_softmax_bits(void)
{
    uint64_t s = 17;
    int nh = 2, hs = 4, B = 3, bad = 0, rows = 0;
    for (int T = 1; T <= 40; T++)
        for (int causal = 0; causal < 2; causal++) {
            size_t n = (size_t)B * T * nh * hs;
            float *q = malloc(sizeof(float) * n), *k = malloc(sizeof(float) * n), *v = malloc(sizeof(float) * n);
            float *out = malloc(sizeof(float) * n), *att = malloc(sizeof(float) * (size_t)B * nh * T * T);
            uint8_t *keys = malloc((size_t)B * T);
            for (size_t x = 0; x < n; x++)
                q[x] = (float)((int)(rng_next(&s) % 7) - 3), k[x] = (float)((int)(rng_next(&s) % 7) - 3), v[x] = 1.0f;
            for (int x = 0; x < B * T; x++) { /* b = 0: every key; 1: about half; 2: none but the query */
                int b = x / T;
                keys[x] = b == 0 ? 1 : b == 1 ? (uint8_t)(rng_next(&s) & 1) : 0;
            }
            rz_tr_attn_fwd_mask(out, att, q, k, v, B, T, nh, nh, hs, 0.25f, causal, keys);
            for (int b = 0; b < B; b++)
                for (int h = 0; h < nh; h++)
                    for (int i = 0; i < T; i++) {
                        int last = causal ? i : T - 1;
                        float S[40], P[40], mx, sum = 0.0f;
                        for (int j = 0; j < T; j++) {
                            float d = 0.0f; /* integers: exact in any order */
                            for (int x = 0; x < hs; x++)
                                d += q[((size_t)(b * T + i) * nh + h) * hs + x] * k[((size_t)(b * T + j) * nh + h) * hs + x];
                            S[j] = 0.25f * d;
                        }
                        mx = S[i];
                        for (int j = 0; j <= last; j++)
                            if (keys[b * T + j] && S[j] > mx) mx = S[j];
                        for (int j = 0; j < T; j++) {
                            P[j] = j <= last && (keys[b * T + j] || j == i) ? rz_expf(S[j] - mx) : 0.0f;
                            if (j <= last) sum += P[j];
                        }
                        float is = 1.0f / sum;
                        for (int j = 0; j <= last; j++) P[j] *= is;
                        bad += memcmp(P, att + (((size_t)b * nh + h) * T + i) * T, sizeof(float) * T) != 0;
                        rows++;
                    }
            free(q), free(k), free(v), free(out), free(att), free(keys);
        }
    printf("#   %d rows, %d differ from the scalar row\n", rows, bad);
    CHECK(bad == 0);
}

typedef struct {
    int N, hid;
    float *a, *b, *c, *g;
} swiglu_ctx;

static double swiglu_obj(void *p)
{
    swiglu_ctx *z = p;
    rz_tr_swiglu_fwd(z->g, z->a, z->b, z->N, z->hid);
    return dot_d(z->c, z->g, (size_t)z->N * z->hid);
}

static void test_swiglu_grad(void)
{
    uint64_t s = 4;
    swiglu_ctx z = {3, 10, NULL, NULL, NULL, NULL};
    size_t n = 30;
    z.a = rng_randn(n, 2, &s), z.b = rng_randn(n, 1, &s), z.c = rng_randn(n, 1, &s), z.g = malloc(sizeof(float) * n);
    float *da = malloc(sizeof(float) * n), *db = malloc(sizeof(float) * n);
    swiglu_obj(&z);
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(z.g[i] - z.a[i] / (1 + exp(-(double)z.a[i])) * z.b[i]));
    CHECK(worst < 1e-5);
    rz_tr_swiglu_bwd(da, db, z.c, z.a, z.b, z.N, z.hid);
    CHECK(check_fd("swiglu da", swiglu_obj, &z, z.a, n, da, 1e-2f, 0, 5e-4) == 0);
    CHECK(check_fd("swiglu db", swiglu_obj, &z, z.b, n, db, 1e-2f, 0, 5e-4) == 0);
    free(z.a), free(z.b), free(z.c), free(z.g), free(da), free(db);
}

typedef struct {
    int N;
    rz_adapter ad;
    float *x, *c, *y, *u;
} lin_ctx;

static double lin_obj(void *p)
{
    lin_ctx *z = p;
    rz_tr_linear_fwd(z->y, 0, z->u, z->x, &z->ad, z->N);
    return dot_d(z->c, z->y, (size_t)z->N * z->ad.m);
}

static void linear_case(int k, uint64_t seed)
{
    uint64_t s = seed;
    lin_ctx z;
    memset(&z, 0, sizeof z);
    z.N = 5;
    int m = 7, n = 6;
    z.ad.m = m, z.ad.n = n, z.ad.k = k;
    float *Q = rng_randn((size_t)m * n, 0.5, &s);
    z.ad.Q = Q;
    z.ad.L = rng_randn((size_t)m * k, 0.5, &s), z.ad.R = rng_randn((size_t)k * n, 0.5, &s);
    z.ad.dL = calloc((size_t)m * k + 1, sizeof(float)), z.ad.dR = calloc((size_t)k * n + 1, sizeof(float));
    z.x = rng_randn((size_t)z.N * n, 1, &s), z.c = rng_randn((size_t)z.N * m, 1, &s);
    z.y = malloc(sizeof(float) * z.N * m), z.u = malloc(sizeof(float) * (z.N * k + 1));
    float *dx = malloc(sizeof(float) * z.N * n), *du = malloc(sizeof(float) * (z.N * k + 1));
    lin_obj(&z);
    /* forward against y = x (Q + L R)ᵀ in double */
    double worst = 0;
    for (int t = 0; t < z.N; t++)
        for (int i = 0; i < m; i++) {
            double y = 0;
            for (int j = 0; j < n; j++) {
                double w = Q[i * n + j];
                for (int r = 0; r < k; r++) w += (double)z.ad.L[i * k + r] * z.ad.R[r * n + j];
                y += w * z.x[t * n + j];
            }
            worst = fmax(worst, fabs(y - z.y[t * m + i]));
        }
    CHECK(worst < 1e-5);
    rz_tr_linear_bwd(dx, 0, du, z.c, z.x, z.u, &z.ad, z.N);
    CHECK(check_fd("linear dx", lin_obj, &z, z.x, (size_t)z.N * n, dx, 1e-2f, 0, 5e-4) == 0);
    if (k) {
        CHECK(check_fd("linear dL", lin_obj, &z, z.ad.L, (size_t)m * k, z.ad.dL, 1e-2f, 0, 5e-4) == 0);
        CHECK(check_fd("linear dR", lin_obj, &z, z.ad.R, (size_t)k * n, z.ad.dR, 1e-2f, 0, 5e-4) == 0);
    }
    free(Q), free(z.ad.L), free(z.ad.R), free(z.ad.dL), free(z.ad.dR), free(z.x), free(z.c), free(z.y), free(z.u);
    free(dx), free(du);
}

static void test_linear_adapter_grad(void)
{
    linear_case(3, 5);
    linear_case(0, 6); /* a frozen linear without adapter */
}

typedef struct {
    int N, V;
    float *logits;
    int *targets;
    double *nll;
} xent_ctx;

static double xent_obj(void *p)
{
    xent_ctx *z = p;
    return rz_tr_xent_fwd(z->nll, z->logits, z->targets, z->N, z->V);
}

static void test_xent_grad(void)
{
    uint64_t s = 7;
    xent_ctx z = {4, 11, NULL, NULL, NULL};
    size_t n = 44;
    z.logits = rng_randn(n, 2, &s);
    int targets[4] = {0, 10, 3, 3};
    z.targets = targets;
    z.nll = malloc(sizeof(double) * 4);
    double ref[4], total = 0;
    rz_log_softmax_nll(z.logits, 4, 11, targets, ref);
    for (int t = 0; t < 4; t++) total += ref[t];
    CHECK_NEAR(xent_obj(&z), total, 1e-5);
    float *d = malloc(sizeof(float) * n);
    rz_tr_xent_bwd(d, z.logits, targets, 4, 11, 1.0f);
    CHECK(check_fd("cross-entropy dlogits", xent_obj, &z, z.logits, n, d, 1e-2f, 0, 5e-4) == 0);
    free(z.logits), free(z.nll), free(d);
}

/* Embedding lookup + final RMSNorm + shared classifier + cross-entropy, as a function of
 * the (shared) table E: two paths meet in dE (the rows the tokens read, and the
 * classifier's weight gradient dlogitsᵀ xf). */
typedef struct {
    int N, V, dim;
    const int *tokens, *targets;
    float *E, *w, *x, *xf, *inv, *logits;
    double *nll;
} emb_ctx;

static double emb_obj(void *p)
{
    emb_ctx *z = p;
    for (int t = 0; t < z->N; t++) memcpy(z->x + t * z->dim, z->E + z->tokens[t] * z->dim, sizeof(float) * z->dim);
    rz_tr_rmsnorm_fwd(z->xf, z->inv, z->x, z->w, z->N, z->dim, 1e-5f);
    rz_matmul_nt(z->N, z->V, z->dim, z->xf, z->dim, z->E, z->dim, z->logits, z->V, 0);
    return rz_tr_xent_fwd(z->nll, z->logits, z->targets, z->N, z->V);
}

static void test_embedding_classifier_grad(void)
{
    uint64_t s = 8;
    int tokens[5] = {1, 4, 4, 0, 6}, targets[5] = {4, 4, 0, 6, 2};
    emb_ctx z = {5, 9, 8, tokens, targets, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    z.E = rng_randn(72, 1, &s), z.w = rng_randn(8, 1, &s);
    z.x = malloc(sizeof(float) * 40), z.xf = malloc(sizeof(float) * 40), z.inv = malloc(sizeof(float) * 5);
    z.logits = malloc(sizeof(float) * 45), z.nll = malloc(sizeof(double) * 5);
    emb_obj(&z);
    float *dE = calloc(72, sizeof(float)), *dxf = malloc(sizeof(float) * 40), *dx = calloc(40, sizeof(float));
    rz_tr_xent_bwd(z.logits, z.logits, targets, 5, 9, 1.0f);
    rz_tr_matmul_nn(5, 8, 9, z.logits, 9, z.E, 8, dxf, 8, 0);      /* dxf = dlogits E */
    rz_tr_matmul_tn(9, 8, 5, z.logits, 9, z.xf, 8, dE, 8, 1);      /* classifier: dE += dlogitsᵀ xf */
    rz_tr_rmsnorm_bwd(dx, dxf, z.x, z.w, z.inv, 5, 8);
    for (int t = 0; t < 5; t++) /* embedding: scatter-add dx into the rows read */
        for (int i = 0; i < 8; i++) dE[tokens[t] * 8 + i] += dx[t * 8 + i];
    CHECK(check_fd("embedding+classifier dE", emb_obj, &z, z.E, 72, dE, 1e-2f, 0, 5e-4) == 0);
    free(z.E), free(z.w), free(z.x), free(z.xf), free(z.inv), free(z.logits), free(z.nll), free(dE), free(dxf), free(dx);
}

/* ---- the whole model ----------------------------------------------------------------- */

typedef struct {
    rz_train *t;
    const int *tokens, *targets;
    int B;
} model_ctx;

static double model_obj(void *p)
{
    model_ctx *z = p;
    double nll = 0;
    rz_train_forward(z->t, z->tokens, z->targets, z->B, &nll);
    return nll / (z->B * 8);
}

/* per_matrix: ranks differ between layers (rz_lora_new_ranks, as a packed CALDERA
 * model's pairs), some 0 */
static void model_grad_case(int per_matrix)
{
    rz_llama *m = tiny_llama(11, 0);
    CHECK(m != NULL);
    if (!m) return;
    int rank[RZ_LIN_PER_LAYER] = {3, 0, 2, 3, 2, 3, 1}; /* wk without adapter */
    rz_lora *a;
    rz_train *t;
    rz_err e = {0};
    if (per_matrix) {
        int nl = m->config.n_layers, *per = calloc((size_t)nl * RZ_LIN_PER_LAYER, sizeof *per);
        CHECK(per != NULL);
        if (!per) return;
        for (int l = 0; l < nl; l++)
            for (int k = 0; k < RZ_LIN_PER_LAYER; k++) per[l * RZ_LIN_PER_LAYER + k] = (l + k) % 3 == 0 ? 0 : 1 + (l * 5 + k) % 4;
        CHECK(rz_lora_new_ranks(m, per, &a, &e) == 0);
        for (int l = 0; l < nl; l++)
            for (int k = 0; k < RZ_LIN_PER_LAYER; k++) CHECK(rz_lora_at(a, l, k)->k == per[l * RZ_LIN_PER_LAYER + k]);
        free(per);
    } else {
        CHECK(rz_lora_new(m, rank, &a, &e) == 0);
    }
    uint64_t s = 12;
    for (size_t i = 0; i < a->n_params; i++) a->params[i] = (float)(0.3 * rng_normal(&s));
    CHECK(rz_train_new(a, 2, 8, &t, &e) == 0);
    int tokens[16], targets[16];
    for (int i = 0; i < 16; i++) tokens[i] = (int)(rng_next(&s) % 32), targets[i] = (int)(rng_next(&s) % 32);
    model_ctx z = {t, tokens, targets, 2};
    model_obj(&z);
    memset(a->grads, 0, sizeof(float) * a->n_params);
    rz_train_backward(t, 1.0f / 16);
    size_t checks = check_sanitized() ? 150 : 0;
    CHECK(check_fd("model dL,dR", model_obj, &z, a->params, a->n_params, a->grads, 1e-2f, checks, 5e-4) == 0);
    double gmax = 0, gmean = 0;
    for (size_t i = 0; i < a->n_params; i++) gmax = fmax(gmax, fabs(a->grads[i])), gmean += fabs(a->grads[i]);
    gmean /= (double)a->n_params;
    printf("#   model gradients: mean |g| %.3g, max |g| %.3g\n", gmean, gmax);
    CHECK(gmean > 1e-2); /* the check is not vacuous: atol is well below typical |g| */
    rz_train_free(t);
    rz_lora_free(a);
    rz_llama_free(m);
}

static void test_model_grad(void) { model_grad_case(0); }
static void test_model_grad_per_matrix(void) { model_grad_case(1); }

/* Training forward = rz_llama_forward on W = Q + L R, for every sequence of a batch. */
static void logits_case(rz_llama *m, int T, int B, int rank, double tol, uint64_t seed)
{
    rz_err e = {0};
    int ranks[RZ_LIN_PER_LAYER];
    for (int i = 0; i < RZ_LIN_PER_LAYER; i++) ranks[i] = rank;
    rz_lora *a;
    rz_train *t;
    rz_llama_state *st;
    CHECK(rz_lora_new(m, ranks, &a, &e) == 0);
    uint64_t s = seed;
    for (size_t i = 0; i < a->n_params; i++) a->params[i] = (float)(0.05 * rng_normal(&s));
    CHECK(rz_train_new(a, B, T, &t, &e) == 0);
    int V = m->config.vocab_size;
    int *tok = malloc(sizeof(int) * B * T);
    for (int i = 0; i < B * T; i++) tok[i] = (int)(rng_next(&s) % (uint64_t)V);
    CHECK(rz_train_forward(t, tok, NULL, B, NULL) == 0);
    /* the reference: a separate model with merged weights */
    rz_llama *mm;
    CHECK(rz_llama_alloc(&m->config, &mm, &e) == 0);
    memcpy(mm->params, m->params, sizeof(float) * m->n_params);
    rz_lora_merge(a, mm);
    CHECK(rz_llama_state_new(mm, T, T, &st, &e) == 0);
    float *ref = malloc(sizeof(float) * (size_t)T * V);
    double worst = 0;
    for (int b = 0; b < B; b++) {
        CHECK(rz_llama_forward(mm, st, tok + b * T, T, 0, ref) == 0);
        const float *lg = rz_train_logits(t) + (size_t)b * T * V;
        for (size_t i = 0; i < (size_t)T * V; i++) worst = fmax(worst, fabs(lg[i] - ref[i]));
    }
    printf("#   logits: max |train - rz_llama_forward| = %.3g (T %d, B %d, rank %d)\n", worst, T, B, rank);
    CHECK(worst <= tol);
    free(ref), free(tok);
    rz_llama_state_free(st);
    rz_llama_free(mm);
    rz_train_free(t);
    rz_lora_free(a);
}

/* Tolerance: the two forwards differ only in float rounding (separate vs fused q|k|v
 * products, Q x + L (R x) vs (Q + L R) x, expf vs llama.c's polynomial exp, full vs
 * streamed softmax): a few ulps of each activation, amplified through the layers to
 * ~1e-5 of the O(1-10) logits; 1e-3 absolute leaves room and still catches any wrong
 * term (which moves logits by O(0.1)). */
static void test_forward_matches_llama(void)
{
    rz_llama *m = tiny_llama(21, 1);
    if (m) logits_case(m, 9, 2, 2, 1e-3, 22);
    rz_llama_free(m);
    rz_err e = {0};
    rz_llama *s260 = NULL;
    if (rz_model_load(check_data_path("stories260K.bin"), NULL, &s260, &e)) {
        printf("#   %s\n", e.msg);
        CHECK(0);
        return;
    }
    logits_case(s260, check_sanitized() ? 16 : 64, 2, 4, 1e-3, 23);
    rz_llama_free(s260);
}

/* ---- AdamW ----------------------------------------------------------------------------- */

static void test_adamw_step(void)
{
    rz_adamw_opts o;
    rz_adamw_defaults(&o);
    o.lr = 0.01, o.weight_decay = 0.1, o.clip = 1.0, o.warmup = 2, o.total = 10, o.schedule = RZ_SCHED_COSINE;
    /* schedule by hand: warmup 0.005, 0.01, then cosine over 8 steps */
    CHECK_NEAR(rz_adamw_lr(&o, 0), 0.005, 1e-15);
    CHECK_NEAR(rz_adamw_lr(&o, 1), 0.01, 1e-15);
    CHECK_NEAR(rz_adamw_lr(&o, 2), 0.01, 1e-15);
    CHECK_NEAR(rz_adamw_lr(&o, 6), 0.005, 1e-15);              /* halfway: (1 + cos π/2)/2 */
    CHECK_NEAR(rz_adamw_lr(&o, 4), 0.01 * (1 + sqrt(0.5)) / 2, 1e-15); /* d = 1/4 */
    rz_adamw_opts ol = o;
    ol.schedule = RZ_SCHED_LINEAR;
    CHECK_NEAR(rz_adamw_lr(&ol, 6), 0.005, 1e-15);
    CHECK_NEAR(rz_adamw_lr(&ol, 9), 0.01 * 1 / 8.0, 1e-15);

    enum { n = 5 };
    float p[n] = {0.5f, -1.0f, 2.0f, 0.0f, 0.25f};
    double pd[n], md[n] = {0}, vd[n] = {0};
    for (int i = 0; i < n; i++) pd[i] = p[i];
    rz_adamw a;
    rz_err e = {0};
    CHECK(rz_adamw_init(&a, n, &e) == 0);
    const float gs[3][n] = {{0.3f, -0.4f, 1.2f, 0.0f, 0.1f}, /* norm 1.3 > clip 1: scaled */
                            {0.01f, 0.02f, -0.03f, 0.5f, 0.0f},
                            {-0.2f, 0.1f, 0.1f, -0.1f, 0.05f}};
    for (int st = 0; st < 3; st++) {
        float g[n];
        memcpy(g, gs[st], sizeof g);
        double lr;
        double norm = rz_adamw_step(&a, &o, p, g, &lr);
        /* by hand in double */
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (double)gs[st][i] * gs[st][i];
        double nr = sqrt(ss), c = nr > 1.0 ? 1.0 / nr : 1.0, t = st + 1;
        double lrh = st < 2 ? 0.01 * (st + 1) / 2 : 0.01;
        CHECK_NEAR(norm, nr, 1e-12);
        CHECK_NEAR(lr, lrh, 1e-15);
        for (int i = 0; i < n; i++) {
            double gi = gs[st][i] * c;
            pd[i] -= lrh * 0.1 * pd[i];
            md[i] = 0.9 * md[i] + 0.1 * gi;
            vd[i] = 0.999 * vd[i] + 0.001 * gi * gi;
            pd[i] -= lrh * (md[i] / (1 - pow(0.9, t))) / (sqrt(vd[i] / (1 - pow(0.999, t))) + 1e-8);
        }
    }
    /* float vs double over 3 steps: each update is O(lr) = 1e-2 computed to ~1e-7
     * relative, so 1e-6 is generous */
    for (int i = 0; i < n; i++) CHECK_NEAR(p[i], pd[i], 1e-6);
    CHECK(a.step == 3);
    rz_adamw_free(&a);
}

/* ---- training on text ------------------------------------------------------------------ */

static int load_stories(rz_llama **m, int **ids, size_t *n, size_t max_tokens)
{
    rz_err e = {0};
    rz_tokenizer *tk = NULL;
    if (rz_model_load(check_data_path("stories260K.bin"), NULL, m, &e) ||
        rz_tokenizer_load(check_data_path("tok512.bin"), &tk, &e) ||
        rz_corpus_from_text(tk, check_data_path("tinystories-valid.txt"), ids, n, &e)) {
        printf("#   %s\n", e.msg);
        if (tk) rz_tokenizer_free(tk);
        return -1;
    }
    rz_tokenizer_free(tk);
    if (*n > max_tokens) *n = max_tokens;
    return 0;
}

/* Mean NLL of 4 fixed held-out sequences (the start of the text, not trained on). */
static double held_out_loss(rz_train *t, const int *ids, int T)
{
    int tok[4 * 64], tgt[4 * 64];
    for (int b = 0; b < 4; b++) {
        memcpy(tok + b * T, ids + (size_t)b * T, sizeof(int) * T);
        memcpy(tgt + b * T, ids + (size_t)b * T + 1, sizeof(int) * T);
    }
    double nll = 0;
    rz_train_forward(t, tok, tgt, 4, &nll);
    return nll / (4.0 * T);
}

static void test_loss_decreases(void)
{
    rz_llama *m;
    int *ids;
    size_t n;
    if (load_stories(&m, &ids, &n, 200000)) {
        CHECK(0);
        return;
    }
    int steps = 40, T = 64; /* the same under the sanitizers: ~10 s there */
    int ranks[RZ_LIN_PER_LAYER] = {4, 4, 4, 4, 4, 4, 4};
    rz_err e = {0};
    rz_lora *a;
    rz_train *t;
    CHECK(rz_lora_new(m, ranks, &a, &e) == 0);
    rz_lora_init_lora(a, 1);
    CHECK(rz_train_new(a, 4, T, &t, &e) == 0);
    rz_adamw opt;
    rz_adamw_opts o;
    rz_adamw_defaults(&o);
    o.lr = 3e-3, o.warmup = 2, o.total = steps;
    CHECK(rz_adamw_init(&opt, a->n_params, &e) == 0);
    double *acc = malloc(sizeof(double) * (a->n_params + 1));
    int *tok = malloc(sizeof(int) * 4 * T), *tgt = malloc(sizeof(int) * 4 * T);
    rz_step_shape sh = {8, 4};
    /* train on the second half of the text, measure on the held-out first sequences */
    size_t half = n / 2;
    rz_data_cursor cur = {0, 5};
    double h0 = held_out_loss(t, ids, T), first = 0, last = 0, loss;
    for (int st = 0; st < steps; st++) {
        CHECK(rz_train_step_grad(t, a, &sh, ids + half, n - half, &cur, acc, tok, tgt, &loss, &e) == 0);
        rz_adamw_step(&opt, &o, a->params, a->grads, NULL);
        if (st == 0) first = loss;
        if (st >= steps - 5) last += loss / 5;
    }
    double h1 = held_out_loss(t, ids, T);
    printf("#   stories260K, rank 4, batch 8 x %d, %d steps: training loss %.4f at step 1, %.4f mean of the "
           "last 5; held-out %.4f -> %.4f\n", T, steps, first, last, h0, h1);
    CHECK(last < first - 0.05);
    CHECK(h1 < h0 - 0.03);
    free(acc), free(tok), free(tgt), free(ids);
    rz_adamw_free(&opt);
    rz_train_free(t);
    rz_lora_free(a);
    rz_llama_free(m);
}

/* ---- checkpoints ----------------------------------------------------------------------- */

static void test_checkpoint_roundtrip(void)
{
    rz_llama *m = tiny_llama(31, 1);
    int rank[RZ_LIN_PER_LAYER] = {2, 0, 1, 2, 3, 1, 2};
    rz_lora *a, *b;
    rz_adamw oa, ob;
    rz_err e = {0};
    CHECK(rz_lora_new(m, rank, &a, &e) == 0 && rz_lora_new(m, rank, &b, &e) == 0);
    CHECK(rz_adamw_init(&oa, a->n_params, &e) == 0 && rz_adamw_init(&ob, b->n_params, &e) == 0);
    uint64_t s = 32;
    for (size_t i = 0; i < a->n_params; i++) {
        a->params[i] = (float)rng_normal(&s);
        oa.m[i] = (float)rng_normal(&s);
        oa.v[i] = (float)fabs(rng_normal(&s));
    }
    rz_ckpt_info info = {7, 20, {1234, 0xfedcba9876543210ULL}, rz_llama_identity(a->base, RZ_ID_CHECKPOINT), 4, 2, 8, {0}, 1.25};
    memcpy(info.rank, rank, sizeof rank);
    char path[] = "/tmp/rz_test_train_ckXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK(rz_ckpt_save(path, NULL, &info, a, &oa, &e) == 0);
    rz_ckpt_info back;
    CHECK(rz_ckpt_load(path, NULL, rz_llama_identity(b->base, RZ_ID_CHECKPOINT), &back, b, &ob, &e) == 0);
    CHECK(memcmp(a->params, b->params, sizeof(float) * a->n_params) == 0);
    CHECK(memcmp(oa.m, ob.m, sizeof(float) * a->n_params) == 0 && memcmp(oa.v, ob.v, sizeof(float) * a->n_params) == 0);
    CHECK(back.step == 7 && ob.step == 7 && back.cur.pos == 1234 && back.cur.rng == 0xfedcba9876543210ULL);
    CHECK(back.batch == 4 && back.micro == 2 && back.ctx == 8 && back.loss == 1.25);
    /* another model: the same shapes, one weight changed */
    m->norm[0] += 1.0f;
    rz_err e2 = {0};
    CHECK(rz_ckpt_load(path, NULL, rz_llama_identity(b->base, RZ_ID_CHECKPOINT), &back, b, &ob, &e2) == RZ_EINPUT);
    CHECK(strstr(e2.msg, "another model") != NULL);
    printf("#   %s\n", e2.msg);
    /* adapters: a round trip, and rank mismatch */
    CHECK(rz_adapters_save(path, NULL, 0, a, &e) == 0);
    memset(b->params, 0, sizeof(float) * b->n_params);
    CHECK(rz_adapters_load(path, NULL, 0, b, &e) == 0);
    CHECK(memcmp(a->params, b->params, sizeof(float) * a->n_params) == 0);
    rz_lora *c;
    int rank2[RZ_LIN_PER_LAYER] = {2, 0, 1, 2, 3, 1, 1};
    CHECK(rz_lora_new(m, rank2, &c, &e) == 0);
    CHECK(rz_adapters_load(path, NULL, 0, c, &e2) == RZ_EINPUT);
    /* a truncated checkpoint */
    CHECK(rz_ckpt_save(path, NULL, &info, a, &oa, &e) == 0);
    CHECK(truncate(path, 200) == 0);
    m->norm[0] -= 1.0f;
    CHECK(rz_ckpt_load(path, NULL, rz_llama_identity(b->base, RZ_ID_CHECKPOINT), &back, b, &ob, &e2) != 0);
    unlink(path);
    rz_lora_free(c);
    rz_adamw_free(&oa), rz_adamw_free(&ob);
    rz_lora_free(a), rz_lora_free(b);
    rz_llama_free(m);
}

/* Gradients of a step are bitwise the same with 1 and 2 OpenMP threads (fixed panels,
 * one thread per attention unit, per-row ops), on shapes that take the parallel paths. */
/* Header fields of the checkpoint and adapter streams: a header written here by hand,
 * every field good but one, must be refused naming that field (RZ_EINPUT: the programs
 * exit 2). Each bad value sits just outside its field's bounds (below and, where there
 * is one, above), or is of the wrong kind. The all-good header is the control: it gets
 * past the header and fails only on the missing tensors. */
/* Writes header fields f (field `bad` given its value v) and no tensors. */
static void write_hdr(const char *path, const char *type, const fc_field *f, int n, int bad, fc_val v)
{
    rz_err e = {0};
    rz_writer *w;
    CHECK(rz_writer_open(path, NULL, &w, &e) == 0);
    fc_pack_record(rz_writer_packer(w), type, f, n, bad, v);
    CHECK(rz_writer_emit(w, &e) == 0);
    CHECK(rz_writer_close(w, &e) == 0);
}

static void check_hdr_fields(const char *path, const char *type, const fc_field *f, int n, uint64_t id,
                             const rz_lora *a, rz_adamw *opt)
{
    rz_ckpt_info info;
    for (int i = -1; i < n; i++)
        for (int b = 0; b < (i < 0 ? 1 : f[i].nbad); b++) {
            write_hdr(path, type, f, n, i, i < 0 ? f[0].good : f[i].bad[b]);
            rz_err e = {0};
            int rc = opt ? rz_ckpt_load(path, NULL, id, &info, (rz_lora *)a, opt, &e)
                         : rz_adapters_load(path, NULL, id, (rz_lora *)a, &e);
            char want[64];
            snprintf(want, sizeof want, "field '%s'", i < 0 ? "" : f[i].key);
            CHECK(rc == RZ_EINPUT);
            if (i < 0) { /* the control: past the header, only the tensors are missing */
                CHECK(strstr(e.msg, "is missing") && !strstr(e.msg, "field '"));
            } else if (!strstr(e.msg, want)) {
                printf("#   %s: bad value %d of '%s' refused as: %s\n", type, b, f[i].key, e.msg);
                CHECK(0);
            }
        }
}

static void test_checkpoint_fields(void)
{
    rz_llama *m = tiny_llama(31, 1);
    int rank[RZ_LIN_PER_LAYER] = {2, 0, 1, 2, 3, 1, 2};
    rz_lora *a;
    rz_adamw opt;
    rz_err e = {0};
    CHECK(rz_lora_new(m, rank, &a, &e) == 0 && rz_adamw_init(&opt, a->n_params, &e) == 0);
    uint64_t id = rz_llama_identity(a->base, RZ_ID_CHECKPOINT);
    char idhex[17];
    snprintf(idhex, sizeof idhex, "%016llx", (unsigned long long)id);
    int64_t big = ((int64_t)1 << 30) + 1, nl = a->n_layers, rk[RZ_LIN_PER_LAYER + 1];
    for (int i = 0; i <= RZ_LIN_PER_LAYER; i++) rk[i] = i < RZ_LIN_PER_LAYER ? rank[i] : 1;
    fc_val hex_short = {'s', 0, "0123456789abcde", 0}, hex_bad = {'s', 0, "0123456789abcdeg", 0};
    fc_val ranks = {'a', RZ_LIN_PER_LAYER, 0, rk};
    const fc_field ck[] = {
        {"step", {'i', 3, 0, 0}, {{'i', -1, 0, 0}, {'s', 0, "3", 0}}, 2},
        {"total_steps", {'i', 5, 0, 0}, {{'i', -1, 0, 0}}, 1},
        {"data_pos", {'i', 0, 0, 0}, {{'i', -1, 0, 0}}, 1},
        {"rng", {'s', 0, "0123456789abcdef", 0}, {hex_short, hex_bad}, 2},
        {"model_id", {'s', 0, idhex, 0}, {hex_short, hex_bad}, 2},
        {"batch", {'i', 4, 0, 0}, {{'i', 0, 0, 0}, {'i', big, 0, 0}}, 2},
        {"micro", {'i', 2, 0, 0}, {{'i', 0, 0, 0}, {'i', big, 0, 0}}, 2},
        {"ctx", {'i', 8, 0, 0}, {{'i', 0, 0, 0}, {'i', big, 0, 0}}, 2},
        {"n_layers", {'i', nl, 0, 0}, {{'i', 0, 0, 0}, {'i', 65537, 0, 0}}, 2},
        {"rank", ranks, {{'a', RZ_LIN_PER_LAYER - 1, 0, rk}, {'i', 2, 0, 0}}, 2},
        {"loss", {'f', 0, 0, 0}, {{'s', 0, "1.5", 0}}, 1},
    };
    const fc_field ad[] = {
        {"model_id", {'s', 0, idhex, 0}, {hex_short, hex_bad}, 2},
        {"n_layers", {'i', nl, 0, 0}, {{'i', 0, 0, 0}, {'i', 65537, 0, 0}}, 2},
        {"rank", ranks, {{'a', RZ_LIN_PER_LAYER + 1, 0, rk}, {'s', 0, "2", 0}}, 2},
    };
    char path[] = "/tmp/rz_test_train_hdrXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    check_hdr_fields(path, "train_checkpoint", ck, (int)(sizeof ck / sizeof ck[0]), id, a, &opt);
    check_hdr_fields(path, "lora_adapters", ad, (int)(sizeof ad / sizeof ad[0]), id, a, NULL);
    unlink(path);
    rz_adamw_free(&opt);
    rz_lora_free(a);
    rz_llama_free(m);
}

static void test_threads_bitwise(void)
{
    rz_llama *m;
    int *ids;
    size_t n;
    if (load_stories(&m, &ids, &n, 20000)) {
        CHECK(0);
        return;
    }
    int ranks[RZ_LIN_PER_LAYER] = {4, 4, 4, 4, 4, 4, 4};
    rz_err e = {0};
    rz_lora *a;
    rz_train *t;
    CHECK(rz_lora_new(m, ranks, &a, &e) == 0);
    uint64_t s = 41;
    for (size_t i = 0; i < a->n_params; i++) a->params[i] = (float)(0.05 * rng_normal(&s));
    int prev = omp_get_max_threads();
    omp_set_num_threads(2);
    CHECK(rz_train_new(a, 4, 128, &t, &e) == 0);
    double *acc = malloc(sizeof(double) * (a->n_params + 1));
    int *tok = malloc(sizeof(int) * 4 * 128), *tgt = malloc(sizeof(int) * 4 * 128);
    float *g[2];
    double loss[2];
    rz_step_shape sh = {8, 4};
    for (int r = 0; r < 2; r++) {
        omp_set_num_threads(r + 1);
        rz_data_cursor cur = {0, 1};
        CHECK(rz_train_step_grad(t, a, &sh, ids, n, &cur, acc, tok, tgt, &loss[r], &e) == 0);
        g[r] = malloc(sizeof(float) * a->n_params);
        memcpy(g[r], a->grads, sizeof(float) * a->n_params);
    }
    omp_set_num_threads(prev);
    CHECK(memcmp(g[0], g[1], sizeof(float) * a->n_params) == 0);
    CHECK(loss[0] == loss[1]);
    free(g[0]), free(g[1]), free(acc), free(tok), free(tgt), free(ids);
    rz_train_free(t);
    rz_lora_free(a);
    rz_llama_free(m);
}

int main(void)
{
    rz_linalg_threads(0); /* OpenBLAS single-threaded, as the tools run it (linalg.h) */
    RUN(test_rmsnorm_grad);
    RUN(test_rope_grad);
    RUN(test_attention_grad);
    RUN(test_bidirectional_attention_grad);
    RUN(test_key_masked_attention_grad);
    RUN(test_cross_attention_grad);
    RUN(test_key_masked_value_unseen);
    RUN(test_key_masked_threads);
    RUN(test_key_masked_softmax_bits);
    RUN(test_swiglu_grad);
    RUN(test_linear_adapter_grad);
    RUN(test_xent_grad);
    RUN(test_embedding_classifier_grad);
    RUN(test_model_grad);
    RUN(test_model_grad_per_matrix);
    RUN(test_forward_matches_llama);
    RUN(test_adamw_step);
    RUN(test_checkpoint_roundtrip);
    RUN(test_checkpoint_fields);
    RUN(test_threads_bitwise);
    RUN(test_loss_decreases);
    return check_summary();
}
