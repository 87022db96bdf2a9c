/* test_qdot.c — the fused decode-and-dot kernels (qdot.h):
 *  - every variant this CPU runs (the portable reference and AVX2 + FMA when present)
 *    equals the float64 product with the decoded rows (rz_qlayer_decode_rows, itself
 *    checked against a bit-by-bit decoder in test_qlinear) for every code format (e8p
 *    2/3/4 bits, scalar grids 2/3/4/8 bits per row and with groups that do and do not
 *    divide the width), odd sizes (rows 1, 172, 176; widths 176, 172, 1) and T = 1..4,
 *    on random codes that cover every code value, starting mid-matrix; widths 256, 200
 *    and 2176 for the AVX2 "lane" kernel of 2/4/8-bit grids (whole 32-byte blocks of
 *    codes: 2 blocks; 1 block and a tail; more inputs than one chunk of its transposed
 *    copy at T = 4) with one and two groups per block;
 *  - the int8-input variants (e8p 2/3/4-bit, 2-, 4- and 8-bit grids; the other formats
 *    take the float path) equal the float64 product with the dequantised inputs x̂ to the
 *    same float rounding bound, and the product with the true inputs to a bound that
 *    follows from the int8 step; AVX2 int8 is within twice that bound of the portable int8
 *    reference; a non-finite input gives NaN, a zero input 0; the same for e8p
 *    codes re-coded as nibbles (rz_qdot_e8p2n_encode, one plane at 2 bits, two at 3 and
 *    4: widths with and without a tail past the last 64 columns), which also agree with
 *    the portable int8 reference; there the AVX-512 VNNI kernel (by name; auto-i8 and
 *    avx512-i8 at 3 and 4 bits) gives the AVX2 one's bits, also for a call split at an
 *    odd row;
 *  - through rz_qlinear_apply (rotations on both sides), the result is bitwise the same
 *    for 1 and 2 threads, with every variant;
 *  - 3-bit grids re-coded as nibbles for the int8 variants decode to the same weights and
 *    are what rz_qlinear uses with them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "ldlq.h"
#include "qdot.h"
#include "qlayer.h"
#include "qlinear.h"

typedef struct {
    int method, bits, group;
} fmt;
static const fmt fmts[] = {{RZ_QM_E8P, 2, 0},  {RZ_QM_E8P, 3, 0},  {RZ_QM_E8P, 4, 0},  {RZ_QM_RTN, 2, 0},
                           {RZ_QM_RTN, 3, 0},  {RZ_QM_RTN, 4, 0},  {RZ_QM_RTN, 8, 0},  {RZ_QM_LDLQ, 2, 16},
                           {RZ_QM_LDLQ, 3, 40}, {RZ_QM_RTN, 4, 32}, {RZ_QM_RTN, 8, 24}, {RZ_QM_RTN, 3, 8},
                           {RZ_QM_RTN, 2, 64},  {RZ_QM_RTN, 4, 64},  {RZ_QM_RTN, 8, 16}, {RZ_QM_LDLQ, 8, 64},
                           {RZ_QM_RTN, 8, 32}};
enum { NFMT = sizeof fmts / sizeof fmts[0] };

/* A view with random codes (every byte uniform: all 2^16 E8P codes and all grid codes
 * occur), scales ~ 0.05 and zero points anywhere in the grid. The caller frees codes,
 * scales, zeros. */
static rz_qlayer_view random_view(const fmt *f, int rows, int cols)
{
    rz_qlayer_view v;
    memset(&v, 0, sizeof v);
    snprintf(v.name, sizeof v.name, "test");
    v.rows = rows, v.cols = cols;
    v.pcols = f->method == RZ_QM_E8P ? (cols + 7) / 8 * 8 : cols;
    v.method = f->method, v.bits = f->bits;
    v.group = f->group > v.pcols ? v.pcols : f->group;
    v.codes_n = rz_qlayer_codes_bytes(v.method, v.bits, rows, v.pcols);
    v.n_scales = rz_qlayer_n_scales(v.method, rows, v.pcols, v.group);
    uint8_t *codes = malloc(v.codes_n), *zeros = NULL;
    float *scales = malloc(sizeof(float) * v.n_scales);
    for (size_t i = 0; i < v.codes_n; i++) codes[i] = (uint8_t)(check_urand() * 256);
    for (size_t i = 0; i < v.n_scales; i++) scales[i] = (float)(0.05 * (0.5 + check_urand()));
    if (v.method != RZ_QM_E8P) {
        v.n_zeros = v.n_scales;
        zeros = malloc(v.n_zeros);
        for (size_t i = 0; i < v.n_zeros; i++) zeros[i] = (uint8_t)(check_urand() * (1 << v.bits));
    }
    v.codes = codes, v.scales = scales, v.zeros = zeros;
    return v;
}

