/* stats.c — IQM and its percentile-bootstrap interval (see stats.h for the contract). */
#include <math.h>
#include <stdlib.h>

#include "rng.h"
#include "stats.h"

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Interquartile mean of v[0..n) (NaNs dropped); NaN if none. */
double rl_iqm(const double *v, int n)
{
    double w[256];
    int m = 0;
    for (int i = 0; i < n && m < 256; i++)
        if (!isnan(v[i])) w[m++] = v[i];
    if (!m) return NAN;
    qsort(w, m, sizeof *w, cmp_double);
    int cut = m / 4;
    double s = 0;
    for (int i = cut; i < m - cut; i++) s += w[i];
    return s / (m - 2 * cut);
}

void rl_bootstrap_ci(const double *v, int n, double *lo, double *hi)
{
    enum { R = 2000 };
    static double boots[R];
    rz_rng rng;
    rz_rng_seed(&rng, 12345);
    double tmp[256];
    for (int r = 0; r < R; r++) {
        for (int i = 0; i < n; i++) tmp[i] = v[rz_rng_int(&rng, n)];
        boots[r] = rl_iqm(tmp, n);
    }
    qsort(boots, R, sizeof *boots, cmp_double);
    *lo = boots[(int)(0.025 * R)];
    *hi = boots[(int)(0.975 * R) - 1];
}
