/* rank_alloc.h — the exact rank allocation under a bit budget: one candidate per matrix
 * (a multiple-choice knapsack), for any objective that adds over matrices.
 *
 * Matrix i has candidates j = 0 … ncand−1, each with its exact stored bits b_ij (Q and
 * L, R with their scales, as the record will count them) and its cost c_ij in the
 * objective (a measured end-loss change, a proxy loss, …). Chosen: j_i minimising
 * Σ_i c_{i j_i} subject to Σ_i b_{i j_i} ≤ budget.
 *
 * Method: dynamic programming over the bits spent above the cheapest choice. Bits are
 * counted in units of u ≥ 1 bit, u the smallest integer that keeps the table at most
 * max_cells wide; every extra cost is rounded UP to whole units, so the result never
 * exceeds the budget. With u = 1 and integer bit counts (what records have) the result
 * is the exact optimum; with u > 1 it is the optimum of a budget at most count·u bits
 * tighter (each matrix's rounding is below one unit). Ties: the smaller bit count, then
 * the lower candidate index — deterministic. Unlike a greedy by error drop per bit it
 * needs no convexity of the curves: measured loss curves are noisy and need not be
 * convex or even monotone.
 *
 * Memory: count · (cells + 1) bytes of back-pointers plus two rows of doubles.
 */
#ifndef RZ_RANK_ALLOC_H
#define RZ_RANK_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "rz.h"

typedef struct {
    int ncand;          /* ≥ 1, at most 255 */
    const double *bits; /* [ncand] stored bits of the whole matrix at each candidate, ≥ 0 */
    const double *cost; /* [ncand] the objective's term, finite */
} rz_rank_choice;

/* choice_out[count] receives j_i; bits_out (Σ bits) and cost_out (Σ cost) may be NULL.
 * max_cells ≤ 0: 1 << 20. RZ_EINPUT: the cheapest choices exceed the budget, bad lists. */
int rz_rank_knapsack(const rz_rank_choice *items, int count, double budget_bits, long max_cells, int *choice_out,
                     double *bits_out, double *cost_out, rz_err *e);

/* The non-increasing least-squares fit of one curve: out[n] minimises Σ_j (out_j − y_j)²
 * subject to out_0 ≥ out_1 ≥ … ≥ out_{n−1} (isotonic regression in the candidate order,
 * i.e. in rank: more rank never costs more loss). Pool-adjacent-violators: adjacent
 * blocks whose means rise are merged into their mean, O(n) amortised. A measured curve
 * that rises between two ranks (the probe's and the quantiser seed's noise: the extra
 * rank cannot hurt the fit, caldera.h's best-of tracking) is flattened to the mean of the
 * offending values, so the knapsack cannot buy a rank for a dip that is only noise
 * against its neighbours. Equal weights; out may alias y; n ≥ 1 (n ≤ 255 as the
 * knapsack's lists). Idempotent: a non-increasing curve is returned unchanged. */
void rz_rank_monotone(const double *y, int n, double *out);

/* Reading back measured curves: the --json report of an earlier `rz-lowrank --budget`
 * run (its "curves": per matrix an array of [rank, value] pairs in increasing rank;
 * "objective"; "model_hash" as 16 hex digits; "layers" = count). The curves do not
 * depend on the budget, so allocations at other budgets reuse them. Fills
 * cand_rk[count·max_cands], value[count·max_cands] and cand_n[count]. RZ_EINPUT, naming
 * the field and what was expected, for anything else: another objective or model, a
 * different count, a curve longer than max_cands, ranks not increasing or negative,
 * values not finite. */
int rz_rank_curves_parse(const char *json, size_t n, const char *objective, uint64_t model_hash, int count,
                         int max_cands, int *cand_rk, double *value, int *cand_n, rz_err *e);

#endif
