/* fbcpr.c — FB-CPR updates (see fbcpr.h for the method) with their gradients written out.
 *
 * Discriminator (N expert rows E_i = [e_i, ze_i], N policy rows P_i = [s_i, z^roll_i]):
 *   L_D = mean_i [softplus(−D(E_i)) + softplus(D(P_i))] + λ·GP
 *   dL/dD(E_i) = −σ(−D(E_i))/N,  dL/dD(P_i) = σ(D(P_i))/N   (σ the logistic function)
 *   GP = mean_i (‖g_i‖ − 1)²,  g_i = ∇_X D(X_i) at X_i = α_i E_i + (1 − α_i) P_i.
 *   D is a relu MLP without layer norm (layer l: h_l = x_l W_lᵀ + b_l, x_{l+1} = relu(h_l),
 *   the last layer linear, one output), so g is a product of weight matrices and relu
 *   masks m_l = 1[h_l > 0], which are locally constant (their derivative is zero almost
 *   everywhere — what autograd's double backward through relu computes too):
 *     δ_{L−1} = 1,  ε_l = δ_l W_l (∂D/∂x_l),  δ_{l−1} = ε_l ⊙ m_{l−1},  g = ε_0.
 *   Its parameter gradient is reverse mode through that chain, started at
 *     γ_i = ∂GP/∂g_i = (2/N)(‖g_i‖ − 1) g_i/‖g_i‖:
 *     adj_0 = γ;  for l = 0, 1, …: dW_l += δ_lᵀ adj_l,  adj_{l+1} = (adj_l W_lᵀ) ⊙ m_l.
 *   Biases reach GP only through the masks: no gradient.
 *   (The reference's discriminator MLP has the same relu trunk; it takes the gradient
 *   with torch.autograd.grad(create_graph = True).)
 * Critic C_k(s, a, z) (fb_mlp_spec, one output), pessimism 0.5 over two heads — the mean
 * minus half the mean absolute pairwise difference, which for two heads is their min:
 *   y_i = logit D(s_i, z_i) + γ(1 − done_i)·min_k C̄_k(s'_i, a'_i, z_i),  a'_i = clip(π(s'_i, z_i) + ε_i, ±1)
 *   (done_i = 1: s'_i is terminal, no bootstrap — the reference's `discount * ~terminated`)
 *   L_C = Σ_k ½·mean_i (C_k(s_i, a_i, z_i) − y_i)²,  dL/dC_k,i = (C_k,i − y_i)/N.
 * Actor, a_i = clip(π(s_i, z_i) + ε_i, ±1) (the clip passes the gradient straight through,
 * as the reference's truncated normal does), k* the argmin head:
 *   L_π = −reg·w·mean_i C_k*(s_i, a_i, z_i) − mean_i F_k*(s_i, a_i, z_i)ᵀz_i
 *   dL/dC_k*,i = −reg·w/N, dL/dF_k*,i = −z_i/N; dL/da_i through C's and F's input
 *   gradients (their own parameter gradients are discarded), then through π.
 * ε_i = clip(actor_noise·N(0, 1), ±noise_clip) of fb's configuration.
 */
#include "fbcpr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fbcpr {
    fbcpr_config cfg;
    fb_agent *fb;
    int od, ad, D, N, inD, inC;
    nn_mlp Dn, C[2], Ct[2];
    nn_adam oD, oC[2];
    rz_rng rng;
    int64_t step;
    float counters[2], rng_img[8];
    nn_tape tDe, tDp, tDg, tC[2], tCt[2], tCa[2], tFa[2], tA, tB;
    float *inE, *inP, *inG, *inC1, *inC2, *inAct, *act, *dY, *dX, *dA, *g, *adj, *tmp, *dstore[NN_MAX_LAYERS];
    float *ze, *z, *noise, *alpha, *y, *Bsum;
    long *idx;
};

