/* fuzz_safetensors.c — libFuzzer target: the input as a safetensors file (header
 * validation, then every tensor read), and as a tokenizer.json. */
#include <stdlib.h>

#include "fuzz_file.h"
#include "hf.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    const char *path = fuzz_file("model.safetensors", data, n);
    if (!path) return 0;
    rz_err e = {0};
    rz_safetensors s;
    if (rz_safetensors_open(path, &s, &e) == 0) {
        for (int i = 0; i < s.n; i++) {
            size_t count = (size_t)(s.t[i].end - s.t[i].begin) / (s.t[i].dtype == 0 ? 4 : 2);
            float *buf = malloc(count ? count * sizeof *buf : 1);
            if (buf) rz_safetensors_read_f32(&s, &s.t[i], buf);
            free(buf);
        }
        rz_safetensors_close(&s);
    }
    rz_tokenizer *t;
    if (rz_hf_load_tokenizer(path, &t, &e) == 0) {
        int *ids;
        size_t k;
        if (rz_tokenizer_encode(t, "Once upon a time\n", 17, 1, 1, &ids, &k, &e) == 0) free(ids);
        rz_tokenizer_free(t);
    }
    return 0;
}
