/* mujoco_env.c — the point-mass maze on MuJoCo 2.2 (Debian libmujoco-dev).
 *
 * Model (rl_mj_xml, compiled from memory through MuJoCo's virtual file system): no
 * gravity; a sphere of radius 0.01 m and mass 0.3 kg on two slide joints x, y (damping
 * 1 N·s/m) driven by two motors (gear 1, ctrl in [−1, 1] N), so the terminal speed is
 * 1 m/s; boxes for the walls. The arena is [−0.3, 0.3]² m with ExoRL-style four rooms:
 * a cross of walls (0.02 m thick) along x = 0 and y = 0, each arm with one 0.08 m gap,
 * so each room opens to its two neighbours. One environment step is 10 MuJoCo steps of
 * 2 ms (0.02 s, ≤ 0.02 m of travel).
 *
 * Purity: step() writes (x, y, vx, vy) into qpos/qvel, zeroes the warm start and time,
 * sets ctrl, calls mj_step 10 times and reads qpos/qvel back — the next state depends on
 * the state vector and action only. The mjModel/mjData pair is owned by the env and
 * reused (the env is therefore not shared between threads).
 */
#include "mujoco_env.h"
#include "pngenc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<mujoco/mujoco.h>)
#include <mujoco/mujoco.h>
#define RL_HAVE_MUJOCO 1
#else
#define RL_HAVE_MUJOCO 0
#endif

#define N_SUB 10
#define GAP_LO 0.12f /* each wall arm is open for |coordinate| in [GAP_LO, GAP_HI] */
#define GAP_HI 0.20f

static const char maze_xml[] =
    "<mujoco model=\"rz-pointmass-maze\">\n"
    "  <option timestep=\"0.002\" gravity=\"0 0 0\" integrator=\"Euler\"/>\n"
    "  <default><geom rgba=\".3 .3 .3 1\" friction=\"0 0 0\" condim=\"1\"/></default>\n"
    "  <worldbody>\n"
    "    <geom name=\"wall_n\" type=\"box\" pos=\"0 .31 .02\" size=\".32 .01 .02\"/>\n"
    "    <geom name=\"wall_s\" type=\"box\" pos=\"0 -.31 .02\" size=\".32 .01 .02\"/>\n"
    "    <geom name=\"wall_e\" type=\"box\" pos=\".31 0 .02\" size=\".01 .32 .02\"/>\n"
    "    <geom name=\"wall_w\" type=\"box\" pos=\"-.31 0 .02\" size=\".01 .32 .02\"/>\n"
    /* vertical arm x = 0: solid for |y| < 0.12 and 0.2 < |y| < 0.3 */
    "    <geom name=\"v_mid\" type=\"box\" pos=\"0 0 .02\" size=\".01 .12 .02\"/>\n"
    "    <geom name=\"v_top\" type=\"box\" pos=\"0 .25 .02\" size=\".01 .05 .02\"/>\n"
    "    <geom name=\"v_bot\" type=\"box\" pos=\"0 -.25 .02\" size=\".01 .05 .02\"/>\n"
    /* horizontal arm y = 0: solid for 0.2 < |x| < 0.3 (the middle is the vertical arm's) */
    "    <geom name=\"h_left\" type=\"box\" pos=\"-.25 0 .02\" size=\".05 .01 .02\"/>\n"
    "    <geom name=\"h_right\" type=\"box\" pos=\".25 0 .02\" size=\".05 .01 .02\"/>\n"
    "    <geom name=\"h_lmid\" type=\"box\" pos=\"-.06 0 .02\" size=\".06 .01 .02\"/>\n"
    "    <geom name=\"h_rmid\" type=\"box\" pos=\".06 0 .02\" size=\".06 .01 .02\"/>\n"
    "    <body name=\"mass\" pos=\"0 0 .02\">\n"
    "      <joint name=\"x\" type=\"slide\" axis=\"1 0 0\" damping=\"1\"/>\n"
    "      <joint name=\"y\" type=\"slide\" axis=\"0 1 0\" damping=\"1\"/>\n"
    "      <geom name=\"ball\" type=\"sphere\" size=\".01\" mass=\".3\" rgba=\"1 .2 .2 1\"/>\n"
    "    </body>\n"
    "  </worldbody>\n"
    "  <actuator>\n"
    "    <motor joint=\"x\" gear=\"1\" ctrllimited=\"true\" ctrlrange=\"-1 1\"/>\n"
    "    <motor joint=\"y\" gear=\"1\" ctrllimited=\"true\" ctrlrange=\"-1 1\"/>\n"
    "  </actuator>\n"
    "</mujoco>\n";