void fbcpr_config_default(fbcpr_config *c)
{
    memset(c, 0, sizeof *c);
    c->cpr = 1;
    c->seq_length = 8;
    c->goal_ratio = 0.2f;
    c->expert_ratio = 0.6f;
    c->reg_coeff = 0.01f;
    c->scale_reg = 1;
    c->grad_penalty = 10.0f;
    c->lr_disc = 1e-5f;
    c->lr_critic = 1e-4f;
    c->critic_tau = 0.005f;
    c->disc_hidden = 256;
    c->disc_layers = 2;
}

const fbcpr_config *fbcpr_cfg(const fbcpr *c) { return &c->cfg; }
fb_agent *fbcpr_fb(fbcpr *c) { return c->fb; }

nn_mlp *fbcpr_net(fbcpr *c, const char *which)
{
    if (!c->cfg.cpr) return NULL;
    if (!strcmp(which, "D")) return &c->Dn;
    if (!strcmp(which, "C1")) return &c->C[0];
    if (!strcmp(which, "C2")) return &c->C[1];
    return NULL;
}

static float *fbuf(size_t n, int *fail, rz_err *e)
{
    float *p = rz_calloc(n ? n : 1, sizeof(float), e);
    if (!p) *fail = 1;
    return p;
}

int fbcpr_create(fb_agent *fb, const fbcpr_config *cc, uint64_t seed, fbcpr **out, rz_err *e)
{
    *out = NULL;
    const fb_config *f = fb_cfg(fb);
    if (f->n_actions)
        return rz_fail(e, RZ_EINPUT, "fbcpr: needs continuous actions (the environment has %d discrete ones)", f->n_actions);
    if (cc->seq_length < 1 || cc->seq_length > FB_MAX_TRAJ_LEN || f->batch % cc->seq_length)
        return rz_fail(e, RZ_EINPUT, "fbcpr: seq_length %d must divide the batch %d (1 … %d)", cc->seq_length, f->batch,
                       FB_MAX_TRAJ_LEN);
    if (!(cc->goal_ratio >= 0 && cc->expert_ratio >= 0 && cc->goal_ratio + cc->expert_ratio <= 1.0f + 1e-6f))
        return rz_fail(e, RZ_EINPUT, "fbcpr: z mixture goal %g + expert %g: expected non-negative, sum ≤ 1", cc->goal_ratio,
                       cc->expert_ratio);
    if (cc->cpr && (cc->disc_hidden < 1 || cc->disc_hidden > FB_MAX_HIDDEN || cc->disc_layers < 1 ||
                    cc->disc_layers > FB_MAX_LAYERS || !(cc->grad_penalty >= 0) || !(cc->reg_coeff >= 0)))
        return rz_fail(e, RZ_EINPUT, "fbcpr: invalid discriminator (%d × %d), penalty %g or reg %g", cc->disc_hidden,
                       cc->disc_layers, cc->grad_penalty, cc->reg_coeff);
    fbcpr *c = rz_calloc(1, sizeof *c, e);
    if (!c) return RZ_EINTERNAL;
    c->cfg = *cc;
    c->fb = fb;
    c->od = f->obs_dim, c->ad = f->act_dim, c->D = f->zdim, c->N = f->batch;
    c->inD = c->od + c->D;
    c->inC = c->od + c->ad + c->D;
    int N = c->N, rc = 0, fail = 0;
    rz_rng_seed(&c->rng, seed);
    nn_mlp *B = fb_net(fb, "B");
    rc = nn_tape_init(&c->tB, B, N, e);
    if (!rc) rc = nn_tape_init(&c->tA, fb_net(fb, "actor"), N, e);
    if (!rc && cc->cpr) {
        nn_spec sD;
        memset(&sD, 0, sizeof sD);
        sD.n_layers = cc->disc_layers + 1;
        sD.sizes[0] = c->inD;
        for (int l = 1; l <= cc->disc_layers; l++) sD.sizes[l] = cc->disc_hidden, sD.act[l - 1] = NN_ACT_RELU;
        sD.sizes[cc->disc_layers + 1] = 1;
        sD.act[cc->disc_layers] = NN_ACT_NONE;
        rc = nn_init(&c->Dn, &sD, &c->rng, e);
        if (!rc) rc = nn_adam_init(&c->oD, c->Dn.n_params, cc->lr_disc, e);
        nn_tape *td[3] = {&c->tDe, &c->tDp, &c->tDg};
        for (int q = 0; q < 3 && !rc; q++) rc = nn_tape_init(td[q], &c->Dn, N, e);
        nn_spec sC = fb_mlp_spec(c->inC, f->hidden, f->layers, 1, NN_ACT_NONE);
        for (int k = 0; k < 2 && !rc; k++) {
            rc = nn_init(&c->C[k], &sC, &c->rng, e);
            if (!rc) rc = nn_init(&c->Ct[k], &sC, &c->rng, e);
            if (!rc) nn_copy_params(&c->Ct[k], &c->C[k]);
            if (!rc) rc = nn_adam_init(&c->oC[k], c->C[k].n_params, cc->lr_critic, e);
            if (!rc) rc = nn_tape_init(&c->tC[k], &c->C[k], N, e);
            if (!rc) rc = nn_tape_init(&c->tCt[k], &c->C[k], N, e);
            if (!rc) rc = nn_tape_init(&c->tCa[k], &c->C[k], N, e);
            if (!rc) rc = nn_tape_init(&c->tFa[k], fb_net(fb, k ? "F2" : "F1"), N, e);
        }
    }
    if (rc) {
        fbcpr_destroy(c);
        return rc;
    }
    int w = c->inC > cc->disc_hidden ? c->inC : cc->disc_hidden;
    if (w < c->D) w = c->D;
    c->inE = fbuf((size_t)N * c->inD, &fail, e);
    c->inP = fbuf((size_t)N * c->inD, &fail, e);
    c->inG = fbuf((size_t)N * c->inD, &fail, e);
    c->inC1 = fbuf((size_t)N * c->inC, &fail, e);
    c->inC2 = fbuf((size_t)N * c->inC, &fail, e);
    c->inAct = fbuf((size_t)N * c->inD, &fail, e);
    c->act = fbuf((size_t)N * c->ad, &fail, e);
    c->dY = fbuf((size_t)N * c->D, &fail, e);
    c->dX = fbuf((size_t)N * w, &fail, e);
    c->dA = fbuf((size_t)N * c->ad, &fail, e);
    c->g = fbuf((size_t)N * w, &fail, e);
    c->adj = fbuf((size_t)N * w, &fail, e);
    c->tmp = fbuf((size_t)N * w, &fail, e);
    for (int l = 0; l < NN_MAX_LAYERS; l++) c->dstore[l] = fbuf((size_t)N * w, &fail, e);
    c->ze = fbuf((size_t)N * c->D, &fail, e);
    c->z = fbuf((size_t)N * c->D, &fail, e);
    c->noise = fbuf((size_t)N * c->ad, &fail, e);
    c->alpha = fbuf((size_t)N, &fail, e);
    c->y = fbuf((size_t)N, &fail, e);
    c->Bsum = fbuf((size_t)c->D, &fail, e);
    c->idx = rz_calloc((size_t)N, sizeof(long), e);
    if (fail || !c->idx) {
        fbcpr_destroy(c);
        return RZ_EINTERNAL;
    }
    for (int i = 0; i < N; i++) c->idx[i] = i;
    *out = c;
    return RZ_OK;
}

