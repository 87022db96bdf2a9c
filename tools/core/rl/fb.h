/* fb.h — forward–backward representations (Touati & Ollivier 2021) and the conservative
 * variants VC-FB and MC-FB (Jeen, Bewley & Cullen, NeurIPS 2024): offline training on a
 * transition dataset and zero-shot policies.
 *
 * Networks (all nn.h MLPs, first layer LN + tanh, then relu layers, linear output):
 *   F_k(s, z) → n_actions × d       discrete actions (one output block per action), k = 1, 2
 *   F_k(s, a, z) → d                continuous actions
 *   B(s) → d
 *   π(s, z) → action (tanh)         continuous actions only
 * plus Polyak-averaged targets F̄_k, B̄. The successor measure is modelled as
 * M^{π_z}(s, a, ds') ≈ F(s,a,z)ᵀ B(s') ρ(ds'); Q_r(s,a,z) = F(s,a,z)ᵀ z with z_r = E_ρ[r B];
 * the policy is π_z(s) = argmax_a of min_k F_k(s,a,z)ᵀz, or their mean with target_mean
 * (discrete), or the actor.
 * z is always on the sphere of radius √d (training samples, goals and reward inference).
 * See fb.c for the losses with their gradients written out.
 */
#ifndef RZ_FB_H
#define RZ_FB_H

#include <stdint.h>

#include "agent.h" /* schemas/: FB_MAX_* size bounds */
#include "nn.h"
#include "env.h"
#include "rz.h"

typedef enum { FB_ALGO_FB = 0, FB_ALGO_VCFB = 1, FB_ALGO_MCFB = 2 } fb_algo;
const char *fb_algo_name(fb_algo a);
int fb_algo_parse(const char *s, fb_algo *a); /* 0 on success */

typedef struct {
    fb_algo algo;
    int obs_dim;
    int n_actions;     /* > 0: discrete; 0: continuous with act_dim */
    int act_dim;
    int zdim;          /* d */
    int hidden;        /* width of hidden layers */
    int layers;        /* hidden layers per network (≥ 1) */
    int batch;         /* N */
    float lr_f, lr_b, lr_actor;
    /* Annealing: every learning rate falls geometrically by lr_decay (the final rate over
     * the initial, 0 < lr_decay ≤ 1; 1 = constant) between steps anneal_start and
     * anneal_end, and stays there. A function of the step counter only, so resume is exact. */
    float lr_decay;
    int64_t anneal_start, anneal_end;
    float gamma, tau;  /* discount; target Polyak rate */
    float ortho_coef;  /* weight of the orthonormality loss on B */
    int bnorm;         /* 1: B(s) = √d·b(s)/‖b(s)‖ (Meta Motivo's l2-normalised B) */
    float fscale;      /* fixed scale of F's output layer (M = FᵀB can reach ~1/(ρ(1−γ))) */
    float mix_ratio;   /* fraction of zs replaced by B(s') of shuffled batch states */
    float traj_ratio;  /* fraction of zs from trajectory windows: the mean of B(s'_t) over
                          traj_len consecutive dataset transitions (mix + traj ≤ 1) */
    int traj_len;
    int target_mean;   /* 1: the TD target averages the two target F heads; 0: their min
                          (the reference code's pessimism, which biases M̄ low). Acting
                          (fb_act) combines the online heads the same way, so the greedy
                          policy is the one the target's a' follows. */
    float qloss;       /* weight of the direct TD loss on Q = Fᵀz (Meta Motivo's q_loss; 0 off) */
    float alpha;       /* conservative weight (fixed, or the initial value with lagrange) */
    int lagrange;      /* 1: tune log α by gradient ascent towards alpha_target */
    float alpha_target;
    float lr_alpha;
    int action_samples; /* continuous conservative penalty: actions per state (12) */
    float grad_clip;    /* > 0: clamp every gradient element of F_1, F_2 and B to
                           [−grad_clip, grad_clip] before Adam (the reference clamps to
                           [−1, 1]); 0: no clipping (the first checkpoints' training) */
    float actor_noise, noise_clip;
    int cpen_ref;       /* continuous penalty: 1 the reference's samples (π(s′) evaluated at s′,
                           copies of the data action; action_samples ≥ 6), 0 all at s */
    int norm_obs;       /* 1: running observation statistics (obsnorm.h) in front of every
                           network: fb_act, fb_act_rows, fb_ens_act, fb_infer_z_* and
                           fb_eval_task normalise the raw observations they are given with
                           them; the training entry points (fb_update_fixed, the *_fixed
                           losses) take observations the caller has normalised, and the
                           caller (online.c) updates the statistics. Online training only:
                           fb_train_step refuses it. 0: the observations as they are. */
} fb_config;

