/* agent.c — packing and validated decoding of rz-agent's records (see agent.md).
 * Payload floats are f32 little-endian in bin fields, copied out with memcpy (a bin
 * inside a msgpack buffer may be unaligned). Every decoded number is range-checked and
 * every float checked finite, with messages naming the record and field. */
#include "agent.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int check_version(const msgpack_object *rec, const rz_rec_ctx *c, int64_t want, rz_err *e)
{
    int64_t v;
    if (rz_get_int(rec, c, "v", 1, INT32_MAX, &v, e)) return RZ_EINPUT;
    if (v != want) return rz_rec_fail(e, c, "v", "version %lld is not supported (this build reads %lld)", (long long)v, (long long)want);
    return RZ_OK;
}

#define ENV_ID_FIELDS 3 /* env, map, slip */
static void env_id_pack(msgpack_packer *pk, const rz_env_id *id)
{
    rz_rec_str(pk, "env", id->env);
    rz_rec_str(pk, "map", id->map ? id->map : "");
    rz_rec_f64(pk, "slip", id->slip);
}

static int env_id_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_env_id *id, rz_err *e)
{
    memset(id, 0, sizeof *id);
    if (rz_get_str(rec, c, "env", id->env, sizeof id->env, e)) return RZ_EINPUT;
    id->map = malloc(RZ_AGENT_MAX_MAP + 1);
    if (!id->map) return rz_fail(e, RZ_EINTERNAL, "out of memory");
    if (rz_get_str(rec, c, "map", id->map, RZ_AGENT_MAX_MAP + 1, e)) return RZ_EINPUT;
    if (rz_get_f64(rec, c, "slip", &id->slip, e)) return RZ_EINPUT;
    if (!(id->slip >= 0 && id->slip <= 1)) return rz_rec_fail(e, c, "slip", "%g is not a probability in [0, 1]", id->slip);
    return RZ_OK;
}

void rz_env_id_free(rz_env_id *id)
{
    free(id->map);
    id->map = NULL;
}

int rz_env_id_same(const rz_env_id *a, const rz_env_id *b, const char *what, rz_err *e)
{
    if (strcmp(a->env, b->env) != 0)
        return rz_fail(e, RZ_EINPUT, "%s: environment '%s' does not match '%s'", what, b->env, a->env);
    if (strcmp(a->map ? a->map : "", b->map ? b->map : "") != 0)
        return rz_fail(e, RZ_EINPUT, "%s: environment '%s' has a different map", what, b->env);
    if (a->slip != b->slip)
        return rz_fail(e, RZ_EINPUT, "%s: slip %g does not match %g", what, b->slip, a->slip);
    return RZ_OK;
}

/* A header keyed by its environment: "type", "v", the env id's fields, then the table's. */
static void agent_env_header_pack(msgpack_packer *pk, const char *type, int version, const rz_env_id *id,
                                  const void *h, const rz_field_spec *f, int n)
{
    rz_rec_begin(pk, type, version, ENV_ID_FIELDS + n);
    env_id_pack(pk, id);
    rz_rec_fields_pack(pk, h, f, n);
}

/* Reads what agent_env_header_pack wrote (version checked); e->code (RZ_EINPUT without e) on failure. */
static int agent_env_header_decode(const msgpack_object *rec, const rz_rec_ctx *c, int64_t version, rz_env_id *id,
                                   void *h, const rz_field_spec *f, int n, rz_err *e)
{
    if (check_version(rec, c, version, e) || env_id_decode(rec, c, id, e) || rz_rec_fields_decode(rec, c, h, f, n, e))
        return e && e->code ? e->code : RZ_EINPUT;
    return RZ_OK;
}

