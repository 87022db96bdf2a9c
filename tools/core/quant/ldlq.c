/* ldlq.c — scalar grids, the LDL factor of a Hessian, LDLQ/GPTQ, block LDLQ with E8P,
 * the proxy loss and the Gaussian codebook figures (see ldlq.h for the math).
 *
 * Layout: all matrices are row-major. The LDLQ sweep works on the caller's copy of W in
 * place: columns left of the current one hold quantised values, the others the updated
 * weights W'. Each chunk of LDLQ_ROWS rows runs the whole sweep on its own (rows are
 * independent problems), so OpenMP threads take chunks and OpenBLAS stays
 * single-threaded; the chunk size depends only on m, never on the thread count.
 */
#include "ldlq.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "e8p.h"
#include "rng.h"

enum { LDLQ_ROWS = 64, RZ_LDL_MAXBLK = 64 };

/* ---- scalar grid ----------------------------------------------------------------- */

void rz_grid_fit(const float *x, long len, long stride, int bits, float *scale, float *zero)
{
    float lo = 0.0f, hi = 0.0f;
    for (long k = 0; k < len; k++) {
        float v = x[k * stride];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    if (lo == 0.0f && hi == 0.0f) {
        lo = -1.0f;
        hi = 1.0f;
    }
    float maxq = (float)((1 << bits) - 1);
    *scale = (hi - lo) / maxq;
    *zero = nearbyintf(-lo / *scale);
}

int rz_grid_code(float x, float scale, float zero, int bits)
{
    float q = nearbyintf(x / scale) + zero, maxq = (float)((1 << bits) - 1);
    if (!(q >= 0.0f)) q = 0.0f; /* also maps NaN to 0 */
    if (q > maxq) q = maxq;
    return (int)q;
}

float rz_grid_value(int code, float scale, float zero)
{
    return scale * ((float)code - zero);
}

int rz_grid_groups(int n, int group)
{
    return group > 0 ? (n + group - 1) / group : 1;
}

static int check_bits(int bits, rz_err *e)
{
    if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
        return rz_fail(e, RZ_EINPUT, "quantisation: %d bits is not one of 2, 3, 4, 8", bits);
    return 0;
}

static int check_shape(int m, int n, rz_err *e)
{
    if (m < 1 || n < 1) return rz_fail(e, RZ_EINPUT, "quantisation: matrix shape %d x %d", m, n);
    return 0;
}

int rz_rtn(const float *W, int m, int n, int bits, int group, float *What, uint8_t *codes,
           float *scales, float *zeros, rz_err *e)
{
    if (check_bits(bits, e) || check_shape(m, n, e)) return e ? e->code : RZ_EINPUT;
    if (group < 0) return rz_fail(e, RZ_EINPUT, "rtn: group %d < 0", group);
    int G = rz_grid_groups(n, group), gw = group > 0 ? group : n;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < m; r++)
        for (int g = 0; g < G; g++) {
            int c0 = g * gw, c1 = c0 + gw < n ? c0 + gw : n;
            float s, z;
            rz_grid_fit(W + (long)r * n + c0, c1 - c0, 1, bits, &s, &z);
            if (scales) scales[(long)r * G + g] = s;
            if (zeros) zeros[(long)r * G + g] = z;
            for (int c = c0; c < c1; c++) {
                int q = rz_grid_code(W[(long)r * n + c], s, z, bits);
                if (codes) codes[(long)r * n + c] = (uint8_t)q;
                What[(long)r * n + c] = rz_grid_value(q, s, z);
            }
        }
    return 0;
}

/* ---- LDL factor ------------------------------------------------------------------- */

