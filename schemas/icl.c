/* icl.c — icl_demos, icl_prompt and icl_pred records (icl.h, schemas/icl.md). */
#include "icl.h"

#include <stdlib.h>
#include <string.h>

/* The records' plain fields, in the order they are written; the arrays (demos, labels)
 * and the prompt's strings (views into the record, not char arrays) stay code after
 * them, as does labels' rule (as many as demos). test and tokens are longs, read and
 * written by the I64 kind: */
_Static_assert(sizeof(long) == sizeof(int64_t), "a long member is an int64_t's size");
static const rz_field_spec demos_fields[] = {
    RZ_FIELD_I64(rz_icl_demos, test, 0, (int64_t)1 << 40, 0),
    RZ_FIELD_STR(rz_icl_demos, method, 0),
};
static const rz_field_spec prompt_fields[] = {
    RZ_FIELD_I64(rz_icl_prompt_rec, test, 0, (int64_t)1 << 40, 0),
    RZ_FIELD_INT(rz_icl_prompt_rec, gold, 0, RZ_ICL_MAX_CLASSES - 1, 0),
    RZ_FIELD_INT(rz_icl_prompt_rec, shots, 0, RZ_ICL_MAX_DEMOS, 0),
    RZ_FIELD_I64(rz_icl_prompt_rec, tokens, 0, (int64_t)1 << 40, 0),
};

void rz_icl_demos_pack(msgpack_packer *pk, const rz_icl_demos *d)
{
    rz_rec_begin(pk, "icl_demos", RZ_ICL_DEMOS_VERSION, RZ_NFIELDS(demos_fields) + (d->labels ? 2 : 1));
    rz_rec_fields_pack(pk, d, demos_fields, RZ_NFIELDS(demos_fields));
    rz_rec_key(pk, "demos");
    msgpack_pack_array(pk, (size_t)d->n);
    for (int i = 0; i < d->n; i++) msgpack_pack_int64(pk, d->demos[i]);
    if (d->labels) {
        rz_rec_key(pk, "labels");
        msgpack_pack_array(pk, (size_t)d->n);
        for (int i = 0; i < d->n; i++) msgpack_pack_int(pk, d->labels[i]);
    }
}

/* an array of integers in [lo, hi], at most max long */
static int int_array(const msgpack_object *rec, const rz_rec_ctx *c, const char *k, int64_t lo, int64_t hi, int max,
                     int required, const msgpack_object **out, rz_err *e)
{
    const msgpack_object *a = rz_field(rec, k);
    *out = NULL;
    if (!a) return required ? rz_rec_fail(e, c, k, "missing (expected an array of integers)") : 0;
    if (a->type != MSGPACK_OBJECT_ARRAY) return rz_rec_fail(e, c, k, "expected an array of integers");
    if (a->via.array.size > (uint32_t)max) return rz_rec_fail(e, c, k, "%u items, more than %d", a->via.array.size, max);
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        const msgpack_object *o = &a->via.array.ptr[i];
        int64_t v;
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX) v = (int64_t)o->via.u64;
        else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) v = o->via.i64;
        else return rz_rec_fail(e, c, k, "item %u is not an integer", i);
        if (v < lo || v > hi) return rz_rec_fail(e, c, k, "item %u = %lld is not in [%lld, %lld]", i, (long long)v,
                                                 (long long)lo, (long long)hi);
    }
    *out = a;
    return 0;
}

int rz_icl_demos_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_icl_demos *d, rz_err *e)
{
    memset(d, 0, sizeof *d);
    int64_t v;
    if (rz_get_int(rec, c, "v", 1, RZ_ICL_DEMOS_VERSION, &v, e) ||
        rz_rec_fields_decode(rec, c, d, demos_fields, RZ_NFIELDS(demos_fields), e))
        return RZ_EINPUT;
    const msgpack_object *a, *l;
    if (int_array(rec, c, "demos", 0, 1L << 40, RZ_ICL_MAX_DEMOS, 1, &a, e) ||
        int_array(rec, c, "labels", 0, RZ_ICL_MAX_CLASSES - 1, RZ_ICL_MAX_DEMOS, 0, &l, e))
        return RZ_EINPUT;
    if (l && l->via.array.size != a->via.array.size)
        return rz_rec_fail(e, c, "labels", "%u items for %u demos", l->via.array.size, a->via.array.size);
    d->n = (int)a->via.array.size;
    d->demos = malloc(((size_t)d->n + 1) * sizeof *d->demos);
    if (!d->demos) return rz_fail(e, RZ_EINTERNAL, "out of memory");
    for (int i = 0; i < d->n; i++) d->demos[i] = (long)a->via.array.ptr[i].via.i64;
    if (l) {
        d->labels = malloc(((size_t)d->n + 1) * sizeof *d->labels);
        if (!d->labels) return rz_fail(e, RZ_EINTERNAL, "out of memory");
        for (int i = 0; i < d->n; i++) d->labels[i] = (int)l->via.array.ptr[i].via.i64;
    }
    return 0;
}

