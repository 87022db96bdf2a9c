/* fuzz_serve.c — libFuzzer target: any bytes as one rz-serve request. The decoder must
 * answer every input with a request or an error, never crash, hang or over-allocate
 * (declared array and string lengths are checked against the bytes received first). */
#include "serve_proto.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    static rz_serve_req r;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    rz_err e = {0};
    rz_serve_req_decode(data, n, &up, &r, &e);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rz_serve_reply_error(&pk, r.id, e.msg);
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_destroy(&up);
    return 0;
}
