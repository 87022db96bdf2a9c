/* lora.c — forward with saved activations, full backward, and the data-parallel step
 * gradient for training low-rank adapters (see lora.h for the math and the design).
 *
 * Shapes in comments: N = B·T rows (batch × time flattened), dim, kv = n_kv_heads·hs,
 * hid = hidden_dim, V = vocab, k = an adapter's rank. All activation memory is
 * allocated by rz_train_new for max_B sequences and reused by every step.
 */
#include "lora.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "linalg.h"
#include "rng.h"
#include "record.h"
#include "vexp.h"

/* ---------------------------------------------------------------- adapters */

rz_adapter *rz_lora_at(const rz_lora *a, int layer, int kind) { return &a->ad[layer * RZ_LIN_PER_LAYER + kind]; }

/* The frozen matrix of a kind in layer l, and its [m][n] shape. */
static float *base_matrix(rz_llama *m, int l, int kind, int *rows, int *cols)
{
    const rz_llama_config *c = &m->config;
    int dim = c->dim, kv = dim / c->n_heads * c->n_kv_heads, hid = c->hidden_dim;
    rz_llama_layer *L = &m->layers[l];
    switch (kind) {
    case RZ_LIN_WQ: *rows = dim, *cols = dim; return L->wq;
    case RZ_LIN_WK: *rows = kv, *cols = dim; return L->wk;
    case RZ_LIN_WV: *rows = kv, *cols = dim; return L->wv;
    case RZ_LIN_WO: *rows = dim, *cols = dim; return L->wo;
    case RZ_LIN_W1: *rows = hid, *cols = dim; return L->w1;
    case RZ_LIN_W2: *rows = dim, *cols = hid; return L->w2;
    default: *rows = hid, *cols = dim; return L->w3;
    }
}

void rz_lora_free(rz_lora *a)
{
    if (!a) return;
    free(a->ad);
    free(a->params);
    free(a->grads);
    free(a->fixed);
    free(a);
}

int rz_lora_new(rz_llama *base, const int rank[RZ_LIN_PER_LAYER], rz_lora **out, rz_err *e)
{
    int nl = base->config.n_layers;
    int *per = rz_malloc(sizeof(int) * (size_t)nl * RZ_LIN_PER_LAYER + 1, e);
    if (!per) return RZ_EINTERNAL;
    for (int l = 0; l < nl; l++) memcpy(per + (size_t)l * RZ_LIN_PER_LAYER, rank, sizeof(int) * RZ_LIN_PER_LAYER);
    int rc = rz_lora_new_ranks(base, per, out, e);
    free(per);
    return rc;
}

/* rz_lora_new_ranks and rz_lora_new_scaled: scaled adds a, b per matrix after every
 * L, R; train_lr 0 keeps L, R out of params (in a->fixed, no gradients). */
static int lora_alloc(rz_llama *base, const int *ranks, int scaled, int train_lr, rz_lora **out, rz_err *e)
{
    *out = NULL;
    rz_lora *a = rz_calloc(1, sizeof *a, e);
    if (!a) return RZ_EINTERNAL;
    a->base = base;
    a->n_layers = base->config.n_layers;
    a->scaled = scaled;
    for (int kind = 0; kind < RZ_LIN_PER_LAYER; kind++) {
        a->rank[kind] = 0;
        for (int l = 0; l < a->n_layers; l++)
            if (ranks[l * RZ_LIN_PER_LAYER + kind] > a->rank[kind]) a->rank[kind] = ranks[l * RZ_LIN_PER_LAYER + kind];
    }
    a->ad = rz_calloc((size_t)a->n_layers * RZ_LIN_PER_LAYER, sizeof *a->ad, e);
    if (!a->ad) return rz_lora_free(a), RZ_EINTERNAL;
    size_t n_lr = 0, n_sc = 0;
    for (int l = 0; l < a->n_layers; l++)
        for (int kind = 0; kind < RZ_LIN_PER_LAYER; kind++) {
            rz_adapter *ad = rz_lora_at(a, l, kind);
            ad->Q = base_matrix(base, l, kind, &ad->m, &ad->n);
            ad->k = ranks[l * RZ_LIN_PER_LAYER + kind];
            int mn = ad->m < ad->n ? ad->m : ad->n;
            if (ad->k < 0 || ad->k > mn) {
                rz_fail(e, RZ_EINPUT, "rank %d for layers.%d.%s is outside [0, %d]", ad->k, l,
                        rz_lin_name(kind), mn);
                return rz_lora_free(a), RZ_EINPUT;
            }
            n_lr += (size_t)ad->k * ((size_t)ad->m + (size_t)ad->n);
            if (scaled) n_sc += (size_t)ad->m + (size_t)ad->n;
        }
    size_t total = (train_lr ? n_lr : 0) + n_sc;
    a->n_params = total;
    a->params = rz_calloc(total + 1, sizeof(float), e);
    a->grads = rz_calloc(total + 1, sizeof(float), e);
    if (!train_lr && !(a->fixed = rz_calloc(n_lr + 1, sizeof(float), e))) return rz_lora_free(a), RZ_EINTERNAL;
    if (!a->params || !a->grads) return rz_lora_free(a), RZ_EINTERNAL;
    size_t off = 0;
    for (int i = 0; i < a->n_layers * RZ_LIN_PER_LAYER; i++) {
        rz_adapter *ad = &a->ad[i];
        size_t nl = (size_t)ad->m * ad->k, nr = (size_t)ad->k * ad->n;
        if (train_lr) {
            ad->L = a->params + off, ad->dL = a->grads + off;
            ad->R = a->params + off + nl, ad->dR = a->grads + off + nl;
        } else { /* frozen: dL = dR = NULL */
            ad->L = a->fixed + off, ad->R = a->fixed + off + nl;
        }
        off += nl + nr;
    }
    off = train_lr ? n_lr : 0;
    for (int i = 0; scaled && i < a->n_layers * RZ_LIN_PER_LAYER; i++) {
        rz_adapter *ad = &a->ad[i];
        ad->sa = a->params + off, ad->dsa = a->grads + off;
        off += (size_t)ad->m;
        ad->sb = a->params + off, ad->dsb = a->grads + off;
        off += (size_t)ad->n;
        for (int j = 0; j < ad->m; j++) ad->sa[j] = 1.0f;
        for (int j = 0; j < ad->n; j++) ad->sb[j] = 1.0f;
    }
    *out = a;
    return 0;
}

int rz_lora_new_ranks(rz_llama *base, const int *ranks, rz_lora **out, rz_err *e)
{
    return lora_alloc(base, ranks, 0, 1, out, e);
}

int rz_lora_new_scaled(rz_llama *base, const int *ranks, int train_lr, rz_lora **out, rz_err *e)
{
    return lora_alloc(base, ranks, 1, train_lr, out, e);
}

