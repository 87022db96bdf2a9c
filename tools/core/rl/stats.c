/* stats.c — IQM and its percentile-bootstrap interval (see stats.h for the contract). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

void rl_best_init(rl_best *b)
{
    b->score = -INFINITY;
    b->step = -1;
}

int rl_best_update(rl_best *b, int64_t step, double score)
{
    if (!(score > b->score)) return 0; /* ties and NaN keep the earlier checkpoint */
    b->score = score;
    b->step = step;
    return 1;
}

int rl_kv_line(const char *line, size_t n, char *key, size_t keycap, double *v)
{
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    size_t tab = n;
    while (tab > 0 && line[tab - 1] != '\t') tab--;
    if (tab < 2 || tab - 1 >= keycap || tab == n || n - tab >= 64) return -1; /* no key, too long, no value */
    if (memchr(line, '\0', n)) return -1;
    char num[64];
    memcpy(num, line + tab, n - tab);
    num[n - tab] = '\0';
    char *end;
    *v = strtod(num, &end);
    if (end == num || *end) return -1;
    memcpy(key, line, tab - 1);
    key[tab - 1] = '\0';
    return 0;
}
