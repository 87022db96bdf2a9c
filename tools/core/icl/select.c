/* select.c — sampling, top-k and ordering for demonstration selection (select.h). */
#include "select.h"

#include <math.h>
#include <stdlib.h>

#include "rng.h"

uint64_t rz_icl_rand(uint64_t *s) { return rz_splitmix64(s); /* util/rng.h */ }

long rz_icl_rand_below(uint64_t *s, long n)
{
    /* 64x64 -> high 64 bits: bias below n / 2^64, negligible for pool sizes */
    return (long)(((unsigned __int128)rz_icl_rand(s) * (uint64_t)n) >> 64);
}

void rz_icl_sample(long n, int k, uint64_t seed, long *out)
{
    /* partial Fisher-Yates over an implicit identity permutation: swaps kept in out
     * and a small open list, O(k^2) but k is at most a few thousand */
    uint64_t s = seed ^ 0x5851F42D4C957F2DULL;
    long *from = malloc((size_t)k * sizeof *from), *to = malloc((size_t)k * sizeof *to);
    int ns = 0;
    for (int i = 0; i < k; i++) {
        long j = i + rz_icl_rand_below(&s, n - i);
        /* value at position j and at position i of the permuted array */
        long vj = j, vi = i;
        for (int t = 0; t < ns; t++) {
            if (from[t] == j) vj = to[t];
            if (from[t] == i) vi = to[t];
        }
        out[i] = vj;
        /* position j now holds vi */
        int found = 0;
        for (int t = 0; t < ns; t++)
            if (from[t] == j) to[t] = vi, found = 1;
        if (!found) from[ns] = j, to[ns] = vi, ns++;
    }
    free(from);
    free(to);
}

double rz_icl_cosine(const float *a, const float *b, int dim)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < dim; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0.0;
}

static const double *sort_key;
static int cmp_key(const void *x, const void *y)
{
    long a = *(const long *)x, b = *(const long *)y;
    if (sort_key[a] != sort_key[b]) return sort_key[a] < sort_key[b] ? -1 : 1;
    return (a > b) - (a < b);
}

void rz_icl_sort_by(long *idx, int k, const double *key)
{
    sort_key = key;
    qsort(idx, (size_t)k, sizeof *idx, cmp_key);
}

void rz_icl_topk(const double *score, long n, int k, long skip, long *out)
{
    /* selection into a k-list kept sorted best-first; then reversed (best last) */
    int m = 0;
    for (long i = 0; i < n; i++) {
        if (i == skip) continue;
        /* better: higher score, or equal score and lower index (i grows, so never) */
        int pos = m;
        while (pos > 0 && score[out[pos - 1]] < score[i]) pos--;
        if (pos >= k) continue;
        int last = m < k ? m : k - 1;
        for (int t = last; t > pos; t--) out[t] = out[t - 1];
        out[pos] = i;
        if (m < k) m++;
    }
    for (int a = 0, b = m - 1; a < b; a++, b--) {
        long t = out[a];
        out[a] = out[b];
        out[b] = t;
    }
}
