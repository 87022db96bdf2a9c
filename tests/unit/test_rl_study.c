/* test_rl_study.c — the reference's settings for the low-quality-data study (fb.h):
 * the Lagrange target derived for an exact discrete logsumexp against its closed form
 * and an identity, the Lagrange step on a hand case, the elementwise min of the target
 * heads on a hand case and through the whole FB loss (recomputed outside fb.c), gradient
 * clipping seen in Adam's first moment, and the continuous penalty's samples against
 * their definition (which state, which action, and the penalty they give). */
#include "../check.h"
#include "fb.h"

/* τ for 5 actions, written directly from the derivation in fb.h:
 * Δ = log((e^25 − 2)/10), τ = 2·log(1 + 4e^Δ). Double arithmetic: e^25 ≈ 7.2e10 is exact
 * enough that 1e-9 is far above rounding (both sides are ~48). */
static void test_lagrange_target(void)
{
    double delta = log((exp(25.0) - 2.0) / 10.0), want = 2.0 * log(1.0 + 4.0 * exp(delta));
    CHECK_NEAR(fb_lagrange_target(5, 50.0, 12, 2), want, 1e-9);
    CHECK_NEAR(fb_lagrange_target(5, FB_REF_TAU, FB_REF_SAMPLES, FB_REF_DATA_COPIES), 48.16741853626558, 1e-9);
    /* identity: the reference's own layout seen as "A = K actions, one of them the data
     * action" (c = 1) gives back its target exactly */
    CHECK_NEAR(fb_lagrange_target(12, 50.0, 12, 1), 50.0, 1e-9);
    /* the target always exceeds the uniform-data floor 2·log A */
    for (int A = 2; A <= 64; A++) CHECK(fb_lagrange_target(A, 50.0, 12, 2) > 2 * log(A));
    CHECK(isnan(fb_lagrange_target(1, 50.0, 12, 2)));
    CHECK(isnan(fb_lagrange_target(5, 1.0, 12, 2))); /* e^0.5 < 2: no Δ */
    fb_config c;
    fb_config_default(&c, FB_ALGO_VCFB, 10, 5, 0);
    fb_config_reference(&c);
    CHECK(c.lagrange == 1 && c.alpha == 1.0f && c.grad_clip == 1.0f && c.target_mean == 0);
    CHECK_NEAR(c.alpha_target, 48.16741853626558, 1e-5); /* stored as float */
}

/* Two Adam steps on log α by hand (β = 0.9, 0.999, lr 0.1), from log α = 0 (α = 1):
 * step 1, P = 3, target 1: g = −α(P − τ) = −2, m = −0.2, v = 0.004, m̂ = −2, v̂ = 4,
 *   log α = 0 − 0.1·(−2)/2 = 0.1;
 * step 2, P = 0.5: α = e^0.1, g = 0.5·e^0.1 = 0.5525855, m = −0.1247415, v = 0.0043013507,
 *   m̂ = m/0.19, v̂ = v/0.001999, log α = 0.1 − 0.1·m̂/√v̂ = 0.1447570.
 * Float state: 1e-6 covers float rounding of values ~0.1. */
static void test_lagrange_step(void)
{
    float st[3] = {0, 0, 0};
    fb_lagrange_step(st, 3.0, 1.0, 0.1, 1);
    CHECK_NEAR(st[0], 0.1, 1e-6);
    CHECK_NEAR(st[1], -0.2, 1e-6);
    CHECK_NEAR(st[2], 0.004, 1e-8);
    fb_lagrange_step(st, 0.5, 1.0, 0.1, 2);
    CHECK_NEAR(st[0], 0.144757020, 1e-6);
    CHECK_NEAR(st[1], -0.124741454, 1e-6);
    CHECK_NEAR(st[2], 0.0043013507, 1e-8);
    /* a penalty far above the target keeps raising α, never beyond 1e6 */
    float big[3] = {13.7f, 0, 0};
    for (int t = 1; t <= 50; t++) fb_lagrange_step(big, 1e9, 1.0, 1.0, t);
    CHECK(big[0] <= 13.8f && big[0] > 13.7f);
}

