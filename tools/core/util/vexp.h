/* vexp.h — e^x in float that gcc vectorises (libm's expf is not, without -ffast-math).
 *
 * Range reduction x = n ln2 + r, |r| <= ln2/2, with ln2 in two pieces so n * LN2_HI is
 * exact for the n that occur; e^r by its degree-6 Taylor polynomial (truncation < 2e-7
 * relative at |r| = 0.347; about one ulp in all); 2^n put into the exponent bits. x is
 * clamped to [-87, 88], so n + 127 stays in [1, 254]: e^-87 ~ 1.6e-38 then stands for
 * anything smaller, which in a softmax or a sigmoid is indistinguishable from 0 next to
 * the terms that matter (NaN is clamped too). Inline and branch-free so that loops
 * calling it vectorise (and without -ffast-math: fp-contract stays off, so a vector
 * lane computes the scalar's bits); the
 * same operations in the same order wherever it is used, so every caller gets the same
 * bits for the same x.
 */
#ifndef RZ_VEXP_H
#define RZ_VEXP_H

#include <stdint.h>
#include <string.h>

static inline float rz_expf(float x)
{
    const float LOG2E = 1.44269504088896341f, LN2_HI = 0.693145751953125f, LN2_LO = 1.42860682030941723e-6f;
    /* the clamp on the bits, as integer masks: gcc if-converts float selects only without
     * -ftrapping-math, but integer ones always, so loops calling this vectorise. Same
     * result as x < -87 ? -87 : x > 88 ? 88 : x for every x but NaN, which becomes -87
     * (sign bit set) or 88 (the float form kept NaN). Negative floats order backwards
     * as unsigned bits: x < -87 ⇔ bits > bits(-87). */
    int32_t i;
    memcpy(&i, &x, sizeof i);
    int32_t lo = -(int32_t)((uint32_t)i > 0xC2AE0000u), hi = -(int32_t)(i > 0x42B00000); /* -87.0f, 88.0f */
    i = (i & ~lo) | ((int32_t)0xC2AE0000u & lo);
    i = (i & ~hi) | (0x42B00000 & hi);
    memcpy(&x, &i, sizeof x);
    float n = x * LOG2E;
    n = (n + 12582912.0f) - 12582912.0f; /* round to nearest integer: 1.5 * 2^23 trick */
    float r = (x - n * LN2_HI) - n * LN2_LO;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    int32_t bits = ((int32_t)n + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return p * two_n;
}

#endif