void rz_icl_demos_free(rz_icl_demos *d)
{
    free(d->demos);
    free(d->labels);
    d->demos = NULL;
    d->labels = NULL;
}

void rz_icl_prompt_pack(msgpack_packer *pk, long test, int gold, int shots, long tokens, const char *text,
                        const char *cf_text)
{
    rz_icl_prompt_rec r = {.test = test, .gold = gold, .shots = shots, .tokens = tokens};
    rz_rec_begin(pk, "icl_prompt", RZ_ICL_PROMPT_VERSION, RZ_NFIELDS(prompt_fields) + 2);
    rz_rec_fields_pack(pk, &r, prompt_fields, RZ_NFIELDS(prompt_fields));
    rz_rec_str(pk, "text", text);
    rz_rec_str(pk, "cf_text", cf_text);
}

static int str_field(const msgpack_object *rec, const rz_rec_ctx *c, const char *k, const char **p, size_t *n,
                     rz_err *e)
{
    const msgpack_object *o = rz_field(rec, k);
    if (!o || o->type != MSGPACK_OBJECT_STR) return rz_rec_fail(e, c, k, "missing or not a string");
    *p = o->via.str.ptr;
    *n = o->via.str.size;
    return 0;
}

int rz_icl_prompt_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_icl_prompt_rec *p, rz_err *e)
{
    int64_t v;
    if (rz_get_int(rec, c, "v", 1, RZ_ICL_PROMPT_VERSION, &v, e) ||
        rz_rec_fields_decode(rec, c, p, prompt_fields, RZ_NFIELDS(prompt_fields), e) ||
        str_field(rec, c, "text", &p->text, &p->text_n, e) || str_field(rec, c, "cf_text", &p->cf_text, &p->cf_n, e))
        return RZ_EINPUT;
    return 0;
}

/* icl_pred's plain fields, as a struct for the table (rizz writes the record, never reads it) */
typedef struct {
    long test;
    int gold, pred, shots;
} pred_head;
static const rz_field_spec pred_fields[] = {
    RZ_FIELD_I64(pred_head, test, 0, (int64_t)1 << 40, 0),
    RZ_FIELD_INT(pred_head, gold, 0, RZ_ICL_MAX_CLASSES - 1, 0),
    RZ_FIELD_INT(pred_head, pred, 0, RZ_ICL_MAX_CLASSES - 1, 0),
    RZ_FIELD_INT(pred_head, shots, 0, RZ_ICL_MAX_DEMOS, 0),
};

/* key: an array of the n doubles v */
static void icl_f64_array(msgpack_packer *pk, const char *key, const double *v, int n)
{
    rz_rec_key(pk, key);
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < n; i++) msgpack_pack_double(pk, v[i]);
}

void rz_icl_pred_pack(msgpack_packer *pk, long test, int gold, int pred, int L, const double *logp,
                      const double *logp_cf, int shots)
{
    pred_head h = {.test = test, .gold = gold, .pred = pred, .shots = shots};
    rz_rec_begin(pk, "icl_pred", RZ_ICL_PRED_VERSION, RZ_NFIELDS(pred_fields) + (logp_cf ? 2 : 1));
    rz_rec_fields_pack(pk, &h, pred_fields, RZ_NFIELDS(pred_fields));
    icl_f64_array(pk, "logp", logp, L);
    if (logp_cf) icl_f64_array(pk, "logp_cf", logp_cf, L);
}
