/* checkpoint.c — "train_checkpoint" and "lora_adapters" streams (see checkpoint.h and
 * train.md). 64-bit identities and generator states are written as 16 hex digits, so
 * they survive JSON views (rz-cat, jq) exactly. */
#include "checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

/* The headers' plain fields, in the order they are written. n_layers is not part of the
 * caller's rz_ckpt_info (it is the adapters'), so each header is a small struct holding
 * it beside the rest; it is copied in before writing and compared with the adapters'
 * after reading. What the tables cannot express stays code after them: "rank" (an
 * array of RZ_LIN_PER_LAYER ranks, no table kind), then the checkpoint's "loss" (it is
 * written after "rank"; read with rz_get_f64 as before, so any number — the table's
 * F64 kind would refuse a NaN), and the cross-field rules (model_id equal to the
 * model's, n_layers and ranks equal to the adapters'). */
typedef struct {
    rz_ckpt_info info;
    int n_layers;
} ckpt_header;
#define S ckpt_header
static const rz_field_spec ckpt_fields[] = {
    RZ_FIELD_I64(S, info.step, 0, INT64_MAX, 0),
    RZ_FIELD_I64_AS(S, "total_steps", info.total, 0, INT64_MAX, 0),
    RZ_FIELD_I64_AS(S, "data_pos", info.cur.pos, 0, INT64_MAX, 0), /* a uint64_t below 2^63 */
    RZ_FIELD_HEX64(S, info.cur.rng, 0),
    RZ_FIELD_HEX64(S, info.model_id, 0),
    RZ_FIELD_I64(S, info.batch, 1, 1 << 30, 0),
    RZ_FIELD_I64(S, info.micro, 1, 1 << 30, 0),
    RZ_FIELD_I64(S, info.ctx, 1, 1 << 30, 0),
    RZ_FIELD_INT(S, n_layers, 1, 65536, 0),
};
#undef S

typedef struct {
    uint64_t model_id;
    int n_layers;
} adapters_header;
#define S adapters_header
static const rz_field_spec adapters_fields[] = {
    RZ_FIELD_HEX64(S, model_id, 0),
    RZ_FIELD_INT(S, n_layers, 1, 65536, 0),
};
#undef S

static void pack_ranks(msgpack_packer *pk, const int *rank)
{
    rz_rec_key(pk, "rank");
    msgpack_pack_array(pk, RZ_LIN_PER_LAYER);
    for (int i = 0; i < RZ_LIN_PER_LAYER; i++) msgpack_pack_int(pk, rank[i]);
}

static int get_ranks(const msgpack_object *rec, const rz_rec_ctx *c, int *rank, rz_err *e)
{
    const msgpack_object *f = rz_field(rec, "rank");
    if (!f || f->type != MSGPACK_OBJECT_ARRAY || f->via.array.size != RZ_LIN_PER_LAYER)
        return rz_rec_fail(e, c, "rank", "expected an array of %d ranks (wq wk wv wo w1 w2 w3)", RZ_LIN_PER_LAYER);
    for (int i = 0; i < RZ_LIN_PER_LAYER; i++) {
        const msgpack_object *x = &f->via.array.ptr[i];
        if (x->type != MSGPACK_OBJECT_POSITIVE_INTEGER || x->via.u64 > (1 << 24))
            return rz_rec_fail(e, c, "rank", "entry %d is not a rank (uint <= 2^24)", i);
        rank[i] = (int)x->via.u64;
    }
    return 0;
}

/* The tensors of a stream: for each adapted matrix with k > 0, L then R, each optionally
 * followed by its two moments. Visits them in a fixed order. */
typedef struct {
    char name[RZ_MAX_NAME];
    float *data;
    int64_t shape[2];
} slot;

static int slots(const rz_lora *a, const rz_adamw *opt, slot **out, int *count, rz_err *e)
{
    int per = opt ? 6 : 2, n = 0;
    slot *s = rz_calloc((size_t)a->n_layers * RZ_LIN_PER_LAYER * per + 1, sizeof *s, e);
    if (!s) return RZ_EINTERNAL;
    static const char *suffix[3] = {"", ".adam_m", ".adam_v"};
    for (int l = 0; l < a->n_layers; l++)
        for (int kind = 0; kind < RZ_LIN_PER_LAYER; kind++) {
            const rz_adapter *ad = rz_lora_at(a, l, kind);
            if (!ad->k) continue;
            for (int which = 0; which < 2; which++) { /* L, R */
                float *p = which ? ad->R : ad->L;
                size_t off = (size_t)(p - a->params);
                for (int v = 0; v < (opt ? 3 : 1); v++) {
                    slot *x = &s[n++];
                    snprintf(x->name, sizeof x->name, "layers.%d.%s.%s%s", l, rz_lin_name(kind),
                             which ? "R" : "L", suffix[v]);
                    x->data = v == 0 ? p : v == 1 ? opt->m + off : opt->v + off;
                    x->shape[0] = which ? ad->k : ad->m;
                    x->shape[1] = which ? ad->n : ad->k;
                }
            }
        }
    *out = s;
    *count = n;
    return 0;
}

