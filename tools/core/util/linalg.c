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

int rz_matmul_row_panels(int M, int N, int K)
{
    /* only where column panels leave one panel (N < 256) and the product is worth threads
     * (the same ~1M multiply-adds as rz_matmul's): an even count (2 cores), one per 512
     * rows, at most 8 (3,360 rows: 6 of 560), at least 2 (panels of >= 32 rows) */
    if (rz_matmul_panels(N) > 1 || M < 64 || (double)M * N * K < 1e6) return 1;
    int r = 2 * (M / 1024);
    return r < 2 ? 2 : r > 8 ? 8 : r;
}

void rz_matmul_tall(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda, const float *B,
                    int ldb, float *C, int ldc, int accumulate)
{
    int R = rz_matmul_row_panels(M, N, K);
    if (R == 1) {
        rz_matmul(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
        return;
    }
    pthread_once(&blas_single_once, blas_single);
    float beta = accumulate ? 1.0f : 0.0f;
    /* rows i0.. of op(A) (columns i0.. of A when transposed) and of C; heights rounded to
     * 16 rows, as the column panels' widths */
    int h = ((M + R - 1) / R + 15) / 16 * 16;
#pragma omp parallel for schedule(static)
    for (int p = 0; p < R; p++) {
        int i0 = p * h, m = M - i0 < h ? M - i0 : h;
        if (m <= 0) continue;
        const float *Ap = trans_a ? A + i0 : A + (long)i0 * lda;
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, N,
                    K, 1.0f, Ap, lda, B, ldb, beta, C + (long)i0 * ldc, ldc);
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
