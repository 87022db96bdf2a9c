/* caldera.c — CALDERA's alternating fit W ≈ Q + L R under a Hessian (see caldera.h for
 * the algorithm, the basis of the results and the numbers).
 *
 * Layout. Internally L is kept transposed, Lt = Lᵀ (k × m): every product then has the
 * long dimension (m or n) as its output columns, which is what the panel split of
 * pgemm parallelises, and the k × m rows are what the 4-bit grid quantises (one grid
 * per column of L, as CALDERA quantises Lᵀ).
 *
 * The two inner updates. With Y = W − Q (m × n), f(L, R) = tr((Y − LR) H (Y − LR)ᵀ):
 *
 *   L-update. ∂f/∂L = −2 (Y − LR) H Rᵀ = 0  ⇔  L (R H Rᵀ) = Y H Rᵀ,
 *             so L = (Y H) Rᵀ (R H Rᵀ)⁻¹: a k × k SPD system with m right-hand sides.
 *   R-update. ∂f/∂R = −2 Lᵀ (Y − LR) H = 0  ⇔  (Lᵀ L R − Lᵀ Y) H = 0, and since H is
 *             invertible (positive definite) this is Lᵀ L R = Lᵀ Y: R = (LᵀL)⁻¹ Lᵀ Y.
 *             H cancels: row by row the problem is an ordinary least-squares fit of the
 *             columns of Y by those of L, whatever the metric on the rows. (For a PSD but
 *             singular H, (LᵀL)⁻¹ LᵀY is still a minimiser: it zeroes the gradient.)
 * f is convex in L for fixed R and in R for fixed L, so these stationary points are the
 * minimisers and f cannot increase along the unquantised alternation.
 * The k × k systems are solved in double by Cholesky (dpotrf/dpotrs), or — when the
 * matrix is singular or nearly so (a pivot² below 1e-12 of the largest diagonal) — by
 * the pseudo-inverse from its eigendecomposition (eigenvalues below 1e-13 of the largest
 * dropped): the limit of a vanishing ridge, still an exact minimiser of the quadratic.
 * The Gram matrices are accumulated in double from the float factors, so they are exact
 * to ~1e-16 relative and those thresholds are far above their rounding.
 *
 * The initialisation (H^{1/2} choice). H + λI = C Cᵀ by Cholesky (dpotrf, double):
 * cheaper than an eigendecomposition (n³/3 flops), triangular, and any factor with
 * C Cᵀ = H gives the same objective ‖(Y − LR) C‖_F². With Z = Y C = U Σ Vᵀ the best
 * rank-k fit is L R C = U_k Σ_k V_kᵀ: L = U_k Σ_k^{1/2} and R = Σ_k^{1/2} V_kᵀ C⁻¹
 * (dtrsm, right side, lower). The damping λ only affects this starting point; the inner
 * updates and the reported f use the undamped H.
 */
#include "caldera.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "ldlq.h"
#include "record.h"
#include "e8p.h"
#include "rng.h"

/* percdamp for LDL factors of Hessians that are already regularised: numerically none
 * (rz_ldl_factor takes ≤ 0 as its default 0.01) */
#define LDL_NODAMP 1e-12

/* ---- small tools ------------------------------------------------------------------- */

/* splitmix64 (rng.h) and Box–Muller: the randomized SVD's Gaussian test matrix from
 * opts.seed. */
static double gauss(uint64_t *s)
{
    double u1 = ((rz_splitmix64(s) >> 11) + 1.0) * 0x1.0p-53, u2 = (rz_splitmix64(s) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* C (M × N) = alpha·op(A)·op(B) + beta·C, row-major, op = transpose when ta/tb. Split into
 * column panels fixed by N (rz_matmul_panels), one single-threaded sgemm each, OpenMP over
 * panels: the result does not depend on the thread count (as rz_matmul_nt). */
static void pgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(long)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(long)i * ldc + j];
        return;
    }
    int P = rz_matmul_panels(N);
    int w = ((N + P - 1) / P + 15) / 16 * 16;
#pragma omp parallel for schedule(static) if (P > 1)
    for (int p = 0; p < P; p++) {
        int j0 = p * w, nc = N - j0 < w ? N - j0 : w;
        if (nc <= 0) continue;
        const float *Bp = tb ? B + (long)j0 * ldb : B + j0;
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, nc, K,
                    alpha, A, lda, Bp, ldb, beta, C + j0, ldc);
    }
}

/* Σ a_i b_i in double: partial sums over fixed chunks, added in chunk order, so the
 * result does not depend on the thread count (nor on whether the scratch was allocated). */
enum { DOT_CHUNK = 1 << 15 };
static double dot_chunk(const float *a, const float *b, long i0, long i1)
{
    double s = 0.0;
    for (long i = i0; i < i1; i++) s += (double)a[i] * b[i];
    return s;
}

static double dot_f(const float *a, const float *b, long len)
{
    long nch = (len + DOT_CHUNK - 1) / DOT_CHUNK;
    double *part = malloc(sizeof(double) * (size_t)(nch > 0 ? nch : 1)), total = 0.0;
    if (!part) {
        for (long c = 0; c < nch; c++)
            total += dot_chunk(a, b, c * DOT_CHUNK, c * DOT_CHUNK + DOT_CHUNK < len ? c * DOT_CHUNK + DOT_CHUNK : len);
        return total;
    }
#pragma omp parallel for schedule(static) if (nch > 1)
    for (long c = 0; c < nch; c++)
        part[c] = dot_chunk(a, b, c * DOT_CHUNK, c * DOT_CHUNK + DOT_CHUNK < len ? c * DOT_CHUNK + DOT_CHUNK : len);
    for (long c = 0; c < nch; c++) total += part[c];
    free(part);
    return total;
}

/* A (k × k, double) = X Yᵀ for X, Y: k × len float rows (row stride len), symmetrised
 * (A + Aᵀ)/2. Each entry is one serial double sum: thread-count independent. */
static void gram(const float *X, const float *Y, int k, long len, double *A)
{
#pragma omp parallel for schedule(static, 1) if ((long)k * k * len > (1L << 20))
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            const float *x = X + (long)i * len, *y = Y + (long)j * len;
            double s = 0.0;
            for (long t = 0; t < len; t++) s += (double)x[t] * y[t];
            A[(long)i * k + j] = s;
        }
    for (int i = 0; i < k; i++)
        for (int j = 0; j < i; j++) {
            double s = 0.5 * (A[(long)i * k + j] + A[(long)j * k + i]);
            A[(long)i * k + j] = A[(long)j * k + i] = s;
        }
}

/* Solves A X = B for a symmetric PSD A (k × k, overwritten). B holds nrhs right-hand
 * sides, each a contiguous k-vector (i.e. k × nrhs column-major), overwritten by X.
 * Cholesky when well conditioned, else the pseudo-inverse (see the file comment). */
