/* rng.c — xoshiro256** (see rng.h). */
#include "rng.h"

#include <math.h>

void rz_rng_seed(rz_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = rz_splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rz_rng_u64(rz_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double rz_rng_uniform(rz_rng *r) { return (double)(rz_rng_u64(r) >> 11) * 0x1.0p-53; }

double rz_rng_normal(rz_rng *r)
{
    double u1 = rz_rng_uniform(r), u2 = rz_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int rz_rng_int(rz_rng *r, int n)
{
    /* Multiply-shift: bias below 2^-32 for the n (< 2^31) used here. */
    return (int)(((rz_rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}
