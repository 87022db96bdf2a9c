/* ldlq.h — Hessian-aware weight quantisation: round-to-nearest on uniform grids,
 * LDLQ (= GPTQ/OPTQ) for scalar grids, block LDLQ for the E8P vector codebooks, and the
 * proxy loss tr(ΔW H ΔWᵀ) they minimise.
 *
 * A linear layer y = x Wᵀ has W: m × n (out × in), row-major, and a Hessian
 * H = E[x xᵀ] (n × n) from calibration inputs. Quantising W to Ŵ costs, to second
 * order, the proxy loss tr((Ŵ − W) H (Ŵ − W)ᵀ); every row is an independent problem
 * with the same H.
 *
 * Scalar grid (GPTQ's default, asymmetric min-max with a zero point), per row or per
 * group of g consecutive columns of a row: with lo = min(0, min x), hi = max(0, max x)
 * (lo = −1, hi = 1 when both are 0), maxq = 2^b − 1,
 *     scale = (hi − lo)/maxq,  zero = round(−lo/scale),
 *     q = clamp(round(x/scale) + zero, 0, maxq),  x̂ = scale·(q − zero),
 * round = to nearest, ties to even (nearbyint, as torch.round). 0 is always exact.
 *
 * LDLQ in GPTQ's form. Damp H: dead columns (H_ii = 0) get H_ii = 1 and their W column
 * is zeroed; then H += λI, λ = percdamp·mean(diag H). With U the upper Cholesky factor of
 * H⁻¹ (H⁻¹ = UᵀU: dpotrf, dpotri, dpotrf in double) and b the codebook's block size
 * (1 scalar, 8 E8P), N = blockdiag(U_kk)⁻¹·U, i.e. N_ij = U_ij/U_ii for b = 1. Columns are
 * quantised left to right in blocks of b; after block k,
 *     W_{>k} ← W_{>k} + (Q(W_k) − W_k) · N_{k,>k},
 * applied at once within a lazy batch of B columns, and to the columns right of the batch
 * by one sgemm per batch. This is the LDLQ of QuIP# (Ŵ = Q(W + (W − Ŵ)M), M strictly
 * block-upper) with H = (I+M) D (I+M)ᵀ, D block diagonal, I + M = (I + N_strict)⁻¹;
 * tests/unit/test_quant.c checks this against a direct elimination in double.
 * Rows are independent: OpenMP takes chunks of rows whose size depends only on m, so the
 * result does not depend on the thread count.
 *
 * E8P (e8p.h) as QuIP#: the whole matrix is divided by wscale = rms(W)/target_rms, block
 * LDLQ quantises it with the 2/3/4-bit E8P codebook, Ŵ = wscale · decode(codes).
 */
#ifndef RZ_QUANT_H
#define RZ_QUANT_H

#include <stdint.h>

#include "rz.h"

#define RZ_PERCDAMP 0.01
#define RZ_LAZY 128

/* ---- scalar grid ----------------------------------------------------------------- */

/* Fits scale and zero (formulas above) to x[0], x[stride], …, x[(len−1)·stride]. */
void rz_grid_fit(const float *x, long len, long stride, int bits, float *scale, float *zero);
/* The code of x in the grid (0 … 2^bits − 1) and its value. */
int rz_grid_code(float x, float scale, float zero, int bits);
float rz_grid_value(int code, float scale, float zero);

/* Number of scale groups per row: ceil(n / group), or 1 when group == 0 (per row). */
int rz_grid_groups(int n, int group);

/* Round to nearest. W, What: m × n (What may equal W). codes: m × n or NULL;
 * scales, zeros: m × rz_grid_groups(n, group) or NULL. bits ∈ {2, 3, 4, 8}. */
int rz_rtn(const float *W, int m, int n, int bits, int group, float *What, uint8_t *codes,
           float *scales, float *zeros, rz_err *e);

