/* online.c — the online FB / FB-CPR loop and its checkpoints (see online.h). */
#include "online.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_io.h"
#include "cluster.h"
#include "obsnorm.h"
#include "record.h"

struct rl_online {
    const rl_env *env;
    fbcpr *c;
    fb_agent *fb;
    rl_expert *x;
    rl_online_config cfg;
    rl_replay rb;
    rz_rng rng;  /* training batches */
    rz_rng *erng; /* n_envs: environment i's stream (actions, noise, resets, z draws) */
    float *erng_img; /* n_envs × 8: their byte images for checkpoints */
    rl_env *wenv; /* n_wenv worker instances (wenv[0] is a clone too: env is borrowed) */
    int n_wenv;
    int *edone, *erc; /* n_envs: a round's terminal flags and step results */
    rz_err *eerr;     /* n_envs: a failed step's message */
    int64_t env_steps, n_updates;
    int N, L, od, sd, ad, D;
    float *cur, *curz, *tclock; /* n_envs × sd, n_envs × D, n_envs int64 byte images (2 floats each) */
    float counters[4], rng_img[8];
    float *O, *A, *O2, *Z, *EO, *EO2, *done, *obs, *act, *next, *gobs, *ze; /* act, next: n_envs rows */
    long *idx;
    float *zb;           /* z_buffer × D: training zs (RL_ROLLOUT_BUFFER; FIFO) */
    long zb_head, zb_size;
    float zb_meta[4];    /* head, size as int64 byte images (checkpoints) */
    int n_online_t;      /* online tensors listed before the replay's */
    int ranks;           /* environments spread over the MPI ranks (rl_online_set_ranks) */
    unsigned char *xbuf; /* n_envs × xrec bytes: a round's step results for the exchange */
    size_t xrec;
    fbcpr_stats last;
};

void rl_online_config_default(rl_online_config *c, const rl_env *env)
{
    c->n_envs = 4;
    c->buffer = 100000;
    c->seed_steps = 2000;
    c->update_every = 4;
    c->updates = 1;
    c->z_every = 50;
    c->episode_len = env->episode_len > 0 ? env->episode_len : 200;
    c->threads = 1;
    c->norm_momentum = RL_OBSNORM_MOMENTUM;
    c->rollout_z = RL_ROLLOUT_MIXTURE;
    c->z_buffer = 10000;
    c->fall = RL_FALL_END;
    c->init_expert = 0, c->init_fall = 0;
    c->fall_steps = 40;
}

int64_t rl_online_env_steps(const rl_online *o) { return o->env_steps; }
int64_t rl_online_updates(const rl_online *o) { return o->n_updates; }
const rl_replay *rl_online_replay(const rl_online *o) { return &o->rb; }
const fbcpr_stats *rl_online_last(const rl_online *o) { return &o->last; }
void rl_online_attach_expert(rl_online *o, rl_expert *x) { o->x = x; }
void rl_online_set_threads(rl_online *o, int threads) { o->cfg.threads = threads; }

static float *fb_(size_t n, int *fail, rz_err *e)
{
    float *p = rz_calloc(n ? n : 1, sizeof(float), e);
    if (!p) *fail = 1;
    return p;
}

/* Environment i's stream: seeded by a mix of the run seed and i (murmur3's finaliser, so
 * neighbouring indices give unrelated splitmix64 seeds, not shifted copies). */
static uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33, h *= 0xff51afd7ed558ccdULL, h ^= h >> 33, h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static int64_t clock_get(const rl_online *o, int i)
{
    int64_t t;
    memcpy(&t, o->tclock + 2 * i, sizeof t);
    return t;
}
static void clock_set(rl_online *o, int i, int64_t t) { memcpy(o->tclock + 2 * i, &t, sizeof t); }

