/* calib.c — Hessian accumulation over calibration windows (see calib.h). */
#include "calib.h"

#include "model_io.h"
#include "qlayer.h"
#include "qrecord.h"
#include "rng.h"
#include "stream.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

int rz_calib_init(rz_calib *c, const rz_llama_config *cfg, int max_T, rz_err *e)
{
    memset(c, 0, sizeof *c);
    c->n_layers = cfg->n_layers;
    c->n[RZ_TAP_ATTN_IN] = c->n[RZ_TAP_ATTN_OUT] = c->n[RZ_TAP_MLP_IN] = cfg->dim;
    c->n[RZ_TAP_MLP_DOWN] = cfg->hidden_dim;
    c->max_T = max_T;
    int ng = cfg->n_layers * RZ_TAP_GROUPS, nmax = cfg->dim > cfg->hidden_dim ? cfg->dim : cfg->hidden_dim;
    c->S = rz_calloc((size_t)ng, sizeof *c->S, e);
    c->tokens = rz_calloc((size_t)ng, sizeof *c->tokens, e);
    c->tmp = rz_malloc((size_t)max_T * (size_t)nmax * sizeof *c->tmp, e);
    if (!c->S || !c->tokens || !c->tmp) goto fail;
    for (int i = 0; i < ng; i++) {
        size_t n = (size_t)c->n[i % RZ_TAP_GROUPS];
        if (!(c->S[i] = rz_calloc(n * n, sizeof(double), e))) goto fail;
    }
    return RZ_OK;
fail:
    rz_calib_free(c);
    return RZ_EINTERNAL;
}

void rz_calib_free(rz_calib *c)
{
    if (c->S)
        for (int i = 0; i < c->n_layers * RZ_TAP_GROUPS; i++) free(c->S[i]);
    free(c->S);
    free(c->tokens);
    free(c->tmp);
    memset(c, 0, sizeof *c);
}

void rz_gram_add(double *S, const float *x, int T, int n, int ld, double *tmp)
{
    for (int t = 0; t < T; t++)
        for (int j = 0; j < n; j++) tmp[(size_t)t * n + j] = x[(size_t)t * ld + j];
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n, T, 1.0, tmp, n, 1.0, S, n);
}

void rz_gram_finish(double *S, int n, double rows)
{
    double inv = rows > 0 ? 1.0 / rows : 0.0;
    for (int r = 0; r < n; r++)
        for (int k = r; k < n; k++) {
            double v = S[(size_t)r * n + k] * inv;
            S[(size_t)r * n + k] = v;
            S[(size_t)k * n + r] = v;
        }
}

void rz_calib_tap(void *ctx, int layer, int which, const float *x, int T, int n, int ld)
{
    rz_calib *c = ctx;
    if (T > c->max_T || n != c->n[which]) return; /* cannot happen with a matching state */
    int i = layer * RZ_TAP_GROUPS + which;
    rz_gram_add(c->S[i], x, T, n, ld, c->tmp);
    c->tokens[i] += T;
}

void rz_calib_finish(rz_calib *c)
{
    for (int i = 0; i < c->n_layers * RZ_TAP_GROUPS; i++) rz_gram_finish(c->S[i], c->n[i % RZ_TAP_GROUPS], c->tokens[i]);
}

void rz_calib_windows(size_t n, int ctx, long count, uint64_t seed, long *starts)
{
    uint64_t s = seed, span = (uint64_t)(n - (size_t)ctx) + 1;
    for (long k = 0; k < count; k++) starts[k] = (long)(rz_splitmix64(&s) % span);
}

/* All Hessians of the stream, indexed [layer·4 + group], validated against the model. */
int rz_hessians_load(const char *loc, const rz_stream_opts *so, const rz_llama_config *cfg, uint64_t mhash,
                         double **H, rz_err *e)
{
    rz_reader *r;
    int rc = rz_reader_open(loc, so, &r, e);
    if (rc) return rc;
    const msgpack_object *rec;
    rz_rec_ctx ctx;
    for (;;) {
        if ((rc = rz_reader_next(r, &rec, &ctx, e))) break;
        if (!rec) break;
        if (strcmp(ctx.type, "hessian") != 0) {
            rc = rz_fail(e, RZ_EINPUT, "%s: record %ld: expected \"hessian\" records, got \"%s\"", loc, ctx.index, ctx.type);
            break;
        }
        rz_hessian_view h;
        if ((rc = rz_hessian_decode(rec, &ctx, &h, e))) break;
        if (h.model_hash != mhash) {
            rc = rz_fail(e, RZ_EINPUT, "%s: record %ld: these Hessians were computed for another model (hash %llu, this model's is %llu)",
                         loc, ctx.index, (unsigned long long)h.model_hash, (unsigned long long)mhash);
            break;
        }
        int want = h.group == RZ_TAP_MLP_DOWN ? cfg->hidden_dim : cfg->dim;
        if (h.layer >= cfg->n_layers || h.n != want) {
            rc = rz_fail(e, RZ_EINPUT, "%s: record %ld: layer %d group %s of order %d does not fit the model (%d layers, order %d)",
                         loc, ctx.index, h.layer, rz_hessian_group_name(h.group), h.n, cfg->n_layers, want);
            break;
        }
        int i = h.layer * RZ_TAP_GROUPS + h.group;
        if (H[i]) {
            rc = rz_fail(e, RZ_EINPUT, "%s: record %ld: a second Hessian for layer %d group %s", loc, ctx.index, h.layer,
                         rz_hessian_group_name(h.group));
            break;
        }
        size_t bytes = (size_t)h.n * (size_t)h.n * sizeof(double);
        if (!(H[i] = rz_malloc(bytes, e))) {
            rc = RZ_EINTERNAL;
            break;
        }
        memcpy(H[i], h.H, bytes);
    }
    rz_reader_close(r);
    for (int i = 0; !rc && i < cfg->n_layers * RZ_TAP_GROUPS; i++)
        if (!H[i])
            rc = rz_fail(e, RZ_EINPUT, "%s: the Hessian of layer %d group %s is missing", loc, i / RZ_TAP_GROUPS,
                         rz_hessian_group_name(i % RZ_TAP_GROUPS));
    return rc;
}

int rz_quant_inputs_load(const char *model, const char *hess, const rz_stream_opts *so, rz_llama **m,
                         uint64_t *mhash, double ***H, rz_err *e)
{
    int rc = rz_model_load(model, so, m, e);
    if (rc) return rc;
    *mhash = rz_llama_identity(*m, RZ_ID_LAYERS);
    *H = rz_calloc((size_t)(*m)->config.n_layers * RZ_TAP_GROUPS, sizeof **H, e);
    if (!*H) return RZ_EINTERNAL;
    return rz_hessians_load(hess, so, &(*m)->config, *mhash, *H, e);
}