/* ---- the LDL factor of a Hessian ------------------------------------------------- */

typedef struct {
    int n;              /* order of H = columns of W */
    int blk;            /* block size b: 1 for scalar grids, 8 for E8P */
    double damp;        /* λ added to the diagonal */
    int n_dead;         /* columns with H_ii = 0 */
    unsigned char *dead; /* [n] 1 for a dead column */
    float *N;           /* [n][n] row-major, block rows U_kk⁻¹ U_k,: ; only the entries right of
                           each row's diagonal block are used (the rest is 0) */
} rz_ldl;

/* H: n × n symmetric (only the values are read; it is not modified). 1 ≤ blk ≤ 64,
 * n % blk == 0.
 * percdamp ≤ 0 means RZ_PERCDAMP. Fails with RZ_EINPUT if H + λI is not positive definite. */
int rz_ldl_factor(const double *H, int n, int blk, double percdamp, rz_ldl *f, rz_err *e);
int rz_ldl_factor_f(const float *H, int n, int blk, double percdamp, rz_ldl *f, rz_err *e);
void rz_ldl_free(rz_ldl *f);

/* ---- LDLQ -------------------------------------------------------------------------- */

/* A column-block quantiser for rz_ldlq: replace X (rows × b, X = element (r0, j) of the
 * working matrix, row stride ldx) by its quantised values; the row continues to the right
 * up to column n − 1 (a group quantiser may read ahead). Called concurrently on disjoint
 * row ranges, left to right in j within each range. */
typedef void (*rz_colq_fn)(void *ctx, float *X, long ldx, int r0, int rows, int j, int b);

/* W: m × n, row stride ldw, quantised in place by LDLQ with f's feedback (f == NULL:
 * no feedback, plain rounding with q) in lazy batches of `lazy` columns (≤ 0: RZ_LAZY;
 * a multiple of b = f->blk, or b = blk_if_no_f when f == NULL). Dead columns are zeroed
 * before quantisation. */
int rz_ldlq(float *W, int m, int n, long ldw, const rz_ldl *f, int blk_if_no_f, int lazy,
            rz_colq_fn q, void *ctx, rz_err *e);

/* GPTQ: LDLQ on the scalar grid. f->blk must be 1 (f == NULL: RTN through the sweep).
 * Arguments as rz_rtn. group == 0: each row's grid is fitted once, to the whole row
 * before any update (as GPTQ). group > 0: a group's grid is fitted when its first column
 * is reached, to the current values of all its columns, which must then have received
 * every earlier update: so lazy must be a multiple or a divisor of group. (GPTQ's code
 * fits to columns that may still miss the current lazy batch's update, which makes its
 * groups depend on the batch size; rizz's do not.) No act-order, no static groups. */
int rz_gptq(const float *W, int m, int n, const rz_ldl *f, int bits, int group, int lazy,
            float *What, uint8_t *codes, float *scales, float *zeros, rz_err *e);

/* Block LDLQ with E8P (bits 2) or its RVQ codebooks (bits 3, 4); f->blk must be 8, or
 * f == NULL for nearest rounding. n % 8 == 0. target_rms ≤ 0 picks QuIP#'s choices: 0.9
 * for 2 bits (its README's --scale_override for LDLQ), 0.98 and 1.03 for 3 and 4 bits.
 * codes: m × n/8 (see e8p.h for their layout) or NULL; *wscale = rms(W)/target_rms
 * (0 for W = 0), Ŵ = wscale · decode(code). */
int rz_ldlq_e8p(const float *W, int m, int n, const rz_ldl *f, int bits, float target_rms,
                int lazy, float *What, uint32_t *codes, float *wscale, rz_err *e);