int rz_ldl_factor(const double *H, int n, int blk, double percdamp, rz_ldl *f, rz_err *e)
{
    memset(f, 0, sizeof *f);
    if (n < 1 || blk < 1 || blk > RZ_LDL_MAXBLK || n % blk)
        return rz_fail(e, RZ_EINPUT, "ldl: order %d is not a positive multiple of the block %d (1..%d)",
                       n, blk, RZ_LDL_MAXBLK);
    if (percdamp <= 0) percdamp = RZ_PERCDAMP;
    size_t nn;
    if (!rz_mul_ok((size_t)n, (size_t)n, (size_t)1 << 34, &nn))
        return rz_fail(e, RZ_EINPUT, "ldl: order %d too large", n);
    double *A = rz_malloc(sizeof(double) * nn, e);
    f->dead = rz_calloc((size_t)n, 1, e);
    f->N = rz_malloc(sizeof(float) * nn, e);
    if (!A || !f->dead || !f->N) {
        free(A);
        rz_ldl_free(f);
        return e ? e->code : RZ_EINTERNAL;
    }
    f->n = n;
    f->blk = blk;
    memcpy(A, H, sizeof(double) * nn);
    double mean = 0.0;
    for (int i = 0; i < n; i++) {
        double d = A[(long)i * n + i];
        if (!isfinite(d) || d < 0) {
            free(A);
            rz_ldl_free(f);
            return rz_fail(e, RZ_EINPUT, "ldl: H[%d][%d] = %g is not a valid Hessian diagonal", i, i, d);
        }
        if (d == 0.0) {
            f->dead[i] = 1;
            f->n_dead++;
            A[(long)i * n + i] = 1.0;
        }
        mean += A[(long)i * n + i];
    }
    f->damp = percdamp * mean / n;
    for (int i = 0; i < n; i++) A[(long)i * n + i] += f->damp;

    /* Row-major A read as column-major is Aᵀ = A. dpotrf('L') in column-major leaves
     * L (A = L Lᵀ) in the row-major upper triangle as Lᵀ; dpotri('L') puts A⁻¹ in the same
     * triangle; dpotrf('L') on it leaves U = L₂ᵀ there with A⁻¹ = L₂ L₂ᵀ = Uᵀ U. */
    int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', n, A, n);
    if (info > 0) {
        free(A);
        rz_ldl_free(f);
        return rz_fail(e, RZ_EINPUT,
                       "ldl: H + %g I is not positive definite (leading minor %d); raise percdamp",
                       f->damp, info);
    }
    if (!info) info = LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', n, A, n);
    if (!info) info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', n, A, n);
    if (info) {
        free(A);
        rz_ldl_free(f);
        return rz_fail(e, RZ_EINPUT, "ldl: the inverse of H + %g I is not positive definite (info %d)",
                       f->damp, info);
    }

    /* N: block row k = U_kk⁻¹ U_k,: (U_kk upper triangular, solved by back substitution
     * in double), stored from the end of the diagonal block on; the rest is 0. */
    int nb = n / blk;
#pragma omp parallel for schedule(dynamic, 4)
    for (int k = 0; k < nb; k++) {
        int k0 = k * blk, k1 = k0 + blk;
        double buf[RZ_LDL_MAXBLK];
        for (int i = k0; i < k1; i++)
            for (int j = 0; j < k1; j++) f->N[(long)i * n + j] = 0.0f;
        for (int j = k1; j < n; j++) {
            /* solve U_kk y = U[k0:k1][j] from the last row up */
            for (int i = k1 - 1; i >= k0; i--) {
                double s = A[(long)i * n + j];
                for (int l = i + 1; l < k1; l++) s -= A[(long)i * n + l] * buf[l - k0];
                buf[i - k0] = s / A[(long)i * n + i];
            }
            for (int i = k0; i < k1; i++) f->N[(long)i * n + j] = (float)buf[i - k0];
        }
    }
    free(A);
    return 0;
}

int rz_ldl_factor_f(const float *H, int n, int blk, double percdamp, rz_ldl *f, rz_err *e)
{
    size_t nn;
    memset(f, 0, sizeof *f);
    if (n < 1 || !rz_mul_ok((size_t)n, (size_t)n, (size_t)1 << 34, &nn))
        return rz_fail(e, RZ_EINPUT, "ldl: bad order %d", n);
    double *Hd = rz_malloc(sizeof(double) * nn, e);
    if (!Hd) return e ? e->code : RZ_EINTERNAL;
    for (size_t k = 0; k < nn; k++) Hd[k] = H[k];
    int rc = rz_ldl_factor(Hd, n, blk, percdamp, f, e);
    free(Hd);
    return rc;
}

void rz_ldl_free(rz_ldl *f)
{
    free(f->dead);
    free(f->N);
    memset(f, 0, sizeof *f);
}

/* ---- LDLQ -------------------------------------------------------------------------- */

/* The sweep of one chunk of rows (X = its first row, row stride ldw). E: rows × lazy
 * scratch that collects Q(W'_k) − W'_k for the current lazy batch. */
