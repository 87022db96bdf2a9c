/* serve.c — rz-serve's request handler and its ZeroMQ broker + replicas (serve.h). */
#include "serve.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cluster.h"
#include "serve_proto.h"
#include "stream.h"

static void pack_key(msgpack_packer *pk, const char *k)
{
    size_t n = strlen(k);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, k, n);
}

/* ---- the handler ------------------------------------------------------------------- */

static int tok_items(rz_infer *f, const rz_serve_req *r, const char *what, int bos, int **ids, int *n, rz_err *e)
{
    for (int i = 0; i < r->n_items; i++) {
        size_t k;
        char w[64];
        snprintf(w, sizeof w, "field '%s': item %d", what, i);
        if (rz_infer_tokenize(f, r->items[i].p, r->items[i].n, bos, w, &ids[i], &k, e)) return RZ_EINPUT;
        if (k > (size_t)rz_infer_max_ctx(f))
            return rz_fail(e, RZ_EINPUT, "%s: %zu tokens, more than the server's context of %d", w, k,
                           rz_infer_max_ctx(f));
        n[i] = (int)k;
    }
    return 0;
}

static int do_score(rz_infer *f, const rz_serve_req *r, msgpack_packer *pk, rz_err *e)
{
    int *ctx = NULL, nc = r->n_items, rc;
    size_t nctx;
    int **ids = calloc((size_t)nc, sizeof *ids);
    int *n = calloc((size_t)nc, sizeof *n);
    double *sum = calloc((size_t)nc, sizeof *sum);
    if (!ids || !n || !sum) {
        rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
        goto out;
    }
    if ((rc = rz_infer_tokenize(f, r->text.p, r->text.n, r->bos, "field 'context'", &ctx, &nctx, e))) goto out;
    if (nctx > (size_t)rz_infer_max_ctx(f)) {
        rc = rz_fail(e, RZ_EINPUT, "field 'context': %zu tokens, more than the server's context of %d", nctx,
                     rz_infer_max_ctx(f));
        goto out;
    }
    if ((rc = tok_items(f, r, "continuations", 0, ids, n, e))) goto out;
    if ((rc = rz_infer_score_ids(f, ctx, (int)nctx, (const int *const *)ids, n, nc, r->reuse, sum, e))) goto out;
    rz_serve_reply_begin(pk, r->id, 4);
    pack_key(pk, "sum");
    msgpack_pack_array(pk, (size_t)nc);
    for (int i = 0; i < nc; i++) msgpack_pack_double(pk, sum[i]);
    pack_key(pk, "mean");
    msgpack_pack_array(pk, (size_t)nc);
    for (int i = 0; i < nc; i++) msgpack_pack_double(pk, sum[i] / n[i]);
    pack_key(pk, "tokens");
    msgpack_pack_array(pk, (size_t)nc);
    for (int i = 0; i < nc; i++) msgpack_pack_int(pk, n[i]);
    pack_key(pk, "context_tokens");
    msgpack_pack_int64(pk, (int64_t)nctx);
out:
    for (int i = 0; ids && i < nc; i++) free(ids[i]);
    free(ids);
    free(n);
    free(sum);
    free(ctx);
    return rc;
}

static int do_generate(rz_infer *f, const rz_serve_req *r, msgpack_packer *pk, rz_err *e)
{
    int *p;
    size_t np;
    int rc = rz_infer_tokenize(f, r->text.p, r->text.n, r->bos, "field 'prompt'", &p, &np, e);
    if (rc) return rc;
    if (np > (size_t)rz_infer_max_ctx(f)) {
        free(p);
        return rz_fail(e, RZ_EINPUT, "field 'prompt': %zu tokens, more than the server's context of %d", np,
                       rz_infer_max_ctx(f));
    }
    const char *stop[RZ_SERVE_MAX_STOP];
    size_t stop_len[RZ_SERVE_MAX_STOP];
    for (int i = 0; i < r->n_stop; i++) stop[i] = r->stop[i].p, stop_len[i] = r->stop[i].n;
    rz_gen_opts go = {r->max_tokens, r->temperature, r->top_p, r->seed, r->n_stop, stop, stop_len};
    char *text;
    size_t len;
    int n_new;
    rz_gen_reason why;
    rc = rz_infer_generate(f, p, (int)np, &go, &text, &len, &n_new, &why, e);
    free(p);
    if (rc) return rc;
    rz_serve_reply_begin(pk, r->id, 4);
    pack_key(pk, "text");
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, text, len);
    pack_key(pk, "tokens");
    msgpack_pack_int(pk, n_new);
    pack_key(pk, "prompt_tokens");
    msgpack_pack_int64(pk, (int64_t)np);
    pack_key(pk, "stop_reason");
    const char *w = rz_gen_reason_name(why);
    msgpack_pack_str(pk, strlen(w));
    msgpack_pack_str_body(pk, w, strlen(w));
    free(text);
    return 0;
}

