/* rz-ppl — perplexity of a model on a text (or a token stream).
 *
 * Windows (see tools/core/lm/ppl.h): non-overlapping windows of --ctx positions by default,
 * as the GPTQ and QuIP# papers evaluate; --stride for sliding windows; --bos to start
 * every window with BOS; --skip to score only later positions (llama.cpp scores the
 * second half: --skip ctx/2). --protocol llamacpp is llama-perplexity's protocol exactly
 * (ppl.h): the text tokenised with BOS in front, windows of --ctx tokens (default 512)
 * whose first token is overwritten by BOS, positions ctx/2+1 .. ctx-1 scored, at least
 * two windows, and --ctx past the model's context allowed (plain RoPE, as llama.cpp
 * runs it; GGUF files written by llama.cpp's llama2.c converter say 128). Perplexity = exp(mean NLL over scored tokens); its
 * standard error is ppl * sd(NLL)/sqrt(n-1) (delta method, as llama.cpp reports).
 *
 * Under mpirun the windows are split in contiguous blocks across ranks; each window's
 * NLL sums are gathered to rank 0 and added in window order, so the printed numbers are
 * the same as a single process's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "blas.h"
#include "cli.h"
#include "cluster.h"
#include "corpus.h"
#include "model_io.h"
#include "modelfile.h"
#include "ppl.h"

static const rz_cli_tool tool = {
    .name = "rz-ppl",
    .summary = "perplexity of a model on a text or a token stream",
    .usage = "rz-ppl -m MODEL [-z TOKENIZER] [-f TEXT | --tokens LOC] [options]\n",
    .about = "Perplexity of MODEL (llama2.c .bin, .rzm, GGUF, Hugging Face folder) on TEXT (UTF-8,\n"
             "'-' = stdin) tokenised by TOKENIZER (default: a GGUF or HF model's own), or on the\n"
             "\"tokens\" records of a stream; without -f and --tokens, stdin is the text (with a\n"
             "tokenizer) or the token stream (without).\n",
    .examples = "rz-ppl -m stories260K.bin -z tok512.bin -f tinystories-valid.txt --ctx 512\n"
                "rz-ppl -m stories260K-f32.gguf -f tinystories-valid.txt --protocol llamacpp\n"
                "mpirun -np 2 rz-ppl -m stories260K.bin -z tok512.bin -f valid.txt --json\n"
                "rz-ppl -m stories260K.bin -z tok512.bin -f long.txt --ctx 4096 --rope-ext dca --by-position 256\n",
    .report = "ppl, nll_mean, stderr, nll_stderr, tokens_scored, windows, ctx, stride, bos, skip, protocol, "
              "tokens_per_s, seconds, model, ranks, rope_ext, max_rss_mb, blas_core, blas_cpu, blas_check, "
              "blas_sgemm_gflops, by_position",
    .output_help = "write the report record there (same as --report)",
};

typedef struct {
    const char *model, *tokenizer, *text, *tokens;
    int ctx, stride, bos, skip, by_position, dense, llamacpp;
    long max_tokens;
    const char *rope_ext, *rope_scale, *chunk, *local; /* as given, parsed by rz_rope_parse */
} args;

static void opt_protocol(rz_cli *c, const char *arg, void *ctx)
{
    if (strcmp(arg, "llamacpp") != 0 && strcmp(arg, "plain") != 0)
        rz_cli_usage_error(c, "--protocol '%s': expected plain or llamacpp", arg);
    *(int *)ctx = strcmp(arg, "llamacpp") == 0;
}