void fbcpr_destroy(fbcpr *c)
{
    if (!c) return;
    nn_free(&c->Dn);
    nn_adam_free(&c->oD);
    for (int k = 0; k < 2; k++) {
        nn_free(&c->C[k]), nn_free(&c->Ct[k]), nn_adam_free(&c->oC[k]);
        nn_tape_free(&c->tC[k]), nn_tape_free(&c->tCt[k]), nn_tape_free(&c->tCa[k]), nn_tape_free(&c->tFa[k]);
    }
    nn_tape *t[] = {&c->tDe, &c->tDp, &c->tDg, &c->tA, &c->tB};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) nn_tape_free(t[i]);
    float *b[] = {c->inE, c->inP, c->inG, c->inC1, c->inC2, c->inAct, c->act, c->dY, c->dX, c->dA, c->g, c->adj,
                  c->tmp, c->ze, c->z, c->noise, c->alpha, c->y, c->Bsum};
    for (size_t i = 0; i < sizeof b / sizeof *b; i++) free(b[i]);
    for (int l = 0; l < NN_MAX_LAYERS; l++) free(c->dstore[l]);
    free(c->idx);
    free(c);
}

/* ---- helpers ------------------------------------------------------------------------- */
static double dotf(const float *x, const float *y, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)x[i] * y[i];
    return s;
}