/* ---- agent_dataset ------------------------------------------------------------------ */
static const rz_field_spec dataset_fields[] = {
    RZ_FIELD_INT(rz_dataset_header, state_dim, 1, 64, 0),
    RZ_FIELD_INT(rz_dataset_header, act_dim, 1, 64, 0),
    RZ_FIELD_INT(rz_dataset_header, n_actions, 0, 64, 0),
    RZ_FIELD_STR(rz_dataset_header, policy, 0),
    RZ_FIELD_I64(rz_dataset_header, steps, 1, (int64_t)1 << 32, 0),
    RZ_FIELD_I64(rz_dataset_header, seed, INT64_MIN, INT64_MAX, 0),
    RZ_FIELD_I64(rz_dataset_header, episode_len, 1, 1 << 30, 0),
};

void rz_dataset_header_pack(msgpack_packer *pk, const rz_dataset_header *h)
{
    agent_env_header_pack(pk, "agent_dataset", RZ_AGENT_DATASET_VERSION, &h->env, h, dataset_fields,
                          RZ_NFIELDS(dataset_fields));
}

int rz_dataset_header_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_dataset_header *h,
                             rz_err *e)
{
    memset(h, 0, sizeof *h);
    return agent_env_header_decode(rec, c, RZ_AGENT_DATASET_VERSION, &h->env, h, dataset_fields,
                                   RZ_NFIELDS(dataset_fields), e);
}

/* ---- agent_steps --------------------------------------------------------------------- */
void rz_steps_pack(msgpack_packer *pk, int n, int state_dim, int act_dim, const float *s,
                   const float *a, const float *s2)
{
    rz_rec_begin(pk, "agent_steps", RZ_AGENT_STEPS_VERSION, 4);
    rz_rec_int(pk, "n", n);
    rz_rec_bin(pk, "s", s, (size_t)n * state_dim * sizeof(float));
    rz_rec_bin(pk, "a", a, (size_t)n * act_dim * sizeof(float));
    rz_rec_bin(pk, "s2", s2, (size_t)n * state_dim * sizeof(float));
}

int rz_steps_count(const msgpack_object *rec, const rz_rec_ctx *c, int64_t *n, rz_err *e)
{
    if (check_version(rec, c, RZ_AGENT_STEPS_VERSION, e)) return RZ_EINPUT;
    return rz_get_int(rec, c, "n", 1, RZ_AGENT_MAX_STEPS, n, e);
}

static int get_floats(const msgpack_object *rec, const rz_rec_ctx *c, const char *key, size_t count,
                      float *out, rz_err *e)
{
    const void *p;
    size_t nb;
    if (rz_get_bin(rec, c, key, &p, &nb, e)) return RZ_EINPUT;
    if (nb != count * sizeof(float))
        return rz_rec_fail(e, c, key, "%zu bytes, expected %zu (f32 × %zu)", nb, count * sizeof(float), count);
    memcpy(out, p, nb);
    for (size_t i = 0; i < count; i++)
        if (!isfinite(out[i])) return rz_rec_fail(e, c, key, "value %zu is not finite (%g)", i, out[i]);
    return RZ_OK;
}

int rz_steps_decode(const msgpack_object *rec, const rz_rec_ctx *c, int state_dim, int act_dim,
                    float *s, float *a, float *s2, rz_err *e)
{
    int64_t n;
    if (rz_steps_count(rec, c, &n, e)) return RZ_EINPUT;
    if (get_floats(rec, c, "s", (size_t)n * state_dim, s, e) || get_floats(rec, c, "a", (size_t)n * act_dim, a, e) ||
        get_floats(rec, c, "s2", (size_t)n * state_dim, s2, e))
        return RZ_EINPUT;
    return RZ_OK;
}

/* ---- agent ---------------------------------------------------------------------------- */
/* In the order they are written. "target", "qloss", the trajectory windows, the
 * annealing, "grad_clip", "cpen" and "norm_obs" arrived after the first checkpoints:
 * absent, they mean what those checkpoints trained with (the min of the target heads,
 * the pure FB loss, no windows, a constant learning rate, no clipping, every penalty
 * action at s, raw observations) —
 * the defaults rz_agent_header_decode sets before reading. */
