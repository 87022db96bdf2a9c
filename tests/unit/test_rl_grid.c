/* test_rl_grid.c — grid worlds: parsing and its errors, walls, slip statistics, value
 * iteration against hand-solved maps, tasks, collection policies, rollouts, PNG. */
#include <unistd.h>

#include "../check.h"
#include "env.h"

static void test_fourrooms_shape(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "fourrooms", 0, NULL) == 0);
    CHECK_EQ_INT(env.grid.w, 13);
    CHECK_EQ_INT(env.grid.h, 13);
    CHECK_EQ_INT(env.grid.n_free, 104); /* 11×11 interior minus 17 inner wall cells */
    CHECK_EQ_INT(env.obs_dim, 104);
    CHECK_EQ_INT(env.n_actions, 5);
    CHECK(env.horizon >= 40 && env.horizon <= 60); /* 2 × the BFS diameter */
    rl_env_free(&env);
}

static void step_to(const rl_env *env, float c, float r, int a, float *out)
{
    float s[2] = {c, r}, act = (float)a;
    rz_rng rng;
    rz_rng_seed(&rng, 1);
    CHECK(rl_env_step(env, s, &act, &rng, out, NULL) == 0);
}

static void test_walls_block(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "fourrooms", 0, NULL) == 0);
    float n[2];
    step_to(&env, 1, 1, 1, n); /* up into the outer wall: stays */
    CHECK(n[0] == 1 && n[1] == 1);
    step_to(&env, 1, 1, 3, n); /* left into the outer wall */
    CHECK(n[0] == 1 && n[1] == 1);
    step_to(&env, 5, 1, 4, n); /* right into the inner wall at column 6 */
    CHECK(n[0] == 5 && n[1] == 1);
    step_to(&env, 5, 3, 4, n); /* right through the doorway at (6,3) */
    CHECK(n[0] == 6 && n[1] == 3);
    step_to(&env, 1, 1, 2, n); /* down */
    CHECK(n[0] == 1 && n[1] == 2);
    step_to(&env, 1, 1, 0, n); /* stay */
    CHECK(n[0] == 1 && n[1] == 1);
    rl_env_free(&env);
}

static void test_bad_actions(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "fourrooms", 0, NULL) == 0);
    rz_rng rng;
    rz_rng_seed(&rng, 1);
    float s[2] = {1, 1}, n[2], bad[3] = {5, -1, 1.5f};
    for (int i = 0; i < 3; i++) {
        rz_err e = {0};
        CHECK_EQ_INT(rl_env_step(&env, s, &bad[i], &rng, n, &e), RZ_EINPUT);
        CHECK(strstr(e.msg, "out of range") != NULL);
    }
    float wall[2] = {0, 0}, a = 0;
    CHECK_EQ_INT(rl_env_step(&env, wall, &a, &rng, n, NULL), RZ_EINPUT);
    rl_env_free(&env);
}

static void test_malformed_maps(void)
{
    rl_env env;
    rz_err e = {0};
    CHECK_EQ_INT(rl_env_grid_parse(&env, "###\n##\n###\n", "ragged.txt", 0, &e), RZ_EINPUT);
    CHECK(strstr(e.msg, "ragged.txt") && strstr(e.msg, "ragged"));
    CHECK_EQ_INT(rl_env_grid_parse(&env, "###\n###\n", "walls.txt", 0, &e), RZ_EINPUT);
    CHECK(strstr(e.msg, "no free cell") != NULL);
    CHECK_EQ_INT(rl_env_grid_parse(&env, "#.#\n#x#\n", "chars.txt", 0, &e), RZ_EINPUT);
    CHECK(strstr(e.msg, "line 2, column 2") != NULL);
    CHECK_EQ_INT(rl_env_grid_parse(&env, "", "empty.txt", 0, &e), RZ_EINPUT);
    CHECK_EQ_INT(rl_env_grid_parse(&env, "...\n", "slip.txt", 1.5, &e), RZ_EINPUT);
    CHECK_EQ_INT(rl_env_make(&env, "/nonexistent/map.txt", 0, &e), RZ_EINPUT);
    CHECK(strstr(e.msg, "/nonexistent/map.txt") != NULL);
    /* A last row without '\n' and CRLF line ends are fine. */
    CHECK(rl_env_grid_parse(&env, ".#\r\n..", "ok.txt", 0, &e) == 0);
    CHECK_EQ_INT(env.grid.n_free, 3);
    rl_env_free(&env);
}

