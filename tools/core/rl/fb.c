/* fb.c — FB / VC-FB / MC-FB training and zero-shot inference.
 *
 * One training step on a batch of N transitions (s_i, a_i, s'_i), i = 1..N, d = zdim:
 *
 *  B(s) = √d·b(s)/‖b(s)‖ with b the B network (bnorm; Meta Motivo's normalised B).
 *  z_i   ~ √d·normalize(N(0, I_d)); with probability mix_ratio replaced by
 *          B(s'_j) of a uniformly drawn dataset next-state j (no gradient; the
 *          reference code permutes the batch, which has the same distribution);
 *          with probability traj_ratio by √d·normalize(mean_t B(s'_t)) over a window
 *          of traj_len consecutive transitions (cut at an episode boundary) — the
 *          "reach this region" rewards that room-like tasks are made of, which neither
 *          single-state goals nor Gaussian zs (white noise over states when B is
 *          near-orthogonal, i.e. d ≳ the number of states) resemble. Meta Motivo
 *          embeds its expert trajectories the same way (mean B over 8-step windows).
 *  Target (no gradient): a'_i = argmax_a min_k F̄_k(s'_i, a, z_i)ᵀz_i (discrete; the
 *          mean over k with target_mean, and fb_act acts the same way) or
 *          clip(π(s'_i, z_i) + clip(σε, ±c), ±1) (continuous);
 *          M̄_ij = min_k F̄_k(s'_i, a'_i, z_i)ᵀ B̄(s'_j)                        (N × N)
 *          (target_mean: the mean over k in both places instead of the min)
 *  Online: F_k = F_k(s_i, a_i, z_i) (N × d), Bm = B(s'_j) (N × d), M_k = F_k Bmᵀ (N × N)
 *  L_FB   = Σ_k [ ½·mean_{i≠j}(M_k,ij − γ_i M̄_ij)² − mean_i M_k,ii ]
 *          γ_i = γ·(1 − done_i): a terminal s'_i (fb_data.done) does not bootstrap
 *          (Meta Motivo's `discount * ~terminated`), and γ_i replaces γ in T_i below too
 *          dL/dM_k,ij = (M_k,ij − γ_i M̄_ij)/(N(N−1)) for i≠j, −1/N on the diagonal (=: G_k)
 *          dL/dF_k = G_k Bm,  dL/dBm = Σ_k G_kᵀ F_k
 *  L_orth = mean_{i≠j} C_ij² − 2·mean_i C_ii with C = Bm Bmᵀ
 *          dL/dC =: H (2C/(N(N−1)) off the diagonal, −2/N on it), dL/dBm = 2 H Bm
 *  Conservative penalty α·P (MC-FB's P depends on B too and its gradient reaches B):
 *   VC-FB  Q_k(i,a) = F_k(s_i,a,z_i)ᵀz_i;  P = Σ_k mean_i [logsumexp_a Q_k(i,a) − Q_k(i,a_i)]
 *   MC-FB  M_k(i,a,j) = F_k(s_i,a,z_i)ᵀBm_j; P = Σ_k mean_ij [logsumexp_a M_k(i,a,j) − M_k(i,a_i,j)]
 *   Discrete actions take the logsumexp over all actions exactly. Continuous actions
 *   use action_samples actions per state: half uniform in [−1,1]^m ("OOD"), a quarter
 *   from π(s_i,z_i) and a quarter from π(s'_i,z_i), both with exploration noise, all
 *   evaluated at s_i (cpen_ref = 0); or the reference's (cpen_ref = 1): half uniform,
 *   a sixth π(s_i,z_i) at s_i, a sixth π(s'_i,z_i) evaluated at s'_i, and a sixth
 *   copies of the data action a_i (penalty_sample).
 *   dP/dQ(i,a) = (softmax_a − 1[a = a_i])/N (and /N² for M).
 *   α fixed, or (lagrange) log α follows Adam on  −α·(P − target), i.e. α grows while
 *   P exceeds the target, α = min(exp(log α), 1e6) (fb_lagrange_step; the target for an
 *   exact discrete logsumexp is derived in fb.h, fb_lagrange_target).
 *  grad_clip > 0: every gradient element of F_1, F_2, B clamped to ±grad_clip before Adam.
 *  Q-loss (qloss > 0; Meta Motivo's q_loss): the policy only ever reads Q_k = F_kᵀz, so
 *  this direction gets a direct, low-variance TD loss besides the N × N measure loss.
 *  Implicit reward r_i = B̄(s'_i)ᵀ Cov⁻¹ z_i with Cov = B̄ᵀB̄/N — the reward whose
 *  z_r = E_ρ[r B̄] is z itself. Meta Motivo reads the online B under no_grad; the target
 *  B̄ is used here so that the loss is a plain function of the online networks (its
 *  gradient is checked by finite differences). T_i = r_i + γ_i·Q̄_i with Q̄_i the target
 *  heads' F̄_k(s'_i, a'_i, z_i)ᵀz_i combined as in M̄ (min or mean);
 *  L_Q = Σ_k ½·mean_i (Q_k,i − T_i)²,  dL_Q/dF_k(i) = (Q_k,i − T_i)·z_i / N.
 *  Total = L_FB + ortho_coef·L_orth + qloss·L_Q + α·P. Adam on F_1, F_2, B; targets F̄, B̄ ← Polyak τ.
 *  Continuous actor: maximise min_k F_k(s, π(s,z), z)ᵀz: loss −mean_i min_k Q_k, the
 *  gradient reaching π through dL/d(action input) of F (F's own gradients discarded).
 */
#include "fb.h"
#include "obsnorm.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fb_agent {
    fb_config cfg;
    int A;          /* output blocks of F: n_actions (discrete) or 1 */
    int inF;        /* F input width: obs (+ act) + d */
    nn_mlp F[2], Ft[2], B, Bt, actor;
    nn_adam oF[2], oB, oA;
    float alpha_state[3]; /* log α, Adam m, Adam v */
    rz_rng rng;
    int64_t step;
    float counters[2], rng_img[8]; /* byte images for checkpoints */
    /* tapes */
    nn_tape tF[2], tFt[2], tB, tBt, tBz, tA, tAt, tFK[2], tEvalF[2], tEvalB, tEvalA;
    /* batch workspace */
    float *inF_buf, *inF2_buf, *o2b, *ob, *zb, *Fsel[2], *Ftsel[2], *Mk[2], *Mt, *G, *H;
    double *qtarget, *cov, *covz; /* Q-loss: T_i (N), Cov (d × d), Cov⁻¹z_i (d × N) */
    float *gam;                   /* N: each row's discount γ·(1 − done) */
    float *Bn, *Btn, *dFout, *dB, *Mall, *noise, *ood, *inK, *dK, *inA, *dAin, *dA;
    long *idx;
    unsigned char *ood_at; /* N·K: penalty sample evaluated at s'_i (1) or s_i (0) */
    float *eval_in;
    float *onorm, *norm_buf; /* norm_obs: statistics (2 × obs), EVAL_CHUNK × obs normalised rows */
    double *ens_q;  /* EVAL_CHUNK × max(actions, FB_MAX_ENSEMBLE): summed Q of an ensemble */
    float *ens_act; /* continuous: EVAL_CHUNK × FB_MAX_ENSEMBLE × act_dim candidate actions */
    float *win_obs, *win_B; /* trajectory windows: (N·traj_len) × obs_dim and × d */
    int *win_rows;          /* rows gathered for each windowed z */
};

#define EVAL_CHUNK 256

const char *fb_algo_name(fb_algo a)
{
    return a == FB_ALGO_FB ? "fb" : a == FB_ALGO_VCFB ? "vcfb" : a == FB_ALGO_MCFB ? "mcfb" : "?";
}

int fb_algo_parse(const char *s, fb_algo *a)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, fb_algo_name((fb_algo)i))) {
            *a = (fb_algo)i;
            return 0;
        }
    return -1;
}

void fb_config_default(fb_config *c, fb_algo algo, int obs_dim, int n_actions, int act_dim)
{
    memset(c, 0, sizeof *c);
    c->algo = algo;
    c->obs_dim = obs_dim;
    c->n_actions = n_actions;
    c->act_dim = n_actions > 0 ? 1 : act_dim;
    c->zdim = 50;
    c->hidden = 256;
    c->layers = 2;
    c->batch = 256;
    c->lr_f = c->lr_b = c->lr_actor = 1e-4f;
    c->lr_decay = 1.0f;
    c->gamma = 0.98f;
    c->tau = 0.01f;
    c->ortho_coef = 1.0f;
    c->bnorm = 1;
    c->fscale = 1.0f;
    c->mix_ratio = 0.5f;
    c->traj_ratio = 0;
    c->traj_len = 8;
    c->alpha = 0.1f;
    c->lagrange = 0;
    c->alpha_target = 1.0f;
    c->lr_alpha = 1e-3f;
    c->action_samples = 12;
    c->actor_noise = 0.2f;
    c->noise_clip = 0.3f;
}

double fb_lagrange_target(int n_actions, double ref_tau, int ref_samples, int ref_data_copies)
{
    /* Per head the reference's penalty with Δ: log(c + (K − c)·e^Δ) = ref_tau/2, so
     * e^Δ = (e^{ref_tau/2} − c)/(K − c); ours: 2·log(1 + (A − 1)·e^Δ) (see fb.h).
     * Computed in logs: Δ = ref_tau/2 + log(1 − c·e^{−ref_tau/2}) − log(K − c). */
    int c = ref_data_copies, K = ref_samples;
    if (n_actions < 2 || K - c < 1 || c < 0 || !(ref_tau / 2 > log(c > 0 ? c : 1e-300))) return NAN;
    double h = ref_tau / 2, delta = h + log1p(-c * exp(-h)) - log((double)(K - c));
    double x = log((double)(n_actions - 1)) + delta; /* log((A − 1)e^Δ) */
    return 2.0 * (x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)));
}

