/* rz-quantize — quantise every linear layer of a model with its calibration Hessian.
 *
 * Reads MODEL and the "hessian" records of rz-calibrate (checked to belong to this model
 * by its hash, one per block and input group, each of the right order), quantises the
 * 7 linears of every block (qlayer.h: rtn, ldlq = GPTQ, e8p = block LDLQ with E8P /
 * residual E8P, optionally incoherent) and writes one "qlayer" record per linear in
 * model order, or with --fake an ordinary float32 .rzm holding the quantiser's own
 * dequantised weights. A per-layer table (proxy loss, relative loss, bits per weight)
 * and the totals are printed; --json prints the summary report instead.
 *
 * Under mpirun the layers are handed out dynamically (rz_cluster_dynamic_*), the encoded
 * records gathered to rank 0 in model order (rz_cluster_gather_blobs): the output is
 * byte-identical to a single process's.
 *
 * --codebook-mse NAME measures a codebook on i.i.d. N(0,1) data (rz_codebook_mse).
 *
 * e8p defaults (qflags.h): QuIP#'s target RMS (0.9 at 2 bits, 0.98 at 3, 1.03 at 4), its
 * 10 tune passes, and rizz's scale search over 6 smaller targets, which fixes one scale
 * per matrix clipping the large rows of near-low-rank matrices (pipeline/quant.md,
 * "E8P at 4 bits"). --tune-iters 0 --scale-search 0 is the block LDLQ of QuIP#'s paper
 * without refinement (rizz before these options).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "cli.h"
#include "cluster.h"
#include "model_io.h"
#include "qlayer.h"
#include "ldlq.h"
#include "qflags.h"
#include "e8p.h"

static const rz_cli_tool tool = {
    .name = "rz-quantize",
    .summary = "quantise every linear layer of a model with its calibration Hessian",
    .usage = "rz-quantize -m MODEL -H HESSIANS --method rtn|ldlq|e8p [options] [-o LAYERS]\n"
             "rz-quantize --codebook-mse NAME [--samples N] [--seed N] [--json]\n",
    .about = "Quantises every linear layer (wq wk wv wo w1 w2 w3 of each block) of MODEL using the\n"
             "Hessians of rz-calibrate and writes one \"qlayer\" record per layer (for rz-pack).\n"
             "e8p defaults: --target-rms 0.9 at 2 bits, 0.98 at 3, 1.03 at 4 (QuIP#), --tune-iters 10\n"
             "(QuIP#), --scale-search 6 (rizz: one scale per matrix otherwise clips the large rows\n"
             "of near-low-rank matrices; pipeline/quant.md).\n",
    .examples = "rz-quantize -m stories260K.bin -H h.rzs --method e8p --bits 2 --incoherence -o q.rzs\n"
                "mpirun -np 2 rz-quantize -m m.rzm -H h.rzs --method ldlq --bits 3 -o q.rzs\n"
                "rz-quantize --codebook-mse e8p --json\n",
    .report = "method, bits, group, incoherence, incoherence_sides, share_input_rht, layers, loss, rel_loss_mean, bpw_linears, "
              "seconds, ranks, fake, target_rms, tune_iters, scale_search; for --codebook-mse: codebook, bits, scale, mse, samples",
    .output_help = "the layer records (or the .rzm with --fake)",
};

static void opt_incoherence(rz_cli *c, const char *arg, void *incoherence)
{
    int *incoh = incoherence;
    if (!arg || strcmp(arg, "both") == 0) *incoh = RZ_INCOH_BOTH;
    else if (strcmp(arg, "in") == 0) *incoh = RZ_INCOH_IN;
    else rz_cli_usage_error(c, "--incoherence: expected both or in, got '%s'", arg);
}

static int codebook_mse(rz_cli *c, const char *name, long samples)
{
    rz_err e = {0};
    double bits, scale, mse;
    if (rz_codebook_mse(name, samples, c->seed, &bits, &scale, &mse, &e)) rz_cli_die(c, &e);
    if (!c->json) printf("codebook %s: %.4f bits, scale %.4f, mse %.6f\n", name, bits, scale, mse);
    msgpack_packer *pk = rz_report_begin(c, 5);
    rz_rec_str(pk, "codebook", name);
    rz_rec_f64(pk, "bits", bits);
    rz_rec_f64(pk, "scale", scale);
    rz_rec_f64(pk, "mse", mse);
    rz_rec_int(pk, "samples", samples);
    if (rz_report_finish(c, &e)) rz_cli_die(c, &e);
    rz_cluster_finalize();
    return 0;
}

int main(int argc, char **argv)
{
    rz_cluster_init(&argc, &argv);
    rz_cli c;
    const char *model = NULL, *hess = NULL, *method = NULL, *cbmse = NULL;
    rz_qopts q = {0};
    q.bits = -1;
    int fake = 0, share_in = 0;
    long samples = 262144;
    rz_e8p_opts eo = {0, 0.0f, 10, 6, 0};
    rz_opt qflags[RZ_QFLAGS_N + 1];
    rz_qflags_table(qflags, &eo);
    rz_opt opts[] = {
        RZ_O_STR("model", 'm', "LOC", model, "model (.bin or .rzm)"),
        RZ_O_STR("hessians", 'H', "LOC", hess, "Hessian stream from rz-calibrate for this model"),
        RZ_O_STR("method", 0, "M", method,
                 "rtn (round to nearest), ldlq (GPTQ in LDL form), e8p (QuIP#'s\n"
                 "E8P lattice codebook in block LDLQ; residual E8P at 3 and 4 bits)"),
        RZ_O_INT("bits", 'b', "B", q.bits, 1, 8, "rtn/ldlq: 2, 3, 4 or 8 (default 4); e8p: 2, 3 or 4 (default 2)"),
        RZ_O_INT("group", 'g', "G", q.group, 0, RZ_QUANT_MAX_DIM, "rtn/ldlq: columns per scale group (default 0 = one per row)"),
        RZ_O_FN_OPTARG("incoherence", 0, "S", opt_incoherence, &q.incoherence,
                       "random Hadamard transforms, seeded by --seed and the layer\n"
                       "index, undone when decoding: S = both (default, QuIP#):\n"
                       "W <- U W V^T, H <- V H V^T; S = in: the input side only,\n"
                       "W <- W V^T (see pipeline/quant.md for why that can be better)"),
        RZ_O_FLAG("share-input-rht", 0, share_in,
                  "with --incoherence: layers reading the same input (wq, wk, wv;\n"
                  "w1, w3) get one input transform V (seeded by --seed and the\n"
                  "layer's input), computed once per token at inference"),
        RZ_O_F64("percdamp", 0, "F", q.percdamp, 1e-9, 1e3, "ldlq/e8p damping: H += F mean(diag H) I (default 0.01)"),
        RZ_O_TABLE(qflags),
        RZ_O_FLAG("fake", 0, fake, "write a float32 .rzm with the dequantised weights instead"),
        RZ_O_STR("codebook-mse", 0, "N", cbmse,
                 "MSE per coordinate of codebook N on N(0,1) samples: e8p,\n"
                 "e8p-rvq3, e8p-rvq4, rtn2..4, minmax2..4, lloydmax2"),
        RZ_O_LONG("samples", 0, "N", samples, 8, 1L << 28, "samples for --codebook-mse (default 262144)"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (first < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[first]);
    rz_cli_threads(&c);
    if (cbmse) return codebook_mse(&c, cbmse, samples);
    if (!model || !hess) rz_cli_usage_error(&c, "-m MODEL and -H HESSIANS are required");
    if (!method) rz_cli_usage_error(&c, "--method rtn|ldlq|e8p is required");
    c.output = rz_cli_records_out(&c);
    q.method = rz_qmethod_parse(method);
    if (q.method < 0) rz_cli_usage_error(&c, "--method: unknown method '%s' (expected rtn, ldlq or e8p)", method);
    if (q.bits < 0) q.bits = q.method == RZ_QM_E8P ? 2 : 4;
    if (!rz_qmethod_bits_ok(q.method, q.bits))
        rz_cli_usage_error(&c, "--bits %d is out of range for %s (%s)", q.bits, method,
                           q.method == RZ_QM_E8P ? "2, 3 or 4" : "2, 3, 4 or 8");
    if (q.method == RZ_QM_E8P && q.group) rz_cli_usage_error(&c, "--group does not apply to e8p (one scale per matrix)");
    if (share_in && q.incoherence == RZ_INCOH_NONE) rz_cli_usage_error(&c, "--share-input-rht needs --incoherence");
    q.seed = c.seed;
    q.target_rms = eo.target_rms;
    q.tune_iters = eo.tune_iters;
    q.scale_search = eo.scale_search;
    rz_cli_need_file_under_mpi(&c, "model", model);
    rz_cli_need_file_under_mpi(&c, "Hessians", hess);
    rz_err e = {0};
    int rank = rz_cluster_rank();

    rz_llama *m;
    uint64_t mhash;
    double **H;
    if (rz_quant_inputs_load(model, hess, &c.stream, &m, &mhash, &H, &e)) rz_cli_die(&c, &e);
    const rz_llama_config *cfg = &m->config;
    int ng = cfg->n_layers * RZ_TAP_GROUPS;

    long N = 7L * cfg->n_layers, nloc = 0;
    long *idx = rz_malloc((size_t)N * sizeof *idx, &e);
    void **blobs = rz_calloc((size_t)N, sizeof *blobs, &e);
    size_t *lens = rz_calloc((size_t)N, sizeof *lens, &e);
    double *stats = rz_calloc((size_t)N * 3, sizeof *stats, &e), *all = rz_calloc((size_t)N * 3, sizeof *all, &e);
    void **blobs0 = rz_calloc((size_t)N, sizeof *blobs0, &e);
    size_t *lens0 = rz_calloc((size_t)N, sizeof *lens0, &e);
    if (!idx || !blobs || !lens || !stats || !all || !blobs0 || !lens0) rz_cli_die(&c, &e);
    double t0 = rz_now();
    rz_cluster_dynamic_begin(N);
    for (long i; (i = rz_cluster_dynamic_next()) >= 0;) {
        char name[RZ_MAX_NAME];
        float *W;
        int rows, cols, layer, group;
        rz_llama_linear(m, i, name, sizeof name, &W, &rows, &cols, &layer, &group);
        float *What = fake ? rz_malloc((size_t)rows * (size_t)cols * sizeof *What, &e) : NULL;
        rz_qlayer ql;
        /* with --share-input-rht, V is keyed by the input the layer reads (its Hessian) */
        long in_key = share_in ? 1 + (long)layer * RZ_TAP_GROUPS + group : 0;
        if ((fake && !What) ||
            rz_qlayer_quantize_keyed(name, W, rows, cols, H[layer * RZ_TAP_GROUPS + group], &q, i, in_key, mhash, &ql, What, &e))
            rz_cli_die(&c, &e);
        if (fake) { /* the blob is the dequantised matrix itself */
            blobs[nloc] = What;
            lens[nloc] = (size_t)rows * (size_t)cols * sizeof *What;
        } else {
            msgpack_sbuffer sb;
            msgpack_sbuffer_init(&sb);
            msgpack_packer pk;
            msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
            rz_qlayer_pack(&pk, &ql.v);
            lens[nloc] = sb.size;
            blobs[nloc] = msgpack_sbuffer_release(&sb);
        }
        idx[nloc] = i;
        stats[nloc * 3] = ql.v.loss;
        stats[nloc * 3 + 1] = ql.v.rel_loss;
        stats[nloc * 3 + 2] = rz_qlayer_payload_bits(&ql.v);
        nloc++;
        rz_qlayer_free(&ql);
        rz_cli_progress(&c, 0, "rank %d: %s done (%ld layers so far)", rank, name, nloc);
    }
    rz_cluster_dynamic_end();
    if (rz_cluster_gather_items(N, 3, idx, stats, nloc, all, &e) ||
        rz_cluster_gather_blobs(N, idx, blobs, lens, nloc, blobs0, lens0, &e))
        rz_cli_die(&c, &e);
    double secs = rz_now() - t0;

    if (rank == 0) {
        if (fake) {
            for (long i = 0; i < N; i++) {
                char name[RZ_MAX_NAME];
                float *W;
                int rows, cols, layer, group;
                rz_llama_linear(m, i, name, sizeof name, &W, &rows, &cols, &layer, &group);
                memcpy(W, blobs0[i], lens0[i]);
            }
            if (rz_model_save_rzm(m, c.output, RZ_F32, &c.stream, &e)) rz_cli_die(&c, &e);
        } else {
            /* the records, packed by the ranks that computed them, in model order */
            if (rz_write_records(c.output, &c.stream, blobs0, lens0, N, &e)) rz_cli_die(&c, &e);
        }
        /* table and totals (model order) */
        FILE *tf = c.json || strcmp(c.output, "-") == 0 ? (c.quiet ? NULL : stderr) : stdout;
        double loss = 0, rel = 0, bits = 0, weights = 0;
        if (tf) fprintf(tf, "%-34s %11s %12s %10s %7s\n", "layer", "shape", "proxy_loss", "rel_loss", "bpw");
        for (long i = 0; i < N; i++) {
            char name[RZ_MAX_NAME], shape[32];
            float *W;
            int rows, cols, layer, group;
            rz_llama_linear(m, i, name, sizeof name, &W, &rows, &cols, &layer, &group);
            const double *s = all + i * 3;
            double wn = (double)rows * cols;
            snprintf(shape, sizeof shape, "%dx%d", rows, cols);
            if (tf) fprintf(tf, "%-34s %11s %12.5g %10.5f %7.3f\n", name, shape, s[0], s[1], s[2] / wn);
            loss += s[0];
            rel += s[1];
            bits += s[2];
            weights += wn;
        }
        if (tf)
            fprintf(tf, "total: %ld layers, proxy loss %.6g, mean relative loss %.6f, %.4f bits per weight "
                        "(linears: codes + scales + zero points + seeds), %.2f s\n",
                    N, loss, rel / N, bits / weights, secs);
        msgpack_packer *pk = rz_report_begin(&c, 16);
        rz_rec_str(pk, "method", method);
        rz_rec_int(pk, "bits", q.bits);
        rz_rec_int(pk, "group", q.group);
        rz_rec_bool(pk, "incoherence", q.incoherence != RZ_INCOH_NONE);
        rz_rec_str(pk, "incoherence_sides", q.incoherence == RZ_INCOH_IN ? "in" : q.incoherence ? "both" : "none");
        rz_rec_bool(pk, "share_input_rht", share_in);
        rz_rec_int(pk, "layers", N);
        rz_rec_f64(pk, "loss", loss);
        rz_rec_f64(pk, "rel_loss_mean", rel / N);
        rz_rec_f64(pk, "bpw_linears", bits / weights);
        rz_rec_f64(pk, "seconds", secs);
        rz_rec_int(pk, "ranks", rz_cluster_size());
        rz_rec_bool(pk, "fake", fake);
        int e8 = q.method == RZ_QM_E8P;
        rz_rec_f64(pk, "target_rms", e8 ? (q.target_rms > 0 ? q.target_rms : q.bits == 2 ? 0.9 : rz_e8p_opt_scale(q.bits)) : 0.0);
        rz_rec_int(pk, "tune_iters", e8 ? q.tune_iters : 0);
        rz_rec_int(pk, "scale_search", e8 ? q.scale_search : 0);
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    for (long i = 0; i < N; i++) {
        free(blobs[i]);
        free(blobs0[i]);
    }
    for (int i = 0; i < ng; i++) free(H[i]);
    free(H);
    free(idx);
    free(blobs);
    free(lens);
    free(stats);
    free(all);
    free(blobs0);
    free(lens0);
    rz_llama_free(m);
    rz_cluster_finalize();
    return 0;
}
