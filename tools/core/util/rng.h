/* rng.h — rizz's random numbers: one module for every stream the library draws.
 *
 * Two generators, both fixed forever (checkpoints, packed models and datasets depend on
 * their exact bits):
 *   - splitmix64 (Steele, Lea & Flood 2014): state += 0x9e3779b97f4a7c15, output =
 *     rz_mix64(state). rz_mix64 is its finaliser (Stafford's variant 13), a bijection
 *     of 64-bit words, used alone as a counter-based generator (output k of key s =
 *     rz_mix64(s ^ rz_mix64(k)): any element drawn directly, so results do not depend on
 *     the order or the threads that draw them).
 *   - rz_rng, xoshiro256** (Blackman & Vigna 2018) seeded by four splitmix64 outputs: a
 *     32-byte state that RL checkpoints save, so training resumes bit-exactly.
 */
#ifndef RZ_RNG_H
#define RZ_RNG_H

#include <stdint.h>

#define RZ_SPLITMIX_GAMMA 0x9e3779b97f4a7c15ULL /* 2^64 / golden ratio, odd */

/* splitmix64's finaliser: a bijective mix of x. */
static inline uint64_t rz_mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The next splitmix64 output of the stream *state (advances it). */
static inline uint64_t rz_splitmix64(uint64_t *state)
{
    *state += RZ_SPLITMIX_GAMMA;
    return rz_mix64(*state);
}

/* splitmix64's output for state x without keeping the state: rz_mix64(x + gamma). */
static inline uint64_t rz_splitmix64_at(uint64_t x) { return rz_mix64(x + RZ_SPLITMIX_GAMMA); }

typedef struct {
    uint64_t s[4];
} rz_rng;

void rz_rng_seed(rz_rng *r, uint64_t seed); /* four splitmix64 outputs of seed */
uint64_t rz_rng_u64(rz_rng *r);
double rz_rng_uniform(rz_rng *r);            /* [0, 1) with 53 random bits */
double rz_rng_normal(rz_rng *r);             /* N(0,1), Box–Muller (no cached value) */
int rz_rng_int(rz_rng *r, int n);            /* uniform in [0, n), n >= 1 */

#endif
