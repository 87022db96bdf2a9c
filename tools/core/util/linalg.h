/* linalg.h — the matrix products of rizz, deterministic whatever the thread count.
 *
 * OpenBLAS gives bitwise different sgemm results for 1 and 2 threads (its threaded
 * path blocks the work differently), so a perplexity computed by one 2-thread process
 * would differ in the last digits from the same windows computed by two 1-thread MPI
 * ranks. rizz therefore keeps OpenBLAS itself single-threaded and splits each product
 * into a number of column panels that depends only on the shape (or, in
 * rz_matmul_tall, row panels for narrow products with many rows); OpenMP threads take
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

/* rz_matmul for tall, narrow products: when the column panels leave one panel (N < 256)
 * but there are many rows (M >= 64, >= 1M multiply-adds) — a width-64 model's x Wᵀ over
 * thousands of tokens, its dy W and dyᵀ x — the product is cut into row panels
 * instead (their count a function of the shape only, rz_matmul_row_panels), so it runs
 * on several threads with the same result for any thread count. Otherwise exactly
 * rz_matmul. Not rz_matmul's default because OpenBLAS's last bits depend on the panel
 * shape: the callers that opt in (the training core's full-weight products) change
 * their bits, every other product keeps them. */
void rz_matmul_tall(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda, const float *B,
                    int ldb, float *C, int ldc, int accumulate);
int rz_matmul_row_panels(int M, int N, int K);

/* Keeps OpenBLAS single-threaded and sets the OpenMP thread count (0: all cores). */
void rz_linalg_threads(int n);

#endif