void fb_config_reference(fb_config *c)
{
    c->target_mean = 0;
    c->alpha = 1.0f;
    c->lagrange = 1;
    c->grad_clip = 1.0f;
    if (c->n_actions > 1) c->alpha_target = (float)fb_lagrange_target(c->n_actions, FB_REF_TAU, FB_REF_SAMPLES, FB_REF_DATA_COPIES);
    else c->alpha_target = (float)FB_REF_TAU; /* continuous: the reference's own sampled penalty and τ */
}

void fb_target_combine(size_t n, const float *M0, const float *M1, int mean, float *out)
{
    if (mean)
        for (size_t q = 0; q < n; q++) out[q] = 0.5f * (M0[q] + M1[q]);
    else
        for (size_t q = 0; q < n; q++) out[q] = fminf(M0[q], M1[q]);
}

void fb_clip_grad(float *g, size_t n, float clip)
{
    for (size_t q = 0; q < n; q++) g[q] = g[q] < -clip ? -clip : g[q] > clip ? clip : g[q];
}

void fb_lagrange_step(float *state, double penalty, double target, double lr, int64_t t)
{
    /* d/d log α of −α(P − target) = −α(P − target); Adam on the scalar. */
    float alpha = fminf(expf(state[0]), 1e6f);
    float g = -alpha * (float)(penalty - target);
    float *m = &state[1], *v = &state[2];
    *m = 0.9f * *m + 0.1f * g;
    *v = 0.999f * *v + 0.001f * g * g;
    double mh = *m / (1 - pow(0.9, (double)t)), vh = *v / (1 - pow(0.999, (double)t));
    state[0] -= (float)(lr * mh / (sqrt(vh) + 1e-8));
    if (state[0] > 13.8f) state[0] = 13.8f; /* α ≤ 1e6 */
}

const fb_config *fb_cfg(const fb_agent *a) { return &a->cfg; }
int64_t fb_steps(const fb_agent *a) { return a->step; }

nn_mlp *fb_net(fb_agent *a, const char *which)
{
    if (!strcmp(which, "F1")) return &a->F[0];
    if (!strcmp(which, "F2")) return &a->F[1];
    if (!strcmp(which, "B")) return &a->B;
    if (!strcmp(which, "actor")) return a->cfg.n_actions ? NULL : &a->actor;
    return NULL;
}

nn_spec fb_mlp_spec(int in, int hidden, int layers, int out, nn_act out_act)
{
    nn_spec s;
    memset(&s, 0, sizeof s);
    s.n_layers = layers + 1;
    s.sizes[0] = in;
    for (int l = 1; l <= layers; l++) s.sizes[l] = hidden;
    s.sizes[layers + 1] = out;
    s.ln[0] = 1;
    s.act[0] = NN_ACT_TANH;
    for (int l = 1; l < layers; l++) s.act[l] = NN_ACT_RELU;
    s.act[layers] = out_act;
    return s;
}

/* Floats an MLP of these sizes holds (weights, biases, layer-norm gain and shift), and
 * *per_row the floats a tape keeps per batch row (each layer's input, the first layer's
 * pre-norm and normalised values, the output, two backward buffers of the widest
 * layer) — upper estimates, mirroring nn_init and nn_tape_init. */
static double mlp_floats(int in, int hidden, int layers, int out, double *per_row)
{
    int width = in > hidden ? in : hidden;
    if (out > width) width = out;
    *per_row = in + (layers - 1.0) * hidden + hidden + 2.0 * hidden + 1 + out + 2.0 * width;
    return (in + 3.0) * hidden + (layers - 1.0) * (hidden + 1.0) * hidden + (hidden + 1.0) * out;
}

double fb_config_bytes(const fb_config *c)
{
    int disc = c->n_actions > 0, A = disc ? c->n_actions : 1, K = disc ? 0 : c->action_samples;
    int D = c->zdim, ad = c->act_dim, inF = c->obs_dim + (disc ? 0 : ad) + D;
    double N = c->batch, L = c->traj_ratio > 0 ? c->traj_len : 1, rF, rB, rA = 0;
    double pF = mlp_floats(inF, c->hidden, c->layers, A * D, &rF);
    double pB = mlp_floats(c->obs_dim, c->hidden, c->layers, D, &rB);
    double pA = disc ? 0 : mlp_floats(c->obs_dim + D, c->hidden, c->layers, ad, &rA);
    /* parameters and gradients of F_k, F̄_k, B, B̄, π; Adam's m and v of F_k, B, π */
    double f = 2 * 6 * pF + 6 * pB + 4 * pA;
    /* tapes: tF, tFt, tEvalF, tFK per head; tB, tBt, tBz, tEvalB; tA, tAt, tEvalA */
    f += 2 * rF * (2 * N + EVAL_CHUNK + N * K) + rB * (2 * N + N * L + EVAL_CHUNK) +
         (disc ? 0 : rA * (2 * N + EVAL_CHUNK));
    /* batch workspace: the N × N matrices (Mk ×2, Mt, G, H), MC-FB's all-action
     * measures, the Q-loss doubles, windows, and the per-row buffers */
    f += 5 * N * N + (c->algo == FB_ALGO_MCFB ? N * (disc ? A : K) * N : 0) + 2 * (N + D * D + D * N) +
         N * L * (c->obs_dim + D) + N * K * (ad + inF + D) + N * (2 * inF + 4 * c->obs_dim + 9 * D + A * D + 3 * ad + 5) +
         EVAL_CHUNK * (inF + c->obs_dim) + EVAL_CHUNK * (2.0 * (A > FB_MAX_ENSEMBLE ? A : FB_MAX_ENSEMBLE) + (disc ? 0 : FB_MAX_ENSEMBLE * ad)) +
         (c->norm_obs ? (2.0 + EVAL_CHUNK) * c->obs_dim : 0); /* observation statistics, normalised rows */
    /* the allocator rounds each of the ≈ 120 blocks up to a page at worst */
    return 4 * f + 120 * 4096.0;
}

static float *fbuf(size_t n, int *fail, rz_err *e)
{
    float *p = rz_calloc(n ? n : 1, sizeof(float), e);
    if (!p) *fail = 1;
    return p;
}

