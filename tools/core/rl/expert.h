/* expert.h — unlabelled expert behaviour for FB-CPR: trajectories of environment states
 * (no actions, rewards or task labels), as record streams (schemas/agent.h: agent_expert
 * header, one agent_traj per trajectory, end; field by field in schemas/agent.md).
 *
 * In memory the trajectories are concatenated: trajectory k holds states
 * S[start[k] … start[k+1]) (each state_dim floats). The reader validates every state with
 * the environment the stream names (rl_env_check_state: finite, and inside the arena /
 * a free cell where the kind says so) and every count against the header; a stream of the
 * wrong state size, a NaN state or a count that disagrees is RZ_EINPUT naming the file,
 * record and field.
 */
#ifndef RZ_RL_EXPERT_H
#define RZ_RL_EXPERT_H

#include "agent.h"
#include "env.h"
#include "rz.h"
#include "stream.h"

typedef struct {
    rz_expert_header h;
    int n_traj;
    long n;           /* states over all trajectories */
    long *start;      /* n_traj + 1 offsets (in states) */
    char (*name)[64]; /* n_traj names */
    float *S;         /* n × state_dim */
    int wL;           /* rl_expert_windows' cache: window length, and per trajectory */
    long *wcum;       /* the windows before it (n_traj + 1) */
} rl_expert;

/* Starts an empty set for env (identity copied into h); add trajectories with
 * rl_expert_add. */
int rl_expert_init(rl_expert *x, const rl_env *env, const char *source, int64_t seed, rz_err *e);
int rl_expert_add(rl_expert *x, const char *name, int n, const float *S, rz_err *e);
void rl_expert_free(rl_expert *x);

int rl_expert_write(const char *path, const rz_stream_opts *o, const rl_expert *x, rz_err *e);
/* Reads and validates against the environment the stream names; env receives it (free
 * with rl_env_free). want_env (may be NULL): the stream must name the same environment. */
int rl_expert_read(const char *path, const rz_stream_opts *o, const rl_env *want_env, rl_expert *x, rl_env *env,
                   rz_err *e);

/* Windows of L consecutive states inside one trajectory: how many start positions exist
 * (Σ_k max(0, len_k − L + 1)), and the q-th of them (0 ≤ q < count) as the index of its
 * first state in S. */
long rl_expert_windows(rl_expert *x, int L); /* −1: out of memory */
long rl_expert_window(rl_expert *x, int L, long q);

#endif
