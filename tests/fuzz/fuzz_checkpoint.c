/* fuzz_checkpoint.c — libFuzzer target: any bytes as a model file, through the same
 * entry point the tools use (llama2.c .bin or .rzm, told apart by the first byte). */
#include <stdio.h>
#include <unistd.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/rz-fuzz-ckpt-%d.bin", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, n, f);
    fclose(f);
    rz_llama *m = NULL;
    rz_err e = {0};
    if (rz_model_load(path, NULL, &m, &e) == 0) rz_llama_free(m);
    return 0;
}
