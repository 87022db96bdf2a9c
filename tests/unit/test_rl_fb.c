/* test_rl_fb.c — FB / VC-FB / MC-FB: finite-difference checks of the full loss gradient
 * (FB TD loss, the orthonormality regulariser, both conservative penalties, discrete and
 * continuous actions), bit-exact resume from saved state, reward inference against its
 * definition, ensemble actions against a one-row reference, and a two-room grid where
 * zero-shot goal reaching must be learned in 2000 steps. */
#include <cblas.h>

#include "../check.h"
#include "fb.h"
#include "env.h"

/* A random dataset with one-hot-ish observations and random actions. */
typedef struct {
    fb_data d;
    float *O, *A, *O2;
} toy_data;

static void toy_make(toy_data *t, long n, int od, int n_actions, int act_dim, rz_rng *rng)
{
    int ad = n_actions ? 1 : act_dim;
    t->O = malloc(n * od * sizeof(float));
    t->O2 = malloc(n * od * sizeof(float));
    t->A = malloc(n * ad * sizeof(float));
    for (long i = 0; i < n * od; i++) {
        t->O[i] = (float)(2 * rz_rng_uniform(rng) - 1);
        t->O2[i] = (float)(2 * rz_rng_uniform(rng) - 1);
    }
    for (long i = 0; i < n * ad; i++)
        t->A[i] = n_actions ? (float)rz_rng_int(rng, n_actions) : (float)(1.8 * rz_rng_uniform(rng) - 0.9);
    t->d.n = n;
    t->d.obs_dim = od;
    t->d.act_dim = ad;
    t->d.O = t->O;
    t->d.A = t->A;
    t->d.O2 = t->O2;
    t->d.done = NULL;
}

static void toy_free(toy_data *t) { free(t->O), free(t->A), free(t->O2); }

static void tiny_config(fb_config *cp, fb_algo algo, int n_actions, int act_dim)
{
    fb_config c;
    fb_config_default(&c, algo, 6, n_actions, act_dim);
    c.zdim = 4;
    c.hidden = 8;
    c.layers = 1; /* LN + tanh hidden layer: smooth, so differences are exact to O(h⁴); relu backward is checked in test_nn */
    c.batch = 5;
    c.alpha = 0.7f; /* large enough that the penalty's gradient matters in the check */
    c.action_samples = 4;
    *cp = c;
}

static fb_agent *tiny_agent(fb_algo algo, int n_actions, int act_dim, uint64_t seed, float qloss)
{
    fb_config c;
    tiny_config(&c, algo, n_actions, act_dim);
    c.qloss = qloss;
    fb_agent *a = NULL;
    CHECK(fb_create(&c, seed, &a, NULL) == 0);
    return a;
}

/* The continuous-action tests' FB agent (4 observations, 2 actions; zdim 4, hidden 8, one
 * layer, batch rows, created with seed) and 20 toy rows drawn from rng seeded seed + 100;
 * NULL (nothing to free) when the agent is refused. */
static fb_agent *tiny_cont_agent(fb_config *c, int batch, uint64_t seed, rz_rng *rng, toy_data *td)
{
    fb_config_default(c, FB_ALGO_FB, 4, 0, 2);
    c->zdim = 4, c->hidden = 8, c->layers = 1, c->batch = batch;
    fb_agent *a = NULL;
    CHECK(fb_create(c, seed, &a, NULL) == 0);
    if (!a) return NULL;
    rz_rng_seed(rng, seed + 100);
    toy_make(td, 20, 4, 0, 2, rng);
    return a;
}

/* Central differences of fb_loss_fixed over every parameter of F1, F2 and B, with one
 * Richardson step (h = 1e-2 and 5e-3). The loss is a sum of O(N²) float32 products
 * accumulated in double: rounding ≈1e-6 relative, /h → ≈2e-4; the h² truncation term —
 * large here: products of F and B and the logsumexps are strongly curved — cancels,
 * leaving O(h⁴). Tolerance 3e-3 relative. Targets, zs and sampled actions are fixed, so the loss is a
 * deterministic function of the online parameters (relu kinks aside: a failure
 * confined to a single coordinate would show as `bad` = 1, these seeds have none). */
static const float *gradcheck_done; /* non-NULL: the data's done flags (20 rows) */

static void gradcheck_fb(fb_algo algo, int n_actions, int act_dim, uint64_t seed, float qloss)
{
    rz_rng rng;
    rz_rng_seed(&rng, seed);
    fb_agent *a = tiny_agent(algo, n_actions, act_dim, seed, qloss);
    if (!a) return;
    toy_data td;
    toy_make(&td, 20, 6, n_actions, act_dim, &rng);
    td.d.done = gradcheck_done;
    /* One real step so targets differ from the online nets and actor/noise buffers are
     * filled (continuous), then freeze a batch. */
    CHECK(fb_train_step(a, &td.d, NULL, NULL) == 0);
    long idx[5] = {3, 7, 11, 0, 19};
    float z[5 * 4];
    for (int i = 0; i < 20; i++) z[i] = (float)rz_rng_normal(&rng);
    fb_stats st;
    fb_loss_fixed(a, &td.d, idx, z, 1, &st);
    const char *names[3] = {"F1", "F2", "B"};
    int bad = 0, total = 0;
    double worst = 0;
    for (int q = 0; q < 3; q++) {
        nn_mlp *net = fb_net(a, names[q]);
        float *g = malloc(net->n_params * sizeof(float));
        memcpy(g, net->grad, net->n_params * sizeof(float));
        for (size_t i = 0; i < net->n_params; i++) {
            /* Richardson: D(h) = (L(θ+h) − L(θ−h))/2h has error c·h² + O(h⁴), so
             * (4·D(h/2) − D(h))/3 cancels the h² term. */
            const float h = 1e-2f;
            float keep = net->param[i];
            double D[2];
            for (int r = 0; r < 2; r++) {
                float hh = r ? h / 2 : h;
                net->param[i] = keep + hh;
                double lp = fb_loss_fixed(a, &td.d, idx, z, 0, NULL);
                net->param[i] = keep - hh;
                double lm = fb_loss_fixed(a, &td.d, idx, z, 0, NULL);
                net->param[i] = keep;
                D[r] = (lp - lm) / (2 * (double)hh);
            }
            double fd = (4 * D[1] - D[0]) / 3, err = fabs(fd - g[i]) / (1 + fabs(fd));
            if (err > worst) worst = err;
            if (err > 3e-3) bad++;
            total++;
        }
        free(g);
    }
    if (bad) printf("#   %s %s: %d of %d gradients off, worst %.3g\n", fb_algo_name(algo),
                    n_actions ? "discrete" : "continuous", bad, total, worst);
    CHECK_EQ_INT(bad, 0);
    if (algo != FB_ALGO_FB) CHECK(st.penalty != 0);
    if (qloss > 0) CHECK(st.q_loss > 0);
    toy_free(&td);
    fb_destroy(a);
}

