/* rz-lowrank — CALDERA: fit every linear layer of a model as W ≈ Q + L·R with its
 * calibration Hessian (tools/core/quant/caldera.h) and write one "qlayer" record per layer,
 * v2 with L and R (schemas/quant.md), for rz-pack.
 *
 * Design. The Hessians are rz-calibrate's stream, checked against the model by hash,
 * order and count (as rz-quantize). E8P needs a multiple of 8 inputs: W gets zero columns
 * and H zero rows/columns (qlayer.h's padding); the fit runs on the padded matrix, the
 * record keeps pcols and the reader crops. Incoherence seeds: seed_u from
 * rz_qlayer_seeds(--seed, layer index), seed_v = seed_u + 1 (rz_caldera's U, V).
 * Per-matrix settings: --set 'PATTERN:key=value,...' with keys rank, outer, inner, bits,
 * lr-bits; PATTERN is an fnmatch(3) glob tried against the full tensor name
 * (layers.3.attention.wq.weight) and against the name after "layers.N."
 * (attention.wq.weight); later --set options override earlier ones.
 *
 * --budget BPW: every matrix gets a curve c(k) over the candidate ranks and the ranks
 * minimising Σ c_i(k_i) under the budget (bits of the linears over their weights) are
 * chosen exactly (rz_rank_knapsack, rank_alloc.h), then the full fits run. Each
 * candidate's bits are that matrix's own: Q as stored (codes, scales, zero points,
 * seeds) plus k rank steps of L, R (rz_qlayer_lr_step_bits: lr_bits per entry, and for
 * grid codes one scale and zero point per vector or group), which is what its record
 * will count; the achieved bpw (from the records) equals the allocation's figure.
 * The curve (--objective):
 *   kl     (default with -f) the MEASURED end-loss change: the mean KL divergence of the
 *          model's next-token distribution from the float model's, over --probe-windows
 *          windows of --probe-ctx tokens of the calibration text -f, with this matrix
 *          alone replaced by its fit Q + L R at rank k (all others float; distill.h's
 *          probe). It is invariant under the model's exact symmetries (wq·a with wk/a,
 *          wv·a with wo/a, w3·a with w2/a), unlike the proxy below, and it sees each
 *          matrix's effect on the output rather than on its own layer.
 *   proxy  tr(ΔW H ΔWᵀ) of the fit, absolute (the old objective: it scales with a² under
 *          those symmetries, so it gives ranks to whichever of wq/wk is larger).
 * Both fit each candidate with --curve-outer outer iterations (default: --outer, the
 * fits the final model gets). Σ c_i(k_i) is reported as the allocation's prediction.
 * --curve-seeds S1,S2,…: the candidate fits are made once per quantiser seed (the seeds
 * the final fits get from --seed Sk) and the curve is the mean over the seeds of each
 * seed's own change (kl: that seed's fits in the baseline too; proxy: the mean loss), so
 * that the choice follows the rank's effect rather than one seed's rounding errors; the
 * final fits still use --seed. --monotone: every curve is replaced by its non-increasing
 * least-squares fit in rank (rz_rank_monotone) before each knapsack; the report's curves
 * are the ones the knapsack used (refitting a fitted curve changes nothing).
 *
 * Under mpirun the matrices are handed out dynamically (curves, then fits); records,
 * per-matrix tables and figures are gathered to rank 0 and written in model order.
 *
 * Defaults = CALDERA's reference run (caldera.h): --inner 50, --h-reg 0.01, --downdate 1,
 * --tune-iters 10, --target-rms 1.03 (E8P's opt_scale, as alg.py), --scale-search 0.
 * rizz's earlier scheme is --inner 5 --h-reg 0 --downdate 0 --tune-iters 0
 * --target-rms 0.9 (pipeline/caldera.md's ablation).
 */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "cli.h"
#include "cluster.h"
#include "model_io.h"
#include "qlayer.h"
#include "caldera.h"
#include "corpus.h"
#include "distill.h"
#include "ldlq.h"
#include "qflags.h"
#include "e8p.h"
#include "rank_alloc.h"
#include "readfile.h"

static const rz_cli_tool tool = {
    .name = "rz-lowrank",
    .summary = "CALDERA: every linear layer as a quantised matrix plus a low-rank pair",
    .usage = "rz-lowrank -m MODEL -H HESSIANS [--rank K | --budget BPW] [options] [-o LAYERS]\n",
    .about = "Fits every linear layer (wq wk wv wo w1 w2 w3 of each block) of MODEL as W = Q + L R\n"
             "(CALDERA: Q quantised, L, R a low-rank pair) under the Hessians of rz-calibrate and\n"
             "writes one \"qlayer\" record per layer with L and R (for rz-pack).\n"
             "Prints per matrix the objective tr(E H E^T) after the LR and the Q step of every outer\n"
             "iteration (-q: nothing), then per-matrix totals and a summary line.\n"
             "Defaults follow CALDERA's reference run: --inner 50, --h-reg 0.01, --downdate 1,\n"
             "--tune-iters 10, --target-rms 1.03, --scale-search 0.\n",
    .examples = "rz-lowrank -m stories260K.bin -H h.rzs --rank 8 --incoherence -o lr.q && rz-pack -m stories260K.bin lr.q -o m.rzm\n"
                "rz-lowrank -m m.bin -H h.rzs --set 'attention.*:rank=4' --set 'feed_forward.*:rank=8' -o lr.q\n"
                "mpirun -np 2 rz-lowrank -m m.bin -H h.rzs --budget 2.5 --lr-bits 16 -o lr.q\n"
                "rz-lowrank -m m.bin -H h.rzs -z tok.bin -f calib.txt --budget 2.95 --candidates 0,2,4,8,16,32 --incoherence -o lr.q\n",
    .report = "q_method, bits, lr_bits, incoherence, layers, loss, rel_loss_total, rel_loss_mean, bpw_linears, "
              "budget, ranks_chosen, seconds, ranks, outer, fake, inner, h_reg, downdate, target_rms, tune_iters, "
              "scale_search, objective, predicted, curves, model_hash, kl_baselines, kl_measured, curve_seeds, monotone",
    .output_help = "the layer records (or the .rzm with --fake)",
};

/* one --set: a pattern and the settings it gives (-1 = unset) */
typedef struct {
    char pattern[RZ_MAX_NAME];
    int rank, outer, inner, bits, lr_bits;
} setting;

enum { MAX_SETS = 64, MAX_CANDS = 32, MAX_CSEEDS = 16 };

static void parse_set(const rz_cli *c, const char *arg, setting *s)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof s->pattern)
        rz_cli_usage_error(c, "--set '%s': expected PATTERN:key=value,...", arg);
    memcpy(s->pattern, arg, (size_t)(colon - arg));
    s->pattern[colon - arg] = 0;
    s->rank = s->outer = s->inner = s->bits = s->lr_bits = -1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", colon + 1);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) rz_cli_usage_error(c, "--set '%s': '%s' is not key=value", arg, kv);
        *eq = 0;
        const char *v = eq + 1;
        if (strcmp(kv, "rank") == 0) s->rank = (int)rz_cli_int(c, "--set rank", v, 0, RZ_QUANT_MAX_DIM);
        else if (strcmp(kv, "outer") == 0) s->outer = (int)rz_cli_int(c, "--set outer", v, 1, 1000);
        else if (strcmp(kv, "inner") == 0) s->inner = (int)rz_cli_int(c, "--set inner", v, 0, 1000);
        else if (strcmp(kv, "bits") == 0) s->bits = (int)rz_cli_int(c, "--set bits", v, 2, 8);
        else if (strcmp(kv, "lr-bits") == 0 || strcmp(kv, "lr_bits") == 0) s->lr_bits = (int)rz_cli_int(c, "--set lr-bits", v, 2, 32);
        else rz_cli_usage_error(c, "--set '%s': unknown key '%s' (rank, outer, inner, bits, lr-bits)", arg, kv);
    }
}

