/* bench_maze.c — rz-maze training speed: one full optimizer step (rz_maze_trainer_step:
 * examples, forward with saved activations, full-parameter backward, clipping, AdamW)
 * for next-token (causal) and MLM-U (bidirectional) on n×n DFS mazes built in memory,
 * at the model sizes of pipeline/maze.mk. Figures only, never pass/fail.
 *
 * FLOPs are counted from the shapes, 2 per multiply-add of every matrix product the step
 * makes. N = batch × T tokens (T = the padded maze length), P = linear weights per token
 * (Σ over layers of 4 dim² + 3 dim hid: wq, wk, wv, wo, w1, w2, w3), C = classifier
 * (vocab × dim), A = attention multiply-adds per token and layer (Q·Kᵀ and P·V over the
 * full T × T: the causal mask's zero half is multiplied too, so both objectives do the
 * same work) = 2 T dim:
 *   forward   2 N (P + C) + 2 N A layers,
 *   backward  dx and dW of every matrix 4 N (P + C) (the embedding's gradient is a row
 *             sum, not a product), attention dP, dV, dQ, dK 4 N A layers.
 * Not counted: norms, RoPE, softmax, SwiGLU, AdamW (the elementwise work a perfect
 * implementation would still pay). tokens/s counts padded positions (what the step
 * computes).
 *
 * The sgemm peak is measured in the same run (rz_blas_sgemm_gflops: OpenBLAS's 2048³
 * sgemm on `threads` threads, best of 5), and the BLAS core in use is printed
 * (rz_blas_startup, as the programs select it). Each configuration runs one untimed
 * warm-up step, then `steps` timed ones; it prints the mean and the best step by wall
 * time and the mean by CPU time (process CPU seconds / threads: on a shared machine
 * the wall figure measures the scheduler, the CPU figure what cores of our own would
 * give — exact for one thread up to cache sharing, inflated by OpenMP's spin-waits for
 * more). "of peak" is the best step's GFLOP/s against the peak; under load compare the
 * CPU figures between builds (paired, alternated runs), not the absolute rates. "main
 * thread" is the CPU time of the thread that runs the step (serial parts plus its share
 * of every parallel region): with OMP_WAIT_POLICY=passive (no spinning at joins) it is
 * roughly the wall time the step would take on idle cores, so on a loaded machine it
 * shows what more threads would buy.
 *
 * usage: bench_maze [steps [threads [only [nopeak]]]]   (defaults 3, 0 = all cores, all
 *        sizes; only = 5: the 5×5 dim-64 model alone, both objectives; nopeak: skip the
 *        peak, for profiling the steps alone)
 *
 * bench_maze attn [reps [threads]]   (defaults 200, 1): one layer's masked attention
 * alone, rz_tr_attn_fwd_mask then rz_tr_attn_bwd_mask, as MLM-U with --keys visible
 * runs it: the keys of each sequence are its positions not <MASK> in rz_maze_example's
 * MLM-U input (a masking rate per sequence, uniform), q, k, v and the output gradient
 * uniform in [-1, 1), scale 1/sqrt(head size), at the 5×5 dim-64 and 10×10 dim-128 shapes
 * above (4 heads). Prints the best and mean wall and the mean CPU time of a forward and
 * of a backward, and an FNV-1a of every output's bits (att, out, dq, dk, dv): two builds
 * with the same hash computed the same bits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <omp.h>

#include "blas.h"
#include "linalg.h"
#include "lora.h"
#include "maze_train.h"
#include "record.h"

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

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }
static double main_now(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

static void run(const rz_maze_set *s, int objective, int dim, int layers, int heads, int batch, int steps,
                int threads, double peak, double cpeak)
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
    double loss, gn, lr, secs = 0, best = 1e30, cpu = 0, mcpu = 0;
    for (int it = 0; it <= steps; it++) { /* step 0 warms up, not timed */
        double t0 = rz_now(), c0 = cpu_now(), m0 = main_now();
        if (rz_maze_trainer_step(&tr, &loss, &gn, &lr, &e)) die(&e);
        double dt = rz_now() - t0, dc = cpu_now() - c0, dm = main_now() - m0;
        if (it) secs += dt, cpu += dc, mcpu += dm, best = dt < best ? dt : best;
    }
    double N = (double)batch * s->T, P = 0, C = (double)c->vocab_size * dim;
    for (int l = 0; l < layers; l++) P += 4.0 * dim * dim + 3.0 * dim * c->hidden_dim;
    double A = 2.0 * s->T * dim * layers; /* attention multiply-adds per token, all layers */
    double flops = 2 * N * (P + C) + 2 * N * A + 4 * N * (P + C) + 4 * N * A;
    double step = secs / steps, cstep = cpu / steps / threads, gf = flops / best / 1e9;
    printf("%dx%d %-4s dim %3d x %d, batch %d x T %d: %6.3f s/step (best %6.3f)  %6.0f tokens/s  %6.2f GFLOP/s"
           "  %5.1f%% of peak | CPU %6.3f s/step  %6.0f tokens/s  %6.2f GFLOP/s  %5.1f%% of CPU peak"
           " | main thread %6.3f s/step\n",
           s->n, s->n, rz_maze_objective_name(objective), dim, layers, batch, s->T, step, best, N / best, gf,
           peak > 0 ? 100.0 * gf / peak : 0.0, cstep, N / cstep, flops / cstep / 1e9,
           cpeak > 0 ? 100.0 * flops / cstep / 1e9 / cpeak : 0.0, mcpu / steps);
    fflush(stdout);
    rz_maze_trainer_free(&tr);
}

