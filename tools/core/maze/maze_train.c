/* maze_train.c — rz-maze training state, steps and data-parallel evaluation
 * (maze_train.h). */
#include "maze_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "rng.h"

void rz_maze_trainer_free(rz_maze_trainer *tr)
{
    rz_train_free(tr->t);
    rz_lora_free(tr->lora);
    rz_llama_free(tr->grad);
    rz_llama_free(tr->model);
    rz_adamw_free(&tr->adam);
    rz_maze_cursor_free(&tr->cur);
    free(tr->acc);
    free(tr->tokens);
    free(tr->targets);
    memset(tr, 0, sizeof *tr);
}

void rz_maze_init_weights(rz_llama *m, double std, double shared, uint64_t seed)
{
    int count = rz_llama_tensor_count(m);
    for (int i = 0; i < count; i++) {
        const char *name;
        float *w = NULL;
        int shape[2] = {0, 0}, ndim = 0;
        rz_llama_tensor_at(m, i, &name, &w, shape, &ndim);
        if (ndim != 2) continue; /* norms stay 1 */
        double want = std > 0 ? std : 1.0 / sqrt(3.0 * shape[1]);
        float f = (float)(want / 0.02); /* rz_llama_random draws N(0, 0.02²) */
        size_t n = (size_t)shape[0] * (size_t)shape[1];
        for (size_t k = 0; k < n; k++) w[k] *= f;
        if (shared > 0 && w == m->tok_embeddings) {
            /* row r ← √(1 − a²)·row r + a·c, c[dim] ~ N(0, want²) drawn once: every row keeps
             * its std, two rows have cosine ≈ a² */
            double b = sqrt(1.0 - shared * shared);
            int d = shape[1];
            for (int r = 0; r < shape[0]; r++) {
                rz_rng g; /* the same c for every row: the same stream restarted */
                rz_rng_seed(&g, seed ^ 0x53484152ULL /* "SHAR" */);
                for (int j = 0; j < d; j++)
                    w[(size_t)r * d + j] = (float)(b * w[(size_t)r * d + j] + shared * want * rz_rng_normal(&g));
            }
        }
    }
}

static int mismatch(rz_err *e, const char *loc, const char *field, const char *what)
{
    return rz_fail(e, RZ_EINPUT, "%s: field '%s': the checkpoint's %s differs from this run's (resume with the same "
                                 "options and data)", loc, field, what);
}

int rz_maze_trainer_new(rz_maze_trainer *tr, const rz_maze_ckpt *info, const rz_maze_set *set, const char *resume,
                        const rz_stream_opts *so, rz_err *e)
{
    memset(tr, 0, sizeof *tr);
    tr->info = *info;
    tr->set = set;
    rz_llama_config *c = &tr->info.config;
    c->vocab_size = rz_maze_vocab(set->n), c->seq_len = set->T, c->shared_classifier = 0;
    tr->info.n = set->n;
    tr->info.set_id = rz_maze_set_id(set);
    if (resume) {
        rz_maze_ckpt ck;
        if (rz_maze_ckpt_load(resume, so, &ck, &tr->model, &tr->adam, e)) return e->code;
        const rz_llama_config *d = &ck.config;
        int rc = 0;
        if (ck.n != set->n) rc = mismatch(e, resume, "n", "maze size");
        else if (ck.objective != info->objective) rc = mismatch(e, resume, "objective", "objective");
        else if (ck.keys != info->keys) rc = mismatch(e, resume, "keys", "MLM-U keys mode");
        else if (ck.arch != info->arch) rc = mismatch(e, resume, "arch", "architecture");
        else if (ck.dec_layers != info->dec_layers) rc = mismatch(e, resume, "dec_layers", "decoder depth");
        else if (d->dim != c->dim || d->hidden_dim != c->hidden_dim || d->n_layers != c->n_layers ||
                 d->n_heads != c->n_heads || d->n_kv_heads != c->n_kv_heads || d->rope_theta != c->rope_theta)
            rc = mismatch(e, resume, "dim", "model shape");
        else if (d->seq_len != c->seq_len) rc = mismatch(e, resume, "seq_len", "sequence length");
        else if (ck.batch != info->batch || ck.micro != info->micro) rc = mismatch(e, resume, "batch", "batch shape");
        else if (ck.seed != info->seed) rc = mismatch(e, resume, "seed", "seed");
        else if (ck.set_id != tr->info.set_id) rc = mismatch(e, resume, "set_id", "training set");
        else if (ck.total != info->total) rc = mismatch(e, resume, "total", "step count");
        if (rc) return rz_maze_trainer_free(tr), rc;
        tr->info.step = ck.step, tr->info.samples = ck.samples, tr->info.loss = ck.loss;
    } else {
        if (rz_llama_random(c, tr->info.seed, &tr->model, e)) return e->code;
        rz_maze_init_weights(tr->model, info->init_std, info->init_shared, info->seed);
        if (rz_adamw_init(&tr->adam, tr->model->n_params, e)) return rz_maze_trainer_free(tr), e->code;
        tr->info.step = 0, tr->info.samples = 0;
    }
    int B = (int)tr->info.micro;
    if (rz_llama_alloc(&tr->model->config, &tr->grad, e) ||
        rz_maze_core_new(tr->model, tr->grad, tr->info.dec_layers, B, set->T, &tr->lora, &tr->t, e) ||
        rz_maze_cursor_init(&tr->cur, set->count, e))
        return rz_maze_trainer_free(tr), e->code;
    rz_maze_set_attention(tr->t, info->objective, info->keys);
    tr->cur.k = tr->info.samples;
    size_t np = tr->model->n_params, T = (size_t)set->T;
    tr->acc = rz_malloc(sizeof(double) * (np + 2), e);
    tr->tokens = rz_malloc(sizeof(int) * T * (size_t)B, e);
    tr->targets = rz_malloc(sizeof(int) * T * (size_t)B, e);
    if (!tr->acc || !tr->tokens || !tr->targets) return rz_maze_trainer_free(tr), RZ_EINTERNAL;
    return 0;
}

