/* fbcpr.h — FB-CPR (Meta Motivo): forward–backward training regularised towards
 * unlabelled expert behaviour by a latent-conditional discriminator, on top of the FB
 * core of fb.h (continuous actions).
 *
 * One update on a train batch of N transitions (s_i, a_i, s'_i, z^roll_i) from the replay
 * buffer — z^roll the z the policy acted with — and an expert batch of N states made of
 * N/L windows of L = seq_length consecutive expert states (e_i, e'_i):
 *   expert z   ze_w = √d·normalize(mean_{t∈w} B(e'_t)), repeated over the window's rows;
 *   D          D(s, z) ∈ ℝ (a logit; D = σ(logit)) trained on (e, ze) = expert vs
 *              (s, z^roll) = policy with BCE, plus grad_penalty × the WGAN-GP term
 *              mean_i (‖∇_{(x,z)} D(x̃_i, z̃_i)‖ − 1)² at x̃ = α e + (1−α) s,
 *              z̃ = α ze + (1−α) z^roll, α ~ U(0,1) per row;
 *   z mixture  each row's training z is, independently, with probability goal_ratio
 *              √d·normalize(B(s'_j)) of a uniformly drawn batch next-state, with
 *              expert_ratio one of the expert embeddings ze, else uniform on the sphere
 *              of radius √d (the reference relabels every row: relabel_ratio 1);
 *   FB         fb_update_fixed on the batch with those zs (fb.h), the actor left out;
 *   critic     C_k(s, a, z) → ℝ, k = 1, 2, by TD on the reward r = log D/(1 − D) = the
 *              logit: y = r + γ(1 − done)·min_k C̄_k(s', a', z), a' = π(s', z) + clipped
 *              noise (done: s' terminal; FB's targets take the same γ(1 − done));
 *   actor      a = π(s, z) + clipped noise; loss
 *                −reg_coeff·w·mean_i min_k C_k(s_i, a_i, z_i) − mean_i min_k F_k(s_i, a_i, z_i)ᵀz_i
 *              with w = mean_i |min_k F_kᵀz| held fixed (scale_reg; 1 without);
 *   targets    C̄ ← Polyak critic_tau (F̄, B̄ inside fb_update_fixed).
 * With cpr = 0 the same machinery is plain online FB: no discriminator or critic, zs
 * from goal_ratio goals and the sphere, fb_update_fixed with fb's own actor loss.
 * The gradients are written out in fbcpr.c; every loss is finite-difference checked in
 * tests/unit/test_rl_fbcpr.c.
 */
#ifndef RZ_FBCPR_H
#define RZ_FBCPR_H

#include <stdint.h>

#include "fb.h"
#include "nn.h"
#include "rz.h"

typedef struct {
    int cpr;            /* 1: FB-CPR; 0: plain online FB in the same loop */
    int seq_length;     /* L: expert window length (8) */
    float goal_ratio;   /* 0.2 */
    float expert_ratio; /* 0.6 (cpr only) */
    float reg_coeff;    /* weight of the discriminator critic in the actor loss */
    int scale_reg;      /* 1: times mean |Q_fb| (no gradient) */
    float grad_penalty; /* 10 */
    float lr_disc, lr_critic, critic_tau;
    int disc_hidden, disc_layers; /* discriminator: relu MLP [obs, z] → logit */
} fbcpr_config;

/* The reference's ratios and weights (goal 0.2, expert 0.6, seq 8, penalty 10,
 * reg 0.01 scaled, critic τ 0.005, lr_disc 1e-5, lr_critic 1e-4), disc 256 × 2. */
void fbcpr_config_default(fbcpr_config *c);

typedef struct {
    double disc_loss, disc_expert, disc_train, gp; /* BCE parts: mean softplus(−D(e)), softplus(D(s)) */
    double critic_loss, reward, q_disc, q_fb, actor_loss;
    fb_stats fb;
} fbcpr_stats;

/* A batch: N train rows (O, A, O2: N × obs/act/obs; Z: N × d the rollout zs) and, for
 * cpr, N expert rows EO, EO2 (N × obs; rows w·L … w·L + L − 1 one window). done (N, may
 * be NULL = never) is 1 where O2 is terminal: the FB and critic targets of that row do
 * not bootstrap (discount γ·(1 − done), the reference's `discount * ~terminated`). */
