/* offline.h — dataset builders for the low-quality-data study (Jeen, Bewley & Cullen,
 * NeurIPS 2024) and the in-support task test that shows an evaluation's ceiling.
 *
 * A dataset here is n transitions as three row-major arrays: S (n × sd states), A (n × ad
 * actions; grids: the action index as a float), S2 (n × sd next states). Builders that
 * shrink a dataset compact it in place, keeping the surviving transitions in their order
 * (trajectory windows in fb.c rely on consecutive rows), and return the new count.
 * Every choice is a function of the seed only (rz's splitmix RNG through rz_rng).
 */
#ifndef RZ_RL_OFFLINE_H
#define RZ_RL_OFFLINE_H

#include <stdint.h>

#include "env.h"
#include "rz.h"

/* Grids: removes every transition of exactly round(frac · P) of the P distinct
 * (cell, action) pairs present, chosen uniformly at random (seeded) among the pairs whose
 * removal keeps at least one action of their cell in the data — so every state the data
 * covered stays covered and only actions go missing (the paper's mechanism: states
 * covered, actions not). keep_reach ≠ 0 also skips every pair whose removal would lower
 * the data's reach (rl_data_reach within env->horizon): every (start, goal) pair the data
 * connected stays connected, so missing actions are out of distribution without making
 * any goal unreachable by the data's own steps. Fails (RZ_EINPUT, data untouched) when
 * frac is outside [0, 1), the count exceeds P minus the covered cells, or (keep_reach)
 * the seeded walk finds fewer removable pairs than the count. *pairs_before /
 * *pairs_removed (may be NULL) receive P and the number removed. Returns the new
 * transition count via *n. */
int rl_data_drop_pairs(const rl_env *env, long *n, float *S, float *A, float *S2, double frac, int keep_reach,
                       uint64_t seed, long *pairs_before, long *pairs_removed, rz_err *e);

/* Keeps exactly m of the n transitions, every m-subset equally likely (selection
 * sampling, Knuth's algorithm S; seeded), in their original order. m ≤ n. */
int rl_data_subsample(long *n, int sd, int ad, float *S, float *A, float *S2, long m, uint64_t seed, rz_err *e);

/* The label states a checkpoint keeps for reward inference (and for the in-support test):
 * m rows of the n next states S2 (sd each), m ≤ n, into out (m × sd). m = n: every row,
 * in order — the whole support, so a small dataset's in-support count is the data's own
 * (drawing n of n with replacement would keep only ~63% of the rows and hide a cell seen
 * once with probability 1/e). m < n: each row drawn uniformly with replacement (rz_rng
 * seeded with seed ^ "labels"). */
void rl_data_labels(long n, int sd, const float *S2, long m, uint64_t seed, float *out);

/* Grids: n_traj trajectories of len steps from uniform starts under one fixed
 * sub-optimal policy — greedy for the goal task `goal_id` (a free-cell id), with
 * probability eps replaced by a uniform action — the "few demonstrations of a mediocre
 * behaviour" design. S, A, S2 hold n_traj·len rows. */
int rl_data_policy_trajs(const rl_env *env, int goal_id, double eps, int n_traj, int len, uint64_t seed, float *S,
                         float *A, float *S2, rz_err *e);

/* Whether a task lies inside the support of a set of n states (sd each; typically the
 * dataset's next states or a checkpoint's label states): a goal task when its goal state
 * is one of them (grids: the same cell; the point mass: within the task's radius), a
 * reward task when its reward is non-zero on at least one of them — otherwise reward
 * inference sees r = 0 everywhere and z carries no information. */
int rl_task_in_support(const rl_env *env, const rl_task *task, long n, const float *states);

/* Grids: the fraction of ordered (start, goal) cell pairs, start ≠ goal, whose goal can be
 * reached from the start within `horizon` steps using only the n transitions S → S2 of
 * the data (breadth-first search over the directed graph of observed transitions; the
 * action taken does not matter, only that the data shows the step). A policy that keeps
 * to the data's own (state, action) pairs — what the conservative penalties push
 * towards — can reach no more goal-start pairs than this; a policy that takes unseen
 * actions may, by luck of the generalisation. −1 on allocation failure (e set). */
double rl_data_reach(const rl_env *env, long n, const float *S, const float *S2, int horizon, rz_err *e);

/* Validation / test split of the tasks, for checkpoint selection that never sees the
 * reported tasks: on grids the goal tasks whose goal cell id is ≡ 3 (mod 4) are the
 * validation set (26 of four-rooms' 104 goals), every other task — the remaining goals
 * and all reward tasks — is a test task. Other environments have no validation tasks
 * (the maze's four goals are too few to split). rl_task_is_validation says which side a
 * task is on; rl_tasks_split keeps only one side (val = 1: validation, 0: test) of the
 * *n tasks in place, in order, freeing the others' reward tables. */
int rl_task_is_validation(const rl_env *env, const rl_task *task);
void rl_tasks_split(const rl_env *env, rl_task *tasks, int *n, int val);

#endif
