/* humanoid.c — MuJoCo's humanoid as an environment kind (contract in humanoid.h).
 *
 * The model is compiled once by rl_hum_make; the mjModel/mjData pair is owned by the env
 * and reused by step(), the rewards that need forward kinematics and the pictures (the
 * env is therefore not shared between threads: one env per worker). Every use starts
 * from put_state(), which overwrites everything mj_step reads, so no call depends on an
 * earlier one.
 */
#include "humanoid.h"

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

static double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

/* Goal poses: hinge angles in degrees by name; unnamed hinges 0. A crouch: hips flexed
 * 45°, knees 90°, ankles −45° so the feet stay flat (the foot's pitch is hip − knee +
 * ankle about +y; the knee's axis is −y) and the torso upright over the feet. Arms up:
 * the shoulder angles that put both hands highest (found by a grid search over the
 * shoulders' ranges with rl_hum_hand_heights; the elbows straight). Both at once: the
 * PD servo holds it too. No goal is the standing pose itself: every episode starts
 * there (rl_env_reset), so it would be reached before any action. */
typedef struct {
    const char *name;
    const char *joint[10];
    double deg[10];
} hum_pose;
static const hum_pose poses[] = {
    {"pose-crouch", {"right_hip_y", "left_hip_y", "right_knee", "left_knee", "right_ankle_y", "left_ankle_y"},
     {-45, -45, -90, -90, -45, -45}},
    {"pose-arms-up", {"right_shoulder1", "right_shoulder2", "left_shoulder1", "left_shoulder2"}, {-85, -25, 85, 25}},
    {"pose-crouch-arms-up",
     {"right_hip_y", "left_hip_y", "right_knee", "left_knee", "right_ankle_y", "left_ankle_y", "right_shoulder1",
      "right_shoulder2", "left_shoulder1", "left_shoulder2"},
     {-45, -45, -90, -90, -45, -45, -85, -25, 85, 25}},
};
#define N_POSES ((int)(sizeof poses / sizeof *poses))

#if RL_HAVE_MUJOCO
typedef struct {
    mjModel *m;
    mjData *d;
    int nj;                         /* actuated hinges */
    int qadr[RL_HUM_MAX_JOINTS];    /* qpos address of hinge j (motor order) */
    int vadr[RL_HUM_MAX_JOINTS];    /* qvel address */
    int jid[RL_HUM_MAX_JOINTS];     /* MuJoCo joint id */
    double stand_z;                 /* root height of the standing pose */
    int hand[2];                    /* body ids of right_hand, left_hand (−1: none) */
} hum_sim;

static hum_sim *sim(const rl_env *env) { return env->mj; }

static void put_state(const hum_sim *p, const float *s)
{
    mjModel *m = p->m;
    mjData *d = p->d;
    d->time = 0;
    for (int i = 0; i < m->nq; i++) d->qpos[i] = s[i];
    for (int i = 0; i < m->nv; i++) d->qvel[i] = s[m->nq + i];
    mju_zero(d->qacc_warmstart, m->nv);
    mju_zero(d->ctrl, m->nu);
    if (m->na) mju_zero(d->act, m->na);
    memset(d->warning, 0, sizeof d->warning);
}

static void get_state(const hum_sim *p, float *s)
{
    const mjModel *m = p->m;
    for (int i = 0; i < m->nq; i++) s[i] = (float)p->d->qpos[i];
    for (int i = 0; i < m->nv; i++) s[m->nq + i] = (float)p->d->qvel[i];
}

/* Lowest point of the body's geoms (capsules and spheres; others by their bounding
 * radius) after mj_kinematics. */
static double lowest_point(const hum_sim *p)
{
    const mjModel *m = p->m;
    const mjData *d = p->d;
    double low = INFINITY;
    for (int g = 0; g < m->ngeom; g++) {
        if (m->geom_bodyid[g] == 0) continue; /* the floor */
        double z = d->geom_xpos[3 * g + 2], r = m->geom_size[3 * g];
        if (m->geom_type[g] == mjGEOM_CAPSULE)
            z -= fabs(d->geom_xmat[9 * g + 8]) * m->geom_size[3 * g + 1] + r; /* axis = local z */
        else if (m->geom_type[g] == mjGEOM_SPHERE)
            z -= r;
        else
            z -= m->geom_rbound[g];
        if (z < low) low = z;
    }
    return low;
}

