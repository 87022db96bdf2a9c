/* test_rng.c — util/rng.h against published values and the definitions, written out
 * differently here:
 *   - splitmix64 from seed 0: the first outputs of Vigna's reference splitmix64.c
 *     (0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f);
 *   - rz_mix64 is a bijection: its steps are undone here with modular inverses of the
 *     two odd multipliers and the xor-shift inverses, over many words;
 *   - xoshiro256** one step at a time from the paper's state update written on four
 *     named words, and rz_rng_seed = four splitmix64 outputs;
 *   - rz_rng_int's multiply-shift and rz_rng_uniform's 53-bit scaling from the raw
 *     64-bit output.
 * Exact equality throughout: these are integer identities. */
#include "../check.h"
#include "rng.h"

static void test_splitmix_reference(void)
{
    uint64_t s = 0;
    CHECK(rz_splitmix64(&s) == 0xe220a8397b1dcdafULL);
    CHECK(rz_splitmix64(&s) == 0x6e789e6aa1b965f4ULL);
    CHECK(rz_splitmix64(&s) == 0x06c45d188009454fULL);
    CHECK(s == 3 * RZ_SPLITMIX_GAMMA);
    CHECK(rz_splitmix64_at(41) == rz_mix64(41 + 0x9e3779b97f4a7c15ULL));
}

static uint64_t inv_odd(uint64_t a) /* a^-1 mod 2^64 by Newton: x ← x(2 − a x) */
{
    uint64_t x = a;
    for (int i = 0; i < 6; i++) x *= 2 - a * x;
    return x;
}

static uint64_t unxorshift(uint64_t y, int k) /* inverse of y = x ^ (x >> k) */
{
    uint64_t x = y;
    for (int i = 0; i < 64 / k + 1; i++) x = y ^ (x >> k);
    return x;
}

static void test_mix64_bijection(void)
{
    uint64_t i1 = inv_odd(0xbf58476d1ce4e5b9ULL), i2 = inv_odd(0x94d049bb133111ebULL), s = 7;
    int bad = 0;
    for (int n = 0; n < 100000; n++) {
        uint64_t x = rz_splitmix64(&s) ^ (uint64_t)n;
        uint64_t y = rz_mix64(x);
        uint64_t back = unxorshift(unxorshift(unxorshift(y, 31) * i2, 27) * i1, 30);
        bad += back != x;
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_xoshiro_steps(void)
{
    rz_rng r;
    rz_rng_seed(&r, 12345);
    uint64_t s = 12345, a = rz_splitmix64(&s), b = rz_splitmix64(&s), c = rz_splitmix64(&s), d = rz_splitmix64(&s);
    CHECK(r.s[0] == a && r.s[1] == b && r.s[2] == c && r.s[3] == d);
    int bad = 0;
    for (int n = 0; n < 1000; n++) {
        uint64_t m = b * 5, want = ((m << 7) | (m >> 57)) * 9, t = b << 17;
        c ^= a, d ^= b, b ^= c, a ^= d, c ^= t, d = (d << 45) | (d >> 19);
        bad += rz_rng_u64(&r) != want;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(r.s[0] == a && r.s[1] == b && r.s[2] == c && r.s[3] == d);
}

static void test_int_uniform(void)
{
    rz_rng r, q;
    rz_rng_seed(&r, 99);
    q = r;
    int bad = 0;
    for (int n = 1; n < 2000; n++) {
        uint64_t raw = rz_rng_u64(&q);
        bad += rz_rng_int(&r, n) != (int)((double)(raw >> 32) * n / 4294967296.0);
        raw = rz_rng_u64(&q);
        bad += rz_rng_uniform(&r) != ldexp((double)(raw >> 11), -53);
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    RUN(test_splitmix_reference);
    RUN(test_mix64_bijection);
    RUN(test_xoshiro_steps);
    RUN(test_int_uniform);
    return check_summary();
}
