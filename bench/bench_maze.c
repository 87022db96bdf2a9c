/* bench_maze.c — rz-maze training speed: one full optimizer step (rz_maze_trainer_step:
 * examples, forward with saved activations, full-parameter backward, clipping, AdamW)
 * for next-token (causal) and MLM-U (bidirectional) on n×n DFS mazes built in memory,
 * at the model sizes of pipeline/maze.mk. Figures only, never pass/fail.
 *
 * Work per step, N = batch × T tokens (T = the padded maze length), P = linear
 * parameters per token (all layers' matrices), C = classifier (vocab × dim):
 *   forward   2 N (P + C), attention 4 N T dim per layer (the full T × T score and P·V
 *             products: the causal mask's zero half is multiplied too, so both
 *             objectives do the same work);
 *   backward  dx and dW of every matrix 4 N (P + C), attention 8 N T dim per layer.
 * GFLOP/s counts those products; tokens/s counts padded positions (what the step
 * computes). With a peak (bench_prefill --peak, same machine and threads) it prints
 * the fraction of it.
 *
 * usage: bench_maze [steps [threads [peak_gflops]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "maze_train.h"

static void die(const rz_err *e)
{
    fprintf(stderr, "bench_maze: %s\n", e->msg);
    exit(e->code ? e->code : 1);
}

/* count n×n mazes (seed 1, indices 0..) padded to the longest, as rz_maze_set_load. */
static void make_set(rz_maze_set *s, int n, long count)
{
    rz_err e = {0};
    rz_maze m;
    int cap = rz_maze_max_tokens(n, 0);
    int *tok = malloc(sizeof(int) * (size_t)cap * count);
    if (!tok || rz_maze_alloc(n, &m, &e)) die(&e);
    memset(s, 0, sizeof *s);
    s->n = n, s->count = count;
    s->pstart = malloc(sizeof(int) * count), s->len = malloc(sizeof(int) * count);
    s->index = malloc(sizeof(int64_t) * count);
    for (long q = 0; q < count; q++) {
        rz_maze_dfs(&m, 1, (uint64_t)q, 1, 0);
        int *row = tok + (size_t)q * cap, nt = rz_maze_tokens(&m, row, cap);
        s->len[q] = nt, s->pstart[q] = rz_maze_path_start(row, nt), s->index[q] = q;
        if (nt > s->T) s->T = nt;
    }
    int T = s->T;
    s->tokens = malloc(sizeof(int) * (size_t)T * count);
    s->mask = calloc((size_t)T * count, 1);
    for (long q = 0; q < count; q++) {
        int *row = s->tokens + (size_t)q * T;
        memcpy(row, tok + (size_t)q * cap, sizeof(int) * (size_t)s->len[q]);
        for (int i = s->len[q]; i < T; i++) row[i] = RZ_MZ_PAD;
        for (int i = s->pstart[q] + 1; i < s->len[q]; i++) s->mask[(size_t)q * T + i] = 1;
    }
    free(tok);
    rz_maze_free(&m);
}

static void run(const rz_maze_set *s, int objective, int dim, int layers, int heads, int batch, int steps,
                double peak)
{
    rz_err e = {0};
    rz_maze_ckpt info;
    memset(&info, 0, sizeof info);
    info.objective = objective;
    rz_llama_config *c = &info.config;
    c->dim = dim, c->hidden_dim = 4 * dim, c->n_layers = layers, c->n_heads = heads, c->n_kv_heads = heads;
    c->rope_theta = 10000.0f, c->norm_eps = 1e-5f;
    info.total = steps + 1, info.batch = batch, info.micro = batch, info.seed = 1;
    rz_adamw_defaults(&info.opt);
    info.opt.total = steps + 1;
    rz_maze_trainer tr;
    if (rz_maze_trainer_new(&tr, &info, s, NULL, NULL, &e)) die(&e);
    double loss, gn, lr, secs = 0;
    for (int it = 0; it <= steps; it++) { /* step 0 warms up, not timed */
        double t0 = rz_now();
        if (rz_maze_trainer_step(&tr, &loss, &gn, &lr, &e)) die(&e);
        if (it) secs += rz_now() - t0;
    }
    double N = (double)batch * s->T, P = 0, C = (double)c->vocab_size * dim;
    for (int l = 0; l < layers; l++) P += 4.0 * dim * dim + 3.0 * dim * c->hidden_dim;
    double att = (double)layers * s->T * dim;
    double flops = 2 * N * (P + C) + 4 * N * att + 4 * N * (P + C) + 8 * N * att;
    double step = secs / steps, gf = flops / step / 1e9;
    printf("%dx%d %-4s dim %3d x %d layers, batch %d x T %d: %7.3f s/step  %7.0f tokens/s  %6.2f GFLOP/s", s->n,
           s->n, rz_maze_objective_name(objective), dim, layers, batch, s->T, step, N / step, gf);
    if (peak > 0) printf("  %5.1f%% of sgemm peak %.1f", 100.0 * gf / peak, peak);
    printf("\n");
    rz_maze_trainer_free(&tr);
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 3, threads = argc > 2 ? atoi(argv[2]) : 0;
    double peak = argc > 3 ? atof(argv[3]) : 0;
    if (steps < 1) steps = 1;
    rz_linalg_threads(threads);
    rz_maze_set s5, s10;
    make_set(&s5, 5, 256);
    for (int obj = 0; obj < 2; obj++) {
        run(&s5, obj, 64, 4, 4, 32, steps, peak);
        run(&s5, obj, 128, 4, 4, 32, steps, peak);
    }
    rz_maze_set_free(&s5);
    make_set(&s10, 10, 64);
    for (int obj = 0; obj < 2; obj++) run(&s10, obj, 128, 4, 4, 16, steps, peak);
    rz_maze_set_free(&s10);
    return 0;
}