int fb_create(const fb_config *cfg, uint64_t seed, fb_agent **out, rz_err *e)
{
    *out = NULL;
    const fb_config *c = cfg;
    if (c->zdim < 1 || c->zdim > FB_MAX_ZDIM || c->hidden < 1 || c->hidden > FB_MAX_HIDDEN || c->layers < 1 ||
        c->layers > FB_MAX_LAYERS || c->batch < 2 || c->batch > FB_MAX_BATCH || c->obs_dim < 1 ||
        (c->n_actions == 0 && (c->act_dim < 1 || c->act_dim > 64)) || c->n_actions > 64 ||
        (c->n_actions == 0 && c->algo != FB_ALGO_FB && (c->action_samples < 4 || c->action_samples > 256 || (c->cpen_ref && c->action_samples < 6))) ||
        !(c->grad_clip >= 0))
        return rz_fail(e, RZ_EINPUT, "fb: invalid configuration (zdim %d, hidden %d, layers %d, batch %d)",
                       c->zdim, c->hidden, c->layers, c->batch);
    if (!(c->mix_ratio >= 0 && c->traj_ratio >= 0 && c->mix_ratio + c->traj_ratio <= 1.0f + 1e-6f) ||
        (c->traj_ratio > 0 && (c->traj_len < 1 || c->traj_len > FB_MAX_TRAJ_LEN)))
        return rz_fail(e, RZ_EINPUT, "fb: invalid z mixture (mix %g, traj %g over %d steps): expected mix + traj ≤ 1, 1 ≤ length ≤ %d",
                       c->mix_ratio, c->traj_ratio, c->traj_len, FB_MAX_TRAJ_LEN);
    if (!(c->lr_decay > 0 && c->lr_decay <= 1) || (c->lr_decay < 1 && !(0 <= c->anneal_start && c->anneal_start < c->anneal_end)))
        return rz_fail(e, RZ_EINPUT, "fb: invalid annealing (decay %g from step %lld to %lld): expected 0 < decay ≤ 1, 0 ≤ start < end",
                       c->lr_decay, (long long)c->anneal_start, (long long)c->anneal_end);
    /* Each size above is bounded on its own, but not their products (hidden 8192 ×
     * 7 layers, or batch 65536 with its N × N matrices, would want hundreds of GiB):
     * refuse before allocating anything. */
    double need = fb_config_bytes(c);
    if (need > FB_MAX_BYTES)
        return rz_fail(e, RZ_EINPUT, "fb: configuration needs about %.1f GiB (hidden %d × %d layers, batch %d, d %d): expected at most %.0f GiB",
                       need / 1073741824.0, c->hidden, c->layers, c->batch, c->zdim, FB_MAX_BYTES / 1073741824.0);
    fb_agent *a = rz_calloc(1, sizeof *a, e);
    if (!a) return RZ_EINTERNAL;
    a->cfg = *c;
    int N = c->batch, D = c->zdim, disc = c->n_actions > 0;
    int K = disc ? 0 : c->action_samples;
    a->A = disc ? c->n_actions : 1;
    a->inF = c->obs_dim + (disc ? 0 : c->act_dim) + D;
    rz_rng_seed(&a->rng, seed);
    a->alpha_state[0] = logf(c->alpha > 0 ? c->alpha : 1e-6f);
    int rc = 0, fail = 0;
    nn_spec sF = fb_mlp_spec(a->inF, c->hidden, c->layers, a->A * D, NN_ACT_NONE);
    sF.scale[c->layers] = c->fscale > 0 ? c->fscale : 1.0f;
    nn_spec sB = fb_mlp_spec(c->obs_dim, c->hidden, c->layers, D, NN_ACT_NONE);
    for (int k = 0; k < 2 && !rc; k++) {
        rc = nn_init(&a->F[k], &sF, &a->rng, e);
        if (!rc) rc = nn_init(&a->Ft[k], &sF, &a->rng, e);
        if (!rc) nn_copy_params(&a->Ft[k], &a->F[k]);
        if (!rc) rc = nn_adam_init(&a->oF[k], a->F[k].n_params, c->lr_f, e);
        if (!rc) rc = nn_tape_init(&a->tF[k], &a->F[k], N, e);
        if (!rc) rc = nn_tape_init(&a->tFt[k], &a->F[k], N, e);
        if (!rc) rc = nn_tape_init(&a->tEvalF[k], &a->F[k], EVAL_CHUNK, e);
        if (!rc && K) rc = nn_tape_init(&a->tFK[k], &a->F[k], N * K, e);
    }
    if (!rc) rc = nn_init(&a->B, &sB, &a->rng, e);
    if (!rc) rc = nn_init(&a->Bt, &sB, &a->rng, e);
    if (!rc) nn_copy_params(&a->Bt, &a->B);
    if (!rc) rc = nn_adam_init(&a->oB, a->B.n_params, c->lr_b, e);
    if (!rc) rc = nn_tape_init(&a->tB, &a->B, N, e);
    if (!rc) rc = nn_tape_init(&a->tBt, &a->B, N, e);
    if (!rc) rc = nn_tape_init(&a->tBz, &a->B, N * (c->traj_ratio > 0 ? c->traj_len : 1), e);
    if (!rc) rc = nn_tape_init(&a->tEvalB, &a->B, EVAL_CHUNK, e);
    if (!rc && !disc) {
        nn_spec sA = fb_mlp_spec(c->obs_dim + D, c->hidden, c->layers, c->act_dim, NN_ACT_TANH);
        rc = nn_init(&a->actor, &sA, &a->rng, e);
        if (!rc) rc = nn_adam_init(&a->oA, a->actor.n_params, c->lr_actor, e);
        if (!rc) rc = nn_tape_init(&a->tA, &a->actor, N, e);
        if (!rc) rc = nn_tape_init(&a->tAt, &a->actor, N, e);
        if (!rc) rc = nn_tape_init(&a->tEvalA, &a->actor, EVAL_CHUNK, e);
    }
    if (rc) {
        fb_destroy(a);
        return rc;
    }
    int ad = c->act_dim;
    a->inF_buf = fbuf((size_t)N * a->inF, &fail, e);
    a->inF2_buf = fbuf((size_t)N * a->inF, &fail, e);
    a->o2b = fbuf((size_t)N * c->obs_dim, &fail, e);
    a->ob = fbuf((size_t)N * c->obs_dim, &fail, e);
    a->zb = fbuf((size_t)N * D, &fail, e);
    for (int k = 0; k < 2; k++) {
        a->Fsel[k] = fbuf((size_t)N * D, &fail, e);
        a->Ftsel[k] = fbuf((size_t)N * D, &fail, e);
        a->Mk[k] = fbuf((size_t)N * N, &fail, e);
    }
    a->Mt = fbuf((size_t)N * N, &fail, e);
    a->G = fbuf((size_t)N * N, &fail, e);
    a->H = fbuf((size_t)N * N, &fail, e);
    a->qtarget = rz_calloc((size_t)N, sizeof(double), e);
    a->gam = rz_calloc((size_t)N, sizeof(float), e);
    a->cov = rz_calloc((size_t)D * D, sizeof(double), e);
    a->covz = rz_calloc((size_t)D * N, sizeof(double), e);
    a->Bn = fbuf((size_t)N * D, &fail, e);
    a->Btn = fbuf((size_t)N * D, &fail, e);
    a->dFout = fbuf((size_t)N * a->A * D, &fail, e);
    a->dB = fbuf((size_t)N * D, &fail, e);
    if (c->algo == FB_ALGO_MCFB) a->Mall = fbuf((size_t)N * (disc ? a->A : K) * N, &fail, e);
    a->noise = fbuf((size_t)N * ad * 3, &fail, e);
    if (K) {
        a->ood = fbuf((size_t)N * K * ad, &fail, e);
        a->inK = fbuf((size_t)N * K * a->inF, &fail, e);
        a->dK = fbuf((size_t)N * K * D, &fail, e);
        a->ood_at = rz_calloc((size_t)N * K, 1, e);
        if (!a->ood_at) fail = 1;
    }
    if (!disc) {
        a->inA = fbuf((size_t)N * (c->obs_dim + D), &fail, e);
        a->dAin = fbuf((size_t)N * a->inF, &fail, e);
        a->dA = fbuf((size_t)N * ad, &fail, e);
    }
    if (c->traj_ratio > 0) {
        a->win_obs = fbuf((size_t)N * c->traj_len * c->obs_dim, &fail, e);
        a->win_B = fbuf((size_t)N * c->traj_len * D, &fail, e);
        a->win_rows = rz_calloc((size_t)N, sizeof(int), e);
        if (!a->win_rows) fail = 1;
    }
    a->idx = rz_calloc((size_t)N, sizeof(long), e);
    a->eval_in = fbuf((size_t)EVAL_CHUNK * (a->inF + c->obs_dim), &fail, e);
    if (c->norm_obs) {
        a->onorm = fbuf((size_t)2 * c->obs_dim, &fail, e);
        a->norm_buf = fbuf((size_t)EVAL_CHUNK * c->obs_dim, &fail, e);
        if (a->onorm) rl_obsnorm_init(a->onorm, c->obs_dim);
    }
    a->ens_q = rz_calloc((size_t)EVAL_CHUNK * (a->A > FB_MAX_ENSEMBLE ? a->A : FB_MAX_ENSEMBLE), sizeof(double), e);
    if (!disc) a->ens_act = fbuf((size_t)EVAL_CHUNK * FB_MAX_ENSEMBLE * ad, &fail, e);
    if (fail || !a->idx || !a->qtarget || !a->gam || !a->cov || !a->covz || !a->ens_q) {
        fb_destroy(a);
        return RZ_EINTERNAL;
    }
    *out = a;
    return RZ_OK;
}

void fb_destroy(fb_agent *a)
{
    if (!a) return;
    for (int k = 0; k < 2; k++) {
        nn_free(&a->F[k]);
        nn_free(&a->Ft[k]);
        nn_adam_free(&a->oF[k]);
        nn_tape_free(&a->tF[k]);
        nn_tape_free(&a->tFt[k]);
        nn_tape_free(&a->tFK[k]);
        nn_tape_free(&a->tEvalF[k]);
        free(a->Fsel[k]);
        free(a->Ftsel[k]);
        free(a->Mk[k]);
    }
    nn_free(&a->B);
    nn_free(&a->Bt);
    nn_free(&a->actor);
    nn_adam_free(&a->oB);
    nn_adam_free(&a->oA);
    nn_tape *tapes[] = {&a->tB, &a->tBt, &a->tBz, &a->tA, &a->tAt, &a->tEvalB, &a->tEvalA};
    for (size_t i = 0; i < sizeof tapes / sizeof *tapes; i++) nn_tape_free(tapes[i]);
    float *bufs[] = {a->Bn, a->Btn, a->inF_buf, a->inF2_buf, a->o2b, a->ob, a->zb, a->Mt, a->G, a->H, a->dFout, a->dB,
                     a->Mall, a->noise, a->ood, a->inK, a->dK, a->inA, a->dAin, a->dA, a->eval_in, a->ens_act,
                     a->onorm, a->norm_buf};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(a->idx);
    free(a->ood_at);
    free(a->ens_q);
    free(a->win_obs);
    free(a->win_B);
    free(a->win_rows);
    free(a->qtarget);
    free(a->gam);
    free(a->cov);
    free(a->covz);
    free(a);
}

/* ---- helpers ------------------------------------------------------------------------ */
static double dot(const float *x, const float *y, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)x[i] * y[i];
    return s;
}

/* Row i of F's input: [obs (, act), z]. */
static void put_inF(const fb_agent *a, float *row, const float *obs, const float *act, const float *z)
{
    int od = a->cfg.obs_dim, D = a->cfg.zdim;
    memcpy(row, obs, od * sizeof(float));
    if (!a->cfg.n_actions && act) {
        memcpy(row + od, act, a->cfg.act_dim * sizeof(float));
        memcpy(row + od + a->cfg.act_dim, z, D * sizeof(float));
    } else {
        memcpy(row + od, z, D * sizeof(float));
    }
}

static float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

/* Actor actions for rows [obs, z] in `in` (n rows), plus optional noise n × act_dim. */
static const float *actor_fwd(fb_agent *a, nn_tape *t, const float *in, int n)
{
    return nn_forward(&a->actor, t, in, n);
}

/* B's output map. With bnorm: y = √d·b/‖b‖ per row, whose Jacobian is
 * (√d/‖b‖)(I − b̂b̂ᵀ), so dL/db = (√d/‖b‖)(dy − b̂(b̂·dy)). Without: y = b. */
static const float *B_forward(fb_agent *a, nn_mlp *net, nn_tape *t, const float *X, int n, float *out)
{
    int D = a->cfg.zdim;
    const float *raw = nn_forward(net, t, X, n);
    if (!a->cfg.bnorm) return raw;
    memcpy(out, raw, (size_t)n * D * sizeof(float));
    for (int i = 0; i < n; i++) nn_project_sphere(out + (size_t)i * D, D, sqrtf((float)D));
    return out;
}

static void B_backward(fb_agent *a, float *dY)
{
    int N = a->tB.n, D = a->cfg.zdim;
    if (a->cfg.bnorm) {
        const float *raw = a->tB.x[a->B.n_layers];
        for (int i = 0; i < N; i++) {
            const float *b = raw + (size_t)i * D;
            float *dy = dY + (size_t)i * D;
            double nb = 0, proj = 0;
            for (int q = 0; q < D; q++) nb += (double)b[q] * b[q];
            nb = sqrt(nb);
            if (!(nb > 0)) continue;
            for (int q = 0; q < D; q++) proj += dy[q] * b[q] / nb;
            for (int q = 0; q < D; q++) dy[q] = (float)(sqrt((double)D) / nb * (dy[q] - b[q] / nb * proj));
        }
    }
    nn_backward(&a->B, &a->tB, dY, NULL);
}

