/* qdot.c — fused decode-and-dot kernels for token-by-token decoding (see qdot.h): a
 * portable reference and an AVX2 + FMA variant chosen at run time.
 *
 * Code layouts (schemas/quant.md): e8p rows are pcols/8 codes of `bits` bytes each,
 * little-endian ([sign byte, pattern] at 2 bits; [e81b, sign, pattern] at 3; [sign₂,
 * pattern₂, sign₁, pattern₁] at 4); scalar grids are one bit stream of rows × pcols codes
 * with rows × G scales and zero points. */
#include "qdot.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
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
    if (isa == RZ_QDOT_AUTO || isa == RZ_QDOT_REF || isa == RZ_QDOT_AUTO_I8 || isa == RZ_QDOT_REF_I8) return 1;
#if QDOT_X86
    if (isa == RZ_QDOT_AVX2 || isa == RZ_QDOT_AVX2_I8)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == RZ_QDOT_AVX512_I8)
        return rz_qdot_have(RZ_QDOT_AVX2_I8) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vnni") &&
               __builtin_cpu_supports("avx512bitalg");
#endif
    return 0;
}

/* The environment's cap on what AUTO and AUTO_I8 pick (qdot.h): RZ_QDOT_ISA = "ref" (the
 * portable variants), "avx2" (no AVX-512 kernels); unset or anything else: no cap. Read
 * once per process. */
enum { CAP_REF = 0, CAP_AVX2 = 1, CAP_NONE = 2 };
static int isa_cap_v = CAP_NONE;
static pthread_once_t isa_cap_once = PTHREAD_ONCE_INIT;
static void isa_cap_init(void)
{
    const char *e = getenv("RZ_QDOT_ISA");
    isa_cap_v = !e ? CAP_NONE : strcmp(e, "ref") == 0 ? CAP_REF : strcmp(e, "avx2") == 0 ? CAP_AVX2 : CAP_NONE;
}
static int isa_cap(void)
{
    pthread_once(&isa_cap_once, isa_cap_init);
    return isa_cap_v;
}

int rz_qdot_best(void) { return rz_qdot_have(RZ_QDOT_AVX2) && isa_cap() >= CAP_AVX2 ? RZ_QDOT_AVX2 : RZ_QDOT_REF; }

/* (not AVX512_I8: on one Zen 4 core its e8p 2-bit decode step measured 0.76x the AVX2
 * kernel over the nibbles, bench/README "seventh pass"; it is chosen by name. AUTO_I8
 * still runs the AVX-512 VNNI grid kernels where the CPU has them, rz_qdot_rows, and the
 * e8p nibble one, rz_qdot_rows_e8p2n) */
int rz_qdot_best_i8(void)
{
    return rz_qdot_have(RZ_QDOT_AVX2_I8) && isa_cap() >= CAP_AVX2 ? RZ_QDOT_AVX2_I8 : RZ_QDOT_REF_I8;
}

const char *rz_qdot_name(int isa)
{
    static const char *const names[RZ_QDOT_COUNT] = {"auto", "ref", "avx2", "auto-i8", "ref-i8", "avx2-i8", "avx512-i8"};
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

/* ---------------------------------------------------------------- int8 activations */

/* The int8 variants (qdot.h) quantise each input row in blocks of I8_QB_E8P (e8p) or
 * I8_QB_GRID (2- and 4-bit grids: the 32-column groups of a classifier) columns, when
 * i8_ok; other formats take the float path. T · pcols ≤ I8_QMAX bounds the stack copies. */
enum { I8_QMAX = 16384, I8_QB_E8P = 256, I8_QB_GRID = 32, I8_NQ = I8_QMAX / I8_QB_GRID + RZ_QDOT_MAX_T };

static int i8_ok(const rz_qlayer_view *v, int T)
{
    int pc = v->pcols, gw = v->group > 0 ? v->group : pc;
    if (T > RZ_QDOT_MAX_T || (size_t)T * (size_t)pc > I8_QMAX) return 0;
    if (v->method == RZ_QM_E8P) return v->bits >= 2 && v->bits <= 4;
    /* rows start on a byte: pcols even at 4 bits, a multiple of 4 at 2, any at 8 */
    return ((v->bits == 4 && pc % 2 == 0) || (v->bits == 2 && pc % 4 == 0) || v->bits == 8) &&
           (gw >= pc || gw % I8_QB_GRID == 0);
}

/* The integer form of one E8P-family codeword c (`bits` bytes, layouts at the top) for the
 * int8 variants, the one copy shared by the reference, the nibble re-coding and the AVX2
 * kernels' tails: w_j = m0_j / 4 + m1_j · e8p_c1(bits) exactly (before the layer scale),
 *   m0 = 4 · (E8P stage 1) = 4 (a s + t) ∈ {±1, ±3, …, ±11} (odd);
 *   m1 = 0 at 2 bits; 4 · (E8P stage 2) ∈ {±1, …, ±11} at 4 bits (c1 = 1/(4 · 3.45));
 *        2 · (E81B point) ∈ −4..4 at 3 bits (c1 = 1/(2 · 2.04)).
 * The table values are multiples of 1/4 (E8P) and 1/2 (E81B), so the lrintf are exact. */
static void e8p_ints(const rz_e8p_tables *tb, const uint8_t *c, int bits, int *m0, int *m1)
{
    const uint8_t *c1 = c + bits - 2; /* stage 1: the last two bytes [sign, pattern] */
    for (int j = 0; j < 8; j++) {
        m0[j] = (int)lrintf(4.0f * (tb->abs[c1[1]][j] * tb->sign[c1[0]][j] + tb->shift[c1[0]]));
        m1[j] = bits == 4 ? (int)lrintf(4.0f * (tb->abs[c[1]][j] * tb->sign[c[0]][j] + tb->shift[c[0]]))
                : bits == 3 ? (int)lrintf(2.0f * tb->e81b[c[0]][j])
                            : 0;
    }
}

static double e8p_c1(int bits)
{
    return bits == 4 ? 0.25 / (double)RZ_E8P_RVQ4_RSCALE : bits == 3 ? 0.5 / (double)RZ_E8P_RVQ3_RSCALE : 0.0;
}

/* x[0..n) in blocks of qb: d[k] = max |x| / 127 over block k and q = rint(x · (127 / max)),
 * so |q| ≤ 127 and |d·q − x| ≤ d/2 (plus one float rounding). A block with max |x| < 10⁻³⁰
 * (all zero) has d = 0, q = 0; a block holding a NaN or ±inf has d = NaN, q = 0 (the NaN reaches y, as the
 * float path's would). Shared by both int8 variants, so they see the same q and d. */
static void i8_quant(const float *x, int n, int qb, int8_t *q, float *d)
{
    for (int b0 = 0, k = 0; b0 < n; b0 += qb, k++) {
        int b1 = b0 + qb < n ? b0 + qb : n, bad = 0;
        float m = 0.0f;
        for (int j = b0; j < b1; j++) {
            float a = fabsf(x[j]);
            bad |= !(a <= FLT_MAX);
            m = a > m ? a : m;
        }
        if (bad) {
            d[k] = NAN;
            memset(q + b0, 0, (size_t)(b1 - b0));
            continue;
        }
        float id = m < 1e-30f ? 0.0f : 127.0f / m; /* (127/m finite) */
        d[k] = m < 1e-30f ? 0.0f : m / 127.0f;
        /* rint by the 1.5·2²³ trick (exact round-to-nearest-even for |v| ≤ 127.5 in the
         * default rounding mode; gcc vectorises it, not lrintf) */
        for (int j = b0; j < b1; j++) q[j] = (int8_t)(int)((x[j] * id + 0x1.8p23f) - 0x1.8p23f);
    }
}

/* The int8 reference: the same quantised inputs, exact integer sums per block, the block
 * scales applied in double. y = Σ_j w_j · d q_j exactly up to the final rounding to float:
 *   e8p         y = s Σ_B d_B (¼ Σ_{j∈B} m0_j q_j + c1 Σ_{j∈B} m1_j q_j)   (e8p_ints: m0, m1, c1)
 *   2/4/8-bit grid  y = Σ_c scale_g d_c (Σ_j q_j xq_j − z_g Σ_j xq_j)   (c: 32-column blocks, g ∋ c) */
static void ref_i8_rows(const rz_qlayer_view *v, int r0, int n, int T, const float *x, int ldx, float *y, int ldy)
{
    int pc = v->pcols, e8 = v->method == RZ_QM_E8P, qb = e8 ? I8_QB_E8P : I8_QB_GRID, nq = (pc + qb - 1) / qb;
    int8_t qs[I8_QMAX];
    float ds[I8_NQ];
    for (int t = 0; t < T; t++) i8_quant(x + (size_t)t * ldx, pc, qb, qs + (size_t)t * pc, ds + (size_t)t * nq);
    const rz_e8p_tables *tb = e8 ? rz_e8p_tables_get() : NULL;
    int G = rz_grid_groups(pc, v->group), gw = v->group > 0 ? v->group : pc;
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)(r0 + i);
        for (int t = 0; t < T; t++) {
            const int8_t *xt = qs + (size_t)t * pc;
            const float *dt = ds + (size_t)t * nq;
            double acc = 0;
            if (e8) {
                const int bits = v->bits, bpq = qb / 8;
                const uint8_t *c = (const uint8_t *)v->codes + row * (size_t)pc / 8 * (size_t)bits;
                for (int B = 0; B < nq; B++) {
                    long I0 = 0, I1 = 0;
                    for (int b = B * bpq; b < (B + 1) * bpq && b < pc / 8; b++) {
                        int m0[8], m1[8];
                        e8p_ints(tb, c + (size_t)b * (size_t)bits, bits, m0, m1);
                        for (int j = 0; j < 8; j++) I0 += (long)m0[j] * xt[8 * b + j], I1 += (long)m1[j] * xt[8 * b + j];
                    }
                    acc += (double)dt[B] * (0.25 * (double)I0 + e8p_c1(bits) * (double)I1);
                }
                acc *= (double)scale_at(v, 0);
            } else {
                const uint8_t *zeros = v->zeros;
                for (int c = 0; c < nq; c++) {
                    int j0 = c * qb, j1 = j0 + qb < pc ? j0 + qb : pc;
                    size_t g = row * (size_t)G + (size_t)(j0 / gw);
                    long I = 0, X = 0;
                    for (int j = j0; j < j1; j++) {
                        I += (long)code_at(v->codes, (row * (size_t)pc + (size_t)j) * (size_t)v->bits, v->bits) * xt[j];
                        X += xt[j];
                    }
                    acc += (double)scale_at(v, g) * (double)dt[c] * (double)(I - (long)zeros[g] * X);
                }
            }
            y[(size_t)t * ldy + i] = (float)acc;
        }
    }
}

