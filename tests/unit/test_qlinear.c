/* test_qlinear.c — quantised inference from the codes (qlinear.h):
 *  - the bulk E8P decode tables give rz_e8p_decode's codeword for all 2^16 codes;
 *  - rz_qlayer_decode_rows equals a slow decoder written here (one code at a time through
 *    rz_e8p_rvq_decode, grid codes bit by bit) on row ranges that start mid-matrix;
 *  - rz_qlinear_apply (x̃ = V x, Q̃ decoded panel by panel or row by row, y = Uᵀ ỹ) equals
 *    a float64 product with the dense Ŵ that rz_qlayer_dequant builds, for every method,
 *    all three incoherence modes, odd shapes, both T paths and a low-rank part; the
 *    result is bitwise the same for 1 and 2 threads; accumulate adds;
 *  - rz_qlinear_apply_group (one region for a group reading the same input, input
 *    transforms shared when the seeds agree) equals the members' rz_qlinear_apply calls
 *    bit for bit, for 1, 2 and 3 threads, T = 1..5, float and int8 kernels.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "qdot.h"
#include "e8p.h"
#include "qlayer.h"
#include "qlinear.h"
#include "ldlq.h"


/* W (m × n) Gaussian; H = XᵀX/T of correlated inputs (positive definite). */
static void make_problem(int m, int n, float *W, double *H)
{
    for (int i = 0; i < m * n; i++) W[i] = (float)(0.05 * check_gauss());
    check_ar1_gram(n, 3, 0.6, 0, H);
}

static void test_e8p_tables(void)
{
    const rz_e8p_tables *tb = rz_e8p_tables_get();
    long bad = 0;
    for (uint32_t c = 0; c < 65536; c++) {
        float ref[8];
        rz_e8p_decode(c, ref);
        for (int i = 0; i < 8; i++) bad += tb->abs[c >> 8][i] * tb->sign[c & 255][i] + tb->shift[c & 255] != ref[i];
    }
    for (uint32_t c = 0; c < 256; c++) {
        float ref[8];
        rz_e81b_decode(c, ref);
        for (int i = 0; i < 8; i++) bad += tb->e81b[c][i] != ref[i];
    }
    CHECK_EQ_INT(bad, 0);
}

/* The slow decoder: row r, column j of Q̃ from the record's bytes. */
static float slow_value(const rz_qlayer_view *v, int r, int j)
{
    const uint8_t *codes = v->codes;
    if (v->method == RZ_QM_E8P) {
        size_t blk = ((size_t)r * (size_t)v->pcols + (size_t)j) / 8;
        uint32_t c = 0;
        for (int b = 0; b < v->bits; b++) c |= (uint32_t)codes[blk * (size_t)v->bits + (size_t)b] << (8 * b);
        if (v->bits == 3) c = (c >> 8) << 16 | (c & 255u); /* [e81b, e8p lo, e8p hi] → e8p<<16 | e81b */
        float out[8], s;
        rz_e8p_rvq_decode(v->bits, c, out);
        memcpy(&s, v->scales, sizeof s);
        return out[j % 8] * s;
    }
    size_t bit = ((size_t)r * (size_t)v->pcols + (size_t)j) * (size_t)v->bits;
    int q = 0;
    for (int b = 0; b < v->bits; b++) q |= (codes[(bit + (size_t)b) / 8] >> ((bit + (size_t)b) % 8) & 1) << b;
    int G = rz_grid_groups(v->pcols, v->group), g = r * G + (v->group > 0 ? j / v->group : 0);
    float s;
    memcpy(&s, (const uint8_t *)v->scales + (size_t)g * sizeof s, sizeof s);
    return rz_grid_value(q, s, (float)((const uint8_t *)v->zeros)[g]);
}

typedef struct {
    int method, bits, group;
} qcase;

static const qcase cases[] = {{RZ_QM_RTN, 2, 0},  {RZ_QM_RTN, 3, 16}, {RZ_QM_LDLQ, 4, 0}, {RZ_QM_RTN, 8, 0},
                              {RZ_QM_LDLQ, 3, 0}, {RZ_QM_E8P, 2, 0},  {RZ_QM_E8P, 3, 0},  {RZ_QM_E8P, 4, 0}};
enum { NCASES = sizeof cases / sizeof cases[0] };