static int spd_solve(double *A, int k, double *B, int nrhs, rz_err *e)
{
    double dmax = 0.0;
    for (int i = 0; i < k; i++) dmax = fmax(dmax, A[(long)i * k + i]);
    if (!(dmax > 0.0) || !isfinite(dmax)) {
        if (!isfinite(dmax)) return rz_fail(e, RZ_EINTERNAL, "lowrank: %dx%d normal matrix is not finite", k, k);
        memset(B, 0, sizeof(double) * (size_t)k * nrhs); /* A = 0: every X minimises; take 0 */
        return 0;
    }
    double *A0 = rz_malloc(sizeof(double) * ((size_t)k * k + k), e);
    if (!A0) return e ? e->code : RZ_EINTERNAL;
    memcpy(A0, A, sizeof(double) * (size_t)k * k);
    int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', k, A, k);
    double pmin = INFINITY;
    for (int i = 0; i < k && !info; i++) pmin = fmin(pmin, A[(long)i * k + i] * A[(long)i * k + i]);
    if (!info && pmin > 1e-12 * dmax) {
        info = LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', k, nrhs, A, k, B, k);
        free(A0);
        return info ? rz_fail(e, RZ_EINTERNAL, "lowrank: dpotrs failed (info %d)", info) : 0;
    }
    /* pseudo-inverse: A0 = V diag(w) Vᵀ, X = V diag(w⁺) Vᵀ B */
    double *w = A0 + (size_t)k * k, *T = rz_malloc(sizeof(double) * (size_t)k * nrhs, e);
    if (!T) {
        free(A0);
        return e ? e->code : RZ_EINTERNAL;
    }
    info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', k, A0, k, w);
    if (info) {
        free(A0);
        free(T);
        return rz_fail(e, RZ_EINTERNAL, "lowrank: dsyevd of the %dx%d normal matrix failed (info %d)", k, k,
                       info);
    }
    double wmax = w[k - 1];
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, nrhs, k, 1.0, A0, k, B, k, 0.0, T, k);
    for (int i = 0; i < k; i++) {
        double s = w[i] > 1e-13 * wmax ? 1.0 / w[i] : 0.0;
        for (int r = 0; r < nrhs; r++) T[(long)r * k + i] *= s;
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, k, nrhs, k, 1.0, A0, k, T, k, 0.0, B, k);
    free(A0);
    free(T);
    return 0;
}

/* ---- the updates -------------------------------------------------------------------- */

/* L-update into Lt (k × m) from YH = Y H (m × n), G = R H (k × n), R (k × n):
 * solve (R H Rᵀ) Lᵀ = (Y H Rᵀ)ᵀ = R (Y H)ᵀ, a k × k system with m right-hand sides. */
static int update_L(const float *YH, const float *G, const float *R, int m, int n, int k, float *Lt, rz_err *e)
{
    double *A = rz_malloc(sizeof(double) * (size_t)k * k, e), *B = rz_malloc(sizeof(double) * (size_t)m * k, e);
    if (!A || !B) {
        free(A);
        free(B);
        return e ? e->code : RZ_EINTERNAL;
    }
    gram(G, R, k, n, A);                             /* R H Rᵀ, k × k */
    pgemm(0, 1, k, m, n, 1.0f, R, n, YH, n, 0.0f, Lt, m); /* R (Y H)ᵀ, k × m */
    for (int r = 0; r < k; r++)
        for (int i = 0; i < m; i++) B[(long)i * k + r] = Lt[(long)r * m + i]; /* column i = rhs i */
    int rc = spd_solve(A, k, B, m, e);
    if (!rc)
        for (int r = 0; r < k; r++)
            for (int i = 0; i < m; i++) Lt[(long)r * m + i] = (float)B[(long)i * k + r];
    free(A);
    free(B);
    return rc;
}

/* R-update into R (k × n) from Y (m × n) and Lt (k × m): solve (LᵀL) R = Lᵀ Y. */
static int update_R(const float *Y, const float *Lt, int m, int n, int k, float *R, rz_err *e)
{
    double *A = rz_malloc(sizeof(double) * (size_t)k * k, e), *B = rz_malloc(sizeof(double) * (size_t)n * k, e);
    if (!A || !B) {
        free(A);
        free(B);
        return e ? e->code : RZ_EINTERNAL;
    }
    gram(Lt, Lt, k, m, A);                            /* LᵀL */
    pgemm(0, 0, k, n, m, 1.0f, Lt, m, Y, n, 0.0f, R, n); /* Lᵀ Y, k × n */
    for (int r = 0; r < k; r++)
        for (int j = 0; j < n; j++) B[(long)j * k + r] = R[(long)r * n + j];
    int rc = spd_solve(A, k, B, n, e);
    if (!rc)
        for (int r = 0; r < k; r++)
            for (int j = 0; j < n; j++) R[(long)r * n + j] = (float)B[(long)j * k + r];
    free(A);
    free(B);
    return rc;
}

/* f = ⟨E, E H⟩ with E = Y − L R and E H = Y H − L G (G = R H); E, EH: m × n scratch. */
static double objective(const float *Y, const float *YH, const float *Lt, const float *R, const float *G, int m,
                        int n, int k, float *E, float *EH)
{
    memcpy(E, Y, sizeof(float) * (size_t)m * n);
    memcpy(EH, YH, sizeof(float) * (size_t)m * n);
    pgemm(1, 0, m, n, k, -1.0f, Lt, m, R, n, 1.0f, E, n);
    pgemm(1, 0, m, n, k, -1.0f, Lt, m, G, n, 1.0f, EH, n);
    return dot_f(E, EH, (long)m * n);
}

/* Quantises the rows (each `len` long) of X (rows × len) in place as opts say: the
 * min-max grid (codes, scales, zeros as rz_rtn), or an fp16/bf16 round trip. */