static void test_grad_fb_discrete(void) { gradcheck_fb(FB_ALGO_FB, 3, 0, 1, 0); }
static void test_grad_vcfb_discrete(void) { gradcheck_fb(FB_ALGO_VCFB, 3, 0, 2, 0); }
static void test_grad_mcfb_discrete(void) { gradcheck_fb(FB_ALGO_MCFB, 3, 0, 3, 0); }
static void test_grad_fb_continuous(void) { gradcheck_fb(FB_ALGO_FB, 0, 2, 4, 0); }
static void test_grad_vcfb_continuous(void) { gradcheck_fb(FB_ALGO_VCFB, 0, 2, 5, 0); }
static void test_grad_mcfb_continuous(void) { gradcheck_fb(FB_ALGO_MCFB, 0, 2, 6, 0); }
/* The Q-loss term on top (the implicit reward reads the target B̄, so it is a constant of
 * the online parameters and the finite differences see exactly the analytic gradient). */
static void test_grad_fb_qloss_discrete(void) { gradcheck_fb(FB_ALGO_FB, 3, 0, 7, 0.5f); }
static void test_grad_mcfb_qloss_continuous(void) { gradcheck_fb(FB_ALGO_MCFB, 0, 2, 8, 0.5f); }
/* Terminal rows (done = 1: s' fell) do not bootstrap: their M̄ and Q̄ terms carry γ·0.
 * Rows 3 and 11 of the batch (idx 3, 7, 11, 0, 19) are terminal, 7, 0, 19 are not. */
static void test_grad_fb_done(void)
{
    static const float done[20] = {[3] = 1, [11] = 1, [5] = 1};
    gradcheck_done = done;
    gradcheck_fb(FB_ALGO_FB, 0, 2, 9, 0.5f);
    gradcheck_fb(FB_ALGO_FB, 3, 0, 10, 0.5f);
    gradcheck_done = NULL;
}

/* ---- the losses by value: a hand-written float64 statement on a 3-row batch ----------
 * The networks are evaluated here one row at a time (nn_forward, tested against its own
 * reference in test_nn); everything after them — the target action, M̄, L_FB, L_orth, the
 * VC-FB and MC-FB penalties, the actor loss — is written out below from the definitions
 * in fb.c's header, in double, with plain loops. A fresh agent's targets are copies of
 * its online networks (fb_create), and its exploration-noise buffer is zero, so the
 * targets are computable here too. Tolerance 1e-5 relative: the only differences are
 * float32 gemm/dot rounding (≈1e-6) against double sums; a wrong mean (N² for N(N−1)),
 * a missing γ, α or norm, the wrong action block or logsumexp axis moves the values by
 * percents. */
static void fwd1(nn_mlp *net, const float *in, float *out)
{
    nn_tape t;
    CHECK(nn_tape_init(&t, net, 1, NULL) == 0);
    const float *y = nn_forward(net, &t, in, 1);
    memcpy(out, y, net->L[net->n_layers - 1].out * sizeof(float));
    nn_tape_free(&t);
}

static double dotd(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* B(s) = √d b/‖b‖ (bnorm) for the three next states. */
static void ref_B(fb_agent *a, const float *o2, double B[3][8])
{
    int D = fb_cfg(a)->zdim;
    float b[8];
    for (int j = 0; j < 3; j++) {
        fwd1(fb_net(a, "B"), o2 + (size_t)j * fb_cfg(a)->obs_dim, b);
        double nb = sqrt(dotd(b, b, D));
        for (int m = 0; m < D; m++) B[j][m] = fb_cfg(a)->bnorm ? sqrt((double)D) * b[m] / nb : b[m];
    }
}

static double comb(const fb_config *c, double q0, double q1) { return c->target_mean ? 0.5 * (q0 + q1) : fmin(q0, q1); }

/* L_FB and L_orth of rows with online F_k(s_i, a_i, z_i) = Fs[k][i], target rows
 * T[k][i] = F̄_k(s'_i, a'_i, z_i), and B rows (online = target here). done (N, may be
 * NULL): row i's s' is terminal, so its target term is dropped (not bootstrapped). */
static void ref_fb_orth(const fb_config *c, double Fs[2][3][8], double T[2][3][8], double B[3][8], const float *done,
                        double *lfb, double *lo)
{
    int N = 3, D = c->zdim;
    double nn1 = N * (N - 1.0);
    *lfb = 0, *lo = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double Mbar = comb(c, 0, 0), t0 = 0, t1 = 0, C = 0;
            for (int m = 0; m < D; m++) t0 += T[0][i][m] * B[j][m], t1 += T[1][i][m] * B[j][m], C += B[i][m] * B[j][m];
            Mbar = comb(c, t0, t1);
            *lo += i == j ? -2 * C / N : C * C / nn1;
            for (int k = 0; k < 2; k++) {
                double M = 0;
                for (int m = 0; m < D; m++) M += Fs[k][i][m] * B[j][m];
                if (done && done[i]) Mbar = 0; /* no bootstrap from a terminal s'_i */
                *lfb += i == j ? -M / N : 0.5 * (M - c->gamma * Mbar) * (M - c->gamma * Mbar) / nn1;
            }
        }
}

static const float *values_done; /* non-NULL: the 20 data rows' done flags */

