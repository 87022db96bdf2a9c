/* qlinear.c — quantised linear layers at inference: products taken in the rotated basis
 * with the weights decoded from their codes panel by panel (see qlinear.h). */
#include "qlinear.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "qdot.h"
#include "qlayer.h"
#include "rht.h"

struct rz_qlinear {
    rz_qlayer_view v;   /* points into the copies below (low-rank fields unused) */
    uint8_t *codes;
    float *scales;
    uint8_t *zeros;
    int k;              /* rank of the low-rank pair, 0 if none */
    float *L, *R;       /* L̃ [rows][k], R̃ [k][pcols] in the stored basis */
    int rot_in, rot_out; /* V and U are real transforms (not the identity) */
    rz_rht U, V;
    int isa;            /* qdot.h variant of the T ≤ RZ_QLINEAR_ROWPATH_T path */
    uint8_t *nib;       /* e8p re-coded as nibbles for the int8 kernels (qdot.h), or NULL */
    uint8_t *nib3;      /* 3-bit grid codes re-coded as nibbles for the int8 kernels, or NULL */
    rz_qlayer_view v4;  /* the view over nib3 (a 4-bit grid, same scales and zero points) */
};

static void *dup_bytes(const void *p, size_t n, rz_err *e)
{
    void *c = rz_malloc(n > 0 ? n : 1, e);
    if (c && n) memcpy(c, p, n);
    return c;
}

int rz_qlinear_new(const rz_qlayer_view *v, rz_qlinear **out, rz_err *e)
{
    *out = NULL;
    rz_qlinear *q = rz_calloc(1, sizeof *q, e);
    if (!q) return RZ_EINTERNAL;
    q->v = *v;
    q->k = v->rank;
    int rc = RZ_EINTERNAL;
    if (!(q->codes = dup_bytes(v->codes, v->codes_n, e)) ||
        !(q->scales = dup_bytes(v->scales, v->n_scales * sizeof(float), e)) ||
        !(q->zeros = dup_bytes(v->zeros, v->n_zeros, e)))
        goto fail;
    q->v.codes = q->codes;
    q->v.scales = q->scales;
    q->v.zeros = q->zeros;
    if (q->k > 0) {
        if (!(q->L = rz_malloc((size_t)v->rows * (size_t)q->k * sizeof *q->L, e)) ||
            !(q->R = rz_malloc((size_t)q->k * (size_t)v->pcols * sizeof *q->R, e)))
            goto fail;
        rz_qlayer_lowrank_rot(v, q->L, q->R);
        size_t nl = (size_t)v->rows * (size_t)q->k, nr = (size_t)q->k * (size_t)v->pcols;
        for (size_t i = 0; i < nl + nr; i++)
            if (!isfinite(i < nl ? q->L[i] : q->R[i - nl])) {
                rc = rz_fail(e, RZ_EINPUT, "qlayer '%s': non-finite value in %s", v->name, i < nl ? "L" : "R");
                goto fail;
            }
    }
    /* the record's low-rank payloads are not kept: L, R above replace them */
    q->v.rank = 0;
    q->v.L = q->v.R = q->v.L_scales = q->v.R_scales = q->v.L_zeros = q->v.R_zeros = NULL;
    q->rot_in = v->incoherent != RZ_INCOH_NONE;
    q->rot_out = v->incoherent == RZ_INCOH_BOTH;
    if (q->rot_in && (rc = rz_rht_init(&q->V, v->pcols, v->seed_v, e))) goto fail;
    if (q->rot_out && (rc = rz_rht_init(&q->U, v->rows, v->seed_u, e))) goto fail;
    *out = q;
    return RZ_OK;
fail:
    rz_qlinear_free(q);
    return rc;
}

void rz_qlinear_free(rz_qlinear *q)
{
    if (!q) return;
    free(q->codes);
    free(q->nib);
    free(q->nib3);
    free(q->scales);
    free(q->zeros);
    free(q->L);
    free(q->R);
    rz_rht_free(&q->U);
    rz_rht_free(&q->V);
    free(q);
}

