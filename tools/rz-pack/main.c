/* rz-pack — a model plus its quantised layers → one compressed .rzm.
 *
 * Reads MODEL and the "qlayer" records of one or more LAYERS streams (rz-quantize),
 * checks that every linear layer (wq wk wv wo w1 w2 w3 of each block) is there exactly
 * once, with its shape, quantised from this very model (hash), and writes an .rzm: the
 * "model" record, float32 "tensor" records for what stays unquantised (token
 * embeddings, RMSNorm weights, and the classifier when it is not shared), then the
 * "qlayer" records (codes, scales, zero points, incoherence seeds) in model order.
 * With --embed-bits 8 or 4 the token embeddings (and an unshared classifier) are stored
 * as rtn "qlayer" records instead (per row at 8 bits, per group of --embed-group
 * columns, default 32, at 4 bits), which the engine reads from their codes.
 * rz_model_load (tools/core/lm/model_io.h) reads it back, decoding each layer to float32.
 *
 * Bits per weight, counted exactly: "linears" = (code bytes + float32 scales + uint8 zero
 * points + 2 × 64-bit seeds when incoherent) × 8 / linear weights; "model" = the same
 * plus 32 bits for every float32 weight and the payload bits of quantised tables, over all
 * weights; "tables" = the quantised tables' payload bits over their weights; "stream" = every byte of the
 * written records (field names, shapes, losses, framing; not the final end record) × 8
 * over all weights.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cluster.h"
#include "model_io.h"
#include "qlayer.h"

static const rz_cli_tool tool = {
    .name = "rz-pack",
    .summary = "a model plus its quantised layers into one compressed .rzm",
    .usage = "rz-pack -m MODEL LAYERS... [-o OUT.rzm]\n",
    .about = "Packs MODEL with the quantised layers of rz-quantize (one or more streams that hold\n"
             "every linear layer once) into a compressed .rzm that rz-ppl and rz-generate load.\n"
             "Norms stay float32; embeddings and an unshared classifier too unless --embed-bits.\n",
    .examples = "rz-pack -m stories260K.bin q.rzs -o stories260K.e8p2.rzm && rz-ppl -m stories260K.e8p2.rzm ...\n"
                "rz-pack -m stories260K.bin q.rzs --embed-bits 4 -o s.e8p2.emb4.rzm\n",
    .report = "bpw_linears, bpw_model, bpw_stream, bpw_tables, bytes, linear_weights, f32_weights, table_weights, layers, "
              "model",
    .output_help = "the packed .rzm",
};

int main(int argc, char **argv)
{
    rz_cluster_init(&argc, &argv);
    rz_cli c;
    const char *model = NULL;
    int ebits = 32, egroup = -1;
    rz_opt opts[] = {
        RZ_O_STR("model", 'm', "LOC", model, "the model the layers were quantised from"),
        RZ_O_INT("embed-bits", 0, "B", ebits, 4, 32,
                 "8 or 4: store tok_embeddings (and an unshared classifier) as\n"
                 "rtn codes (default 32: float32)"),
        RZ_O_INT("embed-group", 0, "G", egroup, 0, RZ_QUANT_MAX_DIM,
                 "columns per scale at --embed-bits (default 0 = per row at 8 bits,\n"
                 "32 at 4 bits)"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (ebits != 32 && ebits != 8 && ebits != 4) rz_cli_usage_error(&c, "--embed-bits: expected 8, 4 or 32, got %d", ebits);
    if (egroup >= 0 && ebits == 32) rz_cli_usage_error(&c, "--embed-group needs --embed-bits 8 or 4");
    if (egroup < 0) egroup = ebits == 4 ? 32 : 0;
    if (!model) rz_cli_usage_error(&c, "-m MODEL is required");
    c.output = rz_cli_records_out(&c);
    if (first >= argc) rz_cli_usage_error(&c, "give at least one LAYERS stream");
    rz_cli_threads(&c);
    rz_err e = {0};
    rz_llama *m;
    if (rz_model_load(model, &c.stream, &m, &e)) rz_cli_die(&c, &e);
    uint64_t mhash = rz_llama_identity(m, RZ_ID_LAYERS);
    long N = 7L * m->config.n_layers;
    void **blob = rz_calloc((size_t)N, sizeof *blob, &e);
    size_t *len = rz_calloc((size_t)N, sizeof *len, &e);
    double *pbits = rz_calloc((size_t)N, sizeof *pbits, &e);
    if (!blob || !len || !pbits) rz_cli_die(&c, &e);
    int rc = RZ_OK;
    for (int a = first; a < argc && !rc; a++) {
        rz_reader *r;
        if ((rc = rz_reader_open(argv[a], &c.stream, &r, &e))) break;
        const msgpack_object *rec;
        rz_rec_ctx ctx;
        while (!(rc = rz_reader_next(r, &rec, &ctx, &e)) && rec) {
            if (strcmp(ctx.type, "qlayer") != 0) {
                rc = rz_fail(&e, RZ_EINPUT, "%s: record %ld: expected \"qlayer\" records (from rz-quantize), got \"%s\"",
                             argv[a], ctx.index, ctx.type);
                break;
            }
            rz_qlayer_view q;
            if ((rc = rz_qlayer_decode(rec, &ctx, &q, &e))) break;
            if (q.model_hash != mhash) {
                rc = rz_fail(&e, RZ_EINPUT, "%s: record %ld (%s): quantised from another model than %s", argv[a], ctx.index,
                             q.name, model);
                break;
            }
            long found = rz_lin_find(m->config.n_layers, q.name);
            int rows, cols;
            if (found >= 0 && !rz_llama_linear_shape(&m->config, found, &rows, &cols) && (rows != q.rows || cols != q.cols))
                rc = rz_rec_fail(&e, &ctx, "rows", "layer '%s' is %dx%d, the model's is %dx%d", q.name, q.rows, q.cols,
                                 rows, cols);
            if (rc) break;
            if (found < 0) {
                rc = rz_rec_fail(&e, &ctx, "name", "'%s' is not a linear layer of this model", q.name);
                break;
            }
            if (blob[found]) {
                rc = rz_rec_fail(&e, &ctx, "name", "layer '%s' appears twice", q.name);
                break;
            }
            msgpack_sbuffer sb;
            msgpack_sbuffer_init(&sb);
            msgpack_packer pk;
            msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
            msgpack_pack_object(&pk, *rec);
            len[found] = sb.size;
            blob[found] = msgpack_sbuffer_release(&sb);
            pbits[found] = rz_qlayer_payload_bits(&q);
        }
        rz_reader_close(r);
    }
    for (long i = 0; !rc && i < N; i++)
        if (!blob[i]) {
            char name[RZ_MAX_NAME];
            float *W;
            int rows, cols, layer, group;
            rz_llama_linear(m, i, name, sizeof name, &W, &rows, &cols, &layer, &group);
            rc = rz_fail(&e, RZ_EINPUT, "layer '%s' is missing from the LAYERS streams", name);
        }
    if (rc) rz_cli_die(&c, &e);

    /* write: model record, unquantised tensors (f32), quantised layers in model order */
    rz_writer *w;
    if (rz_writer_open(c.output, &c.stream, &w, &e)) rz_cli_die(&c, &e);
    double bytes = 0, f32_weights = 0, lin_weights = 0, lin_bits = 0, table_weights = 0, table_bits = 0;
    msgpack_packer *pk = rz_writer_packer(w);
    rz_model_config_pack(pk, &m->config);
    bytes += (double)((msgpack_sbuffer *)pk->data)->size;
    if ((rc = rz_writer_emit(w, &e))) goto fail;
    for (int i = 0; i < rz_llama_tensor_count(m); i++) {
        const char *name;
        float *data;
        int shape[2], ndim;
        rz_llama_tensor_at(m, i, &name, &data, shape, &ndim);
        int quantised = rz_lin_find(m->config.n_layers, name) >= 0;
        double count = (double)shape[0] * (ndim == 2 ? shape[1] : 1);
        if (quantised) {
            lin_weights += count;
            continue;
        }
        int table = strcmp(name, "tok_embeddings.weight") == 0 || strcmp(name, "output.weight") == 0;
        if (table && ebits != 32) { /* a quantised table: rtn codes (rz_qlayer_quantize_table) */
            char tname[RZ_MAX_NAME];
            snprintf(tname, sizeof tname, "%s", name);
            rz_qlayer q;
            if ((rc = rz_qlayer_quantize_table(tname, data, shape[0], shape[1], ebits, egroup, mhash, &q, &e))) goto fail;
            rz_qlayer_pack(pk, &q.v);
            table_weights += count;
            table_bits += rz_qlayer_payload_bits(&q.v);
            rz_qlayer_free(&q);
            bytes += (double)((msgpack_sbuffer *)pk->data)->size;
            if ((rc = rz_writer_emit(w, &e))) goto fail;
            continue;
        }
        int64_t sh[2] = {shape[0], shape[1]};
        rz_tensor_pack(pk, name, RZ_F32, ndim, sh, data);
        f32_weights += count;
        bytes += (double)((msgpack_sbuffer *)pk->data)->size;
        if ((rc = rz_writer_emit(w, &e))) goto fail;
    }
    for (long i = 0; i < N; i++) {
        bytes += (double)len[i];
        lin_bits += pbits[i];
        if ((rc = rz_writer_emit_raw(w, blob[i], len[i], &e))) goto fail;
    }
    if ((rc = rz_writer_close(w, &e))) rz_cli_die(&c, &e);
    double total = lin_weights + f32_weights + table_weights;
    double bpw_lin = lin_bits / lin_weights, bpw_model = (lin_bits + table_bits + 32.0 * f32_weights) / total,
           bpw_stream = 8.0 * bytes / total, bpw_tables = table_weights > 0 ? table_bits / table_weights : 32.0;
    FILE *tf = rz_cli_text_out(&c, c.output);
    if (!c.json && tf)
        fprintf(tf, "packed %ld quantised linears (%.0f weights) + %.0f table weights at %.4f bits + %.0f float32 weights: "
               "%.4f bits/weight on the linears, %.4f on the whole model, %.4f counting every stream byte (%.0f bytes)\n",
               N, lin_weights, table_weights, bpw_tables, f32_weights, bpw_lin, bpw_model, bpw_stream, bytes);
    pk = rz_report_begin(&c, 10);
    rz_rec_f64(pk, "bpw_linears", bpw_lin);
    rz_rec_f64(pk, "bpw_model", bpw_model);
    rz_rec_f64(pk, "bpw_stream", bpw_stream);
    rz_rec_f64(pk, "bpw_tables", bpw_tables);
    rz_rec_int(pk, "bytes", (int64_t)bytes);
    rz_rec_int(pk, "linear_weights", (int64_t)lin_weights);
    rz_rec_int(pk, "f32_weights", (int64_t)f32_weights);
    rz_rec_int(pk, "table_weights", (int64_t)table_weights);
    rz_rec_int(pk, "layers", N);
    rz_rec_str(pk, "model", model);
    if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    for (long i = 0; i < N; i++) free(blob[i]);
    free(blob);
    free(len);
    free(pbits);
    rz_llama_free(m);
    rz_cluster_finalize();
    return 0;
fail:
    rz_writer_abort(w, &e);
    rz_cli_die(&c, &e);
}