static void values_discrete(fb_algo algo, uint64_t seed)
{
    fb_config c;
    tiny_config(&c, algo, 3, 0);
    c.batch = 3;
    fb_agent *a = NULL;
    CHECK(fb_create(&c, seed, &a, NULL) == 0);
    if (!a) return;
    rz_rng rng;
    rz_rng_seed(&rng, seed + 100);
    toy_data td;
    toy_make(&td, 20, 6, 3, 0, &rng);
    td.d.done = values_done;
    long idx[3] = {4, 9, 17};
    float z[3 * 4];
    for (int i = 0; i < 12; i++) z[i] = (float)rz_rng_normal(&rng);
    fb_stats st;
    double total = fb_loss_fixed(a, &td.d, idx, z, 0, &st);

    int N = 3, D = c.zdim, A = 3, od = 6;
    double Fall[2][3][3][8], Fs[2][3][8], T[2][3][8], B[3][8];
    float in[16], out[32], o2[3 * 6];
    for (int i = 0; i < N; i++) memcpy(o2 + i * od, td.O2 + idx[i] * od, od * sizeof(float));
    ref_B(a, o2, B);
    for (int i = 0; i < N; i++) {
        const float *zi = z + i * D;
        int ai = (int)td.A[idx[i]];
        double Tq[2][3][8];
        for (int k = 0; k < 2; k++) {
            memcpy(in, td.O + idx[i] * od, od * sizeof(float)), memcpy(in + od, zi, D * sizeof(float));
            fwd1(fb_net(a, k ? "F2" : "F1"), in, out);
            for (int b = 0; b < A; b++)
                for (int m = 0; m < D; m++) Fall[k][i][b][m] = out[b * D + m];
            for (int m = 0; m < D; m++) Fs[k][i][m] = Fall[k][i][ai][m];
            memcpy(in, td.O2 + idx[i] * od, od * sizeof(float)); /* target input [s'_i, z_i] */
            fwd1(fb_net(a, k ? "F2" : "F1"), in, out);
            for (int b = 0; b < A; b++)
                for (int m = 0; m < D; m++) Tq[k][b][m] = out[b * D + m];
        }
        /* a'_i = argmax_b comb_k F̄_k(s'_i, b, z_i)ᵀz_i */
        int best = 0;
        double bq = -1e300;
        for (int b = 0; b < A; b++) {
            double q0 = 0, q1 = 0;
            for (int m = 0; m < D; m++) q0 += Tq[0][b][m] * zi[m], q1 += Tq[1][b][m] * zi[m];
            if (comb(&c, q0, q1) > bq) bq = comb(&c, q0, q1), best = b;
        }
        for (int k = 0; k < 2; k++)
            for (int m = 0; m < D; m++) T[k][i][m] = Tq[k][best][m];
    }
    double lfb, lo, pen = 0;
    float done_rows[3];
    for (int i = 0; i < N; i++) done_rows[i] = values_done ? values_done[idx[i]] : 0;
    ref_fb_orth(&c, Fs, T, B, done_rows, &lfb, &lo);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < N; i++) {
            int ai = (int)td.A[idx[i]];
            if (algo == FB_ALGO_VCFB) { /* Σ_k mean_i [lse_b Q_k(i,b) − Q_k(i,a_i)], Q = Fᵀz_i */
                double q[3], se = 0;
                for (int b = 0; b < A; b++) {
                    q[b] = 0;
                    for (int m = 0; m < D; m++) q[b] += Fall[k][i][b][m] * z[i * D + m];
                    se += exp(q[b]);
                }
                pen += (log(se) - q[ai]) / N;
            } else if (algo == FB_ALGO_MCFB) { /* Σ_k mean_ij [lse_b M_k(i,b,j) − M_k(i,a_i,j)] */
                for (int j = 0; j < N; j++) {
                    double mm[3], se = 0;
                    for (int b = 0; b < A; b++) {
                        mm[b] = 0;
                        for (int m = 0; m < D; m++) mm[b] += Fall[k][i][b][m] * B[j][m];
                        se += exp(mm[b]);
                    }
                    pen += (log(se) - mm[ai]) / (N * N);
                }
            }
        }
    double want = lfb + c.ortho_coef * lo + (algo != FB_ALGO_FB ? c.alpha * pen : 0);
    printf("#   %s: L_FB %.6f (ref %.6f), L_orth %.6f (ref %.6f), P %.6f (ref %.6f), total %.6f (ref %.6f)\n",
           fb_algo_name(algo), st.fb_loss, lfb, st.ortho_loss, lo, st.penalty, pen, total, want);
    CHECK_NEAR(st.fb_loss, lfb, 1e-5 * (1 + fabs(lfb)));
    CHECK_NEAR(st.ortho_loss, lo, 1e-5 * (1 + fabs(lo)));
    if (algo != FB_ALGO_FB) {
        CHECK(pen > 0.1); /* a real penalty: logsumexp over 3 actions exceeds the data action's value */
        CHECK_NEAR(st.penalty, pen, 1e-5 * (1 + fabs(pen)));
    }
    CHECK_NEAR(total, want, 1e-5 * (1 + fabs(want)));
    toy_free(&td);
    fb_destroy(a);
}

static void test_values_fb_3rows(void) { values_discrete(FB_ALGO_FB, 11); }
static void test_values_vcfb_3rows(void) { values_discrete(FB_ALGO_VCFB, 12); }
static void test_values_mcfb_3rows(void) { values_discrete(FB_ALGO_MCFB, 13); }
/* Row 9 of the batch (4, 9, 17) ends in a terminal state: its M̄ terms are dropped. */
static void test_values_fb_done_3rows(void)
{
    static const float done[20] = {[9] = 1, [5] = 1};
    values_done = done;
    values_discrete(FB_ALGO_FB, 14);
    values_done = NULL;
}

/* The continuous (point-mass shaped: 4 observations, 2 actions) FB path by value: the
 * target action is the actor's own π(s'_i, z_i) clipped to [−1, 1] (a fresh agent's noise
 * buffer is zero), M̄, L_FB and L_orth as above, and the actor loss −mean_i min_k
 * F_k(s_i, π(s_i, z_i), z_i)ᵀz_i. */
