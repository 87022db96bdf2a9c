/* test_rl_offline.c — the study's dataset builders (offline.h): the fraction of
 * state-action pairs removed exactly with every covered state kept, uniform seeded
 * subsampling (chi-square over many seeds), the fixed-policy trajectories, and in-support
 * task selection on a hand case, the validation / test split of the tasks, and pair
 * removal that keeps the data's reach (checked by Floyd–Warshall, not by breadth-first
 * search as offline.c counts it). */
#include <string.h>

#include "../check.h"
#include "offline.h"

static const char *two_rooms = "#######\n#..#..#\n#.....#\n#..#..#\n#######\n";

/* Distinct (cell, action) pairs and covered cells of a grid dataset, counted here. */
static void census(const rl_env *env, long n, const float *S, const float *A, unsigned char *pair, long *P, long *cells)
{
    int ns = env->grid.n_free;
    memset(pair, 0, (size_t)ns * 5);
    for (long i = 0; i < n; i++) pair[rl_grid_id(env, S + 2 * i) * 5 + (int)A[i]] = 1;
    *P = *cells = 0;
    for (int s = 0; s < ns; s++) {
        int any = 0;
        for (int a = 0; a < 5; a++) *P += pair[s * 5 + a], any |= pair[s * 5 + a];
        *cells += any;
    }
}

/* Four-rooms (env) with n0 coverage-policy transitions (S, A, S2; seed 3) and a working
 * copy (T, B, T2) that each builder call shrinks in place; cov_reset restores the copy. */
typedef struct {
    rl_env env;
    long n0;
    float *S, *A, *S2, *T, *B, *T2;
} cov_data;

static void cov_reset(cov_data *d)
{
    memcpy(d->T, d->S, d->n0 * 2 * sizeof(float)), memcpy(d->B, d->A, d->n0 * sizeof(float));
    memcpy(d->T2, d->S2, d->n0 * 2 * sizeof(float));
}

static void cov_make(cov_data *d, long n0)
{
    CHECK(rl_env_make(&d->env, "fourrooms", 0, NULL) == 0);
    d->n0 = n0;
    d->S = malloc(n0 * 2 * sizeof(float)), d->A = malloc(n0 * sizeof(float)), d->S2 = malloc(n0 * 2 * sizeof(float));
    d->T = malloc(n0 * 2 * sizeof(float)), d->B = malloc(n0 * sizeof(float)), d->T2 = malloc(n0 * 2 * sizeof(float));
    CHECK(rl_collect(&d->env, RL_POL_COVERAGE, n0, 3, d->S, d->A, d->S2, NULL) == 0);
    cov_reset(d);
}

static void cov_free(cov_data *d)
{
    free(d->S), free(d->A), free(d->S2), free(d->T), free(d->B), free(d->T2);
    rl_env_free(&d->env);
}

static void test_drop_pairs(void)
{
    long n0 = 6000;
    cov_data d;
    cov_make(&d, n0);
    rl_env *env = &d.env;
    int ns = env->grid.n_free;
    unsigned char *p0 = malloc(ns * 5), *p1 = malloc(ns * 5), *p2 = malloc(ns * 5);
    long P0, C0, P1, C1;
    census(env, n0, d.S, d.A, p0, &P0, &C0);
    CHECK(P0 == 5L * ns && C0 == ns); /* the coverage policy tries every pair */
    const double fr[3] = {0.25, 0.5, 0.75};
    for (int f = 0; f < 3; f++) {
        long n = n0, before = 0, removed = 0;
        cov_reset(&d);
        CHECK(rl_data_drop_pairs(env, &n, d.T, d.B, d.T2, fr[f], 0, 7, &before, &removed, NULL) == 0);
        census(env, n, d.T, d.B, p1, &P1, &C1);
        long want = lround(fr[f] * P0);
        CHECK(before == P0 && removed == want && P1 == P0 - want); /* exactly the fraction */
        CHECK(C1 == C0);                                           /* every state still covered */
        /* every transition of a kept pair survives, in order: walk the original */
        long j = 0, bad = 0;
        for (long i = 0; i < n0; i++) {
            if (!p1[rl_grid_id(env, d.S + 2 * i) * 5 + (int)d.A[i]]) continue;
            if (j >= n || memcmp(d.S + 2 * i, d.T + 2 * j, 8) || d.A[i] != d.B[j] ||
                memcmp(d.S2 + 2 * i, d.T2 + 2 * j, 8))
                bad++;
            j++;
        }
        CHECK(bad == 0 && j == n);
        /* the same seed removes the same pairs, another seed others */
        long m = n0;
        cov_reset(&d);
        CHECK(rl_data_drop_pairs(env, &m, d.T, d.B, d.T2, fr[f], 0, 8, NULL, NULL, NULL) == 0);
        census(env, m, d.T, d.B, p2, &P1, &C1);
        CHECK(P1 == P0 - want && memcmp(p1, p2, ns * 5));
    }
    /* 85% would leave some cell without any action: refused, data untouched */
    long n = n0;
    CHECK(rl_data_drop_pairs(env, &n, d.T, d.B, d.T2, 0.85, 0, 1, NULL, NULL, NULL) == RZ_EINPUT && n == n0);
    cov_free(&d), free(p0), free(p1), free(p2);
}

