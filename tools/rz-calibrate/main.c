/* rz-calibrate — Hessians of every linear-layer input group from calibration text.
 *
 * Runs the model over --windows windows of --ctx tokens drawn with --seed from the
 * tokenised text (calib.h) and, through the forward's tap, accumulates in float64
 * H = Σ x xᵀ / n for each block's attention input (wq, wk, wv), attention output (wo),
 * MLP input (w1, w3) and MLP down (w2). Output: one "hessian" record per (layer, group)
 * in model order (schemas/quant.md), tied to the model by its hash.
 *
 * Under mpirun the windows are split in contiguous blocks across ranks; each rank sums
 * its windows and the sums are added across ranks in rank order (cluster.h). The result
 * equals the single-process one up to float64 rounding of the different summation
 * order (relative differences ~1e-16; tests/shell/quant.sh checks 1e-12).
 */
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "cli.h"
#include "cluster.h"
#include "corpus.h"
#include "model_io.h"
#include "modelfile.h"
#include "qlayer.h"

static const rz_cli_tool tool = {
    .name = "rz-calibrate",
    .summary = "Hessians of every linear layer's inputs from calibration text",
    .usage = "rz-calibrate -m MODEL [-z TOKENIZER] [-f TEXT | --tokens LOC] [-o HESSIANS] [options]\n",
    .about = "Runs MODEL over calibration windows of TEXT and writes one \"hessian\" record\n"
             "(H = sum x x^T / n in float64, n, mean of x^2 per channel) for each block's four\n"
             "linear input groups: attn_in (wq wk wv), attn_out (wo), mlp_in (w1 w3), mlp_down (w2).\n",
    .examples = "rz-calibrate -m stories260K.bin -z tok512.bin -f calib.txt --ctx 256 --windows 64 -o h.rzs\n"
                "mpirun -np 2 rz-calibrate -m stories260K.bin -z tok512.bin -f calib.txt -o h.rzs\n",
    .report = "windows, ctx, tokens, records, seconds, ranks, model",
    .output_help = "the Hessian stream",
    .seed_help = "window sampling seed (default 0)",
};

