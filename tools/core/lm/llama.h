/* llama.h — a Llama-2 architecture transformer in float32, the model of llama2.c.
 *
 * What is here: the configuration, the weights (loaded from llama2.c's legacy .bin
 * checkpoint, saved back, or made at random), a per-call state (scratch + KV cache) and
 * one forward function that runs T tokens at once. T = 1 is token-by-token decoding;
 * T > 1 is prefill, where every linear layer is one matrix-matrix product (cblas_sgemm)
 * over all T tokens, and attention is two sgemms per head and row block.
 *
 * Math (as llama2.c run.c): RMSNorm, RoPE on adjacent pairs, grouped-query causal
 * attention, SwiGLU feed-forward, final RMSNorm, classifier. Matrices are row-major
 * [out][in] as llama2.c stores them, so y[T][out] = x[T][in] . W^T.
 */
#ifndef RZ_LLAMA_H
#define RZ_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "model.h" /* schemas/: rz_llama_config, the "model" record's fields */
#include "rope.h"
#include "rz.h"


/* Weights. Each layer's wq|wk|wv is one contiguous [dim + 2 kv_dim][dim] block (wqkv) and
 * w1|w3 one [2 hidden][dim] block (w13), so the forward does one sgemm for each; wq, wk,
 * wv, w1, w3 point into those blocks. All arrays live in one allocation (params). */
typedef struct {
    float *attention_norm; /* [dim] */
    float *wqkv;           /* [dim + 2 kv_dim][dim] = wq rows, then wk rows, then wv rows */
    float *wq;             /* [dim][dim]    = wqkv */
    float *wk;             /* [kv_dim][dim] = wqkv + dim*dim */
    float *wv;             /* [kv_dim][dim] = wqkv + (dim + kv_dim)*dim */
    float *wo;             /* [dim][dim] */
    float *ffn_norm;       /* [dim] */
    float *w13;            /* [2 hidden][dim] = w1 rows, then w3 rows */
    float *w1;             /* [hidden][dim] = w13 */
    float *w3;             /* [hidden][dim] = w13 + hidden*dim */
    float *w2;             /* [dim][hidden] */
} rz_llama_layer;

struct rz_qlinear; /* qlinear.h */

typedef struct {
    rz_llama_config config;
    float *tok_embeddings; /* [vocab][dim] */
    rz_llama_layer *layers; /* [n_layers] */
    float *norm;           /* [dim] */
    float *output;         /* [vocab][dim]; == tok_embeddings when shared_classifier */
    float *params;         /* the single allocation everything above points into */
    size_t n_params;       /* floats in params (tensors padded to 64-byte boundaries) */
    char tensor_name[64];  /* rz_llama_tensor_at's name buffer */
    /* Quantised linears kept as codes (rz_llama_set_qlinear), NULL when there are none;
     * else [7 n_layers] in rz_llama_linear order, non-NULL entries replacing the dense
     * tensor. Models allocated with lazy linears hold their dense linears in separately
     * allocated fused blocks, lazy[4 l + b] for wqkv, wo, w13, w2 (NULL until used). */
    struct rz_qlinear **qlin;
    float **lazy;
    /* Quantised token embeddings / classifier (rz_llama_set_qtable), NULL when float32.
     * qout == qemb when the classifier is shared. A lazy model allocates the float32
     * tables only on demand (rz_llama_table_storage): a quantised one never exists in
     * float32. */
    struct rz_qlinear *qemb, *qout;
    float *emb_alloc, *out_alloc;
} rz_llama;

/* Allocates a model with all weights zero (norm weights too), to be filled by name. */
int rz_llama_alloc(const rz_llama_config *c, rz_llama **out, rz_err *e);
/* The same without the linear layers' storage: their pointers stay NULL until
 * rz_llama_linear_storage allocates them, so a model whose linears are quantised
 * (rz_llama_set_qlinear) never holds them in float32. */
int rz_llama_alloc_lazy(const rz_llama_config *c, rz_llama **out, rz_err *e);

/* The seven linear layers of a block — the one table every user shares (quantisation,
 * calibration, training, loading). Linear layers are numbered i in [0, 7 n_layers):
 * layer i / 7, and i % 7 one of wq, wk, wv, wo, w1, w2, w3. */
enum { RZ_LIN_WQ = 0, RZ_LIN_WK, RZ_LIN_WV, RZ_LIN_WO, RZ_LIN_W1, RZ_LIN_W2, RZ_LIN_W3, RZ_LIN_PER_LAYER };
/* "attention.wq", ..., "feed_forward.w3": the tensor name without "layers.l." and
 * ".weight"; "?" out of range. */