/* ---- the loss ------------------------------------------------------------------------ */
int fb_implicit_reward(int n, int d, const float *B, const float *z, double *cov, double *work, double *r)
{
    /* Cov = BᵀB/n in double through dsyrk on Bᵀ (d × n, staged in work); only the lower
     * triangle is formed, which is all dposv reads. */
    for (int i = 0; i < n; i++)
        for (int p = 0; p < d; p++) work[(size_t)p * n + i] = B[(size_t)i * d + p];
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, d, n, 1.0 / n, work, n, 0.0, cov, d);
    /* A relative ridge keeps the solve defined when the rows span fewer than d directions
     * (n < d, or a collapsed B early in training). */
    double tr = 0;
    for (int p = 0; p < d; p++) tr += cov[(size_t)p * d + p];
    for (int p = 0; p < d; p++) cov[(size_t)p * d + p] += 1e-6 * tr / d + 1e-12;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < d; p++) work[(size_t)p * n + i] = z[(size_t)i * d + p];
    int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', d, n, cov, d, work, n);
    for (int i = 0; i < n; i++) {
        double acc = 0;
        for (int p = 0; p < d; p++) acc += work[(size_t)p * n + i] * B[(size_t)i * d + p];
        r[i] = info ? 0.0 : acc;
    }
    return info;
}

double fb_loss_fixed(fb_agent *a, const fb_data *data, const long *idx, const float *z,
                     int with_grad, fb_stats *st)
{
    const fb_config *c = &a->cfg;
    int N = c->batch, D = c->zdim, A = a->A, od = c->obs_dim, ad = c->act_dim;
    int disc = c->n_actions > 0, K = disc ? 0 : c->action_samples;
    float alpha = c->lagrange ? fminf(expf(a->alpha_state[0]), 1e6f) : c->alpha;
    const float *O = data->O, *O2 = data->O2, *Act = data->A;
    /* γ_i = γ·(1 − done_i): terminal rows do not bootstrap */
    float *gam = a->gam;
    for (int i = 0; i < N; i++) gam[i] = c->gamma * (data->done ? 1.0f - data->done[idx[i]] : 1.0f);

    if (with_grad) {
        nn_zero_grad(&a->F[0]);
        nn_zero_grad(&a->F[1]);
        nn_zero_grad(&a->B);
    }
    for (int i = 0; i < N; i++) {
        memcpy(a->ob + (size_t)i * od, O + idx[i] * od, od * sizeof(float));
        memcpy(a->o2b + (size_t)i * od, O2 + idx[i] * od, od * sizeof(float));
        put_inF(a, a->inF_buf + (size_t)i * a->inF, O + idx[i] * od, Act + idx[i] * ad, z + (size_t)i * D);
    }

    /* Target M̄ (N × N). */
    if (disc) {
        for (int i = 0; i < N; i++)
            put_inF(a, a->inF2_buf + (size_t)i * a->inF, O2 + idx[i] * od, NULL, z + (size_t)i * D);
        const float *T0 = nn_forward(&a->Ft[0], &a->tFt[0], a->inF2_buf, N);
        const float *T1 = nn_forward(&a->Ft[1], &a->tFt[1], a->inF2_buf, N);
        for (int i = 0; i < N; i++) {
            int best = 0;
            double bq = -1e300;
            for (int b = 0; b < A; b++) {
                const float *zi = z + (size_t)i * D;
                double q0 = dot(T0 + ((size_t)i * A + b) * D, zi, D), q1 = dot(T1 + ((size_t)i * A + b) * D, zi, D);
                double q = a->cfg.target_mean ? 0.5 * (q0 + q1) : fmin(q0, q1);
                if (q > bq) bq = q, best = b;
            }
            memcpy(a->Ftsel[0] + (size_t)i * D, T0 + ((size_t)i * A + best) * D, D * sizeof(float));
            memcpy(a->Ftsel[1] + (size_t)i * D, T1 + ((size_t)i * A + best) * D, D * sizeof(float));
        }
    } else {
        for (int i = 0; i < N; i++) {
            memcpy(a->inA + (size_t)i * (od + D), O2 + idx[i] * od, od * sizeof(float));
            memcpy(a->inA + (size_t)i * (od + D) + od, z + (size_t)i * D, D * sizeof(float));
        }
        const float *pi2 = actor_fwd(a, &a->tAt, a->inA, N);
        for (int i = 0; i < N; i++) {
            float act2[64];
            for (int m = 0; m < ad; m++)
                act2[m] = clampf(pi2[(size_t)i * ad + m] + a->noise[(size_t)i * ad + m], -1, 1);
            put_inF(a, a->inF2_buf + (size_t)i * a->inF, O2 + idx[i] * od, act2, z + (size_t)i * D);
        }
        const float *T0 = nn_forward(&a->Ft[0], &a->tFt[0], a->inF2_buf, N);
        const float *T1 = nn_forward(&a->Ft[1], &a->tFt[1], a->inF2_buf, N);
        memcpy(a->Ftsel[0], T0, (size_t)N * D * sizeof(float));
        memcpy(a->Ftsel[1], T1, (size_t)N * D * sizeof(float));
    }
    const float *Bbar = B_forward(a, &a->Bt, &a->tBt, a->o2b, N, a->Btn);
    nn_gemm(0, 1, N, N, D, 1.0f, a->Ftsel[0], Bbar, 0.0f, a->Mt);
    nn_gemm(0, 1, N, N, D, 1.0f, a->Ftsel[1], Bbar, 0.0f, a->G); /* G as scratch */
    fb_target_combine((size_t)N * N, a->Mt, a->G, a->cfg.target_mean, a->Mt);

    /* Q-loss targets T_i = r_i + γ Q̄_i (see the header comment). */
    if (c->qloss > 0) {
        fb_implicit_reward(N, D, Bbar, z, a->cov, a->covz, a->qtarget);
        for (int i = 0; i < N; i++) {
            double q0 = dot(a->Ftsel[0] + (size_t)i * D, z + (size_t)i * D, D);
            double q1 = dot(a->Ftsel[1] + (size_t)i * D, z + (size_t)i * D, D);
            a->qtarget[i] += gam[i] * (c->target_mean ? 0.5 * (q0 + q1) : fmin(q0, q1));
        }
    }

    /* Online forward. */
    const float *Bm = B_forward(a, &a->B, &a->tB, a->o2b, N, a->Bn);
    const float *Fout[2];
    for (int k = 0; k < 2; k++) {
        Fout[k] = nn_forward(&a->F[k], &a->tF[k], a->inF_buf, N);
        for (int i = 0; i < N; i++) {
            int blk = disc ? (int)Act[idx[i] * ad] : 0;
            memcpy(a->Fsel[k] + (size_t)i * D, Fout[k] + ((size_t)i * A + blk) * D, D * sizeof(float));
        }
        nn_gemm(0, 1, N, N, D, 1.0f, a->Fsel[k], Bm, 0.0f, a->Mk[k]);
    }
    double nn1 = (double)N * (N - 1), loss_fb = 0, loss_o = 0, loss_q = 0, pen = 0, qm = 0;
    if (with_grad) memset(a->dB, 0, (size_t)N * D * sizeof(float));

    /* Orthonormality: C = Bm Bmᵀ into H, then H ← dL/dC, dB += coef·2 H Bm. */
    nn_gemm(0, 1, N, N, D, 1.0f, Bm, Bm, 0.0f, a->H);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            float *h = &a->H[(size_t)i * N + j];
            if (i == j) {
                loss_o += -2.0 * *h / N;
                *h = -2.0f / N;
            } else {
                loss_o += (double)*h * *h / nn1;
                *h = (float)(2.0 * *h / nn1);
            }
        }
    if (with_grad) nn_gemm(0, 0, N, D, N, 2.0f * c->ortho_coef, a->H, Bm, 1.0f, a->dB);

    for (int k = 0; k < 2; k++) {
        const float *M = a->Mk[k];
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                size_t q = (size_t)i * N + j;
                if (i == j) {
                    loss_fb -= M[q] / N;
                    a->G[q] = -1.0f / N;
                } else {
                    double diff = M[q] - gam[i] * a->Mt[q];
                    loss_fb += 0.5 * diff * diff / nn1;
                    a->G[q] = (float)(diff / nn1);
                }
            }
        for (int i = 0; i < N; i++) {
            double q = dot(a->Fsel[k] + (size_t)i * D, z + (size_t)i * D, D);
            qm += q / (2.0 * N);
            if (c->qloss > 0) loss_q += 0.5 * (q - a->qtarget[i]) * (q - a->qtarget[i]) / N;
        }
        if (!with_grad && c->algo == FB_ALGO_FB) continue;
        float *dF = a->dFout;
        memset(dF, 0, (size_t)N * A * D * sizeof(float));
        if (with_grad) {
            /* dB += G_kᵀ F_k; dF_k (selected block) = G_k Bm into Fsel scratch rows. */
            nn_gemm(1, 0, N, D, N, 1.0f, a->G, a->Fsel[k], 1.0f, a->dB);
            nn_gemm(0, 0, N, D, N, 1.0f, a->G, Bm, 0.0f, a->Ftsel[k]); /* Ftsel reused: dF_k */
            for (int i = 0; i < N; i++) {
                int blk = disc ? (int)Act[idx[i] * ad] : 0;
                memcpy(dF + ((size_t)i * A + blk) * D, a->Ftsel[k] + (size_t)i * D, D * sizeof(float));
                if (c->qloss > 0) {
                    const float *zi = z + (size_t)i * D;
                    float gq = (float)(c->qloss * (dot(a->Fsel[k] + (size_t)i * D, zi, D) - a->qtarget[i]) / N);
                    float *row = dF + ((size_t)i * A + blk) * D;
                    for (int r = 0; r < D; r++) row[r] += gq * zi[r];
                }
            }
        }
        /* Conservative penalty, discrete actions: exact logsumexp over the A blocks. */
        if (disc && c->algo == FB_ALGO_VCFB) {
            for (int i = 0; i < N; i++) {
                const float *zi = z + (size_t)i * D;
                double q[64] = {0}, mx = -1e300, se = 0;
                int ai = (int)Act[idx[i] * ad];
                for (int b = 0; b < A; b++) {
                    q[b] = dot(Fout[k] + ((size_t)i * A + b) * D, zi, D);
                    if (q[b] > mx) mx = q[b];
                }
                for (int b = 0; b < A; b++) se += exp(q[b] - mx);
                pen += (mx + log(se) - q[ai]) / N;
                if (with_grad)
                    for (int b = 0; b < A; b++) {
                        float gq = (float)(alpha * (exp(q[b] - mx) / se - (b == ai)) / N);
                        float *row = dF + ((size_t)i * A + b) * D;
                        for (int m = 0; m < D; m++) row[m] += gq * zi[m];
                    }
            }
        } else if (disc && c->algo == FB_ALGO_MCFB) {
            /* Mall ((N·A) × N) = Fout_k Bmᵀ; row i·A+b, column j. */
            nn_gemm(0, 1, N * A, N, D, 1.0f, Fout[k], Bm, 0.0f, a->Mall);
            double n2 = (double)N * N;
            for (int i = 0; i < N; i++) {
                int ai = (int)Act[idx[i] * ad];
                float *Mi = a->Mall + (size_t)i * A * N;
                for (int j = 0; j < N; j++) {
                    double mx = -1e300, se = 0;
                    for (int b = 0; b < A; b++) mx = fmax(mx, Mi[(size_t)b * N + j]);
                    for (int b = 0; b < A; b++) se += exp(Mi[(size_t)b * N + j] - mx);
                    pen += (mx + log(se) - Mi[(size_t)ai * N + j]) / n2;
                    for (int b = 0; b < A; b++) /* overwrite with dP·α */
                        Mi[(size_t)b * N + j] = (float)(alpha * (exp(Mi[(size_t)b * N + j] - mx) / se - (b == ai)) / n2);
                }
            }
            if (with_grad) {
                nn_gemm(0, 0, N * A, D, N, 1.0f, a->Mall, Bm, 1.0f, dF);
                nn_gemm(1, 0, N, D, N * A, 1.0f, a->Mall, Fout[k], 1.0f, a->dB);
            }
        } else if (!disc && c->algo != FB_ALGO_FB) {
            /* Sampled actions: inK rows (i, m) = [o_i, act_im, z_i]. */
            for (int i = 0; i < N; i++)
                for (int m = 0; m < K; m++) {
                    float act[64];
                    for (int r = 0; r < ad; r++) act[r] = clampf(a->ood[((size_t)i * K + m) * ad + r], -1, 1);
                    const float *o = a->ood_at[(size_t)i * K + m] ? a->o2b : a->ob; /* s'_i or s_i */
                    put_inF(a, a->inK + ((size_t)i * K + m) * a->inF, o + (size_t)i * od, act, z + (size_t)i * D);
                }
            const float *FK = nn_forward(&a->F[k], &a->tFK[k], a->inK, N * K);
            memset(a->dK, 0, (size_t)N * K * D * sizeof(float));
            if (c->algo == FB_ALGO_VCFB) {
                for (int i = 0; i < N; i++) {
                    const float *zi = z + (size_t)i * D;
                    double q[256], mx = -1e300, se = 0;
                    for (int m = 0; m < K; m++) {
                        q[m] = dot(FK + ((size_t)i * K + m) * D, zi, D);
                        mx = fmax(mx, q[m]);
                    }
                    for (int m = 0; m < K; m++) se += exp(q[m] - mx);
                    double qd = dot(a->Fsel[k] + (size_t)i * D, zi, D);
                    pen += (mx + log(se) - qd) / N;
                    if (with_grad) {
                        for (int m = 0; m < K; m++) {
                            float gq = (float)(alpha * exp(q[m] - mx) / se / N);
                            for (int r = 0; r < D; r++) a->dK[((size_t)i * K + m) * D + r] += gq * zi[r];
                        }
                        for (int r = 0; r < D; r++) dF[(size_t)i * D + r] -= (float)(alpha / N) * zi[r];
                    }
                }
            } else {
                /* Mall (N·K × N) = FK Bmᵀ; the data-action measure is M_k itself. */
                nn_gemm(0, 1, N * K, N, D, 1.0f, FK, Bm, 0.0f, a->Mall);
                double n2 = (double)N * N;
                for (int i = 0; i < N; i++) {
                    float *Mi = a->Mall + (size_t)i * K * N;
                    for (int j = 0; j < N; j++) {
                        double mx = -1e300, se = 0;
                        for (int m = 0; m < K; m++) mx = fmax(mx, Mi[(size_t)m * N + j]);
                        for (int m = 0; m < K; m++) se += exp(Mi[(size_t)m * N + j] - mx);
                        pen += (mx + log(se) - M[(size_t)i * N + j]) / n2;
                        for (int m = 0; m < K; m++)
                            Mi[(size_t)m * N + j] = (float)(alpha * exp(Mi[(size_t)m * N + j] - mx) / se / n2);
                    }
                }
                if (with_grad) {
                    nn_gemm(0, 0, N * K, D, N, 1.0f, a->Mall, Bm, 0.0f, a->dK);
                    nn_gemm(1, 0, N, D, N * K, 1.0f, a->Mall, FK, 1.0f, a->dB);
                    /* Data-action term −α/N² Σ_ij F_k(i)ᵀBm_j: dF_k(i) −= α/N² Σ_j Bm_j,
                     * dBm_j −= α/N² Σ_i F_k(i). */
                    for (int r = 0; r < D; r++) {
                        double sb = 0, sf = 0;
                        for (int j = 0; j < N; j++) sb += Bm[(size_t)j * D + r];
                        for (int i = 0; i < N; i++) sf += a->Fsel[k][(size_t)i * D + r];
                        for (int i = 0; i < N; i++) dF[(size_t)i * D + r] -= (float)(alpha * sb / n2);
                        for (int j = 0; j < N; j++) a->dB[(size_t)j * D + r] -= (float)(alpha * sf / n2);
                    }
                }
            }
            if (with_grad) nn_backward(&a->F[k], &a->tFK[k], a->dK, NULL);
        }
        if (with_grad) nn_backward(&a->F[k], &a->tF[k], dF, NULL);
    }
    if (with_grad) B_backward(a, a->dB);
    double total = loss_fb + c->ortho_coef * loss_o + c->qloss * loss_q + (c->algo != FB_ALGO_FB ? alpha * pen : 0);
    if (st) {
        st->fb_loss = loss_fb;
        st->ortho_loss = loss_o;
        st->q_loss = loss_q;
        st->penalty = pen;
        st->alpha = c->algo != FB_ALGO_FB ? alpha : 0;
        st->q_mean = qm;
    }
    return total;
}

