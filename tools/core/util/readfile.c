/* readfile.c — a whole file into memory (see readfile.h). */
#include "readfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int rz_read_file(const char *path, char **buf, size_t *n, rz_err *e)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return rz_fail(e, RZ_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return rz_fail(e, RZ_EINPUT, "%s: is a directory", path);
    }
    size_t cap = 1 << 20, len = 0;
    char *b = malloc(cap + 1);
    if (!b) {
        if (f != stdin) fclose(f);
        return rz_fail(e, RZ_EINTERNAL, "out of memory");
    }
    for (;;) {
        if (len == cap) {
            if (cap >= RZ_MAX_TEXT_BYTES) {
                free(b);
                if (f != stdin) fclose(f);
                return rz_fail(e, RZ_EINPUT, "%s: larger than the %zu-byte limit", path, RZ_MAX_TEXT_BYTES);
            }
            cap *= 2;
            char *nb = realloc(b, cap + 1);
            if (!nb) {
                free(b);
                if (f != stdin) fclose(f);
                return rz_fail(e, RZ_EINTERNAL, "out of memory reading %s", path);
            }
            b = nb;
        }
        size_t got = fread(b + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    if (f != stdin) fclose(f);
    if (bad) {
        free(b);
        return rz_fail(e, RZ_EINPUT, "%s: read failed", path);
    }
    b[len] = 0;
    *buf = b;
    *n = len;
    return RZ_OK;
}