static void free_view(rz_qlayer_view *v)
{
    free((void *)v->codes);
    free((void *)v->scales);
    free((void *)v->zeros);
}

/* Worst |y − y64| / (‖x_t‖ ‖Q̃_r‖ · pcols · 2⁻²⁴) over rows [r0, r0 + n) and t < T, with
 * y64 the float64 product of x and the decoded rows Qd (n × pcols). */
static double worst_ratio(const float *y, int ldy, const float *x, const float *Qd, int T, int n, int pc)
{
    double worst = 0;
    for (int t = 0; t < T; t++) {
        double nx = 0;
        for (int j = 0; j < pc; j++) nx += (double)x[t * pc + j] * x[t * pc + j];
        for (int i = 0; i < n; i++) {
            double s = 0, nw = 0;
            for (int j = 0; j < pc; j++) {
                s += (double)x[t * pc + j] * Qd[(size_t)i * pc + j];
                nw += (double)Qd[(size_t)i * pc + j] * Qd[(size_t)i * pc + j];
            }
            double unit = sqrt(nx * nw) * pc * 0x1p-24 + 1e-300;
            worst = fmax(worst, fabs(y[(size_t)t * ldy + i] - s) / unit);
        }
    }
    return worst;
}

/* Two results y, yr [T][ldy] that are each within `bound` (in units of pc·u·‖x‖‖w_i‖,
 * worst_ratio's measure) of the same exact sum Σ w x are within twice it of each other. */
static void check_twice(const float *y, const float *yr, int ldy, const float *x, const float *Qd, int T, int n, int pc,
                        double bound)
{
    for (int t = 0; t < T; t++) {
        double nx = 0;
        for (int j = 0; j < pc; j++) nx += (double)x[(size_t)t * pc + j] * x[(size_t)t * pc + j];
        for (int i = 0; i < n; i++) {
            double nw = 0;
            for (int j = 0; j < pc; j++) nw += (double)Qd[(size_t)i * pc + j] * Qd[(size_t)i * pc + j];
            CHECK(fabs(y[(size_t)t * ldy + i] - yr[(size_t)t * ldy + i]) <= 2 * bound * pc * 0x1p-24 * sqrt(nx * nw) + 1e-300);
        }
    }
}

/* Whether the int8 variants quantise the inputs for this view (qdot.h: e8p; 4-bit grids
 * with an even width, 2-bit grids with a width that is a multiple of 4, 8-bit grids of any
 * width, with groups
 * of a multiple of 32 columns or one per row), and
 * the block of columns that share one input scale. */
static int i8_applies(const rz_qlayer_view *v, int *qb)
{
    int gw = v->group > 0 ? v->group : v->pcols;
    *qb = v->method == RZ_QM_E8P ? 256 : 32;
    if (v->method == RZ_QM_E8P) return 1; /* 2, 3 and 4 bits */
    return ((v->bits == 4 && v->pcols % 2 == 0) || (v->bits == 2 && v->pcols % 4 == 0) || v->bits == 8) &&
           (gw >= v->pcols || gw % 32 == 0);
}

/* The int8 inputs as qdot.h specifies them, written out here: per block of qb columns
 * m = max |x|, xq = rint(x · (127/m)) in float, x̂ = (m/127) · xq (in double). Also
 * returns ‖x̂ − x‖'s bound sqrt(Σ_j (m_B(j)/254)²) in *step. */