int main(int argc, char **argv)
{
    rz_cluster_init(&argc, &argv);
    rz_cli c;
    const char *model = NULL, *tok = NULL, *text = NULL, *tokens = NULL;
    int ctx = 0;
    long windows = 32;
    rz_opt opts[] = {
        RZ_O_STR("model", 'm', "LOC", model, "model (.bin or .rzm)"),
        RZ_O_STR("tokenizer", 'z', "F", tok, "tokenizer for -f (llama2.c, a GGUF or a tokenizer.json;\n"
                 "default: a GGUF or HF model's own)"),
        RZ_O_STR("file", 'f', "TEXT", text, "calibration text"),
        RZ_O_STR("tokens", 0, "LOC", tokens, "token stream instead of -f/-z"),
        RZ_O_INT("ctx", 'c', "N", ctx, 1, 1 << 20, "tokens per window (default: min(seq_len, 512))"),
        RZ_O_LONG("windows", 'n', "N", windows, 1, 1 << 24, "number of windows (default 32), drawn at random offsets"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (first < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[first]);
    if (!model) rz_cli_usage_error(&c, "-m MODEL is required");
    c.output = rz_cli_records_out(&c);
    rz_cli_text_input(&c, &text, &tokens, tok || rz_modelfile_has_tokenizer(model));
    rz_cli_need_file_under_mpi(&c, "model", model);
    rz_cli_threads(&c);
    rz_err e = {0};
    int rank = rz_cluster_rank();

    rz_llama *m;
    if (rz_model_load(model, &c.stream, &m, &e)) rz_cli_die(&c, &e);
    const rz_llama_config *cfg = &m->config;
    if (!ctx) ctx = cfg->seq_len < 512 ? cfg->seq_len : 512;
    if (ctx > cfg->seq_len) {
        rz_fail(&e, RZ_EINPUT, "--ctx %d is longer than the model's context of %d", ctx, cfg->seq_len);
        rz_cli_die(&c, &e);
    }
    uint64_t mhash = rz_llama_identity(m, RZ_ID_LAYERS);

    /* tokens on rank 0, broadcast */
    int *ids = NULL;
    size_t n = 0;
    if (rz_corpus_load_bcast(tokens, &c.stream, text, tok, cfg->vocab_size, model, 0, 0, NULL, &ids, &n, &e)) rz_cli_die(&c, &e);
    if (n < (size_t)ctx) { /* every rank holds the same n */
        rz_fail(&e, RZ_EINPUT, "%s: %zu tokens, fewer than one window of %d; lower --ctx", text ? text : tokens, n, ctx);
        rz_cli_die(&c, &e);
    }

    long *starts = rz_malloc((size_t)windows * sizeof *starts, &e);
    if (!starts) rz_cli_die(&c, &e);
    rz_calib_windows(n, ctx, windows, c.seed, starts);
    long lo, hi;
    rz_cluster_block(windows, rank, rz_cluster_size(), &lo, &hi);

    rz_calib cal;
    rz_llama_state *st;
    float *logits = rz_malloc((size_t)ctx * (size_t)cfg->vocab_size * sizeof *logits, &e);
    if (!logits || rz_calib_init(&cal, cfg, ctx, &e) || rz_llama_state_new(m, ctx, ctx, &st, &e)) rz_cli_die(&c, &e);
    rz_llama_set_tap(st, rz_calib_tap, &cal);
    double t0 = rz_now();
    for (long k = lo; k < hi; k++) {
        if (rz_llama_forward(m, st, ids + starts[k], ctx, 0, logits)) {
            rz_fail(&e, RZ_EINTERNAL, "forward failed on window %ld", k);
            rz_cli_die(&c, &e);
        }
        rz_cli_progress(&c, 0, "window %ld/%ld (rank %d)", k - lo + 1, hi - lo, rank);
    }
    /* sums across ranks (rank order), then H = S / n */
    int ng = cfg->n_layers * RZ_TAP_GROUPS;
    if (rz_cluster_size() > 1) {
        for (int i = 0; i < ng; i++) {
            size_t w = (size_t)cal.n[i % RZ_TAP_GROUPS];
            rz_cluster_allreduce_sum(cal.S[i], w * w);
        }
        rz_cluster_allreduce_sum(cal.tokens, (size_t)ng);
    }
    rz_calib_finish(&cal);
    double secs = rz_now() - t0;

    if (rank == 0) {
        rz_writer *w;
        if (rz_writer_open(c.output, &c.stream, &w, &e)) rz_cli_die(&c, &e);
        double *msq = rz_malloc((size_t)(cfg->dim > cfg->hidden_dim ? cfg->dim : cfg->hidden_dim) * sizeof *msq, &e);
        if (!msq) rz_cli_die(&c, &e);
        for (int i = 0; i < ng; i++) {
            int nn = cal.n[i % RZ_TAP_GROUPS];
            for (int j = 0; j < nn; j++) msq[j] = cal.S[i][(size_t)j * nn + j];
            rz_hessian_view h = {i / RZ_TAP_GROUPS, i % RZ_TAP_GROUPS, nn, (int64_t)cal.tokens[i], mhash,
                                 windows, ctx, cal.S[i], msq};
            rz_hessian_pack(rz_writer_packer(w), &h);
            if (rz_writer_emit(w, &e)) {
                rz_writer_abort(w, &e);
                rz_cli_die(&c, &e);
            }
        }
        free(msq);
        if (rz_writer_close(w, &e)) rz_cli_die(&c, &e);
        rz_cli_progress(&c, 1, "%d Hessians from %ld windows of %d tokens in %.2f s", ng, windows, ctx, secs);
        msgpack_packer *pk = rz_report_begin(&c, 7);
        rz_rec_int(pk, "windows", windows);
        rz_rec_int(pk, "ctx", ctx);
        rz_rec_int(pk, "tokens", (int64_t)windows * ctx);
        rz_rec_int(pk, "records", ng);
        rz_rec_f64(pk, "seconds", secs);
        rz_rec_int(pk, "ranks", rz_cluster_size());
        rz_rec_str(pk, "model", model);
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    free(logits);
    free(starts);
    free(ids);
    rz_calib_free(&cal);
    rz_llama_state_free(st);
    rz_llama_free(m);
    rz_cluster_finalize();
    return 0;
}
