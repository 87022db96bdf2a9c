/* test_rl_online.c — the replay buffer (wrap-around, uniform sampling below the size,
 * validation of a loaded buffer) and the online loop: a run cut in two, checkpointed
 * and resumed reproduces the uncut run bit for bit, with FB-CPR and with plain FB, with
 * and without observation normalisation and the buffer of rollout zs; 1, 2 and 3
 * environment workers give the same checkpoint; batched acting equals row-at-a-time;
 * the running observation statistics against their closed form, inference through
 * them, the batch an update sees, the FIFO of training zs and the rollout rule. */
#include <math.h>
#include <stdio.h>

#include "../check.h"
#include "agent_io.h"
#include "obsnorm.h"
#include "online.h"

static void test_replay_wrap(void)
{
    rl_replay r;
    CHECK(rl_replay_init(&r, 5, 4, 2, 3, NULL) == 0);
    for (int t = 0; t < 8; t++) {
        float s[4] = {0.01f * t, 0, 0, 0}, a[2] = {0.1f * t, 0}, s2[4] = {0.01f * t + 0.005f, 0, 0, 0}, z[3] = {(float)t, 0, 0};
        rl_replay_push(&r, s, a, s2, z, t % 3 == 0);
        CHECK_EQ_INT(r.size, t + 1 < 5 ? t + 1 : 5);
    }
    CHECK_EQ_INT(r.head, 3);
    /* row p holds the newest transition t with t ≡ p (mod 5): 5, 6, 7, 3, 4 */
    const int want[5] = {5, 6, 7, 3, 4};
    for (int p = 0; p < 5; p++) {
        CHECK_EQ_INT((int)r.Z[p * 3], want[p]);
        CHECK_NEAR(r.S[p * 4], 0.01f * want[p], 1e-7);
        CHECK_NEAR(r.A[p * 2], 0.1f * want[p], 1e-7);
        CHECK(r.done[p] == (want[p] % 3 == 0 ? 1.0f : 0.0f)); /* pushed with done = t % 3 == 0 */
    }
    rz_rng g;
    rz_rng_seed(&g, 1);
    long idx[1000];
    int hit[5] = {0}, out = 0;
    rl_replay_sample(&r, &g, 1000, idx);
    for (int i = 0; i < 1000; i++) (idx[i] >= 0 && idx[i] < 5) ? hit[idx[i]]++ : out++;
    CHECK(out == 0 && hit[0] && hit[1] && hit[2] && hit[3] && hit[4]);
    /* validation of a loaded buffer */
    rl_env env;
    CHECK(rl_env_make(&env, "pointmass-maze", 0, NULL) == 0);
    fb_tensor t[6];
    CHECK_EQ_INT(rl_replay_tensors(&r, t), 6);
    CHECK(!strcmp(t[5].name, "replay.done") && t[5].data == r.done && t[5].n == 5);
    rz_err e = {0};
    CHECK(rl_replay_loaded(&r, &env, "x.ckpt", &e) == 0);
    r.S2[2 * 4] = 7.0f; /* outside the arena */
    CHECK(rl_replay_loaded(&r, &env, "x.ckpt", &e) == RZ_EINPUT && strstr(e.msg, "replay.S2") && strstr(e.msg, "x.ckpt"));
    r.S2[2 * 4] = 0;
    r.Z[4 * 3 + 1] = NAN;
    CHECK(rl_replay_loaded(&r, &env, "x.ckpt", &e) == RZ_EINPUT && strstr(e.msg, "replay.Z"));
    r.Z[4 * 3 + 1] = 0;
    r.done[1] = 0.5f; /* a flag is 0 or 1 */
    CHECK(rl_replay_loaded(&r, &env, "x.ckpt", &e) == RZ_EINPUT && strstr(e.msg, "replay.done"));
    r.done[1] = 0;
    int64_t m[2] = {2, 4}; /* not full, so head must equal size */
    memcpy(r.meta, m, sizeof m);
    CHECK(rl_replay_loaded(&r, &env, "x.ckpt", &e) == RZ_EINPUT && strstr(e.msg, "replay.meta"));
    rl_env_free(&env);
    rl_replay_free(&r);
}

