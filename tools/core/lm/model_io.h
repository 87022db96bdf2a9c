/* model_io.h — .rzm model streams and llama2.c .bin checkpoints into the engine.
 *
 * An .rzm is an ordinary record stream (schemas/model.h): one "model" record, then one
 * "tensor" record per weight, named as rz_llama_tensor_at names them, then "end".
 * Tensors may be stored as f32, f16 or bf16; they are converted to f32 on load. Loading
 * checks that every expected tensor is present once, with the expected shape, and
 * nothing else.
 *
 * A packed model (rz-pack) holds "qlayer" records (schemas/quant.md) in place of some
 * linear-layer tensors; rz_model_load decodes each into the dense float32 weights
 * (codes → grid or codebook values, incoherence undone; tools/core/quant/qlayer.h), while
 * rz_model_load_codes keeps them as codes for inference. A qlayer
 * with a low-rank part (rz-lowrank, CALDERA) is merged: W = Q + L·R, dense float32.
 * rz_model_load_lowrank instead keeps the parts apart for training L, R with Q frozen.
 *
 * rz_model_load opens an .rzm stream (file, "-", or a ZeroMQ endpoint), told apart by
 * the first byte, or else a file through rz_modelfile_load (modelfile.h: a llama2.c
 * .bin checkpoint, a GGUF file or a Hugging Face folder).
 */
#ifndef RZ_MODEL_IO_H
#define RZ_MODEL_IO_H

#include "llama.h"
#include "model.h"
#include "record.h"
#include "stream.h"

/* Writes m as an .rzm stream to loc, tensors in dtype (f32, f16 or bf16). */
int rz_model_save_rzm(rz_llama *m, const char *loc, rz_dtype dtype, const rz_stream_opts *o,
                      rz_err *e);
/* Loads a model from a llama2.c .bin file or an .rzm stream. */
int rz_model_load(const char *loc, const rz_stream_opts *o, rz_llama **out, rz_err *e);
/* The same for inference: qlayer records stay as their codes (tools/core/quant/qlinear.h,
 * rz_llama_set_qlinear; the model is allocated lazily, so their float32 weights never
 * exist) and the forward decodes them panel by panel. rz_llama_tensor_at then gives
 * data NULL for those linears: such a model runs, it is not saved or hashed. */
int rz_model_load_codes(const char *loc, const rz_stream_opts *o, rz_llama **out, rz_err *e);
/* One linear's low-rank pair in the ORIGINAL basis (L_orig = Uᵀ L, R_orig = R V): the
 * layer is W = Q + L·R with Q the model's tensor of the same name. k = 0: no pair
 * (L = R = NULL). A v3 record's line scales stay apart too: W = diag(sa)(Q + L·R)diag(sb)
 * (sa = sb = NULL: none). */
typedef struct {
    char name[RZ_MAX_NAME];
    int m, n, k;  /* W is m × n; L is m × k, R is k × n, row-major */
    float *L, *R;
    float *sa, *sb; /* [m], [n] or NULL */
} rz_lowrank_adapter;

typedef struct {
    int count;              /* one per qlayer record, in stream (= model) order */
    rz_lowrank_adapter *a;
} rz_lowrank_adapters;

/* Loads a packed model with its linears as the dense dequantised Q alone (no merge) in
 * *q_model, and every qlayer's (L, R) in *ad (free with rz_lowrank_adapters_free). Plain
 * tensors and qlayers without L, R load as with rz_model_load (k = 0 entries for the
 * latter). A .bin checkpoint has no qlayers: *ad gets count 0. */
int rz_model_load_lowrank(const char *loc, const rz_stream_opts *o, rz_llama **q_model,
                          rz_lowrank_adapters **ad, rz_err *e);
void rz_lowrank_adapters_free(rz_lowrank_adapters *ad);

/* 1 if loc holds (or will deliver) an .rzm stream rather than a llama2.c .bin. */
int rz_model_is_rzm(const char *loc);

#endif
