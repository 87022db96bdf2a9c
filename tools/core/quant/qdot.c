/* qdot.c — fused decode-and-dot kernels for token-by-token decoding (see qdot.h): a
 * portable reference and an AVX2 + FMA variant chosen at run time.
 *
 * Code layouts (schemas/quant.md): e8p rows are pcols/8 codes of `bits` bytes each,
 * little-endian ([sign byte, pattern] at 2 bits; [e81b, sign, pattern] at 3; [sign₂,
 * pattern₂, sign₁, pattern₁] at 4); scalar grids are one bit stream of rows × pcols codes
 * with rows × G scales and zero points. */
#include "qdot.h"

#include <pthread.h>
#include <string.h>

#include "e8p.h"
#include "ldlq.h"

#if defined(__x86_64__) || defined(__i386__)
#define QDOT_X86 1
#include <immintrin.h>
#else
#define QDOT_X86 0
#endif

int rz_qdot_have(int isa)
{
    if (isa == RZ_QDOT_AUTO || isa == RZ_QDOT_REF) return 1;
#if QDOT_X86
    if (isa == RZ_QDOT_AVX2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return 0;
}

int rz_qdot_best(void) { return rz_qdot_have(RZ_QDOT_AVX2) ? RZ_QDOT_AVX2 : RZ_QDOT_REF; }

const char *rz_qdot_name(int isa)
{
    static const char *const names[RZ_QDOT_COUNT] = {"auto", "ref", "avx2"};
    return isa >= 0 && isa < RZ_QDOT_COUNT ? names[isa] : "?";
}

/* Code k of a little-endian bit stream of b-bit codes starting at bit `bit`: reads the
 * one or two bytes it spans, never past them. */
static inline unsigned code_at(const uint8_t *p, size_t bit, int b)
{
    size_t byte = bit >> 3;
    unsigned sh = (unsigned)(bit & 7), w = (unsigned)p[byte] >> sh;
    if (sh + (unsigned)b > 8) w |= (unsigned)p[byte + 1] << (8 - sh);
    return w & ((1u << b) - 1u);
}

static inline float scale_at(const rz_qlayer_view *v, size_t g)
{
    float s;
    memcpy(&s, (const uint8_t *)v->scales + g * sizeof s, sizeof s);
    return s;
}

/* ---------------------------------------------------------------- reference */

/* One E8P-family codeword times s, exactly as rz_qlayer_decode_rows computes it. */
static void ref_e8p_block(const rz_e8p_tables *tb, const uint8_t *c, int bits, float s, float *w)
{
    if (bits == 2) {
        const float *a = tb->abs[c[1]], *sg = tb->sign[c[0]];
        float t = tb->shift[c[0]];
        for (int j = 0; j < 8; j++) w[j] = (a[j] * sg[j] + t) * s;
    } else if (bits == 3) {
        const float r = RZ_E8P_RVQ3_RSCALE, *a = tb->abs[c[2]], *sg = tb->sign[c[1]], *b = tb->e81b[c[0]];
        float t = tb->shift[c[1]];
        for (int j = 0; j < 8; j++) w[j] = (a[j] * sg[j] + t + b[j] / r) * s;
    } else {
        const float r = RZ_E8P_RVQ4_RSCALE, *a = tb->abs[c[3]], *sg = tb->sign[c[2]], *a2 = tb->abs[c[1]],
                    *sg2 = tb->sign[c[0]];
        float t = tb->shift[c[2]], t2 = tb->shift[c[0]];
        for (int j = 0; j < 8; j++) w[j] = (a[j] * sg[j] + t + (a2[j] * sg2[j] + t2) / r) * s;
    }
}

/* One weight at a time: w decoded, acc += w · x in column order. */
static void ref_rows(const rz_qlayer_view *v, int r0, int n, int T, const float *x, int ldx, float *y, int ldy)
{
    int pc = v->pcols;
    const uint8_t *codes = v->codes;
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)(r0 + i);
        float acc[RZ_QDOT_MAX_T] = {0};
        if (v->method == RZ_QM_E8P) {
            const rz_e8p_tables *tb = rz_e8p_tables_get();
            float s = scale_at(v, 0), w[8];
            size_t nb = (size_t)pc / 8;
            const uint8_t *c = codes + row * nb * (size_t)v->bits;
            for (size_t b = 0; b < nb; b++, c += v->bits) {
                ref_e8p_block(tb, c, v->bits, s, w);
                for (int t = 0; t < T; t++)
                    for (int j = 0; j < 8; j++) acc[t] += w[j] * x[(size_t)t * ldx + 8 * b + (size_t)j];
            }
        } else {
            int G = rz_grid_groups(pc, v->group), gw = v->group > 0 ? v->group : pc;
            const uint8_t *zeros = v->zeros;
            for (int c = 0; c < pc; c++) {
                size_t g = row * (size_t)G + (size_t)(c / gw);
                unsigned q = code_at(codes, (row * (size_t)pc + (size_t)c) * (size_t)v->bits, v->bits);
                float w = scale_at(v, g) * ((float)q - (float)zeros[g]); /* rz_grid_value */
                for (int t = 0; t < T; t++) acc[t] += w * x[(size_t)t * ldx + c];
            }
        }
        for (int t = 0; t < T; t++) y[(size_t)t * ldy + i] = acc[t];
    }
}