/* Expert trajectories in the maze: slow straight runs inside the bottom-left room. */
static void make_expert(const rl_env *env, rl_expert *x)
{
    CHECK(rl_expert_init(x, env, "test-lines", 0, NULL) == 0);
    float S[4 * 30];
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 30; i++) S[4 * i] = -0.25f + 0.006f * i, S[4 * i + 1] = -0.25f + 0.03f * k, S[4 * i + 2] = 0.3f, S[4 * i + 3] = 0;
        CHECK(rl_expert_add(x, "line", 30, S, NULL) == 0);
    }
}

typedef struct {
    fb_agent *fb;
    fbcpr *c;
    rl_online *o;
} run;

/* norm: the agent's norm_obs; rollout: RL_ROLLOUT_* */
/* The tiny agent every case trains: FB (d 8, 2 x 32, batch 16) and its FB-CPR parts. */
static void run_agent(run *r, const rl_env *env, int cpr, int norm)
{
    fb_config f;
    fb_config_default(&f, FB_ALGO_FB, env->obs_dim, 0, env->act_dim);
    f.zdim = 8, f.hidden = 32, f.layers = 2, f.batch = 16, f.norm_obs = norm;
    CHECK(fb_create(&f, 5, &r->fb, NULL) == 0);
    fbcpr_config cc;
    fbcpr_config_default(&cc);
    cc.cpr = cpr, cc.seq_length = 4, cc.disc_hidden = 16;
    CHECK(fbcpr_create(r->fb, &cc, 6, &r->c, NULL) == 0);
}

static void run_make_opt(run *r, const rl_env *env, rl_expert *x, int cpr, int norm, int rollout)
{
    run_agent(r, env, cpr, norm);
    rl_online_config oc;
    rl_online_config_default(&oc, env);
    oc.n_envs = 2, oc.buffer = 300, oc.seed_steps = 60, oc.update_every = 4, oc.updates = 2, oc.z_every = 7, oc.episode_len = 45;
    oc.rollout_z = rollout, oc.z_buffer = 100;
    CHECK(rl_online_create(env, r->c, x, &oc, 7, &r->o, NULL) == 0);
}


static void run_free(run *r)
{
    rl_online_free(r->o), fbcpr_destroy(r->c), fb_destroy(r->fb);
}

/* Bitwise equality of every fb and fbcpr state array and the replay contents. */
static int same_state(run *a, run *b)
{
    int same = 1;
    fb_tensor *ta, *tb;
    int na, nb;
    fb_state(a->fb, &ta, &na, NULL), fb_state(b->fb, &tb, &nb, NULL);
    same &= na == nb;
    for (int k = 0; k < na && same; k++) same &= ta[k].n == tb[k].n && !memcmp(ta[k].data, tb[k].data, ta[k].n * 4);
    free(ta), free(tb);
    fbcpr_state(a->c, &ta, &na, NULL), fbcpr_state(b->c, &tb, &nb, NULL);
    same &= na == nb;
    for (int k = 0; k < na && same; k++) same &= ta[k].n == tb[k].n && !memcmp(ta[k].data, tb[k].data, ta[k].n * 4);
    free(ta), free(tb);
    const rl_replay *ra = rl_online_replay(a->o), *rb = rl_online_replay(b->o);
    same &= ra->size == rb->size && ra->head == rb->head && !memcmp(ra->S, rb->S, ra->size * 16) && !memcmp(ra->Z, rb->Z, ra->size * 32) &&
            !memcmp(ra->done, rb->done, ra->size * 4);
    return same;
}