/* Root height that puts the pose's lowest point on the floor (z = 0). */
static double pose_height(const hum_sim *p, const double *q)
{
    mjModel *m = p->m;
    mjData *d = p->d;
    mju_zero(d->qpos, m->nq);
    d->qpos[3] = 1; /* identity quaternion, root at the origin */
    for (int j = 0; j < p->nj; j++) d->qpos[p->qadr[j]] = q[j];
    mj_kinematics(m, d);
    return -lowest_point(p);
}

/* MuJoCo's default warning handler prints and appends to MUJOCO_LOG.TXT in the current
 * folder; the library never prints, and step() reads the same warnings from
 * mjData.warning and reports them as errors. */
static void quiet_warning(const char *msg) { (void)msg; }

int rl_hum_make(rl_env *env, const char *path, rz_err *e)
{
    mju_user_warning = quiet_warning;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rz_fail(e, RZ_EINPUT, "humanoid: cannot open the model file %s (install libmujoco-samples, or name another copy: --model PATH, or --env humanoid:PATH)",
                       path);
    fclose(f);
    char err[1000] = "";
    mjModel *m = mj_loadXML(path, NULL, err, sizeof err);
    if (!m) return rz_fail(e, RZ_EINPUT, "humanoid: %s does not compile: %s", path, err);
    const char *bad = NULL;
    if (m->njnt < 2 || m->jnt_type[0] != mjJNT_FREE) bad = "the first joint is not a free root joint";
    else if (m->nu < 1 || m->nu > RL_HUM_MAX_JOINTS) bad = "expected 1 to 32 motors";
    else if (m->nq + m->nv > RL_MAX_STATE || m->nu > RL_MAX_ACT) bad = "the state is larger than 64 floats";
    else if (m->nq - 7 != m->nu || m->nv - 6 != m->nu) bad = "expected one motor per hinge joint";
    for (int a = 0; !bad && a < m->nu; a++) {
        int j = m->actuator_trnid[2 * a];
        if (m->actuator_trntype[a] != mjTRN_JOINT || j < 0 || m->jnt_type[j] != mjJNT_HINGE)
            bad = "a motor that does not drive a hinge";
        else if (!m->actuator_ctrllimited[a] || m->actuator_ctrlrange[2 * a] != -1 || m->actuator_ctrlrange[2 * a + 1] != 1)
            bad = "a motor whose ctrlrange is not [-1, 1]";
    }
    if (bad) {
        mj_deleteModel(m);
        return rz_fail(e, RZ_EINPUT, "humanoid: %s: %s", path, bad);
    }
    hum_sim *p = calloc(1, sizeof *p);
    char *name = strdup(path);
    if (!p || !name || !(p->d = mj_makeData(m))) {
        free(p), free(name);
        mj_deleteModel(m);
        return rz_fail(e, RZ_EINTERNAL, "out of memory");
    }
    p->m = m;
    p->nj = m->nu;
    for (int a = 0; a < m->nu; a++) {
        int j = m->actuator_trnid[2 * a];
        p->jid[a] = j;
        p->qadr[a] = m->jnt_qposadr[j];
        p->vadr[a] = m->jnt_dofadr[j];
    }
    p->hand[0] = mj_name2id(m, mjOBJ_BODY, "right_hand");
    p->hand[1] = mj_name2id(m, mjOBJ_BODY, "left_hand");
    double zero[RL_HUM_MAX_JOINTS] = {0};
    p->stand_z = pose_height(p, zero);
    env->kind = RL_HUMANOID;
    env->ops = &rl_humanoid_ops;
    env->map_text = name;
    snprintf(env->name, sizeof env->name, "humanoid");
    env->state_dim = m->nq + m->nv;
    env->obs_dim = m->nq - 2 + m->nv;
    env->n_actions = 0;
    env->act_dim = m->nu;
    env->horizon = 300;     /* 7.5 s at 40 steps/s */
    env->episode_len = 300;
    env->mj = p;
    return RZ_OK;
}

static void hum_free(rl_env *env)
{
    hum_sim *p = env->mj;
    if (!p) return;
    mj_deleteData(p->d);
    mj_deleteModel(p->m);
    free(p);
    env->mj = NULL;
}

