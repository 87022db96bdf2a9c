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
 * int8 inputs (RZ_QDOT_REF_I8, RZ_QDOT_AVX2_I8, RZ_QDOT_AUTO_I8), as llama.cpp's Q8 dot
 * products: each input row is quantised per call to int8 in blocks of 256 columns (e8p:
 * rotated inputs, no outliers) or 32 (2- and 4-bit grids: the classifier's groups),
 * d = max|x| / 127, q = rint(x / d) (so x̂ = d q is within d/2 of x), and the products
 * are exact integer sums (maddubs) scaled per block:
 *   e8p 2 bits   Σ_j (2 a s)_j q_j with 2 a s ∈ {±1, ±3, ±5} (the ±1/4 shift as above);
 *   e8p 3/4 bits one integer sum per stage: w = m0/4 + c1 m1 with m0 = 4 · E8P₁ ∈ {±1, …,
 *                ±11}, m1 = 4 · E8P₂ (4 bits, c1 = 1/(4 · 3.45)) or 2 · E81B ∈ −4..4
 *                (3 bits, c1 = 1/(2 · 2.04)): d (Σ m0 q / 4 + c1 Σ m1 q) per block;
 *   2/4-bit grid Σ_j q_j xq_j − z Σ_j xq_j per 32 columns, times scale · d (pcols even
 *                at 4 bits, a multiple of 4 at 2; groups of a multiple of 32 or the row);
 *   8-bit grid   Σ_j (q_j − z) xq_j per 32 columns (madd_epi16 on the widened codes:
 *                255 · 127 pairs overflow maddubs), times scale · d (any pcols; groups
 *                as above).
 * So y = Σ_j Q̃[r][j] x̂[j] to float rounding: the only extra error is the input rounding,
 * |Σ w (x̂ − x)| ≤ ‖w‖ · sqrt(Σ_j (d_j / 2)²) at worst (test_qdot holds both variants to
 * that). Other formats (3-bit grids: see the re-coding below; groups of other widths) and T · pcols > 16384 take the float path
 * unchanged; e8p 3/4 bits have an AVX2 int8 kernel only over their nibble re-coding
 * (rz_qdot_rows_e8p2n), from the codes the portable int8 one. Cost per weight on a Zen 3 core (bench_roofline --kernels): the
 * 2- and 4-bit grids 2.5–3× less than in float; e8p 2 bits from its codes about the same (the
 * codebook lookups, not the products, bound it), but 3.7× less from the nibble
 * re-coding below (rz_qdot_rows_e8p2n; e8p 3/4 bits: bench/README "RVQ int8"). The float path stays the default (AUTO): int8
 * inputs change the logits by the int8 step (bench/act8.sh), so greedy text can differ
 * from --dense's.
 *
 * RZ_QDOT_AVX512_I8 (AVX-512 F/BW/VL/VBMI/VNNI/BITALG, e.g. Zen 4): e8p 2 bits from the
 * codes, not the nibbles (half the bytes a decode step reads): per 64 codewords the sign
 * and pattern bytes are split out (vpermt2b), each coordinate's 4a looked up for all 64
 * at once in a 256-byte table (two vpermt2b, a blend), negated by its sign bit, plus 11 + τ,
 * and summed exactly against transposed inputs with vpdpbusd; same formula and int8
 * inputs as the other int8 variants. Other formats under it take the AVX2 int8 kernels.
 * Opt-in (AUTO_I8 stays on AVX2_I8): it computes ~1.5x longer per weight than the AVX2
 * kernel over the nibbles, and a one-core decode step measured slower (bench/README,
 * seventh pass); it can win only where two cores share too little bandwidth.
 * 2-, 4- and 8-bit grids (and 3-bit ones over their nibble re-coding) under AVX512_I8 and
 * AUTO_I8 run an AVX-512 VNNI kernel (F/BW/VL/VNNI) where the CPU has one: vpdpbusd of the
 * unpacked codes (unsigned) against the int8 inputs (signed), the same exact int32 sums
 * per 32 columns as the AVX2 int8 kernel and the same float epilogue, so the same bits
 * as AVX2_I8 (test_qdot); AVX2_I8 by name forces the AVX2 kernels. So does e8p 3 and 4
 * bits over its nibble re-coding (rz_qdot_rows_e8p2n): vpdpbusd of the nibbles against
 * the inputs, the AVX2 kernel's int32 lane sums per plane and 256-column block, its float
 * epilogue (2 bits: by name only, rz_qdot_rows_e8p2n_z; it measured no faster there). 8-bit grids: codes
 * (0..255) put in the AVX2 kernel's lane order by vpermb (VBMI too), vpdpbusd onto
 * −z Σ xq per lane, the same integers and float epilogue.
 *
 * The environment variable RZ_QDOT_ISA caps what AUTO and AUTO_I8 choose (read once per
 * process): "avx2" = no AVX-512 kernel (bitwise the same results, for timing A/B), "ref"
 * = the portable variants (REF, REF_I8); unset or any other value: the best the CPU has.
 *
 * Variants: RZ_QDOT_REF is portable C (one weight at a time, decoded exactly as
 * rz_qlayer_decode_rows does, summed in order): the reference the tests compare the
 * SIMD variant against (RZ_QDOT_REF_I8: the int8 arithmetic in plain C, sums exact,
 * scaling in double). RZ_QDOT_AVX2 and _I8 need AVX2 + FMA (compiled with a target
 * attribute, chosen at run time with __builtin_cpu_supports); AVX512_I8 likewise. RZ_QDOT_AUTO picks the best the CPU has, the
 * same for every call in a process, so results do not depend on the thread count (each
 * output element is computed by one call, in a fixed order).
 *
 * Accuracy: the float variants equal the float64 product with the decoded rows up to
 * float32 rounding of the sums, |error| ≲ pcols · 2⁻²⁴ · ‖x̃‖ · ‖Q̃_r‖ (test_qdot).
 * The AVX2 variant reads up to 7 bytes past a block's codes only when they lie inside
 * the view's codes_n (it checks), so any validated view can be passed.
 */
#ifndef RZ_QDOT_H
#define RZ_QDOT_H

#include "qrecord.h"

enum {
    RZ_QDOT_AUTO = 0, RZ_QDOT_REF, RZ_QDOT_AVX2, RZ_QDOT_AUTO_I8, RZ_QDOT_REF_I8, RZ_QDOT_AVX2_I8, RZ_QDOT_AVX512_I8,
    RZ_QDOT_COUNT
};
enum { RZ_QDOT_MAX_T = 4 };

/* 1 if this CPU runs the variant (AUTO and REF: always). */
int rz_qdot_have(int isa);
/* The variant AUTO (float) and AUTO_I8 (int8 inputs: AVX2_I8 or REF_I8, never
 * AVX512_I8) resolve to on this CPU, under RZ_QDOT_ISA (AUTO_I8 still takes the AVX-512
 * VNNI grid and e8p nibble kernels, which give AVX2_I8's bits, unless RZ_QDOT_ISA is
 * "avx2" or "ref"). */
int rz_qdot_best(void);
int rz_qdot_best_i8(void);
const char *rz_qdot_name(int isa);
/* What AUTO_I8 runs for the scalar grids (2-, 4- and 8-bit, 3-bit over its nibbles) on
 * this CPU under RZ_QDOT_ISA: "avx512-vnni", "avx512-vnni (8-bit: avx2-i8)" (no VBMI), or
 * the name of rz_qdot_best_i8() — for reports of which kernel ran. */
const char *rz_qdot_grid_i8_name(void);
/* What AUTO_I8 runs for e8p over its nibble re-coding (rz_qdot_rows_e8p2n) on this CPU
 * under RZ_QDOT_ISA: "avx512-vnni (2-bit: avx2-i8)" or the name of rz_qdot_best_i8() —
 * for reports. */
const char *rz_qdot_e8p2n_name(void);

/* y[t·ldy + i] = Σ_j Q̃[r0 + i][j] x[t·ldx + j] for i < n, t < T (1 ≤ T ≤ RZ_QDOT_MAX_T),
 * j < pcols; y is overwritten. isa: RZ_QDOT_* (a variant the CPU lacks falls back to
 * REF, or REF_I8 for AVX2_I8). The int8 variants quantise x inside each call (the same
 * way whatever rows a call covers, so a row split over threads gives the same bits).
 * The view may have a low-rank part: it is ignored (Q̃ only). */
void rz_qdot_rows(const rz_qlayer_view *v, int isa, int r0, int n, int T, const float *x, int ldx, float *y,
                  int ldy);

/* e8p re-coded for the int8 kernels ("e8p to nibbles"; 2, 3 and 4 bits): per 64 columns
 * one 32-byte plane per stage (low nibbles columns 0–31, high 32–63), the planes side by
 * side: plane 0 holds each weight's m0 = 4(a s + t) ∈ {±1, …, ±11} of the E8P stage as
 * (m0 + 11)/2; at 4 bits plane 1 the stage-2 E8P the same way, at 3 bits 2 · E81B + 4
 * ∈ 0..8 (qdot.c e8p_ints). rows × (pcols/64) · 32 · planes bytes (0 for other formats);
 * columns past the last multiple of 64 stay in the codes. 2 bits: twice the codes' bytes,
 * 3 bits 8/3, 4 bits twice, but no codebook lookups: the int8 kernel over them costs what
 * a 4-bit grid's does per plane (bench_roofline --kernels). rz_qdot_rows_e8p2n uses nib
 * with RZ_QDOT_AVX2_I8 / AUTO_I8 on a CPU with AVX2 and is rz_qdot_rows otherwise (the
 * same y as ref-i8 up to float rounding either way); at 3 and 4 bits AUTO_I8 takes the
 * AVX-512 VNNI kernel over them where the CPU has one (the same bits as AVX2_I8; above).
 * rz_qdot_rows_e8p2n_z runs that kernel by name at 2, 3 or 4 bits (AVX-512 F/BW/VL/VNNI,
 * nib given, i8_ok), returning 1, else rz_qdot_rows_e8p2n with AVX2_I8, returning 0. */
size_t rz_qdot_e8p2n_bytes(const rz_qlayer_view *v);
void rz_qdot_e8p2n_encode(const rz_qlayer_view *v, uint8_t *nib);
void rz_qdot_rows_e8p2n(const rz_qlayer_view *v, const uint8_t *nib, int isa, int r0, int n, int T, const float *x,
                        int ldx, float *y, int ldy);
int rz_qdot_rows_e8p2n_z(const rz_qlayer_view *v, const uint8_t *nib, int r0, int n, int T, const float *x, int ldx,
                         float *y, int ldy);

/* 3-bit grids re-coded for the int8 kernels: the same codes as nibbles (a 4-bit grid with
 * the same scales and zero points, so every weight s (q − z) is unchanged), which the
 * 4-bit int8 kernel reads without the 3-bit unpacking; *v4 becomes that view (codes =
 * codes4, rz_qdot_grid3n_bytes of them). 0 bytes (nothing to do) for other formats and
 * where the 4-bit int8 kernel would not apply (odd pcols; groups neither the row nor a
 * multiple of 32 columns). A third more bytes than the codes per decode step, but
 * bench_roofline --kernels puts the 4-bit int8 kernel ~10× under the 3-bit float one. */
size_t rz_qdot_grid3n_bytes(const rz_qlayer_view *v);
void rz_qdot_grid3n_encode(const rz_qlayer_view *v, uint8_t *codes4, rz_qlayer_view *v4);

#endif
