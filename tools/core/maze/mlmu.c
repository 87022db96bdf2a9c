/* mlmu.c — maze sets, next-token / MLM-U examples, the data-parallel step gradient and
 * path decoding (the contract is in mlmu.h). */
#include "mlmu.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "maze_rec.h"

const char *const rz_maze_objective_names[] = {"next", "mlmu", NULL}; /* RZ_MZ_* order */
const char *const rz_maze_keys_names[] = {"all", "visible", NULL};     /* RZ_MZ_KEYS_* order */
const char *const rz_maze_arch_names[] = {"enc", "past", NULL};        /* RZ_MZ_ARCH_* order */

/* index of s in a NULL-terminated list, or -1 */
static int pick(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

const char *rz_maze_objective_name(int obj) { return rz_maze_objective_names[obj == RZ_MZ_MLMU]; }
int rz_maze_objective_parse(const char *s) { return pick(rz_maze_objective_names, s); }
const char *rz_maze_keys_name(int keys) { return rz_maze_keys_names[keys == RZ_MZ_KEYS_VISIBLE]; }
int rz_maze_keys_parse(const char *s) { return pick(rz_maze_keys_names, s); }
const char *rz_maze_arch_name(int arch) { return rz_maze_arch_names[arch == RZ_MZ_ARCH_PAST]; }
int rz_maze_arch_parse(const char *s) { return pick(rz_maze_arch_names, s); }

int rz_maze_core_new(rz_llama *model, rz_llama *grad, int dec_layers, int B, int T, rz_lora **a, rz_train **t,
                     rz_err *e)
{
    int ranks[RZ_LIN_PER_LAYER] = {0};
    *a = NULL, *t = NULL;
    if (rz_lora_new(model, ranks, a, e) || (grad && rz_lora_full_grads(*a, grad, e)) || rz_train_new(*a, B, T, t, e))
        return e->code;
    if (dec_layers > 0)
        return rz_train_set_decoder(*t, model->config.n_layers - dec_layers, RZ_MZ_DEC_TOKEN, e);
    return 0;
}

void rz_maze_set_attention(rz_train *t, int objective, int keys)
{
    rz_train_set_causal(t, objective != RZ_MZ_MLMU);
    rz_train_set_hidden(t, objective == RZ_MZ_MLMU && keys == RZ_MZ_KEYS_VISIBLE ? RZ_MZ_MASK : -1);
}

/* ---------------------------------------------------------------- sets */

void rz_maze_set_free(rz_maze_set *s)
{
    free(s->tokens);
    free(s->mask);
    free(s->pstart);
    free(s->len);
    free(s->index);
    memset(s, 0, sizeof *s);
}

/* Grows the per-sequence arrays to hold cap sequences of T. */
static int set_grow(rz_maze_set *s, long cap, rz_err *e)
{
    size_t T = (size_t)s->T;
    int *tok = realloc(s->tokens, sizeof(int) * T * (size_t)cap);
    if (tok) s->tokens = tok;
    uint8_t *mk = realloc(s->mask, T * (size_t)cap);
    if (mk) s->mask = mk;
    int *ps = realloc(s->pstart, sizeof(int) * (size_t)cap);
    if (ps) s->pstart = ps;
    int *ln = realloc(s->len, sizeof(int) * (size_t)cap);
    if (ln) s->len = ln;
    int64_t *ix = realloc(s->index, sizeof(int64_t) * (size_t)cap);
    if (ix) s->index = ix;
    if (!tok || !mk || !ps || !ln || !ix) return rz_fail(e, RZ_EINTERNAL, "out of memory for %ld mazes", cap);
    return 0;
}

int rz_maze_set_load(const char *loc, const rz_stream_opts *o, int n, int T, long max_count, rz_maze_set *s,
                     rz_err *e)
{
    memset(s, 0, sizeof *s);
    /* two passes over the records would need the stream twice (it may be a pipe): keep
     * the records' tokens unpadded first, then pad to T */
    rz_reader *r;
    if (rz_reader_open(loc, o, &r, e)) return e->code;
    int *raw = NULL;
    uint8_t *rawm = NULL;
    size_t raw_n = 0, raw_cap = 0;
    long cap = 0;
    int longest = 0, rc = 0;
    s->T = 1; /* per-sequence arrays below hold one int per sequence until padding */
    for (;;) {
        const msgpack_object *rec;
        rz_rec_ctx ctx;
        if ((rc = rz_reader_next(r, &rec, &ctx, e))) break;
        if (!rec) break;
        if (strcmp(ctx.type, "maze")) {
            rc = rz_fail(e, RZ_EINPUT, "%s record %ld: type '%s', expected 'maze'", ctx.source, ctx.index, ctx.type);
            break;
        }
        if (max_count && s->count >= max_count) continue; /* read to the end record anyway */
        rz_maze_rec m;
        if ((rc = rz_maze_rec_decode(rec, &ctx, &m, e))) break;
        if (n == 0) n = m.n;
        if (m.n != n) {
            rc = rz_rec_fail(e, &ctx, "n", "a %dx%d maze, expected %dx%d (the model's size)", m.n, m.n, n, n);
            break;
        }
        if (T && m.n_tokens > T) {
            rc = rz_rec_fail(e, &ctx, "n_tokens", "%lld tokens, longer than the model's context %d",
                             (long long)m.n_tokens, T);
            break;
        }
        if (s->count == cap) {
            cap = cap ? 2 * cap : 256;
            if ((rc = set_grow(s, cap, e))) break;
        }
        if (raw_n + (size_t)m.n_tokens > raw_cap) {
            raw_cap = 2 * (raw_n + (size_t)m.n_tokens);
            int *nr = realloc(raw, sizeof(int) * raw_cap);
            uint8_t *nm = realloc(rawm, raw_cap);
            if (nr) raw = nr;
            if (nm) rawm = nm;
            if (!nr || !nm) {
                rc = rz_fail(e, RZ_EINTERNAL, "out of memory reading %s", loc);
                break;
            }
        }
        for (int64_t i = 0; i < m.n_tokens; i++) raw[raw_n + (size_t)i] = rz_maze_rec_token(&m, i);
        memcpy(rawm + raw_n, m.mask, (size_t)m.n_tokens);
        s->tokens[s->count] = (int)raw_n; /* offset, for now */
        s->len[s->count] = (int)m.n_tokens;
        s->pstart[s->count] = m.path_start;
        s->index[s->count] = m.index;
        raw_n += (size_t)m.n_tokens;
        longest = (int)m.n_tokens > longest ? (int)m.n_tokens : longest;
        s->count++;
    }
    rz_reader_close(r);
    if (!rc && s->count == 0) rc = rz_fail(e, RZ_EINPUT, "%s: no mazes", loc);
    if (rc) {
        free(raw), free(rawm);
        rz_maze_set_free(s);
        return rc;
    }
    s->n = n;
    int Tp = T ? T : longest;
    int *off = s->tokens;
    s->tokens = rz_malloc(sizeof(int) * (size_t)Tp * (size_t)s->count, e);
    free(s->mask);
    s->mask = rz_calloc((size_t)Tp * (size_t)s->count, 1, e);
    if (!s->tokens || !s->mask) {
        free(off), free(raw), free(rawm);
        rz_maze_set_free(s);
        return RZ_EINTERNAL;
    }
    s->T = Tp;
    for (long q = 0; q < s->count; q++) {
        int *dst = s->tokens + (size_t)q * Tp;
        memcpy(dst, raw + off[q], sizeof(int) * (size_t)s->len[q]);
        for (int i = s->len[q]; i < Tp; i++) dst[i] = RZ_MZ_PAD;
        memcpy(s->mask + (size_t)q * Tp, rawm + off[q], (size_t)s->len[q]);
    }
    free(off), free(raw), free(rawm);
    return 0;
}

uint64_t rz_maze_set_id(const rz_maze_set *s)
{
    int hd[2] = {s->n, s->T};
    uint64_t h = rz_checksum(RZ_CHECKSUM_INIT, hd, sizeof hd);
    h = rz_checksum(h, s->tokens, sizeof(int) * (size_t)s->T * (size_t)s->count);
    return rz_checksum(h, s->mask, (size_t)s->T * (size_t)s->count);
}

/* ---------------------------------------------------------------- examples */

int rz_maze_example(const rz_maze_set *s, int objective, uint64_t seed, uint64_t k, long seq, int *tokens,
                    int *targets)
{
    int T = s->T, ps = s->pstart[seq], scored = 0;
    const int *src = s->tokens + (size_t)seq * T;
    const uint8_t *mk = s->mask + (size_t)seq * T;
    memcpy(tokens, src, sizeof(int) * (size_t)T);
    if (objective == RZ_MZ_NEXT) {
        for (int i = 0; i < T; i++) {
            targets[i] = i + 1 < T && mk[i + 1] ? src[i + 1] : RZ_TR_IGNORE;
            scored += targets[i] != RZ_TR_IGNORE;
        }
        return scored;
    }
    uint64_t st = rz_maze_key(seed ^ 0x4D4C4D55ULL /* "MLMU" */, k);
    double r = (double)(rz_train_rng_next(&st) >> 11) * 0x1.0p-53; /* r ~ U[0, 1) */
    for (int i = 0; i < T; i++) {
        targets[i] = RZ_TR_IGNORE;
        if (i <= ps) continue; /* the prompt and <PATH_START>: always visible */
        if (!mk[i]) { /* past <PATH_END>: <MASK>, unscored — as in decoding, never seen */
            tokens[i] = RZ_MZ_MASK;
            continue;
        }
        double u = (double)(rz_train_rng_next(&st) >> 11) * 0x1.0p-53;
        if (u < r) tokens[i] = RZ_MZ_MASK, targets[i] = src[i], scored++;
    }
    return scored;
}

/* ---------------------------------------------------------------- sample order */

int rz_maze_cursor_init(rz_maze_cursor *c, long S, rz_err *e)
{
    c->k = 0, c->epoch = -1;
    c->perm = rz_malloc(sizeof(long) * (size_t)(S > 0 ? S : 1), e);
    return c->perm ? 0 : RZ_EINTERNAL;
}

void rz_maze_cursor_free(rz_maze_cursor *c)
{
    free(c->perm);
    c->perm = NULL;
}

long rz_maze_cursor_seq(rz_maze_cursor *c, long S, uint64_t seed, uint64_t k)
{
    int64_t ep = (int64_t)(k / (uint64_t)S);
    if (ep != c->epoch) {
        uint64_t st = rz_maze_key(seed ^ 0x5045524DULL /* "PERM" */, (uint64_t)ep);
        for (long i = 0; i < S; i++) c->perm[i] = i;
        for (long i = S - 1; i > 0; i--) {
            long j = (long)(rz_train_rng_next(&st) % (uint64_t)(i + 1)), x = c->perm[i];
            c->perm[i] = c->perm[j], c->perm[j] = x;
        }
        c->epoch = ep;
    }
    return c->perm[k % (uint64_t)S];
}

/* ---------------------------------------------------------------- the step */

int rz_maze_step_grad(rz_train *t, rz_lora *a, const rz_maze_set *s, const rz_maze_step_opts *o,
                      rz_maze_cursor *cur, double *acc, int *tokens, int *targets, double *loss, rz_err *e)
{
    int T = s->T, P = rz_cluster_size(), rank = rz_cluster_rank();
    rz_llama *G = a->gbase;
    if (!G) return rz_fail(e, RZ_EINTERNAL, "maze training needs full gradients (rz_lora_full_grads)");
    if (o->micro < 1 || o->batch % o->micro)
        return rz_fail(e, RZ_EINPUT, "batch %d is not a multiple of the micro-batch %d", o->batch, o->micro);
    size_t np = G->n_params;
    int S = o->batch / o->micro, rounds = (S + P - 1) / P;
    /* the global batch's scored positions first (every rank, cheap): the mean's divisor */
    long scored = 0;
    for (int q = 0; q < o->batch; q++) {
        uint64_t k = cur->k + (uint64_t)q;
        scored += rz_maze_example(s, o->objective, o->seed, k, rz_maze_cursor_seq(cur, s->count, o->seed, k), tokens,
                                  targets);
    }
    float scale = (float)(1.0 / (double)(scored > 0 ? scored : 1));
    memset(acc, 0, sizeof(double) * (np + 1));
    for (int i = 0; i < rounds; i++) {
        int mine = i * P + rank;
        if (mine < S) {
            for (int q = 0; q < o->micro; q++) {
                uint64_t k = cur->k + (uint64_t)mine * o->micro + (uint64_t)q;
                rz_maze_example(s, o->objective, o->seed, k, rz_maze_cursor_seq(cur, s->count, o->seed, k),
                                tokens + (size_t)q * T, targets + (size_t)q * T);
            }
            double nll = 0;
            memset(G->params, 0, sizeof(float) * np);
            if (rz_train_forward(t, tokens, targets, o->micro, &nll))
                return rz_fail(e, RZ_EINPUT, "a maze token is outside the model's vocabulary");
            rz_train_backward(t, scale);
            if (rank == 0) { /* rank 0 carries the running sum (see lora.h) */
                for (size_t p = 0; p < np; p++) acc[p] += (double)G->params[p];
                acc[np] += nll;
            } else {
                for (size_t p = 0; p < np; p++) acc[p] = (double)G->params[p];
                acc[np] = nll;
            }
        } else {
            memset(acc, 0, sizeof(double) * (np + 1));
        }
        rz_cluster_allreduce_sum(acc, np + 1);
    }
    for (size_t p = 0; p < np; p++) G->params[p] = (float)acc[p];
    *loss = acc[np] / (double)(scored > 0 ? scored : 1);
    cur->k += (uint64_t)o->batch;
    return 0;
}

/* ---------------------------------------------------------------- decoding */

int rz_maze_judge(rz_maze *m, const int *truth, int truth_len, int pstart, const int *pred, int T, int *exact,
                  rz_err *e)
{
    if (rz_maze_parse(m, truth, truth_len, e)) return -1;
    /* predicted cells after <PATH_START>, up to <PATH_END> */
    int len = 0, ended = 0, *cells = m->work, N = m->n * m->n;
    for (int i = pstart + 1; i < T; i++) {
        if (pred[i] == RZ_MZ_PATH_END) {
            ended = 1;
            break;
        }
        int c = pred[i] - RZ_MZ_CELL0;
        if (c < 0 || c >= N || len >= 2 * N) break; /* not a cell: the path is malformed */
        cells[len++] = c;
    }
    *exact = ended && len == m->path_len && !memcmp(cells, m->path, sizeof(int) * (size_t)len);
    return ended && rz_maze_path_valid(m, cells, len);
}

/* Judges the decoded rows tok[r] (row stride T) of sequences q0 .. q0 + nb − 1 of s,
 * adding their scores into sc and copying them to pred's row q − lo (pred may be NULL). */
static int score_rows(const rz_maze_set *s, const int *tok, long q0, int nb, long lo, int *pred, rz_maze *m,
                      rz_maze_score *sc, rz_err *e)
{
    int T = s->T;
    for (int r = 0; r < nb; r++) {
        long q = q0 + r;
        int exact = 0;
        int v = rz_maze_judge(m, s->tokens + (size_t)q * T, s->len[q], s->pstart[q], tok + (size_t)r * T, T, &exact,
                              e);
        if (v < 0) return rz_wrap(e, "maze %ld", q);
        sc->count++, sc->valid += v, sc->exact += exact;
        const int *row = tok + (size_t)r * T;
        for (int i = s->pstart[q] + 1; i < T; i++) {
            sc->tokens++;
            if (row[i] == RZ_MZ_PATH_END) break;
        }
        if (pred) memcpy(pred + (size_t)(q - lo) * T, tok + (size_t)r * T, sizeof(int) * (size_t)T);
    }
    return 0;
}

/* The full-forward decoder: every generated token costs one forward of the whole padded
 * rows. For next-token it is the slow reference of rz_maze_decode_cached (below). For
 * MLM-U (all_but_last) it is the only way: attention is bidirectional, so every cell
 * filled in changes the representation of every earlier position (and, with every key,
 * of the <MASK> positions after it too) — there are no fixed keys and values to keep. */
int rz_maze_decode(rz_train *t, const rz_maze_set *s, int objective, int keys, long lo, long hi, int B,
                   int *pred, rz_maze_score *sc, rz_err *e)
{
    int T = s->T, V = rz_maze_vocab(s->n);
    rz_maze_set_attention(t, objective, keys);
    int *tok = rz_malloc(sizeof(int) * (size_t)B * T, e), *pos = rz_malloc(sizeof(int) * (size_t)B, e);
    rz_maze m;
    if (!tok || !pos || rz_maze_alloc(s->n, &m, e)) {
        free(tok), free(pos);
        return e->code ? e->code : RZ_EINTERNAL;
    }
    int rc = 0;
    for (long b0 = lo; b0 < hi && !rc; b0 += B) {
        int nb = (int)(hi - b0 < B ? hi - b0 : B);
        /* rows: the prompt through <PATH_START>, then <MASK> (MLM-U) or <PAD> (next) */
        for (int r = 0; r < nb; r++) {
            const int *src = s->tokens + (size_t)(b0 + r) * T;
            int ps = s->pstart[b0 + r], *row = tok + (size_t)r * T;
            memcpy(row, src, sizeof(int) * (size_t)(ps + 1));
            for (int i = ps + 1; i < T; i++) row[i] = objective == RZ_MZ_MLMU ? RZ_MZ_MASK : RZ_MZ_PAD;
            pos[r] = ps + 1; /* next position to fill; T: done */
        }
        for (int r = nb; r < B; r++) pos[r] = T;
        for (;;) {
            int live = 0;
            for (int r = 0; r < nb; r++) live += pos[r] < T;
            if (!live) break;
            if (rz_train_forward(t, tok, NULL, nb, NULL)) {
                rc = rz_fail(e, RZ_EINPUT, "decoding: a token outside the model's vocabulary");
                break;
            }
            const float *logits = rz_train_logits(t);
            for (int r = 0; r < nb; r++) {
                if (pos[r] >= T) continue;
                /* MLM-U reads the masked position itself; next-token the one before it */
                int at = objective == RZ_MZ_MLMU ? pos[r] : pos[r] - 1;
                int y = rz_llama_argmax(logits + ((size_t)r * T + (size_t)at) * V, V);
                tok[(size_t)r * T + pos[r]] = y;
                if (y == RZ_MZ_PATH_END) {
                    for (int i = pos[r] + 1; i < T; i++) tok[(size_t)r * T + i] = RZ_MZ_PAD;
                    pos[r] = T;
                } else {
                    pos[r]++;
                }
            }
        }
        if (!rc) rc = score_rows(s, tok, b0, nb, lo, pred, &m, sc, e);
    }
    free(tok), free(pos);
    rz_maze_free(&m);
    return rc;
}

/* One next-token path: the prompt through <PATH_START> in one rz_llama_forward (each
 * layer's rotated keys and values stay in st's cache), then one position per step. row
 * [T] gets the rz_maze_decode rows' layout: prompt, decoded tokens, <PAD> after. lg:
 * [T][V] (row p − 1 = the logits that chose the token at p), or scratch of V. */
static int decode_cached_row(const rz_llama *model, rz_llama_state *st, const int *src, int ps, int T, int V,
                             int *row, float *lg, int keep)
{
    memcpy(row, src, sizeof(int) * (size_t)(ps + 1));
    for (int i = ps + 1; i < T; i++) row[i] = RZ_MZ_PAD;
    if (ps + 1 >= T) return 0; /* nothing to fill: the full decoder stops at once too */
    if (rz_llama_forward(model, st, row, ps + 1, 0, NULL)) return RZ_EINPUT;
    for (int p = ps + 1, last = ps;; p++, last = 0) {
        float *l = keep ? lg + (size_t)(p - 1) * V : lg;
        rz_llama_logits(model, st, last, 1, l); /* the logits of position p − 1 */
        int y = rz_llama_argmax(l, V);
        row[p] = y;
        if (y == RZ_MZ_PATH_END || p + 1 == T) return 0;
        if (rz_llama_forward(model, st, row + p, 1, p, NULL)) return RZ_EINPUT;
    }
}

int rz_maze_decode_cached(const rz_llama *model, const rz_maze_set *s, long lo, long hi, int *pred, float *logits,
                          rz_maze_score *sc, rz_err *e)
{
    int T = s->T, V = rz_maze_vocab(s->n);
    if (model->config.vocab_size != V || model->config.seq_len < T)
        return rz_fail(e, RZ_EINPUT, "decoding: a model of %d tokens and context %d for %dx%d mazes of %d tokens",
                       model->config.vocab_size, model->config.seq_len, s->n, s->n, T);
    if (hi <= lo) return 0;
    /* the decoded rows are judged a chunk at a time: memory does not grow with the set */
    long chunk = hi - lo < 4096 ? hi - lo : 4096;
    int nthr = omp_get_max_threads() < chunk ? omp_get_max_threads() : (int)chunk;
    rz_llama_state **st = rz_calloc((size_t)nthr, sizeof *st, e);
    int *tok = rz_malloc(sizeof(int) * (size_t)chunk * T, e);
    float *lg = rz_malloc(sizeof(float) * (size_t)nthr * V, e);
    rz_maze m;
    memset(&m, 0, sizeof m);
    int rc = !st || !tok || !lg || rz_maze_alloc(s->n, &m, e) ? (e->code ? e->code : RZ_EINTERNAL) : 0;
    for (int i = 0; i < nthr && !rc; i++) rc = rz_llama_state_new(model, T, T, &st[i], e);
    for (long c0 = lo; c0 < hi && !rc; c0 += chunk) {
        int nq = (int)(hi - c0 < chunk ? hi - c0 : chunk), bad = 0;
        /* one maze per iteration on one thread with its own state: each path is the same
         * computation whatever thread runs it (rz_llama_forward's products and attention
         * give the same bits for any thread count, and run single-threaded in here) */
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthr) reduction(| : bad)
        for (int r = 0; r < nq; r++) {
            int th = omp_get_thread_num();
            long q = c0 + r;
            float *l = logits ? logits + (size_t)(q - lo) * T * V : lg + (size_t)th * V;
            bad |= decode_cached_row(model, st[th], s->tokens + (size_t)q * T, s->pstart[q], T, V,
                                     tok + (size_t)r * T, l, logits != NULL) != 0;
        }
        if (bad) rc = rz_fail(e, RZ_EINPUT, "decoding: a token outside the model's vocabulary");
        else rc = score_rows(s, tok, c0, nq, lo, pred, &m, sc, e);
    }
    rz_maze_free(&m);
    for (int i = 0; st && i < nthr; i++) rz_llama_state_free(st[i]);
    free(st), free(tok), free(lg);
    return rc;
}

