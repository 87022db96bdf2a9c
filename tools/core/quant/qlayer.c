/* qlayer.c — quantising one linear layer into a "qlayer" record and decoding it back
 * (see qlayer.h for the steps); CALDERA fits (Q + L R) into v2 records and back. */
#include "qlayer.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e8p.h"
#include "rht.h"
#include "ldlq.h"
#include "rng.h"

/* A seed per (seed, counter b): splitmix64's finaliser of a keyed word (rng.h). */
static uint64_t mix64(uint64_t a, uint64_t b) { return rz_mix64(a ^ (b * RZ_SPLITMIX_GAMMA) ^ 0x5851f42d4c957f2dULL); }

void rz_qlayer_seeds(uint64_t seed, long item, uint64_t *seed_u, uint64_t *seed_v)
{
    *seed_u = mix64(seed, 2 * (uint64_t)item);
    *seed_v = mix64(seed, 2 * (uint64_t)item + 1);
}

/* counters 2^62 + key: apart from the items' 2·item, 2·item + 1 */
uint64_t rz_qlayer_seed_shared_v(uint64_t seed, long in_key) { return mix64(seed, ((uint64_t)1 << 62) + (uint64_t)in_key); }

void rz_qlayer_free(rz_qlayer *q)
{
    free(q->codes);
    free(q->scales);
    free(q->zeros);
    free(q->L);
    free(q->R);
    free(q->L_scales);
    free(q->R_scales);
    free(q->L_zeros);
    free(q->R_zeros);
    free(q->out_scale);
    free(q->in_scale);
    memset(q, 0, sizeof *q);
}

/* The output-side transform U of a layer: random Hadamard for two-sided incoherence,
 * the identity for RZ_INCOH_IN (input side only). */
static int init_u(rz_rht *U, int mode, int rows, uint64_t seed_u, rz_err *e)
{
    if (mode == RZ_INCOH_IN) {
        rz_rht_init_identity(U, rows);
        return RZ_OK;
    }
    return rz_rht_init(U, rows, seed_u, e);
}

/* Ŵ ← Uᵀ Ŵ V on rows × pcols (the inverse of W ← U W Vᵀ). */
static int undo_rht(float *X, int rows, int pcols, int mode, uint64_t su, uint64_t sv, rz_err *e)
{
    rz_rht U = {0}, V = {0};
    int rc = init_u(&U, mode, rows, su, e);
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
    return rz_qlayer_quantize_keyed(name, W, rows, cols, H, o, item, 0, model_hash, q, What, e);
}

int rz_qlayer_quantize_keyed(const char *name, const float *W, int rows, int cols, const double *H,
                             const rz_qopts *o, long item, long in_key, uint64_t model_hash, rz_qlayer *q,
                             float *What, rz_err *e)
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
        rz_qlayer_seeds(o->seed, item, &v->seed_u, &v->seed_v);
        if (in_key > 0) v->seed_v = rz_qlayer_seed_shared_v(o->seed, in_key);
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
        rc = init_u(&U, v->incoherent, rows, v->seed_u, e);
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
        rz_e8p_opts eo = {o->bits, o->target_rms, o->tune_iters, o->scale_search, 0};
        rc = rz_ldlq_e8p_ex(Wp, rows, pc, &f, Hp, &eo, Q, c32, q->scales, NULL, e);
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
    if (o->incoherence && (rc = undo_rht(Q, rows, pc, v->incoherent, v->seed_u, v->seed_v, e))) goto done;
    for (int r = 0; r < rows; r++) memcpy(Wh + (size_t)r * cols, Q + (size_t)r * pc, (size_t)cols * sizeof *Wh);
    rc = rz_proxy_loss(W, Wh, rows, cols, H, &v->loss, &v->rel_loss, e);
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

