/* qrecord.h — the record types of weight quantisation (field by field in schemas/quant.md):
 *
 *   "hessian" (v1)  one linear-layer input group of one block: H = Σ x xᵀ / n over the n
 *                   calibration rows x that entered it, in float64, plus the per-channel
 *                   mean of x² (= diag H, kept for imatrix-style consumers);
 *   "qlayer"  (v1)  one quantised linear layer: codes, scales (and zero points), the
 *                   incoherence seeds and its proxy loss;
 *             (v2)  the same plus a low-rank pair L [rows][k], R [k][pcols] (CALDERA,
 *                   rz-lowrank): W ≈ Q + L·R in the (rotated) basis of the codes. A
 *                   record without L, R is written as v1, byte for byte as before.
 *             (v3)  v1 or v2 plus fp16 scales per output row and per input column of the
 *                   decoded matrix, Ŵ ← diag(out_scale) Ŵ diag(in_scale) (the RHT sign
 *                   vectors tuned as floats, rz-finetune --rht-scales). Records without
 *                   them are written as v1/v2 as before.
 *
 * Encoding packs a record from a view; decoding validates every field (types, ranges,
 * payload lengths against the declared shapes, finite scales) before returning a view
 * that points into the decoded record (payloads may be unaligned: memcpy them). Sizes
 * are bounded (order ≤ RZ_QUANT_MAX_DIM) before any allocation a reader makes from them.
 * Payloads are little-endian; rizz runs on little-endian hosts only.
 */
#ifndef RZ_QRECORD_H
#define RZ_QRECORD_H

#include <msgpack.h>
#include <stdint.h>

#include "record.h"

/* Incoherence of a qlayer (rz_qlayer_view.incoherent): none, random Hadamard on both
 * sides (W ← U W Vᵀ, QuIP#), or on the input side only (W ← W Vᵀ; U is the identity). */
enum { RZ_INCOH_NONE = 0, RZ_INCOH_BOTH = 1, RZ_INCOH_IN = 2 };

#define RZ_HESSIAN_VERSION 1
#define RZ_QLAYER_VERSION 1
#define RZ_QLAYER_VERSION_LR 2 /* records that carry L and R */
#define RZ_QLAYER_VERSION_SCALES 3 /* records that carry out_scale and in_scale */
#define RZ_QUANT_MAX_DIM (1 << 16) /* rows, columns, Hessian order */

/* Input groups, in the order of llama.h's RZ_TAP_* (attn_in, attn_out, mlp_in, mlp_down). */
const char *rz_hessian_group_name(int group);
int rz_hessian_group_parse(const char *s); /* -1 when unknown */

typedef struct {
    int layer;            /* transformer block */
    int group;            /* 0..3, see rz_hessian_group_name */
    int n;                /* order of H = input width */
    int64_t tokens;       /* rows accumulated */
    uint64_t model_hash;  /* rz_llama_identity (RZ_ID_LAYERS) of the model that produced it */
    int64_t windows, ctx; /* calibration windows and their length (information) */
    const void *H;        /* n·n float64, row-major */
    const void *mean_sq;  /* n float64 */
} rz_hessian_view;

void rz_hessian_pack(msgpack_packer *pk, const rz_hessian_view *h);
int rz_hessian_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_hessian_view *h, rz_err *e);

/* Quantisation methods of a qlayer. */
enum { RZ_QM_RTN = 0, RZ_QM_LDLQ, RZ_QM_E8P, RZ_QM_COUNT };
const char *rz_qmethod_name(int method);
int rz_qmethod_parse(const char *s); /* -1 when unknown */
/* 1 if bits is valid for the method: rtn/ldlq 2, 3, 4, 8; e8p 2, 3, 4. */
int rz_qmethod_bits_ok(int method, int bits);

/* Storage of L and R: float32, fp16, bf16 values, or min-max grid codes (2, 3, 4, 8
 * bits) with one float32 scale and one uint8 zero point per column of L / row of R (or
 * per lr_group consecutive entries along it). */
