/* lora_packed.c — adapters of packed models with L, R (see lora_packed.h). */
#include "lora_packed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

int *rz_lora_pair_ranks(const char *loc, const rz_llama *m, const rz_lowrank_adapters *ad, int *n_pairs, rz_err *e)
{
    int nl = m->config.n_layers;
    int *ranks = rz_calloc((size_t)nl * RZ_LIN_PER_LAYER + 1, sizeof *ranks, e);
    if (!ranks) return NULL;
    *n_pairs = 0;
    for (int i = 0; i < ad->count; i++) {
        const rz_lowrank_adapter *p = &ad->a[i];
        if (p->k == 0) continue;
        long found = rz_lin_find(nl, p->name);
        if (found < 0) {
            rz_fail(e, RZ_EINPUT, "%s: qlayer '%s' carries L, R but is not a linear layer rz-finetune trains", loc,
                    p->name);
            free(ranks);
            return NULL;
        }
        ranks[found] = p->k;
        ++*n_pairs;
    }
    return ranks;
}

/* a [n] → fp16 into h; RZ_EINPUT naming the field when a value is not finite in fp16. */
static int scales_f16(const float *a, int n, uint16_t *h, const char *name, const char *field, rz_err *e)
{
    for (int i = 0; i < n; i++) {
        h[i] = rz_f32_to_f16(a[i]);
        if (!isfinite(rz_f16_to_f32(h[i])))
            return rz_fail(e, RZ_EINPUT, "%s: field '%s': the tuned scale %g at %d is not finite in fp16", name, field,
                           (double)a[i], i);
    }
    return RZ_OK;
}

int rz_lora_write_packed(const char *model, const char *out, const rz_stream_opts *so, const rz_lora *lo, rz_err *e)
{
    rz_reader *r;
    rz_writer *w;
    int rc = rz_reader_open(model, so, &r, e);
    if (rc) return rc;
    if ((rc = rz_writer_open(out, so, &w, e))) return rz_reader_close(r), rc;
    const msgpack_object *rec;
    rz_rec_ctx ctx;
    int nl = lo->n_layers;
    uint16_t *h = NULL; /* the line scales at fp16 (scaled adapters) */
    for (;;) {
        if ((rc = rz_reader_next(r, &rec, &ctx, e))) break;
        if (!rec) break;
        msgpack_packer *pk = rz_writer_packer(w);
        rz_qlayer_view ql;
        const rz_adapter *ad = NULL;
        int is_q = !strcmp(ctx.type, "qlayer");
        if (is_q) {
            if ((rc = rz_qlayer_decode(rec, &ctx, &ql, e))) break;
            long j = rz_lin_find(nl, ql.name);
            ad = j < 0 ? NULL : &lo->ad[j];
        } else {
            ql.rank = 0;
        }
        int scaled = ad && lo->scaled;
        if ((ql.rank > 0 || scaled) && (!ad || ad->m != ql.rows || ad->n != ql.cols || (ql.rank > 0 && ad->k != ql.rank))) {
            rc = rz_rec_fail(e, &ctx, "rank", "qlayer '%s' does not match the trained adapters (was %s changed?)",
                             ql.name, model);
            break;
        }
        if (ql.rank == 0 && !scaled) {
            msgpack_pack_object(pk, *rec);
        } else {
            rz_qlayer nq = {0};
            rz_qlayer_view v = ql;
            if (ql.rank > 0 && !lo->fixed) { /* L, R trained (frozen: the record's own bytes stay) */
                if ((rc = rz_qlayer_replace_lowrank(&ql, ad->L, ad->R, &nq, e))) break;
                v = nq.v;
            }
            if (scaled) { /* v3: the tuned line scales at fp16 */
                uint16_t *nh = realloc(h, sizeof *h * ((size_t)ad->m + ad->n));
                if (!nh) {
                    rz_qlayer_free(&nq);
                    rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
                    break;
                }
                h = nh;
                if ((rc = scales_f16(ad->sa, ad->m, h, ql.name, "out_scale", e)) ||
                    (rc = scales_f16(ad->sb, ad->n, h + ad->m, ql.name, "in_scale", e))) {
                    rz_qlayer_free(&nq);
                    break;
                }
                v.out_scale = h, v.in_scale = h + ad->m;
            }
            rz_qlayer_pack(pk, &v);
            rz_qlayer_free(&nq);
        }
        if ((rc = rz_writer_emit(w, e))) break;
    }
    free(h);
    rz_reader_close(r);
    if (rc) {
        rz_writer_abort(w, e);
        return rc;
    }
    return rz_writer_close(w, e);
}

rz_qlayer *rz_lora_qat_templates(const char *model, const rz_stream_opts *so, const rz_lora *lo, rz_err *e)
{
    int nm = lo->n_layers * RZ_LIN_PER_LAYER, rc = RZ_OK;
    rz_qlayer *tm = rz_calloc((size_t)nm, sizeof *tm, e);
    rz_reader *r;
    if (!tm) return NULL;
    if (rz_reader_open(model, so, &r, e)) {
        free(tm);
        return NULL;
    }
    const msgpack_object *rec;
    rz_rec_ctx ctx;
    for (;;) {
        if ((rc = rz_reader_next(r, &rec, &ctx, e)) || !rec) break;
        rz_qlayer_view ql;
        if (strcmp(ctx.type, "qlayer") != 0) continue;
        if ((rc = rz_qlayer_decode(rec, &ctx, &ql, e))) break;
        long j = ql.rank > 0 ? rz_lin_find(lo->n_layers, ql.name) : -1;
        if (j >= 0) {
            const rz_adapter *ad = &lo->ad[j];
            if (ad->k != ql.rank || rz_qlayer_replace_lowrank(&ql, ad->L, ad->R, &tm[j], e)) {
                if (!e || !e->code) rz_rec_fail(e, &ctx, "rank", "qlayer '%s' changed since it was loaded", ql.name);
                rc = RZ_EINPUT;
                break;
            }
        }
    }
    rz_reader_close(r);
    if (rc) {
        for (int j = 0; j < nm; j++) rz_qlayer_free(&tm[j]);
        free(tm);
        return NULL;
    }
    return tm;
}

int rz_lora_qat_round(rz_lora *lo, const float *latent, const rz_qlayer *tm, rz_err *e)
{
    for (int j = 0; j < lo->n_layers * RZ_LIN_PER_LAYER; j++) {
        rz_adapter *ad = &lo->ad[j];
        if (!ad->k) continue;
        rz_qlayer q;
        const float *L = latent + (ad->L - lo->params), *R = latent + (ad->R - lo->params);
        int rc = rz_qlayer_replace_lowrank(&tm[j].v, L, R, &q, e);
        if (!rc) rc = rz_qlayer_dequant_parts(&q.v, NULL, ad->L, ad->R, e);
        rz_qlayer_free(&q);
        if (rc) return rc;
    }
    return 0;
}
