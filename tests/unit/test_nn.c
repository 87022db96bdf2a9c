/* test_nn.c — the MLP core against independent computations: a naive double-precision
 * forward pass, central finite differences for every parameter and input of networks
 * with and without layer norm (relu and tanh), Adam against its closed form, Polyak
 * averaging, and the RNG's moments. */
#include "../check.h"
#include "nn.h"

/* Naive forward in double, straight from the definition, for one row. */
static void naive_forward(const nn_mlp *net, const float *x, double *y_out)
{
    double a[512], b[512];
    int w = net->L[0].in;
    for (int k = 0; k < w; k++) a[k] = x[k];
    for (int l = 0; l < net->n_layers; l++) {
        const nn_layer *L = &net->L[l];
        const float *W = net->param + L->off_W, *bias = net->param + L->off_b;
        for (int o = 0; o < L->out; o++) {
            double s = bias[o];
            for (int i = 0; i < L->in; i++) s += (double)W[(size_t)o * L->in + i] * a[i];
            b[o] = L->scale * s;
        }
        if (L->ln) {
            double mu = 0, var = 0;
            for (int o = 0; o < L->out; o++) mu += b[o];
            mu /= L->out;
            for (int o = 0; o < L->out; o++) var += (b[o] - mu) * (b[o] - mu);
            var /= L->out;
            for (int o = 0; o < L->out; o++)
                b[o] = net->param[L->off_g + o] * (b[o] - mu) / sqrt(var + 1e-5) +
                       net->param[L->off_beta + o];
        }
        for (int o = 0; o < L->out; o++) {
            if (L->act == NN_ACT_RELU) b[o] = b[o] > 0 ? b[o] : 0;
            if (L->act == NN_ACT_TANH) b[o] = tanh(b[o]);
            a[o] = b[o];
        }
        w = L->out;
    }
    for (int k = 0; k < w; k++) y_out[k] = a[k];
}

static nn_spec make_spec(int in, int h, int out, int ln, nn_act act)
{
    nn_spec s = {0};
    s.n_layers = 3;
    s.sizes[0] = in;
    s.sizes[1] = h;
    s.sizes[2] = h;
    s.sizes[3] = out;
    s.ln[0] = ln;
    s.ln[1] = ln;
    s.act[0] = NN_ACT_TANH;
    s.act[1] = act;
    s.act[2] = NN_ACT_NONE;
    return s;
}

static void test_forward_matches_naive(void)
{
    rz_rng rng;
    rz_rng_seed(&rng, 1);
    nn_spec s = make_spec(7, 16, 5, 1, NN_ACT_RELU);
    s.scale[2] = 2.5f;
    nn_mlp net;
    nn_tape t;
    CHECK(nn_init(&net, &s, &rng, NULL) == 0);
    /* Non-trivial LN gains/biases so they matter. */
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < 16; k++) {
            net.param[net.L[l].off_g + k] = (float)(0.5 + rz_rng_uniform(&rng));
            net.param[net.L[l].off_beta + k] = (float)(rz_rng_uniform(&rng) - 0.5);
        }
    CHECK(nn_tape_init(&t, &net, 9, NULL) == 0);
    float X[9 * 7];
    for (int i = 0; i < 9 * 7; i++) X[i] = (float)(2 * rz_rng_uniform(&rng) - 1);
    const float *Y = nn_forward(&net, &t, X, 9);
    double worst = 0;
    for (int r = 0; r < 9; r++) {
        double ref[5];
        naive_forward(&net, X + r * 7, ref);
        for (int k = 0; k < 5; k++) worst = fmax(worst, fabs(ref[k] - Y[r * 5 + k]));
    }
    /* float32 accumulation over ≤ 16 terms of O(1) values: error ≲ 16·2⁻²⁴·O(1) per layer,
     * LN divides by σ ~ O(0.3): 1e-5 leaves a wide margin. */
    CHECK_NEAR(worst, 0, 1e-5);
    nn_tape_free(&t);
    nn_free(&net);
}

/* Loss = Σ_rk C_rk · Y_rk, evaluated in double. */
static double probe_loss(const nn_mlp *net, nn_tape *t, const float *X, int n, const float *C,
                         int out)
{
    const float *Y = nn_forward(net, t, X, n);
    double s = 0;
    for (int i = 0; i < n * out; i++) s += (double)C[i] * Y[i];
    return s;
}