static void ldlq_chunk(float *X, int rows, int n, long ldw, const rz_ldl *f, int b, int lazy,
                       rz_colq_fn q, void *ctx, int r0, float *E)
{
    for (int c0 = 0; c0 < n; c0 += lazy) {
        int c1 = c0 + lazy < n ? c0 + lazy : n;
        for (int j = c0; j < c1; j += b) {
            float *Xj = X + j, *Ej = E + (j - c0);
            for (int r = 0; r < rows; r++) memcpy(Ej + (long)r * lazy, Xj + r * ldw, sizeof(float) * b);
            q(ctx, Xj, ldw, r0, rows, j, b);
            for (int r = 0; r < rows; r++)
                for (int t = 0; t < b; t++) Ej[(long)r * lazy + t] = Xj[r * ldw + t] - Ej[(long)r * lazy + t];
            /* inside the batch: W'[:, j+b:c1] += E_k · N[j:j+b, j+b:c1] */
            if (f && j + b < c1)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, c1 - j - b, b, 1.0f, Ej, lazy,
                            f->N + (long)j * n + j + b, n, 1.0f, Xj + b, (int)ldw);
        }
        /* right of the batch, one product: W'[:, c1:n] += E · N[c0:c1, c1:n] */
        if (f && c1 < n)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, n - c1, c1 - c0, 1.0f, E, lazy,
                        f->N + (long)c0 * n + c1, n, 1.0f, X + c1, (int)ldw);
    }
}

int rz_ldlq(float *W, int m, int n, long ldw, const rz_ldl *f, int blk_if_no_f, int lazy,
            rz_colq_fn q, void *ctx, rz_err *e)
{
    if (check_shape(m, n, e)) return e ? e->code : RZ_EINPUT;
    if (f && f->n != n) return rz_fail(e, RZ_EINPUT, "ldlq: W has %d columns, H is %d x %d", n, f->n, f->n);
    int b = f ? f->blk : blk_if_no_f;
    if (lazy <= 0) lazy = RZ_LAZY;
    if (b < 1 || n % b || lazy % b)
        return rz_fail(e, RZ_EINPUT, "ldlq: block %d must divide the columns %d and the lazy batch %d", b, n,
                       lazy);
    if (lazy > n) lazy = (n + b - 1) / b * b;
    if (ldw < n) return rz_fail(e, RZ_EINPUT, "ldlq: row stride %ld < %d columns", ldw, n);
    int nch = (m + LDLQ_ROWS - 1) / LDLQ_ROWS;
    size_t esz;
    if (!rz_mul_ok((size_t)nch * LDLQ_ROWS, (size_t)lazy * sizeof(float), (size_t)1 << 40, &esz))
        return rz_fail(e, RZ_EINPUT, "ldlq: %d rows too many", m);
    float *E = rz_malloc(esz, e);
    if (!E) return e ? e->code : RZ_EINTERNAL;
    if (f && f->n_dead)
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++)
                if (f->dead[c]) W[(long)r * ldw + c] = 0.0f;
#pragma omp parallel for schedule(dynamic, 1)
    for (int ch = 0; ch < nch; ch++) {
        int r0 = ch * LDLQ_ROWS, rows = m - r0 < LDLQ_ROWS ? m - r0 : LDLQ_ROWS;
        float *Ech = E + (size_t)ch * LDLQ_ROWS * lazy;
        ldlq_chunk(W + (long)r0 * ldw, rows, n, ldw, f, b, lazy, q, ctx, r0, Ech);
    }
    free(E);
    return 0;
}

/* ---- GPTQ: LDLQ on the scalar grid ------------------------------------------------- */

typedef struct {
    int n, bits, group, G;
    float *scales, *zeros; /* m × G */
    uint8_t *codes;        /* m × n or NULL */
} gptq_ctx;

static void gptq_colq(void *vctx, float *X, long ldx, int r0, int rows, int j, int b)
{
    gptq_ctx *c = vctx;
    (void)b; /* always 1 */
    int g = c->group > 0 ? j / c->group : 0;
    for (int r = 0; r < rows; r++) {
        long row = r0 + r;
        float *x = X + r * ldx;
        /* a group's grid is fitted to the current values when its first column comes up */
        if (c->group > 0 && j % c->group == 0) {
            int len = c->n - j < c->group ? c->n - j : c->group;
            rz_grid_fit(x, len, 1, c->bits, &c->scales[row * c->G + g], &c->zeros[row * c->G + g]);
        }
        float s = c->scales[row * c->G + g], z = c->zeros[row * c->G + g];
        int code = rz_grid_code(x[0], s, z, c->bits);
        x[0] = rz_grid_value(code, s, z);
        if (c->codes) c->codes[row * c->n + j] = (uint8_t)code;
    }
}

