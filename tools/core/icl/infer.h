/* infer.h — what rz-serve does with one loaded model: score continuations, generate,
 * embed, tokenise. One rz_infer owns one forward state (KV cache) and is used by one
 * thread at a time.
 *
 * Scoring with a reused prompt (the point of rz_infer_score): the context c[0..C) is run
 * once; its last row's logits predict the first token of every continuation. For a
 * continuation x[0..k), x[0..k-1) is then run at positions C..C+k-2 over the cached keys
 * of the context, and its rows predict x[1..k). The cache rows >= C are simply
 * overwritten by the next continuation (attention at position p reads rows [0, p] only),
 * so nothing is snapshot or restored. A one-token continuation costs no forward at all.
 *   log p(x | c) = sum_j log softmax(logits_j)[x_j]      (sum; mean = sum / k)
 * With reuse off, each continuation is scored from scratch: c ++ x[0..k-1) in one
 * forward from position 0 (the slow reference the benchmark and tests compare against).
 *
 * Tokenisation: the context is encoded with BOS (when bos) and the dummy-prefix space;
 * each continuation is encoded on its own without BOS, so it starts at a word boundary
 * (" positive"), as a SentencePiece model sees a word after a space.
 *
 * Embeddings: mean over the text's tokens (BOS excluded) of the final normalised hidden
 * state, or with layer L in [0, n_layers) of the residual stream entering layer L after
 * that layer's attention RMSNorm (the forward's tap RZ_TAP_ATTN_IN).
 */
#ifndef RZ_INFER_H
#define RZ_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "llama.h"
#include "tokenizer.h"

typedef struct rz_infer rz_infer;

/* Takes neither m nor t (the caller frees them after rz_infer_free). max_ctx positions
 * with RoPE method rope (NULL: plain RoPE, max_ctx <= seq_len). */
int rz_infer_new(const rz_llama *m, const rz_tokenizer *t, int max_ctx, const rz_rope_method *rope,
                 rz_infer **out, rz_err *e);
void rz_infer_free(rz_infer *f);
int rz_infer_max_ctx(const rz_infer *f);
int rz_infer_dim(const rz_infer *f);
int rz_infer_layers(const rz_infer *f);

/* Text -> ids (malloc'ed, *n of them). Errors name `what` (e.g. "field 'context'"). */
int rz_infer_tokenize(const rz_infer *f, const char *text, size_t len, int bos, const char *what, int **ids,
                      size_t *n, rz_err *e);

/* Scores n continuations cont[i][0..ncont[i]) (each >= 1 token) after ctx[0..nctx)
 * (>= 1 token): sum[i] = log p(cont[i] | ctx) in nats. reuse = 1 runs the context once
 * (see above), 0 from scratch per continuation. Lengths must fit max_ctx (checked). */
int rz_infer_score_ids(rz_infer *f, const int *ctx, int nctx, const int *const *cont, const int *ncont, int n,
                       int reuse, double *sum, rz_err *e);

typedef struct {
    int max_tokens;     /* new tokens at most (>= 1) */
    double temperature; /* 0 = greedy */
    double top_p;       /* nucleus mass in (0, 1] */
    uint64_t seed;
    int n_stop;         /* stop strings: generation ends when the text contains one; */
    const char *const *stop; /* the text is cut before it */
    const size_t *stop_len;
} rz_gen_opts;

typedef enum { RZ_GEN_LENGTH = 0, RZ_GEN_STOP, RZ_GEN_EOS, RZ_GEN_CONTEXT } rz_gen_reason;
const char *rz_gen_reason_name(rz_gen_reason r);

/* Generates after prompt ids p[0..np). *text (malloc'ed, NUL-terminated, *len bytes) is
 * the new text only; *n_new the tokens generated. */
int rz_infer_generate(rz_infer *f, const int *p, int np, const rz_gen_opts *o, char **text, size_t *len,
                      int *n_new, rz_gen_reason *why, rz_err *e);

/* Mean-pooled embedding out[dim] of ids[0..n) (ids[0] = BOS is not pooled when skip_first).
 * layer = -1: final normalised hidden state; else the tap of that layer (see above). */
int rz_infer_embed_ids(rz_infer *f, const int *ids, int n, int skip_first, int layer, float *out, rz_err *e);

#endif