static void test_values_continuous_3rows(void)
{
    fb_config c;
    rz_rng rng;
    toy_data td;
    fb_agent *a = tiny_cont_agent(&c, 3, 21, &rng, &td);
    if (!a) return;
    long idx[3] = {2, 8, 15};
    float z[3 * 4];
    for (int i = 0; i < 12; i++) z[i] = (float)rz_rng_normal(&rng);
    fb_stats st;
    double total = fb_loss_fixed(a, &td.d, idx, z, 0, &st);
    double aloss = fb_actor_loss_fixed(a, &td.d, idx, z, 0);
    int N = 3, D = 4, od = 4, ad = 2;
    double Fs[2][3][8], T[2][3][8], B[3][8], aref = 0;
    float in[16], out[8], pi[2], o2[3 * 4];
    for (int i = 0; i < N; i++) memcpy(o2 + i * od, td.O2 + idx[i] * od, od * sizeof(float));
    ref_B(a, o2, B);
    for (int i = 0; i < N; i++) {
        const float *zi = z + i * D;
        double q[2];
        /* target: a' = clip(π(s'_i, z_i), ±1); F̄_k(s'_i, a', z_i) */
        memcpy(in, td.O2 + idx[i] * od, od * sizeof(float)), memcpy(in + od, zi, D * sizeof(float));
        fwd1(fb_net(a, "actor"), in, pi);
        for (int k = 0; k < 2; k++) {
            memcpy(in, td.O2 + idx[i] * od, od * sizeof(float));
            for (int r = 0; r < ad; r++) in[od + r] = pi[r] < -1 ? -1 : pi[r] > 1 ? 1 : pi[r];
            memcpy(in + od + ad, zi, D * sizeof(float));
            fwd1(fb_net(a, k ? "F2" : "F1"), in, out);
            for (int m = 0; m < D; m++) T[k][i][m] = out[m];
            /* online: F_k(s_i, a_i, z_i) */
            memcpy(in, td.O + idx[i] * od, od * sizeof(float)), memcpy(in + od, td.A + idx[i] * ad, ad * sizeof(float));
            memcpy(in + od + ad, zi, D * sizeof(float));
            fwd1(fb_net(a, k ? "F2" : "F1"), in, out);
            for (int m = 0; m < D; m++) Fs[k][i][m] = out[m];
        }
        /* actor loss row: π(s_i, z_i), then min_k F_k(s_i, π, z_i)ᵀz_i */
        memcpy(in, td.O + idx[i] * od, od * sizeof(float)), memcpy(in + od, zi, D * sizeof(float));
        fwd1(fb_net(a, "actor"), in, pi);
        for (int k = 0; k < 2; k++) {
            memcpy(in, td.O + idx[i] * od, od * sizeof(float)), memcpy(in + od, pi, ad * sizeof(float));
            memcpy(in + od + ad, zi, D * sizeof(float));
            fwd1(fb_net(a, k ? "F2" : "F1"), in, out);
            q[k] = dotd(out, zi, D);
        }
        aref -= fmin(q[0], q[1]) / N;
    }
    double lfb, lo;
    ref_fb_orth(&c, Fs, T, B, NULL, &lfb, &lo);
    printf("#   continuous: L_FB %.6f (ref %.6f), L_orth %.6f (ref %.6f), actor %.6f (ref %.6f)\n", st.fb_loss, lfb,
           st.ortho_loss, lo, aloss, aref);
    CHECK_NEAR(st.fb_loss, lfb, 1e-5 * (1 + fabs(lfb)));
    CHECK_NEAR(st.ortho_loss, lo, 1e-5 * (1 + fabs(lo)));
    CHECK_NEAR(total, lfb + c.ortho_coef * lo, 1e-5 * (1 + fabs(lfb)));
    CHECK_NEAR(aloss, aref, 1e-5 * (1 + fabs(aref)));
    CHECK(fabs(aref) > 1e-3);
    toy_free(&td);
    fb_destroy(a);
}

/* The actor's gradient by central differences (as gradcheck_fb, Richardson), with a floor
 * on its size: a gradient that is zero everywhere (actor disconnected from F's action
 * input) would match differences of a constant loss, so at least half of the parameters
 * must have |g| > 1e-4 and the largest must exceed 1e-2. */
static void test_grad_actor(void)
{
    fb_config c;
    rz_rng rng;
    toy_data td;
    fb_agent *a = tiny_cont_agent(&c, 5, 31, &rng, &td);
    if (!a) return;
    CHECK(fb_train_step(a, &td.d, NULL, NULL) == 0); /* F, B, actor away from their init */
    long idx[5] = {1, 5, 9, 13, 18};
    float z[5 * 4];
    for (int i = 0; i < 20; i++) z[i] = (float)rz_rng_normal(&rng);
    fb_actor_loss_fixed(a, &td.d, idx, z, 1);
    nn_mlp *net = fb_net(a, "actor");
    float *g = malloc(net->n_params * sizeof(float));
    memcpy(g, net->grad, net->n_params * sizeof(float));
    int bad = 0, big = 0;
    double worst = 0, gmax = 0;
    for (size_t i = 0; i < net->n_params; i++) {
        const float h = 1e-2f;
        float keep = net->param[i];
        double D2[2];
        for (int r = 0; r < 2; r++) {
            float hh = r ? h / 2 : h;
            net->param[i] = keep + hh;
            double lp = fb_actor_loss_fixed(a, &td.d, idx, z, 0);
            net->param[i] = keep - hh;
            double lm = fb_actor_loss_fixed(a, &td.d, idx, z, 0);
            net->param[i] = keep;
            D2[r] = (lp - lm) / (2 * (double)hh);
        }
        double fd = (4 * D2[1] - D2[0]) / 3, err = fabs(fd - g[i]) / (1 + fabs(fd));
        worst = fmax(worst, err);
        if (err > 3e-3) bad++;
        if (fabs(g[i]) > 1e-4) big++;
        gmax = fmax(gmax, fabs(g[i]));
    }
    printf("#   actor: %zu parameters, worst error %.2e, %d with |g| > 1e-4, max |g| %.3g\n", net->n_params, worst, big, gmax);
    CHECK_EQ_INT(bad, 0);
    CHECK(2 * big >= (int)net->n_params && gmax > 1e-2);
    free(g);
    toy_free(&td);
    fb_destroy(a);
}

/* Lagrange α by value: Adam's first step on log α moves it by exactly lr_alpha against
 * the sign of its gradient −α(P − target) (m̂ = g, v̂ = g², step lr·g/(|g| + 1e-8)): α
 * grows by e^{lr} when the step's penalty P exceeds the target, shrinks by e^{−lr} when
 * it is below. */
static void test_lagrange_alpha(void)
{
    for (int up = 0; up < 2; up++) {
        fb_config c;
        tiny_config(&c, FB_ALGO_MCFB, 3, 0);
        c.lagrange = 1;
        c.alpha = 0.5f;
        c.lr_alpha = 0.05f;
        c.alpha_target = up ? 1e-3f : 1e3f; /* P is O(1): below 1e3, above 1e-3 */
        fb_agent *a = NULL;
        CHECK(fb_create(&c, 41 + up, &a, NULL) == 0);
        if (!a) return;
        rz_rng rng;
        rz_rng_seed(&rng, 141);
        toy_data td;
        toy_make(&td, 20, 6, 3, 0, &rng);
        fb_stats s0, s1;
        CHECK(fb_train_step(a, &td.d, &s0, NULL) == 0);
        long idx[5] = {0, 1, 2, 3, 4};
        float z[20] = {0};
        fb_loss_fixed(a, &td.d, idx, z, 0, &s1);
        double want = 0.5 * exp(up ? c.lr_alpha : -c.lr_alpha);
        printf("#   %s: P %.4f vs target %g: alpha %.6f -> %.6f (want %.6f)\n", up ? "above" : "below", s0.penalty,
               c.alpha_target, s0.alpha, s1.alpha, want);
        CHECK_NEAR(s0.alpha, 0.5, 1e-6);
        CHECK_NEAR(s1.alpha, want, 1e-5);
        toy_free(&td);
        fb_destroy(a);
    }
}

/* The implicit reward's defining identity: with every z_i = z, (1/n) Σ_i r_i B_i =
 * Cov Cov⁻¹ z = z. Cov (d = 6 from n = 40 Gaussian rows) is well conditioned, so only
 * the 1e-6 relative ridge (error ≈ 1e-6·‖z‖·cond) and double rounding remain: 1e-4
 * relative to ‖z‖ is a wide margin. Also: B with fewer rows than d (singular Cov) still
 * yields finite rewards. */
