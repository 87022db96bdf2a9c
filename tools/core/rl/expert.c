/* expert.c — unlabelled expert trajectories as record streams (see expert.h). */
#include "expert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_io.h"

int rl_expert_init(rl_expert *x, const rl_env *env, const char *source, int64_t seed, rz_err *e)
{
    memset(x, 0, sizeof *x);
    int rc = ag_env_id(env, &x->h.env, e);
    if (rc) return rc;
    x->h.state_dim = env->state_dim;
    snprintf(x->h.source, sizeof x->h.source, "%s", source ? source : "");
    x->h.seed = seed;
    x->start = rz_calloc(1, sizeof(long), e);
    return x->start ? RZ_OK : RZ_EINTERNAL;
}

int rl_expert_add(rl_expert *x, const char *name, int n, const float *S, rz_err *e)
{
    int sd = x->h.state_dim;
    if (n < 1 || n > RZ_AGENT_MAX_STEPS)
        return rz_fail(e, RZ_EINPUT, "expert trajectory '%s': %d states, expected 1 … %d", name, n, RZ_AGENT_MAX_STEPS);
    long *st = realloc(x->start, (size_t)(x->n_traj + 2) * sizeof(long));
    if (!st) return rz_fail(e, RZ_EINTERNAL, "out of memory");
    x->start = st;
    char(*nm)[64] = realloc(x->name, (size_t)(x->n_traj + 1) * sizeof *nm);
    if (!nm) return rz_fail(e, RZ_EINTERNAL, "out of memory");
    x->name = nm;
    float *S2 = realloc(x->S, (size_t)(x->n + n) * sd * sizeof(float));
    if (!S2) return rz_fail(e, RZ_EINTERNAL, "out of memory");
    x->S = S2;
    memcpy(x->S + (size_t)x->n * sd, S, (size_t)n * sd * sizeof(float));
    snprintf(x->name[x->n_traj], 64, "%s", name ? name : "");
    x->n += n;
    x->start[++x->n_traj] = x->n;
    x->h.trajectories = x->n_traj;
    x->h.steps = x->n;
    x->wL = 0;
    return RZ_OK;
}

void rl_expert_free(rl_expert *x)
{
    free(x->start), free(x->name), free(x->S), free(x->wcum);
    rz_env_id_free(&x->h.env);
    memset(x, 0, sizeof *x);
}

int rl_expert_write(const char *path, const rz_stream_opts *o, const rl_expert *x, rz_err *e)
{
    rz_writer *w;
    int rc = rz_writer_open(path, o, &w, e);
    if (rc) return rc;
    rz_expert_header_pack(rz_writer_packer(w), &x->h);
    if ((rc = rz_writer_emit(w, e))) goto fail;
    for (int k = 0; k < x->n_traj; k++) {
        rz_traj_pack(rz_writer_packer(w), x->name[k], (int)(x->start[k + 1] - x->start[k]), x->h.state_dim,
                     x->S + (size_t)x->start[k] * x->h.state_dim);
        if ((rc = rz_writer_emit(w, e))) goto fail;
    }
    return rz_writer_close(w, e);
fail:
    rz_writer_abort(w, e);
    return rc;
}

