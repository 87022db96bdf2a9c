/* kmeans.h — Lloyd's k-means on n points x[n][dim] (float), for diverse demonstrations.
 *
 * Initialisation: k-means++ (Arthur & Vassilvitskii 2007; rz_kmeans_seed): the first
 * centre a point drawn uniformly, each next one a point drawn with probability
 * proportional to its squared distance to the nearest centre chosen so far (random
 * draws from rz_rng seeded by seed). Then repeat: assign
 * every point to its nearest centroid (squared Euclidean distance in double; ties: lower
 * centroid index), recompute each centroid as its points' mean (an empty cluster keeps
 * its centroid), until no assignment changes or max_iter rounds. At return the
 * assignment is a fixed point of the assignment step for the returned centroids
 * whenever the return value is < max_iter (converged).
 */
#ifndef RZ_ICL_KMEANS_H
#define RZ_ICL_KMEANS_H

#include <stdint.h>

#include "rz.h"

/* centroids[k][dim], assign[n]. Returns the rounds run, or -1 (e) on bad sizes. */
int rz_kmeans(const float *x, long n, int dim, int k, uint64_t seed, int max_iter, double *centroids, int *assign,
              rz_err *e);
/* The k-means++ seeds: out[k] distinct point indices (k <= n). Returns 0, or -1 when
 * out of memory. */
int rz_kmeans_seed(const float *x, long n, int dim, int k, uint64_t seed, long *out);
/* For each cluster c, the point assigned to c nearest its centroid (or -1 if empty). */
void rz_kmeans_medoids(const float *x, long n, int dim, int k, const double *centroids, const int *assign,
                       long *out);
/* Squared distance of point x[dim] to centroid c[dim]. */
double rz_kmeans_dist2(const float *x, const double *c, int dim);

#endif