/* Nibble bytes per row of the re-coding (rz_qdot_e8p2n_encode): 32 per 64 columns and plane. */
static size_t e8p2n_rowb(const rz_qlayer_view *v)
{
    return (size_t)(v->pcols / 64) * 32 * (size_t)(v->bits == 2 ? 1 : 2);
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
    uint64_t a2[256];              /* 2·a as 8 int8 (±1, 3, 5), coordinate 7's sign as in a */
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
        uint64_t w = 0;
        for (int j = 0; j < 8; j++) w |= (uint64_t)(uint8_t)(int8_t)lrintf(2.0f * tb->abs[k][j]) << (8 * j);
        kt.a2[k] = w;
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

/* e8p 2 bits with int8 inputs (RZ_QDOT_AVX2_I8; formula at ref_i8_rows). Per 8 codewords
 * (64 weights, 16 bytes of codes): the sign bytes' parities (nibble table) give the ±1/4
 * shifts, taken out as in e8p2_rows_avx2 (t · d_B Σ_j q_j per block, in float), and the
 * parity fix of bit 0; each sign byte is copied to its codeword's 8 bytes (pshufb) and
 * tested against the bit of each coordinate (shuffle {0,4,1,5,2,6,3,7}: 0xFF where it is
 * negated); the patterns 2a come from an int8 table, 4 codewords per vector; w = (2a ^ m)
 * − m. Products: maddubs(|q|, sign(w, q)) (|w q| ≤ 635, pairs in int16), summed in int16
 * over a block of 256 columns (≤ 8 pairs per lane: |sum| ≤ 10160 < 2¹⁵), then widened,
 * converted and scaled by d_B / 2. Codewords past the last group of 8 in a block go one
 * at a time. */
AVX2_INLINE void e8p2_i8_rows_avx2(const rz_qlayer_view *v, int r0, int n, const int T, const float *x, int ldx,
                                   float *y, int ldy)
{
    const int pc = v->pcols, nb = pc / 8, nq = (pc + I8_QB_E8P - 1) / I8_QB_E8P, bpq = I8_QB_E8P / 8;
    const float s = scale_at(v, 0);
    _Alignas(32) int8_t xq[I8_QMAX];
    _Alignas(32) uint8_t xa[I8_QMAX];
    _Alignas(32) float xs[I8_QMAX / 8];
    float d[I8_NQ], dh[I8_NQ];
    for (int t = 0; t < T; t++) {
        int8_t *qt = xq + (size_t)t * pc;
        i8_quant(x + (size_t)t * ldx, pc, I8_QB_E8P, qt, d + (size_t)t * nq);
        for (int j = 0; j < pc; j++) xa[(size_t)t * pc + j] = (uint8_t)(qt[j] < 0 ? -qt[j] : qt[j]);
        for (int b = 0; b < nb; b++) {
            int X = 0;
            for (int j = 0; j < 8; j++) X += qt[8 * b + j];
            xs[(size_t)t * nb + b] = d[(size_t)t * nq + b / bpq] * (float)X;
        }
        for (int k = 0; k < nq; k++) dh[(size_t)t * nq + k] = 0.5f * d[(size_t)t * nq + k];
    }
    const __m128i nib = _mm_set1_epi8(0x0F), even = _mm_set1_epi16(0x00FF);
    const __m128i par4 = _mm_setr_epi8(0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0);
    const __m256i bitsel = _mm256_set1_epi64x(0x8008400420021001LL); /* bytes 1,16,2,32,4,64,8,128 */
    const __m256i rep0 = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 6, 6,
                                          6, 6, 6, 6, 6, 6);
    const __m256i rep1 = _mm256_add_epi8(rep0, _mm256_set1_epi8(8));
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256 quarter = _mm256_set1_ps(0.25f);
    for (int i = 0; i < n; i++) {
        const uint8_t *c = (const uint8_t *)v->codes + (size_t)(r0 + i) * (size_t)nb * 2;
        __m256 facc[RZ_QDOT_MAX_T], tacc[RZ_QDOT_MAX_T];
        float tail[RZ_QDOT_MAX_T];
        for (int t = 0; t < T; t++) facc[t] = tacc[t] = _mm256_setzero_ps(), tail[t] = 0.0f;
        for (int B = 0; B < nq; B++) {
            int b0 = B * bpq, b1 = b0 + bpq < nb ? b0 + bpq : nb, b8 = b0 + (b1 - b0) / 8 * 8, b = b0;
            __m256i a16[RZ_QDOT_MAX_T];
            for (int t = 0; t < T; t++) a16[t] = _mm256_setzero_si256();
            for (; b < b8; b += 8) {
                const uint8_t *cb = c + 2 * (size_t)b;
                __m128i c16 = _mm_loadu_si128((const __m128i *)(const void *)cb);
                __m128i p = _mm_xor_si128(_mm_shuffle_epi8(par4, _mm_and_si128(c16, nib)),
                                          _mm_shuffle_epi8(par4, _mm_and_si128(_mm_srli_epi16(c16, 4), nib)));
                p = _mm_and_si128(p, even); /* parity of each sign byte, 0/1, at the even bytes */
                __m256 tv = _mm256_xor_ps(quarter, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(p), 31)));
                for (int t = 0; t < T; t++) tacc[t] = _mm256_fmadd_ps(tv, _mm256_loadu_ps(xs + (size_t)t * nb + b), tacc[t]);
                __m256i g2 = _mm256_broadcastsi128_si256(_mm_xor_si128(c16, p)); /* sign bytes after the fix */
                for (int h = 0; h < 2; h++) {
                    __m256i rep = _mm256_shuffle_epi8(g2, h ? rep1 : rep0);
                    __m256i m = _mm256_cmpeq_epi8(_mm256_and_si256(rep, bitsel), bitsel);
                    const uint8_t *ch = cb + 8 * h;
                    __m256i A = _mm256_set_epi64x((long long)kt.a2[ch[7]], (long long)kt.a2[ch[5]],
                                                  (long long)kt.a2[ch[3]], (long long)kt.a2[ch[1]]);
                    __m256i w = _mm256_sub_epi8(_mm256_xor_si256(A, m), m);
                    for (int t = 0; t < T; t++) {
                        size_t o = (size_t)t * pc + 8 * ((size_t)b + 4 * (size_t)h);
                        __m256i qv = _mm256_loadu_si256((const __m256i *)(const void *)(xq + o));
                        __m256i av = _mm256_loadu_si256((const __m256i *)(const void *)(xa + o));
                        a16[t] = _mm256_add_epi16(a16[t], _mm256_maddubs_epi16(av, _mm256_sign_epi8(w, qv)));
                    }
                }
            }
            for (int t = 0; t < T; t++)
                facc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(a16[t], ones)),
                                          _mm256_set1_ps(dh[(size_t)t * nq + B]), facc[t]);
            for (; b < b1; b++) { /* the block's last nb mod 8 codewords */
                const uint8_t *cb = c + 2 * (size_t)b;
                for (int t = 0; t < T; t++) {
                    const int8_t *qt = xq + (size_t)t * pc + 8 * (size_t)b;
                    int I = 0;
                    for (int j = 0; j < 8; j++)
                        I += (int)(int8_t)(kt.a2[cb[1]] >> (8 * j)) * (kt.s[cb[0]][j] < 0 ? -qt[j] : qt[j]);
                    tail[t] += dh[(size_t)t * nq + B] * (float)I + kt.t[cb[0]] * xs[(size_t)t * nb + b];
                }
            }
        }
        for (int t = 0; t < T; t++) y[(size_t)t * ldy + i] = s * (hsum(_mm256_add_ps(facc[t], tacc[t])) + tail[t]);
    }
}

/* e8p re-coded as nibbles (rz_qdot_e8p2n_encode), int8 inputs; BITS 2, 3 or 4. Every
 * weight is m0/4 + c1 m1 with small integers (e8p_ints), one nibble plane per stage:
 * plane 0 k = (m0 + 11)/2 ∈ 0..11 (m0 = 2k − 11); at 4 bits plane 1 the same for the
 * stage-2 E8P (m1 = 2k − 11); at 3 bits plane 1 k = m1 + 4 ∈ 0..8 (m1 = k − 4). So the
 * kernel is the 4-bit grid's without the shuffles: per 64 columns 32 bytes per plane
 * (planes side by side), low nibbles columns 0–31 and high nibbles 32–63 in order. Per
 * block of 256 columns and plane, int32 lane L (of 8) holds Σ k q exactly over bytes
 * 4L..4L+3 of the block's 32-byte vectors, low and high nibbles (columns 64k' + 4L + m
 * and 64k' + 32 + 4L + m, m < 4); then Σ m q = step Σ k q − off Σ q in int32 (the
 * −off Σ q in lane 0), times d_B/4 (plane 0) and d_B c1 (plane 1), each plane its own
 * int32 sum (c1 is not a ratio of small integers). Columns past the last 64 go through
 * the codes one codeword at a time. The AVX2 kernel (e8p2n_rows_avx2) and the AVX-512
 * VNNI one (e8p2n_rows_z) form the lane sums differently and share the rest
 * (e8p2n_prep, e8p2n_block, e8p2n_tail), so they give the same bits. */
typedef struct {
    const rz_e8p_tables *tb; /* for the codewords past the last 64 columns */
    int pc, nb, nq, n64;
    size_t rowb; /* e8p2n_rowb */
    float s, c1;
    float d[I8_NQ], dq[I8_NQ], dq1[I8_NQ];
    int X[I8_NQ];
} e8p2n_ctx;

/* The inputs quantised (xq, T rows of pcols) and the per-block factors, once per call. */
static void e8p2n_prep(const rz_qlayer_view *v, const int T, const int BITS, const float *x, int ldx, int8_t *xq,
                       e8p2n_ctx *z)
{
    z->pc = v->pcols, z->nb = z->pc / 8, z->nq = (z->pc + I8_QB_E8P - 1) / I8_QB_E8P, z->n64 = z->pc / 64;
    z->s = scale_at(v, 0), z->c1 = (float)e8p_c1(BITS);
    z->tb = z->nb > 8 * z->n64 ? rz_e8p_tables_get() : NULL;
    z->rowb = e8p2n_rowb(v);
    const int pc = z->pc, nq = z->nq, n64 = z->n64;
    for (int t = 0; t < T; t++) {
        int8_t *qt = xq + (size_t)t * pc;
        i8_quant(x + (size_t)t * ldx, pc, I8_QB_E8P, qt, z->d + (size_t)t * nq);
        for (int B = 0; B < nq; B++) {
            int j1 = 64 * n64 < 256 * (B + 1) ? 64 * n64 : 256 * (B + 1), a = 0;
            for (int j = 256 * B; j < j1; j++) a += qt[j];
            z->X[(size_t)t * nq + B] = a; /* over the nibble-coded columns of block B */
            z->dq[(size_t)t * nq + B] = 0.25f * z->d[(size_t)t * nq + B];
            z->dq1[(size_t)t * nq + B] = z->c1 * z->d[(size_t)t * nq + B];
        }
    }
}

/* The start of row r: its nibble planes (returned), its codes (*c) and the T accumulators zeroed. */
AVX2_INLINE const uint8_t *e8p2n_row(const e8p2n_ctx *z, const rz_qlayer_view *v, const uint8_t *nib, int r,
                                     const int T, const int BITS, const uint8_t **c, __m256 *facc)
{
    *c = (const uint8_t *)v->codes + (size_t)r * (size_t)z->nb * BITS;
    for (int t = 0; t < T; t++) facc[t] = _mm256_setzero_ps();
    return nib + (size_t)r * z->rowb;
}