void rz_qlinear_set_isa(rz_qlinear *q, int isa)
{
    q->isa = isa;
    int i8 = isa == RZ_QDOT_AUTO_I8 || isa == RZ_QDOT_AVX2_I8 || isa == RZ_QDOT_AVX512_I8;
    size_t nb = rz_qdot_e8p2n_bytes(&q->v);
    /* the AVX-512 int8 kernel (chosen by name only: rz_qdot_best_i8 never returns it)
     * reads the 2-bit codes, not the nibbles */
    int codes_only = isa == RZ_QDOT_AVX512_I8 && q->v.method == RZ_QM_E8P && q->v.bits == 2 &&
                     rz_qdot_have(RZ_QDOT_AVX512_I8);
    if (codes_only) nb = 0;
    if (i8 && nb > 0 && !q->nib && rz_qdot_have(RZ_QDOT_AVX2_I8) && (q->nib = malloc(nb)))
        rz_qdot_e8p2n_encode(&q->v, q->nib); /* (if malloc fails, the codes serve) */
    /* 3-bit grids: the nibble copy serves the portable int8 variant too (as a 4-bit grid) */
    int i8any = i8 || isa == RZ_QDOT_REF_I8;
    size_t n3 = rz_qdot_grid3n_bytes(&q->v);
    if (i8any && n3 > 0 && !q->nib3 && (q->nib3 = malloc(n3))) rz_qdot_grid3n_encode(&q->v, q->nib3, &q->v4);
    if (!i8 || codes_only) {
        free(q->nib);
        q->nib = NULL;
    }
    if (!i8any) {
        free(q->nib3);
        q->nib3 = NULL;
    }
}

/* The decode-path kernel call (qdot.h) for rows [r0, r0 + n): over the nibble re-coding
 * when the int8 variants keep one, else over the codes. */
static void ql_kernel(const rz_qlinear *q, int r0, int n, int T, const float *x, int ldx, float *y, int ldy)
{
    if (q->nib3) rz_qdot_rows(&q->v4, q->isa, r0, n, T, x, ldx, y, ldy);
    else rz_qdot_rows_e8p2n(&q->v, q->nib, q->isa, r0, n, T, x, ldx, y, ldy);
}

void rz_qlinear_apply_rows(const rz_qlinear *q, int r0, int r1, int T, const float *x, int ldx, float *y, int ldy,
                           float *tmp)
{
    if (r1 <= r0) return;
    if (!tmp) {
        ql_kernel(q, r0, r1 - r0, T, x, ldx, y + r0, ldy);
        return;
    }
    int rows = q->v.rows;
    ql_kernel(q, r0, r1 - r0, T, x, ldx, tmp + r0, rows);
    for (int t = 0; t < T; t++) /* as ql_output adds ỹ to y */
        for (int r = r0; r < r1; r++) y[(size_t)t * ldy + r] += tmp[(size_t)t * rows + r];
}

int rz_qlinear_rows(const rz_qlinear *q) { return q->v.rows; }

int rz_qlinear_row_ok(const rz_qlinear *q)
{
    return !q->rot_in && !q->rot_out && q->k == 0 && q->v.pcols == q->v.cols;
}

void rz_qlinear_row(const rz_qlinear *q, int r, float *out) { rz_qlayer_decode_rows(&q->v, r, 1, out); }

int rz_qlinear_cols(const rz_qlinear *q) { return q->v.cols; }

static size_t rht_bytes(const rz_rht *t, int used)
{
    if (!used) return 0;
    return (size_t)t->n * sizeof(float) + (size_t)t->m * (size_t)t->m * (sizeof(float) + sizeof(double));
}

size_t rz_qlinear_bytes(const rz_qlinear *q)
{
    return sizeof *q + q->v.codes_n + (q->nib ? rz_qdot_e8p2n_bytes(&q->v) : 0) +
           (q->nib3 ? rz_qdot_grid3n_bytes(&q->v) : 0) + q->v.n_scales * sizeof(float) + q->v.n_zeros +
           (size_t)q->k * ((size_t)q->v.rows + (size_t)q->v.pcols) * sizeof(float) + rht_bytes(&q->V, q->rot_in) +
           rht_bytes(&q->U, q->rot_out);
}

/* Rows per decoded panel of the prefill path, from the shape only (so the sgemm calls,
 * hence the bits, do not depend on the thread count): as many panels as rz_matmul_nt
 * would use for that many output columns (an even number up to 8, so a dense layer and
 * a quantised one repack x̃ as rarely), more if a panel would exceed
 * RZ_QLINEAR_PANEL_MAX rows, each a multiple of 16 rows. */
static int ql_panel_rows(int rows)
{
    int P = rz_matmul_panels(rows), cap = (rows + RZ_QLINEAR_PANEL_MAX - 1) / RZ_QLINEAR_PANEL_MAX;
    if (P < cap) P = cap + (cap & 1);
    return ((rows + P - 1) / P + 15) / 16 * 16;
}

/* Scratch layout (floats): x̃ [T][pcols] | ỹ [T][rows] (not in direct calls) | x̃R̃ᵀ [T][k] |
 * per-thread decode buffers, each ql_panel_rows(rows) rows of pcols (prefill only). */
