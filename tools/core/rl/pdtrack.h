/* pdtrack.h — keyframe motions (keyframe.h) PD-tracked on the humanoid (humanoid.h)
 * into unlabelled expert trajectories (expert.h: states only).
 *
 * One trajectory: from rl_env_reset's start (standing, small noise), for each
 * environment step k the target q*(t_k) = a · keyframes(t_k / s) is followed by
 * rl_hum_pd_step (PD at MuJoCo's rate, gains kp, kd in ctrl units per rad and per
 * rad/s) for ceil(s · duration / 0.025) steps plus `hold` seconds of the last pose; the
 * states s_0 … s_T are recorded. Repeat 0 of a motion is the motion as written (s = a =
 * 1); repeat r > 0 draws the time scale s and amplitude a uniformly from
 * [1 − jitter, 1 + jitter] (seeded: the same seed gives the same bits). A trajectory
 * that falls (rl_env_terminal) ends at the last state before the fall and is kept only
 * if it has at least min_len states (FB-CPR's windows are 8 long).
 */
#ifndef RZ_RL_PDTRACK_H
#define RZ_RL_PDTRACK_H

#include <stdint.h>

#include "env.h"
#include "expert.h"
#include "keyframe.h"

typedef struct {
    double kp, kd;   /* 20, 0.1 */
    double hold;     /* s after the last frame (0.5) */
    int repeats;     /* trajectories per motion (1) */
    double jitter;   /* 0.1 */
    int min_len;     /* 8 */
    uint64_t seed;
} rl_pdtrack_opts;

void rl_pdtrack_defaults(rl_pdtrack_opts *o);

/* Column c of the keyframes drives hinge map[c]; a name the model lacks, or a value
 * outside the hinge's range, is RZ_EINPUT naming the file, line and joint. */
int rl_pdtrack_bind(const rl_env *env, const rl_keyframes *k, int *map, rz_err *e);

/* One trajectory into S (room for max_len states): *len states, *fell 1 if it ended
 * by a fall; qref (max_len × nj hinges, may be NULL) receives the targets. */
int rl_pdtrack_run(const rl_env *env, const rl_keyframes *k, const int *map, const rl_pdtrack_opts *o, double scale,
                   double amp, rz_rng *rng, int max_len, float *S, double *qref, int *len, int *fell, rz_err *e);
/* Steps a trajectory of this motion takes at time scale s (its max_len). */
int rl_pdtrack_steps(const rl_keyframes *k, const rl_pdtrack_opts *o, double scale);

/* Every motion × repeats into x (rl_expert_init'ed by the caller). kept[m] and fell[m]
 * (may be NULL) count each motion's kept trajectories and falls. */
int rl_pdtrack_expert(const rl_env *env, const rl_keyframes *motions, int n_motions, const rl_pdtrack_opts *o,
                      rl_expert *x, int *kept, int *fell, rz_err *e);

/* Picture (PNG): for up to 6 tracked joints of the motion, the target (grey) and the
 * tracked angle (colour) against time, one panel per joint, above a strip of side-view
 * stick figures (x–z plane) every 0.5 s. S: len states, qref: len × nj targets. */
int rl_pdtrack_plot(const rl_env *env, const rl_keyframes *k, const int *map, int len, const float *S,
                    const double *qref, const char *path, rz_err *e);

/* The same picture for two state sequences of len states: six joints the motions move
 * most (hips and knees in y, both shoulders) of S (colour) against a reference R (grey;
 * an expert trajectory a policy tracked), and stick figures of S. */
int rl_pdtrack_plot_vs(const rl_env *env, int len, const float *S, const float *R, const char *path, rz_err *e);

/* rl_pdtrack_plot of the motion's repeat 0 (as written), tracked from o->seed's start. */
int rl_pdtrack_picture(const rl_env *env, const rl_keyframes *k, const rl_pdtrack_opts *o, const char *path, rz_err *e);

#endif
