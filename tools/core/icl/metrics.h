/* metrics.h — classification metrics for in-context learning runs.
 *
 * accuracy = mean(pred == gold). Macro-F1 = mean over labels c in [0, L) that occur in
 * gold or pred of F1_c = 2 TP / (2 TP + FP + FN) (sklearn's f1_score(average='macro')
 * over the labels present). Bootstrap: B resamples of the n items with replacement
 * (splitmix64 from seed), each metric's 2.5 and 97.5 percentiles (sorted values at
 * floor(0.025 (B-1)) and ceil(0.975 (B-1))): a percentile 95% CI.
 * Contextual calibration (Zhao et al. 2021): with p = softmax(logp) the label
 * probabilities for the item and p_cf those for the content-free input,
 *     q = normalise(p / p_cf) = softmax(logp - logp_cf)
 * (W = diag(p_cf)^-1, b = 0 in the paper's notation); the prediction is argmax q.
 */
#ifndef RZ_ICL_METRICS_H
#define RZ_ICL_METRICS_H

#include <stdint.h>

double rz_icl_accuracy(const int *gold, const int *pred, long n);
double rz_icl_macro_f1(const int *gold, const int *pred, long n, int n_labels);
/* ci[0..1] accuracy, ci[2..3] macro-F1. */
void rz_icl_bootstrap(const int *gold, const int *pred, long n, int n_labels, int B, uint64_t seed, double ci[4]);
/* q[L] = softmax(logp - logp_cf) (logp_cf NULL: softmax(logp)); returns argmax q. */
int rz_icl_calibrate(const double *logp, const double *logp_cf, int L, double *q);

#endif
