/* distill.c — distillation loss, teacher, distillation step and the KL probe (see
 * distill.h). */
#include "distill.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define PAR_MIN 65536 /* rows·V below which the row loops stay single-threaded */

void rz_tr_log_softmax(float *out, const float *logits, int N, int V)
{
#pragma omp parallel for schedule(static) if ((long)N * V >= PAR_MIN)
    for (int t = 0; t < N; t++) {
        const float *z = logits + (size_t)t * V;
        float *o = out + (size_t)t * V, mx = z[0];
        for (int v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        double s = 0.0;
        for (int v = 0; v < V; v++) s += exp((double)z[v] - mx);
        double lz = mx + log(s);
        for (int v = 0; v < V; v++) o[v] = (float)((double)z[v] - lz);
    }
}

double rz_tr_kl_fwd(double *row, const float *logits, const float *tlogp, int N, int V)
{
#pragma omp parallel for schedule(static) if ((long)N * V >= PAR_MIN)
    for (int t = 0; t < N; t++) {
        const float *z = logits + (size_t)t * V, *l = tlogp + (size_t)t * V;
        float mx = z[0];
        for (int v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        double s = 0.0;
        for (int v = 0; v < V; v++) s += exp((double)z[v] - mx);
        double lz = mx + log(s), kl = 0.0; /* log q_v = z_v − lz */
        for (int v = 0; v < V; v++) {
            double p = exp((double)l[v]);
            kl += p * ((double)l[v] - ((double)z[v] - lz));
        }
        row[t] = kl;
    }
    double total = 0.0;
    for (int t = 0; t < N; t++) total += row[t]; /* row order, whatever the threads */
    return total;
}

void rz_tr_kl_bwd(float *dlogits, const float *logits, const float *tlogp, int N, int V, float scale)
{
#pragma omp parallel for schedule(static) if ((long)N * V >= PAR_MIN)
    for (int t = 0; t < N; t++) {
        const float *z = logits + (size_t)t * V, *l = tlogp + (size_t)t * V;
        float *d = dlogits + (size_t)t * V, mx = z[0];
        for (int v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        double s = 0.0;
        for (int v = 0; v < V; v++) s += exp((double)z[v] - mx);
        double is = 1.0 / s;
        for (int v = 0; v < V; v++) d[v] = scale * (float)(exp((double)z[v] - mx) * is - exp((double)l[v]));
    }
}

/* ---- teacher ---------------------------------------------------------------------------- */

struct rz_teacher {
    rz_lora *lo;
    rz_train *t;
    int max_B, V;
};

int rz_teacher_new(rz_llama *m, int max_B, int T, rz_teacher **out, rz_err *e)
{
    int zero[RZ_LIN_PER_LAYER] = {0};
    rz_teacher *tc = rz_calloc(1, sizeof *tc, e);
    if (!tc) return RZ_EINTERNAL;
    int rc = rz_lora_new(m, zero, &tc->lo, e);
    if (!rc) rc = rz_train_new(tc->lo, max_B, T, &tc->t, e);
    if (rc) {
        rz_teacher_free(tc);
        return rc;
    }
    tc->max_B = max_B, tc->V = m->config.vocab_size;
    *out = tc;
    return 0;
}

int rz_teacher_logp(rz_teacher *tc, const int *tokens, int B, float *tlogp, rz_err *e)
{
    if (rz_train_forward(tc->t, tokens, NULL, B, NULL))
        return rz_fail(e, RZ_EINPUT, "teacher: %d sequences (at most %d) or a token outside the vocabulary", B,
                       tc->max_B);
    int N;
    int w;
    rz_train_layer_input(tc->t, 0, 0, &N, &w); /* N = B·T of this forward */
    rz_tr_log_softmax(tlogp, rz_train_logits(tc->t), N, tc->V);
    return 0;
}

void rz_teacher_free(rz_teacher *tc)
{
    if (!tc) return;
    rz_train_free(tc->t);
    rz_lora_free(tc->lo);
    free(tc);
}

/* Student forward on tokens[B][T] (N = B·T rows of V logits), KL against tlogp into
 * *kl_sum; with backward, dlogits = scale (q − p) and the backward pass (ADDS dL, dR). */
static int student_kl(rz_train *t, int V, const int *tokens, int B, const float *tlogp, double *row, float scale,
                      int backward, double *kl_sum, rz_err *e)
{
    if (rz_train_forward(t, tokens, NULL, B, NULL))
        return rz_fail(e, RZ_EINPUT, "%d sequences or a token id outside the model's vocabulary", B);
    int N, w;
    rz_train_layer_input(t, 0, 0, &N, &w); /* N = B·T of this forward */
    const float *z = rz_train_logits(t);
    *kl_sum = rz_tr_kl_fwd(row, z, tlogp, N, V);
    if (backward) {
        rz_tr_kl_bwd(rz_train_dlogits(t), z, tlogp, N, V, scale); /* in place: reads each row first */
        rz_train_backward_logits(t);
    }
    return 0;
}

int rz_distill_step_grad(rz_train *t, rz_lora *a, rz_teacher *tc, const rz_step_shape *s, const int *ids, size_t n,
                         rz_data_cursor *cur, double *acc, int *tokens, float *tlogp, double *loss, rz_err *e)
{
    int T = rz_train_ctx(t), P = rz_cluster_size(), rank = rz_cluster_rank(), V = a->base->config.vocab_size;
    if (s->micro < 1 || s->batch % s->micro || s->micro > rz_train_max_batch(t) || s->micro > tc->max_B ||
        rz_train_ctx(tc->t) != T)
        return rz_fail(e, RZ_EINPUT, "batch %d is not a multiple of the micro-batch %d (at most %d), or the teacher's "
                       "context differs", s->batch, s->micro, rz_train_max_batch(t));
    if (n < (size_t)T + 1) return rz_fail(e, RZ_EINPUT, "%zu tokens, fewer than one sequence of %d + 1", n, T);
    size_t np = a->n_params;
    int S = s->batch / s->micro, rounds = (S + P - 1) / P;
    float scale = (float)(1.0 / ((double)s->batch * T)); /* mean over the global batch */
    double *row = rz_malloc(sizeof(double) * (size_t)s->micro * T, e);
    if (!row) return RZ_EINTERNAL;
    int rc = 0;
    memset(acc, 0, sizeof(double) * (np + 1));
    for (int i = 0; i < rounds && !rc; i++) {
        int mine = i * P + rank; /* this rank's micro-batch in round i (as rz_train_step_grad) */
        for (int j = i * P; j < S && j < (i + 1) * P; j++)
            for (int q = 0; q < s->micro; q++)
                rz_data_next(cur, ids, n, T, j == mine ? tokens + (size_t)q * T : NULL, NULL);
        if (mine < S) {
            double kl = 0;
            memset(a->grads, 0, sizeof(float) * np);
            if ((rc = rz_teacher_logp(tc, tokens, s->micro, tlogp, e)) ||
                (rc = student_kl(t, V, tokens, s->micro, tlogp, row, scale, 1, &kl, e)))
                break;
            if (rank == 0) { /* rank 0 carries the running sum (lora.h) */
                for (size_t p = 0; p < np; p++) acc[p] += (double)a->grads[p];
                acc[np] += kl;
            } else {
                for (size_t p = 0; p < np; p++) acc[p] = (double)a->grads[p];
                acc[np] = kl;
            }
        } else {
            memset(acc, 0, sizeof(double) * (np + 1));
        }
        rz_cluster_allreduce_sum(acc, np + 1);
    }
    free(row);
    if (rc) return rc;
    for (size_t p = 0; p < np; p++) a->grads[p] = (float)acc[p];
    *loss = acc[np] / ((double)s->batch * T);
    return 0;
}

/* ---- the probe -------------------------------------------------------------------------- */

struct rz_kl_probe {
    rz_llama *m;
    rz_teacher *self;  /* rank-0 forward over m (its current weights) */
    int windows, T, B, V;
    int *tokens;       /* [windows][T] */
    float *tlogp;      /* [windows][T][V] the teacher's log-probabilities */
    double *row;       /* [B·T] */
    float *saved;      /* rz_kl_probe_swap: the original matrix */
    size_t saved_n;
};

void rz_kl_probe_free(rz_kl_probe *p)
{
    if (!p) return;
    rz_teacher_free(p->self);
    free(p->tokens), free(p->tlogp), free(p->row), free(p->saved);
    free(p);
}

int rz_kl_probe_new(rz_llama *m, const int *ids, size_t n, int windows, int T, int max_B, rz_kl_probe **out,
                    rz_err *e)
{
    if (windows < 1 || T < 1 || max_B < 1 || n < (size_t)windows * T + 1)
        return rz_fail(e, RZ_EINPUT, "KL probe: %d windows of %d tokens need %zu tokens, the text has %zu", windows, T,
                       (size_t)windows * T + 1, n);
    rz_kl_probe *p = rz_calloc(1, sizeof *p, e);
    if (!p) return RZ_EINTERNAL;
    p->m = m, p->windows = windows, p->T = T, p->B = max_B < windows ? max_B : windows, p->V = m->config.vocab_size;
    size_t NT = (size_t)windows * T;
    p->tokens = rz_malloc(sizeof(int) * NT, e);
    p->tlogp = rz_malloc(sizeof(float) * NT * (size_t)p->V, e);
    p->row = rz_malloc(sizeof(double) * (size_t)p->B * T, e);
    int rc = !p->tokens || !p->tlogp || !p->row ? RZ_EINTERNAL : rz_teacher_new(m, p->B, T, &p->self, e);
    if (!rc) {
        memcpy(p->tokens, ids, sizeof(int) * NT);
        for (int w = 0; w < windows && !rc; w += p->B) {
            int b = windows - w < p->B ? windows - w : p->B;
            rc = rz_teacher_logp(p->self, p->tokens + (size_t)w * T, b, p->tlogp + (size_t)w * T * p->V, e);
        }
    }
    if (rc) {
        rz_kl_probe_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int rz_kl_probe_student(rz_kl_probe *p, rz_train *t, int B, double *kl, rz_err *e)
{
    if (rz_train_ctx(t) != p->T || B < 1 || B > rz_train_max_batch(t) || B > p->B)
        return rz_fail(e, RZ_EINPUT, "KL probe: the model's context %d differs from the probe's %d, or %d windows "
                       "per forward is too many", rz_train_ctx(t), p->T, B);
    double sum = 0;
    for (int w = 0; w < p->windows; w += B) {
        int b = p->windows - w < B ? p->windows - w : B;
        double s = 0;
        int rc = student_kl(t, p->V, p->tokens + (size_t)w * p->T, b, p->tlogp + (size_t)w * p->T * p->V, p->row, 0,
                            0, &s, e);
        if (rc) return rc;
        sum += s;
    }
    *kl = sum / ((double)p->windows * p->T);
    return 0;
}

int rz_kl_probe_model(rz_kl_probe *p, double *kl, rz_err *e)
{
    return rz_kl_probe_student(p, p->self->t, p->B, kl, e);
}

int rz_kl_probe_swap(rz_kl_probe *p, long lin, const float *What, double *kl, rz_err *e)
{
    char name[RZ_MAX_NAME];
    float *W;
    int rows, cols, layer, group;
    if (lin < 0 || lin >= 7L * p->m->config.n_layers ||
        rz_llama_linear(p->m, lin, name, sizeof name, &W, &rows, &cols, &layer, &group))
        return rz_fail(e, RZ_EINPUT, "KL probe: no linear layer %ld", lin);
    size_t mn = (size_t)rows * cols;
    if (p->saved_n < mn) {
        free(p->saved);
        p->saved_n = 0;
        if (!(p->saved = rz_malloc(sizeof(float) * mn, e))) return RZ_EINTERNAL;
        p->saved_n = mn;
    }
    memcpy(p->saved, W, sizeof(float) * mn);
    memcpy(W, What, sizeof(float) * mn);
    int rc = rz_kl_probe_model(p, kl, e);
    memcpy(W, p->saved, sizeof(float) * mn);
    return rc;
}

int rz_train_eval_nll(rz_train *t, const int *ids, size_t n, int windows, int T, int B, double *nll, rz_err *e)
{
    if (rz_train_ctx(t) != T || B < 1 || B > rz_train_max_batch(t) || n < (size_t)windows * T + 1 || windows < 1)
        return rz_fail(e, RZ_EINPUT, "NLL evaluation: %d windows of %d tokens (%d per forward) over %zu tokens do not "
                       "fit", windows, T, B, n);
    double sum = 0;
    for (int w = 0; w < windows; w += B) {
        int b = windows - w < B ? windows - w : B;
        double s = 0;
        /* window w + q: tokens ids[(w+q)T …), targets one ahead */
        const int *tok = ids + (size_t)w * T;
        int *tg = rz_malloc(sizeof(int) * (size_t)b * T, e);
        if (!tg) return RZ_EINTERNAL;
        memcpy(tg, tok + 1, sizeof(int) * (size_t)b * T);
        int rc = rz_train_forward(t, tok, tg, b, &s);
        free(tg);
        if (rc) return rz_fail(e, RZ_EINPUT, "NLL evaluation: a token id is outside the vocabulary");
        sum += s;
    }
    *nll = sum / ((double)windows * T);
    return 0;
}
