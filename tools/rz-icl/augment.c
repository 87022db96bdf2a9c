/* rz-icl augment — synthetic demonstrations from real ones, filtered by the model
 * (tools/core/icl/augment.h). For candidate g, the target label is g mod L; the prompt
 * is k real examples of that label (seeded sample) rendered with the template, then the
 * template's text before {input}; the model writes until a newline. Kept candidates
 * are written as a pool file in the task's format, ready to be appended to the real pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "icl_cli.h"
#include "record.h"

static uint64_t text_hash(const char *s) { return rz_checksum(RZ_CHECKSUM_INIT, s, strlen(s)); }

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

int icl_augment(icl_args *a)
{
    rz_err e = {0};
    rz_icl_task t;
    rz_icl_pool pool;
    icl_task(a, &t);
    icl_pool(a, a->pool, "--pool", &t, &pool);
    if (!a->n_generate || !a->c.output) rz_cli_usage_error(&a->c, "--generate N and -o FILE are required");
    rz_client *cl = icl_server(a, NULL, NULL);
    int L = t.n_labels;
    double min_p = a->min_label_p >= 0 ? a->min_label_p : 1.0 / L;
    /* real examples by label; hashes of the real texts for duplicates */
    long *of_label[RZ_ICL_MAX_LABELS] = {0}, n_of[RZ_ICL_MAX_LABELS] = {0};
    uint64_t *real = rz_calloc((size_t)pool.n, sizeof *real, &e), *seen = NULL;
    if (real) seen = rz_calloc((size_t)a->n_generate, sizeof *seen, &e);
    for (int c = 0; c < L && seen; c++)
        if (!(of_label[c] = rz_calloc((size_t)pool.n, sizeof **of_label, &e))) seen = NULL;
    if (!real || !seen) icl_die(a, &e);
    for (long i = 0; i < pool.n; i++) {
        char *s = strdup(pool.text[i]);
        if (!s) icl_die(a, (rz_fail(&e, RZ_EINTERNAL, "out of memory"), &e));
        rz_icl_norm_text(s);
        real[i] = text_hash(s);
        free(s);
        of_label[pool.label[i]][n_of[pool.label[i]]++] = i;
    }
    qsort(real, (size_t)pool.n, sizeof *real, cmp_u64);
    for (int c = 0; c < L; c++)
        if (n_of[c] < a->k) {
            rz_fail(&e, RZ_EINPUT, "%s: label '%s' has %ld examples, fewer than -k %d", pool.path, t.name[c], n_of[c],
                    a->k);
            icl_die(a, &e);
        }
    rz_outfile of;
    if (rz_outfile_open(&of, a->c.output, &e)) icl_die(a, &e);
    const char *digits[5] = {"1", "2", "3", "4", "5"};
    long invalid = 0, dups = 0, below = 0, kept = 0, n_seen = 0;
    double judge_sum = 0, p_sum = 0;
    for (int g = 0; g < a->n_generate; g++) {
        int c = g % L;
        uint64_t seed = a->c.seed * 0x9E3779B97F4A7C15ULL + (uint64_t)g;
        char *prompt = rz_icl_gen_prompt(&t, pool.text, of_label[c], n_of[c], a->k, c, seed), *text = NULL;
        if (!prompt) rz_fail(&e, RZ_EINTERNAL, "out of memory");
        if (!prompt || rz_client_generate(cl, prompt, a->gen_tokens, a->temperature, a->top_p, seed, "\n", &text, &e))
            icl_die(a, &e);
        free(prompt);
        rz_icl_cand cd = {1, 0, 0, 0};
        char *norm = strdup(text);
        if (!norm) icl_die(a, (rz_fail(&e, RZ_EINTERNAL, "out of memory"), &e));
        rz_icl_norm_text(norm);
        cd.valid = norm[0] && !strchr(text, '\n') && rz_icl_utf8_invalid(text, strlen(text)) < 0;
        if (cd.valid) {
            uint64_t h = text_hash(norm);
            cd.duplicate = bsearch(&h, real, (size_t)pool.n, sizeof h, cmp_u64) != NULL;
            for (long s = 0; s < n_seen && !cd.duplicate; s++) cd.duplicate = seen[s] == h;
            seen[n_seen++] = h;
        }
        if (cd.valid && !cd.duplicate) {
            double logp[RZ_ICL_MAX_LABELS], lj[5];
            char *q = rz_icl_render(&t, norm, -1), *judge = rz_icl_judge_prompt(&t, norm, c);
            if (!q || !judge) icl_die(a, (rz_fail(&e, RZ_EINTERNAL, "out of memory"), &e));
            if (rz_client_score(cl, q, (const char *const *)t.verbal, L, logp, NULL, &e) ||
                rz_client_score(cl, judge, digits, 5, lj, NULL, &e))
                icl_die(a, &e);
            cd.label_p = rz_icl_label_p(logp, L, c);
            cd.judge = rz_icl_judge_score(lj);
            judge_sum += cd.judge;
            p_sum += cd.label_p;
            free(q), free(judge);
        }
        if (rz_icl_keep(&cd, a->min_judge, min_p)) {
            rz_icl_pool_write(of.f, t.format, t.name[c], norm);
            kept++;
        } else {
            invalid += !cd.valid;
            dups += cd.valid && cd.duplicate;
            below += cd.valid && !cd.duplicate;
        }
        free(norm);
        free(text);
        rz_cli_progress(&a->c, 0, "generated %d/%d, kept %ld", g + 1, a->n_generate, kept);
    }
    if (rz_outfile_commit(&of, &e)) icl_die(a, &e);
    long scored = a->n_generate - invalid - dups;
    if (!a->c.quiet)
        fprintf(stderr, "rz-icl augment: generated %d, kept %ld; removed %ld duplicates, %ld empty/invalid, %ld below "
                "the thresholds (judge >= %g, p(label) >= %g)\n", a->n_generate, kept, dups, invalid, below,
                a->min_judge, min_p);
    msgpack_packer *pk = rz_report_begin(&a->c, 9);
    rz_rec_int(pk, "generated", a->n_generate);
    rz_rec_int(pk, "kept", kept);
    rz_rec_int(pk, "duplicates", dups);
    rz_rec_int(pk, "invalid", invalid);
    rz_rec_int(pk, "below_threshold", below);
    rz_rec_f64(pk, "min_judge", a->min_judge);
    rz_rec_f64(pk, "min_label_p", min_p);
    rz_rec_f64(pk, "judge_mean", scored ? judge_sum / scored : 0);
    rz_rec_f64(pk, "label_p_mean", scored ? p_sum / scored : 0);
    if (rz_report_finish(&a->c, &e)) icl_die(a, &e);
    for (int c = 0; c < L; c++) free(of_label[c]);
    free(real), free(seen);
    rz_client_close(cl);
    rz_icl_pool_free(&pool);
    rz_icl_task_free(&t);
    return 0;
}