int rz_gptq(const float *W, int m, int n, const rz_ldl *f, int bits, int group, int lazy,
            float *What, uint8_t *codes, float *scales, float *zeros, rz_err *e)
{
    if (check_bits(bits, e) || check_shape(m, n, e)) return e ? e->code : RZ_EINPUT;
    if (f && f->blk != 1) return rz_fail(e, RZ_EINPUT, "gptq: the LDL factor has block %d, not 1", f->blk);
    if (lazy <= 0) lazy = RZ_LAZY;
    if (group < 0 || (group > 0 && lazy % group && group % lazy))
        return rz_fail(e, RZ_EINPUT, "gptq: group %d and lazy batch %d must divide one another", group, lazy);
    int G = rz_grid_groups(n, group);
    float *s_own = NULL, *z_own = NULL;
    if (!scales && !(scales = s_own = rz_malloc(sizeof(float) * (size_t)m * G, e))) return e ? e->code : 1;
    if (!zeros && !(zeros = z_own = rz_malloc(sizeof(float) * (size_t)m * G, e))) {
        free(s_own);
        return e ? e->code : RZ_EINTERNAL;
    }
    if (What != W) memcpy(What, W, sizeof(float) * (size_t)m * n);
    if (f && f->n_dead)
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++)
                if (f->dead[c]) What[(long)r * n + c] = 0.0f;
    if (group == 0) /* per-row grids from the whole (dead-zeroed) row, before any update */
        for (int r = 0; r < m; r++) rz_grid_fit(What + (long)r * n, n, 1, bits, &scales[r], &zeros[r]);
    gptq_ctx c = {n, bits, group, G, scales, zeros, codes};
    int rc = rz_ldlq(What, m, n, n, f, 1, lazy, gptq_colq, &c, e);
    free(s_own);
    free(z_own);
    return rc;
}

/* ---- block LDLQ with E8P ------------------------------------------------------------ */

typedef struct {
    int n, bits;
    uint32_t *codes; /* m × n/8 or NULL */
} e8p_ctx;

static void e8p_colq(void *vctx, float *X, long ldx, int r0, int rows, int j, int b)
{
    e8p_ctx *c = vctx;
    float v[LDLQ_ROWS * 8] = {0};
    uint32_t code[LDLQ_ROWS];
    (void)b; /* always 8 */
    for (int r = 0; r < rows; r++) memcpy(v + 8 * r, X + r * ldx, sizeof(float) * 8);
    rz_e8p_rvq_encode(c->bits, v, rows, code, v);
    for (int r = 0; r < rows; r++) {
        memcpy(X + r * ldx, v + 8 * r, sizeof(float) * 8);
        if (c->codes) c->codes[(long)(r0 + r) * (c->n / 8) + j / 8] = code[r];
    }
}

/* The damped Hessian the LDL factor f was built from, in float: H + λI, dead columns'
 * diagonals 1 + λ (as rz_ldl_factor). Also the inverse of each b × b diagonal block
 * (Hinv: [n/b][b][b], double Cholesky). NULL on failure. */
static float *damped_h(const double *H, int n, const rz_ldl *f, float **Hinv, rz_err *e)
{
    int b = f->blk, nb = n / b;
    float *D = rz_malloc(sizeof(float) * (size_t)n * n, e);
    *Hinv = rz_malloc(sizeof(float) * (size_t)nb * b * b, e);
    double *A = rz_malloc(sizeof(double) * (size_t)b * b, e);
    if (!D || !*Hinv || !A) goto fail;
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) {
            double v = H[i * n + j];
            if (f->dead[i] || f->dead[j]) v = i == j ? 1.0 : 0.0;
            if (i == j) v += f->damp;
            D[i * n + j] = (float)v;
        }
    for (int k = 0; k < nb; k++) {
        long k0 = (long)k * b;
        for (int i = 0; i < b; i++)
            for (int j = 0; j < b; j++) A[i * b + j] = D[(k0 + i) * n + k0 + j];
        if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', b, A, b) || LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', b, A, b)) {
            rz_fail(e, RZ_EINPUT, "e8p tune: diagonal block %d of the damped Hessian is not positive definite", k);
            goto fail;
        }
        for (int i = 0; i < b; i++)
            for (int j = 0; j < b; j++) (*Hinv)[((long)k * b + i) * b + j] = (float)(i >= j ? A[i * b + j] : A[j * b + i]);
    }
    free(A);
    return D;
fail:
    free(D);
    free(A);
    free(*Hinv);
    *Hinv = NULL;
    return NULL;
}

/* One tune pass over a chunk of rows. T: the scaled target W/s (rows × n, ld n), X: the
 * current Ŵ/s (updated in place), Dl: scratch rows × n for T − X, codes: the chunk's
 * codes (rows × n/8) or NULL. */
