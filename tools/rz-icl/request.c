/* rz-icl request — JSON lines in (stdin), each sent to rz-serve as one MessagePack
 * request, the reply printed as one JSON line. For scripts and tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "icl_cli.h"
#include "json.h"

int icl_request(icl_args *a)
{
    rz_err e = {0};
    if (!a->server) rz_cli_usage_error(&a->c, "--server ENDPOINT is required");
    char addr[1024];
    int bind;
    if (rz_endpoint_parse(a->server, 0, addr, sizeof addr, &bind, &e)) icl_die(a, &e);
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(s, addr)) {
        rz_fail(&e, RZ_EINPUT, "%s: cannot connect", a->server);
        icl_die(a, &e);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (!n) continue;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (rz_json_to_msgpack(line, (size_t)n, &pk, &e)) {
            rz_wrap(&e, "stdin line %ld", lineno);
            icl_die(a, &e);
        }
        zmq_send(s, "", 0, ZMQ_SNDMORE);
        zmq_send(s, sb.data, sb.size, 0);
        msgpack_sbuffer_destroy(&sb);
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)(a->c.stream.timeout_s * 1000)) <= 0) {
            rz_fail(&e, RZ_EINPUT, "%s: no reply to line %ld within %g s", a->server, lineno, a->c.stream.timeout_s);
            icl_die(a, &e);
        }
        zmq_msg_t m;
        int more = 1, frame = 0;
        while (more) {
            zmq_msg_init(&m);
            zmq_msg_recv(&m, s, 0);
            more = zmq_msg_more(&m);
            if (frame++ == 1) {
                msgpack_unpacked up;
                msgpack_unpacked_init(&up);
                size_t off = 0;
                if (msgpack_unpack_next(&up, zmq_msg_data(&m), zmq_msg_size(&m), &off) == MSGPACK_UNPACK_SUCCESS) {
                    rz_json_print(stdout, &up.data, 0);
                    putchar('\n');
                    fflush(stdout);
                }
                msgpack_unpacked_destroy(&up);
            }
            zmq_msg_close(&m);
        }
    }
    free(line);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}
