/* io.c — rz-agent's training flags and per-environment defaults, shared by train and
 * sweep (the dataset and checkpoint codec is the library's: tools/core/rl/agent_io.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rzagent.h"

void ag_config_defaults(fb_config *c, fb_algo algo, const rl_env *env)
{
    fb_config_default(c, algo, env->obs_dim, env->n_actions, env->act_dim);
    int grid = env->kind == RL_GRID;
    c->hidden = grid ? 512 : 256;
    c->lr_f = c->lr_b = c->lr_actor = grid ? 1e-3f : 1e-4f;
    c->gamma = grid ? 0.98f : 0.99f;
    if (grid) {
        c->tau = 0.05f;
        c->target_mean = 1;
        c->lr_decay = 0.01f; /* annealed to lr/100 over the last third (set_anneal) */
        /* d = 128 > four-rooms' 104 cells: near-orthogonal B, so a goal's neighbours
         * stop sharing its reward (d = 50 fails next to the goal). A quarter of the zs
         * average B over 32-step trajectory windows — about a room's worth of cells — so
         * region rewards are on the training distribution, which near-orthogonal B
         * otherwise takes them off (pipeline/agent.md) */
        c->zdim = 128;
        c->traj_ratio = 0.25f;
        c->traj_len = 32;
    }
}

/* --lr-final X [--anneal A:B] into cfg (after --lr): decay X/lr from step A to B, by
 * default over the last third of steps. lr_final 0 = not given: the environment
 * default's decay ratio (cfg->lr_decay) applies, over the same window. */
static int set_anneal(fb_config *cfg, double lr_final, const long long span[2], long steps, rz_err *e)
{
    if (lr_final > 0) {
        double lr = cfg->lr_f;
        if (lr_final > lr) return rz_fail(e, RZ_EINPUT, "--lr-final %g: expected at most --lr (%g)", lr_final, lr);
        cfg->lr_decay = (float)(lr_final / lr);
    } else if (span[0] >= 0 && cfg->lr_decay >= 1) {
        return rz_fail(e, RZ_EINPUT, "--anneal needs --lr-final (the rate it anneals to)");
    }
    if (cfg->lr_decay >= 1) return RZ_OK;
    cfg->anneal_start = span[0] >= 0 ? span[0] : steps - (steps >= 3 ? steps / 3 : 1); /* a tiny run still anneals */
    cfg->anneal_end = span[0] >= 0 ? span[1] : steps;
    if (cfg->anneal_end <= cfg->anneal_start) return rz_fail(e, RZ_EINPUT, "--steps %ld leaves nothing to anneal over", steps);
    return RZ_OK;
}

void ag_flags_init(ag_flags *f)
{
    memset(f, 0, sizeof *f);
    f->mix = f->alpha = f->qloss = f->traj = -1;
    f->lagrange = NAN;
    f->anneal[0] = f->anneal[1] = -1;
    f->target_mean = -1;
    f->grad_clip = -1;
    f->cpen_ref = -1;
}

int ag_config_apply(fb_config *cfg, const ag_flags *f, long steps, rz_err *e)
{
    if (f->hidden) cfg->hidden = (int)f->hidden;
    if (f->lr > 0) cfg->lr_f = cfg->lr_b = cfg->lr_actor = (float)f->lr;
    if (f->gamma > 0) cfg->gamma = (float)f->gamma;
    if (f->zdim) cfg->zdim = (int)f->zdim;
    if (f->layers) cfg->layers = (int)f->layers;
    if (f->batch) cfg->batch = (int)f->batch;
    if (f->tau > 0) cfg->tau = (float)f->tau;
    if (f->fscale > 0) cfg->fscale = (float)f->fscale;
    if (f->mix >= 0) cfg->mix_ratio = (float)f->mix;
    if (f->traj >= 0) cfg->traj_ratio = (float)f->traj;
    if (f->traj_len) cfg->traj_len = (int)f->traj_len;
    if (cfg->mix_ratio + cfg->traj_ratio > 1)
        return rz_fail(e, RZ_EINPUT, "--mix %g plus --traj %g: expected at most 1", cfg->mix_ratio, cfg->traj_ratio);
    if (f->reference) {
        /* the reference's settings first, so that any flag given overrides them */
        fb_config_reference(cfg);
        if (!cfg->n_actions) cfg->cpen_ref = 1;
    }
    if (f->grad_clip >= 0) cfg->grad_clip = (float)f->grad_clip;
    if (f->cpen_ref >= 0) cfg->cpen_ref = f->cpen_ref;
    if (f->target_mean >= 0) cfg->target_mean = f->target_mean;
    if (f->qloss >= 0) cfg->qloss = (float)f->qloss;
    if (f->alpha >= 0) cfg->alpha = (float)f->alpha;
    if (isinf(f->lagrange)) {
        if (cfg->n_actions < 2) return rz_fail(e, RZ_EINPUT, "--lagrange auto: defined for discrete actions; give the target for continuous ones");
        cfg->lagrange = 1;
        cfg->alpha_target = (float)fb_lagrange_target(cfg->n_actions, FB_REF_TAU, FB_REF_SAMPLES, FB_REF_DATA_COPIES);
        if (f->alpha < 0) cfg->alpha = 1.0f; /* the reference's α starts at 1 */
    } else if (!isnan(f->lagrange)) {
        cfg->lagrange = 1, cfg->alpha_target = (float)f->lagrange;
    }
    return set_anneal(cfg, f->lr_final, f->anneal, steps, e);
}