/* Ordered (start, goal ≠ start) cell pairs within `horizon` steps of the data's
 * transitions, by Floyd–Warshall over hop counts — a different algorithm from
 * offline.c's breadth-first count. */
static long reach_fw(const rl_env *env, long n, const float *S, const float *S2, int horizon)
{
    int ns = env->grid.n_free;
    int *d = malloc((size_t)ns * ns * sizeof(int));
    for (int i = 0; i < ns * ns; i++) d[i] = 1 << 28;
    for (long i = 0; i < n; i++) {
        int a = rl_grid_id(env, S + 2 * i), b = rl_grid_id(env, S2 + 2 * i);
        if (a != b) d[a * ns + b] = 1;
    }
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < ns; i++)
            for (int j = 0; j < ns; j++)
                if (d[i * ns + k] + d[k * ns + j] < d[i * ns + j]) d[i * ns + j] = d[i * ns + k] + d[k * ns + j];
    long r = 0;
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < ns; j++) r += i != j && d[i * ns + j] <= horizon;
    free(d);
    return r;
}

/* keep_reach on four-rooms' coverage data: exactly the fraction goes, every covered cell
 * keeps an action, and the reach count stays the full data's — while the plain walk at
 * 50% loses reach (so the flag is what keeps it). On the two-room map with a horizon of
 * one step, reach is the set of direct moves, so the removable pairs are exactly those
 * that go nowhere (walls, "stay"): counted here from the data, a fraction of that many
 * pairs goes and one pair more is refused with the data untouched. */
