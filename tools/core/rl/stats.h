/* stats.h — aggregate statistics over runs (seeds) as Agarwal et al. (NeurIPS 2021,
 * "Deep RL at the edge of the statistical precipice") recommend and Jeen et al. report:
 *
 *   rl_iqm           interquartile mean of n values: NaNs dropped, sort, drop floor(m/4)
 *                    from each end of the m left, average the rest (m = 5: the middle
 *                    three); NaN if no value is left. At most 256 values are used.
 *   rl_bootstrap_ci  95% percentile-bootstrap interval of the IQM: 2000 resamples of the
 *                    n values with replacement (fixed RNG seed 12345, so the interval is
 *                    a function of the values only), the 2.5% and 97.5% quantiles of the
 *                    resamples' IQMs. n ≤ 256.
 *   rl_best          best-checkpoint selection on a validation curve (Jeen et al.'s
 *                    reference keeps the checkpoint whose evaluation score is strictly
 *                    above every earlier one): rl_best_update returns 1 when score is a
 *                    new maximum (a tie keeps the earlier step; NaN never wins), so after
 *                    a curve the step is the first argmax of its scores.
 *   rl_kv_line       one "KEY<TAB>VALUE" line of a results table (rz-agent iqm): KEY is
 *                    everything before the last tab (non-empty, < keycap bytes, no NUL),
 *                    VALUE a whole number as strtod reads it ("nan" for a missing
 *                    score); a trailing "\n" or "\r\n" is ignored. 0, or −1 for a bad line.
 */
#ifndef RZ_RL_STATS_H
#define RZ_RL_STATS_H

#include <stdint.h>

double rl_iqm(const double *v, int n);
void rl_bootstrap_ci(const double *v, int n, double *lo, double *hi);

typedef struct {
    double score; /* −∞ until the first update */
    int64_t step; /* −1 until the first update */
} rl_best;
void rl_best_init(rl_best *b);
int rl_best_update(rl_best *b, int64_t step, double score);

#include <stddef.h>
int rl_kv_line(const char *line, size_t n, char *key, size_t keycap, double *v);

#endif