int rz_qlayer_quantize_table(const char *name, const float *W, int rows, int cols, int bits, int group,
                             uint64_t model_hash, rz_qlayer *q, rz_err *e)
{
    memset(q, 0, sizeof *q);
    if (cols < 1 || cols > RZ_QUANT_MAX_DIM) return rz_fail(e, RZ_EINPUT, "%s: %d columns out of range", name, cols);
    double *H = calloc((size_t)cols * (size_t)cols, sizeof *H);
    if (!H) return rz_fail(e, RZ_EINTERNAL, "%s: out of memory", name);
    for (int j = 0; j < cols; j++) H[(size_t)j * (size_t)cols + (size_t)j] = 1.0;
    rz_qopts o = {RZ_QM_RTN, bits, group, RZ_INCOH_NONE, 0, 0, 0, 0, 0};
    int rc = rz_qlayer_quantize(name, W, rows, cols, H, &o, 0, model_hash, q, NULL, e);
    free(H);
    return rc;
}

/* n codes of `bits` bits from the little-endian bit stream p, starting at bit `bit`. */
static void grid_unpack(const uint8_t *restrict p, size_t bit, int n, int bits, uint8_t *restrict q)
{
    unsigned mask = (1u << bits) - 1u;
    if (bit % 8 == 0) { /* from a byte boundary: whole bytes (2, 4, 8 bits) or 3-byte groups */
        const uint8_t *restrict b = p + bit / 8;
        int c = 0;
        if (bits == 8) {
            memcpy(q, b, (size_t)n);
            return;
        } else if (bits == 4) {
            for (; c + 2 <= n; c += 2, b++) q[c] = *b & 15u, q[c + 1] = *b >> 4;
        } else if (bits == 2) {
            for (; c + 4 <= n; c += 4, b++)
                q[c] = *b & 3u, q[c + 1] = *b >> 2 & 3u, q[c + 2] = *b >> 4 & 3u, q[c + 3] = *b >> 6;
        } else if (bits == 3) {
            for (; c + 8 <= n; c += 8, b += 3) {
                uint32_t w = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16;
                for (int k = 0; k < 8; k++) q[c + k] = (uint8_t)(w >> (3 * k) & 7u);
            }
        }
        bit += (size_t)c * (size_t)bits;
        q += c;
        n -= c;
        if (n == 0) return;
    }
    /* the rest: a bit accumulator refilled a byte at a time, never reading a byte past
     * the last code's */
    size_t byte = bit / 8;
    uint64_t acc = p[byte++] >> (bit % 8);
    int have = 8 - (int)(bit % 8);
    for (int c = 0; c < n; c++) {
        while (have < bits) {
            acc |= (uint64_t)p[byte++] << have;
            have += 8;
        }
        q[c] = (uint8_t)(acc & mask);
        acc >>= bits;
        have -= bits;
    }
}

/* E8P rows: one 16-bit code per 8 weights (2 bits), plus an E81B byte (3 bits) or a
 * second E8P code (4 bits) scaled by 1/r; the codeword is abs ⊙ sign + shift
 * (rz_e8p_tables), times the layer's scale s. Arithmetic in rz_e8p_rvq_decode's order. */
static void e8p_rows(const uint8_t *restrict c, size_t blocks, int bits, float s, float *restrict x)
{
    const rz_e8p_tables *tb = rz_e8p_tables_get();
    if (bits == 2) {
        for (size_t k = 0; k < blocks; k++, c += 2, x += 8) {
            const float *a = tb->abs[c[1]], *sg = tb->sign[c[0]];
            float t = tb->shift[c[0]];
            for (int j = 0; j < 8; j++) x[j] = (a[j] * sg[j] + t) * s;
        }
    } else if (bits == 3) { /* [e81b, e8p lo, e8p hi] */
        const float r = RZ_E8P_RVQ3_RSCALE;
        for (size_t k = 0; k < blocks; k++, c += 3, x += 8) {
            const float *a = tb->abs[c[2]], *sg = tb->sign[c[1]], *b = tb->e81b[c[0]];
            float t = tb->shift[c[1]];
            for (int j = 0; j < 8; j++) x[j] = (a[j] * sg[j] + t + b[j] / r) * s;
        }
    } else { /* [e8p₂ lo, hi, e8p₁ lo, hi] */
        const float r = RZ_E8P_RVQ4_RSCALE;
        for (size_t k = 0; k < blocks; k++, c += 4, x += 8) {
            const float *a = tb->abs[c[3]], *sg = tb->sign[c[2]], *a2 = tb->abs[c[1]], *sg2 = tb->sign[c[0]];
            float t = tb->shift[c[2]], t2 = tb->shift[c[0]];
            for (int j = 0; j < 8; j++) x[j] = (a[j] * sg[j] + t + (a2[j] * sg2[j] + t2) / r) * s;
        }
    }
}

