/* record.c — encoding and validating decoding of rizz records (see record.h and
 * schemas/README.md). Decoding never trusts the input: every field is checked for
 * presence, msgpack type and range, and every size against the bytes really present. */
#include "record.h"


#include <assert.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building ---------------------------------------------------------------------- */

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void rz_rec_key(msgpack_packer *pk, const char *key) { pack_cstr(pk, key); }

/* The "type" string of a record we built (rz_rec_begin's first field), or "?". */
static void built_type(const unsigned char *b, size_t n, char *out, size_t cap)
{
    snprintf(out, cap, "?");
    size_t o = n > 0 && (b[0] & 0xf0) == 0x80 ? 1 : n > 0 && b[0] == 0xde ? 3 : n > 0 && b[0] == 0xdf ? 5 : 0;
    if (o == 0 || o + 6 > n || memcmp(b + o, "\xa4type", 5) != 0) return;
    o += 5;
    size_t len = (b[o] & 0xe0) == 0xa0 ? (size_t)(b[o] & 0x1f) : 0;
    if ((b[o] & 0xe0) == 0xa0 && o + 1 + len <= n && len < cap) snprintf(out, cap, "%.*s", (int)len, (const char *)b + o + 1);
}

int rz_rec_check(const void *buf, size_t n, rz_err *e)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(&up, buf, n, &off);
    msgpack_unpacked_destroy(&up);
    if (r == MSGPACK_UNPACK_SUCCESS && off == n) return RZ_OK;
    char type[64];
    built_type(buf, n, type, sizeof type);
    if (r == MSGPACK_UNPACK_SUCCESS)
        return rz_fail(e, RZ_EINTERNAL, "internal error: record '%s' was built with a field count below the fields "
                       "written (%zu of its %zu bytes lie past the map)", type, n - off, n);
    return rz_fail(e, RZ_EINTERNAL, "internal error: record '%s' was built with a field count above the fields "
                   "written (the map is incomplete)", type);
}

void rz_rec_begin(msgpack_packer *pk, const char *type, int version, int n_fields)
{
    msgpack_pack_map(pk, (size_t)n_fields + 2);
    rz_rec_str(pk, "type", type);
    rz_rec_int(pk, "v", version);
}

void rz_rec_str(msgpack_packer *pk, const char *key, const char *val)
{
    pack_cstr(pk, key);
    pack_cstr(pk, val);
}

void rz_rec_int(msgpack_packer *pk, const char *key, int64_t val)
{
    pack_cstr(pk, key);
    msgpack_pack_int64(pk, val);
}

void rz_rec_f64(msgpack_packer *pk, const char *key, double val)
{
    pack_cstr(pk, key);
    msgpack_pack_double(pk, val);
}

void rz_rec_bool(msgpack_packer *pk, const char *key, int val)
{
    pack_cstr(pk, key);
    if (val) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
}

void rz_rec_bin(msgpack_packer *pk, const char *key, const void *data, size_t n)
{
    pack_cstr(pk, key);
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, data, n);
}

/* ---- reading ----------------------------------------------------------------------- */

int rz_rec_fail(rz_err *e, const rz_rec_ctx *c, const char *key, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c)
        return rz_fail(e, RZ_EINPUT, "%s: record %ld (%s): field '%s': %s",
                       c->source ? c->source : "stream", c->index, c->type ? c->type : "?",
                       key, what);
    return rz_fail(e, RZ_EINPUT, "field '%s': %s", key, what);
}

const msgpack_object *rz_field(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP) return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            memcmp(k->via.str.ptr, key, klen) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static int get_int(const msgpack_object *o, const rz_rec_ctx *c, const char *key, int64_t lo,
                   int64_t hi, int64_t *out, rz_err *e)
{
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return rz_rec_fail(e, c, key, "integer %llu out of range [%lld, %lld]",
                               (unsigned long long)o->via.u64, (long long)lo, (long long)hi);
        v = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v = o->via.i64;
    } else {
        return rz_rec_fail(e, c, key, "expected an integer");
    }
    if (v < lo || v > hi)
        return rz_rec_fail(e, c, key, "value %lld out of range [%lld, %lld]", (long long)v,
                           (long long)lo, (long long)hi);
    *out = v;
    return RZ_OK;
}

int rz_get_int(const msgpack_object *map, const rz_rec_ctx *c, const char *key, int64_t lo,
               int64_t hi, int64_t *out, rz_err *e)
{
    const msgpack_object *o = rz_field(map, key);
    if (!o) return rz_rec_fail(e, c, key, "missing (expected an integer)");
    return get_int(o, c, key, lo, hi, out, e);
}

