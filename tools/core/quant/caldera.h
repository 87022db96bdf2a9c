/* caldera.h — CALDERA: fit a weight matrix as W ≈ Q + L·R (Q quantised at low precision,
 * L, R a low-rank pair at 4/16/32 bits) under the layer's Hessian. (Ranks across matrices
 * under a bit budget: rank_alloc.h.)
 *
 * Objective (Saha et al., NeurIPS 2024; pilancilab/caldera alg.py). W: m × n row-major
 * [out][in], H: n × n, H = Σ x xᵀ / N over the layer's inputs (symmetric PSD):
 *
 *     f(Q, L, R) = tr((W − Q − LR) H (W − Q − LR)ᵀ) = ‖(W − Q − LR) H^{1/2}‖_F²,
 *     L: m × k, R: k × n.
 *
 * One outer iteration, in CALDERA's update order "LR Q" (Q = 0 before the first):
 *   LR step, on Y = W − Q (m × n):
 *     init   the rank-k SVD of Z = Y C, H + λI = C Cᵀ (lower Cholesky factor of the damped
 *            Hessian, λ = damp · mean diag H): Z_k = U_k Σ_k V_kᵀ, L = U_k Σ_k^{1/2},
 *            R = Σ_k^{1/2} V_kᵀ C⁻¹ (then L R C = Z_k: the best rank-k fit under H + λI).
 *            Z's top k come from LAPACK dgesdd of Z (exact) or from a randomized range
 *            finder with power iterations (Halko–Martinsson–Tropp; CALDERA's rand_svd).
 *     inner  `inner` alternating exact least-squares updates against the undamped H:
 *            L ← Y H Rᵀ (R H Rᵀ)⁻¹, then quantise L;  R ← (LᵀL)⁻¹ Lᵀ Y, then quantise R
 *            (derivations in caldera.c). Without quantisation each update is an exact
 *            minimiser, so f never increases along init → L → R → L → ….
 *            The step keeps its best (L, R) after a full inner iteration (CALDERA).
 *   Q step: Q ← LDLQ(W − LR) (GPTQ on a scalar grid, or QuIP#'s block LDLQ with E8P,
 *          with QuIP#'s tune passes and optionally rizz's scale search, ldlq.h), under
 *          the downdated Hessian (q_downdate, CALDERA's Q_hessian_downdate):
 *              H_Q = H − M V Vᵀ Mᵀ,  H = M Mᵀ (Cholesky), V the top-k right singular
 *              vectors of L R M,
 *          so LDLQ does not spend its error budget on the directions L·R refits; then,
 *          as alg.py, the spectrum is lifted to ≥ 0 and α I added, α = 0.01·mean|diag H_Q|.
 *          For L of full column rank, V spans the rows of R M, and
 *              H_Q = H − H Rᵀ (R H Rᵀ)⁻¹ R H
 *          (the conditional covariance of x given R x): that is what rz_caldera_downdate
 *          computes, from k × k systems (pseudo-inverse when singular).
 * After every step from the first Q step on, the decomposition with the lowest f is kept;
 * that best one is returned.
 *
 * The Hessian (h_reg > 0, CALDERA's layer_quantization: H / mean(diag) + sigma_reg I):
 * H ← H + h_reg·mean(diag H)·I once, before everything, and that H is used in every
 * step — the init, the inner updates, f and the best-of choice, LDLQ — with no further
 * damping. (The division by mean(diag) only rescales f.) h_reg = 0: rizz's earlier
 * scheme, the undamped H in the inner updates and f, H + λI (λ = damp·mean diag) for
 * the init and the LDL factor.
 *
 * Defaults = CALDERA's reference run (pilancilab/caldera shell_scripts/
 * run_quantize_save_caldera.sh and dataclasses.py): h_reg 0.01, 50 inner iterations
 * (LPLR_ITERS), the downdate on, 10 tune passes (quip_tune_iters), E8P input RMS 1.03
 * (alg.py scales Q's residual by the codebook's opt_scale, not by QuIP#'s README 0.9),
 * no scale search (rizz's, not the reference's).
 *
 * Incoherence (opts.incoherent): W ← U W Vᵀ, H ← V H Vᵀ with the random Hadamard
 * transforms U = rz_rht_init(m, seed), V = rz_rht_init(n, seed + 1) (rht.h), and the
 * whole fit runs in that rotated basis. Q, L, R (and their codes) are RETURNED IN THE
 * ROTATED BASIS, which is how they are stored and applied: y = W x ≈ Uᵀ (Q + L R) V x.
 * The fit keeps U and V; rz_caldera_dense undoes them. f is the same in both bases
 * (tr(Uᵀ E V Vᵀ H̃ V Vᵀ Eᵀ U) = tr(E H̃ Eᵀ)).
 *
 * Numbers: the big products (Y H, R H, Lᵀ Y, L R, the randomized-SVD sweeps) are float
 * sgemm split into column panels fixed by the shape (linalg.h), so results do not
 * depend on the thread count; k × k systems, the Cholesky factor and the SVDs are double.
 * f is accumulated in double from E = Y − LR and E H = Y H − L (R H) (no cancellation
 * against tr(Y H Yᵀ)), with fixed row chunks.
 */
