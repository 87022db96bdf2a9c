/* rht.c — random Hadamard transforms U = (H_p/√p ⊗ Q_m)·diag(s) for any n = p·m
 * (see rht.h). The float and double versions are the same algorithm written twice: C has
 * no generics, and one body shared through a macro template or a run-time element size
 * would hide the math or cost the float path (inference, weight transforms) its
 * vectorised butterflies; the float path also applies small odd factors (m < 16) by
 * direct loops where the double path (H ← V H Vᵀ, once per matrix) calls dgemm, and
 * merging them would change the bits of quantised layers with such factors. OpenMP splits rows
 * (rz_rht_rows) or column panels (rz_rht_cols) in chunks fixed by the shape, and every
 * row or column is transformed by the same operations whatever the chunking, so results
 * do not depend on the thread count.
 *
 * Rows in float (rz_rht_rows: activations at inference, one row per token) take a fast
 * path that computes bit for bit what the straightforward loops (rz_rht_rows_ref) do:
 * every butterfly adds and subtracts the same two floats in the same stage order, the
 * signs and the 1/√p scale are the same single multiplications, and the small-Q sums
 * are taken in the same order; only the loop structure changes. With m = 1 the
 * butterflies of stages 1, 2, 4 run inside an 8-float AVX2 register and the later stages
 * two at a time (radix 4) in registers, the signs folded into the first pass and the
 * scale (and inverse signs) into the last: ~log2(p)/2 passes over the row instead of
 * log2(p) + 2 loops of 1-, 2-, 4-float trips. With 1 < m < 16 the row is first
 * de-interleaved into m contiguous sequences of p (the Q_m product taken on the way),
 * each gets the m = 1 butterflies, and the scale (and signs) are applied on the way
 * back. Rows of a call that fit in one chunk (a decode step's T ≤ 16) run on the
 * calling thread without an OpenMP region, and allocate nothing when n ≤ 8192. tests/unit/test_hadamard.c checks the fast
 * path against rz_rht_rows_ref bit for bit and both against the dense U.
 */
#include "rht.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#if defined(__x86_64__) || defined(__i386__)
#define RHT_X86 1
#include <immintrin.h>
#else
#define RHT_X86 0
#endif

enum { RHT_ROW_CHUNK = 16, RHT_COL_PANEL = 256 };

void rz_rht_init_identity(rz_rht *t, int n)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    t->identity = 1;
}

int rz_rht_init(rz_rht *t, int n, uint64_t seed, rz_err *e)
{
    memset(t, 0, sizeof *t);
    if (n < 1) return rz_fail(e, RZ_EINPUT, "rht: size %d must be positive", n);
    int p = 1;
    while (n % (2 * p) == 0) p *= 2;
    t->n = n;
    t->p = p;
    t->m = n / p;
    rz_rng rng;
    rz_rng_seed(&rng, seed);
    if (!(t->sign = rz_malloc(sizeof(float) * (size_t)n, e))) return e ? e->code : RZ_EINTERNAL;
    for (int k = 0; k < n; k++) t->sign[k] = (rz_rng_u64(&rng) >> 63) ? -1.0f : 1.0f;
    int m = t->m;
    if (m == 1) return 0;
    /* Haar-random orthogonal Q: Gaussian G = Q R, then column j of Q times sign(R_jj) */
    double *tau = rz_malloc(sizeof(double) * (size_t)m, e), *diag = rz_malloc(sizeof(double) * (size_t)m, e);
    t->Qd = rz_malloc(sizeof(double) * (size_t)m * m, e);
    t->Qf = rz_malloc(sizeof(float) * (size_t)m * m, e);
    if (!tau || !diag || !t->Qd || !t->Qf) {
        free(tau);
        free(diag);
        rz_rht_free(t);
        return e ? e->code : RZ_EINTERNAL;
    }
    for (long k = 0; k < (long)m * m; k++) t->Qd[k] = rz_rng_normal(&rng);
    int info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, m, t->Qd, m, tau);
    for (int j = 0; j < m && !info; j++) diag[j] = t->Qd[(long)j * m + j];
    if (!info) info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, m, m, t->Qd, m, tau);
    free(tau);
    if (info) {
        free(diag);
        rz_rht_free(t);
        return rz_fail(e, RZ_EINTERNAL, "rht: QR of the %dx%d random matrix failed (info %d)", m, m, info);
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            if (diag[j] < 0) t->Qd[(long)i * m + j] = -t->Qd[(long)i * m + j];
            t->Qf[(long)i * m + j] = (float)t->Qd[(long)i * m + j];
        }
    free(diag);
    return 0;
}

