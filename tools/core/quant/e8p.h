/* e8p.h — QuIP#'s E8P lattice codebooks: 2 bits per weight in 8 dimensions, and the
 * residual (RVQ) 3- and 4-bit codebooks built on it.
 *
 * E8P ("E8P12", quip-sharp lib/codebook/latticee8_padded12.py). A codeword is
 *
 *     c = s ⊙ a + t,   a ∈ A (256 "magnitude patterns"), s ∈ {±1}^8, t = ±1/4,
 *
 * where A = the 227 distinct |v| of the points v of D8 + 1/2 (all coordinates
 * half-integers, even coordinate sum) with ‖v‖² ≤ 10, sorted lexicographically, followed
 * by 29 patterns of five 3/2's and three 1/2's (‖a‖² = 12). The signs obey the parity
 * rule that keeps s ⊙ a in D8 + 1/2: the number of minus signs is even when Σa is even
 * and odd when Σa is odd, so 7 sign bits are free. 256 · 2^7 · 2 = 2^16 codewords, all
 * in E8 + 1/4 (E8 − 1/4 = E8 + 1/4 because (1/2,…,1/2) ∈ E8).
 *
 * The 16-bit code is QuIP#'s packed layout (get_full_grid of the same file):
 *   bits 15..8  index of a in A;
 *   bits  7..0  sign byte g. parity = popcount(g) & 1; g ^= parity (flips bit 0 only);
 *               coordinate i is negated when bit shuffle[i] of g is set, shuffle =
 *               {0,4,1,5,2,6,3,7}; coordinate 7 is negated once more when Σa is odd;
 *               t = −1/4 when parity is odd, +1/4 when even.
 *
 * E81B (latticee8_padded12_rvq3bit.py, get_e81bgrid): 1 bit per weight, the 241 points of
 * E8 with ‖v‖² ≤ 2 (the integer ones in lexicographic order, then the half-integer ones)
 * and 15 of the 16 points ±2e_i (all but −2e_8): 256 entries, 8-bit code = the index.
 *
 * RVQ (greedy residual quantisation, as QuIP#):
 *   3 bits: q1 = E8P(x), q2 = E81B((x − q1)·r), x̂ = q1 + q2/r, r = 2.04; code = e8p<<16 | e81b
 *           (24 bits per 8 weights);
 *   4 bits: q1 = E8P(x), q2 = E8P((x − q1)·r),  x̂ = q1 + q2/r, r = 3.45; code = e8p<<16 | e8p
 *           (32 bits per 8 weights).
 *   2 bits is plain E8P (code = 16 bits).
 * The codebooks expect inputs of unit-order scale: QuIP# divides a matrix by
 * rms(W)/opt_scale (see RZ_E8P_OPT_SCALE*), and the decoder multiplies back.
 *
 * Encoding is exact nearest-codeword search (ties to the lowest code order) in
 * O(2 · 256 · 8) per vector: for a pattern a and shift t the best signs are
 * s_i = sign(y_i) with y = x − t, and if that violates the parity rule the single cheapest
 * flip (smallest a_i|y_i|) is applied, so
 *     max_s 2⟨y, s⊙a⟩ − ‖a‖² = 2 Σ a_i|y_i| − ‖a‖² − [parity wrong] · 4 min_i a_i|y_i|.
 * The scores of all 512 (a, t) pairs are computed in vectorised loops. Decoding needs
 * only the constant tables below; nothing here holds state.
 */
#ifndef RZ_E8P_H
#define RZ_E8P_H

#include <stdint.h>

#define RZ_E8P_DIM 8

/* QuIP#'s Gaussian-optimal input RMS for each codebook (opt_scale) and the residual
 * scales of the RVQ codebooks (opt_resid_scale). */
#define RZ_E8P_OPT_SCALE2 1.03f
#define RZ_E8P_OPT_SCALE3 0.98f
#define RZ_E8P_OPT_SCALE4 1.03f
#define RZ_E8P_RVQ3_RSCALE 2.04f
#define RZ_E8P_RVQ4_RSCALE 3.45f

/* The magnitude patterns: nibble i (bits 4i..4i+3) of entry k is 2·a_k[i] ∈ {1,3,5}. */
extern const uint32_t rz_e8p_abs2[256];
/* The E81B points: nibble i of entry k is 2·v_k[i] + 8 ∈ {4..12}. */
extern const uint32_t rz_e81b_grid2[256];

/* Tables for bulk decoding (quantised inference decodes every weight of every forward):
 *   E8P codeword(c) = abs[c >> 8] ⊙ sign[c & 255] + shift[c & 255]
 * with abs the pattern already negated in coordinate 7 when Σa is odd, sign the ±1 of
 * each coordinate after the parity fix and shuffle, shift ±1/4; E81B point(c) = e81b[c].
 * Eight multiply-adds per codeword, which the compiler vectorises. Built on first use
 * (thread-safe); tests/unit/test_e8p.c checks them against rz_e8p_decode on all 2^16 codes. */
typedef struct {
    float abs[256][8];
    float sign[256][8];
    float shift[256];
    float e81b[256][8];
} rz_e8p_tables;
const rz_e8p_tables *rz_e8p_tables_get(void);

/* One codeword from its code. out: [8]. */
void rz_e8p_decode(uint32_t code, float *out);
void rz_e81b_decode(uint32_t code, float *out);

/* Nearest codeword of each of `count` vectors x[count][8]. codes[count] and xq[count][8]
 * (the decoded codewords) may each be NULL; xq may alias x. */
void rz_e8p_encode(const float *x, long count, uint16_t *codes, float *xq);
void rz_e81b_encode(const float *x, long count, uint8_t *codes, float *xq);

/* bits ∈ {2, 3, 4}: plain E8P or the RVQ codebooks above. Returns -1 for other bits. */
int rz_e8p_rvq_encode(int bits, const float *x, long count, uint32_t *codes, float *xq);
int rz_e8p_rvq_decode(int bits, uint32_t code, float *out);

/* QuIP#'s default input RMS for bits ∈ {2,3,4} (RZ_E8P_OPT_SCALE*), 0 for others. */
float rz_e8p_opt_scale(int bits);

#endif