static int quant_lr(float *X, int rows, int len, const rz_caldera_opts *o, uint8_t *codes, float *scales,
                    float *zeros, uint32_t *lat, float *lat_scale, rz_err *e)
{
    long cnt = (long)rows * len;
    if (o->lr_bits == 32 || cnt == 0) return 0;
    if (o->lr_e8p) {
        /* alg.py's quantize_matrix: the whole matrix (Lᵀ for L) in consecutive 8-vectors,
         * divided by its RMS (input RMS 1, no opt_scale), E8P-RVQ, times the RMS again */
        double ss = 0.0;
        for (long t = 0; t < cnt; t++) ss += (double)X[t] * X[t];
        float sc = (float)sqrt(ss / (double)cnt), inv = sc > 0 ? 1.0f / sc : 0.0f;
        for (long t = 0; t < cnt; t++) X[t] *= inv;
        rz_e8p_rvq_encode(o->lr_bits, X, cnt / 8, lat, X);
        for (long t = 0; t < cnt; t++) X[t] *= sc;
        *lat_scale = sc;
        return 0;
    }
    if (o->lr_bits == 16) {
        for (long t = 0; t < cnt; t++) {
            if (!o->lr_bf16 && !(fabsf(X[t]) <= 65504.0f))
                return rz_fail(e, RZ_EINPUT, "caldera: low-rank factor entry %g is outside the fp16 range; use bf16",
                               X[t]);
            X[t] = o->lr_bf16 ? rz_bf16_to_f32(rz_f32_to_bf16(X[t])) : rz_f16_to_f32(rz_f32_to_f16(X[t]));
        }
        return 0;
    }
    /* rz_rtn's grid (ldlq.h), row by row; a parallel region only when the work pays for
     * it (on a loaded machine every barrier can cost a scheduler time slice) */
    int G = rz_grid_groups(len, o->lr_group), gw = o->lr_group > 0 ? o->lr_group : len, bits = o->lr_bits;
#pragma omp parallel for schedule(static) if (cnt > (1L << 16))
    for (int r = 0; r < rows; r++)
        for (int g = 0; g < G; g++) {
            int c0 = g * gw, c1 = c0 + gw < len ? c0 + gw : len;
            float sc, z, *x = X + (long)r * len;
            rz_grid_fit(x + c0, c1 - c0, 1, bits, &sc, &z);
            scales[(long)r * G + g] = sc;
            zeros[(long)r * G + g] = z;
            for (int c = c0; c < c1; c++) {
                int q = rz_grid_code(x[c], sc, z, bits);
                codes[(long)r * len + c] = (uint8_t)q;
                x[c] = rz_grid_value(q, sc, z);
            }
        }
    return 0;
}

int rz_lowrank_update_L(const float *YH, const float *H, const float *R, int m, int n, int k, float *L, rz_err *e)
{
    if (m < 1 || n < 1 || k < 1) return rz_fail(e, RZ_EINPUT, "lowrank: bad shape %d x %d, rank %d", m, n, k);
    float *G = rz_malloc(sizeof(float) * (size_t)k * n, e), *Lt = rz_malloc(sizeof(float) * (size_t)k * m, e);
    int rc = e ? e->code : RZ_EINTERNAL;
    if (G && Lt) {
        pgemm(0, 0, k, n, n, 1.0f, R, n, H, n, 0.0f, G, n);
        rc = update_L(YH, G, R, m, n, k, Lt, e);
        if (!rc)
            for (int i = 0; i < m; i++)
                for (int r = 0; r < k; r++) L[(long)i * k + r] = Lt[(long)r * m + i];
    }
    free(G);
    free(Lt);
    return rc;
}

int rz_lowrank_update_R(const float *Y, const float *L, int m, int n, int k, float *R, rz_err *e)
{
    if (m < 1 || n < 1 || k < 1) return rz_fail(e, RZ_EINPUT, "lowrank: bad shape %d x %d, rank %d", m, n, k);
    float *Lt = rz_malloc(sizeof(float) * (size_t)k * m, e);
    if (!Lt) return e ? e->code : RZ_EINTERNAL;
    for (int i = 0; i < m; i++)
        for (int r = 0; r < k; r++) Lt[(long)r * m + i] = L[(long)i * k + r];
    int rc = update_R(Y, Lt, m, n, k, R, e);
    free(Lt);
    return rc;
}

int rz_lowrank_objective(const float *Y, const float *H, const float *L, const float *R, int m, int n, int k,
                         double *obj, rz_err *e)
{
    if (m < 1 || n < 1 || k < 0) return rz_fail(e, RZ_EINPUT, "lowrank: bad shape %d x %d, rank %d", m, n, k);
    size_t mn = (size_t)m * n;
    float *E = rz_malloc(sizeof(float) * mn, e), *EH = rz_malloc(sizeof(float) * mn, e);
    if (!E || !EH) {
        free(E);
        free(EH);
        return e ? e->code : RZ_EINTERNAL;
    }
    memcpy(E, Y, sizeof(float) * mn);
    pgemm(0, 0, m, n, k, -1.0f, L, k, R, n, 1.0f, E, n); /* E = Y − L R */
    pgemm(0, 0, m, n, n, 1.0f, E, n, H, n, 0.0f, EH, n); /* E H */
    *obj = dot_f(E, EH, (long)mn);
    free(E);
    free(EH);
    return 0;
}

/* ---- the Hessian downdate ----------------------------------------------------------- */

int rz_caldera_downdate(const double *H, const float *R, int n, int k, double sigma2, double *Hout, rz_err *e)
{
    if (n < 1 || k < 0) return rz_fail(e, RZ_EINPUT, "downdate: order %d, rank %d", n, k);
    size_t nn = (size_t)n * n;
    memcpy(Hout, H, sizeof(double) * nn);
    if (k > 0) {
        /* G = R H (k × n), A = G Rᵀ = R H Rᵀ (k × k), X = A⁺ G; H ← H − Gᵀ X */
        double *G = rz_malloc(sizeof(double) * (size_t)k * n, e), *A = rz_malloc(sizeof(double) * (size_t)k * k, e);
        double *Rd = rz_malloc(sizeof(double) * (size_t)k * n, e), *X = rz_malloc(sizeof(double) * (size_t)k * n, e);
        int rc = 0;
        if (!G || !A || !Rd || !X) rc = e ? e->code : RZ_EINTERNAL;
        if (!rc) {
            for (size_t t = 0; t < (size_t)k * n; t++) Rd[t] = R[t];
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, n, n, 1.0, Rd, n, H, n, 0.0, G, n);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k, k, n, 1.0, G, n, Rd, n, 0.0, A, k);
            for (int i = 0; i < k; i++)
                for (int j = 0; j < i; j++) A[(long)i * k + j] = A[(long)j * k + i] = 0.5 * (A[(long)i * k + j] + A[(long)j * k + i]);
            /* spd_solve's right-hand sides are contiguous k-vectors: column j of G */
            for (int r = 0; r < k; r++)
                for (int j = 0; j < n; j++) X[(long)j * k + r] = G[(long)r * n + j];
            rc = spd_solve(A, k, X, n, e);
        }
        if (!rc) /* Hout −= Gᵀ X', X' (k × n) stored as n × k row-major = X */
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasTrans, n, n, k, -1.0, G, n, X, k, 1.0, Hout, n);
        free(G), free(A), free(Rd), free(X);
        if (rc) return rc;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
                Hout[(long)i * n + j] = Hout[(long)j * n + i] = 0.5 * (Hout[(long)i * n + j] + Hout[(long)j * n + i]);
    }
    /* as alg.py: lift the spectrum to ≥ 0, then add α I, α = mean |diag| · sigma2 */
    double *T = rz_malloc(sizeof(double) * (nn + (size_t)n), e);
    if (!T) return e ? e->code : RZ_EINTERNAL;
    memcpy(T, Hout, sizeof(double) * nn);
    int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', n, T, n, T + nn);
    double lmin = info ? 0.0 : T[nn];
    free(T);
    if (info) return rz_fail(e, RZ_EINTERNAL, "downdate: dsyev failed (info %d)", info);
    double mean = 0.0;
    if (lmin < 0)
        for (int i = 0; i < n; i++) Hout[(long)i * n + i] -= lmin;
    for (int i = 0; i < n; i++) mean += fabs(Hout[(long)i * n + i]) / n;
    for (int i = 0; i < n; i++) Hout[(long)i * n + i] += mean * sigma2;
    return 0;
}