const char *rz_lin_name(int kind);
/* The full tensor name of linear i ("layers.3.attention.wq.weight") into buf. */
void rz_lin_tensor_name(long i, char *buf, size_t cap);
/* The linear index of a full tensor name in a model of n_layers, or -1 (not a linear). */
long rz_lin_find(int n_layers, const char *name);
/* The shape [rows][cols] = [out][in] of linear i; -1 when i is out of range. */
int rz_llama_linear_shape(const rz_llama_config *c, long i, int *rows, int *cols);
/* Dense storage of linear i (allocating its fused block on first use in a lazy model). */
float *rz_llama_linear_storage(rz_llama *m, long i, rz_err *e);
/* Makes linear i the quantised q (shape checked); m owns q from then on (also on
 * failure). The forward then applies q instead of the dense tensor. */
int rz_llama_set_qlinear(rz_llama *m, long i, struct rz_qlinear *q, rz_err *e);
void rz_llama_free(rz_llama *m);

/* The vocab × dim tables: RZ_TABLE_EMB (tok_embeddings) and RZ_TABLE_OUT (the classifier,
 * output.weight; the same table when shared). */
enum { RZ_TABLE_EMB = 0, RZ_TABLE_OUT };
/* Float32 storage of a table (allocated on first use in a lazy model). */
float *rz_llama_table_storage(rz_llama *m, int which, rz_err *e);
/* Makes a table the quantised q (shape vocab × dim checked); m owns q from then on (also on
 * failure). The embedding is decoded one row per token, so it must be rz_qlinear_row_ok
 * (no incoherence, no low-rank part, no padding): RZ_EINPUT otherwise. The classifier is
 * applied with rz_qlinear_apply (fused kernels for T ≤ 4). With a shared classifier, the
 * embedding's q serves both (which = RZ_TABLE_EMB). */
int rz_llama_set_qtable(rz_llama *m, int which, struct rz_qlinear *q, rz_err *e);
/* The qdot.h kernel variant of every quantised linear and table for T ≤ 4 tokens
 * (RZ_QDOT_AUTO by default; RZ_QDOT_AUTO_I8 for int8 inputs). */
void rz_llama_set_qdot(rz_llama *m, int isa);

/* Deterministic random model: linears and embeddings N(0, 0.02^2), norm weights 1, from
 * a counter-based generator, so the same (config, seed) gives the same weights anywhere. */
int rz_llama_random(const rz_llama_config *c, uint64_t seed, rz_llama **out, rz_err *e);

/* llama2.c legacy checkpoint (version 0): 7 int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size (negative: unshared classifier), seq_len), then float32 arrays:
 * tok_embeddings, attention norms, wq, wk, wv, wo, ffn norms, w1, w2, w3 (each for all
 * layers), final norm, freq_cis_real and freq_cis_imag ([seq_len][head_size/2] each,
 * unused: RoPE is recomputed), then output if unshared. The file size must be exact;
 * non-finite weights are rejected. rope_theta = 10000, norm_eps = 1e-5. */
int rz_llama_load_bin(const char *path, rz_llama **out, rz_err *e);
/* Writes the same format (freq_cis computed as llama2.c's exporter does), through a
 * temporary file in the same directory renamed into place on success. */
int rz_llama_save_bin(const rz_llama *m, const char *path, rz_err *e);

/* Named tensors, for serialisers: i in [0, count). Names are llama2.c/Meta's
 * ("tok_embeddings.weight", "layers.3.attention.wq.weight", "norm.weight", ...);
 * "output.weight" only when the classifier is not shared. *name points into
 * m->tensor_name, which the next call overwrites. *data is NULL for a linear that a
 * lazy model has not allocated (one held as a quantised rz_qlinear). shape is [rows][cols] (ndim 2) or [n] (ndim 1,
 * shape[1] = 1). Returns 0, or -1 when i is out of range. */
int rz_llama_tensor_count(const rz_llama *m);
int rz_llama_tensor_at(rz_llama *m, int i, const char **name, float **data, int shape[2], int *ndim);

/* Scratch and KV cache for up to max_T tokens per forward call and max_ctx positions
 * (max_ctx <= seq_len). Everything the forward needs is allocated here. */
typedef struct rz_llama_state rz_llama_state;
int rz_llama_state_new(const rz_llama *m, int max_T, int max_ctx, rz_llama_state **out, rz_err *e);
/* The same with a RoPE context-extension method (rope.h): none (plain RoPE; past seq_len
 * that is extrapolation), pi, ntk, yarn or dca. max_ctx may exceed seq_len here: the
 * caller chose the method. rz_llama_state_new (plain RoPE) stops at seq_len. */
int rz_llama_state_new_ext(const rz_llama *m, int max_T, int max_ctx, const rz_rope_method *rope,
                           rz_llama_state **out, rz_err *e);
void rz_llama_state_free(rz_llama_state *s);