/* ---------------------------------------------------------------- AVX2 + FMA */

#if QDOT_X86
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/* 32-byte aligned copies of the E8P tables (e8p.h), the E81B points pre-divided by the
 * 3-bit residual scale. Built once. */
typedef struct {
    _Alignas(32) float a[256][8]; /* pattern, coordinate 7 negated when Σa is odd */
    _Alignas(32) float s[256][8]; /* ±1 per coordinate, from the sign byte */
    _Alignas(32) float b3[256][8]; /* E81B point / 2.04 */
    float t[256];                  /* ±1/4 */
} kt_tables;
static kt_tables kt;
static pthread_once_t kt_once = PTHREAD_ONCE_INIT;
static void kt_init(void)
{
    const rz_e8p_tables *tb = rz_e8p_tables_get();
    for (int k = 0; k < 256; k++) {
        for (int j = 0; j < 8; j++) {
            kt.a[k][j] = tb->abs[k][j];
            kt.s[k][j] = tb->sign[k][j];
            kt.b3[k][j] = tb->e81b[k][j] / RZ_E8P_RVQ3_RSCALE;
        }
        kt.t[k] = tb->shift[k];
    }
}

/* Sum of the 8 lanes in a fixed order. */
AVX2_INLINE float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* The 8-weight codeword at c (BITS bytes, a constant after inlining), unscaled. */
AVX2_INLINE __m256 e8p_word(const uint8_t *c, const int BITS)
{
    if (BITS == 2) return _mm256_fmadd_ps(_mm256_load_ps(kt.a[c[1]]), _mm256_load_ps(kt.s[c[0]]), _mm256_set1_ps(kt.t[c[0]]));
    if (BITS == 3) {
        __m256 w = _mm256_fmadd_ps(_mm256_load_ps(kt.a[c[2]]), _mm256_load_ps(kt.s[c[1]]), _mm256_set1_ps(kt.t[c[1]]));
        return _mm256_add_ps(w, _mm256_load_ps(kt.b3[c[0]]));
    }
    __m256 w1 = _mm256_fmadd_ps(_mm256_load_ps(kt.a[c[3]]), _mm256_load_ps(kt.s[c[2]]), _mm256_set1_ps(kt.t[c[2]]));
    __m256 w2 = _mm256_fmadd_ps(_mm256_load_ps(kt.a[c[1]]), _mm256_load_ps(kt.s[c[0]]), _mm256_set1_ps(kt.t[c[0]]));
    return _mm256_fmadd_ps(w2, _mm256_set1_ps(1.0f / RZ_E8P_RVQ4_RSCALE), w1);
}

/* The 2-bit codeword of the 16-bit code g | p << 8 held in the low bits of w. */
AVX2_INLINE __m256 e8p2_word(uint32_t w)
{
    unsigned g = w & 255u, p = (w >> 8) & 255u;
    return _mm256_fmadd_ps(_mm256_load_ps(kt.a[p]), _mm256_load_ps(kt.s[g]), _mm256_set1_ps(kt.t[g]));
}