static float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

/* log(1 + e^x) without overflow. */
static double softplus(double x) { return (x > 0 ? x : 0) + log1p(exp(-fabs(x))); }
static double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

/* Rows [a_i (na floats), b_i (nb floats)] into out (n × (na + nb)). */
static void cat2(float *out, int n, const float *a, int na, const float *b, int nb)
{
    for (int i = 0; i < n; i++) {
        memcpy(out + (size_t)i * (na + nb), a + (size_t)i * na, na * sizeof(float));
        memcpy(out + (size_t)i * (na + nb) + na, b + (size_t)i * nb, nb * sizeof(float));
    }
}

/* Rows [obs, act, z] (F's and the critic's input layout, fb.c put_inF). */
static void cat3(float *out, int n, const float *o, int od, const float *a, int ad, const float *z, int D)
{
    int w = od + ad + D;
    for (int i = 0; i < n; i++) {
        memcpy(out + (size_t)i * w, o + (size_t)i * od, od * sizeof(float));
        memcpy(out + (size_t)i * w + od, a + (size_t)i * ad, ad * sizeof(float));
        memcpy(out + (size_t)i * w + od + ad, z + (size_t)i * D, D * sizeof(float));
    }
}

/* act = clip(π(O, Z) + noise, ±1) for n rows; the pre-clip π stays on tape t. */
static void policy_noisy(fbcpr *c, nn_tape *t, int n, const float *O, const float *Z, const float *noise, float *act)
{
    cat2(c->inAct, n, O, c->od, Z, c->D);
    const float *pi = nn_forward(fb_net(c->fb, "actor"), t, c->inAct, n);
    for (int q = 0; q < n * c->ad; q++) act[q] = clampf(pi[q] + noise[q], -1, 1);
}

static void draw_noise(fbcpr *c, int n, float *noise)
{
    const fb_config *f = fb_cfg(c->fb);
    for (int q = 0; q < n * c->ad; q++)
        noise[q] = clampf((float)(f->actor_noise * rz_rng_normal(&c->rng)), -f->noise_clip, f->noise_clip);
}

/* B rows (fb's output map: √d-normalised per row with bnorm) for n ≤ N observations. */
static const float *B_rows(fbcpr *c, int n, const float *O, float *out)
{
    const float *raw = nn_forward(fb_net(c->fb, "B"), &c->tB, O, n);
    memcpy(out, raw, (size_t)n * c->D * sizeof(float));
    if (fb_cfg(c->fb)->bnorm)
        for (int i = 0; i < n; i++) nn_project_sphere(out + (size_t)i * c->D, c->D, sqrtf((float)c->D));
    return out;
}

/* ---- z: expert embeddings and the mixture --------------------------------------------- */
void fbcpr_encode_expert(fbcpr *c, int n, const float *EO2, float *ze)
{
    int D = c->D, L = c->cfg.seq_length;
    for (int r0 = 0; r0 < n; r0 += c->N) {
        int m = n - r0 < c->N ? n - r0 : c->N;
        const float *Bw = B_rows(c, m, EO2 + (size_t)r0 * c->od, ze + (size_t)r0 * D);
        (void)Bw;
    }
    for (int w0 = 0; w0 + L <= n; w0 += L) {
        memset(c->Bsum, 0, D * sizeof(float));
        for (int t = w0; t < w0 + L; t++)
            for (int q = 0; q < D; q++) c->Bsum[q] += ze[(size_t)t * D + q] / L;
        nn_project_sphere(c->Bsum, D, sqrtf((float)D));
        for (int t = w0; t < w0 + L; t++) memcpy(ze + (size_t)t * D, c->Bsum, D * sizeof(float));
    }
}