/* Calibration tap: when set, rz_llama_forward calls tap(ctx, layer, which, x, T, n, ld)
 * with the input x[T][n] (row stride ld) of each layer's four linear groups just before
 * their product: RZ_TAP_ATTN_IN (rmsnorm(x), input of wq, wk, wv), RZ_TAP_ATTN_OUT
 * (attention output, input of wo), RZ_TAP_MLP_IN (input of w1, w3), RZ_TAP_MLP_DOWN
 * (silu(w1 x) * w3 x, input of w2). The forward's math is unchanged; NULL removes it. */
enum { RZ_TAP_ATTN_IN = 0, RZ_TAP_ATTN_OUT, RZ_TAP_MLP_IN, RZ_TAP_MLP_DOWN, RZ_TAP_GROUPS };
typedef void (*rz_llama_tap)(void *ctx, int layer, int which, const float *x, int T, int n, int ld);
void rz_llama_set_tap(rz_llama_state *s, rz_llama_tap tap, void *ctx);

/* Runs tokens[0..T) at positions pos0..pos0+T-1: stores their keys and values in the
 * cache and attends causally to cache positions [0, pos0+T) (positions before pos0 must
 * have been computed by earlier calls). logits: [T][vocab] (or NULL: see rz_llama_logits). Returns 0, or RZ_EINPUT for
 * T, pos0 or a token id out of range (nothing is computed then). */
int rz_llama_forward(const rz_llama *m, rz_llama_state *s, const int *tokens, int T, int pos0,
                     float *logits);

/* Nonzero when rz_llama_forward runs a step of T tokens at pos0 in one OpenMP region: one
 * token, every linear quantised without a low-rank part, plain-RoPE attention whose scores
 * fit its scratch, no tap. 1: every linear read as it is (rz_qlinear_row_ok), head size a
 * multiple of RZ_QLINEAR_ROWS and at least as many kv heads as the state's threads — the
 * threads split the step by kv heads (wq, wk, wv, attention) and by rows (wo, w1|w3, w2, a
 * classifier read as it is), four barriers per layer. 2: otherwise (e8p with incoherence
 * transforms, small heads) — every linear split by rows into a shared ỹ, its output
 * transform repeated on each thread, attention split by kv heads, five barriers per
 * layer. Either instead of a region per linear group; same bits as that path, for any
 * thread count (test_llama_team). */
int rz_llama_one_region(const rz_llama *m, const rz_llama_state *s, int T, int pos0);

/* With logits == NULL, rz_llama_forward stops before the classifier and keeps the final
 * normalised hidden states; this computes logits[n][vocab] for rows [t0, t0+n) of that
 * call, so long windows need not hold T x vocab logits at once. */
void rz_llama_logits(const rz_llama *m, const rz_llama_state *s, int t0, int n, float *logits);
/* The final normalised hidden states [T][dim] of the last forward call (the classifier's
 * input; rows valid until the next call), for embeddings. */
const float *rz_llama_hidden(const rz_llama_state *s);

/* Floating-point operations of one forward call: 2 x the multiply-adds of every matrix
 * product, the linears and classifier for T tokens and, for attention, Q K^T and P V
 * over the exact causal triangle (the useful work; masked parts of blocks that the
 * attention also multiplies are not counted). */
double rz_llama_forward_flops(const rz_llama *m, int T, int pos0);

/* Index of the largest value (the first one on ties). */
int rz_llama_argmax(const float *logits, int n);

/* nll_out[t] = -log softmax(logits[t])[targets[t]] for t < T, in double, with the row
 * maximum subtracted first. A target outside [0, vocab) gives NaN. */
void rz_log_softmax_nll(const float *logits, int T, int vocab, const int *targets, double *nll_out);

/* The model's identity: FNV-1a 64 of the config (its eight integer fields, then
 * rope_theta and norm_eps as float32, in struct order) and every tensor's float32 bytes
 * in rz_llama_tensor_at order. Two flavours, because files of both are in use and must
 * keep verifying: RZ_ID_LAYERS (the integers as int32) ties Hessians and layer records
 * to the model they were computed from; RZ_ID_CHECKPOINT (the integers as int64, and
 * each tensor's name hashed before its bytes) is what training checkpoints carry for
 * their frozen model. */
enum { RZ_ID_LAYERS = 0, RZ_ID_CHECKPOINT = 1 };
uint64_t rz_llama_identity(rz_llama *m, int flavour);

/* The model's linear layers in order (7 per block: wq, wk, wv, wo, w1, w2, w3): for
 * index i in [0, 7·n_layers), its tensor name (into buf), data pointer, shape, and the
 * Hessian group (RZ_TAP_*) of its input. */
int rz_llama_linear(rz_llama *m, long i, char *buf, size_t cap, float **data, int *rows, int *cols,
                     int *layer, int *group);

#endif