/* Rows of an e8p matrix for T inputs (T, BITS constants after inlining). The loop is
 * bound by the latency of the FMA chains (4 cycles each), not by memory: NA = 4
 * accumulators per input for T ≤ 2 (blocks b ≡ 0..3 mod 4 each to their own), 2 for
 * larger T (whose T chains interleave anyway). At 2 bits the codes of NA blocks are read
 * as one word (the loop is otherwise bound by loads: three table rows per block). */
AVX2_INLINE void e8p_rows_avx2(const rz_qlayer_view *v, int r0, int n, const int T, const int BITS, const float *x,
                               int ldx, float *y, int ldy)
{
    enum { NAMAX = 4 };
    const int NA = T <= 2 ? 4 : 2;
    size_t nb = (size_t)v->pcols / 8;
    float s = scale_at(v, 0);
    for (int i = 0; i < n; i++) {
        const uint8_t *c = (const uint8_t *)v->codes + (size_t)(r0 + i) * nb * (size_t)BITS;
        __m256 acc[NAMAX][RZ_QDOT_MAX_T];
        for (int a = 0; a < NA; a++)
            for (int t = 0; t < T; t++) acc[a][t] = _mm256_setzero_ps();
        size_t b = 0;
        for (; b + (size_t)NA <= nb; b += (size_t)NA, c += NA * BITS) {
            __m256 w[NAMAX];
            if (BITS == 2 && NA == 4) {
                uint64_t q;
                memcpy(&q, c, 8);
                for (int a = 0; a < 4; a++) w[a] = e8p2_word((uint32_t)(q >> (16 * a)));
            } else if (BITS == 2) {
                uint32_t q;
                memcpy(&q, c, 4);
                w[0] = e8p2_word(q), w[1] = e8p2_word(q >> 16);
            } else {
                for (int a = 0; a < NA; a++) w[a] = e8p_word(c + a * BITS, BITS);
            }
            for (int t = 0; t < T; t++) {
                const float *xt = x + (size_t)t * ldx + 8 * b;
                for (int a = 0; a < NA; a++) acc[a][t] = _mm256_fmadd_ps(w[a], _mm256_loadu_ps(xt + 8 * a), acc[a][t]);
            }
        }
        for (int a = 0; b < nb; b++, a++, c += BITS) {
            __m256 w0 = e8p_word(c, BITS);
            for (int t = 0; t < T; t++)
                acc[a][t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + (size_t)t * ldx + 8 * b), acc[a][t]);
        }
        for (int t = 0; t < T; t++) {
            __m256 sum = _mm256_add_ps(acc[0][t], acc[1][t]);
            if (NA == 4) sum = _mm256_add_ps(sum, _mm256_add_ps(acc[2][t], acc[3][t]));
            y[(size_t)t * ldy + i] = s * hsum(sum);
        }
    }
}

/* e8p 2 bits, T ≤ 2 (token-by-token decoding): the shift t = ±1/4 of each block is
 * taken out of the weights, Σ_j (a_j s_j + t) x_j = Σ_j a_j s_j x_j + t Σ_j x_j, so a block
 * costs two table rows (a, s) instead of three loads; the t Σx terms of 8 blocks at once
 * from the parities of their 8 sign bytes (t = −1/4 for odd ones, e8p.h) against the
 * block sums of x, computed once per call (xs: T × nb floats, nb·T ≤ E8P2_XS). Blocks
 * past the last group of 8 go through e8p_word as in e8p_rows_avx2. */
enum { E8P2_XS = 4096 };

