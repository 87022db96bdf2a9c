/* model_io.c — .rzm streams and llama2.c .bin checkpoints into the engine (see model_io.h). */
#include "model_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "modelfile.h"
#include "qlayer.h"
#include "qlinear.h"

int rz_model_save_rzm(rz_llama *m, const char *loc, rz_dtype dtype, const rz_stream_opts *o,
                      rz_err *e)
{
    if (dtype != RZ_F32 && dtype != RZ_F16 && dtype != RZ_BF16)
        return rz_fail(e, RZ_EINPUT, "model tensors can be stored as f32, f16 or bf16, not %s",
                       rz_dtype_name(dtype));
    rz_writer *w;
    int rc = rz_writer_open(loc, o, &w, e);
    if (rc) return rc;
    rz_model_config_pack(rz_writer_packer(w), &m->config);
    if ((rc = rz_writer_emit(w, e))) goto fail;
    uint16_t *half = NULL;
    size_t half_cap = 0;
    for (int i = 0; i < rz_llama_tensor_count(m); i++) {
        const char *name;
        float *data;
        int shape[2], ndim;
        rz_llama_tensor_at(m, i, &name, &data, shape, &ndim);
        int64_t sh[2] = {shape[0], shape[1]};
        size_t n = (size_t)shape[0] * (size_t)(ndim == 2 ? shape[1] : 1);
        const void *payload = data;
        if (dtype != RZ_F32) {
            if (n > half_cap) {
                free(half);
                half_cap = n;
                half = rz_malloc(n * sizeof *half, e);
                if (!half) {
                    rc = RZ_EINTERNAL;
                    goto fail;
                }
            }
            for (size_t k = 0; k < n; k++)
                half[k] = dtype == RZ_F16 ? rz_f32_to_f16(data[k]) : rz_f32_to_bf16(data[k]);
            payload = half;
        }
        rz_tensor_pack(rz_writer_packer(w), name, dtype, ndim, sh, payload);
        if ((rc = rz_writer_emit(w, e))) {
            free(half);
            goto fail;
        }
    }
    free(half);
    return rz_writer_close(w, e);
fail:
    rz_writer_abort(w, e);
    return rc;
}

int rz_model_is_rzm(const char *loc)
{
    if (strcmp(loc, "-") == 0 || rz_is_endpoint(loc)) return 1;
    FILE *f = fopen(loc, "rb");
    if (!f) return 0;
    int b = fgetc(f);
    fclose(f);
    /* an .rzm starts with a map header; a llama2.c .bin with a small positive int32 dim,
     * whose low byte could only collide for dim = 128..143, 222 or 223 mod 256: the map
     * must then also be followed by the "type" key, which an int32 cannot provide */
    if (b == EOF) return 0;
    if ((b & 0xf0) != 0x80 && b != 0xde && b != 0xdf) return 0;
    f = fopen(loc, "rb");
    unsigned char head[10] = {0};
    size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f) fclose(f);
    size_t skip = (b & 0xf0) == 0x80 ? 1 : b == 0xde ? 3 : 5;
    return n >= skip + 5 && head[skip] == 0xa4 && memcmp(head + skip + 1, "type", 4) == 0;
}

/* Linear index (RZ_LIN_*, 7 per layer) of tensor i of rz_llama_tensor_at, or -1. */
static long linear_of_tensor(const rz_llama *m, int i)
{
    static const int lin_of[9] = {-1, RZ_LIN_WQ, RZ_LIN_WK, RZ_LIN_WV, RZ_LIN_WO, -1, RZ_LIN_W1, RZ_LIN_W2, RZ_LIN_W3};
    if (i < 1 || i > 9 * m->config.n_layers) return -1;
    int k = lin_of[(i - 1) % 9];
    return k < 0 ? -1 : (long)RZ_LIN_PER_LAYER * ((i - 1) / 9) + k;
}

/* RZ_TABLE_EMB / RZ_TABLE_OUT for tensor i (tok_embeddings, output), else -1. */
static int table_of_tensor(const rz_llama *m, int i)
{
    if (i == 0) return RZ_TABLE_EMB;
    return i == 9 * m->config.n_layers + 2 ? RZ_TABLE_OUT : -1;
}

/* A qlayer record standing for a non-linear tensor: only the embedding table or the
 * classifier (schemas/quant.md, "Packed model"), both without a low-rank part; the
 * embedding (also the classifier when shared) is read one row per token, so it must be a
 * scalar grid (rtn, ldlq) without incoherence. */