const char *rl_mj_xml(void) { return maze_xml; }

/* Free space test used by resets and state checks: inside the arena and at least the
 * ball's radius (+ margin) away from every wall box. */
int rl_mj_in_wall(float x, float y, float margin)
{
    float r = 0.01f + margin;
    if (fabsf(x) > 0.3f - r || fabsf(y) > 0.3f - r) return 1;
    int near_v = fabsf(x) < 0.01f + r, near_h = fabsf(y) < 0.01f + r;
    if (near_v && !(fabsf(y) > GAP_LO + r && fabsf(y) < GAP_HI - r)) return 1;
    if (near_h && !(fabsf(x) > GAP_LO + r && fabsf(x) < GAP_HI - r)) return 1;
    return 0;
}

int rl_mj_in_room0(const float *xy) { return xy[0] < 0 && xy[1] > 0; }

void rl_mj_goal(int k, float *xy)
{
    xy[0] = (k & 1) ? 0.15f : -0.15f;
    xy[1] = (k & 2) ? -0.15f : 0.15f;
}

int rl_mj_check_state(const rl_env *env, const float *s)
{
    (void)env;
    for (int i = 0; i < 4; i++)
        if (!isfinite(s[i])) return 0;
    return fabsf(s[0]) <= 0.3f && fabsf(s[1]) <= 0.3f && fabsf(s[2]) <= 10 && fabsf(s[3]) <= 10;
}

void rl_mj_reset(const rl_env *env, rz_rng *rng, float *state)
{
    (void)env;
    do {
        state[0] = (float)(0.6 * rz_rng_uniform(rng) - 0.3);
        state[1] = (float)(0.6 * rz_rng_uniform(rng) - 0.3);
    } while (rl_mj_in_wall(state[0], state[1], 0.005f));
    state[2] = state[3] = 0;
}

#if RL_HAVE_MUJOCO
typedef struct {
    mjModel *m;
    mjData *d;
} mj_pair;

int rl_mj_make(rl_env *env, rz_err *e)
{
    mjVFS *vfs = malloc(sizeof *vfs);
    if (!vfs) return rz_fail(e, RZ_EINTERNAL, "out of memory");
    mj_defaultVFS(vfs);
    int len = (int)strlen(maze_xml);
    if (mj_makeEmptyFileVFS(vfs, "maze.xml", len) != 0) {
        free(vfs);
        return rz_fail(e, RZ_EINTERNAL, "MuJoCo: cannot create the virtual model file");
    }
    int fi = mj_findFileVFS(vfs, "maze.xml");
    memcpy(vfs->filedata[fi], maze_xml, len);
    char err[1000] = "";
    mjModel *m = mj_loadXML("maze.xml", vfs, err, sizeof err);
    mj_deleteVFS(vfs);
    free(vfs);
    if (!m) return rz_fail(e, RZ_EINTERNAL, "MuJoCo: the maze model does not compile: %s", err);
    mj_pair *p = malloc(sizeof *p);
    if (!p) {
        mj_deleteModel(m);
        return rz_fail(e, RZ_EINTERNAL, "out of memory");
    }
    p->m = m;
    p->d = mj_makeData(m);
    if (!p->d) {
        mj_deleteModel(m);
        free(p);
        return rz_fail(e, RZ_EINTERNAL, "MuJoCo: mj_makeData failed");
    }
    env->kind = RL_POINTMASS;
    env->ops = &rl_pointmass_ops;
    snprintf(env->name, sizeof env->name, "pointmass-maze");
    env->state_dim = 4;
    env->obs_dim = 4;
    env->n_actions = 0;
    env->act_dim = 2;
    env->horizon = 250;      /* 5 s: about four arena crossings at full speed */
    env->episode_len = 250;
    env->mj = p;
    return RZ_OK;
}

