/* ppl.c — perplexity windows and their scoring (see ppl.h). */
#include "ppl.h"

#include <string.h>

long rz_ppl_windows(const rz_ppl_opts *o, long n)
{
    long L = o->ctx - (o->bos && !o->bos_replace ? 1 : 0);
    if (L <= 0 || n < L) return 0;
    return 1 + (n - L) / o->stride;
}

void rz_ppl_window(const rz_ppl_opts *o, const int *text, long k, int *seq, unsigned char *score)
{
    int b = o->bos && !o->bos_replace ? 1 : 0;
    long L = o->ctx - b, start = k * o->stride;
    /* text tokens below `fresh` were already scored by window k-1 */
    long fresh = k == 0 ? 0 : (k - 1) * o->stride + L;
    for (long i = 0; i < L; i++) seq[b + i] = text[start + i];
    if (o->bos) seq[0] = o->bos_id; /* prepended (b = 1) or overwriting text[start] */
    int first = o->skip > 1 ? o->skip : 1;
    for (int p = 0; p < o->ctx; p++) {
        long text_index = start + p - b;
        score[p] = p >= first && text_index >= fresh;
    }
}

int rz_ppl_eval_window(const rz_llama *m, rz_llama_state *st, const rz_ppl_opts *o, const int *text,
                       long k, float *logits, int *seq, unsigned char *score, double *nll_tmp,
                       rz_ppl_acc *acc, double *nll_pos)
{
    int ctx = o->ctx, V = m->config.vocab_size;
    rz_ppl_window(o, text, k, seq, score);
    int rc = rz_llama_forward(m, st, seq, ctx, 0, NULL);
    if (rc) return rc;
    /* logits row p-1 predicts seq[p]; rows ctx-1 has no target */
    for (int t0 = 0; t0 < ctx - 1; t0 += RZ_PPL_LOGIT_ROWS) {
        int n = ctx - 1 - t0 < RZ_PPL_LOGIT_ROWS ? ctx - 1 - t0 : RZ_PPL_LOGIT_ROWS;
        rz_llama_logits(m, st, t0, n, logits);
        rz_log_softmax_nll(logits, n, V, seq + 1 + t0, nll_tmp + t0);
    }
    memset(acc, 0, sizeof *acc);
    if (nll_pos) nll_pos[0] = 0;
    for (int p = 1; p < ctx; p++) {
        double v = score[p] ? nll_tmp[p - 1] : 0;
        if (nll_pos) nll_pos[p] = v;
        if (!score[p]) continue;
        acc->sum += v;
        acc->sumsq += v * v;
        acc->count += 1;
    }
    return RZ_OK;
}