static void test_implicit_reward(void)
{
    enum { n = 40, d = 6 };
    rz_rng rng;
    rz_rng_seed(&rng, 11);
    float B[n * d], Z[n * d], z[d];
    double cov[d * d], work[d * n], r[n];
    for (int p = 0; p < d; p++) z[p] = (float)rz_rng_normal(&rng);
    for (int i = 0; i < n; i++)
        for (int p = 0; p < d; p++) B[i * d + p] = (float)rz_rng_normal(&rng), Z[i * d + p] = z[p];
    CHECK_EQ_INT(fb_implicit_reward(n, d, B, Z, cov, work, r), 0);
    double zn = 0, worst = 0;
    for (int p = 0; p < d; p++) zn += (double)z[p] * z[p];
    for (int p = 0; p < d; p++) {
        double acc = 0;
        for (int i = 0; i < n; i++) acc += r[i] * B[i * d + p] / n;
        worst = fmax(worst, fabs(acc - z[p]));
    }
    CHECK(worst < 1e-4 * sqrt(zn));
    /* 3 rows in 6 dimensions: Cov has rank 3; the ridge keeps the solve defined. */
    CHECK_EQ_INT(fb_implicit_reward(3, d, B, Z, cov, work, r), 0);
    for (int i = 0; i < 3; i++) CHECK(isfinite(r[i]));
}

/* Training 6 steps straight equals 3 steps, a save/restore of every state array into a
 * fresh agent (created with another seed), then 3 more — bit for bit. The Q-loss is on
 * and the learning rate anneals over steps 2..5, so the restart falls inside the window. */
static void test_resume_exact(void)
{
    for (int cont = 0; cont < 2; cont++) {
        rz_rng rng;
        rz_rng_seed(&rng, 21);
        toy_data td;
        toy_make(&td, 40, 6, cont ? 0 : 3, 2, &rng);
        fb_config cfg;
        tiny_config(&cfg, FB_ALGO_VCFB, cont ? 0 : 3, 2);
        cfg.qloss = 0.5f;
        cfg.lr_decay = 0.1f;
        cfg.anneal_start = 2;
        cfg.anneal_end = 5;
        fb_agent *a = NULL, *b = NULL, *c = NULL;
        CHECK(fb_create(&cfg, 7, &a, NULL) == 0 && fb_create(&cfg, 7, &b, NULL) == 0 && fb_create(&cfg, 99, &c, NULL) == 0);
        if (!a || !b || !c) return;
        for (int i = 0; i < 6; i++) CHECK(fb_train_step(a, &td.d, NULL, NULL) == 0);
        for (int i = 0; i < 3; i++) CHECK(fb_train_step(b, &td.d, NULL, NULL) == 0);
        fb_tensor *tb, *tc, *ta;
        int nb, nc, na;
        CHECK(fb_state(b, &tb, &nb, NULL) == 0);
        CHECK(fb_state(c, &tc, &nc, NULL) == 0);
        CHECK_EQ_INT(nb, nc);
        for (int k = 0; k < nb && k < nc; k++) {
            CHECK(tb[k].n == tc[k].n && !strcmp(tb[k].name, tc[k].name));
            memcpy(tc[k].data, tb[k].data, tb[k].n * sizeof(float));
        }
        fb_state_loaded(c);
        for (int i = 0; i < 3; i++) CHECK(fb_train_step(c, &td.d, NULL, NULL) == 0);
        CHECK_EQ_INT(fb_steps(c), 6);
        CHECK(fb_state(a, &ta, &na, NULL) == 0);
        free(tc);
        CHECK(fb_state(c, &tc, &nc, NULL) == 0);
        int same = 1;
        for (int k = 0; k < na; k++) same &= !memcmp(ta[k].data, tc[k].data, ta[k].n * sizeof(float));
        CHECK(same);
        free(ta), free(tb), free(tc);
        fb_destroy(a), fb_destroy(b), fb_destroy(c);
        toy_free(&td);
    }
}

/* The annealing schedule against its closed form, and its effect: two agents that differ
 * only in lr_decay agree bit for bit until the window opens and differ after. */
static void test_anneal(void)
{
    fb_config c;
    tiny_config(&c, FB_ALGO_FB, 3, 0);
    CHECK_NEAR(fb_lr_factor(&c, 1000), 1.0, 0);
    c.lr_decay = 0.01f;
    c.anneal_start = 10;
    c.anneal_end = 30;
    CHECK_NEAR(fb_lr_factor(&c, 0), 1.0, 0);
    CHECK_NEAR(fb_lr_factor(&c, 10), 1.0, 0);
    CHECK_NEAR(fb_lr_factor(&c, 20), 0.1, 1e-6);  /* halfway: √0.01 (float lr_decay: 1e-7 relative) */
    CHECK_NEAR(fb_lr_factor(&c, 25), pow(0.01, 0.75), 1e-6);
    CHECK_NEAR(fb_lr_factor(&c, 30), 0.01, 1e-8);
    CHECK_NEAR(fb_lr_factor(&c, 1 << 30), 0.01, 1e-8);
    fb_agent *x = NULL;
    c.anneal_end = 10; /* an empty window is refused */
    CHECK(fb_create(&c, 1, &x, NULL) != 0 && !x);
    c.anneal_end = 30;
    c.lr_decay = 0; /* so is a zero rate */
    CHECK(fb_create(&c, 1, &x, NULL) != 0 && !x);

    rz_rng rng;
    rz_rng_seed(&rng, 5);
    toy_data td;
    toy_make(&td, 40, 6, 3, 0, &rng);
    fb_config k;
    tiny_config(&k, FB_ALGO_FB, 3, 0);
    fb_agent *p = NULL, *q = NULL;
    CHECK(fb_create(&k, 3, &p, NULL) == 0);
    k.lr_decay = 0.1f, k.anneal_start = 2, k.anneal_end = 4;
    CHECK(fb_create(&k, 3, &q, NULL) == 0);
    if (!p || !q) return;
    int same_before = 1, same_after = 1;
    for (int s = 0; s < 4; s++) {
        CHECK(fb_train_step(p, &td.d, NULL, NULL) == 0 && fb_train_step(q, &td.d, NULL, NULL) == 0);
        nn_mlp *fp = fb_net(p, "F1"), *fq = fb_net(q, "F1");
        int same = !memcmp(fp->param, fq->param, fp->n_params * sizeof(float));
        if (s < 3) same_before &= same; /* steps 0..2 at the full rate (the factor is 1 at the window's start) */
        else same_after &= same;
    }
    CHECK(same_before);
    CHECK(!same_after);
    fb_destroy(p), fb_destroy(q);
    toy_free(&td);
}