/* the --set options given so far */
typedef struct {
    setting *sets;
    int n;
} setting_list;

static void opt_set(rz_cli *c, const char *arg, void *list)
{
    setting_list *l = list;
    if (l->n == MAX_SETS) rz_cli_usage_error(c, "at most %d --set options", MAX_SETS);
    parse_set(c, arg, &l->sets[l->n++]);
}

/* name without its "layers.N." prefix */
static const char *short_name(const char *name)
{
    if (strncmp(name, "layers.", 7) != 0) return name;
    const char *p = strchr(name + 7, '.');
    return p ? p + 1 : name;
}

/* One matrix's settings after the --set overrides. */
typedef struct {
    int rows, cols, pcols, layer, group;
    int rank, outer, inner, bits, lr_bits;
    char name[RZ_MAX_NAME];
    float *W;
} matrix;

/* W padded to pc columns and H to pc × pc (zeros), malloc'd. */
static int pad(const matrix *x, const double *H, float **Wp, double **Hp, rz_err *e)
{
    int r = x->rows, n = x->cols, pc = x->pcols;
    *Wp = rz_calloc((size_t)r * (size_t)pc, sizeof **Wp, e);
    *Hp = rz_calloc((size_t)pc * (size_t)pc, sizeof **Hp, e);
    if (!*Wp || !*Hp) return RZ_EINTERNAL;
    for (int i = 0; i < r; i++) memcpy(*Wp + (size_t)i * pc, x->W + (size_t)i * n, (size_t)n * sizeof(float));
    for (int i = 0; i < n; i++) memcpy(*Hp + (size_t)i * pc, H + (size_t)i * n, (size_t)n * sizeof(double));
    return RZ_OK;
}

/* Stored bits of Q (codes, scales, zero points, seeds), as a record counts them. */
static double q_bits(int qm, int bits, int group, int incoh, int rows, int pc)
{
    return rz_qlayer_q_bits(qm == RZ_CQ_E8P ? RZ_QM_E8P : RZ_QM_LDLQ, bits, rows, pc, group,
                            incoh ? RZ_INCOH_BOTH : RZ_INCOH_NONE);
}

/* What every matrix's fit shares. */
typedef struct {
    rz_cli *c;
    double **H; /* [layer·RZ_TAP_GROUPS + group] */
    const rz_caldera_opts *base;
    int svd, incoh, fake;
    const char *qmeth;
    uint64_t mhash;
    const uint64_t *cseeds; /* --curve-seeds: the quantiser seeds of the candidate fits */
    int ncs;                /* ≥ 1 */
    int monotone;           /* --monotone: each curve replaced by its non-increasing fit */
} fit_env;

/* The CALDERA options of matrix i: its settings over the shared ones, `outer` outer
 * iterations, its own seed from the quantiser seed `seed` (--seed for the final fits). */
static rz_caldera_opts matrix_opts(const fit_env *f, const matrix *x, long i, int outer, uint64_t seed)
{
    int mn = x->rows < x->cols ? x->rows : x->cols;
    rz_caldera_opts co = *f->base;
    co.q_bits = x->bits;
    co.lr_bits = x->lr_bits;
    co.outer = outer;
    co.inner = x->inner;
    co.svd = f->svd >= 0 ? f->svd : mn <= 1024 ? RZ_SVD_EXACT : RZ_SVD_RANDOM;
    uint64_t su, sv;
    rz_qlayer_seeds(seed, i, &su, &sv);
    co.seed = su;
    return co;
}

enum { NS = 6 }; /* per-matrix figures: loss, ref, payload bits, rank, seconds, best outer */

/* Fits matrix i (index i in model order): its record (with fake: the dense Q + L R,
 * cropped) into *blob, its convergence table into *text, its figures into st[NS]. */
static void fit_matrix(const fit_env *f, const matrix *x, long i, void **blob, size_t *len, void **text, size_t *tlen,
                       double *st)
{
    rz_err ebuf = {0}, *e = &ebuf;
    rz_caldera_opts co = matrix_opts(f, x, i, x->outer, f->c->seed);
    const double *Hx = f->H[x->layer * RZ_TAP_GROUPS + x->group];
    float *Wp;
    double *Hp;
    rz_caldera fitr;
    memset(&fitr, 0, sizeof fitr);
    double ts = rz_now();
    if (pad(x, Hx, &Wp, &Hp, e) || rz_caldera_fit(Wp, Hp, x->rows, x->pcols, x->rank, &co, &fitr, e)) {
        rz_wrap(e, "%s", x->name);
        rz_cli_die(f->c, e);
    }
    rz_qlayer ql;
    memset(&ql, 0, sizeof ql);
    if (f->fake) { /* the fit's own Q + L R, cropped: the blob is the dense matrix */
        float *D = rz_malloc((size_t)x->rows * (size_t)x->pcols * sizeof *D, e);
        float *Wh = rz_malloc((size_t)x->rows * (size_t)x->cols * sizeof *Wh, e);
        if (!D || !Wh || rz_caldera_dense(&fitr, D, e)) rz_cli_die(f->c, e);
        for (int r = 0; r < x->rows; r++)
            memcpy(Wh + (size_t)r * x->cols, D + (size_t)r * x->pcols, (size_t)x->cols * sizeof *Wh);
        free(D);
        if (rz_proxy_loss(x->W, Wh, x->rows, x->cols, Hx, &ql.v.loss, &ql.v.rel_loss, e)) rz_cli_die(f->c, e);
        *blob = Wh;
        *len = (size_t)x->rows * (size_t)x->cols * sizeof *Wh;
        ql.v.rank = x->rank;
    } else {
        if (rz_qlayer_from_caldera(x->name, &fitr, x->rows, x->cols, x->W, Hx, f->mhash, &ql, e)) rz_cli_die(f->c, e);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        rz_qlayer_pack(&pk, &ql.v);
        *len = sb.size;
        *blob = msgpack_sbuffer_release(&sb);
    }
    double sec = rz_now() - ts;
    /* the convergence table of this matrix: f after the LR and the Q step of every
     * outer iteration */
    char *tb = NULL;
    size_t tl = 0;
    FILE *tf = open_memstream(&tb, &tl);
    if (!tf) {
        rz_fail(e, RZ_EINTERNAL, "out of memory");
        rz_cli_die(f->c, e);
    }
    double ref = fitr.ref > 0 ? fitr.ref : 1.0;
    fprintf(tf, "%s  %dx%d  rank %d  Q %s %d-bit  L,R %d-bit%s\n", x->name, x->rows, x->cols, x->rank, f->qmeth, x->bits,
            x->lr_bits, f->incoh ? "  incoherent" : "");
    fprintf(tf, "  %5s %13s %13s %10s %8s\n", "outer", "f after LR", "f after Q", "rel", "sec");
    for (int t = 0; t < fitr.n_trace;) {
        int ot = fitr.trace[t].outer;
        double flr = NAN, fq = NAN, s = 0;
        for (; t < fitr.n_trace && fitr.trace[t].outer == ot; t++) {
            const rz_caldera_trace *tr = &fitr.trace[t];
            s += tr->sec;
            if (tr->step == RZ_CSTEP_Q) fq = tr->obj;
            else flr = tr->obj;
        }
        fprintf(tf, "  %5d %13.6g %13.6g %10.6f %8.3f\n", ot, flr, fq, (isnan(fq) ? flr : fq) / ref, s);
    }
    fprintf(tf, "  best: outer %d, f %.6g, rel %.6f; record: loss %.6g, rel %.6f\n", fitr.best_outer, fitr.obj,
            fitr.obj / ref, ql.v.loss, ql.v.rel_loss);
    fclose(tf);
    *text = tb;
    *tlen = tl;
    st[0] = ql.v.loss;
    st[1] = ql.v.rel_loss > 0 ? ql.v.loss / ql.v.rel_loss : 0;
    st[2] = f->fake ? 0 : rz_qlayer_payload_bits(&ql.v);
    st[3] = x->rank;
    st[4] = sec;
    st[5] = fitr.best_outer;
    if (!f->fake) rz_qlayer_free(&ql);
    rz_caldera_free(&fitr);
    free(Wp);
    free(Hp);
}

