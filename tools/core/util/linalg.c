/* linalg.c — deterministic, OpenMP-parallel matrix products over single-threaded
 * OpenBLAS (see linalg.h for why). */
#include "linalg.h"

#include <cblas.h>
#include <omp.h>
#include <pthread.h>

static pthread_once_t blas_single_once = PTHREAD_ONCE_INIT;
static void blas_single(void) { openblas_set_num_threads(1); }

int rz_matmul_panels(int N)
{
    /* an even number of panels (balanced on 2 cores), each at least ~512 columns wide,
     * at most 8: enough parallelism for small machines without repacking A too often */
    if (N < 1024) return N >= 256 ? 2 : 1;
    int p = 2 * (N / 1024);
    return p > 8 ? 8 : p;
}

void rz_matmul(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda, const float *B,
               int ldb, float *C, int ldc, int accumulate)
{
    if (M <= 0 || N <= 0) return;
    /* the library's policy, even for callers that never said so; once per process, and
     * pthread_once makes the first call safe when several threads make it together */
    pthread_once(&blas_single_once, blas_single);
    int P = rz_matmul_panels(N);
    /* panel widths rounded to 16 columns so every panel but the last is kernel-aligned */
    int w = ((N + P - 1) / P + 15) / 16 * 16;
    float beta = accumulate ? 1.0f : 0.0f;
    /* threads only pay off above ~1M multiply-adds (about ten microseconds); below that
     * the panels run on this thread. Same calls either way, so the same result. */
    int parallel = P > 1 && (double)M * N * K >= 1e6;
#pragma omp parallel for schedule(static) if (parallel)
    for (int p = 0; p < P; p++) {
        int j0 = p * w, n = N - j0 < w ? N - j0 : w;
        if (n <= 0) continue;
        /* columns j0.. of op(B): rows j0.. of B when transposed, columns j0.. otherwise */
        const float *Bp = trans_b ? B + (long)j0 * ldb : B + j0;
        if (M == 1 && !trans_a && trans_b) /* one token: matrix-vector, bound by reading B */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, K, 1.0f, Bp, ldb, A, 1, beta, C + j0, 1);
        else
            cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                        M, n, K, 1.0f, A, lda, Bp, ldb, beta, C + j0, ldc);
    }
}

void rz_matmul_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                  int ldc, int accumulate)
{
    rz_matmul(0, 1, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void rz_linalg_threads(int n)
{
    openblas_set_num_threads(1);
    if (n > 0) omp_set_num_threads(n);
}
