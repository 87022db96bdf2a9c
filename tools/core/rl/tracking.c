/* tracking.c — zero-shot tracking of expert trajectories (see tracking.h). */
#include "tracking.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int rl_track_fb(void *ctx, const float *obs, int n, const float *window, float *act, rz_err *e)
{
    fb_agent *a = ctx;
    int D = fb_cfg(a)->zdim, od = fb_cfg(a)->obs_dim;
    float z[FB_MAX_ZDIM], b[FB_MAX_ZDIM];
    double m[FB_MAX_ZDIM] = {0};
    for (int t = 0; t < n; t++) {
        int rc = fb_infer_z_goal(a, window + (size_t)t * od, b, e);
        if (rc) return rc;
        for (int q = 0; q < D; q++) m[q] += b[q];
    }
    for (int q = 0; q < D; q++) z[q] = (float)(m[q] / n);
    nn_project_sphere(z, D, sqrtf((float)D));
    return fb_act(a, 1, obs, z, act, NULL, e);
}

int rl_track_random_act(void *ctx, const float *obs, int n, const float *window, float *act, rz_err *e)
{
    rl_track_random *r = ctx;
    (void)obs, (void)n, (void)window, (void)e;
    for (int q = 0; q < r->act_dim; q++) act[q] = (float)(2 * rz_rng_uniform(&r->rng) - 1);
    return RZ_OK;
}

static void random_cb(void *ctx, int n, const float *obs, float *act)
{
    rl_track_random *r = ctx;
    (void)obs;
    for (int q = 0; q < n * r->act_dim; q++) act[q] = (float)(2 * rz_rng_uniform(&r->rng) - 1);
}

typedef struct {
    fb_agent *a;
    const float *z;
    int fail;
} z_policy;

static void z_cb(void *ctx, int n, const float *obs, float *act)
{
    z_policy *p = ctx;
    if (fb_act(p->a, n, obs, p->z, act, NULL, NULL)) p->fail = 1;
}

/* episodes from fb_eval_task's starts (seed), policy pol; res as fb_eval_task's */
static int rollout_scored(const rl_env *env, const rl_task *task, int episodes, uint64_t seed, rl_policy_fn pol, void *ctx,
                          fb_task_result *res, rz_err *e)
{
    int sd = env->state_dim;
    float *starts = rz_malloc((size_t)episodes * sd * sizeof(float), e);
    double *ret = rz_malloc((size_t)episodes * sizeof(double), e);
    int *succ = rz_malloc((size_t)episodes * sizeof(int), e), rc = RZ_EINTERNAL;
    if (starts && ret && succ) {
        rz_rng rng;
        rz_rng_seed(&rng, seed); /* the starts as fb_eval_task draws them */
        for (int i = 0; i < episodes; i++) {
            int tries = 0;
            do rl_env_reset(env, &rng, starts + (size_t)i * sd);
            while (task->is_goal && rl_task_success(env, task, starts + (size_t)i * sd) && ++tries < 1000);
        }
        rc = rl_rollout(env, task, episodes, starts, pol, ctx, &rng, ret, succ, e);
        if (!rc) {
            double sr = 0, ss = 0;
            for (int i = 0; i < episodes; i++) sr += ret[i], ss += succ[i];
            memset(res, 0, sizeof *res);
            res->episodes = episodes;
            res->ret = sr / episodes;
            res->success = task->is_goal ? ss / episodes : NAN;
            res->opt = res->norm = NAN;
        }
    }
    free(starts), free(ret), free(succ);
    return rc;
}

int rl_eval_random(const rl_env *env, const rl_task *task, int episodes, uint64_t seed, fb_task_result *res, rz_err *e)
{
    if (env->n_actions || episodes < 1)
        return rz_fail(e, RZ_EINPUT, "random-policy evaluation: %s has discrete actions or %d episodes", env->name, episodes);
    rl_track_random pol = {.act_dim = env->act_dim};
    rz_rng_seed(&pol.rng, seed ^ 0x9e3779b97f4a7c15ull);
    return rollout_scored(env, task, episodes, seed, random_cb, &pol, res, e);
}