/* Rank 0: the per-matrix convergence tables (texts, in model order) and the per-matrix
 * totals table to tf (NULL: none); the sums of loss, reference, relative loss and payload
 * bits over the matrices (all: N × NS figures). */
static void summarise(FILE *tf, const matrix *mx, long N, void *const *texts, const size_t *tlens, const double *all,
                      double *loss, double *ref, double *rel, double *pbits)
{
    for (long i = 0; i < N; i++) {
        if (tf) fwrite(texts[i], 1, tlens[i], tf);
        const double *s = all + i * NS;
        *loss += s[0];
        *ref += s[1];
        *rel += s[1] > 0 ? s[0] / s[1] : 0;
        *pbits += s[2];
    }
    if (!tf) return;
    fprintf(tf, "\n%-34s %9s %5s %12s %10s %7s %7s\n", "layer", "shape", "rank", "proxy_loss", "rel_loss", "bpw", "sec");
    for (long i = 0; i < N; i++) {
        const double *s = all + i * NS;
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%d", mx[i].rows, mx[i].cols);
        fprintf(tf, "%-34s %9s %5d %12.5g %10.6f %7.3f %7.2f\n", mx[i].name, shape, (int)s[3], s[0],
                s[1] > 0 ? s[0] / s[1] : 0, s[2] / ((double)mx[i].rows * mx[i].cols), s[4]);
    }
}

/* The candidate ranks of matrix x (its own --set rank, or the --candidates that fit). */
static int matrix_cands(const matrix *x, const int *cands, int ncands, int *rk)
{
    int nr = 0, mn = x->rows < x->cols ? x->rows : x->cols;
    if (x->rank >= 0) rk[nr++] = x->rank;
    else
        for (int t = 0; t < ncands; t++)
            if (cands[t] <= mn) rk[nr++] = cands[t];
    return nr;
}

/* Matrix i's candidate fits over rk[nr] for every curve seed s (f->cseeds: the matrix's
 * own seeds from each, as a final fit with --seed cseeds[s] gets them), with `outer`
 * outer iterations: proxy[j] = the fits' tr(ΔW H ΔWᵀ), mean over the seeds, and, when
 * dense is not NULL, *dense = the fits' Q + L R cropped to rows × cols, ncs·nr of them
 * back to back (block s·nr + j). */
static void matrix_curve(const fit_env *f, const matrix *x, long i, const int *rk, int nr, int outer, double *proxy,
                         float **dense)
{
    rz_err e = {0};
    float *Wp, *D = NULL;
    double *Hp;
    size_t mn = (size_t)x->rows * x->cols;
    if (pad(x, f->H[x->layer * RZ_TAP_GROUPS + x->group], &Wp, &Hp, &e)) rz_cli_die(f->c, &e);
    if (dense && (!(D = rz_malloc(sizeof *D * (size_t)x->rows * x->pcols, &e)) ||
                  !(*dense = rz_malloc(sizeof **dense * mn * (size_t)nr * (size_t)f->ncs, &e))))
        rz_cli_die(f->c, &e);
    for (int j = 0; j < nr; j++) proxy[j] = 0;
    for (int s = 0; s < f->ncs; s++) {
        rz_caldera_opts co = matrix_opts(f, x, i, outer, f->cseeds[s]);
        for (int j = 0; j < nr; j++) {
            rz_caldera fit;
            int rc = rz_caldera_fit(Wp, Hp, x->rows, x->pcols, rk[j], &co, &fit, &e);
            proxy[j] += fit.obj / f->ncs;
            size_t blk = (size_t)s * nr + (size_t)j;
            if (!rc && dense) {
                rc = rz_caldera_dense(&fit, D, &e);
                for (int r = 0; !rc && r < x->rows; r++)
                    memcpy(*dense + mn * blk + (size_t)r * x->cols, D + (size_t)r * x->pcols, sizeof *D * (size_t)x->cols);
            }
            rz_caldera_free(&fit);
            if (rc) {
                rz_wrap(&e, "%s: fit at rank %d (curve seed %llu)", x->name, rk[j], (unsigned long long)f->cseeds[s]);
                rz_cli_die(f->c, &e);
            }
        }
    }
    free(Wp), free(Hp), free(D);
}

/* --objective kl: how the curves are measured. */
typedef struct {
    rz_kl_probe *probe; /* over pm, a float copy of the model (the teacher: its distribution) */
    rz_llama *pm;
    int base;           /* baseline of the other matrices: < 0 float, else the candidate rank ≤ base */
    int rounds;         /* rounds ≥ 2 re-measure around the previous round's allocation */
    double *measured;   /* [rounds + 1] (rank 0, measured curves only): the probe KL of each
                         * round's baseline, then of the final allocation, means over the
                         * curve seeds (with --curve-seeds = --seed, the default, the last is
                         * the model the fits write: the final fits are the candidate fits) */
} kl_env;

/* Sets matrix i of the probe's model to block b of dense[i] (b < 0: the float W). */
static void probe_set(const kl_env *k, const matrix *x, long i, float *const *dense, int b)
{
    char name[RZ_MAX_NAME];
    float *W;
    int r, c, l, g;
    rz_llama_linear(k->pm, i, name, sizeof name, &W, &r, &c, &l, &g);
    size_t mn = (size_t)x->rows * x->cols;
    memcpy(W, b < 0 ? x->W : dense[i] + mn * b, sizeof *W * mn);
}

/* Each curve replaced by its non-increasing least-squares fit in rank (--monotone). */
static void curves_monotone(double *curves, const int *cand_n, long N)
{
    for (long i = 0; i < N; i++) rz_rank_monotone(curves + i * MAX_CANDS, cand_n[i], curves + i * MAX_CANDS);
}

