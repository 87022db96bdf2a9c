/* fuzz_tokenizer.c — libFuzzer target: the first half of the input as a tokenizer file,
 * the second half as text to encode with it (the encoder sees hostile vocabularies too). */
#include <stdlib.h>

#include "fuzz_file.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    size_t half = n / 2;
    const char *path = fuzz_file("tok.bin", data, half);
    if (!path) return 0;
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
