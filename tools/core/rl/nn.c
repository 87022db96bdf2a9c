/* nn.c — MLP forward/backward over mini-batches (cblas_sgemm), Adam, RNG.
 *
 * Per layer, with n rows, X (n × in), W (out × in), b (out):
 *   H = s·(X Wᵀ + b)                               (sgemm NoTrans × Trans; s fixed)
 *   LN:  μ_r = mean_k H_rk,  σ²_r = mean_k (H_rk − μ_r)²,  rstd_r = 1/√(σ²_r + 1e-5)
 *        X̂_rk = (H_rk − μ_r)·rstd_r,  P_rk = g_k X̂_rk + β_k
 *   Y = act(P)  (relu or tanh or identity)
 * Backward, given dY:
 *   dP = dY ⊙ act'(P)   (relu: 1[Y>0]; tanh: 1 − Y²)
 *   LN:  dg_k += Σ_r dP_rk X̂_rk,  dβ_k += Σ_r dP_rk,  dX̂ = dP ⊙ g,
 *        dH_r = rstd_r·(dX̂_r − mean_k dX̂_rk − X̂_r·mean_k(dX̂_rk X̂_rk))
 *   dH ← s·dH,  db += Σ_r dH_r,  dW += dHᵀ X (sgemm Trans × NoTrans),  dX = dH W (sgemm).
 * No OpenMP reductions: every sum has a fixed order, so results repeat bit-exactly.
 */
#include "nn.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NN_LN_EPS 1e-5f

/* ---- construction ---------------------------------------------------------------- */
int nn_init(nn_mlp *net, const nn_spec *spec, rz_rng *rng, rz_err *e)
{
    memset(net, 0, sizeof *net);
    if (spec->n_layers < 1 || spec->n_layers > NN_MAX_LAYERS)
        return rz_fail(e, RZ_EINPUT, "nn: %d layers (1..%d allowed)", spec->n_layers, NN_MAX_LAYERS);
    size_t off = 0;
    for (int l = 0; l < spec->n_layers; l++) {
        nn_layer *L = &net->L[l];
        L->in = spec->sizes[l];
        L->out = spec->sizes[l + 1];
        if (L->in < 1 || L->out < 1 || L->in > (1 << 20) || L->out > (1 << 20))
            return rz_fail(e, RZ_EINPUT, "nn: layer %d has size %d -> %d", l, L->in, L->out);
        L->ln = spec->ln[l];
        L->act = spec->act[l];
        L->scale = spec->scale[l] != 0 ? spec->scale[l] : 1.0f;
        L->off_W = off;
        off += (size_t)L->in * L->out;
        L->off_b = off;
        off += L->out;
        if (L->ln) {
            L->off_g = off;
            off += L->out;
            L->off_beta = off;
            off += L->out;
        }
    }
    net->n_layers = spec->n_layers;
    net->n_params = off;
    net->param = rz_calloc(off, sizeof(float), e);
    net->grad = rz_calloc(off, sizeof(float), e);
    if (!net->param || !net->grad) {
        nn_free(net);
        return RZ_EINTERNAL;
    }
    for (int l = 0; l < net->n_layers; l++) {
        nn_layer *L = &net->L[l];
        float bound = 1.0f / sqrtf((float)L->in);
        for (size_t i = 0; i < (size_t)L->in * L->out; i++)
            net->param[L->off_W + i] = (float)((2.0 * rz_rng_uniform(rng) - 1.0) * bound);
        for (int i = 0; i < L->out; i++)
            net->param[L->off_b + i] = (float)((2.0 * rz_rng_uniform(rng) - 1.0) * bound);
        if (L->ln)
            for (int i = 0; i < L->out; i++) net->param[L->off_g + i] = 1.0f;
    }
    return RZ_OK;
}

void nn_free(nn_mlp *net)
{
    free(net->param);
    free(net->grad);
    net->param = net->grad = NULL;
}

void nn_zero_grad(nn_mlp *net) { memset(net->grad, 0, net->n_params * sizeof(float)); }

void nn_copy_params(nn_mlp *dst, const nn_mlp *src)
{
    memcpy(dst->param, src->param, src->n_params * sizeof(float));
}

void nn_soft_update(nn_mlp *dst, const nn_mlp *src, float tau)
{
    for (size_t i = 0; i < src->n_params; i++)
        dst->param[i] = (1.0f - tau) * dst->param[i] + tau * src->param[i];
}