static void gradcheck(int ln, nn_act act, uint64_t seed)
{
    enum { N = 4, IN = 5, H = 6, OUT = 3 };
    rz_rng rng;
    rz_rng_seed(&rng, seed);
    nn_spec s = make_spec(IN, H, OUT, ln, act);
    s.scale[2] = ln ? 1.0f : 3.0f; /* the plain network also checks a fixed output scale */
    nn_mlp net;
    nn_tape t;
    CHECK(nn_init(&net, &s, &rng, NULL) == 0);
    if (ln)
        for (int l = 0; l < 2; l++)
            for (int k = 0; k < H; k++) {
                net.param[net.L[l].off_g + k] = (float)(0.5 + rz_rng_uniform(&rng));
                net.param[net.L[l].off_beta + k] = (float)(0.4 * rz_rng_uniform(&rng) - 0.2);
            }
    CHECK(nn_tape_init(&t, &net, N, NULL) == 0);
    float X[N * IN], C[N * OUT], dX[N * IN];
    for (int i = 0; i < N * IN; i++) X[i] = (float)(2 * rz_rng_uniform(&rng) - 1);
    for (int i = 0; i < N * OUT; i++) C[i] = (float)(2 * rz_rng_uniform(&rng) - 1);
    nn_zero_grad(&net);
    nn_forward(&net, &t, X, N);
    nn_backward(&net, &t, C, dX);
    /* Central differences, step 1e-2: the float32 rounding of the loss (≈1e-6 over 12
     * O(1) terms) contributes ≈1e-6/2e-2 = 5e-5, the truncation error is ≈ h²/6·|f'''|
     * ≈ 2e-5·O(1); tolerance 2e-3·(1+|g|) is 10× above both. A relu kink crossed inside
     * ±h would show as a large error; the fixed seeds below do not cross one. */
    const float h = 1e-2f;
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < net.n_params; i++) {
        float keep = net.param[i];
        net.param[i] = keep + h;
        double lp = probe_loss(&net, &t, X, N, C, OUT);
        net.param[i] = keep - h;
        double lm = probe_loss(&net, &t, X, N, C, OUT);
        net.param[i] = keep;
        double fd = (lp - lm) / (2 * h), err = fabs(fd - net.grad[i]) / (1 + fabs(fd));
        if (err > worst) worst = err;
        if (err > 2e-3) bad++;
    }
    for (int i = 0; i < N * IN; i++) {
        float keep = X[i];
        X[i] = keep + h;
        double lp = probe_loss(&net, &t, X, N, C, OUT);
        X[i] = keep - h;
        double lm = probe_loss(&net, &t, X, N, C, OUT);
        X[i] = keep;
        double fd = (lp - lm) / (2 * h), err = fabs(fd - dX[i]) / (1 + fabs(fd));
        if (err > worst) worst = err;
        if (err > 2e-3) bad++;
    }
    if (bad) printf("#   ln=%d act=%d: %d of %zu gradients off, worst rel err %.3g\n", ln, act,
                    bad, net.n_params + N * IN, worst);
    CHECK_EQ_INT(bad, 0);
    nn_tape_free(&t);
    nn_free(&net);
}

static void test_gradcheck_ln_relu(void) { gradcheck(1, NN_ACT_RELU, 11); }
static void test_gradcheck_ln_tanh(void) { gradcheck(1, NN_ACT_TANH, 12); }
static void test_gradcheck_plain_relu(void) { gradcheck(0, NN_ACT_RELU, 13); }

/* Gradients accumulate across backward calls: two identical passes give twice one. */
static void test_grad_accumulates(void)
{
    rz_rng rng;
    rz_rng_seed(&rng, 5);
    nn_spec s = make_spec(3, 4, 2, 1, NN_ACT_RELU);
    nn_mlp net;
    nn_tape t;
    CHECK(nn_init(&net, &s, &rng, NULL) == 0);
    CHECK(nn_tape_init(&t, &net, 2, NULL) == 0);
    float X[6] = {0.1f, -0.4f, 0.9f, 0.3f, 0.2f, -0.7f}, dY[4] = {1, -2, 0.5f, 0.25f};
    nn_zero_grad(&net);
    nn_forward(&net, &t, X, 2);
    nn_backward(&net, &t, dY, NULL);
    float *once = malloc(net.n_params * sizeof(float));
    memcpy(once, net.grad, net.n_params * sizeof(float));
    nn_forward(&net, &t, X, 2);
    nn_backward(&net, &t, dY, NULL);
    double worst = 0;
    for (size_t i = 0; i < net.n_params; i++) worst = fmax(worst, fabs(net.grad[i] - 2 * once[i]));
    CHECK_NEAR(worst, 0, 1e-6); /* x + x is exact in float; margin for sgemm beta=1 order */
    free(once);
    nn_tape_free(&t);
    nn_free(&net);
}

/* Adam's first two steps by hand: m1 = (1−β1)g1, v1 = (1−β2)g1², m̂1 = g1, v̂1 = g1² so
 * θ1 = θ0 − lr·g1/(|g1|+eps); then m2 = β1 m1 + (1−β1) g2, v2 likewise,
 * θ2 = θ1 − lr·(m2/(1−β1²)) / (√(v2/(1−β2²)) + eps). */
