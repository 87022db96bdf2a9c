/* tracking.h — tracking evaluation: follow an expert trajectory zero-shot.
 *
 * For trajectory s^e_0 … s^e_T (states of an expert stream, expert.h): the agent starts
 * at s^e_0; at step t it acts on its observation and on the window of the expert's next
 * L states, s^e_{t+1} … s^e_{t+L} (clamped to the trajectory's end: the last L states, or
 * all that remain when T < L), and steps the environment. The score of an episode is
 *     dist = (1/T) Σ_{t=1..T} ‖o_t[0:dims] − o^e_t[0:dims]‖₂
 * over the first dims observation components (the maze: dims 2, the position in metres).
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
 * each episode's dist; *mean their mean. path (may be NULL): count × (T_max + 1) × state_dim
 * rollout states for pictures, T_max = longest trajectory − 1 (rows past an episode's
 * end repeat its last state). */
int rl_track_eval(const rl_env *env, const rl_expert *x, int first, int count, int L, int dims, rl_track_fn pol,
                  void *ctx, double *per, double *mean, float *path, rz_err *e);

/* The FB policy for rl_track_eval: ctx is the fb_agent. */
int rl_track_fb(void *ctx, const float *obs, int n, const float *window, float *act, rz_err *e);

#endif