static void parse(rz_cli *c, args *a, int argc, char **argv)
{
    rz_opt opts[] = {
        RZ_O_STR("model", 'm', "LOC", a->model, "model: file, '-', tcp:// or ipc:// (.rzm streams)"),
        RZ_O_STR("tokenizer", 'z', "F", a->tokenizer, "tokenizer file (tok512.bin, tokenizer.bin, a GGUF, a\n"
                 "tokenizer.json; default: a GGUF or HF model's own)"),
        RZ_O_STR("file", 'f', "TEXT", a->text, "text to evaluate"),
        RZ_O_STR("tokens", 0, "LOC", a->tokens, "token stream instead of -f/-z"),
        RZ_O_INT("ctx", 'c', "N", a->ctx, 2, 1 << 20, "positions per window (default: the model's seq_len)"),
        RZ_O_INT("stride", 0, "N", a->stride, 1, 1 << 20, "text tokens between window starts (default: no overlap)"),
        RZ_O_FLAG("bos", 0, a->bos, "begin every window with BOS (id 1)"),
        RZ_O_INT("skip", 0, "N", a->skip, 0, 1 << 20, "score only positions >= N of each window (llama.cpp: ctx/2)"),
        RZ_O_LONG("max-tokens", 0, "N", a->max_tokens, 1, 1L << 40, "use only the first N tokens of the text"),
        RZ_O_FN("protocol", 0, "P", opt_protocol, &a->llamacpp,
                "plain (the options above) or llamacpp: llama-perplexity's\n"
                "windows (BOS overwrites each window's first token, second half\n"
                "scored, --ctx default 512, text tokenised with BOS in front)"),
        RZ_O_STR("rope-ext", 0, "M", a->rope_ext,
                 "context extension: none (plain RoPE; past the model's context\n"
                 "that is extrapolation), pi, ntk, yarn, dca (Dual Chunk Attention)"),
        RZ_O_STR("rope-scale", 0, "F", a->rope_scale, "pi/ntk/yarn: extension factor (e.g. ctx / seq_len)"),
        RZ_O_STR("chunk", 0, "S", a->chunk, "dca: chunk size, < seq_len (default 3/4 of it)"),
        RZ_O_STR("local", 0, "W", a->local, "dca: local window, 1..min(S, seq_len - S) (default the max)"),
        RZ_O_INT("by-position", 0, "B", a->by_position, 1, 1 << 20,
                 "also report mean NLL in buckets of B positions of the window\n"
                 "(CSV after the summary line; \"by_position\" in the report)"),
        RZ_O_FLAG("dense", 0, a->dense,
                  "packed models: decode quantised layers to float32 at load\n"
                  "(default: keep their codes, decoded panel by panel in the forward)"),
        RZ_O_END};
    int first = rz_cli_parse(c, &tool, opts, argc, argv);
    if (first < argc) rz_cli_usage_error(c, "unexpected argument '%s'", argv[first]);
    if (!a->model) rz_cli_usage_error(c, "-m MODEL is required");
    /* a GGUF or HF model's own tokenizer counts as -z: stdin is then text */
    rz_cli_text_input(c, &a->text, &a->tokens, a->tokenizer || rz_modelfile_has_tokenizer(a->model));
    if (a->llamacpp && (a->stride || a->bos || a->skip || a->rope_ext))
        rz_cli_usage_error(c, "--protocol llamacpp fixes the windows: no --stride, --bos, --skip or --rope-ext");
    if (!c->report && c->output) c->report = c->output;
    rz_cli_need_file_under_mpi(c, "model", a->model);
}

