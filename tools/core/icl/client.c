/* client.c — rz-serve client over a DEALER socket (client.h). */
#include "client.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "record.h"
#include "serve_proto.h"
#include "stream.h"

struct rz_client {
    void *zctx, *sock;
    char *loc;
    double timeout_s;
    int64_t next_id;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked up;
    zmq_msg_t msg;
    int msg_live;
};

static void key(msgpack_packer *pk, const char *k)
{
    size_t n = strlen(k);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, k, n);
}

static void str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

msgpack_packer *rz_client_begin(rz_client *c, const char *op, int n_fields)
{
    msgpack_sbuffer_clear(&c->sb);
    msgpack_pack_map(&c->pk, (size_t)n_fields + 2);
    key(&c->pk, "id");
    msgpack_pack_int64(&c->pk, ++c->next_id);
    key(&c->pk, "op");
    str(&c->pk, op);
    return &c->pk;
}

static const msgpack_object *get(const msgpack_object *m, const char *k)
{
    size_t kl = strlen(k);
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == kl && !memcmp(kv->key.via.str.ptr, k, kl))
            return &kv->val;
    }
    return NULL;
}

/* sends c->sb; waits for the reply to it; check: an rz-serve reply to this request */
static int call(rz_client *c, int check, const msgpack_object **reply, rz_err *e)
{
    if (zmq_send(c->sock, "", 0, ZMQ_SNDMORE) < 0 || zmq_send(c->sock, c->sb.data, c->sb.size, 0) < 0)
        return rz_fail(e, RZ_EINPUT, "%s: cannot send a request: %s", c->loc, zmq_strerror(zmq_errno()));
    double deadline = rz_now() + c->timeout_s;
    for (;;) {
        zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
        double left = deadline - rz_now();
        if (left <= 0 || zmq_poll(&it, 1, (long)(left * 1000) + 1) <= 0 || !(it.revents & ZMQ_POLLIN)) {
            if (rz_now() < deadline) continue; /* EINTR */
            return rz_fail(e, RZ_EINPUT, "%s: no reply within %g s (is rz-serve running there?)", c->loc,
                           c->timeout_s);
        }
        /* frames: empty delimiter, then the reply */
        zmq_msg_t d;
        zmq_msg_init(&d);
        int got = zmq_msg_recv(&d, c->sock, 0);
        int more = zmq_msg_more(&d);
        size_t dsz = zmq_msg_size(&d);
        zmq_msg_close(&d);
        if (got < 0) continue;
        if (dsz != 0 || !more) {
            while (more) { /* drain */
                zmq_msg_init(&d);
                zmq_msg_recv(&d, c->sock, 0);
                more = zmq_msg_more(&d);
                zmq_msg_close(&d);
            }
            return rz_fail(e, RZ_EINPUT, "%s: the peer does not speak rz-serve's protocol (no reply envelope)",
                           c->loc);
        }
        if (c->msg_live) zmq_msg_close(&c->msg);
        zmq_msg_init(&c->msg);
        c->msg_live = 1;
        zmq_msg_recv(&c->msg, c->sock, 0);
        msgpack_unpacked_destroy(&c->up);
        msgpack_unpacked_init(&c->up);
        size_t off = 0;
        if (msgpack_unpack_next(&c->up, zmq_msg_data(&c->msg), zmq_msg_size(&c->msg), &off) != MSGPACK_UNPACK_SUCCESS ||
            c->up.data.type != MSGPACK_OBJECT_MAP)
            return rz_fail(e, RZ_EINPUT, "%s: reply is not a MessagePack map (not rz-serve?)", c->loc);
        const msgpack_object *m = &c->up.data, *id = get(m, "id"), *ok = get(m, "ok");
        if (!check) {
            *reply = m;
            return 0;
        }
        if (!ok || ok->type != MSGPACK_OBJECT_BOOLEAN)
            return rz_fail(e, RZ_EINPUT, "%s: reply field 'ok': missing or not a boolean (not rz-serve?)", c->loc);
        if (!id || id->type != MSGPACK_OBJECT_POSITIVE_INTEGER || (int64_t)id->via.u64 != c->next_id) {
            if (id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER && (int64_t)id->via.u64 < c->next_id)
                continue; /* a late reply to an earlier request */
            return rz_fail(e, RZ_EINPUT, "%s: reply field 'id': does not match request %lld", c->loc,
                           (long long)c->next_id);
        }
        if (!ok->via.boolean) {
            const msgpack_object *er = get(m, "error");
            int n = er && er->type == MSGPACK_OBJECT_STR ? (int)er->via.str.size : 0;
            return rz_fail(e, RZ_EINPUT, "%s: %.*s", c->loc, n > 900 ? 900 : n, n ? er->via.str.ptr : "error");
        }
        *reply = m;
        return 0;
    }
}

