/* fuzz_checkpoint.c — libFuzzer target: any bytes as a model file, through the same
 * entry points the tools use (llama2.c .bin or .rzm, told apart by the first byte),
 * decoding quantised layers and tables at load and keeping them as codes. */
#include "fuzz_file.h"
#include "model_io.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    const char *path = fuzz_file("ckpt.bin", data, n);
    if (!path) return 0;
    rz_llama *m = NULL;
    rz_err e = {0};
    if (rz_model_load(path, NULL, &m, &e) == 0) rz_llama_free(m);
    m = NULL;
    if (rz_model_load_codes(path, NULL, &m, &e) == 0) rz_llama_free(m);
    return 0;
}