void rz_rht_free(rz_rht *t)
{
    free(t->sign);
    free(t->Qf);
    free(t->Qd);
    memset(t, 0, sizeof *t);
}

/* ---- float ----------------------------------------------------------------------- */

/* In-place orthonormal fast Walsh–Hadamard transform across the p blocks of a row laid
 * out as p × m (x[i·m + j]): for every j, (x[0·m+j], …, x[(p−1)·m+j]) ← H_p/√p · (…). */
static void fwht_rows_f(float *x, int p, int m)
{
    /* rows i0..i0+h−1 of the p × m layout are h·m consecutive values, paired with the
     * next h·m: one contiguous (vectorised) butterfly loop per block */
    long hm;
    for (int h = 1; h < p; h <<= 1)
        for (int i0 = 0; i0 < p; i0 += 2 * h) {
            float *restrict a = x + (long)i0 * m, *restrict b = a + (hm = (long)h * m);
            for (long k = 0; k < hm; k++) {
                float u = a[k], v = b[k];
                a[k] = u + v;
                b[k] = u - v;
            }
        }
    float c = (float)(1.0 / sqrt((double)p));
    for (long k = 0; k < (long)p * m; k++) x[k] *= c;
}

/* The same across the p row-blocks of an n × cols panel (row stride ld): rows i·m + j
 * and (i+h)·m + j form the butterflies, over `cols` columns. */
static void fwht_cols_f(float *X, long ld, int p, int m, long cols)
{
    for (int h = 1; h < p; h <<= 1)
        for (int i0 = 0; i0 < p; i0 += 2 * h)
            for (int i = i0; i < i0 + h; i++)
                for (int j = 0; j < m; j++) {
                    float *a = X + ((long)i * m + j) * ld, *b = X + ((long)(i + h) * m + j) * ld;
                    for (long c = 0; c < cols; c++) {
                        float u = a[c], v = b[c];
                        a[c] = u + v;
                        b[c] = u - v;
                    }
                }
    float s = (float)(1.0 / sqrt((double)p));
    for (long r = 0; r < (long)p * m; r++)
        for (long c = 0; c < cols; c++) X[r * ld + c] *= s;
}

enum { RHT_SMALL_M = 16 }; /* odd factors below this are applied by direct loops */

/* x_i ← Q x_i (or Qᵀ x_i when inverse) in place for the p blocks of m < RHT_SMALL_M
 * values of a row: a BLAS call per row would cost more than its m² flops per block. */
static void small_q_f(float *restrict x, const float *restrict Q, int p, int m, int inverse)
{
    float y[RHT_SMALL_M];
    for (int i = 0; i < p; i++) {
        float *xi = x + (long)i * m;
        for (int a = 0; a < m; a++) {
            float acc = 0.0f;
            for (int b = 0; b < m; b++) acc += (inverse ? Q[b * m + a] : Q[a * m + b]) * xi[b];
            y[a] = acc;
        }
        memcpy(xi, y, (size_t)m * sizeof *y);
    }
}

