/* linalg.h — the matrix products of rizz, deterministic whatever the thread count.
 *
 * OpenBLAS gives bitwise different sgemm results for 1 and 2 threads (its threaded
 * path blocks the work differently), so a perplexity computed by one 2-thread process
 * would differ in the last digits from the same windows computed by two 1-thread MPI
 * ranks. rizz therefore keeps OpenBLAS itself single-threaded and splits each product
 * into a number of column panels that depends only on the shape; OpenMP threads take
 * the panels. The same calls with the same shapes run in any configuration, so the
 * result is identical for 1, 2 or N threads and under mpirun.
 */
#ifndef RZ_LINALG_H
#define RZ_LINALG_H

/* C[M][N] = A[M][K] . B[N][K]^T (+ C if accumulate): a linear layer y = x W^T with W
 * stored [out][in]. Leading dimensions: lda >= K, ldb >= K, ldc >= N. */
void rz_matmul_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                  int ldc, int accumulate);

/* The general form: C[M][N] (+)= op(A)[M][K] . op(B)[K][N], op = transpose when trans_*
 * (A is [K][M] then, B is [N][K]); the same fixed column panels. */
void rz_matmul(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda, const float *B,
               int ldb, float *C, int ldc, int accumulate);

/* Number of column panels rz_matmul_nt uses for N output columns. */
int rz_matmul_panels(int N);

/* Keeps OpenBLAS single-threaded and sets the OpenMP thread count (0: all cores). */
void rz_linalg_threads(int n);

#endif