static void e8p_tune_chunk(const float *T, float *X, float *Dl, uint32_t *codes, int rows, int n, int bits,
                           const float *Hd, const float *Hinv)
{
    float G[LDLQ_ROWS * 8], t[LDLQ_ROWS * 8], q[LDLQ_ROWS * 8];
    uint32_t c[LDLQ_ROWS];
    for (long k = 0; k < (long)rows * n; k++) Dl[k] = T[k] - X[k];
    for (int j = 0; j < n; j += 8) {
        /* G = (T − X) H[:, j:j+8], t = X_j + G H_jj⁻¹ */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, 8, n, 1.0f, Dl, n, Hd + j, n, 0.0f, G, 8);
        const float *Hi = Hinv + (long)(j / 8) * 64;
        for (int r = 0; r < rows; r++)
            for (int a = 0; a < 8; a++) {
                float v = X[(long)r * n + j + a];
                for (int b = 0; b < 8; b++) v += G[r * 8 + b] * Hi[b * 8 + a];
                t[r * 8 + a] = v;
            }
        rz_e8p_rvq_encode(bits, t, rows, c, q);
        for (int r = 0; r < rows; r++) {
            /* keep the row's block unless the new codeword is closer to t in H_jj's metric */
            double dn = 0.0, dold = 0.0, un[8], uo[8];
            for (int a = 0; a < 8; a++) {
                un[a] = (double)q[r * 8 + a] - t[r * 8 + a];
                uo[a] = (double)X[(long)r * n + j + a] - t[r * 8 + a];
            }
            for (int a = 0; a < 8; a++)
                for (int b = 0; b < 8; b++) {
                    double h = Hd[(long)(j + a) * n + j + b];
                    dn += un[a] * h * un[b];
                    dold += uo[a] * h * uo[b];
                }
            if (!(dn < dold)) continue;
            for (int a = 0; a < 8; a++) {
                X[(long)r * n + j + a] = q[r * 8 + a];
                Dl[(long)r * n + j + a] = T[(long)r * n + j + a] - q[r * 8 + a];
            }
            if (codes) codes[(long)r * (n / 8) + j / 8] = c[r];
        }
    }
}

/* tune_iters passes over all rows (OpenMP over chunks of rows, as rz_ldlq). */
static int e8p_tune(const float *T, float *X, uint32_t *codes, int m, int n, int bits, int iters, const float *Hd,
                    const float *Hinv, rz_err *e)
{
    int nch = (m + LDLQ_ROWS - 1) / LDLQ_ROWS, failed = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
    for (int ch = 0; ch < nch; ch++) {
        int r0 = ch * LDLQ_ROWS, rows = m - r0 < LDLQ_ROWS ? m - r0 : LDLQ_ROWS;
        float *Dl = malloc(sizeof(float) * (size_t)rows * n);
        if (!Dl) {
            failed = 1;
            continue;
        }
        for (int it = 0; it < iters; it++)
            e8p_tune_chunk(T + (long)r0 * n, X + (long)r0 * n, Dl, codes ? codes + (long)r0 * (n / 8) : NULL, rows,
                           n, bits, Hd, Hinv);
        free(Dl);
    }
    return failed ? rz_fail(e, RZ_EINTERNAL, "e8p tune: out of memory") : 0;
}

