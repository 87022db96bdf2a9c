/* bench_fbcpr.c — online FB-CPR throughput on the point-mass maze: environment steps per
 * second (the MuJoCo step alone, and inside the online loop with acting), FB-CPR updates
 * per second against plain FB updates at the same sizes (d 50, 2 × 256 MLPs, batch 256,
 * discriminator 2 × 256), on the BLAS threads given (default 1: rz-agent online's
 * default). Figures, never pass/fail; under load they are not trustworthy. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "online.h"
#include "pointmass_expert.h"

static int updates(const rl_env *env, rl_expert *x, int cpr, int batch, int n, double *per_s)
{
    rz_err e = {0};
    fb_config f;
    fb_config_default(&f, FB_ALGO_FB, env->obs_dim, 0, env->act_dim);
    f.batch = batch;
    fb_agent *a;
    fbcpr *c;
    rl_online *o;
    fbcpr_config cc;
    fbcpr_config_default(&cc);
    cc.cpr = cpr;
    rl_online_config oc;
    rl_online_config_default(&oc, env);
    oc.seed_steps = batch, oc.update_every = 1 << 20; /* collection only, then time updates by hand */
    if (fb_create(&f, 1, &a, &e) || fbcpr_create(a, &cc, 2, &c, &e) || rl_online_create(env, c, x, &oc, 3, &o, &e) ||
        rl_online_run(o, 4 * batch, NULL, NULL, &e))
        return fprintf(stderr, "bench_fbcpr: %s\n", e.msg), 1;
    /* the batch: replay rows and expert windows drawn once (sampling is not what is timed) */
    int od = env->obs_dim, ad = env->act_dim, D = f.zdim, L = cc.seq_length;
    float *O = malloc((size_t)batch * od * 4), *A = malloc((size_t)batch * ad * 4), *O2 = malloc((size_t)batch * od * 4);
    float *Z = malloc((size_t)batch * D * 4), *EO = malloc((size_t)batch * od * 4), *EO2 = malloc((size_t)batch * od * 4);
    const rl_replay *rb = rl_online_replay(o);
    for (int i = 0; i < batch; i++) {
        long j = i % rb->size, w = rl_expert_window(x, L + 1, (i / L) % rl_expert_windows(x, L + 1));
        rl_env_obs(env, rb->S + j * rb->sd, O + (size_t)i * od);
        rl_env_obs(env, rb->S2 + j * rb->sd, O2 + (size_t)i * od);
        memcpy(A + (size_t)i * ad, rb->A + j * ad, ad * 4);
        memcpy(Z + (size_t)i * D, rb->Z + j * D, D * 4);
        rl_env_obs(env, x->S + (size_t)(w + i % L) * 4, EO + (size_t)i * od);
        rl_env_obs(env, x->S + (size_t)(w + i % L + 1) * 4, EO2 + (size_t)i * od);
    }
    fbcpr_batch b = {O, A, O2, Z, EO, EO2, NULL};
    fbcpr_update(c, &b, NULL, &e);
    double t0 = rz_now();
    for (int i = 0; i < n; i++)
        if (fbcpr_update(c, &b, NULL, &e)) return fprintf(stderr, "bench_fbcpr: %s\n", e.msg), 1;
    *per_s = n / (rz_now() - t0);
    free(O), free(A), free(O2), free(Z), free(EO), free(EO2);
    rl_online_free(o), fbcpr_destroy(c), fb_destroy(a);
    return 0;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, small = getenv("RZ_SANITIZED") != NULL;
    openblas_set_num_threads(threads);
    rz_err e = {0};
    rl_env env;
    if (rl_env_make(&env, "pointmass-maze", 0, &e)) return fprintf(stderr, "bench_fbcpr: %s\n", e.msg), 1;
    rl_expert x;
    if (rl_expert_init(&x, &env, "bench", 1, &e) || pm_expert_make(&env, 20, 1, &x, NULL, &e))
        return fprintf(stderr, "bench_fbcpr: %s\n", e.msg), 1;
    /* the environment alone: random actions, resets every 200 steps */
    rz_rng g;
    rz_rng_seed(&g, 1);
    float s[4], s2[4], a[2];
    rl_env_reset(&env, &g, s);
    int n = small ? 1000 : 200000;
    double t0 = rz_now();
    for (int i = 0; i < n; i++) {
        a[0] = (float)(2 * rz_rng_uniform(&g) - 1), a[1] = (float)(2 * rz_rng_uniform(&g) - 1);
        if (rl_env_step(&env, s, a, &g, s2, &e)) return 1;
        memcpy(s, s2, sizeof s);
        if (i % 200 == 199) rl_env_reset(&env, &g, s);
    }
    double env_s = n / (rz_now() - t0);
    int batch = small ? 32 : 256, nu = small ? 2 : 50;
    double fb_s, cpr_s;
    if (updates(&env, &x, 0, batch, nu, &fb_s) || updates(&env, &x, 1, batch, nu, &cpr_s)) return 1;
    printf("bench_fbcpr: pointmass-maze %.0f env steps/s (MuJoCo, 10 substeps each); batch %d, d 50, 2x256 MLPs, "
           "%d BLAS threads: FB %.1f updates/s, FB-CPR %.1f updates/s (%.2fx the FB cost)\n",
           env_s, batch, threads, fb_s, cpr_s, fb_s / cpr_s);
    rl_expert_free(&x);
    rl_env_free(&env);
    return 0;
}
