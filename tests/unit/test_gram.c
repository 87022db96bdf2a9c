/* test_gram.c — calib.h's Gram matrix (rz_gram_add + rz_gram_finish, the dsyrk path that
 * calibration and rz-finetune's data Hessians share) against the definition
 * H_ij = Σ_r x_ri x_rj / N summed here in long double, over two calls of rows (the
 * accumulation calibration does) with a row stride wider than the row.
 * Tolerance: every product of two floats is exact in double; N = 96 additions round
 * at most N·2^-53 of Σ|x_ri x_rj| each, so 1e-13 relative to that sum is safe. */
#include "../check.h"
#include "calib.h"

static void test_gram_definition(void)
{
    enum { N1 = 40, N2 = 56, N = N1 + N2, n = 13, ld = 17 };
    static float X[N * ld];
    static double S[n * n], tmp[N * n];
    for (int k = 0; k < N * ld; k++) X[k] = (float)(check_gauss() * (1 + k % 5));
    rz_gram_add(S, X, N1, n, ld, tmp);
    rz_gram_add(S, X + (size_t)N1 * ld, N2, n, ld, tmp);
    rz_gram_finish(S, n, N);
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            long double s = 0, a = 0;
            for (int r = 0; r < N; r++) {
                long double p = (long double)X[r * ld + i] * X[r * ld + j];
                s += p;
                a += fabsl(p);
            }
            double err = fabs((double)(s / N) - S[i * n + j]) / (double)(a / N);
            if (err > worst) worst = err;
        }
    CHECK_NEAR(worst, 0, 1e-13);
}

int main(void)
{
    RUN(test_gram_definition);
    return check_summary();
}
