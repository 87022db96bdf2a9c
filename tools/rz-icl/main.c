/* rz-icl — in-context learning as composable steps over rz-serve (tools/core/icl/):
 * select demonstrations, pack many-shot prompts, evaluate by label scoring, add label
 * noise, generate + filter synthetic demonstrations, send raw requests. Records in
 * schemas/icl.md; the study that chains them is pipeline/icl.mk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "icl_cli.h"

static const rz_cli_tool tool = {
    .name = "rz-icl",
    .summary = "in-context learning as composable steps over a model served by rz-serve",
    .usage = "rz-icl COMMAND [options]\n",
    .about = "In-context learning over a model served by rz-serve (--server ENDPOINT).\n"
             "Commands:\n"
             "  select   choose demonstrations per test item -> icl_demos records\n"
             "           --pool F --test F --method random|relevance|bm25|diversity|curriculum|hard -k K\n"
             "           [--per-item] [--pool-max N] [--test-max N] [--server EP] [--layer L]\n"
             "  pack     build prompts under a token budget -> icl_prompt records (shots, tokens)\n"
             "           --pool F --test F --demos LOC -z TOKENIZER --budget TOKENS\n"
             "  eval     classify by label scoring; accuracy, macro-F1, bootstrap 95% CIs\n"
             "           --prompts LOC --server EP [--calibrate] [--bootstrap B]  (-o: icl_pred records)\n"
             "  noise    flip a fraction of demonstration labels (seeded) -> icl_demos records\n"
             "           --demos LOC --pool F --rate R\n"
             "  augment  generate synthetic examples from k real ones, keep those the model rates\n"
             "           --pool F --server EP -k K --generate N [--min-judge J] [--min-label-p P]\n"
             "           -o F (a pool file in --format); report generated/kept/duplicates\n"
             "  request  send JSON requests (one per line, stdin) to --server, print JSON replies\n",
    .examples = "rz-serve -m stories260K.bin -z tok512.bin -e ipc:///tmp/s --ctx 2048 --rope-ext dca &\n"
                "rz-icl select --task sst2 --pool stsa.binary.train --test stsa.binary.dev --method bm25 -k 64 -o d.rzs\n"
                "rz-icl pack --task sst2 --pool stsa.binary.train --test stsa.binary.dev --demos d.rzs \\\n"
                "       -z tok512.bin --budget 2048 -o p.rzs\n"
                "rz-icl eval --task sst2 --prompts p.rzs --server ipc:///tmp/s --calibrate --json\n"
                "mpirun -np 2 rz-icl eval --task sst2 --prompts p.rzs --server ipc:///tmp/s   # same numbers\n",
};

void icl_parse(icl_args *a, int argc, char **argv)
{
    rz_cli *c = &a->c;
    a->k = 8;
    a->bootstrap = 1000;
    a->layer = -1;
    a->min_judge = 3;
    a->min_label_p = -1; /* default: 1 / labels */
    a->temperature = 0.8;
    a->top_p = 0.95;
    a->gen_tokens = 48;
    rz_opt opts[] = {
        RZ_O_STR("task", 0, "T", a->task, "every command: sst2|trec (verbaliser, template, pool format)"),
        RZ_O_STR("verbalizer", 0, "'NAME=word,...'", a->verbalizer, "the label words"),
        RZ_O_STR("template", 0, "T", a->tmpl, "the prompt template, e.g. 'Text: {input}\\nLabel: {label}\\n\\n'"),
        RZ_O_STR("format", 0, "F", a->format, "pool file format: sst2|trec|tsv|jsonl"),
        RZ_O_STR("pool", 0, "F", a->pool, "the pool of labelled examples"),
        RZ_O_STR("test", 0, "F", a->test, "the test items"),
        RZ_O_STR("server", 0, "EP", a->server, "a running rz-serve's endpoint"),
        RZ_O_STR("demos", 0, "LOC", a->demos, "icl_demos records (select, noise)"),
        RZ_O_STR("prompts", 0, "LOC", a->prompts, "icl_prompt records (pack)"),
        RZ_O_STR("tokenizer", 'z', "F", a->tokenizer, "tokenizer file (pack): llama2.c, a GGUF or a tokenizer.json"),
        RZ_O_INT("k", 'k', "K", a->k, 1, 100000, "demonstrations (select) or real examples (augment) (default 8)"),
        RZ_O_STR("method", 0, "M", a->method, "select: random|relevance|bm25|diversity|curriculum|hard"),
        RZ_O_FLAG("per-item", 0, a->per_item, "select: demonstrations chosen per test item"),
        RZ_O_FLAG("calibrate", 0, a->calibrate, "eval: calibrate the label scores"),
        RZ_O_INT("bootstrap", 0, "B", a->bootstrap, 2, 1000000, "eval: bootstrap resamples for the CIs (default 1000)"),
        RZ_O_INT("pool-max", 0, "N", a->pool_max, 1, 10000000, "use at most N pool examples"),
        RZ_O_INT("test-max", 0, "N", a->test_max, 1, 10000000, "use at most N test items"),
        RZ_O_INT("layer", 0, "L", a->layer, -1, 65535, "select: embedding layer (default -1: the final normalised state;\nL: the residual stream entering layer L, schemas/serve.md)"),
        RZ_O_LONG("budget", 0, "TOKENS", a->budget, 1, 1L << 24, "pack: the prompt's token budget"),
        RZ_O_F64("rate", 0, "R", a->rate, 0, 0.5, "noise: fraction of labels flipped"),
        RZ_O_INT("generate", 0, "N", a->n_generate, 1, 1000000, "augment: synthetic examples to generate"),
        RZ_O_F64("min-judge", 0, "J", a->min_judge, 1, 5, "augment: keep examples the model rates at least J (default 3)"),
        RZ_O_F64("min-label-p", 0, "P", a->min_label_p, 0, 1, "augment: least label probability kept (default 1 / labels)"),
        RZ_O_F64("temp", 0, "T", a->temperature, 0, 10, "augment: sampling temperature (default 0.8)"),
        RZ_O_F64("top-p", 0, "P", a->top_p, 0.001, 1, "augment: nucleus mass (default 0.95)"),
        RZ_O_INT("gen-tokens", 0, "N", a->gen_tokens, 1, 4096, "augment: tokens per generated example (default 48)"),
        RZ_O_END};
    int first = rz_cli_parse(c, &tool, opts, argc, argv);
    if (first < argc) rz_cli_usage_error(c, "unexpected argument '%s'", argv[first]);
}