int rz_client_call(rz_client *c, const msgpack_object **reply, rz_err *e) { return call(c, 1, reply, e); }

int rz_client_raw(rz_client *c, const void *req, size_t n, const msgpack_object **reply, rz_err *e)
{
    msgpack_sbuffer_clear(&c->sb);
    msgpack_sbuffer_write(&c->sb, req, n);
    return call(c, 0, reply, e);
}

int rz_client_open(const char *endpoint, double timeout_s, rz_client **out, int *max_ctx, int *dim, rz_err *e)
{
    *out = NULL;
    char addr[1024];
    int bind;
    int rc = rz_endpoint_parse(endpoint, 0, addr, sizeof addr, &bind, e);
    if (rc) return rc;
    rz_client *c = rz_calloc(1, sizeof *c, e);
    if (!c) return RZ_EINTERNAL;
    c->loc = strdup(endpoint);
    c->timeout_s = timeout_s > 0 ? timeout_s : 30;
    msgpack_sbuffer_init(&c->sb);
    msgpack_packer_init(&c->pk, &c->sb, msgpack_sbuffer_write);
    msgpack_unpacked_init(&c->up);
    c->zctx = zmq_ctx_new();
    c->sock = c->zctx ? zmq_socket(c->zctx, ZMQ_DEALER) : NULL;
    if (!c->sock) {
        rz_client_close(c);
        return rz_fail(e, RZ_EINTERNAL, "cannot create a ZeroMQ socket");
    }
    int zero = 0;
    int64_t maxmsg = (int64_t)RZ_MAX_RECORD_BYTES;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if ((bind ? zmq_bind(c->sock, addr) : zmq_connect(c->sock, addr)) != 0) {
        rc = rz_fail(e, RZ_EINPUT, "%s: cannot connect: %s", endpoint, zmq_strerror(zmq_errno()));
        rz_client_close(c);
        return rc;
    }
    const msgpack_object *r;
    rz_client_begin(c, "info", 0);
    if ((rc = rz_client_call(c, &r, e))) {
        rz_client_close(c);
        return rc;
    }
    const msgpack_object *p = get(r, "protocol"), *mc = get(r, "max_ctx"), *d = get(r, "dim");
    if (!p || p->type != MSGPACK_OBJECT_STR || p->via.str.size != 8 || memcmp(p->via.str.ptr, "rz-serve", 8) ||
        !mc || mc->type != MSGPACK_OBJECT_POSITIVE_INTEGER || !d || d->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        rz_client_close(c);
        return rz_fail(e, RZ_EINPUT, "%s: info reply field 'protocol'/'max_ctx'/'dim': not rz-serve's", endpoint);
    }
    if (max_ctx) *max_ctx = (int)mc->via.u64;
    if (dim) *dim = (int)d->via.u64;
    *out = c;
    return 0;
}

void rz_client_close(rz_client *c)
{
    if (!c) return;
    if (c->msg_live) zmq_msg_close(&c->msg);
    if (c->sock) zmq_close(c->sock);
    if (c->zctx) zmq_ctx_term(c->zctx);
    msgpack_unpacked_destroy(&c->up);
    msgpack_sbuffer_destroy(&c->sb);
    free(c->loc);
    free(c);
}

/* an array field of n numbers */
static int num_array(rz_client *c, const msgpack_object *r, const char *k, int n, double *out, rz_err *e)
{
    const msgpack_object *a = get(r, k);
    if (!a || a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != (uint32_t)n)
        return rz_fail(e, RZ_EINPUT, "%s: reply field '%s': expected an array of %d numbers", c->loc, k, n);
    for (int i = 0; i < n; i++) {
        const msgpack_object *o = &a->via.array.ptr[i];
        if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) out[i] = o->via.f64;
        else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) out[i] = (double)o->via.u64;
        else return rz_fail(e, RZ_EINPUT, "%s: reply field '%s': item %d is not a number", c->loc, k, i);
    }
    return 0;
}