void fbcpr_sample_z_rng(fbcpr *c, rz_rng *rng, int n, int n_goal, const float *goal_obs, int n_ze, const float *ze, float *z,
                        int *kind)
{
    int D = c->D, od = c->od;
    float rD = sqrtf((float)D);
    double pg = n_goal > 0 ? c->cfg.goal_ratio : 0, pe = n_ze > 0 && c->cfg.cpr ? c->cfg.expert_ratio : 0;
    for (int i0 = 0; i0 < n; i0 += c->N) {
        int m = n - i0 < c->N ? n - i0 : c->N, ng = 0;
        for (int i = i0; i < i0 + m; i++) {
            double u = rz_rng_uniform(rng);
            float *zi = z + (size_t)i * D;
            int k = u < pg ? 0 : u < pg + pe ? 1 : 2;
            if (kind) kind[i] = k;
            if (k == 0) { /* stage the goal observation; B is applied to all of them at once */
                int j = rz_rng_int(rng, n_goal);
                memcpy(c->inAct + (size_t)ng * od, goal_obs + (size_t)j * od, od * sizeof(float));
                c->idx[ng++] = i;
            } else if (k == 1) {
                memcpy(zi, ze + (size_t)rz_rng_int(rng, n_ze) * D, D * sizeof(float));
            } else {
                for (int q = 0; q < D; q++) zi[q] = (float)rz_rng_normal(rng);
                nn_project_sphere(zi, D, rD);
            }
        }
        if (ng) {
            const float *Bg = nn_forward(fb_net(c->fb, "B"), &c->tB, c->inAct, ng);
            for (int q = 0; q < ng; q++) {
                float *zi = z + (size_t)c->idx[q] * D;
                memcpy(zi, Bg + (size_t)q * D, D * sizeof(float));
                nn_project_sphere(zi, D, rD);
            }
        }
    }
    for (int i = 0; i < c->N; i++) c->idx[i] = i;
}

void fbcpr_sample_z(fbcpr *c, int n, int n_goal, const float *goal_obs, int n_ze, const float *ze, float *z, int *kind)
{
    fbcpr_sample_z_rng(c, &c->rng, n, n_goal, goal_obs, n_ze, ze, z, kind);
}

/* ---- discriminator ---------------------------------------------------------------------- */
double fbcpr_grad_penalty(fbcpr *c, int n, const float *X, int with_grad, float scale)
{
    nn_mlp *net = &c->Dn;
    nn_tape *t = &c->tDg;
    int L = net->n_layers, in0 = net->L[0].in;
    nn_forward(net, t, X, n);
    /* δ_{L−1} = 1; ε_l = δ_l W_l; δ_{l−1} = ε_l ⊙ m_{l−1}; g = ε_0. */
    float *d = c->dstore[L - 1];
    for (int i = 0; i < n; i++) d[i] = 1.0f;
    for (int l = L - 1; l >= 0; l--) {
        const nn_layer *ly = &net->L[l];
        const float *W = net->param + ly->off_W;
        float *eps = l ? c->dstore[l - 1] : c->g;
        nn_gemm(0, 0, n, ly->in, ly->out, 1.0f, c->dstore[l], W, 0.0f, eps);
        if (l) {
            const float *h = t->x[l]; /* relu output of layer l − 1: > 0 exactly where h_{l−1} > 0 */
            for (size_t q = 0; q < (size_t)n * ly->in; q++)
                if (!(h[q] > 0)) eps[q] = 0;
        }
    }
    double gp = 0;
    for (int i = 0; i < n; i++) {
        float *gi = c->g + (size_t)i * in0;
        double nr = sqrt(dotf(gi, gi, in0));
        gp += (nr - 1) * (nr - 1) / n;
        /* γ_i = (2/n)(‖g_i‖ − 1) g_i/‖g_i‖, into adj */
        double f = nr > 0 ? scale * 2.0 * (nr - 1) / (n * nr) : 0;
        for (int q = 0; q < in0; q++) c->adj[(size_t)i * in0 + q] = (float)(f * gi[q]);
    }
    if (!with_grad) return gp;
    for (int l = 0; l < L; l++) {
        const nn_layer *ly = &net->L[l];
        const float *W = net->param + ly->off_W;
        nn_gemm(1, 0, ly->out, ly->in, n, 1.0f, c->dstore[l], c->adj, 1.0f, net->grad + ly->off_W);
        if (l == L - 1) break;
        nn_gemm(0, 1, n, ly->out, ly->in, 1.0f, c->adj, W, 0.0f, c->tmp);
        const float *h = t->x[l + 1];
        for (size_t q = 0; q < (size_t)n * ly->out; q++) c->adj[q] = h[q] > 0 ? c->tmp[q] : 0.0f;
    }
    return gp;
}