/* The actor's loss on a fixed batch (continuous actions): −mean_i min_k F_k(s_i, π(s_i, z_i),
 * z_i)ᵀz_i, and with with_grad its gradient in the actor's grad array (through dL/d(action
 * input) of F; F's grad arrays are left dirty — fb_loss_fixed zeroes them). */
double fb_actor_loss_fixed(fb_agent *a, const fb_data *data, const long *idx, const float *z, int with_grad)
{
    const fb_config *c = &a->cfg;
    int N = c->batch, D = c->zdim, od = c->obs_dim, ad = c->act_dim;
    /* Actor: rows [o_i, z_i] → π; F input [o_i, π, z_i]; loss −mean_i min_k F_kᵀz_i. */
    for (int i = 0; i < N; i++) {
        memcpy(a->inA + (size_t)i * (od + D), data->O + idx[i] * od, od * sizeof(float));
        memcpy(a->inA + (size_t)i * (od + D) + od, z + (size_t)i * D, D * sizeof(float));
    }
    const float *pi = nn_forward(&a->actor, &a->tA, a->inA, N);
    for (int i = 0; i < N; i++)
        put_inF(a, a->inF_buf + (size_t)i * a->inF, data->O + idx[i] * od, pi + (size_t)i * ad, z + (size_t)i * D);
    const float *Q0 = nn_forward(&a->F[0], &a->tF[0], a->inF_buf, N);
    const float *Q1 = nn_forward(&a->F[1], &a->tF[1], a->inF_buf, N);
    memset(a->dA, 0, (size_t)N * ad * sizeof(float));
    double aloss = 0;
    for (int k = 0; k < 2; k++) {
        memset(a->dFout, 0, (size_t)N * D * sizeof(float));
        int any = 0;
        for (int i = 0; i < N; i++) {
            const float *zi = z + (size_t)i * D;
            double q0 = dot(Q0 + (size_t)i * D, zi, D), q1 = dot(Q1 + (size_t)i * D, zi, D);
            int kmin = q1 < q0;
            if (k == 0) aloss -= fmin(q0, q1) / N;
            if (kmin == k) {
                any = 1;
                for (int r = 0; r < D; r++) a->dFout[(size_t)i * D + r] = -zi[r] / N;
            }
        }
        if (!any) continue;
        nn_backward(&a->F[k], &a->tF[k], a->dFout, a->dAin);
        for (int i = 0; i < N; i++)
            for (int r = 0; r < ad; r++) a->dA[(size_t)i * ad + r] += a->dAin[(size_t)i * a->inF + od + r];
    }
    if (with_grad) {
        nn_zero_grad(&a->actor);
        nn_backward(&a->actor, &a->tA, a->dA, NULL);
    }
    return aloss;
}

/* ---- one training step ------------------------------------------------------------- */
double fb_lr_factor(const fb_config *c, int64_t step)
{
    if (!(c->lr_decay > 0 && c->lr_decay < 1) || step < c->anneal_start) return 1.0;
    if (step >= c->anneal_end) return c->lr_decay;
    return pow(c->lr_decay, (double)(step - c->anneal_start) / (double)(c->anneal_end - c->anneal_start));
}

