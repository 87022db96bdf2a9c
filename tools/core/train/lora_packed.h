/* lora_packed.h — LoRA adapters and packed models whose qlayers carry L, R (rz-lowrank,
 * CALDERA): the pairs' ranks as adapter ranks, the tuned pairs written back into the
 * packed model, and quantisation-aware training (QAT) of the pairs in their stored
 * format.
 *
 * The adapters are indexed as everywhere (l·RZ_LIN_PER_LAYER + kind, llama.h); a qlayer
 * is matched to its adapter by name (rz_lin_find).
 */
#ifndef RZ_LORA_PACKED_H
#define RZ_LORA_PACKED_H

#include "lora.h"
#include "model_io.h"
#include "qlayer.h"

/* Per-matrix ranks [n_layers · RZ_LIN_PER_LAYER] (malloc'd) from the qlayer pairs of a
 * packed model loaded with rz_model_load_lowrank; 0 for matrices without a pair;
 * *n_pairs counts the others. NULL (RZ_EINPUT naming loc) on a pair that is not one of
 * the model's linears. */
int *rz_lora_pair_ranks(const char *loc, const rz_llama *m, const rz_lowrank_adapters *ad, int *n_pairs, rz_err *e);

/* The packed model's records again into out, each qlayer with L, R re-encoded with the
 * tuned pair (rz_qlayer_replace_lowrank), everything else copied as read. With scaled
 * adapters (rz_lora_new_scaled) every linear's qlayer also gets the tuned a, b at fp16
 * as its line scales (a v3 record; RZ_EINPUT naming out_scale/in_scale when a value
 * overflows fp16); with L, R frozen (rz_lora_new_scaled's train_lr 0) the record's L, R
 * bytes are kept as they are. */
int rz_lora_write_packed(const char *model, const char *out, const rz_stream_opts *so, const rz_lora *lo, rz_err *e);

/* QAT: every pair's record (format, grids, seeds) as the packed model holds it, by
 * matrix index (rank 0: none); free each with rz_qlayer_free, then the array. NULL on
 * error. */
rz_qlayer *rz_lora_qat_templates(const char *model, const rz_stream_opts *so, const rz_lora *lo, rz_err *e);

/* QAT: lo's pairs ← the float pairs of `latent` (lo->params' layout) rounded to the
 * stored format of tm and decoded back to the original basis. */
int rz_lora_qat_round(rz_lora *lo, const float *latent, const rz_qlayer *tm, rz_err *e);

#endif
