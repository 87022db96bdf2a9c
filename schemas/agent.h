/* agent.h — record types of rz-agent: offline RL datasets and agent checkpoints.
 *
 * A dataset stream:    agent_dataset (header), agent_steps × k (chunks of transitions), end.
 * A checkpoint stream: agent (header), tensor × m (all training state, f32), end.
 * Field by field in schemas/agent.md. The environment is identified by value (its name,
 * the full map text and slip for grids), so an agent or dataset never depends on a map
 * file still being around, and mixing environments is detected by comparing them.
 */
#ifndef RZ_AGENT_SCHEMA_H
#define RZ_AGENT_SCHEMA_H

#include <msgpack.h>
#include <stdint.h>

#include "record.h"
#include "rz.h"

#define RZ_AGENT_DATASET_VERSION 1
#define RZ_AGENT_STEPS_VERSION 1
#define RZ_AGENT_VERSION 1
#define RZ_AGENT_MAX_MAP 20000     /* bytes of map text */
#define RZ_AGENT_STEPS_CHUNK 4096  /* transitions per agent_steps record (writer side) */
#define RZ_AGENT_MAX_STEPS 65536   /* per record (reader bound) */

/* The agent sizes a checkpoint header may declare, each on its own (fb_create and the
 * CLI use the same bounds; tools/core/rl/fb.h): d, hidden width, hidden layers (+1
 * output layer = nn.h's NN_MAX_LAYERS, checked there), mini-batch, trajectory-window
 * length. */
#define FB_MAX_ZDIM 1024
#define FB_MAX_HIDDEN 8192
#define FB_MAX_LAYERS 7
#define FB_MAX_BATCH 65536
#define FB_MAX_TRAJ_LEN 1024

typedef struct {
    char env[64];     /* "fourrooms", map file name, "pointmass-maze" */
    char *map;        /* grid map text (malloc'd; "" for the maze) */
    double slip;
} rz_env_id;

typedef struct {
    rz_env_id env;
    int state_dim, act_dim, n_actions;
    char policy[32];
    int64_t steps;     /* transitions in the dataset */
    int64_t seed;
    int64_t episode_len;
} rz_dataset_header;

void rz_dataset_header_pack(msgpack_packer *pk, const rz_dataset_header *h);
int rz_dataset_header_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_dataset_header *h,
                             rz_err *e);

/* Transitions: n rows of s, a, s2 (f32 little-endian, row-major). */
void rz_steps_pack(msgpack_packer *pk, int n, int state_dim, int act_dim, const float *s,
                   const float *a, const float *s2);
/* Copies the n transitions into s, a, s2 (caller checks *n against its room first via
 * rz_steps_count). Sizes are validated against state_dim/act_dim. */
int rz_steps_count(const msgpack_object *rec, const rz_rec_ctx *c, int64_t *n, rz_err *e);
int rz_steps_decode(const msgpack_object *rec, const rz_rec_ctx *c, int state_dim, int act_dim,
                    float *s, float *a, float *s2, rz_err *e);

typedef struct {
    rz_env_id env;
    int grid_obs;          /* rl_grid_obs */
    char algo[16];         /* fb, vcfb, mcfb */
    int zdim, hidden, layers, batch;
    double lr_f, lr_b, lr_actor, gamma, tau, ortho_coef, mix_ratio;
    int bnorm;
    double fscale;
    double lr_decay;       /* final / initial learning rate (optional; 1 when absent) */
    int64_t anneal_start, anneal_end; /* the steps it anneals between (optional) */
    double traj_ratio;     /* fraction of trajectory-window zs (optional; 0 when absent) */
    int64_t traj_len;
    double qloss;          /* weight of the direct Q TD loss (optional field; 0 when absent) */
    int target_mean;       /* "target": "min" (0) or "mean" (1) of the two target F heads */
    double alpha;
    int lagrange;
    double alpha_target, lr_alpha;
    int action_samples;
    double actor_noise, noise_clip;
    double grad_clip;      /* gradient-element clamp of F and B (optional; 0 = none when absent) */
    int cpen_ref;          /* "cpen": continuous penalty "ref" (1) or "s" (0; optional, "s" when absent) */
    int norm_obs;          /* running observation statistics in front of the networks (tensor
                              "obs_norm"; optional, 0 when absent) */
    int64_t steps_done, seed;
    char dataset[256];     /* where the training data came from (informative) */
    char data_policy[32];
    int64_t data_steps;
} rz_agent_header;