int rz_lora_full_grads(rz_lora *a, rz_llama *g, rz_err *e)
{
    const rz_llama_config *c = &a->base->config, *d = &g->config;
    if (c->dim != d->dim || c->hidden_dim != d->hidden_dim || c->n_layers != d->n_layers ||
        c->n_heads != d->n_heads || c->n_kv_heads != d->n_kv_heads || c->vocab_size != d->vocab_size ||
        c->shared_classifier != d->shared_classifier)
        return rz_fail(e, RZ_EINPUT, "gradient model: its config differs from the trained model's");
    for (int l = 0; l < a->n_layers; l++)
        for (int kind = 0; kind < RZ_LIN_PER_LAYER; kind++) {
            int r, cl;
            rz_lora_at(a, l, kind)->dQ = base_matrix(g, l, kind, &r, &cl);
        }
    a->gbase = g;
    return 0;
}

void rz_lora_init_lora(rz_lora *a, uint64_t seed)
{
    for (int i = 0; i < a->n_layers * RZ_LIN_PER_LAYER; i++) {
        rz_adapter *ad = &a->ad[i];
        memset(ad->L, 0, sizeof(float) * (size_t)ad->m * ad->k);
        double bound = 1.0 / sqrt((double)ad->n);
        uint64_t key = rz_mix64(seed ^ rz_mix64((uint64_t)i + 0x5151));
        for (size_t j = 0; j < (size_t)ad->k * ad->n; j++) {
            double u = (double)(rz_mix64(key ^ rz_mix64(j)) >> 11) * 0x1p-53; /* [0, 1) */
            ad->R[j] = (float)((2 * u - 1) * bound);
        }
    }
}

void rz_lora_merge(const rz_lora *a, rz_llama *out)
{
    for (int l = 0; l < a->n_layers; l++)
        for (int kind = 0; kind < RZ_LIN_PER_LAYER; kind++) {
            const rz_adapter *ad = rz_lora_at(a, l, kind);
            int m, n;
            float *W = base_matrix(out, l, kind, &m, &n);
            if (W != ad->Q) memcpy(W, ad->Q, sizeof(float) * (size_t)m * n);
            /* W[m][n] += L[m][k] R[k][n] */
            if (ad->k > 0) rz_tr_matmul_nn(m, n, ad->k, ad->L, ad->k, ad->R, n, W, n, 1);
            if (ad->sa) /* W ← diag(a) W diag(b) */
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) W[(size_t)i * n + j] *= ad->sa[i] * ad->sb[j];
        }
}

/* ---------------------------------------------------------------- products */

