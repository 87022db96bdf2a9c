/* test_rl_fbcpr.c — FB-CPR (fbcpr.h): finite-difference checks of the discriminator loss
 * (BCE + gradient penalty, through the hand-written double backward), the critic's TD
 * loss and the regularised actor loss; the gradient penalty's value and gradient on a
 * hand-built network; expert window embeddings against fb's own goal embedding; the z
 * mixture's proportions and the origin of each z; an update in both modes; the done
 * flag (terminal rows do not bootstrap) in the critic's and FB's TD targets. */
#include "../check.h"
#include "fbcpr.h"

enum { OD = 3, AD = 2, ZD = 4, NB = 8 };

typedef struct {
    fb_agent *fb;
    fbcpr *c;
    float O[NB * OD], A[NB * AD], O2[NB * OD], Z[NB * ZD], EO[NB * OD], EO2[NB * OD];
} toy;

static float toy_qloss; /* > 0: the FB agent's Q-loss weight (its T_i bootstraps too) */

static void toy_make(toy *t, int cpr, uint64_t seed)
{
    fb_config f;
    fb_config_default(&f, FB_ALGO_FB, OD, 0, AD);
    f.zdim = ZD, f.hidden = 8, f.layers = 2, f.batch = NB;
    if (toy_qloss > 0) f.qloss = toy_qloss;
    CHECK(fb_create(&f, seed, &t->fb, NULL) == 0);
    fbcpr_config cc;
    fbcpr_config_default(&cc);
    cc.cpr = cpr, cc.seq_length = 4, cc.disc_hidden = 6, cc.disc_layers = 2;
    cc.reg_coeff = 0.5f; /* large enough that the critic term matters in the actor check */
    CHECK(fbcpr_create(t->fb, &cc, seed + 1, &t->c, NULL) == 0);
    rz_rng r;
    rz_rng_seed(&r, seed + 2);
    float *arr[5] = {t->O, t->O2, t->EO, t->EO2, t->A};
    int len[5] = {NB * OD, NB * OD, NB * OD, NB * OD, NB * AD};
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < len[k]; i++) arr[k][i] = (float)(k == 4 ? 1.6 * rz_rng_uniform(&r) - 0.8 : 2 * rz_rng_uniform(&r) - 1);
    for (int i = 0; i < NB; i++) {
        for (int q = 0; q < ZD; q++) t->Z[i * ZD + q] = (float)rz_rng_normal(&r);
        nn_project_sphere(t->Z + i * ZD, ZD, 2.0f);
    }
}

static void toy_free(toy *t)
{
    fbcpr_destroy(t->c);
    fb_destroy(t->fb);
}

typedef double (*loss_fn)(toy *t, int with_grad, void *ctx);
/* A signature of the relu masks a loss depends on (0: none); a parameter whose ±h
 * perturbations change it sits next to a kink of a discontinuous term (the gradient
 * penalty jumps where a relu switches) and is skipped. */
typedef uint64_t (*sig_fn)(toy *t);

/* Compares net->grad after loss(t, 1) with Richardson-extrapolated central differences
 * of loss(t, 0) for every parameter: D(h) = (L(θ+h) − L(θ−h))/2h has error c·h² + O(h⁴),
 * (4·D(h/2) − D(h))/3 cancels the h² term. The networks are float: relative error
 * 3e-3 (as test_rl_fb.c) leaves room for float rounding of O(1) losses divided by h. */
static int gradcheck(toy *t, nn_mlp *net, loss_fn loss, void *ctx, const char *what, sig_fn sig, float h)
{
    loss(t, 1, ctx);
    uint64_t s0 = sig ? sig(t) : 0;
    int skipped = 0;
    float *g = malloc(net->n_params * sizeof(float));
    memcpy(g, net->grad, net->n_params * sizeof(float));
    int bad = 0, nonzero = 0;
    double worst = 0;
    for (size_t i = 0; i < net->n_params; i++) {
        float keep = net->param[i];
        double D[2];
        int flip = 0;
        for (int r = 0; r < 2; r++) {
            float hh = r ? h / 2 : h;
            net->param[i] = keep + hh;
            double lp = loss(t, 0, ctx);
            flip |= sig && sig(t) != s0;
            net->param[i] = keep - hh;
            double lm = loss(t, 0, ctx);
            flip |= sig && sig(t) != s0;
            net->param[i] = keep;
            D[r] = (lp - lm) / (2 * (double)hh);
        }
        if (flip) {
            skipped++;
            continue;
        }
        double fd = (4 * D[1] - D[0]) / 3, err = fabs(fd - g[i]) / (1 + fabs(fd));
        if (err > worst) worst = err;
        if (err > 3e-3) {
            bad++;
            printf("#     param %zu: fd %g analytic %g\n", i, fd, g[i]);
        }
        nonzero += fabs(g[i]) > 1e-4;
    }
    printf("#   %s: %zu parameters, %d with |g| > 1e-4, worst error %.3g, %d skipped at a relu switch\n", what,
           net->n_params, nonzero, worst, skipped);
    CHECK(skipped <= (int)net->n_params / 10);
    free(g);
    CHECK(nonzero > (int)net->n_params / 4); /* the check is not vacuous */
    return bad;
}