int rz_maze_trainer_step(rz_maze_trainer *tr, double *loss, double *gnorm, double *lr, rz_err *e)
{
    rz_maze_step_opts o = {tr->info.objective, tr->info.keys, tr->info.seed, (int)tr->info.batch,
                           (int)tr->info.micro};
    rz_maze_set_attention(tr->t, tr->info.objective, tr->info.keys);
    if (rz_maze_step_grad(tr->t, tr->lora, tr->set, &o, &tr->cur, tr->acc, tr->tokens, tr->targets, loss, e))
        return e->code;
    *gnorm = rz_adamw_step(&tr->adam, &tr->info.opt, tr->model->params, tr->grad->params, lr);
    tr->info.step++;
    tr->info.samples = tr->cur.k;
    tr->info.loss = *loss;
    return 0;
}

int rz_maze_trainer_save(rz_maze_trainer *tr, const char *loc, const rz_stream_opts *so, int with_moments, rz_err *e)
{
    if (rz_cluster_rank() != 0) return 0;
    return rz_maze_ckpt_save(loc, so, &tr->info, tr->model, with_moments ? &tr->adam : NULL, e);
}

int rz_maze_uses_cache(int objective, int dec_layers, int full)
{
    return objective == RZ_MZ_NEXT && dec_layers == 0 && !full;
}

int rz_maze_decode_model(rz_llama *model, int dec_layers, const rz_maze_set *set, int objective, int keys, int full,
                         long lo, long hi, int B, int *pred, rz_maze_score *sc, rz_err *e)
{
    if (rz_maze_uses_cache(objective, dec_layers, full)) return rz_maze_decode_cached(model, set, lo, hi, pred, NULL, sc, e);
    rz_lora *a = NULL;
    rz_train *t = NULL;
    int rc = rz_maze_core_new(model, NULL, dec_layers, B, set->T, &a, &t, e);
    if (!rc) rc = rz_maze_decode(t, set, objective, keys, lo, hi, B, pred, sc, e);
    rz_train_free(t);
    rz_lora_free(a);
    return rc;
}

/* Runs one of the two scorers (steps != NULL: single steps) on this rank's block, then
 * sums the counts over the ranks. */
static int evaluate(rz_llama *model, int dec_layers, const rz_maze_set *set, int objective, int keys, int full,
                    long count, int B, rz_maze_score *sc, rz_maze_steps *steps, rz_err *e)
{
    if (count <= 0 || count > set->count) count = set->count;
    if (set->T > model->config.seq_len)
        return rz_fail(e, RZ_EINPUT, "held-out mazes of %d tokens, longer than the model's context %d", set->T,
                       model->config.seq_len);
    long lo, hi;
    rz_cluster_block(count, rz_cluster_rank(), rz_cluster_size(), &lo, &hi);
    rz_maze_score mine = {0, 0, 0, 0};
    rz_maze_steps ms = {0, 0, 0, 0};
    int rc = 0;
    if (hi > lo && !steps) {
        rc = rz_maze_decode_model(model, dec_layers, set, objective, keys, full, lo, hi, B, NULL, &mine, e);
    } else if (hi > lo) {
        rz_lora *a = NULL;
        rz_train *t = NULL;
        rc = rz_maze_core_new(model, NULL, dec_layers, B, set->T, &a, &t, e);
        if (!rc) rc = rz_maze_step_scores(t, set, objective, keys, lo, hi, B, &ms, e);
        rz_train_free(t);
        rz_lora_free(a);
    }
    /* every rank reaches the reduction, failed or not, so none waits forever */
    double v[9] = {(double)mine.count, (double)mine.exact, (double)mine.valid, (double)ms.steps, (double)ms.right,
                   (double)ms.wrong_cell, (double)ms.wrong_open, rc ? 1.0 : 0.0, (double)mine.tokens};
    rz_cluster_allreduce_sum(v, 9);
    if (rc) return rc;
    if (v[7] > 0) return rz_fail(e, RZ_EINTERNAL, "evaluation failed on another rank");
    if (steps) {
        steps->steps = (long)v[3], steps->right = (long)v[4], steps->wrong_cell = (long)v[5];
        steps->wrong_open = (long)v[6];
    } else {
        sc->count = (long)v[0], sc->exact = (long)v[1], sc->valid = (long)v[2], sc->tokens = (long)v[8];
    }
    return 0;
}

int rz_maze_evaluate(rz_llama *model, int dec_layers, const rz_maze_set *set, int objective, int keys, int full,
                     long count, int B, rz_maze_score *sc, rz_err *e)
{
    return evaluate(model, dec_layers, set, objective, keys, full, count, B, sc, NULL, e);
}

int rz_maze_evaluate_steps(rz_llama *model, int dec_layers, const rz_maze_set *set, int objective, int keys,
                           long count, int B, rz_maze_steps *st, rz_err *e)
{
    return evaluate(model, dec_layers, set, objective, keys, 0, count, B, NULL, st, e);
}
