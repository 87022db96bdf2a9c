/* env.h — environments for rizz's zero-shot RL agents, behind one interface.
 *
 * Design: an environment is a pure transition function on an explicit state vector,
 *     next = step(state, action, rng)
 * so datasets, rollouts and tests never depend on hidden simulator state, and a
 * MuJoCo state round-trips through the same float vector. Two kinds:
 *   - grid worlds from ASCII maps ('#' wall, '.' or ' ' free), state = (col, row),
 *     observation = one-hot over the free cells, 5 discrete actions
 *     0 stay, 1 up, 2 down, 3 left, 4 right; a move into a wall or off the map stays.
 *     With slip probability p the chosen action is replaced by a uniform one of the 5.
 *     Built in: "fourrooms" (Sutton, Precup & Singh's 13×13 map, 104 free cells).
 *   - "pointmass-maze": a MuJoCo point mass (mujoco_env.h), state (x, y, vx, vy),
 *     observation = state, 2-D action in [−1, 1]².
 *   - "humanoid" or "humanoid:MODEL.xml": MuJoCo's own humanoid (humanoid.h), state
 *     (qpos, qvel), 21 torques in [−1, 1], and episodes that end when it falls
 *     (rl_env_terminal).
 * Rewards are functions of the state arrived in: an episode's return is
 * Σ_{t<T} r(s_{t+1}), undiscounted over the evaluation horizon T. For grids the exact
 * optimum of that return is computed by finite-horizon value iteration (rl_grid_vi with
 * gamma = 1, T sweeps), which normalises scores.
 *
 * Each kind is one table of functions (rl_env_ops, below: rl_grid_ops in grid.c,
 * rl_pointmass_ops in mujoco_env.c); env.c dispatches through env->ops and never
 * branches on the kind, so a new kind is a new table, not edits across env.c.
 */
#ifndef RZ_RL_ENV_H
#define RZ_RL_ENV_H

#include <stddef.h>

#include "nn.h"
#include "rz.h"

typedef enum { RL_GRID = 1, RL_POINTMASS = 2, RL_HUMANOID = 3 } rl_kind;
/* Grid observations: one-hot over free cells, plus (col, row) scaled to [−1, 1], or only
 * the coordinates. */
typedef enum { RL_OBS_ONEHOT = 0, RL_OBS_ONEHOT_XY = 1, RL_OBS_XY = 2 } rl_grid_obs;

#define RL_GRID_ACTIONS 5
#define RL_MAX_MAP 128 /* rows and columns */
/* Bounds on any kind's vectors, for fixed-size scratch (the humanoid: 55 and 21). */
#define RL_MAX_STATE 64
#define RL_MAX_ACT 32

typedef struct {
    int w, h;
    unsigned char *wall; /* h × w, 1 = wall */
    int n_free;
    int *state_of;  /* h × w: free-cell id, or −1 for a wall */
    int *cell_of;   /* n_free: row·w + col */
    int *next;      /* n_free × 5: deterministic successor id of each action */
} rl_grid;

typedef struct rl_env_ops rl_env_ops; /* a kind's functions, below */

typedef struct {
    rl_kind kind;
    const rl_env_ops *ops; /* the kind's functions (rl_grid_ops, rl_pointmass_ops) */
    char name[64];      /* "fourrooms", the map file's name, "pointmass-maze" */
    char *map_text;     /* grids: the map exactly as parsed; humanoid: the model file's
                         * path (identity for datasets) */
    double slip;        /* grids: probability of a uniformly random action */
    int state_dim;      /* grid 2, pointmass 4, humanoid nq + nv = 55 */
    int obs_dim;        /* grid n_free (+2), pointmass 4, humanoid 53 */
    rl_grid_obs grid_obs;
    int n_actions;      /* discrete: 5; continuous: 0 */
    int act_dim;        /* discrete: 1 (the index as a float); continuous: 2, humanoid 21 */
    int horizon;        /* evaluation episode length T */
    int episode_len;    /* data collection episode length */
    rl_grid grid;
    void *mj;           /* pointmass, humanoid: the kind's MuJoCo state */
} rl_env;

/* "fourrooms", "pointmass-maze", "humanoid[:MODEL.xml]" or a map file path. slip only for
 * grids (0 ≤ p ≤ 1). */