void rz_qlayer_decode_rows(const rz_qlayer_view *v, int r0, int n, float *X)
{
    int pc = v->pcols;
    const uint8_t *codes = v->codes;
    if (v->method == RZ_QM_E8P) {
        float s;
        memcpy(&s, v->scales, sizeof s);
        size_t nb = (size_t)pc / 8;
        e8p_rows(codes + (size_t)r0 * nb * (size_t)v->bits, nb * (size_t)n, v->bits, s, X);
        return;
    }
    int G = rz_grid_groups(pc, v->group), gw = v->group > 0 ? v->group : pc;
    uint8_t q[256];
    const uint8_t *zeros = v->zeros;
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)(r0 + i);
        float *x = X + (size_t)i * (size_t)pc;
        for (int g = 0; g < G; g++) {
            int c0 = g * gw, len = pc - c0 < gw ? pc - c0 : gw;
            size_t gi = row * (size_t)G + (size_t)g;
            float sc, z = (float)zeros[gi];
            memcpy(&sc, (const uint8_t *)v->scales + gi * sizeof sc, sizeof sc);
            for (int b = 0; b < len; b += 256) { /* codes unpacked 256 at a time */
                int m = len - b < 256 ? len - b : 256;
                grid_unpack(codes, (row * (size_t)pc + (size_t)(c0 + b)) * (size_t)v->bits, m, v->bits, q);
                float *restrict xo = x + c0 + b;
                for (int j = 0; j < m; j++) xo[j] = sc * ((float)q[j] - z); /* rz_grid_value */
            }
        }
    }
}

/* nvec vectors of len entries of a low-rank factor into X[vec·sv + entry·se] (values or
 * grid codes with per-vector groups). */
static void lr_unpack(const rz_qlayer_view *v, const void *data, const void *scales, const void *zeros, int nvec,
                      int len, float *X, long sv, long se)
{
    const uint8_t *p = data, *z = zeros;
    int G = rz_grid_groups(len, v->lr_group), gw = v->lr_group > 0 ? v->lr_group : len;
    size_t bit = 0;
    for (int a = 0; a < nvec; a++)
        for (int b = 0; b < len; b++) {
            size_t t = (size_t)a * (size_t)len + (size_t)b;
            float x;
            if (v->lr_format == RZ_LR_F32) {
                memcpy(&x, p + 4 * t, 4);
            } else if (v->lr_format == RZ_LR_F16 || v->lr_format == RZ_LR_BF16) {
                uint16_t h;
                memcpy(&h, p + 2 * t, 2);
                x = v->lr_format == RZ_LR_F16 ? rz_f16_to_f32(h) : rz_bf16_to_f32(h);
            } else {
                int q = 0;
                for (int i = 0; i < v->lr_bits; i++, bit++) q |= (p[bit / 8] >> (bit % 8) & 1) << i;
                size_t g = (size_t)a * (size_t)G + (size_t)(b / gw);
                float sc;
                memcpy(&sc, (const uint8_t *)scales + g * sizeof sc, sizeof sc);
                x = rz_grid_value(q, sc, (float)z[g]);
            }
            X[a * sv + b * se] = x;
        }
}

