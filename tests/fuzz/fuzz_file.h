/* fuzz_file.h — for libFuzzer targets whose parser reads a path: the input bytes written
 * to a file of this process under /tmp (tests/shell/fuzz.sh removes /tmp/rz-fuzz-*). */
#ifndef RZ_FUZZ_FILE_H
#define RZ_FUZZ_FILE_H

#include <stdio.h>
#include <unistd.h>

/* /tmp/rz-fuzz-PID-NAME holding data[0..n), or NULL when it cannot be written. */
static const char *fuzz_file(const char *name, const unsigned char *data, size_t n)
{
    static char path[96];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/rz-fuzz-%d-%s", (int)getpid(), name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    size_t wrote = fwrite(data, 1, n, f);
    return fclose(f) == 0 && wrote == n ? path : NULL;
}

#endif