/* Block B of input t: the 8 lane sums Σ k q of plane 0 (s0) and plane 1 (s1, unused at
 * 2 bits) into facc. */
AVX2_INLINE void e8p2n_block(const e8p2n_ctx *z, const int BITS, int t, int B, __m256i s0, __m256i s1, __m256 *facc)
{
    const int st1 = BITS == 3 ? 1 : 2, off1 = BITS == 3 ? 4 : 11;
    size_t o = (size_t)t * (size_t)z->nq + (size_t)B;
    int Xb = z->X[o];
    __m256i i0 = _mm256_slli_epi32(s0, 1);
    i0 = _mm256_sub_epi32(i0, _mm256_setr_epi32(11 * Xb, 0, 0, 0, 0, 0, 0, 0));
    *facc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i0), _mm256_set1_ps(z->dq[o]), *facc);
    if (BITS != 2) {
        __m256i i1 = s1;
        if (st1 == 2) i1 = _mm256_slli_epi32(i1, 1);
        i1 = _mm256_sub_epi32(i1, _mm256_setr_epi32(off1 * Xb, 0, 0, 0, 0, 0, 0, 0));
        *facc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i1), _mm256_set1_ps(z->dq1[o]), *facc);
    }
}

/* The end of a row: the codewords past the last 64 columns (codes c of the row), and
 * y[t·ldy] = s (hsum(facc[t]) + that). */
AVX2_INLINE void e8p2n_tail(const e8p2n_ctx *z, const uint8_t *c, const int T, const int BITS, const int8_t *xq,
                            const __m256 *facc, float *y, int ldy)
{
    float tail[RZ_QDOT_MAX_T];
    for (int t = 0; t < T; t++) tail[t] = 0.0f;
    for (int b = 8 * z->n64; b < z->nb; b++) { /* the codewords past the last 64 columns */
        int m0[8], m1[8], B = 8 * b / I8_QB_E8P;
        e8p_ints(z->tb, c + (size_t)BITS * (size_t)b, BITS, m0, m1);
        for (int t = 0; t < T; t++) {
            const int8_t *qt = xq + (size_t)t * z->pc + 8 * (size_t)b;
            int I0 = 0, I1 = 0;
            for (int j = 0; j < 8; j++) I0 += m0[j] * qt[j], I1 += m1[j] * qt[j];
            tail[t] += z->dq[(size_t)t * z->nq + B] * (float)I0 + z->dq1[(size_t)t * z->nq + B] * (float)I1;
        }
    }
    for (int t = 0; t < T; t++) y[(size_t)t * ldy] = z->s * (hsum(facc[t]) + tail[t]);
}

/* AVX2: maddubs(k, q) (|k q| ≤ 1397, ≤ 8 pairs per int16 lane per 256 columns: ≤ 22352
 * < 2¹⁵), then madd with ones: the 8 int32 lane sums. */
AVX2_INLINE void e8p2n_rows_avx2(const rz_qlayer_view *v, const uint8_t *nib, int r0, int n, const int T,
                                 const int BITS, const float *x, int ldx, float *y, int ldy)
{
    _Alignas(32) int8_t xq[I8_QMAX];
    e8p2n_ctx z;
    e8p2n_prep(v, T, BITS, x, ldx, xq, &z);
    const int S = BITS == 2 ? 1 : 2, pc = z.pc, nq = z.nq, n64 = z.n64;
    const __m256i nibm = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    for (int i = 0; i < n; i++) {
        const uint8_t *c;
        __m256 facc[RZ_QDOT_MAX_T];
        const uint8_t *rn = e8p2n_row(&z, v, nib, r0 + i, T, BITS, &c, facc);
        for (int B = 0; B < nq; B++) {
            int k0 = 4 * B, k1 = k0 + 4 < n64 ? k0 + 4 : n64;
            if (k1 > k0) {
                __m256i a16[2][RZ_QDOT_MAX_T];
                for (int t = 0; t < T; t++) a16[0][t] = a16[1][t] = _mm256_setzero_si256();
                for (int k = k0; k < k1; k++)
                    for (int p = 0; p < S; p++) {
                        __m256i qv = _mm256_loadu_si256((const __m256i *)(const void *)(rn + 32 * ((size_t)k * S + p)));
                        __m256i lo = _mm256_and_si256(qv, nibm), hi = _mm256_and_si256(_mm256_srli_epi16(qv, 4), nibm);
                        for (int t = 0; t < T; t++) {
                            const int8_t *xk = xq + (size_t)t * pc + 64 * (size_t)k;
                            __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(const void *)xk));
                            __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(const void *)(xk + 32)));
                            a16[p][t] = _mm256_add_epi16(a16[p][t], _mm256_add_epi16(p0, p1));
                        }
                    }
                for (int t = 0; t < T; t++)
                    e8p2n_block(&z, BITS, t, B, _mm256_madd_epi16(a16[0][t], ones),
                                S == 2 ? _mm256_madd_epi16(a16[1][t], ones) : _mm256_setzero_si256(), &facc[t]);
            }
        }
        e8p2n_tail(&z, c, T, BITS, xq, facc, y + i, ldy);
    }
}

/* The parts of the int8 grid kernels (2 and 4 bits) that the AVX2 and AVX-512 variants
 * share, so that they give the same bits: the inputs quantised per 32 columns with their
 * block sums X (grid_i8_prep); per unit u of 256 columns, from hs = one exact int32
 * Σ q xq per 32 columns, facc[t] += (hs − z X) · (scale_g · d_c) in 8 float lanes
 * (grid_i8_unit); the columns past the last 256 one at a time in double, and
 * y = hsum(facc) + that (grid_i8_tail). */
AVX2_INLINE void grid_i8_prep(const float *x, int ldx, const int T, int pc, const int B, const int W, int8_t *xq,
                              int8_t *xd, float *d, int *X)
{
    const int nc = (pc + I8_QB_GRID - 1) / I8_QB_GRID, nu = pc / 256;
    for (int t = 0; t < T; t++) {
        int8_t *qt = xq + (size_t)t * pc, *dt = xd + (size_t)t * pc;
        i8_quant(x + (size_t)t * ldx, pc, I8_QB_GRID, qt, d + (size_t)t * nc);
        for (int c = 0; c < nc; c++) {
            int j1 = 32 * c + 32 < pc ? 32 * c + 32 : pc, a = 0;
            for (int j = 32 * c; j < j1; j++) a += qt[j];
            X[(size_t)t * nc + c] = a;
        }
        /* the inputs in the order the codes' vectors of W bytes (32: AVX2, 64: AVX-512)
         * meet them, over the whole units of 256 columns: B = 4, per 2W columns the even
         * ones, then the odd (low and high nibbles); B = 2, per 4W columns run k holding
         * x[4j + k], j < W (the bits 2k of byte j) */
        if (B == 4)
            for (int k = 0; k < 128 / W * nu; k++)
                for (int j = 0; j < W; j++) dt[2 * W * k + j] = qt[2 * W * k + 2 * j], dt[2 * W * k + W + j] = qt[2 * W * k + 2 * j + 1];
        else
            for (int u = 0; u < 64 / W * nu; u++)
                for (int k = 0; k < 4; k++)
                    for (int j = 0; j < W; j++) dt[4 * W * u + W * k + j] = qt[4 * W * u + 4 * j + k];
    }
}

/* The scale and zero point of each 32-column block k < lanes from unit u's first (256
 * columns a unit: block k of unit u starts at column 256 u + 32 k), groups gw wide:
 * what grid_i8_unit (8 lanes) and grid_z_unit2 (16: units u and u + 1) load when gw is
 * neither the row nor 32. */
static inline void grid_unit_groups(int u, int lanes, int gw, const float *rs, const uint8_t *rz, float *sc, int *zc)
{
    for (int k = 0; k < lanes; k++) {
        int g = (256 * u + 32 * k) / gw;
        sc[k] = rs[g], zc[k] = rz[g];
    }
}

AVX2_INLINE void grid_i8_unit(int u, const __m256i *hs, const int T, int G, int gw, const float *rs, const uint8_t *rz,
                              const int *X, const float *d, int nc, __m256 *facc)
{
    __m256 sv;
    __m256i zv;
    if (G == 1) { /* one group per row */
        sv = _mm256_set1_ps(rs[0]);
        zv = _mm256_set1_epi32(rz[0]);
    } else if (gw == 32) {
        sv = _mm256_loadu_ps(rs + 8 * u);
        zv = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(rz + 8 * u)));
    } else {
        _Alignas(32) float sc[8];
        _Alignas(32) int zc[8];
        grid_unit_groups(u, 8, gw, rs, rz, sc, zc);
        sv = _mm256_load_ps(sc);
        zv = _mm256_load_si256((const __m256i *)(const void *)zc);
    }
    for (int t = 0; t < T; t++) {
        __m256i Xv = _mm256_loadu_si256((const __m256i *)(const void *)(X + (size_t)t * nc + 8 * (size_t)u));
        __m256i is = _mm256_sub_epi32(hs[t], _mm256_mullo_epi32(zv, Xv));
        __m256 sd = _mm256_mul_ps(sv, _mm256_loadu_ps(d + (size_t)t * nc + 8 * (size_t)u));
        facc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), sd, facc[t]);
    }
}

AVX2_INLINE void grid_i8_tail(const uint8_t *rc, const int B, const int T, int pc, int nu, int nc, int gw,
                              const float *rs, const uint8_t *rz, const int8_t *xq, const int *X, const float *d,
                              const __m256 *facc, float *y, int ldy)
{
    double tail[RZ_QDOT_MAX_T] = {0};
    for (int c = 8 * nu; c < nc; c++) { /* the columns past the last 256 */
        int j0 = 32 * c, j1 = j0 + 32 < pc ? j0 + 32 : pc, g = j0 / gw;
        for (int t = 0; t < T; t++) {
            const int8_t *qt = xq + (size_t)t * pc;
            int I = 0;
            for (int j = j0; j < j1; j++) I += (int)code_at(rc, (size_t)j * (size_t)B, B) * qt[j];
            tail[t] += (double)(rs[g] * d[(size_t)t * nc + c]) * (double)(I - (int)rz[g] * X[(size_t)t * nc + c]);
        }
    }
    for (int t = 0; t < T; t++) y[(size_t)t * ldy] = (float)((double)hsum(facc[t]) + tail[t]);
}

