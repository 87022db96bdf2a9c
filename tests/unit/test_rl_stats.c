/* test_rl_stats.c — the numbers the agent reports, against hand cases and independent
 * statements written here:
 *   - rl_iqm on hand cases (n = 5: the mean of the middle three; NaNs dropped);
 *   - rl_bootstrap_ci: constant input gives a zero-width interval; on {1..5} its ends
 *     fall between quantiles of the exact bootstrap distribution of the IQM, enumerated
 *     here over all 5^5 equally likely resamples;
 *   - fb_eval_task's optimal return and normalised return on four-rooms goal tasks from
 *     every start: the optimum is T − d + 1 for a start at BFS distance d ≤ T from the
 *     goal (arrival rewards; the goal can be held by staying), computed by a breadth-
 *     first search written here, not by the value iteration the code uses; the BFS-greedy
 *     policy scores exactly that optimum in rollouts, so its normalised return is 1;
 *   - rl_best (checkpoint selection) on hand validation curves: the step kept is the
 *     first argmax, found here by a plain scan, and the updates that report a new best
 *     are exactly the strict running maxima (NaN never wins, ties keep the earlier);
 *   - rl_kv_line on hand lines: the key is everything before the last tab. */
#include <string.h>

#include "../check.h"
#include "env.h"
#include "fb.h"
#include "stats.h"

static void test_iqm_hand_cases(void)
{
    double a[5] = {10, 1, 100, 3, 2}; /* sorted 1 2 3 10 100: middle three 2, 3, 10 */
    CHECK_NEAR(rl_iqm(a, 5), 5.0, 1e-15);
    double b[4] = {100, 2, 1, 3}; /* m = 4: drop one from each end -> 2, 3 */
    CHECK_NEAR(rl_iqm(b, 4), 2.5, 1e-15);
    double c[8] = {8, 7, 6, 5, 4, 3, 2, 1000}; /* drop two each end: 4, 5, 6, 7 */
    CHECK_NEAR(rl_iqm(c, 8), 5.5, 1e-15);
    double d[4] = {NAN, 1, 2, 6}; /* NaN dropped: m = 3, nothing trimmed */
    CHECK_NEAR(rl_iqm(d, 4), 3.0, 1e-15);
    double e[3] = {7, 7, 7};
    CHECK_NEAR(rl_iqm(e, 3), 7.0, 0);
    double f[2] = {NAN, NAN};
    CHECK(isnan(rl_iqm(f, 2)));
}