/* Values are stored L [rows][k]; grid codes by column of L. */
void rz_qlayer_lowrank_rot(const rz_qlayer_view *v, float *L, float *R)
{
    int m = v->rows, k = v->rank, pc = v->pcols;
    if (v->lr_format == RZ_LR_GRID) lr_unpack(v, v->L, v->L_scales, v->L_zeros, k, m, L, 1, k);
    else lr_unpack(v, v->L, NULL, NULL, m, k, L, k, 1);
    lr_unpack(v, v->R, v->R_scales, v->R_zeros, k, pc, R, pc, 1);
}

int rz_qlayer_line_scales(const rz_qlayer_view *v, float *a, float *b)
{
    if (!v->out_scale) return 0;
    for (int i = 0; i < v->rows; i++) {
        uint16_t h;
        memcpy(&h, (const unsigned char *)v->out_scale + 2 * (size_t)i, 2);
        a[i] = rz_f16_to_f32(h);
    }
    for (int j = 0; j < v->cols; j++) {
        uint16_t h;
        memcpy(&h, (const unsigned char *)v->in_scale + 2 * (size_t)j, 2);
        b[j] = rz_f16_to_f32(h);
    }
    return 1;
}

int rz_qlayer_dequant(const rz_qlayer_view *v, float *W, rz_err *e)
{
    int rows = v->rows, pc = v->pcols, cols = v->cols, k = v->rank;
    size_t mn = (size_t)rows * (size_t)pc, nx = mn > (size_t)rows + cols ? mn : (size_t)rows + cols;
    float *X = malloc(nx * sizeof *X); /* Ŵ, then the line scales */
    float *L = k > 0 ? malloc((size_t)rows * (size_t)k * sizeof *L) : NULL;
    float *R = k > 0 ? malloc((size_t)k * (size_t)pc * sizeof *R) : NULL;
    if (!X || (k > 0 && (!L || !R))) {
        free(X);
        free(L);
        free(R);
        return rz_fail(e, RZ_EINTERNAL, "%s: out of memory", v->name);
    }
    rz_qlayer_decode_rows(v, 0, rows, X);
    if (k > 0) { /* the merge: X ← Q + L R */
        rz_qlayer_lowrank_rot(v, L, R);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, pc, k, 1.0f, L, k, R, pc, 1.0f, X, pc);
    }
    int rc = v->incoherent ? undo_rht(X, rows, pc, v->incoherent, v->seed_u, v->seed_v, e) : RZ_OK;
    if (!rc)
        for (int r = 0; r < rows; r++) memcpy(W + (size_t)r * cols, X + (size_t)r * pc, (size_t)cols * sizeof *W);
    /* v3: W ← diag(a) W diag(b), a and b decoded into X's first rows + cols floats */
    if (!rc && rz_qlayer_line_scales(v, X, X + rows))
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) W[(size_t)r * cols + c] *= X[r] * X[rows + c];
    free(X);
    free(L);
    free(R);
    return rc;
}