/* 4- and 2-bit grids with int8 inputs (RZ_QDOT_AVX2_I8; formula at ref_i8_rows), B the
 * bit width. B = 4: 32 bytes of codes hold 64 columns, the low nibbles the even ones and
 * the high nibbles the odd ones: the inputs are split to match once per call (per 64
 * columns: 32 even, 32 odd), so maddubs(nibbles, inputs) needs no shuffle (q ∈ 0..15
 * unsigned, |q x| ≤ 1905, a pair and its odd partner ≤ 7620 in int16); four such blocks
 * (256 columns, 8 input blocks of 32) are reduced with two hadds to one int32 per 32
 * columns. B = 2: 32 bytes hold 128 columns, byte j the columns 4j..4j+3 (bits 2k of
 * byte j: column 4j + k), so vector k = (codes >> 2k) & 3 meets a copy of the inputs
 * permuted once per call (per 128 columns, run k holds x[4j + k], j < 32): maddubs of
 * the four runs summed in int16 (≤ 8 products of ≤ 3 · 127: 3048), widened, one int32
 * per 16 columns; two such units (256 columns) are reduced with one hadd. Then per 32
 * columns Σ q x − z Σ x in int32, scaled by scale_g · d_c in float. Columns past the
 * last 256 go one at a time. */
AVX2_INLINE void grid_i8_rows_avx2(const rz_qlayer_view *v, int r0, int n, const int T, const int B, const float *x,
                                   int ldx, float *y, int ldy)
{
    const int pc = v->pcols, nc = (pc + I8_QB_GRID - 1) / I8_QB_GRID, nu = pc / 256;
    const int G = rz_grid_groups(pc, v->group), gw = v->group > 0 ? v->group : pc;
    const uint8_t *zeros = v->zeros;
    _Alignas(32) int8_t xq[I8_QMAX], xd[I8_QMAX];
    _Alignas(32) float d[I8_NQ];
    _Alignas(32) int X[I8_NQ];
    grid_i8_prep(x, ldx, T, pc, B, 32, xq, xd, d, X);
    const __m256i nib = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1), crumb = _mm256_set1_epi8(0x03);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7), perm2 = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)(r0 + i);
        const uint8_t *rc = (const uint8_t *)v->codes + row * (size_t)pc * (size_t)B / 8;
        const float *rs = (const float *)v->scales + row * (size_t)G;
        const uint8_t *rz = zeros + row * (size_t)G;
        __m256 facc[RZ_QDOT_MAX_T];
        for (int t = 0; t < T; t++) facc[t] = _mm256_setzero_ps();
        for (int u = 0; u < nu; u++) {
            __m256i vk[4][RZ_QDOT_MAX_T], hs[RZ_QDOT_MAX_T];
            if (B == 4) {
                for (int k = 0; k < 4; k++) {
                    __m256i qv = _mm256_loadu_si256((const __m256i *)(const void *)(rc + 128 * (size_t)u + 32 * (size_t)k));
                    __m256i lo = _mm256_and_si256(qv, nib), hi = _mm256_and_si256(_mm256_srli_epi16(qv, 4), nib);
                    for (int t = 0; t < T; t++) {
                        const int8_t *xe = xd + (size_t)t * pc + 256 * (size_t)u + 64 * (size_t)k;
                        __m256i pe = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(const void *)xe));
                        __m256i po = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(const void *)(xe + 32)));
                        vk[k][t] = _mm256_madd_epi16(_mm256_add_epi16(pe, po), ones);
                    }
                }
                for (int t = 0; t < T; t++) /* one int32 per 32 columns, in order */
                    hs[t] = _mm256_permutevar8x32_epi32(
                        _mm256_hadd_epi32(_mm256_hadd_epi32(vk[0][t], vk[1][t]), _mm256_hadd_epi32(vk[2][t], vk[3][t])), perm);
            } else {
                for (int h2 = 0; h2 < 2; h2++) {
                    __m256i qv = _mm256_loadu_si256((const __m256i *)(const void *)(rc + 64 * (size_t)u + 32 * (size_t)h2));
                    __m256i c0 = _mm256_and_si256(qv, crumb), c1 = _mm256_and_si256(_mm256_srli_epi16(qv, 2), crumb);
                    __m256i c2 = _mm256_and_si256(_mm256_srli_epi16(qv, 4), crumb), c3 = _mm256_and_si256(_mm256_srli_epi16(qv, 6), crumb);
                    for (int t = 0; t < T; t++) {
                        const int8_t *xe = xd + (size_t)t * pc + 256 * (size_t)u + 128 * (size_t)h2;
                        __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(c0, _mm256_loadu_si256((const __m256i *)(const void *)xe)),
                                                       _mm256_maddubs_epi16(c1, _mm256_loadu_si256((const __m256i *)(const void *)(xe + 32))));
                        __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(c2, _mm256_loadu_si256((const __m256i *)(const void *)(xe + 64))),
                                                       _mm256_maddubs_epi16(c3, _mm256_loadu_si256((const __m256i *)(const void *)(xe + 96))));
                        vk[h2][t] = _mm256_madd_epi16(_mm256_add_epi16(p01, p23), ones); /* one int32 per 16 columns */
                    }
                }
                for (int t = 0; t < T; t++) /* hadd: blocks 0, 1, 4, 5 | 2, 3, 6, 7; perm2 puts them in order */
                    hs[t] = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(vk[0][t], vk[1][t]), perm2);
            }
            grid_i8_unit(u, hs, T, G, gw, rs, rz, X, d, nc, facc);
        }
        grid_i8_tail(rc, B, T, pc, nu, nc, gw, rs, rz, xq, X, d, facc, y + i, ldy);
    }
}

/* The end of a row of the 8-bit int8 kernels (AVX2 and AVX-512 share it, so the same
 * bits): the partial block past the last 32 columns one at a time, exact in int, scaled
 * in double, and y = hsum(racc) + that. */
AVX2_INLINE void grid8_i8_tail(const uint8_t *rc, const int T, int pc, int nf, int nc, int gw, const float *rs,
                               const uint8_t *rz, const int8_t *xq, const float *d, const __m256 *racc, float *y, int ldy)
{
    double tail[RZ_QDOT_MAX_T] = {0};
    if (nf < nc) { /* the partial block past the last 32 columns */
        int j0 = nf * I8_QB_GRID, g = j0 / gw, z = rz[g];
        for (int t = 0; t < T; t++) {
            const int8_t *qt = xq + (size_t)t * pc;
            int I = 0;
            for (int j = j0; j < pc; j++) I += ((int)rc[j] - z) * qt[j];
            tail[t] += (double)(rs[g] * d[(size_t)t * nc + nf]) * (double)I;
        }
    }
    for (int t = 0; t < T; t++) y[(size_t)t * ldy] = (float)((double)hsum(racc[t]) + tail[t]);
}

/* 8-bit grids with int8 inputs (RZ_QDOT_AVX2_I8; formula at ref_i8_rows). A code
 * q ∈ 0..255 times an input q_x ∈ −127..127 does not fit maddubs' int16 pairs (2 · 255 ·
 * 127 > 2¹⁵), so the codes are widened to int16 with the group's zero point taken off
 * there, w = q − z ∈ −255..255 (exact), and madd_epi16 meets the inputs widened to int16
 * once per call: per 32 columns two madds give 8 int32 lanes of ≤ 4 products each
 * (|lane| ≤ 4 · 255 · 127 < 2²⁴, so the conversion to float is exact), times the block's
 * d_c into one of two float accumulators per input (alternate blocks, so the FMA chains
 * overlap), times the group's scale into the row's accumulator at the group's end. The
 * last pcols mod 32 columns (one partial block) go one at a time, exact in int. */
AVX2_INLINE void grid8_i8_rows_avx2(const rz_qlayer_view *v, int r0, int n, const int T, const float *x, int ldx,
                                    float *y, int ldy)
{
    const int pc = v->pcols, nc = (pc + I8_QB_GRID - 1) / I8_QB_GRID, nf = pc / I8_QB_GRID;
    const int G = rz_grid_groups(pc, v->group), gw = v->group > 0 ? v->group : pc;
    const int bpg = gw >= pc ? nf : gw / I8_QB_GRID; /* whole blocks per group */
    const uint8_t *zeros = v->zeros;
    _Alignas(32) int8_t xq[I8_QMAX];
    _Alignas(32) int16_t xw[I8_QMAX];
    float d[I8_NQ];
    for (int t = 0; t < T; t++) {
        int8_t *qt = xq + (size_t)t * pc;
        i8_quant(x + (size_t)t * ldx, pc, I8_QB_GRID, qt, d + (size_t)t * nc);
        for (int j = 0; j < pc; j++) xw[(size_t)t * pc + j] = qt[j];
    }
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)(r0 + i);
        const uint8_t *rc = (const uint8_t *)v->codes + row * (size_t)pc;
        const float *rs = (const float *)v->scales + row * (size_t)G;
        const uint8_t *rz = zeros + row * (size_t)G;
        __m256 racc[RZ_QDOT_MAX_T];
        for (int t = 0; t < T; t++) racc[t] = _mm256_setzero_ps();
        for (int c0 = 0, g = 0; c0 < nf; c0 += bpg, g++) {
            int c1 = c0 + bpg < nf ? c0 + bpg : nf;
            const __m256i zv = _mm256_set1_epi16((short)rz[g]);
            __m256 ga[2][RZ_QDOT_MAX_T];
            for (int t = 0; t < T; t++) ga[0][t] = ga[1][t] = _mm256_setzero_ps();
            for (int c = c0; c < c1; c += 2)
                for (int h = 0; h < 2 && c + h < c1; h++) { /* blocks c, c + 1: accumulators 0, 1 */
                    const uint8_t *cb = rc + (size_t)(c + h) * I8_QB_GRID;
                    __m256i w0 = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)cb)), zv);
                    __m256i w1 = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(cb + 16))), zv);
                    for (int t = 0; t < T; t++) {
                        const int16_t *xc = xw + (size_t)t * pc + (size_t)(c + h) * I8_QB_GRID;
                        __m256i p = _mm256_add_epi32(_mm256_madd_epi16(w0, _mm256_loadu_si256((const __m256i *)(const void *)xc)),
                                                     _mm256_madd_epi16(w1, _mm256_loadu_si256((const __m256i *)(const void *)(xc + 16))));
                        ga[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d[(size_t)t * nc + c + h]), ga[h][t]);
                    }
                }
            const __m256 sv = _mm256_set1_ps(rs[g]);
            for (int t = 0; t < T; t++) racc[t] = _mm256_fmadd_ps(_mm256_add_ps(ga[0][t], ga[1][t]), sv, racc[t]);
        }
        grid8_i8_tail(rc, T, pc, nf, nc, gw, rs, rz, xq, d, racc, y + i, ldy);
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