int rl_online_create(const rl_env *env, fbcpr *c, rl_expert *x, const rl_online_config *oc, uint64_t seed,
                     rl_online **out, rz_err *e)
{
    *out = NULL;
    const fbcpr_config *cc = fbcpr_cfg(c);
    fb_agent *fb = fbcpr_fb(c);
    const fb_config *f = fb_cfg(fb);
    if (env->n_actions || f->obs_dim != env->obs_dim || f->act_dim != env->act_dim)
        return rz_fail(e, RZ_EINPUT, "online: agent (obs %d, act %d) does not fit environment %s (obs %d, act %d, %d discrete)",
                       f->obs_dim, f->act_dim, env->name, env->obs_dim, env->act_dim, env->n_actions);
    if (oc->n_envs < 1 || oc->n_envs > 4096 || oc->update_every < 1 || oc->updates < 0 || oc->z_every < 1 ||
        oc->episode_len < 1 || oc->seed_steps < 0 || oc->rollout_z < 0 || oc->rollout_z > 2 || oc->z_buffer < 1 ||
        oc->z_buffer > (1L << 24) || !(oc->norm_momentum >= 0 && oc->norm_momentum <= 1))
        return rz_fail(e, RZ_EINPUT,
                       "online: invalid loop (envs %d, update every %ld × %d, z every %d, episode %d, rollout z %d, z buffer %ld, "
                       "momentum %g)",
                       oc->n_envs, oc->update_every, oc->updates, oc->z_every, oc->episode_len, oc->rollout_z, oc->z_buffer,
                       oc->norm_momentum);
    /* The start-state rules (rz-agent online leaves them to this check: the messages name
     * its flags, which are these fields) */
    if (!(oc->init_expert >= 0 && oc->init_fall >= 0) || (oc->fall != RL_FALL_END && oc->fall != RL_FALL_CONTINUE) ||
        oc->fall_steps < 0 || oc->fall_steps > RL_FALL_STEPS_MAX)
        return rz_fail(e, RZ_EINPUT, "online: invalid start states (init expert %g, init fall %g, fall %d, fall steps %d)",
                       oc->init_expert, oc->init_fall, oc->fall, oc->fall_steps);
    if (!(oc->init_expert + oc->init_fall <= 1 + 1e-9))
        return rz_fail(e, RZ_EINPUT,
                       "online: invalid start states: --init-expert %g and --init-fall %g: expected a sum of at most 1 (the "
                       "rest: the default pose)",
                       oc->init_expert, oc->init_fall);
    if (oc->init_fall > 0 && oc->fall != RL_FALL_CONTINUE)
        return rz_fail(e, RZ_EINPUT,
                       "online: fallen starts: --init-fall %g needs --fall continue (under fall 'end' a fallen start ends its "
                       "episode at once; fall 'continue' keeps it)",
                       oc->init_fall);
    if (oc->init_fall > 0 && !rl_env_has_falls(env))
        return rz_fail(e, RZ_EINPUT, "online: fallen starts (--init-fall %g): environment %s has no falls", oc->init_fall,
                       env->name);
    if (oc->rollout_z == RL_ROLLOUT_BUFFER && (double)oc->z_buffer * f->zdim * sizeof(float) > RL_ZBUF_MAX_BYTES)
        return rz_fail(e, RZ_EINPUT, "online: a buffer of %ld rollout zs of %d floats needs more than %.0f GiB", oc->z_buffer,
                       f->zdim, RL_ZBUF_MAX_BYTES / 1073741824.0);
    if (cc->cpr && x && rl_expert_windows(x, cc->seq_length + 1) < 1)
        return rz_fail(e, RZ_EINPUT, "online: the expert data has no trajectory of %d states (seq_length + 1)",
                       cc->seq_length + 1);
    rl_online *o = rz_calloc(1, sizeof *o, e);
    if (!o) return RZ_EINTERNAL;
    o->env = env, o->c = c, o->fb = fb, o->x = x, o->cfg = *oc;
    o->N = f->batch, o->L = cc->seq_length, o->od = env->obs_dim, o->sd = env->state_dim, o->ad = env->act_dim, o->D = f->zdim;
    rz_rng_seed(&o->rng, seed);
    o->erng = rz_calloc((size_t)oc->n_envs, sizeof *o->erng, e);
    o->eerr = rz_calloc((size_t)oc->n_envs, sizeof *o->eerr, e);
    o->edone = rz_calloc((size_t)oc->n_envs, sizeof(int), e);
    o->erc = rz_calloc((size_t)oc->n_envs, sizeof(int), e);
    if (!o->erng || !o->eerr || !o->edone || !o->erc) {
        rl_online_free(o);
        return RZ_EINTERNAL;
    }
    for (int i = 0; i < oc->n_envs; i++) rz_rng_seed(&o->erng[i], fmix64(seed ^ fmix64((uint64_t)i + 1)));
    int rc = rl_replay_init(&o->rb, oc->buffer, o->sd, o->ad, o->D, e), fail = 0;
    if (rc) {
        rl_online_free(o);
        return rc;
    }
    int N = o->N, ne = oc->n_envs, L1 = o->L + 1;
    o->cur = fb_((size_t)ne * o->sd, &fail, e);
    o->curz = fb_((size_t)ne * o->D, &fail, e);
    o->tclock = fb_((size_t)ne * 2, &fail, e);
    o->O = fb_((size_t)N * o->od, &fail, e);
    o->A = fb_((size_t)N * o->ad, &fail, e);
    o->O2 = fb_((size_t)N * o->od, &fail, e);
    o->Z = fb_((size_t)N * o->D, &fail, e);
    o->EO = fb_((size_t)N * o->od, &fail, e);
    o->EO2 = fb_((size_t)N * o->od, &fail, e);
    o->done = fb_((size_t)N, &fail, e);
    o->obs = fb_((size_t)(L1 > ne ? L1 : ne) * o->od, &fail, e);
    o->act = fb_((size_t)ne * o->ad, &fail, e);
    o->next = fb_((size_t)ne * o->sd, &fail, e);
    o->erng_img = fb_((size_t)ne * 8, &fail, e);
    o->gobs = fb_((size_t)o->od, &fail, e);
    o->ze = fb_((size_t)L1 * o->D, &fail, e);
    o->idx = rz_calloc((size_t)N, sizeof(long), e);
    if (oc->rollout_z == RL_ROLLOUT_BUFFER) o->zb = fb_((size_t)oc->z_buffer * o->D, &fail, e);
    if (fail || !o->idx) {
        rl_online_free(o);
        return RZ_EINTERNAL;
    }
    *out = o;
    return RZ_OK;
}