int rz_ldlq_e8p_ex(const float *W, int m, int n, const rz_ldl *f, const double *H, const rz_e8p_opts *o,
                   float *What, uint32_t *codes, float *wscale, double *loss, rz_err *e)
{
    if (check_shape(m, n, e)) return e ? e->code : RZ_EINPUT;
    int bits = o->bits;
    if (bits < 2 || bits > 4) return rz_fail(e, RZ_EINPUT, "e8p: %d bits is not one of 2, 3, 4", bits);
    if (n % 8) return rz_fail(e, RZ_EINPUT, "e8p: %d columns is not a multiple of 8", n);
    if (f && f->blk != 8) return rz_fail(e, RZ_EINPUT, "e8p: the LDL factor has block %d, not 8", f->blk);
    if (o->tune_iters < 0 || o->scale_search < 0 || o->scale_search > 12)
        return rz_fail(e, RZ_EINPUT, "e8p: tune passes %d (>= 0) or scale search %d (0..12) out of range",
                       o->tune_iters, o->scale_search);
    if ((o->tune_iters > 0 || o->scale_search > 0) && !H)
        return rz_fail(e, RZ_EINPUT, "e8p: tune passes and the scale search need the Hessian");
    if (o->tune_iters > 0 && !f) return rz_fail(e, RZ_EINPUT, "e8p: tune passes need the LDL factor");
    float target_rms = o->target_rms > 0 ? o->target_rms : bits == 2 ? 0.9f : rz_e8p_opt_scale(bits);
    long mn = (long)m * n;
    int ntry = o->scale_search + 1;
    float *W0 = rz_malloc(sizeof(float) * (size_t)mn, e), *T = rz_malloc(sizeof(float) * (size_t)mn, e);
    float *X = ntry > 1 ? rz_malloc(sizeof(float) * (size_t)mn, e) : What;
    uint32_t *cx = ntry > 1 && codes ? rz_malloc(sizeof(uint32_t) * (size_t)(mn / 8), e) : codes;
    float *Hd = NULL, *Hinv = NULL;
    int rc = 0;
    if (!W0 || !T || !X || (codes && !cx)) {
        rc = e ? e->code : RZ_EINTERNAL;
        goto done;
    }
    if (o->tune_iters > 0 && !(Hd = damped_h(H, n, f, &Hinv, e))) {
        rc = e ? e->code : RZ_EINTERNAL;
        goto done;
    }
    /* W with dead columns zeroed, and its RMS */
    memcpy(W0, W, sizeof(float) * (size_t)mn);
    if (f && f->n_dead)
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++)
                if (f->dead[c]) W0[(long)r * n + c] = 0.0f;
    double ss = 0.0;
    for (long k = 0; k < mn; k++) ss += (double)W0[k] * W0[k];
    double rms = sqrt(ss / (double)mn), best = INFINITY;
    for (int i = 0; i < ntry; i++) {
        double tgt = target_rms * pow(2.0, -i / 6.0);
        float s = rms > 0 ? (float)(rms / tgt) : 0.0f, inv = s > 0 ? 1.0f / s : 0.0f;
        /* T = W/s, the codebook's input (s = 0 for W = 0: all zeros, Ŵ = 0) */
        for (long k = 0; k < mn; k++) X[k] = T[k] = W0[k] * inv;
        e8p_ctx c = {n, bits, cx};
        rc = rz_ldlq(X, m, n, n, f, 8, o->lazy, e8p_colq, &c, e);
        if (!rc && o->tune_iters > 0) rc = e8p_tune(T, X, cx, m, n, bits, o->tune_iters, Hd, Hinv, e);
        for (long k = 0; k < mn; k++) X[k] *= s;
        double l = 0.0;
        if (!rc && H) rc = rz_proxy_loss(W, X, m, n, H, &l, NULL, e);
        if (rc) goto done;
        if (i == 0 || l < best) {
            best = l;
            *wscale = s;
            if (X != What) memcpy(What, X, sizeof(float) * (size_t)mn);
            if (cx != codes) memcpy(codes, cx, sizeof(uint32_t) * (size_t)(mn / 8));
        }
        if (s == 0.0f) break;
    }
    if (loss) *loss = H ? best : 0.0;
done:
    free(W0);
    free(T);
    if (X != What) free(X);
    if (cx != codes) free(cx);
    free(Hd);
    free(Hinv);
    return rc;
}

int rz_ldlq_e8p(const float *W, int m, int n, const rz_ldl *f, int bits, float target_rms,
                int lazy, float *What, uint32_t *codes, float *wscale, rz_err *e)
{
    rz_e8p_opts o = {bits, target_rms, 0, 0, lazy};
    return rz_ldlq_e8p_ex(W, m, n, f, NULL, &o, What, codes, wscale, NULL, e);
}

/* ---- proxy loss ------------------------------------------------------------------ */

enum { LOSS_ROWS = 32 };

int rz_proxy_loss(const float *W, const float *What, int m, int n, const double *H,
                  double *loss, double *rel, rz_err *e)
{
    if (check_shape(m, n, e)) return e ? e->code : RZ_EINPUT;
    int nch = (m + LOSS_ROWS - 1) / LOSS_ROWS, failed = 0;
    double *part = rz_calloc((size_t)nch * 2, sizeof(double), e);
    if (!part) return e ? e->code : RZ_EINTERNAL;
    /* per chunk: D = [ΔW; W] (2·rows × n), T = D H, partial sums of D ⊙ T */
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
    for (int ch = 0; ch < nch; ch++) {
        int r0 = ch * LOSS_ROWS, rows = m - r0 < LOSS_ROWS ? m - r0 : LOSS_ROWS;
        double *D = malloc(sizeof(double) * 4 * LOSS_ROWS * (size_t)n), *T = D + (size_t)2 * LOSS_ROWS * n;
        if (!D) {
            failed = 1;
            continue;
        }
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < n; c++) {
                long k = (long)(r0 + r) * n + c;
                D[(long)r * n + c] = (double)What[k] - (double)W[k];
                D[(long)(rows + r) * n + c] = W[k];
            }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2 * rows, n, n, 1.0, D, n, H, n, 0.0, T, n);
        double a = 0.0, b = 0.0;
        for (long k = 0; k < (long)rows * n; k++) a += D[k] * T[k];
        for (long k = (long)rows * n; k < 2L * rows * n; k++) b += D[k] * T[k];
        part[2 * ch] = a;
        part[2 * ch + 1] = b;
        free(D);
    }
    if (failed) {
        free(part);
        return rz_fail(e, RZ_EINTERNAL, "proxy loss: out of memory");
    }
    double a = 0.0, b = 0.0;
    for (int ch = 0; ch < nch; ch++) {
        a += part[2 * ch];
        b += part[2 * ch + 1];
    }
    free(part);
    if (loss) *loss = a;
    if (rel) *rel = b > 0 ? a / b : (a == 0 ? 0.0 : INFINITY);
    return 0;
}

