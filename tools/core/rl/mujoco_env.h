/* mujoco_env.h — the continuous point-mass maze, simulated with MuJoCo (libmujoco 2.2).
 *
 * The project writes its own MJCF (rl_mj_xml): a 0.6 m × 0.6 m arena ([−0.3, 0.3]²) with
 * the ExoRL-style four-room layout (a cross of walls with one gap per arm), and a point
 * mass (sphere, r = 0.01 m) on two slide joints (x, y) driven by two motors (gear 1,
 * ctrl in [−1, 1] N). One environment step is 10 MuJoCo steps of 2 ms (constants and
 * the model in mujoco_env.c). The environment is a pure function of the state vector
 * (x, y, vx, vy): step() writes qpos/qvel into mjData, applies ctrl, integrates and
 * reads them back.
 * Without <mujoco/mujoco.h> at build time every function reports RZ_EINPUT.
 */
#ifndef RZ_RL_MUJOCO_H
#define RZ_RL_MUJOCO_H

#include "nn.h"
#include "env.h"
#include "rz.h"

/* The MJCF text of the maze (static storage). */
const char *rl_mj_xml(void);
int rl_mj_make(rl_env *env, rz_err *e);
void rl_mj_free(rl_env *env);
void rl_mj_reset(const rl_env *env, rz_rng *rng, float *state);
int rl_mj_step(const rl_env *env, const float *state, const float *action, float *next, rz_err *e);
/* 1 if the state is finite and inside the arena. */
int rl_mj_check_state(const rl_env *env, const float *state);
/* 1 if a ball at (x, y) would be within margin of a wall or outside the arena (the
 * free-space test of resets; the expert planner's cell test). */
int rl_mj_in_wall(float x, float y, float margin);
/* Goal centres of the four rooms (top-left, top-right, bottom-left, bottom-right). */
void rl_mj_goal(int k, float *xy);
/* 1 if (x,y) is in the top-left room (for the narrow "room" dataset). */
int rl_mj_in_room0(const float *xy);
/* Writes the set state into MuJoCo and reads it back (for the round-trip test). */
int rl_mj_roundtrip(const rl_env *env, const float *state, float *back);
/* Picture of the maze with trajectories (n_traj × len × state_dim), PNG. */
int rl_mj_render(const rl_env *env, const float *goal, int n_traj, int len, const float *traj,
                 const char *path, rz_err *e);

#define RL_MJ_HALF 0.3f   /* arena spans [−0.3, 0.3]² as in DMC's point_mass_maze scale */
#define RL_MJ_GOAL_RADIUS 0.05

#endif
