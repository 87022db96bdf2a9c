/* test_train_full.c — the training core's full-parameter gradients of a whole model with
 * causal and bidirectional attention (lora.h: rz_train_set_causal, rz_lora_full_grads,
 * RZ_TR_IGNORE targets; the attention op alone, both masks, is in test_train.c): every
 * gradient against central differences of the objective,
 * with test_train.c's tolerances (atol 5e-4·(1 + |f|), rtol 1e-2: the rounding term
 * δ|f|/h and the truncation term h²|f'''|/6 stay ≲ 1e-4 for O(1) inputs at the step
 * sizes used; a wrong term in a backward misses by orders of magnitude).
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "llama.h"
#include "lora.h"

/* ---- gradients ---------------------------------------------------------------------- */

typedef struct {
    rz_train *t;
    const int *tokens, *targets;
    int B;
} model_ctx;

static double model_obj(void *p)
{
    model_ctx *z = p;
    double nll = 0;
    rz_train_forward(z->t, z->tokens, z->targets, z->B, &nll);
    return nll / 10.0;
}

/* Every weight's gradient (embeddings, norms, every linear, classifier) of a model with
 * bidirectional attention and ignored targets, against central differences. */
/* h = 3e-3 here, not 1e-2: with every query seeing every key the third derivatives of
 * some embedding entries are large enough that h = 1e-2 leaves a truncation error of
 * ~1.4× the tolerance (measured: 1e-2 → worst 1.43, 3e-3 → 0.14); rounding stays
 * δ|f|/h ≈ 1e-7·3/3e-3 = 1e-4, inside atol = 5e-4·(1 + |f|). */
#define FD_H 3e-3f
/* hidden ≥ 0: bidirectional with rz_train_set_hidden(hidden) — the positions holding
 * that token are keys of themselves only (MLM-U's visible keys). past = 1: the PAST
 * encoder–decoder (rz_train_set_decoder): 2 encoder layers, 2 decoder layers reading
 * the memory with the same key mask, the decoder's input the embedding row of token 18
 * (no input holds it) — every tensor of both stacks checked, so the gradient through
 * the memory into the encoder is too. */
static void full_grad_case(int causal, int hidden, int past)
{
    rz_llama_config c = {16, 24, past ? 4 : 2, 4, 2, 20, 8, 0, 10000.0f, 1e-5f};
    rz_llama *m = NULL, *g = NULL;
    rz_lora *a = NULL;
    rz_train *t = NULL;
    rz_err e = {0};
    int ranks[RZ_LIN_PER_LAYER] = {0};
    CHECK(rz_llama_random(&c, 21, &m, &e) == 0 && rz_llama_alloc(&c, &g, &e) == 0);
    /* O(1) activations: scale the N(0, 0.02²) weights up */
    for (size_t i = 0; i < m->n_params; i++) m->params[i] *= 15.0f;
    for (int l = 0; l < c.n_layers; l++)
        for (int i = 0; i < c.dim; i++)
            m->layers[l].attention_norm[i] = 1.0f + 0.1f * (float)i / c.dim, m->layers[l].ffn_norm[i] = 0.9f;
    for (int i = 0; i < c.dim; i++) m->norm[i] = 1.1f;
    CHECK(rz_lora_new(m, ranks, &a, &e) == 0 && rz_lora_full_grads(a, g, &e) == 0);
    CHECK(rz_train_new(a, 2, 8, &t, &e) == 0);
    rz_train_set_causal(t, causal);
    rz_train_set_hidden(t, hidden);
    if (past) CHECK(rz_train_set_decoder(t, 2, 18, &e) == 0);
    uint64_t s = 31;
    int tokens[16], targets[16];
    for (int i = 0; i < 16; i++) {
        tokens[i] = (int)(rng_next(&s) % (past ? 18 : 19));
        targets[i] = i % 3 == 0 ? RZ_TR_IGNORE : (int)(rng_next(&s) % 20); /* some positions unscored */
    }
    if (hidden >= 0) /* a few hidden positions per sequence, scored ones among them */
        tokens[2] = tokens[4] = tokens[5] = tokens[9] = tokens[14] = hidden;
    model_ctx z = {t, tokens, targets, 2};
    model_obj(&z);
    memset(g->params, 0, sizeof(float) * g->n_params);
    rz_train_backward(t, 1.0f / 10);
    size_t checks = check_sanitized() ? 300 : 0;
    CHECK(check_fd(past ? "PAST encoder-decoder, every weight"
                   : hidden >= 0 ? "visible-keys model, every weight"
                   : causal   ? "causal model, every weight"
                              : "bidirectional model, every weight",
                   model_obj, &z,
                   m->params, m->n_params, g->params, FD_H, checks, 5e-4) == 0);
    double gmean = 0;
    for (size_t i = 0; i < g->n_params; i++) gmean += fabs(g->params[i]);
    gmean /= (double)g->n_params;
    printf("#   mean |g| %.3g\n", gmean);
    CHECK(gmean > 5e-3); /* not vacuous */
    if (past) { /* the decoder's input row and the encoder's first layer do get gradients */
        double d18 = 0, dwq0 = 0;
        for (int j = 0; j < c.dim; j++) d18 += fabs(g->tok_embeddings[18 * c.dim + j]);
        for (int j = 0; j < c.dim * c.dim; j++) dwq0 += fabs(g->layers[0].wq[j]);
        printf("#   |d emb[18]| %.3g, |d wq[0]| %.3g\n", d18, dwq0);
        CHECK(d18 > 1e-3 && dwq0 > 1e-3);
    }
    rz_train_free(t);
    rz_lora_free(a);
    rz_llama_free(g);
    rz_llama_free(m);
}

static void test_full_grad_bidirectional(void) { full_grad_case(0, -1, 0); }
static void test_full_grad_causal(void) { full_grad_case(1, -1, 0); }
static void test_full_grad_visible_keys(void) { full_grad_case(0, 19, 0); }
static void test_full_grad_past(void) { full_grad_case(0, 19, 1); }


int main(void)
{
    RUN(test_full_grad_bidirectional);
    RUN(test_full_grad_causal);
    RUN(test_full_grad_visible_keys);
    RUN(test_full_grad_past);
    return check_summary();
}
