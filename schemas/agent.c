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

/* ---- agent_dataset ------------------------------------------------------------------ */
void rz_dataset_header_pack(msgpack_packer *pk, const rz_dataset_header *h)
{
    rz_rec_begin(pk, "agent_dataset", RZ_AGENT_DATASET_VERSION, 10);
    env_id_pack(pk, &h->env);
    rz_rec_int(pk, "state_dim", h->state_dim);
    rz_rec_int(pk, "act_dim", h->act_dim);
    rz_rec_int(pk, "n_actions", h->n_actions);
    rz_rec_str(pk, "policy", h->policy);
    rz_rec_int(pk, "steps", h->steps);
    rz_rec_int(pk, "seed", h->seed);
    rz_rec_int(pk, "episode_len", h->episode_len);
}

int rz_dataset_header_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_dataset_header *h,
                             rz_err *e)
{
    memset(h, 0, sizeof *h);
    int64_t sd, ad, na;
    if (check_version(rec, c, RZ_AGENT_DATASET_VERSION, e) || env_id_decode(rec, c, &h->env, e) ||
        rz_get_int(rec, c, "state_dim", 1, 64, &sd, e) || rz_get_int(rec, c, "act_dim", 1, 64, &ad, e) ||
        rz_get_int(rec, c, "n_actions", 0, 64, &na, e) ||
        rz_get_str(rec, c, "policy", h->policy, sizeof h->policy, e) ||
        rz_get_int(rec, c, "steps", 1, (int64_t)1 << 32, &h->steps, e) ||
        rz_get_int(rec, c, "seed", INT64_MIN, INT64_MAX, &h->seed, e) ||
        rz_get_int(rec, c, "episode_len", 1, 1 << 30, &h->episode_len, e))
        return e && e->code ? e->code : RZ_EINPUT;
    h->state_dim = (int)sd;
    h->act_dim = (int)ad;
    h->n_actions = (int)na;
    return RZ_OK;
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
void rz_agent_header_pack(msgpack_packer *pk, const rz_agent_header *h)
{
    rz_rec_begin(pk, "agent", RZ_AGENT_VERSION, 39);
    env_id_pack(pk, &h->env);
    rz_rec_int(pk, "grid_obs", h->grid_obs);
    rz_rec_str(pk, "algo", h->algo);
    rz_rec_int(pk, "zdim", h->zdim);
    rz_rec_int(pk, "hidden", h->hidden);
    rz_rec_int(pk, "layers", h->layers);
    rz_rec_int(pk, "batch", h->batch);
    rz_rec_f64(pk, "lr_f", h->lr_f);
    rz_rec_f64(pk, "lr_b", h->lr_b);
    rz_rec_f64(pk, "lr_actor", h->lr_actor);
    rz_rec_f64(pk, "gamma", h->gamma);
    rz_rec_f64(pk, "tau", h->tau);
    rz_rec_f64(pk, "ortho_coef", h->ortho_coef);
    rz_rec_f64(pk, "mix_ratio", h->mix_ratio);
    rz_rec_int(pk, "bnorm", h->bnorm);
    rz_rec_f64(pk, "fscale", h->fscale);
    rz_rec_str(pk, "target", h->target_mean ? "mean" : "min");
    rz_rec_f64(pk, "qloss", h->qloss);
    rz_rec_f64(pk, "traj_ratio", h->traj_ratio);
    rz_rec_int(pk, "traj_len", h->traj_len);
    rz_rec_f64(pk, "lr_decay", h->lr_decay);
    rz_rec_int(pk, "anneal_start", h->anneal_start);
    rz_rec_int(pk, "anneal_end", h->anneal_end);
    rz_rec_f64(pk, "alpha", h->alpha);
    rz_rec_int(pk, "lagrange", h->lagrange);
    rz_rec_f64(pk, "alpha_target", h->alpha_target);
    rz_rec_f64(pk, "lr_alpha", h->lr_alpha);
    rz_rec_int(pk, "action_samples", h->action_samples);
    rz_rec_f64(pk, "actor_noise", h->actor_noise);
    rz_rec_f64(pk, "noise_clip", h->noise_clip);
    rz_rec_f64(pk, "grad_clip", h->grad_clip);
    rz_rec_str(pk, "cpen", h->cpen_ref ? "ref" : "s");
    rz_rec_int(pk, "steps_done", h->steps_done);
    rz_rec_int(pk, "seed", h->seed);
    rz_rec_str(pk, "dataset", h->dataset);
    rz_rec_str(pk, "data_policy", h->data_policy);
    rz_rec_int(pk, "data_steps", h->data_steps);
}

static int get_pos(const msgpack_object *rec, const rz_rec_ctx *c, const char *key, double lo, double hi,
                   double *out, rz_err *e)
{
    if (rz_get_f64(rec, c, key, out, e)) return RZ_EINPUT;
    if (!(*out >= lo && *out <= hi)) return rz_rec_fail(e, c, key, "%g is outside [%g, %g]", *out, lo, hi);
    return RZ_OK;
}

int rz_agent_header_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_agent_header *h,
                           rz_err *e)
{
    memset(h, 0, sizeof *h);
    int64_t go, zd, hid, lay, bat, bn, lag, as;
    if (check_version(rec, c, RZ_AGENT_VERSION, e) || env_id_decode(rec, c, &h->env, e) ||
        rz_get_int(rec, c, "grid_obs", 0, 2, &go, e) || rz_get_str(rec, c, "algo", h->algo, sizeof h->algo, e) ||
        rz_get_int(rec, c, "zdim", 1, FB_MAX_ZDIM, &zd, e) || rz_get_int(rec, c, "hidden", 1, FB_MAX_HIDDEN, &hid, e) ||
        rz_get_int(rec, c, "layers", 1, FB_MAX_LAYERS, &lay, e) || rz_get_int(rec, c, "batch", 2, FB_MAX_BATCH, &bat, e) ||
        get_pos(rec, c, "lr_f", 0, 1, &h->lr_f, e) || get_pos(rec, c, "lr_b", 0, 1, &h->lr_b, e) ||
        get_pos(rec, c, "lr_actor", 0, 1, &h->lr_actor, e) || get_pos(rec, c, "gamma", 0, 1, &h->gamma, e) ||
        get_pos(rec, c, "tau", 0, 1, &h->tau, e) || get_pos(rec, c, "ortho_coef", 0, 1e6, &h->ortho_coef, e) ||
        get_pos(rec, c, "mix_ratio", 0, 1, &h->mix_ratio, e) || rz_get_int(rec, c, "bnorm", 0, 1, &bn, e) ||
        get_pos(rec, c, "fscale", 1e-6, 1e6, &h->fscale, e) ||
        get_pos(rec, c, "alpha", 0, 1e6, &h->alpha, e) || rz_get_int(rec, c, "lagrange", 0, 1, &lag, e) ||
        get_pos(rec, c, "alpha_target", -1e9, 1e9, &h->alpha_target, e) ||
        get_pos(rec, c, "lr_alpha", 0, 1, &h->lr_alpha, e) ||
        rz_get_int(rec, c, "action_samples", 0, 256, &as, e) ||
        get_pos(rec, c, "actor_noise", 0, 10, &h->actor_noise, e) ||
        get_pos(rec, c, "noise_clip", 0, 10, &h->noise_clip, e) ||
        rz_get_int(rec, c, "steps_done", 0, INT64_MAX, &h->steps_done, e) ||
        rz_get_int(rec, c, "seed", INT64_MIN, INT64_MAX, &h->seed, e) ||
        rz_get_str(rec, c, "dataset", h->dataset, sizeof h->dataset, e) ||
        rz_get_str(rec, c, "data_policy", h->data_policy, sizeof h->data_policy, e) ||
        rz_get_int(rec, c, "data_steps", 0, INT64_MAX, &h->data_steps, e))
        return e && e->code ? e->code : RZ_EINPUT;
    h->grid_obs = (int)go;
    h->zdim = (int)zd;
    h->hidden = (int)hid;
    h->layers = (int)lay;
    h->batch = (int)bat;
    h->bnorm = (int)bn;
    h->lagrange = (int)lag;
    h->action_samples = (int)as;
    /* "target" arrived after the first checkpoints: absent means the min they used */
    if (rz_field(rec, "target")) {
        char t[8];
        if (rz_get_str(rec, c, "target", t, sizeof t, e)) return e && e->code ? e->code : RZ_EINPUT;
        if (strcmp(t, "min") && strcmp(t, "mean")) return rz_rec_fail(e, c, "target", "'%s': expected \"min\" or \"mean\"", t);
        h->target_mean = !strcmp(t, "mean");
    }
    /* "qloss" likewise: absent means the pure FB loss the first checkpoints trained */
    if (rz_field(rec, "qloss") && get_pos(rec, c, "qloss", 0, 1e6, &h->qloss, e)) return RZ_EINPUT;
    /* trajectory-window zs: absent means none */
    if (rz_field(rec, "traj_ratio") &&
        (get_pos(rec, c, "traj_ratio", 0, 1, &h->traj_ratio, e) || rz_get_int(rec, c, "traj_len", 1, FB_MAX_TRAJ_LEN, &h->traj_len, e)))
        return e && e->code ? e->code : RZ_EINPUT;
    if (h->traj_ratio + h->mix_ratio > 1 + 1e-6)
        return rz_rec_fail(e, c, "traj_ratio", "%g: with mix_ratio %g expected a sum of at most 1", h->traj_ratio, h->mix_ratio);
    /* gradient clipping and the continuous penalty's sampling arrived with the study of
     * low-quality data: absent means what the checkpoints before it trained with (no
     * clipping, OOD/actor actions all evaluated at s) */
    if (rz_field(rec, "grad_clip") && get_pos(rec, c, "grad_clip", 0, 1e6, &h->grad_clip, e)) return RZ_EINPUT;
    if (rz_field(rec, "cpen")) {
        char t[8];
        if (rz_get_str(rec, c, "cpen", t, sizeof t, e)) return e && e->code ? e->code : RZ_EINPUT;
        if (strcmp(t, "ref") && strcmp(t, "s")) return rz_rec_fail(e, c, "cpen", "'%s': expected \"ref\" or \"s\"", t);
        h->cpen_ref = !strcmp(t, "ref");
    }
    /* and the annealing: absent means a constant learning rate */
    h->lr_decay = 1;
    if (rz_field(rec, "lr_decay") &&
        (get_pos(rec, c, "lr_decay", 1e-12, 1, &h->lr_decay, e) ||
         rz_get_int(rec, c, "anneal_start", 0, INT64_MAX, &h->anneal_start, e) ||
         rz_get_int(rec, c, "anneal_end", 0, INT64_MAX, &h->anneal_end, e)))
        return e && e->code ? e->code : RZ_EINPUT;
    if (h->lr_decay < 1 && h->anneal_end <= h->anneal_start)
        return rz_rec_fail(e, c, "anneal_end", "%lld: expected more than anneal_start (%lld)", (long long)h->anneal_end,
                           (long long)h->anneal_start);
    return RZ_OK;
}