void rl_online_free(rl_online *o)
{
    if (!o) return;
    rl_replay_free(&o->rb);
    float *b[] = {o->cur, o->curz, o->tclock, o->O, o->A, o->O2, o->Z, o->EO, o->EO2, o->done, o->obs, o->act, o->next, o->gobs, o->ze, o->erng_img, o->zb};
    for (size_t i = 0; i < sizeof b / sizeof *b; i++) free(b[i]);
    for (int k = 0; k < o->n_wenv; k++) rl_env_free(&o->wenv[k]);
    free(o->wenv), free(o->erng), free(o->eerr), free(o->edone), free(o->erc);
    free(o->idx);
    free(o->xbuf);
    free(o);
}

/* A rollout z for environment i by the rule rollout_z (see online.h). Goals and expert
 * windows are normalised as the update normalises them (a copy without norm_obs). */
void rl_online_rollout_z(rl_online *o, int i, float *z)
{
    int ng = 0, nz = 0, rule = o->cfg.rollout_z;
    rz_rng *g = &o->erng[i];
    if (rule == RL_ROLLOUT_BUFFER && o->zb_size > 0) {
        long j = (long)(rz_rng_uniform(g) * o->zb_size);
        memcpy(z, o->zb + (size_t)j * o->D, o->D * sizeof(float));
        return;
    }
    if (rule == RL_ROLLOUT_MIXTURE && o->rb.size > 0) {
        long j = (long)(rz_rng_uniform(g) * o->rb.size);
        rl_env_obs(o->env, o->rb.S2 + (size_t)j * o->sd, o->gobs);
        fb_norm_obs(o->fb, 1, o->gobs, o->gobs);
        ng = 1;
    }
    if (rule == RL_ROLLOUT_MIXTURE && fbcpr_cfg(o->c)->cpr && o->x) {
        long nw = rl_expert_windows(o->x, o->L);
        long s0 = rl_expert_window(o->x, o->L, (long)(rz_rng_uniform(g) * nw));
        for (int t = 0; t < o->L; t++) rl_env_obs(o->env, o->x->S + (size_t)(s0 + t) * o->sd, o->obs + (size_t)t * o->od);
        fb_norm_obs(o->fb, o->L, o->obs, o->obs);
        fbcpr_encode_expert(o->c, o->L, o->obs, o->ze);
        nz = 1;
    }
    /* no goal and no expert source: the sphere (fbcpr_sample_z_rng gives their shares to it) */
    fbcpr_sample_z_rng(o->c, g, 1, ng, o->gobs, nz, o->ze, z, NULL);
}

const float *rl_online_zbuf(const rl_online *o, long *size)
{
    *size = o->zb_size;
    return o->zb;
}

/* The update's N training zs into the FIFO, row by row (the oldest overwritten). */
static void zbuf_push(rl_online *o, const float *Z, int n)
{
    for (int r = 0; r < n; r++) {
        memcpy(o->zb + (size_t)o->zb_head * o->D, Z + (size_t)r * o->D, o->D * sizeof(float));
        o->zb_head = (o->zb_head + 1) % o->cfg.z_buffer;
        if (o->zb_size < o->cfg.z_buffer) o->zb_size++;
    }
}

static int workers(rl_online *o, int nt, rz_err *e);
static int ranks_agree(rl_online *o, rz_err *e);

static void new_z(rl_online *o, int i) { rl_online_rollout_z(o, i, o->curz + (size_t)i * o->D); }

/* The error of expert starts without expert data (rl_online_attach_expert): one message
 * for rl_online_run's check before its first step and rl_online_start_state's per draw. */
static int no_expert_data(const rl_online *o, rz_err *e)
{
    return rz_fail(e, RZ_EINPUT, "online: starts from the expert data (init expert %g) need expert data", o->cfg.init_expert);
}

int rl_online_start_state(rl_online *o, int i, float *state, rz_err *e)
{
    rz_rng *g = &o->erng[i];
    const rl_online_config *c = &o->cfg;
    int src = RL_INIT_DEFAULT;
    if (c->init_expert + c->init_fall > 0) {
        double u = rz_rng_uniform(g);
        src = u < c->init_expert ? RL_INIT_EXPERT : u < c->init_expert + c->init_fall ? RL_INIT_FALL : RL_INIT_DEFAULT;
    }
    if (src == RL_INIT_EXPERT) {
        if (!o->x || o->x->n < 1) {
            no_expert_data(o, e);
            return -1;
        }
        long k = (long)(rz_rng_uniform(g) * o->x->n);
        memcpy(state, o->x->S + (size_t)k * o->sd, o->sd * sizeof(float));
    } else if (src == RL_INIT_FALL) {
        /* the fall's simulation runs in a worker instance (the borrowed env is the caller's) */
        if (workers(o, 1, e) || rl_env_fall_start(&o->wenv[0], g, c->fall_steps, state, e)) return -1;
    } else {
        rl_env_reset(o->env, g, state);
    }
    return src;
}

static int reset_env(rl_online *o, int i, rz_err *e)
{
    if (rl_online_start_state(o, i, o->cur + (size_t)i * o->sd, e) < 0) {
        rz_wrap(e, "online: environment %d's reset", i);
        return e && e->code ? e->code : RZ_EINPUT;
    }
    clock_set(o, i, 0);
    new_z(o, i);
    return RZ_OK;
}

