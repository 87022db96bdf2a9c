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
#include <unistd.h>

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

/* A scratch file for this test process: /tmp/rz-test-<pid>-name. The pid keeps two
 * runs of one test (two checkouts, two suites) off each other's files. Four slots, so
 * up to four paths can be live at once. */
static inline const char *check_tmp(const char *name)
{
    static char buf[4][512];
    static int slot;
    char *p = buf[slot++ & 3];
    snprintf(p, sizeof buf[0], "/tmp/rz-test-%ld-%s", (long)getpid(), name);
    return p;
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

/* H = XᵀX / T (n × n, row-major) of T = t_per_n · n rows drawn from check_gauss, each an
 * AR(1) across its columns, x_j = rho · x_{j−1} + g_j · (spread ? 1 + j % 3 : 1): a
 * positive definite Hessian proxy with correlated inputs (the quantiser tests' H). */
static inline void check_ar1_gram(int n, int t_per_n, double rho, int spread, double *H)
{
    int T = t_per_n * n;
    double *X = malloc(sizeof(double) * (size_t)T * n);
    for (int t = 0; t < T; t++) {
        double prev = 0;
        for (int j = 0; j < n; j++) X[(size_t)t * n + j] = prev = rho * prev + check_gauss() * (spread ? 1 + j % 3 : 1);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int t = 0; t < T; t++) s += X[(size_t)t * n + i] * X[(size_t)t * n + j];
            H[(size_t)i * n + j] = s / T;
        }
    free(X);
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

/* n floats drawn N(0, sd²) from the test's own generator (malloc'd; at least one). */
static inline float *rng_randn(size_t n, double sd, uint64_t *s)
{
    float *x = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) x[i] = (float)(sd * rng_normal(s));
    return x;
}

/* Whether the suite runs under ASan/UBSan (RZ_SANITIZED set, non-empty and not "0"):
 * tests that take long there shrink their sizes. */
static inline int check_sanitized(void)
{
    const char *s = getenv("RZ_SANITIZED");
    return s && *s && strcmp(s, "0");
}

/* The finite-difference gradient check: grad[i] against the central difference
 * (f(x + h e_i) − f(x − h e_i)) / 2h of a scalar objective f (computed in double from
 * float ops) for every i, or a spread of max_checks indices (0: all). A value fails when
 * |fd − g| > atol + rtol·|g| with atol = atol_rel·(1 + |f(x)|) and rtol = 1e-2 — each
 * caller justifies its atol_rel from the rounding term δ|f|/h and the truncation term
 * h²·|f‴|/6 at its step. Returns the failures and prints the first four and the worst
 * ratio; f is called once more at x so its outputs are the unperturbed ones. */
typedef double (*check_objective)(void *ctx);
static inline int check_fd(const char *what, check_objective f, void *ctx, float *x, size_t n, const float *grad, float h,
                           size_t max_checks, double atol_rel)
{
    double f0 = f(ctx), atol = atol_rel * (1 + fabs(f0)), rtol = 1e-2, worst = 0;
    size_t step = max_checks && n > max_checks ? n / max_checks : 1;
    int bad = 0;
    for (size_t i = 0; i < n; i += step) {
        float x0 = x[i];
        x[i] = x0 + h;
        double fp = f(ctx);
        x[i] = x0 - h;
        double fm = f(ctx);
        x[i] = x0;
        double fd = (fp - fm) / (2.0 * (double)h), r = fabs(fd - grad[i]) / (atol + rtol * fabs(grad[i]));
        worst = r > worst ? r : worst;
        if (r > 1 && bad++ < 4) printf("#   %s[%zu]: analytic %.8g, finite difference %.8g\n", what, i, grad[i], fd);
    }
    f(ctx);
    printf("#   %s: %zu values, worst error / tolerance %.3f\n", what, (n + step - 1) / step, worst);
    return bad;
}

#endif