/* Train 3 steps from seed 3 with the given z mixture; returns F1's parameters (malloc'd). */
static float *train_mixture(const toy_data *td, float mix, float traj, int len, size_t *np)
{
    fb_config c;
    tiny_config(&c, FB_ALGO_FB, 3, 0);
    c.mix_ratio = mix, c.traj_ratio = traj, c.traj_len = len;
    fb_agent *a = NULL;
    CHECK(fb_create(&c, 3, &a, NULL) == 0);
    if (!a) return NULL;
    for (int s = 0; s < 3; s++) CHECK(fb_train_step(a, &td->d, NULL, NULL) == 0);
    nn_mlp *f = fb_net(a, "F1");
    float *p = malloc(f->n_params * sizeof(float));
    memcpy(p, f->param, f->n_params * sizeof(float));
    *np = f->n_params;
    fb_destroy(a);
    return p;
}

/* Trajectory-window zs, through identities of the sampler (every branch draws the same
 * random numbers — the branch, then the start j — so runs are comparable):
 *  - windows of length 1 are single next-state goals: training equals mix_ratio = 1 up to
 *    the rounding of normalising twice (1e-5 of the parameters' scale after 3 steps);
 *  - on data where no transition starts where the previous ended, every window is cut
 *    after its first state, so length 8 trains bit for bit as length 1;
 *  - on contiguous data (O[j+1] = O2[j]) length-8 windows are real averages and differ. */
static void test_traj_windows(void)
{
    rz_rng rng;
    rz_rng_seed(&rng, 17);
    toy_data td;
    toy_make(&td, 40, 6, 3, 0, &rng);
    size_t n1 = 0, n8 = 0, nm = 0;
    float *p1 = train_mixture(&td, 0, 1, 1, &n1), *p8 = train_mixture(&td, 0, 1, 8, &n8);
    float *pm = train_mixture(&td, 1, 0, 8, &nm);
    if (!p1 || !p8 || !pm) return;
    CHECK(n1 == n8 && n1 == nm);
    CHECK(!memcmp(p1, p8, n1 * sizeof(float)));
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n1; i++) worst = fmax(worst, fabs(p1[i] - pm[i])), scale = fmax(scale, fabs(pm[i]));
    CHECK(worst < 1e-5 * scale);
    free(p8);
    for (long j = 0; j + 1 < td.d.n; j++) memcpy(td.O + (j + 1) * 6, td.O2 + j * 6, 6 * sizeof(float));
    float *q1 = train_mixture(&td, 0, 1, 1, &n1), *q8 = train_mixture(&td, 0, 1, 8, &n8);
    if (q1 && q8) CHECK(memcmp(q1, q8, n1 * sizeof(float)) != 0);
    fb_config c;
    tiny_config(&c, FB_ALGO_FB, 3, 0);
    c.mix_ratio = 0.6f, c.traj_ratio = 0.6f; /* more than all of the zs */
    fb_agent *x = NULL;
    CHECK(fb_create(&c, 1, &x, NULL) != 0 && !x);
    free(p1), free(pm), free(q1), free(q8);
    toy_free(&td);
}

/* Reward inference against its definition, recomputed from B's raw outputs:
 * z = √d·normalize(Σ_i r_i √d·b_i/‖b_i‖). A reward that vanishes on every label gives 0. */
static void test_infer_z_reward(void)
{
    rz_rng rng;
    rz_rng_seed(&rng, 4);
    fb_agent *a = tiny_agent(FB_ALGO_FB, 3, 0, 3, 0);
    if (!a) return;
    float O[7 * 6], r[7], z[4], zero[7] = {0};
    for (int i = 0; i < 42; i++) O[i] = (float)rz_rng_normal(&rng);
    for (int i = 0; i < 7; i++) r[i] = (float)rz_rng_uniform(&rng);
    CHECK(fb_infer_z_reward(a, 7, O, r, z, NULL) == 0);
    nn_tape t;
    CHECK(nn_tape_init(&t, fb_net(a, "B"), 7, NULL) == 0);
    const float *Bo = nn_forward(fb_net(a, "B"), &t, O, 7);
    double acc[4] = {0}, n2 = 0;
    for (int i = 0; i < 7; i++) {
        double nb = 0;
        for (int q = 0; q < 4; q++) nb += (double)Bo[i * 4 + q] * Bo[i * 4 + q];
        for (int q = 0; q < 4; q++) acc[q] += r[i] * 2.0 * Bo[i * 4 + q] / sqrt(nb);
    }
    for (int q = 0; q < 4; q++) n2 += acc[q] * acc[q];
    for (int q = 0; q < 4; q++) CHECK_NEAR(z[q], 2.0 * acc[q] / sqrt(n2), 1e-5); /* float sums of 7 terms */
    CHECK(fb_infer_z_reward(a, 7, O, zero, z, NULL) == 0);
    CHECK(z[0] == 0 && z[3] == 0);
    r[2] = NAN;
    CHECK_EQ_INT(fb_infer_z_reward(a, 7, O, r, z, NULL), RZ_EINPUT);
    nn_tape_free(&t);
    fb_destroy(a);
}

/* Reference Q_j(o, act, z) of one row, recomputed here from the raw networks one row at a
 * time: [o (, act), z] through F1 and F2, each head's output block dotted with z, the two
 * combined as the agent's configuration says (min, or mean with target_mean). */
static double ref_q(fb_agent *a, const float *o, int b, const float *act, const float *z)
{
    const fb_config *c = fb_cfg(a);
    int od = c->obs_dim, D = c->zdim, ad = c->n_actions ? 0 : c->act_dim;
    float in[64];
    memcpy(in, o, od * sizeof(float));
    if (act) memcpy(in + od, act, ad * sizeof(float));
    memcpy(in + od + ad, z, D * sizeof(float));
    double q[2];
    for (int h = 0; h < 2; h++) {
        nn_tape t;
        CHECK(nn_tape_init(&t, fb_net(a, h ? "F2" : "F1"), 1, NULL) == 0);
        const float *F = nn_forward(fb_net(a, h ? "F2" : "F1"), &t, in, 1) + (ad ? 0 : (size_t)b * D);
        q[h] = 0;
        for (int m = 0; m < D; m++) q[h] += (double)F[m] * z[m];
        nn_tape_free(&t);
    }
    return c->target_mean ? 0.5 * (q[0] + q[1]) : fmin(q[0], q[1]);
}

