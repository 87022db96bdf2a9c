/* maze_rec.c — pack and validate "maze" records (maze_rec.h). */
#include "maze_rec.h"

#include <string.h>

_Static_assert(sizeof(int) == 4, "maze tokens are packed as the bytes of int32s");

void rz_maze_rec_pack(msgpack_packer *pk, int n, int64_t index, const int *tokens, const uint8_t *mask,
                      int n_tokens, int path_start)
{
    rz_rec_begin(pk, "maze", RZ_MAZE_REC_VERSION, 6);
    rz_rec_int(pk, "n", n);
    rz_rec_int(pk, "index", index);
    rz_rec_int(pk, "n_tokens", n_tokens);
    rz_rec_int(pk, "path_start", path_start);
    rz_rec_bin(pk, "tokens", tokens, (size_t)n_tokens * 4); /* int32 LE: a little-endian host, as rz_tokens_pack */
    rz_rec_bin(pk, "mask", mask, (size_t)n_tokens);
}

int rz_maze_rec_token(const rz_maze_rec *r, int64_t i)
{
    const unsigned char *p = r->tokens + 4 * i;
    return (int)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

int rz_maze_rec_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_maze_rec *out, rz_err *e)
{
    int64_t n, nt, ps;
    int rc;
    const void *tok, *mask;
    size_t tb, mb;
    if ((rc = rz_get_int(rec, c, "n", 2, RZ_MAZE_REC_MAXN, &n, e))) return rc;
    if ((rc = rz_get_int(rec, c, "index", 0, INT64_MAX, &out->index, e))) return rc;
    if ((rc = rz_get_int(rec, c, "n_tokens", 11, 8 * n * n + 16, &nt, e))) return rc;
    if ((rc = rz_get_int(rec, c, "path_start", 1, nt - 1, &ps, e))) return rc;
    if ((rc = rz_get_bin(rec, c, "tokens", &tok, &tb, e))) return rc;
    if (tb != (size_t)nt * 4)
        return rz_rec_fail(e, c, "tokens", "%zu bytes, expected n_tokens*4 = %lld", tb, (long long)nt * 4);
    if ((rc = rz_get_bin(rec, c, "mask", &mask, &mb, e))) return rc;
    if (mb != (size_t)nt) return rz_rec_fail(e, c, "mask", "%zu bytes, expected n_tokens = %lld", mb, (long long)nt);
    out->n = (int)n, out->n_tokens = nt, out->path_start = (int)ps;
    out->tokens = tok, out->mask = mask;
    int vocab = 12 + (int)(n * n);
    for (int64_t i = 0; i < nt; i++) {
        int id = rz_maze_rec_token(out, i);
        if (id < 0 || id >= vocab)
            return rz_rec_fail(e, c, "tokens", "token %lld is %d, outside [0, %d) for a %lldx%lld maze", (long long)i,
                               id, vocab, (long long)n, (long long)n);
        if (out->mask[i] > 1 || (out->mask[i] && i <= ps))
            return rz_rec_fail(e, c, "mask", "byte %lld is %d: expected 0/1, and 1 only after path_start", (long long)i,
                               out->mask[i]);
    }
    if (rz_maze_rec_token(out, ps) != 8)
        return rz_rec_fail(e, c, "path_start", "token %lld is not <PATH_START>", (long long)ps);
    return 0;
}