static int do_embed(rz_infer *f, const rz_serve_req *r, msgpack_packer *pk, rz_err *e)
{
    int dim = rz_infer_dim(f), nt = r->n_items, rc = 0;
    float *v = malloc((size_t)nt * (size_t)dim * sizeof *v);
    if (!v) return rz_fail(e, RZ_EINTERNAL, "out of memory");
    for (int i = 0; i < nt && !rc; i++) {
        int *ids;
        size_t k;
        char w[64];
        snprintf(w, sizeof w, "field 'texts': item %d", i);
        if ((rc = rz_infer_tokenize(f, r->items[i].p, r->items[i].n, 1, w, &ids, &k, e))) break;
        if ((rc = rz_infer_embed_ids(f, ids, (int)k, 1, r->layer, v + (size_t)i * dim, e))) rz_wrap(e, "%s", w);
        free(ids);
    }
    if (!rc) {
        rz_serve_reply_begin(pk, r->id, 3);
        pack_key(pk, "dim");
        msgpack_pack_int(pk, dim);
        pack_key(pk, "layer");
        msgpack_pack_int(pk, r->layer);
        pack_key(pk, "embeddings");
        msgpack_pack_array(pk, (size_t)nt);
        for (int i = 0; i < nt; i++) {
            msgpack_pack_array(pk, (size_t)dim);
            for (int j = 0; j < dim; j++) msgpack_pack_float(pk, v[(size_t)i * dim + j]);
        }
    }
    free(v);
    return rc;
}

static int do_tokenize(rz_infer *f, const rz_serve_req *r, msgpack_packer *pk, rz_err *e)
{
    int *ids;
    size_t n;
    int rc = rz_infer_tokenize(f, r->text.p, r->text.n, r->bos, "field 'text'", &ids, &n, e);
    if (rc) return rc;
    rz_serve_reply_begin(pk, r->id, 1);
    if (r->op == RZ_OP_COUNT) {
        pack_key(pk, "count");
        msgpack_pack_int64(pk, (int64_t)n);
    } else {
        pack_key(pk, "tokens");
        msgpack_pack_array(pk, n);
        for (size_t i = 0; i < n; i++) msgpack_pack_int(pk, ids[i]);
    }
    free(ids);
    return 0;
}

int rz_serve_handle(rz_infer *f, const void *req, size_t n, msgpack_sbuffer *out)
{
    static rz_serve_req r; /* ~64 KiB of item views: one handler at a time per process */
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    rz_err e = {0};
    size_t mark = out->size;
    int rc = rz_serve_req_decode(req, n, &up, &r, &e);
    if (!rc) {
        switch (r.op) {
        case RZ_OP_SCORE: rc = do_score(f, &r, &pk, &e); break;
        case RZ_OP_GENERATE: rc = do_generate(f, &r, &pk, &e); break;
        case RZ_OP_EMBED: rc = do_embed(f, &r, &pk, &e); break;
        case RZ_OP_TOKENIZE:
        case RZ_OP_COUNT: rc = do_tokenize(f, &r, &pk, &e); break;
        case RZ_OP_INFO:
            rz_serve_reply_begin(&pk, r.id, 4);
            pack_key(&pk, "protocol");
            msgpack_pack_str(&pk, 8);
            msgpack_pack_str_body(&pk, "rz-serve", 8);
            pack_key(&pk, "version");
            msgpack_pack_int(&pk, RZ_SERVE_VERSION);
            pack_key(&pk, "max_ctx");
            msgpack_pack_int(&pk, rz_infer_max_ctx(f));
            pack_key(&pk, "dim");
            msgpack_pack_int(&pk, rz_infer_dim(f));
            break;
        }
    }
    if (rc) {
        out->size = mark; /* drop a partial reply */
        rz_serve_reply_error(&pk, r.id, e.msg[0] ? e.msg : "request failed");
    }
    msgpack_unpacked_destroy(&up);
    return rc ? 1 : 0;
}