int rl_hum_joints(const rl_env *env) { return sim(env)->nj; }
const char *rl_hum_joint_name(const rl_env *env, int j)
{
    const char *s = mj_id2name(sim(env)->m, mjOBJ_JOINT, sim(env)->jid[j]);
    return s ? s : "?";
}
int rl_hum_joint_find(const rl_env *env, const char *name)
{
    for (int j = 0; j < sim(env)->nj; j++)
        if (!strcmp(rl_hum_joint_name(env, j), name)) return j;
    return -1;
}
void rl_hum_joint_range(const rl_env *env, int j, double *lo, double *hi)
{
    const mjModel *m = sim(env)->m;
    int id = sim(env)->jid[j];
    *lo = m->jnt_limited[id] ? m->jnt_range[2 * id] : -M_PI;
    *hi = m->jnt_limited[id] ? m->jnt_range[2 * id + 1] : M_PI;
}
int rl_hum_qpos_index(const rl_env *env, int j) { return sim(env)->qadr[j]; }
int rl_hum_qvel_index(const rl_env *env, int j) { return sim(env)->m->nq + sim(env)->vadr[j]; }
double rl_hum_stand_height(const rl_env *env) { return sim(env)->stand_z; }

void rl_hum_pose_state(const rl_env *env, const double *q, float *state)
{
    hum_sim *p = sim(env);
    double z = pose_height(p, q);
    memset(state, 0, (size_t)env->state_dim * sizeof(float));
    state[2] = (float)z;
    state[3] = 1;
    for (int j = 0; j < p->nj; j++) state[p->qadr[j]] = (float)q[j];
}

int rl_hum_bodies(const rl_env *env, const float *state, int max, float *xyz, int *parent)
{
    hum_sim *p = sim(env);
    put_state(p, state);
    mj_kinematics(p->m, p->d);
    int n = 0;
    for (int b = 1; b < p->m->nbody && n < max; b++, n++) {
        for (int k = 0; k < 3; k++) xyz[3 * n + k] = (float)p->d->xpos[3 * b + k];
        parent[n] = p->m->body_parentid[b] - 1; /* body b is entry b − 1; the world → −1 */
    }
    return n;
}

void rl_hum_hand_heights(const rl_env *env, const float *state, double h[2])
{
    hum_sim *p = sim(env);
    put_state(p, state);
    mj_kinematics(p->m, p->d);
    for (int k = 0; k < 2; k++) h[k] = p->hand[k] >= 0 ? p->d->xpos[3 * p->hand[k] + 2] : state[2];
}

int rl_hum_roundtrip(const rl_env *env, const float *state, float *back)
{
    hum_sim *p = sim(env);
    put_state(p, state);
    mj_forward(p->m, p->d);
    get_state(p, back);
    return 0;
}

int rl_hum_bad_entry(const rl_env *env, const float *s)
{
    const mjModel *m = sim(env)->m;
    int nq = m->nq;
    for (int i = 0; i < env->state_dim; i++)
        if (!isfinite(s[i])) return i;
    if (fabsf(s[0]) > 1e4f) return 0;
    if (fabsf(s[1]) > 1e4f) return 1;
    if (s[2] < -1 || s[2] > 10) return 2;
    double qn = (double)s[3] * s[3] + (double)s[4] * s[4] + (double)s[5] * s[5] + (double)s[6] * s[6];
    if (fabs(qn - 1) > 1e-2) return 3; /* float rounding leaves ~1e-7; MuJoCo renormalises */
    for (int j = 0; j < sim(env)->nj; j++) {
        double lo, hi;
        rl_hum_joint_range(env, j, &lo, &hi);
        int i = sim(env)->qadr[j];
        /* MuJoCo's joint limits are soft: a crash into the floor pushes hinges past them
         * (an ankle 1.15 rad past its ±50° stopped a 1M-step run when the slack was 1 rad).
         * Half a turn past a limit is no pose of this body: that bounds hostile input
         * while every state the simulator reaches passes. */
        if (s[i] < lo - M_PI || s[i] > hi + M_PI) return i;
    }
    for (int i = nq; i < env->state_dim; i++)
        if (fabsf(s[i]) > 1e3f) return i;
    return -1;
}

