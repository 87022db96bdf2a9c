/* lora.h — training the low-rank adapters of a Llama model: a forward pass that keeps
 * its activations, the backward pass of the whole model, and the data-parallel gradient
 * of one optimizer step (CALDERA's / LoRA's fine-tuning of L and R, everything else
 * frozen).
 *
 * Every linear layer of every block (wq, wk, wv, wo, w1, w2, w3) is
 *
 *     y[N][m] = x[N][n] · (Q + L R)ᵀ = x Qᵀ + (x Rᵀ) Lᵀ,   Q [m][n] frozen,
 *                                                         L [m][k], R [k][n] trained,
 *
 * with N = batch × time rows flattened. Q is any dense float matrix (today the loaded
 * model's weight, or a CALDERA-quantised one written into it); k may be 0 (no adapter).
 * The embedding table, RMSNorm weights and classifier are frozen too, so the backward
 * pass computes gradients with respect to activations everywhere and parameter
 * gradients only for L and R: for y = x Qᵀ + u Lᵀ, u = x Rᵀ [N][k],
 *
 *     dL [m][k] += dyᵀ u,   du [N][k] = dy L,   dR [k][n] += duᵀ x,
 *     dx [N][n]  = dy Q + du R.
 *
 * The forward is llama.c's math (RMSNorm, plain RoPE on adjacent pairs, causal grouped-
 * query attention, SwiGLU, final RMSNorm, classifier) but keeps what the backward needs:
 * per layer the block input, normalised inputs and their 1/rms, rotated q and k, v, the
 * attention probabilities [B][H][T][T], the attention output, h1 = x W1ᵀ, h3 = x W3ᵀ,
 * the SwiGLU output and every adapter's u. Attention materialises the T × T scores (no
 * streaming): training contexts are short. Every sequence of a batch starts at
 * position 0. The same blocks also make an encoder–decoder (rz_train_set_decoder: the
 * last layers cross-attend to the first layers' output, MLM-U's PAST model): the
 * attention op takes its query and its keys/values as separate arrays, so a decoder
 * layer is the same code with k, v computed from the memory instead of its own input.
 *
 * Determinism: all products are rz_matmul_nt or the NN/TN variants here, split into
 * column panels fixed by the shape (linalg.h); attention runs one (sequence, kv-head)
 * unit per OpenMP iteration with single-threaded sgemm; row-wise ops are per row. So
 * gradients are bitwise independent of the thread count.
 *
 * Data parallelism (rz_train_step_grad): the global batch of `batch` sequences is cut
 * into micro-batches of `micro` sequences; the gradient of each micro-batch is computed
 * in float and the step's gradient is their sum in double in micro-batch order. Under
 * mpirun micro-batch j is computed by rank j mod P in round j / P, and each round is
 * one rz_cluster_allreduce_sum in which rank 0 contributes (running sum + its
 * micro-batch): the fixed rank-order sum then performs exactly the additions of the
 * one-process loop, so `mpirun -np P` gives bit-identical L and R for the same
 * --batch/--micro.
 */
#ifndef RZ_TRAIN_H
#define RZ_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "llama.h"
#include "rope.h"
#include "rz.h"

/* The adapted matrices of a block are its seven linears, in llama.h's order (RZ_LIN_*,
 * RZ_LIN_PER_LAYER of them, named by rz_lin_name). */

/* One adapted linear layer y = x (Q + L R)ᵀ. */
typedef struct {
    int m, n, k;      /* out, in, rank (k = 0: plain frozen linear) */
    const float *Q;   /* [m][n] frozen */
    float *L, *R;     /* [m][k], [k][n]: point into rz_lora.params */
    float *dL, *dR;   /* their gradients: point into rz_lora.grads */
    float *dQ;        /* [m][n] gradient of Q, or NULL (Q frozen): rz_lora_full_grads */
    /* Diagonal scales around the linear (rz_lora_new_scaled; NULL: none):
     * y = sa ⊙ ((x ⊙ sb) (Q + L R)ᵀ) — the RHT sign vectors of a CALDERA/QuIP# layer
     * tuned as floats (they sit outermost, on either side of the Hadamard transforms). */
    float *sa, *sb;   /* [m] output scale a, [n] input scale b: point into params */
    float *dsa, *dsb; /* their gradients (grads) */
} rz_adapter;

/* All adapters of a model. params holds every L and R back to back (per layer, per
 * matrix in RZ_LIN_* order, L then R), grads the same layout: the optimizer, the
 * all-reduce and checkpoints treat them as one vector. */