int rz_rht_rows_ref(const rz_rht *t, float *X, long rows, long ld, int inverse, rz_err *e)
{
    if (t->identity) return RZ_OK;
    int n = t->n, p = t->p, m = t->m;
    long nch = (rows + RHT_ROW_CHUNK - 1) / RHT_ROW_CHUNK;
    float *tmp = NULL;
    if (m >= RHT_SMALL_M) { /* row buffers for the BLAS product with Q_m */
        size_t sz;
        if (!rz_mul_ok((size_t)nch, (size_t)n * sizeof(float), (size_t)1 << 40, &sz))
            return rz_fail(e, RZ_EINPUT, "rht: %ld rows of %d too large", rows, n);
        if (!(tmp = rz_malloc(sz, e))) return e ? e->code : RZ_EINTERNAL;
    }
    /* one chunk (a decode step's T <= 16 rows): no parallel region, whose fork and join
     * would cost more than the transform and wait on every thread of the team */
#pragma omp parallel for schedule(dynamic, 1) if (nch > 1)
    for (long ch = 0; ch < nch; ch++) {
        long r1 = (ch + 1) * RHT_ROW_CHUNK < rows ? (ch + 1) * RHT_ROW_CHUNK : rows;
        float *y = tmp ? tmp + ch * n : NULL;
        for (long r = ch * RHT_ROW_CHUNK; r < r1; r++) {
            float *x = X + r * ld;
            if (!inverse)
                for (int k = 0; k < n; k++) x[k] *= t->sign[k];
            if (m > 1) {
                /* forward: each block x_i ← Q x_i, i.e. the p×m matrix times Qᵀ;
                 * inverse: x_i ← Qᵀ x_i, the matrix times Q */
                if (m < RHT_SMALL_M) {
                    small_q_f(x, t->Qf, p, m, inverse);
                } else {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, inverse ? CblasNoTrans : CblasTrans, p, m, m,
                                1.0f, x, m, t->Qf, m, 0.0f, y, m);
                    memcpy(x, y, sizeof(float) * n);
                }
            }
            fwht_rows_f(x, p, m);
            if (inverse)
                for (int k = 0; k < n; k++) x[k] *= t->sign[k];
        }
    }
    free(tmp);
    return 0;
}

/* ---- float rows, fast path (bit for bit rz_rht_rows_ref; see the file head) ---------- */

enum { RHT_STACK = 8192 }; /* de-interleaving buffer (floats) on the stack: n ≤ this */

/* Butterflies H_p of one contiguous row of p floats (all log2 p stages, in order), with
 * x ← x ⊙ pre before them (pre may be NULL), then, when scale, x ← x · c and x ← x ⊙
 * post (post may be NULL) after them: the operations of the reference, fused. */
static void fwht_plain(float *restrict x, int p, const float *restrict pre, const float *restrict post, int scale,
                       float c)
{
    if (pre)
        for (int k = 0; k < p; k++) x[k] *= pre[k];
    for (int h = 1; h < p; h <<= 1)
        for (int i0 = 0; i0 < p; i0 += 2 * h) {
            float *restrict a = x + i0, *restrict b = a + h;
            for (int k = 0; k < h; k++) {
                float u = a[k], v = b[k];
                a[k] = u + v;
                b[k] = u - v;
            }
        }
    if (scale) {
        for (int k = 0; k < p; k++) x[k] *= c;
        if (post)
            for (int k = 0; k < p; k++) x[k] *= post[k];
    }
}

#if RHT_X86
#define RHT_AVX2 __attribute__((target("avx2")))
#define RHT_AVX2_INLINE static inline __attribute__((always_inline, target("avx2")))

/* The last pass's epilogue: v · c, then ⊙ post. */
RHT_AVX2_INLINE __m256 rht_out(__m256 v, int scale, __m256 c, const float *post, int k)
{
    if (!scale) return v;
    v = _mm256_mul_ps(v, c);
    return post ? _mm256_mul_ps(v, _mm256_loadu_ps(post + k)) : v;
}

/* One butterfly pair on 8 lanes: (u, v) ← (u + v, u − v). */
#define RHT_BFLY(u, v)                        \
    do {                                      \
        __m256 s_ = _mm256_add_ps(u, v);      \
        v = _mm256_sub_ps(u, v);              \
        u = s_;                               \
    } while (0)

/* fwht_plain for p ≥ 8 with AVX2: stages 1, 2, 4 inside each register (partner lanes by
 * a permute: sum where the lane is the pair's first, partner − lane where it is the
 * second, i.e. u − v), then stages 8, 16, … two at a time over 4 registers
 * (a, b, c, d h apart: stage h pairs a–b and c–d, stage 2h a–c and b–d), one last
 * radix-2 pass when their count is odd. */