static const char *const target_names[] = {"min", "mean", NULL}, *const cpen_names[] = {"s", "ref", NULL};
#define A(kind, ...) RZ_FIELD_##kind(rz_agent_header, __VA_ARGS__)
static const rz_field_spec agent_fields[] = {
    A(INT, grid_obs, 0, 2, 0),
    A(STR, algo, 0),
    A(INT, zdim, 1, FB_MAX_ZDIM, 0),
    A(INT, hidden, 1, FB_MAX_HIDDEN, 0),
    A(INT, layers, 1, FB_MAX_LAYERS, 0),
    A(INT, batch, 2, FB_MAX_BATCH, 0),
    A(F64, lr_f, 0, 1, 0),
    A(F64, lr_b, 0, 1, 0),
    A(F64, lr_actor, 0, 1, 0),
    A(F64, gamma, 0, 1, 0),
    A(F64, tau, 0, 1, 0),
    A(F64, ortho_coef, 0, 1e6, 0),
    A(F64, mix_ratio, 0, 1, 0),
    A(INT, bnorm, 0, 1, 0),
    A(F64, fscale, 1e-6, 1e6, 0),
    RZ_FIELD_PICK(rz_agent_header, "target", target_mean, target_names, 1),
    A(F64, qloss, 0, 1e6, 1),
    A(F64, traj_ratio, 0, 1, 1),
    A(I64, traj_len, 1, FB_MAX_TRAJ_LEN, 1),
    A(F64, lr_decay, 1e-12, 1, 1),
    A(I64, anneal_start, 0, INT64_MAX, 1),
    A(I64, anneal_end, 0, INT64_MAX, 1),
    A(F64, alpha, 0, 1e6, 0),
    A(INT, lagrange, 0, 1, 0),
    A(F64, alpha_target, -1e9, 1e9, 0),
    A(F64, lr_alpha, 0, 1, 0),
    A(INT, action_samples, 0, 256, 0),
    A(F64, actor_noise, 0, 10, 0),
    A(F64, noise_clip, 0, 10, 0),
    A(F64, grad_clip, 0, 1e6, 1),
    RZ_FIELD_PICK(rz_agent_header, "cpen", cpen_ref, cpen_names, 1),
    A(INT, norm_obs, 0, 1, 1),
    A(I64, steps_done, 0, INT64_MAX, 0),
    A(I64, seed, INT64_MIN, INT64_MAX, 0),
    A(STR, dataset, 0),
    A(STR, data_policy, 0),
    A(I64, data_steps, 0, INT64_MAX, 0),
};
#undef A

void rz_agent_header_pack(msgpack_packer *pk, const rz_agent_header *h)
{
    agent_env_header_pack(pk, "agent", RZ_AGENT_VERSION, &h->env, h, agent_fields, RZ_NFIELDS(agent_fields));
}


int rz_agent_header_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_agent_header *h,
                           rz_err *e)
{
    memset(h, 0, sizeof *h);
    h->lr_decay = 1; /* absent: a constant learning rate (every other absent field means 0) */
    int rc = agent_env_header_decode(rec, c, RZ_AGENT_VERSION, &h->env, h, agent_fields, RZ_NFIELDS(agent_fields), e);
    if (rc) return rc;
    if (h->traj_ratio > 0 && h->traj_len < 1)
        return rz_rec_fail(e, c, "traj_len", "missing: expected a window length with traj_ratio %g", h->traj_ratio);
    if (h->traj_ratio + h->mix_ratio > 1 + 1e-6)
        return rz_rec_fail(e, c, "traj_ratio", "%g: with mix_ratio %g expected a sum of at most 1", h->traj_ratio, h->mix_ratio);
    if (h->lr_decay < 1 && h->anneal_end <= h->anneal_start)
        return rz_rec_fail(e, c, "anneal_end", "%lld: expected more than anneal_start (%lld)", (long long)h->anneal_end,
                           (long long)h->anneal_start);
    return RZ_OK;
}

