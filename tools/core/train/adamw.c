/* adamw.c — AdamW with warmup + cosine/linear schedule and global-norm clipping (see
 * adamw.h for the update, written out). */
#include "adamw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rz_adamw_defaults(rz_adamw_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lr = 1e-3;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->clip = 1.0;
    o->total = 1;
    o->schedule = RZ_SCHED_COSINE;
}

const char *const rz_adamw_schedule_names[] = {"cosine", "linear", "constant", NULL}; /* RZ_SCHED_* order */

int rz_adamw_schedule_parse(const char *s)
{
    for (int i = 0; rz_adamw_schedule_names[i]; i++)
        if (!strcmp(s, rz_adamw_schedule_names[i])) return i;
    return -1;
}

const char *rz_adamw_schedule_name(int s)
{
    return s >= RZ_SCHED_COSINE && s <= RZ_SCHED_CONSTANT ? rz_adamw_schedule_names[s] : "?";
}

int rz_adamw_init(rz_adamw *a, size_t n, rz_err *e)
{
    a->n = n;
    a->step = 0;
    a->m = rz_calloc(n + 1, sizeof(float), e);
    a->v = rz_calloc(n + 1, sizeof(float), e);
    if (!a->m || !a->v) {
        rz_adamw_free(a);
        return RZ_EINTERNAL;
    }
    return 0;
}

void rz_adamw_free(rz_adamw *a)
{
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
}

double rz_adamw_lr(const rz_adamw_opts *o, long s)
{
    if (s < o->warmup) return o->lr * (double)(s + 1) / (double)o->warmup;
    if (o->schedule == RZ_SCHED_CONSTANT || o->total <= o->warmup) return o->lr;
    double d = (double)(s - o->warmup) / (double)(o->total - o->warmup);
    if (d > 1) d = 1;
    if (o->schedule == RZ_SCHED_LINEAR) return o->lr - (o->lr - o->min_lr) * d;
    return o->min_lr + (o->lr - o->min_lr) * 0.5 * (1.0 + cos(M_PI * d));
}

double rz_grad_norm(const float *g, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return sqrt(s);
}

double rz_adamw_step(rz_adamw *a, const rz_adamw_opts *o, float *p, float *g, double *lr_out)
{
    size_t n = a->n;
    double norm = rz_grad_norm(g, n);
    if (o->clip > 0 && norm > o->clip) {
        float c = (float)(o->clip / norm);
#pragma omp parallel for schedule(static) if (n >= 65536)
        for (size_t i = 0; i < n; i++) g[i] *= c;
    }
    double lr = rz_adamw_lr(o, a->step);
    a->step++;
    double t = (double)a->step;
    float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
    float decay = (float)(1.0 - lr * o->weight_decay);
    float c1 = (float)(1.0 / (1.0 - pow(o->beta1, t))), c2 = (float)(1.0 / (1.0 - pow(o->beta2, t)));
    float flr = (float)lr;
    float *m = a->m, *v = a->v;
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        float mhat = m[i] * c1, vhat = v[i] * c2;
        p[i] = p[i] * decay - flr * mhat / (sqrtf(vhat) + eps);
    }
    if (lr_out) *lr_out = lr;
    return norm;
}