RHT_AVX2 static void fwht_avx2(float *restrict x, int p, const float *restrict pre, const float *restrict post,
                               int scale, float cf)
{
    __m256 c = _mm256_set1_ps(cf);
    int last = p == 8; /* stages 1, 2, 4 are all the stages */
    for (int k = 0; k < p; k += 8) {
        __m256 v = _mm256_loadu_ps(x + k), s;
        if (pre) v = _mm256_mul_ps(v, _mm256_loadu_ps(pre + k));
        s = _mm256_permute_ps(v, 0xB1); /* h = 1: lanes 1 0 3 2 … */
        v = _mm256_blend_ps(_mm256_add_ps(v, s), _mm256_sub_ps(s, v), 0xAA);
        s = _mm256_permute_ps(v, 0x4E); /* h = 2: lanes 2 3 0 1 … */
        v = _mm256_blend_ps(_mm256_add_ps(v, s), _mm256_sub_ps(s, v), 0xCC);
        s = _mm256_permute2f128_ps(v, v, 0x01); /* h = 4: the other half */
        v = _mm256_blend_ps(_mm256_add_ps(v, s), _mm256_sub_ps(s, v), 0xF0);
        _mm256_storeu_ps(x + k, last ? rht_out(v, scale, c, post, k) : v);
    }
    int h = 8;
    for (; 4 * h <= p; h *= 4) {
        last = 4 * h == p;
        for (int i0 = 0; i0 < p; i0 += 4 * h)
            for (int k = i0; k < i0 + h; k += 8) {
                __m256 a = _mm256_loadu_ps(x + k), b = _mm256_loadu_ps(x + k + h);
                __m256 d = _mm256_loadu_ps(x + k + 3 * h), e = _mm256_loadu_ps(x + k + 2 * h);
                RHT_BFLY(a, b);
                RHT_BFLY(e, d);
                RHT_BFLY(a, e);
                RHT_BFLY(b, d);
                _mm256_storeu_ps(x + k, rht_out(a, last && scale, c, post, k));
                _mm256_storeu_ps(x + k + h, rht_out(b, last && scale, c, post, k + h));
                _mm256_storeu_ps(x + k + 2 * h, rht_out(e, last && scale, c, post, k + 2 * h));
                _mm256_storeu_ps(x + k + 3 * h, rht_out(d, last && scale, c, post, k + 3 * h));
            }
    }
    if (2 * h == p) /* one stage left */
        for (int k = 0; k < h; k += 8) {
            __m256 a = _mm256_loadu_ps(x + k), b = _mm256_loadu_ps(x + k + h);
            RHT_BFLY(a, b);
            _mm256_storeu_ps(x + k, rht_out(a, scale, c, post, k));
            _mm256_storeu_ps(x + k + h, rht_out(b, scale, c, post, k + h));
        }
}
#endif

static int rht_portable; /* rz_rht_portable */

void rz_rht_portable(int on) { rht_portable = on; }

