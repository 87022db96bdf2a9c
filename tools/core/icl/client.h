/* client.h — talking to rz-serve (serve_proto.h): a DEALER socket, one request at a time,
 * each reply waited for at most timeout_s seconds and checked to be an rz-serve reply to
 * that request (map, matching integer id, boolean "ok").
 *
 * Errors are RZ_EINPUT naming the endpoint: no reply in time (a dead server, or a wrong
 * address), a reply that is not rz-serve's (another protocol on that port), or the
 * server's own error message for a request it refused.
 */
#ifndef RZ_CLIENT_H
#define RZ_CLIENT_H

#include <msgpack.h>
#include <stddef.h>

#include "rz.h"

typedef struct rz_client rz_client;

/* Connects (lazily, as ZeroMQ does) and checks the peer with an "info" request, so a
 * dead or foreign server is an error here. *max_ctx, *dim (if non-NULL) from its reply. */
int rz_client_open(const char *endpoint, double timeout_s, rz_client **out, int *max_ctx, int *dim, rz_err *e);
void rz_client_close(rz_client *c);

/* The packer for the next request: a map of n_fields user fields is begun, with "id"
 * and "op" already in it. Then rz_client_call sends it and returns the reply map
 * (valid until the next call) after checking ok == true. */
msgpack_packer *rz_client_begin(rz_client *c, const char *op, int n_fields);
int rz_client_call(rz_client *c, const msgpack_object **reply, rz_err *e);

/* Sends req[0..n) as it is (any bytes) and returns whatever map comes back, unchecked
 * (rz-icl request, tests). */
int rz_client_raw(rz_client *c, const void *req, size_t n, const msgpack_object **reply, rz_err *e);

/* sum[i] = log p(cont[i] | context) in nats; ntok[i] (may be NULL) its token count. */
int rz_client_score(rz_client *c, const char *context, const char *const *cont, int n, double *sum, int *ntok,
                    rz_err *e);
/* out[n][dim] mean-pooled embeddings (layer -1: final). */
int rz_client_embed(rz_client *c, const char *const *texts, int n, int layer, float *out, int dim, rz_err *e);
/* Tokens of text (with BOS). */
int rz_client_count(rz_client *c, const char *text, long *count, rz_err *e);
/* Generated text (malloc'ed) after prompt. */
int rz_client_generate(rz_client *c, const char *prompt, int max_tokens, double temperature, double top_p,
                       unsigned long long seed, const char *stop, char **text, rz_err *e);

#endif
