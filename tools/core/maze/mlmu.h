/* mlmu.h — training a transformer on maze paths with next-token prediction or MLM-U
 * (Nolte et al., "Transformers Can Navigate Mazes With Multi-Step Prediction"), and
 * exact-path evaluation. Both objectives run the SAME model and training core
 * (lora.h: forward, backward with full weight gradients, rz_lora_full_grads); they
 * differ only in the attention mask and in what each sequence's inputs and targets are.
 * MLM-U may instead run the reference's PAST encoder–decoder (RZ_MZ_ARCH_PAST below),
 * still one model and one training core.
 *
 * A maze set holds sequences padded with <PAD> to T positions; region(s) = the
 * positions after <PATH_START> (path cells, <PATH_END>, padding).
 *   next-token: causal attention; input = the tokens, target at i = token i+1 when i+1
 *     is a predictable path position (the record's mask: cells and <PATH_END>), else
 *     ignored. Greedy decoding from <PATH_START>.
 *   MLM-U: bidirectional attention; per sample draw r ~ U(0,1) and mask every
 *     predictable path position (the record's mask: the cells and <PATH_END>)
 *     independently with probability r (the input becomes <MASK>, the target the true
 *     token; every other position is visible and not scored — the prompt and
 *     <PATH_START> are never masked). The positions after <PATH_END> (padding) are
 *     always <MASK> and never scored, as the reference leaves padding out of both the
 *     attention and the loss: a visible <PAD> would tell the model the path's length,
 *     which decoding never knows, and scoring it would fill most of the loss with a
 *     trivial token. Decoding: every region position starts as <MASK> and is filled
 *     left to right, one token per forward (the argmax at the first masked position),
 *     until <PATH_END>.
 * The loss of a step is the mean NLL over the scored positions of its global batch.
 *
 * Sample order and masks are functions of (seed, sample number k): sample k uses
 * sequence perm_e[k mod S] with e = k div S and perm_e a seeded Fisher–Yates
 * permutation of the S training sequences, and its mask stream is keyed by (seed, k).
 * Nothing depends on the rank count or on how the run was cut by checkpoints.
 *
 * Data parallelism: as rz_train_step_grad (lora.h) — micro-batch j by rank j mod P,
 * rank 0 carrying the running double sum into each rank-order all-reduce, so any rank
 * count gives the bits of the one-process run.
 */
#ifndef RZ_MLMU_H
#define RZ_MLMU_H

#include <stdint.h>

#include "lora.h"
#include "maze.h"
#include "stream.h"

enum { RZ_MZ_NEXT = 0, RZ_MZ_MLMU = 1 };
extern const char *const rz_maze_objective_names[]; /* "next", "mlmu", NULL: by value */
const char *rz_maze_objective_name(int obj); /* "next", "mlmu" */
int rz_maze_objective_parse(const char *s);  /* -1 if unknown */

/* MLM-U's keys. all: every position is a key of every query, <MASK> inputs too (the
 * first version: a visible token's representation then depends on how many <MASK>s
 * follow it). visible: every query reads only the visible positions (the inputs that are
 * not <MASK>: prompt, <PATH_START>, the unmasked path tokens) plus itself — the
 * reference PAST's encoder, whose keys leave the masked positions out, built in the one
 * block (rz_train_set_hidden). Next-token is causal either way. */
enum { RZ_MZ_KEYS_ALL = 0, RZ_MZ_KEYS_VISIBLE = 1 };
extern const char *const rz_maze_keys_names[]; /* "all", "visible", NULL: by value */
const char *rz_maze_keys_name(int keys); /* "all", "visible" */
int rz_maze_keys_parse(const char *s);   /* -1 if unknown */
/* Sets t's attention for an objective and keys mode (training, decoding and single
 * steps use this one function, so they agree). */
void rz_maze_set_attention(rz_train *t, int objective, int keys);

/* The model. enc: one encoder-only stack (the --keys modes above). past: the reference's
 * PAST encoder–decoder (MLM-U only): the model's first layers are an encoder with the
 * visible keys, its last dec_layers a decoder stack with its own weights and no
 * self-attention, input one learned vector at every position (the embedding row of the
 * reserved token RZ_MZ_DEC_TOKEN, which no sequence holds), every layer cross-attending
 * to the encoder's normalised output with the encoder's key mask (the visible positions,
 * not the query's own) — lora.h's rz_train_set_decoder; the logits are the decoder's.
 * Decoding and single steps run unchanged: the keys are the prompt and the cells decoded
 * so far, the reference's all_but_last. */
enum { RZ_MZ_ARCH_ENC = 0, RZ_MZ_ARCH_PAST = 1 };
#define RZ_MZ_DEC_TOKEN RZ_MZ_RESERVED /* the decoder's input row: an id no maze holds */
extern const char *const rz_maze_arch_names[]; /* "enc", "past", NULL: by value */
const char *rz_maze_arch_name(int arch);
int rz_maze_arch_parse(const char *s); /* -1 if unknown */
/* A training core for model (all ranks 0, gradients into grad when non-NULL) holding B
 * sequences of T, with the PAST decoder on its last dec_layers layers when dec_layers > 0
 * (enc: 0). *a and *t are the caller's to free (also on failure). */
int rz_maze_core_new(rz_llama *model, rz_llama *grad, int dec_layers, int B, int T, rz_lora **a, rz_train **t,
                     rz_err *e);

typedef struct {
    int n, T;      /* lattice size, padded length */
    long count;
    int *tokens;   /* [count][T] */
    uint8_t *mask; /* [count][T] predictable path positions (the record's mask) */
    int *pstart;   /* [count] position of <PATH_START> */
    int *len;      /* [count] tokens before padding */
    int64_t *index;
} rz_maze_set;

