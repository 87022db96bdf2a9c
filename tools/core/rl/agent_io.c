/* agent_io.c — rz-agent's datasets and checkpoints as record streams (see agent_io.h).
 *
 * Dataset: agent_dataset header, agent_steps chunks of RZ_AGENT_STEPS_CHUNK transitions,
 * end. Checkpoint: agent header, one f32 tensor per fb_state array plus "labels" (states
 * drawn from the training data, for reward inference at evaluation), end. Both are
 * written through rz_writer, so a failed run leaves no file behind. */
#include "agent_io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obsnorm.h"
#include "stream.h"

int ag_env_from_id(const rz_env_id *id, rl_env *env, rz_err *e)
{
    if (!strcmp(id->env, "pointmass-maze")) return rl_env_make(env, "pointmass-maze", id->slip, e);
    if (!strcmp(id->env, "humanoid")) {
        /* the humanoid's map text is its model file's path */
        char spec[4200];
        if (!id->map || strlen(id->map) > 4096) return rz_fail(e, RZ_EINPUT, "environment 'humanoid': model path missing or too long");
        snprintf(spec, sizeof spec, "humanoid%s%s", *id->map ? ":" : "", id->map);
        return rl_env_make(env, spec, id->slip, e);
    }
    if (!id->map || !*id->map) return rz_fail(e, RZ_EINPUT, "environment '%s': no map text", id->env);
    return rl_env_grid_parse(env, id->map, id->env, id->slip, e);
}

int ag_env_id(const rl_env *env, rz_env_id *id, rz_err *e)
{
    memset(id, 0, sizeof *id);
    snprintf(id->env, sizeof id->env, "%s", env->name);
    id->map = strdup(env->map_text ? env->map_text : "");
    id->slip = env->slip;
    if (!id->map) return rz_fail(e, RZ_EINTERNAL, "out of memory");
    if (strlen(id->map) > RZ_AGENT_MAX_MAP) return rz_fail(e, RZ_EINPUT, "%s: map text longer than %d bytes", env->name, RZ_AGENT_MAX_MAP);
    return RZ_OK;
}

int ag_dataset_write(const char *path, const rz_stream_opts *o, const rl_env *env, const ag_dataset *d, rz_err *e)
{
    rz_writer *w;
    int rc = rz_writer_open(path, o, &w, e);
    if (rc) return rc;
    rz_dataset_header_pack(rz_writer_packer(w), &d->h);
    if ((rc = rz_writer_emit(w, e))) goto fail;
    int sd = env->state_dim, ad = env->act_dim;
    for (long i = 0; i < d->n; i += RZ_AGENT_STEPS_CHUNK) {
        int m = d->n - i < RZ_AGENT_STEPS_CHUNK ? (int)(d->n - i) : RZ_AGENT_STEPS_CHUNK;
        rz_steps_pack(rz_writer_packer(w), m, sd, ad, d->S + i * sd, d->A + i * ad, d->S2 + i * sd);
        if ((rc = rz_writer_emit(w, e))) goto fail;
    }
    return rz_writer_close(w, e);
fail:
    rz_writer_abort(w, e);
    return rc;
}

void ag_dataset_free(ag_dataset *d)
{
    free(d->S), free(d->A), free(d->S2);
    rz_env_id_free(&d->h.env);
    memset(d, 0, sizeof *d);
}

