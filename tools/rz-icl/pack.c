/* rz-icl pack — prompts under a token budget (tools/core/icl/pack.h). */
#include <stdlib.h>
#include <string.h>

#include "icl_cli.h"
#include "modelfile.h"
#include "pack.h"

static int count_tokens(void *ctx, const char *text, long *n, rz_err *e)
{
    int *ids;
    size_t k;
    if (rz_tokenizer_encode(ctx, text, strlen(text), 1, 0, &ids, &k, e)) return RZ_EINPUT;
    free(ids);
    *n = (long)k;
    return 0;
}

int icl_pack(icl_args *a)
{
    rz_err e = {0};
    rz_icl_task t;
    rz_icl_pool pool, test;
    icl_task(a, &t);
    icl_pool(a, a->pool, "--pool", &t, &pool);
    icl_pool(a, a->test, "--test", &t, &test);
    if (!a->demos || !a->tokenizer || !a->budget)
        rz_cli_usage_error(&a->c, "--demos LOC, -z TOKENIZER and --budget TOKENS are required");
    rz_tokenizer *tok;
    if (rz_tokenizer_open(a->tokenizer, NULL, &tok, NULL, &e)) icl_die(a, &e); /* llama2.c, GGUF or tokenizer.json */
    long label_tokens = 0;
    for (int c = 0; c < t.n_labels; c++) {
        int *ids;
        size_t k;
        if (rz_tokenizer_encode(tok, t.verbal[c], strlen(t.verbal[c]), 0, 0, &ids, &k, &e)) {
            rz_wrap(&e, "verbaliser '%s'", t.name[c]);
            icl_die(a, &e);
        }
        free(ids);
        if ((long)k > label_tokens) label_tokens = (long)k;
    }
    rz_reader *r;
    if (rz_reader_open(a->demos, &a->c.stream, &r, &e)) icl_die(a, &e);
    rz_writer *w = icl_writer(a);
    long n = 0, min_shots = -1, max_shots = 0, max_tokens = 0;
    double sum_shots = 0, sum_tokens = 0;
    rz_rec_ctx ctx;
    rz_icl_demos d;
    while (icl_next_demos(a, r, &d, &ctx)) {
        if (d.test >= test.n) {
            rz_rec_fail(&e, &ctx, "test", "%ld is not an item of %s (%ld items)", d.test, test.path, test.n);
            icl_die(a, &e);
        }
        char what[600];
        snprintf(what, sizeof what, "%s: test item %ld (line %ld)", rz_reader_source(r), d.test, d.test + 1);
        rz_icl_prompt p;
        if (rz_icl_pack(&t, &pool, d.demos, d.labels, d.n, test.text[d.test], a->budget, label_tokens,
                        count_tokens, tok, what, &p, &e))
            icl_die(a, &e);
        rz_icl_prompt_pack(rz_writer_packer(w), d.test, test.label[d.test], p.shots, p.tokens, p.text, p.cf_text);
        icl_emit(a, w);
        n++;
        sum_shots += p.shots;
        sum_tokens += (double)p.tokens;
        if (min_shots < 0 || p.shots < min_shots) min_shots = p.shots;
        if (p.shots > max_shots) max_shots = p.shots;
        if (p.tokens > max_tokens) max_tokens = p.tokens;
        rz_icl_prompt_free(&p);
        rz_icl_demos_free(&d);
        rz_cli_progress(&a->c, 0, "packed %ld prompts", n);
    }
    rz_reader_close(r);
    icl_close(a, w);
    if (!a->c.quiet)
        fprintf(stderr, "rz-icl pack: %ld prompts, %.1f shots (%ld..%ld) and %.0f tokens on average (max %ld, budget %ld)\n",
                n, n ? sum_shots / n : 0, min_shots < 0 ? 0 : min_shots, max_shots, n ? sum_tokens / n : 0, max_tokens,
                a->budget);
    msgpack_packer *pk = rz_report_begin(&a->c, 7);
    rz_rec_int(pk, "prompts", n);
    rz_rec_f64(pk, "shots_mean", n ? sum_shots / n : 0);
    rz_rec_int(pk, "shots_min", min_shots < 0 ? 0 : min_shots);
    rz_rec_int(pk, "shots_max", max_shots);
    rz_rec_f64(pk, "tokens_mean", n ? sum_tokens / n : 0);
    rz_rec_int(pk, "tokens_max", max_tokens);
    rz_rec_int(pk, "budget", a->budget);
    if (rz_report_finish(&a->c, &e)) icl_die(a, &e);
    rz_tokenizer_free(tok);
    rz_icl_pool_free(&pool);
    rz_icl_pool_free(&test);
    rz_icl_task_free(&t);
    return 0;
}
