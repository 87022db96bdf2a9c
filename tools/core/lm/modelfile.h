/* modelfile.h — which reader opens a model or tokenizer given on the command line.
 *
 * Models: a GGUF file (gguf.h), a Hugging Face folder (hf.h) or a llama2.c .bin
 * (llama.h); .rzm streams are recognised before this by rz_model_load (model.h), which
 * calls rz_modelfile_load for everything else.
 * Tokenizers: -z TOKENIZER may be a llama2.c tokenizer file, a GGUF file (its metadata)
 * or a tokenizer.json / HF folder; without -z the model's own (GGUF metadata, the HF
 * folder's tokenizer.json) is used, and a model without one is an error that asks
 * for -z.
 */
#ifndef RZ_MODELFILE_H
#define RZ_MODELFILE_H

#include "llama.h"
#include "tokenizer.h"

int rz_modelfile_load(const char *path, rz_llama **out, rz_err *e);

/* tok may be NULL (then model's own); model may be NULL when tok is given. *add_bos (may
 * be NULL): whether the source's convention adds BOS to a text (llama.cpp: GGUF key
 * tokenizer.ggml.add_bos_token, true when absent; llama2.c run.c: true). */
int rz_tokenizer_open(const char *tok, const char *model, rz_tokenizer **out, int *add_bos, rz_err *e);

/* 1 if model carries its own tokenizer (GGUF, HF folder), so -z may be left out. */
int rz_modelfile_has_tokenizer(const char *model);

#endif