int rz_client_score(rz_client *c, const char *context, const char *const *cont, int n, double *sum, int *ntok,
                    rz_err *e)
{
    msgpack_packer *pk = rz_client_begin(c, "score", 2);
    key(pk, "context");
    str(pk, context);
    key(pk, "continuations");
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < n; i++) str(pk, cont[i]);
    const msgpack_object *r;
    int rc = rz_client_call(c, &r, e);
    if (rc) return rc;
    if ((rc = num_array(c, r, "sum", n, sum, e))) return rc;
    if (ntok) {
        double *t = malloc((size_t)n * sizeof *t);
        if (!t) return rz_fail(e, RZ_EINTERNAL, "out of memory");
        rc = num_array(c, r, "tokens", n, t, e);
        for (int i = 0; i < n && !rc; i++) ntok[i] = (int)t[i];
        free(t);
    }
    return rc;
}

int rz_client_embed(rz_client *c, const char *const *texts, int n, int layer, float *out, int dim, rz_err *e)
{
    msgpack_packer *pk = rz_client_begin(c, "embed", 2);
    key(pk, "texts");
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < n; i++) str(pk, texts[i]);
    key(pk, "layer");
    msgpack_pack_int(pk, layer);
    const msgpack_object *r;
    int rc = rz_client_call(c, &r, e);
    if (rc) return rc;
    const msgpack_object *a = get(r, "embeddings");
    if (!a || a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != (uint32_t)n)
        return rz_fail(e, RZ_EINPUT, "%s: reply field 'embeddings': expected %d vectors", c->loc, n);
    for (int i = 0; i < n; i++) {
        const msgpack_object *v = &a->via.array.ptr[i];
        if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != (uint32_t)dim)
            return rz_fail(e, RZ_EINPUT, "%s: reply field 'embeddings': vector %d is not %d numbers", c->loc, i, dim);
        for (int j = 0; j < dim; j++) {
            const msgpack_object *x = &v->via.array.ptr[j];
            if (x->type != MSGPACK_OBJECT_FLOAT32 && x->type != MSGPACK_OBJECT_FLOAT64)
                return rz_fail(e, RZ_EINPUT, "%s: reply field 'embeddings': vector %d item %d is not a float", c->loc,
                               i, j);
            out[(size_t)i * dim + j] = (float)x->via.f64;
        }
    }
    return 0;
}

int rz_client_count(rz_client *c, const char *text, long *count, rz_err *e)
{
    msgpack_packer *pk = rz_client_begin(c, "count", 1);
    key(pk, "text");
    str(pk, text);
    const msgpack_object *r;
    int rc = rz_client_call(c, &r, e);
    if (rc) return rc;
    const msgpack_object *n = get(r, "count");
    if (!n || n->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return rz_fail(e, RZ_EINPUT, "%s: reply field 'count': expected an integer", c->loc);
    *count = (long)n->via.u64;
    return 0;
}

int rz_client_generate(rz_client *c, const char *prompt, int max_tokens, double temperature, double top_p,
                       unsigned long long seed, const char *stop, char **text, rz_err *e)
{
    msgpack_packer *pk = rz_client_begin(c, "generate", stop ? 6 : 5);
    key(pk, "prompt");
    str(pk, prompt);
    key(pk, "max_tokens");
    msgpack_pack_int(pk, max_tokens);
    key(pk, "temperature");
    msgpack_pack_double(pk, temperature);
    key(pk, "top_p");
    msgpack_pack_double(pk, top_p);
    key(pk, "seed");
    msgpack_pack_uint64(pk, seed);
    if (stop) {
        key(pk, "stop");
        msgpack_pack_array(pk, 1);
        str(pk, stop);
    }
    const msgpack_object *r;
    int rc = rz_client_call(c, &r, e);
    if (rc) return rc;
    const msgpack_object *t = get(r, "text");
    if (!t || t->type != MSGPACK_OBJECT_STR)
        return rz_fail(e, RZ_EINPUT, "%s: reply field 'text': expected a string", c->loc);
    *text = strndup(t->via.str.ptr, t->via.str.size);
    return *text ? 0 : rz_fail(e, RZ_EINTERNAL, "out of memory");
}