/* The training batch: N uniform replay rows, N/L expert windows of L + 1 states. */
void rl_online_draw_batch(rl_online *o, fbcpr_batch *b)
{
    const rl_env *env = o->env;
    int N = o->N, od = o->od, sd = o->sd, ad = o->ad, D = o->D, L = o->L;
    rl_replay_sample(&o->rb, &o->rng, N, o->idx);
    for (int i = 0; i < N; i++) {
        long j = o->idx[i];
        rl_env_obs(env, o->rb.S + (size_t)j * sd, o->O + (size_t)i * od);
        rl_env_obs(env, o->rb.S2 + (size_t)j * sd, o->O2 + (size_t)i * od);
        memcpy(o->A + (size_t)i * ad, o->rb.A + (size_t)j * ad, ad * sizeof(float));
        memcpy(o->Z + (size_t)i * D, o->rb.Z + (size_t)j * D, D * sizeof(float));
        o->done[i] = o->rb.done[j];
    }
    if (fbcpr_cfg(o->c)->cpr && o->x) {
        long nw = rl_expert_windows(o->x, L + 1);
        for (int w = 0; w < N / L; w++) {
            long s0 = rl_expert_window(o->x, L + 1, (long)(rz_rng_uniform(&o->rng) * nw));
            for (int t = 0; t < L; t++) {
                rl_env_obs(env, o->x->S + (size_t)(s0 + t) * sd, o->EO + (size_t)(w * L + t) * od);
                rl_env_obs(env, o->x->S + (size_t)(s0 + t + 1) * sd, o->EO2 + (size_t)(w * L + t) * od);
            }
        }
    }
    float *st = fb_obs_norm(o->fb);
    if (st) { /* the reference's order: statistics from O, then O2; then every input normalised */
        rl_obsnorm_update(st, od, N, o->O, o->cfg.norm_momentum);
        rl_obsnorm_update(st, od, N, o->O2, o->cfg.norm_momentum);
        float *rows[4] = {o->O, o->O2, o->EO, o->EO2};
        int nr = fbcpr_cfg(o->c)->cpr && o->x ? 4 : 2;
        for (int q = 0; q < nr; q++) rl_obsnorm_apply(st, od, N, rows[q], rows[q]);
    }
    *b = (fbcpr_batch){o->O, o->A, o->O2, o->Z, o->EO, o->EO2, o->done};
}

/* Worker instances of the environment for nt threads (MuJoCo keeps its simulator state
 * in the instance, so two threads never share one). */
static int workers(rl_online *o, int nt, rz_err *e)
{
    if (o->n_wenv >= nt) return RZ_OK;
    rl_env *w = realloc(o->wenv, (size_t)nt * sizeof *w);
    if (!w) return rz_fail(e, RZ_EINTERNAL, "out of memory");
    o->wenv = w;
    for (; o->n_wenv < nt; o->n_wenv++) {
        memset(&w[o->n_wenv], 0, sizeof *w);
        int rc = rl_env_clone(o->env, &w[o->n_wenv], e);
        if (rc) return rc;
    }
    return RZ_OK;
}

/* Environment i's step of a round (on any thread, touching only row i): its action —
 * uniform while k (its global step index) < seed_steps, else the batched policy action
 * plus clipped noise — and the next state and terminal flag, from its own stream. */
static void env_step(rl_online *o, const rl_env *w, int i, int64_t k)
{
    const fb_config *f = fb_cfg(o->fb);
    int ad = o->ad;
    float *a = o->act + (size_t)i * ad, *next = o->next + (size_t)i * o->sd;
    rz_rng *g = &o->erng[i];
    if (k < o->cfg.seed_steps) {
        for (int r = 0; r < ad; r++) a[r] = (float)(2 * rz_rng_uniform(g) - 1);
    } else {
        for (int r = 0; r < ad; r++) {
            float n = (float)(f->actor_noise * rz_rng_normal(g));
            n = n < -f->noise_clip ? -f->noise_clip : n > f->noise_clip ? f->noise_clip : n;
            float v = a[r] + n;
            a[r] = v < -1 ? -1 : v > 1 ? 1 : v;
        }
    }
    o->erc[i] = rl_env_step(w, o->cur + (size_t)i * o->sd, a, g, next, &o->eerr[i]);
    /* a terminal next state (the humanoid's fall) is stored as done: its targets do not
     * bootstrap; an episode cut by its length is not terminal, nor any state under
     * RL_FALL_CONTINUE (a fallen body stays in the episode) */
    o->edone[i] = o->erc[i] || o->cfg.fall == RL_FALL_CONTINUE ? 0 : rl_env_terminal(w, next);
}

int rl_online_set_ranks(rl_online *o, int on, rz_err *e)
{
    int P = rz_cluster_size();
    o->ranks = 0;
    if (!on || P <= 1) return RZ_OK;
    if (P > o->cfg.n_envs)
        return rz_fail(e, RZ_EINPUT, "online: %d MPI ranks but %d environments: each rank steps a block of at least one environment",
                       P, o->cfg.n_envs);
    /* one environment's step results: its action, next state, terminal flag, step status,
     * stream and (on a failed step) message */
    o->xrec = (size_t)(o->ad + o->sd) * sizeof(float) + 2 * sizeof(int) + sizeof(rz_rng) + sizeof(rz_err);
    if (!o->xbuf && !(o->xbuf = rz_calloc((size_t)o->cfg.n_envs, o->xrec, e))) return RZ_EINTERNAL;
    o->ranks = 1;
    return RZ_OK;
}

