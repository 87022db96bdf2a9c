/* obsnorm.h — running observation normalisation (Meta Motivo's `norm_obs`: a
 * BatchNorm1d without affine parameters, momentum 0.01, read in eval mode).
 *
 * State: 2·n floats, the running mean[n] then the running variance var[n]; a fresh
 * state is mean 0, var 1 (BatchNorm's initial running statistics).
 * Update with a batch X (m × n, m ≥ 2 rows), as BatchNorm1d does in training mode:
 *     μ_b = Σ_i x_i / m,   v_b = Σ_i (x_i − μ_b)² / (m − 1)   (unbiased, per column)
 *     mean ← (1 − mom)·mean + mom·μ_b,   var ← (1 − mom)·var + mom·v_b
 * Apply (eval mode): y = (x − mean) / √(var + RL_OBSNORM_EPS).
 * The reference updates twice per training batch (its observations, then its next
 * observations), then normalises every network input with the updated statistics;
 * acting and inference read the same statistics without updating them (online.h).
 * Sums are accumulated in double, so the result does not depend on the row order
 * beyond rounding of the final float.
 */
#ifndef RZ_RL_OBSNORM_H
#define RZ_RL_OBSNORM_H

#define RL_OBSNORM_EPS 1e-5
#define RL_OBSNORM_MOMENTUM 0.01

void rl_obsnorm_init(float *st, int n);
void rl_obsnorm_update(float *st, int n, int m, const float *X, double momentum);
/* Y may alias X. */
void rl_obsnorm_apply(const float *st, int n, int m, const float *X, float *Y);
/* −1 when every mean is finite and every variance finite and ≥ 0, else the index
 * (0 … 2n − 1) of the first value that is not. */
int rl_obsnorm_check(const float *st, int n);

#endif