int rz_get_int_opt(const msgpack_object *map, const rz_rec_ctx *c, const char *key, int64_t lo,
                   int64_t hi, int64_t *out, rz_err *e)
{
    const msgpack_object *o = rz_field(map, key);
    return o ? get_int(o, c, key, lo, hi, out, e) : RZ_OK;
}

static int get_f64(const msgpack_object *o, const rz_rec_ctx *c, const char *key, double *out,
                   rz_err *e)
{
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = o->via.f64; return RZ_OK;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)o->via.u64; return RZ_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)o->via.i64; return RZ_OK;
    default: return rz_rec_fail(e, c, key, "expected a number");
    }
}

int rz_get_f64(const msgpack_object *map, const rz_rec_ctx *c, const char *key, double *out,
               rz_err *e)
{
    const msgpack_object *o = rz_field(map, key);
    if (!o) return rz_rec_fail(e, c, key, "missing (expected a number)");
    return get_f64(o, c, key, out, e);
}

int rz_get_f64_opt(const msgpack_object *map, const rz_rec_ctx *c, const char *key, double *out,
                   rz_err *e)
{
    const msgpack_object *o = rz_field(map, key);
    return o ? get_f64(o, c, key, out, e) : RZ_OK;
}

int rz_get_bool(const msgpack_object *map, const rz_rec_ctx *c, const char *key, int *out, rz_err *e)
{
    const msgpack_object *o = rz_field(map, key);
    if (!o || o->type != MSGPACK_OBJECT_BOOLEAN) return rz_rec_fail(e, c, key, "missing or not a boolean");
    *out = o->via.boolean ? 1 : 0;
    return RZ_OK;
}

int rz_get_str(const msgpack_object *map, const rz_rec_ctx *c, const char *key, char *out,
               size_t cap, rz_err *e)
{
    const msgpack_object *o = rz_field(map, key);
    if (!o) return rz_rec_fail(e, c, key, "missing (expected a string)");
    if (o->type != MSGPACK_OBJECT_STR) return rz_rec_fail(e, c, key, "expected a string");
    if (o->via.str.size >= cap)
        return rz_rec_fail(e, c, key, "string of %u bytes is longer than the limit %zu",
                           o->via.str.size, cap - 1);
    if (memchr(o->via.str.ptr, 0, o->via.str.size))
        return rz_rec_fail(e, c, key, "string contains a NUL byte");
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = 0;
    return RZ_OK;
}

/* ---- field tables ------------------------------------------------------------------ */
/* The field's key: the member's name, or for a member of a member its last name. */
static const char *spec_key(const rz_field_spec *f)
{
    const char *dot = strrchr(f->key, '.');
    return dot ? dot + 1 : f->key;
}

void rz_rec_fields_pack(msgpack_packer *pk, const void *obj, const rz_field_spec *f, int n)
{
    const char *base = obj;
    for (int i = 0; i < n; i++) {
        const void *m = base + f[i].off;
        const char *key = spec_key(&f[i]);
        switch (f[i].kind) {
        case RZ_FK_INT: assert(f[i].size == sizeof(int)); rz_rec_int(pk, key, *(const int *)m); break;
        case RZ_FK_I64: assert(f[i].size == sizeof(int64_t)); rz_rec_int(pk, key, *(const int64_t *)m); break;
        case RZ_FK_U64:
            assert(f[i].size == sizeof(uint64_t));
            rz_rec_key(pk, key);
            msgpack_pack_uint64(pk, *(const uint64_t *)m);
            break;
        case RZ_FK_HEX64: assert(f[i].size == sizeof(uint64_t)); rz_rec_hex64(pk, key, *(const uint64_t *)m); break;
        case RZ_FK_F64: assert(f[i].size == sizeof(double)); rz_rec_f64(pk, key, *(const double *)m); break;
        case RZ_FK_F32: assert(f[i].size == sizeof(float)); rz_rec_f64(pk, key, *(const float *)m); break;
        case RZ_FK_BOOL: assert(f[i].size == sizeof(int)); rz_rec_bool(pk, key, *(const int *)m); break;
        case RZ_FK_STR: rz_rec_str(pk, key, (const char *)m); break;
        case RZ_FK_PICK: {
            int k = *(const int *)m;
            assert(f[i].size == sizeof(int) && k >= 0);
            for (int j = 0; j < k; j++) assert(f[i].pick[j]); /* k names a string of the list */
            rz_rec_str(pk, key, f[i].pick[k]);
            break;
        }
        }
    }
}

