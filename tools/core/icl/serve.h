/* serve.h — rz-serve: one model answering requests (serve_proto.h) over ZeroMQ.
 *
 * Sockets (the ZeroMQ guide's shared-queue broker): the front is a ROUTER bound at the
 * endpoint the user names (tcp://:PORT binds 127.0.0.1, as every rizz endpoint; the '*'
 * host must be written out), the back a DEALER; zmq_proxy runs between them in a thread
 * of rank 0. Every worker, one per MPI rank (rank 0's in its main thread, over inproc),
 * is a REP socket connected to the back, so requests are spread over the replicas and
 * each reply finds its way to the client that asked. Clients use REQ, or DEALER sending
 * an empty delimiter frame before the request (and reading one before the reply).
 * The back is also bound on a loopback tcp port when there are several ranks (its
 * address is broadcast with MPI), so the replicas must share one host.
 *
 * Every request gets exactly one reply; a bad one gets {"ok": false, "error": ...} and
 * the worker goes on. Stopping: *stop becoming non-zero (SIGTERM/SIGINT handler in the
 * tool), or idle_s seconds without a request at rank 0 (0 = never). Rank 0 then tells
 * the other ranks over a PUB socket, stops the proxy and returns.
 */
#ifndef RZ_SERVE_H
#define RZ_SERVE_H

#include <msgpack.h>
#include <signal.h>

#include "infer.h"

typedef struct {
    long requests, errors;
    double busy_s; /* time spent computing replies */
} rz_serve_stats;

/* One request in, its reply appended to out (an error reply for any bad request; the
 * return value is 1 when the reply is an error, 0 otherwise). */
int rz_serve_handle(rz_infer *f, const void *req, size_t n, msgpack_sbuffer *out);

typedef struct {
    const char *endpoint; /* front endpoint (rank 0) */
    double idle_s;        /* stop after this long without a request (0 = never) */
    volatile sig_atomic_t *stop;
    void (*on_ready)(void *ctx, const char *endpoint); /* rank 0, once bound (may be NULL) */
    void *ctx;
} rz_serve_opts;

/* Runs until stopped. Collective under MPI (every rank calls it). */
int rz_serve_run(rz_infer *f, const rz_serve_opts *o, rz_serve_stats *st, rz_err *e);

#endif
