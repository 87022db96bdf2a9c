/* test_rl_online.c — the replay buffer (wrap-around, uniform sampling below the size,
 * validation of a loaded buffer) and the online loop: a run cut in two, checkpointed
 * and resumed reproduces the uncut run bit for bit, with FB-CPR and with plain FB; 1, 2 and
 * 3 environment workers give the same checkpoint; batched acting equals row-at-a-time. */
#include <math.h>
#include <stdio.h>

#include "../check.h"
#include "agent_io.h"
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

static void run_make(run *r, const rl_env *env, rl_expert *x, int cpr)
{
    fb_config f;
    fb_config_default(&f, FB_ALGO_FB, env->obs_dim, 0, env->act_dim);
    f.zdim = 8, f.hidden = 32, f.layers = 2, f.batch = 16;
    CHECK(fb_create(&f, 5, &r->fb, NULL) == 0);
    fbcpr_config cc;
    fbcpr_config_default(&cc);
    cc.cpr = cpr, cc.seq_length = 4, cc.disc_hidden = 16;
    CHECK(fbcpr_create(r->fb, &cc, 6, &r->c, NULL) == 0);
    rl_online_config oc;
    rl_online_config_default(&oc, env);
    oc.n_envs = 2, oc.buffer = 300, oc.seed_steps = 60, oc.update_every = 4, oc.updates = 2, oc.z_every = 7, oc.episode_len = 45;
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

static void resume_case(int cpr)
{
    rl_env env;
    CHECK(rl_env_make(&env, "pointmass-maze", 0, NULL) == 0);
    rl_expert x;
    make_expert(&env, &x);
    run a, b;
    run_make(&a, &env, &x, cpr);
    rz_err e = {0};
    CHECK(rl_online_run(a.o, 500, NULL, NULL, &e) == 0); /* 500 > the buffer's 300: it wrapped */
    CHECK(rl_online_updates(a.o) > 100 && rl_online_replay(a.o)->size == 300);
    run_make(&b, &env, &x, cpr);
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
    /* and the comparison can fail: one more round on one side differs */
    CHECK(rl_online_run(b.o, 504, NULL, NULL, &e) == 0);
    CHECK(!same_state(&a, &b));
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
static void test_threads(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "pointmass-maze", 0, NULL) == 0);
    rl_expert x;
    make_expert(&env, &x);
    rz_err e = {0};
    run r[3];
    char path[3][64];
    for (int t = 0; t < 3; t++) {
        fb_config f;
        fb_config_default(&f, FB_ALGO_FB, env.obs_dim, 0, env.act_dim);
        f.zdim = 8, f.hidden = 32, f.layers = 2, f.batch = 16;
        CHECK(fb_create(&f, 5, &r[t].fb, NULL) == 0);
        fbcpr_config cc;
        fbcpr_config_default(&cc);
        cc.seq_length = 4, cc.disc_hidden = 16;
        CHECK(fbcpr_create(r[t].fb, &cc, 6, &r[t].c, NULL) == 0);
        rl_online_config oc;
        rl_online_config_default(&oc, &env);
        oc.n_envs = 5, oc.buffer = 200, oc.seed_steps = 52, oc.update_every = 5, oc.updates = 1, oc.z_every = 6, oc.episode_len = 23;
        oc.threads = t + 1;
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

static void test_resume_fbcpr(void) { resume_case(1); }
static void test_resume_fb(void) { resume_case(0); }

int main(void)
{
    RUN(test_replay_wrap);
    RUN(test_resume_fbcpr);
    RUN(test_resume_fb);
    RUN(test_threads);
    RUN(test_act_rows);
    return check_summary();
}
