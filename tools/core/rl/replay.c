/* replay.c — the bounded FIFO replay buffer (see replay.h). */
#include "replay.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rl_replay_init(rl_replay *r, long cap, int sd, int ad, int zd, rz_err *e)
{
    memset(r, 0, sizeof *r);
    if (cap < 1 || cap > (1L << 26))
        return rz_fail(e, RZ_EINPUT, "replay buffer of %ld transitions: expected 1 … %ld", cap, 1L << 26);
    double bytes = (double)cap * (2.0 * sd + ad + zd + 1) * sizeof(float);
    if (bytes > RL_REPLAY_MAX_BYTES)
        return rz_fail(e, RZ_EINPUT, "replay buffer of %ld transitions needs %.1f GiB: expected at most %.0f GiB", cap,
                       bytes / 1073741824.0, RL_REPLAY_MAX_BYTES / 1073741824.0);
    r->cap = cap, r->sd = sd, r->ad = ad, r->zd = zd;
    r->S = rz_malloc((size_t)cap * sd * sizeof(float), e);
    r->A = rz_malloc((size_t)cap * ad * sizeof(float), e);
    r->S2 = rz_malloc((size_t)cap * sd * sizeof(float), e);
    r->Z = rz_malloc((size_t)cap * zd * sizeof(float), e);
    r->done = rz_malloc((size_t)cap * sizeof(float), e);
    if (!r->S || !r->A || !r->S2 || !r->Z || !r->done) {
        rl_replay_free(r);
        return RZ_EINTERNAL;
    }
    return RZ_OK;
}

void rl_replay_free(rl_replay *r)
{
    free(r->S), free(r->A), free(r->S2), free(r->Z), free(r->done);
    memset(r, 0, sizeof *r);
}

void rl_replay_push(rl_replay *r, const float *s, const float *a, const float *s2, const float *z, int done)
{
    long h = r->head;
    memcpy(r->S + (size_t)h * r->sd, s, r->sd * sizeof(float));
    memcpy(r->A + (size_t)h * r->ad, a, r->ad * sizeof(float));
    memcpy(r->S2 + (size_t)h * r->sd, s2, r->sd * sizeof(float));
    memcpy(r->Z + (size_t)h * r->zd, z, r->zd * sizeof(float));
    r->done[h] = done ? 1.0f : 0.0f;
    r->head = (h + 1) % r->cap;
    if (r->size < r->cap) r->size++;
}

void rl_replay_sample(const rl_replay *r, rz_rng *rng, int n, long *idx)
{
    for (int i = 0; i < n; i++) idx[i] = (long)(rz_rng_uniform(rng) * r->size);
}

static void put(fb_tensor *t, const char *name, float *data, size_t n)
{
    snprintf(t->name, sizeof t->name, "%s", name);
    t->data = data;
    t->n = n;
}

int rl_replay_tensors(rl_replay *r, fb_tensor *t)
{
    int64_t m[2] = {r->head, r->size};
    memcpy(r->meta, m, sizeof m);
    put(&t[0], "replay.meta", r->meta, 4);
    put(&t[1], "replay.S", r->S, (size_t)r->size * r->sd);
    put(&t[2], "replay.A", r->A, (size_t)r->size * r->ad);
    put(&t[3], "replay.S2", r->S2, (size_t)r->size * r->sd);
    put(&t[4], "replay.Z", r->Z, (size_t)r->size * r->zd);
    put(&t[5], "replay.done", r->done, (size_t)r->size);
    return 6;
}

int rl_replay_loaded(rl_replay *r, const rl_env *env, const char *what, rz_err *e)
{
    int64_t m[2];
    memcpy(m, r->meta, sizeof m);
    if (m[1] < 0 || m[1] > r->cap || m[0] < 0 || m[0] >= r->cap || (m[1] < r->cap && m[0] != m[1]))
        return rz_fail(e, RZ_EINPUT, "%s: tensor 'replay.meta': head %lld, size %lld are not a buffer of capacity %ld", what,
                       (long long)m[0], (long long)m[1], r->cap);
    r->head = (long)m[0], r->size = (long)m[1];
    for (long i = 0; i < r->size; i++) {
        const float *z = r->Z + (size_t)i * r->zd;
        int zok = 1;
        for (int q = 0; q < r->zd; q++) zok &= isfinite(z[q]) != 0;
        const char *bad = !rl_env_check_state(env, r->S + (size_t)i * r->sd)    ? "replay.S"
                          : !rl_env_check_action(env, r->A + (size_t)i * r->ad) ? "replay.A"
                          : !rl_env_check_state(env, r->S2 + (size_t)i * r->sd) ? "replay.S2"
                          : !zok                                                ? "replay.Z"
                          : r->done[i] != 0.0f && r->done[i] != 1.0f            ? "replay.done"
                                                                                : NULL;
        if (bad) return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': row %ld is not valid in environment %s", what, bad, i, env->name);
    }
    return RZ_OK;
}