/* Rank 0, --objective kl: the curves and the allocation ch of each round. With curve
 * seeds s = 0 … S−1 (f->cseeds; dense[i] holds S·cand_n[i] fits, block s·cand_n[i] + j):
 *     curves[i·MAX_CANDS + j] = (1/S) Σ_s (KL_s(matrix i at candidate j, every other at
 *                               the baseline) − KL_s(baseline)),
 * KL_s with seed s's fits everywhere: the first-order change around the baseline,
 * averaged over the quantiser seeds, so that no seed's particular rounding errors decide
 * a rank; with --monotone then fitted non-increasing in rank (rz_rank_monotone).
 * *predicted = mean baseline KL + Σ the chosen changes. */
static void kl_rounds(const fit_env *f, const kl_env *k, const matrix *mx, long N, float *const *dense,
                      const int *rkall, const int *cand_n, rz_rank_choice *items, double budget_bits, int *ch,
                      double *curves, double *got, double *predicted)
{
    rz_err e = {0};
    int *base_of = rz_calloc((size_t)N, sizeof *base_of, &e);
    if (!base_of) rz_cli_die(f->c, &e);
    for (int round = 0; round < k->rounds; round++) {
        for (long i = 0; i < N; i++) { /* the baseline's candidate of every matrix */
            int b = -1;
            for (int j = 0; round == 0 && k->base >= 0 && j < cand_n[i]; j++)
                if (rkall[i * MAX_CANDS + j] <= k->base) b = j;
            base_of[i] = round ? ch[i] : b;
            for (int j = 0; j < cand_n[i]; j++) curves[i * MAX_CANDS + j] = 0;
        }
        double kl0m = 0;
        for (int s = 0; s < f->ncs; s++) {
            for (long i = 0; i < N; i++) probe_set(k, &mx[i], i, dense, base_of[i] < 0 ? -1 : s * cand_n[i] + base_of[i]);
            double kl0;
            if (rz_kl_probe_model(k->probe, &kl0, &e)) rz_cli_die(f->c, &e);
            kl0m += kl0 / f->ncs;
            for (long i = 0; i < N; i++) {
                for (int j = 0; j < cand_n[i]; j++) {
                    double v = kl0; /* the baseline's own candidate: no evaluation needed */
                    size_t mn = (size_t)mx[i].rows * mx[i].cols, blk = (size_t)s * cand_n[i] + (size_t)j;
                    if (j != base_of[i] && rz_kl_probe_swap(k->probe, i, dense[i] + mn * blk, &v, &e))
                        rz_cli_die(f->c, &e);
                    curves[i * MAX_CANDS + j] += (v - kl0) / f->ncs;
                }
                rz_cli_progress(f->c, 0, "KL round %d, curve seed %d of %d: curve of %s done", round + 1, s + 1, f->ncs,
                                mx[i].name);
            }
        }
        if (f->monotone) curves_monotone(curves, cand_n, N);
        if (rz_rank_knapsack(items, (int)N, budget_bits, 0, ch, got, predicted, &e)) rz_cli_die(f->c, &e);
        *predicted += kl0m;
        rz_cli_progress(f->c, 1, "KL round %d: baseline KL %.5f, predicted KL of the allocation %.5f", round + 1, kl0m,
                        *predicted);
        k->measured[round] = kl0m;
    }
    k->measured[k->rounds] = 0; /* the allocation itself, measured with every curve seed's fits */
    for (int s = 0; s < f->ncs; s++) {
        double v;
        for (long i = 0; i < N; i++) probe_set(k, &mx[i], i, dense, s * cand_n[i] + ch[i]);
        if (rz_kl_probe_model(k->probe, &v, &e)) rz_cli_die(f->c, &e);
        k->measured[k->rounds] += v / f->ncs;
    }
    rz_cli_progress(f->c, 1, "KL of the allocation: predicted %.5f, measured %.5f", *predicted, k->measured[k->rounds]);
    free(base_of);
}

/* --budget: every matrix's candidate fits (the ranks of the job share the matrices), then
 * on rank 0 the curves (proxy: the fits' proxy losses; kl: kl_rounds) and the exact
 * allocation (rz_rank_knapsack over each candidate's own bits), broadcast into mx[].rank;
 * chosen lists the ranks, *budget_bpw the allocation's bits per weight, *predicted its
 * prediction, curves_out[N·MAX_CANDS] the curves (rank 0) at the ranks
 * cand_rk[N·MAX_CANDS] (cand_n[N] of each). have_curves: curves_out came from --curves. */
static void budget_ranks(const fit_env *f, matrix *mx, long N, const int *cands, int ncands, int lr_group, int group,
                         int qm, double budget, double weights, const kl_env *kl, int curve_outer, long *idx,
                         char *chosen, size_t cap, double *budget_bpw, double *predicted, double *curves_out,
                         int *cand_rk, int *cand_n, int have_curves)
{
    rz_err e = {0};
    int crank = rz_cluster_rank(), incoh = f->incoh;
    long nloc = 0;
    double *curves = rz_calloc((size_t)N * MAX_CANDS, sizeof *curves, &e);
    void **dl = rz_calloc((size_t)N, sizeof *dl, &e), **dense = rz_calloc((size_t)N, sizeof *dense, &e);
    size_t *ll = rz_calloc((size_t)N, sizeof *ll, &e), *lens = rz_calloc((size_t)N, sizeof *lens, &e);
    if (!curves || !dl || !dense || !ll || !lens) rz_cli_die(f->c, &e);
    rz_cluster_dynamic_begin(have_curves ? 0 : N); /* --curves: measured before, read in main */
    for (long i; !have_curves && (i = rz_cluster_dynamic_next()) >= 0;) {
        matrix *x = &mx[i];
        int rk[MAX_CANDS], nr = matrix_cands(x, cands, ncands, rk);
        matrix_curve(f, x, i, rk, nr, curve_outer > 0 ? curve_outer : x->outer, curves + nloc * MAX_CANDS,
                     kl ? (float **)&dl[nloc] : NULL);
        ll[nloc] = kl ? sizeof(float) * (size_t)x->rows * x->cols * (size_t)nr * (size_t)f->ncs : 0;
        idx[nloc++] = i;
        rz_cli_progress(f->c, 0, "rank %d: fits of %s done", crank, x->name);
    }
    rz_cluster_dynamic_end();
    if (!have_curves && (rz_cluster_gather_items(N, MAX_CANDS, idx, curves, nloc, curves_out, &e) ||
                         (kl && rz_cluster_gather_blobs(N, idx, dl, ll, nloc, dense, lens, &e))))
        rz_cli_die(f->c, &e);
    int *ranks_out = rz_calloc((size_t)N, sizeof *ranks_out, &e);
    if (!ranks_out) rz_cli_die(f->c, &e);
    if (crank == 0) {
        rz_rank_choice *items = rz_calloc((size_t)N, sizeof *items, &e);
        int *rkall = rz_calloc((size_t)N * MAX_CANDS, sizeof *rkall, &e), *ch = rz_calloc((size_t)N, sizeof *ch, &e);
        double *bits = rz_calloc((size_t)N * MAX_CANDS, sizeof *bits, &e), got = 0;
        if (!items || !rkall || !ch || !bits) rz_cli_die(f->c, &e);
        for (long i = 0; i < N; i++) {
            matrix *x = &mx[i];
            int *rk = rkall + i * MAX_CANDS, nr = matrix_cands(x, cands, ncands, rk);
            if (have_curves && (nr != cand_n[i] || memcmp(rk, cand_rk + i * MAX_CANDS, sizeof *rk * (size_t)nr))) {
                rz_fail(&e, RZ_EINPUT, "--curves: curve %ld (%s) was measured at other ranks than --candidates gives it",
                        i, x->name);
                rz_cli_die(f->c, &e);
            }
            double qb = q_bits(qm, x->bits, group, incoh, x->rows, x->pcols);
            double step = rz_qlayer_lr_step_bits(x->lr_bits, x->rows, x->pcols, lr_group);
            for (int j = 0; j < nr; j++) bits[i * MAX_CANDS + j] = qb + rk[j] * step;
            memcpy(cand_rk + i * MAX_CANDS, rk, sizeof *rk * (size_t)nr);
            cand_n[i] = nr;
            items[i].ncand = nr;
            items[i].bits = bits + i * MAX_CANDS;
            items[i].cost = curves_out + i * MAX_CANDS;
        }
        if (kl && !have_curves)
            kl_rounds(f, kl, mx, N, (float *const *)dense, rkall, cand_n, items, budget * weights, ch, curves_out, &got,
                      predicted);
        else {
            if (f->monotone) curves_monotone(curves_out, cand_n, N); /* proxy or --curves (idempotent) */
            if (rz_rank_knapsack(items, (int)N, budget * weights, 0, ch, &got, predicted, &e)) rz_cli_die(f->c, &e);
        }
        for (long i = 0; i < N; i++) ranks_out[i] = rkall[i * MAX_CANDS + ch[i]];
        *budget_bpw = got / weights;
        free(items), free(rkall), free(ch), free(bits);
    }
    rz_cluster_bcast(ranks_out, (size_t)N * sizeof *ranks_out);
    for (long i = 0; i < N; i++) {
        mx[i].rank = ranks_out[i];
        size_t l = strlen(chosen);
        if (l + 16 < cap) snprintf(chosen + l, cap - l, "%s%d", i ? "," : "", ranks_out[i]);
    }
    for (long i = 0; i < N; i++) free(dl[i]), free(dense[i]);
    free(ranks_out), free(curves), free(dl), free(dense), free(ll), free(lens);
}

