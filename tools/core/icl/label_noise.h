/* label_noise.h — noisy demonstration labels (the label-noise ablation of ICL studies).
 *
 * Of n demonstrations exactly f = round(rate · n) are chosen with rz_icl_sample(n, f, s)
 * and each gets a label drawn uniformly from the task's OTHER n_labels − 1 labels, from
 * the same splitmix64 state s continued (so one seed per record fixes the whole draw).
 * rate = 0 changes nothing; rate = 1 flips every label.
 */
#ifndef RZ_ICL_LABEL_NOISE_H
#define RZ_ICL_LABEL_NOISE_H

#include <stdint.h>

#include "rz.h"

/* Flips labels in lab[n] (each in [0, n_labels)) in place; returns the number flipped,
 * or a negative rz code (e set) when n_labels < 2 and something was to be flipped, or
 * on allocation failure. */
int rz_icl_flip_labels(int *lab, int n, int n_labels, double rate, uint64_t s, rz_err *e);

#endif
