/* check.h — the minimal test harness for rizz's C unit tests.
 *
 * Each test program is a list of cases; every case prints one TAP-style line
 * ("ok - name" or "not ok - name: why"), and tests/run counts them. A case is a
 * function; CHECK* record a failure with file:line and the values involved and let the
 * case continue, so one run shows every broken property. main() is:
 *
 *     int main(void) { RUN(test_a); RUN(test_b); return check_summary(); }
 *
 * Data that a test needs from ../shared/data is found through RIZZ_DATA (see
 * check_data_path); a case that needs it and cannot find it is reported as failed,
 * never silently skipped.
 */
#ifndef RZ_CHECK_H
#define RZ_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_case_failed, check_cases_failed, check_cases_run;

#define CHECK(cond)                                                               \
    do {                                                                          \
        if (!(cond)) {                                                            \
            printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);   \
            check_case_failed = 1;                                                \
        }                                                                         \
    } while (0)

/* |a-b| <= tol, printing both values on failure. */
#define CHECK_NEAR(a, b, tol)                                                     \
    do {                                                                          \
        double check_a_ = (double)(a), check_b_ = (double)(b);                    \
        if (!(fabs(check_a_ - check_b_) <= (double)(tol))) {                      \
            printf("#   %s:%d: %s = %.10g, %s = %.10g, |diff| %.3g > tol %.3g\n", \
                   __FILE__, __LINE__, #a, check_a_, #b, check_b_,                \
                   fabs(check_a_ - check_b_), (double)(tol));                     \
            check_case_failed = 1;                                                \
        }                                                                         \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                        \
    do {                                                                          \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);           \
        if (check_a_ != check_b_) {                                               \
            printf("#   %s:%d: %s = %lld, expected %s = %lld\n", __FILE__,        \
                   __LINE__, #a, check_a_, #b, check_b_);                         \
            check_case_failed = 1;                                                \
        }                                                                         \
    } while (0)

#define RUN(fn)                                                                   \
    do {                                                                          \
        check_case_failed = 0;                                                    \
        fn();                                                                     \
        check_cases_run++;                                                        \
        if (check_case_failed) check_cases_failed++;                              \
        printf("%s - %s\n", check_case_failed ? "not ok" : "ok", #fn);            \
        fflush(stdout);                                                           \
    } while (0)

static inline int check_summary(void)
{
    return check_cases_failed ? 1 : 0;
}

/* Path of a file in the shared data folder: $RIZZ_DATA/name, default ../shared/data
 * relative to the repository root (tests run from the root). */
static inline const char *check_data_path(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("RIZZ_DATA");
    if (!dir || !*dir) dir = "../shared/data";
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* A seeded generator for test inputs (splitmix64 and Box–Muller): the same stream on
 * every machine. Set check_rng_state in main() before the first RUN to pick the stream. */
static uint64_t check_rng_state = 1;

static inline double check_urand(void) /* uniform in [0, 1) */
{
    uint64_t z = (check_rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static inline double check_gauss(void) /* N(0, 1) */
{
    double u = check_urand() + 1e-300, v = check_urand();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* A test's own random numbers (splitmix64 and Box-Muller), written apart from the
 * library's rz_rng so fixtures never depend on the code under test. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline double rng_normal(uint64_t *s)
{
    double u1 = ((rng_next(s) >> 11) + 1.0) * 0x1.0p-53, u2 = (rng_next(s) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