static int write_tensors(rz_writer *w, const slot *s, int n, rz_err *e)
{
    for (int i = 0; i < n; i++) {
        rz_tensor_pack(rz_writer_packer(w), s[i].name, RZ_F32, 2, s[i].shape, s[i].data);
        int rc = rz_writer_emit(w, e);
        if (rc) return rc;
    }
    return 0;
}

/* Reads the tensor records after the header into the slots: each exactly once. */
static int read_tensors(rz_reader *r, const char *loc, slot *s, int n, rz_err *e)
{
    char *seen = rz_calloc((size_t)n + 1, 1, e);
    if (!seen) return RZ_EINTERNAL;
    int rc = 0;
    const msgpack_object *rec;
    rz_rec_ctx ctx;
    for (;;) {
        if ((rc = rz_reader_next(r, &rec, &ctx, e))) goto done;
        if (!rec) break;
        rz_tensor_view t;
        if (strcmp(ctx.type, "tensor") != 0) {
            rc = rz_fail(e, RZ_EINPUT, "%s: record %ld: unexpected record type \"%s\"", loc, ctx.index, ctx.type);
            goto done;
        }
        if ((rc = rz_tensor_decode(rec, &ctx, &t, e))) goto done;
        int found = -1;
        for (int i = 0; i < n && found < 0; i++)
            if (strcmp(s[i].name, t.name) == 0) found = i;
        if (found < 0) {
            rc = rz_rec_fail(e, &ctx, "name", "unknown tensor '%s' for these adapters", t.name);
            goto done;
        }
        if (seen[found]) {
            rc = rz_rec_fail(e, &ctx, "name", "tensor '%s' appears twice", t.name);
            goto done;
        }
        if (t.dtype != RZ_F32 || t.ndim != 2 || t.shape[0] != s[found].shape[0] || t.shape[1] != s[found].shape[1]) {
            rc = rz_rec_fail(e, &ctx, "shape", "tensor '%s' must be f32 [%" PRId64 ", %" PRId64 "]", t.name,
                             s[found].shape[0], s[found].shape[1]);
            goto done;
        }
        if ((rc = rz_tensor_to_f32(&t, s[found].data, &ctx, e))) goto done;
        seen[found] = 1;
    }
    for (int i = 0; i < n; i++)
        if (!seen[i]) {
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s' is missing", loc, s[i].name);
            goto done;
        }
done:
    free(seen);
    return rc;
}

int rz_ckpt_save(const char *loc, const rz_stream_opts *o, const rz_ckpt_info *info, const rz_lora *a,
                 const rz_adamw *opt, rz_err *e)
{
    slot *s;
    int n, rc;
    if ((rc = slots(a, opt, &s, &n, e))) return rc;
    rz_writer *w;
    if ((rc = rz_writer_open(loc, o, &w, e))) return free(s), rc;
    msgpack_packer *pk = rz_writer_packer(w);
    ckpt_header h = {*info, a->n_layers};
    rz_rec_begin(pk, "train_checkpoint", RZ_TRAIN_CKPT_VERSION, RZ_NFIELDS(ckpt_fields) + 2);
    rz_rec_fields_pack(pk, &h, ckpt_fields, RZ_NFIELDS(ckpt_fields));
    pack_ranks(pk, a->rank);
    rz_rec_f64(pk, "loss", info->loss);
    if ((rc = rz_writer_emit(w, e)) || (rc = write_tensors(w, s, n, e))) {
        rz_writer_abort(w, e);
        return free(s), rc;
    }
    free(s);
    return rz_writer_close(w, e);
}

