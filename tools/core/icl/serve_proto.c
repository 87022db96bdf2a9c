/* serve_proto.c — decoding rz-serve requests with every size bounded (serve_proto.h). */
#include "serve_proto.h"

#include <stddef.h>
#include <string.h>

#include "stream.h"

static const char *const op_names[] = {"score", "generate", "embed", "tokenize", "count", "info"};

const char *rz_serve_op_name(rz_serve_op op) { return (unsigned)op <= RZ_OP_INFO ? op_names[op] : "?"; }

static const msgpack_object *field(const msgpack_object *map, const char *key)
{
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == kl &&
            memcmp(kv->key.via.str.ptr, key, kl) == 0)
            return &kv->val;
    }
    return NULL;
}

static int get_str(const msgpack_object *o, const char *key, size_t cap, rz_strv *out, rz_err *e)
{
    if (o->type != MSGPACK_OBJECT_STR) return rz_fail(e, RZ_EINPUT, "field '%s': expected a string", key);
    if (o->via.str.size > cap)
        return rz_fail(e, RZ_EINPUT, "field '%s': %u bytes, more than the limit of %zu", key, o->via.str.size, cap);
    out->p = o->via.str.ptr;
    out->n = o->via.str.size;
    return 0;
}

static int req_str(const msgpack_object *map, const char *key, rz_strv *out, rz_err *e)
{
    const msgpack_object *o = field(map, key);
    if (!o) return rz_fail(e, RZ_EINPUT, "field '%s': missing", key);
    return get_str(o, key, RZ_SERVE_MAX_TEXT, out, e);
}

static int str_list(const msgpack_object *map, const char *key, int required, int max, size_t cap, rz_strv *out,
                    int *n, rz_err *e)
{
    const msgpack_object *o = field(map, key);
    *n = 0;
    if (!o) return required ? rz_fail(e, RZ_EINPUT, "field '%s': missing", key) : 0;
    if (o->type != MSGPACK_OBJECT_ARRAY) return rz_fail(e, RZ_EINPUT, "field '%s': expected an array of strings", key);
    if (o->via.array.size > (uint32_t)max)
        return rz_fail(e, RZ_EINPUT, "field '%s': %u items, more than the limit of %d", key, o->via.array.size, max);
    if (required && o->via.array.size == 0) return rz_fail(e, RZ_EINPUT, "field '%s': empty array", key);
    size_t total = 0;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *s = &o->via.array.ptr[i];
        if (s->type != MSGPACK_OBJECT_STR)
            return rz_fail(e, RZ_EINPUT, "field '%s': item %u is not a string", key, i);
        if (s->via.str.size > cap)
            return rz_fail(e, RZ_EINPUT, "field '%s': item %u has %u bytes, more than the limit of %zu", key, i,
                           s->via.str.size, cap);
        total += s->via.str.size;
        out[i].p = s->via.str.ptr;
        out[i].n = s->via.str.size;
    }
    if (total > RZ_SERVE_MAX_TEXT)
        return rz_fail(e, RZ_EINPUT, "field '%s': %zu bytes in all, more than the limit of %zu", key, total,
                       RZ_SERVE_MAX_TEXT);
    *n = (int)o->via.array.size;
    return 0;
}

static int opt_int(const msgpack_object *map, const char *key, int64_t lo, int64_t hi, int64_t *out, rz_err *e)
{
    const msgpack_object *o = field(map, key);
    if (!o) return 0;
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX) v = INT64_MAX;
        else v = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v = o->via.i64;
    } else {
        return rz_fail(e, RZ_EINPUT, "field '%s': expected an integer", key);
    }
    if (v < lo || v > hi)
        return rz_fail(e, RZ_EINPUT, "field '%s': %lld is not in [%lld, %lld]", key, (long long)v, (long long)lo,
                       (long long)hi);
    *out = v;
    return 0;
}

static int opt_f64(const msgpack_object *map, const char *key, double lo, double hi, double *out, rz_err *e)
{
    const msgpack_object *o = field(map, key);
    if (!o) return 0;
    double v;
    if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) v = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) v = (double)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) v = (double)o->via.i64;
    else return rz_fail(e, RZ_EINPUT, "field '%s': expected a number", key);
    if (!(v >= lo && v <= hi)) return rz_fail(e, RZ_EINPUT, "field '%s': %g is not in [%g, %g]", key, v, lo, hi);
    *out = v;
    return 0;
}

static int opt_bool(const msgpack_object *map, const char *key, int *out, rz_err *e)
{
    const msgpack_object *o = field(map, key);
    if (!o) return 0;
    if (o->type != MSGPACK_OBJECT_BOOLEAN) return rz_fail(e, RZ_EINPUT, "field '%s': expected true or false", key);
    *out = o->via.boolean;
    return 0;
}