/* --budget's inputs: the curves of an earlier report (--curves: into cand_rk, curves,
 * cand_n) or, for --objective kl, the float copy of the model and the probe of its
 * distribution on the first windows of the calibration text (rank 0; k->probe NULL on
 * the others). */
static void budget_curves_in(rz_cli *c, const char *curves_in, const char *text, const char *tokenizer,
                             const char *model, uint64_t mhash, int use_kl, long N, int windows, int ctx,
                             int *cand_rk, double *curves, int *cand_n, kl_env *k)
{
    rz_err e = {0};
    if (curves_in) { /* measured before: read, checked against this model */
        char *buf;
        size_t len;
        if (rz_read_file(curves_in, &buf, &len, &e) ||
            rz_rank_curves_parse(buf, len, use_kl ? "kl" : "proxy", mhash, (int)N, MAX_CANDS, cand_rk, curves, cand_n,
                                 &e)) {
            rz_wrap(&e, "%s", curves_in);
            rz_cli_die(c, &e);
        }
        free(buf);
    } else if (use_kl) {
        int *ids;
        size_t nt;
        if (rz_model_load(model, &c->stream, &k->pm, &e) ||
            rz_corpus_load_bcast(NULL, &c->stream, text, tokenizer, k->pm->config.vocab_size, model,
                                 (size_t)windows * ctx + 1, 0, NULL, &ids, &nt, &e) ||
            (rz_cluster_rank() == 0 && rz_kl_probe_new(k->pm, ids, nt, windows, ctx, 4, &k->probe, &e)))
            rz_cli_die(c, &e);
        free(ids);
    }
}

/* The --budget fields of the report: objective, prediction, per matrix [rank, value] of
 * every candidate. */
static void report_curves(msgpack_packer *pk, double budget, int use_kl, double predicted, long N,
                          const int *cand_rk, const double *curves, const int *cand_n)
{
    rz_rec_str(pk, "objective", budget > 0 ? (use_kl ? "kl" : "proxy") : "");
    rz_rec_f64(pk, "predicted", predicted);
    rz_rec_key(pk, "curves");
    msgpack_pack_array(pk, budget > 0 ? (size_t)N : 0);
    for (long i = 0; budget > 0 && i < N; i++) {
        msgpack_pack_array(pk, (size_t)cand_n[i]);
        for (int j = 0; j < cand_n[i]; j++) {
            msgpack_pack_array(pk, 2);
            msgpack_pack_int(pk, cand_rk[i * MAX_CANDS + j]);
            msgpack_pack_double(pk, curves[i * MAX_CANDS + j]);
        }
    }
}

/* --objective: 1 for the measured KL (the default with -f or --curves), 0 for the proxy. */
static int use_kl_objective(rz_cli *c, const char *objective, const char *text, const char *tokenizer,
                            const char *curves_in, int curve_outer, double budget)
{
    int use_kl = objective ? strcmp(objective, "kl") == 0 : text != NULL;
    if (objective && !use_kl && strcmp(objective, "proxy") != 0)
        rz_cli_usage_error(c, "--objective: expected kl or proxy, not '%s'", objective);
    if (curves_in && !objective) use_kl = 1;
    if (use_kl && !curves_in && (!text || !tokenizer))
        rz_cli_usage_error(c, "--objective kl needs -f TEXT and -z TOKENIZER (or --curves)");
    if (!use_kl && text) rz_cli_usage_error(c, "-f is only used by --objective kl");
    if ((objective || curve_outer || curves_in) && budget <= 0)
        rz_cli_usage_error(c, "--objective, --curves and --curve-outer need --budget");
    return use_kl;
}

/* --curve-seeds: quantiser seeds into cs[MAX_CSEEDS] (none given: --seed alone), text
 * (comma-separated, for the report) into buf[cap]; returns their number. */
static int parse_curve_seeds(rz_cli *c, const char *arg, uint64_t *cs, char *buf, size_t cap)
{
    int n = 0;
    long long v[MAX_CSEEDS];
    buf[0] = 0;
    if (!arg) cs[n++] = c->seed;
    else {
        n = rz_cli_ints(c, "--curve-seeds", arg, 0, 1LL << 62, v, MAX_CSEEDS);
        for (int i = 0; i < n; i++) {
            cs[i] = (uint64_t)v[i];
            for (int j = 0; j < i; j++)
                if (v[j] == v[i]) rz_cli_usage_error(c, "--curve-seeds: seed %lld given twice", v[i]);
        }
    }
    for (int j = 0; j < n; j++) {
        size_t l = strlen(buf);
        snprintf(buf + l, cap - l, "%s%llu", j ? "," : "", (unsigned long long)cs[j]);
    }
    return n;
}

/* --svd: exact, random or unset (-1: by size). */
static int parse_svd(rz_cli *c, const char *svd_arg)
{
    if (!svd_arg) return -1;
    if (strcmp(svd_arg, "exact") == 0) return RZ_SVD_EXACT;
    if (strcmp(svd_arg, "random") == 0) return RZ_SVD_RANDOM;
    rz_cli_usage_error(c, "--svd: expected exact or random, not '%s'", svd_arg);
    return -1;
}

