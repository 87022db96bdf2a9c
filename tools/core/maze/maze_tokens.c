/* maze_tokens.c — the token form of a maze and its inverse (format in maze.h). */
#include <stdio.h>
#include <string.h>

#include "lora.h" /* rz_train_rng_next */
#include "maze.h"

int rz_maze_tokens(const rz_maze *m, int *out, int cap)
{
    int n = m->n, N = n * n, k = 0, *pas = m->work, np = 0;
    /* passages (cell·2 + direction) in cell order, then a seeded shuffle */
    for (int c = 0; c < N; c++)
        for (int d = 0; d < 2; d++)
            if (m->open[c] & (1 << d)) pas[np++] = c * 2 + d;
    uint64_t s = m->key;
    for (int i = np - 1; i > 0; i--) {
        int j = (int)(rz_train_rng_next(&s) % (uint64_t)(i + 1)), t = pas[i];
        pas[i] = pas[j], pas[j] = t;
    }
    if (cap < 3 * np + 10 + m->path_len) return 0;
    out[k++] = RZ_MZ_ADJ_START;
    for (int i = 0; i < np; i++) {
        int a = pas[i] / 2, b = a + (pas[i] % 2 ? n : 1);
        if (rz_train_rng_next(&s) & 1) { int t = a; a = b, b = t; }
        out[k++] = RZ_MZ_CELL0 + a, out[k++] = RZ_MZ_CELL0 + b, out[k++] = RZ_MZ_SEP;
    }
    out[k++] = RZ_MZ_ADJ_END;
    out[k++] = RZ_MZ_ORIGIN_START, out[k++] = RZ_MZ_CELL0 + m->origin, out[k++] = RZ_MZ_ORIGIN_END;
    out[k++] = RZ_MZ_TARGET_START, out[k++] = RZ_MZ_CELL0 + m->target, out[k++] = RZ_MZ_TARGET_END;
    out[k++] = RZ_MZ_PATH_START;
    for (int i = 0; i < m->path_len; i++) out[k++] = RZ_MZ_CELL0 + m->path[i];
    out[k++] = RZ_MZ_PATH_END;
    return k;
}

int rz_maze_path_start(const int *tok, int n_tok)
{
    for (int i = 0; i < n_tok; i++)
        if (tok[i] == RZ_MZ_PATH_START) return i;
    return -1;
}

const char *rz_maze_token_name(int n, int id, char buf[32])
{
    static const char *sp[RZ_MZ_CELL0] = {"<PAD>", "<MASK>", "<ADJLIST_START>", "<ADJLIST_END>", "<ORIGIN_START>",
                                          "<ORIGIN_END>", "<TARGET_START>", "<TARGET_END>", "<PATH_START>",
                                          "<PATH_END>", ";", "<RESERVED>"};
    if (id >= 0 && id < RZ_MZ_CELL0) return sp[id];
    int c = id - RZ_MZ_CELL0;
    if (id < 0 || c >= n * n) snprintf(buf, 32, "<?%d>", id);
    else snprintf(buf, 32, "(%d,%d)", c / n, c % n);
    return buf;
}

static int cell_at(const rz_maze *m, const int *tok, int n_tok, int i, rz_err *e)
{
    int N = m->n * m->n;
    if (i >= n_tok) return rz_fail(e, RZ_EINPUT, "maze tokens: the sequence ends at %d, a cell expected", i), -1;
    int c = tok[i] - RZ_MZ_CELL0;
    if (c < 0 || c >= N)
        return rz_fail(e, RZ_EINPUT, "maze tokens: position %d: id %d is not a cell of a %dx%d maze", i, tok[i],
                       m->n, m->n), -1;
    return c;
}

static int expect(const int *tok, int n_tok, int i, int id, rz_err *e)
{
    char b[32];
    if (i >= n_tok || tok[i] != id)
        return rz_fail(e, RZ_EINPUT, "maze tokens: position %d: expected %s", i, rz_maze_token_name(0, id, b));
    return 0;
}

int rz_maze_parse(rz_maze *m, const int *tok, int n_tok, rz_err *e)
{
    int n = m->n, N = n * n, i = 0;
    memset(m->open, 0, (size_t)N);
    m->n_passages = 0;
    if (expect(tok, n_tok, i++, RZ_MZ_ADJ_START, e)) return RZ_EINPUT;
    while (i < n_tok && tok[i] != RZ_MZ_ADJ_END) {
        int a = cell_at(m, tok, n_tok, i, e), b = a < 0 ? -1 : cell_at(m, tok, n_tok, i + 1, e);
        if (a < 0 || b < 0) return RZ_EINPUT;
        int lo = a < b ? a : b, hi = a < b ? b : a;
        if (!((hi == lo + 1 && lo % n != n - 1) || hi == lo + n))
            return rz_fail(e, RZ_EINPUT, "maze tokens: position %d: cells %d and %d are not neighbours", i, a, b);
        uint8_t bit = hi == lo + 1 ? RZ_MZ_RIGHT : RZ_MZ_DOWN;
        if (m->open[lo] & bit) return rz_fail(e, RZ_EINPUT, "maze tokens: position %d: passage listed twice", i);
        m->open[lo] |= bit;
        m->n_passages++;
        if (expect(tok, n_tok, i + 2, RZ_MZ_SEP, e)) return RZ_EINPUT;
        i += 3;
    }
    if (expect(tok, n_tok, i++, RZ_MZ_ADJ_END, e) || expect(tok, n_tok, i++, RZ_MZ_ORIGIN_START, e))
        return RZ_EINPUT;
    if ((m->origin = cell_at(m, tok, n_tok, i++, e)) < 0) return RZ_EINPUT;
    if (expect(tok, n_tok, i++, RZ_MZ_ORIGIN_END, e) || expect(tok, n_tok, i++, RZ_MZ_TARGET_START, e))
        return RZ_EINPUT;
    if ((m->target = cell_at(m, tok, n_tok, i++, e)) < 0) return RZ_EINPUT;
    if (expect(tok, n_tok, i++, RZ_MZ_TARGET_END, e) || expect(tok, n_tok, i++, RZ_MZ_PATH_START, e))
        return RZ_EINPUT;
    m->path_len = 0;
    while (i < n_tok && tok[i] != RZ_MZ_PATH_END) {
        if (m->path_len >= N) return rz_fail(e, RZ_EINPUT, "maze tokens: position %d: path longer than %d cells", i, N);
        int c = cell_at(m, tok, n_tok, i++, e);
        if (c < 0) return RZ_EINPUT;
        m->path[m->path_len++] = c;
    }
    if (expect(tok, n_tok, i++, RZ_MZ_PATH_END, e)) return RZ_EINPUT;
    for (; i < n_tok; i++)
        if (tok[i] != RZ_MZ_PAD) return rz_fail(e, RZ_EINPUT, "maze tokens: position %d: only padding may follow <PATH_END>", i);
    return 0;
}
