/* bench_agent.c — FB training throughput: gradient steps per second at batch 1024 with
 * d = 50 and 3 × 256 MLPs (F1, F2, B; discrete four-rooms observations, 5 actions), on
 * the BLAS threads given (default 2), and the achieved GFLOP/s.
 *
 * FLOPs per step are counted from the shapes, not measured (nn_mlp_flops: an MLP forward
 * on n rows is 2n·Σ_l in_l·out_l; its backward adds the same for dW and again for dX on
 * every layer but the first). One step runs: F1, F2 forward+backward; F̄1, F̄2 forward; B forward+
 * backward; B̄ forward; B forward on the ~mix·n rows whose z comes from B; and ten n × n × d
 * products (M̄ twice, M_k twice, C = BBᵀ, its gradient, Gᵀ F and G B twice each) =
 * 20 n² d. Element-wise work (layer norm, losses, Adam) is not counted. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "fb.h"
#include "env.h"

static int bench(fb_algo algo, int threads, int batch, int steps)
{
    rz_err e = {0};
    rl_env env;
    if (rl_env_make(&env, "fourrooms", 0, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    long n = 20000;
    float *S = malloc(n * 2 * sizeof(float)), *A = malloc(n * sizeof(float)), *S2 = malloc(n * 2 * sizeof(float));
    float *O = malloc(n * env.obs_dim * sizeof(float)), *O2 = malloc(n * env.obs_dim * sizeof(float));
    if (!S || !A || !S2 || !O || !O2 || rl_collect(&env, RL_POL_COVERAGE, n, 1, S, A, S2, &e)) return 1;
    for (long i = 0; i < n; i++) {
        rl_env_obs(&env, S + 2 * i, O + i * env.obs_dim);
        rl_env_obs(&env, S2 + 2 * i, O2 + i * env.obs_dim);
    }
    fb_data d = {n, env.obs_dim, 1, O, A, O2, NULL};
    fb_config c;
    fb_config_default(&c, algo, env.obs_dim, 5, 1);
    c.batch = batch;
    c.zdim = 50;
    c.hidden = 256;
    c.layers = 3;
    fb_agent *a;
    if (fb_create(&c, 1, &a, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    openblas_set_num_threads(threads);
    for (int i = 0; i < 2; i++) fb_train_step(a, &d, NULL, &e);
    double t0 = rz_now();
    for (int i = 0; i < steps; i++)
        if (fb_train_step(a, &d, NULL, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    double dt = rz_now() - t0;
    double N = batch, D = c.zdim;
    double flops = 2 * nn_mlp_flops(fb_net(a, "F1"), N, 1) + 2 * nn_mlp_flops(fb_net(a, "F1"), N, 0) +
                   nn_mlp_flops(fb_net(a, "B"), N, 1) + nn_mlp_flops(fb_net(a, "B"), N, 0) +
                   nn_mlp_flops(fb_net(a, "B"), c.mix_ratio * N, 0) + 20 * N * N * D;
    if (algo == FB_ALGO_MCFB) flops += 2 * (3 * 2 * N * 5 * N * D); /* M_all, dF, dB per head */
    printf("bench_agent: %-5s batch %d, d %d, 3x%d MLPs, %d BLAS threads: %.1f steps/s, %.2f GFLOP/step, %.1f GFLOP/s\n",
           fb_algo_name(algo), batch, c.zdim, c.hidden, threads, steps / dt, flops / 1e9, flops * steps / dt / 1e9);
    fb_destroy(a);
    free(S), free(A), free(S2), free(O), free(O2);
    rl_env_free(&env);
    return 0;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int small = getenv("RZ_SANITIZED") != NULL;
    int batch = small ? 64 : 1024, steps = small ? 2 : 20;
    if (bench(FB_ALGO_FB, threads, batch, steps)) return 1;
    if (bench(FB_ALGO_MCFB, threads, batch, small ? 1 : 5)) return 1;
    if (!small && bench(FB_ALGO_FB, 1, batch, steps / 2)) return 1;
    return 0;
}