typedef struct {
    const float *O, *A, *O2, *Z, *EO, *EO2, *done;
} fbcpr_batch;

typedef struct fbcpr fbcpr;

/* fb (borrowed, continuous actions, batch divisible by seq_length) holds F, B and the
 * actor; fbcpr adds the discriminator and critics. */
int fbcpr_create(fb_agent *fb, const fbcpr_config *c, uint64_t seed, fbcpr **out, rz_err *e);
void fbcpr_destroy(fbcpr *c);
const fbcpr_config *fbcpr_cfg(const fbcpr *c);
fb_agent *fbcpr_fb(fbcpr *c);

int fbcpr_update(fbcpr *c, const fbcpr_batch *b, fbcpr_stats *st, rz_err *e);
/* The N training zs of the last update (N × d, the mixture's draws the FB, critic and
 * actor steps used; the online loop's buffer of rollout zs keeps them). */
const float *fbcpr_batch_z(const fbcpr *c);

/* Expert embeddings: EO2 (n × obs, n a multiple of L) → ze (n × d), each window's
 * √d·normalize(mean B) on all of its rows. */
void fbcpr_encode_expert(fbcpr *c, int n, const float *EO2, float *ze);
/* n zs from the mixture: goal rows from goal_obs (n_goal × obs), expert rows from ze
 * (n_ze × d); either source may be absent (n_* = 0), its share then going to the
 * sphere. kind (n, may be NULL) receives 0 goal, 1 expert, 2 sphere. Consumes the RNG. */
void fbcpr_sample_z(fbcpr *c, int n, int n_goal, const float *goal_obs, int n_ze, const float *ze, float *z,
                    int *kind);
/* The same draws from the caller's RNG (the online loop's per-environment streams). */
void fbcpr_sample_z_rng(fbcpr *c, rz_rng *rng, int n, int n_goal, const float *goal_obs, int n_ze, const float *ze,
                        float *z, int *kind);

/* The losses on fixed inputs, for the gradient tests (with_grad: the gradient
 * accumulated into the networks' grad arrays after zeroing them):
 *   discriminator: N rows each side, alpha (N) the interpolation weights;
 *   critic: noise (N × act) for a' (C̄ and π fixed), done (N, may be NULL) the terminal flags;
 *   actor: noise (N × act), w the scale_reg weight (< 0: computed, and returned in *w_out).
 * fbcpr_net: "D", "C1", "C2" (and fb_net for F, B, actor). */
double fbcpr_disc_loss_fixed(fbcpr *c, const float *EO, const float *ze, const float *O, const float *Z,
                             const float *alpha, int with_grad, fbcpr_stats *st);
double fbcpr_critic_loss_fixed(fbcpr *c, const float *O, const float *A, const float *O2, const float *done,
                               const float *Z, const float *noise, int with_grad, fbcpr_stats *st);
double fbcpr_actor_loss_fixed(fbcpr *c, const float *O, const float *Z, const float *noise, double w,
                              double *w_out, int with_grad, fbcpr_stats *st);
/* The gradient penalty alone: mean_i (‖∇_x D(X_i)‖ − 1)² over n rows X (n × (obs + d)),
 * and with with_grad its parameter gradient (× scale) added into D's grad array. */
double fbcpr_grad_penalty(fbcpr *c, int n, const float *X, int with_grad, float scale);
nn_mlp *fbcpr_net(fbcpr *c, const char *which);
/* The discriminator's logit for n rows [obs, z] (the reward log D/(1 − D)). */
void fbcpr_logit(fbcpr *c, int n, const float *O, const float *Z, float *out);

/* Training state for checkpoints: discriminator, critics, targets, Adam moments, the
 * step counter and RNG (byte images "cpr.counters", "cpr.rng"); after writing saved
 * values into the listed arrays call fbcpr_state_loaded. */
int fbcpr_state(fbcpr *c, fb_tensor **list, int *n, rz_err *e);
void fbcpr_state_loaded(fbcpr *c);

#endif
