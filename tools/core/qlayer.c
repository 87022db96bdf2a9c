/* qlayer.c — quantising one linear layer into a "qlayer" record and decoding it back
 * (see qlayer.h for the steps). */
#include "qlayer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e8p.h"
#include "hadamard.h"
#include "quant.h"

static uint64_t mix64(uint64_t a, uint64_t b)
{
    uint64_t z = a ^ (b * 0x9e3779b97f4a7c15ULL) ^ 0x5851f42d4c957f2dULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rz_qlayer_free(rz_qlayer *q)
{
    free(q->codes);
    free(q->scales);
    free(q->zeros);
    memset(q, 0, sizeof *q);
}

/* Ŵ ← Uᵀ Ŵ V on rows × pcols (the inverse of W ← U W Vᵀ). */
static int undo_rht(float *X, int rows, int pcols, uint64_t su, uint64_t sv, rz_err *e)
{
    rz_rht U = {0}, V = {0};
    int rc = rz_rht_init(&U, rows, su, e);
    if (!rc) rc = rz_rht_init(&V, pcols, sv, e);
    if (!rc) rc = rz_rht_cols(&U, X, pcols, pcols, 1, e);
    if (!rc) rc = rz_rht_rows(&V, X, rows, pcols, 1, e);
    rz_rht_free(&U);
    rz_rht_free(&V);
    return rc;
}

int rz_qlayer_quantize(const char *name, const float *W, int rows, int cols, const double *H,
                       const rz_qopts *o, long item, uint64_t model_hash, rz_qlayer *q, float *What,
                       rz_err *e)
{
    memset(q, 0, sizeof *q);
    if (!rz_qmethod_bits_ok(o->method, o->bits))
        return rz_fail(e, RZ_EINPUT, "%d bits is not valid for %s", o->bits, rz_qmethod_name(o->method));
    if (rows < 1 || cols < 1 || rows > RZ_QUANT_MAX_DIM || cols > RZ_QUANT_MAX_DIM)
        return rz_fail(e, RZ_EINPUT, "%s: shape %d x %d out of range", name, rows, cols);
    int pc = o->method == RZ_QM_E8P ? (cols + 7) / 8 * 8 : cols;
    if (o->method == RZ_QM_E8P && o->group) return rz_fail(e, RZ_EINPUT, "e8p has one scale per matrix: --group does not apply");
    if (o->group < 0 || o->group > pc) return rz_fail(e, RZ_EINPUT, "group %d is not in [0, %d]", o->group, pc);
    rz_qlayer_view *v = &q->v;
    snprintf(v->name, sizeof v->name, "%s", name);
    v->rows = rows;
    v->cols = cols;
    v->pcols = pc;
    v->method = o->method;
    v->bits = o->bits;
    v->group = o->group;
    v->incoherent = o->incoherence;
    v->model_hash = model_hash;
    if (o->incoherence) {
        v->seed_u = mix64(o->seed, 2 * (uint64_t)item);
        v->seed_v = mix64(o->seed, 2 * (uint64_t)item + 1);
    }
    size_t mn = (size_t)rows * (size_t)pc, ns = rz_qlayer_n_scales(o->method, rows, pc, o->group);
    float *Wp = calloc(mn, sizeof *Wp), *Q = calloc(mn, sizeof *Q), *zf = calloc(ns, sizeof *zf);
    float *Wh = What ? What : malloc((size_t)rows * (size_t)cols * sizeof *Wh);
    double *Hp = calloc((size_t)pc * (size_t)pc, sizeof *Hp);
    uint8_t *c8 = o->method == RZ_QM_E8P ? NULL : malloc(mn);
    uint32_t *c32 = o->method == RZ_QM_E8P ? malloc(mn / 8 * sizeof *c32) : NULL;
    q->v.codes_n = rz_qlayer_codes_bytes(o->method, o->bits, rows, pc);
    q->codes = calloc(q->v.codes_n, 1);
    q->scales = calloc(ns, sizeof *q->scales);
    q->zeros = o->method == RZ_QM_E8P ? NULL : calloc(ns, 1);
    rz_ldl f = {0};
    int rc = RZ_OK;
    if (!Wp || !Q || !zf || !Wh || !Hp || (!c8 && !c32) || !q->codes || !q->scales || (!q->zeros && o->method != RZ_QM_E8P)) {
        rc = rz_fail(e, RZ_EINTERNAL, "%s: out of memory", name);
        goto done;
    }
    for (int r = 0; r < rows; r++) memcpy(Wp + (size_t)r * pc, W + (size_t)r * cols, (size_t)cols * sizeof *W);
    for (int r = 0; r < cols; r++) memcpy(Hp + (size_t)r * pc, H + (size_t)r * cols, (size_t)cols * sizeof *H);
    if (o->incoherence) {
        rz_rht U = {0}, V = {0};
        rc = rz_rht_init(&U, rows, v->seed_u, e);
        if (!rc) rc = rz_rht_init(&V, pc, v->seed_v, e);
        if (!rc) rc = rz_rht_cols(&U, Wp, pc, pc, 0, e);
        if (!rc) rc = rz_rht_rows(&V, Wp, rows, pc, 0, e);
        if (!rc) rc = rz_rht_cols_d(&V, Hp, pc, pc, 0, e);
        if (!rc) rc = rz_rht_rows_d(&V, Hp, pc, pc, 0, e);
        rz_rht_free(&U);
        rz_rht_free(&V);
        if (rc) goto done;
    }
    if (o->method != RZ_QM_RTN) {
        rc = rz_ldl_factor(Hp, pc, o->method == RZ_QM_E8P ? 8 : 1, o->percdamp, &f, e);
        if (rc) {
            rz_wrap(e, "%s: the Hessian is not positive definite even after damping (%s)", name,
                    "use --percdamp to damp more, or check the Hessian stream");
            goto done;
        }
    }
    if (o->method == RZ_QM_RTN) {
        rc = rz_rtn(Wp, rows, pc, o->bits, o->group, Q, c8, q->scales, zf, e);
    } else if (o->method == RZ_QM_LDLQ) {
        /* lazy batches a multiple of the group, as rz_gptq requires */
        int lazy = o->group > 0 ? o->group * ((RZ_LAZY + o->group - 1) / o->group) : 0;
        rc = rz_gptq(Wp, rows, pc, &f, o->bits, o->group, lazy, Q, c8, q->scales, zf, e);
    } else {
        rc = rz_ldlq_e8p(Wp, rows, pc, &f, o->bits, 0, 0, Q, c32, q->scales, e);
    }
    if (rc) {
        rz_wrap(e, "%s", name);
        goto done;
    }
    /* codes into their stored layout */
    if (c8) {
        uint8_t *out = q->codes;
        size_t bit = 0;
        for (size_t k = 0; k < mn; k++, bit += (size_t)o->bits)
            for (int b = 0; b < o->bits; b++)
                if (c8[k] >> b & 1) out[(bit + (size_t)b) / 8] |= (uint8_t)(1u << ((bit + (size_t)b) % 8));
        for (size_t k = 0; k < ns; k++) q->zeros[k] = (uint8_t)zf[k]; /* integers in [0, 2^bits − 1] */
        q->v.n_zeros = ns;
    } else {
        for (size_t k = 0; k < mn / 8; k++) {
            /* 3 bits: e8p<<16 | e81b has bits 8..15 unused; stored as e8p<<8 | e81b */
            uint32_t code = o->bits == 3 ? (c32[k] >> 16) << 8 | (c32[k] & 255u) : c32[k];
            for (int b = 0; b < o->bits; b++) q->codes[k * (size_t)o->bits + (size_t)b] = (uint8_t)(code >> (8 * b));
        }
    }
    v->n_scales = ns;
    v->codes = q->codes;
    v->scales = q->scales;
    v->zeros = q->zeros;
    /* the quantiser's own Ŵ, back in the original basis, against the original W and H */
    if (o->incoherence && (rc = undo_rht(Q, rows, pc, v->seed_u, v->seed_v, e))) goto done;
    for (int r = 0; r < rows; r++) memcpy(Wh + (size_t)r * cols, Q + (size_t)r * pc, (size_t)cols * sizeof *Wh);
    rc = rz_proxy_loss(W, Wh, rows, cols, H, &v->loss, &v->rel, e);
done:
    rz_ldl_free(&f);
    free(Wp);
    free(Q);
    free(zf);
    if (Wh != What) free(Wh);
    free(Hp);
    free(c8);
    free(c32);
    if (rc) rz_qlayer_free(q);
    return rc;
}

int rz_qlayer_dequant(const rz_qlayer_view *v, float *W, rz_err *e)
{
    int rows = v->rows, pc = v->pcols, cols = v->cols;
    size_t mn = (size_t)rows * (size_t)pc;
    float *X = malloc(mn * sizeof *X);
    if (!X) return rz_fail(e, RZ_EINTERNAL, "%s: out of memory", v->name);
    const uint8_t *codes = v->codes, *zeros = v->zeros;
    if (v->method == RZ_QM_E8P) {
        float s;
        memcpy(&s, v->scales, sizeof s);
        for (size_t k = 0; k < mn / 8; k++) {
            uint32_t code = 0;
            for (int b = 0; b < v->bits; b++) code |= (uint32_t)codes[k * (size_t)v->bits + (size_t)b] << (8 * b);
            if (v->bits == 3) code = (code >> 8) << 16 | (code & 255u);
            float out[8];
            rz_e8p_rvq_decode(v->bits, code, out);
            for (int i = 0; i < 8; i++) X[k * 8 + (size_t)i] = out[i] * s;
        }
    } else {
        int G = rz_grid_groups(pc, v->group), gw = v->group > 0 ? v->group : pc;
        size_t bit = 0;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < pc; c++, bit += (size_t)v->bits) {
                int q = 0;
                for (int b = 0; b < v->bits; b++)
                    q |= (codes[(bit + (size_t)b) / 8] >> ((bit + (size_t)b) % 8) & 1) << b;
                size_t g = (size_t)r * (size_t)G + (size_t)(c / gw);
                float s;
                memcpy(&s, (const uint8_t *)v->scales + g * sizeof s, sizeof s);
                X[(size_t)r * pc + c] = rz_grid_value(q, s, (float)zeros[g]);
            }
    }
    int rc = v->incoherent ? undo_rht(X, rows, pc, v->seed_u, v->seed_v, e) : RZ_OK;
    if (!rc)
        for (int r = 0; r < rows; r++) memcpy(W + (size_t)r * cols, X + (size_t)r * pc, (size_t)cols * sizeof *W);
    free(X);
    return rc;
}