static void test_drop_pairs_keep_reach(void)
{
    long n0 = 6000;
    cov_data d;
    cov_make(&d, n0);
    rl_env *env = &d.env;
    int ns = env->grid.n_free;
    unsigned char *p0 = malloc(ns * 5), *p1 = malloc(ns * 5);
    long P0, C0, P1, C1, r0 = reach_fw(env, n0, d.S, d.S2, env->horizon);
    census(env, n0, d.S, d.A, p0, &P0, &C0);
    CHECK(r0 == (long)ns * (ns - 1)); /* full coverage connects every pair */
    const double fr[2] = {0.25, 0.5};
    for (int f = 0; f < 2; f++) {
        long n = n0, removed = 0;
        cov_reset(&d);
        CHECK(rl_data_drop_pairs(env, &n, d.T, d.B, d.T2, fr[f], 1, 11, NULL, &removed, NULL) == 0);
        census(env, n, d.T, d.B, p1, &P1, &C1);
        CHECK(removed == lround(fr[f] * P0) && P1 == P0 - removed && C1 == C0);
        CHECK(reach_fw(env, n, d.T, d.T2, env->horizon) == r0);
    }
    long n = n0;
    cov_reset(&d);
    CHECK(rl_data_drop_pairs(env, &n, d.T, d.B, d.T2, 0.5, 0, 11, NULL, NULL, NULL) == 0);
    CHECK(reach_fw(env, n, d.T, d.T2, env->horizon) < r0);
    rl_env_free(env); /* the fixture's env becomes the two-room map (cov_free frees it) */

    CHECK(rl_env_grid_parse(env, two_rooms, "two-rooms", 0, NULL) == 0);
    env->horizon = 1;
    ns = env->grid.n_free;
    CHECK(rl_collect(env, RL_POL_COVERAGE, n0, 3, d.S, d.A, d.S2, NULL) == 0);
    census(env, n0, d.S, d.A, p0, &P0, &C0);
    CHECK(P0 == 5L * ns);
    long idle = 0; /* pairs whose every transition stays in its cell (the grid is deterministic) */
    for (int q = 0; q < ns * 5; q++) {
        int moves = 0;
        for (long i = 0; i < n0; i++)
            if (rl_grid_id(env, d.S + 2 * i) * 5 + (int)d.A[i] == q) moves |= memcmp(d.S + 2 * i, d.S2 + 2 * i, 8) != 0;
        idle += !moves;
    }
    CHECK(idle > 0 && idle < P0 - C0);
    for (int more = 0; more < 2; more++) {
        long removed = 0;
        n = n0;
        cov_reset(&d);
        int rc =
            rl_data_drop_pairs(env, &n, d.T, d.B, d.T2, (double)(idle + more) / (double)P0, 1, 5, NULL, &removed, NULL);
        if (more) {
            CHECK(rc == RZ_EINPUT && n == n0 && !memcmp(d.T, d.S, n0 * 2 * sizeof(float)) &&
                  !memcmp(d.B, d.A, n0 * sizeof(float)));
        } else {
            CHECK(rc == 0 && removed == idle);
            long stay = 0; /* only the idle pairs went: every transition left moves */
            for (long i = 0; i < n; i++) stay += memcmp(d.T + 2 * i, d.T2 + 2 * i, 8) == 0;
            CHECK(stay == 0);
        }
    }
    cov_free(&d), free(p0), free(p1);
}

/* Each of n = 20 rows kept with probability m/n = 1/4: over 4000 seeds the counts'
 * Pearson statistic is compared with χ²(19) at p = 0.001 (43.82). Sampling without
 * replacement makes the counts negatively correlated, which only shrinks the statistic
 * (by (n − m)/(n − 1)), so the bound is conservative. Row i carries i in its state. */
static void test_subsample(void)
{
    enum { NR = 20, M = 5, SEEDS = 4000 };
    long cnt[NR] = {0}, exact = 0, ordered = 0;
    float S[NR * 2], A[NR], S2[NR * 2];
    for (int s = 0; s < SEEDS; s++) {
        for (int i = 0; i < NR; i++) S[2 * i] = S2[2 * i] = (float)i, S[2 * i + 1] = S2[2 * i + 1] = 0, A[i] = (float)(i % 5);
        long n = NR;
        CHECK(rl_data_subsample(&n, 2, 1, S, A, S2, M, 1000 + s, NULL) == 0);
        exact += n == M;
        int ok = 1;
        for (long i = 0; i < n; i++) {
            int r = (int)S[2 * i];
            cnt[r]++;
            if ((i && S[2 * i] <= S[2 * i - 2]) || A[i] != (float)(r % 5) || S2[2 * i] != (float)r) ok = 0;
        }
        ordered += ok;
    }
    CHECK(exact == SEEDS && ordered == SEEDS);
    double E = (double)SEEDS * M / NR, chi = 0;
    for (int i = 0; i < NR; i++) chi += (cnt[i] - E) * (cnt[i] - E) / E;
    printf("# subsample chi-square %.2f (19 df; 0.1%% point 43.82)\n", chi);
    CHECK(chi < 43.82);
    /* seeded: the same seed keeps the same rows */
    float X[NR * 2], Y[NR * 2];
    for (int i = 0; i < NR; i++) S[2 * i] = (float)i, S[2 * i + 1] = 0, A[i] = 0;
    memcpy(X, S, sizeof X), memcpy(Y, S, sizeof Y);
    float Ax[NR], Ay[NR], X2[NR * 2], Y2[NR * 2];
    memcpy(Ax, A, sizeof Ax), memcpy(Ay, A, sizeof Ay), memcpy(X2, S, sizeof X2), memcpy(Y2, S, sizeof Y2);
    long nx = NR, ny = NR;
    CHECK(rl_data_subsample(&nx, 2, 1, X, Ax, X2, M, 42, NULL) == 0 && rl_data_subsample(&ny, 2, 1, Y, Ay, Y2, M, 42, NULL) == 0);
    CHECK(nx == M && ny == M && !memcmp(X, Y, M * 2 * sizeof(float)));
    long nz = NR;
    CHECK(rl_data_subsample(&nz, 2, 1, S, A, S, NR + 1, 1, NULL) == RZ_EINPUT);
}

