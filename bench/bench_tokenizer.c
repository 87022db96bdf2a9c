/* bench_tokenizer.c — BPE encoding speed on a whole file in one call (figures only,
 * never pass/fail). The default is the 600 KB TinyStories validation text with the 512-
 * token vocabulary; doubling the input should roughly double the time (the encoder is not
 * quadratic): the second line encodes the file twice over.
 *
 * usage: bench_tokenizer [TOKENIZER.bin [TEXT]]   (defaults from $RIZZ_DATA)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rz.h"
#include "tokenizer.h"
#include "readfile.h"

/* the whole file (NUL-terminated), or NULL: rz_read_file without its message */
static char *read_all(const char *path, size_t *n)
{
    char *b = NULL;
    rz_err e = {0};
    return rz_read_file(path, &b, n, &e) == RZ_OK ? b : NULL;
}

int main(int argc, char **argv)
{
    const char *dir = getenv("RIZZ_DATA") ? getenv("RIZZ_DATA") : "../shared/data";
    char zp[4096], fp[4096];
    snprintf(zp, sizeof zp, "%s/tok512.bin", dir);
    snprintf(fp, sizeof fp, "%s/tinystories-valid.txt", dir);
    const char *zpath = argc > 1 ? argv[1] : zp, *fpath = argc > 2 ? argv[2] : fp;
    rz_err e = {0};
    rz_tokenizer *t;
    size_t len;
    char *text = read_all(fpath, &len);
    if (!text || !len || rz_tokenizer_load(zpath, &t, &e) != 0) {
        fprintf(stderr, "bench_tokenizer: cannot read %s or %s %s\n", fpath, zpath, e.msg);
        return 1;
    }
    memcpy(text + len, text, len); /* the file twice over, for the second line */
    for (int rep = 1; rep <= 2; rep++) {
        int *ids;
        size_t n;
        double best = 1e30;
        for (int k = 0; k < 3; k++) { /* best of 3 */
            double t0 = rz_now();
            if (rz_tokenizer_encode(t, text, rep * len, 0, 0, &ids, &n, &e) != 0) {
                fprintf(stderr, "bench_tokenizer: %s\n", e.msg);
                return 1;
            }
            double s = rz_now() - t0;
            if (s < best) best = s;
            free(ids);
        }
        printf("  encode %zu bytes -> %zu tokens: %.3f s (%.1f MB/s)\n", rep * len, n, best, rep * len / best / 1e6);
    }
    rz_tokenizer_free(t);
    free(text);
    return 0;
}