static int rht_have_avx2(void)
{
#if RHT_X86
    return !rht_portable && __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

static void fwht_fast(float *x, int p, const float *pre, const float *post, int scale, float c)
{
#if RHT_X86
    if (p >= 8 && rht_have_avx2()) {
        fwht_avx2(x, p, pre, post, scale, c);
        return;
    }
#endif
    fwht_plain(x, p, pre, post, scale, c);
}

/* w[a·p + i] = (Q x_i)[a], or (Qᵀ x_i)[a] when inverse, for the p blocks x_i of m
 * values of x: each sum over b in small_q_f's order, from 0. */
static inline __attribute__((always_inline)) void deint_q(const float *restrict x, float *restrict w,
                                                          const float *restrict Q, int p, int m, int inverse)
{
    float q[RHT_SMALL_M * RHT_SMALL_M];
    for (int a = 0; a < m; a++)
        for (int b = 0; b < m; b++) q[a * m + b] = inverse ? Q[b * m + a] : Q[a * m + b];
    for (int i = 0; i < p; i++)
        for (int a = 0; a < m; a++) {
            float acc = 0.0f;
            for (int b = 0; b < m; b++) acc += q[a * m + b] * x[(long)i * m + b];
            w[(long)a * p + i] = acc;
        }
}

/* x[i·m + a] = w[a·p + i] · c, then · s[i·m + a] when s is given (the inverse's signs). */
static inline __attribute__((always_inline)) void reint(const float *restrict w, float *restrict x, int p, int m,
                                                        float c, const float *restrict s)
{
    for (int i = 0; i < p; i++)
        for (int a = 0; a < m; a++) x[(long)i * m + a] = w[(long)a * p + i] * c;
    if (s)
        for (long k = 0; k < (long)p * m; k++) x[k] *= s[k];
}

/* One row x (n = p·m floats) of the transform. y: n floats of scratch when m ≥
 * RHT_SMALL_M (the BLAS product with Q_m), else unused. */
static void row_fast(const rz_rht *t, float *restrict x, int inverse, float *y)
{
    int n = t->n, p = t->p, m = t->m;
    float c = (float)(1.0 / sqrt((double)p));
    const float *s = t->sign;
    if (m == 1) {
        fwht_fast(x, p, inverse ? NULL : s, inverse ? s : NULL, 1, c);
        return;
    }
    if (m >= RHT_SMALL_M || n > RHT_STACK) { /* the reference's own steps */
        if (!inverse)
            for (int k = 0; k < n; k++) x[k] *= s[k];
        if (m < RHT_SMALL_M) {
            small_q_f(x, t->Qf, p, m, inverse);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, inverse ? CblasNoTrans : CblasTrans, p, m, m, 1.0f, x, m, t->Qf,
                        m, 0.0f, y, m);
            memcpy(x, y, sizeof(float) * n);
        }
        fwht_rows_f(x, p, m);
        if (inverse)
            for (int k = 0; k < n; k++) x[k] *= s[k];
        return;
    }
    _Alignas(32) float w[RHT_STACK];
    if (!inverse)
        for (int k = 0; k < n; k++) x[k] *= s[k];
    if (m == 3) deint_q(x, w, t->Qf, p, 3, inverse); /* a constant stride: vectorised */
    else deint_q(x, w, t->Qf, p, m, inverse);
    for (int a = 0; a < m; a++) fwht_fast(w + (long)a * p, p, NULL, NULL, 0, c); /* across blocks, for this a */
    if (m == 3) reint(w, x, p, 3, c, inverse ? s : NULL);
    else reint(w, x, p, m, c, inverse ? s : NULL);
}

int rz_rht_rows(const rz_rht *t, float *X, long rows, long ld, int inverse, rz_err *e)
{
    if (t->identity) return RZ_OK;
    int n = t->n, m = t->m;
    long nch = (rows + RHT_ROW_CHUNK - 1) / RHT_ROW_CHUNK;
    float *tmp = NULL;
    if (nch <= 1 && (m < RHT_SMALL_M || n <= RHT_STACK)) {
        /* a decode step's T ≤ 16 rows: no OpenMP region (its fork and join would cost
         * more than the transform), and no allocation (the BLAS path's row buffer on
         * the stack) */
        _Alignas(32) float y[m >= RHT_SMALL_M ? RHT_STACK : 1];
        for (long r = 0; r < rows; r++) row_fast(t, X + r * ld, inverse, y);
        return 0;
    }
    if (m >= RHT_SMALL_M) { /* row buffers for the BLAS product with Q_m */
        size_t sz;
        if (!rz_mul_ok((size_t)nch, (size_t)n * sizeof(float), (size_t)1 << 40, &sz))
            return rz_fail(e, RZ_EINPUT, "rht: %ld rows of %d too large", rows, n);
        if (!(tmp = rz_malloc(sz, e))) return e ? e->code : RZ_EINTERNAL;
    }
    if (nch <= 1) {
        for (long r = 0; r < rows; r++) row_fast(t, X + r * ld, inverse, tmp);
    } else {
#pragma omp parallel for schedule(dynamic, 1)
        for (long ch = 0; ch < nch; ch++) {
            long r1 = (ch + 1) * RHT_ROW_CHUNK < rows ? (ch + 1) * RHT_ROW_CHUNK : rows;
            for (long r = ch * RHT_ROW_CHUNK; r < r1; r++) row_fast(t, X + r * ld, inverse, tmp ? tmp + ch * n : NULL);
        }
    }
    free(tmp);
    return 0;
}