static void test_decode_rows(void)
{
    enum { M = 21, N = 43 }; /* 43 columns: 3-bit rows start mid-byte; e8p pads to 48 */
    float W[M * N];
    double H[N * N];
    make_problem(M, N, W, H);
    for (int k = 0; k < NCASES; k++) {
        rz_qopts o = {cases[k].method, cases[k].bits, cases[k].group, RZ_INCOH_NONE, 3, 0, 0, 0, 0};
        rz_qlayer q;
        rz_err e = {0};
        CHECK_EQ_INT(rz_qlayer_quantize("layers.0.attention.wq.weight", W, M, N, H, &o, 0, 1, &q, NULL, &e), 0);
        int pc = q.v.pcols, r0 = 5, n = 11;
        float *X = malloc(sizeof(float) * (size_t)n * pc);
        rz_qlayer_decode_rows(&q.v, r0, n, X);
        long bad = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < pc; j++) bad += X[i * pc + j] != slow_value(&q.v, r0 + i, j);
        if (bad) printf("#   method %d bits %d: %ld values differ\n", o.method, o.bits, bad);
        CHECK_EQ_INT(bad, 0);
        free(X);
        rz_qlayer_free(&q);
    }
}

/* max over (t, r) of |y − y_ref| / (‖x_t‖ ‖Ŵ_r‖), y_ref in float64 from the dense Ŵ. */
static double rel_err(const float *y, int ldy, const float *x, const float *Wd, int T, int rows, int cols,
                      const float *y0)
{
    double worst = 0;
    for (int t = 0; t < T; t++) {
        double nx = 0;
        for (int j = 0; j < cols; j++) nx += (double)x[t * cols + j] * x[t * cols + j];
        for (int r = 0; r < rows; r++) {
            double s = y0 ? y0[t * ldy + r] : 0, nw = 0;
            for (int j = 0; j < cols; j++) {
                s += (double)x[t * cols + j] * Wd[(size_t)r * cols + j];
                nw += (double)Wd[(size_t)r * cols + j] * Wd[(size_t)r * cols + j];
            }
            worst = fmax(worst, fabs(y[t * ldy + r] - s) / (sqrt(nx * nw) + 1e-30));
        }
    }
    return worst;
}

/* One case: quantise, then compare rz_qlinear_apply with the float64 product with
 * rz_qlayer_dequant's Ŵ. rank > 0 attaches a random float32 low-rank pair to the view. */
static void run_apply(const qcase *qc, int incoh, int rank, int rows, int cols)
{
    float *W = malloc(sizeof(float) * (size_t)rows * cols), *Wd = malloc(sizeof(float) * (size_t)rows * cols);
    double *H = malloc(sizeof(double) * (size_t)cols * cols);
    make_problem(rows, cols, W, H);
    rz_qopts o = {qc->method, qc->bits, qc->group, incoh, 11, 0, 0, 0, 0};
    rz_qlayer q;
    rz_err e = {0};
    CHECK_EQ_INT(rz_qlayer_quantize("layers.1.feed_forward.w2.weight", W, rows, cols, H, &o, 12, 1, &q, NULL, &e), 0);
    rz_qlayer_view v = q.v;
    float *L = NULL, *R = NULL;
    if (rank > 0) {
        L = malloc(sizeof(float) * (size_t)rows * rank);
        R = malloc(sizeof(float) * (size_t)rank * v.pcols);
        for (int i = 0; i < rows * rank; i++) L[i] = (float)(0.1 * check_gauss());
        for (int i = 0; i < rank * v.pcols; i++) R[i] = (float)(0.1 * check_gauss());
        v.rank = rank;
        v.lr_format = RZ_LR_F32;
        v.lr_bits = 32;
        v.L = L, v.R = R;
        v.L_n = sizeof(float) * (size_t)rows * rank, v.R_n = sizeof(float) * (size_t)rank * v.pcols;
    }
    CHECK_EQ_INT(rz_qlayer_dequant(&v, Wd, &e), 0);
    rz_qlinear *ql;
    CHECK_EQ_INT(rz_qlinear_new(&v, &ql, &e), 0);
    const int Ts[3] = {1, 3, 9}; /* 1 and 3: the row path; 9: panels + sgemm */
    for (int ti = 0; ti < 3; ti++) {
        int T = Ts[ti], ldy = rows + 5;
        float *x = malloc(sizeof(float) * (size_t)T * cols);
        float *y1 = malloc(sizeof(float) * (size_t)T * ldy), *y2 = malloc(sizeof(float) * (size_t)T * ldy);
        float *y0 = malloc(sizeof(float) * (size_t)T * ldy);
        float *scr = malloc(sizeof(float) * rz_qlinear_scratch_floats(ql, T, 2));
        for (int i = 0; i < T * cols; i++) x[i] = (float)check_gauss();
        for (int i = 0; i < T * ldy; i++) y0[i] = (float)check_gauss();
        rz_qlinear_apply(ql, T, x, cols, y1, ldy, 0, scr, 1);
        rz_qlinear_apply(ql, T, x, cols, y2, ldy, 0, scr, 2);
        /* float32 products of ≤ 64-long rows and O(log n) transform stages: relative error
         * a few 1e-7 of ‖x‖‖Ŵ_r‖; 1e-5 leaves a wide margin yet catches any wrong entry */
        double err = rel_err(y1, ldy, x, Wd, T, rows, cols, NULL);
        if (!(err < 1e-5))
            printf("#   method %d bits %d incoh %d rank %d T %d: rel err %g\n", qc->method, qc->bits, incoh, rank, T, err);
        CHECK(err < 1e-5);
        int same = 1;
        for (int t = 0; t < T; t++) same &= memcmp(y1 + (size_t)t * ldy, y2 + (size_t)t * ldy, sizeof(float) * rows) == 0;
        CHECK(same); /* 1 and 2 threads: bitwise equal */
        memcpy(y2, y0, sizeof(float) * (size_t)T * ldy);
        rz_qlinear_apply(ql, T, x, cols, y2, ldy, 1, scr, 2);
        CHECK(rel_err(y2, ldy, x, Wd, T, rows, cols, y0) < 1e-5);
        int untouched = 1; /* columns past rows are left alone */
        for (int t = 0; t < T; t++) untouched &= memcmp(y2 + (size_t)t * ldy + rows, y0 + (size_t)t * ldy + rows, 5 * sizeof(float)) == 0;
        CHECK(untouched);
        free(x), free(y1), free(y2), free(y0), free(scr);
    }
    CHECK_EQ_INT(rz_qlinear_rows(ql), rows);
    CHECK_EQ_INT(rz_qlinear_cols(ql), cols);
    CHECK(rz_qlinear_bytes(ql) >= q.v.codes_n);
    rz_qlinear_free(ql);
    rz_qlayer_free(&q);
    free(W), free(Wd), free(H), free(L), free(R);
}