/* ---------------------------------------------------------------- single steps */

/* One forward over rows [0, nrows) of tok, then the scores of n steps: step j is position
 * at[j] of sequence q[j], read from row rw[j]. */
static int score_steps(rz_train *t, const rz_maze_set *s, int objective, const int *tok, int nrows, const int *rw,
                       const long *q, const int *at, int n, rz_maze *m, rz_maze_steps *st, rz_err *e)
{
    int T = s->T, V = rz_maze_vocab(s->n), N = s->n * s->n;
    if (rz_train_forward(t, tok, NULL, nrows, NULL))
        return rz_fail(e, RZ_EINPUT, "single steps: a token outside the model's vocabulary");
    const float *logits = rz_train_logits(t);
    for (int j = 0; j < n; j++) {
        const int *src = s->tokens + (size_t)q[j] * T;
        int i = at[j], read = objective == RZ_MZ_MLMU ? i : i - 1;
        int y = rz_llama_argmax(logits + ((size_t)rw[j] * T + (size_t)read) * V, V), truth = src[i];
        st->steps++;
        if (y == truth) {
            st->right++;
            continue;
        }
        int prev = src[i - 1] - RZ_MZ_CELL0, want = truth - RZ_MZ_CELL0, got = y - RZ_MZ_CELL0;
        if (prev < 0 || prev >= N || want < 0 || want >= N) continue; /* the first cell, or <PATH_END> */
        if (rz_maze_parse(m, src, s->len[q[j]], e)) return rz_wrap(e, "maze %ld", q[j]);
        st->wrong_cell++;
        st->wrong_open += got >= 0 && got < N && rz_maze_is_open(m, prev, got);
    }
    return 0;
}

