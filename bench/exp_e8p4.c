/* exp_e8p4.c — why E8P at 4 bits lost to scalar LDLQ on stories260K: the suspected causes
 * that are not rz-quantize options, each alone. An experiment, not a pass/fail benchmark.
 *
 * Every linear is made incoherent on both sides exactly as `rz-quantize --incoherence
 * --seed SEED` does (rz_qlayer_seeds; W ← U W Vᵀ, H ← V H Vᵀ, inputs padded to a
 * multiple of 8), quantised with block LDLQ and E8P-RVQ (BITS) at QuIP#'s target RMS
 * with no tune passes and no scale search, changed in one respect per variant:
 *
 *   rowscale  one scale per ROW, rms(row)/target, instead of one per matrix (costs 32
 *             bits per row if stored; qrecord has no field for it);
 *   residout  the residual stage outside the feedback: LDLQ feeds back the error of the
 *             first E8P stage only and the second stage is added afterwards (QuIP#, and
 *             rz_ldlq_e8p, feed back the full RVQ error);
 *   nofb      no feedback at all (nearest rounding of each 8-block).
 *
 * Each variant's fake-quantised model is written as PREFIX-VARIANT.rzm (f32) for rz-ppl,
 * and its mean relative proxy loss (original basis, as rz-quantize's rel_loss_mean)
 * printed. pipeline/quant.mk target quant-e8p4 runs it; pipeline/quant.md has the table.
 *
 *   build/release/bench/exp_e8p4 MODEL HESSIANS BITS SEED PREFIX
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "exp_variants.h"
#include "e8p.h"
#include "ldlq.h"
#include "linalg.h"
#include "model_io.h"
#include "qlayer.h"
#include "rht.h"

enum { V_ROWSCALE, V_RESIDOUT, V_NOFB, NV };
static const char *const vname[NV] = {"rowscale", "residout", "nofb"};

/* residout's column quantiser: X ← first stage (what LDLQ feeds back), the second stage
 * kept aside in side[] (m × n) and added after the sweep. */
typedef struct {
    int bits, n;
    float *side;
} resid_ctx;

static void residout_q(void *vc, float *X, long ldx, int r0, int rows, int j, int b)
{
    resid_ctx *c = vc;
    float r = c->bits == 3 ? RZ_E8P_RVQ3_RSCALE : RZ_E8P_RVQ4_RSCALE;
    (void)b;
    for (int i = 0; i < rows; i++) {
        float x[8], q1[8], res[8], q2[8];
        memcpy(x, X + i * ldx, sizeof x);
        rz_e8p_encode(x, 1, NULL, q1);
        for (int a = 0; a < 8; a++) res[a] = (x[a] - q1[a]) * r;
        if (c->bits == 3) rz_e81b_encode(res, 1, NULL, q2);
        else rz_e8p_encode(res, 1, NULL, q2);
        for (int a = 0; a < 8; a++) {
            X[i * ldx + a] = q1[a];
            c->side[(long)(r0 + i) * c->n + j + a] = q2[a] / r;
        }
    }
}

typedef struct {
    int bits;
    uint64_t seed;
} e8p4_ctx;

