/* qlayer.h — one quantised linear layer: quantise a weight matrix with its Hessian into
 * the codes, scales and seeds of a "qlayer" record (schemas/qrecord.h), and decode such a
 * record back into dense float32 weights.
 *
 * Quantising W (rows × cols, [out][in]) with H (cols × cols, float64):
 *  1. e8p pads the input width to pcols = a multiple of 8 with zero columns of W and zero
 *     rows/columns of H (the padded inputs are always 0 at inference; the codes of the
 *     padded columns are stored and counted in the bits per weight);
 *  2. with incoherence, W ← U W Vᵀ and H ← V H Vᵀ with random Hadamard transforms
 *     (rht.h) U of size rows, V of size pcols, seeded by seed_u, seed_v, which are
 *     derived from the user's seed and the layer's index in the model;
 *  3. rtn: rz_rtn; ldlq: rz_ldl_factor(blk 1) + rz_gptq; e8p: rz_ldl_factor(blk 8) +
 *     rz_ldlq_e8p_ex (2 bits E8P, 3 and 4 bits residual E8P; target RMS, tune passes and
 *     scale search from the options, with the rotated, padded H);
 *  4. the quantiser's own Ŵ is transformed back (Uᵀ Ŵ V), cropped to cols, and its proxy
 *     loss tr(ΔW H ΔWᵀ) computed against the original W and H.
 * Decoding (rz_qlayer_dequant) recomputes Ŵ from the stored codes alone: the same
 * grid/codebook values, the same inverse transforms. tests/unit/test_qlayer.c checks it
 * equals step 4's Ŵ.
 *
 * Low-rank records (v2, CALDERA): rz_qlayer_from_caldera turns a rz_caldera fit of the
 * padded matrix (caldera.h; fitted in the rotated basis with the seeds rz_qlayer_seeds
 * gives) into a record holding Q's codes and L, R. Decoding then computes
 * Ŵ = Uᵀ (Q + L R) V, cropped to cols (the merge); rz_qlayer_dequant_parts returns
 * Uᵀ Q V and the pair in the original basis, L_orig = Uᵀ L, R_orig = R V (cropped), so
 * that Ŵ = Q_orig + L_orig R_orig.
 */
#ifndef RZ_QLAYER_H
#define RZ_QLAYER_H

#include <stdint.h>

#include "caldera.h"
#include "qrecord.h" /* schemas/: the record view */

typedef struct {
    int method;        /* RZ_QM_RTN, RZ_QM_LDLQ, RZ_QM_E8P */
    int bits;          /* rtn/ldlq: 2, 3, 4, 8; e8p: 2, 3, 4 */
    int group;         /* rtn/ldlq: columns per scale group, 0 = per row */
    int incoherence;   /* RZ_INCOH_NONE, RZ_INCOH_BOTH, RZ_INCOH_IN (qrecord.h) */
    uint64_t seed;
    double percdamp;   /* ≤ 0: RZ_PERCDAMP */
    /* e8p only (ldlq.h rz_e8p_opts; 0 = none, as QuIP#'s code before its tune passes):
     * target_rms ≤ 0 = rz_ldlq_e8p's default */
    float target_rms;
    int tune_iters;
    int scale_search;
} rz_qopts;

/* A quantised layer owning its payloads; v points into them. */
typedef struct {
    rz_qlayer_view v;
    uint8_t *codes;
    float *scales;
    uint8_t *zeros;
    void *L, *R;                 /* low-rank payloads (rz_qlayer_from_caldera) */
    float *L_scales, *R_scales;
    uint8_t *L_zeros, *R_zeros;
    uint16_t *out_scale, *in_scale; /* v3 line scales (fp16), or NULL */
} rz_qlayer;

/* Quantises W with H (see above). item = the layer's index among the model's linears
 * (seeds the transforms); What (rows × cols, may be NULL) receives the quantiser's Ŵ.
 * RZ_EINPUT when the damped H is not positive definite (ldlq, e8p) or options are bad. */
int rz_qlayer_quantize(const char *name, const float *W, int rows, int cols, const double *H,
                       const rz_qopts *o, long item, uint64_t model_hash, rz_qlayer *q, float *What,
                       rz_err *e);
/* The same with the input transform V keyed by in_key > 0 instead of the layer's item
 * (seed_v = rz_qlayer_seed_shared_v(seed, in_key)), so layers quantised with the same
 * in_key — those reading the same input: wq, wk, wv; w1, w3 — share one V, which
 * inference computes once per token (qlinear.h rz_qlinear_apply_group); in_key 0 is
 * rz_qlayer_quantize. The record format is unchanged: every record carries its seed_v. */
