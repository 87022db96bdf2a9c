/* bm25.c — BM25 with a hashed vocabulary and per-document term lists (bm25.h). */
#include "bm25.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define K1 1.5
#define B 0.75

typedef struct {
    long term; /* vocabulary id */
    int count;
} tf;

struct rz_bm25 {
    long n, vocab, cap;     /* documents; terms; hash slots (power of two) */
    char **word;            /* [cap] hash table of terms (NULL = empty) */
    long *id;               /* [cap] term id of the slot */
    long *df;               /* [vocab] documents containing the term */
    tf **terms;             /* [n] each document's distinct terms */
    int *nterms, *len;      /* [n] */
    double avgdl;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* next token of s at *p into w (cap bytes); 0 when none is left */
static int next_word(const char *s, size_t *p, char *w, size_t cap)
{
    size_t i = *p, k = 0;
    while (s[i] && !isalnum((unsigned char)s[i])) i++;
    if (!s[i]) return *p = i, 0;
    while (s[i] && isalnum((unsigned char)s[i])) {
        if (k + 1 < cap) w[k++] = (char)tolower((unsigned char)s[i]);
        i++;
    }
    w[k] = 0;
    *p = i;
    return 1;
}

/* term id of w, -1 if absent (add = 0) */
static long lookup(rz_bm25 *b, const char *w, int add)
{
    uint64_t h = hash(w) & (uint64_t)(b->cap - 1);
    while (b->word[h]) {
        if (!strcmp(b->word[h], w)) return b->id[h];
        h = (h + 1) & (uint64_t)(b->cap - 1);
    }
    if (!add || b->vocab * 2 >= b->cap) return -1;
    b->word[h] = strdup(w);
    b->id[h] = b->vocab;
    b->df[b->vocab] = 0;
    return b->vocab++;
}

int rz_bm25_new(const char *const *docs, long n, rz_bm25 **out, rz_err *e)
{
    rz_bm25 *b = rz_calloc(1, sizeof *b, e);
    if (!b) return RZ_EINTERNAL;
    b->n = n;
    size_t words = 0;
    for (long d = 0; d < n; d++) words += strlen(docs[d]) / 2 + 1;
    b->cap = 1024;
    while ((size_t)b->cap < 2 * words + 2) b->cap *= 2;
    b->word = calloc((size_t)b->cap, sizeof *b->word);
    b->id = calloc((size_t)b->cap, sizeof *b->id);
    b->df = calloc((size_t)b->cap / 2 + 1, sizeof *b->df);
    b->terms = calloc((size_t)n, sizeof *b->terms);
    b->nterms = calloc((size_t)n, sizeof *b->nterms);
    b->len = calloc((size_t)n, sizeof *b->len);
    if (!b->word || !b->id || !b->df || !b->terms || !b->nterms || !b->len) {
        rz_bm25_free(b);
        return rz_fail(e, RZ_EINTERNAL, "out of memory (bm25)");
    }
    char w[256];
    double total = 0;
    for (long d = 0; d < n; d++) {
        size_t p = 0, cap = 16;
        tf *t = malloc(cap * sizeof *t);
        int nt = 0;
        while (t && next_word(docs[d], &p, w, sizeof w)) {
            long id = lookup(b, w, 1);
            int k = 0;
            while (k < nt && t[k].term != id) k++;
            if (k == nt) {
                if ((size_t)nt == cap) {
                    tf *g = realloc(t, 2 * cap * sizeof *t);
                    if (!g) break;
                    t = g, cap *= 2;
                }
                t[nt++] = (tf){id, 0};
                b->df[id]++;
            }
            t[k].count++;
            b->len[d]++;
        }
        if (!t) {
            rz_bm25_free(b);
            return rz_fail(e, RZ_EINTERNAL, "out of memory (bm25)");
        }
        b->terms[d] = t;
        b->nterms[d] = nt;
        total += b->len[d];
    }
    b->avgdl = n ? total / (double)n : 1;
    if (b->avgdl <= 0) b->avgdl = 1;
    *out = b;
    return 0;
}

void rz_bm25_score(const rz_bm25 *b, const char *query, double *score)
{
    for (long d = 0; d < b->n; d++) score[d] = 0;
    char w[256];
    size_t p = 0;
    while (next_word(query, &p, w, sizeof w)) {
        long id = lookup((rz_bm25 *)b, w, 0);
        if (id < 0) continue;
        double N = (double)b->n, nt = (double)b->df[id];
        double idf = log(1 + (N - nt + 0.5) / (nt + 0.5));
        for (long d = 0; d < b->n; d++)
            for (int k = 0; k < b->nterms[d]; k++)
                if (b->terms[d][k].term == id) {
                    double f = b->terms[d][k].count;
                    score[d] += idf * f * (K1 + 1) / (f + K1 * (1 - B + B * b->len[d] / b->avgdl));
                    break;
                }
    }
}

void rz_bm25_free(rz_bm25 *b)
{
    if (!b) return;
    for (long i = 0; i < b->cap && b->word; i++) free(b->word[i]);
    for (long d = 0; d < b->n && b->terms; d++) free(b->terms[d]);
    free(b->word);
    free(b->id);
    free(b->df);
    free(b->terms);
    free(b->nterms);
    free(b->len);
    free(b);
}