/* Environment i's step results to or from its exchange record. */
static void xrec_io(rl_online *o, int i, int to_buf)
{
    unsigned char *p = o->xbuf + (size_t)i * o->xrec;
    void *f[6] = {o->act + (size_t)i * o->ad, o->next + (size_t)i * o->sd, &o->edone[i], &o->erc[i], &o->erng[i], &o->eerr[i]};
    size_t n[6] = {o->ad * sizeof(float), o->sd * sizeof(float), sizeof(int), sizeof(int), sizeof(rz_rng), sizeof(rz_err)};
    for (int k = 0; k < 6; p += n[k], k++) {
        if (to_buf) memcpy(p, f[k], n[k]);
        else memcpy(f[k], p, n[k]);
    }
}

int rl_online_run(rl_online *o, int64_t until, void (*progress)(void *ctx, const rl_online *o), void *ctx, rz_err *e)
{
    const rl_env *env = o->env;
    int ne = o->cfg.n_envs, sd = o->sd, od = o->od, ad = o->ad, D = o->D, rc;
    /* this rank's environments: all of them, or its block under rl_online_set_ranks */
    long lo = 0, hi = ne;
    if (o->ranks) rz_cluster_block(ne, rz_cluster_rank(), rz_cluster_size(), &lo, &hi);
    int nb = (int)(hi - lo), nt = o->cfg.threads > 0 ? o->cfg.threads : omp_get_max_threads();
    nt = nt < nb ? nt : nb;
    nt = nt > 0 ? nt : 1;
    if (fbcpr_cfg(o->c)->cpr && !o->x) return rz_fail(e, RZ_EINPUT, "online: FB-CPR needs expert data");
    if ((rc = workers(o, nt, e))) return rc;
    if (o->cfg.init_expert > 0 && !o->x) return no_expert_data(o, e);
    if (o->env_steps == 0)
        for (int i = 0; i < ne; i++)
            if ((rc = reset_env(o, i, e))) return rc;
    while (o->env_steps < until) {
        int64_t before = o->env_steps;
        /* 1. one batched actor forward for every environment past the seed steps */
        if (before + ne > o->cfg.seed_steps) {
            for (int i = 0; i < ne; i++) rl_env_obs(env, o->cur + (size_t)i * sd, o->obs + (size_t)i * od);
            if ((rc = fb_act_rows(o->fb, ne, o->obs, o->curz, o->act, e))) return rc;
        }
        /* 2. the environments step on the workers; each touches only its own rows and
         * stream, so the bits do not depend on the thread count or schedule */
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int i = (int)lo; i < (int)hi; i++) env_step(o, &o->wenv[omp_get_thread_num()], i, before + i);
        /* 2b. under MPI ranks: every rank stepped its block; the results are exchanged
         * in environment order, so every rank continues with every environment's row
         * (and stream) exactly as one process would have them */
        if (o->ranks) {
            for (int i = (int)lo; i < (int)hi; i++) xrec_io(o, i, 1);
            if ((rc = rz_cluster_allgather_block(o->xbuf, ne, o->xrec, e))) return rc;
            for (int i = 0; i < ne; i++) xrec_io(o, i, 0);
        }
        /* 3. in environment order: replay pushes, episode clocks, resets and z redraws */
        for (int i = 0; i < ne; i++)
            if (o->erc[i]) {
                if (e) *e = o->eerr[i];
                rz_wrap(e, "online: environment %d", i);
                return o->erc[i];
            }
        for (int i = 0; i < ne; i++) {
            float *s = o->cur + (size_t)i * sd;
            rl_replay_push(&o->rb, s, o->act + (size_t)i * ad, o->next + (size_t)i * sd, o->curz + (size_t)i * D, o->edone[i]);
            memcpy(s, o->next + (size_t)i * sd, sd * sizeof(float));
            int64_t t = clock_get(o, i) + 1;
            clock_set(o, i, t);
            o->env_steps++;
            /* an episode ends at its length or at a terminal state (the humanoid's fall) */
            if (t >= o->cfg.episode_len || o->edone[i]) {
                if ((rc = reset_env(o, i, e))) return rc;
            } else if (t % o->cfg.z_every == 0) new_z(o, i);
        }
        int64_t rounds = o->env_steps / o->cfg.update_every - before / o->cfg.update_every;
        if (o->env_steps < o->cfg.seed_steps || o->rb.size < o->N) continue;
        for (int64_t r = 0; r < rounds * o->cfg.updates; r++) {
            fbcpr_batch b;
            rl_online_draw_batch(o, &b);
            if ((rc = fbcpr_update(o->c, &b, &o->last, e))) return rc;
            if (o->zb) zbuf_push(o, fbcpr_batch_z(o->c), o->N);
            o->n_updates++;
        }
        if (rounds && progress) progress(ctx, o);
    }
    return o->ranks ? ranks_agree(o, e) : RZ_OK;
}

