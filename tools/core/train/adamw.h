/* adamw.h — the AdamW optimizer (Loshchilov & Hutter) with bias correction, decoupled
 * weight decay, global-norm gradient clipping and a learning-rate schedule.
 *
 * One step t = 1, 2, ... on parameters p with gradient g (all float vectors of n):
 *     ‖g‖ = sqrt(Σ g²) (double, in index order);  if clip > 0 and ‖g‖ > clip: g ← g · clip/‖g‖
 *     lr_t = rz_adamw_lr(o, t − 1)
 *     p ← p − lr_t · wd · p                              (decoupled decay, as torch.optim.AdamW)
 *     m ← β1 m + (1 − β1) g;   v ← β2 v + (1 − β2) g²
 *     p ← p − lr_t · (m / (1 − β1^t)) / (sqrt(v / (1 − β2^t)) + eps)
 * Per-element arithmetic is float with the bias corrections computed in double and
 * rounded once, so the result does not depend on the thread count (elements are
 * independent).
 *
 * Schedule (step s = 0-based index of the update): linear warmup lr·(s+1)/warmup for
 * s < warmup, then over the remaining steps either cosine decay to min_lr,
 * min_lr + (lr − min_lr)·(1 + cos(π·d))/2, linear decay lr − (lr − min_lr)·d, or
 * constant, with d = (s − warmup)/(total − warmup) ∈ [0, 1).
 */
#ifndef RZ_ADAMW_H
#define RZ_ADAMW_H

#include <stddef.h>

#include "rz.h"

enum { RZ_SCHED_COSINE = 0, RZ_SCHED_LINEAR = 1, RZ_SCHED_CONSTANT = 2 };
extern const char *const rz_adamw_schedule_names[]; /* "cosine", "linear", "constant", NULL: by value */

typedef struct {
    double lr;           /* peak learning rate */
    double min_lr;       /* floor of the decay (0 by default) */
    double beta1, beta2; /* 0.9, 0.999 */
    double eps;          /* 1e-8 */
    double weight_decay; /* decoupled, 0 by default */
    double clip;         /* global-norm clip, <= 0: off */
    int warmup;          /* warmup steps */
    int total;           /* steps of the whole run (schedule length) */
    int schedule;        /* RZ_SCHED_* */
} rz_adamw_opts;

void rz_adamw_defaults(rz_adamw_opts *o);
/* "cosine", "linear", "constant" -> RZ_SCHED_*; -1 if unknown. */
int rz_adamw_schedule_parse(const char *s);
const char *rz_adamw_schedule_name(int s);

typedef struct {
    size_t n;
    long step;  /* updates done */
    float *m, *v;
} rz_adamw;

int rz_adamw_init(rz_adamw *a, size_t n, rz_err *e); /* m = v = 0, step 0 */
void rz_adamw_free(rz_adamw *a);

/* Learning rate of update s (0-based). */
double rz_adamw_lr(const rz_adamw_opts *o, long s);
/* sqrt(Σ g²) in double, index order. */
double rz_grad_norm(const float *g, size_t n);
/* One update of p[n] with g[n] (g is clipped in place). Returns the gradient norm
 * before clipping; *lr_out (may be NULL) gets the rate used. */
double rz_adamw_step(rz_adamw *a, const rz_adamw_opts *o, float *p, float *g, double *lr_out);

#endif