static void i8_dequant(const float *x, int pc, int qb, double *xh, double *step)
{
    double st = 0;
    for (int b0 = 0; b0 < pc; b0 += qb) {
        int b1 = b0 + qb < pc ? b0 + qb : pc;
        float m = 0;
        for (int j = b0; j < b1; j++) m = fmaxf(m, fabsf(x[j]));
        for (int j = b0; j < b1; j++) xh[j] = m > 0 ? (double)(m / 127.0f) * (double)rintf(x[j] * (127.0f / m)) : 0.0;
        st += (b1 - b0) * ((double)m / 254) * ((double)m / 254);
    }
    *step = sqrt(st);
}

static void test_kernels(void)
{
    /* e8p widths 320 and 512: a last chunk of 40 codewords and none for the AVX-512 kernel,
     * whose other widths end in a chunk of ≤ 32 codewords shared by two rows */
    const int shapes[][2] = {{176, 172}, {172, 176}, {1, 172}, {176, 1}, {3, 176}, {7, 256}, {9, 200}, {3, 2176}, {5, 768},
                             {6, 320}, {4, 512}};
    enum { NSHAPE = sizeof shapes / sizeof shapes[0] };
    int isas[5] = {RZ_QDOT_REF, RZ_QDOT_REF_I8, RZ_QDOT_AVX2, RZ_QDOT_AVX2_I8, RZ_QDOT_AVX512_I8};
    int nisa = rz_qdot_have(RZ_QDOT_AVX2) ? 4 + rz_qdot_have(RZ_QDOT_AVX512_I8) : 2;
    printf("# variants tested: ref, ref-i8%s%s\n", nisa >= 4 ? ", avx2, avx2-i8" : " (this CPU has no AVX2+FMA)",
           nisa == 5 ? ", avx512-i8 (e8p 2 bits from the codes; 2/4/8-bit grids: VNNI)"
                     : " (no AVX-512 VBMI/VNNI/BITALG here: avx512-i8 not tested)");
    printf("# e8p nibbles under auto-i8: %s\n", rz_qdot_e8p2n_name());
    for (int f = 0; f < NFMT; f++)
        for (int s = 0; s < NSHAPE; s++) {
            int rows = shapes[s][0], cols = shapes[s][1];
            rz_qlayer_view v = random_view(&fmts[f], rows, cols);
            int pc = v.pcols, r0 = rows > 2 ? rows / 3 : 0, n = rows - r0, qb;
            int i8 = i8_applies(&v, &qb);
            float *Qd = malloc(sizeof(float) * (size_t)n * pc);
            rz_qlayer_decode_rows(&v, r0, n, Qd);
            for (int T = 1; T <= RZ_QDOT_MAX_T; T++) {
                int ldy = n + 3;
                float *x = malloc(sizeof(float) * (size_t)T * pc), *y = malloc(sizeof(float) * (size_t)T * ldy);
                float *xh = malloc(sizeof(float) * (size_t)T * pc);
                float *yr8 = malloc(sizeof(float) * (size_t)T * ldy); /* the ref-i8 result */
                float *ya8 = malloc(sizeof(float) * (size_t)T * ldy); /* the avx2-i8 result */
                double *xd = malloc(sizeof(double) * (size_t)pc), step[RZ_QDOT_MAX_T];
                for (int i = 0; i < T * pc; i++) x[i] = (float)check_gauss();
                for (int t = 0; t < T; t++) {
                    i8_dequant(x + (size_t)t * pc, pc, qb, xd, &step[t]);
                    for (int j = 0; j < pc; j++) xh[(size_t)t * pc + j] = (float)xd[j]; /* exact: ≤ 24 bits */
                }
                for (int k = 0; k < nisa; k++) {
                    int q8 = i8 && (isas[k] == RZ_QDOT_REF_I8 || isas[k] == RZ_QDOT_AVX2_I8 || isas[k] == RZ_QDOT_AVX512_I8);
                    rz_qdot_rows(&v, isas[k], r0, n, T, x, pc, y, ldy);
                    /* y is a float32 sum of pcols products, so |y − Σ w_j x_j| ≤ γ_n Σ|w_j x_j|
                     * ≤ 1.01 n u ‖x‖‖w‖ (u = 2⁻²⁴, Cauchy–Schwarz). The kernels' weights differ
                     * from the decoded ones by ≤ 3 roundings each (scale applied per group, not
                     * per weight; residual ·(1/r) instead of /r): ≤ 3u‖x‖‖w‖ more. So the ratio
                     * ≤ 1.01 + 3/n; the bound 2 + 48/n has margin. A single wrong weight errs by
                     * ~‖w‖‖x‖/n, a ratio of ~2²⁴/n² ≥ 500 at these sizes. The int8 variants
                     * are held to the same bound against the product with x̂ (their integer
                     * sums are exact; only the per-block scaling and the final sums round). */
                    double r = worst_ratio(y, ldy, q8 ? xh : x, Qd, T, n, pc), bound = 2.0 + 48.0 / pc;
                    if (!(r <= bound))
                        printf("#   %s %s %d bits group %d, %d x %d, T %d: ratio %g > %g\n", rz_qdot_name(isas[k]),
                               rz_qmethod_name(v.method), v.bits, v.group, rows, cols, T, r, bound);
                    CHECK(r <= bound);
                    if (!q8) continue;
                    if (isas[k] == RZ_QDOT_REF_I8) memcpy(yr8, y, sizeof(float) * (size_t)T * ldy);
                    if (isas[k] == RZ_QDOT_AVX2_I8) memcpy(ya8, y, sizeof(float) * (size_t)T * ldy);
                    if ((isas[k] == RZ_QDOT_AVX512_I8 || isas[k] == RZ_QDOT_AVX2_I8) && v.method != RZ_QM_E8P) {
                        /* grids: the AVX-512 VNNI kernels (under AVX512_I8, and AUTO_I8 unless
                         * RZ_QDOT_ISA caps it) form the same exact int32 block sums as the
                         * AVX2 ones and share their float epilogue: the same bits */
                        float *ya = malloc(sizeof(float) * (size_t)T * ldy);
                        rz_qdot_rows(&v, RZ_QDOT_AUTO_I8, r0, n, T, x, pc, ya, ldy);
                        int capped = getenv("RZ_QDOT_ISA") && strcmp(getenv("RZ_QDOT_ISA"), "ref") == 0; /* auto-i8 = ref-i8 */
                        for (int t = 0; t < T; t++) {
                            if (!capped) CHECK(memcmp(ya + (size_t)t * ldy, ya8 + (size_t)t * ldy, sizeof(float) * (size_t)n) == 0);
                            CHECK(memcmp(y + (size_t)t * ldy, ya8 + (size_t)t * ldy, sizeof(float) * (size_t)n) == 0);
                        }
                        free(ya);
                    }
                    /* AVX2 int8 = the portable int8 reference: both are within the bound
                     * above of the same exact sum Σ w x̂, so within twice it of each other
                     * (a wrong block scale or zero point errs by far more) */
                    if (isas[k] == RZ_QDOT_AVX2_I8 || isas[k] == RZ_QDOT_AVX512_I8)
                        check_twice(y, yr8, ldy, xh, Qd, T, n, pc, bound);
                    if (isas[k] == RZ_QDOT_AVX512_I8 && n > 2) {
                        /* rows split at an odd row (as threads may split them): the same bits,
                         * though the AVX-512 kernel pairs rows differently */
                        float *ys = malloc(sizeof(float) * (size_t)T * ldy);
                        rz_qdot_rows(&v, isas[k], r0, 1, T, x, pc, ys, ldy);
                        rz_qdot_rows(&v, isas[k], r0 + 1, n - 1, T, x, pc, ys + 1, ldy);
                        for (int t = 0; t < T; t++)
                            CHECK(memcmp(ys + (size_t)t * ldy, y + (size_t)t * ldy, sizeof(float) * (size_t)n) == 0);
                        free(ys);
                    }
                    /* Against the true x: |ŷ − y| ≤ |Σ w (x̂ − x)| + the rounding above
                     * ≤ ‖w‖ ‖x̂ − x‖ + (2 + 48/n) n u ‖w‖ ‖x̂‖, and |x̂_j − x_j| ≤ d/2 = m_B/254
                     * (round to nearest on the int8 step d = m_B/127, plus ≤ 2 float roundings
                     * of x·(127/m): the factor 1.001). That is the int8 step's worst case;
                     * typical errors are ~sqrt(pcols/3) times smaller (the roundings are
                     * independent). */
                    for (int t = 0; t < T; t++) {
                        double nx = 0;
                        for (int j = 0; j < pc; j++) nx += (double)xh[(size_t)t * pc + j] * xh[(size_t)t * pc + j];
                        for (int i = 0; i < n; i++) {
                            double s64 = 0, nw = 0;
                            for (int j = 0; j < pc; j++) {
                                s64 += (double)x[(size_t)t * pc + j] * Qd[(size_t)i * pc + j];
                                nw += (double)Qd[(size_t)i * pc + j] * Qd[(size_t)i * pc + j];
                            }
                            double tol = sqrt(nw) * (1.001 * step[t] + bound * pc * 0x1p-24 * sqrt(nx)) + 1e-300;
                            CHECK(fabs(y[(size_t)t * ldy + i] - s64) <= tol);
                        }
                    }
                }
                if (v.method == RZ_QM_E8P && rz_qdot_have(RZ_QDOT_AVX2_I8)) {
                    /* the nibble re-coding (qdot.h; 2 bits: one plane, 3 and 4 bits: two):
                     * the same bound against x̂, and within twice that bound of the portable
                     * int8 reference (both are within it of the same exact sum) */
                    uint8_t *nib = malloc(rz_qdot_e8p2n_bytes(&v) + 1);
                    float *yr = malloc(sizeof(float) * (size_t)T * ldy);
                    rz_qdot_e8p2n_encode(&v, nib);
                    rz_qdot_rows_e8p2n(&v, nib, RZ_QDOT_AVX2_I8, r0, n, T, x, pc, y, ldy);
                    rz_qdot_rows(&v, RZ_QDOT_REF_I8, r0, n, T, x, pc, yr, ldy);
                    double r = worst_ratio(y, ldy, xh, Qd, T, n, pc), bound = 2.0 + 48.0 / pc;
                    if (!(r <= bound)) printf("#   e8p%dn %d x %d, T %d: ratio %g > %g\n", v.bits, rows, cols, T, r, bound);
                    CHECK(r <= bound);
                    check_twice(y, yr, ldy, xh, Qd, T, n, pc, bound);
                    /* the AVX-512 VNNI kernel over the nibbles (AUTO_I8 at 3 and 4 bits unless
                     * RZ_QDOT_ISA caps it; AVX512_I8 at 3 and 4 bits, whose 2 bits read the
                     * codes; rz_qdot_rows_e8p2n_z by name at 2, 3 and 4 bits) forms the
                     * same exact int32 lane sums as the AVX2 one and shares its float
                     * epilogue: the same bits, so the same bound; and the same bits for a
                     * call split at an odd row (as threads may split rows) */
                    int capped = getenv("RZ_QDOT_ISA") && strcmp(getenv("RZ_QDOT_ISA"), "ref") == 0; /* auto-i8 = ref-i8 */
                    int zisa[3] = {RZ_QDOT_AUTO_I8, v.bits != 2 && rz_qdot_have(RZ_QDOT_AVX512_I8) ? RZ_QDOT_AVX512_I8 : -1,
                                   -2}; /* -2: rz_qdot_rows_e8p2n_z, by name (2 bits too) */
                    float *yz = malloc(sizeof(float) * (size_t)T * ldy);
                    for (int k = 0; k < 3; k++) {
                        if (zisa[k] == -1 || (zisa[k] == RZ_QDOT_AUTO_I8 && capped)) continue;
                        if (zisa[k] == -2) rz_qdot_rows_e8p2n_z(&v, nib, r0, n, T, x, pc, yz, ldy);
                        else rz_qdot_rows_e8p2n(&v, nib, zisa[k], r0, n, T, x, pc, yz, ldy);
                        r = worst_ratio(yz, ldy, xh, Qd, T, n, pc);
                        CHECK(r <= bound);
                        for (int t = 0; t < T; t++)
                            CHECK(memcmp(yz + (size_t)t * ldy, y + (size_t)t * ldy, sizeof(float) * (size_t)n) == 0);
                        if (n > 2) {
                            memset(yz, 0, sizeof(float) * (size_t)T * ldy);
                            if (zisa[k] == -2) {
                                rz_qdot_rows_e8p2n_z(&v, nib, r0, 1, T, x, pc, yz, ldy);
                                rz_qdot_rows_e8p2n_z(&v, nib, r0 + 1, n - 1, T, x, pc, yz + 1, ldy);
                            } else {
                                rz_qdot_rows_e8p2n(&v, nib, zisa[k], r0, 1, T, x, pc, yz, ldy);
                                rz_qdot_rows_e8p2n(&v, nib, zisa[k], r0 + 1, n - 1, T, x, pc, yz + 1, ldy);
                            }
                            for (int t = 0; t < T; t++)
                                CHECK(memcmp(yz + (size_t)t * ldy, y + (size_t)t * ldy, sizeof(float) * (size_t)n) == 0);
                        }
                    }
                    free(nib), free(yr), free(yz);
                }
                free(x), free(y), free(xh), free(xd), free(yr8), free(ya8);
            }
            free(Qd);
            free_view(&v);
        }
}

