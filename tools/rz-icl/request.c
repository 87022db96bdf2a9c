/* rz-icl request — JSON lines in (stdin), each sent to rz-serve as one MessagePack
 * request (tools/core/icl/client.h), the reply printed as one JSON line. For scripts
 * and tests: bad requests are sent as they are, and the server's error replies printed. */
#include <stdio.h>
#include <stdlib.h>

#include "icl_cli.h"
#include "json.h"

int icl_request(icl_args *a)
{
    rz_err e = {0};
    rz_client *cl = icl_server(a, NULL, NULL);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (!n) continue;
        msgpack_sbuffer_clear(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (rz_json_to_msgpack(line, (size_t)n, &pk, &e)) {
            rz_wrap(&e, "stdin line %ld", lineno);
            icl_die(a, &e);
        }
        const msgpack_object *r;
        if (rz_client_raw(cl, sb.data, sb.size, &r, &e)) icl_die(a, &e);
        rz_json_print(stdout, r, 0);
        putchar('\n');
        fflush(stdout);
    }
    msgpack_sbuffer_destroy(&sb);
    free(line);
    rz_client_close(cl);
    return 0;
}
