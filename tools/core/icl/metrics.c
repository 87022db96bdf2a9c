/* metrics.c — accuracy, macro-F1, bootstrap CIs, contextual calibration (metrics.h). */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>

#include "select.h"

double rz_icl_accuracy(const int *gold, const int *pred, long n)
{
    long ok = 0;
    for (long i = 0; i < n; i++) ok += gold[i] == pred[i];
    return n ? (double)ok / (double)n : 0;
}

double rz_icl_macro_f1(const int *gold, const int *pred, long n, int L)
{
    double sum = 0;
    int used = 0;
    for (int c = 0; c < L; c++) {
        long tp = 0, fp = 0, fn = 0;
        for (long i = 0; i < n; i++) {
            tp += gold[i] == c && pred[i] == c;
            fp += gold[i] != c && pred[i] == c;
            fn += gold[i] == c && pred[i] != c;
        }
        if (tp + fp + fn == 0) continue; /* label absent from both */
        sum += 2.0 * (double)tp / (double)(2 * tp + fp + fn);
        used++;
    }
    return used ? sum / used : 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void rz_icl_bootstrap(const int *gold, const int *pred, long n, int L, int B, uint64_t seed, double ci[4])
{
    double *acc = malloc((size_t)B * sizeof *acc), *f1 = malloc((size_t)B * sizeof *f1);
    int *g = malloc((size_t)n * sizeof *g), *p = malloc((size_t)n * sizeof *p);
    if (!acc || !f1 || !g || !p || n == 0 || B < 2) {
        ci[0] = ci[1] = ci[2] = ci[3] = NAN;
        free(acc), free(f1), free(g), free(p);
        return;
    }
    uint64_t s = seed;
    for (int b = 0; b < B; b++) {
        for (long i = 0; i < n; i++) {
            long j = rz_icl_rand_below(&s, n);
            g[i] = gold[j];
            p[i] = pred[j];
        }
        acc[b] = rz_icl_accuracy(g, p, n);
        f1[b] = rz_icl_macro_f1(g, p, n, L);
    }
    qsort(acc, (size_t)B, sizeof *acc, cmp_d);
    qsort(f1, (size_t)B, sizeof *f1, cmp_d);
    long lo = (long)floor(0.025 * (B - 1)), hi = (long)ceil(0.975 * (B - 1));
    ci[0] = acc[lo], ci[1] = acc[hi], ci[2] = f1[lo], ci[3] = f1[hi];
    free(acc), free(f1), free(g), free(p);
}

int rz_icl_calibrate(const double *logp, const double *logp_cf, int L, double *q)
{
    double mx = -INFINITY;
    for (int c = 0; c < L; c++) {
        q[c] = logp[c] - (logp_cf ? logp_cf[c] : 0);
        if (q[c] > mx) mx = q[c];
    }
    double z = 0;
    for (int c = 0; c < L; c++) z += (q[c] = exp(q[c] - mx));
    int best = 0;
    for (int c = 0; c < L; c++) {
        q[c] /= z;
        if (q[c] > q[best]) best = c;
    }
    return best;
}
