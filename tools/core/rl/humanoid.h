/* humanoid.h — MuJoCo's own humanoid (the DeepMind Control Suite model that Debian's
 * libmujoco-samples installs) as an environment kind, rl_humanoid_ops (env.h).
 *
 * Contract:
 *   - The model is read from a file: "humanoid" uses RL_HUM_MODEL_DEFAULT,
 *     "humanoid:PATH" another copy. A missing or unreadable file is RZ_EINPUT naming it.
 *     The model must have a free root joint followed by hinge joints, each driven by one
 *     motor with ctrlrange [−1, 1] (the stock file: nq 28, nv 27, 21 motors).
 *   - State = (qpos, qvel): nq + nv = 55 floats: root x y z, root quaternion w x y z, the
 *     21 hinge angles (rad), root linear velocity (world frame), root angular velocity
 *     (body frame), the 21 hinge rates. step() writes the state into mjData (time,
 *     warm start and warnings cleared), sets ctrl = action, runs RL_HUM_NSUB MuJoCo steps
 *     of the model's timestep (5 × 5 ms = 25 ms, the control rate of DMC's humanoid)
 *     and reads the state back: next is a pure function of (state, action), and float →
 *     double → float round-trips exactly.
 *   - Observation = qpos without root x, y (26) then qvel (27): 53 floats, each clipped
 *     to ±RL_HUM_OBS_CLIP (falls produce spikes in the rates; the networks see bounded
 *     inputs).
 *   - Actions: 21 torques in [−1, 1] (times each motor's gear, 20–120 N·m).
 *   - Terminal: the torso (root) below RL_HUM_FALL_Z m — fallen.
 *   - Reset: the standing pose (all hinges 0, upright, feet on the floor; root height
 *     computed from the model's geometry, 1.285 m for the stock file) with uniform
 *     ±0.01 rad/(rad/s) noise on the hinge angles and all velocities.
 *   - Fall start (rl_hum_fall_state; the online loop's --init-fall): the hinges at 0, at
 *     rest, the root in a uniformly random orientation (four normals, normalised) at the
 *     height that puts the body's lowest point RL_HUM_DROP above the floor, then `steps`
 *     environment steps of uniform torques in [−0.5, 0.5] — the body drops and, after
 *     about 20 steps, lies on the floor (the reference environment, HumEnv's "Fall" start,
 *     takes 0–4 of its steps from 1 m: its bodies start in the air; pipeline/fbcpr.md).
 *
 * Tasks (functions of the state arrived in; clamp01 = min(1, max(0, ·)),
 * z = root height, up = 1 − 2(qx² + qy²) = the world-z component of the torso's z axis):
 *   standing  h = clamp01((z − RL_HUM_FALL_Z) / (RL_HUM_HIGH_Z − RL_HUM_FALL_Z)) · clamp01(up)
 *   "stand"            h · clamp01(1 − |(vx, vy)| / 0.5)            (still: < 0.5 m/s)
 *   "move-forward-S"   h · clamp01(1 − |vx − S| / |S|), S = 1, 2 m/s; "move-backward-1"
 *                      the same with S = −1 (x is the direction the model faces)
 *   "raise-arms"       h · mean over both hands of clamp01((z_hand − z) / 0.3)
 *                      (hand centres by forward kinematics; stock pose: z_hand = z + 0.06)
 *   goals "pose-crouch", "pose-arms-up", "pose-crouch-arms-up": a whole target state
 *   (hinges as listed in humanoid.c, upright, feet on the floor, at rest); success
 *   (reward 1) when the hinges' RMS error is below 0.2 rad, |z − z_goal| < 0.1 m and
 *   up > 0.9. (Not the standing pose: episodes start there.)
 */
#ifndef RZ_RL_HUMANOID_H
#define RZ_RL_HUMANOID_H

#include "env.h"
#include "rz.h"

#define RL_HUM_MODEL_DEFAULT "/usr/share/mujoco/model/humanoid/humanoid.xml"
#define RL_HUM_NSUB 5          /* MuJoCo steps per environment step */
#define RL_HUM_OBS_CLIP 10.0f
#define RL_HUM_FALL_Z 0.8      /* m: a 90° crouch keeps the torso near 1.05 m */
#define RL_HUM_HIGH_Z 1.2      /* m: the standing reward is full above this */
#define RL_HUM_MAX_JOINTS 32
#define RL_HUM_DROP 0.2        /* m: a fall start's lowest point above the floor */

/* rl_task.fn of the humanoid's tasks */
enum { RL_HUM_TASK_STAND = 1, RL_HUM_TASK_MOVE, RL_HUM_TASK_ARMS, RL_HUM_TASK_POSE };

/* "humanoid" or "humanoid:PATH". */
int rl_hum_make(rl_env *env, const char *model_path, rz_err *e);

/* The actuated hinges, in motor order: count, name, index by name (−1: none), range
 * (rad), gear, and where the angle and the rate sit in the state vector. */
int rl_hum_joints(const rl_env *env);
const char *rl_hum_joint_name(const rl_env *env, int j);
int rl_hum_joint_find(const rl_env *env, const char *name);
void rl_hum_joint_range(const rl_env *env, int j, double *lo, double *hi);
int rl_hum_qpos_index(const rl_env *env, int j);
int rl_hum_qvel_index(const rl_env *env, int j);

/* The state with the hinges at q (rl_hum_joints values, rad), upright, root at x = y = 0
 * and the height at which the lowest point of the body touches the floor, at rest. */
void rl_hum_pose_state(const rl_env *env, const double *q, float *state);
/* The root height rl_hum_pose_state gives the stock standing pose. */
double rl_hum_stand_height(const rl_env *env);

/* Body origins (world frame) of a state for pictures: n bodies (the world excluded),
 * xyz (n × 3) and parent (n; −1 for the root). Returns n (at most max). */
int rl_hum_bodies(const rl_env *env, const float *state, int max, float *xyz, int *parent);
/* Hand centres' heights (right, left) of a state, by forward kinematics. */
void rl_hum_hand_heights(const rl_env *env, const float *state, double h[2]);

/* One environment step of a PD servo at MuJoCo's rate: before each of the RL_HUM_NSUB
 * MuJoCo steps, ctrl_j = clamp(kp (qref_j − q_j) − kd q̇_j, −1, 1) (ctrl units per rad).
 * The keyframe tracker's low level: held for a whole 25 ms step, the same law is
 * unstable at useful gains (the actuated joints are light: armature 0.01), at MuJoCo's
 * 5 ms it holds the standing pose. The states are the same physics as step()'s. */
int rl_hum_pd_step(const rl_env *env, const float *state, const double *qref, double kp, double kd, float *next,
                   rz_err *e);
/* A fallen start (the contract's "Fall start"), drawing the orientation and the torques
 * from rng. A diverging simulation is RZ_EINTERNAL. */
int rl_hum_fall_state(const rl_env *env, rz_rng *rng, int steps, float *state, rz_err *e);
/* Sets the state, runs mj_forward, reads it back (the round-trip test). */
int rl_hum_roundtrip(const rl_env *env, const float *state, float *back);
/* The first invalid entry of a state (not finite, or out of the bounds check_state
 * uses), or −1. */
int rl_hum_bad_entry(const rl_env *env, const float *state);

#endif
