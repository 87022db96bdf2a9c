/* rz-serve — one model as a service: score / generate / embed / tokenize / count over
 * ZeroMQ (tools/core/icl/serve.h; requests and replies in schemas/serve.md). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cluster.h"
#include "model_io.h"
#include "serve.h"

static const rz_cli_tool tool = {
    .name = "rz-serve",
    .summary = "one model as a service over ZeroMQ: score, generate, embed, tokenize, count",
    .usage = "rz-serve -m MODEL -z TOKENIZER -e ENDPOINT [options]\n",
    .about = "Holds MODEL and answers MessagePack requests (schemas/serve.md) on ENDPOINT, a ZeroMQ\n"
             "ROUTER socket: score (log-prob of continuations after a context, the context's KV\n"
             "computed once), generate, embed, tokenize, count, info. Under mpirun every rank is a\n"
             "replica behind rank 0's socket. Stops on SIGTERM/SIGINT (and after --timeout).\n",
    .examples = "rz-serve -m stories260K.bin -z tok512.bin -e ipc:///tmp/rz.sock &\n"
                "mpirun -np 2 rz-serve -m stories260K.bin -z tok512.bin -e tcp://:5600 --ctx 2048 --rope-ext dca\n",
    .report = "requests, errors, busy_s, seconds, ctx, ranks",
    .timeout_help = "stop after SEC seconds without a request (default: never); also the\n"
                    "ZeroMQ peer silence limit",
};

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig, stop_flag = 1; }

static void on_ready(void *ctx, const char *endpoint)
{
    rz_cli *c = ctx;
    if (!c->quiet) fprintf(stderr, "rz-serve: ready on %s (%d replica%s)\n", endpoint, rz_cluster_size(),
                           rz_cluster_size() > 1 ? "s" : "");
}

int main(int argc, char **argv)
{
    rz_cluster_init(&argc, &argv);
    rz_cli c;
    const char *model = NULL, *tok = NULL, *endpoint = NULL, *rope_ext = NULL, *rope_scale = NULL, *chunk = NULL,
               *local = NULL;
    int ctx = 0, dense = 0;
    double idle = 0;
    rz_opt opts[] = {
        RZ_O_STR("model", 'm', "LOC", model, "llama2.c .bin or .rzm (packed models run from their codes)"),
        RZ_O_STR("tokenizer", 'z', "F", tok, "tokenizer file (llama2.c format)"),
        RZ_O_STR("endpoint", 'e', "LOC", endpoint,
                 "tcp://:PORT (binds 127.0.0.1; write the '*' host out for every\n"
                 "interface), tcp://HOST:PORT or ipc://PATH"),
        RZ_O_INT("ctx", 'c', "N", ctx, 2, 1 << 22, "longest context + continuation in tokens (default: seq_len)"),
        RZ_O_STR("rope-ext", 0, "M", rope_ext, "none, pi, ntk, yarn, dca: contexts past the model's (as in rz-ppl)"),
        RZ_O_STR("rope-scale", 0, "F", rope_scale, "pi/ntk/yarn: extension factor"),
        RZ_O_STR("chunk", 0, "S", chunk, "dca: chunk size"),
        RZ_O_STR("local", 0, "W", local, "dca: local window"),
        RZ_O_FLAG("dense", 0, dense, "packed models: decode quantised layers to float32 at load"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (c.timeout_set) idle = c.stream.timeout_s;
    if (first < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[first]);
    if (!model || !tok || !endpoint) rz_cli_usage_error(&c, "-m MODEL, -z TOKENIZER and -e ENDPOINT are required");
    if (!rz_is_endpoint(endpoint)) rz_cli_usage_error(&c, "-e %s: expected tcp://HOST:PORT or ipc://PATH", endpoint);
    rz_cli_need_file_under_mpi(&c, "model", model);
    rz_cli_threads(&c);

    rz_err e = {0};
    rz_llama *m;
    rz_tokenizer *t;
    if ((dense ? rz_model_load : rz_model_load_codes)(model, &c.stream, &m, &e)) rz_cli_die(&c, &e);
    if (rz_tokenizer_load(tok, &t, &e)) rz_cli_die(&c, &e);
    if (!ctx) ctx = m->config.seq_len;
    if (ctx > m->config.seq_len && !rope_ext) {
        rz_fail(&e, RZ_EINPUT, "--ctx %d is longer than the model's context of %d and no --rope-ext is given", ctx,
                m->config.seq_len);
        rz_cli_die(&c, &e);
    }
    rz_rope_method rope;
    if (rz_rope_parse(rope_ext, rope_scale, chunk, local, m->config.seq_len, m->config.rope_theta, &rope, &e) ||
        rz_rope_check(&rope, m->config.dim / m->config.n_heads, &e))
        rz_cli_die(&c, &e);
    rz_infer *f;
    if (rz_infer_new(m, t, ctx, &rope, &f, &e)) rz_cli_die(&c, &e);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    rz_serve_opts so = {endpoint, idle, &stop_flag, on_ready, &c};
    rz_serve_stats st;
    double t0 = rz_now();
    int rc = rz_serve_run(f, &so, &st, &e);
    if (rc) {
        if (rz_cluster_size() > 1) fprintf(stderr, "rz-serve: rank %d: %s\n", rz_cluster_rank(), e.msg);
        rz_cli_die(&c, &e);
    }
    /* totals over the replicas, in rank order */
    double tot[3] = {(double)st.requests, (double)st.errors, st.busy_s};
    rz_cluster_allreduce_sum(tot, 3);
    if (rz_cluster_rank() == 0) {
        if (!c.quiet)
            fprintf(stderr, "rz-serve: stopped after %.0f requests (%.0f refused)\n", tot[0], tot[1]);
        msgpack_packer *pk = rz_report_begin(&c, 6);
        rz_rec_int(pk, "requests", (int64_t)tot[0]);
        rz_rec_int(pk, "errors", (int64_t)tot[1]);
        rz_rec_f64(pk, "busy_s", tot[2]);
        rz_rec_f64(pk, "seconds", rz_now() - t0);
        rz_rec_int(pk, "ctx", ctx);
        rz_rec_int(pk, "ranks", rz_cluster_size());
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    rz_infer_free(f);
    rz_tokenizer_free(t);
    rz_llama_free(m);
    rz_cluster_finalize();
    return 0;
}