static float alpha_fixed[NB] = {0.1f, 0.5f, 0.9f, 0.3f, 0.7f, 0.2f, 0.6f, 0.95f};

/* FNV-1a over the discriminator's relu masks at the interpolated rows the penalty uses. */
static uint64_t disc_sig(toy *t)
{
    nn_mlp *D = fbcpr_net(t->c, "D");
    float ze[NB * ZD], X[NB * (OD + ZD)];
    fbcpr_encode_expert(t->c, NB, t->EO2, ze);
    for (int i = 0; i < NB; i++)
        for (int q = 0; q < OD + ZD; q++) {
            float e = q < OD ? t->EO[i * OD + q] : ze[i * ZD + q - OD], p = q < OD ? t->O[i * OD + q] : t->Z[i * ZD + q - OD];
            X[i * (OD + ZD) + q] = alpha_fixed[i] * e + (1 - alpha_fixed[i]) * p;
        }
    nn_tape tp;
    nn_tape_init(&tp, D, NB, NULL);
    nn_forward(D, &tp, X, NB);
    uint64_t h = 1469598103934665603ull;
    for (int l = 1; l < D->n_layers; l++)
        for (int q = 0; q < NB * D->L[l].in; q++) h = (h ^ (uint64_t)(tp.x[l][q] > 0)) * 1099511628211ull;
    nn_tape_free(&tp);
    return h;
}

static double disc_loss(toy *t, int with_grad, void *ctx)
{
    (void)ctx;
    float ze[NB * ZD];
    fbcpr_encode_expert(t->c, NB, t->EO2, ze);
    return fbcpr_disc_loss_fixed(t->c, t->EO, ze, t->O, t->Z, alpha_fixed, with_grad, NULL);
}

static void test_grad_disc(void)
{
    toy t;
    toy_make(&t, 1, 11);
    fbcpr_stats st;
    float ze[NB * ZD];
    fbcpr_encode_expert(t.c, NB, t.EO2, ze);
    fbcpr_disc_loss_fixed(t.c, t.EO, ze, t.O, t.Z, alpha_fixed, 0, &st);
    CHECK(st.gp > 0.01); /* the penalty is active, so its gradient is exercised */
    CHECK_EQ_INT(gradcheck(&t, fbcpr_net(t.c, "D"), disc_loss, NULL, "discriminator BCE + 10·GP", disc_sig, 2e-3f), 0);
    toy_free(&t);
}

static float noise_fixed[NB * AD];

static double critic_loss(toy *t, int with_grad, void *ctx)
{
    (void)ctx;
    return fbcpr_critic_loss_fixed(t->c, t->O, t->A, t->O2, ctx, t->Z, noise_fixed, with_grad, NULL);
}

static void test_grad_critic(void)
{
    toy t;
    toy_make(&t, 1, 12);
    for (int i = 0; i < NB * AD; i++) noise_fixed[i] = 0.05f * (float)((i % 5) - 2);
    /* move the targets away from the online heads so the TD error is not trivial */
    for (int k = 0; k < 2; k++) {
        nn_mlp *C = fbcpr_net(t.c, k ? "C2" : "C1");
        for (size_t i = 0; i < C->n_params; i++) C->param[i] *= 1.3f;
    }
    CHECK_EQ_INT(gradcheck(&t, fbcpr_net(t.c, "C1"), critic_loss, NULL, "critic head 1", NULL, 1e-2f), 0);
    CHECK_EQ_INT(gradcheck(&t, fbcpr_net(t.c, "C2"), critic_loss, NULL, "critic head 2", NULL, 1e-2f), 0);
    toy_free(&t);
}

/* ---- the done flag ----------------------------------------------------------------------------
 * A terminal row's target must not bootstrap: y_i = r_i + γ(1 − done_i)·target_i. The
 * check does not go through that product: with every row terminal, the loss must equal
 * the flag-free loss after the target networks are zeroed (a zero MLP outputs exactly 0,
 * so both sides compute r_i + 0 and agree bit for bit); and the targets must matter
 * without flags (the check is not vacuous). Mixed flags: finite differences (the
 * critic's here; FB's in test_rl_fb.c's gradcheck_fb, whose batches suit them). */
