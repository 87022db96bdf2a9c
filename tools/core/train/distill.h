/* distill.h — the loss of a model against a frozen float teacher's output distribution:
 * CALDERA's / QuIP#'s fine-tuning objective (distillation) and the measured end-loss
 * change that rank allocation minimises.
 *
 * Per position t with teacher log-probabilities ℓ_t = log softmax(z̄_t) [V] and student
 * logits z_t [V], q_t = softmax(z_t):
 *
 *     KL_t = Σ_v p_tv (ℓ_tv − log q_tv),  p_t = exp ℓ_t,
 *     ∂KL_t/∂z_tv = q_tv − p_tv
 *
 * (the soft cross-entropy −Σ p log q minus the teacher's entropy, a constant: same
 * gradient, and 0 at q = p). The gradient is the hard-label one with the one-hot target
 * replaced by p, so rz_train's backward runs unchanged from dlogits (lora.h).
 *
 * Data: contiguous windows of T tokens as rz_train_step_grad draws them (lora.h); the
 * probe's windows are the first `windows` non-overlapping T-token windows of its ids.
 * Determinism: row sums in double in row order; the rest is lora.h's forward/backward,
 * bitwise independent of the thread count; the distillation step reduces over ranks as
 * rz_train_step_grad does (bit-identical for any rank count).
 */
#ifndef RZ_DISTILL_H
#define RZ_DISTILL_H

#include "lora.h"

/* out[N][V] = log softmax(logits) per row (out may alias logits). */
void rz_tr_log_softmax(float *out, const float *logits, int N, int V);
/* Σ_rows KL(p_t ‖ softmax(logits_t)) in double (row[N] scratch: the per-row terms). */
double rz_tr_kl_fwd(double *row, const float *logits, const float *tlogp, int N, int V);
/* dlogits = scale (softmax(logits) − exp(tlogp)); may alias logits. */
void rz_tr_kl_bwd(float *dlogits, const float *logits, const float *tlogp, int N, int V, float scale);

/* A frozen model's forward for teacher log-probabilities (rank-0 adapters over m; m is
 * not copied and must outlive it). */
typedef struct rz_teacher rz_teacher;
int rz_teacher_new(rz_llama *m, int max_B, int T, rz_teacher **out, rz_err *e);
/* tlogp[B*T][V] = log softmax of m's logits on tokens[B][T]. */
int rz_teacher_logp(rz_teacher *tc, const int *tokens, int B, float *tlogp, rz_err *e);
void rz_teacher_free(rz_teacher *tc);

/* One step's gradient of the mean KL over batch·T positions against the teacher, into
 * a->grads, and that mean in *loss: rz_train_step_grad with the teacher's distribution
 * as the target (same data order, micro-batches and rank reduction). tlogp: scratch of
 * micro·T·V floats. */
int rz_distill_step_grad(rz_train *t, rz_lora *a, rz_teacher *tc, const rz_step_shape *s, const int *ids, size_t n,
                         rz_data_cursor *cur, double *acc, int *tokens, float *tlogp, double *loss, rz_err *e);

/* ---- a fixed evaluation set: mean KL or NLL over the first `windows` windows ------- */

/* The probe keeps the teacher's log-probabilities of its windows (windows·T·V floats)
 * and a rank-0 forward over m, so the KL of m's CURRENT weights can be measured after
 * changing them in place (rz_kl_probe_swap). */
typedef struct rz_kl_probe rz_kl_probe;
/* Needs n ≥ windows·T + 1 tokens; evaluates max_B windows per forward. */
int rz_kl_probe_new(rz_llama *m, const int *ids, size_t n, int windows, int T, int max_B, rz_kl_probe **out,
                    rz_err *e);
void rz_kl_probe_free(rz_kl_probe *p);
/* Mean KL per position of m's current weights. */
int rz_kl_probe_model(rz_kl_probe *p, double *kl, rz_err *e);
/* Mean KL of linear lin (rz_llama_linear order) replaced by What [rows][cols], the rest as
 * m is now; m is restored afterwards (bit for bit). */
int rz_kl_probe_swap(rz_kl_probe *p, long lin, const float *What, double *kl, rz_err *e);
/* Mean KL of the model that t computes (its rz_lora, any adapters); t's T must be the
 * probe's, B ≤ t's max_B windows per forward. */
int rz_kl_probe_student(rz_kl_probe *p, rz_train *t, int B, double *kl, rz_err *e);
/* Mean next-token NLL of t's model over the first `windows` T-token windows of ids
 * (targets the next tokens, as rz_data_next draws them), B per forward. */
int rz_train_eval_nll(rz_train *t, const int *ids, size_t n, int windows, int T, int B, double *nll, rz_err *e);

#endif