/* Slip 1: the action is always uniform. From the centre of an open 3×3 map every one
 * of the five successors has probability 1/5; 50k draws give a standard error of
 * √(0.16/50000) = 0.0018 per frequency, tolerance 5σ. rl_grid_trans must agree. */
static void test_slip_statistics(void)
{
    rl_env env;
    CHECK(rl_env_grid_parse(&env, "...\n...\n...\n", "open", 1.0, NULL) == 0);
    rz_rng rng;
    rz_rng_seed(&rng, 3);
    long cnt[9] = {0};
    float s[2] = {1, 1}, a = 4, n[2];
    for (int i = 0; i < 50000; i++) {
        rl_env_step(&env, s, &a, &rng, n, NULL);
        cnt[(int)n[1] * 3 + (int)n[0]]++;
    }
    double p[9];
    rl_grid_trans(&env, 4, 4, p);
    for (int c = 0; c < 9; c++) {
        double want = (c == 1 || c == 3 || c == 4 || c == 5 || c == 7) ? 0.2 : 0.0;
        CHECK_NEAR(cnt[c] / 50000.0, want, 0.009);
        CHECK_NEAR(p[c], want, 1e-12);
    }
    rl_env_free(&env);
}

/* Corridor "...", reward 1 for arriving in the right cell, γ = 0.9, no slip.
 * By hand: V(right) = 1 + γV(right) = 10 (stay), V(mid) = 1 + γ·10 = 10,
 * V(left) = 0 + γ·V(mid) = 9. Finite horizon T = 3, γ = 1: from left 0+1+1 = 2,
 * from mid or right 3. */
static void test_vi_corridor(void)
{
    rl_env env;
    CHECK(rl_env_grid_parse(&env, "...\n", "corridor", 0, NULL) == 0);
    float r[3] = {0, 0, 1};
    double V[3], Q[15];
    int sweeps = rl_grid_vi(&env, r, 0.9, 10000, 1e-12, V, Q);
    CHECK(sweeps > 10 && sweeps < 10000);
    CHECK_NEAR(V[0], 9, 1e-9);
    CHECK_NEAR(V[1], 10, 1e-9);
    CHECK_NEAR(V[2], 10, 1e-9);
    CHECK_NEAR(Q[0 * 5 + 0], 0.9 * 9, 1e-9); /* stay in the left cell: 0 + γ V(left) */
    CHECK_EQ_INT(rl_grid_vi(&env, r, 1.0, 3, 0, V, NULL), 3);
    CHECK_NEAR(V[0], 2, 1e-12);
    CHECK_NEAR(V[1], 3, 1e-12);
    CHECK_NEAR(V[2], 3, 1e-12);
    rl_env_free(&env);
}

/* Two cells "AB" with slip p, reward on arriving in B, γ. From B the best action keeps B
 * unless the slip picks "left" (1 of 5): P(B|B) = 1 − p/5. From A "right" reaches B
 * unless the slip picks one of the 4 others: P(B|A,right) = 1 − 4p/5. So
 *   V_B = (1−p/5)(1 + γV_B) + (p/5)γV_A,  V_A = (1−4p/5)(1 + γV_B) + (4p/5)γV_A,
 * a 2×2 linear system solved here by Cramer's rule. */
