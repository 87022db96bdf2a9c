/* maze_ckpt.h — rz-maze checkpoints: one "maze_checkpoint" record (the maze size, the
 * objective, the model shape, the training options and position), then the model's
 * tensors ("tensor" records named as in .rzm files, f32) and, in a training checkpoint,
 * the AdamW moments ("adamw.m", "adamw.v": [n_params] f32 over the model's parameter
 * block), then "end". A checkpoint is also the trained model rz-maze eval reads.
 * Everything a run needs to continue bit for bit is in it (field by field in
 * schemas/maze.md).
 */
#ifndef RZ_MAZE_CKPT_H
#define RZ_MAZE_CKPT_H

#include <stdint.h>

#include "adamw.h"
#include "llama.h"
#include "stream.h"

#define RZ_MAZE_CKPT_VERSION 1

typedef struct {
    int n;           /* lattice size: vocab = rz_maze_vocab(n) */
    int objective;   /* RZ_MZ_NEXT / RZ_MZ_MLMU */
    int keys;        /* RZ_MZ_KEYS_ALL / _VISIBLE (mlmu.h); absent in a checkpoint: all */
    int arch;        /* RZ_MZ_ARCH_ENC / _PAST (mlmu.h); absent in a checkpoint: enc */
    int dec_layers;  /* past: the last dec_layers of config.n_layers are the decoder; enc: 0 */
    rz_llama_config config;
    int64_t step;    /* optimizer updates done */
    int64_t total;   /* steps of the schedule */
    int64_t batch, micro;
    uint64_t seed;
    uint64_t samples; /* training samples consumed (the data cursor) */
    uint64_t set_id;  /* rz_maze_set_id of the training set */
    rz_adamw_opts opt;
    double loss;      /* mean loss of the last step */
    double init_std;  /* a new model's weights: 0 = the reference's (see maze_train.h),
                       * > 0 = N(0, init_std); not stored (a resumed run has its weights) */
    double init_shared; /* a new model's token embeddings share a common vector with this
                         * weight (rz_maze_init_weights); 0 = none; not stored either */
} rz_maze_ckpt;

/* Writes info, m's tensors and (opt non-NULL) the moments. */
int rz_maze_ckpt_save(const char *loc, const rz_stream_opts *o, const rz_maze_ckpt *info, rz_llama *m,
                      const rz_adamw *opt, rz_err *e);
/* Reads a checkpoint: info, a new model (*m) and, when opt is non-NULL, the moments
 * (opt initialised here for the model's n_params; a checkpoint without moments is then
 * an error). Every field is validated (RZ_EINPUT naming the file, record and field);
 * every tensor must appear once with its shape. */
int rz_maze_ckpt_load(const char *loc, const rz_stream_opts *o, rz_maze_ckpt *info, rz_llama **m, rz_adamw *opt,
                      rz_err *e);

#endif
