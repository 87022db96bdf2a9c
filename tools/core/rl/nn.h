/* nn.h — a small multi-layer perceptron core for rizz's RL agents.
 *
 * Design: an MLP is a stack of layers, each  y = act(LN(s·(x Wᵀ + b))), with the layer norm
 * (LN, learned gain/bias), the activation (none, relu, tanh) and a fixed scale s (lets an
 * output live on a large natural scale while Adam's steps stay O(lr) in parameter units)
 * chosen per layer. All
 * parameters of a network live in ONE flat float array (and its gradient in another of
 * the same length), so Adam, target-network averaging, checkpointing and gradient
 * checks are loops over a single vector. Activations are batch-major: a mini-batch of n
 * inputs is an n × in row-major matrix, and every matrix product goes through
 * cblas_sgemm.
 *
 * The forward pass of one network can be taken several times in one training step
 * (F on (s,z) and on (s',z), B on s' and on other states), so the activations saved for
 * backward live in a separate nn_tape owned by the caller: nn_forward fills a tape,
 * nn_backward reads it and ACCUMULATES parameter gradients into net->grad (zero them
 * with nn_zero_grad once per step).
 *
 * Random numbers come from rz_rng (util/rng.h, xoshiro256**), a 32-byte state that
 * checkpoints save, so training resumes bit-exactly.
 */
#ifndef RZ_NN_H
#define RZ_NN_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h" /* util/: rz_rng */
#include "rz.h"

#define NN_MAX_LAYERS 8

typedef enum { NN_ACT_NONE = 0, NN_ACT_RELU = 1, NN_ACT_TANH = 2 } nn_act;

/* ---- the network ------------------------------------------------------------------ */
typedef struct {
    int in, out;   /* W is out × in (row-major), b has out entries */
    int ln;        /* 1: layer norm over the out features (gain g, bias beta) */
    nn_act act;
    float scale;   /* fixed output multiplier: H = scale·(x Wᵀ + b) (1 by default) */
    size_t off_W, off_b, off_g, off_beta; /* offsets into param / grad */
} nn_layer;

typedef struct {
    int n_layers;
    nn_layer L[NN_MAX_LAYERS];
    size_t n_params;
    float *param; /* n_params */
    float *grad;  /* n_params, accumulated by nn_backward */
} nn_mlp;

/* Describes a network: sizes[0] inputs, sizes[n_layers] outputs; ln[i] and act[i] for
 * layer i (0-based). */
typedef struct {
    int n_layers;
    int sizes[NN_MAX_LAYERS + 1];
    int ln[NN_MAX_LAYERS];
    nn_act act[NN_MAX_LAYERS];
    float scale[NN_MAX_LAYERS]; /* 0 means 1 */
} nn_spec;

/* Allocates and initialises: W, b ~ U(−1/√in, 1/√in) (PyTorch's nn.Linear default),
 * LN gain 1 and bias 0. */
int nn_init(nn_mlp *net, const nn_spec *spec, rz_rng *rng, rz_err *e);
void nn_free(nn_mlp *net);
void nn_zero_grad(nn_mlp *net);
/* dst ← src (same spec). */
void nn_copy_params(nn_mlp *dst, const nn_mlp *src);
/* Polyak averaging of target networks: dst ← (1−tau)·dst + tau·src. */
void nn_soft_update(nn_mlp *dst, const nn_mlp *src, float tau);

/* ---- forward / backward ------------------------------------------------------------ */
/* Saved activations for one forward pass of up to cap rows. For layer l with n rows:
 *   x[l]    n × in    its input (x[0] is a copy of the network input)
 *   h[l]    n × out   x Wᵀ + b (pre-norm)
 *   xhat[l] n × out   normalised h (LN layers only), rstd[l] n reciprocal std
 *   y[l]    n × out   output after LN and activation (= x[l+1]) */
typedef struct {
    int cap, n;
    float *x[NN_MAX_LAYERS + 1];
    float *h[NN_MAX_LAYERS];
    float *xhat[NN_MAX_LAYERS];
    float *rstd[NN_MAX_LAYERS];
    float *dbuf[2]; /* backward scratch, cap × max width each */
} nn_tape;

int nn_tape_init(nn_tape *t, const nn_mlp *net, int cap, rz_err *e);
void nn_tape_free(nn_tape *t);

/* Forward pass of n rows of X (n × in); returns the output (n × out) inside the tape. */
const float *nn_forward(const nn_mlp *net, nn_tape *t, const float *X, int n);
/* Backward through the last forward on tape t: dY is n × out (dL/dY). Adds dL/dθ to
 * net->grad; writes dL/dX (n × in) to dX unless dX is NULL. */
void nn_backward(nn_mlp *net, nn_tape *t, const float *dY, float *dX);
/* Matrix-multiply FLOPs of a forward on n rows, 2n·Σ_l in_l·out_l, plus with backward
 * the same again for dW and for dX on every layer but the first (whose input gradient
 * nn_backward skips when dX is NULL) — what benchmarks divide by time. Element-wise work
 * (layer norm, activations, Adam) is not counted. */
double nn_mlp_flops(const nn_mlp *net, double n, int backward);

/* ---- Adam (Kingma & Ba), with bias correction ---------------------------------------- */
typedef struct {
    size_t n;
    float *m, *v;
    int64_t t; /* steps taken */
    float lr, beta1, beta2, eps;
} nn_adam;

int nn_adam_init(nn_adam *a, size_t n, float lr, rz_err *e);
void nn_adam_free(nn_adam *a);
/* θ ← θ − lr·m̂/(√v̂ + eps) with m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ). */
void nn_adam_step(nn_adam *a, float *param, const float *grad);

/* ---- small helpers --------------------------------------------------------------------- */
/* C (m × n) = alpha · op(A) · op(B) + beta · C, row-major, through cblas_sgemm. */
void nn_gemm(int transA, int transB, int m, int n, int k, float alpha, const float *A,
             const float *B, float beta, float *C);
/* Scales row v (length d) to Euclidean norm r (leaves a zero vector unchanged). */
void nn_project_sphere(float *v, int d, float r);

#endif
