/* qrecord.c — "hessian" and "qlayer" records: packing and validating decoding (qrecord.h).
 *
 * Decoding checks every length against the shape the record declares, so a view handed
 * to a decoder (tools/core/quant/qlayer.c) can be trusted to hold exactly the bytes it needs.
 */
#include "qrecord.h"

#include <math.h>
#include <string.h>

/* NULL-terminated: the field tables' choice lists */
static const char *const group_names[5] = {"attn_in", "attn_out", "mlp_in", "mlp_down", NULL};
static const char *const method_names[RZ_QM_COUNT + 1] = {"rtn", "ldlq", "e8p", NULL};
static const char *const lrformat_names[RZ_LR_COUNT] = {"f32", "f16", "bf16", "grid"};

const char *rz_hessian_group_name(int group)
{
    return group >= 0 && group < 4 ? group_names[group] : "?";
}

int rz_hessian_group_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, group_names[i]) == 0) return i;
    return -1;
}

const char *rz_qmethod_name(int method)
{
    return method >= 0 && method < RZ_QM_COUNT ? method_names[method] : "?";
}

int rz_qmethod_parse(const char *s)
{
    for (int i = 0; i < RZ_QM_COUNT; i++)
        if (strcmp(s, method_names[i]) == 0) return i;
    return -1;
}

const char *rz_lrformat_name(int format)
{
    return format >= 0 && format < RZ_LR_COUNT ? lrformat_names[format] : "?";
}

int rz_lrformat_parse(const char *s)
{
    for (int i = 0; i < RZ_LR_COUNT; i++)
        if (strcmp(s, lrformat_names[i]) == 0) return i;
    return -1;
}

int rz_qmethod_bits_ok(int method, int bits)
{
    if (method == RZ_QM_E8P) return bits >= 2 && bits <= 4;
    if (method == RZ_QM_RTN || method == RZ_QM_LDLQ) return bits == 2 || bits == 3 || bits == 4 || bits == 8;
    return 0;
}

/* ---- hessian ------------------------------------------------------------------------ */

/* The plain fields of the header, in the order they are written; H and mean_sq follow. */
static const rz_field_spec hessian_fields[] = {
    RZ_FIELD_INT(rz_hessian_view, layer, 0, 1 << 20, 0),
    RZ_FIELD_PICK(rz_hessian_view, "group", group, group_names, 0),
    RZ_FIELD_INT(rz_hessian_view, n, 1, RZ_QUANT_MAX_DIM, 0),
    RZ_FIELD_I64(rz_hessian_view, tokens, 1, INT64_MAX, 0),
    RZ_FIELD_U64(rz_hessian_view, model_hash, 0),
    RZ_FIELD_I64(rz_hessian_view, windows, 0, INT64_MAX, 1),
    RZ_FIELD_I64(rz_hessian_view, ctx, 0, INT64_MAX, 1),
};

void rz_hessian_pack(msgpack_packer *pk, const rz_hessian_view *h)
{
    size_t n = (size_t)h->n;
    rz_rec_begin(pk, "hessian", RZ_HESSIAN_VERSION, RZ_NFIELDS(hessian_fields) + 2);
    rz_rec_fields_pack(pk, h, hessian_fields, RZ_NFIELDS(hessian_fields));
    rz_rec_bin(pk, "H", h->H, n * n * sizeof(double));
    rz_rec_bin(pk, "mean_sq", h->mean_sq, n * sizeof(double));
}

int rz_hessian_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_hessian_view *h, rz_err *e)
{
    int rc;
    memset(h, 0, sizeof *h); /* windows, ctx: 0 when absent */
    if ((rc = rz_rec_fields_decode(rec, c, h, hessian_fields, RZ_NFIELDS(hessian_fields), e))) return rc;
    size_t nn = (size_t)h->n, len;
    if ((rc = rz_get_bin(rec, c, "H", &h->H, &len, e))) return rc;
    if (len != nn * nn * sizeof(double))
        return rz_rec_fail(e, c, "H", "%zu bytes, expected %zu (n = %zu, float64)", len, nn * nn * sizeof(double), nn);
    if ((rc = rz_get_bin(rec, c, "mean_sq", &h->mean_sq, &len, e))) return rc;
    if (len != nn * sizeof(double))
        return rz_rec_fail(e, c, "mean_sq", "%zu bytes, expected %zu", len, nn * sizeof(double));
    const unsigned char *p = h->H;
    for (size_t k = 0; k < nn * nn; k++) {
        double v;
        memcpy(&v, p + k * sizeof v, sizeof v);
        if (!isfinite(v)) return rz_rec_fail(e, c, "H", "non-finite value at %zu", k);
    }
    return RZ_OK;
}

