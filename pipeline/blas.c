/* blas.c — OpenBLAS kernel choice and exact self-check at start-up (see blas.h). */
#include "blas.h"

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* OpenBLAS DYNAMIC_ARCH entry points (driver/others/dynamic.c): quit forgets the kernel
 * table, init picks one again, honouring OPENBLAS_CORETYPE. Weak: absent in builds for
 * one fixed core, where only the re-exec path remains. */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static rz_blas_status status;
static int started;

const rz_blas_status *rz_blas_status_get(void) { return &status; }

/* 3: AVX-512 kernels, 2: AVX2+FMA kernels, 1: anything older or unknown. */
static int core_rank(const char *core)
{
    static const char *const r3[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    static const char *const r2[] = {"Haswell", "Zen"};
    for (size_t i = 0; i < sizeof r3 / sizeof *r3; i++)
        if (!strcasecmp(core, r3[i])) return 3;
    for (size_t i = 0; i < sizeof r2 / sizeof *r2; i++)
        if (!strcasecmp(core, r2[i])) return 2;
    return 1;
}

static const char *cpu_core(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return "";
}

/* Exact check: A[m][k], B[k][n] (and B^T) of integers in [-8, 8] and [-6, 6]; every
 * partial sum is an integer of magnitude <= k * 48 = 3984 < 2^24, so float32 holds it
 * exactly in any summation order and the product must match the integer reference
 * bit for bit. Odd sizes reach the kernels' edge paths; both layouts rizz uses. */
int rz_blas_selfcheck(void)
{
    enum { M = 67, N = 45, K = 83 };
    static float A[M * K], B[K * N], Bt[N * K], C[M * N], C2[M * N];
    for (int i = 0; i < M; i++)
        for (int p = 0; p < K; p++) A[i * K + p] = (float)((i * 7 + p * 3) % 17 - 8);
    for (int p = 0; p < K; p++)
        for (int j = 0; j < N; j++) B[p * N + j] = Bt[j * K + p] = (float)((p * 5 + j * 11) % 13 - 6);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, Bt, K, 0.0f, C2, N);
    if (started && status.switched && getenv("RZ_TEST_BLAS_CORRUPT")) C[M * N / 2] += 1.0f;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            int64_t ref = 0;
            for (int p = 0; p < K; p++)
                ref += (int64_t)((i * 7 + p * 3) % 17 - 8) * ((p * 5 + j * 11) % 13 - 6);
            if (C[i * N + j] != (float)ref || C2[i * N + j] != (float)ref) return -1;
        }
    return 0;
}

double rz_blas_sgemm_gflops(int n, int threads, int reps)
{
    float *a = malloc(sizeof(float) * (size_t)n * n * 3);
    if (!a) return 0;
    float *b = a + (size_t)n * n, *c = b + (size_t)n * n;
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.125f;
    int saved = openblas_get_num_threads();
    if (threads > 0) openblas_set_num_threads(threads);
    double best = 1e30;
    for (int r = -1; r < reps; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (r >= 0 && s < best) best = s;
    }
    openblas_set_num_threads(saved);
    free(a);
    return best > 0 ? 2.0 * n * n * (double)n / best / 1e9 : 0;
}

static void set_names(void)
{
    snprintf(status.core, sizeof status.core, "%s", openblas_get_corename());
}

/* The program's own argv, for the re-exec (this runs before or without main's argv). */
static char **self_argv(void)
{
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    if (n == 0 || n == sizeof buf - 1) return NULL;
    buf[n] = 0;
    int argc = 0;
    for (size_t i = 0; i < n; i++) argc += buf[i] == 0;
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    if (!argv) return NULL;
    for (size_t i = 0, k = 0; i < n && (int)k < argc; i += strlen(buf + i) + 1) argv[k++] = buf + i;
    return argv;
}

