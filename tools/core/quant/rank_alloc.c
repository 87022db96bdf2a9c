/* rank_alloc.c — the multiple-choice knapsack of rank allocation (see rank_alloc.h). */
#include "rank_alloc.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int rz_rank_knapsack(const rz_rank_choice *items, int count, double budget_bits, long max_cells, int *choice_out,
                     double *bits_out, double *cost_out, rz_err *e)
{
    if (count < 1 || !items) return rz_fail(e, RZ_EINPUT, "rank allocation: no matrices");
    if (!isfinite(budget_bits) || budget_bits < 0)
        return rz_fail(e, RZ_EINPUT, "rank allocation: budget %g bits must be finite and >= 0", budget_bits);
    if (max_cells <= 0) max_cells = 1L << 20;
    double base = 0, span = 0; /* Σ cheapest bits; Σ (largest − cheapest) */
    for (int i = 0; i < count; i++) {
        const rz_rank_choice *it = &items[i];
        if (it->ncand < 1 || it->ncand > 255 || !it->bits || !it->cost)
            return rz_fail(e, RZ_EINPUT, "rank allocation: matrix %d: %d candidates (expected 1 to 255)", i, it->ncand);
        double lo = INFINITY, hi = 0;
        for (int j = 0; j < it->ncand; j++) {
            if (!isfinite(it->bits[j]) || it->bits[j] < 0 || !isfinite(it->cost[j]))
                return rz_fail(e, RZ_EINPUT, "rank allocation: matrix %d candidate %d: bits %g, cost %g (expected "
                               "finite, bits >= 0)", i, j, it->bits[j], it->cost[j]);
            lo = fmin(lo, it->bits[j]), hi = fmax(hi, it->bits[j]);
        }
        base += lo, span += hi - lo;
    }
    if (base > budget_bits * (1 + 1e-12))
        return rz_fail(e, RZ_EINPUT, "rank allocation: budget %.0f bits is below the %.0f the cheapest candidates need",
                       budget_bits, base);
    /* free bits above the cheapest choices, in units of u bits: cells 0 … C */
    double free_bits = fmax(0.0, budget_bits - base);
    double u = fmax(1.0, ceil(fmin(free_bits, span) / (double)max_cells)), top = 0; /* top: Σ largest units */
    for (int i = 0; i < count; i++) {
        double lo = INFINITY, hi = 0;
        for (int j = 0; j < items[i].ncand; j++) lo = fmin(lo, items[i].bits[j]), hi = fmax(hi, items[i].bits[j]);
        top += ceil((hi - lo) / u - 1e-9);
    }
    long C = (long)fmin(floor(free_bits / u + 1e-9), top);
    /* best[c] = least Σ cost over matrices 0 … i spending exactly ≤ c units; back[i][c] */
    double *best = malloc(sizeof(double) * (size_t)(C + 1)), *next = malloc(sizeof(double) * (size_t)(C + 1));
    uint8_t *back = malloc((size_t)count * (size_t)(C + 1));
    long *units = malloc(sizeof(long) * 256);
    if (!best || !next || !back || !units) {
        free(best), free(next), free(back), free(units);
        return rz_fail(e, RZ_EINTERNAL, "rank allocation: out of memory for %d x %ld cells", count, C + 1);
    }
    for (long c = 0; c <= C; c++) best[c] = 0.0;
    for (int i = 0; i < count; i++) {
        const rz_rank_choice *it = &items[i];
        double lo = INFINITY;
        for (int j = 0; j < it->ncand; j++) lo = fmin(lo, it->bits[j]);
        for (int j = 0; j < it->ncand; j++) /* extra units, rounded up (a tiny slack for exact multiples) */
            units[j] = (long)ceil((it->bits[j] - lo) / u - 1e-9);
        uint8_t *bk = back + (size_t)i * (size_t)(C + 1);
        for (long c = 0; c <= C; c++) {
            double v = INFINITY;
            int arg = 0;
            for (int j = 0; j < it->ncand; j++) {
                if (units[j] > c) continue;
                double t = best[c - units[j]] + it->cost[j];
                if (t < v || (t == v && it->bits[j] < it->bits[arg])) v = t, arg = j;
            }
            next[c] = v;
            bk[c] = (uint8_t)arg;
        }
        double *sw = best;
        best = next, next = sw;
    }
    /* best[C] is the optimum; walk back */
    long c = C;
    double bits = 0, cost = 0;
    for (int i = count - 1; i >= 0; i--) {
        const rz_rank_choice *it = &items[i];
        int j = back[(size_t)i * (size_t)(C + 1) + (size_t)c];
        double lo = INFINITY;
        for (int t = 0; t < it->ncand; t++) lo = fmin(lo, it->bits[t]);
        c -= (long)ceil((it->bits[j] - lo) / u - 1e-9);
        choice_out[i] = j;
    }
    for (int i = 0; i < count; i++) /* in matrix order */
        bits += items[i].bits[choice_out[i]], cost += items[i].cost[choice_out[i]];
    free(best), free(next), free(back), free(units);
    if (bits_out) *bits_out = bits;
    if (cost_out) *cost_out = cost;
    return 0;
}
