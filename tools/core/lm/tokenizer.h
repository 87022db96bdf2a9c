/* tokenizer.h — the llama2.c BPE tokenizer (Llama/SentencePiece vocabularies exported
 * by llama2.c's tokenizer.py) as a small library.
 *
 * File format (little-endian, as llama2.c writes it):
 *     int32 max_token_length
 *     vocab_size times: float32 score, int32 len, len bytes of the piece
 * The vocabulary size is not stored: it is the number of entries before end of file.
 * Ids 0, 1, 2 are <unk>, BOS, EOS; ids 3..258 are the byte-fallback pieces <0x00>..<0xFF>.
 * Other sources (GGUF metadata, tokenizer.json) build the same structure with
 * rz_tokenizer_build from their pieces (SentencePiece's "▁" turned into " " by the caller),
 * their own BOS/EOS ids, and control tokens marked unmatchable.
 *
 * Encoding follows llama2.c run.c encode() exactly: optional BOS (1), a dummy-prefix " "
 * token when the text is non-empty, one token per UTF-8 code point (or its bytes + 3
 * when the code point is not a piece), then BPE: repeatedly merge the adjacent pair whose
 * concatenated piece exists with the highest score (ties: leftmost). Byte fallback uses
 * the piece "<0xII>" for raw byte II (run.c: id II + 3, the same in llama2.c files). run.c finds each
 * merge by a linear scan, O(n^2) in all; here a heap over adjacent pairs and a linked list
 * give the same merges in O(n log n). Differences from run.c, all on inputs run.c does not
 * handle: the text is given with its length (a NUL byte is the code point U+0000, not the
 * end), and invalid UTF-8 is rejected rather than passed through.
 */
#ifndef RZ_TOKENIZER_H
#define RZ_TOKENIZER_H

#include <stddef.h>

#include "rz.h"

typedef struct rz_tokenizer rz_tokenizer;

enum { RZ_TOKEN_BOS = 1, RZ_TOKEN_EOS = 2 };

/* Read and validate a tokenizer file. Bad or truncated content -> RZ_EINPUT with a
 * message naming the file and the entry index. */
int rz_tokenizer_load(const char *path, rz_tokenizer **out, rz_err *e);
void rz_tokenizer_free(rz_tokenizer *t);

/* A vocabulary given as arrays: n pieces piece[i][0..len[i]) (not NUL-terminated) with
 * merge scores; matchable (may be NULL: all) 0 marks pieces that text never matches
 * (control tokens such as <s>); bos, eos the ids encode adds. Everything is copied. */
typedef struct {
    int n;
    const char *const *piece;
    const int *len;
    const float *score;
    const unsigned char *matchable;
    int bos, eos;
} rz_tokenizer_spec;
int rz_tokenizer_build(const rz_tokenizer_spec *sp, rz_tokenizer **out, rz_err *e);

int rz_tokenizer_vocab_size(const rz_tokenizer *t);
int rz_tokenizer_bos(const rz_tokenizer *t); /* 1 for llama2.c files */
/* Piece id as stored (no byte or BOS decoding), for writers; NULL out of range. */
const char *rz_tokenizer_raw(const rz_tokenizer *t, int id, size_t *len);
float rz_tokenizer_score(const rz_tokenizer *t, int id);
int rz_tokenizer_eos(const rz_tokenizer *t); /* 2 for llama2.c files */

/* Encode len bytes of UTF-8 text. bos/eos non-zero prepend BOS / append EOS. On success
 * *ids is a malloc'ed array of *n ids (free() it); invalid UTF-8 -> RZ_EINPUT with the
 * byte offset. */
int rz_tokenizer_encode(const rz_tokenizer *t, const char *text, size_t len, int bos, int eos,
                        int **ids, size_t *n, rz_err *e);

/* The bytes that token id stands for when it follows token prev, as run.c decode():
 * after BOS (id rz_tokenizer_bos) a leading space is dropped; a piece "<0xNN>" is the single raw byte NN.
 * The result is NUL-terminated and lives as long as t; *len is its length (a byte piece
 * <0x00> has length 1). Returns NULL (and *len = 0) for an id out of range. */
const char *rz_tokenizer_piece(const rz_tokenizer *t, int prev, int id, size_t *len);

#endif
