/* infer.c — score / generate / embed over one model and one KV cache (see infer.h). */
#include "infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Logit rows computed at once: bounds the logits buffer to LOGIT_ROWS x vocab floats
 * whatever the continuation length (32000-token vocabularies at long contexts). */
#define LOGIT_ROWS 64

struct rz_infer {
    const rz_llama *m;
    const rz_tokenizer *t;
    rz_llama_state *st;
    int max_ctx, V, dim;
    float *logits;   /* [LOGIT_ROWS][V] */
    float *ctx_last; /* [V] logits of the context's last row */
    int *seq;        /* [max_ctx] scratch sequence */
    double *nll;     /* [LOGIT_ROWS] */
    /* embedding tap */
    int tap_layer;
    double *acc;     /* [dim] */
    int tap_skip;
    /* sampling */
    struct prob_id { float p; int id; } *buf; /* [V] */
};

int rz_infer_new(const rz_llama *m, const rz_tokenizer *t, int max_ctx, const rz_rope_method *rope,
                 rz_infer **out, rz_err *e)
{
    *out = NULL;
    if (rz_tokenizer_vocab_size(t) != m->config.vocab_size)
        return rz_fail(e, RZ_EINPUT, "tokenizer has %d tokens but the model's vocabulary is %d",
                       rz_tokenizer_vocab_size(t), m->config.vocab_size);
    rz_infer *f = rz_calloc(1, sizeof *f, e);
    if (!f) return RZ_EINTERNAL;
    f->m = m;
    f->t = t;
    f->max_ctx = max_ctx;
    f->V = m->config.vocab_size;
    f->dim = m->config.dim;
    int rc = rope ? rz_llama_state_new_ext(m, max_ctx, max_ctx, rope, &f->st, e)
                  : rz_llama_state_new(m, max_ctx, max_ctx, &f->st, e);
    if (rc) {
        free(f);
        return rc;
    }
    f->logits = rz_malloc((size_t)LOGIT_ROWS * (size_t)f->V * sizeof *f->logits, e);
    f->ctx_last = rz_malloc((size_t)f->V * sizeof *f->ctx_last, e);
    f->seq = rz_malloc((size_t)max_ctx * sizeof *f->seq, e);
    f->nll = rz_malloc(LOGIT_ROWS * sizeof *f->nll, e);
    f->acc = rz_malloc((size_t)f->dim * sizeof *f->acc, e);
    f->buf = rz_malloc((size_t)f->V * sizeof *f->buf, e);
    if (!f->logits || !f->ctx_last || !f->seq || !f->nll || !f->acc || !f->buf) {
        rz_infer_free(f);
        return RZ_EINTERNAL;
    }
    *out = f;
    return 0;
}

void rz_infer_free(rz_infer *f)
{
    if (!f) return;
    rz_llama_state_free(f->st);
    free(f->logits);
    free(f->ctx_last);
    free(f->seq);
    free(f->nll);
    free(f->acc);
    free(f->buf);
    free(f);
}

int rz_infer_max_ctx(const rz_infer *f) { return f->max_ctx; }
int rz_infer_dim(const rz_infer *f) { return f->dim; }
int rz_infer_layers(const rz_infer *f) { return f->m->config.n_layers; }

int rz_infer_tokenize(const rz_infer *f, const char *text, size_t len, int bos, const char *what, int **ids,
                      size_t *n, rz_err *e)
{
    int rc = rz_tokenizer_encode(f->t, text, len, bos, 0, ids, n, e);
    if (rc) return rz_wrap(e, "%s", what);
    return 0;
}

/* sum over rows r in [0, n) of log p(targets[r]) for logits rows of the last forward
 * [t0, t0 + n), LOGIT_ROWS at a time. */
static double rows_logprob(rz_infer *f, int t0, int n, const int *targets)
{
    double s = 0;
    for (int r0 = 0; r0 < n; r0 += LOGIT_ROWS) {
        int k = n - r0 < LOGIT_ROWS ? n - r0 : LOGIT_ROWS;
        rz_llama_logits(f->m, f->st, t0 + r0, k, f->logits);
        rz_log_softmax_nll(f->logits, k, f->V, targets + r0, f->nll);
        for (int j = 0; j < k; j++) s -= f->nll[j];
    }
    return s;
}