/* One environment step: ctrl from action (held), or — action NULL — from the PD law
 * on qref recomputed before every MuJoCo step. */
static int sim_step(const rl_env *env, const float *state, const float *action, const double *qref, double kp,
                    double kd, float *next, rz_err *e)
{
    hum_sim *p = sim(env);
    int bad = rl_hum_bad_entry(env, state);
    if (bad >= 0)
        return rz_fail(e, RZ_EINPUT, "humanoid: state entry %d (%s[%d]) = %g is not a valid humanoid state", bad,
                       bad < p->m->nq ? "qpos" : "qvel", bad < p->m->nq ? bad : bad - p->m->nq, state[bad]);
    put_state(p, state);
    if (action)
        for (int a = 0; a < p->m->nu; a++) p->d->ctrl[a] = action[a];
    for (int k = 0; k < RL_HUM_NSUB; k++) {
        if (!action)
            for (int a = 0; a < p->nj; a++) {
                double u = kp * (qref[a] - p->d->qpos[p->qadr[a]]) - kd * p->d->qvel[p->vadr[a]];
                p->d->ctrl[a] = u > 1 ? 1 : u < -1 ? -1 : u;
            }
        mj_step(p->m, p->d);
    }
    /* MuJoCo resets mjData itself when the accelerations blow up: a silent jump back to
     * the model's start pose, so it is reported instead. */
    if (p->d->warning[mjWARN_BADQACC].number || p->d->warning[mjWARN_BADQPOS].number ||
        p->d->warning[mjWARN_BADQVEL].number)
        return rz_fail(e, RZ_EINTERNAL, "humanoid: the simulation diverged (MuJoCo reset its state)");
    get_state(p, next);
    bad = rl_hum_bad_entry(env, next);
    if (bad >= 0) return rz_fail(e, RZ_EINTERNAL, "humanoid: the simulation left the valid states (entry %d = %g)", bad, next[bad]);
    return RZ_OK;
}

static int hum_step(const rl_env *env, const float *state, const float *action, rz_rng *rng, float *next, rz_err *e)
{
    (void)rng; /* deterministic dynamics */
    return sim_step(env, state, action, NULL, 0, 0, next, e);
}

int rl_hum_pd_step(const rl_env *env, const float *state, const double *qref, double kp, double kd, float *next,
                   rz_err *e)
{
    return sim_step(env, state, NULL, qref, kp, kd, next, e);
}