/* Elementwise, not per row: row 0 takes head 0 in column 0 and head 1 in column 1. */
static void test_target_combine(void)
{
    const float M0[6] = {1, 5, -2, 3, 0.25f, -7}, M1[6] = {2, 4, -3, 3, 0.5f, -8};
    const float mn[6] = {1, 4, -3, 3, 0.25f, -8}, me[6] = {1.5f, 4.5f, -2.5f, 3, 0.375f, -7.5f};
    float out[6];
    fb_target_combine(6, M0, M1, 0, out);
    for (int q = 0; q < 6; q++) CHECK(out[q] == mn[q]);
    fb_target_combine(6, M0, M1, 1, out);
    for (int q = 0; q < 6; q++) CHECK(out[q] == me[q]);
    float al[6];
    memcpy(al, M0, sizeof al);
    fb_target_combine(6, al, M1, 0, al); /* out aliasing M0 */
    for (int q = 0; q < 6; q++) CHECK(al[q] == mn[q]);
}

/* ---- a tiny agent and random data --------------------------------------------------- */
enum { OD = 6, N = 5 };

typedef struct {
    fb_data d;
    float O[64 * OD], O2[64 * OD], A[64 * 2];
} toy;

static void toy_make(toy *t, int n_actions, int ad, uint64_t seed)
{
    rz_rng r;
    rz_rng_seed(&r, seed);
    for (int i = 0; i < 64 * OD; i++) t->O[i] = (float)(2 * rz_rng_uniform(&r) - 1), t->O2[i] = (float)(2 * rz_rng_uniform(&r) - 1);
    for (int i = 0; i < 64 * ad; i++) t->A[i] = n_actions ? (float)rz_rng_int(&r, n_actions) : (float)(1.8 * rz_rng_uniform(&r) - 0.9);
    t->d.n = 64, t->d.obs_dim = OD, t->d.act_dim = ad, t->d.O = t->O, t->d.A = t->A, t->d.O2 = t->O2, t->d.done = NULL;
}

static fb_agent *tiny(fb_algo algo, int n_actions, int ad, int target_mean, int cpen_ref, int K, float clip)
{
    fb_config c;
    fb_config_default(&c, algo, OD, n_actions, ad);
    c.zdim = 4, c.hidden = 8, c.layers = 1, c.batch = N, c.alpha = 0.7f;
    c.target_mean = target_mean, c.cpen_ref = cpen_ref, c.action_samples = K, c.grad_clip = clip;
    fb_agent *a = NULL;
    CHECK(fb_create(&c, 11, &a, NULL) == 0);
    return a;
}

static void sphere_z(float *z, int n, int d, uint64_t seed)
{
    rz_rng r;
    rz_rng_seed(&r, seed);
    for (int i = 0; i < n * d; i++) z[i] = (float)rz_rng_normal(&r);
    for (int i = 0; i < n; i++) nn_project_sphere(z + i * d, d, sqrtf((float)d));
}

static double dotd(const float *x, const float *y, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)x[i] * y[i];
    return s;
}

/* One row through a network (a fresh tape), out (net's output width). */
static void fwd1(nn_mlp *net, const float *in, float *out, int nout)
{
    nn_tape t;
    CHECK(nn_tape_init(&t, net, 1, NULL) == 0);
    memcpy(out, nn_forward(net, &t, in, 1), nout * sizeof(float));
    nn_tape_free(&t);
}

/* The FB measure loss of a fresh agent (targets equal the online networks, so F̄ = F and
 * B̄ = B), recomputed here from the networks alone:
 *   a'_i = argmax_a c(F_1(s'_i,a,z_i)ᵀz_i, F_2(…)ᵀz_i),  M̄_ij = c(F_1(s'_i,a'_i,z_i)ᵀB(s'_j), F_2(…)ᵀB(s'_j))
 *   L = Σ_k [½ mean_{i≠j}(M_k,ij − γM̄_ij)² − mean_i M_k,ii],  c = min or mean, entry by entry.
 * Float networks, double sums on both sides: 1e-4 relative covers float forward rounding. */
