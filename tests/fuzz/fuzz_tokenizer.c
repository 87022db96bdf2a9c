/* fuzz_tokenizer.c — libFuzzer target: the first half of the input as a tokenizer file,
 * the second half as text to encode with it (the encoder sees hostile vocabularies too). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/rz-fuzz-tok-%d.bin", (int)getpid());
    size_t half = n / 2;
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, half, f);
    fclose(f);
    rz_tokenizer *t;
    rz_err e = {0};
    if (rz_tokenizer_load(path, &t, &e) == 0) {
        int *ids;
        size_t k;
        if (rz_tokenizer_encode(t, (const char *)data + half, n - half, 1, 1, &ids, &k, &e) == 0) {
            size_t len;
            for (size_t i = 0; i < k; i++) rz_tokenizer_piece(t, i ? ids[i - 1] : 1, ids[i], &len);
            free(ids);
        }
        rz_tokenizer_free(t);
    }
    return 0;
}