static float done_all[NB] = {1, 1, 1, 1, 1, 1, 1, 1}, done_mixed[NB] = {1, 0, 0, 1, 0, 1, 0, 0};

/* LOSS with every row terminal differs from LOSS without flags, and equals it once the
 * target networks TA and TB (in the state LIST) are zeroed: a terminal row keeps only the
 * reward, exactly what a zero bootstrap leaves. Frees LIST. */
static void check_terminal(toy *t, const char *what, double (*loss)(toy *, int, void *), fb_tensor *list, int n,
                           const char *ta, const char *tb)
{
    double terminal = loss(t, 0, done_all), plain = loss(t, 0, NULL);
    printf("#   %s: every row terminal %.6f, no flags %.6f\n", what, terminal, plain);
    CHECK(fabs(terminal - plain) > 1e-4);
    int found = 0;
    for (int k = 0; k < n; k++)
        if (!strcmp(list[k].name, ta) || !strcmp(list[k].name, tb)) memset(list[k].data, 0, list[k].n * sizeof(float)), found++;
    CHECK_EQ_INT(found, 2);
    CHECK(loss(t, 0, NULL) == terminal);
    free(list);
}

static void test_done_critic(void)
{
    toy t;
    toy_make(&t, 1, 17);
    for (int i = 0; i < NB * AD; i++) noise_fixed[i] = 0.05f * (float)((i % 5) - 2);
    CHECK_EQ_INT(gradcheck(&t, fbcpr_net(t.c, "C1"), critic_loss, done_mixed, "critic head 1, mixed done", NULL, 1e-2f), 0);
    fb_tensor *list;
    int n;
    CHECK(fbcpr_state(t.c, &list, &n, NULL) == 0);
    check_terminal(&t, "critic loss", critic_loss, list, n, "cpr.C1.target", "cpr.C2.target");
    toy_free(&t);
}

static long idx_fixed[NB] = {0, 1, 2, 3, 4, 5, 6, 7};

static double fb_loss_done(toy *t, int with_grad, void *ctx)
{
    fb_data d = {NB, OD, AD, t->O, t->A, t->O2, ctx};
    return fb_loss_fixed(t->fb, &d, idx_fixed, t->Z, with_grad, NULL);
}

static void test_done_fb(void)
{
    toy t;
    toy_qloss = 0.01f; /* the Q-loss target T_i = r_i + γ_i Q̄_i is covered too (small: its
                        * implicit rewards on 8 rows of d 4 are large, and a loss of O(100)
                        * in float leaves finite differences too little precision) */
    toy_make(&t, 0, 18);
    toy_qloss = 0;
    fb_tensor *list;
    int n;
    CHECK(fb_state(t.fb, &list, &n, NULL) == 0);
    check_terminal(&t, "FB loss", fb_loss_done, list, n, "F1.target", "F2.target");
    toy_free(&t);
}

static double actor_loss(toy *t, int with_grad, void *ctx)
{
    return fbcpr_actor_loss_fixed(t->c, t->O, t->Z, noise_fixed, *(double *)ctx, NULL, with_grad, NULL);
}

static void test_grad_actor(void)
{
    toy t;
    toy_make(&t, 1, 13);
    for (int i = 0; i < NB * AD; i++) noise_fixed[i] = 0.02f * (float)((i % 3) - 1);
    double w;
    fbcpr_stats st;
    fbcpr_actor_loss_fixed(t.c, t.O, t.Z, noise_fixed, -1, &w, 0, &st);
    /* w = mean |min_k F_kᵀz| is held fixed (no gradient, as the reference detaches it) */
    CHECK(w > 0 && fabs(st.q_disc) > 0);
    CHECK_EQ_INT(gradcheck(&t, fb_net(t.fb, "actor"), actor_loss, &w, "actor (−reg·w·Q_disc − Q_fb)", NULL, 1e-2f), 0);
    toy_free(&t);
}

/* A discriminator in = 2 (obs 1, z 1), one hidden layer of 2 relu units, set by hand:
 * W0 = [[1, 0], [0, 2]], b0 = 0, W1 = [3, 4], b1 = 0.5. Row (1, 1): h = (1, 2), both
 * active, ∇ = 3·(1, 0) + 4·(0, 2) = (3, 8); row (1, −1): h = (1, −2), only the first,
 * ∇ = (3, 0). GP = ((√73 − 1)² + (3 − 1)²)/2. Its gradient by hand follows. */
