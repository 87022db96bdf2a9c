/* lora_caldera.h — CALDERA initialisation of LoRA adapters (the CALDERA paper's
 * "LR initialisation for fine-tuning"): every linear W of the frozen model is fitted as
 * W ≈ Q + L R (tools/core/quant/caldera.h); Q replaces W (it becomes the frozen part)
 * and L, R start the adapters, so training starts from the compressed model's own
 * low-rank correction rather than from zero.
 *
 * Without incoherence, so that Q, L and R are in the model's own basis, and with L, R in
 * float32 (they are trained). The fit weighs errors by H: the identity, or the Gram
 * matrix XᵀX / N of each matrix's inputs (calib.h's rz_gram_*) on one forward of the
 * original model over the first batch of the data.
 */
#ifndef RZ_LORA_CALDERA_H
#define RZ_LORA_CALDERA_H

#include <stddef.h>
#include <stdint.h>

#include "lora.h"

typedef struct {
    int q_method, q_bits; /* Q's quantiser (RZ_CQ_*) and bits */
    int outer;            /* CALDERA outer iterations */
    uint64_t seed;
    int batch, ctx;       /* batch > 0: data Hessians from batch × ctx tokens; 0: identity */
} rz_lora_caldera_opts;

/* Fits every matrix of lo (n_layers × RZ_LIN_PER_LAYER, in that order), writing Q into
 * the base model's matrix and L, R into the adapter. ids[n] are the training tokens
 * (read from the data cursor at 0; unused for the identity). progress(ctx, done, total,
 * linear index, relative error) after each matrix, or NULL. */
int rz_lora_caldera_init(rz_lora *lo, const rz_lora_caldera_opts *o, const int *ids, size_t n,
                         void (*progress)(void *ctx, int done, int total, long lin, double rel), void *ctx, rz_err *e);

#endif