static int check_qtable(const rz_qlayer_view *q, int table, const rz_rec_ctx *ctx, rz_err *e)
{
    if (table < 0) return rz_rec_fail(e, ctx, "name", "'%s' is neither a linear layer nor a table and cannot be quantised", q->name);
    if (q->rank > 0) return rz_rec_fail(e, ctx, "rank", "'%s': a quantised table cannot carry a low-rank part", q->name);
    if (q->out_scale) return rz_rec_fail(e, ctx, "out_scale", "'%s': a quantised table cannot carry line scales", q->name);
    if (table == RZ_TABLE_EMB && (q->method == RZ_QM_E8P || q->incoherent))
        return rz_rec_fail(e, ctx, q->incoherent ? "incoherent" : "method",
                           "'%s' is read one row per token: it must be rtn or ldlq without incoherence (got %s%s)",
                           q->name, rz_qmethod_name(q->method), q->incoherent ? " with incoherence" : "");
    return RZ_OK;
}

/* codes: quantised linears stay codes (a lazy model, rz_llama_set_qlinear); otherwise
 * ad == NULL: merge Q + L R; else keep Q in the model and the pairs in *ad. */
static int load_rzm(const char *loc, const rz_stream_opts *o, int codes, rz_llama **out, rz_lowrank_adapters *ad,
                    rz_err *e)
{
    rz_reader *r;
    int rc = rz_reader_open(loc, o, &r, e);
    if (rc) return rc;
    rz_llama *m = NULL;
    char *seen = NULL;
    const msgpack_object *rec;
    rz_rec_ctx ctx;
    if ((rc = rz_reader_next(r, &rec, &ctx, e))) goto done;
    if (!rec || strcmp(ctx.type, "model") != 0) {
        rc = rz_fail(e, RZ_EINPUT, "%s: record 0: expected a \"model\" record first (is this a model stream?)", loc);
        goto done;
    }
    rz_llama_config cfg;
    if ((rc = rz_model_config_decode(rec, &ctx, &cfg, e))) goto done;
    if ((rc = (codes ? rz_llama_alloc_lazy : rz_llama_alloc)(&cfg, &m, e))) goto done;
    int nt = rz_llama_tensor_count(m);
    seen = rz_calloc((size_t)nt, 1, e);
    if (!seen) {
        rc = RZ_EINTERNAL;
        goto done;
    }
    for (;;) {
        if ((rc = rz_reader_next(r, &rec, &ctx, e))) goto done;
        if (!rec) break;
        int is_q = strcmp(ctx.type, "qlayer") == 0;
        if (!is_q && strcmp(ctx.type, "tensor") != 0) {
            rc = rz_fail(e, RZ_EINPUT, "%s: record %ld: unexpected record type \"%s\" in a model stream",
                         loc, ctx.index, ctx.type);
            goto done;
        }
        /* a quantised linear (rz-pack): decoded to the same dense tensor (qlayer.h) */
        rz_tensor_view t;
        rz_qlayer_view ql;
        if (is_q) {
            if ((rc = rz_qlayer_decode(rec, &ctx, &ql, e))) goto done;
            memset(&t, 0, sizeof t);
            memcpy(t.name, ql.name, sizeof t.name);
            t.ndim = 2;
            t.shape[0] = ql.rows;
            t.shape[1] = ql.cols;
            t.count = (int64_t)ql.rows * ql.cols;
        } else if ((rc = rz_tensor_decode(rec, &ctx, &t, e))) {
            goto done;
        }
        int found = -1, shape[2], ndim = 0;
        float *data = NULL;
        for (int i = 0; i < nt && found < 0; i++) {
            const char *name;
            rz_llama_tensor_at(m, i, &name, &data, shape, &ndim);
            if (strcmp(name, t.name) == 0) found = i;
        }
        if (found < 0) {
            rc = rz_rec_fail(e, &ctx, "name", "unknown tensor '%s' for this model", t.name);
            goto done;
        }
        if (seen[found]) {
            rc = rz_rec_fail(e, &ctx, "name", "tensor '%s' appears twice", t.name);
            goto done;
        }
        int ok = t.ndim == ndim && t.shape[0] == shape[0] && (ndim == 1 || t.shape[1] == shape[1]);
        if (!ok) {
            char want[64];
            if (ndim == 2) snprintf(want, sizeof want, "[%d, %d]", shape[0], shape[1]);
            else snprintf(want, sizeof want, "[%d]", shape[0]);
            rc = rz_rec_fail(e, &ctx, "shape", "tensor '%s' has the wrong shape (expected %s)", t.name, want);
            goto done;
        }
        long lin = linear_of_tensor(m, found);
        int table = table_of_tensor(m, found);
        if (is_q && lin < 0 && (rc = check_qtable(&ql, table, &ctx, e))) goto done;
        if (!data && !(codes && is_q) &&
            !(data = lin >= 0 ? rz_llama_linear_storage(m, lin, e) : rz_llama_table_storage(m, table, e))) {
            rc = RZ_EINTERNAL;
            goto done;
        }
        if (is_q && codes && ql.out_scale) { /* the fused decode path does not apply them */
            rc = rz_rec_fail(e, &ctx, "out_scale", "qlayer '%s' carries tuned line scales (v3), which decoding "
                             "from the codes does not apply: load the dense merge (rz-ppl --dense)", ql.name);
            goto done;
        }
        if (is_q && codes) {
            struct rz_qlinear *q;
            if ((rc = rz_qlinear_new(&ql, &q, e)) ||
                (rc = lin >= 0 ? rz_llama_set_qlinear(m, lin, q, e) : rz_llama_set_qtable(m, table, q, e)))
                goto done;
            seen[found] = 1;
            continue;
        } else if (is_q && ad && lin >= 0) {
            rz_lowrank_adapter *na = realloc(ad->a, (size_t)(ad->count + 1) * sizeof *na);
            if (!na) {
                rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
                goto done;
            }
            ad->a = na;
            rz_lowrank_adapter *a = &ad->a[ad->count++];
            memset(a, 0, sizeof *a);
            memcpy(a->name, ql.name, sizeof a->name);
            a->m = ql.rows;
            a->n = ql.cols;
            a->k = ql.rank;
            if (a->k > 0) {
                a->L = rz_malloc((size_t)a->m * (size_t)a->k * sizeof *a->L, e);
                a->R = rz_malloc((size_t)a->k * (size_t)a->n * sizeof *a->R, e);
                if (!a->L || !a->R) {
                    rc = RZ_EINTERNAL;
                    goto done;
                }
            }
            if ((rc = rz_qlayer_dequant_parts(&ql, data, a->L, a->R, e))) goto done;
            if (ql.out_scale) { /* v3: the line scales, apart as well */
                a->sa = rz_malloc((size_t)a->m * sizeof *a->sa, e);
                a->sb = rz_malloc((size_t)a->n * sizeof *a->sb, e);
                if (!a->sa || !a->sb) {
                    rc = RZ_EINTERNAL;
                    goto done;
                }
                rz_qlayer_line_scales(&ql, a->sa, a->sb);
            }
        } else if (is_q) {
            if ((rc = rz_qlayer_dequant(&ql, data, e))) goto done;
        } else if ((rc = rz_tensor_to_f32(&t, data, &ctx, e))) {
            goto done;
        }
        for (int64_t k = 0; k < t.count; k++)
            if (!isfinite(data[k])) {
                rc = rz_rec_fail(e, &ctx, "data", "tensor '%s' holds a non-finite value at %lld",
                                 t.name, (long long)k);
                goto done;
            }
        seen[found] = 1;
    }
    for (int i = 0; i < nt; i++)
        if (!seen[i]) {
            const char *name;
            float *data;
            int shape[2], ndim;
            rz_llama_tensor_at(m, i, &name, &data, shape, &ndim);
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s' is missing", loc, name);
            goto done;
        }
done:
    free(seen);
    rz_reader_close(r);
    if (rc) {
        rz_llama_free(m);
        return rc;
    }
    *out = m;
    return RZ_OK;
}