/* ---- options ------------------------------------------------------------------------- */

void rz_caldera_defaults(rz_caldera_opts *o)
{
    memset(o, 0, sizeof *o);
    o->q_method = RZ_CQ_E8P;
    o->q_bits = 2;
    o->incoherent = 1;
    o->lr_bits = 4;
    o->outer = 20;
    o->inner = 50;
    o->damp = RZ_PERCDAMP;
    o->h_reg = 0.01;
    o->q_downdate = 1;
    o->q_tune_iters = 10;
    o->q_scale_search = 0;
    o->svd = RZ_SVD_RANDOM;
    o->svd_oversample = 16;
    o->svd_power = 2;
}

double rz_caldera_q_bits(const rz_caldera_opts *o, int m, int n)
{
    double mn = (double)m * n;
    if (o->q_method == RZ_CQ_E8P) return o->q_bits * mn + 32.0;
    if (o->q_method == RZ_CQ_LDLQ) return o->q_bits * mn + (16.0 + o->q_bits) * m * rz_grid_groups(n, o->q_group);
    return 0.0;
}

static int check_opts(const rz_caldera_opts *o, int m, int n, int k, rz_err *e)
{
    if (m < 1 || n < 1 || (long)m * n > (1L << 31))
        return rz_fail(e, RZ_EINPUT, "caldera: matrix %d x %d is empty or too large", m, n);
    int mn = m < n ? m : n;
    if (k < 0 || k > mn) return rz_fail(e, RZ_EINPUT, "caldera: rank %d is not in 0..min(m, n) = %d", k, mn);
    if (o->q_method == RZ_CQ_E8P) {
        if (o->q_bits < 2 || o->q_bits > 4)
            return rz_fail(e, RZ_EINPUT, "caldera: E8P Q takes 2, 3 or 4 bits, not %d", o->q_bits);
        if (n % 8) return rz_fail(e, RZ_EINPUT, "caldera: E8P Q needs columns %d to be a multiple of 8", n);
    } else if (o->q_method == RZ_CQ_LDLQ) {
        if (o->q_bits != 2 && o->q_bits != 3 && o->q_bits != 4 && o->q_bits != 8)
            return rz_fail(e, RZ_EINPUT, "caldera: LDLQ Q takes 2, 3, 4 or 8 bits, not %d", o->q_bits);
        if (o->q_group < 0) return rz_fail(e, RZ_EINPUT, "caldera: Q group %d is negative", o->q_group);
    } else if (o->q_method != RZ_CQ_NONE)
        return rz_fail(e, RZ_EINPUT, "caldera: unknown Q method %d", o->q_method);
    int b = o->lr_bits;
    if (b != 2 && b != 3 && b != 4 && b != 8 && b != 16 && b != 32)
        return rz_fail(e, RZ_EINPUT, "caldera: L/R bits %d is not one of 2, 3, 4, 8 (grid), 16, 32", b);
    if (o->lr_group < 0) return rz_fail(e, RZ_EINPUT, "caldera: L/R group %d is negative", o->lr_group);
    if (o->lr_e8p && k > 0 && b < 32) {
        if (b < 2 || b > 4) return rz_fail(e, RZ_EINPUT, "caldera: E8P L/R take 2, 3 or 4 bits, not %d", b);
        if (((long)k * m) % 8 || ((long)k * n) % 8)
            return rz_fail(e, RZ_EINPUT, "caldera: E8P L/R need rank x rows and rank x cols (%d x %d, %d x %d) to be "
                           "multiples of 8", k, m, k, n);
    }
    if (o->outer < 1 || o->inner < 0)
        return rz_fail(e, RZ_EINPUT, "caldera: %d outer / %d inner iterations (need >= 1 / >= 0)", o->outer,
                       o->inner);
    if (k > 0 && b < 32 && o->inner < 1)
        return rz_fail(e, RZ_EINPUT, "caldera: quantised L/R (%d bits) need at least one inner iteration", b);
    if (o->svd != RZ_SVD_EXACT && o->svd != RZ_SVD_RANDOM)
        return rz_fail(e, RZ_EINPUT, "caldera: unknown SVD mode %d", o->svd);
    if (o->svd_oversample < 0 || o->svd_power < 0)
        return rz_fail(e, RZ_EINPUT, "caldera: negative SVD oversampling %d or power iterations %d",
                       o->svd_oversample, o->svd_power);
    if (!isfinite(o->damp)) return rz_fail(e, RZ_EINPUT, "caldera: damping is not finite");
    if (!(o->h_reg >= 0 && o->h_reg < 1e3)) return rz_fail(e, RZ_EINPUT, "caldera: H regularisation %g", o->h_reg);
    if (o->q_tune_iters < 0 || o->q_scale_search < 0 || o->q_scale_search > 12)
        return rz_fail(e, RZ_EINPUT, "caldera: Q tune passes %d (>= 0) or scale search %d (0..12)", o->q_tune_iters,
                       o->q_scale_search);
    return 0;
}

/* ---- the initialisation -------------------------------------------------------------- */

/* Orthonormalises the l rows (each len long, row stride len) of Xt: a QR of the
 * column-major len × l matrix they form (sgeqrf/sorgqr, single-threaded). */
static int orth_rows(float *Xt, int l, int len, rz_err *e)
{
    float *tau = rz_malloc(sizeof(float) * (size_t)l, e);
    if (!tau) return e ? e->code : RZ_EINTERNAL;
    int info = LAPACKE_sgeqrf(LAPACK_COL_MAJOR, len, l, Xt, len, tau);
    if (!info) info = LAPACKE_sorgqr(LAPACK_COL_MAJOR, len, l, l, Xt, len, tau);
    free(tau);
    return info ? rz_fail(e, RZ_EINTERNAL, "caldera: QR of a %d x %d block failed (info %d)", len, l, info) : 0;
}

/* From Z's top k: s (k singular values), Ut (k × m, rows = left singular vectors) and
 * Vt (k × n, double) give Lt = Σ^{1/2} Ut and R = Σ^{1/2} Vt C⁻¹ (Cd: n × n lower). */
static void init_factors(const double *s, int k, int m, int n, const double *Cd, double *Vt, float *Lt, float *R)
{
    for (int r = 0; r < k; r++) {
        double h = sqrt(s[r]);
        for (int i = 0; i < m; i++) Lt[(long)r * m + i] *= (float)h;
        for (int j = 0; j < n; j++) Vt[(long)r * n + j] *= h;
    }
    /* X C = Σ^{1/2} V_kᵀ for X (k × n): C lower, from the right */
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, k, n, 1.0, Cd, n, Vt, n);
    for (long t = 0; t < (long)k * n; t++) R[t] = (float)Vt[t];
}