/* ---- agent_expert / agent_traj ----------------------------------------------------------- */
static const rz_field_spec expert_fields[] = {
    RZ_FIELD_INT(rz_expert_header, state_dim, 1, RZ_AGENT_MAX_STATE, 0),
    RZ_FIELD_I64(rz_expert_header, trajectories, 1, RZ_AGENT_MAX_TRAJS, 0),
    RZ_FIELD_I64(rz_expert_header, steps, 1, (int64_t)1 << 32, 0),
    RZ_FIELD_STR(rz_expert_header, source, 0),
    RZ_FIELD_I64(rz_expert_header, seed, INT64_MIN, INT64_MAX, 0),
};

void rz_expert_header_pack(msgpack_packer *pk, const rz_expert_header *h)
{
    agent_env_header_pack(pk, "agent_expert", RZ_AGENT_EXPERT_VERSION, &h->env, h, expert_fields,
                          RZ_NFIELDS(expert_fields));
}

int rz_expert_header_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_expert_header *h, rz_err *e)
{
    memset(h, 0, sizeof *h);
    int rc = agent_env_header_decode(rec, c, RZ_AGENT_EXPERT_VERSION, &h->env, h, expert_fields,
                                     RZ_NFIELDS(expert_fields), e);
    if (rc) return rc;
    if (h->steps < h->trajectories)
        return rz_rec_fail(e, c, "steps", "%lld states for %lld trajectories: expected at least one state each",
                           (long long)h->steps, (long long)h->trajectories);
    return RZ_OK;
}

void rz_traj_pack(msgpack_packer *pk, const char *name, int n, int state_dim, const float *s)
{
    rz_rec_begin(pk, "agent_traj", RZ_AGENT_TRAJ_VERSION, 3);
    rz_rec_str(pk, "name", name ? name : "");
    rz_rec_int(pk, "n", n);
    rz_rec_bin(pk, "s", s, (size_t)n * state_dim * sizeof(float));
}

int rz_traj_count(const msgpack_object *rec, const rz_rec_ctx *c, int64_t *n, rz_err *e)
{
    if (check_version(rec, c, RZ_AGENT_TRAJ_VERSION, e)) return RZ_EINPUT;
    return rz_get_int(rec, c, "n", 1, RZ_AGENT_MAX_STEPS, n, e);
}

int rz_traj_decode(const msgpack_object *rec, const rz_rec_ctx *c, int state_dim, char *name, size_t name_cap,
                   float *s, rz_err *e)
{
    int64_t n;
    if (rz_traj_count(rec, c, &n, e) || rz_get_str(rec, c, "name", name, name_cap, e)) return RZ_EINPUT;
    return get_floats(rec, c, "s", (size_t)n * state_dim, s, e);
}

/* ---- agent_online ------------------------------------------------------------------------ */
static const char *const rollout_z_names[] = {"mixture", "buffer", "sphere", NULL};
int rz_rollout_z_parse(const char *s)
{
    for (int k = 0; rollout_z_names[k]; k++)
        if (!strcmp(s, rollout_z_names[k])) return k;
    return -1;
}

static const char *const fall_names[] = {"end", "continue", NULL};
int rz_online_fall_parse(const char *s)
{
    for (int k = 0; fall_names[k]; k++)
        if (!strcmp(s, fall_names[k])) return k;
    return -1;
}

