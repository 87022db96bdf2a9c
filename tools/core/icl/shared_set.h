/* shared_set.h — the demonstration sets that every test item shares (rz-icl select's
 * random without --per-item, curriculum, hard and diversity), built from select.h's
 * sampling and ordering and kmeans.h's clusters, and the --pool-max subset of the pool.
 */
#ifndef RZ_ICL_SHARED_SET_H
#define RZ_ICL_SHARED_SET_H

#include <stdint.h>

#include "rz.h"

/* The pool items in use: all n (ids = 0..n-1), or when 0 < max < n a sample of max of
 * them (rz_icl_sample on its own stream of seed) in ascending order. ids holds n
 * entries; returns the count. */
long rz_icl_pool_subset(long n, long max, uint64_t seed, long *ids);

/* The methods that give every test item the same set. */
typedef enum { RZ_ICL_SET_RANDOM, RZ_ICL_SET_CURRICULUM, RZ_ICL_SET_HARD, RZ_ICL_SET_DIVERSITY } rz_icl_set_method;
/* That set in prompt order, as pool ids: ids[j] is the pool id of item j of the m in
 * use. random: rz_icl_sample(m, k, seed); curriculum: the same sample ordered by
 * loss[m] ascending; hard: the k highest losses, easiest first; diversity: k-means of
 * emb[m][dim] (seeded, at most 100 rounds), the medoid of each non-empty cluster, in
 * ascending id order. loss / emb may be NULL for the methods that do not read them.
 * Returns the set's size (k; fewer for diversity when clusters are empty) or -1 (e);
 * *iters = the k-means rounds (0 for the others). 1 ≤ k ≤ m. */
int rz_icl_shared_set(rz_icl_set_method method, long m, int k, uint64_t seed, const long *ids, const double *loss,
                      const float *emb, int dim, long *out, int *iters, rz_err *e);

#endif
