/* fuzz_file.h — for libFuzzer targets whose parser reads a path: the input bytes written
 * to a file of this process in $TMPDIR (default /tmp; tests/shell/fuzz.sh points it at
 * its own scratch folder, which it removes, so two suites never share these files). */
#ifndef RZ_FUZZ_FILE_H
#define RZ_FUZZ_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* $TMPDIR/rz-fuzz-PID-NAME holding data[0..n), or NULL when it cannot be written. */
static const char *fuzz_file(const char *name, const unsigned char *data, size_t n)
{
    static char path[4096];
    if (!path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/rz-fuzz-%d-%s", dir && *dir ? dir : "/tmp", (int)getpid(), name);
    }
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    size_t wrote = fwrite(data, 1, n, f);
    return fclose(f) == 0 && wrote == n ? path : NULL;
}

#endif