/* e8p 2 bits with int8 inputs from the codes, AVX-512 (RZ_QDOT_AVX512_I8: F, BW, VL,
 * VBMI, VNNI, BITALG; formula at ref_i8_rows). Each weight is m0/4 with m0 = s A + τ
 * (e8p_ints): A = 4a ∈ {±2, ±6, ±10} from the pattern byte p (coordinate 7's sign of odd
 * patterns included), s = ±1 from bit kz.bit[j] of the sign byte after the parity fix,
 * τ = ±1 from the parity. Per 64 codewords (512 columns) coordinate-major: the 64 sign
 * bytes and 64 pattern bytes are split out of the codes with vpermt2b, and for each
 * coordinate j one 64-byte vector holds u = m0 + 11 ∈ 0..22 of the 64 codewords — A from
 * a 256-byte table per coordinate (two 128-byte vpermt2b lookups and a blend on bit 7 of
 * p), negated where the sign bit is set, plus 11 + τ — and vpdpbusd(u, q) sums it against
 * the inputs, transposed once per call to the same order (xt: coordinate j of codeword i
 * of the chunk at [j][i]), into 16 int32 lanes of 4 codewords (32 columns, one int8
 * block each) exactly (|lane| ≤ 8 · 4 · 22 · 127). Per lane Σ m0 q = Σ u q − 11 Σ q (the
 * 11 Σ q per lane once per call), converted to float (exact) and scaled by d_B / 4.
 * A last chunk of ≤ 32 codewords is shared by two rows (e8p2_z_rows); lanes past a row's
 * codewords meet zero inputs. Rows are independent of how a call's rows are paired: the
 * same operations in the same lanes either way (test_qdot splits calls at odd rows). */
#define AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vbmi,avx512vnni,avx512bitalg")))
#define AVX512_INLINE \
    static inline __attribute__((always_inline, target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vbmi,avx512vnni,avx512bitalg")))

typedef struct {
    _Alignas(64) int8_t A[8][256]; /* 4 · abs[p][j]: ±2, ±6, ±10 */
    _Alignas(64) uint8_t bitv[8][64]; /* 64 copies of the bit of the fixed sign byte that negates coordinate j */
} kz_tables;
static kz_tables kz;
static pthread_once_t kz_once = PTHREAD_ONCE_INIT;
static void kz_init(void)
{
    const rz_e8p_tables *tb = rz_e8p_tables_get();
    for (int j = 0; j < 8; j++) {
        for (int p = 0; p < 256; p++) kz.A[j][p] = (int8_t)lrintf(4.0f * tb->abs[p][j]);
        for (int b = 0; b < 8; b++) { /* the bit of the sign byte (after the parity fix) that negates j */
            int all = 1;
            for (int g = 0; g < 256 && all; g++) {
                unsigned gf = (unsigned)g ^ (unsigned)(__builtin_popcount((unsigned)g) & 1);
                all = (tb->sign[g][j] < 0) == (int)((gf >> b) & 1u);
            }
            if (all) memset(kz.bitv[j], 1 << b, 64);
        }
    }
}

enum { E8PZ_NCH = I8_QMAX / 512 + RZ_QDOT_MAX_T }; /* bound on T · chunks of 64 codewords */

/* The 16 int32 lanes Σ u q − 11 Σ q of one chunk of 64 codewords whose code bytes are
 * lo | hi (128 bytes), against the transposed inputs xc (T blocks of 512, stride xs) and
 * the lanes' 11 Σ q (corr, T blocks of 16, stride cs). */
AVX512_INLINE void e8p2_z_chunk(__m512i lo, __m512i hi, const int T, const int8_t *xc, size_t xs, const int32_t *corr,
                                size_t cs, __m512i *e)
{
    const __m512i even = _mm512_set_epi8(126, 124, 122, 120, 118, 116, 114, 112, 110, 108, 106, 104, 102, 100, 98, 96,
                                         94, 92, 90, 88, 86, 84, 82, 80, 78, 76, 74, 72, 70, 68, 66, 64, 62, 60, 58, 56,
                                         54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32, 30, 28, 26, 24, 22, 20, 18, 16,
                                         14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_add_epi8(even, _mm512_set1_epi8(1));
    const __m512i one = _mm512_set1_epi8(1), twelve = _mm512_set1_epi8(12), zero = _mm512_setzero_si512();
    __m512i g = _mm512_permutex2var_epi8(lo, even, hi), p = _mm512_permutex2var_epi8(lo, odd, hi);
    __m512i par = _mm512_and_si512(_mm512_popcnt_epi8(g), one);
    __m512i gf = _mm512_xor_si512(g, par);
    __m512i cv = _mm512_sub_epi8(twelve, _mm512_add_epi8(par, par)); /* 11 + τ */
    __mmask64 k7 = _mm512_movepi8_mask(p);
    __m512i acc[RZ_QDOT_MAX_T];
    for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_si512();
    for (int j = 0; j < 8; j++) {
        const int8_t *A = kz.A[j];
        __m512i a0 = _mm512_permutex2var_epi8(_mm512_load_si512(A), p, _mm512_load_si512(A + 64));
        __m512i a1 = _mm512_permutex2var_epi8(_mm512_load_si512(A + 128), p, _mm512_load_si512(A + 192));
        __m512i a = _mm512_mask_blend_epi8(k7, a0, a1);
        __mmask64 neg = _mm512_test_epi8_mask(gf, _mm512_load_si512(kz.bitv[j]));
        __m512i u = _mm512_add_epi8(_mm512_mask_sub_epi8(a, neg, zero, a), cv);
        for (int t = 0; t < T; t++) acc[t] = _mm512_dpbusd_epi32(acc[t], u, _mm512_load_si512(xc + (size_t)t * xs + 64 * (size_t)j));
    }
    for (int t = 0; t < T; t++) e[t] = _mm512_sub_epi32(acc[t], _mm512_load_si512(corr + (size_t)t * cs));
}

/* 64 bytes of codes at c: a whole load while it stays inside the view's codes (masked
 * loads are slow on the CPUs at hand; bytes past a row meet zero inputs), else masked to
 * the nbytes that belong to the chunk. */
AVX512_INLINE __m512i e8p2_z_load(const rz_qlayer_view *v, const uint8_t *c, int nbytes)
{
    if (nbytes >= 64 || (size_t)(c - (const uint8_t *)v->codes) + 64 <= v->codes_n) return _mm512_loadu_si512(c);
    return _mm512_maskz_loadu_epi8(nbytes <= 0 ? 0 : (((__mmask64)1 << nbytes) - 1), c);
}

AVX512_INLINE void e8p2_z_rows(const rz_qlayer_view *v, int r0, int n, const int T, const float *x, int ldx, float *y,
                               int ldy)
{
    const int pc = v->pcols, nb = pc / 8, nq = (pc + I8_QB_E8P - 1) / I8_QB_E8P, nch = (nb + 63) / 64;
    /* a last chunk of ≤ 32 codewords (e.g. 768 columns: 64 + 32) is shared by two rows:
     * row i's codewords in lanes 0–31, row i + 1's in 32–63, so no half chunk is wasted */
    const int mt = nb % 64, pair = mt > 0 && mt <= 32, nfull = pair ? nch - 1 : nch;
    const float s = scale_at(v, 0);
    _Alignas(64) int8_t xq[I8_QMAX];
    _Alignas(64) int8_t xt[E8PZ_NCH * 512];
    _Alignas(64) int32_t corr[E8PZ_NCH * 16];
    _Alignas(64) float dl[E8PZ_NCH * 16];
    float d[I8_NQ];
    _Alignas(64) int8_t qp[I8_QMAX + 512]; /* one input, zero past pcols */
    for (int t = 0; t < T; t++) {
        i8_quant(x + (size_t)t * ldx, pc, I8_QB_E8P, xq + (size_t)t * pc, d + (size_t)t * nq);
        memcpy(qp, xq + (size_t)t * pc, (size_t)pc);
        memset(qp + pc, 0, (size_t)nch * 512 - (size_t)pc);
        for (int ch = 0; ch < nch; ch++) {
            const int8_t *src = qp + 512 * (size_t)ch;
            int8_t *o = xt + ((size_t)t * nch + ch) * 512;
            /* the paired tail: lanes 32–63 repeat lanes 0–31 (row i + 1 reads the same inputs) */
            const int w = pair && ch == nch - 1 ? 32 : 64;
            for (int j = 0; j < 8; j++) {
                for (int i = 0; i < w; i++) o[64 * j + i] = src[8 * i + j];
                if (w == 32) memcpy(o + 64 * j + 32, o + 64 * j, 32);
            }
            for (int k = 0; k < 16; k++) {
                int kk = k % (w / 4), X = 0;
                for (int j = 0; j < 32; j++) X += src[32 * kk + j];
                corr[((size_t)t * nch + ch) * 16 + k] = 11 * X;
                int b = 64 * ch + 4 * kk;
                dl[((size_t)t * nch + ch) * 16 + k] = b < nb ? 0.25f * d[(size_t)t * nq + b / 32] : 0.0f;
            }
        }
    }
    const size_t xs = (size_t)nch * 512, cs = (size_t)nch * 16;
    for (int i = 0; i < n;) {
        const int two = pair && i + 1 < n;
        const uint8_t *c0 = (const uint8_t *)v->codes + (size_t)(r0 + i) * (size_t)nb * 2, *c1 = c0 + (size_t)nb * 2;
        __m512 f0[RZ_QDOT_MAX_T], f1[RZ_QDOT_MAX_T];
        __m512i e[RZ_QDOT_MAX_T];
        for (int t = 0; t < T; t++) f0[t] = f1[t] = _mm512_setzero_ps();
        for (int ch = 0; ch < nfull; ch++) {
            int m2 = 2 * (nb - 64 * ch); /* code bytes of this chunk */
            const uint8_t *cc = c0 + 128 * (size_t)ch;
            e8p2_z_chunk(e8p2_z_load(v, cc, m2), e8p2_z_load(v, cc + 64, m2 - 64), T, xt + (size_t)ch * 512, xs,
                         corr + (size_t)ch * 16, cs, e);
            for (int t = 0; t < T; t++)
                f0[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(e[t]), _mm512_load_ps(dl + (size_t)t * cs + 16 * (size_t)ch), f0[t]);
        }
        if (two)
            for (int ch = 0; ch < nfull; ch++) {
                const uint8_t *cc = c1 + 128 * (size_t)ch;
                e8p2_z_chunk(_mm512_loadu_si512(cc), _mm512_loadu_si512(cc + 64), T, xt + (size_t)ch * 512, xs,
                             corr + (size_t)ch * 16, cs, e); /* (a full chunk, then the tail: inside the codes) */
                for (int t = 0; t < T; t++)
                    f1[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(e[t]), _mm512_load_ps(dl + (size_t)t * cs + 16 * (size_t)ch), f1[t]);
            }
        if (pair) { /* lanes 0–7 of the tail belong to row i, 8–15 to row i + 1 (moved to 0–7) */
            const uint8_t *c = c0 + 128 * (size_t)nfull;
            __m512i lo = e8p2_z_load(v, c, 2 * mt), hi = two ? e8p2_z_load(v, c + (size_t)nb * 2, 2 * mt) : lo;
            e8p2_z_chunk(lo, hi, T, xt + (size_t)nfull * 512, xs, corr + (size_t)nfull * 16, cs, e);
            for (int t = 0; t < T; t++) {
                __m512 ef = _mm512_cvtepi32_ps(e[t]), dv = _mm512_load_ps(dl + (size_t)t * cs + 16 * (size_t)nfull);
                f0[t] = _mm512_mask3_fmadd_ps(ef, dv, f0[t], 0x00FF);
                f1[t] = _mm512_mask3_fmadd_ps(_mm512_shuffle_f32x4(ef, ef, 0x4E), dv, f1[t], 0x00FF);
            }
        }
        for (int t = 0; t < T; t++) {
            y[(size_t)t * ldy + i] = s * _mm512_reduce_add_ps(f0[t]);
            if (two) y[(size_t)t * ldy + i + 1] = s * _mm512_reduce_add_ps(f1[t]);
        }
        i += two ? 2 : 1;
    }
}

static AVX512 void avx512_e8p2_rows(const rz_qlayer_view *v, int r0, int n, int T, const float *x, int ldx, float *y,
                                    int ldy)
{
    pthread_once(&kz_once, kz_init);
    QDOT_T_SWITCH(e8p2_z_rows, )
}

/* 2- and 4-bit grids with int8 inputs, AVX-512 VNNI (F, BW, VL, VNNI; chosen by AUTO_I8
 * and AVX512_I8; formula at ref_i8_rows). The same integers and the same float epilogue
 * as grid_i8_rows_avx2 (grid_i8_unit, grid_i8_tail), so the same bits: only the exact
 * int32 sums per 32 columns are formed differently. vpdpbusd(codes, inputs) takes the
 * codes as the unsigned operand (0..2^B − 1) and the int8 inputs as the signed one and
 * sums 4 products per int32 lane exactly (≤ 4 · 15 · 127 per call). B = 2: 64 bytes of
 * codes hold 256 columns (one unit), byte j the columns 4j..4j+3; vector k = (codes >>
 * 2k) & 3 meets the inputs permuted once per call (per 256 columns, run k holds x[4j + k],
 * j < 64), so the four vpdpbusd leave lane L = Σ over columns 16L..16L+15. B = 4: 64
 * bytes hold 128 columns, the low nibbles the even ones and the high the odd ones,
 * against the inputs split to match once per call (per 128 columns: 64 even, 64 odd):
 * lane L = Σ over columns 8L..8L+7, two vectors per unit. Adjacent lanes are summed by
 * gathering the even and the odd lanes of two vectors (vpermt2d) and adding, once at 2
 * bits and twice at 4, two units at a time (a lone last unit with itself): 16 lanes =
 * the 8 block sums of unit u, then of u + 1. */
#define AVX512G __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))
#define AVX512G_INLINE static inline __attribute__((always_inline, target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))

static int have_grid512(void)
{
    return rz_qdot_have(RZ_QDOT_AVX2_I8) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

/* Pairs of adjacent int32 lanes of a (lanes 0–7) and b (8–15) summed. */
AVX512G_INLINE __m512i pair_sum512(__m512i a, __m512i b)
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return _mm512_add_epi32(_mm512_permutex2var_epi32(a, ev, b), _mm512_permutex2var_epi32(a, od, b));
}

/* The 16 lanes (Σ q xq over 16 columns at B = 2, 8 at B = 4) of 64 bytes of codes q. */
AVX512G_INLINE void grid_z_lanes(__m512i q, const int T, const int B, const int8_t *xe, int pc, __m512i *acc)
{
    if (B == 2) {
        const __m512i m = _mm512_set1_epi8(0x03);
        __m512i c[4] = {_mm512_and_si512(q, m), _mm512_and_si512(_mm512_srli_epi16(q, 2), m),
                        _mm512_and_si512(_mm512_srli_epi16(q, 4), m), _mm512_and_si512(_mm512_srli_epi16(q, 6), m)};
        for (int t = 0; t < T; t++) {
            const int8_t *xt = xe + (size_t)t * pc;
            __m512i a = _mm512_dpbusd_epi32(_mm512_setzero_si512(), c[0], _mm512_loadu_si512(xt));
            a = _mm512_dpbusd_epi32(a, c[1], _mm512_loadu_si512(xt + 64));
            a = _mm512_dpbusd_epi32(a, c[2], _mm512_loadu_si512(xt + 128));
            acc[t] = _mm512_dpbusd_epi32(a, c[3], _mm512_loadu_si512(xt + 192));
        }
    } else {
        const __m512i m = _mm512_set1_epi8(0x0F);
        __m512i lo = _mm512_and_si512(q, m), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m);
        for (int t = 0; t < T; t++) {
            const int8_t *xt = xe + (size_t)t * pc;
            __m512i a = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(xt));
            acc[t] = _mm512_dpbusd_epi32(a, hi, _mm512_loadu_si512(xt + 64));
        }
    }
}

/* The 8 block sums of unit u (lanes 0–7) and, if two, of u + 1 (lanes 8–15). */
AVX512G_INLINE void grid_z_units(const uint8_t *rc, int u, int two, const int T, const int B, const int8_t *xd, int pc,
                                 __m512i *s)
{
    __m512i a[2][RZ_QDOT_MAX_T];
    for (int h = 0; h < 1 + two; h++) {
        const int8_t *xe = xd + 256 * (size_t)(u + h);
        if (B == 2) {
            grid_z_lanes(_mm512_loadu_si512(rc + 64 * (size_t)(u + h)), T, 2, xe, pc, a[h]);
        } else {
            __m512i p0[RZ_QDOT_MAX_T], p1[RZ_QDOT_MAX_T];
            grid_z_lanes(_mm512_loadu_si512(rc + 128 * (size_t)(u + h)), T, 4, xe, pc, p0);
            grid_z_lanes(_mm512_loadu_si512(rc + 128 * (size_t)(u + h) + 64), T, 4, xe + 128, pc, p1);
            for (int t = 0; t < T; t++) a[h][t] = pair_sum512(p0[t], p1[t]); /* 16 columns per lane */
        }
    }
    for (int t = 0; t < T; t++) s[t] = pair_sum512(a[0][t], two ? a[1][t] : a[0][t]);
}

/* grid_i8_unit for units u and u + 1 at once (s: their 16 block sums): the integer and
 * float operations per lane of grid_i8_unit in 16 lanes, then its two FMAs per input in
 * the same order (unit u, then u + 1), so the same bits. */
AVX512G_INLINE void grid_z_unit2(int u, const __m512i *s, const int T, int G, int gw, const float *rs, const uint8_t *rz,
                                 const int *X, const float *d, int nc, __m256 *facc)
{
    __m512 sv;
    __m512i zv;
    if (G == 1) {
        sv = _mm512_set1_ps(rs[0]);
        zv = _mm512_set1_epi32(rz[0]);
    } else if (gw == 32) {
        sv = _mm512_loadu_ps(rs + 8 * u);
        zv = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(rz + 8 * u)));
    } else {
        _Alignas(64) float sc[16];
        _Alignas(64) int zc[16];
        grid_unit_groups(u, 16, gw, rs, rz, sc, zc);
        sv = _mm512_load_ps(sc);
        zv = _mm512_load_si512(zc);
    }
    for (int t = 0; t < T; t++) {
        __m512i is = _mm512_sub_epi32(s[t], _mm512_mullo_epi32(zv, _mm512_loadu_si512(X + (size_t)t * nc + 8 * (size_t)u)));
        __m512 sd = _mm512_mul_ps(sv, _mm512_loadu_ps(d + (size_t)t * nc + 8 * (size_t)u));
        __m512 f = _mm512_cvtepi32_ps(is);
        facc[t] = _mm256_fmadd_ps(_mm512_castps512_ps256(f), _mm512_castps512_ps256(sd), facc[t]);
        facc[t] = _mm256_fmadd_ps(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1)),
                                  _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sd), 1)), facc[t]);
    }
}

