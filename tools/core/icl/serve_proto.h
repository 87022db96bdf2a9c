/* serve_proto.h — rz-serve's requests and replies (schemas/serve.md has the tables).
 *
 * A request is one MessagePack map in one ZeroMQ frame:
 *   {"id": int|str, "op": "score"|"generate"|"embed"|"tokenize"|"count", ...op fields}
 * and the reply is one map {"id": (echoed), "ok": true, ...} or
 *   {"id": (echoed, nil when unreadable), "ok": false, "error": "field 'x': expected ..."}.
 * Every size is bounded here, before anything is allocated from it: the request bytes
 * (RZ_SERVE_MAX_REQUEST), each string (RZ_SERVE_MAX_TEXT), list lengths
 * (RZ_SERVE_MAX_ITEMS, RZ_SERVE_MAX_STOP). The decoded request points into the
 * msgpack_unpacked it was read into (strings are NOT NUL-terminated: use the lengths).
 */
#ifndef RZ_SERVE_PROTO_H
#define RZ_SERVE_PROTO_H

#include <msgpack.h>
#include <stdint.h>

#include "rz.h"

#define RZ_SERVE_MAX_REQUEST ((size_t)16 << 20) /* bytes of one request */
#define RZ_SERVE_MAX_TEXT ((size_t)4 << 20)     /* bytes of one string */
#define RZ_SERVE_MAX_ITEMS 4096                 /* continuations or texts */
#define RZ_SERVE_MAX_STOP 16                    /* stop strings, each <= 256 bytes */
#define RZ_SERVE_MAX_ID 256                     /* bytes of a string id */
#define RZ_SERVE_VERSION 1

typedef enum { RZ_OP_SCORE = 0, RZ_OP_GENERATE, RZ_OP_EMBED, RZ_OP_TOKENIZE, RZ_OP_COUNT, RZ_OP_INFO } rz_serve_op;

typedef struct {
    const char *p;
    size_t n;
} rz_strv;

typedef struct {
    rz_serve_op op;
    const msgpack_object *id; /* NULL when absent or unusable (replies carry nil) */
    rz_strv text;             /* score: context; generate: prompt; tokenize/count: text */
    int n_items;              /* score: continuations; embed: texts */
    rz_strv items[RZ_SERVE_MAX_ITEMS];
    int bos;                  /* default 1 */
    int reuse;                /* score: reuse the context's KV (default 1) */
    int max_tokens;           /* generate: default 64 */
    double temperature;       /* default 0 (greedy) */
    double top_p;             /* default 1 */
    uint64_t seed;            /* default 0 */
    int n_stop;
    rz_strv stop[RZ_SERVE_MAX_STOP];
    int layer;                /* embed: -1 (final, default) or a layer index */
} rz_serve_req;

/* Decodes data[0..n) into *r (pointing into *up, which the caller initialised with
 * msgpack_unpacked_init and destroys). Errors are RZ_EINPUT with "field 'x': ..." and
 * leave r->id set when the id itself was readable. */
int rz_serve_req_decode(const void *data, size_t n, msgpack_unpacked *up, rz_serve_req *r, rz_err *e);

/* Reply heads: a map of n_fields entries after id and ok. */
void rz_serve_reply_begin(msgpack_packer *pk, const msgpack_object *id, int n_fields);
void rz_serve_reply_error(msgpack_packer *pk, const msgpack_object *id, const char *msg);

const char *rz_serve_op_name(rz_serve_op op);

#endif
