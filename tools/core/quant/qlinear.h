/* qlinear.h — a quantised linear layer at inference, kept as its codes.
 *
 * A "qlayer" record (qrecord.h) stores Q̃ (rows × pcols codes in the rotated, padded
 * basis), maybe a low-rank pair L̃ (rows × k), R̃ (k × pcols), and the seeds of the random
 * Hadamard transforms U (rows; the identity for input-side incoherence) and V (pcols).
 * The layer's weight is W = crop_cols(Uᵀ (Q̃ + L̃ R̃) V). Instead of building W, the
 * product y = x Wᵀ for T input rows x (T × cols) is taken in the rotated basis:
 *
 *     x̃ = pad(x) Vᵀ               each row rotated: x̃ = V x̄   (fast Hadamard, O(n log n))
 *     ỹ = x̃ Q̃ᵀ + (x̃ R̃ᵀ) L̃ᵀ       Q̃ decoded from the codes panel by panel
 *     y = ỹ U                     each row: y = Uᵀ ỹ
 *
 * as QuIP# does: the transforms cost O(T n log n), the weights stay at 2–4 bits in
 * memory and are decoded into per-thread scratch panels right before use:
 *   - T > RZ_QLINEAR_ROWPATH_T (prefill): panels of rows are decoded into per-thread
 *     scratch and multiplied with one cblas_sgemm each; as many panels as rz_matmul_nt
 *     takes for a dense layer of that many rows (2–8, so x̃ is repacked as rarely as
 *     there), more only to keep a panel ≤ RZ_QLINEAR_PANEL_MAX rows (the classifier);
 *   - small T (token-by-token decode): fused decode-and-dot kernels (qdot.h) read the
 *     codes once and multiply each decoded block of 8 weights into the T accumulators
 *     in registers, so the matrix is read from memory as codes only (2 bits per weight
 *     instead of 32) and never written back as floats: the memory-bound case.
 * Panels and rows are split over OpenMP threads in a fixed way and every output element
 * is computed by one thread in a fixed order, so the result does not depend on the
 * thread count (as linalg.h). It equals the dense product with the decoded W up to float
 * rounding (the transforms move from the weights to the activations); test_qlinear
 * checks both against a float64 product.
 */
#ifndef RZ_QLINEAR_H
#define RZ_QLINEAR_H

#include <stddef.h>

#include "qrecord.h"
#include "rz.h"

enum { RZ_QLINEAR_PANEL_MAX = 1024, RZ_QLINEAR_ROWS = 16, RZ_QLINEAR_ROWPATH_T = 4 };

typedef struct rz_qlinear rz_qlinear;

/* Copies the payloads of a validated view (qrecord.h) and builds the transforms; the
 * view's record may be freed afterwards. */
int rz_qlinear_new(const rz_qlayer_view *v, rz_qlinear **out, rz_err *e);
void rz_qlinear_free(rz_qlinear *q);

int rz_qlinear_rows(const rz_qlinear *q);
int rz_qlinear_cols(const rz_qlinear *q);

/* Row r of W (cols floats) decoded from the codes, for a layer read row by row (a
 * quantised embedding table): possible when rz_qlinear_row_ok, i.e. no incoherence
 * transform, no low-rank part and no padding (scalar grids: pcols = cols). */
int rz_qlinear_row_ok(const rz_qlinear *q);
void rz_qlinear_row(const rz_qlinear *q, int r, float *out);
/* For a caller that splits a decode step over its own threads: rows [r0, r1) of
 * y[T][rows] (row stride ldy) = x[T][cols] (row stride ldx) · Wᵀ for a layer with
 * rz_qlinear_row_ok (so x̃ = x, ỹ = y) and T ≤ RZ_QLINEAR_ROWPATH_T, by the fused
 * kernels on the calling thread; with tmp (T × rows floats, row stride rows) ỹ goes
 * there first and is added to y, as rz_qlinear_apply's accumulate does. Each row is
 * computed as rz_qlinear_apply computes it when r0 (and r1, unless it is rows) are
 * multiples of RZ_QLINEAR_ROWS, so such ranges give its bits whatever the split;
 * calls on disjoint ranges may run at once. rz_qlinear_split_rows: part me of m of the
 * RZ_QLINEAR_ROWS-row chunks of rows, [*r0, *r1), as rz_qlinear_apply splits them. */
void rz_qlinear_apply_rows(const rz_qlinear *q, int r0, int r1, int T, const float *x, int ldx, float *y, int ldy,
                           float *tmp);