static void test_gp_hand(void)
{
    fb_config f;
    fb_config_default(&f, FB_ALGO_FB, 1, 0, 1);
    f.zdim = 1, f.hidden = 2, f.layers = 1, f.batch = 2;
    fb_agent *fb;
    CHECK(fb_create(&f, 1, &fb, NULL) == 0);
    fbcpr_config cc;
    fbcpr_config_default(&cc);
    cc.seq_length = 1, cc.disc_hidden = 2, cc.disc_layers = 1;
    fbcpr *c;
    CHECK(fbcpr_create(fb, &cc, 2, &c, NULL) == 0);
    nn_mlp *D = fbcpr_net(c, "D");
    CHECK_EQ_INT(D->n_params, 9); /* W0 4, b0 2, W1 2, b1 1 */
    float *p = D->param;
    const float W0[4] = {1, 0, 0, 2}, W1[2] = {3, 4};
    memcpy(p + D->L[0].off_W, W0, sizeof W0);
    p[D->L[0].off_b] = p[D->L[0].off_b + 1] = 0;
    memcpy(p + D->L[1].off_W, W1, sizeof W1);
    p[D->L[1].off_b] = 0.5f;
    const float X[4] = {1, 1, 1, -1};
    nn_zero_grad(D);
    double gp = fbcpr_grad_penalty(c, 2, X, 1, 1.0f);
    double n1 = sqrt(73.0), want = ((n1 - 1) * (n1 - 1) + 4) / 2;
    CHECK_NEAR(gp, want, 1e-5 * want); /* float products of small integers: exact to rounding */
    /* gradients: γ1 = (n1 − 1)/n1·(3, 8) (the 2/n with n = 2 is 1), γ2 = (2/3)·(3, 0) = (2, 0).
     * g = W0ᵀ (m ⊙ W1ᵀ): ∂GP/∂W1[k] = Σ_i m_ik Σ_j W0[k][j] γ_ij, ∂GP/∂W0[k][j] = Σ_i m_ik W1[k] γ_ij. */
    double g1[2] = {(n1 - 1) / n1 * 3, (n1 - 1) / n1 * 8}, g2[2] = {2, 0};
    double dW1[2] = {1 * g1[0] + 1 * g2[0], 2 * g1[1]};
    double dW0[4] = {3 * (g1[0] + g2[0]), 3 * (g1[1] + g2[1]), 4 * g1[0], 4 * g1[1]};
    const float *gr = D->grad;
    for (int k = 0; k < 2; k++) CHECK_NEAR(gr[D->L[1].off_W + k], dW1[k], 1e-5 * (1 + fabs(dW1[k])));
    for (int k = 0; k < 4; k++) CHECK_NEAR(gr[D->L[0].off_W + k], dW0[k], 1e-5 * (1 + fabs(dW0[k])));
    CHECK(gr[D->L[0].off_b] == 0 && gr[D->L[1].off_b] == 0); /* biases only move the masks */
    fbcpr_destroy(c);
    fb_destroy(fb);
}

/* Expert windows: every row of window w carries √d·normalize(mean_t B(e'_t)), computed
 * here through fb_infer_z_goal (√d·normalize(B(g)), B √d-normalised per row already). */
static void test_encode_expert(void)
{
    toy t;
    toy_make(&t, 1, 14);
    float ze[NB * ZD];
    fbcpr_encode_expert(t.c, NB, t.EO2, ze);
    for (int w = 0; w < NB / 4; w++) {
        double m[ZD] = {0}, nr = 0;
        for (int s = 0; s < 4; s++) {
            float b[ZD];
            fb_infer_z_goal(t.fb, t.EO2 + (w * 4 + s) * OD, b, NULL);
            for (int q = 0; q < ZD; q++) m[q] += b[q] / 4.0;
        }
        for (int q = 0; q < ZD; q++) nr += m[q] * m[q];
        for (int s = 0; s < 4; s++)
            for (int q = 0; q < ZD; q++) CHECK_NEAR(ze[(w * 4 + s) * ZD + q], 2.0 * m[q] / sqrt(nr), 1e-5);
    }
    toy_free(&t);
}

/* The mixture: 20000 draws with goal 0.2, expert 0.6, sphere 0.2. Counts within 4.5
 * binomial standard deviations (σ = √(n p (1 − p)) ≈ 57 for p = 0.2, 69 for 0.6; a false
 * alarm has probability < 1e-5). Every goal z is √d·normalize(B) of one of the goal
 * observations, every expert z one of the given rows, every sphere z has norm √d and is
 * neither. Without expert rows the expert share goes to the sphere. */
