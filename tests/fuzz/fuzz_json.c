/* fuzz_json.c — libFuzzer target: any bytes as one JSON line for rz-cat --from-json. */
#include "json.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rz_err e = {0};
    rz_json_to_msgpack((const char *)data, n, &pk, &e);
    msgpack_sbuffer_destroy(&sb);
    return 0;
}