int rz_qlayer_quantize_keyed(const char *name, const float *W, int rows, int cols, const double *H,
                             const rz_qopts *o, long item, long in_key, uint64_t model_hash, rz_qlayer *q,
                             float *What, rz_err *e);
void rz_qlayer_free(rz_qlayer *q);

/* A vocab × dim table (token embeddings, classifier) by round to nearest on the min-max
 * grid of `bits` bits, per row (group 0) or per `group` columns, no incoherence: the
 * form a packed model's engine reads one row at a time (schemas/quant.md). H = I, so the
 * record's loss is ‖ΔW‖²_F. */
int rz_qlayer_quantize_table(const char *name, const float *W, int rows, int cols, int bits, int group,
                             uint64_t model_hash, rz_qlayer *q, rz_err *e);

/* Ŵ (rows × cols) from a validated view (Q + L R when the record has a low-rank part;
 * then diag(out_scale) · Ŵ · diag(in_scale) when it has line scales, v3). */
int rz_qlayer_dequant(const rz_qlayer_view *v, float *W, rz_err *e);

/* The parts of a validated view in the original basis: Q (rows × cols, may be NULL),
 * L (rows × rank) and R (rank × cols) (both may be NULL; unused when rank is 0), WITHOUT
 * the line scales (v3): the layer is diag(a) (Q + L R) diag(b), a and b from
 * rz_qlayer_line_scales. */
int rz_qlayer_dequant_parts(const rz_qlayer_view *v, float *Q, float *L, float *R, rz_err *e);

/* The line scales of a view as float32: a [rows], b [cols]; 0 (and a, b untouched) when
 * the record has none, 1 when it has. */
int rz_qlayer_line_scales(const rz_qlayer_view *v, float *a, float *b);

/* Rows [r0, r0 + n) of Q in the stored (rotated, padded) basis, from the codes of a
 * validated view: X is n × pcols. What rz_qlayer_dequant starts from, and what quantised
 * inference (qlinear.h) decodes panel by panel. */
void rz_qlayer_decode_rows(const rz_qlayer_view *v, int r0, int n, float *X);
/* L (rows × rank) and R (rank × pcols) of a v2 view in the stored basis. */
void rz_qlayer_lowrank_rot(const rz_qlayer_view *v, float *L, float *R);

/* The incoherence seeds of linear `item` (as rz_qlayer_quantize derives them with
 * in_key 0). */
void rz_qlayer_seeds(uint64_t seed, long item, uint64_t *seed_u, uint64_t *seed_v);
/* seed_v of the layers quantised with in_key > 0 (rz_qlayer_quantize_keyed). */
uint64_t rz_qlayer_seed_shared_v(uint64_t seed, long in_key);

/* The record of a CALDERA fit c of W padded to c->n = pcols columns (e8p: a multiple of
 * 8, zero columns appended, H padded with zero rows/columns; ldlq: pcols = cols). The
 * fit must use RZ_CQ_E8P or RZ_CQ_LDLQ; when incoherent, its seed must be seed_u with
 * seed_v = seed_u + 1 (rz_caldera's U, V). lr_bits 32 → f32, 16 → f16 or bf16 (as fitted),
 * else grid codes. The proxy loss is that of the decoded record against W and H
 * (rows × cols, cols × cols). */
int rz_qlayer_from_caldera(const char *name, const rz_caldera *c, int rows, int cols, const float *W,
                           const double *H, uint64_t model_hash, rz_qlayer *q, rz_err *e);

/* A copy of the v2 record view `in` (rank k > 0) with its low-rank pair replaced by L
 * (rows × k) and R (k × cols) given in the ORIGINAL basis, as rz_qlayer_dequant_parts
 * returns them (fine-tuned L, R with Q frozen: rz-finetune --packed-out). They are taken
 * back to the stored basis (L ← U L; R ← [R | in's own padded columns pcols − cols] Vᵀ
 * when incoherent) and encoded in in's format: f32 as is, f16/bf16 rounded, grid codes of
 * in's lr_bits/lr_group with each vector's (group's) scale and zero point fitted afresh
 * (min-max, as rz-lowrank). Q's codes, scales, zero points, the seeds, model_hash and the
 * (pre-tuning) loss/rel — and the line scales of a v3 record — are copied byte for byte. RZ_EINPUT when in has no low-rank part
 * or an f16 value overflows. q owns its payloads (rz_qlayer_free). */
int rz_qlayer_replace_lowrank(const rz_qlayer_view *in, const float *L, const float *R, rz_qlayer *q,
                              rz_err *e);

#endif
