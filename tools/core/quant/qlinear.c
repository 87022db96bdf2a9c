/* qlinear.c — quantised linear layers at inference: products taken in the rotated basis
 * with the weights decoded from their codes panel by panel (see qlinear.h). */
#include "qlinear.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

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
    uint8_t *nib;       /* e8p 2 bits re-coded for the int8 kernels (qdot.h), or NULL */
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
    int i8 = isa == RZ_QDOT_AUTO_I8 || isa == RZ_QDOT_AVX2_I8;
    size_t nb = rz_qdot_e8p2n_bytes(&q->v);
    if (i8 && nb > 0 && !q->nib && rz_qdot_have(RZ_QDOT_AVX2_I8) && (q->nib = malloc(nb)))
        rz_qdot_e8p2n_encode(&q->v, q->nib); /* (if malloc fails, the codes serve) */
    if (!i8) {
        free(q->nib);
        q->nib = NULL;
    }
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
    return sizeof *q + q->v.codes_n + (q->nib ? rz_qdot_e8p2n_bytes(&q->v) : 0) + q->v.n_scales * sizeof(float) + q->v.n_zeros +
           (size_t)q->k * ((size_t)q->v.rows + (size_t)q->v.pcols) * sizeof(float) + rht_bytes(&q->V, q->rot_in) +
           rht_bytes(&q->U, q->rot_out);
}

/* Scratch layout (floats): x̃ [T][pcols] | ỹ [T][rows] (not in direct calls) | x̃R̃ᵀ [T][k] |
 * per-thread decode buffers, each RZ_QLINEAR_PANEL rows of pcols (prefill only). */
size_t rz_qlinear_scratch_floats(const rz_qlinear *q, int T, int threads)
{
    size_t pc = (size_t)q->v.pcols;
    return (size_t)T * (pc + (size_t)q->v.rows + (size_t)q->k) + (size_t)(threads > 0 ? threads : 1) * RZ_QLINEAR_PANEL * pc;
}

int rz_qlinear_direct_ok(const rz_qlinear *q) { return !q->rot_out; }

size_t rz_qlinear_scratch_floats_direct(const rz_qlinear *q, int T, int threads)
{
    if (q->rot_out) return rz_qlinear_scratch_floats(q, T, threads);
    size_t pc = (size_t)q->v.pcols;
    return (size_t)T * (pc + (size_t)q->k) + (size_t)(threads > 0 ? threads : 1) * RZ_QLINEAR_PANEL * pc;
}

void rz_qlinear_apply(const rz_qlinear *q, int T, const float *x, int ldx, float *y, int ldy, int accumulate,
                      float *scratch, int threads)
{
    int rows = q->v.rows, cols = q->v.cols, pc = q->v.pcols, k = q->k;
    if (threads < 1) threads = 1;
    /* direct: no output transform and nothing to add to, so ỹ is written straight into y */
    int direct = !q->rot_out && !accumulate, ldt = direct ? ldy : rows;
    float *xt = scratch, *yt = direct ? y : xt + (size_t)T * pc;
    float *lt = direct ? xt + (size_t)T * pc : yt + (size_t)T * rows, *dec = lt + (size_t)T * k;

    /* x̃ = V pad(x), row by row */
    for (int t = 0; t < T; t++) {
        memcpy(xt + (size_t)t * pc, x + (size_t)t * ldx, (size_t)cols * sizeof *xt);
        memset(xt + (size_t)t * pc + cols, 0, (size_t)(pc - cols) * sizeof *xt);
    }
    if (q->rot_in) rz_rht_rows(&q->V, xt, T, pc, 0, NULL);

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
            int id = omp_get_thread_num(), n = omp_get_num_threads();
            int c0 = (int)((long)nchunks * id / n), c1 = (int)((long)nchunks * (id + 1) / n);
            int r0 = c0 * RZ_QLINEAR_ROWS, r1 = c1 * RZ_QLINEAR_ROWS < rows ? c1 * RZ_QLINEAR_ROWS : rows;
            if (r1 > r0) rz_qdot_rows_e8p2n(&q->v, q->nib, q->isa, r0, r1 - r0, T, xt, pc, yt + r0, ldt);
        }
    } else {
        int np = (rows + RZ_QLINEAR_PANEL - 1) / RZ_QLINEAR_PANEL;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
        for (int p = 0; p < np; p++) {
            float *w = dec + (size_t)omp_get_thread_num() * RZ_QLINEAR_PANEL * pc;
            int r0 = p * RZ_QLINEAR_PANEL, n = rows - r0 < RZ_QLINEAR_PANEL ? rows - r0 : RZ_QLINEAR_PANEL;
            rz_qlayer_decode_rows(&q->v, r0, n, w);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, n, pc, 1.0f, xt, pc, w, pc, 0.0f, yt + r0, ldt);
        }
    }
    /* + (x̃ R̃ᵀ) L̃ᵀ: two thin products (k ≪ rows, pcols) */
    if (k > 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, k, pc, 1.0f, xt, pc, q->R, pc, 0.0f, lt, k);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, rows, k, 1.0f, lt, k, q->L, k, 1.0f, yt, ldt);
    }
    if (blas_threads != 1) openblas_set_num_threads(blas_threads);

    if (direct) return;
    /* y = Uᵀ ỹ, row by row */
    if (q->rot_out) rz_rht_rows(&q->U, yt, T, rows, 1, NULL);
    for (int t = 0; t < T; t++) {
        float *yr = y + (size_t)t * ldy;
        const float *s = yt + (size_t)t * rows;
        if (accumulate)
            for (int r = 0; r < rows; r++) yr[r] += s[r];
        else
            memcpy(yr, s, (size_t)rows * sizeof *yr);
    }
}