int rz_ckpt_load(const char *loc, const rz_stream_opts *o, uint64_t expect_id, rz_ckpt_info *info, rz_lora *a,
                 rz_adamw *opt, rz_err *e)
{
    rz_reader *r;
    int rc = rz_reader_open(loc, o, &r, e);
    if (rc) return rc;
    slot *s = NULL;
    int n = 0;
    const msgpack_object *rec;
    rz_rec_ctx ctx;
    ckpt_header h;
    if ((rc = rz_reader_next(r, &rec, &ctx, e))) goto done;
    if (!rec || strcmp(ctx.type, "train_checkpoint") != 0) {
        rc = rz_fail(e, RZ_EINPUT, "%s: record 0: expected a \"train_checkpoint\" record (is this a checkpoint?)", loc);
        goto done;
    }
    int64_t v = 0;
    if ((rc = rz_get_int(rec, &ctx, "v", 1, 1 << 20, &v, e))) goto done;
    if (v != RZ_TRAIN_CKPT_VERSION) {
        rc = rz_rec_fail(e, &ctx, "v", "version %" PRId64 " is not supported (this reader knows %d)", v,
                         RZ_TRAIN_CKPT_VERSION);
        goto done;
    }
    memset(&h, 0, sizeof h);
    if ((rc = rz_rec_fields_decode(rec, &ctx, &h, ckpt_fields, RZ_NFIELDS(ckpt_fields), e)) ||
        (rc = get_ranks(rec, &ctx, h.info.rank, e)) || (rc = rz_get_f64(rec, &ctx, "loss", &h.info.loss, e)))
        goto done;
    *info = h.info;
    if (info->model_id != expect_id) {
        rc = rz_fail(e, RZ_EINPUT,
                     "%s: record 0 (train_checkpoint): field 'model_id': the checkpoint was made for another "
                     "model (id %016" PRIx64 "; this model's id is %016" PRIx64 ")",
                     loc, info->model_id, expect_id);
        goto done;
    }
    if (h.n_layers != a->n_layers || memcmp(info->rank, a->rank, sizeof a->rank) != 0) {
        rc = rz_rec_fail(e, &ctx, "rank", "the checkpoint's adapters (%d layers, ranks %d %d %d %d %d %d %d) "
                         "differ from this run's (--rank)", h.n_layers, info->rank[0], info->rank[1], info->rank[2],
                         info->rank[3], info->rank[4], info->rank[5], info->rank[6]);
        goto done;
    }
    if ((rc = slots(a, opt, &s, &n, e)) || (rc = read_tensors(r, loc, s, n, e))) goto done;
    opt->step = info->step;
done:
    free(s);
    rz_reader_close(r);
    return rc;
}

int rz_adapters_save(const char *loc, const rz_stream_opts *o, uint64_t model_id, const rz_lora *a, rz_err *e)
{
    slot *s;
    int n, rc;
    if ((rc = slots(a, NULL, &s, &n, e))) return rc;
    rz_writer *w;
    if ((rc = rz_writer_open(loc, o, &w, e))) return free(s), rc;
    msgpack_packer *pk = rz_writer_packer(w);
    adapters_header h = {model_id, a->n_layers};
    rz_rec_begin(pk, "lora_adapters", RZ_ADAPTERS_VERSION, RZ_NFIELDS(adapters_fields) + 1);
    rz_rec_fields_pack(pk, &h, adapters_fields, RZ_NFIELDS(adapters_fields));
    pack_ranks(pk, a->rank);
    if ((rc = rz_writer_emit(w, e)) || (rc = write_tensors(w, s, n, e))) {
        rz_writer_abort(w, e);
        return free(s), rc;
    }
    free(s);
    return rz_writer_close(w, e);
}

int rz_adapters_load(const char *loc, const rz_stream_opts *o, uint64_t expect_id, rz_lora *a, rz_err *e)
{
    rz_reader *r;
    int rc = rz_reader_open(loc, o, &r, e);
    if (rc) return rc;
    slot *s = NULL;
    int n = 0, rank[RZ_LIN_PER_LAYER];
    const msgpack_object *rec;
    rz_rec_ctx ctx;
    adapters_header h = {0, 0};
    if ((rc = rz_reader_next(r, &rec, &ctx, e))) goto done;
    if (!rec || strcmp(ctx.type, "lora_adapters") != 0) {
        rc = rz_fail(e, RZ_EINPUT, "%s: record 0: expected a \"lora_adapters\" record", loc);
        goto done;
    }
    if ((rc = rz_rec_fields_decode(rec, &ctx, &h, adapters_fields, RZ_NFIELDS(adapters_fields), e)) ||
        (rc = get_ranks(rec, &ctx, rank, e)))
        goto done;
    if (expect_id && h.model_id != expect_id) {
        rc = rz_rec_fail(e, &ctx, "model_id", "the adapters were made for another model (id %016" PRIx64
                         "; this model's id is %016" PRIx64 ")", h.model_id, expect_id);
        goto done;
    }
    if (h.n_layers != a->n_layers || memcmp(rank, a->rank, sizeof rank) != 0) {
        rc = rz_rec_fail(e, &ctx, "rank", "ranks differ from the adapters expected");
        goto done;
    }
    if ((rc = slots(a, NULL, &s, &n, e)) || (rc = read_tensors(r, loc, s, n, e))) goto done;
done:
    free(s);
    rz_reader_close(r);
    return rc;
}
