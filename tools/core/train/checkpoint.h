/* checkpoint.h — training checkpoints and adapter streams of rz-finetune
 * (field by field in schemas/train.md).
 *
 * A checkpoint is a record stream: one "train_checkpoint" record (step, data cursor, RNG
 * state, the identity of the frozen model, the training shape), then "tensor" records:
 * every adapter's L and R and their AdamW moments, f32, then "end". Everything a run
 * needs to continue bit for bit is in it; the frozen model is not (it is named by its
 * identity, an FNV-1a hash of config + frozen weights, so a checkpoint of another model
 * is rejected).
 *
 * An adapter stream ("lora_adapters" record, then L and R tensors) is the trained
 * result alone, for merging or inspection.
 */
#ifndef RZ_TRAIN_CHECKPOINT_H
#define RZ_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "adamw.h"
#include "stream.h"
#include "lora.h"

#define RZ_TRAIN_CKPT_VERSION 1
#define RZ_ADAPTERS_VERSION 1

typedef struct {
    int64_t step;       /* optimizer updates done */
    int64_t total;      /* steps of the run (schedule length) */
    rz_data_cursor cur; /* next data position and generator state */
    uint64_t model_id;  /* rz_llama_identity (RZ_ID_CHECKPOINT) of the frozen model */
    int64_t batch, micro, ctx;
    int rank[RZ_LIN_PER_LAYER];
    double loss;        /* mean loss of the last step */
} rz_ckpt_info;

/* Writes info, a's L and R and opt's moments (opt->n == a->n_params). */
int rz_ckpt_save(const char *loc, const rz_stream_opts *o, const rz_ckpt_info *info, const rz_lora *a,
                 const rz_adamw *opt, rz_err *e);
/* Reads a checkpoint into info, a and opt (a made with the checkpoint's ranks, opt for
 * a->n_params). Rejects (RZ_EINPUT, naming the file and record) another record type, a
 * model_id other than expect_id, ranks other than a's, missing, repeated, unknown or
 * misshapen tensors. opt->step is set to info->step. */
int rz_ckpt_load(const char *loc, const rz_stream_opts *o, uint64_t expect_id, rz_ckpt_info *info, rz_lora *a,
                 rz_adamw *opt, rz_err *e);
/* Adapter stream: "lora_adapters" (model_id, n_layers, rank) then L and R tensors. */
int rz_adapters_save(const char *loc, const rz_stream_opts *o, uint64_t model_id, const rz_lora *a, rz_err *e);
/* Reads one into a (same ranks); expect_id 0 skips the model check. */
int rz_adapters_load(const char *loc, const rz_stream_opts *o, uint64_t expect_id, rz_lora *a, rz_err *e);

#endif