/* The learning-rate multiplier at a step: 1 before anneal_start, lr_decay from
 * anneal_end on, lr_decay^((step − start)/(end − start)) between. */
double fb_lr_factor(const fb_config *c, int64_t step);

/* The Lagrange target τ for a conservative penalty taken as an exact logsumexp over A
 * discrete actions (summed over the two F heads), chosen so that the tolerated
 * over-estimation Δ of the non-data actions is the reference's. Per head and state,
 * with the data action at value q and the other A − 1 actions at q + Δ,
 *     lse_a Q − Q(a_data) = log(1 + (A − 1)·e^Δ),
 * so α stops growing once 2·log(1 + (A − 1)e^Δ) ≤ τ. The reference (Jeen et al.) uses
 * τ_ref = 50 for a 12-sample logsumexp of which 2 samples are copies of the data action
 * and 10 are other actions: log(2 + 10·e^Δ) = τ_ref/2 gives Δ = log((e^25 − 2)/10)
 * ≈ 22.70, and for A = 5 τ = 2·log(1 + 4e^Δ) ≈ 48.17. The penalty can never fall below
 * 2·log A under uniform data (Jensen: lse_a Q ≥ log A + mean_a Q), so any target at or
 * under 2·log A (≈ 3.22 for 5 actions; the old built-in 1.0) drives α to its clamp.
 * fb_lagrange_target(A, ref_tau, ref_samples, ref_data_copies) returns τ, or NAN when
 * the reference's figures admit no Δ (ref_tau/2 ≤ log ref_data_copies, A < 2, or no
 * non-data samples). */
double fb_lagrange_target(int n_actions, double ref_tau, int ref_samples, int ref_data_copies);
#define FB_REF_TAU 50.0       /* the reference's target_conservative_penalty */
#define FB_REF_SAMPLES 12     /* its total_action_samples */
#define FB_REF_DATA_COPIES 2  /* its data-action copies among them (12 − 6 OOD) / 3 */

/* The reference's settings for a discrete-action study on top of any config: the
 * elementwise min of the two target heads, α from 1 tuned by the Lagrange rule towards
 * fb_lagrange_target(n_actions, FB_REF_*), every gradient element clamped to [−1, 1]. */
void fb_config_reference(fb_config *c);

/* Defaults for an environment (d = 50, 2 × 256 hidden, batch 256, γ 0.98, τ 0.01,
 * lr 1e-4, mix 0.5, ortho 1, B normalised, α 0.1 fixed). */
void fb_config_default(fb_config *c, fb_algo algo, int obs_dim, int n_actions, int act_dim);

/* An offline dataset: n transitions, observations precomputed. A is n × act_dim floats
 * (a discrete action is its index as a float). done (n, may be NULL = never) is 1 where
 * s' is terminal (the humanoid fell): that row's targets do not bootstrap, i.e. its
 * discount is γ·(1 − done), as the reference's `discount * ~terminated`. */
typedef struct {
    long n;
    int obs_dim, act_dim;
    const float *O, *A, *O2;
    const float *done;
} fb_data;

typedef struct {
    double fb_loss, ortho_loss, q_loss, penalty, alpha, q_mean, actor_loss;
} fb_stats;

typedef struct fb_agent fb_agent;

/* The sizes fb_create accepts, each on its own: FB_MAX_ZDIM, FB_MAX_HIDDEN,
 * FB_MAX_LAYERS, FB_MAX_BATCH, FB_MAX_TRAJ_LEN, defined with the checkpoint record they
 * bound (schemas/agent.h), so the header decoder, fb_create and the CLI share them.
 * Hidden layers + 1 output layer must fit an nn_mlp: */
_Static_assert(FB_MAX_LAYERS == NN_MAX_LAYERS - 1, "FB_MAX_LAYERS hidden layers + 1 output = NN_MAX_LAYERS");

/* An upper estimate of the bytes fb_create allocates for a configuration (networks,
 * optimiser state, tapes, batch workspace). fb_create refuses more than FB_MAX_BYTES —
 * far above the largest agent the papers train (2 × 1024, batch 1024, d 50: ≈ 0.3 GiB). */