int ag_dataset_read(const char *path, const rz_stream_opts *o, ag_dataset *d, rl_env *env, rz_err *e)
{
    memset(d, 0, sizeof *d);
    memset(env, 0, sizeof *env);
    rz_reader *r;
    int rc = rz_reader_open(path, o, &r, e), have_env = 0;
    if (rc) return rc;
    const msgpack_object *rec;
    rz_rec_ctx c;
    if ((rc = rz_reader_first(r, "agent_dataset", "an rz-agent dataset", &rec, &c, e))) goto out;
    if ((rc = rz_dataset_header_decode(rec, &c, &d->h, e))) goto out;
    if ((rc = ag_env_from_id(&d->h.env, env, e))) {
        rz_wrap(e, "%s: record 0 (agent_dataset)", path);
        goto out;
    }
    have_env = 1;
    if (d->h.state_dim != env->state_dim || d->h.act_dim != env->act_dim || d->h.n_actions != env->n_actions) {
        rc = rz_fail(e, RZ_EINPUT, "%s: record 0 (agent_dataset): dimensions (state %d, action %d, %d actions) do not match environment %s",
                     path, d->h.state_dim, d->h.act_dim, d->h.n_actions, env->name);
        goto out;
    }
    /* The header's count (up to 2^32) is a promise, not an allocation size: storage
     * grows with the transitions that actually arrive, and more than promised is an error. */
    size_t cap = 0;
    int sd = env->state_dim, ad = env->act_dim;
    for (;;) {
        if ((rc = rz_reader_next(r, &rec, &c, e))) goto out;
        if (!rec) break;
        if (!rz_rec_type_is(&c, "agent_steps")) continue; /* unknown record types are skipped */
        int64_t m;
        if ((rc = rz_steps_count(rec, &c, &m, e))) goto out;
        if (d->n + m > d->h.steps) {
            rc = rz_fail(e, RZ_EINPUT, "%s: record %ld (agent_steps): more transitions than the header's steps = %lld", path,
                         c.index, (long long)d->h.steps);
            goto out;
        }
        if ((size_t)d->n + (size_t)m > cap) {
            size_t want = cap ? 2 * cap : 65536;
            if (want < (size_t)d->n + (size_t)m) want = (size_t)d->n + (size_t)m;
            if (want > (size_t)d->h.steps) want = (size_t)d->h.steps;
            float *S = realloc(d->S, want * sd * sizeof(float)), *A = NULL, *S2 = NULL;
            if (S) d->S = S, A = realloc(d->A, want * ad * sizeof(float));
            if (A) d->A = A, S2 = realloc(d->S2, want * sd * sizeof(float));
            if (!S2) {
                rc = rz_fail(e, RZ_EINTERNAL, "%s: out of memory for %zu transitions", path, want);
                goto out;
            }
            d->S2 = S2;
            cap = want;
        }
        float *S = d->S + d->n * sd, *A = d->A + d->n * ad, *S2 = d->S2 + d->n * sd;
        if ((rc = rz_steps_decode(rec, &c, sd, ad, S, A, S2, e))) goto out;
        for (int64_t i = 0; i < m; i++) {
            const char *bad = !rl_env_check_state(env, S + i * sd)    ? "s"
                              : !rl_env_check_action(env, A + i * ad) ? "a"
                              : !rl_env_check_state(env, S2 + i * sd) ? "s2"
                                                                       : NULL;
            if (bad) {
                rc = rz_rec_fail(e, &c, bad, "transition %lld: %s (%g, %g) is not valid in environment %s", (long long)i,
                                 bad[0] == 'a' ? "action" : "state", bad[0] == 'a' ? A[i * ad] : (bad[1] ? S2 : S)[i * sd],
                                 bad[0] == 'a' ? (ad > 1 ? A[i * ad + 1] : 0) : (bad[1] ? S2 : S)[i * sd + 1], env->name);
                goto out;
            }
        }
        d->n += m;
    }
    if (d->n != d->h.steps)
        rc = rz_fail(e, RZ_EINPUT, "%s: %ld transitions, but the header says steps = %lld", path, d->n, (long long)d->h.steps);
out:
    rz_reader_close(r);
    if (rc) {
        ag_dataset_free(d);
        if (have_env) rl_env_free(env);
    }
    return rc;
}

int ag_dataset_obs(const rl_env *env, const ag_dataset *d, float **O, float **O2, rz_err *e)
{
    size_t n = (size_t)d->n, od = env->obs_dim, sd = env->state_dim;
    *O = rz_malloc(n * od * sizeof(float), e);
    *O2 = rz_malloc(n * od * sizeof(float), e);
    if (!*O || !*O2) {
        free(*O), free(*O2);
        return RZ_EINTERNAL;
    }
    for (size_t i = 0; i < n; i++) {
        rl_env_obs(env, d->S + i * sd, *O + i * od);
        rl_env_obs(env, d->S2 + i * sd, *O2 + i * od);
    }
    return RZ_OK;
}