enum { RZ_LR_F32 = 0, RZ_LR_F16, RZ_LR_BF16, RZ_LR_GRID, RZ_LR_COUNT };
const char *rz_lrformat_name(int format);
int rz_lrformat_parse(const char *s); /* -1 when unknown */

typedef struct {
    char name[RZ_MAX_NAME]; /* the model tensor it replaces, e.g. layers.0.attention.wq.weight */
    int rows, cols;         /* the tensor's shape [out][in] */
    int pcols;              /* quantised width: cols, or for e8p cols rounded up to 8 */
    int method, bits;
    int group;              /* scalar grids: columns per scale group, 0 = one per row */
    int incoherent;         /* RZ_INCOH_*: codes are of U W Vᵀ (both) or W Vᵀ (in) */
    uint64_t seed_u, seed_v; /* rz_rht_init(rows, seed_u), rz_rht_init(pcols, seed_v) */
    uint64_t model_hash;
    double loss, rel_loss;      /* tr(ΔW H ΔWᵀ) and loss / tr(W H Wᵀ) */
    const void *codes;      /* see rz_qlayer_codes_bytes */
    size_t codes_n;
    const void *scales;     /* float32: rows·groups (scalar) or 1 (e8p: wscale) */
    size_t n_scales;
    const void *zeros;      /* uint8 zero points, rows·groups (scalar); none for e8p */
    size_t n_zeros;
    /* low-rank part (v2; rank 0 = none, the other fields then unused) */
    int rank;               /* k */
    int lr_format;          /* RZ_LR_* */
    int lr_bits;            /* grid: 2, 3, 4, 8; 16 (f16/bf16); 32 (f32) */
    int lr_group;           /* grid: entries per scale group along a vector, 0 = whole vector */
    const void *L, *R;      /* values: L [rows][k], R [k][pcols] row-major; grid: bit streams
                               of the k columns of L (k × rows) and of the k rows of R
                               (k × pcols), packed as the scalar codes above */
    size_t L_n, R_n;        /* bytes */
    const void *L_scales, *R_scales; /* grid: float32, k × groups(rows) and k × groups(pcols) */
    const void *L_zeros, *R_zeros;   /* grid: uint8, same counts */
    size_t L_ns, R_ns;      /* scale (= zero point) counts */
    /* line scales (v3; NULL = none, both or neither): fp16, finite, little-endian */
    const void *out_scale;  /* rows values: row i of the decoded matrix times out_scale[i] */
    const void *in_scale;   /* cols values: column j times in_scale[j] */
} rz_qlayer_view;

/* Bytes of nvec vectors of len entries of a low-rank factor in format/bits (0 if invalid),
 * and its scale count (grid only). */
size_t rz_qlayer_lr_bytes(int format, int bits, int nvec, int len);
size_t rz_qlayer_lr_n_scales(int format, int nvec, int len, int group);

/* Expected payload sizes for a shape/method (0 on an invalid combination). */
size_t rz_qlayer_codes_bytes(int method, int bits, int rows, int pcols);
size_t rz_qlayer_n_scales(int method, int rows, int pcols, int group);
/* Bits of everything a decoder needs: codes, scales, zero points, the two 64-bit seeds
 * when incoherent, L, R with their scales and zero points, and 16·(rows + cols) for
 * the line scales (v3). */
double rz_qlayer_payload_bits(const rz_qlayer_view *q);
/* The same accounting before any record exists, for budgets: Q's bits for a shape and
 * method (incoherent: RZ_INCOH_*), and the bits one rank step of L, R adds — lr_bits per
 * entry of the new column of L (rows) and row of R (pcols), plus for grid codes
 * (lr_bits <= 8) a float32 scale and a uint8 zero point per lr_group-wide group. */
double rz_qlayer_q_bits(int method, int bits, int rows, int pcols, int group, int incoherent);
double rz_qlayer_lr_step_bits(int lr_bits, int rows, int pcols, int lr_group);

void rz_qlayer_pack(msgpack_packer *pk, const rz_qlayer_view *q);
int rz_qlayer_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_qlayer_view *q, rz_err *e);

#endif
