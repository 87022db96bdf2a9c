/* test_sampler.c — rz_sample_top_p (tools/core/lm/sampler.c) against a float64 statement
 * of the distribution it must sample, written here: p = softmax(logits / temp); with
 * top-p, the smallest set of most probable tokens whose mass reaches top_p, renormalised.
 *
 * The draws u come from check.h's fixed splitmix64 stream, so every run sees the same
 * counts; the chi-square bound is still chosen as if the draws were fresh (false alarm
 * about 1e-6), so a different stream would pass too. */
#include "../check.h"
#include "sampler.h"

enum { V = 8, N = 40000 };
/* well-separated logits: no cumulative mass lies near the top-p cut used below */
static const float logits[V] = {2.0f, 1.5f, 1.0f, 0.6f, 0.0f, -0.5f, -1.2f, -3.0f};

/* Upper 1e-6 quantile of chi-square with k degrees of freedom, Wilson–Hilferty:
 * k (1 − 2/(9k) + z √(2/(9k)))³ with z = 4.753 (the standard normal's 1e-6 tail);
 * accurate to a few percent for k ≥ 3, which is ample for a bound. */
static double chi2_bound(int k)
{
    double a = 2.0 / (9.0 * k);
    return k * pow(1 - a + 4.753 * sqrt(a), 3);
}

/* Expected probabilities in float64: softmax(l/temp), then the top-p restriction. */
static void expected(double temp, double top_p, double *p)
{
    double mx = logits[0], z = 0;
    for (int i = 1; i < V; i++) mx = fmax(mx, logits[i]);
    for (int i = 0; i < V; i++) z += p[i] = exp((logits[i] - mx) / temp);
    for (int i = 0; i < V; i++) p[i] /= z;
    if (top_p >= 1) return;
    /* logits are sorted descending here, so token order = probability order */
    double cum = 0, kept = 0;
    int keep = V;
    for (int i = 0; i < V; i++) {
        cum += p[i];
        if (cum >= top_p) { keep = i + 1; break; }
    }
    for (int i = 0; i < keep; i++) kept += p[i];
    for (int i = 0; i < V; i++) p[i] = i < keep ? p[i] / kept : 0;
}

/* Pearson's statistic of N draws against p; categories with p = 0 must never occur. */
static void check_frequencies(float temp, float top_p)
{
    rz_prob_id buf[V];
    long count[V] = {0};
    double p[V], x2 = 0;
    expected(temp, top_p, p);
    for (int t = 0; t < N; t++) {
        int id = rz_sample_top_p(logits, V, temp, top_p, check_urand(), buf);
        CHECK(id >= 0 && id < V);
        if (id >= 0 && id < V) count[id]++;
    }
    int cats = 0;
    for (int i = 0; i < V; i++) {
        if (p[i] == 0) {
            CHECK_EQ_INT(count[i], 0); /* cut off by top-p */
            continue;
        }
        CHECK(N * p[i] >= 5); /* the chi-square approximation's usual condition */
        x2 += (count[i] - N * p[i]) * (count[i] - N * p[i]) / (N * p[i]);
        cats++;
    }
    printf("#   temp %.2f top-p %.2f: %d categories, chi-square %.2f (bound %.2f)\n", temp, top_p, cats, x2,
           chi2_bound(cats - 1));
    CHECK(x2 < chi2_bound(cats - 1));
}

static void test_softmax_frequencies(void) { check_frequencies(1.0f, 1.0f); }
static void test_temperature_frequencies(void) { check_frequencies(0.7f, 1.0f); }
/* at temp 1 the masses are .402 .244 .148 .099 .054 .033 .016 .003: the cumulative mass
 * is .794 after three tokens and .893 after four, so top-p 0.85 keeps four, far from
 * either edge (float rounding moves these by ~1e-7) */
static void test_top_p_frequencies(void) { check_frequencies(1.0f, 0.85f); }

/* A tiny top-p keeps only the most probable token: greedy for any u. */
static void test_tiny_top_p_is_greedy(void)
{
    enum { W = 512 };
    float l[W];
    rz_prob_id buf[W];
    for (int row = 0; row < 200; row++) {
        int best = 0;
        for (int i = 0; i < W; i++) {
            l[i] = (float)(3 * check_gauss());
            if (l[i] > l[best]) best = i;
        }
        for (int k = 0; k < 5; k++) CHECK_EQ_INT(rz_sample_top_p(l, W, 1.0f, 0.001f, check_urand(), buf), best);
    }
}

/* Inverse CDF at the ends: u = 0 gives the most probable token, u just below 1 the least
 * probable kept one (top-p 0.85 keeps four tokens, see above). */
static void test_inverse_cdf_ends(void)
{
    rz_prob_id buf[V];
    CHECK_EQ_INT(rz_sample_top_p(logits, V, 1.0f, 1.0f, 0.0, buf), 0);
    CHECK_EQ_INT(rz_sample_top_p(logits, V, 1.0f, 1.0f, 0.999999, buf), V - 1);
    CHECK_EQ_INT(rz_sample_top_p(logits, V, 1.0f, 0.85f, 0.999999, buf), 3);
}

int main(void)
{
    check_rng_state = 20261206;
    RUN(test_softmax_frequencies);
    RUN(test_temperature_frequencies);
    RUN(test_top_p_frequencies);
    RUN(test_tiny_top_p_is_greedy);
    RUN(test_inverse_cdf_ends);
    return check_summary();
}
