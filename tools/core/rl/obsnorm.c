/* obsnorm.c — running observation normalisation (see obsnorm.h). */
#include "obsnorm.h"

#include <math.h>
#include <stddef.h>

void rl_obsnorm_init(float *st, int n)
{
    for (int j = 0; j < n; j++) st[j] = 0, st[n + j] = 1;
}

void rl_obsnorm_update(float *st, int n, int m, const float *X, double momentum)
{
    if (m < 2) return; /* BatchNorm refuses a batch of one: no variance */
    for (int j = 0; j < n; j++) {
        double s = 0;
        for (int i = 0; i < m; i++) s += X[(size_t)i * n + j];
        double mu = s / m, ss = 0;
        for (int i = 0; i < m; i++) {
            double d = X[(size_t)i * n + j] - mu;
            ss += d * d;
        }
        st[j] = (float)((1 - momentum) * st[j] + momentum * mu);
        st[n + j] = (float)((1 - momentum) * st[n + j] + momentum * (ss / (m - 1)));
    }
}

void rl_obsnorm_apply(const float *st, int n, int m, const float *X, float *Y)
{
    for (int j = 0; j < n; j++) {
        float mu = st[j], inv = (float)(1 / sqrt((double)st[n + j] + RL_OBSNORM_EPS));
        for (int i = 0; i < m; i++) Y[(size_t)i * n + j] = (X[(size_t)i * n + j] - mu) * inv;
    }
}

int rl_obsnorm_check(const float *st, int n)
{
    for (int j = 0; j < 2 * n; j++)
        if (!isfinite(st[j]) || (j >= n && st[j] < 0)) return j;
    return -1;
}
