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
 */
#ifndef RZ_RL_STATS_H
#define RZ_RL_STATS_H

double rl_iqm(const double *v, int n);
void rl_bootstrap_ci(const double *v, int n, double *lo, double *hi);

#endif
