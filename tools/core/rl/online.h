/* online.h — online FB / FB-CPR training over any rl_env kind (env.h's ops table).
 *
 * The loop, all of it a function of the seed:
 *   n_envs environments step in rounds (one step each). A round: one batched actor
 *   forward over every environment's (o_i, z_i) (fb_act_rows); then the environment
 *   steps on `threads` OpenMP workers (each worker its own instance of the environment:
 *   MuJoCo's state lives in it), environment i acting with
 *   clip(π(o_i, z_i) + clip(actor_noise·N(0, 1), ±noise_clip), ±1) — uniform actions
 *   while its step index is below seed_steps — and drawing all of its randomness
 *   (actions, noise, simulator noise, resets, z draws) from its own stream, seeded from
 *   the run seed and i; then, in environment order on one thread, each pushes
 *   (s, a, s', z_i, done) into the replay buffer (replay.h), done = rl_env_terminal(s')
 *   (the humanoid fell: that row's TD targets do not bootstrap; always 0 with
 *   RL_FALL_CONTINUE, below), and is reset after episode_len steps or at a terminal
 *   state, to a start state drawn by the rule below; its z_i is redrawn at a reset and every
 *   z_every steps, by the rule rollout_z (below: by default the FB-CPR mixture over a
 *   uniformly drawn replay next-state (goal), one uniformly drawn expert window of
 *   seq_length states (expert, cpr only) and the sphere). So the bits do not depend on
 *   the thread count.
 *   Updates: whenever env_steps crosses a multiple of update_every, `updates` calls of
 *   fbcpr_update (once the buffer holds a batch and the seed steps are done), each on N
 *   uniform replay rows and N/L expert windows of L + 1 consecutive states (obs of
 *   states t … t+L−1 and of their successors). updates/update_every is the update-to-
 *   data ratio. With the agent's norm_obs (fb.h; the reference's default), each batch
 *   first updates the running observation statistics (obsnorm.h) with its N
 *   observations, then with its N next observations, and every network input of the
 *   update — replay rows and expert windows — is normalised with the updated
 *   statistics; rollout zs embed normalised goals and expert windows, and acting
 *   normalises through fb_act_rows, all with the statistics as they stand.
 * Everything that evolves (networks, optimisers, RNGs, buffer, environment states, zs,
 * episode clocks, counters) is in the checkpoint (rl_online_save), so a run cut in two
 * and resumed reproduces the uncut run bit for bit.
 * The networks' updates run on the calling thread (their BLAS calls are where the time
 * goes).
 * MPI ranks (rl_online_set_ranks, under mpirun): the environments are split in contiguous
 * blocks over the ranks (rz_cluster_block); the batched actor forward (1.) runs on every
 * rank over every environment (a row's bits from sgemm over a block of another height
 * need not match), each rank steps only its block (2.), and the step
 * results — action, next state, terminal flag, status, the environment's stream — are
 * exchanged in environment order (rz_cluster_allgather_block: bytes, no arithmetic), so
 * every rank then runs 3. and the updates on identical inputs: the update is replicated
 * (same bits on every rank), and the run's bits equal one process's for any rank count.
 * At the end of each rl_online_run the ranks compare digests of their whole state
 * (rl_online_digest): a rank whose copy drifted (another BLAS kernel, say) is an error
 * (RZ_EINTERNAL naming the ranks), never a silently different run.
 * Ranks can only speed up the environments' steps; a data-parallel update is not built (the
 * FB loss's off-diagonal term couples every pair of rows of a batch, so a split batch
 * would need the other ranks' embeddings in the forward pass, not just a gradient sum).
 */
#ifndef RZ_RL_ONLINE_H
#define RZ_RL_ONLINE_H

#include <stdint.h>

#include "agent.h"
#include "env.h"
#include "expert.h"
#include "fbcpr.h"
#include "replay.h"
#include "stream.h"

typedef struct {
    int n_envs;
    long buffer;       /* replay capacity (transitions) */
    long seed_steps;   /* environment steps with uniform actions first */
    long update_every; /* environment steps between rounds of updates */
    int updates;       /* updates per round */
    int z_every;       /* steps between rollout-z redraws */
    int episode_len;
    int threads;       /* environment workers (0: OpenMP's default); not saved: the run's
                        * bits do not depend on it */
    double norm_momentum; /* observation statistics' momentum (0.01), when the agent has
                           * norm_obs (fb.h) */
    int rollout_z;     /* where a redrawn rollout z comes from: RL_ROLLOUT_* */
    long z_buffer;     /* RL_ROLLOUT_BUFFER: capacity of the FIFO of training zs (10000) */
    int fall;          /* RL_FALL_END (default) or RL_FALL_CONTINUE (below) */
    double init_expert, init_fall; /* start-state mixture (below): 0, 0 by default */
    int fall_steps;    /* a fall start's steps of falling (40) */
} rl_online_config;

/* Falls and start states (the reference environment's, HumEnv: pipeline/fbcpr.md):
 *   fall      RL_FALL_END: a terminal next state (rl_env_terminal: the humanoid fell) is
 *             stored with done = 1 (its TD targets do not bootstrap) and ends the
 *             episode; RL_FALL_CONTINUE: no transition is terminal (done = 0 on every
 *             row), a fallen body stays in the episode until episode_len — HumEnv never
 *             terminates.
 *   start     at every reset, with probability init_expert a state drawn uniformly from
 *             the expert data's states (qpos and qvel as stored; needs the expert data,
 *             also without CPR), with probability init_fall a fallen start
 *             (rl_env_fall_start with fall_steps: the humanoid dropped from a random
 *             orientation), else rl_env_reset (the default pose). One uniform draw from
 *             the environment's stream picks the source, only when init_expert +
 *             init_fall > 0 (so the defaults draw exactly what they drew before these
 *             options). A fall start needs a kind with falls and RL_FALL_CONTINUE (under
 *             RL_FALL_END its first transition would end the episode). HumEnv's training
 *             runs use "MoCapAndFall": 0.8 from the motion data, 0.2 fallen. */