int rz_proxy_loss_f(const float *W, const float *What, int m, int n, const float *H,
                    double *loss, double *rel, rz_err *e)
{
    if (check_shape(m, n, e)) return e ? e->code : RZ_EINPUT;
    double *Hd = rz_malloc(sizeof(double) * (size_t)n * n, e);
    if (!Hd) return e ? e->code : RZ_EINTERNAL;
    for (long k = 0; k < (long)n * n; k++) Hd[k] = H[k];
    int rc = rz_proxy_loss(W, What, m, n, Hd, loss, rel, e);
    free(Hd);
    return rc;
}

/* ---- Gaussian codebook figures ------------------------------------------------------ */

typedef enum { CB_E8P, CB_RVQ3, CB_RVQ4, CB_RTN, CB_LLOYD2, CB_MINMAX } cb_kind;

typedef struct {
    cb_kind kind;
    int bits;
    float lm[2]; /* Lloyd–Max positive levels */
} codebook;

/* Lloyd's algorithm on the N(0,1) density for the symmetric 4-level quantiser:
 * threshold t = (l1 + l2)/2 between the positive levels, levels = conditional means
 * E[x | 0<x<t] = (φ(0) − φ(t))/(Φ(t) − 1/2), E[x | x>t] = φ(t)/(1 − Φ(t)). */
static void lloyd_max2(float *l1, float *l2)
{
    double a = 0.5, b = 1.5;
    for (int it = 0; it < 500; it++) {
        double t = 0.5 * (a + b);
        double phi0 = 1.0 / sqrt(2.0 * M_PI), phit = exp(-0.5 * t * t) / sqrt(2.0 * M_PI);
        double Pt = 0.5 * erfc(-t / sqrt(2.0));
        a = (phi0 - phit) / (Pt - 0.5);
        b = phit / (1.0 - Pt);
    }
    *l1 = (float)a;
    *l2 = (float)b;
}

/* x̂ of the samples y = s·x (count scalars, count % 8 == 0) under the codebook, in out. */
static void cb_quantize(const codebook *cb, const float *y, long count, float *out)
{
    switch (cb->kind) {
    case CB_E8P: rz_e8p_encode(y, count / 8, NULL, out); break;
    case CB_RVQ3: rz_e8p_rvq_encode(3, y, count / 8, NULL, out); break;
    case CB_RVQ4: rz_e8p_rvq_encode(4, y, count / 8, NULL, out); break;
    case CB_RTN: {
        float h = (float)(1 << (cb->bits - 1)); /* levels ±1/2 … ±(h − 1/2) */
        for (long k = 0; k < count; k++) {
            float v = floorf(y[k]) + 0.5f;
            out[k] = v > h - 0.5f ? h - 0.5f : v < -h + 0.5f ? -h + 0.5f : v;
        }
        break;
    }
    case CB_LLOYD2: {
        float t = 0.5f * (cb->lm[0] + cb->lm[1]);
        for (long k = 0; k < count; k++) {
            float a = fabsf(y[k]), v = a < t ? cb->lm[0] : cb->lm[1];
            out[k] = y[k] < 0 ? -v : v;
        }
        break;
    }
    case CB_MINMAX:
        for (long k0 = 0; k0 < count; k0 += 128) {
            long len = count - k0 < 128 ? count - k0 : 128;
            float s, z;
            rz_grid_fit(y + k0, len, 1, cb->bits, &s, &z);
            for (long k = k0; k < k0 + len; k++)
                out[k] = rz_grid_value(rz_grid_code(y[k], s, z, cb->bits), s, z);
        }
        break;
    }
}

enum { MSE_CHUNK = 4096 }; /* samples per parallel chunk (a multiple of 8 and of 128) */

