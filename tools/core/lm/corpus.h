/* corpus.h — getting evaluation/calibration tokens into memory: a UTF-8 text file
 * through a tokenizer, or a stream of "tokens" records, bounded and validated.
 *
 * Text is tokenised as one stream (llama2.c encode over the whole file: one dummy-prefix
 * space at the start, no BOS), which is how llama.cpp's perplexity tool tokenises too.
 */
#ifndef RZ_CORPUS_H
#define RZ_CORPUS_H

#include <stddef.h>

#include "readfile.h"
#include "stream.h"
#include "tokenizer.h"


/* Tokenises a text file; empty text or text without tokens is RZ_EINPUT. */
int rz_corpus_from_text(const rz_tokenizer *t, const char *path, int **ids, size_t *n, rz_err *e);

/* Concatenates the ids of every "tokens" record of a stream; vocab_size must match
 * the model's (the records say which vocabulary they were made with). */
int rz_corpus_from_stream(const char *loc, const rz_stream_opts *o, int vocab_size, int **ids,
                          size_t *n, rz_err *e);

/* The tokens of a run, on every rank: rank 0 reads them — the "tokens" records of
 * stream `tokens` when it is given, else text file `text` tokenised with tokenizer file
 * `tokenizer` (rz_tokenizer_open: NULL means model `model`'s own, a GGUF or HF folder's),
 * whose vocabulary must be vocab_size (`model` also names the model in that message) — keeps the first max_tokens (0: all) and broadcasts them (rz_cluster_bcast;
 * alone, rank 0 is everything). *ids is malloc'd with room for one more id. An error on
 * rank 0 is returned there, and to the other ranks as RZ_EINPUT "rank 0 could not read
 * the tokens", so no rank is left waiting.
 * bos (may be NULL): set to the tokenizer's BOS id when a text is tokenised (left as is
 * for a token stream), on every rank. llama_bos: a text gets that BOS in front when its
 * tokenizer adds one, as llama.cpp's tokenize(text, add_special = true) does (before
 * max_tokens is applied). */
int rz_corpus_load_bcast(const char *tokens, const rz_stream_opts *o, const char *text, const char *tokenizer,
                         int vocab_size, const char *model, size_t max_tokens, int llama_bos, int *bos,
                         int **ids, size_t *n, rz_err *e);

#endif
