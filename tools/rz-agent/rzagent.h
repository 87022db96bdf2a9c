/* rzagent.h — internals shared by rz-agent's subcommands (collect, train, eval, sweep):
 * training flags, defaults, evaluation. Datasets, checkpoints and environment identity
 * are the library's (tools/core/rl/agent_io.h). */
#ifndef RZ_AGENT_TOOL_H
#define RZ_AGENT_TOOL_H

#include "agent.h" /* schemas/agent.h: the record types */
#include "agent_io.h" /* tools/core/rl: datasets and checkpoints */
#include "cli.h"
#include "fb.h"
#include "env.h"

/* fb_config_default plus rz-agent's defaults for the environment, before any flag:
 * grids hidden 512, d 128, lr 1e-3 annealed to 1e-5, γ 0.98, τ 0.05, mean target, a
 * quarter of the zs from 32-step trajectory windows (the best of the settings measured
 * on four-rooms, pipeline/agent.md); the maze hidden 256, d 50, lr 1e-4, γ 0.99, min
 * target. */
void ag_config_defaults(fb_config *c, fb_algo algo, const rl_env *env);
/* Training flags shared by train and sweep; "not given" is 0 for sizes and rates, −1 for
 * mix/alpha/qloss/traj/target_mean/anneal/grad_clip/cpen_ref, NaN for lagrange, +∞ for
 * --lagrange auto (ag_flags_init). */
typedef struct {
    long zdim, hidden, layers, batch, traj_len;
    double lr, gamma, tau, mix, alpha, lagrange, fscale, qloss, lr_final, traj;
    long long anneal[2];
    int target_mean;
    double grad_clip; /* −1: not given */
    int cpen_ref;     /* −1: not given */
    int reference;    /* --reference: fb_config_reference before the other flags */
} ag_flags;
/* Their option entries (flags.c), filling f, for train's and sweep's tables
 * (RZ_O_TABLE); a bad value is a usage error, which exits. */
enum { AG_FLAG_OPTS = 21 };
void ag_flags_opts(ag_flags *f, rz_opt out[AG_FLAG_OPTS]);
void ag_flags_init(ag_flags *f);
/* ag_config_defaults' configuration overridden by the flags given, with the annealing
 * window for a run of `steps`; bad combinations (mix + traj > 1, --lr-final above --lr)
 * fail with RZ_EINPUT. */
int ag_config_apply(fb_config *cfg, const ag_flags *f, long steps, rz_err *e);

/* --model PATH, declared once for every subcommand that makes an environment: the
 * humanoid's MuJoCo model file. ag_env_spec joins it to --env ("humanoid:PATH"); a model
 * with another environment is a usage mistake (RZ_EINPUT). */
#define AG_OPT_MODEL(var)                                                                     \
    RZ_O_STR("model", 0, "PATH", var,                                                        \
             "humanoid: the MuJoCo model file (default the one libmujoco-samples installs,\n" \
             "/usr/share/mujoco/model/humanoid/humanoid.xml)")
int ag_env_spec(const char *env, const char *model, char *spec, size_t n, rz_err *e);

int ag_collect_main(int argc, char **argv);
int ag_keyframes_main(int argc, char **argv);
int ag_train_main(int argc, char **argv);
int ag_eval_main(int argc, char **argv);
int ag_sweep_main(int argc, char **argv);
int ag_data_main(int argc, char **argv);
int ag_iqm_main(int argc, char **argv);
int ag_online_main(int argc, char **argv);
int ag_expert_main(int argc, char **argv);
int ag_track_main(int argc, char **argv);

/* Evaluation over a task family of one agent or an ensemble (fb_ens_act); fills per-task
 * results (caller frees *res). which: goals, rewards or all, optionally with ":val" or
 * ":test" for one side of the validation split (offline.h rl_tasks_split). */
typedef struct {
    int n_tasks, n_goal, n_reward;
    double goal_success, goals_solved, goal_norm, reward_norm, all_norm;
    /* the same over the tasks inside the support of the label states (rl_task_in_support:
     * the goal is a label state / the reward is non-zero on one): the data's ceiling made
     * visible. in_support (n_tasks, owned by the caller like res) flags each task. */
    int n_goal_in, n_reward_in;
    double goal_success_in, reward_norm_in;
    unsigned char *in_support;
} ag_summary;
/* n_agents 0: uniform random actions instead of a policy (rl_eval_random; the floor),
 * on the same tasks and starts. */
int ag_evaluate(fb_agent *const *a, int n_agents, const rl_env *env, const char *which, int episodes, int all_starts, uint64_t seed,
                int n_labels, const float *labels, rl_task **tasks, fb_task_result **res,
                ag_summary *sum, rz_cli *progress, rz_err *e);

#endif