static void sample_z(fb_agent *a, const fb_data *data, float *z)
{
    const fb_config *c = &a->cfg;
    int N = c->batch, D = c->zdim, od = c->obs_dim, L = c->traj_len;
    float rD = sqrtf((float)D);
    for (int i = 0; i < N; i++) {
        for (int m = 0; m < D; m++) z[(size_t)i * D + m] = (float)rz_rng_normal(&a->rng);
        nn_project_sphere(z + (size_t)i * D, D, rD);
    }
    /* Mixing: B of a uniformly drawn dataset next-state (a random permutation of the
     * batch in the reference; a fresh uniform draw has the same distribution), or the
     * mean B over a window of consecutive transitions. */
    int nmix = 0, nwin = 0, rows = 0;
    for (int i = 0; i < N; i++) {
        double u = rz_rng_uniform(&a->rng);
        if (u < c->mix_ratio) {
            long j = (long)(rz_rng_uniform(&a->rng) * data->n);
            memcpy(a->o2b + (size_t)nmix * od, data->O2 + j * od, od * sizeof(float));
            a->idx[nmix++] = i;
        } else if (u < c->mix_ratio + c->traj_ratio) {
            long j = (long)(rz_rng_uniform(&a->rng) * data->n);
            int len = 1;
            memcpy(a->win_obs + (size_t)rows * od, data->O2 + j * od, od * sizeof(float));
            /* extend while transition t+1 starts where t ended (the same episode) */
            while (len < L && j + len < data->n &&
                   !memcmp(data->O + (j + len) * od, data->O2 + (j + len - 1) * od, od * sizeof(float))) {
                memcpy(a->win_obs + (size_t)(rows + len) * od, data->O2 + (j + len) * od, od * sizeof(float));
                len++;
            }
            a->win_rows[nwin] = len;
            a->idx[N - 1 - nwin++] = i; /* windowed zs are listed from the end of idx */
            rows += len;
        }
    }
    if (nmix) {
        const float *Bz = nn_forward(&a->B, &a->tBz, a->o2b, nmix);
        for (int q = 0; q < nmix; q++) {
            float *zi = z + (size_t)a->idx[q] * D;
            memcpy(zi, Bz + (size_t)q * D, D * sizeof(float));
            nn_project_sphere(zi, D, rD);
        }
    }
    if (nwin) {
        const float *Bw = B_forward(a, &a->B, &a->tBz, a->win_obs, rows, a->win_B);
        for (int q = 0, r0 = 0; q < nwin; r0 += a->win_rows[q++]) {
            float *zi = z + (size_t)a->idx[N - 1 - q] * D;
            memset(zi, 0, D * sizeof(float));
            for (int r = r0; r < r0 + a->win_rows[q]; r++)
                for (int m = 0; m < D; m++) zi[m] += Bw[(size_t)r * D + m];
            nn_project_sphere(zi, D, rD);
        }
    }
}

/* The continuous penalty's K actions per batch row i into a->ood (N·K × act_dim), and
 * which state each is evaluated at into a->ood_at (N·K; 0: s_i, 1: s'_i).
 *  cpen_ref = 0 (the first checkpoints'): [0, K/2) uniform in [−1,1]^m, then
 *    (K − K/2)/2 of π(s_i, z_i) + noise, then the rest π(s'_i, z_i) + noise — all at s_i.
 *  cpen_ref = 1 (the reference's): with Kc = (K − K/2)/3 and Ko = K − 3·Kc:
 *    [0, Ko) uniform at s_i; [Ko, Ko+Kc) π(s_i, z_i) + noise at s_i;
 *    [Ko+Kc, Ko+2Kc) π(s'_i, z_i) + noise at s'_i; [Ko+2Kc, K) copies of a_i at s_i
 *    (F of the data action inside the logsumexp, with its gradient).
 * noise = clip(actor_noise·ε, ±noise_clip), ε ~ N(0, 1); actions are clamped to [−1, 1]
 * where F reads them. */
static void penalty_sample(fb_agent *a, const fb_data *data, const long *idx, const float *z)
{
    const fb_config *c = &a->cfg;
    int N = c->batch, D = c->zdim, od = c->obs_dim, ad = c->act_dim, K = c->action_samples;
    for (int i = 0; i < N; i++) {
        memcpy(a->inA + (size_t)i * (od + D), data->O + idx[i] * od, od * sizeof(float));
        memcpy(a->inA + (size_t)i * (od + D) + od, z + (size_t)i * D, D * sizeof(float));
    }
    if (!c->cpen_ref) {
        int Kh = K / 2, Kq = (K - Kh) / 2;
        memset(a->ood_at, 0, (size_t)N * K);
        const float *p1 = actor_fwd(a, &a->tA, a->inA, N);
        for (int i = 0; i < N; i++)
            for (int m = Kh; m < Kh + Kq; m++)
                for (int r = 0; r < ad; r++)
                    a->ood[((size_t)i * K + m) * ad + r] = p1[(size_t)i * ad + r] +
                        clampf((float)(c->actor_noise * rz_rng_normal(&a->rng)), -c->noise_clip, c->noise_clip);
        for (int i = 0; i < N; i++)
            memcpy(a->inA + (size_t)i * (od + D), data->O2 + idx[i] * od, od * sizeof(float));
        const float *p2 = actor_fwd(a, &a->tA, a->inA, N);
        for (int i = 0; i < N; i++) {
            for (int m = 0; m < Kh; m++)
                for (int r = 0; r < ad; r++)
                    a->ood[((size_t)i * K + m) * ad + r] = (float)(2 * rz_rng_uniform(&a->rng) - 1);
            for (int m = Kh + Kq; m < K; m++)
                for (int r = 0; r < ad; r++)
                    a->ood[((size_t)i * K + m) * ad + r] = p2[(size_t)i * ad + r] +
                        clampf((float)(c->actor_noise * rz_rng_normal(&a->rng)), -c->noise_clip, c->noise_clip);
        }
        return;
    }
    int Kc = (K - K / 2) / 3, Ko = K - 3 * Kc;
    const float *p1 = actor_fwd(a, &a->tA, a->inA, N);
    for (int i = 0; i < N; i++)
        for (int m = 0; m < K; m++) {
            float *act = a->ood + ((size_t)i * K + m) * ad;
            a->ood_at[(size_t)i * K + m] = m >= Ko + Kc && m < Ko + 2 * Kc;
            if (m < Ko)
                for (int r = 0; r < ad; r++) act[r] = (float)(2 * rz_rng_uniform(&a->rng) - 1);
            else if (m < Ko + Kc)
                for (int r = 0; r < ad; r++)
                    act[r] = p1[(size_t)i * ad + r] +
                             clampf((float)(c->actor_noise * rz_rng_normal(&a->rng)), -c->noise_clip, c->noise_clip);
            else if (m >= Ko + 2 * Kc)
                memcpy(act, data->A + idx[i] * ad, ad * sizeof(float));
        }
    for (int i = 0; i < N; i++) memcpy(a->inA + (size_t)i * (od + D), data->O2 + idx[i] * od, od * sizeof(float));
    const float *p2 = actor_fwd(a, &a->tA, a->inA, N);
    for (int i = 0; i < N; i++)
        for (int m = Ko + Kc; m < Ko + 2 * Kc; m++)
            for (int r = 0; r < ad; r++)
                a->ood[((size_t)i * K + m) * ad + r] =
                    p2[(size_t)i * ad + r] + clampf((float)(c->actor_noise * rz_rng_normal(&a->rng)), -c->noise_clip, c->noise_clip);
}

nn_adam *fb_adam(fb_agent *a, const char *which)
{
    if (!strcmp(which, "actor")) return a->cfg.n_actions ? NULL : &a->oA;
    return NULL;
}

const float *fb_penalty_sample(fb_agent *a, const fb_data *data, const long *idx, const float *z, const unsigned char **at)
{
    if (a->cfg.n_actions || a->cfg.algo == FB_ALGO_FB) return NULL;
    penalty_sample(a, data, idx, z);
    if (at) *at = a->ood_at;
    return a->ood;
}

int fb_train_step(fb_agent *a, const fb_data *data, fb_stats *st, rz_err *e)
{
    const fb_config *c = &a->cfg;
    int N = c->batch, D = c->zdim, od = c->obs_dim, ad = c->act_dim;
    if (c->norm_obs)
        return rz_fail(e, RZ_EINPUT, "fb: observation normalisation is for online training (its statistics follow the replay)");
    if (data->n < 1 || data->obs_dim != od || data->act_dim != ad)
        return rz_fail(e, RZ_EINPUT, "fb: dataset (obs %d, act %d, n %ld) does not match the agent (obs %d, act %d)",
                       data->obs_dim, data->act_dim, data->n, od, ad);
    float *z = rz_malloc((size_t)N * D * sizeof(float), e);
    long *idx = rz_malloc((size_t)N * sizeof(long), e);
    if (!z || !idx) {
        free(z);
        free(idx);
        return RZ_EINTERNAL;
    }
    sample_z(a, data, z);
    for (int i = 0; i < N; i++) idx[i] = (long)(rz_rng_uniform(&a->rng) * data->n);
    int rc = fb_update_fixed(a, data, idx, z, 1, st, e);
    free(z);
    free(idx);
    return rc;
}