int rz_qlayer_dequant_parts(const rz_qlayer_view *v, float *Q, float *L, float *R, rz_err *e)
{
    int rows = v->rows, pc = v->pcols, cols = v->cols, k = v->rank, rc = RZ_OK;
    float *X = malloc((size_t)rows * (size_t)pc * sizeof *X);
    float *Lr = k > 0 ? malloc((size_t)rows * (size_t)k * sizeof *Lr) : NULL;
    float *Rr = k > 0 ? malloc((size_t)k * (size_t)pc * sizeof *Rr) : NULL;
    rz_rht U = {0}, V = {0};
    if (!X || (k > 0 && (!Lr || !Rr))) {
        rc = rz_fail(e, RZ_EINTERNAL, "%s: out of memory", v->name);
        goto done;
    }
    if (v->incoherent && ((rc = init_u(&U, v->incoherent, rows, v->seed_u, e)) || (rc = rz_rht_init(&V, pc, v->seed_v, e))))
        goto done;
    if (Q) {
        rz_qlayer_decode_rows(v, 0, rows, X);
        if (v->incoherent && ((rc = rz_rht_cols(&U, X, pc, pc, 1, e)) || (rc = rz_rht_rows(&V, X, rows, pc, 1, e))))
            goto done;
        for (int r = 0; r < rows; r++) memcpy(Q + (size_t)r * cols, X + (size_t)r * pc, (size_t)cols * sizeof *Q);
    }
    if (k > 0 && (L || R)) {
        rz_qlayer_lowrank_rot(v, Lr, Rr);
        /* L_orig = Uᵀ L, R_orig = R V (then cropped to cols) */
        if (v->incoherent && ((rc = rz_rht_cols(&U, Lr, k, k, 1, e)) || (rc = rz_rht_rows(&V, Rr, k, pc, 1, e))))
            goto done;
        if (L) memcpy(L, Lr, (size_t)rows * (size_t)k * sizeof *L);
        if (R)
            for (int a = 0; a < k; a++) memcpy(R + (size_t)a * cols, Rr + (size_t)a * pc, (size_t)cols * sizeof *R);
    }
done:
    rz_rht_free(&U);
    rz_rht_free(&V);
    free(X);
    free(Lr);
    free(Rr);
    return rc;
}

/* n codes of `bits` bits into a little-endian bit stream (out zeroed, ceil(n·bits/8)). */
static void pack_codes(const uint8_t *c8, size_t n, int bits, uint8_t *out)
{
    size_t bit = 0;
    for (size_t k = 0; k < n; k++, bit += (size_t)bits)
        for (int b = 0; b < bits; b++)
            if (c8[k] >> b & 1) out[(bit + (size_t)b) / 8] |= (uint8_t)(1u << ((bit + (size_t)b) % 8));
}