uint64_t rz_qlayer_model_hash(rz_llama *m)
{
    uint64_t h = rz_checksum(RZ_CHECKSUM_INIT, &m->config, sizeof m->config);
    for (int i = 0; i < rz_llama_tensor_count(m); i++) {
        const char *name;
        float *data;
        int shape[2], ndim;
        rz_llama_tensor_at(m, i, &name, &data, shape, &ndim);
        h = rz_checksum(h, data, (size_t)shape[0] * (size_t)(ndim == 2 ? shape[1] : 1) * sizeof *data);
    }
    return h;
}

int rz_qlayer_linear(rz_llama *m, long i, char *buf, size_t cap, float **data, int *rows, int *cols,
                     int *layer, int *group)
{
    static const char *const names[7] = {"attention.wq", "attention.wk", "attention.wv", "attention.wo",
                                         "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"};
    static const int groups[7] = {RZ_TAP_ATTN_IN, RZ_TAP_ATTN_IN, RZ_TAP_ATTN_IN, RZ_TAP_ATTN_OUT,
                                  RZ_TAP_MLP_IN, RZ_TAP_MLP_DOWN, RZ_TAP_MLP_IN};
    const rz_llama_config *c = &m->config;
    if (i < 0 || i >= 7L * c->n_layers) return -1;
    int l = (int)(i / 7), k = (int)(i % 7), kv = c->dim / c->n_heads * c->n_kv_heads;
    const rz_llama_layer *L = &m->layers[l];
    float *ptr[7] = {L->wq, L->wk, L->wv, L->wo, L->w1, L->w2, L->w3};
    int r[7] = {c->dim, kv, kv, c->dim, c->hidden_dim, c->dim, c->hidden_dim};
    int n[7] = {c->dim, c->dim, c->dim, c->dim, c->dim, c->hidden_dim, c->dim};
    snprintf(buf, cap, "layers.%d.%s.weight", l, names[k]);
    *data = ptr[k];
    *rows = r[k];
    *cols = n[k];
    *layer = l;
    *group = groups[k];
    return 0;
}
