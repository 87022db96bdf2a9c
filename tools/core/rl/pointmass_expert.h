/* pointmass_expert.h — unlabelled expert behaviour for the point-mass maze, made
 * honestly from a planner and a controller (no learned policy):
 *   cells   the arena [−0.3, 0.3]² as a 30 × 30 grid of 0.02 m cells, a cell free when a
 *           ball at its centre keeps 8 mm from every wall (rl_mj_in_wall);
 *   A*      from the start's cell to the goal's cell over free cells, 8-connected
 *           (a diagonal only when both cells beside it are free), costs 1 and √2, the
 *           octile-distance heuristic (admissible and consistent: the path is shortest);
 *   PD      the ball follows the path's cell centres: a carrot 0.04 m of arc ahead of
 *           the point of the path nearest to the ball; desired velocity v* = v_max·unit
 *           (carrot − p) (slowing within 0.05 m of the goal), force
 *           u = clip(v* + k_d (v* − v), ±1) — the motor's 1 N·s/m damping makes v* the
 *           steady-state force, k_d = 3 the damping of the error —
 *           stepped through the environment (rl_env_step) until the ball is within
 *           0.02 m of the goal or 400 steps.
 * Starts and goals are independent rl_env_reset draws (uniform over free space).
 */
#ifndef RZ_RL_POINTMASS_EXPERT_H
#define RZ_RL_POINTMASS_EXPERT_H

#include <stdint.h>

#include "env.h"
#include "expert.h"
#include "rz.h"

#define PM_GRID 30
#define PM_CELL 0.02f

/* Shortest 8-connected path of free cells from cell a to cell b (cell = row·30 + col;
 * row from y = −0.3 up): the cells in order into path (capacity 900), their count
 * returned; 0 when there is none. */
int pm_astar(int a, int b, int *path);
/* The cell of a point, snapped to the nearest free cell; −1 if none. */
int pm_cell(float x, float y);
void pm_cell_centre(int cell, float *xy);

/* n trajectories with seed into x (initialised for env by the caller): states from the
 * start to the goal (at least 2). *reached (may be NULL) counts those within 0.02 m. */
int pm_expert_make(const rl_env *env, int n, uint64_t seed, rl_expert *x, int *reached, rz_err *e);

#endif