static void check_fb_loss(int target_mean)
{
    enum { A = 3, D = 4 };
    toy t;
    toy_make(&t, A, 1, 5);
    fb_agent *ag = tiny(FB_ALGO_FB, A, 1, target_mean, 0, 4, 0);
    nn_mlp *F[2] = {fb_net(ag, "F1"), fb_net(ag, "F2")}, *B = fb_net(ag, "B");
    long idx[N] = {3, 17, 40, 3, 62};
    float z[N * D], Fs[2][N][A * D], Fn[2][N][A * D], Bn[N][D], in[OD + D];
    sphere_z(z, N, D, 9);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 2; k++) {
            memcpy(in, t.O + idx[i] * OD, sizeof(float) * OD), memcpy(in + OD, z + i * D, sizeof(float) * D);
            fwd1(F[k], in, Fs[k][i], A * D);
            memcpy(in, t.O2 + idx[i] * OD, sizeof(float) * OD);
            fwd1(F[k], in, Fn[k][i], A * D);
        }
        fwd1(B, t.O2 + idx[i] * OD, Bn[i], D);
        nn_project_sphere(Bn[i], D, sqrtf((float)D));
    }
    double Mt[N][N], gamma = fb_cfg(ag)->gamma, L = 0;
    for (int i = 0; i < N; i++) {
        int best = 0;
        double bq = -INFINITY;
        for (int b = 0; b < A; b++) {
            double q0 = dotd(Fn[0][i] + b * D, z + i * D, D), q1 = dotd(Fn[1][i] + b * D, z + i * D, D);
            double q = target_mean ? (q0 + q1) / 2 : (q0 < q1 ? q0 : q1);
            if (q > bq) bq = q, best = b;
        }
        for (int j = 0; j < N; j++) {
            double m0 = dotd(Fn[0][i] + best * D, Bn[j], D), m1 = dotd(Fn[1][i] + best * D, Bn[j], D);
            Mt[i][j] = target_mean ? (m0 + m1) / 2 : (m0 < m1 ? m0 : m1);
        }
    }
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < N; i++) {
            int ai = (int)t.A[idx[i]];
            for (int j = 0; j < N; j++) {
                double m = dotd(Fs[k][i] + ai * D, Bn[j], D);
                if (i == j) L -= m / N;
                else L += 0.5 * (m - gamma * Mt[i][j]) * (m - gamma * Mt[i][j]) / (N * (N - 1.0));
            }
        }
    fb_stats st;
    fb_loss_fixed(ag, &t.d, idx, z, 0, &st);
    CHECK_NEAR(st.fb_loss, L, 1e-4 * (1 + fabs(L)));
    fb_destroy(ag);
}
static void test_fb_loss_min_target(void) { check_fb_loss(0); }
static void test_fb_loss_mean_target(void) { check_fb_loss(1); }

/* Clipping: from a fresh agent one step leaves Adam's m = 0.1·g_clipped, so every element
 * of F1/F2/B's first moment is within 0.1·clip (+ float rounding), and with a tiny clip
 * most saturate at exactly it. Without clipping they exceed it. */
static double max_adam_m(fb_agent *a, int *saturated, float clip)
{
    fb_tensor *tl;
    int n;
    double mx = 0;
    *saturated = 0;
    CHECK(fb_state(a, &tl, &n, NULL) == 0);
    for (int k = 0; k < n; k++)
        if (strstr(tl[k].name, ".adam_m") && strncmp(tl[k].name, "actor", 5))
            for (size_t q = 0; q < tl[k].n; q++) {
                double v = fabs(tl[k].data[q]);
                if (v > mx) mx = v;
                if (fabsf(fabsf(tl[k].data[q]) - 0.1f * clip) <= 1e-6f * clip) (*saturated)++;
            }
    free(tl);
    return mx;
}

static void test_grad_clip(void)
{
    float g[5] = {-3, 0.5f, 2, -0.2f, 1};
    fb_clip_grad(g, 5, 1.0f);
    CHECK(g[0] == -1 && g[1] == 0.5f && g[2] == 1 && g[3] == -0.2f && g[4] == 1);
    toy t;
    toy_make(&t, 3, 1, 6);
    float clip = 1e-5f;
    int sat;
    fb_agent *a = tiny(FB_ALGO_VCFB, 3, 1, 0, 0, 4, clip);
    CHECK(fb_train_step(a, &t.d, NULL, NULL) == 0);
    CHECK(max_adam_m(a, &sat, clip) <= 0.1 * clip * (1 + 1e-6));
    CHECK(sat > 10);
    fb_destroy(a);
    fb_agent *b = tiny(FB_ALGO_VCFB, 3, 1, 0, 0, 4, 0);
    CHECK(fb_train_step(b, &t.d, NULL, NULL) == 0);
    CHECK(max_adam_m(b, &sat, clip) > 0.1 * clip * 10);
    fb_destroy(b);
}

/* The reference's continuous samples, K = 12: Ko = 6 uniform at s, Kc = 2 each of
 * π(s) + noise at s, π(s') + noise at s', data-action copies at s — checked row by row
 * against the actor evaluated here, then the VC-FB penalty of these samples recomputed:
 *   P = Σ_k mean_i [log Σ_m exp(F_k(x_im, a_im, z_i)ᵀz_i) − F_k(s_i, a_i, z_i)ᵀz_i]
 * with x_im the state of the definition (not the flags fb returned). 1e-4 relative: float
 * forward passes on both sides. */