typedef struct {
    rz_llama *base;   /* frozen: embeddings, norms, classifier; adapter Q's point into it */
    int n_layers;
    int rank[RZ_LIN_PER_LAYER]; /* per kind: the largest rank of that kind over the layers (equal
                             to every layer's with rz_lora_new) */
    rz_adapter *ad;   /* [n_layers * RZ_LIN_PER_LAYER] */
    float *params, *grads;
    size_t n_params;
    int scaled;       /* every adapter has sa, sb (rz_lora_new_scaled) */
    float *fixed;     /* L, R when they are frozen (rz_lora_new_scaled, train_lr 0): not in params */
    rz_llama *gbase;  /* full-parameter training: the gradient of every tensor of base
                         (same config and layout), or NULL (base frozen) */
} rz_lora;

/* Adapters of rank[kind] for each matrix kind (0 ≤ rank ≤ min(m, n)), all zero, with Q
 * pointing at base's weights (base is not copied; it must outlive the rz_lora). */
int rz_lora_new(rz_llama *base, const int rank[RZ_LIN_PER_LAYER], rz_lora **out, rz_err *e);
/* Per-matrix ranks: ranks[l·RZ_LIN_PER_LAYER + kind] for layer l (any may be 0; e.g. the
 * pairs of a packed CALDERA model, rz_model_load_lowrank). */
int rz_lora_new_ranks(rz_llama *base, const int *ranks, rz_lora **out, rz_err *e);
/* rz_lora_new_ranks plus the scales a [m], b [n] of every matrix (all 1: the adapted
 * model starts equal to Q + L R). params: with train_lr, every L, R in
 * rz_lora_new_ranks's layout followed by every matrix's a then b (in matrix order);
 * without, a and b alone (L, R then live in lo->fixed, frozen: their gradients are not
 * computed, ad->dL = ad->dR = NULL). The scales' gradients, with z = (x ⊙ b)(Q + L R)ᵀ
 * the unscaled output and dz = dy ⊙ a:
 *     da_i = Σ_t dy_ti z_ti,   db_j = Σ_t x_tj (dz_t (Q + L R))_j,
 * and L, R's gradients are rz_tr_linear_bwd's with input x ⊙ b and output gradient dz. */
int rz_lora_new_scaled(rz_llama *base, const int *ranks, int train_lr, rz_lora **out, rz_err *e);
void rz_lora_free(rz_lora *a);
rz_adapter *rz_lora_at(const rz_lora *a, int layer, int kind);
/* LoRA's initialisation: L = 0, R uniform in ±1/sqrt(n) (kaiming-uniform, as LoRA's A),
 * from a counter-based generator keyed by seed: the adapted model starts equal to base. */
void rz_lora_init_lora(rz_lora *a, uint64_t seed);
/* Full-parameter training: from now on the backward also ADDS the gradient of every
 * tensor of a->base (embeddings, norms, classifier, every Q) into g's matching tensor;
 * g must have base's config (rz_llama_alloc). With all ranks 0 this trains the whole
 * model: the optimizer updates base->params with g->params (same layout, padding stays
 * 0). The extra products: dQ [m][n] += dyᵀ x per linear, dOut [V][dim] += dlogitsᵀ xf,
 * dw_i += Σ_t dy_ti x_ti r_t per RMSNorm weight, and embedding rows dE[tok] += dx0. */
int rz_lora_full_grads(rz_lora *a, rz_llama *g, rz_err *e);
/* Writes W = Q + L R (scaled: diag(a) (Q + L R) diag(b)) into out's matrices (out has base's config; out may be base itself,
 * then Q is overwritten). */
void rz_lora_merge(const rz_lora *a, rz_llama *out);

/* ---- the training forward and backward --------------------------------------------- */

typedef struct rz_train rz_train;

/* Activations and gradients for up to max_B sequences of exactly T positions (T ≤ the
 * model's seq_len). Allocated once; every step reuses them. */
int rz_train_new(const rz_lora *a, int max_B, int T, rz_train **out, rz_err *e);
void rz_train_free(rz_train *t);
size_t rz_train_bytes(const rz_train *t); /* memory held */
int rz_train_ctx(const rz_train *t);       /* T */
int rz_train_max_batch(const rz_train *t); /* max_B */

/* Attention mask of the forward and backward: causal = 1 (the default, a decoder: key j
 * ≤ query i) or 0 (bidirectional, every key visible: an encoder, as MLM-U trains). */
void rz_train_set_causal(rz_train *t, int causal);
/* Key mask by input token (id ≥ 0; −1, the default, turns it off): every query attends
 * only to the positions whose input is not id, plus itself — so the positions holding id
 * are no key to any other position, and a query among them reads the rest alone (with
 * causal = 0: MLM-U's "visible keys", an encoder over the visible tokens whose masked
 * queries read it layer by layer, as XLNet's query stream with shared weights). The
 * mask is made from each forward's tokens and kept for its backward. */