/* The int8 variants pass a non-finite input on as NaN (as the float path would), and an
 * all-zero input gives 0. */
static void test_i8_special(void)
{
    const fmt use[5] = {fmts[0], fmts[1], fmts[2], fmts[13], fmts[15]};
    for (int f = 0; f < 5; f++) {
        rz_qlayer_view v = random_view(&use[f], 4, 512);
        float x[512] = {0}, y[4];
        uint8_t *nib = v.method == RZ_QM_E8P ? malloc(rz_qdot_e8p2n_bytes(&v)) : NULL;
        if (nib) rz_qdot_e8p2n_encode(&v, nib);
        for (int isa = RZ_QDOT_AUTO_I8; isa <= RZ_QDOT_AVX512_I8; isa++) {
            if (!rz_qdot_have(isa)) continue;
            for (int viaN = 0; viaN < 1 + !!nib; viaN++) { /* e8p: from the codes, then the nibbles */
                x[300] = 0;
                if (viaN) rz_qdot_rows_e8p2n(&v, nib, isa, 0, 4, 1, x, 512, y, 4);
                else rz_qdot_rows(&v, isa, 0, 4, 1, x, 512, y, 4);
                for (int i = 0; i < 4; i++) CHECK(y[i] == 0.0f);
                x[300] = INFINITY;
                if (viaN) rz_qdot_rows_e8p2n(&v, nib, isa, 0, 4, 1, x, 512, y, 4);
                else rz_qdot_rows(&v, isa, 0, 4, 1, x, 512, y, 4);
                for (int i = 0; i < 4; i++) CHECK(isnan(y[i]));
            }
        }
        free(nib);
        free_view(&v);
    }
}