/* ---- sockets ----------------------------------------------------------------------- */

typedef struct {
    void *front, *back, *control;
} proxy_args;

static void *proxy_main(void *p)
{
    proxy_args *a = p;
    zmq_proxy_steerable(a->front, a->back, NULL, a->control);
    return NULL;
}

/* rank 0's front + back + control + publisher; fills the addresses other ranks need */
static int open_broker(void *zctx, const rz_serve_opts *o, proxy_args *pa, void **pub, char *back_tcp,
                       char *pub_tcp, size_t cap, rz_err *e)
{
    char addr[1024];
    int bind;
    int rc = rz_endpoint_parse(o->endpoint, 1, addr, sizeof addr, &bind, e);
    if (rc) return rc;
    if (!bind) return rz_fail(e, RZ_EINPUT, "%s: rz-serve binds its endpoint (connect: is not allowed)", o->endpoint);
    pa->front = zmq_socket(zctx, ZMQ_ROUTER);
    pa->back = zmq_socket(zctx, ZMQ_DEALER);
    pa->control = zmq_socket(zctx, ZMQ_PAIR);
    *pub = zmq_socket(zctx, ZMQ_PUB);
    if (!pa->front || !pa->back || !pa->control || !*pub)
        return rz_fail(e, RZ_EINTERNAL, "cannot create ZeroMQ sockets: %s", zmq_strerror(zmq_errno()));
    /* larger messages disconnect the client; the decoder bounds what is below this */
    int64_t maxmsg = (int64_t)RZ_SERVE_MAX_REQUEST * 4;
    int zero = 0;
    zmq_setsockopt(pa->front, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(pa->front, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(pa->back, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(*pub, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(pa->front, addr) != 0)
        return rz_fail(e, RZ_EINPUT, "%s: cannot bind: %s", o->endpoint, zmq_strerror(zmq_errno()));
    if (zmq_bind(pa->back, "inproc://rz-serve-back") != 0 || zmq_bind(pa->control, "inproc://rz-serve-ctl") != 0)
        return rz_fail(e, RZ_EINTERNAL, "cannot bind inproc sockets: %s", zmq_strerror(zmq_errno()));
    back_tcp[0] = pub_tcp[0] = 0;
    if (rz_cluster_size() > 1) {
        size_t l1 = cap, l2 = cap;
        if (zmq_bind(pa->back, "tcp://127.0.0.1:*") != 0 || zmq_bind(*pub, "tcp://127.0.0.1:*") != 0)
            return rz_fail(e, RZ_EINTERNAL, "cannot bind the replicas' loopback sockets: %s",
                           zmq_strerror(zmq_errno()));
        zmq_getsockopt(pa->back, ZMQ_LAST_ENDPOINT, back_tcp, &l1);
        zmq_getsockopt(*pub, ZMQ_LAST_ENDPOINT, pub_tcp, &l2);
    }
    return 0;
}

static int worker_loop(rz_infer *f, void *rep, void *sub, const rz_serve_opts *o, rz_serve_stats *st)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    double last = rz_now();
    zmq_pollitem_t items[2] = {{rep, 0, ZMQ_POLLIN, 0}, {sub, 0, ZMQ_POLLIN, 0}};
    int nitems = sub ? 2 : 1;
    for (;;) {
        if (o->stop && *o->stop) break;
        if (o->idle_s > 0 && rz_cluster_rank() == 0 && rz_now() - last > o->idle_s) break;
        int pr = zmq_poll(items, nitems, 100);
        if (pr < 0) {
            if (zmq_errno() == EINTR) continue; /* a signal: the flag is checked above */
            break;
        }
        if (nitems == 2 && (items[1].revents & ZMQ_POLLIN)) break; /* rank 0 says stop */
        if (!(items[0].revents & ZMQ_POLLIN)) continue;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, rep, 0) < 0) {
            zmq_msg_close(&msg);
            continue;
        }
        int more = zmq_msg_more(&msg), extra = 0;
        double t0 = rz_now();
        out.size = 0;
        while (more) { /* a request is one frame: drain the rest, then answer with an error */
            zmq_msg_t x;
            zmq_msg_init(&x);
            if (zmq_msg_recv(&x, rep, 0) < 0) more = 0;
            else more = zmq_msg_more(&x);
            zmq_msg_close(&x);
            extra++;
        }
        int bad;
        if (extra) {
            msgpack_packer pk;
            msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
            rz_serve_reply_error(&pk, NULL, "request: more than one frame (send the map as one message)");
            bad = 1;
        } else {
            bad = rz_serve_handle(f, zmq_msg_data(&msg), zmq_msg_size(&msg), &out);
        }
        zmq_msg_close(&msg);
        zmq_send(rep, out.data, out.size, 0);
        st->requests++;
        st->errors += bad;
        last = rz_now();
        st->busy_s += last - t0;
    }
    msgpack_sbuffer_destroy(&out);
    return 0;
}