/* ---- qlayer ------------------------------------------------------------------------- */

size_t rz_qlayer_codes_bytes(int method, int bits, int rows, int pcols)
{
    if (!rz_qmethod_bits_ok(method, bits) || rows < 1 || pcols < 1) return 0;
    size_t w = (size_t)rows * (size_t)pcols;
    if (method == RZ_QM_E8P) return pcols % 8 ? 0 : w / 8 * (size_t)bits; /* bits bytes per 8 weights */
    return (w * (size_t)bits + 7) / 8;                                    /* one bit stream */
}

size_t rz_qlayer_n_scales(int method, int rows, int pcols, int group)
{
    if (method == RZ_QM_E8P) return 1;
    size_t groups = group > 0 ? (size_t)((pcols + group - 1) / group) : 1;
    return (size_t)rows * groups;
}

size_t rz_qlayer_lr_bytes(int format, int bits, int nvec, int len)
{
    if (nvec < 1 || len < 1) return 0;
    size_t w = (size_t)nvec * (size_t)len;
    if (format == RZ_LR_F32) return bits == 32 ? 4 * w : 0;
    if (format == RZ_LR_F16 || format == RZ_LR_BF16) return bits == 16 ? 2 * w : 0;
    if (format == RZ_LR_GRID && (bits == 2 || bits == 3 || bits == 4 || bits == 8)) return (w * (size_t)bits + 7) / 8;
    return 0;
}

size_t rz_qlayer_lr_n_scales(int format, int nvec, int len, int group)
{
    if (format != RZ_LR_GRID) return 0;
    size_t groups = group > 0 ? (size_t)((len + group - 1) / group) : 1;
    return (size_t)nvec * groups;
}

/* Stored sizes in bits: a float32 scale, a uint8 zero point, a 64-bit seed. */
#define SCALE_BITS 32.0
#define ZERO_BITS 8.0
static double seed_bits(int incoherent) { return incoherent == RZ_INCOH_IN ? 64.0 : incoherent ? 128.0 : 0.0; }

double rz_qlayer_payload_bits(const rz_qlayer_view *q)
{
    double b = 8.0 * (double)q->codes_n + SCALE_BITS * (double)q->n_scales + ZERO_BITS * (double)q->n_zeros +
               seed_bits(q->incoherent); /* the seeds used */
    if (q->rank > 0) b += 8.0 * (double)(q->L_n + q->R_n) + (SCALE_BITS + ZERO_BITS) * (double)(q->L_ns + q->R_ns);
    if (q->out_scale) b += 16.0 * ((double)q->rows + (double)q->cols); /* fp16 line scales */
    return b;
}

double rz_qlayer_q_bits(int method, int bits, int rows, int pcols, int group, int incoherent)
{
    size_t ns = rz_qlayer_n_scales(method, rows, pcols, group);
    return 8.0 * (double)rz_qlayer_codes_bytes(method, bits, rows, pcols) + SCALE_BITS * (double)ns +
           (method == RZ_QM_E8P ? 0.0 : ZERO_BITS * (double)ns) + seed_bits(incoherent);
}

double rz_qlayer_lr_step_bits(int lr_bits, int rows, int pcols, int lr_group)
{
    double b = lr_bits * (double)(rows + pcols);
    if (lr_bits <= 8)
        b += (SCALE_BITS + ZERO_BITS) * (double)(rz_qlayer_lr_n_scales(RZ_LR_GRID, 1, rows, lr_group) +
                                                 rz_qlayer_lr_n_scales(RZ_LR_GRID, 1, pcols, lr_group));
    return b;
}

/* The plain fields, in the order they are written: the shape and method, then (after
 * "incoherent" and the optional "incoherence_sides", written by hand: one int carries
 * both) the seeds, the model's identity and the proxy losses; the bins follow. */
static const rz_field_spec qlayer_head[] = {
    RZ_FIELD_STR(rz_qlayer_view, name, 0),
    RZ_FIELD_INT(rz_qlayer_view, rows, 1, RZ_QUANT_MAX_DIM, 0),
    RZ_FIELD_INT(rz_qlayer_view, cols, 1, RZ_QUANT_MAX_DIM, 0),
    RZ_FIELD_INT(rz_qlayer_view, pcols, 1, RZ_QUANT_MAX_DIM + 8, 0),
    RZ_FIELD_PICK(rz_qlayer_view, "method", method, method_names, 0),
    RZ_FIELD_INT(rz_qlayer_view, bits, 1, 8, 0),
    RZ_FIELD_INT(rz_qlayer_view, group, 0, RZ_QUANT_MAX_DIM + 8, 0),
};
static const rz_field_spec qlayer_ids[] = {
    RZ_FIELD_U64(rz_qlayer_view, seed_u, 0),
    RZ_FIELD_U64(rz_qlayer_view, seed_v, 0),
    RZ_FIELD_U64(rz_qlayer_view, model_hash, 0),
    RZ_FIELD_F64(rz_qlayer_view, loss, -INFINITY, INFINITY, 0),     /* NaN refused; rel_loss is */
    RZ_FIELD_F64(rz_qlayer_view, rel_loss, -INFINITY, INFINITY, 0), /* ∞ when tr(W H Wᵀ) = 0 */
};