/* ---- checkpoints --------------------------------------------------------------------- */
void ag_config_to_header(const fb_config *c, rz_agent_header *h)
{
    snprintf(h->algo, sizeof h->algo, "%s", fb_algo_name(c->algo));
    h->zdim = c->zdim;
    h->hidden = c->hidden;
    h->layers = c->layers;
    h->batch = c->batch;
    h->lr_f = c->lr_f;
    h->lr_b = c->lr_b;
    h->lr_actor = c->lr_actor;
    h->gamma = c->gamma;
    h->tau = c->tau;
    h->ortho_coef = c->ortho_coef;
    h->mix_ratio = c->mix_ratio;
    h->bnorm = c->bnorm;
    h->fscale = c->fscale;
    h->target_mean = c->target_mean;
    h->qloss = c->qloss;
    h->traj_ratio = c->traj_ratio;
    h->traj_len = c->traj_len;
    h->lr_decay = c->lr_decay;
    h->anneal_start = c->anneal_start;
    h->anneal_end = c->anneal_end;
    h->alpha = c->alpha;
    h->lagrange = c->lagrange;
    h->alpha_target = c->alpha_target;
    h->lr_alpha = c->lr_alpha;
    h->action_samples = c->action_samples;
    h->actor_noise = c->actor_noise;
    h->noise_clip = c->noise_clip;
    h->grad_clip = c->grad_clip;
    h->cpen_ref = c->cpen_ref;
    h->norm_obs = c->norm_obs;
}

void ag_header_to_config(const rz_agent_header *h, const rl_env *env, fb_config *c)
{
    fb_algo algo = FB_ALGO_FB;
    fb_algo_parse(h->algo, &algo);
    fb_config_default(c, algo, env->obs_dim, env->n_actions, env->act_dim);
    c->zdim = h->zdim;
    c->hidden = h->hidden;
    c->layers = h->layers;
    c->batch = h->batch;
    c->lr_f = (float)h->lr_f;
    c->lr_b = (float)h->lr_b;
    c->lr_actor = (float)h->lr_actor;
    c->gamma = (float)h->gamma;
    c->tau = (float)h->tau;
    c->ortho_coef = (float)h->ortho_coef;
    c->mix_ratio = (float)h->mix_ratio;
    c->bnorm = h->bnorm;
    c->fscale = (float)h->fscale;
    c->target_mean = h->target_mean;
    c->qloss = (float)h->qloss;
    c->traj_ratio = (float)h->traj_ratio;
    if (h->traj_len) c->traj_len = (int)h->traj_len;
    c->lr_decay = (float)h->lr_decay;
    c->anneal_start = h->anneal_start;
    c->anneal_end = h->anneal_end;
    c->alpha = (float)h->alpha;
    c->lagrange = h->lagrange;
    c->alpha_target = (float)h->alpha_target;
    c->lr_alpha = (float)h->lr_alpha;
    c->action_samples = h->action_samples;
    c->actor_noise = (float)h->actor_noise;
    c->noise_clip = (float)h->noise_clip;
    c->grad_clip = (float)h->grad_clip;
    c->cpen_ref = h->cpen_ref;
    c->norm_obs = h->norm_obs;
}

int ag_agent_write(const char *path, const rz_stream_opts *o, const rz_agent_header *h, fb_agent *a,
                   int n_labels, const float *labels, int state_dim, rz_err *e)
{
    fb_tensor *t;
    int nt, rc = fb_state(a, &t, &nt, e);
    if (rc) return rc;
    rz_writer *w;
    if ((rc = rz_writer_open(path, o, &w, e))) {
        free(t);
        return rc;
    }
    rz_agent_header_pack(rz_writer_packer(w), h);
    if ((rc = rz_writer_emit(w, e))) goto fail;
    for (int k = 0; k < nt; k++) {
        int64_t shape[1] = {(int64_t)t[k].n};
        rz_tensor_pack(rz_writer_packer(w), t[k].name, RZ_F32, 1, shape, t[k].data);
        if ((rc = rz_writer_emit(w, e))) goto fail;
    }
    int64_t shape[2] = {n_labels, state_dim};
    rz_tensor_pack(rz_writer_packer(w), "labels", RZ_F32, 2, shape, labels);
    if ((rc = rz_writer_emit(w, e))) goto fail;
    free(t);
    return rz_writer_close(w, e);
fail:
    free(t);
    rz_writer_abort(w, e);
    return rc;
}

