/* bench_fb_ref.c — the FB update at the widths of Jeen et al.'s reference (zero-shot-rl:
 * F 2 × 1024, batch 512, d 50): gradient steps per second and the share of the machine's
 * sgemm peak they reach, both measured in this process, one after the other, at the same
 * BLAS thread count.
 *
 * Setup: four-rooms one-hot observations (104) and 5 actions, a 20,000-transition
 * coverage dataset; F1, F2 and B are nn.h MLPs of `layers` hidden layers of `hidden`
 * units (rizz has one width for all three: B is 1024 wide here where the reference's B is
 * 3 × 256, so this step does somewhat more work than the reference's). Algorithms FB,
 * VC-FB and MC-FB with the study's settings (fb_config_reference: min target, gradient
 * clipping, Lagrange α).
 *
 * FLOPs per step are counted from the shapes (nn_mlp_flops): F1, F2 forward + backward on
 * N rows; F̄1, F̄2 forward on N; B forward + backward on N; B̄ forward on N; B forward on the
 * mix + trajectory share of N (zs from B); ten N × N × d products (M̄ twice, M_k twice,
 * C = BBᵀ, its gradient, Gᵀ F and G B twice each) = 20 N² d; MC-FB adds per head the
 * (N·A) × N × d measure over every action, its gradient to F and to B (6 N² A d). The
 * peak is cblas_sgemm on 1024³ (rz_blas_sgemm_gflops, best of 3) at the same thread count.
 *
 *   bench_fb_ref [THREADS [STEPS]]     defaults: 1 thread (what rz-agent train uses), 6 steps
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "blas.h"
#include "env.h"
#include "fb.h"

static int bench(fb_algo algo, int threads, int hidden, int batch, int steps, const fb_data *d, int obs_dim)
{
    rz_err e = {0};
    fb_config c;
    fb_config_default(&c, algo, obs_dim, 5, 1);
    c.batch = batch;
    c.zdim = 50;
    c.hidden = hidden;
    c.layers = 2;
    fb_config_reference(&c);
    fb_agent *a;
    if (fb_create(&c, 1, &a, &e)) return fprintf(stderr, "bench_fb_ref: %s\n", e.msg), 1;
    openblas_set_num_threads(threads);
    for (int i = 0; i < 2; i++) /* warm-up: first touches of the workspaces */
        if (fb_train_step(a, d, NULL, &e)) return fprintf(stderr, "bench_fb_ref: %s\n", e.msg), 1;
    double t0 = rz_now();
    for (int i = 0; i < steps; i++)
        if (fb_train_step(a, d, NULL, &e)) return fprintf(stderr, "bench_fb_ref: %s\n", e.msg), 1;
    double dt = rz_now() - t0;
    double peak = rz_blas_sgemm_gflops(1024, 0, 3);
    double N = batch, D = c.zdim, zb = c.mix_ratio + c.traj_ratio;
    double flops = 2 * nn_mlp_flops(fb_net(a, "F1"), N, 1) + 2 * nn_mlp_flops(fb_net(a, "F1"), N, 0) +
                   nn_mlp_flops(fb_net(a, "B"), N, 1) + nn_mlp_flops(fb_net(a, "B"), N, 0) +
                   nn_mlp_flops(fb_net(a, "B"), zb * N, 0) + 20 * N * N * D;
    if (algo == FB_ALGO_MCFB) flops += 2 * (3 * 2 * N * 5 * N * D);
    double g = flops * steps / dt / 1e9;
    printf("bench_fb_ref: %-5s F/B 2x%d, batch %d, d %d, %d BLAS thread%s: %6.2f steps/s, %.2f GFLOP/step, "
           "%6.1f GFLOP/s; sgemm 1024^3 peak %6.1f GFLOP/s: %4.1f%% of peak\n",
           fb_algo_name(algo), hidden, batch, c.zdim, threads, threads == 1 ? "" : "s", steps / dt, flops / 1e9, g, peak,
           100 * g / peak);
    fb_destroy(a);
    return 0;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, steps = argc > 2 ? atoi(argv[2]) : 6;
    if (threads < 1 || steps < 1) return fprintf(stderr, "usage: bench_fb_ref [THREADS [STEPS]]\n"), 2;
    int small = getenv("RZ_SANITIZED") != NULL; /* sanitizer builds: a smoke run */
    int hidden = small ? 64 : 1024, batch = small ? 32 : 512;
    if (small) steps = 1;
    rz_err e = {0};
    rl_env env;
    if (rl_env_make(&env, "fourrooms", 0, &e)) return fprintf(stderr, "bench_fb_ref: %s\n", e.msg), 1;
    long n = 20000;
    float *S = malloc(n * 2 * sizeof(float)), *A = malloc(n * sizeof(float)), *S2 = malloc(n * 2 * sizeof(float));
    float *O = malloc(n * env.obs_dim * sizeof(float)), *O2 = malloc(n * env.obs_dim * sizeof(float));
    if (!S || !A || !S2 || !O || !O2 || rl_collect(&env, RL_POL_COVERAGE, n, 1, S, A, S2, &e))
        return fprintf(stderr, "bench_fb_ref: %s\n", e.msg[0] ? e.msg : "out of memory"), 1;
    for (long i = 0; i < n; i++) {
        rl_env_obs(&env, S + 2 * i, O + i * env.obs_dim);
        rl_env_obs(&env, S2 + 2 * i, O2 + i * env.obs_dim);
    }
    fb_data d = {n, env.obs_dim, 1, O, A, O2, NULL};
    int rc = 0;
    for (int k = 0; k < 3 && !rc; k++) rc = bench((fb_algo)k, threads, hidden, batch, steps, &d, env.obs_dim);
    free(S), free(A), free(S2), free(O), free(O2);
    rl_env_free(&env);
    return rc;
}