void rz_qlayer_pack(msgpack_packer *pk, const rz_qlayer_view *q)
{
    int lr = q->rank > 0, grid = lr && q->lr_format == RZ_LR_GRID;
    int one_sided = q->incoherent == RZ_INCOH_IN, sc = q->out_scale != NULL;
    rz_rec_begin(pk, "qlayer", sc ? RZ_QLAYER_VERSION_SCALES : lr ? RZ_QLAYER_VERSION_LR : RZ_QLAYER_VERSION,
                 RZ_NFIELDS(qlayer_head) + 1 + one_sided + RZ_NFIELDS(qlayer_ids) + 3 + (lr ? 6 : 0) + (grid ? 4 : 0) +
                     (sc ? 2 : 0));
    rz_rec_fields_pack(pk, q, qlayer_head, RZ_NFIELDS(qlayer_head));
    rz_rec_bool(pk, "incoherent", q->incoherent != RZ_INCOH_NONE);
    if (one_sided) rz_rec_str(pk, "incoherence_sides", "in"); /* absent: both sides */
    rz_rec_fields_pack(pk, q, qlayer_ids, RZ_NFIELDS(qlayer_ids));
    rz_rec_bin(pk, "codes", q->codes, q->codes_n);
    rz_rec_bin(pk, "scales", q->scales, q->n_scales * sizeof(float));
    rz_rec_bin(pk, "zeros", q->zeros, q->n_zeros);
    if (sc) {
        rz_rec_bin(pk, "out_scale", q->out_scale, (size_t)q->rows * 2);
        rz_rec_bin(pk, "in_scale", q->in_scale, (size_t)q->cols * 2);
    }
    if (!lr) return;
    rz_rec_int(pk, "rank", q->rank);
    rz_rec_str(pk, "lr_format", rz_lrformat_name(q->lr_format));
    rz_rec_int(pk, "lr_bits", q->lr_bits);
    rz_rec_int(pk, "lr_group", q->lr_group);
    rz_rec_bin(pk, "L", q->L, q->L_n);
    rz_rec_bin(pk, "R", q->R, q->R_n);
    if (!grid) return;
    rz_rec_bin(pk, "L_scales", q->L_scales, q->L_ns * sizeof(float));
    rz_rec_bin(pk, "L_zeros", q->L_zeros, q->L_ns);
    rz_rec_bin(pk, "R_scales", q->R_scales, q->R_ns * sizeof(float));
    rz_rec_bin(pk, "R_zeros", q->R_zeros, q->R_ns);
}

/* A grid factor's scales (finite, float32) and zero points (≤ 2^bits − 1), ns of each. */
static int decode_lr_grid(const msgpack_object *rec, const rz_rec_ctx *c, const char *skey, const char *zkey,
                          size_t ns, int bits, const void **scales, const void **zeros, rz_err *e)
{
    size_t len;
    int rc;
    if ((rc = rz_get_bin(rec, c, skey, scales, &len, e))) return rc;
    if (len != ns * sizeof(float)) return rz_rec_fail(e, c, skey, "%zu bytes, expected %zu float32", len, ns);
    for (size_t k = 0; k < ns; k++) {
        float s;
        memcpy(&s, (const unsigned char *)*scales + k * sizeof s, sizeof s);
        if (!isfinite(s)) return rz_rec_fail(e, c, skey, "non-finite scale at %zu", k);
    }
    if ((rc = rz_get_bin(rec, c, zkey, zeros, &len, e))) return rc;
    if (len != ns) return rz_rec_fail(e, c, zkey, "%zu bytes, expected %zu", len, ns);
    const unsigned char *z = *zeros;
    for (size_t k = 0; k < ns; k++)
        if (z[k] > (1u << bits) - 1) return rz_rec_fail(e, c, zkey, "zero point %u at %zu exceeds %d bits", z[k], k, bits);
    return RZ_OK;
}