static size_t ql_dec_floats(const rz_qlinear *q, int T, int threads)
{
    if (T <= RZ_QLINEAR_ROWPATH_T) return 0;
    return (size_t)(threads > 0 ? threads : 1) * (size_t)ql_panel_rows(q->v.rows) * (size_t)q->v.pcols;
}

size_t rz_qlinear_scratch_floats(const rz_qlinear *q, int T, int threads)
{
    size_t pc = (size_t)q->v.pcols;
    return (size_t)T * (pc + (size_t)q->v.rows + (size_t)q->k) + ql_dec_floats(q, T, threads);
}

int rz_qlinear_direct_ok(const rz_qlinear *q) { return !q->rot_out; }

size_t rz_qlinear_scratch_floats_direct(const rz_qlinear *q, int T, int threads)
{
    if (q->rot_out) return rz_qlinear_scratch_floats(q, T, threads);
    size_t pc = (size_t)q->v.pcols;
    return (size_t)T * (pc + (size_t)q->k) + ql_dec_floats(q, T, threads);
}

/* Threads for a row-by-row copy of T rows: all of them at prefill, one at decode (where
 * the caller may already be inside a parallel region). Copies are exact either way. */
static int ql_copy_threads(int T, int threads) { return T > RZ_QLINEAR_ROWPATH_T && threads > 1 ? threads : 1; }

/* x̃ = V pad(x), row by row: x [T][ldx] → xt [T][pcols] */
static void ql_input(const rz_qlinear *q, int T, const float *x, int ldx, float *xt, int threads)
{
    int cols = q->v.cols, pc = q->v.pcols, nt = ql_copy_threads(T, threads);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int t = 0; t < T; t++) {
        memcpy(xt + (size_t)t * pc, x + (size_t)t * ldx, (size_t)cols * sizeof *xt);
        memset(xt + (size_t)t * pc + cols, 0, (size_t)(pc - cols) * sizeof *xt);
    }
    if (q->rot_in) rz_rht_rows(&q->V, xt, T, pc, 0, NULL);
}

/* Part me of m of the RZ_QLINEAR_ROWS-row chunks: rows [*r0, *r1). */
void rz_qlinear_split_rows(int rows, int me, int m, int *r0, int *r1)
{
    int nchunks = (rows + RZ_QLINEAR_ROWS - 1) / RZ_QLINEAR_ROWS;
    int c0 = (int)((long)nchunks * me / m), c1 = (int)((long)nchunks * (me + 1) / m);
    *r0 = c0 * RZ_QLINEAR_ROWS, *r1 = c1 * RZ_QLINEAR_ROWS < rows ? c1 * RZ_QLINEAR_ROWS : rows;
}

int rz_qlinear_step_ok(const rz_qlinear *q) { return q->k == 0; }

int rz_qlinear_pcols(const rz_qlinear *q) { return q->v.pcols; }

const float *rz_qlinear_step_in(const rz_qlinear *q, const float *x, float *buf)
{
    if (!q->rot_in && q->v.pcols == q->v.cols) return x; /* x̃ = x: ql_input would only copy it */
    ql_input(q, 1, x, q->v.cols, buf, 1);
    return buf;
}

/* ỹ += (x̃ R̃ᵀ) L̃ᵀ: two thin products (k ≪ rows, pcols); lt [T][k] scratch */
static void ql_lowrank(const rz_qlinear *q, int T, const float *xt, float *lt, float *yt, int ldt)
{
    int rows = q->v.rows, pc = q->v.pcols, k = q->k;
    if (k <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, k, pc, 1.0f, xt, pc, q->R, pc, 0.0f, lt, k);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, rows, k, 1.0f, lt, k, q->L, k, 1.0f, yt, ldt);
}

/* y = Uᵀ ỹ (+ y), row by row: yt [T][ldt] (transformed in place) → y [T][ldy]; when yt
 * is y (ỹ was written into y, not accumulating) only the transform is left. */
static void ql_output(const rz_qlinear *q, int T, float *yt, int ldt, float *y, int ldy, int accumulate, int threads)
{
    int rows = q->v.rows, nt = ql_copy_threads(T, threads);
    if (q->rot_out) rz_rht_rows(&q->U, yt, T, ldt, 1, NULL);
    if (yt == y) return;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int t = 0; t < T; t++) {
        float *yr = y + (size_t)t * ldy;
        const float *s = yt + (size_t)t * ldt;
        if (accumulate)
            for (int r = 0; r < rows; r++) yr[r] += s[r];
        else
            memcpy(yr, s, (size_t)rows * sizeof *yr);
    }
}