static void resume_case_opt(int cpr, int norm, int rollout)
{
    rl_env env;
    CHECK(rl_env_make(&env, "pointmass-maze", 0, NULL) == 0);
    rl_expert x;
    make_expert(&env, &x);
    run a, b;
    run_make_opt(&a, &env, &x, cpr, norm, rollout);
    rz_err e = {0};
    CHECK(rl_online_run(a.o, 500, NULL, NULL, &e) == 0); /* 500 > the buffer's 300: it wrapped */
    CHECK(rl_online_updates(a.o) > 100 && rl_online_replay(a.o)->size == 300);
    if (norm) { /* the statistics moved away from (0, 1) and say what the replay holds */
        const float *st = fb_obs_norm(a.fb);
        CHECK(st && st[0] != 0 && st[4] != 1 && rl_obsnorm_check(st, 4) < 0);
    }
    long zs;
    rl_online_zbuf(a.o, &zs);
    CHECK(zs == (rollout == RL_ROLLOUT_BUFFER ? 100 : 0)); /* > 100 training zs: the FIFO is full */
    run_make_opt(&b, &env, &x, cpr, norm, rollout);
    CHECK(rl_online_run(b.o, 250, NULL, NULL, &e) == 0);
    const char *path = check_tmp("online.ckpt");
    rz_agent_header h;
    memset(&h, 0, sizeof h);
    ag_env_id(&env, &h.env, NULL);
    CHECK(rl_online_save(b.o, path, NULL, &h, 100, "lines", &e) == 0);
    rz_env_id_free(&h.env);
    run_free(&b);
    rz_agent_header h2;
    rz_online_header oh;
    rl_env env2;
    CHECK(rl_online_load(path, NULL, &h2, &oh, &b.fb, &b.c, &b.o, &env2, &e) == 0);
    if (e.code) printf("#   %s\n", e.msg);
    CHECK(!strcmp(oh.expert, "lines") && oh.env_steps == 250 && oh.cpr == cpr);
    rl_online_attach_expert(b.o, &x);
    CHECK(rl_online_run(b.o, 500, NULL, NULL, &e) == 0);
    CHECK_EQ_INT(rl_online_env_steps(b.o), rl_online_env_steps(a.o));
    CHECK_EQ_INT(rl_online_updates(b.o), rl_online_updates(a.o));
    CHECK(same_state(&a, &b));
    /* the digest the ranks compare: equal for the equal states (same_state's memcmp) … */
    uint64_t da = 0, db = 1;
    CHECK(rl_online_digest(a.o, &da, &e) == 0 && rl_online_digest(b.o, &db, &e) == 0 && da == db);
    if (rollout == RL_ROLLOUT_BUFFER) {
        long na, nb;
        const float *za = rl_online_zbuf(a.o, &na), *zb = rl_online_zbuf(b.o, &nb);
        CHECK(na == nb && !memcmp(za, zb, (size_t)na * 8 * sizeof(float)));
    }
    /* and the comparison can fail: one more round on one side differs */
    CHECK(rl_online_run(b.o, 504, NULL, NULL, &e) == 0);
    CHECK(!same_state(&a, &b));
    CHECK(rl_online_digest(b.o, &db, &e) == 0 && da != db); /* … and different for these */
    run_free(&a), run_free(&b);
    rz_env_id_free(&h2.env);
    rl_env_free(&env2);
    rl_expert_free(&x);
    rl_env_free(&env);
    remove(path);
}

/* Environment workers: 5 environments on 1, 2 and 3 threads (3 splits them unevenly)
 * give the same networks, buffer and checkpoint file, byte for byte (the seed steps end
 * inside a round: 52 = 10 rounds + 2). */