int rz_rht_cols(const rz_rht *t, float *X, long cols, long ld, int inverse, rz_err *e)
{
    if (t->identity) return RZ_OK;
    int n = t->n, p = t->p, m = t->m;
    long nch = (cols + RHT_COL_PANEL - 1) / RHT_COL_PANEL;
    float *tmp = NULL;
    if (m > 1) {
        size_t sz;
        if (!rz_mul_ok((size_t)nch, (size_t)m * RHT_COL_PANEL * sizeof(float), (size_t)1 << 40, &sz))
            return rz_fail(e, RZ_EINPUT, "rht: %ld columns too many", cols);
        if (!(tmp = rz_malloc(sz, e))) return e ? e->code : RZ_EINTERNAL;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (long ch = 0; ch < nch; ch++) {
        long c0 = ch * RHT_COL_PANEL, w = cols - c0 < RHT_COL_PANEL ? cols - c0 : RHT_COL_PANEL;
        float *P = X + c0, *y = tmp ? tmp + ch * (long)m * RHT_COL_PANEL : NULL;
        if (!inverse)
            for (int r = 0; r < n; r++)
                for (long c = 0; c < w; c++) P[r * ld + c] *= t->sign[r];
        if (m > 1)
            for (int i = 0; i < p; i++) {
                /* block rows i·m … i·m+m−1: B ← Q B (forward) or Qᵀ B (inverse) */
                float *B = P + (long)i * m * ld;
                cblas_sgemm(CblasRowMajor, inverse ? CblasTrans : CblasNoTrans, CblasNoTrans, m, (int)w, m,
                            1.0f, t->Qf, m, B, (int)ld, 0.0f, y, (int)w);
                for (int j = 0; j < m; j++) memcpy(B + j * ld, y + (long)j * w, sizeof(float) * w);
            }
        fwht_cols_f(P, ld, p, m, w);
        if (inverse)
            for (int r = 0; r < n; r++)
                for (long c = 0; c < w; c++) P[r * ld + c] *= t->sign[r];
    }
    free(tmp);
    return 0;
}

/* ---- double (the same code) ----------------------------------------------------------------------- */

static void fwht_rows_d(double *x, int p, int m)
{
    /* rows i0..i0+h−1 of the p × m layout are h·m consecutive values, paired with the
     * next h·m: one contiguous (vectorised) butterfly loop per block */
    long hm;
    for (int h = 1; h < p; h <<= 1)
        for (int i0 = 0; i0 < p; i0 += 2 * h) {
            double *restrict a = x + (long)i0 * m, *restrict b = a + (hm = (long)h * m);
            for (long k = 0; k < hm; k++) {
                double u = a[k], v = b[k];
                a[k] = u + v;
                b[k] = u - v;
            }
        }
    double c = (1.0 / sqrt((double)p));
    for (long k = 0; k < (long)p * m; k++) x[k] *= c;
}

static void fwht_cols_d(double *X, long ld, int p, int m, long cols)
{
    for (int h = 1; h < p; h <<= 1)
        for (int i0 = 0; i0 < p; i0 += 2 * h)
            for (int i = i0; i < i0 + h; i++)
                for (int j = 0; j < m; j++) {
                    double *a = X + ((long)i * m + j) * ld, *b = X + ((long)(i + h) * m + j) * ld;
                    for (long c = 0; c < cols; c++) {
                        double u = a[c], v = b[c];
                        a[c] = u + v;
                        b[c] = u - v;
                    }
                }
    double s = (1.0 / sqrt((double)p));
    for (long r = 0; r < (long)p * m; r++)
        for (long c = 0; c < cols; c++) X[r * ld + c] *= s;
}

int rz_rht_rows_d(const rz_rht *t, double *X, long rows, long ld, int inverse, rz_err *e)
{
    if (t->identity) return RZ_OK;
    int n = t->n, p = t->p, m = t->m;
    long nch = (rows + RHT_ROW_CHUNK - 1) / RHT_ROW_CHUNK;
    double *tmp = NULL;
    if (m > 1) {
        size_t sz;
        if (!rz_mul_ok((size_t)nch, (size_t)n * sizeof(double), (size_t)1 << 40, &sz))
            return rz_fail(e, RZ_EINPUT, "rht: %ld rows of %d too large", rows, n);
        if (!(tmp = rz_malloc(sz, e))) return e ? e->code : RZ_EINTERNAL;
    }
    /* one chunk (a decode step's T <= 16 rows): no parallel region, whose fork and join
     * would cost more than the transform and wait on every thread of the team */
#pragma omp parallel for schedule(dynamic, 1) if (nch > 1)
    for (long ch = 0; ch < nch; ch++) {
        long r1 = (ch + 1) * RHT_ROW_CHUNK < rows ? (ch + 1) * RHT_ROW_CHUNK : rows;
        double *y = tmp ? tmp + ch * n : NULL;
        for (long r = ch * RHT_ROW_CHUNK; r < r1; r++) {
            double *x = X + r * ld;
            if (!inverse)
                for (int k = 0; k < n; k++) x[k] *= t->sign[k];
            if (m > 1) {
                /* forward: each block x_i ← Q x_i, i.e. the p×m matrix times Qᵀ;
                 * inverse: x_i ← Qᵀ x_i, the matrix times Q */
                cblas_dgemm(CblasRowMajor, CblasNoTrans, inverse ? CblasNoTrans : CblasTrans, p, m, m,
                            1.0, x, m, t->Qd, m, 0.0, y, m);
                memcpy(x, y, sizeof(double) * n);
            }
            fwht_rows_d(x, p, m);
            if (inverse)
                for (int k = 0; k < n; k++) x[k] *= t->sign[k];
        }
    }
    free(tmp);
    return 0;
}

int rz_rht_cols_d(const rz_rht *t, double *X, long cols, long ld, int inverse, rz_err *e)
{
    if (t->identity) return RZ_OK;
    int n = t->n, p = t->p, m = t->m;
    long nch = (cols + RHT_COL_PANEL - 1) / RHT_COL_PANEL;
    double *tmp = NULL;
    if (m > 1) {
        size_t sz;
        if (!rz_mul_ok((size_t)nch, (size_t)m * RHT_COL_PANEL * sizeof(double), (size_t)1 << 40, &sz))
            return rz_fail(e, RZ_EINPUT, "rht: %ld columns too many", cols);
        if (!(tmp = rz_malloc(sz, e))) return e ? e->code : RZ_EINTERNAL;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (long ch = 0; ch < nch; ch++) {
        long c0 = ch * RHT_COL_PANEL, w = cols - c0 < RHT_COL_PANEL ? cols - c0 : RHT_COL_PANEL;
        double *P = X + c0, *y = tmp ? tmp + ch * (long)m * RHT_COL_PANEL : NULL;
        if (!inverse)
            for (int r = 0; r < n; r++)
                for (long c = 0; c < w; c++) P[r * ld + c] *= t->sign[r];
        if (m > 1)
            for (int i = 0; i < p; i++) {
                /* block rows i·m … i·m+m−1: B ← Q B (forward) or Qᵀ B (inverse) */
                double *B = P + (long)i * m * ld;
                cblas_dgemm(CblasRowMajor, inverse ? CblasTrans : CblasNoTrans, CblasNoTrans, m, (int)w, m,
                            1.0, t->Qd, m, B, (int)ld, 0.0, y, (int)w);
                for (int j = 0; j < m; j++) memcpy(B + j * ld, y + (long)j * w, sizeof(double) * w);
            }
        fwht_cols_d(P, ld, p, m, w);
        if (inverse)
            for (int r = 0; r < n; r++)
                for (long c = 0; c < w; c++) P[r * ld + c] *= t->sign[r];
    }
    free(tmp);
    return 0;
}
