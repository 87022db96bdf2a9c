/* sampler.c — temperature + top-p sampling (see sampler.h for the contract). */
#include <math.h>
#include <stdlib.h>

#include "sampler.h"

static int by_prob_desc(const void *a, const void *b)
{
    float x = ((const rz_prob_id *)a)->p, y = ((const rz_prob_id *)b)->p;
    return (x < y) - (x > y);
}

/* Samples from softmax(logits / temp), restricted to the smallest set of top tokens
 * whose mass reaches top_p. */
int rz_sample_top_p(const float *logits, int V, float temp, float top_p, double u, rz_prob_id *buf)
{
    float mx = logits[0];
    for (int i = 1; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
    double z = 0;
    for (int i = 0; i < V; i++) {
        buf[i].p = expf((logits[i] - mx) / temp);
        buf[i].id = i;
        z += buf[i].p;
    }
    for (int i = 0; i < V; i++) buf[i].p = (float)(buf[i].p / z);
    qsort(buf, (size_t)V, sizeof *buf, by_prob_desc);
    int keep = V;
    if (top_p < 1) {
        double cum = 0;
        for (int i = 0; i < V; i++) {
            cum += buf[i].p;
            if (cum >= top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    double mass = 0;
    for (int i = 0; i < keep; i++) mass += buf[i].p;
    double r = u * mass, cum = 0;
    for (int i = 0; i < keep; i++) {
        cum += buf[i].p;
        if (r < cum) return buf[i].id;
    }
    return buf[keep - 1].id;
}