/* "a", "b" or "c" into buf (cap bytes, truncated if it must be). */
static const char *pick_list(const char *const *names, char *buf, size_t cap)
{
    size_t n = 0, len = 0;
    while (names[n]) n++;
    buf[0] = 0;
    for (size_t k = 0; k < n && len < cap; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%s\"%s\"", k == 0 ? "" : k + 1 == n ? " or " : ", ", names[k]);
    return buf;
}

static int decode_field(const msgpack_object *rec, const rz_rec_ctx *c, char *m, const rz_field_spec *f,
                        rz_err *e)
{
    int64_t v = 0;
    double d = 0;
    char s[64];
    const char *key = spec_key(f);
    switch (f->kind) {
    case RZ_FK_INT:
    case RZ_FK_I64:
        assert(f->size == (f->kind == RZ_FK_INT ? sizeof(int) : sizeof(int64_t)));
        assert(f->kind == RZ_FK_I64 || (f->ilo >= INT_MIN && f->ihi <= INT_MAX));
        if (rz_get_int(rec, c, key, f->ilo, f->ihi, &v, e)) return RZ_EINPUT;
        if (f->kind == RZ_FK_INT) *(int *)m = (int)v;
        else *(int64_t *)m = v;
        return RZ_OK;
    case RZ_FK_U64: {
        /* the full range: a MessagePack negative integer or a float is refused */
        const msgpack_object *o = rz_field(rec, key);
        assert(f->size == sizeof(uint64_t));
        if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return rz_rec_fail(e, c, key, "missing or not an unsigned integer");
        *(uint64_t *)m = o->via.u64;
        return RZ_OK;
    }
    case RZ_FK_HEX64: assert(f->size == sizeof(uint64_t)); return rz_get_hex64(rec, c, key, (uint64_t *)m, e);
    case RZ_FK_F64:
    case RZ_FK_F32:
        assert(f->size == (f->kind == RZ_FK_F64 ? sizeof(double) : sizeof(float)));
        assert(f->kind == RZ_FK_F64 || (f->flo >= -FLT_MAX && f->fhi <= FLT_MAX)); /* the cast is defined */
        if (rz_get_f64(rec, c, key, &d, e)) return RZ_EINPUT;
        if (!(d >= f->flo && d <= f->fhi)) return rz_rec_fail(e, c, key, "%g is outside [%g, %g]", d, f->flo, f->fhi);
        if (f->kind == RZ_FK_F64) *(double *)m = d;
        else *(float *)m = (float)d;
        return RZ_OK;
    case RZ_FK_BOOL: assert(f->size == sizeof(int)); return rz_get_bool(rec, c, key, (int *)m, e);
    case RZ_FK_STR: return rz_get_str(rec, c, key, m, f->size, e);
    case RZ_FK_PICK:
        assert(f->size == sizeof(int));
        if (rz_get_str(rec, c, key, s, sizeof s, e)) return RZ_EINPUT;
        for (int k = 0; f->pick[k]; k++)
            if (!strcmp(s, f->pick[k])) return *(int *)m = k, RZ_OK;
        char list[160];
        return rz_rec_fail(e, c, key, "'%s': expected %s", s, pick_list(f->pick, list, sizeof list));
    }
    return rz_fail(e, RZ_EINTERNAL, "field '%s': unknown kind", key);
}

int rz_rec_fields_decode(const msgpack_object *rec, const rz_rec_ctx *c, void *obj,
                         const rz_field_spec *f, int n, rz_err *e)
{
    for (int i = 0; i < n; i++) {
        if (f[i].optional && !rz_field(rec, spec_key(&f[i]))) continue;
        if (decode_field(rec, c, (char *)obj + f[i].off, &f[i], e)) return e && e->code ? e->code : RZ_EINPUT;
    }
    return RZ_OK;
}

void rz_rec_hex64(msgpack_packer *pk, const char *key, uint64_t v)
{
    char s[17];
    snprintf(s, sizeof s, "%016" PRIx64, v);
    rz_rec_str(pk, key, s);
}

int rz_get_hex64(const msgpack_object *map, const rz_rec_ctx *c, const char *key, uint64_t *out, rz_err *e)
{
    char s[32], *end;
    int rc = rz_get_str(map, c, key, s, sizeof s, e);
    if (rc) return rc;
    /* exactly 16 hex digits: strtoull alone would take a leading space, sign or "0x" */
    if (strlen(s) != 16 || strspn(s, "0123456789abcdefABCDEF") != 16)
        return rz_rec_fail(e, c, key, "expected 16 hex digits");
    *out = strtoull(s, &end, 16);
    return 0;
}

