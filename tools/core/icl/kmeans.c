/* kmeans.c — k-means++ seeding and Lloyd's algorithm (kmeans.h). */
#include "kmeans.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

double rz_kmeans_dist2(const float *x, const double *c, int dim)
{
    double s = 0;
    for (int i = 0; i < dim; i++) {
        double d = (double)x[i] - c[i];
        s += d * d;
    }
    return s;
}

static int nearest(const float *x, const double *cent, int k, int dim)
{
    int best = 0;
    double bd = rz_kmeans_dist2(x, cent, dim);
    for (int c = 1; c < k; c++) {
        double d = rz_kmeans_dist2(x, cent + (size_t)c * dim, dim);
        if (d < bd) bd = d, best = c;
    }
    return best;
}

int rz_kmeans_seed(const float *x, long n, int dim, int k, uint64_t seed, long *out)
{
    /* d2[p]: squared distance of point p to its nearest chosen centre; a chosen point
     * has 0 and so is never drawn again (unless every point is at distance 0) */
    double *d2 = malloc((size_t)n * sizeof *d2);
    if (!d2) return -1;
    rz_rng r;
    rz_rng_seed(&r, seed);
    out[0] = (long)(rz_rng_uniform(&r) * (double)n);
    for (long p = 0; p < n; p++) d2[p] = INFINITY;
    for (int c = 1; c < k; c++) {
        const float *last = x + (size_t)out[c - 1] * dim;
        double total = 0;
        for (long p = 0; p < n; p++) {
            double d = 0;
            for (int i = 0; i < dim; i++) {
                double t = (double)x[(size_t)p * dim + i] - last[i];
                d += t * t;
            }
            if (d < d2[p]) d2[p] = d;
            total += d2[p];
        }
        long pick = -1;
        if (total > 0) {
            /* the first point whose running sum passes u (sums in point order) */
            double u = rz_rng_uniform(&r) * total, run = 0;
            for (long p = 0; p < n && pick < 0; p++)
                if (d2[p] > 0 && (run += d2[p]) > u) pick = p;
            for (long p = n - 1; pick < 0; p--) /* u rounded up to the total */
                if (d2[p] > 0) pick = p;
        } else {
            /* every point sits on a chosen centre: the next unchosen index, so the k
             * seeds stay distinct points (Lloyd's then leaves some clusters empty) */
            for (long p = 0; p < n && pick < 0; p++) {
                int used = 0;
                for (int j = 0; j < c; j++) used |= out[j] == p;
                if (!used) pick = p;
            }
        }
        out[c] = pick;
    }
    free(d2);
    return 0;
}

int rz_kmeans(const float *x, long n, int dim, int k, uint64_t seed, int max_iter, double *cent, int *assign,
              rz_err *e)
{
    if (k < 1 || k > n || dim < 1) return rz_fail(e, RZ_EINPUT, "k-means: k = %d clusters for %ld points", k, n), -1;
    long *init = malloc((size_t)k * sizeof *init);
    long *count = calloc((size_t)k, sizeof *count);
    if (!init || !count || rz_kmeans_seed(x, n, dim, k, seed, init)) {
        free(init);
        free(count);
        return rz_fail(e, RZ_EINTERNAL, "out of memory (k-means)"), -1;
    }
    for (int c = 0; c < k; c++)
        for (int i = 0; i < dim; i++) cent[(size_t)c * dim + i] = x[(size_t)init[c] * dim + i];
    for (long p = 0; p < n; p++) assign[p] = -1;
    int it;
    for (it = 0; it < max_iter; it++) {
        long changed = 0;
        for (long p = 0; p < n; p++) {
            int c = nearest(x + (size_t)p * dim, cent, k, dim);
            changed += c != assign[p];
            assign[p] = c;
        }
        if (!changed) break;
        /* means, in point order (deterministic) */
        memset(count, 0, (size_t)k * sizeof *count);
        double *sum = calloc((size_t)k * dim, sizeof *sum);
        if (!sum) {
            free(init);
            free(count);
            return rz_fail(e, RZ_EINTERNAL, "out of memory (k-means)"), -1;
        }
        for (long p = 0; p < n; p++) {
            count[assign[p]]++;
            for (int i = 0; i < dim; i++) sum[(size_t)assign[p] * dim + i] += x[(size_t)p * dim + i];
        }
        for (int c = 0; c < k; c++)
            if (count[c])
                for (int i = 0; i < dim; i++) cent[(size_t)c * dim + i] = sum[(size_t)c * dim + i] / (double)count[c];
        free(sum);
    }
    free(init);
    free(count);
    return it;
}

void rz_kmeans_medoids(const float *x, long n, int dim, int k, const double *cent, const int *assign, long *out)
{
    double *best = malloc((size_t)k * sizeof *best);
    for (int c = 0; c < k; c++) out[c] = -1;
    for (long p = 0; p < n; p++) {
        int c = assign[p];
        double d = rz_kmeans_dist2(x + (size_t)p * dim, cent + (size_t)c * dim, dim);
        if (out[c] < 0 || d < best[c]) best[c] = d, out[c] = p;
    }
    free(best);
}
