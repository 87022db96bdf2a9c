/* rz-icl — in-context learning as composable steps over rz-serve (tools/core/icl/):
 * select demonstrations, pack many-shot prompts, evaluate by label scoring, add label
 * noise, generate + filter synthetic demonstrations, send raw requests. Records in
 * schemas/icl.md; the study that chains them is pipeline/icl.mk. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "icl_cli.h"

static const char usage[] =
    "usage: rz-icl COMMAND [options]\n"
    "In-context learning over a model served by rz-serve (--server ENDPOINT).\n"
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
    "  request  send JSON requests (one per line, stdin) to --server, print JSON replies\n"
    "Task options (every command): --task sst2|trec (verbaliser, template, pool format),\n"
    "  --verbalizer 'NAME=word,...', --template 'Text: {input}\\nLabel: {label}\\n\\n',\n"
    "  --format sst2|trec|tsv|jsonl\n"
    "Examples:\n"
    "  rz-serve -m stories260K.bin -z tok512.bin -e ipc:///tmp/s --ctx 2048 --rope-ext dca &\n"
    "  rz-icl select --task sst2 --pool stsa.binary.train --test stsa.binary.dev --method bm25 -k 64 -o d.rzs\n"
    "  rz-icl pack --task sst2 --pool stsa.binary.train --test stsa.binary.dev --demos d.rzs \\\n"
    "         -z tok512.bin --budget 2048 -o p.rzs\n"
    "  rz-icl eval --task sst2 --prompts p.rzs --server ipc:///tmp/s --calibrate --json\n"
    "  mpirun -np 2 rz-icl eval --task sst2 --prompts p.rzs --server ipc:///tmp/s   # same numbers\n";

enum {
    OPT_TASK = RZ_OPT_TOOL_BASE, OPT_VERB, OPT_TMPL, OPT_FORMAT, OPT_POOL, OPT_TEST, OPT_SERVER, OPT_DEMOS,
    OPT_PROMPTS, OPT_METHOD, OPT_PER_ITEM, OPT_CALIB, OPT_BOOT, OPT_POOL_MAX, OPT_TEST_MAX, OPT_LAYER, OPT_BUDGET,
    OPT_RATE, OPT_GENERATE, OPT_MIN_JUDGE, OPT_MIN_LABEL_P, OPT_TEMP, OPT_TOPP, OPT_GEN_TOKENS
};

void icl_parse(icl_args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        RZ_CLI_LONGOPTS,
        {"task", required_argument, 0, OPT_TASK},
        {"verbalizer", required_argument, 0, OPT_VERB},
        {"template", required_argument, 0, OPT_TMPL},
        {"format", required_argument, 0, OPT_FORMAT},
        {"pool", required_argument, 0, OPT_POOL},
        {"test", required_argument, 0, OPT_TEST},
        {"server", required_argument, 0, OPT_SERVER},
        {"demos", required_argument, 0, OPT_DEMOS},
        {"prompts", required_argument, 0, OPT_PROMPTS},
        {"tokenizer", required_argument, 0, 'z'},
        {"method", required_argument, 0, OPT_METHOD},
        {"per-item", no_argument, 0, OPT_PER_ITEM},
        {"calibrate", no_argument, 0, OPT_CALIB},
        {"bootstrap", required_argument, 0, OPT_BOOT},
        {"pool-max", required_argument, 0, OPT_POOL_MAX},
        {"test-max", required_argument, 0, OPT_TEST_MAX},
        {"layer", required_argument, 0, OPT_LAYER},
        {"budget", required_argument, 0, OPT_BUDGET},
        {"rate", required_argument, 0, OPT_RATE},
        {"generate", required_argument, 0, OPT_GENERATE},
        {"min-judge", required_argument, 0, OPT_MIN_JUDGE},
        {"min-label-p", required_argument, 0, OPT_MIN_LABEL_P},
        {"temp", required_argument, 0, OPT_TEMP},
        {"top-p", required_argument, 0, OPT_TOPP},
        {"gen-tokens", required_argument, 0, OPT_GEN_TOKENS},
        {0, 0, 0, 0}};
    rz_cli *c = &a->c;
    a->k = 8;
    a->bootstrap = 1000;
    a->layer = -1;
    a->min_judge = 3;
    a->min_label_p = -1; /* default: 1 / labels */
    a->temperature = 0.8;
    a->top_p = 0.95;
    a->gen_tokens = 48;
    int o;
    while ((o = getopt_long(argc, argv, RZ_CLI_SHORTOPTS "z:k:", opts, NULL)) != -1) {
        if (rz_cli_common(c, o, optarg)) continue;
        switch (o) {
        case OPT_TASK: a->task = optarg; break;
        case OPT_VERB: a->verbalizer = optarg; break;
        case OPT_TMPL: a->tmpl = optarg; break;
        case OPT_FORMAT: a->format = optarg; break;
        case OPT_POOL: a->pool = optarg; break;
        case OPT_TEST: a->test = optarg; break;
        case OPT_SERVER: a->server = optarg; break;
        case OPT_DEMOS: a->demos = optarg; break;
        case OPT_PROMPTS: a->prompts = optarg; break;
        case 'z': a->tokenizer = optarg; break;
        case 'k': a->k = (int)rz_cli_int(c, "-k", optarg, 1, 100000); break;
        case OPT_METHOD: a->method = optarg; break;
        case OPT_PER_ITEM: a->per_item = 1; break;
        case OPT_CALIB: a->calibrate = 1; break;
        case OPT_BOOT: a->bootstrap = (int)rz_cli_int(c, "--bootstrap", optarg, 2, 1000000); break;
        case OPT_POOL_MAX: a->pool_max = (int)rz_cli_int(c, "--pool-max", optarg, 1, 10000000); break;
        case OPT_TEST_MAX: a->test_max = (int)rz_cli_int(c, "--test-max", optarg, 1, 10000000); break;
        case OPT_LAYER: a->layer = (int)rz_cli_int(c, "--layer", optarg, -1, 65535); break;
        case OPT_BUDGET: a->budget = rz_cli_int(c, "--budget", optarg, 1, 1L << 24); break;
        case OPT_RATE: a->rate = rz_cli_f64(c, "--rate", optarg, 0, 0.5); break;
        case OPT_GENERATE: a->n_generate = (int)rz_cli_int(c, "--generate", optarg, 1, 1000000); break;
        case OPT_MIN_JUDGE: a->min_judge = rz_cli_f64(c, "--min-judge", optarg, 1, 5); break;
        case OPT_MIN_LABEL_P: a->min_label_p = rz_cli_f64(c, "--min-label-p", optarg, 0, 1); break;
        case OPT_TEMP: a->temperature = rz_cli_f64(c, "--temp", optarg, 0, 10); break;
        case OPT_TOPP: a->top_p = rz_cli_f64(c, "--top-p", optarg, 0.001, 1); break;
        case OPT_GEN_TOKENS: a->gen_tokens = (int)rz_cli_int(c, "--gen-tokens", optarg, 1, 4096); break;
        default: rz_cli_usage_error(c, "unexpected option");
        }
    }
    if (optind < argc) rz_cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
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

void icl_close(icl_args *a, rz_writer *w)
{
    rz_err e = {0};
    if (rz_writer_close(w, &e)) icl_die(a, &e);
}

int main(int argc, char **argv)
{
    rz_cluster_init(&argc, &argv);
    static icl_args a;
    rz_cli_init(&a.c, "rz-icl", usage);
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