int rz_get_bin(const msgpack_object *map, const rz_rec_ctx *c, const char *key,
               const void **data, size_t *n, rz_err *e)
{
    const msgpack_object *o = rz_field(map, key);
    if (!o) return rz_rec_fail(e, c, key, "missing (expected binary data)");
    if (o->type != MSGPACK_OBJECT_BIN) return rz_rec_fail(e, c, key, "expected binary data");
    *data = o->via.bin.ptr;
    *n = o->via.bin.size;
    return RZ_OK;
}

/* ---- dtypes ------------------------------------------------------------------------ */

static const char *const dtype_names[RZ_DTYPE_COUNT] = {"f32", "f16", "bf16", "i8", "u8", "i32"};
static const size_t dtype_sizes[RZ_DTYPE_COUNT] = {4, 2, 2, 1, 1, 4};

const char *rz_dtype_name(rz_dtype t) { return (unsigned)t < RZ_DTYPE_COUNT ? dtype_names[t] : "?"; }
size_t rz_dtype_size(rz_dtype t) { return (unsigned)t < RZ_DTYPE_COUNT ? dtype_sizes[t] : 0; }

int rz_dtype_parse(const char *s, rz_dtype *out)
{
    for (int i = 0; i < RZ_DTYPE_COUNT; i++)
        if (strcmp(s, dtype_names[i]) == 0) {
            *out = (rz_dtype)i;
            return 0;
        }
    return -1;
}

/* ---- tensor ------------------------------------------------------------------------ */

void rz_tensor_pack(msgpack_packer *pk, const char *name, rz_dtype dt, int ndim,
                    const int64_t *shape, const void *data)
{
    size_t count = 1;
    for (int i = 0; i < ndim; i++) count *= (size_t)shape[i];
    rz_rec_begin(pk, "tensor", RZ_TENSOR_VERSION, 4);
    rz_rec_str(pk, "name", name);
    rz_rec_str(pk, "dtype", rz_dtype_name(dt));
    rz_rec_key(pk, "shape");
    msgpack_pack_array(pk, (size_t)ndim);
    for (int i = 0; i < ndim; i++) msgpack_pack_int64(pk, shape[i]);
    rz_rec_bin(pk, "data", data, count * rz_dtype_size(dt));
}

int rz_tensor_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_tensor_view *t,
                     rz_err *e)
{
    char dt[16];
    int rc;
    memset(t, 0, sizeof *t);
    if ((rc = rz_get_str(rec, c, "name", t->name, sizeof t->name, e))) return rc;
    if (!t->name[0]) return rz_rec_fail(e, c, "name", "empty tensor name");
    if ((rc = rz_get_str(rec, c, "dtype", dt, sizeof dt, e))) return rc;
    if (rz_dtype_parse(dt, &t->dtype))
        return rz_rec_fail(e, c, "dtype", "unknown dtype '%s' (expected f32, f16, bf16, i8, u8 or i32)", dt);
    const msgpack_object *sh = rz_field(rec, "shape");
    if (!sh || sh->type != MSGPACK_OBJECT_ARRAY)
        return rz_rec_fail(e, c, "shape", "missing or not an array of dimensions");
    if (sh->via.array.size > RZ_MAX_DIMS)
        return rz_rec_fail(e, c, "shape", "%u dimensions, at most %d allowed", sh->via.array.size, RZ_MAX_DIMS);
    t->ndim = (int)sh->via.array.size;
    size_t count = 1, bytes;
    for (int i = 0; i < t->ndim; i++) {
        int64_t d = 0;
        if ((rc = get_int(&sh->via.array.ptr[i], c, "shape", 0, (int64_t)1 << 40, &d, e))) return rc;
        t->shape[i] = d;
        if (!rz_mul_ok(count, (size_t)d, RZ_MAX_RECORD_BYTES, &count))
            return rz_rec_fail(e, c, "shape", "element count overflows the record size limit");
    }
    t->count = (int64_t)count;
    size_t n;
    if ((rc = rz_get_bin(rec, c, "data", &t->data, &n, e))) return rc;
    if (!rz_mul_ok(count, rz_dtype_size(t->dtype), RZ_MAX_RECORD_BYTES, &bytes) || bytes != n)
        return rz_rec_fail(e, c, "data", "%zu bytes, but shape and dtype %s need %zu", n,
                           dt, count * rz_dtype_size(t->dtype));
    return RZ_OK;
}

