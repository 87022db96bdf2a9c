/* maze_ckpt.c — rz-maze checkpoints (maze_ckpt.h). 64-bit values are written as 16 hex
 * digits so JSON views (rz-cat, jq) keep them exact. */
#include "maze_ckpt.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maze.h"
#include "mlmu.h"
#include "record.h"

/* The header's fields in the order they are written ("moments" follows: it is whether
 * the moments are saved, not a member). The model's vocabulary, norm epsilon and tied
 * classifier are implied by n and fixed; rope_theta and keys may be absent (checkpoints
 * written before them: 10000 and all). */
#define S rz_maze_ckpt
static const rz_field_spec header_fields[] = {
    RZ_FIELD_INT(S, n, RZ_MAZE_MIN, RZ_MAZE_MAX, 0),
    RZ_FIELD_PICK(S, "objective", objective, rz_maze_objective_names, 0),
    RZ_FIELD_PICK(S, "keys", keys, rz_maze_keys_names, 1),
    RZ_FIELD_INT(S, config.dim, 1, 1 << 14, 0),
    RZ_FIELD_INT(S, config.hidden_dim, 1, 1 << 16, 0),
    RZ_FIELD_INT(S, config.n_layers, 1, 256, 0),
    RZ_FIELD_INT(S, config.n_heads, 1, 1024, 0),
    RZ_FIELD_INT(S, config.n_kv_heads, 1, 1024, 0),
    RZ_FIELD_INT(S, config.seq_len, 1, 1 << 16, 0),
    RZ_FIELD_F32(S, config.rope_theta, 2, 1e9, 1),
    RZ_FIELD_I64(S, step, 0, INT32_MAX, 0),
    RZ_FIELD_I64(S, total, 1, INT32_MAX, 0),
    RZ_FIELD_I64(S, batch, 1, 1 << 20, 0),
    RZ_FIELD_I64(S, micro, 1, 1 << 20, 0),
    RZ_FIELD_HEX64(S, seed, 0),
    RZ_FIELD_HEX64(S, samples, 0),
    RZ_FIELD_HEX64(S, set_id, 0),
    RZ_FIELD_F64(S, opt.lr, 0, 999.999999, 0), /* [0, 1000) */
    RZ_FIELD_F64(S, opt.min_lr, -INFINITY, INFINITY, 0),
    RZ_FIELD_F64(S, opt.weight_decay, -INFINITY, INFINITY, 0),
    RZ_FIELD_F64(S, opt.clip, -INFINITY, INFINITY, 0),
    RZ_FIELD_INT(S, opt.warmup, 0, INT32_MAX, 0),
    RZ_FIELD_PICK(S, "schedule", opt.schedule, rz_adamw_schedule_names, 0),
    RZ_FIELD_F64(S, loss, -INFINITY, INFINITY, 0),
    /* written for past checkpoints only (an enc checkpoint keeps the bytes it had before
     * the fields existed); absent: enc, no decoder */
    RZ_FIELD_PICK(S, "arch", arch, rz_maze_arch_names, 1),
    RZ_FIELD_INT(S, dec_layers, 0, 255, 1),
};
#undef S
#define N_ARCH_FIELDS 2 /* the last two: arch, dec_layers */

int rz_maze_ckpt_save(const char *loc, const rz_stream_opts *o, const rz_maze_ckpt *in, rz_llama *m,
                      const rz_adamw *opt, rz_err *e)
{
    rz_writer *w;
    if (rz_writer_open(loc, o, &w, e)) return e->code;
    msgpack_packer *pk = rz_writer_packer(w);
    int nf = RZ_NFIELDS(header_fields) - (in->arch == RZ_MZ_ARCH_ENC ? N_ARCH_FIELDS : 0);
    rz_rec_begin(pk, "maze_checkpoint", RZ_MAZE_CKPT_VERSION, nf + 1);
    rz_rec_fields_pack(pk, in, header_fields, nf);
    rz_rec_bool(pk, "moments", opt != NULL);
    if (rz_writer_emit(w, e)) goto fail;
    int count = rz_llama_tensor_count(m);
    for (int i = 0; i < count; i++) {
        const char *name;
        float *d;
        int sh[2], nd;
        rz_llama_tensor_at(m, i, &name, &d, sh, &nd);
        int64_t shape[2] = {sh[0], sh[1]};
        rz_tensor_pack(rz_writer_packer(w), name, RZ_F32, nd, shape, d);
        if (rz_writer_emit(w, e)) goto fail;
    }
    if (opt) {
        int64_t shape[1] = {(int64_t)opt->n};
        rz_tensor_pack(rz_writer_packer(w), "adamw.m", RZ_F32, 1, shape, opt->m);
        if (rz_writer_emit(w, e)) goto fail;
        rz_tensor_pack(rz_writer_packer(w), "adamw.v", RZ_F32, 1, shape, opt->v);
        if (rz_writer_emit(w, e)) goto fail;
    }
    return rz_writer_close(w, e);
fail:
    rz_writer_abort(w, e);
    return e->code;
}

