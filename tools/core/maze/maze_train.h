/* maze_train.h — one rz-maze training run's state: the model (a Llama-architecture
 * transformer sized for the maze vocabulary), its full-parameter gradient, the training
 * core of lora.h (all ranks 0: no adapters; rz_lora_full_grads), AdamW, the sample
 * cursor; and the data-parallel evaluation of a held-out set.
 *
 * One step: rz_maze_step_grad (mlmu.h) → global-norm clip + AdamW with warm-up and
 * cosine decay over model->params (the whole parameter block, gradient in the same
 * layout). A checkpoint taken after any step resumes to the same bits.
 */
#ifndef RZ_MAZE_TRAIN_H
#define RZ_MAZE_TRAIN_H

#include "maze_ckpt.h"
#include "mlmu.h"

typedef struct {
    rz_maze_ckpt info;  /* shape, options and position (what a checkpoint holds) */
    rz_llama *model, *grad;
    rz_lora *lora;      /* ranks 0: the training core's view of model */
    rz_train *t;        /* micro sequences of set->T */
    rz_adamw adam;
    rz_maze_cursor cur;
    double *acc;
    int *tokens, *targets;
    const rz_maze_set *set;
} rz_maze_trainer;

/* Scales a random model (rz_llama_random: every matrix N(0, 0.02²), norms 1) to the
 * initialisation of the MLM-U reference, PyTorch's defaults for nn.Linear (uniform on
 * ±1/√fan_in, so std 1/√(3·fan_in)) on every matrix, fan_in = its columns (the
 * embedding too: the reference ties it to the classifier). std (> 0) instead gives every
 * matrix N(0, std²). Why it matters: at dim 64 the 0.02 of GPT-2's dim-768 recipe
 * makes q·k ≈ 0 and the attention uniform, a plateau that MLM-U — whose masked queries
 * must find their neighbours by position before anything else — sits on far longer
 * than next-token (pipeline/maze.md). */
void rz_maze_init_weights(rz_llama *m, double std, double shared, uint64_t seed);
/* shared = a in (0, 1): then every token embedding row becomes √(1 − a²)·row + a·c with one
 * vector c (N(0, std²) per element, drawn from seed), so each row keeps its std and any two
 * rows have cosine ≈ a². Why: the reference's blocks have biases (Linear and LayerNorm), so
 * every query and key has a token-independent part from the first step, and attention by
 * relative position alone (RoPE) — what an MLM-U <MASK> query needs to find the cells
 * beside it — is one bias away. The Llama block here has no bias; a shared direction in
 * every token's embedding gives its queries and keys that part instead. Measured
 * (pipeline/maze.md): MLM-U leaves its ln 25 plateau earlier, but at A = 0.9 ends a
 * 1,500-step run far below A = 0, so rz-maze's default is 0. */

/* A random model for set (vocab from set->n, seq_len = set->T) with info's shape, or
 * (resume != NULL) the checkpoint's model, moments and position; info's options must then
 * match the checkpoint's (objective, keys, batch, micro, seed, training set, model shape) or
 * RZ_EINPUT names the differing field. */
int rz_maze_trainer_new(rz_maze_trainer *tr, const rz_maze_ckpt *info, const rz_maze_set *set, const char *resume,
                        const rz_stream_opts *so, rz_err *e);
void rz_maze_trainer_free(rz_maze_trainer *tr);
/* One optimizer step; loss, gradient norm and rate of the step. */
int rz_maze_trainer_step(rz_maze_trainer *tr, double *loss, double *gnorm, double *lr, rz_err *e);
int rz_maze_trainer_save(rz_maze_trainer *tr, const char *loc, const rz_stream_opts *so, int with_moments, rz_err *e);

/* Whether decoding runs through the KV cache: next-token (no PAST decoder) unless full
 * asks for the full-forward reference. */
int rz_maze_uses_cache(int objective, int dec_layers, int full);
/* Decodes and scores sequences [lo, hi) of set with model (its last dec_layers layers the
 * PAST decoder, mlmu.h; 0: enc): rz_maze_decode_cached when rz_maze_uses_cache, else
 * rz_maze_decode with B sequences per forward. pred as theirs (or NULL). Scores ADD
 * into sc. */
int rz_maze_decode_model(rz_llama *model, int dec_layers, const rz_maze_set *set, int objective, int keys, int full,
                         long lo, long hi, int B, int *pred, rz_maze_score *sc, rz_err *e);
/* Decodes and scores the first `count` sequences of set (0: all) as rz_maze_decode_model;
 * under mpirun every rank takes a contiguous block and the counts are summed (identical
 * on every rank). */
int rz_maze_evaluate(rz_llama *model, int dec_layers, const rz_maze_set *set, int objective, int keys, int full,
                     long count, int B, rz_maze_score *sc, rz_err *e);
/* The same split and sum for the teacher-forced single steps of rz_maze_step_scores
 * (mlmu.h) on the first `count` sequences; st is overwritten. */
int rz_maze_evaluate_steps(rz_llama *model, int dec_layers, const rz_maze_set *set, int objective, int keys,
                           long count, int B, rz_maze_steps *st, rz_err *e);

#endif