/* Rows: MLM-U, one per step (the true tokens before i, <MASK> from i on). Next-token, one
 * per maze: attention is causal, so the logits at i − 1 of a forward over the whole true
 * sequence are to the bit those of the row "true tokens before i, <PAD> after" (nothing
 * computed for position i − 1 reads a later position's value: its products are per row,
 * and the later keys' probabilities are exactly 0, so their values add exact zeros) —
 * one forward serves every step of the maze. */
int rz_maze_step_scores(rz_train *t, const rz_maze_set *s, int objective, int keys, long lo, long hi, int B,
                        rz_maze_steps *st, rz_err *e)
{
    int T = s->T, rc = 0, nrows = 0, n = 0, next = objective == RZ_MZ_NEXT;
    rz_maze_set_attention(t, objective, keys);
    size_t cap = (size_t)B * T; /* steps per forward: at most T per row */
    int *tok = rz_malloc(sizeof(int) * (size_t)B * T, e), *at = rz_malloc(sizeof(int) * cap, e);
    int *rw = rz_malloc(sizeof(int) * cap, e);
    long *q = rz_malloc(sizeof(long) * cap, e);
    rz_maze m;
    if (!tok || !at || !rw || !q || rz_maze_alloc(s->n, &m, e)) {
        free(tok), free(at), free(rw), free(q);
        return e->code ? e->code : RZ_EINTERNAL;
    }
    for (long k = lo; k < hi && !rc; k++) {
        const int *src = s->tokens + (size_t)k * T;
        const uint8_t *mk = s->mask + (size_t)k * T;
        if (next) {
            if (nrows == B) rc = score_steps(t, s, objective, tok, nrows, rw, q, at, n, &m, st, e), nrows = n = 0;
            memcpy(tok + (size_t)nrows * T, src, sizeof(int) * (size_t)T);
            nrows++;
        }
        for (int i = s->pstart[k] + 1; i < s->len[k] && !rc; i++) {
            if (!mk[i]) continue;
            if (!next) {
                if (nrows == B) rc = score_steps(t, s, objective, tok, nrows, rw, q, at, n, &m, st, e), nrows = n = 0;
                if (rc) break;
                int *row = tok + (size_t)nrows * T; /* the true tokens before i, then the decoder's filler */
                memcpy(row, src, sizeof(int) * (size_t)i);
                for (int j = i; j < T; j++) row[j] = RZ_MZ_MASK;
                nrows++;
            }
            rw[n] = nrows - 1, q[n] = k, at[n] = i, n++;
        }
    }
    if (nrows && !rc) rc = score_steps(t, s, objective, tok, nrows, rw, q, at, n, &m, st, e);
    free(tok), free(at), free(rw), free(q);
    rz_maze_free(&m);
    return rc;
}