double fbcpr_disc_loss_fixed(fbcpr *c, const float *EO, const float *ze, const float *O, const float *Z,
                             const float *alpha, int with_grad, fbcpr_stats *st)
{
    int N = c->N, in = c->inD;
    if (with_grad) nn_zero_grad(&c->Dn);
    cat2(c->inE, N, EO, c->od, ze, c->D);
    cat2(c->inP, N, O, c->od, Z, c->D);
    const float *De = nn_forward(&c->Dn, &c->tDe, c->inE, N);
    const float *Dp = nn_forward(&c->Dn, &c->tDp, c->inP, N);
    double le = 0, lp = 0;
    for (int i = 0; i < N; i++) {
        le += softplus(-De[i]) / N;
        lp += softplus(Dp[i]) / N;
    }
    if (with_grad) {
        for (int i = 0; i < N; i++) c->dY[i] = (float)(-sigmoid(-De[i]) / N);
        nn_backward(&c->Dn, &c->tDe, c->dY, NULL);
        for (int i = 0; i < N; i++) c->dY[i] = (float)(sigmoid(Dp[i]) / N);
        nn_backward(&c->Dn, &c->tDp, c->dY, NULL);
    }
    double gp = 0;
    if (c->cfg.grad_penalty > 0) {
        for (int i = 0; i < N; i++)
            for (int q = 0; q < in; q++) {
                size_t r = (size_t)i * in + q;
                c->inG[r] = alpha[i] * c->inE[r] + (1 - alpha[i]) * c->inP[r];
            }
        gp = fbcpr_grad_penalty(c, N, c->inG, with_grad, c->cfg.grad_penalty);
    }
    if (st) st->disc_expert = le, st->disc_train = lp, st->gp = gp, st->disc_loss = le + lp + c->cfg.grad_penalty * gp;
    return le + lp + c->cfg.grad_penalty * gp;
}

void fbcpr_logit(fbcpr *c, int n, const float *O, const float *Z, float *out)
{
    for (int r0 = 0; r0 < n; r0 += c->N) {
        int m = n - r0 < c->N ? n - r0 : c->N;
        cat2(c->inG, m, O + (size_t)r0 * c->od, c->od, Z + (size_t)r0 * c->D, c->D);
        memcpy(out + r0, nn_forward(&c->Dn, &c->tDg, c->inG, m), m * sizeof(float));
    }
}

/* ---- critic --------------------------------------------------------------------------------- */
double fbcpr_critic_loss_fixed(fbcpr *c, const float *O, const float *A, const float *O2, const float *done,
                               const float *Z, const float *noise, int with_grad, fbcpr_stats *st)
{
    int N = c->N;
    float gamma = fb_cfg(c->fb)->gamma;
    /* y = logit D(s, z) + γ(1 − done) min_k C̄_k(s', a', z) */
    fbcpr_logit(c, N, O, Z, c->y);
    double rmean = 0;
    for (int i = 0; i < N; i++) rmean += c->y[i] / N;
    policy_noisy(c, &c->tA, N, O2, Z, noise, c->act);
    cat3(c->inC2, N, O2, c->od, c->act, c->ad, Z, c->D);
    const float *T0 = nn_forward(&c->Ct[0], &c->tCt[0], c->inC2, N);
    const float *T1 = nn_forward(&c->Ct[1], &c->tCt[1], c->inC2, N);
    for (int i = 0; i < N; i++) c->y[i] += gamma * (done ? 1.0f - done[i] : 1.0f) * fminf(T0[i], T1[i]);
    cat3(c->inC1, N, O, c->od, A, c->ad, Z, c->D);
    double loss = 0;
    for (int k = 0; k < 2; k++) {
        if (with_grad) nn_zero_grad(&c->C[k]);
        const float *Q = nn_forward(&c->C[k], &c->tC[k], c->inC1, N);
        for (int i = 0; i < N; i++) {
            double d = Q[i] - c->y[i];
            loss += 0.5 * d * d / N;
            c->dY[i] = (float)(d / N);
        }
        if (with_grad) nn_backward(&c->C[k], &c->tC[k], c->dY, NULL);
    }
    if (st) st->critic_loss = loss, st->reward = rmean;
    return loss;
}