AVX2_INLINE void e8p2_rows_avx2(const rz_qlayer_view *v, int r0, int n, const int T, const float *x, int ldx,
                                float *y, int ldy)
{
    size_t nb = (size_t)v->pcols / 8, n8 = nb / 8 * 8;
    float s = scale_at(v, 0);
    _Alignas(32) float xs[E8P2_XS];
    for (int t = 0; t < T; t++)
        for (size_t b = 0; b < n8; b++) {
            const float *xb = x + (size_t)t * ldx + 8 * b;
            float a = 0.0f;
            for (int j = 0; j < 8; j++) a += xb[j];
            xs[(size_t)t * nb + b] = a;
        }
    const __m128i nib = _mm_set1_epi8(0x0F), even = _mm_set1_epi16(0x00FF);
    const __m128i par4 = _mm_setr_epi8(0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0); /* parity of a nibble */
    const __m256 quarter = _mm256_set1_ps(0.25f);
    for (int i = 0; i < n; i++) {
        const uint8_t *c = (const uint8_t *)v->codes + (size_t)(r0 + i) * nb * 2;
        __m256 acc[4][RZ_QDOT_MAX_T], tacc[RZ_QDOT_MAX_T];
        for (int t = 0; t < T; t++) acc[0][t] = acc[1][t] = acc[2][t] = acc[3][t] = tacc[t] = _mm256_setzero_ps();
        size_t b = 0;
        for (; b < n8; b += 8, c += 16) {
            __m128i c16 = _mm_loadu_si128((const __m128i *)(const void *)c);
            __m128i p = _mm_xor_si128(_mm_shuffle_epi8(par4, _mm_and_si128(c16, nib)),
                                      _mm_shuffle_epi8(par4, _mm_and_si128(_mm_srli_epi16(c16, 4), nib)));
            __m256i odd = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_and_si128(p, even)), 31);
            __m256 tv = _mm256_xor_ps(quarter, _mm256_castsi256_ps(odd)); /* ±1/4 per block */
            for (int t = 0; t < T; t++) tacc[t] = _mm256_fmadd_ps(tv, _mm256_loadu_ps(xs + (size_t)t * nb + b), tacc[t]);
            for (int h = 0; h < 2; h++) {
                uint64_t q;
                memcpy(&q, c + 8 * h, 8);
                for (int a = 0; a < 4; a++) {
                    unsigned g = (unsigned)(q >> (16 * a)) & 255u, pt = (unsigned)(q >> (16 * a + 8)) & 255u;
                    __m256 w = _mm256_mul_ps(_mm256_load_ps(kt.a[pt]), _mm256_load_ps(kt.s[g]));
                    for (int t = 0; t < T; t++) {
                        const float *xt = x + (size_t)t * ldx + 8 * (b + 4 * (size_t)h + (size_t)a);
                        acc[a][t] = _mm256_fmadd_ps(w, _mm256_loadu_ps(xt), acc[a][t]);
                    }
                }
            }
        }
        for (int a = 0; b < nb; b++, a = (a + 1) & 3, c += 2) {
            __m256 w0 = e8p_word(c, 2);
            for (int t = 0; t < T; t++)
                acc[a][t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + (size_t)t * ldx + 8 * b), acc[a][t]);
        }
        for (int t = 0; t < T; t++) {
            __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[0][t], acc[1][t]), _mm256_add_ps(acc[2][t], acc[3][t]));
            y[(size_t)t * ldy + i] = s * hsum(_mm256_add_ps(sum, tacc[t]));
        }
    }
}

/* Codes k..k+7 of a b-bit stream (b ∈ {2, 3, 4, 8}) starting at bit `bit`, as 8 int32.
 * b < 8: the 8b ≤ 32 bits are read as one 64-bit word (shifted to the block's bit
 * offset) when 8 bytes are inside the stream, else byte by byte; then broadcast and
 * shifted lane i by i·b. */
AVX2_INLINE __m256i grid_codes8(const uint8_t *p, size_t nbytes, size_t bit, int b, __m256i shifts, __m256i mask)
{
    size_t byte = bit >> 3;
    if (b == 8) return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p + byte)));
    uint64_t w = 0;
    if (byte + 8 <= nbytes) memcpy(&w, p + byte, 8);
    else memcpy(&w, p + byte, nbytes - byte);
    w >>= bit & 7;
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)(uint32_t)w), shifts), mask);
}

