/* tracking.h — tracking evaluation: follow an expert trajectory zero-shot.
 *
 * For trajectory s^e_0 … s^e_T (states of an expert stream, expert.h): the agent starts
 * at s^e_0; at step t it acts on its observation and on the window of the expert's next
 * L states, s^e_{t+1} … s^e_{t+L} (clamped to the trajectory's end: the last L states, or
 * all that remain when T < L), and steps the environment. The score of an episode is
 *     dist = (1/T) Σ_{t=1..T} ‖o_t[0:dims] − o^e_t[0:dims]‖₂
 * over the first dims observation components (the maze: dims 2, the position in metres;
 * the humanoid: dims 26, its qpos without the root x/y — root height, orientation and
 * the 21 joint angles). An episode is upright when none of its states is terminal
 * (rl_env_terminal: the humanoid never fell); a fallen agent keeps being stepped to the
 * trajectory's end, so every episode's dist averages over the same T steps.
 * For an FB agent the window is its z (rl_track_fb): z_t = √d·normalize(mean over the
 * window of √d·normalize(B(o))) — FB-CPR's expert embedding (fbcpr_encode_expert) when B
 * is l2-normalised (bnorm, the default).
 */
#ifndef RZ_RL_TRACKING_H
#define RZ_RL_TRACKING_H

#include "env.h"
#include "expert.h"
#include "fb.h"
#include "rz.h"

/* A tracking policy: action for observation obs given the window (n × obs_dim). */
typedef int (*rl_track_fn)(void *ctx, const float *obs, int n, const float *window, float *act, rz_err *e);

/* Tracks trajectories first … first + count − 1 of x; per (count, may be NULL) receives
 * each episode's dist; *mean their mean; *upright (may be NULL) the fraction of the
 * episodes that stayed upright (1 for kinds without terminal states). path (may be NULL): count × (T_max + 1) × state_dim
 * rollout states for pictures, T_max = longest trajectory − 1 (rows past an episode's
 * end repeat its last state). */
int rl_track_eval(const rl_env *env, const rl_expert *x, int first, int count, int L, int dims, rl_track_fn pol,
                  void *ctx, double *per, double *mean, double *upright, float *path, rz_err *e);

/* Uniform random actions in [−1, 1] (continuous kinds), the floor a policy must beat:
 * ctx is an rl_track_random (act_dim and its own RNG, so the draws do not depend on
 * the environment's). */
typedef struct {
    int act_dim;
    rz_rng rng;
} rl_track_random;
int rl_track_random_act(void *ctx, const float *obs, int n, const float *window, float *act, rz_err *e);

/* The same floor on a reward or goal task, as fb_eval_task scores an agent: `episodes`
 * episodes from the starts fb_eval_task draws with this seed (never the goal itself),
 * uniform random actions (their RNG seeded from seed too); res->ret the mean return,
 * res->success for goals; res->opt and res->norm NAN (grids have discrete actions and no
 * place here: continuous kinds only). */
int rl_eval_random(const rl_env *env, const rl_task *task, int episodes, uint64_t seed, fb_task_result *res, rz_err *e);

/* A goal task scored as fb_eval_task does (same starts, success, return) but with z
 * inferred from labels instead of z = B(goal): the goal's reward (1 within its radius)
 * on the n_labels label states and z = fb_infer_z_reward — the mean B of the data
 * states at the goal whatever their velocity, where B(goal) embeds the goal at rest.
 * No label at the goal: z = 0 (fb_infer_z_reward's convention). A diagnostic of goal
 * inference (`rz-agent eval --goal-z labels`). */
int rl_eval_goal_labels(fb_agent *a, const rl_env *env, const rl_task *task, int n_labels, const float *labels,
                        int episodes, uint64_t seed, fb_task_result *res, rz_err *e);

/* The FB policy for rl_track_eval: ctx is the fb_agent. */
int rl_track_fb(void *ctx, const float *obs, int n, const float *window, float *act, rz_err *e);

#endif