/* Exact: Z = Y C in double, dgesdd. For small matrices (4 m·n doubles of scratch). */
static int init_exact(const float *Y, const double *Cd, int m, int n, int k, float *Lt, float *R, rz_err *e)
{
    int mn = m < n ? m : n;
    size_t sz = (size_t)m * n;
    double *Yd = rz_malloc(sizeof(double) * sz, e), *Z = rz_malloc(sizeof(double) * sz, e);
    double *U = rz_malloc(sizeof(double) * (size_t)m * mn, e), *Vt = rz_malloc(sizeof(double) * (size_t)mn * n, e);
    double *s = rz_malloc(sizeof(double) * (size_t)mn, e);
    int rc = e ? e->code : RZ_EINTERNAL;
    if (Yd && Z && U && Vt && s) {
        for (size_t t = 0; t < sz; t++) Yd[t] = Y[t];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, n, 1.0, Yd, n, Cd, n, 0.0, Z, n);
        int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', m, n, Z, n, s, U, mn, Vt, n);
        if (info) rc = rz_fail(e, RZ_EINTERNAL, "caldera: dgesdd of %d x %d failed (info %d)", m, n, info);
        else {
            for (int r = 0; r < k; r++)
                for (int i = 0; i < m; i++) Lt[(long)r * m + i] = (float)U[(long)i * mn + r];
            init_factors(s, k, m, n, Cd, Vt, Lt, R);
            rc = 0;
        }
    }
    free(Yd), free(Z), free(U), free(Vt), free(s);
    return rc;
}

/* Randomized (Halko–Martinsson–Tropp, Alg. 4.4): l = k + p test vectors, range of
 * Z Ω orthonormalised, `power` subspace iterations with Z and Zᵀ, then the SVD of the
 * small B = Qᵀ Z (l × n). Z = Y C is never formed: Z x = Y (C x), Zᵀ x = Cᵀ (Yᵀ x).
 * Blocks are stored as rows: Pt (l × n), Xt (l × m). */
static int init_random(const float *Y, const float *Cf, const double *Cd, int m, int n, int k, int p, int power,
                       uint64_t seed, float *Lt, float *R, rz_err *e)
{
    int mn = m < n ? m : n, l = k + p < mn ? k + p : mn;
    float *Pt = rz_malloc(sizeof(float) * (size_t)l * n, e), *T = rz_malloc(sizeof(float) * (size_t)l * n, e);
    float *Xt = rz_malloc(sizeof(float) * (size_t)l * m, e), *A = rz_malloc(sizeof(float) * (size_t)k * l, e);
    double *B = rz_malloc(sizeof(double) * (size_t)l * n, e), *s = rz_malloc(sizeof(double) * (size_t)l, e);
    double *Ub = rz_malloc(sizeof(double) * (size_t)l * l, e), *Vt = rz_malloc(sizeof(double) * (size_t)l * n, e);
    int rc = e ? e->code : RZ_EINTERNAL;
    if (!Pt || !T || !Xt || !A || !B || !s || !Ub || !Vt) goto out;
    uint64_t st = seed ^ 0x6C6F7772616E6BULL;
    for (long t = 0; t < (long)l * n; t++) Pt[t] = (float)gauss(&st);
    for (int it = 0; it <= power; it++) {
        /* Xt = (Z P)ᵀ = (Pt Cᵀ) Yᵀ */
        pgemm(0, 1, l, n, n, 1.0f, Pt, n, Cf, n, 0.0f, T, n);
        pgemm(0, 1, l, m, n, 1.0f, T, n, Y, n, 0.0f, Xt, m);
        if ((rc = orth_rows(Xt, l, m, e))) goto out;
        /* Pt = (Zᵀ X)ᵀ = (Xt Y) C; orthonormalised except the last pass, which is B */
        pgemm(0, 0, l, n, m, 1.0f, Xt, m, Y, n, 0.0f, T, n);
        pgemm(0, 0, l, n, n, 1.0f, T, n, Cf, n, 0.0f, Pt, n);
        if (it < power && (rc = orth_rows(Pt, l, n, e))) goto out;
    }
    for (long t = 0; t < (long)l * n; t++) B[t] = Pt[t]; /* B = Qᵀ Z, l × n */
    int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', l, n, B, n, s, Ub, l, Vt, n);
    if (info) {
        rc = rz_fail(e, RZ_EINTERNAL, "caldera: dgesdd of %d x %d failed (info %d)", l, n, info);
        goto out;
    }
    /* U_k = Q U_B[:, :k]: Lt (k × m) = U_B[:, :k]ᵀ Xt */
    for (int r = 0; r < k; r++)
        for (int j = 0; j < l; j++) A[(long)r * l + j] = (float)Ub[(long)j * l + r];
    pgemm(0, 0, k, m, l, 1.0f, A, l, Xt, m, 0.0f, Lt, m);
    init_factors(s, k, m, n, Cd, Vt, Lt, R);
    rc = 0;
out:
    free(Pt), free(T), free(Xt), free(A), free(B), free(s), free(Ub), free(Vt);
    return rc;
}

/* ---- the fit ------------------------------------------------------------------------- */

/* A low-rank pair: Lt (k × m), R (k × n) and their grid codes when lr_bits ≤ 8. */
typedef struct {
    float *Lt, *R;
    uint8_t *Lc, *Rc;
    float *Ls, *Lz, *Rs, *Rz;
    uint32_t *Le, *Re; /* lr_e8p: E8P-RVQ codes of Lᵀ and R (8 entries each) */
    float Lsc, Rsc;    /* lr_e8p: their per-matrix scales */
} lr_pair;

static int lr_alloc(lr_pair *p, int m, int n, int k, const rz_caldera_opts *o, rz_err *e)
{
    memset(p, 0, sizeof *p);
    size_t kk = k > 0 ? (size_t)k : 1;
    p->Lt = rz_calloc(kk * m, sizeof(float), e);
    p->R = rz_calloc(kk * n, sizeof(float), e);
    if (!p->Lt || !p->R) return e ? e->code : RZ_EINTERNAL;
    if (o->lr_e8p && o->lr_bits <= 8) {
        p->Le = rz_calloc(kk * m / 8 + 1, sizeof(uint32_t), e);
        p->Re = rz_calloc(kk * n / 8 + 1, sizeof(uint32_t), e);
        if (!p->Le || !p->Re) return e ? e->code : RZ_EINTERNAL;
    } else if (o->lr_bits <= 8) {
        size_t gl = (size_t)rz_grid_groups(m, o->lr_group), gr = (size_t)rz_grid_groups(n, o->lr_group);
        p->Lc = rz_calloc(kk * m, 1, e);
        p->Rc = rz_calloc(kk * n, 1, e);
        p->Ls = rz_calloc(kk * gl, sizeof(float), e);
        p->Lz = rz_calloc(kk * gl, sizeof(float), e);
        p->Rs = rz_calloc(kk * gr, sizeof(float), e);
        p->Rz = rz_calloc(kk * gr, sizeof(float), e);
        if (!p->Lc || !p->Rc || !p->Ls || !p->Lz || !p->Rs || !p->Rz) return e ? e->code : RZ_EINTERNAL;
    }
    return 0;
}