int rz_qlayer_from_caldera(const char *name, const rz_caldera *c, int rows, int cols, const float *W,
                           const double *H, uint64_t model_hash, rz_qlayer *q, rz_err *e)
{
    memset(q, 0, sizeof *q);
    const rz_caldera_opts *o = &c->opts;
    int m = c->m, pc = c->n, k = c->k, e8 = o->q_method == RZ_CQ_E8P;
    if (o->q_method != RZ_CQ_E8P && o->q_method != RZ_CQ_LDLQ)
        return rz_fail(e, RZ_EINPUT, "%s: a qlayer record needs an E8P or LDLQ Q", name);
    if (o->lr_e8p && k > 0 && o->lr_bits < 32)
        return rz_fail(e, RZ_EINPUT, "%s: no qlayer record format holds E8P L/R yet (fit with --fake)", name);
    if (m != rows || (e8 ? pc % 8 || pc < cols || pc >= cols + 8 : pc != cols))
        return rz_fail(e, RZ_EINPUT, "%s: fit of %d x %d does not match the layer's %d x %d", name, m, pc, rows, cols);
    rz_qlayer_view *v = &q->v;
    snprintf(v->name, sizeof v->name, "%s", name);
    v->rows = rows;
    v->cols = cols;
    v->pcols = pc;
    v->method = e8 ? RZ_QM_E8P : RZ_QM_LDLQ;
    v->bits = o->q_bits;
    v->group = e8 ? 0 : o->q_group;
    v->incoherent = o->incoherent;
    if (o->incoherent) {
        v->seed_u = o->seed;
        v->seed_v = o->seed + 1;
    }
    v->model_hash = model_hash;
    size_t mn = (size_t)m * (size_t)pc, ns = rz_qlayer_n_scales(v->method, m, pc, v->group);
    v->codes_n = rz_qlayer_codes_bytes(v->method, v->bits, m, pc);
    q->codes = calloc(v->codes_n ? v->codes_n : 1, 1);
    q->scales = calloc(ns, sizeof *q->scales);
    q->zeros = e8 ? NULL : calloc(ns, 1);
    float *Wh = malloc((size_t)rows * (size_t)cols * sizeof *Wh);
    int rc = RZ_OK;
    if (!v->codes_n || !q->codes || !q->scales || (!e8 && !q->zeros) || !Wh) {
        rc = rz_fail(e, RZ_EINTERNAL, "%s: out of memory or invalid Q", name);
        goto done;
    }
    if (e8) {
        for (size_t t = 0; t < mn / 8; t++) {
            uint32_t x = c->q_codes_e8p[t], code = v->bits == 3 ? (x >> 16) << 8 | (x & 255u) : x;
            for (int b = 0; b < v->bits; b++) q->codes[t * (size_t)v->bits + (size_t)b] = (uint8_t)(code >> (8 * b));
        }
        q->scales[0] = c->q_wscale;
    } else {
        pack_codes(c->q_codes, mn, v->bits, q->codes);
        memcpy(q->scales, c->q_scales, ns * sizeof *q->scales);
        for (size_t t = 0; t < ns; t++) q->zeros[t] = (uint8_t)c->q_zeros[t];
        v->n_zeros = ns;
    }
    v->n_scales = ns;
    v->codes = q->codes;
    v->scales = q->scales;
    v->zeros = q->zeros;
    if (k > 0) {
        int b = o->lr_bits;
        v->rank = k;
        v->lr_bits = b;
        v->lr_format = b == 32 ? RZ_LR_F32 : b == 16 ? (o->lr_bf16 ? RZ_LR_BF16 : RZ_LR_F16) : RZ_LR_GRID;
        v->lr_group = v->lr_format == RZ_LR_GRID ? o->lr_group : 0;
        v->L_n = rz_qlayer_lr_bytes(v->lr_format, b, k, m);
        v->R_n = rz_qlayer_lr_bytes(v->lr_format, b, k, pc);
        q->L = calloc(v->L_n ? v->L_n : 1, 1);
        q->R = calloc(v->R_n ? v->R_n : 1, 1);
        if (!v->L_n || !v->R_n || !q->L || !q->R) {
            rc = rz_fail(e, RZ_EINTERNAL, "%s: out of memory or invalid L/R bits %d", name, b);
            goto done;
        }
        size_t nl = (size_t)m * (size_t)k, nr = (size_t)k * (size_t)pc;
        if (v->lr_format == RZ_LR_F32) {
            memcpy(q->L, c->L, nl * sizeof(float));
            memcpy(q->R, c->R, nr * sizeof(float));
        } else if (v->lr_format != RZ_LR_GRID) {
            uint16_t *hl = q->L, *hr = q->R;
            int bf = v->lr_format == RZ_LR_BF16;
            for (size_t t = 0; t < nl; t++) hl[t] = bf ? rz_f32_to_bf16(c->L[t]) : rz_f32_to_f16(c->L[t]);
            for (size_t t = 0; t < nr; t++) hr[t] = bf ? rz_f32_to_bf16(c->R[t]) : rz_f32_to_f16(c->R[t]);
        } else {
            v->L_ns = rz_qlayer_lr_n_scales(RZ_LR_GRID, k, m, v->lr_group);
            v->R_ns = rz_qlayer_lr_n_scales(RZ_LR_GRID, k, pc, v->lr_group);
            q->L_scales = malloc(v->L_ns * sizeof(float));
            q->R_scales = malloc(v->R_ns * sizeof(float));
            q->L_zeros = malloc(v->L_ns);
            q->R_zeros = malloc(v->R_ns);
            if (!q->L_scales || !q->R_scales || !q->L_zeros || !q->R_zeros) {
                rc = rz_fail(e, RZ_EINTERNAL, "%s: out of memory", name);
                goto done;
            }
            pack_codes(c->L_codes, nl, b, q->L);
            pack_codes(c->R_codes, nr, b, q->R);
            memcpy(q->L_scales, c->L_scales, v->L_ns * sizeof(float));
            memcpy(q->R_scales, c->R_scales, v->R_ns * sizeof(float));
            for (size_t t = 0; t < v->L_ns; t++) q->L_zeros[t] = (uint8_t)c->L_zeros[t];
            for (size_t t = 0; t < v->R_ns; t++) q->R_zeros[t] = (uint8_t)c->R_zeros[t];
            v->L_scales = q->L_scales;
            v->R_scales = q->R_scales;
            v->L_zeros = q->L_zeros;
            v->R_zeros = q->R_zeros;
        }
        v->L = q->L;
        v->R = q->R;
    }
    /* the loss of what a reader decodes, against the original W and H */
    if (!(rc = rz_qlayer_dequant(v, Wh, e))) rc = rz_proxy_loss(W, Wh, rows, cols, H, &v->loss, &v->rel_loss, e);
done:
    free(Wh);
    if (rc) rz_qlayer_free(q);
    return rc;
}