int fb_update_fixed(fb_agent *a, const fb_data *data, const long *idx, const float *z, int actor, fb_stats *st,
                    rz_err *e)
{
    const fb_config *c = &a->cfg;
    int N = c->batch, ad = c->act_dim, disc = c->n_actions > 0;
    int K = disc ? 0 : c->action_samples;
    if (!disc) {
        for (int q = 0; q < N * ad; q++)
            a->noise[q] = clampf((float)(c->actor_noise * rz_rng_normal(&a->rng)), -c->noise_clip, c->noise_clip);
        if (K) penalty_sample(a, data, idx, z);
    }
    fb_stats s;
    memset(&s, 0, sizeof s);
    fb_loss_fixed(a, data, idx, z, 1, &s);
    /* Late in training a smaller step averages out the mini-batch noise in F, which is
     * what decides a greedy action when Q differs by a few percent between neighbours. */
    double lrf = fb_lr_factor(c, a->step);
    a->oF[0].lr = a->oF[1].lr = (float)(c->lr_f * lrf);
    a->oB.lr = (float)(c->lr_b * lrf);
    a->oA.lr = (float)(c->lr_actor * lrf);
    if (c->grad_clip > 0) { /* the reference clamps each gradient element of F and B */
        fb_clip_grad(a->F[0].grad, a->F[0].n_params, c->grad_clip);
        fb_clip_grad(a->F[1].grad, a->F[1].n_params, c->grad_clip);
        fb_clip_grad(a->B.grad, a->B.n_params, c->grad_clip);
    }
    nn_adam_step(&a->oF[0], a->F[0].param, a->F[0].grad);
    nn_adam_step(&a->oF[1], a->F[1].param, a->F[1].grad);
    nn_adam_step(&a->oB, a->B.param, a->B.grad);
    if (c->lagrange && c->algo != FB_ALGO_FB) fb_lagrange_step(a->alpha_state, s.penalty, c->alpha_target, c->lr_alpha, a->step + 1);
    if (!disc && actor) {
        s.actor_loss = fb_actor_loss_fixed(a, data, idx, z, 1);
        nn_adam_step(&a->oA, a->actor.param, a->actor.grad);
    }
    nn_soft_update(&a->Ft[0], &a->F[0], c->tau);
    nn_soft_update(&a->Ft[1], &a->F[1], c->tau);
    nn_soft_update(&a->Bt, &a->B, c->tau);
    a->step++;
    if (st) *st = s;
    int bad = !isfinite(s.fb_loss) || !isfinite(s.ortho_loss) || !isfinite(s.penalty);
    if (bad) return rz_fail(e, RZ_EINTERNAL, "fb: training diverged at step %lld (loss %g, ortho %g, penalty %g)",
                            (long long)a->step, s.fb_loss, s.ortho_loss, s.penalty);
    return RZ_OK;
}

/* ---- inference ----------------------------------------------------------------------- */
float *fb_obs_norm(fb_agent *a) { return a->onorm; }

void fb_norm_obs(const fb_agent *a, int n, const float *O, float *out)
{
    int od = a->cfg.obs_dim;
    if (a->onorm) rl_obsnorm_apply(a->onorm, od, n, O, out);
    else if (out != O) memcpy(out, O, (size_t)n * od * sizeof(float));
}

/* What the networks read for m ≤ EVAL_CHUNK raw observations: O itself, or (norm_obs)
 * their normalised copy in the agent's own buffer (an ensemble's members each their own). */
static const float *obs_in(fb_agent *a, int m, const float *O)
{
    if (!a->onorm) return O;
    rl_obsnorm_apply(a->onorm, a->cfg.obs_dim, m, O, a->norm_buf);
    return a->norm_buf;
}

int fb_infer_z_reward(fb_agent *a, int n, const float *O, const float *r, float *z, rz_err *e)
{
    int D = a->cfg.zdim, od = a->cfg.obs_dim;
    double acc[FB_MAX_ZDIM] = {0};
    for (int i = 0; i < n; i++)
        if (!isfinite(r[i])) return rz_fail(e, RZ_EINPUT, "reward inference: reward %d is not finite (%g)", i, r[i]);
    for (int s0 = 0; s0 < n; s0 += EVAL_CHUNK) {
        int m = n - s0 < EVAL_CHUNK ? n - s0 : EVAL_CHUNK;
        const float *Bo = nn_forward(&a->B, &a->tEvalB, obs_in(a, m, O + (size_t)s0 * od), m);
        for (int i = 0; i < m; i++) {
            double scale = 1;
            if (a->cfg.bnorm) {
                double nb = dot(Bo + (size_t)i * D, Bo + (size_t)i * D, D);
                scale = nb > 0 ? sqrt(D / nb) : 0;
            }
            for (int q = 0; q < D; q++) acc[q] += (double)r[s0 + i] * scale * Bo[(size_t)i * D + q];
        }
    }
    double nrm = 0;
    for (int q = 0; q < D; q++) nrm += acc[q] * acc[q];
    if (!(nrm > 0)) { /* the reward vanishes on every label: no information, z = 0 */
        memset(z, 0, D * sizeof(float));
        return RZ_OK;
    }
    for (int q = 0; q < D; q++) z[q] = (float)(acc[q] / sqrt(nrm) * sqrt((double)D));
    return RZ_OK;
}

int fb_infer_z_goal(fb_agent *a, const float *goal_obs, float *z, rz_err *e)
{
    int D = a->cfg.zdim;
    const float *Bo = nn_forward(&a->B, &a->tEvalB, obs_in(a, 1, goal_obs), 1);
    memcpy(z, Bo, D * sizeof(float));
    nn_project_sphere(z, D, sqrtf((float)D));
    return RZ_OK;
}

/* Q_a(o_i, b, z) for every discrete action b of m ≤ EVAL_CHUNK rows, the two heads
 * combined as the TD target combines them (so the greedy policy is the one whose measure
 * F was trained on), added into q[i·A + b]. */
static void add_q_discrete(fb_agent *a, int m, const float *O, const float *z, double *q)
{
    int D = a->cfg.zdim, od = a->cfg.obs_dim, A = a->A;
    O = obs_in(a, m, O);
    for (int i = 0; i < m; i++) put_inF(a, a->eval_in + (size_t)i * a->inF, O + (size_t)i * od, NULL, z);
    const float *F0 = nn_forward(&a->F[0], &a->tEvalF[0], a->eval_in, m);
    const float *F1 = nn_forward(&a->F[1], &a->tEvalF[1], a->eval_in, m);
    for (int i = 0; i < m; i++)
        for (int b = 0; b < A; b++) {
            double q0 = dot(F0 + ((size_t)i * A + b) * D, z, D), q1 = dot(F1 + ((size_t)i * A + b) * D, z, D);
            q[(size_t)i * A + b] += a->cfg.target_mean ? 0.5 * (q0 + q1) : fmin(q0, q1);
        }
}

/* Continuous: Q_a(o_i, act_i, z) for m rows, added into q[i·stride]. */
static void add_q_at(fb_agent *a, int m, const float *O, const float *act, const float *z, double *q, int stride)
{
    int D = a->cfg.zdim, od = a->cfg.obs_dim, ad = a->cfg.act_dim;
    O = obs_in(a, m, O);
    for (int i = 0; i < m; i++) put_inF(a, a->eval_in + (size_t)i * a->inF, O + (size_t)i * od, act + (size_t)i * ad, z);
    const float *F0 = nn_forward(&a->F[0], &a->tEvalF[0], a->eval_in, m);
    const float *F1 = nn_forward(&a->F[1], &a->tEvalF[1], a->eval_in, m);
    for (int i = 0; i < m; i++) {
        double q0 = dot(F0 + (size_t)i * D, z, D), q1 = dot(F1 + (size_t)i * D, z, D);
        q[(size_t)i * stride] += a->cfg.target_mean ? 0.5 * (q0 + q1) : fmin(q0, q1);
    }
}

/* The actor's π(o_i, z) for m rows into act (m × act_dim). */
/* zs: the z of row i at z + i·zs (zs = 0: one z for every row; D: one z per row). */
static void actor_act(fb_agent *a, int m, const float *O, const float *z, size_t zs, float *act)
{
    int D = a->cfg.zdim, od = a->cfg.obs_dim;
    float *in = a->eval_in;
    O = obs_in(a, m, O);
    for (int i = 0; i < m; i++) {
        memcpy(in + (size_t)i * (od + D), O + (size_t)i * od, od * sizeof(float));
        memcpy(in + (size_t)i * (od + D) + od, z + (size_t)i * zs, D * sizeof(float));
    }
    memcpy(act, actor_fwd(a, &a->tEvalA, in, m), (size_t)m * a->cfg.act_dim * sizeof(float));
}

/* An ensemble's members must agree on observations and actions. */
static int ens_check(fb_agent *const *ag, int k, rz_err *e)
{
    if (k < 1 || k > FB_MAX_ENSEMBLE) return rz_fail(e, RZ_EINPUT, "ensemble of %d agents: expected 1 to %d", k, FB_MAX_ENSEMBLE);
    const fb_config *c = &ag[0]->cfg;
    for (int j = 1; j < k; j++)
        if (ag[j]->cfg.obs_dim != c->obs_dim || ag[j]->cfg.n_actions != c->n_actions || ag[j]->cfg.act_dim != c->act_dim)
            return rz_fail(e, RZ_EINPUT, "ensemble member %d: observation size %d, %d actions of size %d; member 0: %d, %d of size %d", j,
                           ag[j]->cfg.obs_dim, ag[j]->cfg.n_actions, ag[j]->cfg.act_dim, c->obs_dim, c->n_actions, c->act_dim);
    return RZ_OK;
}

int fb_ens_act(fb_agent *const *ag, int k, int n, const float *O, const float *const *z, float *act, float *Q,
               rz_err *e)
{
    int rc = ens_check(ag, k, e);
    if (rc) return rc;
    fb_agent *a = ag[0];
    const fb_config *c = &a->cfg;
    int od = c->obs_dim, A = a->A, ad = c->act_dim;
    double *q = a->ens_q;
    for (int s0 = 0; s0 < n; s0 += EVAL_CHUNK) {
        int m = n - s0 < EVAL_CHUNK ? n - s0 : EVAL_CHUNK;
        const float *Oc = O + (size_t)s0 * od;
        if (c->n_actions) {
            /* argmax over the actions of Σ_j Q_j(o, b, z_j) */
            memset(q, 0, (size_t)m * A * sizeof(double));
            for (int j = 0; j < k; j++) add_q_discrete(ag[j], m, Oc, z[j], q);
            for (int i = 0; i < m; i++) {
                int best = 0;
                for (int b = 1; b < A; b++)
                    if (q[(size_t)i * A + b] > q[(size_t)i * A + best]) best = b;
                act[s0 + i] = (float)best;
                if (Q) Q[s0 + i] = (float)(q[(size_t)i * A + best] / k);
            }
        } else if (k == 1) {
            actor_act(a, m, Oc, z[0], 0, act + (size_t)s0 * ad);
            if (Q) {
                memset(q, 0, (size_t)m * sizeof(double));
                add_q_at(a, m, Oc, act + (size_t)s0 * ad, z[0], q, 1);
                for (int i = 0; i < m; i++) Q[s0 + i] = (float)q[i];
            }
        } else {
            /* the candidates are the members' actor proposals π_i(o, z_i); the action is
             * the candidate with the largest Σ_j Q_j(o, π_i, z_j) */
            float *cand = a->ens_act;
            memset(q, 0, (size_t)m * k * sizeof(double));
            for (int i = 0; i < k; i++) {
                float *ci = cand + (size_t)i * EVAL_CHUNK * ad;
                actor_act(ag[i], m, Oc, z[i], 0, ci);
                for (int j = 0; j < k; j++) add_q_at(ag[j], m, Oc, ci, z[j], q + i, k);
            }
            for (int r = 0; r < m; r++) {
                int best = 0;
                for (int i = 1; i < k; i++)
                    if (q[(size_t)r * k + i] > q[(size_t)r * k + best]) best = i;
                memcpy(act + (size_t)(s0 + r) * ad, cand + ((size_t)best * EVAL_CHUNK + r) * ad, ad * sizeof(float));
                if (Q) Q[s0 + r] = (float)(q[(size_t)r * k + best] / k);
            }
        }
    }
    return RZ_OK;
}