static void test_adam_closed_form(void)
{
    nn_adam a;
    CHECK(nn_adam_init(&a, 2, 0.01f, NULL) == 0);
    float p[2] = {1.0f, -2.0f}, g1[2] = {0.5f, -3.0f}, g2[2] = {-1.0f, 2.0f};
    nn_adam_step(&a, p, g1);
    CHECK_NEAR(p[0], 1.0 - 0.01 * 0.5 / (0.5 + 1e-8), 1e-6);
    CHECK_NEAR(p[1], -2.0 + 0.01, 1e-6);
    nn_adam_step(&a, p, g2);
    for (int i = 0; i < 2; i++) {
        double m = 0.9 * 0.1 * g1[i] + 0.1 * g2[i];
        double v = 0.999 * 0.001 * g1[i] * g1[i] + 0.001 * g2[i] * g2[i];
        double th1 = (i == 0 ? 1.0 : -2.0) - 0.01 * g1[i] / (fabs(g1[i]) + 1e-8);
        double th2 = th1 - 0.01 * (m / (1 - 0.81)) / (sqrt(v / (1 - 0.999 * 0.999)) + 1e-8);
        CHECK_NEAR(p[i], th2, 1e-6); /* float parameters of size ~2: ulp 2.4e-7 */
    }
    CHECK_EQ_INT(a.t, 2);
    nn_adam_free(&a);
}

static void test_soft_update(void)
{
    rz_rng rng;
    rz_rng_seed(&rng, 9);
    nn_spec s = make_spec(2, 3, 1, 0, NN_ACT_RELU);
    nn_mlp a, b;
    CHECK(nn_init(&a, &s, &rng, NULL) == 0);
    CHECK(nn_init(&b, &s, &rng, NULL) == 0);
    float b0 = b.param[0], a0 = a.param[0];
    nn_soft_update(&b, &a, 0.25f);
    CHECK_NEAR(b.param[0], 0.75 * b0 + 0.25 * a0, 1e-7);
    nn_copy_params(&b, &a);
    CHECK(memcmp(a.param, b.param, a.n_params * sizeof(float)) == 0);
    nn_free(&a);
    nn_free(&b);
}

/* Moments of 200k samples: the standard error of a mean of unit-variance draws is
 * 1/√200000 = 0.0022, of a variance ≈ √2/√200000 = 0.0032; tolerances are 5σ. */
static void test_rng_moments(void)
{
    rz_rng r;
    rz_rng_seed(&r, 42);
    const int n = 200000;
    double s = 0, s2 = 0, u = 0;
    long cnt[5] = {0};
    for (int i = 0; i < n; i++) {
        double x = rz_rng_normal(&r);
        s += x;
        s2 += x * x;
        u += rz_rng_uniform(&r);
        cnt[rz_rng_int(&r, 5)]++;
    }
    CHECK_NEAR(s / n, 0, 0.011);
    CHECK_NEAR(s2 / n, 1, 0.016);
    CHECK_NEAR(u / n, 0.5, 5 * 0.2887 / sqrt(n));
    for (int k = 0; k < 5; k++) CHECK_NEAR(cnt[k] / (double)n, 0.2, 5 * 0.4 / sqrt(n));
    rz_rng a, b;
    rz_rng_seed(&a, 7);
    rz_rng_seed(&b, 7);
    CHECK(rz_rng_u64(&a) == rz_rng_u64(&b));
}

static void test_project_sphere(void)
{
    float v[3] = {3, 4, 0};
    nn_project_sphere(v, 3, 10);
    CHECK_NEAR(v[0], 6, 1e-5);
    CHECK_NEAR(v[1], 8, 1e-5);
}

/* nn_mlp_flops on 7 → 16 → 16 → 5, by hand: weights 7·16 + 16·16 + 16·5 = 448, so a
 * forward on 10 rows is 2·10·448 = 8960; backward adds 8960 for dW and 2·10·(256 + 80)
 * = 6720 for dX of the two layers after the first. */
static void test_mlp_flops(void)
{
    rz_rng rng;
    rz_rng_seed(&rng, 3);
    nn_spec s = make_spec(7, 16, 5, 1, NN_ACT_RELU);
    nn_mlp net;
    CHECK(nn_init(&net, &s, &rng, NULL) == 0);
    CHECK(nn_mlp_flops(&net, 10, 0) == 8960.0);
    CHECK(nn_mlp_flops(&net, 10, 1) == 8960.0 + 8960.0 + 6720.0);
    nn_free(&net);
}

int main(void)
{
    RUN(test_forward_matches_naive);
    RUN(test_mlp_flops);
    RUN(test_gradcheck_ln_relu);
    RUN(test_gradcheck_ln_tanh);
    RUN(test_gradcheck_plain_relu);
    RUN(test_grad_accumulates);
    RUN(test_adam_closed_form);
    RUN(test_soft_update);
    RUN(test_rng_moments);
    RUN(test_project_sphere);
    return check_summary();
}