static float *uniform(size_t n, uint64_t *st)
{
    float *x = malloc(sizeof(float) * n);
    if (!x) exit(1);
    for (size_t i = 0; i < n; i++) x[i] = (float)((double)(rz_train_rng_next(st) >> 11) * 0x1.0p-52 - 1.0);
    return x;
}

static void attn(int n, int B, int dim, int heads, int reps, int threads)
{
    rz_maze_set s;
    make_set(&s, n, B);
    int T = s.T, hs = dim / heads, N = B * T;
    int *tok = malloc(sizeof(int) * N), *tgt = malloc(sizeof(int) * N);
    uint8_t *keys = malloc((size_t)N);
    if (!tok || !tgt || !keys) exit(1);
    long hidden = 0;
    for (int b = 0; b < B; b++) rz_maze_example(&s, RZ_MZ_MLMU, 1, (uint64_t)b, b, tok + (size_t)b * T, tgt + (size_t)b * T);
    for (int i = 0; i < N; i++) keys[i] = tok[i] != RZ_MZ_MASK, hidden += !keys[i];
    uint64_t st = 7;
    float *q = uniform((size_t)N * dim, &st), *k = uniform((size_t)N * dim, &st), *v = uniform((size_t)N * dim, &st);
    float *dout = uniform((size_t)N * dim, &st), *out = malloc(sizeof(float) * N * dim);
    float *att = malloc(sizeof(float) * (size_t)B * heads * T * T), *scr = malloc(sizeof(float) * (size_t)T * T * threads);
    float *dq = malloc(sizeof(float) * N * dim), *dk = malloc(sizeof(float) * N * dim), *dv = malloc(sizeof(float) * N * dim);
    if (!out || !att || !scr || !dq || !dk || !dv) exit(1);
    float scale = 1.0f / sqrtf((float)hs);
    double fb = 1e30, bb = 1e30, fs = 0, bs = 0, fc = 0, bc = 0;
    for (int r = 0; r <= reps; r++) { /* r = 0 warms up, not timed */
        double t0 = rz_now(), c0 = cpu_now();
        rz_tr_attn_fwd_mask(out, att, q, k, v, B, T, heads, heads, hs, scale, 0, keys);
        double t1 = rz_now(), c1 = cpu_now();
        rz_tr_attn_bwd_mask(dq, dk, dv, scr, threads, dout, att, q, k, v, B, T, heads, heads, hs, scale, 0, keys);
        double t2 = rz_now(), c2 = cpu_now();
        if (!r) continue;
        fs += t1 - t0, bs += t2 - t1, fc += c1 - c0, bc += c2 - c1;
        fb = t1 - t0 < fb ? t1 - t0 : fb, bb = t2 - t1 < bb ? t2 - t1 : bb;
    }
    uint64_t h = RZ_CHECKSUM_INIT;
    h = rz_checksum(h, att, sizeof(float) * (size_t)B * heads * T * T);
    h = rz_checksum(h, out, sizeof(float) * N * dim);
    h = rz_checksum(h, dq, sizeof(float) * N * dim);
    h = rz_checksum(h, dk, sizeof(float) * N * dim);
    h = rz_checksum(h, dv, sizeof(float) * N * dim);
    printf("%dx%d dim %3d, %d heads, batch %d x T %d (%.0f%% hidden), %d thread%s: forward %7.3f ms (best %7.3f, CPU %7.3f)"
           "  backward %7.3f ms (best %7.3f, CPU %7.3f)  bits %016llx\n",
           n, n, dim, heads, B, T, 100.0 * hidden / N, threads, threads > 1 ? "s" : "", 1e3 * fs / reps, 1e3 * fb,
           1e3 * fc / reps / threads, 1e3 * bs / reps, 1e3 * bb, 1e3 * bc / reps / threads, (unsigned long long)h);
    fflush(stdout);
    free(q), free(k), free(v), free(dout), free(out), free(att), free(scr), free(dq), free(dk), free(dv);
    free(tok), free(tgt), free(keys);
    rz_maze_set_free(&s);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "attn")) {
        int reps = argc > 2 ? atoi(argv[2]) : 200, threads = argc > 3 ? atoi(argv[3]) : 1;
        if (reps < 1) reps = 1;
        if (threads < 1) threads = 1;
        rz_blas_startup();
        rz_linalg_threads(threads);
        omp_set_num_threads(threads);
        attn(5, 32, 64, 4, reps, threads);
        attn(10, 16, 128, 4, reps / 4 > 0 ? reps / 4 : 1, threads);
        return 0;
    }
    int steps = argc > 1 ? atoi(argv[1]) : 3, threads = argc > 2 ? atoi(argv[2]) : 0;
    int only = argc > 3 ? atoi(argv[3]) : 0, nopeak = argc > 4 && !strcmp(argv[4], "nopeak");
    if (steps < 1) steps = 1;
    const rz_blas_status *bs = rz_blas_startup(); /* the kernels the programs run */
    rz_linalg_threads(threads);
    if (threads < 1) threads = omp_get_max_threads();
    double c0 = cpu_now(), peak = nopeak ? 0 : rz_blas_sgemm_gflops(2048, threads, 5);
    /* the same six products (warm-up included) by CPU time, per thread */
    double cpeak = nopeak ? 0 : 6 * 2.0 * 2048 * 2048 * 2048 / ((cpu_now() - c0) / threads) / 1e9;
    rz_linalg_threads(threads); /* single-threaded OpenBLAS again */
    printf("BLAS core %s (library's choice %s, cpu %s), %d thread%s, sgemm peak (2048^3) %.1f GFLOP/s, by CPU time "
           "%.1f\n", bs->core, bs->library, bs->cpu[0] ? bs->cpu : "-", threads, threads > 1 ? "s" : "", peak, cpeak);
    rz_maze_set s5, s10;
    make_set(&s5, 5, 256);
    for (int obj = 0; obj < 2; obj++) {
        run(&s5, obj, 64, 4, 4, 32, steps, threads, peak, cpeak);
        if (only != 5) run(&s5, obj, 128, 4, 4, 32, steps, threads, peak, cpeak);
    }
    rz_maze_set_free(&s5);
    if (only == 5) return 0;
    make_set(&s10, 10, 64);
    for (int obj = 0; obj < 2; obj++) run(&s10, obj, 128, 4, 4, 16, steps, threads, peak, cpeak);
    rz_maze_set_free(&s10);
    return 0;
}