static void threads_case(int norm, int rollout)
{
    rl_env env;
    CHECK(rl_env_make(&env, "pointmass-maze", 0, NULL) == 0);
    rl_expert x;
    make_expert(&env, &x);
    rz_err e = {0};
    run r[3];
    char path[3][64];
    for (int t = 0; t < 3; t++) {
        run_agent(&r[t], &env, 1, norm);
        rl_online_config oc;
        rl_online_config_default(&oc, &env);
        oc.n_envs = 5, oc.buffer = 200, oc.seed_steps = 52, oc.update_every = 5, oc.updates = 1, oc.z_every = 6, oc.episode_len = 23;
        oc.threads = t + 1, oc.rollout_z = rollout, oc.z_buffer = 64;
        CHECK(rl_online_create(&env, r[t].c, &x, &oc, 11, &r[t].o, NULL) == 0);
        CHECK(rl_online_run(r[t].o, 300, NULL, NULL, &e) == 0);
        snprintf(path[t], sizeof path[t], "%s-t%d", check_tmp("online.ckpt"), t + 1);
        rz_agent_header h;
        memset(&h, 0, sizeof h);
        ag_env_id(&env, &h.env, NULL);
        CHECK(rl_online_save(r[t].o, path[t], NULL, &h, 50, "lines", &e) == 0);
        rz_env_id_free(&h.env);
    }
    CHECK(rl_online_updates(r[0].o) > 40);
    for (int t = 1; t < 3; t++) {
        CHECK(same_state(&r[0], &r[t]));
        FILE *a = fopen(path[0], "rb"), *b = fopen(path[t], "rb");
        CHECK(a && b);
        int same = 1, ca, cb;
        long n = 0;
        do {
            ca = fgetc(a), cb = fgetc(b), n++;
            same &= ca == cb;
        } while (same && ca != EOF);
        CHECK(same && n > 1000);
        fclose(a), fclose(b);
    }
    for (int t = 0; t < 3; t++) run_free(&r[t]), remove(path[t]);
    rl_expert_free(&x);
    rl_env_free(&env);
}

/* Batched acting: fb_act_rows over rows with different zs against fb_act one row at a
 * time. Same arithmetic per row; only the batched GEMM's blocking may reorder a dot
 * product's sums, so 1e-5 on actions in [−1, 1] (float rounding of a 32-wide layer is
 * ~1e-6). A batch that used one z for every row misses by far more (the zs differ). */
static void test_act_rows(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "pointmass-maze", 0, NULL) == 0);
    fb_config f;
    fb_config_default(&f, FB_ALGO_FB, env.obs_dim, 0, env.act_dim);
    f.zdim = 8, f.hidden = 32, f.layers = 2, f.batch = 16;
    fb_agent *a;
    CHECK(fb_create(&f, 3, &a, NULL) == 0);
    enum { n = 300 }; /* more than one 256-row chunk */
    static float O[n * 4], Z[n * 8], act[n * 2];
    rz_rng g;
    rz_rng_seed(&g, 4);
    for (int i = 0; i < n * 4; i++) O[i] = (float)(0.5 * rz_rng_uniform(&g) - 0.25);
    for (int i = 0; i < n * 8; i++) Z[i] = (float)(3 * rz_rng_normal(&g));
    rz_err e = {0};
    CHECK(fb_act_rows(a, n, O, Z, act, &e) == 0);
    double worst = 0, spread = 0;
    for (int i = 0; i < n; i++) {
        float one[2];
        CHECK(fb_act(a, 1, O + i * 4, Z + i * 8, one, NULL, &e) == 0);
        for (int r = 0; r < 2; r++) {
            worst = fmax(worst, fabs(one[r] - act[i * 2 + r]));
            spread = fmax(spread, fabs(act[i * 2 + r] - act[r]));
        }
    }
    CHECK(worst < 1e-5);
    CHECK(spread > 1e-2); /* the rows really act differently */
    fb_destroy(a);
    rl_env_free(&env);
}

static void test_threads(void) { threads_case(0, RL_ROLLOUT_MIXTURE); }
static void test_threads_norm_buffer(void) { threads_case(1, RL_ROLLOUT_BUFFER); }