/* W (rows × cols) ← Ŵ of variant v; returns the relative proxy loss, or −1. */
static double quantise(float *W, int rows, int cols, const double *H, int v, long item, void *vc, rz_err *e)
{
    const e8p4_ctx *ctx = vc;
    int bits = ctx->bits;
    uint64_t seed = ctx->seed;
    int pc = (cols + 7) / 8 * 8;
    size_t mn = (size_t)rows * pc;
    float *Wp = calloc(mn, sizeof *Wp), *Q = calloc(mn, sizeof *Q), *Wh = malloc(sizeof(float) * rows * cols);
    float *side = calloc(mn, sizeof *side), *rs = malloc(sizeof(float) * rows);
    double *Hp = calloc((size_t)pc * pc, sizeof *Hp), rel = -1, loss;
    rz_rht U = {0}, V = {0};
    rz_ldl f = {0};
    uint64_t su, sv;
    if (!Wp || !Q || !Wh || !side || !rs || !Hp) goto done;
    for (int r = 0; r < rows; r++) memcpy(Wp + (size_t)r * pc, W + (size_t)r * cols, sizeof(float) * cols);
    for (int r = 0; r < cols; r++) memcpy(Hp + (size_t)r * pc, H + (size_t)r * cols, sizeof(double) * cols);
    rz_qlayer_seeds(seed, item, &su, &sv);
    if (rz_rht_init(&U, rows, su, e) || rz_rht_init(&V, pc, sv, e) || rz_rht_cols(&U, Wp, pc, pc, 0, e) ||
        rz_rht_rows(&V, Wp, rows, pc, 0, e) || rz_rht_cols_d(&V, Hp, pc, pc, 0, e) ||
        rz_rht_rows_d(&V, Hp, pc, pc, 0, e) || rz_ldl_factor(Hp, pc, 8, 0, &f, e))
        goto done;
    float target = bits == 2 ? 0.9f : rz_e8p_opt_scale(bits), ws;
    if (v == V_RESIDOUT) {
        double ss = 0;
        for (size_t k = 0; k < mn; k++) ss += (double)Wp[k] * Wp[k];
        float s = (float)(sqrt(ss / (double)mn) / target);
        for (size_t k = 0; k < mn; k++) Q[k] = Wp[k] / s;
        resid_ctx c = {bits, pc, side};
        if (rz_ldlq(Q, rows, pc, pc, &f, 8, 0, residout_q, &c, e)) goto done;
        for (size_t k = 0; k < mn; k++) Q[k] = (Q[k] + side[k]) * s;
    } else {
        /* rowscale: each row to unit RMS first, so the matrix scale is 1/target for all */
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int c = 0; c < pc; c++) ss += (double)Wp[(size_t)r * pc + c] * Wp[(size_t)r * pc + c];
            rs[r] = v == V_ROWSCALE && ss > 0 ? (float)sqrt(ss / pc) : 1.0f;
            for (int c = 0; c < pc; c++) Wp[(size_t)r * pc + c] /= rs[r];
        }
        if (rz_ldlq_e8p(Wp, rows, pc, v == V_NOFB ? NULL : &f, bits, target, 0, Q, NULL, &ws, e)) goto done;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < pc; c++) Q[(size_t)r * pc + c] *= rs[r];
    }
    if (rz_rht_cols(&U, Q, pc, pc, 1, e) || rz_rht_rows(&V, Q, rows, pc, 1, e)) goto done;
    for (int r = 0; r < rows; r++) memcpy(Wh + (size_t)r * cols, Q + (size_t)r * pc, sizeof(float) * cols);
    if (rz_proxy_loss(W, Wh, rows, cols, H, &loss, &rel, e)) rel = -1;
    else memcpy(W, Wh, sizeof(float) * rows * cols);
done:
    rz_ldl_free(&f);
    rz_rht_free(&U);
    rz_rht_free(&V);
    free(Wp), free(Q), free(Wh), free(side), free(rs), free(Hp);
    return rel;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: exp_e8p4 MODEL HESSIANS BITS SEED PREFIX\n");
        return 2;
    }
    e8p4_ctx c = {atoi(argv[3]), strtoull(argv[4], NULL, 10)};
    if (c.bits < 3 || c.bits > 4) {
        fprintf(stderr, "exp_e8p4: BITS must be 3 or 4\n");
        return 2;
    }
    rz_linalg_threads(0);
    char what[64];
    snprintf(what, sizeof what, "e8p %d-bit seed %llu", c.bits, (unsigned long long)c.seed);
    return exp_run_variants("exp_e8p4", argv[1], argv[2], NV, vname, vname, what, quantise, &c, argv[5]);
}