static int get_header(const msgpack_object *r, const rz_rec_ctx *c, rz_maze_ckpt *in, int *moments, rz_err *e)
{
    rz_llama_config *cf = &in->config;
    int rc;
    memset(in, 0, sizeof *in);
    rz_adamw_defaults(&in->opt);
    in->keys = RZ_MZ_KEYS_ALL, cf->rope_theta = 10000.0f; /* when absent */
    in->arch = RZ_MZ_ARCH_ENC, in->dec_layers = 0;
    if ((rc = rz_rec_fields_decode(r, c, in, header_fields, RZ_NFIELDS(header_fields), e))) return rc;
    if (in->arch == RZ_MZ_ARCH_ENC && in->dec_layers != 0)
        return rz_rec_fail(e, c, "dec_layers", "%d for arch enc, expected 0", in->dec_layers);
    if (in->arch == RZ_MZ_ARCH_PAST && (in->dec_layers < 1 || in->dec_layers >= cf->n_layers))
        return rz_rec_fail(e, c, "dec_layers", "%d for arch past with n_layers %d, expected 1 to %d", in->dec_layers,
                           cf->n_layers, cf->n_layers - 1);
    if (in->arch == RZ_MZ_ARCH_PAST && in->objective != RZ_MZ_MLMU)
        return rz_rec_fail(e, c, "arch", "past with objective next, expected mlmu");
    if (in->arch == RZ_MZ_ARCH_PAST && in->keys != RZ_MZ_KEYS_VISIBLE)
        return rz_rec_fail(e, c, "keys", "all with arch past, expected visible");
    cf->vocab_size = rz_maze_vocab(in->n), cf->shared_classifier = 0, cf->norm_eps = 1e-5f;
    if (in->step > in->total) return rz_rec_fail(e, c, "step", "%lld is past total %lld", (long long)in->step, (long long)in->total);
    if (in->batch % in->micro) return rz_rec_fail(e, c, "micro", "does not divide batch");
    in->opt.total = (int)in->total;
    if ((rc = rz_get_bool(r, c, "moments", moments, e))) return rc;
    rz_err ce = {0};
    if (rz_llama_config_check(cf, &ce)) return rz_rec_fail(e, c, "dim", "model shape: %s", ce.msg);
    /* bound the allocation the header asks for: 2^27 floats (512 MB) is far above any
     * maze model (the 10x10 ones have ~10^6) */
    double np = 2.0 * cf->vocab_size * cf->dim +
                (double)cf->n_layers * (4.0 * cf->dim * cf->dim + 3.0 * cf->dim * cf->hidden_dim);
    if (np > (double)(1 << 27)) return rz_rec_fail(e, c, "dim", "a model of %.3g parameters: at most 2^27", np);
    return 0;
}