void rz_qlinear_split_rows(int rows, int me, int m, int *r0, int *r1);
/* The same for a layer with transforms (e8p with incoherence), when rz_qlinear_step_ok
 * (no low-rank part): a step of one token as rz_qlinear_apply takes it, in three calls
 * the caller can schedule on its own threads:
 *     xt = rz_qlinear_step_in(q, x, buf)        x̃ = V pad(x): buf (pcols floats) filled
 *                                               and returned, or x itself when the layer
 *                                               has no V and no padding;
 *     rz_qlinear_apply_rows(q, r0, r1, 1, xt, pcols, yt, rows, NULL)   rows of ỹ;
 *     rz_qlinear_step_out(q, yt, tmp, y, acc)   y = Uᵀ ỹ (+ y when acc) from the whole ỹ
 *                                               (tmp: rows floats, needed when acc; yt
 *                                               is not changed).
 * Each the operations of rz_qlinear_apply at T = 1, so the same bits. */
int rz_qlinear_step_ok(const rz_qlinear *q);
int rz_qlinear_pcols(const rz_qlinear *q);
const float *rz_qlinear_step_in(const rz_qlinear *q, const float *x, float *buf);
void rz_qlinear_step_out(const rz_qlinear *q, const float *yt, float *tmp, float *y, int acc);
/* Bytes held (codes, scales, zero points, low-rank floats, transforms). */
size_t rz_qlinear_bytes(const rz_qlinear *q);

/* The qdot.h kernel variant of the small-T path (RZ_QDOT_AUTO by default; benches and
 * tests force RZ_QDOT_REF). An int8 variant on an e8p layer (with AVX2) also keeps
 * the weights re-coded as nibbles (rz_qdot_e8p2n_encode: 4 bits per weight at 2 bits, 8
 * at 3 and 4 bits, in memory besides the codes, which prefill still reads), and on a 3-bit grid (any int8
 * variant) the codes as a 4-bit grid (rz_qdot_grid3n_encode: 4 bits per weight besides
 * the 3-bit codes) that decoding reads instead; any other variant frees them. */
void rz_qlinear_set_isa(rz_qlinear *q, int isa);

/* Scratch floats rz_qlinear_apply needs for up to T rows with `threads` threads. */
size_t rz_qlinear_scratch_floats(const rz_qlinear *q, int T, int threads);

/* A call without accumulate to a layer with rz_qlinear_direct_ok (no output-side
 * transform) writes y directly and needs only rz_qlinear_scratch_floats_direct floats,
 * which do not grow with rows (a 32000-row classifier over many tokens). */
int rz_qlinear_direct_ok(const rz_qlinear *q);
size_t rz_qlinear_scratch_floats_direct(const rz_qlinear *q, int T, int threads);

/* y[T][rows] (row stride ldy) = x[T][cols] (row stride ldx) · Wᵀ, added to y when
 * accumulate. scratch: rz_qlinear_scratch_floats(q, T, threads) floats; at most
 * `threads` OpenMP threads are used. */
void rz_qlinear_apply(const rz_qlinear *q, int T, const float *x, int ldx, float *y, int ldy, int accumulate,
                      float *scratch, int threads);

/* A group of n layers that read the same input x (wq|wk|wv, w1|w3), their outputs side by
 * side in y: member k writes columns off_k = Σ_{j<k} rows_j .. off_k + rows_k − 1 of each
 * of the T rows of y (row stride ldy), added when accumulate. Bit for bit the n calls
 * rz_qlinear_apply(q[k], T, x, ldx, y + off_k, ldy, …), for any thread count; for
 * T ≤ RZ_QLINEAR_ROWPATH_T (decode) it takes them in one OpenMP region of `threads`:
 *   1. the input transforms x̃_k = V_k pad(x), one member per thread in turn; members
 *      whose V is the same transform (same pcols and seed_v: quantised with a shared
 *      input seed, qlayer.h rz_qopts.share_in) share one x̃;
 *   2. every member's rows split over the threads (the fused kernels);
 *   3. the low-rank terms and output transforms y_k = U_kᵀ ỹ_k, one member per thread.
 * Larger T calls rz_qlinear_apply per member (prefill is BLAS-bound, unchanged).
 * scratch: rz_qlinear_scratch_floats_group(q, n, T, threads) floats. */
void rz_qlinear_apply_group(rz_qlinear *const *q, int n, int T, const float *x, int ldx, float *y, int ldy,
                            int accumulate, float *scratch, int threads);
size_t rz_qlinear_scratch_floats_group(rz_qlinear *const *q, int n, int T, int threads);
/* 1 when a and b apply the same input transform (both rotated, same pcols and seed_v). */
int rz_qlinear_same_input_rht(const rz_qlinear *a, const rz_qlinear *b);

#endif
