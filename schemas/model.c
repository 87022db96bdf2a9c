/* model.c — the "model" record: pack, decode, check (see model.h). */
#include "model.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The parameter count a configuration may reach (floats, so 32 GiB of float32). */
#define MAX_PARAMS ((double)((uint64_t)1 << 33))

void rz_model_config_pack(msgpack_packer *pk, const rz_llama_config *c)
{
    rz_rec_begin(pk, "model", RZ_MODEL_VERSION, 11);
    rz_rec_str(pk, "arch", "llama");
    rz_rec_int(pk, "dim", c->dim);
    rz_rec_int(pk, "hidden_dim", c->hidden_dim);
    rz_rec_int(pk, "n_layers", c->n_layers);
    rz_rec_int(pk, "n_heads", c->n_heads);
    rz_rec_int(pk, "n_kv_heads", c->n_kv_heads);
    rz_rec_int(pk, "vocab_size", c->vocab_size);
    rz_rec_int(pk, "seq_len", c->seq_len);
    rz_rec_bool(pk, "shared_classifier", c->shared_classifier);
    rz_rec_f64(pk, "rope_theta", c->rope_theta);
    rz_rec_f64(pk, "norm_eps", c->norm_eps);
}

int rz_model_config_decode(const msgpack_object *rec, const rz_rec_ctx *ctx, rz_llama_config *c,
                           rz_err *e)
{
    char arch[32];
    int64_t v[7];
    static const char *const keys[7] = {"dim", "hidden_dim", "n_layers", "n_heads",
                                        "n_kv_heads", "vocab_size", "seq_len"};
    int rc;
    if ((rc = rz_get_str(rec, ctx, "arch", arch, sizeof arch, e))) return rc;
    if (strcmp(arch, "llama") != 0)
        return rz_rec_fail(e, ctx, "arch", "'%s' is not supported (expected \"llama\")", arch);
    for (int i = 0; i < 7; i++)
        if ((rc = rz_get_int(rec, ctx, keys[i], 1, 1 << 24, &v[i], e))) return rc;
    const msgpack_object *sh = rz_field(rec, "shared_classifier");
    if (!sh || sh->type != MSGPACK_OBJECT_BOOLEAN)
        return rz_rec_fail(e, ctx, "shared_classifier", "missing or not a boolean");
    double theta, eps;
    if ((rc = rz_get_f64(rec, ctx, "rope_theta", &theta, e))) return rc;
    if ((rc = rz_get_f64(rec, ctx, "norm_eps", &eps, e))) return rc;
    memset(c, 0, sizeof *c);
    c->dim = (int)v[0];
    c->hidden_dim = (int)v[1];
    c->n_layers = (int)v[2];
    c->n_heads = (int)v[3];
    c->n_kv_heads = (int)v[4];
    c->vocab_size = (int)v[5];
    c->seq_len = (int)v[6];
    c->shared_classifier = sh->via.boolean;
    c->rope_theta = (float)theta;
    c->norm_eps = (float)eps;
    if ((rc = rz_llama_config_check(c, e))) return rz_wrap(e, "%s: record %ld (model)", ctx->source, ctx->index);
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
    /* Parameter count in double (exact far beyond the 2^33 bound). */
    double dim = c->dim, hid = c->hidden_dim, kv = (double)c->dim / c->n_heads * c->n_kv_heads;
    double per_layer = 2 * dim + (dim + 2 * kv) * dim + dim * dim + 3 * hid * dim;
    double total = c->n_layers * per_layer + dim + (c->shared_classifier ? 1 : 2) * (double)c->vocab_size * dim;
    if (total > MAX_PARAMS)
        return rz_fail(e, RZ_EINPUT, "config: %.0f parameters, over the limit of 2^33", total);
    return 0;
}
