/* record.h — rizz record types: encoding and validating decoding over msgpack-c.
 *
 * A rizz stream is a sequence of MessagePack maps. Every map carries "type" (string) and
 * "v" (schema version, positive integer); the stream ends with an "end" record holding
 * the number of records before it and a checksum of their bytes, so truncation is always
 * detected (see schemas/README.md for every type, field by field). A model file (.rzm)
 * is such a stream too: a "model" record, then "tensor" records.
 *
 * This header has two halves:
 *  - building a record: rz_rec_* appends map entries to a msgpack_sbuffer through a
 *    packer (the stream layer in pipeline/stream.h owns the buffer and sends it);
 *  - reading a record: rz_get_* look up a field of a decoded map and validate its type
 *    and range, reporting "record N (type): field 'x': expected ..." on failure.
 * Typed helpers for the core record types (model config, tensor, tokens, report, error)
 * sit on top of both.
 */
#ifndef RZ_RECORD_H
#define RZ_RECORD_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "rz.h"

/* Hard bounds applied before any allocation driven by input. */
#define RZ_MAX_RECORD_BYTES ((size_t)3 << 30) /* one record: 3 GiB (a 7B embedding is 0.5) */
#define RZ_MAX_DIMS 8
#define RZ_MAX_NAME 256

/* ---- building ---------------------------------------------------------------------- */

/* Starts a map with n_fields user fields after "type" and "v". */
void rz_rec_begin(msgpack_packer *pk, const char *type, int version, int n_fields);
void rz_rec_str(msgpack_packer *pk, const char *key, const char *val);
void rz_rec_int(msgpack_packer *pk, const char *key, int64_t val);
void rz_rec_f64(msgpack_packer *pk, const char *key, double val);
void rz_rec_bool(msgpack_packer *pk, const char *key, int val);
void rz_rec_bin(msgpack_packer *pk, const char *key, const void *data, size_t n);
void rz_rec_key(msgpack_packer *pk, const char *key); /* then pack the value yourself */
/* The field count of rz_rec_begin is written by hand, so every built record is checked
 * before it leaves (rz_writer_emit, rz_report_finish): buf[0..n) must be exactly one
 * complete MessagePack object. A count too high leaves the map short of fields, a count
 * too low leaves the last fields outside it — either is RZ_EINTERNAL naming the record
 * type, instead of a reader silently dropping the fields past the count. */
int rz_rec_check(const void *buf, size_t n, rz_err *e);

/* ---- reading ----------------------------------------------------------------------- */

/* Where a record came from, for messages: "model.rzm record 3 (tensor)". */
typedef struct {
    const char *source; /* file name or endpoint */
    long index;         /* 0-based record index in the stream */
    const char *type;   /* the record's type tag (points into the object) */
} rz_rec_ctx;

/* 1 if the record's type tag is t. */
int rz_rec_type_is(const rz_rec_ctx *c, const char *t);
/* The field's object, or NULL if absent. */
const msgpack_object *rz_field(const msgpack_object *map, const char *key);
/* Required fields, validated; *_opt variants leave *out unchanged when absent. */
int rz_get_int(const msgpack_object *map, const rz_rec_ctx *c, const char *key, int64_t lo,
               int64_t hi, int64_t *out, rz_err *e);
int rz_get_int_opt(const msgpack_object *map, const rz_rec_ctx *c, const char *key, int64_t lo,
                   int64_t hi, int64_t *out, rz_err *e);
int rz_get_f64(const msgpack_object *map, const rz_rec_ctx *c, const char *key, double *out,
               rz_err *e);
int rz_get_f64_opt(const msgpack_object *map, const rz_rec_ctx *c, const char *key, double *out,
                   rz_err *e);
/* A msgpack boolean as 0/1. */
int rz_get_bool(const msgpack_object *map, const rz_rec_ctx *c, const char *key, int *out, rz_err *e);
/* Copies a string field (NUL-terminated, at most cap-1 bytes, else an error). */
int rz_get_str(const msgpack_object *map, const rz_rec_ctx *c, const char *key, char *out,
               size_t cap, rz_err *e);