void rz_agent_header_pack(msgpack_packer *pk, const rz_agent_header *h);
int rz_agent_header_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_agent_header *h,
                           rz_err *e);

/* ---- unlabelled expert behaviour (FB-CPR) ---------------------------------------------
 * An expert stream: agent_expert (header), agent_traj × trajectories, end. States only —
 * no actions, rewards or task labels: what FB-CPR's discriminator imitates. Each
 * agent_traj is one trajectory, consecutive env states s_0 … s_{n-1} as the env's own
 * state vector (rl_env state_dim), so observations are recomputed by the reader's env. */
#define RZ_AGENT_EXPERT_VERSION 1
#define RZ_AGENT_TRAJ_VERSION 1
#define RZ_AGENT_MAX_STATE 4096   /* state_dim of an expert stream (reader bound) */
#define RZ_AGENT_MAX_TRAJS 1000000

typedef struct {
    rz_env_id env;
    int state_dim;
    int64_t trajectories;  /* agent_traj records that follow */
    int64_t steps;         /* states over all of them */
    char source[64];       /* how the behaviour was made ("astar-pd", "keyframe-pd", …) */
    int64_t seed;
} rz_expert_header;

void rz_expert_header_pack(msgpack_packer *pk, const rz_expert_header *h);
int rz_expert_header_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_expert_header *h, rz_err *e);
/* One trajectory: name (≤ 63 bytes, informative: "stand", "path-3"), n states. */
void rz_traj_pack(msgpack_packer *pk, const char *name, int n, int state_dim, const float *s);
/* n (1 … RZ_AGENT_MAX_STEPS) before the caller makes room; then the states (finite). */
int rz_traj_count(const msgpack_object *rec, const rz_rec_ctx *c, int64_t *n, rz_err *e);
int rz_traj_decode(const msgpack_object *rec, const rz_rec_ctx *c, int state_dim, char *name, size_t name_cap,
                   float *s, rz_err *e);

/* ---- online training (rz-agent online): the record after an agent header ----------------
 * A checkpoint of online training is an agent checkpoint (agent, tensors, end) with an
 * agent_online record after the header and more tensors: "cpr.*" (discriminator and
 * critics, fbcpr.h), "online.*" (environment states, rollout zs, counters, RNG) and
 * "replay.*" (the replay buffer). Readers of plain agents skip them. */
#define RZ_AGENT_ONLINE_VERSION 5 /* 2: replay.done (terminal flags); 3: online.env_rng (per-environment streams);
                                   * 4: norm_momentum, rollout_z, z_buffer (v3 reads with their defaults);
                                   * 5: fall, init_expert, init_fall, fall_steps (v3, v4 read with theirs) */
typedef struct {
    int cpr, seq_length, scale_reg, disc_hidden, disc_layers;
    double goal_ratio, expert_ratio, reg_coeff, grad_penalty, lr_disc, lr_critic, critic_tau;
    int n_envs, updates, z_every;
    int64_t buffer, seed_steps, update_every, episode_len, env_steps;
    double norm_momentum; /* observation statistics' momentum (used when the agent's norm_obs is 1) */
    int rollout_z;        /* rollout zs: 0 "mixture", 1 "buffer", 2 "sphere" (online.h) */
    int64_t z_buffer;     /* capacity of the buffer of training zs (rollout_z 1) */
    int fall;             /* 0 "end": a fall ends the episode (done 1); 1 "continue": never terminal */
    double init_expert, init_fall; /* start-state mixture: expert data's states, fallen starts */
    int64_t fall_steps;   /* a fallen start's steps of falling */
    char expert[256]; /* the expert stream trained against (informative; "" without CPR) */
} rz_online_header;
/* Defaults of the fields version 4 added, for version-3 records. */
#define RZ_ONLINE_NORM_MOMENTUM 0.01
#define RZ_ONLINE_Z_BUFFER 10000
/* Defaults of the fields version 5 added, for version-3 and -4 records. */
#define RZ_ONLINE_FALL_STEPS 40
int rz_online_fall_parse(const char *s); /* "end", "continue": 0, 1; −1 for another string */
int rz_rollout_z_parse(const char *s); /* "mixture", "buffer", "sphere": their index, −1 for another string */
void rz_online_header_pack(msgpack_packer *pk, const rz_online_header *h);
int rz_online_header_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_online_header *h, rz_err *e);

void rz_env_id_free(rz_env_id *id);
/* 0 if the two identify the same environment, else RZ_EINPUT with "what differs". */
int rz_env_id_same(const rz_env_id *a, const rz_env_id *b, const char *what, rz_err *e);

#endif