/* The optional line scales (v3): both or neither, fp16, n values each, finite; only in
 * records of version ≥ 3. */
static int decode_line_scales(const msgpack_object *rec, const rz_rec_ctx *c, rz_qlayer_view *q, rz_err *e)
{
    int has_out = rz_field(rec, "out_scale") != NULL, has_in = rz_field(rec, "in_scale") != NULL;
    if (!has_out && !has_in) return RZ_OK;
    const char *key = has_out ? "out_scale" : "in_scale";
    int64_t v = 0;
    int rc = rz_get_int(rec, c, "v", 1, 1 << 30, &v, e);
    if (rc) return rc;
    if (v < RZ_QLAYER_VERSION_SCALES)
        return rz_rec_fail(e, c, key, "present in a version %lld record (line scales need version %d)",
                           (long long)v, RZ_QLAYER_VERSION_SCALES);
    if (!has_out || !has_in)
        return rz_rec_fail(e, c, has_out ? "in_scale" : "out_scale", "missing (out_scale and in_scale come together)");
    for (int t = 0; t < 2; t++) {
        const char *k = t ? "in_scale" : "out_scale";
        const void **dst = t ? &q->in_scale : &q->out_scale;
        size_t want = (size_t)(t ? q->cols : q->rows), len;
        if ((rc = rz_get_bin(rec, c, k, dst, &len, e))) return rc;
        if (len != want * 2) return rz_rec_fail(e, c, k, "%zu bytes, expected %zu fp16", len, want);
        for (size_t i = 0; i < want; i++) {
            uint16_t h;
            memcpy(&h, (const unsigned char *)*dst + 2 * i, 2);
            if (!isfinite(rz_f16_to_f32(h))) return rz_rec_fail(e, c, k, "non-finite value at %zu", i);
        }
    }
    return RZ_OK;
}

/* The optional low-rank fields (v2). Float payloads must be finite. */
static int decode_lr(const msgpack_object *rec, const rz_rec_ctx *c, rz_qlayer_view *q, rz_err *e)
{
    int64_t rank = 0, bits, group;
    char fmt[16];
    int rc;
    if ((rc = rz_get_int_opt(rec, c, "rank", 0, RZ_QUANT_MAX_DIM, &rank, e))) return rc;
    if (rank == 0) return RZ_OK;
    int mn = q->rows < q->cols ? q->rows : q->cols;
    if (rank > mn) return rz_rec_fail(e, c, "rank", "%lld exceeds min(rows, cols) = %d", (long long)rank, mn);
    if ((rc = rz_get_str(rec, c, "lr_format", fmt, sizeof fmt, e)) ||
        (rc = rz_get_int(rec, c, "lr_bits", 2, 32, &bits, e)) ||
        (rc = rz_get_int(rec, c, "lr_group", 0, RZ_QUANT_MAX_DIM + 8, &group, e)))
        return rc;
    q->lr_format = rz_lrformat_parse(fmt);
    if (q->lr_format < 0) return rz_rec_fail(e, c, "lr_format", "'%s' is not f32, f16, bf16 or grid", fmt);
    q->rank = (int)rank;
    q->lr_bits = (int)bits;
    q->lr_group = (int)group;
    size_t wl = rz_qlayer_lr_bytes(q->lr_format, q->lr_bits, q->rank, q->rows);
    size_t wr = rz_qlayer_lr_bytes(q->lr_format, q->lr_bits, q->rank, q->pcols);
    if (!wl || !wr) return rz_rec_fail(e, c, "lr_bits", "%d bits is not valid for %s", q->lr_bits, fmt);
    if (q->lr_format != RZ_LR_GRID && group != 0) return rz_rec_fail(e, c, "lr_group", "must be 0 for %s", fmt);
    if ((rc = rz_get_bin(rec, c, "L", &q->L, &q->L_n, e))) return rc;
    if (q->L_n != wl) return rz_rec_fail(e, c, "L", "%zu bytes, expected %zu", q->L_n, wl);
    if ((rc = rz_get_bin(rec, c, "R", &q->R, &q->R_n, e))) return rc;
    if (q->R_n != wr) return rz_rec_fail(e, c, "R", "%zu bytes, expected %zu", q->R_n, wr);
    if (q->lr_format == RZ_LR_F32) {
        for (int t = 0; t < 2; t++) {
            const unsigned char *p = t ? q->R : q->L;
            size_t n = (t ? q->R_n : q->L_n) / 4;
            for (size_t k = 0; k < n; k++) {
                float v;
                memcpy(&v, p + 4 * k, 4);
                if (!isfinite(v)) return rz_rec_fail(e, c, t ? "R" : "L", "non-finite value at %zu", k);
            }
        }
    }
    if (q->lr_format != RZ_LR_GRID) return RZ_OK;
    q->L_ns = rz_qlayer_lr_n_scales(RZ_LR_GRID, q->rank, q->rows, q->lr_group);
    q->R_ns = rz_qlayer_lr_n_scales(RZ_LR_GRID, q->rank, q->pcols, q->lr_group);
    if ((rc = decode_lr_grid(rec, c, "L_scales", "L_zeros", q->L_ns, q->lr_bits, &q->L_scales, &q->L_zeros, e)))
        return rc;
    return decode_lr_grid(rec, c, "R_scales", "R_zeros", q->R_ns, q->lr_bits, &q->R_scales, &q->R_zeros, e);
}