/* Reads a maze stream (at most max_count mazes, 0 = all). n: the expected lattice size
 * (0: the first record's); T: pad length (0: the longest sequence). A record of another
 * size or longer than T is RZ_EINPUT naming the record and field. */
int rz_maze_set_load(const char *loc, const rz_stream_opts *o, int n, int T, long max_count, rz_maze_set *s,
                     rz_err *e);
void rz_maze_set_free(rz_maze_set *s);
/* FNV-1a over n, T and every sequence: the identity of a training set in checkpoints. */
uint64_t rz_maze_set_id(const rz_maze_set *s);

/* Inputs and targets (RZ_TR_IGNORE where not scored) of sample k, which uses sequence
 * seq of s. Returns the number of scored positions. */
int rz_maze_example(const rz_maze_set *s, int objective, uint64_t seed, uint64_t k, long seq, int *tokens,
                    int *targets);

/* The sample → sequence order: perm holds the permutation of epoch `epoch` (−1: none). */
typedef struct {
    uint64_t k; /* samples consumed */
    int64_t epoch;
    long *perm; /* [S] */
} rz_maze_cursor;
int rz_maze_cursor_init(rz_maze_cursor *c, long S, rz_err *e);
void rz_maze_cursor_free(rz_maze_cursor *c);
long rz_maze_cursor_seq(rz_maze_cursor *c, long S, uint64_t seed, uint64_t k);

typedef struct {
    int objective;
    int keys; /* RZ_MZ_KEYS_*; the caller sets the attention (rz_maze_set_attention) */
    uint64_t seed;
    int batch, micro; /* sequences per step (global), per micro-batch */
} rz_maze_step_opts;

/* The gradient of the step's mean loss over the next batch samples into
 * a->gbase->params (a full-gradient rz_lora, rz_lora_full_grads), the loss in *loss.
 * acc: n_params + 2 doubles; tokens, targets: micro·T ints. Advances cur->k by batch. */
int rz_maze_step_grad(rz_train *t, rz_lora *a, const rz_maze_set *s, const rz_maze_step_opts *o,
                      rz_maze_cursor *cur, double *acc, int *tokens, int *targets, double *loss, rz_err *e);

typedef struct {
    long count, exact, valid;
    long tokens; /* tokens decoded: the path cells and <PATH_END> (a path that never ends: up to T) */
} rz_maze_score;

/* Decodes the paths of sequences [lo, hi) of s (t made for up to B sequences of s->T,
 * its attention mask set here for objective and keys) and scores them: exact = the decoded path is the true
 * one token for token (ending in <PATH_END>), valid = it goes from origin to target
 * through open passages only (rz_maze_path_valid). pred (or NULL): [hi−lo][T] decoded
 * sequences. Scores ADD into sc. */
int rz_maze_decode(rz_train *t, const rz_maze_set *s, int objective, int keys, long lo, long hi, int B,
                   int *pred, rz_maze_score *sc, rz_err *e);
/* Next-token greedy decoding with a KV cache, the fast path of rz_maze_decode for the
 * causal model (objective next, no PAST decoder): per maze one rz_llama_forward of the
 * prompt through <PATH_START> keeps every layer's rotated keys and values (llama.h's
 * cache), then each step runs the one new position against them — the same model and
 * math as the training forward (lora.h: "llama.c's math"), in another summation order,
 * so the logits agree to rounding and the paths are rz_maze_decode's (tests/unit/
 * test_maze.c checks both on a trained model). pred as rz_maze_decode's; logits (or
 * NULL): [hi−lo][T][V], row p − 1 of maze q − lo = the logits that chose the token at p
 * (the other rows untouched). One maze per OpenMP iteration, each on one thread: the
 * same bits for any thread count. Scores ADD into sc. MLM-U has no cached form (see
 * rz_maze_decode in mlmu.c). */
int rz_maze_decode_cached(const rz_llama *model, const rz_maze_set *s, long lo, long hi, int *pred, float *logits,
                          rz_maze_score *sc, rz_err *e);
/* Teacher-forced single steps, the diagnosis of a model that decodes few paths: for every
 * predictable path position i (cells and <PATH_END>) of sequences [lo, hi), the
 * argmax prediction given the true path before i — MLM-U: positions ≥ i are <MASK>
 * (exactly the decoder's input at i), read at i; next-token: causal, read at i − 1.
 * steps: positions scored; right: argmax = truth; wrong_cell: wrong where the truth is
 * a cell after the first (i − 1 holds a cell); wrong_open: of those, predictions that
 * are an open neighbour of the cell at i − 1 (a legal move, the wrong branch) — the
 * rest jump through a wall or off the lattice. Rows of up to B (t made for B
 * sequences of s->T; its attention mask set here). Counts ADD into st. */
typedef struct {
    long steps, right, wrong_cell, wrong_open;
} rz_maze_steps;
int rz_maze_step_scores(rz_train *t, const rz_maze_set *s, int objective, int keys, long lo, long hi, int B,
                        rz_maze_steps *st, rz_err *e);

/* Validity of a decoded sequence against the true one (the maze is parsed from truth into
 * m, allocated for the set's n):
 * the cells after <PATH_START> up to <PATH_END>. Returns 1 valid; *exact 1 when equal. */
int rz_maze_judge(rz_maze *m, const int *truth, int truth_len, int pstart, const int *pred, int T, int *exact,
                  rz_err *e);

#endif
