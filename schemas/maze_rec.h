/* maze_rec.h — the "maze" record: one maze as tokens plus the mask of its predictable
 * path positions (schemas/maze.md, field by field; the token format is in
 * tools/core/maze/maze.h).
 */
#ifndef RZ_MAZE_REC_H
#define RZ_MAZE_REC_H

#include <msgpack.h>
#include <stdint.h>

#include "record.h"

#define RZ_MAZE_REC_VERSION 1
#define RZ_MAZE_REC_MAXN 64 /* = RZ_MAZE_MAX */

/* A decoded maze record; tokens and mask point into the decoded object (tokens may be
 * unaligned: read with memcpy, or use rz_maze_rec_token). */
typedef struct {
    int n;              /* lattice size */
    int64_t index;      /* the generator index (seed counter) */
    int64_t n_tokens;
    int path_start;     /* position of <PATH_START> */
    const unsigned char *tokens; /* n_tokens int32 LE */
    const unsigned char *mask;   /* n_tokens bytes, 1 = predictable path position */
} rz_maze_rec;

/* Packs one record. vocab = 12 + n². */
void rz_maze_rec_pack(msgpack_packer *pk, int n, int64_t index, const int *tokens, const uint8_t *mask,
                      int n_tokens, int path_start);
/* Decodes and validates: n in [2, 64], 11 ≤ n_tokens ≤ 8 n² + 16, every token id below
 * 12 + n², mask bytes 0/1 and set only after path_start, tokens[path_start] = 8
 * (<PATH_START>). */
int rz_maze_rec_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_maze_rec *out, rz_err *e);
int rz_maze_rec_token(const rz_maze_rec *r, int64_t i);

#endif
