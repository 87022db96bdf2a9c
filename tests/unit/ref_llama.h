/* ref_llama.h — a float64 reference of the Llama forward for the unit tests (static
 * functions; include it from a test_*.c). Written from the model's definition, not from
 * tools/core/lm: its own parser of llama2.c's .bin file, double precision, one token at
 * a time with a KV cache, naive loops, RoPE angles in double. Used by test_llama (logits)
 * and test_calib (the inputs of every linear-layer group).
 */
#ifndef RZ_TEST_REF_LLAMA_H
#define RZ_TEST_REF_LLAMA_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- float64 reference */

/* The model as llama2.c's file lays it out, every weight converted to double. */
typedef struct {
    int dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len, head_size, kv_dim;
    double *emb;      /* [vocab][dim] */
    double *rms_att;  /* [layers][dim] */
    double *wq;       /* [layers][dim][dim] */
    double *wk, *wv;  /* [layers][kv_dim][dim] */
    double *wo;       /* [layers][dim][dim] */
    double *rms_ffn;  /* [layers][dim] */
    double *w1, *w3;  /* [layers][hidden][dim] */
    double *w2;       /* [layers][dim][hidden] */
    double *rms_out;  /* [dim] */
    double *cls;      /* [vocab][dim]: emb or its own array */
    double *kcache, *vcache; /* [layers][seq_len][kv_dim] */
    /* Optional: called with the input of each linear-layer group of each layer, in the
     * order 0 attention input (of wq, wk, wv), 1 attention output (of wo), 2 MLP input
     * (of w1, w3), 3 MLP down input (of w2) — llama.h's RZ_TAP_* order. NULL: none. */
    void (*tap)(void *ctx, int layer, int group, const double *x, int n);
    void *tap_ctx;
} ref_model;

static double *ref_read(FILE *f, size_t n)
{
    double *d = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        float v;
        if (fread(&v, 4, 1, f) != 1) v = NAN;
        d[i] = v;
    }
    return d;
}

static int ref_load(const char *path, ref_model *r)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int32_t h[7];
    if (fread(h, 4, 7, f) != 7) return -1;
    r->dim = h[0], r->hidden = h[1], r->n_layers = h[2], r->n_heads = h[3], r->n_kv_heads = h[4];
    r->vocab = abs(h[5]), r->seq_len = h[6];
    r->head_size = r->dim / r->n_heads;
    r->kv_dim = r->head_size * r->n_kv_heads;
    size_t D = (size_t)r->dim, L = (size_t)r->n_layers, KV = (size_t)r->kv_dim, H = (size_t)r->hidden;
    r->emb = ref_read(f, (size_t)r->vocab * D);
    r->rms_att = ref_read(f, L * D);
    r->wq = ref_read(f, L * D * D);
    r->wk = ref_read(f, L * KV * D);
    r->wv = ref_read(f, L * KV * D);
    r->wo = ref_read(f, L * D * D);
    r->rms_ffn = ref_read(f, L * D);
    r->w1 = ref_read(f, L * H * D);
    r->w2 = ref_read(f, L * D * H);
    r->w3 = ref_read(f, L * H * D);
    r->rms_out = ref_read(f, D);
    fseek(f, (long)r->seq_len * r->head_size * 4, SEEK_CUR); /* freq_cis real, imag */
    r->cls = h[5] > 0 ? r->emb : ref_read(f, (size_t)r->vocab * D);
    fclose(f);
    r->tap = NULL, r->tap_ctx = NULL;
    r->kcache = calloc(L * (size_t)r->seq_len * KV, sizeof(double));
    r->vcache = calloc(L * (size_t)r->seq_len * KV, sizeof(double));
    return 0;
}

static void ref_free(ref_model *r)
{
    if (r->cls != r->emb) free(r->cls);
    free(r->emb), free(r->rms_att), free(r->wq), free(r->wk), free(r->wv), free(r->wo), free(r->rms_ffn);
    free(r->w1), free(r->w2), free(r->w3), free(r->rms_out), free(r->kcache), free(r->vcache);
}

/* y[n] = W[n][m] x[m] */
static void ref_matvec(double *y, const double *W, const double *x, int n, int m)
{
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < m; j++) s += W[(size_t)i * m + j] * x[j];
        y[i] = s;
    }
}

