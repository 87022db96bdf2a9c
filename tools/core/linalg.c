/* linalg.c — deterministic, OpenMP-parallel matrix products over single-threaded
 * OpenBLAS (see linalg.h for why). */
#include "linalg.h"

#include <cblas.h>
#include <omp.h>

int rz_matmul_panels(int N)
{
    /* an even number of panels (balanced on 2 cores), each at least ~512 columns wide,
     * at most 8: enough parallelism for small machines without repacking A too often */
    if (N < 1024) return N >= 256 ? 2 : 1;
    int p = 2 * (N / 1024);
    return p > 8 ? 8 : p;
}

void rz_matmul_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                  int ldc, int accumulate)
{
    static int blas_single; /* the library's policy, even for callers that never said so */
    if (!blas_single) {
        openblas_set_num_threads(1);
        blas_single = 1;
    }
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
        if (M == 1) /* one token: matrix-vector, bound by reading B; no packing */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, K, 1.0f, B + (long)j0 * ldb, ldb, A, 1, beta, C + j0, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, n, K, 1.0f, A, lda,
                        B + (long)j0 * ldb, ldb, beta, C + j0, ldc);
    }
}

void rz_linalg_threads(int n)
{
    openblas_set_num_threads(1);
    if (n > 0) omp_set_num_threads(n);
}