AVX512G_INLINE void grid_i8_rows_z(const rz_qlayer_view *v, int r0, int n, const int T, const int B, const float *x,
                                   int ldx, float *y, int ldy)
{
    const int pc = v->pcols, nc = (pc + I8_QB_GRID - 1) / I8_QB_GRID, nu = pc / 256;
    const int G = rz_grid_groups(pc, v->group), gw = v->group > 0 ? v->group : pc;
    const uint8_t *zeros = v->zeros;
    _Alignas(64) int8_t xq[I8_QMAX], xd[I8_QMAX];
    _Alignas(64) float d[I8_NQ];
    _Alignas(64) int X[I8_NQ];
    grid_i8_prep(x, ldx, T, pc, B, 64, xq, xd, d, X);
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)(r0 + i);
        const uint8_t *rc = (const uint8_t *)v->codes + row * (size_t)pc * (size_t)B / 8;
        const float *rs = (const float *)v->scales + row * (size_t)G;
        const uint8_t *rz = zeros + row * (size_t)G;
        __m256 facc[RZ_QDOT_MAX_T];
        for (int t = 0; t < T; t++) facc[t] = _mm256_setzero_ps();
        for (int u = 0; u < nu; u += 2) {
            const int two = u + 1 < nu;
            __m512i s[RZ_QDOT_MAX_T];
            __m256i hs[RZ_QDOT_MAX_T];
            grid_z_units(rc, u, two, T, B, xd, pc, s);
            if (two) {
                grid_z_unit2(u, s, T, G, gw, rs, rz, X, d, nc, facc);
                continue;
            }
            for (int t = 0; t < T; t++) hs[t] = _mm512_castsi512_si256(s[t]);
            grid_i8_unit(u, hs, T, G, gw, rs, rz, X, d, nc, facc);
        }
        grid_i8_tail(rc, B, T, pc, nu, nc, gw, rs, rz, xq, X, d, facc, y + i, ldy);
    }
}

static AVX512G void avx512_grid_rows(const rz_qlayer_view *v, int r0, int n, int T, const float *x, int ldx, float *y,
                                     int ldy)
{
    if (v->bits == 2) QDOT_T_SWITCH(grid_i8_rows_z, 2, )
    else QDOT_T_SWITCH(grid_i8_rows_z, 4, )
}

/* e8p nibbles (e8p2n_rows_avx2) with int8 inputs, AVX-512 VNNI (F, BW, VL, VNNI; chosen
 * by AUTO_I8 and, at 3 and 4 bits, AVX512_I8 where grid_i8_rows_z is). The same lane sums
 * as the AVX2 kernel, so the same bits through the shared e8p2n_block and e8p2n_tail:
 * vpdpbusd(k, q) sums 4 adjacent products per int32 lane exactly (k ∈ 0..11 unsigned, q
 * signed), which is the AVX2 kernel's lane L (bytes 4L..4L+3 of each vector, low and high
 * nibbles) once the 8 lanes of a 256-bit vector meet the matching 32 inputs. 3 and 4
 * bits: one 64-byte load holds both planes of 64 columns, lanes 0–7 plane 0 and 8–15
 * plane 1, against the 32 inputs of the low (high) nibbles broadcast to both halves. 2
 * bits: one 64-byte load holds 128 columns (lanes 0–7 columns 64k.., 8–15 64(k+1)..),
 * against the inputs permuted once per call to match (per 128 columns: x[0..31],
 * x[64..95], x[32..63], x[96..127]); the two halves are added at the block's end, a
 * block's odd last 64 columns in 256 bits. Low and high nibbles go to separate
 * accumulators (shorter vpdpbusd chains), added at the block's end. All integer sums are
 * exact (|lane| ≤ 8 · 4 · 11 · 127 per nibble half), so their order does not matter. One
 * row at a time: a row's bits do not depend on how a call's rows are split. */