void rz_tr_matmul_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                     int accumulate)
{
    rz_matmul(0, 0, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void rz_tr_matmul_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                     int accumulate)
{
    rz_matmul(1, 0, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

/* ---------------------------------------------------------------- ops */

/* Row-wise ops start OpenMP threads only for enough work (elements): small models do
 * not pay for fork/join (and on a loaded machine, for waiting on a descheduled thread).
 * Every row is computed the same way either way, so results do not change. */
#define PAR_MIN 65536

void rz_tr_rmsnorm_fwd(float *out, float *inv, const float *x, const float *w, int N, int n, float eps)
{
#pragma omp parallel for schedule(static) if ((long)N * n >= PAR_MIN)
    for (int t = 0; t < N; t++) {
        const float *xt = x + (size_t)t * n;
        float *ot = out + (size_t)t * n;
        float ss = 0.0f;
        for (int i = 0; i < n; i++) ss += xt[i] * xt[i];
        float r = 1.0f / sqrtf(ss / (float)n + eps);
        inv[t] = r;
        for (int i = 0; i < n; i++) ot[i] = w[i] * (xt[i] * r);
    }
}

/* y_i = w_i x_i r, r = (Σx²/n + eps)^(-1/2), ∂r/∂x_j = −r³ x_j / n:
 * dx_j = r w_j dy_j − (r³/n) x_j Σ_i w_i dy_i x_i. */
void rz_tr_rmsnorm_bwd(float *dx, const float *dout, const float *x, const float *w, const float *inv, int N, int n)
{
#pragma omp parallel for schedule(static) if ((long)N * n >= PAR_MIN)
    for (int t = 0; t < N; t++) {
        const float *xt = x + (size_t)t * n, *dy = dout + (size_t)t * n;
        float *d = dx + (size_t)t * n;
        float r = inv[t], dot = 0.0f;
        for (int i = 0; i < n; i++) dot += w[i] * dy[i] * xt[i];
        float c = r * r * r * dot / (float)n;
        for (int i = 0; i < n; i++) d[i] += r * w[i] * dy[i] - c * xt[i];
    }
}

/* dw_i += Σ_t a[t][i] b[t][i] r[t] (r NULL: r[t] = 1, the same bits as leaving it out:
 * × 1.0f is exact), each weight's sum over rows in row order (the same bits for any
 * thread count). Threads take blocks of 64 weights; within a block the rows are the
 * outer loop, so the inner loop runs along a row (contiguous, vectorised) instead of
 * striding down a column. The RMSNorm weight gradient and the scaled linears' da, db. */
#define COLSUM_BLOCK 64
static void colsum_prod(float *dw, const float *a, const float *b, const float *r, int N, int n)
{
    int nb = (n + COLSUM_BLOCK - 1) / COLSUM_BLOCK;
#pragma omp parallel for schedule(static) if ((long)N * n >= PAR_MIN && nb > 1)
    for (int bk = 0; bk < nb; bk++) {
        int i0 = bk * COLSUM_BLOCK, w = n - i0 < COLSUM_BLOCK ? n - i0 : COLSUM_BLOCK;
        float s[COLSUM_BLOCK] = {0};
        for (int t = 0; t < N; t++) {
            const float *ar = a + (size_t)t * n + i0, *br = b + (size_t)t * n + i0;
            float rt = r ? r[t] : 1.0f;
            for (int i = 0; i < w; i++) s[i] += ar[i] * br[i] * rt;
        }
        for (int i = 0; i < w; i++) dw[i0 + i] += s[i];
    }
}

void rz_tr_rmsnorm_bwd_w(float *dw, const float *dout, const float *x, const float *inv, int N, int n)
{
    colsum_prod(dw, dout, x, inv, N, n);
}

void rz_tr_rope(float *v, int ld, int width, int B, int T, const rz_rope *r, int inverse)
{
    int hs = r->head_size, half = hs / 2;
    float sgn = inverse ? -1.0f : 1.0f; /* the transpose is the rotation by −angle */
#pragma omp parallel for schedule(static) if ((long)B * T * width >= PAR_MIN)
    for (int row = 0; row < B * T; row++) {
        int p = row % T;
        const float *cs = r->cos_t + (size_t)p * half, *sn = r->sin_t + (size_t)p * half;
        float *vr = v + (size_t)row * ld;
        for (int h0 = 0; h0 < width; h0 += hs)
            for (int j = 0; j < half; j++) {
                float a = vr[h0 + 2 * j], b = vr[h0 + 2 * j + 1], c = cs[j], s = sgn * sn[j];
                vr[h0 + 2 * j] = a * c - b * s;
                vr[h0 + 2 * j + 1] = a * s + b * c;
            }
    }
}

/* Query row i sees keys [0, last] with last = i (causal) or T − 1 (bidirectional); the
 * probabilities past last are 0, so the backward's row loops stop at the same last.
 * keys (non-NULL, [B][T]) narrows that to the keys j with keys[b][j] ≠ 0 or j = i: a
 * separate row loop, so the keys == NULL paths keep their bits. */
static void softmax_row_keys(float *restrict Si, int i, int last, const uint8_t *restrict kb)
{
    /* Vectorised as the unmasked rows, and the same bits as a scalar loop: the max is
     * exact in any order (a hidden key counts as −∞); every e^(s − max) is computed,
     * rz_expf giving each lane the scalar's bits, and a hidden key's is multiplied by 0
     * (e is finite, rz_expf clamps, so that is +0, what the scalar stored); the sum alone
     * stays serial, in key order, so it has the same bits as ever and for any thread
     * count (adding a hidden key's +0 changes nothing). */
    /* i < 0 (cross-attention, no self key): the row's keys are kb's alone; a row without
     * any key is all zeros */
    float mx = i >= 0 ? Si[i] : -INFINITY, sum = 0.0f; /* the query itself is a key */
#pragma omp simd reduction(max : mx)
    for (int j = 0; j <= last; j++) {
        float sj = kb[j] ? Si[j] : -INFINITY;
        mx = sj > mx ? sj : mx;
    }
    if (mx == -INFINITY) {
        for (int j = 0; j <= last; j++) Si[j] = 0.0f;
        return;
    }
#pragma omp simd
    for (int j = 0; j <= last; j++) Si[j] = rz_expf(Si[j] - mx) * (float)((kb[j] != 0) | (j == i));
    for (int j = 0; j <= last; j++) sum += Si[j];
    float is = 1.0f / sum;
    for (int j = 0; j <= last; j++) Si[j] *= is;
}

void rz_tr_attn_fwd_mask(float *out, float *att, const float *q, const float *k, const float *v, int B, int T,
                         int nh, int nkv, int hs, float scale, int causal, const uint8_t *keys)
{
    rz_tr_attn_fwd_keys(out, att, q, k, v, B, T, nh, nkv, hs, scale, causal, keys, 1);
}

void rz_tr_attn_fwd_keys(float *out, float *att, const float *q, const float *k, const float *v, int B, int T,
                         int nh, int nkv, int hs, float scale, int causal, const uint8_t *keys, int self)
{
    int ldq = nh * hs, ldk = nkv * hs, G = nh / nkv;
#pragma omp parallel for schedule(static) if ((double)B * nh * T * T * hs >= 2e6)
    for (int u = 0; u < B * nh; u++) {
        int b = u / nh, h = u % nh, g = h / G;
        const float *qh = q + (size_t)b * T * ldq + h * hs;
        const float *kg = k + (size_t)b * T * ldk + g * hs, *vg = v + (size_t)b * T * ldk + g * hs;
        const uint8_t *kb = keys ? keys + (size_t)b * T : NULL;
        float *P = att + (size_t)u * T * T;
        /* S[T][T] = scale q_h k_gᵀ */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, qh, ldq, kg, ldk, 0.0f, P, T);
        for (int i = 0; i < T; i++) { /* softmax over keys j ≤ last */
            int last = causal ? i : T - 1;
            float *restrict Si = P + (size_t)i * T, mx = Si[0], sum = 0.0f;
            if (kb) {
                softmax_row_keys(Si, self ? i : -1, last, kb);
                for (int j = last + 1; j < T; j++) Si[j] = 0.0f;
                continue;
            }
            /* vectorised: rz_expf, and the max and sum as simd reductions (a fixed
             * summation order set by the compiled code, not by the threads) */
#pragma omp simd reduction(max : mx)
            for (int j = 1; j <= last; j++) mx = Si[j] > mx ? Si[j] : mx;
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j <= last; j++) {
                float ej = rz_expf(Si[j] - mx);
                Si[j] = ej;
                sum += ej;
            }
            float is = 1.0f / sum;
            for (int j = 0; j <= last; j++) Si[j] *= is;
            for (int j = last + 1; j < T; j++) Si[j] = 0.0f;
        }
        /* out_h[T][hs] = P v_g (a key outside the mask has P exactly 0, so its value
         * adds exact zeros) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, P, T, vg, ldk, 0.0f,
                    out + (size_t)b * T * ldq + h * hs, ldq);
    }
}

/* Per query head: dP = dout vᵀ, dv += Pᵀ dout, dS = P ⊙ (dP − rowsum(P ⊙ dP)) · scale,
 * dq = dS k, dk += dSᵀ q. The heads sharing a kv head run in order in one iteration. */
void rz_tr_attn_bwd_mask(float *dq, float *dk, float *dv, float *scratch, int nthr, const float *dout,
                         const float *att, const float *q, const float *k, const float *v, int B, int T, int nh,
                         int nkv, int hs, float scale, int causal, const uint8_t *keys)
{
    rz_tr_attn_bwd_keys(dq, dk, dv, scratch, nthr, dout, att, q, k, v, B, T, nh, nkv, hs, scale, causal, keys, 1);
}

void rz_tr_attn_bwd_keys(float *dq, float *dk, float *dv, float *scratch, int nthr, const float *dout,
                         const float *att, const float *q, const float *k, const float *v, int B, int T, int nh,
                         int nkv, int hs, float scale, int causal, const uint8_t *keys, int self)
{
    int ldq = nh * hs, ldk = nkv * hs, G = nh / nkv;
#pragma omp parallel for schedule(static) num_threads(nthr) if ((double)B * nh * T * T * hs >= 2e6)
    for (int u = 0; u < B * nkv; u++) {
        int b = u / nkv, g = u % nkv;
        float *dP = scratch + (size_t)omp_get_thread_num() * T * T;
        const float *kg = k + (size_t)b * T * ldk + g * hs, *vg = v + (size_t)b * T * ldk + g * hs;
        const uint8_t *kb = keys ? keys + (size_t)b * T : NULL;
        float *dkg = dk + (size_t)b * T * ldk + g * hs, *dvg = dv + (size_t)b * T * ldk + g * hs;
        for (int hh = 0; hh < G; hh++) {
            int h = g * G + hh;
            const float *P = att + ((size_t)b * nh + h) * T * T;
            const float *qh = q + (size_t)b * T * ldq + h * hs, *doh = dout + (size_t)b * T * ldq + h * hs;
            float beta = hh ? 1.0f : 0.0f;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, doh, ldq, vg, ldk, 0.0f, dP, T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, P, T, doh, ldq, beta, dvg, ldk);
            for (int i = 0; i < T; i++) {
                int last = causal ? i : T - 1;
                const float *restrict Pi = P + (size_t)i * T;
                float *restrict Di = dP + (size_t)i * T, dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                for (int j = 0; j <= last; j++) dot += Pi[j] * Di[j];
                for (int j = 0; j <= last; j++) Di[j] = Pi[j] * (Di[j] - dot) * scale;
                for (int j = last + 1; j < T; j++) Di[j] = 0.0f;
                if (kb) /* keys outside the mask: P is 0 there, and so is dS, exactly */
                    for (int j = 0; j <= last; j++)
                        if (!kb[j] && (j != i || !self)) Di[j] = 0.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, dP, T, kg, ldk, 0.0f,
                        dq + (size_t)b * T * ldq + h * hs, ldq);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, dP, T, qh, ldq, beta, dkg, ldk);
        }
    }
}

/* Both directions use rz_expf (vexp.h), so the loops vectorise. */
void rz_tr_swiglu_fwd(float *restrict g, const float *restrict a, const float *restrict b, int N, int hid)
{
#pragma omp parallel for schedule(static) if ((long)N * hid >= PAR_MIN)
    for (int t = 0; t < N; t++) {
        float *restrict gt = g + (size_t)t * hid;
        const float *restrict at = a + (size_t)t * hid, *restrict bt = b + (size_t)t * hid;
        for (int i = 0; i < hid; i++) gt[i] = at[i] / (1.0f + rz_expf(-at[i])) * bt[i];
    }
}

/* g = a σ(a) b: ∂g/∂a = b σ(a) (1 + a (1 − σ(a))), ∂g/∂b = a σ(a). */
void rz_tr_swiglu_bwd(float *restrict da, float *restrict db, const float *restrict dg, const float *restrict a,
                      const float *restrict b, int N, int hid)
{
#pragma omp parallel for schedule(static) if ((long)N * hid >= PAR_MIN)
    for (int t = 0; t < N; t++)
        for (int i = 0; i < hid; i++) {
            size_t j = (size_t)t * hid + i;
            float s = 1.0f / (1.0f + rz_expf(-a[j]));
            da[j] = dg[j] * b[j] * s * (1.0f + a[j] * (1.0f - s));
            db[j] = dg[j] * a[j] * s;
        }
}

void rz_tr_linear_fwd(float *y, int accumulate, float *u, const float *x, const rz_adapter *ad, int N)
{
    int m = ad->m, n = ad->n, k = ad->k;
    rz_matmul_tall(0, 1, N, m, n, x, n, ad->Q, n, y, m, accumulate); /* y[N][m] (+)= x Qᵀ */
    if (k > 0) {
        rz_matmul_nt(N, k, n, x, n, ad->R, n, u, k, 0); /* u[N][k] = x Rᵀ */
        rz_matmul_nt(N, m, k, u, k, ad->L, k, y, m, 1); /* y += u Lᵀ */
    }
}

void rz_tr_linear_bwd(float *dx, int accumulate, float *du, const float *dy, const float *x, const float *u,
                      const rz_adapter *ad, int N)
{
    int m = ad->m, n = ad->n, k = ad->k;
    if (ad->dQ) rz_matmul_tall(1, 0, m, n, N, dy, m, x, n, ad->dQ, n, 1); /* dQ[m][n] += dyᵀ x */
    if (k > 0) {
        if (ad->dL) rz_tr_matmul_tn(m, k, N, dy, m, u, k, ad->dL, k, 1); /* dL[m][k] += dyᵀ u */
        rz_tr_matmul_nn(N, k, m, dy, m, ad->L, k, du, k, 0);             /* du[N][k] = dy L */
        if (ad->dR) rz_tr_matmul_tn(k, n, N, du, k, x, n, ad->dR, n, 1); /* dR[k][n] += duᵀ x */
    }
    if (dx) {
        rz_matmul_tall(0, 0, N, n, m, dy, m, ad->Q, n, dx, n, accumulate); /* dx[N][n] (+)= dy Q */
        if (k > 0) rz_tr_matmul_nn(N, n, k, du, k, ad->R, n, dx, n, 1); /* dx += du R */
    }
}

/* Row max and Σ exp(x − max) (terms in float, sum in double). */
static void row_stats(const float *row, int V, float *mx, double *sum)
{
    float m = row[0];
    for (int i = 1; i < V; i++) m = row[i] > m ? row[i] : m;
    double s = 0.0;
    for (int i = 0; i < V; i++) s += expf(row[i] - m);
    *mx = m;
    *sum = s;
}

double rz_tr_xent_fwd(double *nll, const float *logits, const int *targets, int N, int V)
{
#pragma omp parallel for schedule(static) if ((long)N * V >= PAR_MIN)
    for (int t = 0; t < N; t++) {
        const float *row = logits + (size_t)t * V;
        if (targets[t] == RZ_TR_IGNORE) {
            nll[t] = 0.0;
            continue;
        }
        float mx;
        double sum;
        row_stats(row, V, &mx, &sum);
        nll[t] = log(sum) - ((double)row[targets[t]] - mx);
    }
    double total = 0.0;
    for (int t = 0; t < N; t++) total += nll[t]; /* row order, whatever the threads */
    return total;
}

void rz_tr_xent_bwd(float *dlogits, const float *logits, const int *targets, int N, int V, float scale)
{
#pragma omp parallel for schedule(static) if ((long)N * V >= PAR_MIN)
    for (int t = 0; t < N; t++) {
        const float *row = logits + (size_t)t * V;
        float *d = dlogits + (size_t)t * V;
        if (targets[t] == RZ_TR_IGNORE) {
            memset(d, 0, sizeof(float) * (size_t)V);
            continue;
        }
        float mx;
        double sum;
        row_stats(row, V, &mx, &sum);
        float is = (float)(1.0 / sum);
        int y = targets[t];
        for (int i = 0; i < V; i++) d[i] = scale * (expf(row[i] - mx) * is - (i == y ? 1.0f : 0.0f));
    }
}

/* ---------------------------------------------------------------- training state */

struct rz_train {
    const rz_lora *a;
    int max_B, T, B, nthr, causal;
    int hidden;        /* input id whose positions are no key (but their own); −1: none */
    uint8_t *keys;     /* [N] the last forward's key mask (hidden ≥ 0) */
    int dim, hid, kv, nh, nkv, hs, V, nl, kmax;
    int dec_from;      /* first PAST decoder layer (rz_train_set_decoder); nl: none */
    int dec_tok;       /* the decoder's input: this token's embedding row at every position */
    float *mem;        /* [N][dim] the memory: rmsnorm(x[dec_from]) with unit weight */
    float *invm;       /* [N] its 1/rms */
    float *xdec0;      /* [N][dim] the decoder's input rows */
    float *dmem;       /* [N][dim] ∂/∂mem, summed over the decoder layers */
    float *ones;       /* [dim] the memory norm's weight (fixed 1) */
    rz_rope rope;
    size_t Nmax;
    /* saved activations, per layer l (strides for max_B sequences) */
    float *x;          /* [nl + 1][N][dim] block inputs; x[nl] enters the final norm */
    float *xmid;       /* [nl][N][dim] after the attention residual */
    float *xn1, *xn2;  /* [nl][N][dim] normalised inputs of the two blocks */
    float *inv1, *inv2; /* [nl][N] */
    float *q;          /* [nl][N][dim] rotated */
    float *k, *v;      /* [nl][N][kv] (k rotated) */
    float *att;        /* [nl][B][nh][T][T] */
    float *ao;         /* [nl][N][dim] attention output (input of wo) */
    float *h1, *h3, *g; /* [nl][N][hid] */
    float *u;          /* [nl][NMAT][N][kmax] adapter products x Rᵀ */
    float *sx, *sz;    /* scaled adapters only: [nl][NMAT][N][wmax] x ⊙ b and z = (x ⊙ b)(Q + LR)ᵀ */
    float *xf, *invf;  /* [N][dim], [N] */
    float *logits;     /* [N][V] (dlogits after backward) */
    int *targets;      /* [N] */
    int *tokens;       /* [N] inputs (the embedding gradient's rows) */
    double *nll;       /* [N] */
    /* backward scratch */
    float *dx, *dxn, *dq, *dk, *dv, *dao, *dh1, *dh3, *dg, *du, *dP;
    float *dz, *dxb;   /* scaled: [N][wmax] dy ⊙ a and ∂/∂(x ⊙ b) */
    int wmax;          /* max(dim, hid): the widest input or output of a linear */
    size_t bytes;
};

static float *fl(rz_train *t, size_t n, rz_err *e)
{
    t->bytes += n * sizeof(float);
    return rz_malloc(n * sizeof(float) + 64, e);
}

void rz_train_free(rz_train *t)
{
    if (!t) return;
    float *arrs[] = {t->x, t->xmid, t->xn1, t->xn2, t->inv1, t->inv2, t->q, t->k, t->v, t->att, t->ao,
                     t->h1, t->h3, t->g, t->u, t->xf, t->invf, t->logits, t->dx, t->dxn, t->dq, t->dk,
                     t->dv, t->dao, t->dh1, t->dh3, t->dg, t->du, t->dP, t->sx, t->sz, t->dz, t->dxb};
    for (size_t i = 0; i < sizeof arrs / sizeof *arrs; i++) free(arrs[i]);
    free(t->mem), free(t->invm), free(t->xdec0), free(t->dmem), free(t->ones);
    free(t->targets);
    free(t->keys);
    free(t->tokens);
    free(t->nll);
    rz_rope_free(&t->rope);
    free(t);
}

size_t rz_train_bytes(const rz_train *t) { return t->bytes; }

int rz_train_new(const rz_lora *a, int max_B, int T, rz_train **out, rz_err *e)
{
    *out = NULL;
    const rz_llama_config *c = &a->base->config;
    if (max_B < 1 || T < 1 || T > c->seq_len)
        return rz_fail(e, RZ_EINPUT, "training shape: %d sequences of %d positions (the model's context is %d)",
                       max_B, T, c->seq_len);
    rz_train *t = rz_calloc(1, sizeof *t, e);
    if (!t) return RZ_EINTERNAL;
    t->a = a;
    t->max_B = max_B, t->T = T, t->causal = 1, t->hidden = -1, t->dec_from = c->n_layers;
    t->dim = c->dim, t->hid = c->hidden_dim, t->nh = c->n_heads, t->nkv = c->n_kv_heads;
    t->hs = c->dim / c->n_heads, t->kv = t->hs * c->n_kv_heads, t->V = c->vocab_size, t->nl = c->n_layers;
    t->nthr = omp_get_max_threads();
    t->kmax = 1;
    for (int i = 0; i < RZ_LIN_PER_LAYER; i++) t->kmax = a->rank[i] > t->kmax ? a->rank[i] : t->kmax;
    rz_rope_method rm = rz_rope_default(c->rope_theta);
    if (rz_rope_init(&t->rope, &rm, t->hs, T, e)) return free(t), RZ_EINTERNAL;
    size_t N = (size_t)max_B * T, nl = (size_t)t->nl, dim = (size_t)t->dim, kv = (size_t)t->kv;
    size_t hid = (size_t)t->hid, TT = (size_t)T * T;
    t->Nmax = N;
    t->x = fl(t, (nl + 1) * N * dim, e);
    t->xmid = fl(t, nl * N * dim, e);
    t->xn1 = fl(t, nl * N * dim, e);
    t->xn2 = fl(t, nl * N * dim, e);
    t->inv1 = fl(t, nl * N, e);
    t->inv2 = fl(t, nl * N, e);
    t->q = fl(t, nl * N * dim, e);
    t->k = fl(t, nl * N * kv, e);
    t->v = fl(t, nl * N * kv, e);
    t->att = fl(t, nl * max_B * (size_t)t->nh * TT, e);
    t->ao = fl(t, nl * N * dim, e);
    t->h1 = fl(t, nl * N * hid, e);
    t->h3 = fl(t, nl * N * hid, e);
    t->g = fl(t, nl * N * hid, e);
    t->u = fl(t, nl * RZ_LIN_PER_LAYER * N * (size_t)t->kmax, e);
    t->xf = fl(t, N * dim, e);
    t->invf = fl(t, N, e);
    t->logits = fl(t, N * (size_t)t->V, e);
    t->dx = fl(t, N * dim, e);
    t->dxn = fl(t, N * dim, e);
    t->dq = fl(t, N * dim, e);
    t->dk = fl(t, N * kv, e);
    t->dv = fl(t, N * kv, e);
    t->dao = fl(t, N * dim, e);
    t->dh1 = fl(t, N * hid, e);
    t->dh3 = fl(t, N * hid, e);
    t->dg = fl(t, N * hid, e);
    t->du = fl(t, N * (size_t)t->kmax, e);
    t->dP = fl(t, (size_t)t->nthr * TT, e);
    t->wmax = t->hid > t->dim ? t->hid : t->dim;
    if (a->scaled) {
        size_t slots = nl * RZ_LIN_PER_LAYER * N * (size_t)t->wmax;
        t->sx = fl(t, slots, e);
        t->sz = fl(t, slots, e);
        t->dz = fl(t, N * (size_t)t->wmax, e);
        t->dxb = fl(t, N * (size_t)t->wmax, e);
        if (!t->sx || !t->sz || !t->dz || !t->dxb) {
            rz_train_free(t);
            return RZ_EINTERNAL;
        }
    }
    t->targets = rz_malloc(N * sizeof(int), e);
    t->tokens = rz_malloc(N * sizeof(int), e);
    t->keys = rz_malloc(N, e);
    t->nll = rz_malloc(N * sizeof(double), e);
    t->bytes += N * (2 * sizeof(int) + sizeof(double) + 1);
    if (!t->x || !t->xmid || !t->xn1 || !t->xn2 || !t->inv1 || !t->inv2 || !t->q || !t->k || !t->v || !t->att ||
        !t->ao || !t->h1 || !t->h3 || !t->g || !t->u || !t->xf || !t->invf || !t->logits || !t->dx || !t->dxn ||
        !t->dq || !t->dk || !t->dv || !t->dao || !t->dh1 || !t->dh3 || !t->dg || !t->du || !t->dP ||
        !t->targets || !t->tokens || !t->keys || !t->nll) {
        rz_train_free(t);
        return RZ_EINTERNAL;
    }
    *out = t;
    return 0;
}

const float *rz_train_logits(const rz_train *t) { return t->logits; }

void rz_train_set_causal(rz_train *t, int causal) { t->causal = causal != 0; }
void rz_train_set_hidden(rz_train *t, int id) { t->hidden = id < 0 ? -1 : id; }

int rz_train_set_decoder(rz_train *t, int enc_layers, int token, rz_err *e)
{
    if (enc_layers < 1 || enc_layers >= t->nl)
        return rz_fail(e, RZ_EINPUT, "PAST decoder: %d encoder layers of %d, expected 1 to %d", enc_layers, t->nl,
                       t->nl - 1);
    if (token < 0 || token >= t->V)
        return rz_fail(e, RZ_EINPUT, "PAST decoder: input token %d outside the vocabulary of %d", token, t->V);
    size_t N = t->Nmax, dim = (size_t)t->dim;
    if (!t->mem) {
        t->mem = fl(t, N * dim, e), t->invm = fl(t, N, e), t->xdec0 = fl(t, N * dim, e);
        t->dmem = fl(t, N * dim, e), t->ones = fl(t, dim, e);
        if (!t->mem || !t->invm || !t->xdec0 || !t->dmem || !t->ones) return RZ_EINTERNAL;
        for (size_t i = 0; i < dim; i++) t->ones[i] = 1.0f;
    }
    t->dec_from = enc_layers, t->dec_tok = token;
    return 0;
}

/* Layer-l slices of the saved arrays. */
#define AT(arr, l, width) ((arr) + (size_t)(l) * t->Nmax * (size_t)(width))
static float *u_at(const rz_train *t, int l, int kind)
{
    return t->u + ((size_t)l * RZ_LIN_PER_LAYER + (size_t)kind) * t->Nmax * (size_t)t->kmax;
}

static float *slot(const rz_train *t, float *base, int l, int kind)
{
    return base + ((size_t)l * RZ_LIN_PER_LAYER + (size_t)kind) * t->Nmax * (size_t)t->wmax;
}

/* Linear (l, kind) of the forward: y[N][m] (+)= x (Q + LR)ᵀ, or with scales
 * y (+)= a ⊙ z, z = xb (Q + LR)ᵀ, xb = x ⊙ b (xb and z saved for the backward). */
static void lin_fwd(rz_train *t, int l, int kind, float *y, int accumulate, const float *x, int N)
{
    const rz_adapter *ad = rz_lora_at(t->a, l, kind);
    float *u = u_at(t, l, kind);
    if (!ad->sa) {
        rz_tr_linear_fwd(y, accumulate, u, x, ad, N);
        return;
    }
    int m = ad->m, n = ad->n;
    float *xb = slot(t, t->sx, l, kind), *z = slot(t, t->sz, l, kind);
    for (size_t r = 0; r < (size_t)N; r++)
        for (int j = 0; j < n; j++) xb[r * n + j] = x[r * n + j] * ad->sb[j];
    rz_tr_linear_fwd(z, 0, u, xb, ad, N);
    for (size_t r = 0; r < (size_t)N; r++)
        for (int i = 0; i < m; i++) y[r * m + i] = (accumulate ? y[r * m + i] : 0.0f) + ad->sa[i] * z[r * m + i];
}

/* Its backward: dx[N][n] (+)= ∂/∂x (dx may be NULL), the adapter's gradients added.
 * Scaled: da_i += Σ_t dy_ti z_ti; dz = dy ⊙ a; dxb = dz (Q + LR) (L, R's gradients with
 * xb and dz); db_j += Σ_t x_tj dxb_tj; dx (+)= dxb ⊙ b. Sums over rows in row order. */
static void lin_bwd(rz_train *t, int l, int kind, float *dx, int accumulate, const float *dy, const float *x, int N)
{
    const rz_adapter *ad = rz_lora_at(t->a, l, kind);
    const float *u = u_at(t, l, kind);
    if (!ad->sa) {
        rz_tr_linear_bwd(dx, accumulate, t->du, dy, x, u, ad, N);
        return;
    }
    int m = ad->m, n = ad->n;
    const float *xb = slot(t, t->sx, l, kind), *z = slot(t, t->sz, l, kind);
    float *dz = t->dz, *dxb = t->dxb;
    colsum_prod(ad->dsa, dy, z, NULL, N, m);
    for (size_t r = 0; r < (size_t)N; r++)
        for (int i = 0; i < m; i++) dz[r * m + i] = dy[r * m + i] * ad->sa[i];
    rz_tr_linear_bwd(dxb, 0, t->du, dz, xb, u, ad, N);
    colsum_prod(ad->dsb, x, dxb, NULL, N, n);
    if (dx)
        for (size_t r = 0; r < (size_t)N; r++)
            for (int j = 0; j < n; j++)
                dx[r * n + j] = (accumulate ? dx[r * n + j] : 0.0f) + dxb[r * n + j] * ad->sb[j];
}

const float *rz_train_layer_input(const rz_train *t, int l, int kind, int *N, int *width)
{
    *N = t->B * t->T;
    switch (kind) {
    case RZ_LIN_WK: case RZ_LIN_WV:
        *width = t->dim;
        return l >= t->dec_from ? t->mem : AT(t->xn1, l, t->dim);
    case RZ_LIN_WQ: *width = t->dim; return AT(t->xn1, l, t->dim);
    case RZ_LIN_WO: *width = t->dim; return AT(t->ao, l, t->dim);
    case RZ_LIN_W2: *width = t->hid; return AT(t->g, l, t->hid);
    default: *width = t->dim; return AT(t->xn2, l, t->dim);
    }
}

int rz_train_forward(rz_train *t, const int *tokens, const int *targets, int B, double *nll_sum)
{
    const rz_llama *m = t->a->base;
    if (B < 1 || B > t->max_B) return RZ_EINPUT;
    int T = t->T, N = B * T, dim = t->dim, kv = t->kv, hid = t->hid, V = t->V;
    for (int i = 0; i < N; i++)
        if (tokens[i] < 0 || tokens[i] >= V ||
            (targets && targets[i] != RZ_TR_IGNORE && (targets[i] < 0 || targets[i] >= V)))
            return RZ_EINPUT;
    t->B = B;
    memcpy(t->tokens, tokens, sizeof(int) * (size_t)N);
    const uint8_t *keys = NULL;
    if (t->hidden >= 0) { /* the key mask of this forward (and of its backward) */
        for (int i = 0; i < N; i++) t->keys[i] = tokens[i] != t->hidden;
        keys = t->keys;
    }
    float eps = m->config.norm_eps, scale = t->rope.logit_scale;

    /* x0[N][dim] = embedding rows */
    for (int i = 0; i < N; i++)
        memcpy(t->x + (size_t)i * dim, m->tok_embeddings + (size_t)tokens[i] * dim, sizeof(float) * dim);

    for (int l = 0; l < t->nl; l++) {
        const rz_llama_layer *LW = &m->layers[l];
        int dec = l >= t->dec_from; /* a PAST decoder layer: cross-attention to the memory */
        if (l == t->dec_from) {
            /* the memory (the encoder's output, normalised) and the decoder's input rows */
            rz_tr_rmsnorm_fwd(t->mem, t->invm, AT(t->x, l, dim), t->ones, N, dim, eps);
            const float *d0 = m->tok_embeddings + (size_t)t->dec_tok * dim;
            for (int i = 0; i < N; i++) memcpy(t->xdec0 + (size_t)i * dim, d0, sizeof(float) * dim);
        }
        float *X = l == t->dec_from ? t->xdec0 : AT(t->x, l, dim), *XM = AT(t->xmid, l, dim);
        float *XN = AT(t->x, l + 1, dim);
        float *xn1 = AT(t->xn1, l, dim), *xn2 = AT(t->xn2, l, dim), *q = AT(t->q, l, dim);
        float *k = AT(t->k, l, kv), *v = AT(t->v, l, kv), *ao = AT(t->ao, l, dim);
        float *h1 = AT(t->h1, l, hid), *h3 = AT(t->h3, l, hid), *g = AT(t->g, l, hid);
        float *att = t->att + (size_t)l * t->max_B * t->nh * (size_t)T * T;
        /* attention block: xn1 = rmsnorm(x); q, k, v = xn1 (Q + LR)ᵀ (decoder: k, v = mem
         * (Q + LR)ᵀ); RoPE; attention (decoder: the key mask without the self key) */
        rz_tr_rmsnorm_fwd(xn1, t->inv1 + (size_t)l * t->Nmax, X, LW->attention_norm, N, dim, eps);
        lin_fwd(t, l, RZ_LIN_WQ, q, 0, xn1, N);
        lin_fwd(t, l, RZ_LIN_WK, k, 0, dec ? t->mem : xn1, N);
        lin_fwd(t, l, RZ_LIN_WV, v, 0, dec ? t->mem : xn1, N);
        rz_tr_rope(q, dim, dim, B, T, &t->rope, 0);
        rz_tr_rope(k, kv, kv, B, T, &t->rope, 0);
        rz_tr_attn_fwd_keys(ao, att, q, k, v, B, T, t->nh, t->nkv, t->hs, scale, t->causal, keys, !dec);
        /* xmid = x + ao Woᵀ */
        memcpy(XM, X, sizeof(float) * (size_t)N * dim);
        lin_fwd(t, l, RZ_LIN_WO, XM, 1, ao, N);
        /* feed-forward: xn2 = rmsnorm(xmid); g = silu(xn2 W1ᵀ) ⊙ xn2 W3ᵀ; x' = xmid + g W2ᵀ */
        rz_tr_rmsnorm_fwd(xn2, t->inv2 + (size_t)l * t->Nmax, XM, LW->ffn_norm, N, dim, eps);
        lin_fwd(t, l, RZ_LIN_W1, h1, 0, xn2, N);
        lin_fwd(t, l, RZ_LIN_W3, h3, 0, xn2, N);
        rz_tr_swiglu_fwd(g, h1, h3, N, hid);
        memcpy(XN, XM, sizeof(float) * (size_t)N * dim);
        lin_fwd(t, l, RZ_LIN_W2, XN, 1, g, N);
    }
    /* logits[N][V] = rmsnorm(x) outputᵀ */
    rz_tr_rmsnorm_fwd(t->xf, t->invf, AT(t->x, t->nl, dim), m->norm, N, dim, eps);
    rz_matmul_tall(0, 1, N, V, dim, t->xf, dim, m->output, dim, t->logits, V, 0);
    if (targets) {
        memcpy(t->targets, targets, sizeof(int) * (size_t)N);
        double s = rz_tr_xent_fwd(t->nll, t->logits, targets, N, V);
        if (nll_sum) *nll_sum = s;
    }
    return 0;
}

void rz_train_backward(rz_train *t, float scale)
{
    rz_tr_xent_bwd(t->logits, t->logits, t->targets, t->B * t->T, t->V, scale); /* dlogits in place */
    rz_train_backward_logits(t);
}

float *rz_train_dlogits(rz_train *t) { return t->logits; }
int rz_train_ctx(const rz_train *t) { return t->T; }
int rz_train_max_batch(const rz_train *t) { return t->max_B; }

void rz_train_backward_logits(rz_train *t)
{
    const rz_llama *m = t->a->base;
    rz_llama *G = t->a->gbase; /* NULL: embeddings, norms and classifier frozen */
    int B = t->B, T = t->T, N = B * T, dim = t->dim, kv = t->kv, hid = t->hid, V = t->V;
    float ascale = t->rope.logit_scale;
    /* t->logits holds dlogits; dxf[N][dim] = dlogits output, dx = rmsnorm backward */
    if (G) rz_tr_matmul_tn(V, dim, N, t->logits, V, t->xf, dim, G->output, dim, 1); /* dOut += dlogitsᵀ xf */
    rz_matmul_tall(0, 0, N, dim, V, t->logits, V, m->output, dim, t->dxn, dim, 0);
    memset(t->dx, 0, sizeof(float) * (size_t)N * dim);
    rz_tr_rmsnorm_bwd(t->dx, t->dxn, AT(t->x, t->nl, dim), m->norm, t->invf, N, dim);
    if (G) rz_tr_rmsnorm_bwd_w(G->norm, t->dxn, AT(t->x, t->nl, dim), t->invf, N, dim);

    if (t->dec_from < t->nl) memset(t->dmem, 0, sizeof(float) * (size_t)N * dim);
    for (int l = t->nl - 1; l >= 0; l--) {
        const rz_llama_layer *LW = &m->layers[l];
        int dec = l >= t->dec_from;
        float *X = l == t->dec_from ? t->xdec0 : AT(t->x, l, dim), *XM = AT(t->xmid, l, dim);
        float *xn1 = AT(t->xn1, l, dim), *xn2 = AT(t->xn2, l, dim), *q = AT(t->q, l, dim);
        float *k = AT(t->k, l, kv), *v = AT(t->v, l, kv), *ao = AT(t->ao, l, dim);
        float *h1 = AT(t->h1, l, hid), *h3 = AT(t->h3, l, hid), *g = AT(t->g, l, hid);
        float *att = t->att + (size_t)l * t->max_B * t->nh * (size_t)T * T;
        /* dx holds ∂/∂x_{l+1}; x_{l+1} = xmid + g W2ᵀ */
        lin_bwd(t, l, RZ_LIN_W2, t->dg, 0, t->dx, g, N);
        rz_tr_swiglu_bwd(t->dh1, t->dh3, t->dg, h1, h3, N, hid);
        lin_bwd(t, l, RZ_LIN_W1, t->dxn, 0, t->dh1, xn2, N);
        lin_bwd(t, l, RZ_LIN_W3, t->dxn, 1, t->dh3, xn2, N);
        rz_tr_rmsnorm_bwd(t->dx, t->dxn, XM, LW->ffn_norm, t->inv2 + (size_t)l * t->Nmax, N, dim);
        if (G) rz_tr_rmsnorm_bwd_w(G->layers[l].ffn_norm, t->dxn, XM, t->inv2 + (size_t)l * t->Nmax, N, dim);
        /* dx holds ∂/∂xmid; xmid = x + ao Woᵀ */
        lin_bwd(t, l, RZ_LIN_WO, t->dao, 0, t->dx, ao, N);
        rz_tr_attn_bwd_keys(t->dq, t->dk, t->dv, t->dP, t->nthr, t->dao, att, q, k, v, B, T, t->nh, t->nkv,
                            t->hs, ascale, t->causal, t->hidden >= 0 ? t->keys : NULL, !dec);
        rz_tr_rope(t->dq, dim, dim, B, T, &t->rope, 1);
        rz_tr_rope(t->dk, kv, kv, B, T, &t->rope, 1);
        /* a frozen embedding: below layer 0 only the adapters' gradients matter */
        float *dxn = l > 0 || G ? t->dxn : NULL;
        lin_bwd(t, l, RZ_LIN_WQ, dxn, 0, t->dq, xn1, N);
        /* decoder: k, v read the memory, so their input gradients sum into dmem */
        lin_bwd(t, l, RZ_LIN_WK, dec ? t->dmem : dxn, 1, t->dk, dec ? t->mem : xn1, N);
        lin_bwd(t, l, RZ_LIN_WV, dec ? t->dmem : dxn, 1, t->dv, dec ? t->mem : xn1, N);
        if (l > 0 || G) rz_tr_rmsnorm_bwd(t->dx, t->dxn, X, LW->attention_norm, t->inv1 + (size_t)l * t->Nmax, N, dim);
        if (G) rz_tr_rmsnorm_bwd_w(G->layers[l].attention_norm, t->dxn, X, t->inv1 + (size_t)l * t->Nmax, N, dim);
        if (l == t->dec_from) {
            /* dx holds ∂/∂xdec0: the decoder token's embedding row, rows in order; then
             * the encoder's output gets the memory's gradient through its norm */
            if (G) {
                float *de = G->tok_embeddings + (size_t)t->dec_tok * dim;
                for (int i = 0; i < N; i++)
                    for (int j = 0; j < dim; j++) de[j] += t->dx[(size_t)i * dim + j];
            }
            memset(t->dx, 0, sizeof(float) * (size_t)N * dim);
            rz_tr_rmsnorm_bwd(t->dx, t->dmem, AT(t->x, l, dim), t->ones, t->invm, N, dim);
        }
    }
    if (G) /* dx holds ∂/∂x0: embedding rows, in row order (a token may repeat) */
        for (int i = 0; i < N; i++) {
            float *de = G->tok_embeddings + (size_t)t->tokens[i] * dim;
            const float *d = t->dx + (size_t)i * dim;
            for (int j = 0; j < dim; j++) de[j] += d[j];
        }
}
#undef AT

/* ---------------------------------------------------------------- data and steps */

uint64_t rz_train_rng_next(uint64_t *s) { return rz_splitmix64(s); }

void rz_data_next(rz_data_cursor *c, const int *ids, size_t n, int T, int *tokens, int *targets)
{
    if (c->pos + (uint64_t)T + 1 > n) { /* new epoch at a random offset in [0, T) */
        c->pos = rz_train_rng_next(&c->rng) % (uint64_t)T;
        if (c->pos + (uint64_t)T + 1 > n) c->pos = 0;
    }
    if (tokens) memcpy(tokens, ids + c->pos, sizeof(int) * (size_t)T);
    if (targets) memcpy(targets, ids + c->pos + 1, sizeof(int) * (size_t)T);
    c->pos += (uint64_t)T;
}

int rz_train_step_grad(rz_train *t, rz_lora *a, const rz_step_shape *s, const int *ids, size_t n,
                       rz_data_cursor *cur, double *acc, int *tokens, int *targets, double *loss, rz_err *e)
{
    int T = t->T, P = rz_cluster_size(), rank = rz_cluster_rank();
    if (s->micro < 1 || s->batch % s->micro || s->micro > t->max_B)
        return rz_fail(e, RZ_EINPUT, "batch %d is not a multiple of the micro-batch %d (at most %d)", s->batch,
                       s->micro, t->max_B);
    if (n < (size_t)T + 1) return rz_fail(e, RZ_EINPUT, "%zu tokens, fewer than one sequence of %d + 1", n, T);
    size_t np = a->n_params;
    int S = s->batch / s->micro, rounds = (S + P - 1) / P;
    float scale = (float)(1.0 / ((double)s->batch * T)); /* mean over the global batch */
    memset(acc, 0, sizeof(double) * (np + 1));
    for (int i = 0; i < rounds; i++) {
        int mine = i * P + rank; /* this rank's micro-batch in round i */
        for (int j = i * P; j < S && j < (i + 1) * P; j++) /* every rank walks the same data */
            for (int q = 0; q < s->micro; q++)
                rz_data_next(cur, ids, n, T, j == mine ? tokens + (size_t)q * T : NULL,
                             j == mine ? targets + (size_t)q * T : NULL);
        if (mine < S) {
            double nll = 0;
            memset(a->grads, 0, sizeof(float) * np);
            if (rz_train_forward(t, tokens, targets, s->micro, &nll))
                return rz_fail(e, RZ_EINPUT, "a token id is outside the model's vocabulary");
            rz_train_backward(t, scale);
            /* rank 0 carries the running sum: the rank-order all-reduce then adds the
             * micro-batches in exactly the one-process order */
            if (rank == 0) {
                for (size_t p = 0; p < np; p++) acc[p] += (double)a->grads[p];
                acc[np] += nll;
            } else {
                for (size_t p = 0; p < np; p++) acc[p] = (double)a->grads[p];
                acc[np] = nll;
            }
        } else {
            memset(acc, 0, sizeof(double) * (np + 1));
        }
        rz_cluster_allreduce_sum(acc, np + 1);
    }
    for (size_t p = 0; p < np; p++) a->grads[p] = (float)acc[p];
    *loss = acc[np] / ((double)s->batch * T);
    return 0;
}