static void lr_copy(lr_pair *d, const lr_pair *s, int m, int n, int k, const rz_caldera_opts *o)
{
    memcpy(d->Lt, s->Lt, sizeof(float) * (size_t)k * m);
    memcpy(d->R, s->R, sizeof(float) * (size_t)k * n);
    if (o->lr_e8p && o->lr_bits <= 8) {
        memcpy(d->Le, s->Le, sizeof(uint32_t) * ((size_t)k * m / 8));
        memcpy(d->Re, s->Re, sizeof(uint32_t) * ((size_t)k * n / 8));
        d->Lsc = s->Lsc, d->Rsc = s->Rsc;
    } else if (o->lr_bits <= 8) {
        size_t gl = (size_t)rz_grid_groups(m, o->lr_group), gr = (size_t)rz_grid_groups(n, o->lr_group);
        memcpy(d->Lc, s->Lc, (size_t)k * m);
        memcpy(d->Rc, s->Rc, (size_t)k * n);
        memcpy(d->Ls, s->Ls, sizeof(float) * k * gl);
        memcpy(d->Lz, s->Lz, sizeof(float) * k * gl);
        memcpy(d->Rs, s->Rs, sizeof(float) * k * gr);
        memcpy(d->Rz, s->Rz, sizeof(float) * k * gr);
    }
}

static void lr_free(lr_pair *p)
{
    free(p->Lt), free(p->R), free(p->Lc), free(p->Rc), free(p->Ls), free(p->Lz), free(p->Rs), free(p->Rz);
    free(p->Le), free(p->Re);
    memset(p, 0, sizeof *p);
}

/* The quantised Q of the current step and its codes. */
typedef struct {
    float *Q;
    uint32_t *c8;
    float ws;
    uint8_t *c;
    float *s, *z;
} q_state;

static int q_alloc(q_state *q, int m, int n, const rz_caldera_opts *o, rz_err *e)
{
    memset(q, 0, sizeof *q);
    if (!(q->Q = rz_calloc((size_t)m * n, sizeof(float), e))) return e ? e->code : RZ_EINTERNAL;
    if (o->q_method == RZ_CQ_E8P && !(q->c8 = rz_calloc((size_t)m * (n / 8), sizeof(uint32_t), e)))
        return e ? e->code : RZ_EINTERNAL;
    if (o->q_method == RZ_CQ_LDLQ) {
        size_t G = (size_t)rz_grid_groups(n, o->q_group);
        q->c = rz_calloc((size_t)m * n, 1, e);
        q->s = rz_calloc((size_t)m * G, sizeof(float), e);
        q->z = rz_calloc((size_t)m * G, sizeof(float), e);
        if (!q->c || !q->s || !q->z) return e ? e->code : RZ_EINTERNAL;
    }
    return 0;
}

static void q_copy(q_state *d, const q_state *s, int m, int n, const rz_caldera_opts *o)
{
    memcpy(d->Q, s->Q, sizeof(float) * (size_t)m * n);
    d->ws = s->ws;
    if (s->c8) memcpy(d->c8, s->c8, sizeof(uint32_t) * (size_t)m * (n / 8));
    if (s->c) {
        size_t G = (size_t)rz_grid_groups(n, o->q_group);
        memcpy(d->c, s->c, (size_t)m * n);
        memcpy(d->s, s->s, sizeof(float) * m * G);
        memcpy(d->z, s->z, sizeof(float) * m * G);
    }
}

static void q_free(q_state *q)
{
    free(q->Q), free(q->c8), free(q->c), free(q->s), free(q->z);
    memset(q, 0, sizeof *q);
}

/* Appends an objective value; the step's time is measured from the previous entry (or
 * from *tick, the start of the outer iteration), and *tick moves to now. */
static void push_trace(rz_caldera *c, int outer, int inner, int step, double obj, double *tick)
{
    rz_caldera_trace *t = &c->trace[c->n_trace++];
    double now = rz_now();
    t->sec = now - *tick;
    *tick = now;
    t->outer = outer;
    t->inner = inner;
    t->step = step;
    t->obj = obj;
}