AVX512G_INLINE void e8p2n_rows_z(const rz_qlayer_view *v, const uint8_t *nib, int r0, int n, const int T,
                                 const int BITS, const float *x, int ldx, float *y, int ldy)
{
    _Alignas(64) int8_t xq[I8_QMAX], xp[I8_QMAX];
    e8p2n_ctx z;
    e8p2n_prep(v, T, BITS, x, ldx, xq, &z);
    const int S = BITS == 2 ? 1 : 2, pc = z.pc, nq = z.nq, n64 = z.n64;
    if (S == 1)
        for (int t = 0; t < T; t++) {
            const int8_t *qt = xq + (size_t)t * pc;
            int8_t *pt = xp + (size_t)t * pc;
            int k = 0;
            for (; k + 1 < n64; k += 2) {
                const int8_t *q = qt + 64 * (size_t)k;
                int8_t *o = pt + 64 * (size_t)k;
                memcpy(o, q, 32), memcpy(o + 32, q + 64, 32), memcpy(o + 64, q + 32, 32), memcpy(o + 96, q + 96, 32);
            }
            if (k < n64) memcpy(pt + 64 * (size_t)k, qt + 64 * (size_t)k, 64);
        }
    const __m512i nibm = _mm512_set1_epi8(0x0F);
    const __m256i nibm1 = _mm256_set1_epi8(0x0F);
    for (int i = 0; i < n; i++) {
        const uint8_t *c;
        __m256 facc[RZ_QDOT_MAX_T];
        const uint8_t *rn = e8p2n_row(&z, v, nib, r0 + i, T, BITS, &c, facc);
        for (int B = 0; B < nq; B++) {
            int k0 = 4 * B, k1 = k0 + 4 < n64 ? k0 + 4 : n64, k = k0;
            if (k1 <= k0) continue;
            __m512i al[RZ_QDOT_MAX_T], ah[RZ_QDOT_MAX_T];
            __m256i a1[RZ_QDOT_MAX_T];
            for (int t = 0; t < T; t++) al[t] = ah[t] = _mm512_setzero_si512(), a1[t] = _mm256_setzero_si256();
            if (S == 2) {
                for (; k < k1; k++) {
                    __m512i qv = _mm512_loadu_si512(rn + 64 * (size_t)k);
                    __m512i lo = _mm512_and_si512(qv, nibm), hi = _mm512_and_si512(_mm512_srli_epi16(qv, 4), nibm);
                    for (int t = 0; t < T; t++) {
                        const int8_t *xk = xq + (size_t)t * pc + 64 * (size_t)k;
                        al[t] = _mm512_dpbusd_epi32(al[t], lo, _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(const void *)xk)));
                        ah[t] = _mm512_dpbusd_epi32(ah[t], hi, _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(const void *)(xk + 32))));
                    }
                }
            } else {
                for (; k + 1 < k1; k += 2) {
                    __m512i qv = _mm512_loadu_si512(rn + 32 * (size_t)k);
                    __m512i lo = _mm512_and_si512(qv, nibm), hi = _mm512_and_si512(_mm512_srli_epi16(qv, 4), nibm);
                    for (int t = 0; t < T; t++) {
                        const int8_t *xk = xp + (size_t)t * pc + 64 * (size_t)k;
                        al[t] = _mm512_dpbusd_epi32(al[t], lo, _mm512_loadu_si512(xk));
                        ah[t] = _mm512_dpbusd_epi32(ah[t], hi, _mm512_loadu_si512(xk + 64));
                    }
                }
                if (k < k1) { /* the block's odd last 64 columns */
                    __m256i qv = _mm256_loadu_si256((const __m256i *)(const void *)(rn + 32 * (size_t)k));
                    __m256i lo = _mm256_and_si256(qv, nibm1), hi = _mm256_and_si256(_mm256_srli_epi16(qv, 4), nibm1);
                    for (int t = 0; t < T; t++) {
                        const int8_t *xk = xp + (size_t)t * pc + 64 * (size_t)k;
                        a1[t] = _mm256_dpbusd_epi32(a1[t], lo, _mm256_loadu_si256((const __m256i *)(const void *)xk));
                        a1[t] = _mm256_dpbusd_epi32(a1[t], hi, _mm256_loadu_si256((const __m256i *)(const void *)(xk + 32)));
                    }
                }
            }
            for (int t = 0; t < T; t++) {
                __m512i s = _mm512_add_epi32(al[t], ah[t]);
                __m256i s0 = _mm512_castsi512_si256(s), s1 = _mm512_extracti64x4_epi64(s, 1);
                if (S == 2) e8p2n_block(&z, BITS, t, B, s0, s1, &facc[t]);
                else e8p2n_block(&z, BITS, t, B, _mm256_add_epi32(_mm256_add_epi32(s0, s1), a1[t]), s1, &facc[t]);
            }
        }
        e8p2n_tail(&z, c, T, BITS, xq, facc, y + i, ldy);
    }
}

#define E8PZ_CALL(v_, r0_, n_, T_, ...) e8p2n_rows_z(v_, nib, r0_, n_, T_, __VA_ARGS__)
static AVX512G void avx512_e8p2n_rows(const rz_qlayer_view *v, const uint8_t *nib, int r0, int n, int T,
                                      const float *x, int ldx, float *y, int ldy)
{
    if (v->bits == 2) QDOT_T_SWITCH(E8PZ_CALL, 2, )
    else if (v->bits == 3) QDOT_T_SWITCH(E8PZ_CALL, 3, )
    else QDOT_T_SWITCH(E8PZ_CALL, 4, )
}

/* 8-bit grids with int8 inputs, AVX-512 VNNI + VBMI (chosen where grid_i8_rows_z is, the
 * CPU having VBMI too; formula at ref_i8_rows). The same integers per lane and the same
 * float operations as grid8_i8_rows_avx2, so the same bits: there, lane l of a 32-column
 * block sums (q − z) xq over the columns 2l, 2l+1, 16+2l, 17+2l (two madd_epi16). Here
 * the code bytes of two blocks are put in that order by one vpermb (lane l = bytes
 * 4l..4l+3), vpdpbusd sums q xq (q ∈ 0..255 unsigned, |xq| ≤ 127: 4 · 255 · 127 per
 * lane) onto −z X_l, X_l the lane's Σ xq (inputs permuted to match and X_l formed once
 * per call): Σ (q − z) xq exactly. The 16 lanes of blocks c, c + 1 then go to the AVX2
 * kernel's two 8-lane accumulators; a group's odd last block alone in 256 bits. */
#define AVX512V __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")))
#define AVX512V_INLINE \
    static inline __attribute__((always_inline, target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")))

static int have_grid8_512(void) { return have_grid512() && __builtin_cpu_supports("avx512vbmi"); }

/* 1 if this CPU runs an AVX-512 VNNI kernel for grids of `bits` (2, 4: grid_i8_rows_z;
 * 8: grid8_i8_rows_z); the others take the AVX2 int8 kernel. */
static int have_grid_z(int bits) { return bits == 8 ? have_grid8_512() : (bits == 2 || bits == 4) && have_grid512(); }

/* column of byte k (0..31) of a permuted block: lane k/4, m = k%4 → 2l, 2l+1, 16+2l, 17+2l */
static inline int g8z_col(int k) { return 2 * (k / 4) + (k % 4 & 1) + 16 * (k % 4 >> 1); }

AVX512V_INLINE void grid8_i8_rows_z(const rz_qlayer_view *v, int r0, int n, const int T, const float *x, int ldx,
                                    float *y, int ldy)
{
    const int pc = v->pcols, nc = (pc + I8_QB_GRID - 1) / I8_QB_GRID, nf = pc / I8_QB_GRID;
    const int G = rz_grid_groups(pc, v->group), gw = v->group > 0 ? v->group : pc;
    const int bpg = gw >= pc ? nf : gw / I8_QB_GRID; /* whole blocks per group */
    const uint8_t *zeros = v->zeros;
    _Alignas(64) int8_t xq[I8_QMAX], xp[I8_QMAX];
    _Alignas(64) int32_t Xl[I8_QMAX / 4 + 16];
    _Alignas(64) uint8_t idx[64];
    float d[I8_NQ];
    for (int k = 0; k < 64; k++) idx[k] = (uint8_t)(32 * (k / 32) + g8z_col(k % 32));
    for (int t = 0; t < T; t++) {
        int8_t *qt = xq + (size_t)t * pc, *pt = xp + (size_t)t * pc;
        i8_quant(x + (size_t)t * ldx, pc, I8_QB_GRID, qt, d + (size_t)t * nc);
        for (int c = 0; c < nf; c++)
            for (int k = 0; k < 32; k++) pt[32 * c + k] = qt[32 * c + g8z_col(k)];
        for (int l = 0; l < 8 * nf; l++)
            Xl[(size_t)t * 8 * nf + l] = pt[4 * l] + pt[4 * l + 1] + pt[4 * l + 2] + pt[4 * l + 3];
    }
    const __m512i perm = _mm512_load_si512(idx);
    const __m256i perm1 = _mm256_load_si256((const __m256i *)(const void *)idx);
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)(r0 + i);
        const uint8_t *rc = (const uint8_t *)v->codes + row * (size_t)pc;
        const float *rs = (const float *)v->scales + row * (size_t)G;
        const uint8_t *rz = zeros + row * (size_t)G;
        __m256 racc[RZ_QDOT_MAX_T];
        for (int t = 0; t < T; t++) racc[t] = _mm256_setzero_ps();
        for (int c0 = 0, g = 0; c0 < nf; c0 += bpg, g++) {
            int c1 = c0 + bpg < nf ? c0 + bpg : nf, c = c0;
            const __m512i zv = _mm512_set1_epi32(rz[g]);
            __m256 ga[2][RZ_QDOT_MAX_T];
            for (int t = 0; t < T; t++) ga[0][t] = ga[1][t] = _mm256_setzero_ps();
            for (; c + 1 < c1; c += 2) { /* blocks c, c + 1: accumulators 0, 1 */
                __m512i q = _mm512_permutexvar_epi8(perm, _mm512_loadu_si512(rc + (size_t)c * I8_QB_GRID));
                for (int t = 0; t < T; t++) {
                    const int32_t *xl = Xl + (size_t)t * 8 * nf + 8 * (size_t)c;
                    __m512i zx = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_mullo_epi32(zv, _mm512_loadu_si512(xl)));
                    __m512i p = _mm512_dpbusd_epi32(zx, q, _mm512_loadu_si512(xp + (size_t)t * pc + (size_t)c * I8_QB_GRID));
                    __m512 pf = _mm512_cvtepi32_ps(p);
                    ga[0][t] = _mm256_fmadd_ps(_mm512_castps512_ps256(pf), _mm256_set1_ps(d[(size_t)t * nc + c]), ga[0][t]);
                    ga[1][t] = _mm256_fmadd_ps(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(pf), 1)),
                                               _mm256_set1_ps(d[(size_t)t * nc + c + 1]), ga[1][t]);
                }
            }
            if (c < c1) { /* a lone block: accumulator 0 */
                __m256i q = _mm256_permutexvar_epi8(perm1, _mm256_loadu_si256((const __m256i *)(const void *)(rc + (size_t)c * I8_QB_GRID)));
                for (int t = 0; t < T; t++) {
                    const int32_t *xl = Xl + (size_t)t * 8 * nf + 8 * (size_t)c;
                    __m256i zx = _mm256_sub_epi32(_mm256_setzero_si256(),
                                                  _mm256_mullo_epi32(_mm512_castsi512_si256(zv), _mm256_loadu_si256((const __m256i *)(const void *)xl)));
                    __m256i p = _mm256_dpbusd_epi32(zx, q, _mm256_loadu_si256((const __m256i *)(const void *)(xp + (size_t)t * pc + (size_t)c * I8_QB_GRID)));
                    ga[0][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d[(size_t)t * nc + c]), ga[0][t]);
                }
            }
            const __m256 sv = _mm256_set1_ps(rs[g]);
            for (int t = 0; t < T; t++) racc[t] = _mm256_fmadd_ps(_mm256_add_ps(ga[0][t], ga[1][t]), sv, racc[t]);
        }
        grid8_i8_tail(rc, T, pc, nf, nc, gw, rs, rz, xq, d, racc, y + i, ldy);
    }
}

