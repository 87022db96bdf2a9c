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
 *  - through rz_qlinear_apply (rotations on both sides), the result is bitwise the same
 *    for 1 and 2 threads, with either variant.
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
                           {RZ_QM_RTN, 2, 64},  {RZ_QM_RTN, 4, 64},  {RZ_QM_RTN, 8, 16}};
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

static void test_kernels(void)
{
    const int shapes[][2] = {{176, 172}, {172, 176}, {1, 172}, {176, 1}, {3, 176}, {7, 256}, {9, 200}, {3, 2176}};
    enum { NSHAPE = sizeof shapes / sizeof shapes[0] };
    int isas[2] = {RZ_QDOT_REF, RZ_QDOT_AVX2}, nisa = rz_qdot_have(RZ_QDOT_AVX2) ? 2 : 1;
    printf("# variants tested: ref%s (no AVX-512 variant exists)\n", nisa == 2 ? ", avx2" : " (this CPU has no AVX2+FMA)");
    for (int f = 0; f < NFMT; f++)
        for (int s = 0; s < NSHAPE; s++) {
            int rows = shapes[s][0], cols = shapes[s][1];
            rz_qlayer_view v = random_view(&fmts[f], rows, cols);
            int pc = v.pcols, r0 = rows > 2 ? rows / 3 : 0, n = rows - r0;
            float *Qd = malloc(sizeof(float) * (size_t)n * pc);
            rz_qlayer_decode_rows(&v, r0, n, Qd);
            for (int T = 1; T <= RZ_QDOT_MAX_T; T++) {
                int ldy = n + 3;
                float *x = malloc(sizeof(float) * (size_t)T * pc), *y = malloc(sizeof(float) * (size_t)T * ldy);
                for (int i = 0; i < T * pc; i++) x[i] = (float)check_gauss();
                for (int k = 0; k < nisa; k++) {
                    rz_qdot_rows(&v, isas[k], r0, n, T, x, pc, y, ldy);
                    /* y is a float32 sum of pcols products, so |y − Σ w_j x_j| ≤ γ_n Σ|w_j x_j|
                     * ≤ 1.01 n u ‖x‖‖w‖ (u = 2⁻²⁴, Cauchy–Schwarz). The kernels' weights differ
                     * from the decoded ones by ≤ 3 roundings each (scale applied per group, not
                     * per weight; residual ·(1/r) instead of /r): ≤ 3u‖x‖‖w‖ more. So the ratio
                     * ≤ 1.01 + 3/n; the bound 2 + 48/n has margin. A single wrong weight errs by
                     * ~‖w‖‖x‖/n, a ratio of ~2²⁴/n² ≥ 500 at these sizes. */
                    double r = worst_ratio(y, ldy, x, Qd, T, n, pc), bound = 2.0 + 48.0 / pc;
                    if (!(r <= bound))
                        printf("#   %s %s %d bits group %d, %d x %d, T %d: ratio %g > %g\n", rz_qdot_name(isas[k]),
                               rz_qmethod_name(v.method), v.bits, v.group, rows, cols, T, r, bound);
                    CHECK(r <= bound);
                }
                free(x), free(y);
            }
            free(Qd);
            free_view(&v);
        }
}

/* rz_qlinear_apply's small-T path with U, V rotations: 1 and 2 threads bitwise equal
 * (400 × 176 codes: above the size at which the rows are split over threads). */
static void test_threads(void)
{
    const fmt use[3] = {fmts[0], fmts[5], fmts[8]};
    for (int f = 0; f < 3; f++) {
        rz_qlayer_view v = random_view(&use[f], 400, 172);
        v.incoherent = RZ_INCOH_BOTH, v.seed_u = 5, v.seed_v = 6;
        rz_qlinear *q;
        rz_err e = {0};
        CHECK_EQ_INT(rz_qlinear_new(&v, &q, &e), 0);
        for (int isa = RZ_QDOT_REF; isa <= RZ_QDOT_AVX2; isa++) {
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

int main(void)
{
    check_rng_state = 2020;
    RUN(test_kernels);
    RUN(test_threads);
    return check_summary();
}
