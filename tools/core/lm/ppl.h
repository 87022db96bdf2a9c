/* ppl.h — perplexity evaluation windows: which tokens each window feeds the model and
 * which of its predictions are scored.
 *
 * A token stream t[0..n) is cut into windows of ctx model positions. With bos, a window
 * is [BOS] + L = ctx-1 text tokens, otherwise L = ctx text tokens. Window k starts at
 * text index k*stride (stride = L by default: non-overlapping, as GPTQ/QuIP# evaluate;
 * smaller: sliding windows). Only whole windows are used (the tail is dropped, as GPTQ
 * does). In window k the prediction of sequence position p (from the logits at p-1) is
 * scored iff p >= max(1, skip) and, for k > 0, its text token was not already covered
 * by window k-1 — so every text token is scored at most once.
 *
 * llama.cpp's protocol (llama-perplexity; bos_replace): windows of L = ctx text tokens
 * at stride ctx, whose FIRST TOKEN IS OVERWRITTEN by BOS (not prepended), and only the
 * predictions of positions p >= ctx/2 + 1 scored (skip = ctx/2 + 1: logits at
 * ctx/2 .. ctx-2, the "second half"), ctx - ctx/2 - 1 tokens per window. llama.cpp
 * tokenises the whole file with BOS in front (add_bos), so text[0] is BOS there.
 */
#ifndef RZ_PPL_H
#define RZ_PPL_H

#include "llama.h"

typedef struct {
    int ctx;    /* model positions per window */
    int stride; /* text tokens between window starts */
    int bos;    /* prepend BOS (id bos_id) to every window */
    int bos_id;
    int skip;   /* do not score positions below this (llama.cpp: ctx/2 + 1) */
    int bos_replace; /* with bos: BOS overwrites the window's first text token (llama.cpp) */
} rz_ppl_opts;

/* Number of whole windows over n text tokens (0 if there is not even one). */
long rz_ppl_windows(const rz_ppl_opts *o, long n);

/* Fills seq[0..ctx) with window k's model input and score[0..ctx) with 1 where the
 * prediction of that position is scored (score[0] is always 0). */
void rz_ppl_window(const rz_ppl_opts *o, const int *text, long k, int *seq, unsigned char *score);

/* Per-window result: NLL sum, sum of squares, and count of scored tokens (double). */
typedef struct {
    double sum, sumsq, count;
} rz_ppl_acc;

/* Runs window k through the model: nll_pos[p] (may be NULL) receives the NLL of
 * position p (0 where unscored). logits must hold RZ_PPL_LOGIT_ROWS * vocab floats: the
 * classifier runs over slices of that many rows, so memory does not grow with ctx. */
#define RZ_PPL_LOGIT_ROWS 256
int rz_ppl_eval_window(const rz_llama *m, rz_llama_state *st, const rz_ppl_opts *o, const int *text,
                       long k, float *logits, int *seq, unsigned char *score, double *nll_tmp,
                       rz_ppl_acc *acc, double *nll_pos);

#endif
