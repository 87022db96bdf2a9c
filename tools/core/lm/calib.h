/* calib.h — calibration statistics for Hessian-aware quantisation: H = Σ x xᵀ / n of the
 * inputs x of every linear-layer group, gathered through the forward's tap (llama.h).
 *
 * Groups per block (RZ_TAP_*): attention input (wq, wk, wv share it), attention output
 * (wo), MLP input (w1, w3), MLP down (w2). Sums are kept in float64: each tap call
 * converts its T rows to double and adds their Gram matrix with one dsyrk (upper
 * triangle; OpenBLAS single-threaded, so the result does not depend on threads), and
 * rz_calib_finish mirrors it and divides by the row count.
 *
 * Windows: `count` windows of ctx tokens start at offsets drawn uniformly from
 * [0, n − ctx] by a splitmix64 generator seeded with seed (GPTQ's random segments), so the
 * same (n, ctx, count, seed) always picks the same text.
 */
#ifndef RZ_CALIB_H
#define RZ_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "llama.h"
#include "stream.h"

typedef struct {
    int n_layers;
    int n[RZ_TAP_GROUPS];   /* input width of each group: dim, dim, dim, hidden */
    double **S;             /* [n_layers·4] n×n sums (upper triangle until finish), then H */
    double *tokens;         /* [n_layers·4] rows accumulated */
    double *tmp;            /* conversion scratch, max_T × max n */
    int max_T;
} rz_calib;

int rz_calib_init(rz_calib *c, const rz_llama_config *cfg, int max_T, rz_err *e);
void rz_calib_free(rz_calib *c);
/* The Gram matrix of rows, the one implementation: S (n × n, upper triangle) += xᵀx for
 * x[T][n] (row stride ld), converted to double in tmp (T × n) and one dsyrk; then
 * rz_gram_finish mirrors S and divides it by the row count: S = XᵀX / rows. */
void rz_gram_add(double *S, const float *x, int T, int n, int ld, double *tmp);
void rz_gram_finish(double *S, int n, double rows);
/* The tap: pass to rz_llama_set_tap with ctx = the rz_calib. */
void rz_calib_tap(void *ctx, int layer, int which, const float *x, int T, int n, int ld);
/* Mirrors the upper triangles and divides every sum by its row count: S becomes H. */
void rz_calib_finish(rz_calib *c);

/* Window starts for `count` windows of ctx tokens over n tokens (n ≥ ctx). */
void rz_calib_windows(size_t n, int ctx, long count, uint64_t seed, long *starts);

/* Reads every "hessian" record of a stream into H[layer * RZ_TAP_GROUPS + group]
 * (malloc'ed n x n doubles; H must start all NULL), checking each against the model
 * (hash, layer, order) and that none is missing or repeated. Errors name the record. */
int rz_hessians_load(const char *loc, const rz_stream_opts *so, const rz_llama_config *cfg, uint64_t mhash,
                     double **H, rz_err *e);

/* What rz-quantize and rz-lowrank start from: the model (any format rz_model_load
 * reads), its identity hash, and every Hessian of the stream checked against it. */
int rz_quant_inputs_load(const char *model, const char *hess, const rz_stream_opts *so, rz_llama **m,
                         uint64_t *mhash, double ***H, rz_err *e);

#endif
