/* shared_set.c — the shared demonstration sets and the pool subset (shared_set.h). */
#include "shared_set.h"

#include <assert.h>
#include <stdlib.h>

#include "kmeans.h"
#include "select.h"

static int cmp_long(const void *x, const void *y)
{
    long a = *(const long *)x, b = *(const long *)y;
    return (a > b) - (a < b);
}

long rz_icl_pool_subset(long n, long max, uint64_t seed, long *ids)
{
    long m = max > 0 && max < n ? max : n;
    if (m == n) {
        for (long i = 0; i < n; i++) ids[i] = i;
    } else {
        rz_icl_sample(n, (int)m, seed ^ 0x706f6f6cULL /* "pool" */, ids);
        qsort(ids, (size_t)m, sizeof *ids, cmp_long);
    }
    return m;
}

int rz_icl_shared_set(rz_icl_set_method method, long m, int k, uint64_t seed, const long *ids, const double *loss,
                      const float *emb, int dim, long *out, int *iters, rz_err *e)
{
    assert(k >= 1 && k <= m);
    *iters = 0;
    switch (method) {
    case RZ_ICL_SET_RANDOM:
    case RZ_ICL_SET_CURRICULUM:
        rz_icl_sample(m, k, seed, out);
        if (method == RZ_ICL_SET_CURRICULUM) rz_icl_sort_by(out, k, loss); /* easy -> hard */
        break;
    case RZ_ICL_SET_HARD: rz_icl_topk(loss, m, k, -1, out); break;
    case RZ_ICL_SET_DIVERSITY: {
        double *cent = rz_malloc((size_t)k * (size_t)dim * sizeof *cent, e);
        int *assign = cent ? rz_malloc((size_t)m * sizeof *assign, e) : NULL;
        int rounds = assign ? rz_kmeans(emb, m, dim, k, seed, 100, cent, assign, e) : -1;
        if (rounds >= 0) rz_kmeans_medoids(emb, m, dim, k, cent, assign, out);
        free(cent);
        free(assign);
        if (rounds < 0) return -1;
        *iters = rounds;
        int kk = 0;
        for (int c = 0; c < k; c++)
            if (out[c] >= 0) out[kk++] = ids[out[c]];
        qsort(out, (size_t)kk, sizeof *out, cmp_long); /* empty clusters give no demonstration */
        return kk;
    }
    }
    for (int j = 0; j < k; j++) out[j] = ids[out[j]];
    return k;
}