void rz_train_set_hidden(rz_train *t, int id);

/* The PAST encoder–decoder (Nolte et al.'s MLM-U model): layers [0, enc_layers) of the
 * model are the encoder, layers [enc_layers, n_layers) a decoder stack with its own
 * weights and no self-attention. The memory is the encoder's output normalised,
 * mem = rmsnorm(x[enc_layers]) with weight 1 (the reference's ln_f; its scale is
 * absorbed by the decoder's key and value matrices); the decoder's input at every
 * position is the embedding row of `token` (a learned vector: give it an id no sequence
 * holds); every decoder layer is a block whose attention takes its query from the
 * decoder stream (wq of rmsnorm(x)) and its keys and values from the memory (wk, wv of
 * mem), RoPE at the query's and the key's positions, with the encoder's key mask
 * (rz_train_set_hidden) and no self key (rz_tr_attn_fwd_keys, self = 0); then the usual
 * SwiGLU block, and the model's final norm and classifier read the decoder's output.
 * The backward sums every decoder layer's ∂/∂mem, takes it through the memory norm into
 * the encoder's output and on down the encoder; the decoder token's embedding row gets
 * the sum of its rows' gradients. Set once after rz_train_new (1 ≤ enc_layers <
 * n_layers); RZ_EINPUT otherwise. */
int rz_train_set_decoder(rz_train *t, int enc_layers, int token, rz_err *e);

/* A target of RZ_TR_IGNORE is not scored: its row adds nothing to the NLL and gets a zero
 * gradient (loss on some positions only, e.g. the path tokens of a maze). */
#define RZ_TR_IGNORE (-1)

/* Forward of B sequences tokens[B][T] (row b = sequence b). With targets[B][T], *nll_sum
 * = Σ −log p(target) over the B·T positions (double; RZ_TR_IGNORE targets skipped).
 * Returns RZ_EINPUT for B or an id out of range. */
int rz_train_forward(rz_train *t, const int *tokens, const int *targets, int B, double *nll_sum);
/* logits [B*T][vocab] of the last forward (until the next backward, which overwrites them). */
const float *rz_train_logits(const rz_train *t);
/* The saved input [N][width] of matrix kind in layer l in the last forward (N = B·T):
 * what the linear multiplied, e.g. for per-layer Hessians XᵀX/N. */
const float *rz_train_layer_input(const rz_train *t, int l, int kind, int *N, int *width);
/* Backward of scale · Σ NLL of the last forward: ADDS dL, dR into a->grads. */
void rz_train_backward(rz_train *t, float scale);
/* Any other loss of the logits (distillation, distill.h): write ∂loss/∂logits [B*T][vocab]
 * over the last forward's logits (rz_train_dlogits: the same buffer, so read the logits
 * first), then rz_train_backward_logits ADDS dL, dR into a->grads as rz_train_backward. */
float *rz_train_dlogits(rz_train *t);
void rz_train_backward_logits(rz_train *t);

/* ---- the ops, exposed for the gradient tests ---------------------------------------- */

/* out[N][n] = w ⊙ x / rms(x) per row, inv[N] = 1/sqrt(mean x² + eps). */
void rz_tr_rmsnorm_fwd(float *out, float *inv, const float *x, const float *w, int N, int n, float eps);
/* dx[N][n] += ∂/∂x of Σ dout ⊙ out. */
void rz_tr_rmsnorm_bwd(float *dx, const float *dout, const float *x, const float *w, const float *inv, int N, int n);
/* dw[n] += ∂/∂w of Σ dout ⊙ out = Σ_t dout_t ⊙ x_t · inv_t (rows summed in order). */
void rz_tr_rmsnorm_bwd_w(float *dw, const float *dout, const float *x, const float *inv, int N, int n);
/* Rotates every head (hs wide) of rows v[B*T][width] (row stride ld) in place, row b*T+t
 * at position t with r's tables; inverse = 1 applies the transpose (the backward). */
void rz_tr_rope(float *v, int ld, int width, int B, int T, const rz_rope *r, int inverse);
/* Attention: q [B*T][nh*hs], k, v [B*T][nkv*hs] (rotated), att [B][nh][T][T]
 * probabilities, out [B*T][nh*hs]; logits q·k·scale. causal = 1: key j ≤ query i (att 0
 * above the diagonal); 0: every key (bidirectional). keys (or NULL) [B][T]: further, query
 * i of sequence b sees key j only when keys[b][j] ≠ 0 or j = i (att exactly 0 elsewhere). */
void rz_tr_attn_fwd_mask(float *out, float *att, const float *q, const float *k, const float *v, int B, int T,
                         int nh, int nkv, int hs, float scale, int causal, const uint8_t *keys);