/* ---- actor ---------------------------------------------------------------------------------- */
double fbcpr_actor_loss_fixed(fbcpr *c, const float *O, const float *Z, const float *noise, double w,
                              double *w_out, int with_grad, fbcpr_stats *st)
{
    int N = c->N, D = c->D, ad = c->ad, od = c->od;
    nn_mlp *F[2] = {fb_net(c->fb, "F1"), fb_net(c->fb, "F2")}, *actor = fb_net(c->fb, "actor");
    policy_noisy(c, &c->tA, N, O, Z, noise, c->act);
    cat3(c->inC1, N, O, od, c->act, ad, Z, D);
    const float *Fo[2], *Co[2];
    for (int k = 0; k < 2; k++) {
        Fo[k] = nn_forward(F[k], &c->tFa[k], c->inC1, N);
        Co[k] = nn_forward(&c->C[k], &c->tCa[k], c->inC1, N);
    }
    double qf = 0, qd = 0, absf = 0;
    for (int i = 0; i < N; i++) {
        const float *zi = Z + (size_t)i * D;
        double f = fmin(dotf(Fo[0] + (size_t)i * D, zi, D), dotf(Fo[1] + (size_t)i * D, zi, D));
        qf += f / N, absf += fabs(f) / N;
        qd += fmin(Co[0][i], Co[1][i]) / N;
    }
    if (w < 0) w = c->cfg.scale_reg ? absf : 1.0;
    if (w_out) *w_out = w;
    double reg = c->cfg.reg_coeff, loss = -reg * w * qd - qf;
    if (st) st->q_fb = qf, st->q_disc = qd, st->actor_loss = loss;
    if (!with_grad) return loss;
    memset(c->dA, 0, (size_t)N * ad * sizeof(float));
    for (int k = 0; k < 2; k++) {
        /* F head k: rows where it is the min get −z_i/N */
        memset(c->dY, 0, (size_t)N * D * sizeof(float));
        for (int i = 0; i < N; i++) {
            const float *zi = Z + (size_t)i * D;
            double f0 = dotf(Fo[0] + (size_t)i * D, zi, D), f1 = dotf(Fo[1] + (size_t)i * D, zi, D);
            if ((f1 < f0) == k)
                for (int q = 0; q < D; q++) c->dY[(size_t)i * D + q] = -zi[q] / N;
        }
        nn_backward(F[k], &c->tFa[k], c->dY, c->dX);
        for (int i = 0; i < N; i++)
            for (int r = 0; r < ad; r++) c->dA[(size_t)i * ad + r] += c->dX[(size_t)i * c->inC + od + r];
        /* critic head k: −reg·w/N where it is the min */
        for (int i = 0; i < N; i++) c->dY[i] = (Co[1][i] < Co[0][i]) == k ? (float)(-reg * w / N) : 0.0f;
        nn_backward(&c->C[k], &c->tCa[k], c->dY, c->dX);
        for (int i = 0; i < N; i++)
            for (int r = 0; r < ad; r++) c->dA[(size_t)i * ad + r] += c->dX[(size_t)i * c->inC + od + r];
    }
    nn_zero_grad(actor);
    nn_backward(actor, &c->tA, c->dA, NULL);
    return loss;
}