/* rz_qlinear_apply's small-T path with U, V rotations: 1 and 2 threads bitwise equal
 * (400 × 176 codes: above the size at which the rows are split over threads). */
static void test_threads(void)
{
    const fmt use[7] = {fmts[0], fmts[1], fmts[2], fmts[5], fmts[8], fmts[6], fmts[16]};
    for (int f = 0; f < 7; f++) {
        rz_qlayer_view v = random_view(&use[f], 400, 172);
        v.incoherent = RZ_INCOH_BOTH, v.seed_u = 5, v.seed_v = 6;
        rz_qlinear *q;
        rz_err e = {0};
        CHECK_EQ_INT(rz_qlinear_new(&v, &q, &e), 0);
        for (int isa = RZ_QDOT_REF; isa <= RZ_QDOT_AVX512_I8; isa++) {
            if (!rz_qdot_have(isa)) continue;
            rz_qlinear_set_isa(q, isa);
            for (int T = 1; T <= 4; T++) {
                float *x = malloc(sizeof(float) * T * 172), *y1 = malloc(sizeof(float) * T * 400),
                      *y2 = malloc(sizeof(float) * T * 400);
                float *scr = malloc(sizeof(float) * rz_qlinear_scratch_floats(q, T, 2));
                for (int i = 0; i < T * 172; i++) x[i] = (float)check_gauss();
                rz_qlinear_apply(q, T, x, 172, y1, 400, 0, scr, 1);
                rz_qlinear_apply(q, T, x, 172, y2, 400, 0, scr, 2);
                CHECK(memcmp(y1, y2, sizeof(float) * T * 400) == 0);
                free(x), free(y1), free(y2), free(scr);
            }
        }
        rz_qlinear_free(q);
        free_view(&v);
    }
}