/* MSE per coordinate of x̂ = Q(s·x)/s over the samples, reduced in a fixed order. */
static double cb_mse_at(const codebook *cb, const float *x, long count, double s, double *part)
{
    long nch = (count + MSE_CHUNK - 1) / MSE_CHUNK;
#pragma omp parallel for schedule(dynamic, 1)
    for (long ch = 0; ch < nch; ch++) {
        long k0 = ch * MSE_CHUNK, len = count - k0 < MSE_CHUNK ? count - k0 : MSE_CHUNK;
        float y[MSE_CHUNK], q[MSE_CHUNK];
        for (long k = 0; k < len; k++) y[k] = (float)(s * x[k0 + k]);
        cb_quantize(cb, y, len, q);
        double acc = 0.0;
        for (long k = 0; k < len; k++) {
            double d = q[k] / s - x[k0 + k];
            acc += d * d;
        }
        part[ch] = acc;
    }
    double tot = 0.0;
    for (long ch = 0; ch < nch; ch++) tot += part[ch];
    return tot / (double)count;
}

int rz_codebook_mse(const char *name, long samples, uint64_t seed, double *bits,
                    double *best_scale, double *mse, rz_err *e)
{
    codebook cb = {CB_E8P, 2, {0, 0}};
    if (!strcmp(name, "e8p")) cb = (codebook){CB_E8P, 2, {0, 0}};
    else if (!strcmp(name, "e8p-rvq3")) cb = (codebook){CB_RVQ3, 3, {0, 0}};
    else if (!strcmp(name, "e8p-rvq4")) cb = (codebook){CB_RVQ4, 4, {0, 0}};
    else if (!strcmp(name, "rtn2") || !strcmp(name, "rtn3") || !strcmp(name, "rtn4"))
        cb = (codebook){CB_RTN, name[3] - '0', {0, 0}};
    else if (!strcmp(name, "minmax2") || !strcmp(name, "minmax3") || !strcmp(name, "minmax4"))
        cb = (codebook){CB_MINMAX, name[6] - '0', {0, 0}};
    else if (!strcmp(name, "lloydmax2")) {
        cb = (codebook){CB_LLOYD2, 2, {0, 0}};
        lloyd_max2(&cb.lm[0], &cb.lm[1]);
    } else
        return rz_fail(e, RZ_EINPUT,
                       "codebook '%s': expected e8p, e8p-rvq3, e8p-rvq4, rtn2, rtn3, rtn4, lloydmax2, "
                       "minmax2, minmax3 or minmax4", name);
    if (samples < 8 || samples > (1L << 31))
        return rz_fail(e, RZ_EINPUT, "codebook mse: %ld samples (8 … 2^31)", samples);
    long count = (samples + 7) / 8 * 8;
    float *x = rz_malloc(sizeof(float) * (size_t)count, e);
    double *part = rz_malloc(sizeof(double) * (size_t)((count + MSE_CHUNK - 1) / MSE_CHUNK), e);
    if (!x || !part) {
        free(x);
        free(part);
        return e ? e->code : RZ_EINTERNAL;
    }
    rz_rng rng;
    rz_rng_seed(&rng, seed);
    for (long k = 0; k < count; k++) x[k] = (float)rz_rng_normal(&rng);
    double s_best = 1.0, m_best;
    if (cb.kind == CB_MINMAX) {
        m_best = cb_mse_at(&cb, x, count, 1.0, part);
    } else {
        /* log grid s = 2^(k/8 − 2), k = 0 … 32, then golden section between the
         * neighbours of the best grid point */
        int kb = 0;
        m_best = INFINITY;
        for (int k = 0; k <= 32; k++) {
            double s = pow(2.0, k / 8.0 - 2.0), v = cb_mse_at(&cb, x, count, s, part);
            if (v < m_best) {
                m_best = v;
                kb = k;
            }
        }
        double lo = pow(2.0, (kb - 1) / 8.0 - 2.0), hi = pow(2.0, (kb + 1) / 8.0 - 2.0);
        double g = (sqrt(5.0) - 1.0) / 2.0;
        double c = hi - g * (hi - lo), d = lo + g * (hi - lo);
        double fc = cb_mse_at(&cb, x, count, c, part), fd = cb_mse_at(&cb, x, count, d, part);
        for (int it = 0; it < 24; it++) {
            if (fc < fd) {
                hi = d;
                d = c;
                fd = fc;
                c = hi - g * (hi - lo);
                fc = cb_mse_at(&cb, x, count, c, part);
            } else {
                lo = c;
                c = d;
                fc = fd;
                d = lo + g * (hi - lo);
                fd = cb_mse_at(&cb, x, count, d, part);
            }
        }
        s_best = pow(2.0, kb / 8.0 - 2.0);
        if (fc < m_best) m_best = fc, s_best = c;
        if (fd < m_best) m_best = fd, s_best = d;
    }
    free(x);
    free(part);
    if (bits) *bits = cb.bits;
    if (best_scale) *best_scale = s_best;
    if (mse) *mse = m_best;
    return 0;
}
