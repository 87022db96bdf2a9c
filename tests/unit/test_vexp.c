/* test_vexp.c — util/vexp.h's rz_expf against libm's exp in double, and its promises:
 *   - relative error over the whole unclamped range [-87, 88] (a grid of 2^21 points
 *     plus the integers, where n switches): the degree-6 Taylor polynomial truncates at
 *     < 2e-7 relative for |r| <= ln2/2 (r^7/7! at 0.347), and the float operations add a
 *     few roundings of 2^-24 ≈ 6e-8 each (r, four polynomial steps that matter, the
 *     final product), so 5e-7 bounds it; the maximum seen is printed;
 *   - the clamp: anything below -87 (down to -inf) gives exactly e^-87's value, anything
 *     above 88 e^88's, and the floats next to the bounds on the inside are not clamped
 *     (their values differ: one ulp of 87 is 7.6e-6, far above float resolution of e^x);
 *   - a loop gcc vectorises computes the same bits as the scalar function (called
 *     through a volatile pointer, so never inlined into a vector loop). */
#include "../check.h"
#include "vexp.h"

__attribute__((noinline)) static float scalar_expf(float x) { return rz_expf(x); }
static float (*volatile scalar)(float) = scalar_expf;

static void test_accuracy(void)
{
    double worst = 0, at = 0;
    int n = 1 << 21;
    for (int k = 0; k <= n + 175; k++) {
        float x = k <= n ? -87.0f + 175.0f * (float)k / (float)n : (float)(k - n - 87);
        double rel = fabs((double)rz_expf(x) / exp((double)x) - 1.0);
        if (rel > worst) worst = rel, at = x;
    }
    printf("#   worst relative error %.3g at x = %.6g\n", worst, at);
    CHECK(worst < 5e-7);
}

static void test_clamp(void)
{
    float lo = rz_expf(-87.0f), hi = rz_expf(88.0f);
    float below[] = {nextafterf(-87.0f, -INFINITY), -88.0f, -1000.0f, -3.0e38f, -INFINITY};
    float above[] = {nextafterf(88.0f, INFINITY), 89.0f, 1000.0f, 3.0e38f, INFINITY};
    for (int i = 0; i < 5; i++) {
        CHECK(rz_expf(below[i]) == lo);
        CHECK(rz_expf(above[i]) == hi);
    }
    CHECK(rz_expf(nextafterf(-87.0f, 0.0f)) != lo);
    CHECK(rz_expf(nextafterf(88.0f, 0.0f)) != hi);
    CHECK(isfinite(hi) && lo > 0);
    CHECK(rz_expf(0.0f) == 1.0f && rz_expf(-0.0f) == 1.0f);
}

static void test_vector_equals_scalar(void)
{
    enum { N = 4099 }; /* not a multiple of 8: the vector body and its scalar tail */
    static float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = -100.0f + 200.0f * (float)i / N;
    for (int i = 0; i < N; i++) y[i] = rz_expf(x[i]) * 0.5f;
    int bad = 0;
    for (int i = 0; i < N; i++) {
        float s = scalar(x[i]) * 0.5f;
        bad += memcmp(&s, &y[i], sizeof s) != 0;
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    RUN(test_accuracy);
    RUN(test_clamp);
    RUN(test_vector_equals_scalar);
    return check_summary();
}
