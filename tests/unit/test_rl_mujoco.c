/* test_rl_mujoco.c — the MuJoCo point-mass maze: the MJCF compiles, states round-trip
 * through mjData exactly, free motion matches the damped-mass closed form, walls block,
 * steps are pure functions of (state, action), collection stays valid, bad input fails. */
#include "../check.h"
#include "env.h"
#include "mujoco_env.h"

static void test_roundtrip(void)
{
    rl_env env;
    rz_err e = {0};
    CHECK(rl_env_make(&env, "pointmass-maze", 0, &e) == 0);
    if (e.code) { printf("#   %s\n", e.msg); return; }
    CHECK_EQ_INT(env.state_dim, 4);
    CHECK_EQ_INT(env.act_dim, 2);
    float s[4] = {-0.123f, 0.2071f, 0.3f, -0.25f}, b[4];
    CHECK(rl_mj_roundtrip(&env, s, b) == 0);
    CHECK(memcmp(s, b, sizeof s) == 0); /* float → double → float is exact */
    rl_env_free(&env);
}

/* From rest at the room centre, force F = 1 N on x for one step (0.02 s). A mass
 * m = 0.3 kg with damping c = 1 N·s/m has the continuous solution v(t) = (F/c)(1 − e^{−ct/m})
 * = 0.0645 m/s. MuJoCo's Euler integrator treats damping implicitly and updates position
 * with the new velocity: v_{k+1} = (v_k + h F/m)/(1 + h c/m), x_{k+1} = x_k + h v_{k+1},
 * h = 2 ms, 10 substeps — recomputed here in double; it must agree to float rounding
 * (1e-7 relative on these magnitudes, tolerance 1e-9 m and 1e-7 m/s), and lie within the
 * O(h c/m) ≈ 0.7% discretisation error of the continuous v. */
static void test_free_motion_closed_form(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "pointmass-maze", 0, NULL) == 0);
    float s[4] = {-0.15f, 0.15f, 0, 0}, a[2] = {1, 0}, n[4];
    CHECK(rl_env_step(&env, s, a, NULL, n, NULL) == 0);
    double h = 0.002, v = 0, x = 0;
    for (int k = 0; k < 10; k++) {
        v = (v + h * 1.0 / 0.3) / (1 + h * 1.0 / 0.3);
        x += h * v;
    }
    CHECK_NEAR(n[2], v, 1e-7);
    CHECK_NEAR((double)n[0] - s[0], x, 1e-8); /* n[0] ≈ −0.15: float ulp 1.5e-8 */
    double vc = 1 - exp(-0.02 / 0.3);
    CHECK_NEAR(n[2], vc, 0.01 * vc);
    CHECK_NEAR(n[1], s[1], 1e-7);
    CHECK_NEAR(n[3], 0, 1e-7);
    /* Pure: the same (state, action) gives the same next state. */
    float n2[4];
    CHECK(rl_env_step(&env, s, a, NULL, n2, NULL) == 0);
    CHECK(memcmp(n, n2, sizeof n) == 0);
    rl_env_free(&env);
}

static void test_walls_block(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "pointmass-maze", 0, NULL) == 0);
    /* Push right into the solid middle of the x = 0 wall from the top-left room. */
    float s[4] = {-0.05f, 0.05f, 0, 0}, a[2] = {1, 0}, n[4];
    for (int t = 0; t < 100; t++) {
        CHECK(rl_env_step(&env, s, a, NULL, n, NULL) == 0);
        memcpy(s, n, sizeof s);
    }
    CHECK(s[0] < -0.015f); /* ball radius 0.01 + half wall 0.01, minus contact softness */
    /* Through the gap at y = 0.16 the same push crosses into the top-right room. */
    float g[4] = {-0.05f, 0.16f, 0, 0};
    for (int t = 0; t < 100; t++) {
        CHECK(rl_env_step(&env, g, a, NULL, n, NULL) == 0);
        memcpy(g, n, sizeof g);
    }
    CHECK(g[0] > 0.05f);
    /* The outer wall holds too. */
    float o[4] = {0.25f, 0.25f, 0, 0}, up[2] = {0, 1};
    for (int t = 0; t < 100; t++) {
        CHECK(rl_env_step(&env, o, up, NULL, n, NULL) == 0);
        memcpy(o, n, sizeof o);
    }
    CHECK(o[1] < 0.3f - 0.009f);
    rl_env_free(&env);
}

static void test_collect_and_bad_input(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "pointmass-maze", 0, NULL) == 0);
    long n = 600;
    float *S = malloc(n * 4 * sizeof(float)), *A = malloc(n * 2 * sizeof(float)), *S2 = malloc(n * 4 * sizeof(float));
    CHECK(rl_collect(&env, RL_POL_ROOM, n, 3, S, A, S2, NULL) == 0);
    int ok = 1;
    for (long i = 0; i < n; i++) ok &= rl_env_check_state(&env, S2 + 4 * i) && rl_mj_in_room0(S2 + 4 * i) && rl_env_check_action(&env, A + 2 * i);
    CHECK(ok);
    CHECK(rl_collect(&env, RL_POL_COVERAGE, n, 3, S, A, S2, NULL) == 0);
    free(S), free(A), free(S2);
    rz_err e = {0};
    float s[4] = {0.1f, 0.1f, 0, 0}, nx[4], bad[2] = {1.5f, 0}, nan_a[2] = {NAN, 0};
    CHECK_EQ_INT(rl_env_step(&env, s, bad, NULL, nx, &e), RZ_EINPUT);
    CHECK(strstr(e.msg, "out of range") != NULL);
    CHECK_EQ_INT(rl_env_step(&env, s, nan_a, NULL, nx, &e), RZ_EINPUT);
    float outside[4] = {0.5f, 0, 0, 0}, act[2] = {0, 0};
    CHECK_EQ_INT(rl_env_step(&env, outside, act, NULL, nx, &e), RZ_EINPUT);
    rl_task *t;
    int nt;
    CHECK(rl_env_tasks(&env, "goals", &t, &nt, NULL) == 0);
    CHECK_EQ_INT(nt, 4);
    float at_goal[4] = {t[1].goal[0] + 0.03f, t[1].goal[1], 0, 0};
    CHECK(rl_task_success(&env, &t[1], at_goal) && !rl_task_success(&env, &t[0], at_goal));
    rl_tasks_free(t, nt);
    CHECK_EQ_INT(rl_env_tasks(&env, "rewards", &t, &nt, &e), RZ_EINPUT);
    rl_env_free(&env);
}

int main(void)
{
    RUN(test_roundtrip);
    RUN(test_free_motion_closed_form);
    RUN(test_walls_block);
    RUN(test_collect_and_bad_input);
    return check_summary();
}
