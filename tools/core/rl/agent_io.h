/* agent_io.h — rz-agent's offline RL datasets and agent checkpoints as record streams
 * (record types in schemas/agent.h, field by field in schemas/agent.md), and the
 * environment identity they carry.
 *
 * Dataset: agent_dataset header, agent_steps chunks of RZ_AGENT_STEPS_CHUNK transitions,
 * end. Checkpoint: agent header, one f32 tensor per fb_state array plus "labels" (states
 * drawn from the training data, for reward inference at evaluation), end. Readers
 * validate everything against the environment the stream names (bad input: RZ_EINPUT
 * naming file, record and field); writers go through rz_writer (temp + rename).
 */
#ifndef RZ_RL_AGENT_IO_H
#define RZ_RL_AGENT_IO_H

#include "agent.h"
#include "env.h"
#include "fb.h"
#include "stream.h"

/* An in-memory dataset. */
typedef struct {
    rz_dataset_header h;
    long n;
    float *S, *A, *S2; /* n × state_dim, n × act_dim, n × state_dim */
} ag_dataset;

/* The environment a record's identity names (grid map text parsed again). */
int ag_env_from_id(const rz_env_id *id, rl_env *env, rz_err *e);
/* Identity of a live environment (map text duplicated). */
int ag_env_id(const rl_env *env, rz_env_id *id, rz_err *e);

int ag_dataset_write(const char *path, const rz_stream_opts *o, const rl_env *env, const ag_dataset *d, rz_err *e);
/* Reads and validates: every state a free cell / inside the arena, every action in range,
 * counts as declared. env receives the dataset's environment. */
int ag_dataset_read(const char *path, const rz_stream_opts *o, ag_dataset *d, rl_env *env, rz_err *e);
void ag_dataset_free(ag_dataset *d);

/* Observations of a dataset for training (O, O2: n × obs_dim). */
int ag_dataset_obs(const rl_env *env, const ag_dataset *d, float **O, float **O2, rz_err *e);

/* Checkpoints: header, every fb_state tensor, and "labels" (states for reward inference). */
int ag_agent_write(const char *path, const rz_stream_opts *o, const rz_agent_header *h, fb_agent *a,
                   int n_labels, const float *labels, int state_dim, rz_err *e);
/* Loads a checkpoint: header, agent with its full state, env, labels (malloc'd). */
int ag_agent_read(const char *path, const rz_stream_opts *o, rz_agent_header *h, fb_agent **a,
                  rl_env *env, int *n_labels, float **labels, rz_err *e);
void ag_header_to_config(const rz_agent_header *h, const rl_env *env, fb_config *c);
void ag_config_to_header(const fb_config *c, rz_agent_header *h);

#endif