#define FB_MAX_BYTES (4.0 * 1073741824.0)
double fb_config_bytes(const fb_config *c);

int fb_create(const fb_config *cfg, uint64_t seed, fb_agent **out, rz_err *e);
void fb_destroy(fb_agent *a);
const fb_config *fb_cfg(const fb_agent *a);
int64_t fb_steps(const fb_agent *a);

/* One gradient step on a mini-batch drawn (with replacement) from data. */
int fb_train_step(fb_agent *a, const fb_data *data, fb_stats *st, rz_err *e);

/* The same step on a batch chosen by the caller: rows idx of data with the zs given
 * (N × d), the target action noise and conservative samples drawn here from the agent's
 * RNG; with actor = 0 the continuous actor is left alone (FB-CPR trains it with its own
 * loss, fbcpr.h). fb_train_step = sample_z + uniform idx + fb_update_fixed(…, 1, …). */
int fb_update_fixed(fb_agent *a, const fb_data *data, const long *idx, const float *z, int actor, fb_stats *st,
                    rz_err *e);
/* The MLP layout every FB network uses: `layers` hidden layers of `hidden` units, the
 * first LN + tanh, then relu, and an output layer of `out` units with out_act. */
nn_spec fb_mlp_spec(int in, int hidden, int layers, int out, nn_act out_act);
/* The actor's Adam state ("actor"; NULL for discrete actions), for a caller that trains
 * the actor with another loss. */
nn_adam *fb_adam(fb_agent *a, const char *which);

/* Zero-shot inference. z (d) for a reward: z = √d·normalize(Σ_i r_i B(o_i) / n) over
 * labelled observations O (n × obs_dim) — the zero vector when r vanishes on every label
 * (narrow data may never see the rewarded states); for a goal: z = √d·normalize(B(g)). */
int fb_infer_z_reward(fb_agent *a, int n, const float *O, const float *r, float *z, rz_err *e);
int fb_infer_z_goal(fb_agent *a, const float *goal_obs, float *z, rz_err *e);
/* Greedy actions for n observations under one z (act: n × act_dim); Q (n, may be NULL)
 * receives Q(o, a*) = min_k F_k(o, a*, z)ᵀz (the mean over k with target_mean). */
int fb_act(fb_agent *a, int n, const float *O, const float *z, float *act, float *Q, rz_err *e);
/* Continuous actions only: the actor's π(o_i, z_i) for n observations, each under its own
 * z (Z: n × d) — one batched forward for many environments acting at once. Row i equals
 * fb_act(a, 1, o_i, z_i) up to the summation order of the batched matrix product. */
int fb_act_rows(fb_agent *a, int n, const float *O, const float *Z, float *act, rz_err *e);

/* An ensemble of k agents (independently trained, same environment) acting as one
 * policy, each member j with its own z_j (its own embedding of the task): discrete
 * actions maximise Σ_j Q_j(o, b, z_j); continuous ones are the member proposal π_i(o, z_i)
 * with the largest Σ_j Q_j(o, π_i, z_j). Q receives the members' mean at the action.
 * Averaging the members' values averages out their independent approximation errors,
 * which is what makes single greedy agents loop. k = 1 is fb_act exactly. */
#define FB_MAX_ENSEMBLE 16
int fb_ens_act(fb_agent *const *ag, int k, int n, const float *O, const float *const *z, float *act, float *Q,
               rz_err *e);

/* All training state as named float arrays, in a fixed order: parameters, targets, Adam
 * moments, counters (as floats of their bytes) and the RNG — what a checkpoint saves
 * and what fb_state_set restores for exact resume. */
typedef struct {
    char name[32];
    float *data;
    size_t n;
} fb_tensor;
int fb_state(fb_agent *a, fb_tensor **list, int *n, rz_err *e); /* list: free() it */
/* t[k] = (name, data, n); returns k + 1 (names longer than 31 bytes are cut). */
int fb_tensor_add(fb_tensor *t, int k, const char *name, float *data, size_t n);
/* A network's state: NAME (parameters), NAME.target (when target is given), NAME.adam_m,
 * NAME.adam_v; returns the next k. */
int fb_tensor_add_net(fb_tensor *t, int k, const char *name, nn_mlp *net, nn_mlp *target, nn_adam *opt);
/* After writing saved values into the arrays fb_state listed: adopts the counters and
 * RNG (they are listed as byte images "counters" and "rng"). */