void rl_mj_free(rl_env *env)
{
    mj_pair *p = env->mj;
    if (!p) return;
    mj_deleteData(p->d);
    mj_deleteModel(p->m);
    free(p);
    env->mj = NULL;
}

static void put_state(mj_pair *p, const float *s)
{
    mjData *d = p->d;
    d->time = 0;
    d->qpos[0] = s[0];
    d->qpos[1] = s[1];
    d->qvel[0] = s[2];
    d->qvel[1] = s[3];
    mju_zero(d->qacc_warmstart, p->m->nv);
    mju_zero(d->act, p->m->na);
}

static void get_state(const mj_pair *p, float *s)
{
    s[0] = (float)p->d->qpos[0];
    s[1] = (float)p->d->qpos[1];
    s[2] = (float)p->d->qvel[0];
    s[3] = (float)p->d->qvel[1];
}

int rl_mj_step(const rl_env *env, const float *state, const float *action, float *next, rz_err *e)
{
    mj_pair *p = env->mj;
    if (!rl_mj_check_state(env, state))
        return rz_fail(e, RZ_EINPUT, "pointmass-maze: state (%g, %g, %g, %g) is outside the arena or not finite",
                       state[0], state[1], state[2], state[3]);
    put_state(p, state);
    p->d->ctrl[0] = action[0];
    p->d->ctrl[1] = action[1];
    for (int k = 0; k < N_SUB; k++) mj_step(p->m, p->d);
    get_state(p, next);
    /* Numerical safety: contacts keep the ball inside; clamp float rounding at the edge. */
    for (int i = 0; i < 2; i++) next[i] = fmaxf(-0.3f, fminf(0.3f, next[i]));
    if (!rl_mj_check_state(env, next))
        return rz_fail(e, RZ_EINTERNAL, "pointmass-maze: simulation left the arena");
    return RZ_OK;
}

int rl_mj_roundtrip(const rl_env *env, const float *state, float *back)
{
    mj_pair *p = env->mj;
    put_state(p, state);
    mj_forward(p->m, p->d);
    get_state(p, back);
    return 0;
}
#else
int rl_mj_make(rl_env *env, rz_err *e)
{
    (void)env;
    return rz_fail(e, RZ_EINPUT, "pointmass-maze: this build has no MuJoCo (install libmujoco-dev)");
}
void rl_mj_free(rl_env *env) { (void)env; }
int rl_mj_step(const rl_env *env, const float *state, const float *action, float *next, rz_err *e)
{
    (void)env, (void)state, (void)action, (void)next;
    return rz_fail(e, RZ_EINPUT, "pointmass-maze: no MuJoCo in this build");
}
int rl_mj_roundtrip(const rl_env *env, const float *state, float *back)
{
    (void)env, (void)state, (void)back;
    return -1;
}
#endif

/* ---- picture: 300 × 300 px, 500 px per metre ------------------------------------------ */
static void dot(unsigned char *img, int W, float x, float y, int rad, int r, int g, int b)
{
    int cx = (int)((x + 0.3f) * 500), cy = (int)((0.3f - y) * 500);
    for (int dy = -rad; dy <= rad; dy++)
        for (int dx = -rad; dx <= rad; dx++) {
            int px = cx + dx, py = cy + dy;
            if (px < 0 || py < 0 || px >= W || py >= W || dx * dx + dy * dy > rad * rad) continue;
            unsigned char *q = img + ((size_t)py * W + px) * 3;
            q[0] = r, q[1] = g, q[2] = b;
        }
}