/* Rows of a scalar-grid matrix: per group, Σ (q − z) x in vectors (q − z exact), times
 * the group's scale into the row's vector accumulator; a group's last len mod 8
 * columns one at a time. */
AVX2_INLINE void grid_rows_avx2(const rz_qlayer_view *v, int r0, int n, const int T, const float *x, int ldx,
                                float *y, int ldy)
{
    int pc = v->pcols, b = v->bits, G = rz_grid_groups(pc, v->group), gw = v->group > 0 ? v->group : pc;
    const uint8_t *codes = v->codes, *zeros = v->zeros;
    size_t nbytes = v->codes_n;
    const __m256i shifts = _mm256_setr_epi32(0, b, 2 * b, 3 * b, 4 * b, 5 * b, 6 * b, 7 * b);
    const __m256i mask = _mm256_set1_epi32((1 << b) - 1);
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)(r0 + i);
        __m256 racc[RZ_QDOT_MAX_T];
        float tail[RZ_QDOT_MAX_T];
        for (int t = 0; t < T; t++) racc[t] = _mm256_setzero_ps(), tail[t] = 0.0f;
        for (int g = 0; g < G; g++) {
            int c0 = g * gw, c1 = c0 + gw < pc ? c0 + gw : pc, c = c0;
            size_t gi = row * (size_t)G + (size_t)g;
            int z = zeros[gi];
            const __m256i zv = _mm256_set1_epi32(z);
            __m256 g0[RZ_QDOT_MAX_T], g1[RZ_QDOT_MAX_T];
            float gt[RZ_QDOT_MAX_T];
            for (int t = 0; t < T; t++) g0[t] = g1[t] = _mm256_setzero_ps(), gt[t] = 0.0f;
            size_t bit = (row * (size_t)pc + (size_t)c) * (size_t)b;
            for (; c + 16 <= c1; c += 16, bit += 16 * (size_t)b) {
                __m256 w0 = _mm256_cvtepi32_ps(_mm256_sub_epi32(grid_codes8(codes, nbytes, bit, b, shifts, mask), zv));
                __m256 w1 = _mm256_cvtepi32_ps(
                    _mm256_sub_epi32(grid_codes8(codes, nbytes, bit + 8 * (size_t)b, b, shifts, mask), zv));
                for (int t = 0; t < T; t++) {
                    const float *xt = x + (size_t)t * ldx + c;
                    g0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xt), g0[t]);
                    g1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xt + 8), g1[t]);
                }
            }
            for (; c + 8 <= c1; c += 8, bit += 8 * (size_t)b) {
                __m256 w0 = _mm256_cvtepi32_ps(_mm256_sub_epi32(grid_codes8(codes, nbytes, bit, b, shifts, mask), zv));
                for (int t = 0; t < T; t++)
                    g0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + (size_t)t * ldx + c), g0[t]);
            }
            for (; c < c1; c++, bit += (size_t)b) {
                float w = (float)((int)code_at(codes, bit, b) - z);
                for (int t = 0; t < T; t++) gt[t] += w * x[(size_t)t * ldx + c];
            }
            float sc = scale_at(v, gi);
            const __m256 scv = _mm256_set1_ps(sc);
            for (int t = 0; t < T; t++) {
                racc[t] = _mm256_fmadd_ps(_mm256_add_ps(g0[t], g1[t]), scv, racc[t]);
                tail[t] += sc * gt[t];
            }
        }
        for (int t = 0; t < T; t++) y[(size_t)t * ldy + i] = hsum(racc[t]) + tail[t];
    }
}

/* Scalar grids at b ∈ {2, 4} bits, "lane" layout: a 32-byte block of codes is read
 * as 8 little-endian 32-bit lanes, lane i holding the cpl = 32/b codes of columns
 * base + cpl·i .. base + cpl·i + cpl − 1, so vector k = (block >> k·b) & mask holds
 * column base + cpl·i + k in lane i: one shift and one mask per 8 weights, no shuffles.
 * The inputs are transposed to match once per call (xp[k][i] = x[base + cpl·i + k] per
 * block of bw = 8·cpl columns). Each lane lies in one group when the group width is a
 * multiple of 4·cpl (or the whole row): then lanes 0–3 and 4–7 take the scales and zero
 * points of at most two groups, subtracted as integers (q − z exact) and applied to the
 * block's partial sums per lane. Columns past the last full block go one at a time.
 * lane_ok says when this applies; otherwise grid_rows_avx2. */