int rl_eval_goal_labels(fb_agent *a, const rl_env *env, const rl_task *task, int n_labels, const float *labels,
                        int episodes, uint64_t seed, fb_task_result *res, rz_err *e)
{
    int od = env->obs_dim, sd = env->state_dim, rc;
    if (!task->is_goal || n_labels < 1 || episodes < 1 || env->n_actions)
        return rz_fail(e, RZ_EINPUT, "task %s: goal inference from labels needs a goal task, labels and continuous actions",
                       task->name);
    float *O = rz_malloc((size_t)n_labels * od * sizeof(float), e), *r = rz_malloc((size_t)n_labels * sizeof(float), e);
    float z[FB_MAX_ZDIM];
    if (!O || !r) {
        free(O), free(r);
        return RZ_EINTERNAL;
    }
    for (int i = 0; i < n_labels; i++) {
        rl_env_obs(env, labels + (size_t)i * sd, O + (size_t)i * od);
        r[i] = (float)rl_task_reward(env, task, labels + (size_t)i * sd);
    }
    rc = fb_infer_z_reward(a, n_labels, O, r, z, e);
    free(O), free(r);
    if (rc) return rc;
    z_policy p = {a, z, 0};
    rc = rollout_scored(env, task, episodes, seed, z_cb, &p, res, e);
    if (!rc && p.fail) rc = rz_fail(e, RZ_EINTERNAL, "task %s: the policy failed", task->name);
    return rc;
}

int rl_track_eval(const rl_env *env, const rl_expert *x, int first, int count, int L, int dims, rl_track_fn pol,
                  void *ctx, double *per, double *mean, double *upright, float *path, rz_err *e)
{
    int sd = env->state_dim, od = env->obs_dim, rc = RZ_OK;
    if (first < 0 || count < 1 || first + count > x->n_traj || L < 1 || dims < 1 || dims > od)
        return rz_fail(e, RZ_EINPUT, "tracking: trajectories %d … %d of %d, window %d, dims %d of %d", first,
                       first + count - 1, x->n_traj, L, dims, od);
    long tmax = 0;
    for (int k = first; k < first + count; k++)
        if (x->start[k + 1] - x->start[k] - 1 > tmax) tmax = x->start[k + 1] - x->start[k] - 1;
    float *win = rz_malloc((size_t)L * od * sizeof(float), e), *s = rz_malloc((size_t)2 * sd * sizeof(float), e);
    float *o = rz_malloc((size_t)2 * od * sizeof(float), e), *act = rz_malloc((size_t)env->act_dim * sizeof(float), e);
    rz_rng rng;
    rz_rng_seed(&rng, 0); /* the maze is deterministic; a kind with noise gets a fixed stream */
    double tot = 0;
    int n_up = 0;
    if (!win || !s || !o || !act) {
        rc = RZ_EINTERNAL;
        goto out;
    }
    for (int k = first; k < first + count && !rc; k++) {
        const float *E = x->S + (size_t)x->start[k] * sd;
        long T = x->start[k + 1] - x->start[k] - 1;
        memcpy(s, E, sd * sizeof(float));
        float *pk = path ? path + (size_t)(k - first) * (tmax + 1) * sd : NULL;
        if (pk) memcpy(pk, s, sd * sizeof(float));
        double d = 0;
        int fell = 0;
        for (long t = 0; t < T; t++) {
            long w0 = t + 1, w1 = t + L; /* window s^e_{t+1} … s^e_{t+L}, clamped */
            if (w1 > T) w1 = T, w0 = T - L + 1 > 1 ? T - L + 1 : 1;
            int n = (int)(w1 - w0 + 1);
            for (int q = 0; q < n; q++) rl_env_obs(env, E + (size_t)(w0 + q) * sd, win + (size_t)q * od);
            rl_env_obs(env, s, o);
            if ((rc = pol(ctx, o, n, win, act, e))) break;
            if ((rc = rl_env_step(env, s, act, &rng, s + sd, e))) break;
            memcpy(s, s + sd, sd * sizeof(float));
            fell |= rl_env_terminal(env, s);
            rl_env_obs(env, s, o);
            rl_env_obs(env, E + (size_t)(t + 1) * sd, o + od);
            double dd = 0;
            for (int q = 0; q < dims; q++) dd += ((double)o[q] - o[od + q]) * ((double)o[q] - o[od + q]);
            d += sqrt(dd) / T;
            if (pk) memcpy(pk + (size_t)(t + 1) * sd, s, sd * sizeof(float));
        }
        if (pk)
            for (long t = T + 1; t <= tmax; t++) memcpy(pk + (size_t)t * sd, pk + (size_t)T * sd, sd * sizeof(float));
        if (per) per[k - first] = d;
        tot += d / count;
        n_up += !fell;
    }
    *mean = tot;
    if (upright) *upright = (double)n_up / count;
out:
    free(win), free(s), free(o), free(act);
    return rc;
}