int rl_hum_fall_state(const rl_env *env, rz_rng *rng, int steps, float *state, rz_err *e)
{
    hum_sim *p = sim(env);
    mjModel *m = p->m;
    mjData *d = p->d;
    double q[4], n2;
    do { /* four normals, normalised: a uniformly random rotation */
        n2 = 0;
        for (int k = 0; k < 4; k++) q[k] = rz_rng_normal(rng), n2 += q[k] * q[k];
    } while (n2 < 1e-12);
    mju_zero(d->qpos, m->nq);
    for (int k = 0; k < 4; k++) d->qpos[3 + k] = q[k] / sqrt(n2);
    mj_kinematics(m, d);
    double z = RL_HUM_DROP - lowest_point(p); /* the lowest point RL_HUM_DROP above the floor */
    for (int i = 0; i < env->state_dim; i++) state[i] = 0;
    state[2] = (float)z;
    for (int k = 0; k < 4; k++) state[3 + k] = (float)d->qpos[3 + k];
    float a[RL_MAX_ACT], next[RL_MAX_STATE];
    for (int t = 0; t < steps; t++) {
        for (int j = 0; j < m->nu; j++) a[j] = (float)(rz_rng_uniform(rng) - 0.5);
        int rc = sim_step(env, state, a, NULL, 0, 0, next, e);
        if (rc) return rc;
        memcpy(state, next, (size_t)env->state_dim * sizeof(float));
    }
    return RZ_OK;
}
#else
int rl_hum_fall_state(const rl_env *env, rz_rng *rng, int steps, float *state, rz_err *e)
{
    (void)env, (void)rng, (void)steps, (void)state;
    return rz_fail(e, RZ_EINPUT, "humanoid: no MuJoCo in this build");
}
int rl_hum_pd_step(const rl_env *env, const float *state, const double *qref, double kp, double kd, float *next,
                   rz_err *e)
{
    (void)env, (void)state, (void)qref, (void)kp, (void)kd, (void)next;
    return rz_fail(e, RZ_EINPUT, "humanoid: no MuJoCo in this build");
}
int rl_hum_make(rl_env *env, const char *path, rz_err *e)
{
    (void)env, (void)path;
    return rz_fail(e, RZ_EINPUT, "humanoid: this build has no MuJoCo (install libmujoco-dev)");
}
static void hum_free(rl_env *env) { (void)env; }
int rl_hum_joints(const rl_env *env) { return (void)env, 0; }
const char *rl_hum_joint_name(const rl_env *env, int j) { return (void)env, (void)j, "?"; }
int rl_hum_joint_find(const rl_env *env, const char *name) { return (void)env, (void)name, -1; }
void rl_hum_joint_range(const rl_env *env, int j, double *lo, double *hi) { (void)env, (void)j, *lo = *hi = 0; }
int rl_hum_qpos_index(const rl_env *env, int j) { return (void)env, j; }
int rl_hum_qvel_index(const rl_env *env, int j) { return (void)env, j; }
double rl_hum_stand_height(const rl_env *env) { return (void)env, 0; }
void rl_hum_pose_state(const rl_env *env, const double *q, float *state) { (void)env, (void)q, (void)state; }
int rl_hum_bodies(const rl_env *env, const float *state, int max, float *xyz, int *parent)
{
    return (void)env, (void)state, (void)max, (void)xyz, (void)parent, 0;
}
void rl_hum_hand_heights(const rl_env *env, const float *state, double h[2]) { (void)env, (void)state, h[0] = h[1] = 0; }
int rl_hum_roundtrip(const rl_env *env, const float *state, float *back) { return (void)env, (void)state, (void)back, -1; }
int rl_hum_bad_entry(const rl_env *env, const float *state) { return (void)env, (void)state, 0; }
static int hum_step(const rl_env *env, const float *state, const float *action, rz_rng *rng, float *next, rz_err *e)
{
    (void)env, (void)state, (void)action, (void)rng, (void)next;
    return rz_fail(e, RZ_EINPUT, "humanoid: no MuJoCo in this build");
}
#endif

/* ---- the kind's ops (env.h) ---------------------------------------------------------- */
static int hum_make_spec(rl_env *env, const char *spec, double slip, rz_err *e)
{
    memset(env, 0, sizeof *env);
    if (slip != 0) return rz_fail(e, RZ_EINPUT, "humanoid: --slip applies to grid worlds only");
    const char *colon = strchr(spec, ':');
    return rl_hum_make(env, colon ? colon + 1 : RL_HUM_MODEL_DEFAULT, e);
}

static int hum_check_state(const rl_env *env, const float *state) { return rl_hum_bad_entry(env, state) < 0; }

static int hum_check_action(const rl_env *env, const float *action)
{
    for (int k = 0; k < env->act_dim; k++)
        if (!(action[k] >= -1 && action[k] <= 1)) return 0;
    return 1;
}

static void hum_reset(const rl_env *env, rz_rng *rng, float *state)
{
    double q[RL_HUM_MAX_JOINTS] = {0};
    rl_hum_pose_state(env, q, state);
    int nj = rl_hum_joints(env);
    for (int j = 0; j < nj; j++) state[rl_hum_qpos_index(env, j)] += (float)(0.02 * rz_rng_uniform(rng) - 0.01);
    for (int i = env->state_dim - (nj + 6); i < env->state_dim; i++) state[i] = (float)(0.02 * rz_rng_uniform(rng) - 0.01);
}

static void hum_obs(const rl_env *env, const float *state, float *obs)
{
    /* drop root x, y: qpos[2..nq) then qvel */
    for (int i = 0; i < env->obs_dim; i++) {
        float v = state[i + 2];
        obs[i] = v > RL_HUM_OBS_CLIP ? RL_HUM_OBS_CLIP : v < -RL_HUM_OBS_CLIP ? -RL_HUM_OBS_CLIP : v;
    }
}

static int hum_terminal(const rl_env *env, const float *state)
{
    (void)env;
    return state[2] < RL_HUM_FALL_Z;
}