/* Block LDLQ with E8P and the reference's extra steps (pipeline/quant.md, "E8P at 4 bits").
 * tune_iters: QuIP#'s quip_tune_iters refinement passes after the LDLQ sweep. Each pass
 * visits the column blocks k left to right and re-quantises
 *     Ŵ_k ← Q(Ŵ_k + (W − Ŵ) H_{:,k} H_kk⁻¹)
 * — the minimiser of tr(ΔW H ΔWᵀ) over block k with the other blocks fixed is that
 * argument t, and the loss is (x − t) H_kk (x − t)ᵀ + const in the block's value x — with
 * H the damped Hessian of f (H + λI, dead columns as f). Unlike QuIP#'s loop, a row keeps
 * its old block when the new codeword is not closer to t in that H_kk metric (Q is
 * nearest in the Euclidean metric, not in H_kk's), so a pass never increases the damped
 * proxy loss of any row.
 * scale_search > 0: the matrix scale rms(W)/target is tried for target = target_rms·2^(−i/6),
 * i = 0 … scale_search (0.5 × target_rms at 6), each with the whole LDLQ (+ tune), and
 * the one with the lowest undamped proxy loss tr(ΔW H ΔWᵀ) is kept (ties: the larger
 * target). One scale per matrix cannot serve rows of unequal norms: the random Hadamard
 * transforms equalise the rows of a matrix only when it is far from low rank (a rank-one
 * u vᵀ stays (U u)(V v)ᵀ, whose rows scale with the entries of U u), and E8P's bounded
 * codebook then clips the large rows; a smaller target trades their clipping against the
 * small rows' rounding. */
typedef struct {
    int bits;         /* 2, 3, 4 */
    float target_rms; /* ≤ 0: as rz_ldlq_e8p */
    int tune_iters;   /* 0 = none (QuIP#'s and CALDERA's default is 10) */
    int scale_search; /* 0 = the one target; 1 … 12 = that many smaller ones too */
    int lazy;         /* ≤ 0: RZ_LAZY */
} rz_e8p_opts;

/* As rz_ldlq_e8p with the options above. H: n × n, the (undamped) Hessian f was factored
 * from; needed when tune_iters or scale_search is set (may be NULL otherwise). *loss
 * (may be NULL) = tr(ΔW H ΔWᵀ) of the result when H is given, else 0. */
int rz_ldlq_e8p_ex(const float *W, int m, int n, const rz_ldl *f, const double *H, const rz_e8p_opts *o,
                   float *What, uint32_t *codes, float *wscale, double *loss, rz_err *e);

/* ---- losses and codebook figures ------------------------------------------------------ */

/* loss = tr(ΔW H ΔWᵀ), ΔW = What − W, and rel = loss / tr(W H Wᵀ) (either may be NULL),
 * accumulated in double. */
int rz_proxy_loss(const float *W, const float *What, int m, int n, const double *H,
                  double *loss, double *rel, rz_err *e);
int rz_proxy_loss_f(const float *W, const float *What, int m, int n, const float *H,
                    double *loss, double *rel, rz_err *e);

/* Mean squared error per coordinate of a codebook on `samples` i.i.d. N(0,1) values
 * (rounded up to a multiple of 8) drawn from seed, at the best input scale s
 * (x̂ = Q(s·x)/s; searched on a log grid over [1/4, 4], then by golden section).
 * name: "e8p" (2 bits), "e8p-rvq3", "e8p-rvq4", "rtn2", "rtn3", "rtn4" (uniform
 * 2^b-level grid ±1/2, ±3/2, …, clamped), "lloydmax2" (the 4-level Lloyd–Max quantiser
 * of N(0,1), levels ±0.4528, ±1.5104, computed by Lloyd iteration on the density), and
 * "minmax2", "minmax3", "minmax4" (rz_rtn's grid on rows of 128 samples; the scale comes
 * from each row's range, so *best_scale = 1). *bits = bits per coordinate, not counting
 * per-matrix or per-group scales. */
int rz_codebook_mse(const char *name, long samples, uint64_t seed, double *bits,
                    double *best_scale, double *mse, rz_err *e);

#endif