/* ---- one update --------------------------------------------------------------------------- */
int fbcpr_update(fbcpr *c, const fbcpr_batch *b, fbcpr_stats *st, rz_err *e)
{
    int N = c->N;
    fbcpr_stats s;
    memset(&s, 0, sizeof s);
    const fb_config *f = fb_cfg(c->fb);
    double lrf = fb_lr_factor(f, fb_steps(c->fb));
    fb_data data = {.n = N, .obs_dim = c->od, .act_dim = c->ad, .O = b->O, .A = b->A, .O2 = b->O2, .done = b->done};
    int rc;
    if (c->cfg.cpr) {
        fbcpr_encode_expert(c, N, b->EO2, c->ze);
        for (int i = 0; i < N; i++) c->alpha[i] = (float)rz_rng_uniform(&c->rng);
        fbcpr_disc_loss_fixed(c, b->EO, c->ze, b->O, b->Z, c->alpha, 1, &s);
        c->oD.lr = (float)(c->cfg.lr_disc * lrf);
        nn_adam_step(&c->oD, c->Dn.param, c->Dn.grad);
    }
    fbcpr_sample_z(c, N, N, b->O2, c->cfg.cpr ? N : 0, c->ze, c->z, NULL);
    if ((rc = fb_update_fixed(c->fb, &data, c->idx, c->z, !c->cfg.cpr, &s.fb, e))) return rc;
    if (c->cfg.cpr) {
        draw_noise(c, N, c->noise);
        fbcpr_critic_loss_fixed(c, b->O, b->A, b->O2, b->done, c->z, c->noise, 1, &s);
        for (int k = 0; k < 2; k++) {
            c->oC[k].lr = (float)(c->cfg.lr_critic * lrf);
            nn_adam_step(&c->oC[k], c->C[k].param, c->C[k].grad);
        }
        draw_noise(c, N, c->noise);
        fbcpr_actor_loss_fixed(c, b->O, c->z, c->noise, -1, NULL, 1, &s);
        nn_adam *oA = fb_adam(c->fb, "actor");
        oA->lr = (float)(f->lr_actor * lrf);
        nn_adam_step(oA, fb_net(c->fb, "actor")->param, fb_net(c->fb, "actor")->grad);
        for (int k = 0; k < 2; k++) nn_soft_update(&c->Ct[k], &c->C[k], c->cfg.critic_tau);
    } else {
        s.actor_loss = s.fb.actor_loss;
    }
    c->step++;
    if (st) *st = s;
    if (!isfinite(s.disc_loss) || !isfinite(s.critic_loss) || !isfinite(s.actor_loss))
        return rz_fail(e, RZ_EINTERNAL, "fbcpr: training diverged at step %lld (disc %g, critic %g, actor %g)",
                       (long long)c->step, s.disc_loss, s.critic_loss, s.actor_loss);
    return RZ_OK;
}

const float *fbcpr_batch_z(const fbcpr *c) { return c->z; }

/* ---- state ----------------------------------------------------------------------------------- */
int fbcpr_state(fbcpr *c, fb_tensor **list, int *n, rz_err *e)
{
    fb_tensor *t = rz_calloc(24, sizeof *t, e);
    if (!t) return RZ_EINTERNAL;
    int k = 0;
    if (c->cfg.cpr) {
        k = fb_tensor_add_net(t, k, "cpr.D", &c->Dn, NULL, &c->oD);
        k = fb_tensor_add_net(t, k, "cpr.C1", &c->C[0], &c->Ct[0], &c->oC[0]);
        k = fb_tensor_add_net(t, k, "cpr.C2", &c->C[1], &c->Ct[1], &c->oC[1]);
    }
    memcpy(c->counters, &c->step, sizeof c->step);
    memcpy(c->rng_img, c->rng.s, sizeof c->rng.s);
    k = fb_tensor_add(t, k, "cpr.counters", c->counters, 2);
    k = fb_tensor_add(t, k, "cpr.rng", c->rng_img, 8);
    *list = t;
    *n = k;
    return RZ_OK;
}

void fbcpr_state_loaded(fbcpr *c)
{
    memcpy(&c->step, c->counters, sizeof c->step);
    memcpy(c->rng.s, c->rng_img, sizeof c->rng.s);
    c->oD.t = c->oC[0].t = c->oC[1].t = c->step;
}