int ag_agent_read(const char *path, const rz_stream_opts *o, rz_agent_header *h, fb_agent **out,
                  rl_env *env, int *n_labels, float **labels, rz_err *e)
{
    *out = NULL;
    *labels = NULL;
    *n_labels = 0;
    memset(env, 0, sizeof *env);
    memset(h, 0, sizeof *h);
    rz_reader *r;
    int rc = rz_reader_open(path, o, &r, e), have_env = 0, nt = 0;
    if (rc) return rc;
    fb_agent *a = NULL;
    fb_tensor *t = NULL;
    unsigned char *seen = NULL;
    const msgpack_object *rec;
    rz_rec_ctx c;
    if ((rc = rz_reader_first(r, "agent", "an rz-agent checkpoint", &rec, &c, e))) goto out;
    if ((rc = rz_agent_header_decode(rec, &c, h, e))) goto out;
    if ((rc = ag_env_from_id(&h->env, env, e))) goto out;
    have_env = 1;
    rl_env_set_grid_obs(env, (rl_grid_obs)h->grid_obs);
    fb_config cfg;
    ag_header_to_config(h, env, &cfg);
    if (fb_algo_parse(h->algo, &cfg.algo)) {
        rc = rz_fail(e, RZ_EINPUT, "%s: record 0 (agent): field 'algo': '%s' is not fb, vcfb or mcfb", path, h->algo);
        goto out;
    }
    if ((rc = fb_create(&cfg, 0, &a, e))) {
        rz_wrap(e, "%s: record 0 (agent)", path);
        goto out;
    }
    if ((rc = fb_state(a, &t, &nt, e))) goto out;
    seen = rz_calloc(nt + 1, 1, e);
    if (!seen) {
        rc = RZ_EINTERNAL;
        goto out;
    }
    for (;;) {
        if ((rc = rz_reader_next(r, &rec, &c, e))) goto out;
        if (!rec) break;
        if (!rz_rec_type_is(&c, "tensor")) continue;
        rz_tensor_view tv;
        if ((rc = rz_tensor_decode(rec, &c, &tv, e))) goto out;
        if (!strcmp(tv.name, "labels")) {
            if (tv.ndim != 2 || tv.shape[1] != env->state_dim || tv.shape[0] < 1 || tv.shape[0] > (1 << 24) || tv.dtype != RZ_F32) {
                rc = rz_rec_fail(e, &c, "shape", "labels must be f32 [n, %d]", env->state_dim);
                goto out;
            }
            *n_labels = (int)tv.shape[0];
            *labels = rz_malloc((size_t)tv.count * sizeof(float), e);
            if (!*labels) {
                rc = RZ_EINTERNAL;
                goto out;
            }
            memcpy(*labels, tv.data, (size_t)tv.count * sizeof(float));
            for (int i = 0; i < *n_labels; i++)
                if (!rl_env_check_state(env, *labels + (size_t)i * env->state_dim)) {
                    rc = rz_rec_fail(e, &c, "data", "label state %d is not valid in %s", i, env->name);
                    goto out;
                }
            seen[nt] = 1;
            continue;
        }
        int k = 0;
        while (k < nt && strcmp(t[k].name, tv.name)) k++;
        if (k == nt) continue; /* an array this build does not use */
        if (tv.dtype != RZ_F32 || tv.count != (int64_t)t[k].n) {
            rc = rz_rec_fail(e, &c, "shape", "tensor '%s' has %lld %s values, the configuration needs %zu f32", tv.name,
                             (long long)tv.count, rz_dtype_name(tv.dtype), t[k].n);
            goto out;
        }
        memcpy(t[k].data, tv.data, t[k].n * sizeof(float));
        if (strcmp(tv.name, "counters") && strcmp(tv.name, "rng"))
            for (size_t i = 0; i < t[k].n; i++)
                if (!isfinite(t[k].data[i])) {
                    rc = rz_rec_fail(e, &c, "data", "tensor '%s' value %zu is not finite", tv.name, i);
                    goto out;
                }
        seen[k] = 1;
    }
    for (int k = 0; k <= nt; k++)
        if (!seen[k]) {
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s' is missing", path, k < nt ? t[k].name : "labels");
            goto out;
        }
    if (fb_obs_norm(a)) {
        int bad = rl_obsnorm_check(fb_obs_norm(a), env->obs_dim);
        if (bad >= 0) {
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor 'obs_norm' value %d: a %s must be finite%s", path, bad,
                         bad < env->obs_dim ? "mean" : "variance", bad < env->obs_dim ? "" : " and at least 0");
            goto out;
        }
    }
    fb_state_loaded(a);
out:
    rz_reader_close(r);
    free(t);
    free(seen);
    if (rc) {
        fb_destroy(a);
        a = NULL;
        free(*labels);
        *labels = NULL;
        if (have_env) rl_env_free(env);
        rz_env_id_free(&h->env);
    }
    *out = a;
    return rc;
}
