/* kmeans.c — Lloyd's algorithm (kmeans.h). */
#include "kmeans.h"

#include <stdlib.h>
#include <string.h>

#include "select.h"

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

int rz_kmeans(const float *x, long n, int dim, int k, uint64_t seed, int max_iter, double *cent, int *assign,
              rz_err *e)
{
    if (k < 1 || k > n || dim < 1) return rz_fail(e, RZ_EINPUT, "k-means: k = %d clusters for %ld points", k, n), -1;
    long *init = malloc((size_t)k * sizeof *init);
    long *count = calloc((size_t)k, sizeof *count);
    if (!init || !count) {
        free(init);
        free(count);
        return rz_fail(e, RZ_EINTERNAL, "out of memory (k-means)"), -1;
    }
    rz_icl_sample(n, k, seed, init);
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