int fb_act(fb_agent *a, int n, const float *O, const float *z, float *act, float *Q, rz_err *e)
{
    return fb_ens_act(&a, 1, n, O, &z, act, Q, e);
}

int fb_act_rows(fb_agent *a, int n, const float *O, const float *Z, float *act, rz_err *e)
{
    const fb_config *c = &a->cfg;
    if (c->n_actions) return rz_fail(e, RZ_EINPUT, "fb_act_rows: the agent's actions are discrete (%d)", c->n_actions);
    for (int s0 = 0; s0 < n; s0 += EVAL_CHUNK) {
        int m = n - s0 < EVAL_CHUNK ? n - s0 : EVAL_CHUNK;
        actor_act(a, m, O + (size_t)s0 * c->obs_dim, Z + (size_t)s0 * c->zdim, c->zdim, act + (size_t)s0 * c->act_dim);
    }
    return RZ_OK;
}

/* ---- state for checkpoints ------------------------------------------------------------ */
int fb_tensor_add(fb_tensor *t, int k, const char *name, float *data, size_t n)
{
    snprintf(t[k].name, sizeof t[k].name, "%.31s", name);
    t[k].data = data;
    t[k].n = n;
    return k + 1;
}

int fb_tensor_add_net(fb_tensor *t, int k, const char *name, nn_mlp *net, nn_mlp *target, nn_adam *opt)
{
    char nm[32];
    k = fb_tensor_add(t, k, name, net->param, net->n_params);
    if (target) {
        snprintf(nm, sizeof nm, "%.20s.target", name);
        k = fb_tensor_add(t, k, nm, target->param, target->n_params);
    }
    snprintf(nm, sizeof nm, "%.20s.adam_m", name);
    k = fb_tensor_add(t, k, nm, opt->m, opt->n);
    snprintf(nm, sizeof nm, "%.20s.adam_v", name);
    return fb_tensor_add(t, k, nm, opt->v, opt->n);
}

int fb_state(fb_agent *a, fb_tensor **list, int *n, rz_err *e)
{
    fb_tensor *t = rz_calloc(40, sizeof *t, e);
    if (!t) return RZ_EINTERNAL;
    int k = 0;

    k = fb_tensor_add_net(t, k, "F1", &a->F[0], &a->Ft[0], &a->oF[0]);
    k = fb_tensor_add_net(t, k, "F2", &a->F[1], &a->Ft[1], &a->oF[1]);
    k = fb_tensor_add_net(t, k, "B", &a->B, &a->Bt, &a->oB);
    if (!a->cfg.n_actions) k = fb_tensor_add_net(t, k, "actor", &a->actor, NULL, &a->oA);
    k = fb_tensor_add(t, k, "alpha", a->alpha_state, 3);
    memcpy(a->counters, &a->step, sizeof a->step);
    memcpy(a->rng_img, a->rng.s, sizeof a->rng.s);
    k = fb_tensor_add(t, k, "counters", a->counters, 2);
    k = fb_tensor_add(t, k, "rng", a->rng_img, 8);
    if (a->onorm) k = fb_tensor_add(t, k, "obs_norm", a->onorm, (size_t)2 * a->cfg.obs_dim);
    *list = t;
    *n = k;
    return RZ_OK;
}

void fb_state_loaded(fb_agent *a)
{
    memcpy(&a->step, a->counters, sizeof a->step);
    memcpy(a->rng.s, a->rng_img, sizeof a->rng.s);
    a->oF[0].t = a->oF[1].t = a->oB.t = a->step;
    if (!a->cfg.n_actions) a->oA.t = a->step;
}

/* ---- zero-shot evaluation ------------------------------------------------------------ */
/* The rollout's policy: an ensemble with one z per member. */
typedef struct {
    fb_agent *const *agents;
    int k;
    const float *const *z;
} ens_policy;

static void fb_policy_cb(void *ctx, int n, const float *obs, float *act)
{
    const ens_policy *p = ctx;
    fb_ens_act(p->agents, p->k, n, obs, p->z, act, NULL, NULL); /* members checked by fb_eval_task */
}

int fb_eval_task(fb_agent *const *ag, int k, const rl_env *env, const rl_task *task, int n_labels,
                 const float *label_states, int episodes, int all_starts, uint64_t seed,
                 fb_task_result *res, float *const *z_out, rz_err *e)
{
    int od = env->obs_dim, sd = env->state_dim, rc = ens_check(ag, k, e);
    if (rc) return rc;
    float *zbuf = rz_malloc((size_t)k * FB_MAX_ZDIM * sizeof(float), e), *O = NULL, *r = NULL, *starts = NULL;
    const float *z[FB_MAX_ENSEMBLE];
    double *ret = NULL, *V = NULL;
    int *succ = NULL;
    if (!zbuf) return RZ_EINTERNAL;
    memset(res, 0, sizeof *res);
    if (task->is_goal) {
        O = rz_malloc((size_t)od * sizeof(float), e);
        if (!O) goto oom;
        rl_env_obs(env, task->goal, O);
    } else {
        if (n_labels < 1) {
            rc = rz_fail(e, RZ_EINPUT, "task %s: reward inference needs labelled states", task->name);
            goto out;
        }
        O = rz_malloc((size_t)n_labels * od * sizeof(float), e);
        r = rz_malloc((size_t)n_labels * sizeof(float), e);
        if (!O || !r) goto oom;
        for (int i = 0; i < n_labels; i++) {
            rl_env_obs(env, label_states + (size_t)i * sd, O + (size_t)i * od);
            r[i] = (float)rl_task_reward(env, task, label_states + (size_t)i * sd);
        }
    }
    /* every member infers its own z from the same goal or labels */
    for (int j = 0; j < k && !rc; j++) {
        float *zj = zbuf + (size_t)j * FB_MAX_ZDIM;
        z[j] = zj;
        if (ag[j]->cfg.obs_dim != od) {
            rc = rz_fail(e, RZ_EINPUT, "task %s: agent %d observes %d numbers, the environment %d", task->name, j, ag[j]->cfg.obs_dim, od);
            break;
        }
        rc = task->is_goal ? fb_infer_z_goal(ag[j], O, zj, e) : fb_infer_z_reward(ag[j], n_labels, O, r, zj, e);
        if (!rc && z_out && z_out[j]) memcpy(z_out[j], zj, ag[j]->cfg.zdim * sizeof(float));
    }
    if (rc) goto out;
    if (all_starts) {
        if (env->kind != RL_GRID) {
            rc = rz_fail(e, RZ_EINPUT, "task %s: every start is defined for grids only", task->name);
            goto out;
        }
        episodes = env->grid.n_free - (task->is_goal ? 1 : 0);
    }
    starts = rz_malloc((size_t)episodes * sd * sizeof(float), e);
    ret = rz_malloc((size_t)episodes * sizeof(double), e);
    succ = rz_malloc((size_t)episodes * sizeof(int), e);
    if (!starts || !ret || !succ) goto oom;
    rz_rng rng;
    rz_rng_seed(&rng, seed);
    for (int i = 0, cell = 0; i < episodes; i++) {
        float *s = starts + (size_t)i * sd;
        if (all_starts) {
            /* every free cell in id order, the goal's own cell skipped */
            do {
                s[0] = (float)(env->grid.cell_of[cell] % env->grid.w);
                s[1] = (float)(env->grid.cell_of[cell] / env->grid.w);
                cell++;
            } while (task->is_goal && rl_task_success(env, task, s));
            continue;
        }
        int tries = 0;
        do rl_env_reset(env, &rng, s);
        while (task->is_goal && rl_task_success(env, task, s) && ++tries < 1000);
    }
    ens_policy pol = {ag, k, z};
    if ((rc = rl_rollout(env, task, episodes, starts, fb_policy_cb, &pol, &rng, ret, succ, e))) goto out;
    res->episodes = episodes;
    double sr = 0, so = 0, ss = 0;
    for (int i = 0; i < episodes; i++) sr += ret[i], ss += succ[i];
    res->ret = sr / episodes;
    res->success = task->is_goal ? ss / episodes : NAN;
    if (env->kind == RL_GRID) {
        V = rz_malloc((size_t)env->grid.n_free * sizeof(double), e);
        if (!V) goto oom;
        rl_grid_vi(env, task->r, 1.0, env->horizon, 0, V, NULL);
        for (int i = 0; i < episodes; i++) so += V[rl_grid_id(env, starts + (size_t)i * sd)];
        res->opt = so / episodes;
        res->norm = so > 0 ? sr / so : NAN;
    } else {
        res->opt = res->norm = NAN;
    }
    goto out;
oom:
    rc = RZ_EINTERNAL;
out:
    free(zbuf), free(O), free(r), free(starts), free(ret), free(succ), free(V);
    return rc;
}