static void test_continuous_penalty_ref(void)
{
    enum { AD = 2, D = 4, K = 12, KO = 6, KC = 2 };
    toy t;
    toy_make(&t, 0, AD, 8);
    fb_agent *ag = tiny(FB_ALGO_VCFB, 0, AD, 0, 1, K, 0);
    const fb_config *c = fb_cfg(ag);
    long idx[N] = {1, 9, 33, 9, 50};
    float z[N * D];
    sphere_z(z, N, D, 10);
    const unsigned char *at = NULL;
    const float *act = fb_penalty_sample(ag, &t.d, idx, z, &at);
    CHECK(act && at);
    if (!act || !at) return;
    nn_mlp *pi = fb_net(ag, "actor"), *F[2] = {fb_net(ag, "F1"), fb_net(ag, "F2")};
    double P = 0;
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        float in[OD + D], p_s[AD], p_s2[AD];
        memcpy(in + OD, z + i * D, sizeof(float) * D);
        memcpy(in, t.O + idx[i] * OD, sizeof(float) * OD);
        fwd1(pi, in, p_s, AD);
        memcpy(in, t.O2 + idx[i] * OD, sizeof(float) * OD);
        fwd1(pi, in, p_s2, AD);
        double q[K], mx = -INFINITY, qd[2];
        for (int k = 0; k < 2; k++) {
            float inF[OD + AD + D], out[D];
            memcpy(inF, t.O + idx[i] * OD, sizeof(float) * OD), memcpy(inF + OD, t.A + idx[i] * AD, sizeof(float) * AD);
            memcpy(inF + OD + AD, z + i * D, sizeof(float) * D);
            fwd1(F[k], inF, out, D);
            qd[k] = dotd(out, z + i * D, D);
        }
        for (int k = 0; k < 2; k++) {
            mx = -INFINITY;
            for (int m = 0; m < K; m++) {
                const float *am = act + (size_t)(i * K + m) * AD;
                int want_at = m >= KO + KC && m < KO + 2 * KC;
                if (k == 0) {
                    CHECK(at[i * K + m] == want_at);
                    for (int r = 0; r < AD; r++) {
                        if (m < KO) CHECK(am[r] >= -1 && am[r] <= 1);
                        else if (m < KO + KC) CHECK(fabsf(am[r] - p_s[r]) <= c->noise_clip * (1 + 1e-6f));
                        else if (m < KO + 2 * KC) CHECK(fabsf(am[r] - p_s2[r]) <= c->noise_clip * (1 + 1e-6f));
                        else CHECK(am[r] == t.A[idx[i] * AD + r]);
                        if (m < KO + 2 * KC && am[r] != p_s[r] && am[r] != p_s2[r]) distinct++;
                    }
                }
                float inF[OD + AD + D], out[D];
                memcpy(inF, (want_at ? t.O2 : t.O) + idx[i] * OD, sizeof(float) * OD);
                for (int r = 0; r < AD; r++) inF[OD + r] = am[r] < -1 ? -1 : am[r] > 1 ? 1 : am[r];
                memcpy(inF + OD + AD, z + i * D, sizeof(float) * D);
                fwd1(F[k], inF, out, D);
                q[m] = dotd(out, z + i * D, D);
                if (q[m] > mx) mx = q[m];
            }
            double se = 0;
            for (int m = 0; m < K; m++) se += exp(q[m] - mx);
            P += (mx + log(se) - qd[k]) / N;
        }
    }
    CHECK(distinct == N * (KO + 2 * KC) * AD); /* noise and uniform draws never hit π exactly */
    fb_stats st;
    fb_loss_fixed(ag, &t.d, idx, z, 0, &st);
    CHECK_NEAR(st.penalty, P, 1e-4 * (1 + fabs(P)));
    fb_destroy(ag);
    /* the reference layout needs at least 6 samples (one of each kind) */
    fb_config cf;
    fb_config_default(&cf, FB_ALGO_VCFB, OD, 0, AD);
    cf.cpen_ref = 1, cf.action_samples = 5;
    fb_agent *bad = NULL;
    CHECK(fb_create(&cf, 1, &bad, NULL) != 0 && !bad);
}

int main(void)
{
    RUN(test_lagrange_target);
    RUN(test_lagrange_step);
    RUN(test_target_combine);
    RUN(test_fb_loss_min_target);
    RUN(test_fb_loss_mean_target);
    RUN(test_grad_clip);
    RUN(test_continuous_penalty_ref);
    return check_summary();
}