/* The fit proper. Hd: n × n double, a private copy (symmetrised, rotated), consumed. */
static int fit(const float *W0, double *Hd, int m, int n, int k, const rz_caldera_opts *o, rz_caldera *c,
               rz_err *e)
{
    size_t mn = (size_t)m * n, nn = (size_t)n * n;
    int rc = 0, quant_lr_on = o->lr_bits < 32;
    double t0 = rz_now();
    float *Wr = NULL, *Hf = NULL, *Cf = NULL, *Y = NULL, *YH = NULL, *E = NULL, *EH = NULL, *G = NULL;
    double *Cd = NULL, *Hq0 = NULL, *Hq = NULL;
    rz_ldl ldl = {0}, ldl_dd = {0};
    lr_pair cur = {0}, stepbest = {0}, best = {0};
    q_state qc = {0}, qb = {0};

    c->m = m, c->n = n, c->k = k, c->opts = *o;
    c->outer_run = (k == 0 || o->q_method == RZ_CQ_NONE) ? 1 : o->outer;
    /* h_reg > 0 (CALDERA): H ← H + h_reg·mean(diag H)·I once, used by every step, and no
     * further damping (LDL_NODAMP: numerically none); else the damping λ of the init and
     * the LDL factor only */
    double damp = o->h_reg > 0 ? 0.0 : o->damp > 0 ? o->damp : RZ_PERCDAMP;
    if (o->h_reg > 0) {
        double mean = 0.0;
        for (int i = 0; i < n; i++) mean += Hd[(long)i * n + i] / n;
        for (int i = 0; i < n; i++) Hd[(long)i * n + i] += o->h_reg * mean;
    }

    if (!(Wr = rz_malloc(sizeof(float) * mn, e))) goto fail;
    memcpy(Wr, W0, sizeof(float) * mn);
    if (o->incoherent) {
        if ((rc = rz_rht_init(&c->U, m, o->seed, e)) || (rc = rz_rht_init(&c->V, n, o->seed + 1, e)) ||
            (rc = rz_rht_cols(&c->U, Wr, n, n, 0, e)) || (rc = rz_rht_rows(&c->V, Wr, m, n, 0, e)) ||
            (rc = rz_rht_cols_d(&c->V, Hd, n, n, 0, e)) || (rc = rz_rht_rows_d(&c->V, Hd, n, n, 0, e)))
            goto out;
    }
    if (!(Hf = rz_malloc(sizeof(float) * nn, e)) || !(Y = rz_malloc(sizeof(float) * mn, e)) ||
        !(YH = rz_malloc(sizeof(float) * mn, e)) || !(E = rz_malloc(sizeof(float) * mn, e)) ||
        !(EH = rz_malloc(sizeof(float) * mn, e)) || !(G = rz_calloc((size_t)(k > 0 ? k : 1) * n, sizeof(float), e)))
        goto fail;
    for (size_t t = 0; t < nn; t++) Hf[t] = (float)Hd[t];
    if ((rc = q_alloc(&qc, m, n, o, e)) || (rc = q_alloc(&qb, m, n, o, e)) || (rc = lr_alloc(&cur, m, n, k, o, e)) ||
        (rc = lr_alloc(&stepbest, m, n, k, o, e)) || (rc = lr_alloc(&best, m, n, k, o, e)))
        goto out;
    c->trace = rz_calloc((size_t)c->outer_run * (2 + 2 * (size_t)o->inner), sizeof(rz_caldera_trace), e);
    c->t_outer = rz_calloc((size_t)o->outer, sizeof(double), e);
    if (!c->trace || !c->t_outer) goto fail;

    /* the LDL factor for LDLQ (damped inside), the H the Q step's tune passes, scale search
     * and downdate start from (Hq0: H_reg, or H + λI), then the damped Cholesky factor in Hd */
    int qblk = o->q_method == RZ_CQ_E8P ? 8 : 1;
    if (o->q_method != RZ_CQ_NONE &&
        (rc = rz_ldl_factor(Hd, n, qblk, damp > 0 ? damp : LDL_NODAMP, &ldl, e)))
        goto out;
    if (o->q_method != RZ_CQ_NONE && (!(Hq0 = rz_malloc(sizeof(double) * nn, e)) ||
                                      (o->q_downdate && k > 0 && !(Hq = rz_malloc(sizeof(double) * nn, e)))))
        goto fail;
    if (Hq0) memcpy(Hq0, Hd, sizeof(double) * nn);
    if (k > 0) {
        double mean = 0.0;
        for (int i = 0; i < n; i++) mean += Hd[(long)i * n + i];
        mean /= n;
        if (!(mean > 0)) {
            rc = rz_fail(e, RZ_EINPUT, "caldera: H has a zero diagonal");
            goto out;
        }
        for (int i = 0; i < n; i++) Hd[(long)i * n + i] += damp * mean;
        if (Hq) memcpy(Hq0, Hd, sizeof(double) * nn); /* the downdate starts from a definite H */
        int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', n, Hd, n);
        if (info) {
            rc = rz_fail(e, RZ_EINPUT, "caldera: H + %g I is not positive definite (minor %d); raise the damping",
                         damp * mean, info);
            goto out;
        }
        Cd = Hd; /* lower triangle = C; zero the upper */
        Hd = NULL;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) Cd[(long)i * n + j] = 0.0;
        if (o->svd == RZ_SVD_RANDOM) {
            if (!(Cf = rz_malloc(sizeof(float) * nn, e))) goto fail;
            for (size_t t = 0; t < nn; t++) Cf[t] = (float)Cd[t];
        }
    }

    /* Y = W (Q = 0), Y H, and the reference tr(W H Wᵀ) */
    memcpy(Y, Wr, sizeof(float) * mn);
    pgemm(0, 0, m, n, n, 1.0f, Y, n, Hf, n, 0.0f, YH, n);
    c->ref = dot_f(Y, YH, (long)mn);
    c->t_setup = rz_now() - t0;

    /* Q ≡ 0 is a complete decomposition from the start; otherwise the first Q step makes one */
    int q_set = o->q_method == RZ_CQ_NONE;
    c->obj = INFINITY;
    if (q_set && k == 0) c->obj = c->ref;

    for (int it = 1; it <= c->outer_run; it++) {
        double ts = rz_now(), tick = ts;
        if (k > 0) {
            /* ---- LR step on Y = W − Q ---- */
            if (o->svd == RZ_SVD_EXACT) rc = init_exact(Y, Cd, m, n, k, cur.Lt, cur.R, e);
            else
                rc = init_random(Y, Cf, Cd, m, n, k, o->svd_oversample, o->svd_power, o->seed + (uint64_t)it, cur.Lt,
                                 cur.R, e);
            if (rc) goto out;
            pgemm(0, 0, k, n, n, 1.0f, cur.R, n, Hf, n, 0.0f, G, n);
            double f = objective(Y, YH, cur.Lt, cur.R, G, m, n, k, E, EH), fstep = INFINITY;
            push_trace(c, it, 0, RZ_CSTEP_INIT, f, &tick);
            int best_inner = -1;
            if (!quant_lr_on) {
                fstep = f;
                best_inner = 0;
                lr_copy(&stepbest, &cur, m, n, k, o);
            }
            for (int j = 1; j <= o->inner; j++) {
                if ((rc = update_L(YH, G, cur.R, m, n, k, cur.Lt, e)) ||
                    (rc = quant_lr(cur.Lt, k, m, o, cur.Lc, cur.Ls, cur.Lz, cur.Le, &cur.Lsc, e)))
                    goto out;
                push_trace(c, it, j, RZ_CSTEP_L, objective(Y, YH, cur.Lt, cur.R, G, m, n, k, E, EH), &tick);
                if ((rc = update_R(Y, cur.Lt, m, n, k, cur.R, e)) ||
                    (rc = quant_lr(cur.R, k, n, o, cur.Rc, cur.Rs, cur.Rz, cur.Re, &cur.Rsc, e)))
                    goto out;
                pgemm(0, 0, k, n, n, 1.0f, cur.R, n, Hf, n, 0.0f, G, n);
                f = objective(Y, YH, cur.Lt, cur.R, G, m, n, k, E, EH);
                push_trace(c, it, j, RZ_CSTEP_R, f, &tick);
                if (f < fstep) {
                    fstep = f;
                    best_inner = j;
                    lr_copy(&stepbest, &cur, m, n, k, o);
                }
            }
            if (best_inner != o->inner) { /* continue from the step's best pair */
                lr_copy(&cur, &stepbest, m, n, k, o);
                pgemm(0, 0, k, n, n, 1.0f, cur.R, n, Hf, n, 0.0f, G, n);
            }
            if (q_set && fstep < c->obj) {
                c->obj = fstep;
                c->best_outer = it;
                q_copy(&qb, &qc, m, n, o);
                lr_copy(&best, &cur, m, n, k, o);
            }
        }
        if (o->q_method != RZ_CQ_NONE) {
            /* ---- Q step: Q = LDLQ(W − L R), under the downdated H when asked ---- */
            memcpy(E, Wr, sizeof(float) * mn);
            pgemm(1, 0, m, n, k, -1.0f, cur.Lt, m, cur.R, n, 1.0f, E, n);
            const rz_ldl *lq = &ldl;
            const double *Hqs = Hq0;
            if (Hq) {
                rz_ldl_free(&ldl_dd);
                if ((rc = rz_caldera_downdate(Hq0, cur.R, n, k, RZ_CALDERA_SIGMA_REG2, Hq, e)) ||
                    (rc = rz_ldl_factor(Hq, n, qblk, LDL_NODAMP, &ldl_dd, e)))
                    goto out;
                lq = &ldl_dd;
                Hqs = Hq;
            }
            if (o->q_method == RZ_CQ_E8P) {
                rz_e8p_opts eo = {o->q_bits, o->q_target_rms > 0 ? o->q_target_rms : rz_e8p_opt_scale(o->q_bits),
                                  o->q_tune_iters, o->q_scale_search, 0};
                rc = rz_ldlq_e8p_ex(E, m, n, lq, Hqs, &eo, qc.Q, qc.c8, &qc.ws, NULL, e);
            } else {
                int lazy = (o->q_group > 0 && RZ_LAZY % o->q_group && o->q_group % RZ_LAZY) ? o->q_group : 0;
                rc = rz_gptq(E, m, n, lq, o->q_bits, o->q_group, lazy, qc.Q, qc.c, qc.s, qc.z, e);
            }
            if (rc) goto out;
            /* Y = W − Q, Y H; f from E = (W − LR) − Q and E H = Y H − L G */
            for (size_t t = 0; t < mn; t++) {
                Y[t] = Wr[t] - qc.Q[t];
                E[t] -= qc.Q[t];
            }
            pgemm(0, 0, m, n, n, 1.0f, Y, n, Hf, n, 0.0f, YH, n);
            memcpy(EH, YH, sizeof(float) * mn);
            pgemm(1, 0, m, n, k, -1.0f, cur.Lt, m, G, n, 1.0f, EH, n);
            double f = dot_f(E, EH, (long)mn);
            push_trace(c, it, -1, RZ_CSTEP_Q, f, &tick);
            q_set = 1;
            if (f < c->obj) {
                c->obj = f;
                c->best_outer = it;
                q_copy(&qb, &qc, m, n, o);
                lr_copy(&best, &cur, m, n, k, o);
            }
        }
        c->t_outer[it - 1] = rz_now() - ts;
    }

    /* hand the best decomposition over: L back to m × k */
    c->Q = qb.Q, c->q_codes_e8p = qb.c8, c->q_wscale = qb.ws, c->q_codes = qb.c, c->q_scales = qb.s, c->q_zeros = qb.z;
    memset(&qb, 0, sizeof qb);
    if (!(c->L = rz_malloc(sizeof(float) * (size_t)(k > 0 ? k : 1) * m, e))) goto fail;
    for (int i = 0; i < m; i++)
        for (int r = 0; r < k; r++) c->L[(long)i * k + r] = best.Lt[(long)r * m + i];
    c->R = best.R, c->L_codes = best.Lc, c->R_codes = best.Rc;
    c->L_codes_e8p = best.Le, c->R_codes_e8p = best.Re, c->L_scale = best.Lsc, c->R_scale = best.Rsc;
    best.Le = best.Re = NULL;
    c->L_scales = best.Ls, c->L_zeros = best.Lz, c->R_scales = best.Rs, c->R_zeros = best.Rz;
    best.R = NULL, best.Lc = best.Rc = NULL, best.Ls = best.Lz = best.Rs = best.Rz = NULL;
    goto out;