/* The running statistics against their closed form. k updates with the same batch from
 * (mean 0, var 1): mean_k = (1 − q)·μ, var_k = (1 − q) + ... written as
 *   mean_k = (1 − (1 − m)^k)·μ,  var_k = (1 − m)^k + (1 − (1 − m)^k)·v,
 * μ and v the batch's mean and unbiased variance worked out by hand: column 0 holds
 * 1, 2, 3, 6 (μ 3, squared deviations 4 + 1 + 0 + 9 = 14, v = 14/3), column 1 holds
 * −1, −1, 1, 1 (μ 0, v = 4/3). Floats accumulate rounding of ~1e-7 per update: 1e-5
 * after 50 updates. A biased variance (÷ m) would give 3.5 and 1, far outside. */
static void test_obsnorm(void)
{
    const float X[8] = {1, -1, 2, -1, 3, 1, 6, 1};
    const double mu[2] = {3, 0}, v[2] = {14.0 / 3, 4.0 / 3}, m = 0.01;
    float st[4];
    rl_obsnorm_init(st, 2);
    CHECK(st[0] == 0 && st[1] == 0 && st[2] == 1 && st[3] == 1);
    for (int k = 1; k <= 50; k++) {
        rl_obsnorm_update(st, 2, 4, X, m);
        double q = pow(1 - m, k);
        for (int j = 0; j < 2; j++) {
            CHECK_NEAR(st[j], (1 - q) * mu[j], 1e-5);
            CHECK_NEAR(st[2 + j], q + (1 - q) * v[j], 1e-5);
        }
    }
    /* apply: y = (x − mean)/√(var + 1e-5); the row (6, 1) by hand from the state */
    float y[2];
    rl_obsnorm_apply(st, 2, 1, X + 6, y);
    CHECK_NEAR(y[0], (6 - st[0]) / sqrt(st[2] + 1e-5), 1e-6);
    CHECK_NEAR(y[1], (1 - st[1]) / sqrt(st[3] + 1e-5), 1e-6);
    /* momentum 1 takes the batch's own statistics: the batch then has mean 0 and
     * unbiased variance v/(v + 1e-5) per column */
    rl_obsnorm_update(st, 2, 4, X, 1);
    float Y[8];
    rl_obsnorm_apply(st, 2, 4, X, Y);
    for (int j = 0; j < 2; j++) {
        double s = 0, ss = 0;
        for (int i = 0; i < 4; i++) s += Y[2 * i + j];
        for (int i = 0; i < 4; i++) ss += (Y[2 * i + j] - s / 4) * (Y[2 * i + j] - s / 4);
        CHECK_NEAR(s / 4, 0, 1e-6);
        CHECK_NEAR(ss / 3, v[j] / (v[j] + 1e-5), 1e-5);
    }
    CHECK(rl_obsnorm_check(st, 2) < 0);
    st[3] = -0.5f;
    CHECK_EQ_INT(rl_obsnorm_check(st, 2), 3);
    st[3] = 1, st[0] = NAN;
    CHECK_EQ_INT(rl_obsnorm_check(st, 2), 0);
}

/* Inference through the statistics: an agent with norm_obs given raw observations acts,
 * embeds goals and infers reward zs exactly as the same networks without norm_obs given
 * the observations normalised by hand (the same seed draws the same parameters; the
 * statistics are set to values far from (0, 1), so leaving them out anywhere fails). */