/* ---- checkpoints ------------------------------------------------------------------------ */
void rl_online_header(const rl_online *o, rz_online_header *h)
{
    const fbcpr_config *c = fbcpr_cfg(o->c);
    memset(h, 0, sizeof *h);
    h->cpr = c->cpr, h->seq_length = c->seq_length, h->scale_reg = c->scale_reg;
    h->disc_hidden = c->disc_hidden, h->disc_layers = c->disc_layers;
    h->goal_ratio = c->goal_ratio, h->expert_ratio = c->expert_ratio, h->reg_coeff = c->reg_coeff;
    h->grad_penalty = c->grad_penalty, h->lr_disc = c->lr_disc, h->lr_critic = c->lr_critic, h->critic_tau = c->critic_tau;
    h->n_envs = o->cfg.n_envs, h->updates = o->cfg.updates, h->z_every = o->cfg.z_every;
    h->buffer = o->cfg.buffer, h->seed_steps = o->cfg.seed_steps, h->update_every = o->cfg.update_every;
    h->episode_len = o->cfg.episode_len, h->env_steps = o->env_steps;
    h->norm_momentum = o->cfg.norm_momentum, h->rollout_z = o->cfg.rollout_z, h->z_buffer = o->cfg.z_buffer;
    h->fall = o->cfg.fall, h->init_expert = o->cfg.init_expert, h->init_fall = o->cfg.init_fall;
    h->fall_steps = o->cfg.fall_steps;
}

void rl_online_from_header(const rz_online_header *h, fbcpr_config *c, rl_online_config *oc)
{
    fbcpr_config_default(c);
    c->cpr = h->cpr, c->seq_length = h->seq_length, c->scale_reg = h->scale_reg;
    c->disc_hidden = h->disc_hidden, c->disc_layers = h->disc_layers;
    c->goal_ratio = (float)h->goal_ratio, c->expert_ratio = (float)h->expert_ratio, c->reg_coeff = (float)h->reg_coeff;
    c->grad_penalty = (float)h->grad_penalty, c->lr_disc = (float)h->lr_disc, c->lr_critic = (float)h->lr_critic;
    c->critic_tau = (float)h->critic_tau;
    oc->n_envs = h->n_envs, oc->updates = h->updates, oc->z_every = h->z_every, oc->buffer = (long)h->buffer;
    oc->seed_steps = (long)h->seed_steps, oc->update_every = (long)h->update_every, oc->episode_len = (int)h->episode_len;
    oc->threads = 1;
    oc->norm_momentum = h->norm_momentum, oc->rollout_z = h->rollout_z, oc->z_buffer = (long)h->z_buffer;
    oc->fall = h->fall, oc->init_expert = h->init_expert, oc->init_fall = h->init_fall, oc->fall_steps = (int)h->fall_steps;
}

/* The online tensors: environment states, zs, clocks, counters, RNGs, and with
 * RL_ROLLOUT_BUFFER the FIFO of training zs (its meta first: the rows' count follows it). */
#define ONLINE_T 8
static int online_tensors(rl_online *o, fb_tensor *t)
{
    int ne = o->cfg.n_envs, k = 0;
    int64_t cnt[2] = {o->env_steps, o->n_updates};
    memcpy(o->counters, cnt, sizeof cnt);
    memcpy(o->rng_img, o->rng.s, sizeof o->rng.s);
    for (int i = 0; i < ne; i++) memcpy(o->erng_img + (size_t)i * 8, o->erng[i].s, sizeof o->erng[i].s);
    const char *nm[ONLINE_T] = {"online.cur", "online.z", "online.clock", "online.counters", "online.rng", "online.env_rng"};
    float *d[ONLINE_T] = {o->cur, o->curz, o->tclock, o->counters, o->rng_img, o->erng_img};
    size_t n[ONLINE_T] = {(size_t)ne * o->sd, (size_t)ne * o->D, (size_t)ne * 2, 4, 8, (size_t)ne * 8};
    while (k < 6) k = fb_tensor_add(t, k, nm[k], d[k], n[k]);
    if (o->zb) {
        int64_t m[2] = {o->zb_head, o->zb_size};
        memcpy(o->zb_meta, m, sizeof m);
        k = fb_tensor_add(t, k, "online.zbuf_meta", o->zb_meta, 4);
        k = fb_tensor_add(t, k, "online.zbuf", o->zb, (size_t)o->zb_size * o->D);
    }
    return o->n_online_t = k;
}

static void online_loaded(rl_online *o)
{
    int64_t cnt[2];
    memcpy(cnt, o->counters, sizeof cnt);
    o->env_steps = cnt[0], o->n_updates = cnt[1];
    memcpy(o->rng.s, o->rng_img, sizeof o->rng.s);
    for (int i = 0; i < o->cfg.n_envs; i++) memcpy(o->erng[i].s, o->erng_img + (size_t)i * 8, sizeof o->erng[i].s);
    if (o->zb) {
        int64_t m[2];
        memcpy(m, o->zb_meta, sizeof m);
        o->zb_head = (long)m[0], o->zb_size = (long)m[1];
    }
}

/* Every tensor of the run's state: the agent's (*tf, free it), FB-CPR's (*tc, free it),
 * the online and replay tensors (to: ONLINE_T + 6 slots). */
static int state_tensors(rl_online *o, fb_tensor **tf, int *nf, fb_tensor **tc, int *nc, fb_tensor *to, int *no, rz_err *e)
{
    int rc;
    *tf = NULL, *tc = NULL;
    if ((rc = fb_state(o->fb, tf, nf, e))) return rc;
    if ((rc = fbcpr_state(o->c, tc, nc, e))) {
        free(*tf);
        *tf = NULL;
        return rc;
    }
    *no = online_tensors(o, to);
    *no += rl_replay_tensors(&o->rb, to + *no);
    return RZ_OK;
}