void icl_die(icl_args *a, rz_err *e)
{
    if (rz_cluster_size() > 1) {
        fprintf(stderr, "%s %s: %s\n", a->c.tool, a->cmd, e->msg);
        rz_cluster_abort(e->code ? e->code : 1);
    }
    rz_cli_die(&a->c, e);
}

void icl_task(icl_args *a, rz_icl_task *t)
{
    rz_err e = {0};
    memset(t, 0, sizeof *t);
    if (a->task && rz_icl_task_builtin(a->task, t, &e)) icl_die(a, &e);
    if (!a->task && (!a->verbalizer || !a->tmpl))
        rz_cli_usage_error(&a->c, "give --task sst2|trec, or --verbalizer and --template");
    if (a->verbalizer && rz_icl_task_set_verbalizer(t, a->verbalizer, &e)) icl_die(a, &e);
    if (a->tmpl && rz_icl_task_set_template(t, a->tmpl, &e)) icl_die(a, &e);
    if (!t->format[0]) snprintf(t->format, sizeof t->format, "tsv");
}

void icl_pool(icl_args *a, const char *path, const char *opt, const rz_icl_task *t, rz_icl_pool *p)
{
    rz_err e = {0};
    if (!path) rz_cli_usage_error(&a->c, "%s FILE is required", opt);
    if (rz_icl_pool_load(path, a->format, t, p, &e)) icl_die(a, &e);
}

rz_client *icl_server(icl_args *a, int *max_ctx, int *dim)
{
    rz_err e = {0};
    rz_client *cl;
    if (!a->server) rz_cli_usage_error(&a->c, "--server ENDPOINT (a running rz-serve) is required");
    if (rz_client_open(a->server, a->c.stream.timeout_s, &cl, max_ctx, dim, &e)) icl_die(a, &e);
    return cl;
}

rz_writer *icl_writer(icl_args *a)
{
    rz_err e = {0};
    rz_writer *w;
    if (rz_writer_open(a->c.output ? a->c.output : "-", &a->c.stream, &w, &e)) icl_die(a, &e);
    return w;
}

void icl_emit(icl_args *a, rz_writer *w)
{
    rz_err e = {0};
    if (rz_writer_emit(w, &e)) {
        rz_writer_abort(w, &e);
        icl_die(a, &e);
    }
}

int icl_next_demos(icl_args *a, rz_reader *r, rz_icl_demos *d, rz_rec_ctx *ctx)
{
    rz_err e = {0};
    for (;;) {
        const msgpack_object *rec;
        if (rz_reader_next(r, &rec, ctx, &e)) icl_die(a, &e);
        if (!rec) return 0;
        if (strcmp(ctx->type, "icl_demos")) continue;
        if (rz_icl_demos_decode(rec, ctx, d, &e)) icl_die(a, &e);
        return 1;
    }
}

void icl_close(icl_args *a, rz_writer *w)
{
    rz_err e = {0};
    if (rz_writer_close(w, &e)) icl_die(a, &e);
}

int main(int argc, char **argv)
{
    rz_cluster_init(&argc, &argv);
    static icl_args a;
    if (argc < 2 || argv[1][0] == '-') {
        /* --help / --version without a command */
        icl_parse(&a, argc, argv);
        rz_cli_usage_error(&a.c, "expected a command: select, pack, eval, noise, augment or request");
    }
    a.cmd = argv[1];
    icl_parse(&a, argc - 1, argv + 1);
    rz_cli_threads(&a.c);
    int rc;
    if (!strcmp(a.cmd, "select")) rc = icl_select(&a);
    else if (!strcmp(a.cmd, "pack")) rc = icl_pack(&a);
    else if (!strcmp(a.cmd, "eval")) rc = icl_eval(&a);
    else if (!strcmp(a.cmd, "noise")) rc = icl_noise(&a);
    else if (!strcmp(a.cmd, "augment")) rc = icl_augment(&a);
    else if (!strcmp(a.cmd, "request")) rc = icl_request(&a);
    else rz_cli_usage_error(&a.c, "unknown command '%s' (select, pack, eval, noise, augment, request)", a.cmd);
    rz_cluster_finalize();
    return rc;
}
