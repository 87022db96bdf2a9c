/* model.h — the "model" record and .rzm model streams (see schemas/README.md).
 *
 * An .rzm is an ordinary record stream: one "model" record with the architecture and
 * its configuration, then one "tensor" record per weight, named as rz_llama_tensor_at
 * names them, then "end". Tensors may be stored as f32, f16 or bf16; they are
 * converted to f32 on load. Loading checks that every expected tensor is present once,
 * with the expected shape, and nothing else.
 *
 * A packed model (rz-pack) holds "qlayer" records (schemas/quant.md) in place of some
 * linear-layer tensors; rz_model_load decodes each into the dense float32 weights
 * (codes → grid or codebook values, incoherence undone; tools/core/qlayer.h).
 *
 * rz_model_load opens either format: a llama2.c .bin checkpoint or an .rzm stream
 * (file, "-", or a ZeroMQ endpoint), told apart by the first byte.
 */
#ifndef RZ_MODEL_H
#define RZ_MODEL_H

#include <msgpack.h>

#include "llama.h"
#include "record.h"
#include "stream.h"

#define RZ_MODEL_VERSION 1

void rz_model_config_pack(msgpack_packer *pk, const rz_llama_config *c);
int rz_model_config_decode(const msgpack_object *rec, const rz_rec_ctx *ctx, rz_llama_config *c,
                           rz_err *e);

/* Writes m as an .rzm stream to loc, tensors in dtype (f32, f16 or bf16). */
int rz_model_save_rzm(rz_llama *m, const char *loc, rz_dtype dtype, const rz_stream_opts *o,
                      rz_err *e);
/* Loads a model from a llama2.c .bin file or an .rzm stream. */
int rz_model_load(const char *loc, const rz_stream_opts *o, rz_llama **out, rz_err *e);
/* 1 if loc holds (or will deliver) an .rzm stream rather than a llama2.c .bin. */
int rz_model_is_rzm(const char *loc);

#endif
