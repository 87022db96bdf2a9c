/* bm25.h — Okapi BM25 over whitespace tokens (lower-cased ASCII letters, digits kept,
 * everything else a separator), the embedding-free relevance baseline:
 *   score(q, d) = sum over query terms t of idf(t) (f (k1 + 1)) / (f + k1 (1 - b + b |d| / avgdl))
 *   idf(t) = log(1 + (N - n_t + 0.5) / (n_t + 0.5)),  k1 = 1.5, b = 0.75 (Lucene's form)
 * with f the count of t in d, repeated query terms counted once per occurrence.
 */
#ifndef RZ_ICL_BM25_H
#define RZ_ICL_BM25_H

#include "rz.h"

typedef struct rz_bm25 rz_bm25;

int rz_bm25_new(const char *const *docs, long n, rz_bm25 **out, rz_err *e);
/* score[0..n) of every document for the query. */
void rz_bm25_score(const rz_bm25 *b, const char *query, double *score);
void rz_bm25_free(rz_bm25 *b);

#endif
