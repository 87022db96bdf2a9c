/* rht.h — the random Hadamard transform (RHT) that makes weights and Hessians
 * incoherent before quantisation (QuIP#), for any size n = p·m with p = 2^k, m odd.
 *
 * The transform of a length-n vector is the orthogonal matrix
 *
 *     U = (H_p / √p ⊗ Q_m) · diag(s),
 *
 * s ∈ {±1}^n random signs, H_p the Sylvester Hadamard matrix (H_p[i][j] = (−1)^popcount(i&j)),
 * Q_m an m×m random orthogonal matrix (Haar: QR of a Gaussian matrix with R's diagonal
 * made positive, via LAPACK dgeqrf/dorgqr); Q_1 = [1]. With x viewed row-major as a
 * p×m matrix X (x[i·m + j] = X[i][j]), U x = H_p/√p · (X ⊙ S) · Q_mᵀ: a fast
 * Walsh–Hadamard transform down the p rows and one small product with Q_m, O(n(log p + m)).
 * QuIP# uses known Hadamard matrices of order 12, 20, …, 172 for the odd part; a
 * Hadamard matrix of odd order m > 1 does not exist (stories260K's 172 = 4·43, Llama's
 * 11008 = 256·43), so rizz uses the random orthogonal Q_m whatever m is.
 *
 * Everything derives from (n, seed): the same seed gives the same transform, and the
 * inverse is Uᵀ = diag(s) · (H_p/√p ⊗ Q_mᵀ). To make a layer W (out × in) with Hessian
 * H (in × in) incoherent, with U_out from rz_rht_init(out, ·), V from rz_rht_init(in, ·):
 *     W ← U_out W Vᵀ:  rz_rht_cols(U_out, W, in, in, 0); rz_rht_rows(V, W, out, in, 0);
 *     H ← V H Vᵀ:      rz_rht_cols_d(V, H, in, in, 0); rz_rht_rows_d(V, H, in, in, 0);
 * and undo on the quantised Ŵ with inverse = 1 in the same calls.
 */
#ifndef RZ_HADAMARD_H
#define RZ_HADAMARD_H

#include <stdint.h>

#include "rz.h"

typedef struct {
    int n, p, m;  /* n = p·m, p a power of two, m odd */
    int identity; /* rz_rht_init_identity: every apply is a no-op */
    float *sign;  /* [n] ±1 */
    float *Qf;    /* [m][m] row-major orthogonal, NULL when m == 1 */
    double *Qd;   /* the same in double */
} rz_rht;

/* Builds the transform of size n (n ≥ 1) from seed. Free with rz_rht_free. */
int rz_rht_init(rz_rht *t, int n, uint64_t seed, rz_err *e);
void rz_rht_free(rz_rht *t);
/* The identity of size n (for one-sided incoherence): the apply functions leave X as is. */
void rz_rht_init_identity(rz_rht *t, int n);

/* Each of `rows` rows of X (length n, row stride ld ≥ n): x ← U x, or x ← Uᵀ x when
 * inverse. In matrix terms X ← X Uᵀ (or X U). */
int rz_rht_rows(const rz_rht *t, float *X, long rows, long ld, int inverse, rz_err *e);
/* The same by the straightforward loops (a pass per butterfly stage, separate sign and
 * scale passes): rz_rht_rows gives these bits exactly, faster; kept as the reference its
 * tests compare against. */
int rz_rht_rows_ref(const rz_rht *t, float *X, long rows, long ld, int inverse, rz_err *e);
/* For tests: on = 1 makes rz_rht_rows use its portable loops instead of its AVX2 code
 * (the same bits either way); 0 (the default) restores the choice by CPU. Not
 * thread-safe: set it before transforms run. */
void rz_rht_portable(int on);
int rz_rht_rows_d(const rz_rht *t, double *X, long rows, long ld, int inverse, rz_err *e);

/* Each of `cols` columns of X (n rows, row stride ld ≥ cols): X ← U X, or Uᵀ X. */
int rz_rht_cols(const rz_rht *t, float *X, long cols, long ld, int inverse, rz_err *e);
int rz_rht_cols_d(const rz_rht *t, double *X, long cols, long ld, int inverse, rz_err *e);

#endif