int main(int argc, char **argv)
{
    rz_cluster_init(&argc, &argv);
    rz_cli c;
    args a = {0};
    parse(&c, &a, argc, argv);
    rz_cli_threads(&c);
    rz_err e = {0};

    rz_llama *m;
    if ((a.dense ? rz_model_load : rz_model_load_codes)(a.model, &c.stream, &m, &e)) rz_cli_die(&c, &e);
    const rz_llama_config *cfg = &m->config;
    if (!a.ctx) a.ctx = a.llamacpp ? 512 : cfg->seq_len;
    if (a.ctx > cfg->seq_len && !a.rope_ext && !a.llamacpp) {
        rz_fail(&e, RZ_EINPUT, "--ctx %d is longer than the model's context of %d positions, and no "
                               "context extension method is selected (--rope-ext)", a.ctx, cfg->seq_len);
        rz_cli_die(&c, &e);
    }
    rz_rope_method rope;
    if (rz_rope_parse(a.rope_ext, a.rope_scale, a.chunk, a.local, cfg->seq_len, cfg->rope_theta, &rope, &e) ||
        rz_rope_check(&rope, cfg->dim / cfg->n_heads, &e))
        rz_cli_die(&c, &e);
    int *ids;
    size_t n;
    int bos_id = RZ_TOKEN_BOS;
    if (rz_corpus_load_bcast(a.tokens, &c.stream, a.text, a.tokenizer, cfg->vocab_size, a.model,
                             (size_t)a.max_tokens, a.llamacpp, &bos_id, &ids, &n, &e))
        rz_cli_die(&c, &e);

    rz_ppl_opts po = {a.ctx, a.stride, a.bos, bos_id, a.skip, 0};
    if (a.llamacpp) {
        po = (rz_ppl_opts){a.ctx, a.ctx, 1, bos_id, a.ctx / 2 + 1, 1};
        if (n < 2 * (size_t)a.ctx) {
            rz_fail(&e, RZ_EINPUT, "%s: %zu tokens; llama.cpp's protocol needs at least 2 x --ctx = %d",
                    a.text ? a.text : a.tokens, n, 2 * a.ctx);
            rz_cli_die(&c, &e);
        }
    }
    if (!po.stride) po.stride = a.ctx - (a.bos ? 1 : 0);
    if (po.stride > a.ctx - (po.bos && !po.bos_replace))
        rz_cli_usage_error(&c, "--stride %d is longer than a window's %d text tokens", po.stride, a.ctx - po.bos);
    if (po.skip >= a.ctx) rz_cli_usage_error(&c, "--skip %d leaves nothing to score in a window of %d", po.skip, a.ctx);
    long W = rz_ppl_windows(&po, (long)n);
    if (W == 0) {
        rz_fail(&e, RZ_EINPUT, "%s: %zu tokens, fewer than one window of %d; lower --ctx",
                a.text ? a.text : a.tokens, n, a.ctx - po.bos);
        rz_cli_die(&c, &e);
    }

    /* this rank's windows */
    long lo, hi;
    rz_cluster_block(W, rz_cluster_rank(), rz_cluster_size(), &lo, &hi);
    rz_llama_state *st;
    if (rz_llama_state_new_ext(m, a.ctx, a.ctx, &rope, &st, &e)) rz_cli_die(&c, &e);
    float *logits = rz_malloc((size_t)RZ_PPL_LOGIT_ROWS * (size_t)cfg->vocab_size * sizeof *logits, &e);
    int *seq = rz_malloc((size_t)a.ctx * sizeof *seq, &e);
    unsigned char *score = rz_malloc((size_t)a.ctx, &e);
    double *nll = rz_malloc((size_t)a.ctx * sizeof *nll, &e);
    /* per window: sum, sum of squares and count of scored NLLs, then (sum, count) for
     * each position bucket; gathered in window order and summed on rank 0 */
    int nb = a.by_position ? (a.ctx + a.by_position - 1) / a.by_position : 0, width = 3 + 2 * nb;
    long *idx = rz_malloc((size_t)(hi - lo + 1) * sizeof *idx, &e);
    double *acc = rz_calloc((size_t)(hi - lo + 1) * (size_t)width, sizeof *acc, &e);
    double *all = rz_malloc((size_t)W * (size_t)width * sizeof *all, &e);
    double *nll_pos = rz_malloc((size_t)a.ctx * sizeof *nll_pos, &e);
    if (!logits || !seq || !score || !nll || !idx || !acc || !all || !nll_pos) rz_cli_die(&c, &e);
    double run_sum = 0, run_count = 0;

    double t0 = rz_now();
    for (long k = lo; k < hi; k++) {
        rz_ppl_acc w;
        if (rz_ppl_eval_window(m, st, &po, ids, k, logits, seq, score, nll, &w, nll_pos)) {
            rz_fail(&e, RZ_EINTERNAL, "forward failed on window %ld", k);
            rz_cli_die(&c, &e);
        }
        double *r = acc + (size_t)(k - lo) * (size_t)width;
        idx[k - lo] = k;
        r[0] = w.sum;
        r[1] = w.sumsq;
        r[2] = w.count;
        for (int p = 1; p < a.ctx && nb; p++)
            if (score[p]) {
                r[3 + 2 * (p / a.by_position)] += nll_pos[p];
                r[4 + 2 * (p / a.by_position)] += 1;
            }
        run_sum += w.sum;
        run_count += w.count;
        rz_cli_progress(&c, 0, "window %ld/%ld (rank 0), ppl so far %.4f", k - lo + 1, hi - lo,
                        exp(run_sum / (run_count > 0 ? run_count : 1)));
    }
    if (rz_cluster_gather_items(W, width, idx, acc, hi - lo, all, &e)) rz_cli_die(&c, &e);
    rz_cluster_barrier();
    double secs = rz_now() - t0;

    if (rz_cluster_rank() == 0) {
        double sum = 0, sumsq = 0, count = 0;
        double *bsum = rz_calloc((size_t)nb + 1, sizeof *bsum, &e), *bcnt = rz_calloc((size_t)nb + 1, sizeof *bcnt, &e);
        if (!bsum || !bcnt) rz_cli_die(&c, &e);
        for (long k = 0; k < W; k++) { /* window order: identical under any rank count */
            const double *r = all + (size_t)k * (size_t)width;
            sum += r[0];
            sumsq += r[1];
            count += r[2];
            for (int b = 0; b < nb; b++) {
                bsum[b] += r[3 + 2 * b];
                bcnt[b] += r[4 + 2 * b];
            }
        }
        double mean = sum / count;
        double var = count > 1 ? (sumsq / count - mean * mean) * count / (count - 1) : 0;
        double nll_se = count > 1 ? sqrt(var > 0 ? var / count : 0) : 0;
        double ppl = exp(mean), ppl_se = ppl * nll_se;
        double tps = (double)W * a.ctx / secs;
        if (!c.json) {
            printf("ppl %.4f +/- %.4f  (nll %.6f nats/token, %.0f tokens scored in %ld windows of %d; %.0f tokens/s)\n",
                   ppl, ppl_se, mean, count, W, a.ctx, tps);
            if (nb) printf("start,end,tokens,nll_mean,ppl\n");
            for (int b = 0; b < nb; b++) {
                int end = (b + 1) * a.by_position < a.ctx ? (b + 1) * a.by_position : a.ctx;
                double bm = bcnt[b] > 0 ? bsum[b] / bcnt[b] : NAN;
                printf("%d,%d,%.0f,%.6f,%.4f\n", b * a.by_position, end, bcnt[b], bm, exp(bm));
            }
        }
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        const rz_blas_status *bs = rz_blas_status_get();
        msgpack_packer *pk = rz_report_begin(&c, 22);
        rz_rec_f64(pk, "ppl", ppl);
        rz_rec_f64(pk, "nll_mean", mean);
        rz_rec_f64(pk, "stderr", ppl_se);
        rz_rec_f64(pk, "nll_stderr", nll_se);
        rz_rec_int(pk, "tokens_scored", (int64_t)count);
        rz_rec_int(pk, "windows", W);
        rz_rec_int(pk, "ctx", a.ctx);
        rz_rec_int(pk, "stride", po.stride);
        rz_rec_bool(pk, "bos", po.bos);
        rz_rec_int(pk, "skip", po.skip);
        rz_rec_str(pk, "protocol", a.llamacpp ? "llamacpp" : "plain");
        rz_rec_f64(pk, "tokens_per_s", tps);
        rz_rec_f64(pk, "seconds", secs);
        rz_rec_str(pk, "model", a.model);
        rz_rec_int(pk, "ranks", rz_cluster_size());
        rz_rec_str(pk, "rope_ext", rz_rope_method_name(rope.method));
        rz_rec_f64(pk, "max_rss_mb", (double)ru.ru_maxrss / 1024.0); /* rank 0's peak */
        rz_rec_str(pk, "blas_core", bs->core);
        rz_rec_str(pk, "blas_cpu", bs->cpu);
        rz_rec_bool(pk, "blas_check", bs->check_ok);
        rz_rec_f64(pk, "blas_sgemm_gflops", rz_blas_sgemm_gflops(256, 1, 5)); /* 1 thread, ~5 ms */
        rz_rec_key(pk, "by_position");
        msgpack_pack_array(pk, (size_t)nb);
        for (int b = 0; b < nb; b++) {
            int end = (b + 1) * a.by_position < a.ctx ? (b + 1) * a.by_position : a.ctx;
            double bm = bcnt[b] > 0 ? bsum[b] / bcnt[b] : NAN;
            msgpack_pack_map(pk, 5);
            rz_rec_int(pk, "start", b * a.by_position);
            rz_rec_int(pk, "end", end);
            rz_rec_int(pk, "tokens", (int64_t)bcnt[b]);
            rz_rec_f64(pk, "nll_mean", bm);
            rz_rec_f64(pk, "ppl", exp(bm));
        }
        free(bsum);
        free(bcnt);
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    free(nll_pos);
    free(all);
    free(acc);
    free(idx);
    free(nll);
    free(score);
    free(seq);
    free(logits);
    free(ids);
    rz_llama_state_free(st);
    rz_llama_free(m);
    rz_cluster_finalize();
    return 0;
}
