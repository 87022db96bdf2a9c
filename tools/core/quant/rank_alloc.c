/* rank_alloc.c — the multiple-choice knapsack of rank allocation (see rank_alloc.h). */
#include "rank_alloc.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

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

void rz_rank_monotone(const double *y, int n, double *out)
{
    /* blocks [start[b], start[b+1]) with mean mean[b] and size size[b], means
     * non-increasing from block to block; a new value that rises above the last block's
     * mean is merged with it (and the merge repeated backwards) */
    double mean[256];
    int size[256], nb = 0;
    if (n < 1 || n > 255) return;
    for (int j = 0; j < n; j++) {
        mean[nb] = y[j], size[nb] = 1, nb++;
        while (nb > 1 && mean[nb - 2] < mean[nb - 1]) {
            int s = size[nb - 2] + size[nb - 1];
            mean[nb - 2] = (mean[nb - 2] * size[nb - 2] + mean[nb - 1] * size[nb - 1]) / s;
            size[nb - 2] = s;
            nb--;
        }
    }
    for (int b = 0, j = 0; b < nb; b++)
        for (int t = 0; t < size[b]; t++) out[j++] = mean[b];
}

/* ---- curves from an earlier report ---------------------------------------------------- */

static const msgpack_object *map_get(const msgpack_object *o, const char *key)
{
    if (o->type != MSGPACK_OBJECT_MAP) return NULL;
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl && !memcmp(k->via.str.ptr, key, kl))
            return &o->via.map.ptr[i].val;
    }
    return NULL;
}

static int as_double(const msgpack_object *o, double *v)
{
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) *v = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) *v = (double)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) *v = (double)o->via.i64;
    else return 0;
    return isfinite(*v);
}

static int curves_check(const msgpack_object *root, const char *objective, uint64_t model_hash, int count,
                        int max_cands, int *cand_rk, double *value, int *cand_n, rz_err *e)
{
    const msgpack_object *ob = map_get(root, "objective"), *mh = map_get(root, "model_hash"),
                         *cv = map_get(root, "curves");
    if (!ob || ob->type != MSGPACK_OBJECT_STR || ob->via.str.size != strlen(objective) ||
        memcmp(ob->via.str.ptr, objective, ob->via.str.size))
        return rz_fail(e, RZ_EINPUT, "curves: field 'objective': expected \"%s\"", objective);
    char want[17];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)model_hash);
    if (!mh || mh->type != MSGPACK_OBJECT_STR || mh->via.str.size != 16 || memcmp(mh->via.str.ptr, want, 16))
        return rz_fail(e, RZ_EINPUT, "curves: field 'model_hash': expected \"%s\" (this model and Hessians)", want);
    if (!cv || cv->type != MSGPACK_OBJECT_ARRAY || cv->via.array.size != (uint32_t)count)
        return rz_fail(e, RZ_EINPUT, "curves: field 'curves': expected an array of %d curves, one per matrix", count);
    for (int i = 0; i < count; i++) {
        const msgpack_object *c = &cv->via.array.ptr[i];
        if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size < 1 || c->via.array.size > (uint32_t)max_cands)
            return rz_fail(e, RZ_EINPUT, "curves: field 'curves[%d]': expected 1 to %d [rank, value] pairs", i,
                           max_cands);
        cand_n[i] = (int)c->via.array.size;
        for (int j = 0; j < cand_n[i]; j++) {
            const msgpack_object *p = &c->via.array.ptr[j];
            double r, v;
            if (p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size != 2 || !as_double(&p->via.array.ptr[0], &r) ||
                !as_double(&p->via.array.ptr[1], &v) || r != floor(r) || r < 0 || r > 1e6 ||
                (j > 0 && r <= cand_rk[i * max_cands + j - 1]))
                return rz_fail(e, RZ_EINPUT, "curves: field 'curves[%d][%d]': expected [rank, value] with an integer "
                               "rank above the previous one and a finite value", i, j);
            cand_rk[i * max_cands + j] = (int)r;
            value[i * max_cands + j] = v;
        }
    }
    return 0;
}

int rz_rank_curves_parse(const char *json, size_t n, const char *objective, uint64_t model_hash, int count,
                         int max_cands, int *cand_rk, double *value, int *cand_n, rz_err *e)
{
    msgpack_sbuffer buf;
    msgpack_unpacked root;
    int rc = rz_json_parse(json, n, &buf, &root, e);
    if (!rc) rc = curves_check(&root.data, objective, model_hash, count, max_cands, cand_rk, value, cand_n, e);
    msgpack_unpacked_destroy(&root);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}