int rz_serve_run(rz_infer *f, const rz_serve_opts *o, rz_serve_stats *st, rz_err *e)
{
    memset(st, 0, sizeof *st);
    void *zctx = zmq_ctx_new();
    if (!zctx) return rz_fail(e, RZ_EINTERNAL, "cannot create a ZeroMQ context");
    proxy_args pa = {0};
    void *pub = NULL, *rep = NULL, *sub = NULL, *ctl = NULL;
    char back_tcp[256] = {0}, pub_tcp[256] = {0};
    int rank = rz_cluster_rank(), rc = 0, started = 0;
    pthread_t th;
    int32_t ok = 1;
    if (rank == 0) {
        rc = open_broker(zctx, o, &pa, &pub, back_tcp, pub_tcp, sizeof back_tcp, e);
        ok = rc == 0;
    }
    rz_cluster_bcast(&ok, sizeof ok);
    rz_cluster_bcast(back_tcp, sizeof back_tcp);
    rz_cluster_bcast(pub_tcp, sizeof pub_tcp);
    if (!ok) {
        if (rank != 0) rc = rz_fail(e, RZ_EINPUT, "rank 0 could not open the front socket");
        goto done;
    }
    rep = zmq_socket(zctx, ZMQ_REP);
    int zero = 0;
    zmq_setsockopt(rep, ZMQ_LINGER, &zero, sizeof zero);
    if (rank == 0) {
        if (pthread_create(&th, NULL, proxy_main, &pa) != 0) {
            rc = rz_fail(e, RZ_EINTERNAL, "cannot start the broker thread");
            goto done;
        }
        started = 1;
        ctl = zmq_socket(zctx, ZMQ_PAIR);
        zmq_connect(ctl, "inproc://rz-serve-ctl");
        zmq_connect(rep, "inproc://rz-serve-back");
    } else {
        sub = zmq_socket(zctx, ZMQ_SUB);
        zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
        zmq_connect(sub, pub_tcp);
        zmq_connect(rep, back_tcp);
    }
    rz_cluster_barrier(); /* every replica connected before the first client is told */
    if (rank == 0 && o->on_ready) o->on_ready(o->ctx, o->endpoint);
    worker_loop(f, rep, sub, o, st);
    if (rank == 0) {
        /* the PUB may drop a message sent before a slow subscriber joined: repeat it
         * until the other ranks have all reached the barrier below */
        for (int i = 0; i < 5; i++) zmq_send(pub, "stop", 4, ZMQ_DONTWAIT);
    }
done:
    if (started) {
        zmq_send(ctl, "TERMINATE", 9, 0);
        pthread_join(th, NULL);
    }
    if (rep) zmq_close(rep);
    if (sub) zmq_close(sub);
    if (ctl) zmq_close(ctl);
    if (pub) zmq_close(pub);
    if (pa.front) zmq_close(pa.front);
    if (pa.back) zmq_close(pa.back);
    if (pa.control) zmq_close(pa.control);
    zmq_ctx_term(zctx);
    /* rank 0 bound the front: an ipc:// endpoint's socket file is ours to remove */
    char addr[1024];
    int bind;
    if (rank == 0 && ok && rz_endpoint_parse(o->endpoint, 1, addr, sizeof addr, &bind, NULL) == 0 && bind &&
        strncmp(addr, "ipc://", 6) == 0)
        unlink(addr + 6);
    return rc;
}