/* fb_ens_act against that reference: three differently initialised agents, each with its
 * own z. Discrete: the action maximises Σ_j Q_j(o, b, z_j); continuous: it is one of the
 * members' actor proposals π_i(o, z_i), the one with the largest Σ_j Q_j(o, π_i, z_j).
 * Batched and one-row sgemm round differently (≈1e-6 relative on Q of order 1), so a
 * near-tie may go either way: the chosen action's reference sum must be within 1e-4 of
 * the best, and the reported Q (the members' mean) within 1e-4 of the reference.
 * Properties: an ensemble of one agent twice acts exactly as the agent alone (the sum
 * is 2·Q, exact in double); members that disagree on the actions are refused. */
static void test_ensemble_act(void)
{
    enum { K = 3, N = 40 };
    rz_rng rng;
    rz_rng_seed(&rng, 11);
    for (int disc = 1; disc >= 0; disc--) {
        fb_agent *ag[K];
        float z[K][4], O[N * 6], act[N * 2], Q[N], act1[N * 2], Q1[N];
        const float *zp[K];
        for (int j = 0; j < K; j++) {
            ag[j] = tiny_agent(FB_ALGO_FB, disc ? 3 : 0, disc ? 0 : 2, 20 + j, 0);
            if (!ag[j]) return;
            for (int q = 0; q < 4; q++) z[j][q] = (float)rz_rng_normal(&rng);
            zp[j] = z[j];
        }
        for (int i = 0; i < N * 6; i++) O[i] = (float)rz_rng_normal(&rng);
        CHECK(fb_ens_act(ag, K, N, O, zp, act, Q, NULL) == 0);
        int bad = 0;
        for (int i = 0; i < N; i++) {
            const float *o = O + i * 6;
            double best = -1e300, chosen = 0;
            if (disc) {
                for (int b = 0; b < 3; b++) {
                    double sum = 0;
                    for (int j = 0; j < K; j++) sum += ref_q(ag[j], o, b, NULL, z[j]);
                    best = fmax(best, sum);
                    if (b == (int)act[i]) chosen = sum;
                }
            } else {
                int found = 0;
                for (int c = 0; c < K; c++) {
                    float in[10], cand[2];
                    memcpy(in, o, 6 * sizeof(float));
                    memcpy(in + 6, z[c], 4 * sizeof(float));
                    nn_tape t;
                    CHECK(nn_tape_init(&t, fb_net(ag[c], "actor"), 1, NULL) == 0);
                    memcpy(cand, nn_forward(fb_net(ag[c], "actor"), &t, in, 1), sizeof cand);
                    nn_tape_free(&t);
                    double sum = 0;
                    for (int j = 0; j < K; j++) sum += ref_q(ag[j], o, 0, cand, z[j]);
                    best = fmax(best, sum);
                    if (fabsf(cand[0] - act[i * 2]) < 1e-5f && fabsf(cand[1] - act[i * 2 + 1]) < 1e-5f) chosen = sum, found = 1;
                }
                bad += !found;
            }
            bad += chosen < best - 1e-4 || fabs(Q[i] - chosen / K) > 1e-4;
        }
        CHECK_EQ_INT(bad, 0);
        /* one agent twice = the agent */
        fb_agent *twice[2] = {ag[0], ag[0]};
        const float *ztw[2] = {z[0], z[0]};
        CHECK(fb_ens_act(twice, 2, N, O, ztw, act, Q, NULL) == 0);
        CHECK(fb_act(ag[0], N, O, z[0], act1, Q1, NULL) == 0);
        CHECK(memcmp(act, act1, (size_t)N * (disc ? 1 : 2) * sizeof(float)) == 0);
        for (int i = 0; i < N; i++) CHECK_NEAR(Q[i], Q1[i], 1e-6); /* (2q)/2 in double, then float */
        for (int j = 0; j < K; j++) fb_destroy(ag[j]);
    }
    /* a discrete and a continuous agent cannot act together */
    fb_agent *mixed[2] = {tiny_agent(FB_ALGO_FB, 3, 0, 1, 0), tiny_agent(FB_ALGO_FB, 0, 2, 2, 0)};
    float zz[4] = {1, 0, 0, 0}, O[6] = {0}, act[2];
    const float *zm[2] = {zz, zz};
    rz_err e = {0};
    CHECK_EQ_INT(fb_ens_act(mixed, 2, 1, O, zm, act, NULL, &e), RZ_EINPUT);
    CHECK(strstr(e.msg, "member 1") != NULL);
    CHECK_EQ_INT(fb_ens_act(mixed, 0, 1, O, zm, act, NULL, NULL), RZ_EINPUT);
    fb_destroy(mixed[0]), fb_destroy(mixed[1]);
}

static double goal_success(fb_agent *a, const rl_env *env)
{
    rl_task *t;
    int nt;
    double succ = 0;
    if (rl_env_tasks(env, "goals", &t, &nt, NULL)) return -1;
    for (int k = 0; k < nt; k++) {
        fb_task_result r;
        if (fb_eval_task(&a, 1, env, &t[k], 0, NULL, 4, 0, 10 + k, &r, NULL, NULL)) return -1;
        succ += r.success / nt;
    }
    rl_tasks_free(t, nt);
    return succ;
}

/* fb_eval_task's every-start mode against a rollout written here from the grid's
 * successor table: from every free cell but the goal, follow the greedy action for the
 * horizon; with slip 0 both are exact, so the success fractions must be equal. */
static void check_all_starts(fb_agent *a, const rl_env *env)
{
    rl_task *t;
    int nt, n = env->grid.n_free, od = env->obs_dim, D = fb_cfg(a)->zdim;
    CHECK(rl_env_tasks(env, "goals", &t, &nt, NULL) == 0);
    float *O = malloc((size_t)n * od * sizeof(float)), *act = malloc(n * sizeof(float)), *z = malloc(D * sizeof(float));
    for (int s = 0; s < n; s++) {
        float st[2] = {(float)(env->grid.cell_of[s] % env->grid.w), (float)(env->grid.cell_of[s] / env->grid.w)};
        rl_env_obs(env, st, O + (size_t)s * od);
    }
    int same = 1;
    for (int k = 0; k < nt; k++) {
        fb_task_result r;
        CHECK(fb_eval_task(&a, 1, env, &t[k], 0, NULL, 1, 1, 1, &r, &z, NULL) == 0);
        CHECK_EQ_INT(r.episodes, n - 1);
        int goal = rl_grid_id(env, t[k].goal), reached = 0;
        fb_act(a, n, O, z, act, NULL, NULL);
        for (int s = 0; s < n; s++) {
            if (s == goal) continue;
            int cur = s;
            for (int step = 0; step < env->horizon && cur != goal; step++) cur = env->grid.next[cur * RL_GRID_ACTIONS + (int)act[cur]];
            reached += cur == goal;
        }
        same &= r.success == (double)reached / (n - 1);
    }
    CHECK(same);
    free(O), free(act), free(z);
    rl_tasks_free(t, nt);
}

