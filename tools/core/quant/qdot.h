/* qdot.h — fused decode-and-dot kernels: a few input rows times a quantised matrix read
 * straight from its codes, for token-by-token decoding (T ≤ RZ_QDOT_MAX_T).
 *
 * For rows r of Q̃ (the stored, rotated and padded basis of a qlayer view, rows × pcols)
 * and T inputs x̃[t] (pcols each):
 *
 *     y[t][r] = Σ_j Q̃[r][j] x̃[t][j]
 *
 * without materialising a float row of Q̃: each block of 8 weights is decoded into
 * registers and multiplied into T accumulators at once, so the matrix is read from
 * memory once per call as codes (2–8 bits per weight), which is what bounds decoding.
 *
 *   e8p 2 bits   w = (a ⊙ s + t) with a = pattern (code >> 8), s = ±1 signs and t = ±1/4
 *                from the sign byte (e8p.h tables: three loads and one FMA per 8
 *                weights); y = wscale · Σ. For T ≤ 2 the AVX2 kernel takes t out:
 *                Σ (a ⊙ s)·x + t Σx, the t of 8 blocks from their sign bytes' parities
 *                at once against block sums of x (two table loads per 8 weights).
 *   e8p 3 bits   w = E8P + E81B / 2.04 (the residual table pre-divided).
 *   e8p 4 bits   w = E8P₁ + E8P₂ / 3.45.
 *   rtn / ldlq   per group of `group` columns (or the row): Σ_j (q_j − z) x_j in float
 *                with q_j − z an exact small integer, times the group's scale. At 2 and
 *                4 bits with groups of a multiple of 64 (2 bits) or 32 (4 bits) columns
 *                or one per row ("lane" kernel): 32 bytes of codes are read as 8 lanes of
 *                32 bits, vector k = (lanes >> k·b) & mask, against a copy of the input
 *                transposed to match once per call (so calls should cover many rows);
 *                otherwise the codes of 8 weights (b bytes at b bits) are unpacked with
 *                one broadcast, a variable shift and a mask.
 *
 * Variants: RZ_QDOT_REF is portable C (one weight at a time, decoded exactly as
 * rz_qlayer_decode_rows does, summed in order): the reference the tests compare the
 * SIMD variant against. RZ_QDOT_AVX2 needs AVX2 + FMA (compiled with a target attribute,
 * chosen at run time with __builtin_cpu_supports). There is no AVX-512 variant: it could
 * not be tested on the machines at hand. RZ_QDOT_AUTO picks the best the CPU has, the
 * same for every call in a process, so results do not depend on the thread count (each
 * output element is computed by one call, in a fixed order).
 *
 * Accuracy: both variants equal the float64 product with the decoded rows up to
 * float32 rounding of the sums, |error| ≲ pcols · 2⁻²⁴ · ‖x̃‖ · ‖Q̃_r‖ (test_qdot).
 * The AVX2 variant reads up to 7 bytes past a block's codes only when they lie inside
 * the view's codes_n (it checks), so any validated view can be passed.
 */
#ifndef RZ_QDOT_H
#define RZ_QDOT_H

#include "qrecord.h"

enum { RZ_QDOT_AUTO = 0, RZ_QDOT_REF, RZ_QDOT_AVX2, RZ_QDOT_COUNT };
enum { RZ_QDOT_MAX_T = 4 };

/* 1 if this CPU runs the variant (AUTO and REF: always). */
int rz_qdot_have(int isa);
/* The variant AUTO resolves to on this CPU. */
int rz_qdot_best(void);
const char *rz_qdot_name(int isa);

/* y[t·ldy + i] = Σ_j Q̃[r0 + i][j] x[t·ldx + j] for i < n, t < T (1 ≤ T ≤ RZ_QDOT_MAX_T),
 * j < pcols; y is overwritten. isa: RZ_QDOT_* (a variant the CPU lacks falls back to
 * REF). The view may have a low-rank part: it is ignored (Q̃ only). */
void rz_qdot_rows(const rz_qlayer_view *v, int isa, int r0, int n, int T, const float *x, int ldx, float *y,
                  int ldy);

#endif
