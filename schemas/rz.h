/* rz.h — the few things every rizz source file shares: error reporting and exit codes.
 *
 * Design: library functions never print and never exit. They return 0 on success or an
 * exit-code-like status (RZ_EINPUT for bad input or usage, RZ_EINTERNAL for everything
 * else) and fill an rz_err with a message that names the file, record or field and what
 * was expected. Only a tool's main() prints the message and exits with err.code.
 */
#ifndef RZ_H
#define RZ_H

#include <stddef.h>
#include <stdint.h>

#define RZ_VERSION "0.1.0"

enum {
    RZ_OK = 0,
    RZ_EINTERNAL = 1, /* our fault or the system's: out of memory, I/O failure */
    RZ_EINPUT = 2     /* the user's input or usage is wrong */
};

typedef struct {
    int code;       /* RZ_OK, RZ_EINTERNAL or RZ_EINPUT */
    char msg[1024]; /* one line, no trailing newline */
} rz_err;

/* Record a failure and return its code, so callers can write `return rz_fail(e, ...)`.
 * A NULL e is allowed (the message is dropped). */
int rz_fail(rz_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with context ("reading model.bin: ..."), keep its code. */
int rz_wrap(rz_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Allocation that reports failure through rz_err instead of returning silently NULL.
 * Size computations must be checked for overflow by the caller (see rz_mul_ok). */
void *rz_malloc(size_t n, rz_err *e);
void *rz_calloc(size_t n, size_t size, rz_err *e);

/* 1 if a*b fits in size_t and is <= limit, storing the product. */
int rz_mul_ok(size_t a, size_t b, size_t limit, size_t *out);

/* Monotonic wall clock in seconds. */
double rz_now(void);

#endif