static int hum_tasks(const rl_env *env, int goals, int rewards, rl_task **tasks, int *n, rz_err *e)
{
    static const struct {
        const char *name;
        int fn;
        double target;
    } rw[] = {{"stand", RL_HUM_TASK_STAND, 0},
              {"move-forward-1", RL_HUM_TASK_MOVE, 1},
              {"move-forward-2", RL_HUM_TASK_MOVE, 2},
              {"move-backward-1", RL_HUM_TASK_MOVE, -1},
              {"raise-arms", RL_HUM_TASK_ARMS, 0}};
    int nr = rewards ? (int)(sizeof rw / sizeof *rw) : 0, ng = goals ? N_POSES : 0;
    rl_task *t = rz_calloc((size_t)(nr + ng), sizeof *t, e);
    if (!t) return RZ_EINTERNAL;
    for (int k = 0; k < nr; k++) {
        snprintf(t[k].name, sizeof t[k].name, "%s", rw[k].name);
        t[k].fn = rw[k].fn;
        t[k].target = rw[k].target;
    }
    for (int k = 0; k < ng; k++) {
        rl_task *g = &t[nr + k];
        double q[RL_HUM_MAX_JOINTS] = {0};
        for (int i = 0; i < 10 && poses[k].joint[i]; i++) {
            int j = rl_hum_joint_find(env, poses[k].joint[i]);
            if (j >= 0) q[j] = poses[k].deg[i] * M_PI / 180;
        }
        snprintf(g->name, sizeof g->name, "%s", poses[k].name);
        g->is_goal = 1;
        g->fn = RL_HUM_TASK_POSE;
        rl_hum_pose_state(env, q, g->goal);
    }
    *tasks = t;
    *n = nr + ng;
    return RZ_OK;
}

/* h · … of humanoid.h, from the state arrived in. */
static double standing(const float *s)
{
    double up = 1 - 2 * ((double)s[4] * s[4] + (double)s[5] * s[5]);
    return clamp01((s[2] - RL_HUM_FALL_Z) / (RL_HUM_HIGH_Z - RL_HUM_FALL_Z)) * clamp01(up);
}

static int hum_success(const rl_env *env, const rl_task *task, const float *s)
{
    int nj = rl_hum_joints(env);
    double se = 0;
    for (int j = 0; j < nj; j++) {
        int i = rl_hum_qpos_index(env, j);
        se += ((double)s[i] - task->goal[i]) * ((double)s[i] - task->goal[i]);
    }
    double up = 1 - 2 * ((double)s[4] * s[4] + (double)s[5] * s[5]);
    return sqrt(se / nj) < 0.2 && fabs((double)s[2] - task->goal[2]) < 0.1 && up > 0.9;
}

static double hum_reward(const rl_env *env, const rl_task *task, const float *s)
{
    int nq = env->state_dim - (env->act_dim + 6);
    double vx = s[nq], vy = s[nq + 1];
    switch (task->fn) {
    case RL_HUM_TASK_STAND: return standing(s) * clamp01(1 - sqrt(vx * vx + vy * vy) / 0.5);
    case RL_HUM_TASK_MOVE: return standing(s) * clamp01(1 - fabs(vx - task->target) / fabs(task->target));
    case RL_HUM_TASK_ARMS: {
        double h[2];
        rl_hum_hand_heights(env, s, h);
        return standing(s) * 0.5 * (clamp01((h[0] - s[2]) / 0.3) + clamp01((h[1] - s[2]) / 0.3));
    }
    case RL_HUM_TASK_POSE: return hum_success(env, task, s);
    }
    return 0;
}

const rl_env_ops rl_humanoid_ops = {
    .spec = "humanoid",
    .arg = "the MuJoCo model file (default " RL_HUM_MODEL_DEFAULT ")",
    .action_range = "[-1, 1] for each of the 21 motors",
    .make = hum_make_spec,
    .free = hum_free,
    .reset = hum_reset,
    .check_state = hum_check_state,
    .check_action = hum_check_action,
    .step = hum_step,
    .obs = hum_obs,
    .tasks = hum_tasks,
    .reward = hum_reward,
    .success = hum_success,
    .terminal = hum_terminal,
    .fall_start = rl_hum_fall_state,
    .in_room0 = NULL,
    .collect_scratch = NULL,
    .collect_act = NULL, /* uniform random torques in [-1, 1] (rl_collect's default) */
    .confine_room = 0,
};