static AVX512V void avx512_grid8_rows(const rz_qlayer_view *v, int r0, int n, int T, const float *x, int ldx, float *y,
                                      int ldy)
{
    QDOT_T_SWITCH(grid8_i8_rows_z, )
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

static AVX2 void avx2_i8_rows(const rz_qlayer_view *v, int r0, int n, int T, const float *x, int ldx, float *y,
                              int ldy)
{
    if (v->method == RZ_QM_E8P) {
        pthread_once(&kt_once, kt_init);
        QDOT_T_SWITCH(e8p2_i8_rows_avx2, )
    } else {
        if (v->bits == 2) QDOT_T_SWITCH(grid_i8_rows_avx2, 2, )
        else if (v->bits == 4) QDOT_T_SWITCH(grid_i8_rows_avx2, 4, )
        else QDOT_T_SWITCH(grid8_i8_rows_avx2, )
    }
}

#define E8PN_CALL(v_, r0_, n_, T_, ...) e8p2n_rows_avx2(v_, nib, r0_, n_, T_, __VA_ARGS__)
static AVX2 void avx2_e8p2n_rows(const rz_qlayer_view *v, const uint8_t *nib, int r0, int n, int T, const float *x,
                                 int ldx, float *y, int ldy)
{
    if (v->bits == 2) QDOT_T_SWITCH(E8PN_CALL, 2, )
    else if (v->bits == 3) QDOT_T_SWITCH(E8PN_CALL, 3, )
    else QDOT_T_SWITCH(E8PN_CALL, 4, )
}
#endif

const char *rz_qdot_grid_i8_name(void)
{
#if QDOT_X86
    if (isa_cap() == CAP_NONE && have_grid_z(2)) return have_grid_z(8) ? "avx512-vnni" : "avx512-vnni (8-bit: avx2-i8)";
#endif
    return rz_qdot_name(rz_qdot_best_i8());
}

const char *rz_qdot_e8p2n_name(void)
{
#if QDOT_X86
    if (isa_cap() == CAP_NONE && have_grid512()) return "avx512-vnni (2-bit: avx2-i8)";
#endif
    return rz_qdot_name(rz_qdot_best_i8());
}

void rz_qdot_rows(const rz_qlayer_view *v, int isa, int r0, int n, int T, const float *x, int ldx, float *y,
                  int ldy)
{
    if (n <= 0 || T <= 0) return;
    int zgrid = 0; /* the AVX-512 VNNI grid kernels in place of the AVX2 ones (the same bits) */
    if (isa == RZ_QDOT_AUTO) isa = rz_qdot_best();
    if (isa == RZ_QDOT_AUTO_I8) {
        isa = rz_qdot_best_i8();
        zgrid = isa_cap() == CAP_NONE;
    }
    if (isa == RZ_QDOT_AVX512_I8) {
#if QDOT_X86
        if (rz_qdot_have(RZ_QDOT_AVX512_I8) && v->method == RZ_QM_E8P && v->bits == 2 && i8_ok(v, T)) {
            avx512_e8p2_rows(v, r0, n, T, x, ldx, y, ldy);
            return;
        }
#endif
        isa = RZ_QDOT_AVX2_I8; /* the other formats: the AVX-512 grid kernels, else the AVX2 int8 ones */
        zgrid = 1;
    }
    if (isa == RZ_QDOT_AVX2_I8 && !rz_qdot_have(RZ_QDOT_AVX2_I8)) isa = RZ_QDOT_REF_I8;
    if (isa == RZ_QDOT_REF_I8 || isa == RZ_QDOT_AVX2_I8) {
        if (!i8_ok(v, T)) isa = isa == RZ_QDOT_AVX2_I8 ? RZ_QDOT_AVX2 : RZ_QDOT_REF; /* the float path */
#if QDOT_X86
        else if (isa == RZ_QDOT_AVX2_I8 && !(v->method == RZ_QM_E8P && v->bits != 2)) {
            /* (e8p 3/4 bits have an AVX2 int8 kernel only over the nibble re-coding,
             * rz_qdot_rows_e8p2n; from the codes they take the reference below) */
            if (zgrid && v->method != RZ_QM_E8P && have_grid_z(v->bits))
                (v->bits == 8 ? avx512_grid8_rows : avx512_grid_rows)(v, r0, n, T, x, ldx, y, ldy);
            else
                avx2_i8_rows(v, r0, n, T, x, ldx, y, ldy);
            return;
        }
#endif
        else {
            ref_i8_rows(v, r0, n, T, x, ldx, y, ldy);
            return;
        }
    }
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

size_t rz_qdot_e8p2n_bytes(const rz_qlayer_view *v)
{
    if (v->method != RZ_QM_E8P || v->bits < 2 || v->bits > 4) return 0;
    return (size_t)v->rows * e8p2n_rowb(v);
}

void rz_qdot_e8p2n_encode(const rz_qlayer_view *v, uint8_t *nib)
{
    const rz_e8p_tables *tb = rz_e8p_tables_get();
    const int bits = v->bits, S = bits == 2 ? 1 : 2, pc = v->pcols, n64 = pc / 64;
    const size_t rowb = e8p2n_rowb(v);
    memset(nib, 0, rz_qdot_e8p2n_bytes(v));
    for (size_t r = 0; r < (size_t)v->rows; r++) {
        const uint8_t *c = (const uint8_t *)v->codes + r * (size_t)pc / 8 * (size_t)bits;
        uint8_t *o = nib + r * rowb;
        for (int b = 0; b < 8 * n64; b++) { /* codeword b: columns 8b .. 8b + 7 */
            int m[2][8];
            e8p_ints(tb, c + (size_t)b * (size_t)bits, bits, m[0], m[1]);
            for (int p = 0; p < S; p++)
                for (int j = 0; j < 8; j++) {
                    int col = 8 * b + j, i = col % 64;
                    /* plane 0 and 4-bit plane 1: (m + 11)/2 ∈ 0..11; 3-bit plane 1: m + 4 ∈ 0..8 */
                    unsigned k = p == 1 && bits == 3 ? (unsigned)(m[p][j] + 4) : (unsigned)(m[p][j] + 11) / 2;
                    o[32 * ((size_t)(col / 64) * (size_t)S + (size_t)p) + (size_t)(i % 32)] |= (uint8_t)(k << (i < 32 ? 0 : 4));
                }
        }
    }
}

void rz_qdot_rows_e8p2n(const rz_qlayer_view *v, const uint8_t *nib, int isa, int r0, int n, int T, const float *x,
                        int ldx, float *y, int ldy)
{
    if (n <= 0 || T <= 0) return;
    if (v->method != RZ_QM_E8P) { /* no nibbles: the codes */
        rz_qdot_rows(v, isa, r0, n, T, x, ldx, y, ldy);
        return;
    }
    /* the AVX-512 VNNI kernel over the nibbles in place of the AVX2 one (the same bits), at
     * 3 and 4 bits: at 2 bits it measured no faster (bench/README, e8p nibbles with VNNI),
     * so there it runs by name only (rz_qdot_rows_e8p2n_z) */
    int z = 0;
    if (isa == RZ_QDOT_AUTO_I8) {
        isa = rz_qdot_best_i8();
        z = isa_cap() == CAP_NONE;
    }
    if (isa == RZ_QDOT_AVX512_I8 && v->bits == 2 && rz_qdot_have(RZ_QDOT_AVX512_I8)) {
        rz_qdot_rows(v, isa, r0, n, T, x, ldx, y, ldy); /* from the codes: half the bytes of the nibbles */
        return;
    }
    if (isa == RZ_QDOT_AVX512_I8) isa = RZ_QDOT_AVX2_I8, z = 1;
#if QDOT_X86
    if (isa == RZ_QDOT_AVX2_I8 && nib && v->method == RZ_QM_E8P && i8_ok(v, T) &&
        rz_qdot_have(RZ_QDOT_AVX2_I8)) {
        if (z && v->bits != 2 && have_grid512()) avx512_e8p2n_rows(v, nib, r0, n, T, x, ldx, y, ldy);
        else avx2_e8p2n_rows(v, nib, r0, n, T, x, ldx, y, ldy);
        return;
    }
#endif
    (void)nib;
    rz_qdot_rows(v, isa, r0, n, T, x, ldx, y, ldy);
}

int rz_qdot_rows_e8p2n_z(const rz_qlayer_view *v, const uint8_t *nib, int r0, int n, int T, const float *x, int ldx,
                         float *y, int ldy)
{
#if QDOT_X86
    if (n > 0 && T > 0 && nib && v->method == RZ_QM_E8P && i8_ok(v, T) && have_grid512()) {
        avx512_e8p2n_rows(v, nib, r0, n, T, x, ldx, y, ldy);
        return 1;
    }
#endif
    rz_qdot_rows_e8p2n(v, nib, RZ_QDOT_AVX2_I8, r0, n, T, x, ldx, y, ldy);
    return 0;
}

size_t rz_qdot_grid3n_bytes(const rz_qlayer_view *v)
{
    if (v->method == RZ_QM_E8P || v->bits != 3) return 0;
    rz_qlayer_view w = *v;
    w.bits = 4;
    if (!i8_ok(&w, 1)) return 0;
    return rz_qlayer_codes_bytes(v->method, 4, v->rows, v->pcols);
}

void rz_qdot_grid3n_encode(const rz_qlayer_view *v, uint8_t *codes4, rz_qlayer_view *v4)
{
    size_t n = (size_t)v->rows * (size_t)v->pcols, nb = rz_qdot_grid3n_bytes(v);
    memset(codes4, 0, nb);
    for (size_t k = 0; k < n; k++) codes4[k / 2] |= (uint8_t)(code_at(v->codes, 3 * k, 3) << (4 * (k % 2)));
    *v4 = *v;
    v4->bits = 4;
    v4->codes = codes4;
    v4->codes_n = nb;
}