static void test_apply_all_methods(void)
{
    /* 70 rows: one prefill panel (80 rows); 44 columns: e8p pads to 48; both sizes
     * have odd factors (35, 11 / 3) so the transforms use their orthogonal Q_m part */
    for (int k = 0; k < NCASES; k++)
        for (int inc = RZ_INCOH_NONE; inc <= RZ_INCOH_IN; inc++) run_apply(&cases[k], inc, 0, 70, 44);
}

/* Prefill panels (qlinear.c ql_panel_rows, from the shape only): 300 rows are two
 * panels of 160 and 140 rows (rz_matmul_panels(300) = 2), 9000 rows nine of 912 and one
 * of 792 (the 1024-row cap asks for 9 panels, rounded up to an even 10); the 1- and
 * 2-thread results must still agree bitwise and equal the float64 product (run_apply). */
static void test_apply_panels(void)
{
    run_apply(&cases[5], RZ_INCOH_BOTH, 0, 300, 44);
    run_apply(&cases[0], RZ_INCOH_NONE, 0, 300, 44);
    run_apply(&cases[3], RZ_INCOH_NONE, 0, 9000, 16);
}

static void test_apply_lowrank(void)
{
    run_apply(&cases[5], RZ_INCOH_BOTH, 3, 70, 44);
    run_apply(&cases[2], RZ_INCOH_IN, 2, 33, 40);
    run_apply(&cases[0], RZ_INCOH_NONE, 4, 130, 24);
}

/* A view with random codes (any E8P code and any grid code decodes to a valid weight). */
static rz_qlinear *random_member(int method, int bits, int group, int incoh, int rows, int cols, uint64_t seed_v,
                                 int rank)
{
    rz_qlayer_view v;
    memset(&v, 0, sizeof v);
    snprintf(v.name, sizeof v.name, "member");
    v.rows = rows, v.cols = cols, v.pcols = method == RZ_QM_E8P ? (cols + 7) / 8 * 8 : cols;
    v.method = method, v.bits = bits, v.group = group, v.incoherent = incoh;
    v.seed_u = seed_v * 31 + (uint64_t)rows, v.seed_v = seed_v;
    v.codes_n = rz_qlayer_codes_bytes(method, bits, rows, v.pcols);
    v.n_scales = rz_qlayer_n_scales(method, rows, v.pcols, group);
    uint8_t *codes = malloc(v.codes_n), *zeros = NULL;
    float *scales = malloc(v.n_scales * sizeof *scales), *L = NULL, *R = NULL;
    for (size_t i = 0; i < v.codes_n; i++) codes[i] = (uint8_t)(check_gauss() * 1e4);
    for (size_t i = 0; i < v.n_scales; i++) scales[i] = (float)(0.01 + 0.01 * fabs(check_gauss()));
    if (method != RZ_QM_E8P) {
        v.n_zeros = v.n_scales;
        zeros = malloc(v.n_zeros);
        for (size_t i = 0; i < v.n_zeros; i++) zeros[i] = (uint8_t)(1 << (bits - 1));
    }
    v.codes = codes, v.scales = scales, v.zeros = zeros;
    if (rank > 0) {
        L = malloc(sizeof(float) * (size_t)rows * rank);
        R = malloc(sizeof(float) * (size_t)rank * v.pcols);
        for (int i = 0; i < rows * rank; i++) L[i] = (float)(0.1 * check_gauss());
        for (int i = 0; i < rank * v.pcols; i++) R[i] = (float)(0.1 * check_gauss());
        v.rank = rank, v.lr_format = RZ_LR_F32, v.lr_bits = 32, v.L = L, v.R = R;
        v.L_n = sizeof(float) * (size_t)rows * rank, v.R_n = sizeof(float) * (size_t)rank * v.pcols;
    }
    rz_qlinear *q = NULL;
    rz_err e = {0};
    CHECK_EQ_INT(rz_qlinear_new(&v, &q, &e), 0);
    free(codes), free(scales), free(zeros), free(L), free(R);
    return q;
}