int rz_infer_score_ids(rz_infer *f, const int *ctx, int nctx, const int *const *cont, const int *ncont, int n,
                       int reuse, double *sum, rz_err *e)
{
    if (nctx < 1) return rz_fail(e, RZ_EINPUT, "field 'context': no tokens (give text or bos)");
    for (int i = 0; i < n; i++) {
        if (ncont[i] < 1) return rz_fail(e, RZ_EINPUT, "field 'continuations': item %d is empty", i);
        if ((long)nctx + ncont[i] - 1 > f->max_ctx)
            return rz_fail(e, RZ_EINPUT, "field 'continuations': item %d: context %d + %d tokens exceed the "
                           "server's context of %d", i, nctx, ncont[i], f->max_ctx);
    }
    if (reuse) {
        /* context once; its last row's logits predict every continuation's first token */
        if (rz_llama_forward(f->m, f->st, ctx, nctx, 0, NULL))
            return rz_fail(e, RZ_EINPUT, "field 'context': token out of range");
        rz_llama_logits(f->m, f->st, nctx - 1, 1, f->ctx_last);
        for (int i = 0; i < n; i++) {
            double nll0;
            rz_log_softmax_nll(f->ctx_last, 1, f->V, cont[i], &nll0);
            double s = -nll0;
            int k = ncont[i];
            if (k > 1) {
                if (rz_llama_forward(f->m, f->st, cont[i], k - 1, nctx, NULL))
                    return rz_fail(e, RZ_EINPUT, "field 'continuations': item %d: token out of range", i);
                s += rows_logprob(f, 0, k - 1, cont[i] + 1);
            }
            sum[i] = s;
        }
        return 0;
    }
    for (int i = 0; i < n; i++) {
        int k = ncont[i], T = nctx + k - 1;
        memcpy(f->seq, ctx, (size_t)nctx * sizeof *ctx);
        memcpy(f->seq + nctx, cont[i], (size_t)(k - 1) * sizeof *ctx);
        if (rz_llama_forward(f->m, f->st, f->seq, T, 0, NULL))
            return rz_fail(e, RZ_EINPUT, "field 'continuations': item %d: token out of range", i);
        sum[i] = rows_logprob(f, nctx - 1, k, cont[i]);
    }
    return 0;
}

const char *rz_gen_reason_name(rz_gen_reason r)
{
    static const char *names[] = {"length", "stop", "eos", "context"};
    return r <= RZ_GEN_CONTEXT ? names[r] : "?";
}

/* xorshift64* (as rz-generate): uniform in [0, 1) with 24 bits. */
static float rng_f32(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (float)((*s * 0x2545F4914F6CDD1DULL) >> 40) / 16777216.0f;
}

static int by_prob_desc(const void *a, const void *b)
{
    float x = ((const struct prob_id *)a)->p, y = ((const struct prob_id *)b)->p;
    if (x != y) return (x < y) - (x > y);
    return ((const struct prob_id *)a)->id - ((const struct prob_id *)b)->id; /* stable */
}