int rz_qlayer_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_qlayer_view *q, rz_err *e)
{
    int rc;
    memset(q, 0, sizeof *q);
    if ((rc = rz_rec_fields_decode(rec, c, q, qlayer_head, RZ_NFIELDS(qlayer_head), e)) ||
        (rc = rz_rec_fields_decode(rec, c, q, qlayer_ids, RZ_NFIELDS(qlayer_ids), e)))
        return rc;
    const char *method = rz_qmethod_name(q->method);
    int64_t cols = q->cols, pcols = q->pcols, group = q->group;
    int inc;
    if ((rc = rz_get_bool(rec, c, "incoherent", &inc, e))) return rc;
    q->incoherent = inc ? RZ_INCOH_BOTH : RZ_INCOH_NONE;
    const msgpack_object *sides = rz_field(rec, "incoherence_sides");
    if (sides) {
        char sd[8];
        int rs = rz_get_str(rec, c, "incoherence_sides", sd, sizeof sd, e);
        if (rs) return rs;
        if (strcmp(sd, "in") != 0 && strcmp(sd, "both") != 0)
            return rz_rec_fail(e, c, "incoherence_sides", "'%s' is not \"in\" or \"both\"", sd);
        if (!inc) return rz_rec_fail(e, c, "incoherence_sides", "given for a layer that is not incoherent");
        if (strcmp(sd, "in") == 0) q->incoherent = RZ_INCOH_IN;
    }
    if (!rz_qmethod_bits_ok(q->method, q->bits))
        return rz_rec_fail(e, c, "bits", "%d bits is not valid for %s", q->bits, method);
    if (q->method == RZ_QM_E8P ? (pcols % 8 || pcols < cols || pcols >= cols + 8 || group != 0) : pcols != cols)
        return rz_rec_fail(e, c, "pcols", "%lld is not valid for %lld columns with %s (group %lld)",
                           (long long)pcols, (long long)cols, method, (long long)group);
    if (group > pcols) return rz_rec_fail(e, c, "group", "%lld is wider than the row (%lld)", (long long)group, (long long)pcols);
    size_t want = rz_qlayer_codes_bytes(q->method, q->bits, q->rows, q->pcols), len;
    if ((rc = rz_get_bin(rec, c, "codes", &q->codes, &q->codes_n, e))) return rc;
    if (q->codes_n != want) return rz_rec_fail(e, c, "codes", "%zu bytes, expected %zu", q->codes_n, want);
    size_t ns = rz_qlayer_n_scales(q->method, q->rows, q->pcols, q->group);
    if ((rc = rz_get_bin(rec, c, "scales", &q->scales, &len, e))) return rc;
    if (len != ns * sizeof(float)) return rz_rec_fail(e, c, "scales", "%zu bytes, expected %zu float32", len, ns);
    q->n_scales = ns;
    for (size_t k = 0; k < ns; k++) {
        float s;
        memcpy(&s, (const unsigned char *)q->scales + k * sizeof s, sizeof s);
        if (!isfinite(s)) return rz_rec_fail(e, c, "scales", "non-finite scale at %zu", k);
    }
    if ((rc = rz_get_bin(rec, c, "zeros", &q->zeros, &q->n_zeros, e))) return rc;
    size_t nz = q->method == RZ_QM_E8P ? 0 : ns;
    if (q->n_zeros != nz) return rz_rec_fail(e, c, "zeros", "%zu bytes, expected %zu", q->n_zeros, nz);
    const unsigned char *z = q->zeros;
    for (size_t k = 0; k < nz; k++)
        if (z[k] > (1u << q->bits) - 1) return rz_rec_fail(e, c, "zeros", "zero point %u at %zu exceeds %d bits", z[k], k, q->bits);
    if ((rc = decode_line_scales(rec, c, q, e))) return rc;
    return decode_lr(rec, c, q, e);
}
