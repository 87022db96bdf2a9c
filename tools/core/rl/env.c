/* env.c — one interface over the environment kinds: making an environment by name,
 * dispatch through its kind's ops table (rl_env_ops: grid.c, mujoco_env.c), tasks,
 * data collection and rollouts. Nothing here knows a kind: a new kind defines an
 * rl_env_ops and joins the kinds[] list below.
 */
#include "env.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kinds rl_env_make knows by name; any other name is a grid map file. */
static const rl_env_ops *const kinds[] = {&rl_grid_ops, &rl_pointmass_ops, &rl_humanoid_ops};

/* A kind is asked for by its spec, or by "spec:ARG" when it takes an argument (the
 * kind's make() gets the whole string and reads ARG itself). */
int rl_env_make(rl_env *env, const char *spec, double slip, rz_err *e)
{
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        size_t n = strlen(kinds[k]->spec);
        if (strcmp(spec, kinds[k]->spec) == 0 ||
            (kinds[k]->arg && strncmp(spec, kinds[k]->spec, n) == 0 && spec[n] == ':'))
            return kinds[k]->make(env, spec, slip, e);
    }
    return rl_env_grid_load(env, spec, slip, e);
}

int rl_env_clone(const rl_env *src, rl_env *dst, rz_err *e)
{
    int rc;
    if (src->kind == RL_GRID) {
        if ((rc = rl_env_grid_parse(dst, src->map_text, src->name, src->slip, e))) return rc;
        rl_env_set_grid_obs(dst, src->grid_obs);
    } else {
        char spec[4096];
        if (src->ops->arg && src->map_text) snprintf(spec, sizeof spec, "%s:%s", src->ops->spec, src->map_text);
        else snprintf(spec, sizeof spec, "%s", src->ops->spec);
        if ((rc = rl_env_make(dst, spec, src->slip, e))) return rc;
    }
    dst->horizon = src->horizon, dst->episode_len = src->episode_len;
    return RZ_OK;
}

void rl_env_free(rl_env *env)
{
    if (env->ops && env->ops->free) env->ops->free(env);
    free(env->map_text);
    memset(env, 0, sizeof *env);
}

/* ---- dynamics ------------------------------------------------------------------- */
void rl_env_reset(const rl_env *env, rz_rng *rng, float *state) { env->ops->reset(env, rng, state); }

int rl_env_check_state(const rl_env *env, const float *state) { return env->ops->check_state(env, state); }

int rl_env_check_action(const rl_env *env, const float *action) { return env->ops->check_action(env, action); }

int rl_env_terminal(const rl_env *env, const float *state)
{
    return env->ops->terminal ? env->ops->terminal(env, state) : 0;
}

int rl_env_has_falls(const rl_env *env) { return env->ops->fall_start != NULL; }

int rl_env_fall_start(const rl_env *env, rz_rng *rng, int steps, float *state, rz_err *e)
{
    if (!env->ops->fall_start) return rz_fail(e, RZ_EINPUT, "%s: the environment has no fallen start states", env->name);
    return env->ops->fall_start(env, rng, steps, state, e);
}

int rl_env_step(const rl_env *env, const float *state, const float *action, rz_rng *rng,
                float *next, rz_err *e)
{
    if (!rl_env_check_action(env, action))
        return rz_fail(e, RZ_EINPUT, "%s: action %g out of range (%s)", env->name, action[0],
                       env->ops->action_range);
    return env->ops->step(env, state, action, rng, next, e);
}

void rl_env_obs(const rl_env *env, const float *state, float *obs) { env->ops->obs(env, state, obs); }

/* ---- tasks ------------------------------------------------------------------------ */
int rl_env_tasks(const rl_env *env, const char *which, rl_task **tasks, int *n, rz_err *e)
{
    int goals = !strcmp(which, "goals") || !strcmp(which, "all");
    int rewards = !strcmp(which, "rewards") || !strcmp(which, "all");
    if (!goals && !rewards)
        return rz_fail(e, RZ_EINPUT, "--tasks %s: expected goals, rewards or all", which);
    *tasks = NULL;
    *n = 0;
    return env->ops->tasks(env, goals, rewards, tasks, n, e);
}

void rl_tasks_free(rl_task *tasks, int n)
{
    if (!tasks) return;
    for (int i = 0; i < n; i++) free(tasks[i].r);
    free(tasks);
}

double rl_task_reward(const rl_env *env, const rl_task *task, const float *state)
{
    return env->ops->reward(env, task, state);
}

int rl_task_success(const rl_env *env, const rl_task *task, const float *state)
{
    if (!task->is_goal) return 0;
    return env->ops->success(env, task, state);
}