static void test_infer_normalised(void)
{
    fb_config f;
    fb_config_default(&f, FB_ALGO_FB, 4, 0, 2);
    f.zdim = 8, f.hidden = 32, f.layers = 2, f.batch = 16;
    fb_agent *plain, *normed;
    CHECK(fb_create(&f, 3, &plain, NULL) == 0);
    f.norm_obs = 1;
    CHECK(fb_create(&f, 3, &normed, NULL) == 0);
    CHECK(fb_obs_norm(plain) == NULL);
    float *st = fb_obs_norm(normed);
    const float stat[8] = {0.1f, -0.05f, 0.3f, -0.2f, 0.01f, 0.02f, 0.5f, 0.25f};
    memcpy(st, stat, sizeof stat);
    enum { n = 40 };
    float O[n * 4], On[n * 4], Z[n * 8], r[n], a1[n * 2], a2[n * 2], z1[8], z2[8];
    rz_rng g;
    rz_rng_seed(&g, 9);
    for (int i = 0; i < n * 4; i++) O[i] = (float)(0.5 * rz_rng_uniform(&g) - 0.25);
    for (int i = 0; i < n * 8; i++) Z[i] = (float)rz_rng_normal(&g);
    for (int i = 0; i < n; i++) r[i] = (float)rz_rng_uniform(&g);
    /* (x − mean)·(1/√(var + 1e-5)) in the float arithmetic rl_obsnorm_apply documents,
     * so that the two paths can be compared bit for bit */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 4; j++) On[i * 4 + j] = (O[i * 4 + j] - stat[j]) * (float)(1 / sqrt((double)stat[4 + j] + 1e-5));
    float Oc[n * 4];
    fb_norm_obs(normed, n, O, Oc);
    CHECK(!memcmp(Oc, On, sizeof On));
    rz_err e = {0};
    CHECK(fb_act(normed, n, O, Z, a1, NULL, &e) == 0 && fb_act(plain, n, On, Z, a2, NULL, &e) == 0);
    CHECK(!memcmp(a1, a2, sizeof a1));
    CHECK(fb_act_rows(normed, n, O, Z, a1, &e) == 0 && fb_act_rows(plain, n, On, Z, a2, &e) == 0);
    CHECK(!memcmp(a1, a2, sizeof a1));
    CHECK(fb_infer_z_goal(normed, O + 8, z1, &e) == 0 && fb_infer_z_goal(plain, On + 8, z2, &e) == 0);
    CHECK(!memcmp(z1, z2, sizeof z1));
    CHECK(fb_infer_z_reward(normed, n, O, r, z1, &e) == 0 && fb_infer_z_reward(plain, n, On, r, z2, &e) == 0);
    CHECK(!memcmp(z1, z2, sizeof z1));
    /* and raw observations into the plain agent differ: the statistics matter */
    CHECK(fb_act_rows(plain, n, O, Z, a2, &e) == 0 && memcmp(a1, a2, sizeof a1));
    /* offline training refuses the statistics it would not update */
    fb_data d = {.n = n, .obs_dim = 4, .act_dim = 2, .O = O, .A = a1, .O2 = O};
    CHECK(fb_train_step(normed, &d, NULL, &e) == RZ_EINPUT && strstr(e.msg, "normalisation"));
    fb_destroy(plain), fb_destroy(normed);
}

/* The batch an update sees with norm_obs: two loops identical but for norm_obs, run for
 * 98 steps of uniform actions (seed steps 100: no update yet, so the same replay), draw
 * one batch each (the same rows). The statistics must be the reference's two momentum
 * steps from (0, 1) — first the raw O rows, then the raw O2 rows — recomputed here in
 * double, and every array (O, O2, EO, EO2) the raw one normalised with them; actions
 * and zs untouched. Float rounding of the per-column sums: 1e-5. */
