/* model.h — the "model" record: a Llama-2 configuration (see schemas/README.md).
 *
 * An .rzm is an ordinary record stream: one "model" record with the architecture and
 * its configuration, then one "tensor" record per weight, named as rz_llama_tensor_at
 * names them, then "end"; a packed model (rz-pack) holds "qlayer" records
 * (schemas/quant.md) in place of some linear-layer tensors. This header is the record
 * alone: the configuration struct field by field, its packing, decoding and validation.
 * Reading a whole .rzm into the engine (and writing one) is tools/core/lm/model_io.h.
 */
#ifndef RZ_MODEL_H
#define RZ_MODEL_H

#include <msgpack.h>

#include "record.h"
#include "rz.h"

#define RZ_MODEL_VERSION 1

/* The "model" record's fields; the engine (tools/core/lm/llama.h) runs this config. */
typedef struct {
    int dim;               /* model width */
    int hidden_dim;        /* feed-forward width */
    int n_layers;
    int n_heads;           /* query heads; head_size = dim / n_heads */
    int n_kv_heads;        /* key/value heads (grouped-query attention), divides n_heads */
    int vocab_size;
    int seq_len;           /* longest context the model supports (KV cache bound) */
    int shared_classifier; /* 1: output.weight is tok_embeddings.weight */
    float rope_theta;      /* 10000 in llama2.c */
    float norm_eps;        /* 1e-5 in llama2.c */
} rz_llama_config;

/* Checks a configuration: sizes positive and bounded (at most 2^33 parameters), heads
 * dividing dim, kv heads dividing heads, even head size, norm_eps > 0, rope_theta > 1. */
int rz_llama_config_check(const rz_llama_config *c, rz_err *e);

void rz_model_config_pack(msgpack_packer *pk, const rz_llama_config *c);
/* Decodes and checks (rz_llama_config_check) a "model" record. */
int rz_model_config_decode(const msgpack_object *rec, const rz_rec_ctx *ctx, rz_llama_config *c,
                           rz_err *e);

#endif