/* 3-bit grids re-coded as nibbles for the int8 variants (rz_qdot_grid3n_encode): the
 * 4-bit view decodes to the same floats bit for bit (same codes q, scales and zero
 * points; rz_qlayer_decode_rows is checked against a bit-by-bit decoder in test_qlinear),
 * views the 4-bit int8 kernel cannot take (groups of 40 or 8 columns, an odd width) get
 * 0 bytes, and rz_qlinear_apply with an int8 variant on a 3-bit layer gives bit for bit
 * what that variant gives over the re-coding (whose accuracy test_kernels checks for
 * 4-bit grids), for 1 and 2 threads. */
static void test_grid3n(void)
{
    const fmt f3[4] = {{RZ_QM_RTN, 3, 0}, {RZ_QM_RTN, 3, 32}, {RZ_QM_LDLQ, 3, 40}, {RZ_QM_RTN, 3, 8}};
    const int takes[4] = {1, 1, 0, 0};
    const int shapes[3][2] = {{7, 172}, {100, 768}, {3, 171}};
    for (int f = 0; f < 4; f++)
        for (int s = 0; s < 3; s++) {
            int rows = shapes[s][0], cols = shapes[s][1];
            rz_qlayer_view v = random_view(&f3[f], rows, cols);
            size_t nb = rz_qdot_grid3n_bytes(&v);
            CHECK((nb > 0) == (takes[f] && cols % 2 == 0));
            if (nb == 0) {
                free_view(&v);
                continue;
            }
            uint8_t *c4 = malloc(nb);
            rz_qlayer_view v4;
            rz_qdot_grid3n_encode(&v, c4, &v4);
            CHECK_EQ_INT(v4.bits, 4);
            float *a = malloc(sizeof(float) * (size_t)rows * cols), *b = malloc(sizeof(float) * (size_t)rows * cols);
            rz_qlayer_decode_rows(&v, 0, rows, a);
            rz_qlayer_decode_rows(&v4, 0, rows, b);
            CHECK(memcmp(a, b, sizeof(float) * (size_t)rows * cols) == 0);
            rz_qlinear *q;
            rz_err e = {0};
            CHECK_EQ_INT(rz_qlinear_new(&v, &q, &e), 0);
            for (int isa = RZ_QDOT_REF_I8; isa <= RZ_QDOT_AVX512_I8; isa++) {
                if (!rz_qdot_have(isa)) continue;
                rz_qlinear_set_isa(q, isa);
                for (int T = 1; T <= RZ_QDOT_MAX_T; T++) {
                    float *x = malloc(sizeof(float) * T * cols), *y1 = malloc(sizeof(float) * T * rows);
                    float *y2 = malloc(sizeof(float) * T * rows), *y3 = malloc(sizeof(float) * T * rows);
                    float *scr = malloc(sizeof(float) * rz_qlinear_scratch_floats(q, T, 2));
                    for (int i = 0; i < T * cols; i++) x[i] = (float)check_gauss();
                    rz_qlinear_apply(q, T, x, cols, y1, rows, 0, scr, 1);
                    rz_qlinear_apply(q, T, x, cols, y2, rows, 0, scr, 2);
                    rz_qdot_rows(&v4, isa, 0, rows, T, x, cols, y3, rows);
                    CHECK(memcmp(y1, y3, sizeof(float) * T * rows) == 0);
                    CHECK(memcmp(y1, y2, sizeof(float) * T * rows) == 0);
                    free(x), free(y1), free(y2), free(y3), free(scr);
                }
            }
            rz_qlinear_free(q);
            free(a), free(b), free(c4);
            free_view(&v);
        }
}

int main(void)
{
    check_rng_state = 2020;
    RUN(test_kernels);
    RUN(test_i8_special);
    RUN(test_threads);
    RUN(test_grid3n);
    return check_summary();
}