/* --candidates: increasing ranks into cands[MAX_CANDS]; returns their number. */
static int parse_candidates(rz_cli *c, const char *arg, int *cands)
{
    long long v[MAX_CANDS];
    int n = rz_cli_ints(c, "--candidates", arg, 0, RZ_QUANT_MAX_DIM, v, MAX_CANDS);
    for (int i = 0; i < n; i++) {
        cands[i] = (int)v[i];
        if (i && cands[i] <= cands[i - 1]) rz_cli_usage_error(c, "--candidates must increase");
    }
    return n;
}

/* The CALDERA options every matrix shares (the reference's defaults, then the flags). */
static rz_caldera_opts base_opts(int qm, int group, int incoh, int bf16, int lr_group, double damp, double h_reg,
                                 int lr_e8p, int downdate, const rz_e8p_opts *eo)
{
    rz_caldera_opts base;
    rz_caldera_defaults(&base);
    base.q_method = qm;
    base.q_group = group;
    base.incoherent = incoh;
    base.lr_bf16 = bf16;
    base.lr_group = lr_group;
    if (damp > 0) base.damp = damp;
    base.h_reg = h_reg;
    base.lr_e8p = lr_e8p;
    base.q_downdate = downdate;
    base.q_target_rms = eo->target_rms;
    base.q_tune_iters = eo->tune_iters;
    base.q_scale_search = eo->scale_search;
    return base;
}