int rl_online_digest(rl_online *o, uint64_t *digest, rz_err *e)
{
    fb_tensor *tf, *tc, to[ONLINE_T + 6];
    int nf, nc, no, rc = state_tensors(o, &tf, &nf, &tc, &nc, to, &no, e);
    if (rc) return rc;
    uint64_t h = RZ_CHECKSUM_INIT;
    fb_tensor *lists[3] = {tf, tc, to};
    int counts[3] = {nf, nc, no};
    for (int q = 0; q < 3; q++)
        for (int k = 0; k < counts[q]; k++) {
            h = rz_checksum(h, lists[q][k].name, strlen(lists[q][k].name));
            h = rz_checksum(h, lists[q][k].data, lists[q][k].n * sizeof(float));
        }
    free(tf), free(tc);
    *digest = h;
    return RZ_OK;
}

/* Under ranks: every rank's state digest must equal rank 0's (the replicated update gave
 * the same bits everywhere), else RZ_EINTERNAL naming the ranks. */
static int ranks_agree(rl_online *o, rz_err *e)
{
    uint64_t d;
    int rc = rl_online_digest(o, &d, e);
    char item[96];
    const char *items[1] = {item};
    snprintf(item, sizeof item, "state digest %016llx", (unsigned long long)d);
    if (rc || !rz_cluster_agree(items, 1, e)) return rc; /* a failed digest: every rank fails alike (out of memory aside) */
    char why[sizeof e->msg];
    snprintf(why, sizeof why, "%s", e ? e->msg : "");
    return rz_fail(e, RZ_EINTERNAL,
                   "online: the ranks' copies of the run differ after %lld environment steps (%s): the replicated update "
                   "needs the same bits on every rank (same BLAS library, core type and thread count)",
                   (long long)o->env_steps, why);
}

int rl_online_save(rl_online *o, const char *path, const rz_stream_opts *so, rz_agent_header *h, int n_labels,
                   const char *expert_path, rz_err *e)
{
    fb_tensor *tf = NULL, *tc = NULL, to[ONLINE_T + 6]; /* online + 6 replay */
    int nf, nc, no, rc;
    if ((rc = state_tensors(o, &tf, &nf, &tc, &nc, to, &no, e))) return rc;
    long nl = o->rb.size < n_labels ? o->rb.size : n_labels;
    float *labels = rz_malloc((size_t)(nl ? nl : 1) * o->sd * sizeof(float), e);
    rz_writer *w = NULL;
    if (!labels) {
        rc = RZ_EINTERNAL;
        goto out;
    }
    for (long i = 0; i < nl; i++) /* evenly spaced rows: no RNG, so saving never changes the run */
        memcpy(labels + (size_t)i * o->sd, o->rb.S2 + (size_t)(i * o->rb.size / nl) * o->sd, o->sd * sizeof(float));
    ag_config_to_header(fb_cfg(o->fb), h);
    h->steps_done = fb_steps(o->fb);
    h->data_steps = o->env_steps;
    snprintf(h->data_policy, sizeof h->data_policy, "%s", fbcpr_cfg(o->c)->cpr ? "online-fbcpr" : "online-fb");
    rz_online_header oh;
    rl_online_header(o, &oh);
    snprintf(oh.expert, sizeof oh.expert, "%s", expert_path ? expert_path : "");
    if ((rc = rz_writer_open(path, so, &w, e))) goto out;
    rz_agent_header_pack(rz_writer_packer(w), h);
    if ((rc = rz_writer_emit(w, e))) goto fail;
    rz_online_header_pack(rz_writer_packer(w), &oh);
    if ((rc = rz_writer_emit(w, e))) goto fail;
    fb_tensor *lists[3] = {tf, tc, to};
    int counts[3] = {nf, nc, no};
    for (int q = 0; q < 3; q++)
        for (int k = 0; k < counts[q]; k++) {
            if (lists[q][k].n == 0) continue; /* an empty buffer's arrays */
            int64_t shape[1] = {(int64_t)lists[q][k].n};
            rz_tensor_pack(rz_writer_packer(w), lists[q][k].name, RZ_F32, 1, shape, lists[q][k].data);
            if ((rc = rz_writer_emit(w, e))) goto fail;
        }
    if (nl) {
        int64_t shape[2] = {nl, o->sd};
        rz_tensor_pack(rz_writer_packer(w), "labels", RZ_F32, 2, shape, labels);
        if ((rc = rz_writer_emit(w, e))) goto fail;
    }
    rc = rz_writer_close(w, e);
    goto out;
fail:
    rz_writer_abort(w, e);
out:
    free(labels), free(tf), free(tc);
    return rc;
}