static void test_vi_slip_closed_form(void)
{
    double p = 0.3, g = 0.95;
    rl_env env;
    CHECK(rl_env_grid_parse(&env, "..\n", "ab", p, NULL) == 0);
    float r[2] = {0, 1};
    double V[2];
    rl_grid_vi(&env, r, g, 100000, 1e-13, V, NULL);
    double bB = 1 - p / 5, bA = 1 - 4 * p / 5;
    /* (1 − bB γ) V_B − (p/5)γ V_A = bB;   −bA γ V_B + (1 − (4p/5)γ) V_A = bA */
    double a11 = 1 - bB * g, a12 = -(p / 5) * g, a21 = -bA * g, a22 = 1 - (4 * p / 5) * g;
    double det = a11 * a22 - a12 * a21;
    double VB = (bB * a22 - a12 * bA) / det, VA = (a11 * bA - a21 * bB) / det;
    /* Stopping at sup-change 1e-13 leaves an error ≤ 1e-13·γ/(1−γ) ≈ 2e-12. */
    CHECK_NEAR(V[1], VB, 1e-9);
    CHECK_NEAR(V[0], VA, 1e-9);
    rl_env_free(&env);
}

static void test_tasks(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "fourrooms", 0, NULL) == 0);
    rl_task *t;
    int n;
    CHECK(rl_env_tasks(&env, "all", &t, &n, NULL) == 0);
    CHECK_EQ_INT(n, 104 + 8);
    double room_total = 0;
    for (int k = 104; k < 108; k++)
        for (int s = 0; s < 104; s++) room_total += t[k].r[s];
    CHECK_NEAR(room_total, 104, 0); /* the four rooms partition the cells */
    CHECK(t[0].is_goal && !t[104].is_goal);
    CHECK_NEAR(rl_task_reward(&env, &t[0], t[0].goal), 1, 0);
    CHECK(rl_task_success(&env, &t[0], t[0].goal));
    float corner[2] = {1, 1};
    CHECK_NEAR(rl_task_reward(&env, &t[108], corner), 1, 0); /* corner-top-left is (1,1) */
    rl_tasks_free(t, n);
    rz_err e;
    CHECK_EQ_INT(rl_env_tasks(&env, "bogus", &t, &n, &e), RZ_EINPUT);
    rl_env_free(&env);
}

static void test_collect_policies(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "fourrooms", 0, NULL) == 0);
    long n = 104 * 5 * 4;
    float *S = malloc(n * 2 * sizeof(float)), *A = malloc(n * sizeof(float)), *S2 = malloc(n * 2 * sizeof(float));
    /* Coverage: least-tried action first, so with 20 tries per cell on average every
     * (cell, action) pair present in visited cells is tried; every cell is visited. */
    CHECK(rl_collect(&env, RL_POL_COVERAGE, n, 1, S, A, S2, NULL) == 0);
    int seen[104] = {0}, ok = 1;
    for (long i = 0; i < n; i++) {
        seen[rl_grid_id(&env, S + 2 * i)] = 1;
        ok &= rl_env_check_action(&env, A + i) && rl_env_check_state(&env, S2 + 2 * i);
    }
    int cells = 0;
    for (int s = 0; s < 104; s++) cells += seen[s];
    CHECK_EQ_INT(cells, 104);
    CHECK(ok);
    /* Room: every state stays in the top-left quadrant (columns < 6.5, rows < 6.5). */
    CHECK(rl_collect(&env, RL_POL_ROOM, n, 2, S, A, S2, NULL) == 0);
    int inside = 1;
    for (long i = 0; i < n; i++) inside &= S2[2 * i] < 6.5f && S2[2 * i + 1] < 6.5f;
    CHECK(inside);
    /* Same seed → same data. */
    float *T = malloc(n * 2 * sizeof(float));
    CHECK(rl_collect(&env, RL_POL_RANDOM, n, 5, S, A, S2, NULL) == 0);
    memcpy(T, S2, n * 2 * sizeof(float));
    CHECK(rl_collect(&env, RL_POL_RANDOM, n, 5, S, A, S2, NULL) == 0);
    CHECK(memcmp(T, S2, n * 2 * sizeof(float)) == 0);
    free(S), free(A), free(S2), free(T);
    rl_env_free(&env);
}