void rz_qlinear_step_out(const rz_qlinear *q, const float *yt, float *tmp, float *y, int acc)
{
    /* ql_output on a copy of the shared ỹ: into y itself (transformed there) or, to add
     * it, into tmp */
    int rows = q->v.rows;
    float *w = acc ? tmp : y;
    memcpy(w, yt, (size_t)rows * sizeof *w);
    ql_output(q, 1, w, rows, y, rows, acc, 1);
}

void rz_qlinear_apply(const rz_qlinear *q, int T, const float *x, int ldx, float *y, int ldy, int accumulate,
                      float *scratch, int threads)
{
    int rows = q->v.rows, pc = q->v.pcols, k = q->k;
    if (threads < 1) threads = 1;
    /* direct: no output transform and nothing to add to, so the scratch has no ỹ (the
     * layout of rz_qlinear_scratch_floats_direct). Whenever nothing is added to y, ỹ is
     * written straight into y, and an output transform runs there in place. */
    int direct = !q->rot_out && !accumulate, into_y = !accumulate;
    float *xt = scratch, *ys = direct ? NULL : xt + (size_t)T * pc;
    float *lt = direct ? xt + (size_t)T * pc : ys + (size_t)T * rows, *dec = lt + (size_t)T * k;
    float *yt = into_y ? y : ys;
    int ldt = into_y ? ldy : rows;

    ql_input(q, T, x, ldx, xt, threads);

    /* ỹ = x̃ Q̃ᵀ, Q̃ decoded from the codes */
    int blas_threads = openblas_get_num_threads();
    if (blas_threads != 1) openblas_set_num_threads(1);
    if (T <= RZ_QLINEAR_ROWPATH_T) {
        /* fused decode-and-dot (qdot.h): the codes are read once, no row of Q̃ is
         * materialised; each thread takes one contiguous range of RZ_QLINEAR_ROWS-row
         * chunks in one kernel call (per-call set-up such as the lane kernel's transposed
         * input is paid once per thread); each output element is computed the same way
         * whatever the split, so the result does not depend on the thread count */
        int nchunks = (rows + RZ_QLINEAR_ROWS - 1) / RZ_QLINEAR_ROWS;
        int nt = threads > 1 && (long)rows * pc >= (1L << 16) ? threads : 1;
        if (nt > nchunks) nt = nchunks;
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            int r0, r1;
            rz_qlinear_split_rows(rows, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
            if (r1 > r0) ql_kernel(q, r0, r1 - r0, T, xt, pc, yt + r0, ldt);
        }
    } else {
        int pr = ql_panel_rows(rows), np = (rows + pr - 1) / pr;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && np > 1)
        for (int p = 0; p < np; p++) {
            float *w = dec + (size_t)omp_get_thread_num() * (size_t)pr * pc;
            int r0 = p * pr, n = rows - r0 < pr ? rows - r0 : pr;
            rz_qlayer_decode_rows(&q->v, r0, n, w);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, n, pc, 1.0f, xt, pc, w, pc, 0.0f, yt + r0, ldt);
        }
    }
    ql_lowrank(q, T, xt, lt, yt, ldt);
    if (blas_threads != 1) openblas_set_num_threads(blas_threads);
    ql_output(q, T, yt, ldt, y, ldy, accumulate, threads);
}

/* ---------------------------------------------------------------- groups */

enum { QL_GROUP_MAX = 8 };

int rz_qlinear_same_input_rht(const rz_qlinear *a, const rz_qlinear *b)
{
    return a->rot_in && b->rot_in && a->v.pcols == b->v.pcols && a->v.cols == b->v.cols && a->v.seed_v == b->v.seed_v;
}

/* Scratch of the decode path (T ≤ RZ_QLINEAR_ROWPATH_T): per member x̃ [T][pcols] (unless
 * shared with an earlier member), ỹ [T][rows], x̃R̃ᵀ [T][k]. */
static size_t group_small_floats(rz_qlinear *const *q, int n, int T)
{
    size_t need = 0;
    for (int k = 0; k < n; k++) {
        int shared = 0;
        for (int j = 0; j < k && !shared; j++) shared = rz_qlinear_same_input_rht(q[j], q[k]);
        need += (size_t)T * ((shared ? 0 : (size_t)q[k]->v.pcols) + (size_t)q[k]->v.rows + (size_t)q[k]->k);
    }
    return need;
}

