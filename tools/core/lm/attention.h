/* attention.h — causal multi-head attention over a KV cache, with RoPE and its
 * training-free context extensions (none, PI, NTK, YaRN, Dual Chunk Attention).
 *
 * The caller (llama.c) owns the per-layer KV cache and hands this module un-rotated
 * queries and keys; the module owns every rotation, because DCA rotates one query three
 * ways and keys by their chunk-local position. Per layer and call of T tokens at
 * absolute positions pos0 .. pos0+T-1 (T > 1 prefill, T = 1 decode):
 *
 *     rz_attn_store_kv(a, k, ldk, v, ldv, T, pos0, key_cache, value_cache);
 *     rz_attn_forward(a, q, ldq, T, pos0, key_cache, value_cache, out, ldo);
 *
 * Cache layout (one layer): key_cache, value_cache [max_ctx][kv_dim], row p = the key /
 * value of absolute position p; kv_dim = n_kv_heads * head_size; key head g is columns
 * [g hs, (g+1) hs). Keys are stored rotated at rz_rope_key_index(p) (p, or p mod s for
 * DCA); values as given. Query head h reads kv head h / (n_heads / n_kv_heads).
 *
 * Computation: flash-attention style. Queries go in blocks of at most RZ_ATTN_QBLOCK
 * rows (for DCA never straddling a chunk boundary); for each (head, query block) the
 * keys are streamed in blocks of RZ_ATTN_KBLOCK: S = Q K^T (sgemm; sgemv for one row
 * of a DCA part; a decoded row without DCA reads the cache in key order, decode_row),
 * a running row max m and sum l (online softmax), acc = acc e^(m_old - m_new) + P V.
 * Memory is O(threads x QBLOCK x KBLOCK), never T x T: nothing here grows with T or the
 * context but the RoPE table.
 * DCA computes three partial attentions per query block, each with its own query
 * rotation — intra-chunk (keys of the query's own chunk, causal), successive-chunk
 * (the previous chunk), inter-chunk (all earlier chunks) — and merges them exactly with
 * their log-sum-exps, as the paper's Algorithm 1 and ChunkLlama's merge_attn_outputs do.
 * Logits are q.k * rz_rope.logit_scale (1/sqrt(hs), times mscale^2 for YaRN).
 *
 * Threads: OpenMP over (head, query block) units; each unit is computed by one thread
 * in a fixed order with single-threaded OpenBLAS, so the output is bitwise the same for
 * any thread count. rz_attn_forward sets OpenBLAS to one thread for its duration and
 * restores the previous count. An rz_attn is used by one caller at a time (scratch).
 */
#ifndef RZ_ATTENTION_H
#define RZ_ATTENTION_H

#include <stddef.h>

#include "rope.h"
#include "rz.h"

/* Query rows per block and keys per streamed key block (see attention.c). */
#define RZ_ATTN_QBLOCK 128
#define RZ_ATTN_KBLOCK 512

typedef struct rz_attn rz_attn;

/* Attention for heads of head_size (n_kv_heads dividing n_heads) and caches of max_ctx
 * positions, with position method m (checked by rz_rope_check). One rz_attn serves every
 * layer of a model: it holds only the RoPE tables and per-thread scratch. */
int rz_attn_new(const rz_rope_method *m, int n_heads, int n_kv_heads, int head_size, int max_ctx, rz_attn **out,
                rz_err *e);
void rz_attn_free(rz_attn *a);

/* The RoPE state it uses (frequencies, tables, index maps, logit scale). */
const rz_rope *rz_attn_rope(const rz_attn *a);

/* Writes T keys and values of positions pos0.. into cache rows pos0..: k[t] (row stride
 * ldk, kv_dim wide, un-rotated) is rotated at rz_rope_key_index(pos0 + t) on the way.
 * Returns 0, or RZ_EINPUT when T < 1 or [pos0, pos0 + T) is not inside [0, max_ctx). */
int rz_attn_store_kv(const rz_attn *a, const float *k, int ldk, const float *v, int ldv, int T, int pos0,
                     float *key_cache, float *value_cache);

/* out[t] (row stride ldo, n_heads * hs wide) = attention of the un-rotated query q[t]
 * (row stride ldq) at position pos0 + t over cache positions [0, pos0 + t], for t < T.
 * The cache must hold positions [0, pos0 + T) (rz_attn_store_kv first). q is not
 * modified; out must not overlap q or the cache. Returns 0, or RZ_EINPUT for T, pos0
 * out of range (nothing computed). */
int rz_attn_forward(rz_attn *a, const float *q, int ldq, int T, int pos0, const float *key_cache,
                    const float *value_cache, float *out, int ldo);

/* Decoding one token by parts, for a caller that splits a step over its own threads:
 * rz_attn_decode_ok(a, pos) is 1 when a one-token step at position pos can go this way
 * (no DCA, and the scores of every head fit the scratch); then rz_attn_decode_part does
 * for kv heads [g0, g1) what rz_attn_store_kv (T = 1, k and v of one token) and
 * rz_attn_forward (T = 1, out of stride n_heads * hs) do for all: stores their key
 * (rotated) and value columns in cache row pos and writes the output columns of the
 * query heads that read them, [g0 group hs, g1 group hs) (group = n_heads / n_kv_heads).
 * Calls on disjoint ranges may run at once on threads of one team (they touch disjoint
 * columns of the cache, out and the scratch); every head is computed as rz_attn_forward
 * computes it, so the bits do not depend on the ranges. */
int rz_attn_decode_ok(const rz_attn *a, int pos);
void rz_attn_decode_part(rz_attn *a, const float *q, const float *k, const float *v, int pos, float *key_cache,
                         float *value_cache, float *out, int g0, int g1);

/* Bytes of scratch (all threads) the forward uses: independent of T and max_ctx. */
size_t rz_attn_scratch_bytes(const rz_attn *a);

#endif