/* dq, dk, dv (overwritten) from dout and the saved att, q, k, v; scratch: T*T floats for
 * each of nthr OpenMP threads (the loop runs on at most nthr threads). */
void rz_tr_attn_bwd_mask(float *dq, float *dk, float *dv, float *scratch, int nthr, const float *dout,
                         const float *att, const float *q, const float *k, const float *v, int B, int T, int nh,
                         int nkv, int hs, float scale, int causal, const uint8_t *keys);
/* The same two with the query's own key optional: self = 1 is the two above (query i
 * always sees key i); self = 0 drops that exception, so with keys query i sees exactly
 * the keys[b][j] ≠ 0 (a row with none is all zeros, and so are its gradients) — a
 * cross-attention whose queries come from one stream and keys and values from another
 * (the PAST decoder, rz_train_set_decoder), as q and k, v are separate arrays anyway. */
void rz_tr_attn_fwd_keys(float *out, float *att, const float *q, const float *k, const float *v, int B, int T,
                         int nh, int nkv, int hs, float scale, int causal, const uint8_t *keys, int self);
void rz_tr_attn_bwd_keys(float *dq, float *dk, float *dv, float *scratch, int nthr, const float *dout,
                         const float *att, const float *q, const float *k, const float *v, int B, int T, int nh,
                         int nkv, int hs, float scale, int causal, const uint8_t *keys, int self);
/* g[N][hid] = silu(a) ⊙ b;  backward: da, db (overwritten) from dg. */
void rz_tr_swiglu_fwd(float *g, const float *a, const float *b, int N, int hid);
void rz_tr_swiglu_bwd(float *da, float *db, const float *dg, const float *a, const float *b, int N, int hid);
/* y[N][m] (= or += when accumulate) x Qᵀ + u Lᵀ with u[N][k] = x Rᵀ stored. */
void rz_tr_linear_fwd(float *y, int accumulate, float *u, const float *x, const rz_adapter *ad, int N);
/* dx[N][n] (= or += when accumulate) dy Q + du R; ad->dL += dyᵀ u, ad->dR += duᵀ x
 * (when ad->dL is set: not for frozen L, R), ad->dQ += dyᵀ x when ad->dQ is set;
 * du: scratch [N][k]. dx may be NULL (not needed). */
void rz_tr_linear_bwd(float *dx, int accumulate, float *du, const float *dy, const float *x, const float *u,
                      const rz_adapter *ad, int N);
/* Σ_rows −log softmax(logits)[target] in double (nll[N] scratch, per row; rows with target
 * RZ_TR_IGNORE give 0). */
double rz_tr_xent_fwd(double *nll, const float *logits, const int *targets, int N, int V);
/* dlogits = scale (softmax(logits) − onehot(target)) (0 for RZ_TR_IGNORE); may alias logits. */
void rz_tr_xent_bwd(float *dlogits, const float *logits, const int *targets, int N, int V, float scale);
/* Deterministic panel products (linalg.h): C[M][N] (+)= A[M][K] B[K][N] and Aᵀ B for
 * A [K][M], B [K][N]. */
void rz_tr_matmul_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                     int accumulate);
void rz_tr_matmul_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                     int accumulate);

/* ---- one optimizer step's gradient, data-parallel ----------------------------------- */

/* Where the next training sequence starts, and the generator that picks each epoch's
 * starting offset. Sequences are contiguous: tokens ids[pos .. pos+T), targets
 * ids[pos+1 .. pos+T+1), then pos += T; when fewer than T+1 tokens remain, a new epoch
 * starts at a random offset in [0, T). */
typedef struct {
    uint64_t pos;
    uint64_t rng;
} rz_data_cursor;

uint64_t rz_train_rng_next(uint64_t *state); /* splitmix64 */
/* Fills tokens[T], targets[T] with the next sequence (n ≥ T + 1). */
void rz_data_next(rz_data_cursor *c, const int *ids, size_t n, int T, int *tokens, int *targets);

typedef struct {
    int batch; /* sequences per optimizer step (global, over all ranks) */
    int micro; /* sequences per micro-batch; divides batch */
} rz_step_shape;

/* The gradient of the mean NLL over the step's batch·T tokens, into a->grads (float),
 * and that mean in *loss. Draws batch sequences from cur (identical on every rank).
 * acc: scratch of n_params + 1 doubles. tokens/targets scratch: micro*T ints each. t must
 * hold micro sequences. Bit-identical for any rank count (see the top of this file). */
int rz_train_step_grad(rz_train *t, rz_lora *a, const rz_step_shape *s, const int *ids, size_t n,
                       rz_data_cursor *cur, double *acc, int *tokens, int *targets, double *loss, rz_err *e);

#endif