static void reexec(const char *coretype, const char *marker)
{
    char **argv = self_argv();
    if (!argv) return;
    if (coretype) setenv("OPENBLAS_CORETYPE", coretype, 1);
    else unsetenv("OPENBLAS_CORETYPE");
    setenv("RZ_BLAS_REEXEC", marker, 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
    free(argv); /* exec failed: carry on with the kernels loaded */
    unsetenv("RZ_BLAS_REEXEC");
}

static int under_mpi(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

const rz_blas_status *rz_blas_startup(void)
{
    if (started) return &status;
    started = 1;
    const char *want = getenv("RZ_TEST_BLAS_WANT");
    int pretend = want && *want;
    if (!pretend) want = cpu_core();
    snprintf(status.cpu, sizeof status.cpu, "%s", want);
    set_names();
    const char *marker = getenv("RZ_BLAS_REEXEC");

    if (marker) { /* the re-executed process: OPENBLAS_CORETYPE was set by us */
        char from[32];
        snprintf(from, sizeof from, "%s", marker);
        unsetenv("RZ_BLAS_REEXEC");
        if (!strncmp(from, "fallback:", 9)) { /* the better core failed; library's choice */
            snprintf(status.library, sizeof status.library, "%s", status.core);
            status.check_ok = rz_blas_selfcheck() == 0;
            snprintf(status.warning, sizeof status.warning,
                     "OpenBLAS %s kernels failed the start-up check; using its default (%s)%s", from + 9,
                     status.core, status.check_ok ? "" : ", which fails it too");
            return &status;
        }
        snprintf(status.library, sizeof status.library, "%s", from);
        status.switched = 1;
        if (rz_blas_selfcheck() == 0) {
            status.check_ok = 1;
            unsetenv("OPENBLAS_CORETYPE"); /* children choose for themselves */
            return &status;
        }
        char fb[48];
        snprintf(fb, sizeof fb, "fallback:%s", status.core);
        reexec(NULL, fb); /* returns only if exec failed */
        status.switched = 0;
        snprintf(status.warning, sizeof status.warning,
                 "OpenBLAS %s kernels failed the start-up check and the program could not restart", status.core);
        return &status;
    }

    snprintf(status.library, sizeof status.library, "%s", status.core);
    const char *user = getenv("OPENBLAS_CORETYPE");
    int older = *want && (pretend || core_rank(status.core) < core_rank(want));
    if (older && !(user && *user)) {
        int in_process = gotoblas_dynamic_init && gotoblas_dynamic_quit && !getenv("RZ_TEST_BLAS_REEXEC");
        if (in_process) {
            setenv("OPENBLAS_CORETYPE", want, 1);
            gotoblas_dynamic_quit();
            gotoblas_dynamic_init();
            unsetenv("OPENBLAS_CORETYPE");
            set_names();
            status.switched = strcmp(status.core, status.library) != 0;
            if (status.switched && rz_blas_selfcheck() != 0) { /* back to the library's choice */
                char bad[32];
                snprintf(bad, sizeof bad, "%s", status.core);
                gotoblas_dynamic_quit();
                gotoblas_dynamic_init();
                set_names();
                status.switched = 0;
                status.check_ok = rz_blas_selfcheck() == 0;
                snprintf(status.warning, sizeof status.warning,
                         "OpenBLAS %s kernels failed the start-up check; using its default (%s)%s", bad,
                         status.core, status.check_ok ? "" : ", which fails it too");
                return &status;
            }
        } else if (!under_mpi()) {
            reexec(want, status.core); /* returns only if exec failed */
        }
        if (!status.switched && !status.warning[0])
            snprintf(status.warning, sizeof status.warning,
                     "OpenBLAS runs %s kernels on a CPU that supports %s ones; set OPENBLAS_CORETYPE=%s for speed",
                     status.core, want, want);
    }
    status.check_ok = rz_blas_selfcheck() == 0;
    if (!status.check_ok && !status.warning[0])
        snprintf(status.warning, sizeof status.warning,
                 "OpenBLAS %s kernels failed the start-up check (an exact integer product): results may be wrong",
                 status.core);
    return &status;
}