/* FB learns: on a 2-room map with a doorway (13 free cells), full-coverage data, zero-shot
 * goal reaching must succeed from most starts. Under the sanitizers (RZ_SANITIZED) the
 * run is cut to 100 steps and only checks that training stays finite. */
static void test_learns_two_rooms(void)
{
    int san = check_sanitized();
    rl_env env;
    CHECK(rl_env_grid_parse(&env, "#######\n#..#..#\n#.....#\n#..#..#\n#######\n", "two-rooms", 0, NULL) == 0);
    long n = 4000;
    float *S = malloc(n * 2 * sizeof(float)), *A = malloc(n * sizeof(float)), *S2 = malloc(n * 2 * sizeof(float));
    float *O = malloc(n * env.obs_dim * sizeof(float)), *O2 = malloc(n * env.obs_dim * sizeof(float));
    CHECK(rl_collect(&env, RL_POL_COVERAGE, n, 1, S, A, S2, NULL) == 0);
    for (long i = 0; i < n; i++) {
        rl_env_obs(&env, S + 2 * i, O + i * env.obs_dim);
        rl_env_obs(&env, S2 + 2 * i, O2 + i * env.obs_dim);
    }
    fb_data d = {n, env.obs_dim, 1, O, A, O2, NULL};
    fb_config c;
    fb_config_default(&c, FB_ALGO_FB, env.obs_dim, 5, 1);
    c.zdim = 16;
    c.hidden = 64;
    c.batch = 128;
    c.lr_f = c.lr_b = 1e-3f;
    c.gamma = 0.95f;
    fb_agent *a = NULL;
    CHECK(fb_create(&c, 1, &a, NULL) == 0);
    if (!a) return;
    int steps = san ? 100 : 2000, ok = 1;
    double before = san ? 0 : goal_success(a, &env);
    fb_stats st;
    for (int i = 0; i < steps && ok; i++) ok = fb_train_step(a, &d, &st, NULL) == 0;
    CHECK(ok && isfinite(st.fb_loss));
    if (!san) {
        /* Measured 0.94 after 2000 steps (seed 1; 0.85–0.89 at 1500/2500 steps with other
         * data seeds), untrained 0.02. The bar
         * is set below the measurement and far above chance. */
        double after = goal_success(a, &env);
        printf("# two-rooms goal success: %.3f untrained, %.3f after %d steps\n", before, after, steps);
        CHECK(after >= 0.75);
        CHECK(after >= before + 0.3);
    }
    check_all_starts(a, &env);
    fb_destroy(a);
    free(S), free(A), free(S2), free(O), free(O2);
    rl_env_free(&env);
}

/* fb_config_bytes against what fb_create really allocates (glibc's mallinfo2: bytes in
 * use in the arena plus mmapped chunks, which include malloc's own headers and page
 * rounding): the estimate must cover the allocation — it guards memory — and stay
 * within 30% of it, so the cap refuses only what is really too big. Sizes are chosen so
 * that per-allocation overhead (≈ 100 allocations × 16 bytes) is far below 1%.
 * ASan replaces malloc and mallinfo2 then reports nothing, so the sanitizer build
 * checks only the refusal. */
#if defined(__SANITIZE_ADDRESS__)
#define FB_MEASURE_MALLOC 0
#else
#include <malloc.h>
#define FB_MEASURE_MALLOC 1
static double heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return (double)m.uordblks + (double)m.hblkhd;
}
#endif

static void test_memory_estimate(void)
{
    struct { fb_algo algo; int n_actions, act_dim, hidden, batch, traj_len; } cases[] = {
        {FB_ALGO_FB, 5, 0, 128, 256, 0},  {FB_ALGO_MCFB, 5, 0, 96, 200, 0}, {FB_ALGO_FB, 5, 0, 64, 128, 8},
        {FB_ALGO_VCFB, 0, 2, 128, 128, 0}, {FB_ALGO_MCFB, 0, 3, 64, 96, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fb_config c;
        fb_config_default(&c, cases[i].algo, 30, cases[i].n_actions, cases[i].act_dim);
        c.hidden = cases[i].hidden;
        c.batch = cases[i].batch;
        c.zdim = 40;
        if (cases[i].traj_len) c.traj_ratio = 0.25f, c.traj_len = cases[i].traj_len;
        double est = fb_config_bytes(&c);
        fb_agent *a = NULL;
#if FB_MEASURE_MALLOC
        double before = heap_in_use();
        CHECK(fb_create(&c, 1, &a, NULL) == 0);
        double used = heap_in_use() - before;
        if (!(used <= est && est <= 1.3 * used))
            printf("#   case %zu: estimate %.0f bytes, allocated %.0f (ratio %.3f)\n", i, est, used, est / used);
        CHECK(used <= est);
        CHECK(est <= 1.3 * used);
#else
        CHECK(fb_create(&c, 1, &a, NULL) == 0);
        CHECK(est > 0);
#endif
        fb_destroy(a);
    }
    /* every size within its own bound, the product far beyond the cap: refused with
     * the estimate in the message, before any allocation */
    fb_config c;
    fb_config_default(&c, FB_ALGO_MCFB, 30, 5, 0);
    c.hidden = 8192;
    c.layers = 7;
    c.batch = 65536;
    CHECK(fb_config_bytes(&c) > FB_MAX_BYTES);
    fb_agent *a = NULL;
    rz_err e = {0};
    CHECK(fb_create(&c, 1, &a, &e) == RZ_EINPUT);
    CHECK(a == NULL);
    CHECK(strstr(e.msg, "GiB") != NULL);
}

int main(void)
{
    openblas_set_num_threads(1); /* deterministic and fast at these sizes */
    RUN(test_grad_fb_discrete);
    RUN(test_grad_vcfb_discrete);
    RUN(test_grad_mcfb_discrete);
    RUN(test_grad_fb_continuous);
    RUN(test_grad_vcfb_continuous);
    RUN(test_grad_mcfb_continuous);
    RUN(test_grad_fb_qloss_discrete);
    RUN(test_grad_mcfb_qloss_continuous);
    RUN(test_grad_fb_done);
    RUN(test_values_fb_3rows);
    RUN(test_values_vcfb_3rows);
    RUN(test_values_mcfb_3rows);
    RUN(test_values_fb_done_3rows);
    RUN(test_values_continuous_3rows);
    RUN(test_grad_actor);
    RUN(test_lagrange_alpha);
    RUN(test_implicit_reward);
    RUN(test_resume_exact);
    RUN(test_anneal);
    RUN(test_traj_windows);
    RUN(test_infer_z_reward);
    RUN(test_ensemble_act);
    RUN(test_memory_estimate);
    RUN(test_learns_two_rooms);
    return check_summary();
}