void fb_state_loaded(fb_agent *a);
/* Observation normalisation (norm_obs): the statistics (2 × obs_dim floats, obsnorm.h;
 * listed by fb_state as "obs_norm"), NULL without norm_obs; and n raw observations O
 * (n × obs_dim) normalised into out as every inference entry point does (a copy without
 * norm_obs; out may alias O). */
float *fb_obs_norm(fb_agent *a);
void fb_norm_obs(const fb_agent *a, int n, const float *O, float *out);

/* Internals exposed for the gradient tests: the loss of the current networks on a
 * fixed batch (indices idx, zs given), and its gradient accumulated into the online
 * networks' grad arrays (F1, F2, B); returns the total loss. */
/* The TD target's combination of the two target heads' measures, elementwise over n
 * entries: out = min(M0, M1) (mean = 0) or (M0 + M1)/2 (mean = 1). out may alias M0. */
void fb_target_combine(size_t n, const float *M0, const float *M1, int mean, float *out);
/* Clamps each of the n gradient elements to [−clip, clip] (clip > 0). */
void fb_clip_grad(float *g, size_t n, float clip);
/* One Lagrange step on state[3] = {log α, Adam m, Adam v} at Adam step t ≥ 1: gradient
 * descent on L(log α) = −α·(P − target) (so α grows while the penalty P exceeds the
 * target), log α ≤ log 1e6. */
void fb_lagrange_step(float *state, double penalty, double target, double lr, int64_t t);

double fb_loss_fixed(fb_agent *a, const fb_data *data, const long *idx, const float *z,
                     int with_grad, fb_stats *st);
/* Continuous actions: the actor's loss −mean_i min_k F_k(s_i, π(s_i, z_i), z_i)ᵀz_i on the
 * same kind of fixed batch, and (with_grad) its gradient in the actor's grad array. */
double fb_actor_loss_fixed(fb_agent *a, const fb_data *data, const long *idx, const float *z, int with_grad);
nn_mlp *fb_net(fb_agent *a, const char *which);
/* Continuous VC-/MC-FB: draws the penalty's action_samples actions for each batch row
 * (idx, z as in fb_loss_fixed; consumes the agent's RNG) — the layout is written out in
 * fb.c — and returns them (N·K × act_dim, row i·K + m), with *at (N·K) set to 1 where
 * F is evaluated at s'_i and 0 at s_i. fb_loss_fixed then uses exactly these samples.
 * NULL for discrete actions or plain FB. */
const float *fb_penalty_sample(fb_agent *a, const fb_data *data, const long *idx, const float *z, const unsigned char **at);
/* The Q-loss's implicit reward r_i = B_iᵀ Cov⁻¹ z_i for n rows B_i, z_i (n × d each),
 * Cov = BᵀB/n (+ a 1e-6 relative ridge): the reward whose FB embedding E[r B] is z when
 * every z_i = z. Workspace cov (d × d) and work (d × n) doubles; r (n). Returns LAPACK's
 * info (r = 0 when Cov is not positive definite). */
int fb_implicit_reward(int n, int d, const float *B, const float *z, double *cov, double *work, double *r); /* "F1", "F2", "B", "actor" */

/* ---- zero-shot evaluation on an environment task ----------------------------------- */
typedef struct {
    int episodes;
    double ret;       /* mean return Σ_t r(s_{t+1}) over the horizon */
    double opt;       /* mean optimal return from the same starts (NAN if unknown) */
    double norm;      /* Σ ret / Σ opt (NAN if unknown) */
    double success;   /* goal tasks: fraction of episodes reaching the goal */
} fb_task_result;

/* Infers z for the task in each of the k agents (goal: B(g); reward: from the n_labels
 * label states, typically dataset states, labelled with the task's reward), then rolls
 * out the ensemble's policy (fb_ens_act; k = 1: the agent's own) for `episodes` episodes
 * from uniformly drawn starts (never the goal itself) with seed — or, with all_starts
 * (grids only), one episode from every free cell but the goal: exact for slip 0.
 * z_out (k pointers to each member's d floats) may be NULL. */
int fb_eval_task(fb_agent *const *ag, int k, const rl_env *env, const rl_task *task, int n_labels,
                 const float *label_states, int episodes, int all_starts, uint64_t seed,
                 fb_task_result *res, float *const *z_out, rz_err *e);

#endif