/* Sample from softmax(logits / temp) restricted to the smallest top set of mass >= top_p. */
static int sample(rz_infer *f, const float *logits, double temp, double top_p, uint64_t *rng)
{
    int V = f->V;
    if (temp <= 0) return rz_llama_argmax(logits, V);
    float mx = logits[0];
    for (int i = 1; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
    double z = 0;
    for (int i = 0; i < V; i++) {
        f->buf[i].p = expf((float)((logits[i] - mx) / temp));
        f->buf[i].id = i;
        z += f->buf[i].p;
    }
    for (int i = 0; i < V; i++) f->buf[i].p = (float)(f->buf[i].p / z);
    qsort(f->buf, (size_t)V, sizeof *f->buf, by_prob_desc);
    int keep = V;
    if (top_p < 1) {
        double cum = 0;
        for (int i = 0; i < V; i++) {
            cum += f->buf[i].p;
            if (cum >= top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    double mass = 0;
    for (int i = 0; i < keep; i++) mass += f->buf[i].p;
    double r = rng_f32(rng) * mass, cum = 0;
    for (int i = 0; i < keep; i++) {
        cum += f->buf[i].p;
        if (r < cum) return f->buf[i].id;
    }
    return f->buf[keep - 1].id;
}

int rz_infer_generate(rz_infer *f, const int *p, int np, const rz_gen_opts *o, char **text, size_t *len,
                      int *n_new, rz_gen_reason *why, rz_err *e)
{
    *text = NULL;
    *len = 0;
    *n_new = 0;
    if (np < 1) return rz_fail(e, RZ_EINPUT, "field 'prompt': no tokens");
    if (np >= f->max_ctx)
        return rz_fail(e, RZ_EINPUT, "field 'prompt': %d tokens leave no room in the server's context of %d", np,
                       f->max_ctx);
    size_t cap = 256, n = 0;
    char *out = rz_malloc(cap, e);
    if (!out) return RZ_EINTERNAL;
    out[0] = 0;
    uint64_t rng = o->seed * 2654435761ULL + 1;
    if (rz_llama_forward(f->m, f->st, p, np, 0, NULL)) {
        free(out);
        return rz_fail(e, RZ_EINPUT, "field 'prompt': token out of range");
    }
    rz_llama_logits(f->m, f->st, np - 1, 1, f->logits);
    int prev = p[np - 1], pos = np;
    *why = RZ_GEN_LENGTH;
    for (int step = 0; step < o->max_tokens; step++) {
        int next = sample(f, f->logits, o->temperature, o->top_p, &rng);
        if (next == RZ_TOKEN_BOS || next == RZ_TOKEN_EOS) {
            *why = RZ_GEN_EOS;
            break;
        }
        size_t pl;
        const char *piece = rz_tokenizer_piece(f->t, prev, next, &pl);
        if (n + pl + 1 > cap) {
            while (n + pl + 1 > cap) cap *= 2;
            char *g = realloc(out, cap);
            if (!g) {
                free(out);
                return rz_fail(e, RZ_EINTERNAL, "out of memory generating");
            }
            out = g;
        }
        memcpy(out + n, piece, pl);
        n += pl;
        out[n] = 0;
        (*n_new)++;
        int stopped = 0;
        for (int s = 0; s < o->n_stop && !stopped; s++) {
            /* the stop string can only end inside the new piece */
            size_t sl = o->stop_len[s], from = n > pl + sl ? n - pl - sl : 0;
            const char *hit = memmem(out + from, n - from, o->stop[s], sl);
            if (hit) {
                n = (size_t)(hit - out);
                out[n] = 0;
                stopped = 1;
            }
        }
        if (stopped) {
            *why = RZ_GEN_STOP;
            break;
        }
        if (pos >= f->max_ctx) {
            *why = RZ_GEN_CONTEXT;
            break;
        }
        if (step + 1 == o->max_tokens) break;
        rz_llama_forward(f->m, f->st, &next, 1, pos, f->logits);
        pos++;
        prev = next;
    }
    *text = out;
    *len = n;
    return 0;
}

static void embed_tap(void *ctx, int layer, int which, const float *x, int T, int n, int ld)
{
    rz_infer *f = ctx;
    if (layer != f->tap_layer || which != RZ_TAP_ATTN_IN) return;
    for (int t = f->tap_skip; t < T; t++)
        for (int i = 0; i < n; i++) f->acc[i] += x[(size_t)t * ld + i];
}

int rz_infer_embed_ids(rz_infer *f, const int *ids, int n, int skip_first, int layer, float *out, rz_err *e)
{
    int pooled = n - (skip_first ? 1 : 0);
    if (pooled < 1) return rz_fail(e, RZ_EINPUT, "no tokens to pool (empty text)");
    if (n > f->max_ctx)
        return rz_fail(e, RZ_EINPUT, "%d tokens exceed the server's context of %d", n, f->max_ctx);
    if (layer < -1 || layer >= f->m->config.n_layers)
        return rz_fail(e, RZ_EINPUT, "field 'layer': %d is not -1 (final) or in [0, %d)", layer,
                       f->m->config.n_layers);
    for (int i = 0; i < f->dim; i++) f->acc[i] = 0;
    f->tap_layer = layer;
    f->tap_skip = skip_first ? 1 : 0;
    if (layer >= 0) rz_llama_set_tap(f->st, embed_tap, f);
    int rc = rz_llama_forward(f->m, f->st, ids, n, 0, NULL);
    rz_llama_set_tap(f->st, NULL, NULL);
    if (rc) return rz_fail(e, RZ_EINPUT, "token out of range");
    if (layer < 0) {
        const float *h = rz_llama_hidden(f->st);
        for (int t = f->tap_skip; t < n; t++)
            for (int i = 0; i < f->dim; i++) f->acc[i] += h[(size_t)t * f->dim + i];
    }
    for (int i = 0; i < f->dim; i++) out[i] = (float)(f->acc[i] / pooled);
    return 0;
}