static void test_mixture(void)
{
    toy t;
    toy_make(&t, 1, 15);
    enum { n = 20000 };
    float *z = malloc((size_t)n * ZD * sizeof(float));
    int *kind = malloc(n * sizeof(int));
    float zg[NB * ZD], ze[2 * ZD];
    for (int j = 0; j < NB; j++) fb_infer_z_goal(t.fb, t.O2 + j * OD, zg + j * ZD, NULL);
    for (int q = 0; q < 2 * ZD; q++) ze[q] = (float)(q + 1);
    fbcpr_sample_z(t.c, n, NB, t.O2, 2, ze, z, kind);
    int cnt[3] = {0}, bad = 0;
    for (int i = 0; i < n; i++) {
        cnt[kind[i]]++;
        const float *zi = z + (size_t)i * ZD;
        int match_g = 0, match_e = 0;
        for (int j = 0; j < NB; j++) {
            double d = 0;
            for (int q = 0; q < ZD; q++) d += fabs(zi[q] - zg[j * ZD + q]);
            match_g |= d < 1e-4;
        }
        for (int j = 0; j < 2; j++) match_e |= !memcmp(zi, ze + j * ZD, ZD * sizeof(float));
        double nr = sqrt((double)zi[0] * zi[0] + zi[1] * zi[1] + zi[2] * zi[2] + zi[3] * zi[3]);
        if (kind[i] == 0) bad += !match_g;
        if (kind[i] == 1) bad += !match_e;
        if (kind[i] == 2) bad += match_g || match_e || fabs(nr - 2.0) > 1e-5;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(fabs(cnt[0] - 0.2 * n) < 4.5 * 57 && fabs(cnt[1] - 0.6 * n) < 4.5 * 69 && fabs(cnt[2] - 0.2 * n) < 4.5 * 57);
    printf("#   goal %d, expert %d, sphere %d of %d\n", cnt[0], cnt[1], cnt[2], n);
    fbcpr_sample_z(t.c, n, NB, t.O2, 0, NULL, z, kind);
    memset(cnt, 0, sizeof cnt);
    for (int i = 0; i < n; i++) cnt[kind[i]]++;
    CHECK(cnt[1] == 0 && fabs(cnt[0] - 0.2 * n) < 4.5 * 57);
    free(z), free(kind);
    toy_free(&t);
}

/* One update in each mode: finite statistics, and the networks it trains move. */
static void test_update(void)
{
    for (int cpr = 0; cpr < 2; cpr++) {
        toy t;
        toy_make(&t, cpr, 16);
        nn_mlp *actor = fb_net(t.fb, "actor");
        float *a0 = malloc(actor->n_params * sizeof(float));
        memcpy(a0, actor->param, actor->n_params * sizeof(float));
        nn_mlp *Dn = fbcpr_net(t.c, "D"), *C1 = fbcpr_net(t.c, "C1");
        float *d0 = cpr ? malloc(Dn->n_params * sizeof(float)) : NULL, *c0 = cpr ? malloc(C1->n_params * sizeof(float)) : NULL;
        if (cpr) memcpy(d0, Dn->param, Dn->n_params * sizeof(float)), memcpy(c0, C1->param, C1->n_params * sizeof(float));
        fbcpr_batch b = {t.O, t.A, t.O2, t.Z, t.EO, t.EO2, NULL};
        fbcpr_stats st;
        for (int s = 0; s < 3; s++) CHECK(fbcpr_update(t.c, &b, &st, NULL) == 0);
        CHECK(memcmp(a0, actor->param, actor->n_params * sizeof(float)) != 0);
        if (cpr) CHECK(memcmp(d0, Dn->param, Dn->n_params * sizeof(float)) && memcmp(c0, C1->param, C1->n_params * sizeof(float)));
        CHECK(!cpr == !Dn);
        free(d0), free(c0);
        CHECK(isfinite(st.fb.fb_loss) && isfinite(st.actor_loss) && (cpr ? st.disc_loss > 0 : st.disc_loss == 0));
        CHECK_EQ_INT(fb_steps(t.fb), 3);
        free(a0);
        toy_free(&t);
    }
}

int main(void)
{
    RUN(test_grad_disc);
    RUN(test_grad_critic);
    RUN(test_grad_actor);
    RUN(test_done_critic);
    RUN(test_done_fb);
    RUN(test_gp_hand);
    RUN(test_encode_expert);
    RUN(test_mixture);
    RUN(test_update);
    return check_summary();
}