static void test_bootstrap_constant(void)
{
    double v[5] = {0.7, 0.7, 0.7, 0.7, 0.7}, lo, hi;
    rl_bootstrap_ci(v, 5, &lo, &hi);
    CHECK(lo == hi);                  /* zero width: every resample is the same multiset */
    CHECK_NEAR(lo, 0.7, 2e-16);       /* the mean of three 0.7s, to one rounding */
    double one = 3.25;
    rl_bootstrap_ci(&one, 1, &lo, &hi);
    CHECK(lo == 3.25 && hi == 3.25);
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* The exact bootstrap distribution of the IQM of {1..5}: every index tuple of 5 draws is
 * equally likely (5^5 = 3125). Its q-quantile is the sorted value at floor(q · 3125).
 * With R = 2000 resamples, the number falling below the exact 1% quantile is
 * Binomial(2000, ≤ 0.01), mean ≤ 20, sd ≈ 4.4; the 2.5% empirical quantile needs 50 of
 * them — 7 sd away. So lo lies in [q(0.01), q(0.05)] and hi in [q(0.95), q(0.99)] except
 * with negligible probability (and the generator is fixed, so the result is repeatable). */
static void test_bootstrap_quantiles(void)
{
    static double all[3125];
    double v[5] = {1, 2, 3, 4, 5}, s[5];
    for (int k = 0; k < 3125; k++) {
        int t = k;
        for (int i = 0; i < 5; i++, t /= 5) s[i] = v[t % 5];
        /* IQM of 5 by hand: sort, mean of the middle three */
        qsort(s, 5, sizeof *s, cmp_d);
        all[k] = (s[1] + s[2] + s[3]) / 3;
    }
    qsort(all, 3125, sizeof *all, cmp_d);
    double q01 = all[(int)(0.01 * 3125)], q05 = all[(int)(0.05 * 3125)];
    double q95 = all[(int)(0.95 * 3125)], q99 = all[(int)(0.99 * 3125)];
    double lo, hi;
    rl_bootstrap_ci(v, 5, &lo, &hi);
    printf("#   CI [%.4f, %.4f]; exact quantiles 1%% %.4f 5%% %.4f 95%% %.4f 99%% %.4f\n", lo, hi, q01, q05, q95, q99);
    CHECK(lo >= q01 - 1e-12 && lo <= q05 + 1e-12);
    CHECK(hi >= q95 - 1e-12 && hi <= q99 + 1e-12);
    CHECK(lo < 3 && hi > 3);
}

/* BFS distances to goal cell id g over the grid's deterministic moves (walls block). */
static void bfs(const rl_env *env, int g, int *dist)
{
    const rl_grid *G = &env->grid;
    int n = G->n_free, *queue = malloc(n * sizeof(int)), head = 0, tail = 0;
    for (int i = 0; i < n; i++) dist[i] = -1;
    dist[g] = 0;
    queue[tail++] = g;
    while (head < tail) { /* moves are symmetric on a grid: neighbours of u reach u */
        int u = queue[head++], cu = G->cell_of[u], x = cu % G->w, y = cu / G->w;
        int nx[4] = {x, x, x - 1, x + 1}, ny[4] = {y - 1, y + 1, y, y};
        for (int k = 0; k < 4; k++) {
            if (nx[k] < 0 || ny[k] < 0 || nx[k] >= G->w || ny[k] >= G->h) continue;
            int v = G->state_of[ny[k] * G->w + nx[k]];
            if (v >= 0 && dist[v] < 0) dist[v] = dist[u] + 1, queue[tail++] = v;
        }
    }
    free(queue);
}

typedef struct {
    const rl_env *env;
    const int *dist;
} bfs_pol;

/* Greedy on BFS distance: a neighbour one step closer (action codes of env.h: 1 up,
 * 2 down, 3 left, 4 right), or stay (0) on the goal. */
static void bfs_policy(void *ctx, int n, const float *obs, float *act)
{
    const bfs_pol *p = ctx;
    const rl_grid *G = &p->env->grid;
    for (int i = 0; i < n; i++) {
        int id = 0;
        for (int k = 0; k < G->n_free; k++)
            if (obs[(size_t)i * p->env->obs_dim + k] > 0.5f) id = k;
        int c = G->cell_of[id], x = c % G->w, y = c / G->w, best = 0;
        int nx[5] = {x, x, x, x - 1, x + 1}, ny[5] = {y, y - 1, y + 1, y, y};
        for (int a = 1; a < 5; a++) {
            int v = nx[a] >= 0 && ny[a] >= 0 && nx[a] < G->w && ny[a] < G->h ? G->state_of[ny[a] * G->w + nx[a]] : -1;
            if (v >= 0 && p->dist[v] == p->dist[id] - 1) { best = a; break; }
        }
        act[i] = (float)best;
    }
}

static void test_eval_norm_return(void)
{
    rl_env env;
    rz_err e = {0};
    CHECK(rl_env_make(&env, "fourrooms", 0, &e) == 0);
    rl_task *tasks;
    int nt;
    CHECK(rl_env_tasks(&env, "goals", &tasks, &nt, &e) == 0);
    fb_config c;
    fb_config_default(&c, FB_ALGO_FB, env.obs_dim, env.n_actions, env.act_dim);
    c.zdim = 8, c.hidden = 32, c.batch = 32;
    fb_agent *a;
    CHECK(fb_create(&c, 1, &a, &e) == 0);
    /* 60 steps on 3000 coverage transitions: a weak agent that reaches some goals, so
     * its returns are not all zero and the normalisation is exercised */
    enum { ND = 3000 };
    float *S = malloc(ND * 2 * sizeof(float)), *A = malloc(ND * sizeof(float)), *S2 = malloc(ND * 2 * sizeof(float));
    float *O = malloc((size_t)ND * env.obs_dim * sizeof(float)), *O2 = malloc((size_t)ND * env.obs_dim * sizeof(float));
    CHECK(rl_collect(&env, RL_POL_COVERAGE, ND, 4, S, A, S2, &e) == 0);
    for (int i = 0; i < ND; i++) {
        rl_env_obs(&env, S + 2 * i, O + (size_t)i * env.obs_dim);
        rl_env_obs(&env, S2 + 2 * i, O2 + (size_t)i * env.obs_dim);
    }
    fb_data fd = {ND, env.obs_dim, 1, O, A, O2, NULL};
    for (int k = 0; k < 60; k++) CHECK(fb_train_step(a, &fd, NULL, &e) == 0);
    double ret_all = 0;
    int n = env.grid.n_free, T = env.horizon, *dist = malloc(n * sizeof(int));
    float *starts = malloc((size_t)n * 2 * sizeof(float));
    double *ret = malloc(n * sizeof(double));
    int *succ = malloc(n * sizeof(int));
    for (int g = 0; g < nt; g += 13) { /* 8 goals spread over the map */
        bfs(&env, g, dist);
        double opt = 0, sr = 0;
        int E = 0;
        for (int s = 0; s < n; s++) {
            if (s == g) continue;
            CHECK(dist[s] > 0);
            opt += dist[s] <= T ? T - dist[s] + 1 : 0;
            starts[2 * E] = (float)(env.grid.cell_of[s] % env.grid.w);
            starts[2 * E + 1] = (float)(env.grid.cell_of[s] / env.grid.w);
            E++;
        }
        fb_task_result res;
        CHECK(fb_eval_task(&a, 1, &env, &tasks[g], 0, NULL, 0, 1, 7, &res, NULL, &e) == 0);
        CHECK_EQ_INT(res.episodes, n - 1);
        CHECK_NEAR(res.opt, opt / E, 1e-9 * opt / E);                 /* VI's optimum = BFS's */
        CHECK_NEAR(res.norm, res.ret / res.opt, 1e-12);               /* Σ ret / Σ opt */
        CHECK(res.ret >= 0 && res.ret <= res.opt + 1e-9);
        ret_all += res.ret;
        /* the BFS-greedy policy is optimal: its rollouts score the optimum, norm 1 */
        bfs_pol p = {&env, dist};
        rz_rng rng;
        rz_rng_seed(&rng, 3);
        CHECK(rl_rollout(&env, &tasks[g], E, starts, bfs_policy, &p, &rng, ret, succ, &e) == 0);
        for (int i = 0; i < E; i++) sr += ret[i];
        CHECK_NEAR(sr / opt, 1.0, 1e-12);
    }
    printf("#   agent's mean return over the 8 goals: %.3f\n", ret_all / 8);
    CHECK(ret_all > 0);
    free(dist), free(starts), free(ret), free(succ);
    free(S), free(A), free(S2), free(O), free(O2);
    fb_destroy(a);
    rl_tasks_free(tasks, nt);
    rl_env_free(&env);
}

static void test_best_selection(void)
{
    /* A hand curve: rises, dips, ties its maximum at step 2500, NaN at 3000. */
    const double curve[8] = {0.10, 0.30, 0.25, 0.55, 0.40, 0.55, NAN, 0.50};
    const int new_best[8] = {1, 1, 0, 1, 0, 0, 0, 0};
    rl_best b;
    rl_best_init(&b);
    CHECK(b.step == -1 && isinf(b.score) && b.score < 0);
    int arg = 0; /* the first argmax, by a scan written differently: index of max, < only */
    for (int k = 1; k < 8; k++)
        if (!isnan(curve[k]) && curve[k] > curve[arg]) arg = k;
    for (int k = 0; k < 8; k++) CHECK(rl_best_update(&b, 500 * (k + 1), curve[k]) == new_best[k]);
    CHECK(b.step == 500 * (arg + 1) && b.step == 2000);
    CHECK(b.score == 0.55);
    /* a NaN first point, then a negative score: −∞ start, so the negative one wins */
    rl_best_init(&b);
    CHECK(rl_best_update(&b, 1, NAN) == 0 && b.step == -1);
    CHECK(rl_best_update(&b, 2, -3.0) == 1 && b.step == 2);
}

static void test_kv_line(void)
{
    char key[16];
    double v;
    const char a[] = "n1000\tfb\tbest\t0.25\n";
    CHECK(rl_kv_line(a, strlen(a), key, sizeof key, &v) == 0);
    CHECK(!strcmp(key, "n1000\tfb\tbest") && v == 0.25);
    const char b[] = "k\tnan\r\n";
    CHECK(rl_kv_line(b, strlen(b), key, sizeof key, &v) == 0 && !strcmp(key, "k") && isnan(v));
    const char *bad[] = {"novalue", "\t1", "k\t", "k\t1x", "k\t 1 2", "0123456789abcdef\t1"};
    for (int i = 0; i < 6; i++) CHECK(rl_kv_line(bad[i], strlen(bad[i]), key, sizeof key, &v) == -1);
    const char nul[] = {'k', 0, '\t', '1'};
    CHECK(rl_kv_line(nul, 4, key, sizeof key, &v) == -1);
}

int main(void)
{
    RUN(test_iqm_hand_cases);
    RUN(test_best_selection);
    RUN(test_kv_line);
    RUN(test_bootstrap_constant);
    RUN(test_bootstrap_quantiles);
    RUN(test_eval_norm_return);
    return check_summary();
}