#ifndef RZ_LOWRANK_H
#define RZ_LOWRANK_H

#include <stdint.h>

#include "rht.h"
#include "rz.h"

/* ---- options -------------------------------------------------------------------- */

enum { RZ_CQ_NONE = 0, RZ_CQ_LDLQ = 1, RZ_CQ_E8P = 2 }; /* Q method */
enum { RZ_SVD_EXACT = 0, RZ_SVD_RANDOM = 1 };           /* LR initialisation */

typedef struct {
    int q_method;       /* RZ_CQ_NONE (Q ≡ 0: pure low-rank fit), RZ_CQ_LDLQ, RZ_CQ_E8P */
    int q_bits;         /* LDLQ: 2, 3, 4, 8 (min-max grid); E8P: 2, 3, 4 */
    int q_group;        /* LDLQ: 0 = one grid per row, g > 0 = per g columns */
    float q_target_rms; /* E8P: input RMS of the codebook, ≤ 0 = rz_e8p_opt_scale(q_bits)
                           (1.03 at 2 bits, as alg.py) */
    int q_tune_iters;   /* E8P: tune passes after LDLQ (QuIP#'s quip_tune_iters; default 10) */
    int q_scale_search; /* E8P: rz_e8p_opts.scale_search (default 0) */
    int q_downdate;     /* 1: Q's LDLQ under the downdated H (default 1) */
    double h_reg;       /* > 0: H + h_reg·mean(diag)·I in every step (default 0.01); 0: the
                           damping below for the init and LDL only */
    int incoherent;     /* 1: random Hadamard transform of W and H first (see above) */
    uint64_t seed;      /* RHT seeds (seed, seed + 1) and the randomized SVD's test matrix */
    int lr_bits;        /* 4 (LoRA-style min-max grid; 2, 3, 8 also work), 16 (fp16 or bf16
                           round trip), 32 (f32, no quantisation) */
    int lr_bf16;        /* lr_bits 16: 0 = fp16, 1 = bf16 */
    int lr_e8p;         /* 1: L and R with E8P-RVQ (lr_bits 2, 3, 4) and one RMS scale per
                           matrix, as alg.py (Lᵀ and R flattened into 8-vectors; rank·rows and
                           rank·cols multiples of 8). No record format stores these yet:
                           fits only (rz-lowrank --fake). Default 0: the grid below */
    int lr_group;       /* grid L/R: one grid (scale, zero) per column of L and per row of R
                           (0), or per lr_group consecutive entries along it */
    int outer;          /* outer iterations (CALDERA default 20) */
    int inner;          /* inner L/R iterations per LR step (CALDERA's run script: 50) */
    double damp;        /* h_reg = 0 only: λ = damp · mean diag H for the LDL factor
                           (ldlq.h) and the Cholesky factor of the init; ≤ 0 → RZ_PERCDAMP */
    int svd;            /* RZ_SVD_EXACT (dgesdd of Z, for small matrices) or RZ_SVD_RANDOM */
    int svd_oversample; /* randomized: k + oversample test vectors (default 16) */
    int svd_power;      /* randomized: power (subspace) iterations (default 2) */
} rz_caldera_opts;

/* CALDERA's defaults where they apply: E8P 2-bit Q with incoherence, seed 0, L and R at
 * 4 bits (its reference script's LR_BITS), 20 outer and 50 inner iterations, H
 * regularised by 0.01 in every step, the Hessian downdate, 10 tune passes, E8P input RMS
 * 1.03, randomized SVD with 16 extra vectors and 2 power iterations. */
void rz_caldera_defaults(rz_caldera_opts *o);

/* ---- result ------------------------------------------------------------------------ */

enum { RZ_CSTEP_INIT = 0, RZ_CSTEP_L = 1, RZ_CSTEP_R = 2, RZ_CSTEP_Q = 3 };

/* One objective value: after the SVD init (unquantised L, R; inner = 0), an L or R
 * half-step of inner iteration `inner` (1-based; quantised when lr_bits < 32), or the
 * Q step (inner = −1). */
typedef struct {
    int outer, inner, step;
    double obj; /* f, absolute */
    double sec; /* wall seconds of the step that produced it (update, quantisation, f) */
} rz_caldera_trace;