int rl_online_load(const char *path, const rz_stream_opts *so, rz_agent_header *h, rz_online_header *oh,
                   fb_agent **fbp, fbcpr **cp, rl_online **op, rl_env *env, rz_err *e)
{
    *fbp = NULL, *cp = NULL, *op = NULL;
    int n_labels = 0, rc;
    float *labels = NULL;
    if ((rc = ag_agent_read(path, so, h, fbp, env, &n_labels, &labels, e))) return rc;
    free(labels);
    rz_reader *r = NULL;
    fb_tensor *tc = NULL, to[ONLINE_T + 6];
    unsigned char seen[40] = {0};
    int nc = 0, no = 0, have_oh = 0;
    if ((rc = rz_reader_open(path, so, &r, e))) goto out;
    const msgpack_object *rec;
    rz_rec_ctx c;
    for (;;) {
        if ((rc = rz_reader_next(r, &rec, &c, e))) goto out;
        if (!rec) break;
        if (rz_rec_type_is(&c, "agent_online")) {
            if ((rc = rz_online_header_decode(rec, &c, oh, e))) goto out;
            fbcpr_config cc;
            rl_online_config oc;
            rl_online_from_header(oh, &cc, &oc);
            if ((rc = fbcpr_create(*fbp, &cc, 0, cp, e)) || (rc = rl_online_create(env, *cp, NULL, &oc, 0, op, e))) {
                rz_wrap(e, "%s: record %ld (agent_online)", path, c.index);
                goto out;
            }
            if ((rc = fbcpr_state(*cp, &tc, &nc, e))) goto out;
            no = online_tensors(*op, to);
            no += rl_replay_tensors(&(*op)->rb, to + no);
            have_oh = 1;
            continue;
        }
        if (!rz_rec_type_is(&c, "tensor") || !have_oh) continue;
        rz_tensor_view tv;
        if ((rc = rz_tensor_decode(rec, &c, &tv, e))) goto out;
        fb_tensor *t = NULL;
        int slot = -1;
        for (int k = 0; k < nc && !t; k++)
            if (!strcmp(tc[k].name, tv.name)) t = &tc[k], slot = k;
        for (int k = 0; k < no && !t; k++)
            if (!strcmp(to[k].name, tv.name)) t = &to[k], slot = nc + k;
        if (!t) continue;
        if (!strcmp(tv.name, "replay.meta") && tv.count == 4 && tv.dtype == RZ_F32) {
            /* the saved size fixes the other replay arrays' lengths; checked fully below */
            int64_t m[2];
            memcpy(m, tv.data, sizeof m);
            if (m[1] < 0 || m[1] > (*op)->rb.cap) {
                rc = rz_rec_fail(e, &c, "data", "replay.meta: size %lld outside the buffer's capacity %ld", (long long)m[1],
                                 (*op)->rb.cap);
                goto out;
            }
            (*op)->rb.size = (long)m[1];
            rl_replay_tensors(&(*op)->rb, to + (*op)->n_online_t); /* the online tensors come first */
        }
        if (!strcmp(tv.name, "online.zbuf_meta") && tv.count == 4 && tv.dtype == RZ_F32) {
            /* the saved size fixes online.zbuf's length */
            int64_t m[2];
            memcpy(m, tv.data, sizeof m);
            if (m[1] < 0 || m[1] > (*op)->cfg.z_buffer || m[0] < 0 || m[0] >= (*op)->cfg.z_buffer ||
                (m[1] < (*op)->cfg.z_buffer && m[0] != m[1])) {
                rc = rz_rec_fail(e, &c, "data", "online.zbuf_meta: head %lld, size %lld do not fit a FIFO of %ld zs", (long long)m[0],
                                 (long long)m[1], (*op)->cfg.z_buffer);
                goto out;
            }
            (*op)->zb_size = (long)m[1];
            for (int k = 0; k < no; k++)
                if (!strcmp(to[k].name, "online.zbuf")) to[k].n = (size_t)m[1] * (*op)->D;
        }
        if (tv.dtype != RZ_F32 || tv.count != (int64_t)t->n) {
            rc = rz_rec_fail(e, &c, "shape", "tensor '%s' has %lld values, expected %zu f32", tv.name, (long long)tv.count, t->n);
            goto out;
        }
        memcpy(t->data, tv.data, t->n * sizeof(float));
        int bytes = strstr(tv.name, "counters") || strstr(tv.name, "rng") || strstr(tv.name, "clock") || strstr(tv.name, "meta");
        for (size_t q = 0; q < t->n && !bytes; q++)
            if (!isfinite(t->data[q])) {
                rc = rz_rec_fail(e, &c, "data", "tensor '%s' value %zu is not finite", tv.name, q);
                goto out;
            }
        seen[slot] = 1;
    }
    if (!have_oh) {
        rc = rz_fail(e, RZ_EINPUT, "%s: no agent_online record: not a checkpoint of online training", path);
        goto out;
    }
    for (int k = 0; k < nc + no; k++) {
        fb_tensor *t = k < nc ? &tc[k] : &to[k - nc];
        if (!seen[k] && t->n) {
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s' is missing", path, t->name);
            goto out;
        }
    }
    fbcpr_state_loaded(*cp);
    online_loaded(*op);
    if ((rc = rl_replay_loaded(&(*op)->rb, env, path, e))) goto out;
    for (int i = 0; i < (*op)->cfg.n_envs; i++)
        if (!rl_env_check_state(env, (*op)->cur + (size_t)i * (*op)->sd) || clock_get(*op, i) < 0 ||
            clock_get(*op, i) >= (*op)->cfg.episode_len) {
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor 'online.cur'/'online.clock': environment %d's state or clock is not valid", path, i);
            goto out;
        }
out:
    if (r) rz_reader_close(r);
    free(tc);
    if (rc) {
        rl_online_free(*op), fbcpr_destroy(*cp), fb_destroy(*fbp);
        *op = NULL, *cp = NULL, *fbp = NULL;
        rl_env_free(env);
        rz_env_id_free(&h->env);
    }
    return rc;
}