enum { RL_FALL_END = 0, RL_FALL_CONTINUE = 1 };
enum { RL_INIT_DEFAULT = 0, RL_INIT_EXPERT = 1, RL_INIT_FALL = 2 };

/* Rollout zs (the reference's maybe_update_rollout_context; same redraw times):
 *   MIXTURE  a fresh draw from the training mixture (fbcpr_sample_z_rng: goal = B of
 *            one uniform replay next-state, expert = one uniform expert window, the
 *            rest the sphere), from the environment's own stream;
 *   BUFFER   a uniform row of a FIFO holding the last z_buffer training zs (every
 *            update pushes its N mixture draws, fbcpr_batch_z, in row order) — the
 *            reference's use_mix_rollout; the sphere while the FIFO is empty;
 *   SPHERE   uniform on the sphere of radius √d (the reference's default without
 *            use_mix_rollout). */
enum { RL_ROLLOUT_MIXTURE = 0, RL_ROLLOUT_BUFFER = 1, RL_ROLLOUT_SPHERE = 2 };
/* The FIFO's z_buffer × d floats, bounded before allocating (a checkpoint names both):
 * the reference's 10000 × 256 is 10 MB. */
#define RL_ZBUF_MAX_BYTES (1.0 * 1073741824.0)
#define RL_FALL_STEPS_MAX 1000 /* a fall start's steps, at most */

void rl_online_config_default(rl_online_config *c, const rl_env *env);

typedef struct rl_online rl_online;

/* env, c (and its fb agent) and x (NULL without CPR) are borrowed and must outlive o. */
int rl_online_create(const rl_env *env, fbcpr *c, rl_expert *x, const rl_online_config *oc, uint64_t seed,
                     rl_online **out, rz_err *e);
void rl_online_free(rl_online *o);
int64_t rl_online_env_steps(const rl_online *o);
int64_t rl_online_updates(const rl_online *o);
const rl_replay *rl_online_replay(const rl_online *o);
const fbcpr_stats *rl_online_last(const rl_online *o);

/* One training batch as the loop draws it (consumes the run's RNG and, with norm_obs,
 * moves the observation statistics and returns normalised rows, as an update does; the
 * arrays belong to o and are overwritten by the next draw): N replay rows with their done
 * flags, and the expert windows with CPR. For tests of what an update sees. */
void rl_online_draw_batch(rl_online *o, fbcpr_batch *b);

/* The rollout z an environment draws at a reset or a z_every step (the rule above;
 * consumes environment i's stream), into z (d). For tests of the rule. */
void rl_online_rollout_z(rl_online *o, int i, float *z);
/* A start state for environment i by the rule above (consumes its stream) into state
 * (state_dim); returns the source, RL_INIT_*, or −1 with e set (no expert data for an
 * expert start, a diverging fall). For tests of the rule. */
int rl_online_start_state(rl_online *o, int i, float *state, rz_err *e);
/* The FIFO of training zs (RL_ROLLOUT_BUFFER): its rows (size × d, row r the r-th
 * stored, not in age order) and size. */
const float *rl_online_zbuf(const rl_online *o, long *size);

/* Runs until env_steps ≥ until. progress (may be NULL) is called after each round of
 * updates with the step count. */
int rl_online_run(rl_online *o, int64_t until, void (*progress)(void *ctx, const rl_online *o), void *ctx, rz_err *e);

/* Checkpoint: an agent checkpoint (agent_io.h) whose header h is completed here
 * (configuration, steps, identity), plus agent_online and the cpr./online./replay.
 * tensors (schemas/agent.md). labels: up to n_labels evenly spaced replay next-states. */
int rl_online_save(rl_online *o, const char *path, const rz_stream_opts *so, rz_agent_header *h, int n_labels,
                   const char *expert_path, rz_err *e);
/* Resumes: the agent (ag_agent_read), then the online record and tensors. Returns the
 * live objects (free with rl_online_free, fbcpr_destroy, fb_destroy, rl_env_free);
 * oh receives the online header (its expert path, for the caller to reload: x is
 * attached with rl_online_attach_expert before running). */
int rl_online_load(const char *path, const rz_stream_opts *so, rz_agent_header *h, rz_online_header *oh,
                   fb_agent **fb, fbcpr **c, rl_online **o, rl_env *env, rz_err *e);
void rl_online_attach_expert(rl_online *o, rl_expert *x);
/* Environments spread over the MPI ranks in the next runs (on = 1; see the head comment):
 * every rank of the job must call it with the same o (same checkpoint or configuration
 * and seed) and then call rl_online_run with the same until. A no-op in a plain run or
 * with on = 0. RZ_EINPUT when there are more ranks than environments. */
int rl_online_set_ranks(rl_online *o, int on, rz_err *e);
/* A 64-bit FNV-1a digest of every tensor of the run's state (what a checkpoint holds:
 * networks, optimisers, statistics, buffer, environments, RNGs, counters). */
int rl_online_digest(rl_online *o, uint64_t *digest, rz_err *e);
/* Environment workers of the next runs (0: OpenMP's default); any count gives the same bits. */
void rl_online_set_threads(rl_online *o, int threads);
/* The online header of a live run (for reports and checkpoints). */
void rl_online_header(const rl_online *o, rz_online_header *oh);
void rl_online_from_header(const rz_online_header *oh, fbcpr_config *cc, rl_online_config *oc);

#endif