static void test_batch_normalised(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "pointmass-maze", 0, NULL) == 0);
    rl_expert x;
    make_expert(&env, &x);
    run r[2];
    fbcpr_batch b[2];
    for (int k = 0; k < 2; k++) {
        run_agent(&r[k], &env, 1, k);
        rl_online_config oc;
        rl_online_config_default(&oc, &env);
        oc.n_envs = 2, oc.buffer = 300, oc.seed_steps = 100, oc.z_every = 7, oc.episode_len = 45;
        CHECK(rl_online_create(&env, r[k].c, &x, &oc, 7, &r[k].o, NULL) == 0);
        CHECK(rl_online_run(r[k].o, 98, NULL, NULL, NULL) == 0);
        CHECK(rl_online_updates(r[k].o) == 0);
        rl_online_draw_batch(r[k].o, &b[k]);
    }
    const int N = 16, od = 4;
    double mean[4], var[4];
    for (int j = 0; j < od; j++) {
        mean[j] = 0, var[j] = 1;
        const float *rows[2] = {b[0].O, b[0].O2};
        for (int q = 0; q < 2; q++) {
            double s = 0, ss = 0;
            for (int i = 0; i < N; i++) s += rows[q][i * od + j];
            for (int i = 0; i < N; i++) ss += pow(rows[q][i * od + j] - s / N, 2);
            mean[j] = 0.99 * mean[j] + 0.01 * s / N, var[j] = 0.99 * var[j] + 0.01 * ss / (N - 1);
        }
    }
    const float *st = fb_obs_norm(r[1].fb);
    double worst = 0;
    for (int j = 0; j < od; j++) worst = fmax(worst, fmax(fabs(st[j] - mean[j]), fabs(st[od + j] - var[j])));
    const float *raw[4] = {b[0].O, b[0].O2, b[0].EO, b[0].EO2}, *nrm[4] = {b[1].O, b[1].O2, b[1].EO, b[1].EO2};
    for (int q = 0; q < 4; q++)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < od; j++)
                worst = fmax(worst, fabs(nrm[q][i * od + j] - (raw[q][i * od + j] - mean[j]) / sqrt(var[j] + 1e-5)));
    CHECK(worst < 1e-5);
    /* same rows (actions equal; the stored zs differ: rollout zs embed normalised goals) */
    CHECK(!memcmp(b[0].A, b[1].A, (size_t)N * 2 * sizeof(float)));
    /* after one update the statistics are near (0, 1), yet the inputs moved measurably */
    double moved = 0;
    for (int i = 0; i < N * od; i++) moved = fmax(moved, fabs(b[1].O2[i] - b[0].O2[i]));
    CHECK(moved > 1e-4);
    for (int k = 0; k < 2; k++) run_free(&r[k]);
    rl_expert_free(&x);
    rl_env_free(&env);
}

/* The FIFO of training zs and the rollout rule. A 4-row FIFO after one update of batch
 * 16 holds that update's zs 12 … 15 (fbcpr_batch_z) at rows 0 … 3 (16 pushes wrap it
 * four times: head back at 0). Rollout draws are then rows of the FIFO, uniformly:
 * 4000 draws, each row 1000 ± 4.5σ (σ = √(4000·¼·¾) ≈ 27.4). Before any update the
 * FIFO is empty and a draw is on the sphere (norm √d), as with RL_ROLLOUT_SPHERE always. */