/* A group as a decode step meets it (several members big enough to split over threads,
 * 192 = 64·3 columns so V has an odd factor): members 0, 1 and 4 share seed_v (one
 * input transform), member 2 has its own and input-side incoherence only, member 3 none
 * (a 4-bit grid), member 4 a low-rank part. The group call must give exactly the bits
 * of the five separate calls (which test_apply_* hold to float64 products) — the same
 * operations in the same order, only scheduled differently — for any thread count. */
static void test_apply_group(void)
{
    enum { NM = 5, COLS = 192 };
    rz_qlinear *g[NM] = {
        random_member(RZ_QM_E8P, 2, 0, RZ_INCOH_BOTH, 400, COLS, 7, 0),
        random_member(RZ_QM_E8P, 2, 0, RZ_INCOH_BOTH, 176, COLS, 7, 0),
        random_member(RZ_QM_E8P, 2, 0, RZ_INCOH_IN, 352, COLS, 9, 0),
        random_member(RZ_QM_RTN, 4, 32, RZ_INCOH_NONE, 352, COLS, 0, 0),
        random_member(RZ_QM_E8P, 3, 0, RZ_INCOH_BOTH, 100, COLS, 7, 3),
    };
    CHECK(rz_qlinear_same_input_rht(g[0], g[1]) && rz_qlinear_same_input_rht(g[0], g[4]));
    CHECK(!rz_qlinear_same_input_rht(g[0], g[2]) && !rz_qlinear_same_input_rht(g[2], g[3]));
    int total = 0;
    for (int k = 0; k < NM; k++) total += rz_qlinear_rows(g[k]);
    long bad = 0, calls = 0;
    for (int isa = 0; isa < 2; isa++) {
        for (int k = 0; k < NM; k++) rz_qlinear_set_isa(g[k], isa ? RZ_QDOT_AUTO_I8 : RZ_QDOT_AUTO);
        for (int T = 1; T <= 5; T++) {
            int ldx = COLS + 3, ldy = total + 7;
            size_t ny = (size_t)T * ldy, ns = rz_qlinear_scratch_floats_group(g, NM, T, 3);
            float *x = malloc(sizeof(float) * (size_t)T * ldx), *y0 = malloc(sizeof(float) * ny);
            float *ya = malloc(sizeof(float) * ny), *yb = malloc(sizeof(float) * ny), *scr = malloc(sizeof(float) * ns);
            for (int i = 0; i < T * ldx; i++) x[i] = (float)check_gauss();
            for (size_t i = 0; i < ny; i++) y0[i] = (float)check_gauss();
            for (int acc = 0; acc < 2; acc++) {
                memcpy(ya, y0, sizeof(float) * ny);
                for (int k = 0, off = 0; k < NM; off += rz_qlinear_rows(g[k]), k++)
                    rz_qlinear_apply(g[k], T, x, ldx, ya + off, ldy, acc, scr, 1);
                for (int th = 1; th <= 3; th++) {
                    memcpy(yb, y0, sizeof(float) * ny);
                    rz_qlinear_apply_group(g, NM, T, x, ldx, yb, ldy, acc, scr, th);
                    calls++;
                    if (memcmp(ya, yb, sizeof(float) * ny)) {
                        if (bad++ < 5) printf("#   isa %d T %d accumulate %d threads %d: group != members\n", isa, T, acc, th);
                    }
                }
            }
            free(x), free(y0), free(ya), free(yb), free(scr);
        }
    }
    printf("# %ld of %ld group calls differ from the separate calls\n", bad, calls);
    CHECK_EQ_INT(bad, 0);
    for (int k = 0; k < NM; k++) rz_qlinear_free(g[k]);
}

int main(void)
{
    check_rng_state = 12345; /* the stream these tests were written with */
    RUN(test_e8p_tables);
    RUN(test_decode_rows);
    RUN(test_apply_all_methods);
    RUN(test_apply_panels);
    RUN(test_apply_lowrank);
    RUN(test_apply_group);
    return check_summary();
}