typedef struct {
    int m, n, k;
    rz_caldera_opts opts;
    /* the best decomposition (rotated basis when incoherent) */
    float *Q;               /* m × n, dequantised (all 0 for RZ_CQ_NONE) */
    uint32_t *q_codes_e8p;  /* E8P: m × n/8 codes (e8p.h layout) */
    float q_wscale;         /* E8P: Q = q_wscale · decode(code) */
    uint8_t *q_codes;       /* LDLQ: m × n grid codes */
    float *q_scales, *q_zeros; /* LDLQ: m × rz_grid_groups(n, q_group) */
    float *L;               /* m × k, dequantised */
    float *R;               /* k × n, dequantised */
    uint8_t *L_codes;       /* grid L/R (lr_bits ≤ 8): k × m, row r = column r of L */
    uint8_t *R_codes;       /* grid L/R: k × n */
    uint32_t *L_codes_e8p;  /* lr_e8p: k·m/8 codes of Lᵀ (k × m row-major, in 8-vectors) */
    uint32_t *R_codes_e8p;  /* lr_e8p: k·n/8 codes of R */
    float L_scale, R_scale; /* lr_e8p: Lᵀ = L_scale · decode, R = R_scale · decode */
    float *L_scales, *L_zeros; /* grid L/R: k × rz_grid_groups(m, lr_group) */
    float *R_scales, *R_zeros; /* grid L/R: k × rz_grid_groups(n, lr_group) */
    rz_rht U, V;            /* incoherent: the transforms (n = 0 otherwise) */
    double obj;             /* f of the best decomposition */
    double ref;             /* tr(W H Wᵀ); obj/ref is the relative error (CALDERA reports its
                               square root) */
    int best_outer;         /* outer iteration (1-based) it came from */
    rz_caldera_trace *trace;
    int n_trace;
    double *t_outer;        /* [opts.outer] wall seconds of each outer iteration */
    double t_setup;         /* RHT, LDL and Cholesky factors, first Y H */
    int outer_run;          /* outer iterations actually run (1 when k = 0 or Q ≡ 0) */
} rz_caldera;

/* Fits W (m × n) with Hessian H (n × n, double or float) at rank k (0 ≤ k ≤ min(m, n)).
 * Only H's symmetric part (H + Hᵀ)/2 is used; its diagonal must be finite and ≥ 0.
 * *out is filled (free with rz_caldera_free, also after a failure). Calls
 * rz_linalg_threads(0) (OpenBLAS single-threaded); set the OpenMP threads before.
 * Memory: about 7 m·n + 5 n² floats (≈ 0.8 GB at 4096 × 4096); RZ_SVD_EXACT adds
 * 4 m·n doubles and a full dgesdd, meant for small matrices and tests. */
int rz_caldera_fit(const float *W, const double *H, int m, int n, int k, const rz_caldera_opts *o,
                   rz_caldera *out, rz_err *e);
int rz_caldera_fit_f(const float *W, const float *H, int m, int n, int k, const rz_caldera_opts *o,
                     rz_caldera *out, rz_err *e);
void rz_caldera_free(rz_caldera *c);

/* Ŵ = Q + L R in the ORIGINAL basis (Uᵀ (Q + L R) V when incoherent). What: m × n. */
int rz_caldera_dense(const rz_caldera *c, float *What, rz_err *e);

/* Stored bits of Q for m × n under opts: E8P bits·m·n + 32 (its f32 scale); LDLQ
 * bits·m·n + (16 + bits)·m·groups (an fp16 scale and a bits-wide zero per group); 0 for
 * RZ_CQ_NONE. */
double rz_caldera_q_bits(const rz_caldera_opts *o, int m, int n);

/* ---- the updates, exposed for tools and tests -------------------------------------- */

/* L-update: L (m × k) ← argmin_L tr((Y − LR) H (Y − LR)ᵀ) = (Y H) Rᵀ (R H Rᵀ)⁻¹, from
 * YH = Y H (m × n), H (n × n float), R (k × n). k × k solve in double (Cholesky, or the
 * pseudo-inverse when R H Rᵀ is singular). */
int rz_lowrank_update_L(const float *YH, const float *H, const float *R, int m, int n, int k,
                        float *L, rz_err *e);
/* R-update: R (k × n) ← argmin_R tr((Y − LR) H (Y − LR)ᵀ) = (LᵀL)⁻¹ Lᵀ Y for any
 * positive definite H (H cancels; see caldera.c), from Y (m × n) and L (m × k). */
int rz_lowrank_update_R(const float *Y, const float *L, int m, int n, int k, float *R, rz_err *e);
/* f = tr((Y − LR) H (Y − LR)ᵀ), accumulated in double. */
int rz_lowrank_objective(const float *Y, const float *H, const float *L, const float *R, int m, int n,
                         int k, double *obj, rz_err *e);

/* The downdate of the Q step (see the top): Hout (n × n) = H − H Rᵀ (R H Rᵀ)⁺ R H for
 * H (n × n, symmetric positive definite) and R (k × n), then lifted by −λ_min when its
 * smallest eigenvalue λ_min is negative, then + sigma2·mean|diag|·I. k = 0: H plus the
 * regularisation. */
#define RZ_CALDERA_SIGMA_REG2 0.01
int rz_caldera_downdate(const double *H, const float *R, int n, int k, double sigma2, double *Hout, rz_err *e);

#endif