int rl_mj_render(const rl_env *env, const float *goal, int n_traj, int len, const float *traj,
                 const char *path, rz_err *e)
{
    const int W = 300;
    unsigned char *img = rz_malloc((size_t)W * W * 3, e);
    if (!img) return RZ_EINTERNAL;
    for (int py = 0; py < W; py++)
        for (int px = 0; px < W; px++) {
            float x = px / 500.0f - 0.3f, y = 0.3f - py / 500.0f;
            int wall = rl_mj_in_wall(x, y, -0.01f);
            unsigned char *q = img + ((size_t)py * W + px) * 3;
            q[0] = q[1] = q[2] = wall ? 40 : 245;
        }
    if (goal) dot(img, W, goal[0], goal[1], (int)(RL_MJ_GOAL_RADIUS * 500), 250, 170, 170);
    static const int pal[8][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                                  {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {23, 190, 207}};
    for (int i = 0; i < n_traj; i++)
        for (int t = 0; t < len; t++) {
            const float *s = traj + ((size_t)i * len + t) * env->state_dim;
            dot(img, W, s[0], s[1], t == 0 ? 4 : 1, pal[i % 8][0], pal[i % 8][1], pal[i % 8][2]);
        }
    int rc = rz_png_write(path, W, W, img, e);
    free(img);
    return rc;
}

/* ---- the kind's ops (env.h) ---------------------------------------------------------- */
static int pm_make(rl_env *env, const char *spec, double slip, rz_err *e)
{
    (void)spec;
    memset(env, 0, sizeof *env);
    if (slip != 0) return rz_fail(e, RZ_EINPUT, "pointmass-maze: --slip applies to grid worlds only");
    return rl_mj_make(env, e);
}

static int pm_check_action(const rl_env *env, const float *action)
{
    for (int k = 0; k < env->act_dim; k++)
        if (!(action[k] >= -1 && action[k] <= 1)) return 0;
    return 1;
}

static int pm_step(const rl_env *env, const float *state, const float *action, rz_rng *rng, float *next, rz_err *e)
{
    (void)rng; /* deterministic dynamics */
    return rl_mj_step(env, state, action, next, e);
}

static void pm_obs(const rl_env *env, const float *state, float *obs)
{
    memcpy(obs, state, (size_t)env->obs_dim * sizeof(float));
}

/* The four room goals; no reward tasks. */
static int pm_tasks(const rl_env *env, int goals, int rewards, rl_task **tasks, int *n, rz_err *e)
{
    (void)env;
    (void)rewards;
    static const char *names[4] = {"reach-top-left", "reach-top-right", "reach-bottom-left", "reach-bottom-right"};
    int cnt = goals ? 4 : 0;
    if (cnt == 0) return rz_fail(e, RZ_EINPUT, "pointmass-maze: only goal tasks exist (use --tasks goals)");
    rl_task *t = rz_calloc(cnt, sizeof *t, e);
    if (!t) return RZ_EINTERNAL;
    for (int k = 0; k < cnt; k++) {
        snprintf(t[k].name, sizeof t[k].name, "%s", names[k]);
        t[k].is_goal = 1;
        rl_mj_goal(k, t[k].goal);
        t[k].radius = RL_MJ_GOAL_RADIUS;
    }
    *tasks = t;
    *n = cnt;
    return RZ_OK;
}

static double pm_reward(const rl_env *env, const rl_task *task, const float *state)
{
    return rl_task_success(env, task, state) ? 1.0 : 0.0;
}

static int pm_success(const rl_env *env, const rl_task *task, const float *state)
{
    (void)env;
    double dx = state[0] - task->goal[0], dy = state[1] - task->goal[1];
    return dx * dx + dy * dy <= task->radius * task->radius;
}

static int pm_in_room0(const rl_env *env, const float *state)
{
    (void)env;
    return rl_mj_in_room0(state);
}

const rl_env_ops rl_pointmass_ops = {
    .spec = "pointmass-maze",
    .action_range = "[-1, 1]",
    .make = pm_make,
    .free = rl_mj_free,
    .reset = rl_mj_reset,
    .check_state = rl_mj_check_state,
    .check_action = pm_check_action,
    .step = pm_step,
    .obs = pm_obs,
    .tasks = pm_tasks,
    .reward = pm_reward,
    .success = pm_success,
    .in_room0 = pm_in_room0,
    .collect_scratch = NULL,
    .collect_act = NULL, /* uniform in [-1, 1] (rl_collect's default) */
    .confine_room = 1,
};