/* Shortest path length from cell `from` to `to` by breadth-first search over the grid's
 * deterministic successors (independent of value iteration). */
static int bfs(const rl_env *env, int from, int to)
{
    int ns = env->grid.n_free, dist[256], queue[256], h = 0, t = 0;
    for (int s = 0; s < ns; s++) dist[s] = -1;
    dist[from] = 0, queue[t++] = from;
    while (h < t) {
        int s = queue[h++];
        for (int a = 0; a < 5; a++) {
            int q = env->grid.next[s * 5 + a];
            if (dist[q] < 0) dist[q] = dist[s] + 1, queue[t++] = q;
        }
    }
    return dist[to];
}

/* Greedy for a goal with eps 0 on a deterministic grid: every trajectory reaches the goal
 * first after exactly the shortest-path number of steps; consecutive rows chain. */
static void test_policy_trajs(void)
{
    rl_env env;
    CHECK(rl_env_grid_parse(&env, two_rooms, "two-rooms", 0, NULL) == 0);
    int ns = env.grid.n_free, nt = 6, len = ns, goal = ns - 1;
    float *S = malloc(nt * len * 2 * sizeof(float)), *A = malloc(nt * len * sizeof(float)), *S2 = malloc(nt * len * 2 * sizeof(float));
    CHECK(rl_data_policy_trajs(&env, goal, 0.0, nt, len, 5, S, A, S2, NULL) == 0);
    for (int t = 0; t < nt; t++) {
        int first = -1, start = rl_grid_id(&env, S + 2L * t * len);
        for (int k = 0; k < len; k++) {
            long r = (long)t * len + k;
            if (first < 0 && rl_grid_id(&env, S2 + 2 * r) == goal) first = k + 1;
            if (k) CHECK(!memcmp(S + 2 * r, S2 + 2 * (r - 1), 8));
        }
        if (start != goal) CHECK(first == bfs(&env, start, goal));
    }
    free(S), free(A), free(S2);
    rl_env_free(&env);
}

/* Two rooms: the states are the left room's 6 cells (columns 1–2). */
static void test_in_support(void)
{
    rl_env env;
    CHECK(rl_env_grid_parse(&env, two_rooms, "two-rooms", 0, NULL) == 0);
    float st[6 * 2] = {1, 1, 2, 1, 1, 2, 2, 2, 1, 3, 2, 3};
    rl_task g = {0};
    g.is_goal = 1;
    g.goal[0] = 2, g.goal[1] = 2;
    CHECK(rl_task_in_support(&env, &g, 6, st) == 1);
    g.goal[0] = 5, g.goal[1] = 1; /* right room */
    CHECK(rl_task_in_support(&env, &g, 6, st) == 0);
    g.goal[0] = 3, g.goal[1] = 2; /* the doorway */
    CHECK(rl_task_in_support(&env, &g, 6, st) == 0);
    rl_task r = {0};
    float rew[64] = {0};
    r.r = rew;
    rew[rl_grid_id(&env, (float[]){5, 3})] = 1; /* reward only in the right room */
    CHECK(rl_task_in_support(&env, &r, 6, st) == 0);
    rew[rl_grid_id(&env, (float[]){1, 3})] = -0.5f; /* and a (negative) one in the left */
    CHECK(rl_task_in_support(&env, &r, 6, st) == 1);
    rl_env_free(&env);
}

/* The validation split: on four-rooms 26 of the 104 goals (cell id ≡ 3 mod 4, counted
 * here from the cell ids) are validation tasks, no reward task is; rl_tasks_split keeps
 * exactly one side, in order, and the two sides partition the tasks. */
