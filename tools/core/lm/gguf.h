/* gguf.h — GGUF files (llama.cpp's model format): reading llama models and their
 * SentencePiece tokenizer, and writing them back.
 *
 * Format (GGUF v2/v3, little-endian; llama.cpp docs/gguf.md):
 *     "GGUF"  u32 version  u64 tensor_count  u64 kv_count
 *     kv_count × (string key, u32 value_type, value)
 *     tensor_count × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset)
 *     padding to general.alignment (default 32), then the tensor data; offsets are
 *     relative to that point and multiples of the alignment.
 * A string is u64 length + bytes (no NUL); an array is u32 element type + u64 count +
 * elements. ne[0] is the innermost (contiguous) dimension: a [rows][cols] matrix is
 * stored with ne = {cols, rows}.
 *
 * Reading (rz_gguf_open) maps the file and checks everything against its size before any
 * use or allocation: each string length, array count and element size, the counts
 * (bounded by the bytes that remain), the tensor dimensions (product overflow), the type
 * (f32, f16, bf16 and q8_0 are read; any other ggml type is refused by name, with the
 * tensor), each tensor's extent inside the data section, and no two tensors overlapping.
 * Duplicated keys or tensor names are refused. Errors name the file and the field.
 *
 * A model (architecture "llama": llama.* keys, GQA through head_count_kv, rope.freq_base,
 * layer_norm_rms_epsilon, context_length; output.weight optional = tied classifier) is
 * dequantised to float32 at load. Tensor names map to rizz's (llama.h) one to one
 * (rz_gguf_name); a tensor left over (e.g. rope_freqs) is an error, not ignored.
 * llama.cpp's "llama" graph uses RoPE on adjacent pairs, as llama2.c, so q and k need
 * no permutation (convert_hf_to_gguf.py permutes HF's rotate-half rows back).
 *
 * The tokenizer (tokenizer.ggml.model = "llama": tokens, scores, token_type, bos/eos
 * ids, add_bos_token) becomes an rz_tokenizer: "▁" (U+2581) in pieces is the space of
 * llama2.c's files, control/unknown/unused tokens are never matched by text. gpt2-style
 * BPE is refused.
 */
#ifndef RZ_GGUF_H
#define RZ_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "llama.h"
#include "tokenizer.h"

/* 1 if path is a regular file starting with the GGUF magic. */
int rz_gguf_is_file(const char *path);

int rz_gguf_load_model(const char *path, rz_llama **out, rz_err *e);
/* *add_bos (may be NULL): tokenizer.ggml.add_bos_token, true when absent (llama.cpp's
 * default for SentencePiece vocabularies). */
int rz_gguf_load_tokenizer(const char *path, rz_tokenizer **out, int *add_bos, rz_err *e);

/* GGUF's name of rizz's tensor rz_name ("layers.3.attention.wq.weight" ->
 * "blk.3.attn_q.weight"); 0, or -1 if rz_name is not a Llama tensor name. */
int rz_gguf_name(const char *rz_name, char *out, size_t n);

/* Writing (gguf_write.c): m as a GGUF v3 file at path (temporary + rename) with the
 * keys, tensor set, order and alignment of llama.cpp's converter, the tokenizer
 * embedded (tok may be NULL: no tokenizer.* keys). Matrices in type f32, f16 or q8_0
 * (q8_0 where the row length is a multiple of 32, else f16); norms always f32. */
typedef enum { RZ_GGUF_F32 = 0, RZ_GGUF_F16 = 1, RZ_GGUF_Q8_0 = 8 } rz_gguf_type;
int rz_gguf_save(rz_llama *m, const rz_tokenizer *tok, rz_gguf_type type, const char *path, rz_err *e);

#endif