/* ---- collection ------------------------------------------------------------------ */
static const char *policy_names[RL_POL_COUNT] = {"random", "coverage", "room"};
const char *rl_policy_name(rl_policy p) { return p < RL_POL_COUNT ? policy_names[p] : "?"; }
int rl_policy_parse(const char *s, rl_policy *p)
{
    for (int i = 0; i < RL_POL_COUNT; i++)
        if (!strcmp(s, policy_names[i])) {
            *p = (rl_policy)i;
            return 0;
        }
    return -1;
}

/* The default behaviour policy of the continuous kinds (ops->collect_act NULL). */
static void uniform_collect_act(const rl_env *env, rl_policy pol, int t, rz_rng *rng, float *act)
{
    if (pol != RL_POL_COVERAGE || t % 5 == 0)
        for (int k = 0; k < env->act_dim; k++) act[k] = (float)(2 * rz_rng_uniform(rng) - 1);
}

int rl_collect(const rl_env *env, rl_policy pol, long n, uint64_t seed, float *S, float *A,
               float *S2, rz_err *e)
{
    const rl_env_ops *ops = env->ops;
    rz_rng rng;
    rz_rng_seed(&rng, seed);
    int sd = env->state_dim, ad = env->act_dim;
    float cur[RL_MAX_STATE], act[RL_MAX_ACT] = {0}, nxt[RL_MAX_STATE];
    if (pol == RL_POL_ROOM && !ops->in_room0)
        return rz_fail(e, RZ_EINPUT, "%s: the room policy applies to grids and the point-mass maze only", env->name);
    void *scratch = NULL;
    size_t scratch_bytes = ops->collect_scratch ? ops->collect_scratch(env, pol) : 0;
    if (scratch_bytes > 0 && !(scratch = rz_calloc(scratch_bytes, 1, e))) return RZ_EINTERNAL;
    int t = env->episode_len;
    for (long i = 0; i < n; i++) {
        if (t >= env->episode_len) {
            t = 0;
            if (pol == RL_POL_ROOM) {
                /* Rejection-sample a start inside the top-left room. */
                do rl_env_reset(env, &rng, cur);
                while (!ops->in_room0(env, cur));
            } else {
                rl_env_reset(env, &rng, cur);
            }
        }
        if (ops->collect_act)
            ops->collect_act(env, pol, t, cur, scratch, &rng, act);
        else
            uniform_collect_act(env, pol, t, &rng, act);
        int rc = rl_env_step(env, cur, act, &rng, nxt, e);
        if (rc) {
            free(scratch);
            return rc;
        }
        if (pol == RL_POL_ROOM && ops->confine_room && !ops->in_room0(env, nxt)) {
            /* Confined: a step leaving the room is not recorded; the episode ends there and
             * the next transition starts a fresh episode inside the room. */
            t = env->episode_len;
            i--;
            continue;
        }
        memcpy(S + i * sd, cur, sd * sizeof(float));
        memcpy(A + i * ad, act, ad * sizeof(float));
        memcpy(S2 + i * sd, nxt, sd * sizeof(float));
        memcpy(cur, nxt, sd * sizeof(float));
        t++;
        if (rl_env_terminal(env, cur)) t = env->episode_len; /* fell: a fresh start */
    }
    free(scratch);
    return RZ_OK;
}

/* ---- rollouts -------------------------------------------------------------------- */
int rl_rollout(const rl_env *env, const rl_task *task, int E, const float *starts,
               rl_policy_fn pol, void *ctx, rz_rng *rng, double *ret, int *success, rz_err *e)
{
    int sd = env->state_dim, od = env->obs_dim, ad = env->act_dim, rc = RZ_OK;
    float *S = rz_malloc((size_t)E * sd * sizeof(float), e);
    float *O = rz_malloc((size_t)E * od * sizeof(float), e);
    float *Ac = rz_malloc((size_t)E * ad * sizeof(float), e);
    unsigned char *done = rz_calloc((size_t)E, 1, e); /* episode i reached a terminal state */
    if (!S || !O || !Ac || !done) {
        rc = RZ_EINTERNAL;
        goto out;
    }
    memcpy(S, starts, (size_t)E * sd * sizeof(float));
    for (int i = 0; i < E; i++) {
        ret[i] = 0;
        success[i] = 0;
    }
    for (int t = 0; t < env->horizon; t++) {
        for (int i = 0; i < E; i++) rl_env_obs(env, S + i * sd, O + (size_t)i * od);
        pol(ctx, E, O, Ac);
        for (int i = 0; i < E; i++) {
            float nx[RL_MAX_STATE];
            if (done[i]) continue;
            if ((rc = rl_env_step(env, S + i * sd, Ac + i * ad, rng, nx, e))) goto out;
            memcpy(S + i * sd, nx, sd * sizeof(float));
            ret[i] += rl_task_reward(env, task, nx);
            if (rl_task_success(env, task, nx)) success[i] = 1;
            done[i] = (unsigned char)rl_env_terminal(env, nx);
        }
    }
out:
    free(done);
    free(S);
    free(O);
    free(Ac);
    return rc;
}