fail:
    rc = e ? e->code : RZ_EINTERNAL;
    if (!rc) rc = RZ_EINTERNAL;
out:
    free(Wr), free(Hf), free(Cf), free(Y), free(YH), free(E), free(EH), free(G), free(Cd), free(Hd);
    free(Hq0), free(Hq);
    rz_ldl_free(&ldl);
    rz_ldl_free(&ldl_dd);
    lr_free(&cur), lr_free(&stepbest), lr_free(&best);
    q_free(&qc), q_free(&qb);
    return rc;
}

/* Validates H (n × n: finite, diagonal ≥ 0) and W, makes the private symmetrised copy. */
static int prepare(const float *W, const double *H, const float *Hf, int m, int n, int k, const rz_caldera_opts *o,
                   rz_caldera *c, rz_err *e)
{
    memset(c, 0, sizeof *c);
    rz_linalg_threads(0); /* OpenBLAS single-threaded: the panel split decides the results */
    int rc = check_opts(o, m, n, k, e);
    if (rc) return rc;
    for (long t = 0; t < (long)m * n; t++)
        if (!isfinite(W[t])) return rz_fail(e, RZ_EINPUT, "caldera: W[%ld][%ld] is not finite", t / n, t % n);
    double *Hd = rz_malloc(sizeof(double) * (size_t)n * n, e);
    if (!Hd) return e ? e->code : RZ_EINTERNAL;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double a = H ? H[(long)i * n + j] : Hf[(long)i * n + j], b = H ? H[(long)j * n + i] : Hf[(long)j * n + i];
            if (!isfinite(a) || (i == j && a < 0)) {
                free(Hd);
                return rz_fail(e, RZ_EINPUT, "caldera: H[%d][%d] = %g is not a valid Hessian entry", i, j, a);
            }
            Hd[(long)i * n + j] = 0.5 * (a + b);
        }
    return fit(W, Hd, m, n, k, o, c, e);
}

int rz_caldera_fit(const float *W, const double *H, int m, int n, int k, const rz_caldera_opts *o, rz_caldera *out,
                   rz_err *e)
{
    return prepare(W, H, NULL, m, n, k, o, out, e);
}

int rz_caldera_fit_f(const float *W, const float *H, int m, int n, int k, const rz_caldera_opts *o,
                     rz_caldera *out, rz_err *e)
{
    return prepare(W, NULL, H, m, n, k, o, out, e);
}

void rz_caldera_free(rz_caldera *c)
{
    free(c->Q), free(c->q_codes_e8p), free(c->q_codes), free(c->q_scales), free(c->q_zeros);
    free(c->L), free(c->R), free(c->L_codes), free(c->R_codes), free(c->L_codes_e8p), free(c->R_codes_e8p);
    free(c->L_scales), free(c->L_zeros), free(c->R_scales), free(c->R_zeros);
    free(c->trace), free(c->t_outer);
    rz_rht_free(&c->U);
    rz_rht_free(&c->V);
    memset(c, 0, sizeof *c);
}

int rz_caldera_dense(const rz_caldera *c, float *What, rz_err *e)
{
    int m = c->m, n = c->n, k = c->k;
    if (!c->Q || !c->L || !c->R) return rz_fail(e, RZ_EINPUT, "caldera: no fit to expand");
    memcpy(What, c->Q, sizeof(float) * (size_t)m * n);
    pgemm(0, 0, m, n, k, 1.0f, c->L, k, c->R, n, 1.0f, What, n);
    if (c->opts.incoherent) {
        int rc = rz_rht_cols(&c->U, What, n, n, 1, e);
        if (!rc) rc = rz_rht_rows(&c->V, What, m, n, 1, e);
        return rc;
    }
    return 0;
}