int rz_model_load(const char *loc, const rz_stream_opts *o, rz_llama **out, rz_err *e)
{
    if (rz_model_is_rzm(loc)) return load_rzm(loc, o, 0, out, NULL, e);
    return rz_modelfile_load(loc, out, e);
}

int rz_model_load_codes(const char *loc, const rz_stream_opts *o, rz_llama **out, rz_err *e)
{
    if (rz_model_is_rzm(loc)) return load_rzm(loc, o, 1, out, NULL, e);
    return rz_modelfile_load(loc, out, e);
}

void rz_lowrank_adapters_free(rz_lowrank_adapters *ad)
{
    if (!ad) return;
    for (int i = 0; i < ad->count; i++) {
        free(ad->a[i].L);
        free(ad->a[i].R);
        free(ad->a[i].sa);
        free(ad->a[i].sb);
    }
    free(ad->a);
    free(ad);
}

int rz_model_load_lowrank(const char *loc, const rz_stream_opts *o, rz_llama **q_model,
                          rz_lowrank_adapters **ad, rz_err *e)
{
    rz_lowrank_adapters *a = rz_calloc(1, sizeof *a, e);
    if (!a) return RZ_EINTERNAL;
    int rc = rz_model_is_rzm(loc) ? load_rzm(loc, o, 0, q_model, a, e) : rz_modelfile_load(loc, q_model, e);
    if (rc) {
        rz_lowrank_adapters_free(a);
        return rc;
    }
    *ad = a;
    return RZ_OK;
}