static void test_task_split(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "fourrooms", 0, NULL) == 0);
    rl_task *all, *val, *test;
    int n, nv, nt;
    CHECK(rl_env_tasks(&env, "all", &all, &n, NULL) == 0);
    CHECK(rl_env_tasks(&env, "all", &val, &nv, NULL) == 0);
    CHECK(rl_env_tasks(&env, "all", &test, &nt, NULL) == 0);
    CHECK(n == 112);
    rl_tasks_split(&env, val, &nv, 1);
    rl_tasks_split(&env, test, &nt, 0);
    int want_val = 0;
    for (int c = 0; c < env.grid.n_free; c++) want_val += c % 4 == 3;
    CHECK(want_val == 26);
    CHECK(nv == want_val && nt == n - want_val);
    int iv = 0, it = 0;
    for (int k = 0; k < n; k++) { /* each task lands on exactly one side, order kept */
        int is_val = all[k].is_goal && rl_grid_id(&env, all[k].goal) % 4 == 3;
        const rl_task *side = is_val ? &val[iv++] : &test[it++];
        CHECK(!strcmp(side->name, all[k].name));
        CHECK(rl_task_is_validation(&env, &all[k]) == is_val);
    }
    CHECK(iv == nv && it == nt);
    rl_tasks_free(all, n);
    rl_tasks_free(val, nv);
    rl_tasks_free(test, nt);
    rl_env_free(&env);
}

/* The reach ceiling on the two-room map (13 free cells, 156 ordered pairs), by hand: the
 * data is the path (1,1) → (2,1) → (2,2) → (3,2) plus a self-loop at (5,3); pairs with
 * a data path: 3 + 2 + 1 = 6 (the loop reaches nothing new), within 1 step only the 3
 * edges, within 2 steps 5. */
static void test_reach(void)
{
    rl_env env;
    CHECK(rl_env_grid_parse(&env, two_rooms, "two-rooms", 0, NULL) == 0);
    float S[] = {1, 1, 2, 1, 2, 2, 5, 3}, S2[] = {2, 1, 2, 2, 3, 2, 5, 3};
    CHECK(env.grid.n_free == 13);
    CHECK_NEAR(rl_data_reach(&env, 4, S, S2, 40, NULL), 6.0 / 156, 1e-15);
    CHECK_NEAR(rl_data_reach(&env, 4, S, S2, 1, NULL), 3.0 / 156, 1e-15);
    CHECK_NEAR(rl_data_reach(&env, 4, S, S2, 2, NULL), 5.0 / 156, 1e-15);
    CHECK(rl_data_reach(&env, 0, S, S2, 40, NULL) == 0);
    rl_env_free(&env);
}

/* Label states: with m = n every next state is kept, in order (the in-support test then
 * sees the data's whole support — a with-replacement draw of 64 of 64 misses ~23 rows);
 * with m < n every label is one of the data's rows and the draw is a function of the seed. */
static void test_labels(void)
{
    enum { N = 64 };
    float S2[2 * N], out[2 * N];
    for (int i = 0; i < N; i++) S2[2 * i] = (float)i, S2[2 * i + 1] = (float)(-i);
    rl_data_labels(N, 2, S2, N, 7, out);
    CHECK(!memcmp(out, S2, sizeof S2));
    float a[2 * 10], b[2 * 10];
    rl_data_labels(N, 2, S2, 10, 7, a);
    rl_data_labels(N, 2, S2, 10, 7, b);
    CHECK(!memcmp(a, b, sizeof a));
    for (int i = 0; i < 10; i++) {
        int j = (int)a[2 * i];
        CHECK(j >= 0 && j < N && a[2 * i] == (float)j && a[2 * i + 1] == (float)(-j));
    }
}

int main(void)
{
    RUN(test_labels);
    RUN(test_reach);
    RUN(test_task_split);
    RUN(test_drop_pairs);
    RUN(test_drop_pairs_keep_reach);
    RUN(test_subsample);
    RUN(test_policy_trajs);
    RUN(test_in_support);
    return check_summary();
}