size_t rz_qlinear_scratch_floats_group(rz_qlinear *const *q, int n, int T, int threads)
{
    size_t need = T <= RZ_QLINEAR_ROWPATH_T && n <= QL_GROUP_MAX ? group_small_floats(q, n, T) : 0;
    for (int k = 0; k < n; k++) {
        size_t one = rz_qlinear_scratch_floats(q[k], T, threads);
        need = one > need ? one : need;
    }
    return need;
}

void rz_qlinear_apply_group(rz_qlinear *const *q, int n, int T, const float *x, int ldx, float *y, int ldy,
                            int accumulate, float *scratch, int threads)
{
    if (threads < 1) threads = 1;
    if (T > RZ_QLINEAR_ROWPATH_T || n > QL_GROUP_MAX) {
        for (int k = 0, off = 0; k < n; off += q[k]->v.rows, k++)
            rz_qlinear_apply(q[k], T, x, ldx, y + off, ldy, accumulate, scratch, threads);
        return;
    }
    /* scratch: member k's x̃ (xt[k], maybe an earlier member's), ỹ (yt[k]), x̃R̃ᵀ (lt[k]) */
    float *xt[QL_GROUP_MAX], *yt[QL_GROUP_MAX], *lt[QL_GROUP_MAX];
    int own_x[QL_GROUP_MAX], off[QL_GROUP_MAX], nchunks[QL_GROUP_MAX], nt_k[QL_GROUP_MAX];
    float *s = scratch;
    long work = 0;
    for (int k = 0; k < n; k++) {
        const rz_qlinear *a = q[k];
        off[k] = k ? off[k - 1] + q[k - 1]->v.rows : 0;
        own_x[k] = 1;
        for (int j = 0; j < k && own_x[k]; j++)
            if (rz_qlinear_same_input_rht(q[j], a)) {
                own_x[k] = 0;
                xt[k] = xt[j];
            }
        if (own_x[k]) {
            xt[k] = s;
            s += (size_t)T * (size_t)a->v.pcols;
        }
        yt[k] = s;
        s += (size_t)T * (size_t)a->v.rows;
        lt[k] = s;
        s += (size_t)T * (size_t)a->k;
        nchunks[k] = (a->v.rows + RZ_QLINEAR_ROWS - 1) / RZ_QLINEAR_ROWS;
        /* as rz_qlinear_apply: small matrices are not worth splitting */
        nt_k[k] = threads > 1 && (long)a->v.rows * a->v.pcols >= (1L << 16) ? threads : 1;
        work += (long)a->v.rows * a->v.pcols;
    }
    int nt = threads > 1 && work >= (1L << 16) ? threads : 1;
    int blas_threads = openblas_get_num_threads();
    if (blas_threads != 1) openblas_set_num_threads(1);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int id = omp_get_thread_num(), th = omp_get_num_threads();
        /* 1. x̃_k = V_k pad(x): member k on thread k mod th (the same operations on any) */
        for (int k = 0; k < n; k++) {
            if (own_x[k] && k % th == id) ql_input(q[k], T, x, ldx, xt[k], 1);
        }
#pragma omp barrier
        /* 2. ỹ_k = x̃_k Q̃_kᵀ: each member's chunks of rows split as rz_qlinear_apply splits
         * them (a member too small to split runs on thread k mod th) */
        for (int k = 0; k < n; k++) {
            const rz_qlinear *a = q[k];
            int m = nt_k[k] < th ? nt_k[k] : th, me;
            if (m > nchunks[k]) m = nchunks[k];
            if (m <= 1) {
                if (k % th != id) continue;
                m = 1, me = 0;
            } else {
                if (id >= m) continue;
                me = id;
            }
            int direct = !a->rot_out && !accumulate;
            float *yk = direct ? y + off[k] : yt[k];
            int ldt = direct ? ldy : a->v.rows;
            int r0, r1;
            rz_qlinear_split_rows(a->v.rows, me, m, &r0, &r1);
            if (r1 > r0) ql_kernel(a, r0, r1 - r0, T, xt[k], a->v.pcols, yk + r0, ldt);
        }
#pragma omp barrier
        /* 3. + (x̃ R̃ᵀ) L̃ᵀ, y_k = U_kᵀ ỹ_k (+ y): member k on thread k mod th */
        for (int k = 0; k < n; k++) {
            const rz_qlinear *a = q[k];
            if (k % th != id) continue;
            int direct = !a->rot_out && !accumulate;
            ql_lowrank(a, T, xt[k], lt[k], direct ? y + off[k] : yt[k], direct ? ldy : a->v.rows);
            if (!direct) ql_output(a, T, yt[k], a->v.rows, y + off[k], ldy, accumulate, 1);
        }
    }
    if (blas_threads != 1) openblas_set_num_threads(blas_threads);
}