int rz_serve_req_decode(const void *data, size_t n, msgpack_unpacked *up, rz_serve_req *r, rz_err *e)
{
    memset(r, 0, offsetof(rz_serve_req, items));
    r->n_items = 0;
    r->n_stop = 0;
    r->bos = 1;
    r->reuse = 1;
    r->max_tokens = 64;
    r->temperature = 0;
    r->top_p = 1;
    r->layer = -1;
    if (n > RZ_SERVE_MAX_REQUEST)
        return rz_fail(e, RZ_EINPUT, "request: %zu bytes, more than the limit of %zu", n, RZ_SERVE_MAX_REQUEST);
    /* every declared count backed by bytes: msgpack_unpack_next allocates an array's
     * declared size before reading it */
    if (!rz_stream_one_object(data, n))
        return rz_fail(e, RZ_EINPUT, "request: not one well-formed MessagePack map (a declared length runs past "
                       "the %zu bytes received, or bytes follow it)", n);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(up, data, n, &off);
    if (ur != MSGPACK_UNPACK_SUCCESS) return rz_fail(e, RZ_EINPUT, "request: not a MessagePack value");
    if (off != n) return rz_fail(e, RZ_EINPUT, "request: %zu trailing bytes after the map", n - off);
    const msgpack_object *map = &up->data;
    if (map->type != MSGPACK_OBJECT_MAP) return rz_fail(e, RZ_EINPUT, "request: expected a map");
    const msgpack_object *id = field(map, "id");
    if (!id) return rz_fail(e, RZ_EINPUT, "field 'id': missing");
    if (!(id->type == MSGPACK_OBJECT_POSITIVE_INTEGER || id->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
          (id->type == MSGPACK_OBJECT_STR && id->via.str.size <= RZ_SERVE_MAX_ID)))
        return rz_fail(e, RZ_EINPUT, "field 'id': expected an integer or a string of at most %d bytes",
                       RZ_SERVE_MAX_ID);
    r->id = id;
    rz_strv op = {0};
    const msgpack_object *opo = field(map, "op");
    if (!opo) return rz_fail(e, RZ_EINPUT, "field 'op': missing");
    if (get_str(opo, "op", 16, &op, e)) return RZ_EINPUT;
    int found = 0;
    for (int i = 0; i <= RZ_OP_INFO; i++)
        if (op.n == strlen(op_names[i]) && memcmp(op.p, op_names[i], op.n) == 0) {
            r->op = (rz_serve_op)i;
            found = 1;
        }
    if (!found)
        return rz_fail(e, RZ_EINPUT, "field 'op': '%.*s' is not score, generate, embed, tokenize, count or info",
                       (int)op.n, op.p);
    if (opt_bool(map, "bos", &r->bos, e)) return RZ_EINPUT;
    int64_t v;
    switch (r->op) {
    case RZ_OP_SCORE:
        if (req_str(map, "context", &r->text, e) || opt_bool(map, "reuse", &r->reuse, e) ||
            str_list(map, "continuations", 1, RZ_SERVE_MAX_ITEMS, RZ_SERVE_MAX_TEXT, r->items, &r->n_items, e))
            return RZ_EINPUT;
        break;
    case RZ_OP_GENERATE:
        if (req_str(map, "prompt", &r->text, e)) return RZ_EINPUT;
        v = r->max_tokens;
        if (opt_int(map, "max_tokens", 1, 1 << 20, &v, e)) return RZ_EINPUT;
        r->max_tokens = (int)v;
        if (opt_f64(map, "temperature", 0, 100, &r->temperature, e) || opt_f64(map, "top_p", 1e-6, 1, &r->top_p, e))
            return RZ_EINPUT;
        v = 0;
        if (opt_int(map, "seed", 0, INT64_MAX, &v, e)) return RZ_EINPUT;
        r->seed = (uint64_t)v;
        if (str_list(map, "stop", 0, RZ_SERVE_MAX_STOP, 256, r->stop, &r->n_stop, e)) return RZ_EINPUT;
        for (int i = 0; i < r->n_stop; i++)
            if (r->stop[i].n == 0) return rz_fail(e, RZ_EINPUT, "field 'stop': item %d is empty", i);
        break;
    case RZ_OP_EMBED:
        if (str_list(map, "texts", 1, RZ_SERVE_MAX_ITEMS, RZ_SERVE_MAX_TEXT, r->items, &r->n_items, e)) return RZ_EINPUT;
        v = -1;
        if (opt_int(map, "layer", -1, 65535, &v, e)) return RZ_EINPUT;
        r->layer = (int)v;
        break;
    case RZ_OP_TOKENIZE:
    case RZ_OP_COUNT:
        if (req_str(map, "text", &r->text, e)) return RZ_EINPUT;
        break;
    case RZ_OP_INFO: break;
    }
    return 0;
}

/* Every reply's head: a map of n entries, the first two "id" (the request's, or nil) and
 * "ok". */
static void reply_head(msgpack_packer *pk, const msgpack_object *id, size_t n, int ok)
{
    msgpack_pack_map(pk, n);
    msgpack_pack_str(pk, 2);
    msgpack_pack_str_body(pk, "id", 2);
    if (id) msgpack_pack_object(pk, *id);
    else msgpack_pack_nil(pk);
    msgpack_pack_str(pk, 2);
    msgpack_pack_str_body(pk, "ok", 2);
    if (ok) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
}

void rz_serve_reply_begin(msgpack_packer *pk, const msgpack_object *id, int n_fields)
{
    reply_head(pk, id, (size_t)n_fields + 2, 1);
}

void rz_serve_reply_error(msgpack_packer *pk, const msgpack_object *id, const char *msg)
{
    reply_head(pk, id, 3, 0);
    size_t n = strlen(msg);
    msgpack_pack_str(pk, 5);
    msgpack_pack_str_body(pk, "error", 5);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, msg, n);
}
