/* model.c — the "model" record: pack, decode, check (see model.h). */
#include "model.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

/* The parameter count a configuration may reach (floats, so 32 GiB of float32). */
#define MAX_PARAMS ((double)((uint64_t)1 << 33))

/* The record's fields after "arch" (always "llama"), in the order they are packed.
 * Bounds here are per field; rz_llama_config_check applies the rules between them. */
static const rz_field_spec config_fields[] = {
    RZ_FIELD_INT(rz_llama_config, dim, 1, 1 << 24, 0),
    RZ_FIELD_INT(rz_llama_config, hidden_dim, 1, 1 << 24, 0),
    RZ_FIELD_INT(rz_llama_config, n_layers, 1, 1 << 24, 0),
    RZ_FIELD_INT(rz_llama_config, n_heads, 1, 1 << 24, 0),
    RZ_FIELD_INT(rz_llama_config, n_kv_heads, 1, 1 << 24, 0),
    RZ_FIELD_INT(rz_llama_config, vocab_size, 1, 1 << 24, 0),
    RZ_FIELD_INT(rz_llama_config, seq_len, 1, 1 << 24, 0),
    RZ_FIELD_BOOL(rz_llama_config, shared_classifier, 0),
    RZ_FIELD_F32(rz_llama_config, rope_theta, -FLT_MAX, FLT_MAX, 0),
    RZ_FIELD_F32(rz_llama_config, norm_eps, -FLT_MAX, FLT_MAX, 0),
};

void rz_model_config_pack(msgpack_packer *pk, const rz_llama_config *c)
{
    rz_rec_begin(pk, "model", RZ_MODEL_VERSION, 1 + RZ_NFIELDS(config_fields));
    rz_rec_str(pk, "arch", "llama");
    rz_rec_fields_pack(pk, c, config_fields, RZ_NFIELDS(config_fields));
}

int rz_model_config_decode(const msgpack_object *rec, const rz_rec_ctx *ctx, rz_llama_config *c,
                           rz_err *e)
{
    char arch[32];
    int rc;
    if ((rc = rz_get_str(rec, ctx, "arch", arch, sizeof arch, e))) return rc;
    if (strcmp(arch, "llama") != 0)
        return rz_rec_fail(e, ctx, "arch", "'%s' is not supported (expected \"llama\")", arch);
    rz_llama_config d;
    memset(&d, 0, sizeof d);
    if ((rc = rz_rec_fields_decode(rec, ctx, &d, config_fields, RZ_NFIELDS(config_fields), e))) return rc;
    if ((rc = rz_llama_config_check(&d, e))) return rz_wrap(e, "%s: record %ld (model)", ctx->source, ctx->index);
    *c = d;
    return RZ_OK;
}

int rz_llama_config_check(const rz_llama_config *c, rz_err *e)
{
    const int lim = 1 << 24; /* any single size; the parameter total is bounded below */
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->vocab_size <= 0 || c->seq_len <= 0)
        return rz_fail(e, RZ_EINPUT,
                       "config: dim %d, hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, "
                       "seq_len %d must all be positive",
                       c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len);
    if (c->dim > lim || c->hidden_dim > lim || c->n_layers > 65536 || c->vocab_size > lim || c->seq_len > lim)
        return rz_fail(e, RZ_EINPUT, "config: a size is over its bound (dim, hidden_dim, vocab_size, seq_len <= %d, "
                       "n_layers <= 65536)", lim);
    if (c->n_heads > c->dim || c->dim % c->n_heads != 0)
        return rz_fail(e, RZ_EINPUT, "config: dim %d is not a multiple of n_heads %d", c->dim, c->n_heads);
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
        return rz_fail(e, RZ_EINPUT, "config: n_heads %d is not a multiple of n_kv_heads %d", c->n_heads,
                       c->n_kv_heads);
    if ((c->dim / c->n_heads) % 2 != 0)
        return rz_fail(e, RZ_EINPUT, "config: head size %d is odd; RoPE rotates pairs", c->dim / c->n_heads);
    if (c->shared_classifier != 0 && c->shared_classifier != 1)
        return rz_fail(e, RZ_EINPUT, "config: shared_classifier %d is not 0 or 1", c->shared_classifier);
    if (!(c->rope_theta > 1.0f) || !isfinite(c->rope_theta))
        return rz_fail(e, RZ_EINPUT, "config: rope_theta %g is not a finite number > 1", (double)c->rope_theta);
    if (!(c->norm_eps > 0.0f) || !(c->norm_eps < 1.0f))
        return rz_fail(e, RZ_EINPUT, "config: norm_eps %g is not in (0, 1)", (double)c->norm_eps);
    double total = rz_llama_param_count(c);
    if (total > MAX_PARAMS)
        return rz_fail(e, RZ_EINPUT, "config: %.0f parameters, over the limit of 2^33", total);
    return 0;
}

/* Parameter count in double (exact far beyond the 2^33 bound); heads must divide dim. */
double rz_llama_param_count(const rz_llama_config *c)
{
    double dim = c->dim, hid = c->hidden_dim, kv = (double)c->dim / c->n_heads * c->n_kv_heads;
    double per_layer = 2 * dim + (dim + 2 * kv) * dim + dim * dim + 3 * hid * dim;
    return c->n_layers * per_layer + dim + (c->shared_classifier ? 1 : 2) * (double)c->vocab_size * dim;
}