static void test_zbuf_rule(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "pointmass-maze", 0, NULL) == 0);
    rl_expert x;
    make_expert(&env, &x);
    run r;
    run_agent(&r, &env, 1, 1);
    rl_online_config oc;
    rl_online_config_default(&oc, &env);
    oc.n_envs = 2, oc.buffer = 300, oc.seed_steps = 40, oc.update_every = 2, oc.updates = 1, oc.z_every = 7;
    oc.episode_len = 45, oc.rollout_z = RL_ROLLOUT_BUFFER, oc.z_buffer = 4;
    CHECK(rl_online_create(&env, r.c, &x, &oc, 7, &r.o, NULL) == 0);
    float z[8];
    long size;
    rl_online_zbuf(r.o, &size);
    CHECK(size == 0);
    for (int t = 0; t < 20; t++) {
        rl_online_rollout_z(r.o, 0, z);
        double nz = 0;
        for (int q = 0; q < 8; q++) nz += z[q] * z[q];
        CHECK_NEAR(sqrt(nz), sqrt(8.0), 1e-5);
    }
    CHECK(rl_online_run(r.o, 40, NULL, NULL, NULL) == 0); /* exactly one update, at step 40 */
    CHECK_EQ_INT(rl_online_updates(r.o), 1);
    const float *zb = rl_online_zbuf(r.o, &size), *bz = fbcpr_batch_z(r.c);
    CHECK(size == 4);
    for (int p = 0; p < 4; p++) CHECK(!memcmp(zb + p * 8, bz + (12 + p) * 8, 8 * sizeof(float)));
    /* rows may repeat (an expert window's z fills several batch rows): a draw counts for
     * the first row equal to it, which expects 1000 × (rows equal to it) draws */
    int hit[4] = {0}, mult[4] = {0}, other = 0;
    for (int p = 0; p < 4; p++) {
        int q = 0;
        while (memcmp(zb + q * 8, zb + p * 8, sizeof z)) q++;
        mult[q]++;
    }
    for (int t = 0; t < 4000; t++) {
        rl_online_rollout_z(r.o, 1, z);
        int p = 0;
        while (p < 4 && memcmp(z, zb + p * 8, sizeof z)) p++;
        p < 4 ? hit[p]++ : other++;
    }
    CHECK(other == 0);
    for (int p = 0; p < 4; p++) {
        double pm = mult[p] / 4.0;
        CHECK(fabs(hit[p] - 4000 * pm) <= 4.5 * sqrt(4000 * pm * (1 - pm)));
    }
    CHECK(mult[0] < 4); /* the FIFO is not one z repeated: the draws say something */
    run_free(&r);
    rl_expert_free(&x);
    rl_env_free(&env);
}

/* A checkpoint whose statistics hold a negative variance is refused, naming the tensor. */
static void test_bad_norm_checkpoint(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "pointmass-maze", 0, NULL) == 0);
    run a;
    run_make_opt(&a, &env, NULL, 0, 1, RL_ROLLOUT_BUFFER);
    rz_err e = {0};
    CHECK(rl_online_run(a.o, 100, NULL, NULL, &e) == 0);
    fb_obs_norm(a.fb)[5] = -0.25f;
    const char *path = check_tmp("online-badnorm.ckpt");
    rz_agent_header h;
    memset(&h, 0, sizeof h);
    ag_env_id(&env, &h.env, NULL);
    CHECK(rl_online_save(a.o, path, NULL, &h, 10, NULL, &e) == 0);
    rz_env_id_free(&h.env);
    run b;
    rz_online_header oh;
    rl_env env2;
    CHECK(rl_online_load(path, NULL, &h, &oh, &b.fb, &b.c, &b.o, &env2, &e) == RZ_EINPUT);
    CHECK(strstr(e.msg, "obs_norm") && strstr(e.msg, "value 5") && strstr(e.msg, path));
    run_free(&a);
    rl_env_free(&env);
    remove(path);
}

static void resume_case(int cpr) { resume_case_opt(cpr, 0, RL_ROLLOUT_MIXTURE); }
static void test_resume_fbcpr(void) { resume_case(1); }
static void test_resume_fb(void) { resume_case(0); }
/* the reference's settings: normalised observations, rollout zs from recent training zs */
static void test_resume_norm_buffer(void) { resume_case_opt(1, 1, RL_ROLLOUT_BUFFER); }
static void test_resume_norm_fb(void) { resume_case_opt(0, 1, RL_ROLLOUT_MIXTURE); }

int main(void)
{
    RUN(test_replay_wrap);
    RUN(test_resume_fbcpr);
    RUN(test_resume_fb);
    RUN(test_resume_norm_buffer);
    RUN(test_resume_norm_fb);
    RUN(test_threads);
    RUN(test_threads_norm_buffer);
    RUN(test_act_rows);
    RUN(test_obsnorm);
    RUN(test_infer_normalised);
    RUN(test_batch_normalised);
    RUN(test_zbuf_rule);
    RUN(test_bad_norm_checkpoint);
    return check_summary();
}
