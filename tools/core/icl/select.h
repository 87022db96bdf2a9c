/* select.h — choosing demonstrations for a test item (Baek et al. 2024's strategies).
 *
 * Every selector returns k pool indices in PROMPT ORDER: rz-icl pack keeps the last ones
 * that fit its budget (nearest the query), so the order says what matters most.
 *   random      seeded sample without replacement (partial Fisher-Yates over
 *               splitmix64); with one seed for all items it is one cacheable set
 *   relevance   the k largest cosines cos(q, x_i) = q.x_i / (|q| |x_i|), ascending, so
 *               the most similar sits next to the query (ties: lower index first)
 *   bm25        the same ordering by BM25 score (bm25.h), the embedding-free baseline
 *   diversity   k-means (kmeans.h), the pool item nearest each centroid
 *   curriculum  a random sample ordered easy -> hard by the model's loss on each item
 *   hard        the k items of highest loss, easiest of them first
 * A zero vector has cosine 0 with everything.
 */
#ifndef RZ_ICL_SELECT_H
#define RZ_ICL_SELECT_H

#include <stdint.h>

/* splitmix64 step; uniform integer in [0, n) by rejection-free multiply-shift. */
uint64_t rz_icl_rand(uint64_t *state);
long rz_icl_rand_below(uint64_t *state, long n);

/* k distinct indices of [0, n) (k <= n), seeded, in draw order. */
void rz_icl_sample(long n, int k, uint64_t seed, long *out);
/* Cosine similarity of a[dim], b[dim] in double. */
double rz_icl_cosine(const float *a, const float *b, int dim);
/* The k best of score[0..n) (largest; ties: lower index), written in ascending score
 * order (best last). skip >= 0 is excluded (the test item itself when pool == test). */
void rz_icl_topk(const double *score, long n, int k, long skip, long *out);
/* idx[0..k) sorted by key ascending (ties: lower index first), in place. */
void rz_icl_sort_by(long *idx, int k, const double *key);

#endif