#define O(kind, ...) RZ_FIELD_##kind(rz_online_header, __VA_ARGS__)
static const rz_field_spec online_fields[] = {
    O(INT, cpr, 0, 1, 0),
    O(INT, seq_length, 1, FB_MAX_TRAJ_LEN, 0),
    O(F64, goal_ratio, 0, 1, 0),
    O(F64, expert_ratio, 0, 1, 0),
    O(F64, reg_coeff, 0, 1e6, 0),
    O(INT, scale_reg, 0, 1, 0),
    O(F64, grad_penalty, 0, 1e6, 0),
    O(F64, lr_disc, 0, 1, 0),
    O(F64, lr_critic, 0, 1, 0),
    O(F64, critic_tau, 0, 1, 0),
    O(INT, disc_hidden, 1, FB_MAX_HIDDEN, 0),
    O(INT, disc_layers, 1, FB_MAX_LAYERS, 0),
    O(INT, n_envs, 1, 4096, 0),
    O(I64, buffer, 1, (int64_t)1 << 26, 0),
    O(I64, seed_steps, 0, INT64_MAX, 0),
    O(I64, update_every, 1, 1 << 20, 0),
    O(INT, updates, 0, 1 << 20, 0),
    O(INT, z_every, 1, 1 << 30, 0),
    O(I64, episode_len, 1, 1 << 30, 0),
    O(I64, env_steps, 0, INT64_MAX, 0),
    O(STR, expert, 0),
    /* version 4; a version-3 record has none of them (rz_online_header_decode) */
    O(F64, norm_momentum, 0, 1, 1),
    O(I64, z_buffer, 1, (int64_t)1 << 24, 1),
    RZ_FIELD_PICK(rz_online_header, "rollout_z", rollout_z, rollout_z_names, 1),
    /* version 5; versions 3 and 4 have none of them */
    RZ_FIELD_PICK(rz_online_header, "fall", fall, fall_names, 1),
    O(F64, init_expert, 0, 1, 1),
    O(F64, init_fall, 0, 1, 1),
    O(I64, fall_steps, 0, 1000, 1),
};
#undef O

void rz_online_header_pack(msgpack_packer *pk, const rz_online_header *h)
{
    rz_rec_begin(pk, "agent_online", RZ_AGENT_ONLINE_VERSION, RZ_NFIELDS(online_fields));
    rz_rec_fields_pack(pk, h, online_fields, RZ_NFIELDS(online_fields));
}

int rz_online_header_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_online_header *h, rz_err *e)
{
    memset(h, 0, sizeof *h);
    /* version 3 (no normalisation, rollout zs from the mixture) and 4 (falls end episodes,
     * default starts) read with those defaults;
     * version 2 and older are refused (their replay or random streams are not this loop's) */
    int64_t v;
    if (rz_get_int(rec, c, "v", 1, INT32_MAX, &v, e)) return RZ_EINPUT;
    if (v < 3 || v > RZ_AGENT_ONLINE_VERSION)
        return rz_rec_fail(e, c, "v", "version %lld is not supported (this build resumes versions 3-%d)", (long long)v,
                           RZ_AGENT_ONLINE_VERSION);
    h->norm_momentum = RZ_ONLINE_NORM_MOMENTUM, h->rollout_z = 0, h->z_buffer = RZ_ONLINE_Z_BUFFER;
    h->fall = 0, h->init_expert = 0, h->init_fall = 0, h->fall_steps = RZ_ONLINE_FALL_STEPS;
    if (rz_rec_fields_decode(rec, c, h, online_fields, RZ_NFIELDS(online_fields), e))
        return e && e->code ? e->code : RZ_EINPUT;
    /* the table reads them as optional (older versions): the version that added them requires them */
    const char *need[] = {"norm_momentum", "z_buffer", "rollout_z", "fall", "init_expert", "init_fall", "fall_steps"};
    const int since[] = {4, 4, 4, 5, 5, 5, 5};
    for (int k = 0; k < 7; k++)
        if (v >= since[k] && !rz_field(rec, need[k])) return rz_rec_fail(e, c, need[k], "missing (version %lld has it)", (long long)v);
    if (h->init_expert + h->init_fall > 1 + 1e-6)
        return rz_rec_fail(e, c, "init_fall", "%g: with init_expert %g expected a sum of at most 1", h->init_fall, h->init_expert);
    if (h->goal_ratio + h->expert_ratio > 1 + 1e-6)
        return rz_rec_fail(e, c, "expert_ratio", "%g: with goal_ratio %g expected a sum of at most 1", h->expert_ratio, h->goal_ratio);
    return RZ_OK;
}