/* Grid codes of nvec vectors of len entries X[vec·sv + entry·se] (per-vector groups of
 * `group` entries, 0 = whole vector) into a bit stream (zeroed), scales and zero points. */
static void lr_encode_grid(const float *X, int nvec, int len, long sv, long se, int bits, int group,
                           uint8_t *out, float *scales, uint8_t *zeros)
{
    int G = rz_grid_groups(len, group), gw = group > 0 ? group : len;
    size_t bit = 0;
    for (int a = 0; a < nvec; a++)
        for (int g = 0; g < G; g++) {
            int c0 = g * gw, c1 = c0 + gw < len ? c0 + gw : len;
            float sc, z;
            rz_grid_fit(X + a * sv + c0 * se, c1 - c0, se, bits, &sc, &z);
            scales[(size_t)a * G + (size_t)g] = sc;
            zeros[(size_t)a * G + (size_t)g] = (uint8_t)z;
            for (int c = c0; c < c1; c++, bit += (size_t)bits) {
                int q = rz_grid_code(X[a * sv + c * se], sc, z, bits);
                for (int b = 0; b < bits; b++)
                    if (q >> b & 1) out[(bit + (size_t)b) / 8] |= (uint8_t)(1u << ((bit + (size_t)b) % 8));
            }
        }
}