int main(int argc, char **argv)
{
    rz_cluster_init(&argc, &argv);
    rz_cli c;
    const char *model = NULL, *hess = NULL, *qmeth = "e8p", *cands_arg = "0,1,2,4,8,16,32,64,128,256", *svd_arg = NULL;
    const char *tokenizer = NULL, *text = NULL, *objective = NULL, *curves_in = NULL, *cseeds_arg = NULL;
    int rank = 16, lr_bits = 4, bf16 = 0, lr_group = 0, bits = 2, group = 0, outer = 20, inner = 50;
    int incoh = 0, fake = 0, downdate = 1, lr_e8p = 0, monotone = 0;
    double budget = 0, damp = 0, h_reg = 0.01;
    rz_e8p_opts eo = {0, 0.0f, 10, 0, 0}; /* target 0: E8P's opt_scale for --bits (1.03 at 2) */
    rz_opt qflags[RZ_QFLAGS_N + 1];
    rz_qflags_table(qflags, &eo);
    int probe_windows = 8, probe_ctx = 256, curve_outer = 0, kl_base = -1, kl_rounds_n = 1;
    static setting sets[MAX_SETS];
    setting_list set_list = {sets, 0};
    rz_opt opts[] = {
        RZ_O_STR("model", 'm', "LOC", model, "model (.bin or .rzm)"),
        RZ_O_STR("hessians", 'H', "LOC", hess, "Hessian stream from rz-calibrate for this model"),
        RZ_O_INT("rank", 'k', "K", rank, 0, RZ_QUANT_MAX_DIM, "rank of L R for every matrix (default 16; 0 = Q alone)"),
        RZ_O_F64("budget", 0, "BPW", budget, 1e-6, 64, "choose the ranks so the linears take at most BPW bits per weight"),
        RZ_O_STR("candidates", 0, "LIST", cands_arg,
                 "ranks --budget may choose (default 0,1,2,4,8,16,32,64,128,256;\n"
                 "those above min(rows, cols) of a matrix are dropped)"),
        RZ_O_STR("objective", 0, "kl|proxy", objective,
                 "--budget's curve per matrix and rank: kl (measured KL from the\n"
                 "float model with that matrix alone quantised, on -f; default\n"
                 "with -f) or proxy (tr(dW H dW^T); default without -f)"),
        RZ_O_STR("tokenizer", 'z', "F", tokenizer, "--objective kl: tokenizer of -f"),
        RZ_O_STR("file", 'f', "TEXT", text, "--objective kl: calibration text"),
        RZ_O_INT("probe-windows", 0, "N", probe_windows, 1, 1 << 20, "--objective kl: windows of -f (default 8)"),
        RZ_O_INT("probe-ctx", 0, "T", probe_ctx, 2, 1 << 20, "--objective kl: tokens per window (default 256)"),
        RZ_O_STR("curves", 0, "REPORT", curves_in,
                 "--budget: take the curves from the --json report of an earlier\n"
                 "--budget run on this model (same --objective, --candidates)\n"
                 "instead of measuring them again"),
        RZ_O_INT("kl-base", 0, "K", kl_base, 0, RZ_QUANT_MAX_DIM, "--objective kl: the others at candidate rank <= K (default float)"),
        RZ_O_INT("kl-rounds", 0, "N", kl_rounds_n, 1, 100, "--objective kl: re-measure around each allocation (default 1)"),
        RZ_O_INT("curve-outer", 0, "N", curve_outer, 1, 1000, "--budget: outer iterations of each curve fit (default --outer)"),
        RZ_O_STR("curve-seeds", 0, "LIST", cseeds_arg,
                 "--budget: measure the curves with the candidate fits of each\n"
                 "quantiser seed of LIST (comma-separated) and average them\n"
                 "(default: --seed alone; the final fits use --seed)"),
        RZ_O_FLAG("monotone", 0, monotone,
                  "--budget: replace each curve by its non-increasing least-squares\n"
                  "fit in rank (isotonic) before choosing, in every round"),
        RZ_O_INT("lr-bits", 0, "B", lr_bits, 2, 32, "L and R storage: 4 (grid codes, default; 2, 3, 8 too), 16, 32"),
        RZ_O_FLAG("bf16", 0, bf16, "with --lr-bits 16: bf16 instead of fp16"),
        RZ_O_FLAG("lr-e8p", 0, lr_e8p,
                  "L and R with E8P-RVQ (--lr-bits 2, 3, 4) and one RMS scale per\n"
                  "matrix, as CALDERA's reference; no record format yet: --fake only"),
        RZ_O_INT("lr-group", 0, "G", lr_group, 0, RZ_QUANT_MAX_DIM, "grid L/R: entries per scale group (default 0 = one per vector)"),
        RZ_O_STR("q-method", 0, "M", qmeth, "e8p (default; QuIP#'s E8P in block LDLQ) or ldlq (GPTQ grid)"),
        RZ_O_INT("bits", 'b', "B", bits, 2, 8, "Q bits: e8p 2, 3, 4; ldlq 2, 3, 4, 8 (default 2)"),
        RZ_O_INT("group", 'g', "G", group, 0, RZ_QUANT_MAX_DIM, "ldlq Q: columns per scale group (default 0 = one per row)"),
        RZ_O_INT("outer", 0, "N", outer, 1, 1000, "outer iterations (default 20)"),
        RZ_O_INT("inner", 0, "N", inner, 0, 1000, "L/R iterations per outer one (default 50, CALDERA's run script)"),
        RZ_O_FLAG("incoherence", 0, incoh, "random Hadamard transforms of W and H first (as QuIP#)"),
        RZ_O_STR("svd", 0, "exact|random", svd_arg, "LR initialisation (default: exact when min(m, n) <= 1024)"),
        RZ_O_F64("h-reg", 0, "F", h_reg, 0, 1e3,
                 "H + F mean(diag H) I in every step: init, L/R updates, objective,\n"
                 "LDLQ (default 0.01, CALDERA); 0: undamped H except --damp below"),
        RZ_O_F64("damp", 0, "F", damp, 1e-9, 1e3, "--h-reg 0 only: H damping for the LDL and Cholesky factors (default 0.01)"),
        RZ_O_INT("downdate", 0, "0|1", downdate, 0, 1,
                 "Q's LDLQ under H - H R^T (R H R^T)^-1 R H, the Hessian without the\n"
                 "directions L R refits (CALDERA's Q_hessian_downdate; default 1)"),
        RZ_O_TABLE(qflags),
        RZ_O_FN("set", 0, "'PATTERN:key=value,...'", opt_set, &set_list,
                "per-matrix settings; keys rank, outer, inner,\n"
                "bits, lr-bits; PATTERN is an fnmatch glob against the full name\n"
                "(layers.0.attention.wq.weight) or the name after \"layers.N.\"\n"
                "(attention.wq.weight); later --set options win"),
        RZ_O_FLAG("fake", 0, fake, "write a float32 .rzm of the fits' own Q + L R instead"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    int rank_set = rz_cli_opt(opts, "rank")->seen > 0, nsets = set_list.n;
    if (first < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[first]);
    rz_cli_threads(&c);
    if (!model || !hess) rz_cli_usage_error(&c, "-m MODEL and -H HESSIANS are required");
    c.output = rz_cli_records_out(&c);
    if (budget > 0 && rank_set) rz_cli_usage_error(&c, "give --rank or --budget, not both");
    if (lr_e8p && !fake) rz_cli_usage_error(&c, "--lr-e8p: no layer record holds E8P L/R yet; add --fake");
    int use_kl = use_kl_objective(&c, objective, text, tokenizer, curves_in, curve_outer, budget);
    int qm = strcmp(qmeth, "e8p") == 0 ? RZ_CQ_E8P : strcmp(qmeth, "ldlq") == 0 ? RZ_CQ_LDLQ : -1;
    if (qm < 0) rz_cli_usage_error(&c, "--q-method: unknown method '%s' (expected e8p or ldlq)", qmeth);
    if (qm == RZ_CQ_E8P && group) rz_cli_usage_error(&c, "--group does not apply to e8p (one scale per matrix)");
    int svd = parse_svd(&c, svd_arg);
    int cands[MAX_CANDS], ncands = parse_candidates(&c, cands_arg, cands);
    if ((cseeds_arg || monotone) && budget <= 0) rz_cli_usage_error(&c, "--curve-seeds and --monotone need --budget");
    if (cseeds_arg && curves_in) rz_cli_usage_error(&c, "--curve-seeds: the curves of --curves were measured before");
    uint64_t cseeds[MAX_CSEEDS];
    char cseeds_txt[MAX_CSEEDS * 21 + 1];
    int ncs = parse_curve_seeds(&c, cseeds_arg, cseeds, cseeds_txt, sizeof cseeds_txt);
    rz_cli_need_file_under_mpi(&c, "model", model);
    rz_cli_need_file_under_mpi(&c, "Hessians", hess);
    rz_err e = {0};
    int crank = rz_cluster_rank();

    rz_llama *m;
    uint64_t mhash;
    double **H;
    if (rz_quant_inputs_load(model, hess, &c.stream, &m, &mhash, &H, &e)) rz_cli_die(&c, &e);
    const rz_llama_config *cfg = &m->config;
    int ng = cfg->n_layers * RZ_TAP_GROUPS;

    /* per-matrix settings, validated before any work */
    long N = 7L * cfg->n_layers;
    matrix *mx = rz_calloc((size_t)N, sizeof *mx, &e);
    if (!mx) rz_cli_die(&c, &e);
    double q_total = 0, weights = 0;
    for (long i = 0; i < N; i++) {
        matrix *x = &mx[i];
        rz_llama_linear(m, i, x->name, sizeof x->name, &x->W, &x->rows, &x->cols, &x->layer, &x->group);
        x->pcols = qm == RZ_CQ_E8P ? (x->cols + 7) / 8 * 8 : x->cols;
        x->outer = outer;
        x->inner = inner;
        x->bits = bits;
        x->lr_bits = lr_bits;
        x->rank = budget > 0 ? -1 : rank; /* -1: chosen by the allocation */
        for (int s = 0; s < nsets; s++) {
            const setting *t = &sets[s];
            if (fnmatch(t->pattern, x->name, 0) != 0 && fnmatch(t->pattern, short_name(x->name), 0) != 0) continue;
            if (t->rank >= 0) x->rank = t->rank;
            if (t->outer >= 0) x->outer = t->outer;
            if (t->inner >= 0) x->inner = t->inner;
            if (t->bits >= 0) x->bits = t->bits;
            if (t->lr_bits >= 0) x->lr_bits = t->lr_bits;
        }
        int mn = x->rows < x->cols ? x->rows : x->cols;
        if (x->rank > mn)
            rz_cli_usage_error(&c, "%s: rank %d is larger than min(rows, cols) = min(%d, %d) = %d", x->name, x->rank, x->rows,
                               x->cols, mn);
        int qb = qm == RZ_CQ_E8P ? x->bits >= 2 && x->bits <= 4 : x->bits == 2 || x->bits == 3 || x->bits == 4 || x->bits == 8;
        if (!qb) rz_cli_usage_error(&c, "%s: --bits %d is out of range for %s (%s)", x->name, x->bits, qmeth, qm == RZ_CQ_E8P ? "2, 3 or 4" : "2, 3, 4 or 8");
        int lb = x->lr_bits;
        if (!(lb == 2 || lb == 3 || lb == 4 || lb == 8 || lb == 16 || lb == 32))
            rz_cli_usage_error(&c, "%s: --lr-bits %d is not 2, 3, 4, 8 (grid codes), 16 or 32", x->name, lb);
        if (lb <= 8 && x->inner < 1 && x->rank != 0)
            rz_cli_usage_error(&c, "%s: quantised L, R (%d bits) need --inner >= 1", x->name, lb);
        if (group > x->pcols) rz_cli_usage_error(&c, "--group %d is wider than %s's %d columns", group, x->name, x->pcols);
        q_total += q_bits(qm, x->bits, group, incoh, x->rows, x->pcols);
        weights += (double)x->rows * x->cols;
    }
    if (budget > 0 && budget < q_total / weights)
        rz_cli_usage_error(&c, "--budget %g bits per weight is below the %.4f that Q alone needs (%s %d-bit)", budget,
                           q_total / weights, qmeth, bits);

    rz_caldera_opts base = base_opts(qm, group, incoh, bf16, lr_group, damp, h_reg, lr_e8p, downdate, &eo);
    const fit_env fe = {&c, H, &base, svd, incoh, fake, qmeth, mhash, cseeds, ncs, monotone};
    double t0 = rz_now();
    long nloc = 0;
    long *idx = rz_malloc((size_t)N * sizeof *idx, &e);
    if (!idx) rz_cli_die(&c, &e);

    char chosen[4096] = "";
    double budget_bpw = 0, predicted = 0;
    double *curves = rz_calloc((size_t)N * MAX_CANDS, sizeof *curves, &e);
    int *cand_rk = rz_calloc((size_t)N * MAX_CANDS, sizeof *cand_rk, &e), *cand_n = rz_calloc((size_t)N, sizeof *cand_n, &e);
    double *kl_measured = rz_calloc((size_t)kl_rounds_n + 1, sizeof *kl_measured, &e);
    if (!curves || !cand_rk || !cand_n || !kl_measured) rz_cli_die(&c, &e);
    int have_measured = budget > 0 && use_kl && !curves_in;
    if (budget > 0) { /* --budget: the curves, then the allocation on rank 0, broadcast */
        kl_env k = {NULL, NULL, kl_base, kl_rounds_n, kl_measured};
        budget_curves_in(&c, curves_in, text, tokenizer, model, mhash, use_kl, N, probe_windows, probe_ctx, cand_rk,
                         curves, cand_n, &k);
        budget_ranks(&fe, mx, N, cands, ncands, lr_group, group, qm, budget, weights, use_kl ? &k : NULL, curve_outer,
                     idx, chosen,
                     sizeof chosen, &budget_bpw, &predicted, curves, cand_rk, cand_n, curves_in != NULL);
        rz_kl_probe_free(k.probe);
        rz_llama_free(k.pm);
    }

    /* ---- the fits --------------------------------------------------------------------- */
    void **blobs = rz_calloc((size_t)N, sizeof *blobs, &e), **texts = rz_calloc((size_t)N, sizeof *texts, &e);
    size_t *lens = rz_calloc((size_t)N, sizeof *lens, &e), *tlens = rz_calloc((size_t)N, sizeof *tlens, &e);
    void **blobs0 = rz_calloc((size_t)N, sizeof *blobs0, &e), **texts0 = rz_calloc((size_t)N, sizeof *texts0, &e);
    size_t *lens0 = rz_calloc((size_t)N, sizeof *lens0, &e), *tlens0 = rz_calloc((size_t)N, sizeof *tlens0, &e);
    double *stats = rz_calloc((size_t)N * NS, sizeof *stats, &e), *all = rz_calloc((size_t)N * NS, sizeof *all, &e);
    if (!blobs || !texts || !lens || !tlens || !blobs0 || !texts0 || !lens0 || !tlens0 || !stats || !all)
        rz_cli_die(&c, &e);
    rz_cluster_dynamic_begin(N);
    for (long i; (i = rz_cluster_dynamic_next()) >= 0;) {
        fit_matrix(&fe, &mx[i], i, &blobs[nloc], &lens[nloc], &texts[nloc], &tlens[nloc], stats + nloc * NS);
        idx[nloc] = i;
        nloc++;
        rz_cli_progress(&c, 0, "rank %d: %s done (%ld matrices so far)", crank, mx[i].name, nloc);
    }
    rz_cluster_dynamic_end();
    if (rz_cluster_gather_items(N, NS, idx, stats, nloc, all, &e) ||
        rz_cluster_gather_blobs(N, idx, blobs, lens, nloc, blobs0, lens0, &e) ||
        rz_cluster_gather_blobs(N, idx, texts, tlens, nloc, texts0, tlens0, &e))
        rz_cli_die(&c, &e);
    double secs = rz_now() - t0;

    if (crank == 0) {
        if (fake) {
            for (long i = 0; i < N; i++) memcpy(mx[i].W, blobs0[i], lens0[i]);
            if (rz_model_save_rzm(m, c.output, RZ_F32, &c.stream, &e)) rz_cli_die(&c, &e);
        } else {
            /* the records, packed by the ranks that computed them, in model order */
            if (rz_write_records(c.output, &c.stream, blobs0, lens0, N, &e)) rz_cli_die(&c, &e);
        }
        FILE *tf = c.quiet ? NULL : c.json || strcmp(c.output, "-") == 0 ? stderr : stdout;
        double loss = 0, ref = 0, rel = 0, pbits = 0;
        summarise(tf, mx, N, texts0, tlens0, all, &loss, &ref, &rel, &pbits);
        double bpw = pbits / weights;
        FILE *sf = rz_cli_text_out(&c, c.output);
        if (!c.json && sf) {
            fprintf(sf, "total: %ld matrices, proxy loss %.6g, total relative loss %.6f (mean %.6f)", N, loss,
                   ref > 0 ? loss / ref : 0, rel / N);
            if (!fake) fprintf(sf, ", %.4f bits per weight (linears: Q codes, scales, seeds + L, R and their scales)", bpw);
            fprintf(sf, ", %.2f s\n", secs);
            if (budget > 0)
                fprintf(sf, "budget %.4f bpw: ranks chosen %s; allocation %.4f bpw, achieved %.4f bpw; predicted %s %.6g\n",
                        budget, chosen, budget_bpw, bpw, use_kl ? "sum of per-matrix KLs" : "total proxy loss", predicted);
        }
        msgpack_packer *pk = rz_report_begin(&c, 29);
        rz_rec_str(pk, "q_method", qmeth);
        rz_rec_int(pk, "bits", bits);
        rz_rec_int(pk, "lr_bits", lr_bits);
        rz_rec_bool(pk, "incoherence", incoh);
        rz_rec_int(pk, "layers", N);
        rz_rec_f64(pk, "loss", loss);
        rz_rec_f64(pk, "rel_loss_total", ref > 0 ? loss / ref : 0);
        rz_rec_f64(pk, "rel_loss_mean", rel / N);
        rz_rec_f64(pk, "bpw_linears", fake ? 0 : bpw);
        rz_rec_f64(pk, "budget", budget);
        rz_rec_str(pk, "ranks_chosen", chosen);
        rz_rec_f64(pk, "seconds", secs);
        rz_rec_int(pk, "ranks", rz_cluster_size());
        rz_rec_int(pk, "outer", outer);
        rz_rec_bool(pk, "fake", fake);
        rz_rec_int(pk, "inner", inner);
        rz_rec_f64(pk, "h_reg", h_reg);
        rz_rec_int(pk, "downdate", downdate);
        rz_rec_f64(pk, "target_rms", qm != RZ_CQ_E8P ? 0.0 : eo.target_rms > 0 ? eo.target_rms : rz_e8p_opt_scale(bits));
        rz_rec_int(pk, "tune_iters", eo.tune_iters);
        rz_rec_int(pk, "scale_search", eo.scale_search);
        report_curves(pk, budget, use_kl, predicted, N, cand_rk, curves, cand_n);
        rz_rec_hex64(pk, "model_hash", mhash);
        rz_rec_key(pk, "kl_baselines");
        msgpack_pack_array(pk, have_measured ? (size_t)kl_rounds_n : 0);
        for (int r = 0; have_measured && r < kl_rounds_n; r++) msgpack_pack_double(pk, kl_measured[r]);
        rz_rec_f64(pk, "kl_measured", have_measured ? kl_measured[kl_rounds_n] : 0.0);
        rz_rec_str(pk, "curve_seeds", budget > 0 && !curves_in ? cseeds_txt : "");
        rz_rec_bool(pk, "monotone", monotone);
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    for (long i = 0; i < N; i++) {
        free(blobs[i]);
        free(blobs0[i]);
        free(texts[i]);
        free(texts0[i]);
    }
    for (int i = 0; i < ng; i++) free(H[i]);
    free(H), free(mx), free(idx), free(blobs), free(lens), free(texts), free(tlens);
    free(blobs0), free(lens0), free(texts0), free(tlens0), free(stats), free(all), free(curves), free(cand_rk), free(cand_n);
    free(kl_measured);
    rz_llama_free(m);
    rz_cluster_finalize();
    return 0;
}