int rl_env_make(rl_env *env, const char *spec, double slip, rz_err *e);
/* A grid from map text; source names it in messages ("rooms.txt"). */
int rl_env_grid_parse(rl_env *env, const char *text, const char *source, double slip, rz_err *e);
/* A grid from a map file (what rl_env_make does with a name that is no kind's). */
int rl_env_grid_load(rl_env *env, const char *path, double slip, rz_err *e);
void rl_env_free(rl_env *env);
/* A second instance of the same environment with its own simulator state (MuJoCo's
 * mjData), for stepping on another thread: steps are pure functions of the state, so
 * both instances give the same bits. */
int rl_env_clone(const rl_env *src, rl_env *dst, rz_err *e);

/* A uniformly random start state (a free cell, or a free position in the maze). */
void rl_env_reset(const rl_env *env, rz_rng *rng, float *state);
/* next ← step(state, action). Actions are validated: a discrete index outside 0..4 or a
 * non-finite continuous action is RZ_EINPUT. */
int rl_env_step(const rl_env *env, const float *state, const float *action, rz_rng *rng,
                float *next, rz_err *e);
void rl_env_obs(const rl_env *env, const float *state, float *obs);
void rl_env_set_grid_obs(rl_env *env, rl_grid_obs mode); /* updates obs_dim */
/* Validates a state vector from a dataset (finite, a free cell / inside the arena). */
int rl_env_check_state(const rl_env *env, const float *state);
int rl_env_check_action(const rl_env *env, const float *action);
/* 1 if the episode ends in this state (the humanoid fell); kinds without an end: 0. */
int rl_env_terminal(const rl_env *env, const float *state);
/* A fallen start state (the humanoid: humanoid.h's "Fall start"); a kind without falls
 * (rl_env_has_falls 0) is RZ_EINPUT. */
int rl_env_has_falls(const rl_env *env);
int rl_env_fall_start(const rl_env *env, rz_rng *rng, int steps, float *state, rz_err *e);
/* Grid: free-cell id of a state (col,row), −1 if not a free cell. */
int rl_grid_id(const rl_env *env, const float *state);

/* ---- tasks --------------------------------------------------------------------- */
typedef struct {
    char name[48];
    int is_goal;      /* goal-reaching: success = the goal is reached */
    float goal[RL_MAX_STATE]; /* goal state (grid: col,row; pointmass: x,y; humanoid:
                               * a whole target state, qpos then zero qvel) */
    float *r;         /* grids: reward of arriving in each free cell (n_free) */
    double radius;    /* pointmass goal: success within this distance (m) */
    int fn;           /* humanoid: which reward function (humanoid.h) */
    double target;    /* humanoid: the task's set speed (m/s) */
} rl_task;

/* Task families: which = "goals" (every free cell / the four room goals of the maze),
 * "rewards" (grids: the four quadrant rooms and four corners; pointmass: none), "all". */
int rl_env_tasks(const rl_env *env, const char *which, rl_task **tasks, int *n, rz_err *e);
void rl_tasks_free(rl_task *tasks, int n);
double rl_task_reward(const rl_env *env, const rl_task *task, const float *state);
int rl_task_success(const rl_env *env, const rl_task *task, const float *state);

/* ---- exact values (grids) -------------------------------------------------------- */
/* Transition probabilities of (id, a): adds P(s'|s,a) into p[n_free] (zeroed first). */
void rl_grid_trans(const rl_env *env, int id, int a, double *p);
/* Value iteration with rewards on arrival: Q(s,a) = Σ_s' P(s'|s,a)(r(s') + γ V(s')),
 * V = max_a Q. iters sweeps (finite horizon when gamma = 1), or until the sup change is
 * below tol. V is n_free; Q (n_free × 5) may be NULL. Returns the sweeps done. */
int rl_grid_vi(const rl_env *env, const float *r, double gamma, int iters, double tol,
               double *V, double *Q);

/* ---- data collection ------------------------------------------------------------ */
typedef enum { RL_POL_RANDOM = 0, RL_POL_COVERAGE, RL_POL_ROOM, RL_POL_COUNT } rl_policy;
const char *rl_policy_name(rl_policy p);
int rl_policy_parse(const char *s, rl_policy *p); /* 0 on success */