int rz_qlayer_replace_lowrank(const rz_qlayer_view *in, const float *L, const float *R, rz_qlayer *q,
                              rz_err *e)
{
    memset(q, 0, sizeof *q);
    int m = in->rows, cols = in->cols, pc = in->pcols, k = in->rank, rc = RZ_OK;
    if (k < 1) return rz_fail(e, RZ_EINPUT, "%s: the record has no low-rank part to replace", in->name);
    q->v = *in;
    rz_qlayer_view *v = &q->v;
    size_t nl = (size_t)m * (size_t)k, nr = (size_t)k * (size_t)pc;
    float *Lr = malloc(nl * sizeof *Lr), *Rr = malloc(nr * sizeof *Rr), *Lold = malloc(nl * sizeof *Lold);
    rz_rht U = {0}, V = {0};
    q->codes = malloc(in->codes_n ? in->codes_n : 1);
    q->scales = malloc(in->n_scales ? in->n_scales * sizeof(float) : 1);
    q->zeros = malloc(in->n_zeros ? in->n_zeros : 1);
    q->L = calloc(in->L_n ? in->L_n : 1, 1);
    q->R = calloc(in->R_n ? in->R_n : 1, 1);
    if (!Lr || !Rr || !Lold || !q->codes || !q->scales || !q->zeros || !q->L || !q->R) {
        rc = rz_fail(e, RZ_EINTERNAL, "%s: out of memory", in->name);
        goto done;
    }
    if (in->out_scale) { /* v3: the line scales, copied */
        q->out_scale = malloc((size_t)m * 2);
        q->in_scale = malloc((size_t)cols * 2);
        if (!q->out_scale || !q->in_scale) {
            rc = rz_fail(e, RZ_EINTERNAL, "%s: out of memory", in->name);
            goto done;
        }
        memcpy(q->out_scale, in->out_scale, (size_t)m * 2);
        memcpy(q->in_scale, in->in_scale, (size_t)cols * 2);
        v->out_scale = q->out_scale, v->in_scale = q->in_scale;
    }
    memcpy(q->codes, in->codes, in->codes_n);
    if (in->n_scales) memcpy(q->scales, in->scales, in->n_scales * sizeof(float));
    if (in->n_zeros) memcpy(q->zeros, in->zeros, in->n_zeros);
    v->codes = q->codes;
    v->scales = q->scales;
    v->zeros = in->n_zeros ? q->zeros : NULL;
    /* the stored basis: the old pair gives R's padded columns */
    rz_qlayer_lowrank_rot(in, Lold, Rr);
    if (in->incoherent && ((rc = init_u(&U, in->incoherent, m, in->seed_u, e)) || (rc = rz_rht_init(&V, pc, in->seed_v, e))))
        goto done;
    if (in->incoherent && (rc = rz_rht_rows(&V, Rr, k, pc, 1, e))) goto done; /* R_orig = R V */
    for (int a = 0; a < k; a++) memcpy(Rr + (size_t)a * pc, R + (size_t)a * cols, (size_t)cols * sizeof *Rr);
    memcpy(Lr, L, nl * sizeof *Lr);
    if (in->incoherent && ((rc = rz_rht_cols(&U, Lr, k, k, 0, e)) || (rc = rz_rht_rows(&V, Rr, k, pc, 0, e))))
        goto done;
    if (in->lr_format == RZ_LR_F32) {
        memcpy(q->L, Lr, nl * sizeof(float));
        memcpy(q->R, Rr, nr * sizeof(float));
    } else if (in->lr_format == RZ_LR_F16 || in->lr_format == RZ_LR_BF16) {
        uint16_t *hl = q->L, *hr = q->R;
        int bf = in->lr_format == RZ_LR_BF16;
        for (size_t t = 0; t < nl + nr; t++) {
            float x = t < nl ? Lr[t] : Rr[t - nl];
            if (!bf && !(fabsf(x) <= 65504.0f)) {
                rc = rz_fail(e, RZ_EINPUT, "%s: low-rank entry %g is outside the fp16 range", in->name, x);
                goto done;
            }
            uint16_t h = bf ? rz_f32_to_bf16(x) : rz_f32_to_f16(x);
            if (t < nl) hl[t] = h;
            else hr[t - nl] = h;
        }
    } else {
        q->L_scales = malloc(in->L_ns * sizeof(float) + 1);
        q->R_scales = malloc(in->R_ns * sizeof(float) + 1);
        q->L_zeros = malloc(in->L_ns + 1);
        q->R_zeros = malloc(in->R_ns + 1);
        if (!q->L_scales || !q->R_scales || !q->L_zeros || !q->R_zeros) {
            rc = rz_fail(e, RZ_EINTERNAL, "%s: out of memory", in->name);
            goto done;
        }
        /* L's vectors are its columns, R's its rows */
        lr_encode_grid(Lr, k, m, 1, k, in->lr_bits, in->lr_group, q->L, q->L_scales, q->L_zeros);
        lr_encode_grid(Rr, k, pc, pc, 1, in->lr_bits, in->lr_group, q->R, q->R_scales, q->R_zeros);
        v->L_scales = q->L_scales;
        v->R_scales = q->R_scales;
        v->L_zeros = q->L_zeros;
        v->R_zeros = q->R_zeros;
    }
    v->L = q->L;
    v->R = q->R;
done:
    rz_rht_free(&U);
    rz_rht_free(&V);
    free(Lr);
    free(Rr);
    free(Lold);
    if (rc) rz_qlayer_free(q);
    return rc;
}
