/* bench_finetune.c — time of one adapter fine-tuning step (lora.h + adamw.h): forward
 * with saved activations, backward, AdamW, for stories260K (the real model) and a random
 * stories110M-shaped model (dim 768, 12 layers, 12 heads, hidden 2048, vocab 32000).
 * Figures only, never pass/fail.
 *
 * Work per step, N = batch × ctx tokens, P = frozen linear parameters per token (Q's),
 * C = classifier (vocab × dim), k = rank:
 *   forward   2 N (P + C) for the linears + classifier, 2 N k (m + n) per adapter,
 *             attention 4 N ctx dim (full T × T score and P·V products, causal half unused);
 *   backward  dx = dy Q for every linear: 2 N P, the classifier's dxf: 2 N C, adapters
 *             6 N k (m + n) per matrix, attention 8 N ctx dim; no dQ (frozen).
 * So a step is ≈ 2× a forward, not 3× as in full fine-tuning. GFLOP/s below counts
 * those products.
 *
 * usage: bench_finetune [steps [threads]]   (RIZZ_DATA or ../shared/data for stories260K)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "linalg.h"
#include "llama.h"
#include "model_io.h"
#include "lora.h"

static void die(const rz_err *e)
{
    fprintf(stderr, "bench_finetune: %s\n", e->msg);
    exit(e->code ? e->code : 1);
}

static double step_flops(const rz_lora *a, int N, int T)
{
    const rz_llama_config *c = &a->base->config;
    double lin = 0, ad = 0;
    for (int l = 0; l < a->n_layers; l++)
        for (int kind = 0; kind < RZ_LIN_PER_LAYER; kind++) {
            const rz_adapter *x = rz_lora_at(a, l, kind);
            lin += (double)x->m * x->n;
            ad += (double)x->k * (x->m + x->n);
        }
    double cls = (double)c->vocab_size * c->dim, att = (double)c->n_layers * T * c->dim;
    return 2.0 * N * (lin + cls) + 2.0 * N * ad + 4.0 * N * att     /* forward */
           + 2.0 * N * (lin + cls) + 6.0 * N * ad + 8.0 * N * att;  /* backward */
}

static void run(const char *label, rz_llama *m, int B, int T, int rank, int steps)
{
    rz_err e = {0};
    int ranks[RZ_LIN_PER_LAYER];
    for (int i = 0; i < RZ_LIN_PER_LAYER; i++) ranks[i] = rank;
    rz_lora *a;
    rz_train *t;
    rz_adamw opt;
    rz_adamw_opts o;
    rz_adamw_defaults(&o);
    o.total = steps;
    if (rz_lora_new(m, ranks, &a, &e) || rz_train_new(a, B, T, &t, &e) || rz_adamw_init(&opt, a->n_params, &e)) die(&e);
    rz_lora_init_lora(a, 1);
    int N = B * T, V = m->config.vocab_size;
    int *tok = malloc(sizeof(int) * N), *tgt = malloc(sizeof(int) * N);
    uint64_t s = 42;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        tok[i] = (int)((s >> 33) % (uint64_t)V);
        tgt[i] = (int)((s >> 13) % (uint64_t)V);
    }
    double tf = 0, tb = 0, to = 0, nll = 0;
    for (int it = 0; it <= steps; it++) { /* iteration 0 warms up, not timed */
        double t0 = rz_now();
        rz_train_forward(t, tok, tgt, B, &nll);
        double t1 = rz_now();
        memset(a->grads, 0, sizeof(float) * a->n_params);
        rz_train_backward(t, 1.0f / (float)N);
        double t2 = rz_now();
        rz_adamw_step(&opt, &o, a->params, a->grads, NULL);
        double t3 = rz_now();
        if (it) tf += t1 - t0, tb += t2 - t1, to += t3 - t2;
    }
    double step = (tf + tb + to) / steps;
    printf("%-28s batch %d x ctx %d, rank %2d: %8.3f s/step (forward %.3f, backward %.3f, AdamW %.4f), "
           "%7.0f tokens/s, %5.1f GFLOP/s, %zu trained params, %.0f MB activations\n",
           label, B, T, rank, step, tf / steps, tb / steps, to / steps, N / step,
           step_flops(a, N, T) / step / 1e9, a->n_params, rz_train_bytes(t) / 1e6);
    free(tok), free(tgt);
    rz_adamw_free(&opt);
    rz_train_free(t);
    rz_lora_free(a);
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 3, threads = argc > 2 ? atoi(argv[2]) : 0;
    if (steps < 1) steps = 1;
    rz_linalg_threads(threads);
    rz_err e = {0};
    const char *dir = getenv("RIZZ_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/stories260K.bin", dir && *dir ? dir : "../shared/data");
    rz_llama *m;
    if (rz_model_load(path, NULL, &m, &e)) die(&e);
    run("stories260K", m, 8, 256, 8, steps * 4);
    run("stories260K", m, 8, 256, 32, steps * 4);
    rz_llama_free(m);
    rz_llama_config c = {768, 2048, 12, 12, 12, 32000, 1024, 1, 10000.0f, 1e-5f};
    if (rz_llama_random(&c, 7, &m, &e)) die(&e);
    run("stories110M-shaped (random)", m, 4, 256, 16, steps);
    rz_llama_free(m);
    return 0;
}