int rz_tensor_to_f32(const rz_tensor_view *t, float *dst, const rz_rec_ctx *c, rz_err *e)
{
    const unsigned char *p = t->data;
    size_t n = (size_t)t->count;
    switch (t->dtype) {
    case RZ_F32: memcpy(dst, p, n * 4); break; /* little-endian host (x86-64, aarch64) */
    case RZ_F16:
        for (size_t i = 0; i < n; i++) dst[i] = rz_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    case RZ_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = rz_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    default:
        return rz_rec_fail(e, c, "dtype", "tensor '%s' is %s, expected a float dtype (f32, f16, bf16)",
                           t->name, rz_dtype_name(t->dtype));
    }
    return RZ_OK;
}

/* ---- tokens, error, end ------------------------------------------------------------ */

void rz_tokens_pack(msgpack_packer *pk, const int32_t *ids, size_t n, int vocab_size)
{
    rz_rec_begin(pk, "tokens", RZ_TOKENS_VERSION, 3);
    rz_rec_int(pk, "n", (int64_t)n);
    rz_rec_int(pk, "vocab_size", vocab_size);
    rz_rec_bin(pk, "ids", ids, n * sizeof(int32_t));
}

int rz_tokens_decode(const msgpack_object *rec, const rz_rec_ctx *c, const void **ids,
                     size_t *n, int64_t *vocab_size, rz_err *e)
{
    int64_t nn = 0;
    size_t bytes = 0;
    int rc;
    if ((rc = rz_get_int(rec, c, "n", 0, (int64_t)(RZ_MAX_RECORD_BYTES / 4), &nn, e))) return rc;
    if ((rc = rz_get_int(rec, c, "vocab_size", 1, 1 << 24, vocab_size, e))) return rc;
    if ((rc = rz_get_bin(rec, c, "ids", ids, &bytes, e))) return rc;
    if (bytes != (size_t)nn * 4)
        return rz_rec_fail(e, c, "ids", "%zu bytes, expected n*4 = %lld", bytes, (long long)nn * 4);
    const unsigned char *p = *ids;
    for (int64_t i = 0; i < nn; i++) {
        int32_t id;
        memcpy(&id, p + 4 * i, 4);
        if (id < 0 || id >= *vocab_size)
            return rz_rec_fail(e, c, "ids", "token %lld is %d, outside [0, %lld)", (long long)i,
                               (int)id, (long long)*vocab_size);
    }
    *n = (size_t)nn;
    return RZ_OK;
}

void rz_error_pack(msgpack_packer *pk, const char *tool, int code, const char *msg)
{
    rz_rec_begin(pk, "error", RZ_ERROR_VERSION, 3);
    rz_rec_str(pk, "tool", tool ? tool : "rizz");
    rz_rec_int(pk, "code", code);
    rz_rec_str(pk, "message", msg);
}

void rz_end_pack(msgpack_packer *pk, uint64_t count, uint64_t checksum)
{
    rz_rec_begin(pk, "end", RZ_END_VERSION, 2);
    rz_rec_int(pk, "count", (int64_t)count);
    rz_rec_key(pk, "checksum");
    msgpack_pack_uint64(pk, checksum);
}

/* FNV-1a, 64-bit. Bytewise, as the published algorithm, so anyone can recompute it. */
uint64_t rz_checksum(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---- half precision ---------------------------------------------------------------- */

float rz_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal: value = man * 2^-24 */
            float f = (float)man * 5.9604644775390625e-8f;
            return sign ? -f : f;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t rz_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65536: inf */
    if (ax < 0x38800000u) {                                   /* below 2^-14: subnormal or 0 */
        float a;
        memcpy(&a, &ax, 4);
        /* round-to-nearest-even of a / 2^-24 */
        float q = a * 16777216.0f;
        uint32_t m = (uint32_t)lrintf(q);
        return (uint16_t)(sign | m);
    }
    /* normal: rebias exponent, round mantissa to 10 bits, nearest-even */
    uint32_t r = ax - 0x38000000u; /* exponent 127 -> 15 */
    uint32_t lsb = (r >> 13) & 1;
    r += 0xfff + lsb;
    return (uint16_t)(sign | (r >> 13));
}

float rz_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t rz_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet nan */
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}


int rz_rec_type_is(const rz_rec_ctx *c, const char *t) { return c->type && !strcmp(c->type, t); }