static void ref_rmsnorm(double *y, const double *x, const double *w, int n)
{
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
}

/* Rotate each head's pairs as complex numbers: (a + ib) * e^{i pos theta_j},
 * theta_j = 10000^(-2j / head_size). */
static void ref_rope(double *v, int n, int hs, int pos)
{
    for (int i = 0; i < n; i += 2) {
        int j = (i % hs) / 2;
        double ang = pos * pow(10000.0, -2.0 * j / hs);
        double a = v[i], b = v[i + 1], c = cos(ang), s = sin(ang);
        v[i] = a * c - b * s;
        v[i + 1] = a * s + b * c;
    }
}

/* One token at position pos; logits[vocab]. Positions before pos must have been run. */
static void ref_forward(ref_model *r, int token, int pos, double *logits)
{
    int D = r->dim, KV = r->kv_dim, HS = r->head_size, HID = r->hidden;
    double *x = malloc(sizeof(double) * D), *xn = malloc(sizeof(double) * D), *q = malloc(sizeof(double) * D);
    double *att = malloc(sizeof(double) * D), *tmp = malloc(sizeof(double) * D);
    double *a = malloc(sizeof(double) * HID), *b = malloc(sizeof(double) * HID);
    double *score = malloc(sizeof(double) * (pos + 1));
    memcpy(x, r->emb + (size_t)token * D, sizeof(double) * D);
    for (int l = 0; l < r->n_layers; l++) {
        double *kc = r->kcache + (size_t)l * r->seq_len * KV, *vc = r->vcache + (size_t)l * r->seq_len * KV;
        double *k = kc + (size_t)pos * KV, *v = vc + (size_t)pos * KV;
        ref_rmsnorm(xn, x, r->rms_att + (size_t)l * D, D);
        if (r->tap) r->tap(r->tap_ctx, l, 0, xn, D);
        ref_matvec(q, r->wq + (size_t)l * D * D, xn, D, D);
        ref_matvec(k, r->wk + (size_t)l * KV * D, xn, KV, D);
        ref_matvec(v, r->wv + (size_t)l * KV * D, xn, KV, D);
        ref_rope(q, D, HS, pos);
        ref_rope(k, KV, HS, pos);
        for (int h = 0; h < r->n_heads; h++) {
            int g = h / (r->n_heads / r->n_kv_heads);
            double mx = -INFINITY, sum = 0;
            for (int t = 0; t <= pos; t++) {
                double s = 0;
                for (int i = 0; i < HS; i++) s += q[h * HS + i] * kc[(size_t)t * KV + g * HS + i];
                score[t] = s / sqrt((double)HS);
                if (score[t] > mx) mx = score[t];
            }
            for (int t = 0; t <= pos; t++) sum += (score[t] = exp(score[t] - mx));
            for (int i = 0; i < HS; i++) {
                double o = 0;
                for (int t = 0; t <= pos; t++) o += score[t] / sum * vc[(size_t)t * KV + g * HS + i];
                att[h * HS + i] = o;
            }
        }
        if (r->tap) r->tap(r->tap_ctx, l, 1, att, D);
        ref_matvec(tmp, r->wo + (size_t)l * D * D, att, D, D);
        for (int i = 0; i < D; i++) x[i] += tmp[i];
        ref_rmsnorm(xn, x, r->rms_ffn + (size_t)l * D, D);
        if (r->tap) r->tap(r->tap_ctx, l, 2, xn, D);
        ref_matvec(a, r->w1 + (size_t)l * HID * D, xn, HID, D);
        ref_matvec(b, r->w3 + (size_t)l * HID * D, xn, HID, D);
        for (int i = 0; i < HID; i++) a[i] = a[i] / (1.0 + exp(-a[i])) * b[i];
        if (r->tap) r->tap(r->tap_ctx, l, 3, a, HID);
        ref_matvec(tmp, r->w2 + (size_t)l * D * HID, a, D, HID);
        for (int i = 0; i < D; i++) x[i] += tmp[i];
    }
    ref_rmsnorm(xn, x, r->rms_out, D);
    ref_matvec(logits, r->cls, xn, r->vocab, D);
    free(x), free(xn), free(q), free(att), free(tmp), free(a), free(b), free(score);
}

#endif