int rl_expert_read(const char *path, const rz_stream_opts *o, const rl_env *want_env, rl_expert *x, rl_env *env,
                   rz_err *e)
{
    memset(x, 0, sizeof *x);
    memset(env, 0, sizeof *env);
    rz_reader *r;
    int rc = rz_reader_open(path, o, &r, e), have_env = 0;
    if (rc) return rc;
    const msgpack_object *rec;
    rz_rec_ctx c;
    float *buf = NULL;
    if ((rc = rz_reader_first(r, "agent_expert", "an expert stream", &rec, &c, e))) goto out;
    rz_expert_header h;
    if ((rc = rz_expert_header_decode(rec, &c, &h, e))) {
        rz_env_id_free(&h.env);
        goto out;
    }
    rc = ag_env_from_id(&h.env, env, e);
    if (rc) {
        rz_env_id_free(&h.env);
        rz_wrap(e, "%s: record 0 (agent_expert)", path);
        goto out;
    }
    have_env = 1;
    if (want_env) {
        rz_env_id want;
        if ((rc = ag_env_id(want_env, &want, e))) {
            rz_env_id_free(&h.env);
            goto out;
        }
        rc = rz_env_id_same(&want, &h.env, path, e);
        rz_env_id_free(&want);
        if (rc) {
            rz_env_id_free(&h.env);
            goto out;
        }
    }
    if (h.state_dim != env->state_dim) {
        rc = rz_rec_fail(e, &c, "state_dim", "%d, but environment %s has states of %d floats", h.state_dim, env->name,
                         env->state_dim);
        rz_env_id_free(&h.env);
        goto out;
    }
    if ((rc = rl_expert_init(x, env, h.source, h.seed, e))) {
        rz_env_id_free(&h.env);
        goto out;
    }
    rz_env_id_free(&h.env);
    int sd = env->state_dim;
    buf = rz_malloc((size_t)RZ_AGENT_MAX_STEPS * sd * sizeof(float), e);
    if (!buf) {
        rc = RZ_EINTERNAL;
        goto out;
    }
    for (;;) {
        if ((rc = rz_reader_next(r, &rec, &c, e))) goto out;
        if (!rec) break;
        if (!rz_rec_type_is(&c, "agent_traj")) continue; /* unknown record types are skipped */
        int64_t m;
        char name[64];
        if ((rc = rz_traj_count(rec, &c, &m, e))) goto out;
        if (x->n_traj >= h.trajectories || x->n + m > h.steps) {
            rc = rz_rec_fail(e, &c, "n", "more trajectories or states than the header's trajectories = %lld, steps = %lld",
                             (long long)h.trajectories, (long long)h.steps);
            goto out;
        }
        if ((rc = rz_traj_decode(rec, &c, sd, name, sizeof name, buf, e))) goto out;
        for (int64_t i = 0; i < m; i++)
            if (!rl_env_check_state(env, buf + (size_t)i * sd)) {
                rc = rz_rec_fail(e, &c, "s", "state %lld (%g, %g, …) is not valid in environment %s", (long long)i,
                                 buf[(size_t)i * sd], sd > 1 ? buf[(size_t)i * sd + 1] : 0.0f, env->name);
                goto out;
            }
        if ((rc = rl_expert_add(x, name, (int)m, buf, e))) goto out;
    }
    if (x->n_traj != h.trajectories || x->n != h.steps)
        rc = rz_fail(e, RZ_EINPUT, "%s: %d trajectories of %ld states, but the header says trajectories = %lld, steps = %lld",
                     path, x->n_traj, x->n, (long long)h.trajectories, (long long)h.steps);
out:
    free(buf);
    rz_reader_close(r);
    if (rc) {
        rl_expert_free(x);
        if (have_env) rl_env_free(env);
    }
    return rc;
}

long rl_expert_windows(rl_expert *x, int L)
{
    if (L < 1) return 0;
    if (x->wL != L || !x->wcum) {
        long *w = realloc(x->wcum, (size_t)(x->n_traj + 1) * sizeof(long));
        if (!w) return -1;
        x->wcum = w;
        w[0] = 0;
        for (int k = 0; k < x->n_traj; k++) {
            long len = x->start[k + 1] - x->start[k];
            w[k + 1] = w[k] + (len >= L ? len - L + 1 : 0);
        }
        x->wL = L;
    }
    return x->wcum[x->n_traj];
}

long rl_expert_window(rl_expert *x, int L, long q)
{
    if (rl_expert_windows(x, L) <= q || q < 0) return -1;
    int lo = 0, hi = x->n_traj - 1; /* the trajectory k with wcum[k] ≤ q < wcum[k+1] */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (x->wcum[mid] <= q) lo = mid;
        else hi = mid - 1;
    }
    return x->start[lo] + (q - x->wcum[lo]);
}