/* ---- tape ----------------------------------------------------------------------- */
int nn_tape_init(nn_tape *t, const nn_mlp *net, int cap, rz_err *e)
{
    memset(t, 0, sizeof *t);
    t->cap = cap;
    int width = net->L[0].in;
    for (int l = 0; l < net->n_layers; l++) {
        const nn_layer *L = &net->L[l];
        if (L->out > width) width = L->out;
        t->x[l] = rz_malloc((size_t)cap * L->in * sizeof(float), e);
        if (!t->x[l]) goto fail;
        if (L->ln) {
            t->h[l] = rz_malloc((size_t)cap * L->out * sizeof(float), e);
            t->xhat[l] = rz_malloc((size_t)cap * L->out * sizeof(float), e);
            t->rstd[l] = rz_malloc((size_t)cap * sizeof(float), e);
            if (!t->h[l] || !t->xhat[l] || !t->rstd[l]) goto fail;
        }
    }
    t->x[net->n_layers] = rz_malloc((size_t)cap * net->L[net->n_layers - 1].out * sizeof(float), e);
    t->dbuf[0] = rz_malloc((size_t)cap * width * sizeof(float), e);
    t->dbuf[1] = rz_malloc((size_t)cap * width * sizeof(float), e);
    if (!t->x[net->n_layers] || !t->dbuf[0] || !t->dbuf[1]) goto fail;
    return RZ_OK;
fail:
    nn_tape_free(t);
    return RZ_EINTERNAL;
}

void nn_tape_free(nn_tape *t)
{
    for (int l = 0; l <= NN_MAX_LAYERS; l++) free(t->x[l]);
    for (int l = 0; l < NN_MAX_LAYERS; l++) {
        free(t->h[l]);
        free(t->xhat[l]);
        free(t->rstd[l]);
    }
    free(t->dbuf[0]);
    free(t->dbuf[1]);
    memset(t, 0, sizeof *t);
}

void nn_gemm(int transA, int transB, int m, int n, int k, float alpha, const float *A,
             const float *B, float beta, float *C)
{
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, m, n, k, alpha, A, transA ? m : k, B,
                transB ? k : n, beta, C, n);
}

void nn_project_sphere(float *v, int d, float r)
{
    double s = 0;
    for (int i = 0; i < d; i++) s += (double)v[i] * v[i];
    if (s <= 0) return;
    float k = (float)(r / sqrt(s));
    for (int i = 0; i < d; i++) v[i] *= k;
}

/* ---- forward ------------------------------------------------------------------- */
const float *nn_forward(const nn_mlp *net, nn_tape *t, const float *X, int n)
{
    t->n = n;
    memcpy(t->x[0], X, (size_t)n * net->L[0].in * sizeof(float));
    for (int l = 0; l < net->n_layers; l++) {
        const nn_layer *L = &net->L[l];
        const float *W = net->param + L->off_W, *b = net->param + L->off_b;
        float *H = L->ln ? t->h[l] : t->x[l + 1];
        float *Y = t->x[l + 1];
        int out = L->out;
        /* H = X Wᵀ + b: preload b in every row, then sgemm with beta = 1. */
        for (int r = 0; r < n; r++) memcpy(H + (size_t)r * out, b, out * sizeof(float));
        nn_gemm(0, 1, n, out, L->in, 1.0f, t->x[l], W, 1.0f, H);
        if (L->scale != 1.0f)
            for (size_t i = 0; i < (size_t)n * out; i++) H[i] *= L->scale;
        if (L->ln) {
            const float *g = net->param + L->off_g, *be = net->param + L->off_beta;
            for (int r = 0; r < n; r++) {
                const float *h = H + (size_t)r * out;
                float *xh = t->xhat[l] + (size_t)r * out, *y = Y + (size_t)r * out;
                double mu = 0, var = 0;
                for (int k = 0; k < out; k++) mu += h[k];
                mu /= out;
                for (int k = 0; k < out; k++) var += (h[k] - mu) * (h[k] - mu);
                var /= out;
                float rs = (float)(1.0 / sqrt(var + NN_LN_EPS));
                t->rstd[l][r] = rs;
                for (int k = 0; k < out; k++) {
                    xh[k] = (float)(h[k] - mu) * rs;
                    y[k] = g[k] * xh[k] + be[k];
                }
            }
        }
        size_t cnt = (size_t)n * out;
        if (L->act == NN_ACT_RELU) {
            for (size_t i = 0; i < cnt; i++)
                if (Y[i] < 0) Y[i] = 0;
        } else if (L->act == NN_ACT_TANH) {
            for (size_t i = 0; i < cnt; i++) Y[i] = tanhf(Y[i]);
        }
    }
    return t->x[net->n_layers];
}