/* A 64-bit identity or generator state as a string of 16 hex digits, so JSON views
 * (rz-cat, jq) keep it exact; the getter accepts exactly 16 hex digits. */
void rz_rec_hex64(msgpack_packer *pk, const char *key, uint64_t v);
int rz_get_hex64(const msgpack_object *map, const rz_rec_ctx *c, const char *key, uint64_t *out,
                 rz_err *e);
int rz_get_bin(const msgpack_object *map, const rz_rec_ctx *c, const char *key,
               const void **data, size_t *n, rz_err *e);
/* A failure about record c's field key: formats the standard message. */
int rz_rec_fail(rz_err *e, const rz_rec_ctx *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- field tables: a header record's plain fields declared once -------------------
 * A record whose fields are members of one C struct is described by a table of
 * rz_field_spec; rz_rec_fields_pack writes the fields in table order and
 * rz_rec_fields_decode reads and range-checks them with the rz_get_* messages, so a
 * field is one line, not a packer line and a decoder line that must agree. Kinds:
 * integers kept in an int or an int64_t member, unsigned 64-bit integers (seeds,
 * hashes: a uint64_t, written as MessagePack's unsigned form, or as 16 hex digits —
 * rz_rec_hex64 — so JSON views keep them exact), doubles and floats (packed as
 * doubles; NaN never passes a bound, and a float's bounds lie within ±FLT_MAX),
 * booleans kept as 0/1 in an int, char arrays, and a string from a fixed list kept as
 * its index in an int. An optional field may be
 * absent (records written before it existed): its member then keeps whatever the
 * caller put there before decoding — the decoder clears nothing. A member of a member
 * (RZ_FIELD_INT(S, config.dim, …)) is keyed by its last name ("dim"). Cross-field rules and
 * anything not a plain member (allocated strings, bins) stay with the record's code. */
typedef enum { RZ_FK_INT, RZ_FK_I64, RZ_FK_U64, RZ_FK_HEX64, RZ_FK_F64, RZ_FK_F32, RZ_FK_BOOL, RZ_FK_STR, RZ_FK_PICK } rz_field_kind;
typedef struct {
    const char *key;
    rz_field_kind kind;
    size_t off, size;      /* offsetof / sizeof the member (size checks the kind) */
    int64_t ilo, ihi;      /* RZ_FK_INT, RZ_FK_I64: inclusive bounds */
    double flo, fhi;       /* RZ_FK_F64, RZ_FK_F32: inclusive bounds */
    const char *const *pick; /* RZ_FK_PICK: the strings (NULL-terminated); the member is the index */
    int optional;
} rz_field_spec;
#define RZ_FSPEC_(S, k, m, kind_, opt, ...) \
    {.key = k, .kind = kind_, .off = offsetof(S, m), .size = sizeof(((S *)0)->m), .optional = opt, __VA_ARGS__}
#define RZ_FIELD_INT(S, m, lo, hi, opt) RZ_FSPEC_(S, #m, m, RZ_FK_INT, opt, .ilo = (lo), .ihi = (hi))
#define RZ_FIELD_I64(S, m, lo, hi, opt) RZ_FSPEC_(S, #m, m, RZ_FK_I64, opt, .ilo = (lo), .ihi = (hi))
#define RZ_FIELD_U64(S, m, opt) RZ_FSPEC_(S, #m, m, RZ_FK_U64, opt, .ilo = 0)
#define RZ_FIELD_HEX64(S, m, opt) RZ_FSPEC_(S, #m, m, RZ_FK_HEX64, opt, .ilo = 0)
#define RZ_FIELD_F64(S, m, lo, hi, opt) RZ_FSPEC_(S, #m, m, RZ_FK_F64, opt, .flo = (lo), .fhi = (hi))
#define RZ_FIELD_F32(S, m, lo, hi, opt) RZ_FSPEC_(S, #m, m, RZ_FK_F32, opt, .flo = (lo), .fhi = (hi))
#define RZ_FIELD_BOOL(S, m, opt) RZ_FSPEC_(S, #m, m, RZ_FK_BOOL, opt, .ilo = 0)
#define RZ_FIELD_STR(S, m, opt) RZ_FSPEC_(S, #m, m, RZ_FK_STR, opt, .ilo = 0)
/* key "k" holds one of names[] (a NULL-terminated array); member m (an int) its index */
#define RZ_FIELD_PICK(S, k, m, names, opt) RZ_FSPEC_(S, k, m, RZ_FK_PICK, opt, .pick = (names))
/* an RZ_FIELD_I64 whose key "k" is not the member's name (the member may also be a
 * uint64_t: it is read and written as its signed twin, so its bounds lie in [0, INT64_MAX]) */
#define RZ_FIELD_I64_AS(S, k, m, lo, hi, opt) RZ_FSPEC_(S, k, m, RZ_FK_I64, opt, .ilo = (lo), .ihi = (hi))
#define RZ_NFIELDS(table) ((int)(sizeof(table) / sizeof((table)[0])))

void rz_rec_fields_pack(msgpack_packer *pk, const void *obj, const rz_field_spec *f, int n);
int rz_rec_fields_decode(const msgpack_object *rec, const rz_rec_ctx *c, void *obj,
                         const rz_field_spec *f, int n, rz_err *e);

/* ---- core record types ------------------------------------------------------------- */

typedef enum { RZ_F32 = 0, RZ_F16, RZ_BF16, RZ_I8, RZ_U8, RZ_I32, RZ_DTYPE_COUNT } rz_dtype;
const char *rz_dtype_name(rz_dtype t);
size_t rz_dtype_size(rz_dtype t);
int rz_dtype_parse(const char *s, rz_dtype *out); /* 0 on success */

/* A tensor: dense, row-major, little-endian. The view points into the decoded record. */
typedef struct {
    char name[RZ_MAX_NAME];
    rz_dtype dtype;
    int ndim;
    int64_t shape[RZ_MAX_DIMS];
    int64_t count;     /* product of shape */
    const void *data;  /* count * rz_dtype_size(dtype) bytes */
} rz_tensor_view;

#define RZ_TENSOR_VERSION 1
void rz_tensor_pack(msgpack_packer *pk, const char *name, rz_dtype dt, int ndim,
                    const int64_t *shape, const void *data);
int rz_tensor_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_tensor_view *t,
                     rz_err *e);
/* Converts any float dtype of the view to f32 (dst has t->count floats). */
int rz_tensor_to_f32(const rz_tensor_view *t, float *dst, const rz_rec_ctx *c, rz_err *e);

/* Token sequence: ids as int32 little-endian in a bin field. */
#define RZ_TOKENS_VERSION 1
void rz_tokens_pack(msgpack_packer *pk, const int32_t *ids, size_t n, int vocab_size);
/* Points *ids into the record (may be unaligned: copy with memcpy). */
int rz_tokens_decode(const msgpack_object *rec, const rz_rec_ctx *c, const void **ids,
                     size_t *n, int64_t *vocab_size, rz_err *e);

/* Error record: a producer that fails mid-stream sends one instead of "end". */
#define RZ_ERROR_VERSION 1
void rz_error_pack(msgpack_packer *pk, const char *tool, int code, const char *msg);

/* End record: count of records before it and a 64-bit FNV-1a of their bytes. */
#define RZ_END_VERSION 1
void rz_end_pack(msgpack_packer *pk, uint64_t count, uint64_t checksum);

/* FNV-1a 64 over bytes, chainable: h = rz_checksum(h, p, n), start with RZ_CHECKSUM_INIT. */
#define RZ_CHECKSUM_INIT 0xcbf29ce484222325ULL
uint64_t rz_checksum(uint64_t h, const void *p, size_t n);

/* Half-precision conversions used by tensors (round-to-nearest-even). */
float rz_f16_to_f32(uint16_t h);
uint16_t rz_f32_to_f16(float f);
float rz_bf16_to_f32(uint16_t h);
uint16_t rz_f32_to_bf16(float f);

#endif
