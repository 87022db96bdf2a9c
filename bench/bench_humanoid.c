/* bench_humanoid.c — MuJoCo's humanoid as rz-agent steps it, single thread:
 *   env steps/s   rl_env_step under a uniform random policy (21 torques in [−1, 1]),
 *                 a fresh standing start after each fall, plus the observation — what
 *                 an online collector pays per transition; each env step is 5 MuJoCo
 *                 steps (25 ms of simulated time), so also MuJoCo steps/s and the
 *                 real-time factor;
 *   raw mj_step   the same model stepped in place with held random controls (no state
 *                 written or read): the cost of keeping step() a pure function of the
 *                 state vector is the ratio of the two;
 *   PD servo      rl_hum_pd_step (the keyframe tracker's step: the PD law at every
 *                 MuJoCo step) — the expert generator's rate.
 * Usage: bench_humanoid [ENV_STEPS] (default 20000). Figures, never pass/fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "humanoid.h"

#if __has_include(<mujoco/mujoco.h>)
#include <mujoco/mujoco.h>
#define HAVE_MJ 1
#else
#define HAVE_MJ 0
#endif

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    if (n < 1) n = 20000;
    rl_env env;
    rz_err e = {0};
    if (rl_env_make(&env, "humanoid", 0, &e)) {
        printf("  (skipped: %s)\n", e.msg);
        return 0;
    }
    rz_rng rng;
    rz_rng_seed(&rng, 1);
    float s[RL_MAX_STATE], nx[RL_MAX_STATE], a[RL_MAX_ACT], o[RL_MAX_STATE];
    rl_env_reset(&env, &rng, s);
    long falls = 0;
    double t0 = rz_now();
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < env.act_dim; k++) a[k] = (float)(2 * rz_rng_uniform(&rng) - 1);
        if (rl_env_step(&env, s, a, &rng, nx, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        rl_env_obs(&env, nx, o);
        if (rl_env_terminal(&env, nx)) {
            falls++;
            rl_env_reset(&env, &rng, s);
        } else {
            memcpy(s, nx, sizeof s);
        }
    }
    double dt = rz_now() - t0, rate = n / dt;
    printf("  env steps (random policy, step + obs, reset on fall): %.0f steps/s = %.0f MuJoCo steps/s, %.0f× real time"
           " (%ld steps, %ld falls, %.2f s)\n",
           rate, rate * RL_HUM_NSUB, rate * RL_HUM_NSUB * 0.005, n, falls, dt);
#if HAVE_MJ
    {
        char err[1000] = "";
        mjModel *m = mj_loadXML(RL_HUM_MODEL_DEFAULT, NULL, err, sizeof err);
        mjData *d = m ? mj_makeData(m) : NULL;
        if (d) {
            long N = n * RL_HUM_NSUB;
            double t1 = rz_now();
            for (long i = 0; i < N; i++) {
                if (i % RL_HUM_NSUB == 0)
                    for (int k = 0; k < m->nu; k++) d->ctrl[k] = 2 * rz_rng_uniform(&rng) - 1;
                mj_step(m, d);
                if (d->qpos[2] < RL_HUM_FALL_Z) mj_resetData(m, d);
            }
            double dr = rz_now() - t1;
            printf("  raw mj_step in place (held random ctrl, reset on fall): %.0f MuJoCo steps/s; pure-step overhead %.2f×\n",
                   N / dr, (N / dr) / (rate * RL_HUM_NSUB));
            mj_deleteData(d);
        }
        if (m) mj_deleteModel(m);
    }
#endif
    double q[RL_HUM_MAX_JOINTS] = {0};
    rl_hum_pose_state(&env, q, s);
    long np = n / 4 > 0 ? n / 4 : 1;
    double t2 = rz_now();
    for (long i = 0; i < np; i++) {
        if (rl_hum_pd_step(&env, s, q, 20, 0.1, nx, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        memcpy(s, nx, sizeof s);
    }
    double dp = rz_now() - t2;
    printf("  PD servo step (standing, kp 20): %.0f env steps/s\n", np / dp);
    rl_env_free(&env);
    return 0;
}