/* ---- backward ------------------------------------------------------------------ */
void nn_backward(nn_mlp *net, nn_tape *t, const float *dY, float *dX)
{
    int n = t->n, cur = 0;
    const nn_layer *last = &net->L[net->n_layers - 1];
    memcpy(t->dbuf[0], dY, (size_t)n * last->out * sizeof(float));
    for (int l = net->n_layers - 1; l >= 0; l--) {
        const nn_layer *L = &net->L[l];
        int out = L->out;
        float *d = t->dbuf[cur];
        const float *Y = t->x[l + 1];
        size_t cnt = (size_t)n * out;
        if (L->act == NN_ACT_RELU) {
            for (size_t i = 0; i < cnt; i++)
                if (!(Y[i] > 0)) d[i] = 0;
        } else if (L->act == NN_ACT_TANH) {
            for (size_t i = 0; i < cnt; i++) d[i] *= 1.0f - Y[i] * Y[i];
        }
        if (L->ln) {
            const float *g = net->param + L->off_g;
            float *dg = net->grad + L->off_g, *dbe = net->grad + L->off_beta;
            for (int r = 0; r < n; r++) {
                float *dr = d + (size_t)r * out;
                const float *xh = t->xhat[l] + (size_t)r * out;
                double m1 = 0, m2 = 0;
                for (int k = 0; k < out; k++) {
                    dg[k] += dr[k] * xh[k];
                    dbe[k] += dr[k];
                    float dxh = dr[k] * g[k];
                    m1 += dxh;
                    m2 += (double)dxh * xh[k];
                    dr[k] = dxh;
                }
                float a = (float)(m1 / out), c = (float)(m2 / out), rs = t->rstd[l][r];
                for (int k = 0; k < out; k++) dr[k] = rs * (dr[k] - a - xh[k] * c);
            }
        }
        if (L->scale != 1.0f) /* H = s·(XWᵀ + b): the chain rule multiplies by s */
            for (size_t i = 0; i < cnt; i++) d[i] *= L->scale;
        float *db = net->grad + L->off_b;
        for (int r = 0; r < n; r++)
            for (int k = 0; k < out; k++) db[k] += d[(size_t)r * out + k];
        nn_gemm(1, 0, out, L->in, n, 1.0f, d, t->x[l], 1.0f, net->grad + L->off_W);
        if (l > 0) {
            nn_gemm(0, 0, n, L->in, out, 1.0f, d, net->param + L->off_W, 0.0f, t->dbuf[1 - cur]);
            cur = 1 - cur;
        } else if (dX) {
            nn_gemm(0, 0, n, L->in, out, 1.0f, d, net->param + L->off_W, 0.0f, dX);
        }
    }
}

/* ---- Adam ------------------------------------------------------------------------- */
int nn_adam_init(nn_adam *a, size_t n, float lr, rz_err *e)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    a->lr = lr;
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-8f;
    a->m = rz_calloc(n, sizeof(float), e);
    a->v = rz_calloc(n, sizeof(float), e);
    if (!a->m || !a->v) {
        nn_adam_free(a);
        return RZ_EINTERNAL;
    }
    return RZ_OK;
}

void nn_adam_free(nn_adam *a)
{
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
}

void nn_adam_step(nn_adam *a, float *param, const float *grad)
{
    a->t++;
    double bc1 = 1.0 - pow(a->beta1, (double)a->t), bc2 = 1.0 - pow(a->beta2, (double)a->t);
    float step = (float)(a->lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2));
    for (size_t i = 0; i < a->n; i++) {
        a->m[i] = a->beta1 * a->m[i] + (1.0f - a->beta1) * grad[i];
        a->v[i] = a->beta2 * a->v[i] + (1.0f - a->beta2) * grad[i] * grad[i];
        param[i] -= step * a->m[i] / (sqrtf(a->v[i]) * rbc2 + a->eps);
    }
}

double nn_mlp_flops(const nn_mlp *m, double n, int backward)
{
    double f = 0;
    for (int l = 0; l < m->n_layers; l++) {
        double w = (double)m->L[l].in * m->L[l].out;
        f += 2 * n * w;
        if (backward) f += 2 * n * w + (l > 0 ? 2 * n * w : 0);
    }
    return f;
}