/* n transitions into S, S2 (n × state_dim) and A (n × act_dim), in episodes of
 * env->episode_len steps (or until a terminal state) from rl_env_reset starts:
 *   random    uniform actions;
 *   coverage  grids: the least-tried action of the current cell (ties at random),
 *             pointmass: uniform actions from starts spread over the whole maze
 *             (the maze's reset is already uniform) with actions held for 5 steps;
 *   room      a uniform random walk confined to the top-left room (quadrant): moves
 *             that would leave it are never chosen — the narrow, low-quality data. */
int rl_collect(const rl_env *env, rl_policy pol, long n, uint64_t seed, float *S, float *A,
               float *S2, rz_err *e);

/* ---- kinds ----------------------------------------------------------------------- */
/* What env.c asks of a kind (grid.c: rl_grid_ops; mujoco_env.c: rl_pointmass_ops).
 * env.c never branches on the kind: rl_env_* call these, and rl_env_make picks the
 * table whose spec is the name asked for. A new kind defines one table and joins
 * env.c's kinds[]. */
struct rl_env_ops {
    const char *spec;         /* the name rl_env_make knows it by ("fourrooms") */
    const char *arg;          /* non-NULL: the kind also takes "spec:ARG" (what ARG is) */
    const char *action_range; /* a valid action, in words, for messages */
    int (*make)(rl_env *env, const char *spec, double slip, rz_err *e);
    void (*free)(rl_env *env); /* the kind's own storage (env.c frees map_text) */
    void (*reset)(const rl_env *env, rz_rng *rng, float *state);
    int (*check_state)(const rl_env *env, const float *state);
    int (*check_action)(const rl_env *env, const float *action);
    /* action already checked by check_action */
    int (*step)(const rl_env *env, const float *state, const float *action, rz_rng *rng, float *next, rz_err *e);
    void (*obs)(const rl_env *env, const float *state, float *obs);
    /* the task families asked for (at least one of goals, rewards) */
    int (*tasks)(const rl_env *env, int goals, int rewards, rl_task **tasks, int *n, rz_err *e);
    double (*reward)(const rl_env *env, const rl_task *task, const float *state);
    int (*success)(const rl_env *env, const rl_task *goal_task, const float *state); /* task->is_goal */
    int (*terminal)(const rl_env *env, const float *state); /* NULL: episodes never end early */
    /* a fallen start state after `steps` steps of falling, from rng (online.h's
     * --init-fall); NULL: the kind has no falls */
    int (*fall_start)(const rl_env *env, rz_rng *rng, int steps, float *state, rz_err *e);
    /* rl_collect: is a state in the top-left room ("room" policy); bytes of zeroed
     * scratch a policy needs (0: none); the action at step t of an episode from cur;
     * confine_room: a "room" step that leaves the room is redone from a new start.
     * in_room0 NULL: the kind has no "room" policy. collect_act NULL: actions uniform
     * in [-1, 1] per coordinate, the coverage policy holding each for 5 steps (longer
     * reach) — the continuous kinds' behaviour policy. */
    int (*in_room0)(const rl_env *env, const float *state);
    size_t (*collect_scratch)(const rl_env *env, rl_policy pol);
    void (*collect_act)(const rl_env *env, rl_policy pol, int t, const float *cur, void *scratch, rz_rng *rng,
                        float *act);
    int confine_room;
};
extern const rl_env_ops rl_grid_ops, rl_pointmass_ops, rl_humanoid_ops;

/* ---- rollouts -------------------------------------------------------------------- */
/* A policy: actions for n observations (n × obs_dim) into act (n × act_dim). */
typedef void (*rl_policy_fn)(void *ctx, int n, const float *obs, float *act);

/* E episodes of env->horizon steps from the given start states (E × state_dim):
 * ret[i] = Σ_t r(s_{t+1}), success[i] = 1 if a goal task's goal was reached. An episode
 * that reaches a terminal state (rl_env_terminal) ends there: no later rewards. */
int rl_rollout(const rl_env *env, const rl_task *task, int E, const float *starts,
               rl_policy_fn pol, void *ctx, rz_rng *rng, double *ret, int *success,
               rz_err *e);

/* ---- pictures ---------------------------------------------------------------------- */
/* Grid picture: walls black, cells shaded by val[n_free] (NULL: white), arrows for
 * act[n_free] (NULL: none), goal cell (−1: none) in red; cell = px pixels. */
int rl_grid_render(const rl_env *env, const double *val, const int *act, int goal_id, int px,
                   const char *path, rz_err *e);

#endif