/* The greedy policy of the exact finite-horizon Q reaches the optimum V_T in rollouts
 * (deterministic map): normalised return exactly 1, and every goal is reached. */
typedef struct {
    const rl_env *env;
    const int *pi_t; /* horizon × n_free: optimal action at each time */
    int t;
} vi_pol;

static void vi_policy(void *ctx, int n, const float *obs, float *act)
{
    vi_pol *p = ctx;
    for (int i = 0; i < n; i++) {
        int id = 0;
        for (int k = 0; k < p->env->obs_dim; k++)
            if (obs[(size_t)i * p->env->obs_dim + k] > 0.5f) id = k;
        act[i] = (float)p->pi_t[p->t * p->env->grid.n_free + id];
    }
    p->t++;
}

static void test_rollout_optimal(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "fourrooms", 0, NULL) == 0);
    rl_task *t;
    int n;
    CHECK(rl_env_tasks(&env, "rewards", &t, &n, NULL) == 0);
    int T = env.horizon, ns = env.grid.n_free;
    int *pi = malloc((size_t)T * ns * sizeof(int));
    double *V = malloc(ns * sizeof(double)), *Q = malloc(ns * 5 * sizeof(double));
    /* Time-dependent optimal policy: at time t, T − t steps remain. */
    for (int tt = 0; tt < T; tt++) {
        rl_grid_vi(&env, t[0].r, 1.0, T - tt, 0, V, Q);
        for (int s = 0; s < ns; s++) {
            int b = 0;
            for (int a = 1; a < 5; a++)
                if (Q[s * 5 + a] > Q[s * 5 + b]) b = a;
            pi[tt * ns + s] = b;
        }
    }
    rl_grid_vi(&env, t[0].r, 1.0, T, 0, V, NULL);
    float starts[4] = {11, 11, 11, 1};
    double ret[2];
    int succ[2];
    vi_pol ctx = {&env, pi, 0};
    rz_rng rng;
    rz_rng_seed(&rng, 1);
    CHECK(rl_rollout(&env, &t[0], 2, starts, vi_policy, &ctx, &rng, ret, succ, NULL) == 0);
    CHECK_NEAR(ret[0], V[rl_grid_id(&env, starts)], 1e-9);
    CHECK_NEAR(ret[1], V[rl_grid_id(&env, starts + 2)], 1e-9);
    CHECK(ret[0] > 0 && ret[0] < T);
    free(pi), free(V), free(Q);
    rl_tasks_free(t, n);
    rl_env_free(&env);
}

static void test_png(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "fourrooms", 0, NULL) == 0);
    char path[] = "/tmp/rz_test_grid_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    double val[104];
    int act[104];
    for (int s = 0; s < 104; s++) val[s] = s, act[s] = s % 5;
    CHECK(rl_grid_render(&env, val, act, 3, 8, path, NULL) == 0);
    FILE *f = fopen(path, "rb");
    unsigned char hdr[24] = {0};
    CHECK(f && fread(hdr, 1, 24, f) == 24);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    remove(path);
    CHECK(memcmp(hdr, "\x89PNG\r\n\x1a\n", 8) == 0);
    CHECK(hdr[19] == 104 && hdr[23] == 104); /* IHDR width, height = 13 × 8 */
    /* Stored deflate: 8 sig + 25 IHDR + 12 IDAT framing + 2 + raw + 5/block + 4 + 12 IEND. */
    long raw = 104L * (1 + 104 * 3);
    CHECK_EQ_INT(size, 8 + 25 + 12 + 2 + raw + 5 + 4 + 12);
    rl_env_free(&env);
}

int main(void)
{
    RUN(test_fourrooms_shape);
    RUN(test_walls_block);
    RUN(test_bad_actions);
    RUN(test_malformed_maps);
    RUN(test_slip_statistics);
    RUN(test_vi_corridor);
    RUN(test_vi_slip_closed_form);
    RUN(test_tasks);
    RUN(test_collect_policies);
    RUN(test_rollout_optimal);
    RUN(test_png);
    return check_summary();
}