static int lane_ok(const rz_qlayer_view *v)
{
    int b = v->bits, pc = v->pcols, gw = v->group > 0 ? v->group : pc;
    if (b != 2 && b != 4) return 0; /* 8 bits: grid_rows_avx2's byte loads are faster */
    if ((size_t)pc * (size_t)b % 8 != 0) return 0;   /* rows start on a byte */
    if (pc < 8 * (32 / b)) return 0;                  /* not one full block */
    return gw >= pc || gw % (4 * (32 / b)) == 0;
}

enum { LANE_XP = 8192 }; /* floats of transposed input per chunk (32 KiB of stack) */

AVX2_INLINE void lane_rows_avx2(const rz_qlayer_view *v, int r0, int n, const int T, const int B, const float *x,
                                int ldx, float *y, int ldy)
{
    const int cpl = 32 / B, bw = 8 * cpl;
    int pc = v->pcols, G = rz_grid_groups(pc, v->group), gw = v->group > 0 ? v->group : pc;
    int nblk = pc / bw, chb = LANE_XP / (T * bw);
    const uint8_t *codes = v->codes, *zeros = v->zeros;
    const float *scales = v->scales;
    const __m256i mask = _mm256_set1_epi32((1 << B) - 1);
    _Alignas(32) float xp[LANE_XP];
    for (int cb0 = 0; cb0 < nblk; cb0 += chb) {
        int cb1 = cb0 + chb < nblk ? cb0 + chb : nblk, nc = cb1 - cb0;
        for (int t = 0; t < T; t++)
            for (int blk = 0; blk < nc; blk++) {
                const float *xs = x + (size_t)t * ldx + (size_t)(cb0 + blk) * bw;
                float *xd = xp + ((size_t)t * nc + blk) * bw;
                for (int k = 0; k < cpl; k++)
                    for (int l = 0; l < 8; l++) xd[k * 8 + l] = xs[cpl * l + k];
            }
        for (int i = 0; i < n; i++) {
            size_t row = (size_t)(r0 + i);
            const uint8_t *rc = codes + row * (size_t)pc * (size_t)B / 8;
            const float *rs = scales + row * (size_t)G;
            const uint8_t *rz = zeros + row * (size_t)G;
            __m256 racc[RZ_QDOT_MAX_T];
            for (int t = 0; t < T; t++) racc[t] = _mm256_setzero_ps();
            for (int blk = cb0; blk < cb1; blk++) {
                int base = blk * bw, g0 = base / gw, g1 = (base + 4 * cpl) / gw;
                __m256 sv;
                __m256i zv;
                if (g0 == g1) {
                    sv = _mm256_set1_ps(rs[g0]);
                    zv = _mm256_set1_epi32(rz[g0]);
                } else {
                    sv = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_set1_ps(rs[g0])), _mm_set1_ps(rs[g1]), 1);
                    zv = _mm256_insertf128_si256(_mm256_castsi128_si256(_mm_set1_epi32(rz[g0])), _mm_set1_epi32(rz[g1]), 1);
                }
                __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(rc + (size_t)base * B / 8));
                const float *xb = xp + (size_t)(blk - cb0) * bw;
                __m256 a0[RZ_QDOT_MAX_T], a1[RZ_QDOT_MAX_T];
                for (int t = 0; t < T; t++) a0[t] = a1[t] = _mm256_setzero_ps();
                for (int k = 0; k < cpl; k += 2) {
                    __m256 w0 = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(q, mask), zv));
                    q = _mm256_srli_epi32(q, B);
                    __m256 w1 = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(q, mask), zv));
                    q = _mm256_srli_epi32(q, B);
                    for (int t = 0; t < T; t++) {
                        const float *xk = xb + (size_t)t * nc * bw + (size_t)k * 8;
                        a0[t] = _mm256_fmadd_ps(w0, _mm256_load_ps(xk), a0[t]);
                        a1[t] = _mm256_fmadd_ps(w1, _mm256_load_ps(xk + 8), a1[t]);
                    }
                }
                for (int t = 0; t < T; t++) racc[t] = _mm256_fmadd_ps(_mm256_add_ps(a0[t], a1[t]), sv, racc[t]);
            }
            for (int t = 0; t < T; t++) {
                float part = hsum(racc[t]);
                y[(size_t)t * ldy + i] = cb0 == 0 ? part : y[(size_t)t * ldy + i] + part;
            }
        }
    }
    if (nblk * bw == pc) return;
    for (int i = 0; i < n; i++) { /* the columns past the last full block */
        size_t row = (size_t)(r0 + i);
        for (int c = nblk * bw; c < pc; c++) {
            size_t g = row * (size_t)G + (size_t)(c / gw);
            float w = scale_at(v, g) * (float)((int)code_at(codes, (row * (size_t)pc + (size_t)c) * (size_t)B, B) - (int)zeros[g]);
            for (int t = 0; t < T; t++) y[(size_t)t * ldy + i] += w * x[(size_t)t * ldx + c];
        }
    }
}

