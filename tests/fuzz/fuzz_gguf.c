/* fuzz_gguf.c — libFuzzer target: the input as a GGUF file, read as a model and as a
 * tokenizer (which then encodes and decodes a fixed text). */
#include <stdlib.h>

#include "fuzz_file.h"
#include "gguf.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    const char *path = fuzz_file("model.gguf", data, n);
    if (!path) return 0;
    rz_err e = {0};
    rz_llama *m;
    if (rz_gguf_load_model(path, &m, &e) == 0) rz_llama_free(m);
    rz_tokenizer *t;
    int add_bos;
    if (rz_gguf_load_tokenizer(path, &t, &add_bos, &e) == 0) {
        static const char text[] = "Once upon a time, \xe2\x96\x81 there was <s> a caf\xc3\xa9.\n\n";
        int *ids;
        size_t k, len;
        if (rz_tokenizer_encode(t, text, sizeof text - 1, add_bos, 1, &ids, &k, &e) == 0) {
            for (size_t i = 0; i < k; i++) rz_tokenizer_piece(t, i ? ids[i - 1] : -1, ids[i], &len);
            free(ids);
        }
        rz_tokenizer_free(t);
    }
    return 0;
}
