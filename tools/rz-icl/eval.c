/* rz-icl eval — label scoring, optional contextual calibration, accuracy and macro-F1
 * with bootstrap CIs (tools/core/icl/metrics.h). Under mpirun the prompts are split in
 * blocks over the ranks and the per-item results gathered in item order, so every number
 * is the one a single process prints (rz-serve's scores do not depend on who asks). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "icl_cli.h"
#include "metrics.h"

typedef struct {
    long n;
    long *test;
    int *gold, *shots;
    long *tokens;
    char **text, **cf;
} prompts;

static void read_prompts(icl_args *a, const rz_icl_task *t, prompts *p)
{
    rz_err e = {0};
    rz_reader *r;
    if (rz_reader_open(a->prompts, &a->c.stream, &r, &e)) icl_die(a, &e);
    long cap = 0;
    memset(p, 0, sizeof *p);
    for (;;) {
        const msgpack_object *rec;
        rz_rec_ctx ctx;
        if (rz_reader_next(r, &rec, &ctx, &e)) icl_die(a, &e);
        if (!rec) break;
        if (strcmp(ctx.type, "icl_prompt")) continue;
        rz_icl_prompt_rec pr;
        if (rz_icl_prompt_decode(rec, &ctx, &pr, &e)) icl_die(a, &e);
        if (pr.gold >= t->n_labels) {
            rz_rec_fail(&e, &ctx, "gold", "label %d is not one of the task's %d labels", pr.gold, t->n_labels);
            icl_die(a, &e);
        }
        if (p->n == cap) {
            cap = cap ? 2 * cap : 256;
            p->test = realloc(p->test, (size_t)cap * sizeof *p->test);
            p->gold = realloc(p->gold, (size_t)cap * sizeof *p->gold);
            p->shots = realloc(p->shots, (size_t)cap * sizeof *p->shots);
            p->tokens = realloc(p->tokens, (size_t)cap * sizeof *p->tokens);
            p->text = realloc(p->text, (size_t)cap * sizeof *p->text);
            p->cf = realloc(p->cf, (size_t)cap * sizeof *p->cf);
            if (!p->test || !p->gold || !p->shots || !p->tokens || !p->text || !p->cf) {
                rz_fail(&e, RZ_EINTERNAL, "out of memory");
                icl_die(a, &e);
            }
        }
        p->test[p->n] = pr.test;
        p->gold[p->n] = pr.gold;
        p->shots[p->n] = pr.shots;
        p->tokens[p->n] = pr.tokens;
        p->text[p->n] = strndup(pr.text, pr.text_n);
        p->cf[p->n] = strndup(pr.cf_text, pr.cf_n);
        p->n++;
    }
    rz_reader_close(r);
    if (p->n == 0) {
        rz_fail(&e, RZ_EINPUT, "%s: no icl_prompt records", a->prompts);
        icl_die(a, &e);
    }
}

int icl_eval(icl_args *a)
{
    rz_err e = {0};
    rz_icl_task t;
    icl_task(a, &t);
    if (!a->prompts) rz_cli_usage_error(&a->c, "--prompts LOC is required");
    rz_cli_need_file_under_mpi(&a->c, "--prompts", a->prompts);
    prompts p;
    read_prompts(a, &t, &p);
    rz_client *cl = icl_server(a, NULL, NULL);
    int L = t.n_labels, width = 2 + 2 * L; /* pred, gold, logp[L], logp_cf[L] */
    long lo, hi;
    rz_cluster_block(p.n, rz_cluster_rank(), rz_cluster_size(), &lo, &hi);
    long *idx = malloc((size_t)(hi - lo + 1) * sizeof *idx);
    double *vals = calloc((size_t)(hi - lo + 1) * (size_t)width, sizeof *vals);
    double *all = malloc((size_t)p.n * (size_t)width * sizeof *all);
    double *cf_last = malloc((size_t)L * sizeof *cf_last), *q = malloc((size_t)L * sizeof *q);
    if (!idx || !vals || !all || !cf_last || !q) {
        rz_fail(&e, RZ_EINTERNAL, "out of memory");
        icl_die(a, &e);
    }
    const char *cf_text = NULL;
    double t0 = rz_now();
    for (long i = lo; i < hi; i++) {
        double *v = vals + (size_t)(i - lo) * width, *logp = v + 2, *logp_cf = v + 2 + L;
        idx[i - lo] = i;
        if (rz_client_score(cl, p.text[i], (const char *const *)t.verbal, L, logp, NULL, &e)) icl_die(a, &e);
        if (a->calibrate) {
            /* a shared demonstration set gives the same content-free prompt: score it once */
            if (!cf_text || strcmp(cf_text, p.cf[i])) {
                if (rz_client_score(cl, p.cf[i], (const char *const *)t.verbal, L, cf_last, NULL, &e)) icl_die(a, &e);
                cf_text = p.cf[i];
            }
            memcpy(logp_cf, cf_last, (size_t)L * sizeof *logp_cf);
        }
        v[0] = rz_icl_calibrate(logp, a->calibrate ? logp_cf : NULL, L, q);
        v[1] = p.gold[i];
        rz_cli_progress(&a->c, 0, "scored %ld/%ld prompts (rank 0's block)", i - lo + 1, hi - lo);
    }
    if (rz_cluster_gather_items(p.n, width, idx, vals, hi - lo, all, &e)) icl_die(a, &e);
    double secs = rz_now() - t0;
    if (rz_cluster_rank() == 0) {
        int *gold = malloc((size_t)p.n * sizeof *gold), *pred = malloc((size_t)p.n * sizeof *pred);
        long count[RZ_ICL_MAX_LABELS] = {0};
        double shots = 0, toks = 0;
        for (long i = 0; i < p.n; i++) {
            pred[i] = (int)all[(size_t)i * width];
            gold[i] = (int)all[(size_t)i * width + 1];
            count[gold[i]]++;
            shots += p.shots[i];
            toks += (double)p.tokens[i];
        }
        long maj = 0;
        for (int c = 0; c < L; c++) maj = count[c] > maj ? count[c] : maj;
        double acc = rz_icl_accuracy(gold, pred, p.n), f1 = rz_icl_macro_f1(gold, pred, p.n, L), ci[4];
        rz_icl_bootstrap(gold, pred, p.n, L, a->bootstrap, a->c.seed, ci);
        if (a->c.output) {
            rz_writer *w = icl_writer(a);
            for (long i = 0; i < p.n; i++) {
                const double *v = all + (size_t)i * width;
                rz_icl_pred_pack(rz_writer_packer(w), p.test[i], gold[i], pred[i], L, v + 2,
                                 a->calibrate ? v + 2 + L : NULL, p.shots[i]);
                icl_emit(a, w);
            }
            icl_close(a, w);
        }
        if (!a->c.json)
            printf("accuracy %.4f [%.4f, %.4f]  macro-F1 %.4f [%.4f, %.4f]  (%ld items, %.1f shots, %.0f tokens on "
                   "average; chance %.4f, majority %.4f%s)\n",
                   acc, ci[0], ci[1], f1, ci[2], ci[3], p.n, shots / p.n, toks / p.n, 1.0 / L, (double)maj / p.n,
                   a->calibrate ? "; calibrated" : "");
        msgpack_packer *pk = rz_report_begin(&a->c, 14);
        rz_rec_int(pk, "items", p.n);
        rz_rec_f64(pk, "accuracy", acc);
        rz_rec_f64(pk, "accuracy_lo", ci[0]);
        rz_rec_f64(pk, "accuracy_hi", ci[1]);
        rz_rec_f64(pk, "macro_f1", f1);
        rz_rec_f64(pk, "macro_f1_lo", ci[2]);
        rz_rec_f64(pk, "macro_f1_hi", ci[3]);
        rz_rec_f64(pk, "chance", 1.0 / L);
        rz_rec_f64(pk, "majority", (double)maj / p.n);
        rz_rec_f64(pk, "shots_mean", shots / p.n);
        rz_rec_f64(pk, "tokens_mean", toks / p.n);
        rz_rec_bool(pk, "calibrated", a->calibrate);
        rz_rec_int(pk, "ranks", rz_cluster_size());
        rz_rec_f64(pk, "seconds", secs);
        if (rz_report_finish(&a->c, &e)) icl_die(a, &e);
        free(gold);
        free(pred);
    }
    for (long i = 0; i < p.n; i++) free(p.text[i]), free(p.cf[i]);
    free(p.text), free(p.cf), free(p.test), free(p.gold), free(p.shots), free(p.tokens);
    free(idx), free(vals), free(all), free(cf_last), free(q);
    rz_client_close(cl);
    rz_icl_task_free(&t);
    return 0;
}