/* One instantiation per T so the token loops are unrolled with the accumulators in
 * registers. */
#define QDOT_T_SWITCH(fn, ...)                                         \
    switch (T) {                                                       \
    case 1: fn(v, r0, n, 1, __VA_ARGS__ x, ldx, y, ldy); break;        \
    case 2: fn(v, r0, n, 2, __VA_ARGS__ x, ldx, y, ldy); break;        \
    case 3: fn(v, r0, n, 3, __VA_ARGS__ x, ldx, y, ldy); break;        \
    default: fn(v, r0, n, 4, __VA_ARGS__ x, ldx, y, ldy); break;       \
    }

static AVX2 void avx2_rows(const rz_qlayer_view *v, int r0, int n, int T, const float *x, int ldx, float *y, int ldy)
{
    if (v->method == RZ_QM_E8P) {
        pthread_once(&kt_once, kt_init);
        if (v->bits == 2 && T <= 2 && (size_t)T * (size_t)(v->pcols / 8) <= E8P2_XS) {
            if (T == 1) e8p2_rows_avx2(v, r0, n, 1, x, ldx, y, ldy);
            else e8p2_rows_avx2(v, r0, n, 2, x, ldx, y, ldy);
        } else if (v->bits == 2) QDOT_T_SWITCH(e8p_rows_avx2, 2, )
        else if (v->bits == 3) QDOT_T_SWITCH(e8p_rows_avx2, 3, )
        else QDOT_T_SWITCH(e8p_rows_avx2, 4, )
    } else if (lane_ok(v)) {
        if (v->bits == 2) QDOT_T_SWITCH(lane_rows_avx2, 2, )
        else if (v->bits == 4) QDOT_T_SWITCH(lane_rows_avx2, 4, )
        else QDOT_T_SWITCH(lane_rows_avx2, 8, )
    } else {
        QDOT_T_SWITCH(grid_rows_avx2, )
    }
}
#endif

void rz_qdot_rows(const rz_qlayer_view *v, int isa, int r0, int n, int T, const float *x, int ldx, float *y,
                  int ldy)
{
    if (n <= 0 || T <= 0) return;
    if (isa == RZ_QDOT_AUTO) isa = rz_qdot_best();
#if QDOT_X86
    if (isa == RZ_QDOT_AVX2 && T <= RZ_QDOT_MAX_T && rz_qdot_have(RZ_QDOT_AVX2)) {
        avx2_rows(v, r0, n, T, x, ldx, y, ldy);
        return;
    }
#endif
    for (int t0 = 0; t0 < T; t0 += RZ_QDOT_MAX_T) {
        int tn = T - t0 < RZ_QDOT_MAX_T ? T - t0 : RZ_QDOT_MAX_T;
        ref_rows(v, r0, n, tn, x + (size_t)t0 * ldx, ldx, y + (size_t)t0 * ldy, ldy);
    }
}
