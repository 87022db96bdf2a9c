/* rz.c — error reporting and checked allocation shared by every module (see rz.h). */
#define _POSIX_C_SOURCE 200809L
#include "rz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rz_fail(rz_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return code;
}

int rz_wrap(rz_err *e, const char *fmt, ...)
{
    if (!e) return RZ_EINTERNAL;
    char prefix[512], old[sizeof e->msg], joined[sizeof prefix + sizeof old + 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(joined, sizeof joined, "%s: %s", prefix, old);
    size_t n = strlen(joined); /* an over-long message is truncated */
    if (n >= sizeof e->msg) n = sizeof e->msg - 1;
    memcpy(e->msg, joined, n);
    e->msg[n] = 0;
    if (e->code == RZ_OK) e->code = RZ_EINTERNAL;
    return e->code;
}

void *rz_malloc(size_t n, rz_err *e)
{
    void *p = malloc(n ? n : 1);
    if (!p) rz_fail(e, RZ_EINTERNAL, "out of memory allocating %zu bytes", n);
    return p;
}

void *rz_calloc(size_t n, size_t size, rz_err *e)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) rz_fail(e, RZ_EINTERNAL, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

int rz_mul_ok(size_t a, size_t b, size_t limit, size_t *out)
{
    if (a != 0 && b > limit / a) return 0;
    if (out) *out = a * b;
    return 1;
}

double rz_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