int rz_maze_ckpt_load(const char *loc, const rz_stream_opts *o, rz_maze_ckpt *in, rz_llama **mp, rz_adamw *opt,
                      rz_err *e)
{
    *mp = NULL;
    if (opt) memset(opt, 0, sizeof *opt);
    rz_reader *r;
    if (rz_reader_open(loc, o, &r, e)) return e->code;
    rz_llama *m = NULL;
    char *seen = NULL;
    int rc = 0, moments = 0, count = 0;
    long idx = 0;
    for (;;) {
        const msgpack_object *rec;
        rz_rec_ctx c;
        if ((rc = rz_reader_next(r, &rec, &c, e))) break;
        if (!rec) break;
        if (idx++ == 0) {
            if (strcmp(c.type, "maze_checkpoint")) {
                rc = rz_fail(e, RZ_EINPUT, "%s record 0: type '%s', expected 'maze_checkpoint'", c.source, c.type);
                break;
            }
            if ((rc = get_header(rec, &c, in, &moments, e))) break;
            if (opt && !moments) {
                rc = rz_rec_fail(e, &c, "moments", "false: a trained model, not a training checkpoint (no AdamW state)");
                break;
            }
            if ((rc = rz_llama_alloc(&in->config, &m, e))) break;
            count = rz_llama_tensor_count(m);
            if (!(seen = rz_calloc((size_t)count + 2, 1, e))) { rc = RZ_EINTERNAL; break; }
            if (opt && (rc = rz_adamw_init(opt, m->n_params, e))) break;
            continue;
        }
        rz_tensor_view tv;
        if (strcmp(c.type, "tensor")) {
            rc = rz_fail(e, RZ_EINPUT, "%s record %ld: type '%s', expected 'tensor'", c.source, c.index, c.type);
            break;
        }
        if ((rc = rz_tensor_decode(rec, &c, &tv, e))) break;
        int slot = -1;
        float *dst = NULL;
        int64_t want[2] = {0, 1};
        int wnd = 1;
        if (!strcmp(tv.name, "adamw.m") || !strcmp(tv.name, "adamw.v")) {
            slot = count + (tv.name[6] == 'v');
            want[0] = (int64_t)m->n_params;
            dst = opt ? (tv.name[6] == 'm' ? opt->m : opt->v) : NULL;
        } else {
            for (int i = 0; i < count && slot < 0; i++) {
                const char *nm;
                float *d;
                int sh[2], nd;
                rz_llama_tensor_at(m, i, &nm, &d, sh, &nd);
                if (!strcmp(nm, tv.name)) slot = i, dst = d, want[0] = sh[0], want[1] = sh[1], wnd = nd;
            }
        }
        if (slot < 0) { rc = rz_rec_fail(e, &c, "name", "unknown tensor '%s'", tv.name); break; }
        if (seen[slot]) { rc = rz_rec_fail(e, &c, "name", "tensor '%s' appears twice", tv.name); break; }
        seen[slot] = 1;
        if (tv.ndim != wnd || tv.shape[0] != want[0] || (wnd == 2 && tv.shape[1] != want[1])) {
            rc = rz_rec_fail(e, &c, "shape", "tensor '%s': expected [%lld%s%lld]", tv.name, (long long)want[0],
                             wnd == 2 ? ", " : "", wnd == 2 ? (long long)want[1] : 0LL);
            if (wnd == 1) rc = rz_rec_fail(e, &c, "shape", "tensor '%s': expected [%lld]", tv.name, (long long)want[0]);
            break;
        }
        if (tv.dtype != RZ_F32) { rc = rz_rec_fail(e, &c, "dtype", "expected f32"); break; }
        if (dst) memcpy(dst, tv.data, sizeof(float) * (size_t)tv.count);
    }
    rz_reader_close(r);
    if (!rc && idx == 0) rc = rz_fail(e, RZ_EINPUT, "%s: empty stream, expected a maze_checkpoint", loc);
    if (!rc) {
        for (int i = 0; i < count + (moments ? 2 : 0); i++) {
            if (seen[i]) continue;
            const char *nm = i == count ? "adamw.m" : i == count + 1 ? "adamw.v" : NULL;
            if (!nm) {
                float *d;
                int sh[2], nd;
                rz_llama_tensor_at(m, i, &nm, &d, sh, &nd);
            }
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s' is missing", loc, nm);
            break;
        }
    }
    free(seen);
    if (rc) {
        rz_llama_free(m);
        if (opt) rz_adamw_free(opt);
        return rc;
    }
    if (opt) opt->step = (long)in->step;
    *mp = m;
    return 0;
}
