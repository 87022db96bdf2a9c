/* sampler.h — the next token from a row of logits: temperature + top-p (nucleus)
 * sampling, as llama2.c's sample_topp does.
 *
 * Contract: p = softmax(logits / temp) (float probabilities, max subtracted first); the
 * tokens sorted by p descending; keep the smallest prefix whose mass reaches top_p
 * (all V when top_p ≥ 1); return the first kept token whose cumulative mass exceeds
 * u · (kept mass) — inverse-CDF sampling of p restricted to the kept set and renormalised.
 * u is the caller's uniform draw in [0, 1), so the RNG (and its seed) stays the caller's
 * and the function is a pure map from u to a token. buf: V entries of workspace. */
#ifndef RZ_SAMPLER_H
#define RZ_SAMPLER_H

typedef struct {
    float p;
    int id;
} rz_prob_id;

int rz_sample_top_p(const float *logits, int V, float temp, float top_p, double u, rz_prob_id *buf);

#endif