/* ---- agent_expert / agent_traj ----------------------------------------------------------- */
void rz_expert_header_pack(msgpack_packer *pk, const rz_expert_header *h)
{
    rz_rec_begin(pk, "agent_expert", RZ_AGENT_EXPERT_VERSION, 8);
    env_id_pack(pk, &h->env);
    rz_rec_int(pk, "state_dim", h->state_dim);
    rz_rec_int(pk, "trajectories", h->trajectories);
    rz_rec_int(pk, "steps", h->steps);
    rz_rec_str(pk, "source", h->source);
    rz_rec_int(pk, "seed", h->seed);
}

int rz_expert_header_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_expert_header *h, rz_err *e)
{
    memset(h, 0, sizeof *h);
    int64_t sd;
    if (check_version(rec, c, RZ_AGENT_EXPERT_VERSION, e) || env_id_decode(rec, c, &h->env, e) ||
        rz_get_int(rec, c, "state_dim", 1, RZ_AGENT_MAX_STATE, &sd, e) ||
        rz_get_int(rec, c, "trajectories", 1, RZ_AGENT_MAX_TRAJS, &h->trajectories, e) ||
        rz_get_int(rec, c, "steps", 1, (int64_t)1 << 32, &h->steps, e) ||
        rz_get_str(rec, c, "source", h->source, sizeof h->source, e) ||
        rz_get_int(rec, c, "seed", INT64_MIN, INT64_MAX, &h->seed, e))
        return e && e->code ? e->code : RZ_EINPUT;
    h->state_dim = (int)sd;
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
void rz_online_header_pack(msgpack_packer *pk, const rz_online_header *h)
{
    rz_rec_begin(pk, "agent_online", RZ_AGENT_ONLINE_VERSION, 21);
    rz_rec_int(pk, "cpr", h->cpr);
    rz_rec_int(pk, "seq_length", h->seq_length);
    rz_rec_f64(pk, "goal_ratio", h->goal_ratio);
    rz_rec_f64(pk, "expert_ratio", h->expert_ratio);
    rz_rec_f64(pk, "reg_coeff", h->reg_coeff);
    rz_rec_int(pk, "scale_reg", h->scale_reg);
    rz_rec_f64(pk, "grad_penalty", h->grad_penalty);
    rz_rec_f64(pk, "lr_disc", h->lr_disc);
    rz_rec_f64(pk, "lr_critic", h->lr_critic);
    rz_rec_f64(pk, "critic_tau", h->critic_tau);
    rz_rec_int(pk, "disc_hidden", h->disc_hidden);
    rz_rec_int(pk, "disc_layers", h->disc_layers);
    rz_rec_int(pk, "n_envs", h->n_envs);
    rz_rec_int(pk, "buffer", h->buffer);
    rz_rec_int(pk, "seed_steps", h->seed_steps);
    rz_rec_int(pk, "update_every", h->update_every);
    rz_rec_int(pk, "updates", h->updates);
    rz_rec_int(pk, "z_every", h->z_every);
    rz_rec_int(pk, "episode_len", h->episode_len);
    rz_rec_int(pk, "env_steps", h->env_steps);
    rz_rec_str(pk, "expert", h->expert);
}

int rz_online_header_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_online_header *h, rz_err *e)
{
    memset(h, 0, sizeof *h);
    int64_t cpr, sl, sr, dh, dl, ne, up, ze;
    if (check_version(rec, c, RZ_AGENT_ONLINE_VERSION, e) || rz_get_int(rec, c, "cpr", 0, 1, &cpr, e) ||
        rz_get_int(rec, c, "seq_length", 1, FB_MAX_TRAJ_LEN, &sl, e) ||
        get_pos(rec, c, "goal_ratio", 0, 1, &h->goal_ratio, e) || get_pos(rec, c, "expert_ratio", 0, 1, &h->expert_ratio, e) ||
        get_pos(rec, c, "reg_coeff", 0, 1e6, &h->reg_coeff, e) || rz_get_int(rec, c, "scale_reg", 0, 1, &sr, e) ||
        get_pos(rec, c, "grad_penalty", 0, 1e6, &h->grad_penalty, e) || get_pos(rec, c, "lr_disc", 0, 1, &h->lr_disc, e) ||
        get_pos(rec, c, "lr_critic", 0, 1, &h->lr_critic, e) || get_pos(rec, c, "critic_tau", 0, 1, &h->critic_tau, e) ||
        rz_get_int(rec, c, "disc_hidden", 1, FB_MAX_HIDDEN, &dh, e) || rz_get_int(rec, c, "disc_layers", 1, FB_MAX_LAYERS, &dl, e) ||
        rz_get_int(rec, c, "n_envs", 1, 4096, &ne, e) || rz_get_int(rec, c, "buffer", 1, (int64_t)1 << 26, &h->buffer, e) ||
        rz_get_int(rec, c, "seed_steps", 0, INT64_MAX, &h->seed_steps, e) ||
        rz_get_int(rec, c, "update_every", 1, 1 << 20, &h->update_every, e) || rz_get_int(rec, c, "updates", 0, 1 << 20, &up, e) ||
        rz_get_int(rec, c, "z_every", 1, 1 << 30, &ze, e) || rz_get_int(rec, c, "episode_len", 1, 1 << 30, &h->episode_len, e) ||
        rz_get_int(rec, c, "env_steps", 0, INT64_MAX, &h->env_steps, e) ||
        rz_get_str(rec, c, "expert", h->expert, sizeof h->expert, e))
        return e && e->code ? e->code : RZ_EINPUT;
    if (h->goal_ratio + h->expert_ratio > 1 + 1e-6)
        return rz_rec_fail(e, c, "expert_ratio", "%g: with goal_ratio %g expected a sum of at most 1", h->expert_ratio, h->goal_ratio);
    h->cpr = (int)cpr, h->seq_length = (int)sl, h->scale_reg = (int)sr, h->disc_hidden = (int)dh, h->disc_layers = (int)dl;
    h->n_envs = (int)ne, h->updates = (int)up, h->z_every = (int)ze;
    return RZ_OK;
}
