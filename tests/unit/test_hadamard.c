/* test_hadamard.c — the random Hadamard transform against its dense matrix.
 *
 * The dense U is built here entry by entry from the definition,
 * U[i·m+j][i'·m+j'] = (−1)^popcount(i&i') / √p · Q[j][j'] · s[i'·m+j'],
 * using only the parameters (p, m, s, Q) of the rz_rht; then U is checked orthogonal
 * (which also checks Q), the fast row and column transforms are compared with dense
 * products, and the inverses with Uᵀ and with undoing. Sizes: 64 (pure Hadamard),
 * 172 = 4·43 (stories260K), 768 = 256·3 (stories110M), 11008 = 256·43 (Llama-7B MLP;
 * fast path against a few dense rows of U only).
 */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "rht.h"
#include "linalg.h"
#include "rng.h"

/* Row r of U from the definition, in double. */
static void dense_row(const rz_rht *t, int r, double *row)
{
    int i = r / t->m, j = r % t->m;
    double c = 1.0 / sqrt((double)t->p);
    for (int i2 = 0; i2 < t->p; i2++)
        for (int j2 = 0; j2 < t->m; j2++) {
            double h = (__builtin_popcount((unsigned)(i & i2)) & 1) ? -c : c;
            double q = t->m == 1 ? 1.0 : t->Qd[(long)j * t->m + j2];
            row[(long)i2 * t->m + j2] = h * q * t->sign[i2 * t->m + j2];
        }
}

static double *dense(const rz_rht *t)
{
    int n = t->n;
    double *U = malloc(sizeof(double) * (size_t)n * n);
    for (int r = 0; r < n; r++) dense_row(t, r, U + (long)r * n);
    return U;
}

/* Tolerances: the fast transform runs in float through log2(p) butterfly stages and an
 * m-term product; each output is a sum of n terms ±x/√n·q of unit-variance inputs, so
 * float rounding gives errors ~1e-7·sqrt(log2 p + m) per entry. 1e-5 absolute on
 * unit-variance data is a safe bound for n ≤ 11008 (m ≤ 43); the double versions use
 * 1e-12. Orthogonality of the dense double U is checked to 1e-12 (Q comes from a
 * double QR). */
static void check_size(int n, int rows_dense)
{
    rz_rht t;
    rz_err e = {0};
    CHECK_EQ_INT(rz_rht_init(&t, n, 1000 + n, &e), 0);
    CHECK_EQ_INT(t.p * t.m, n);
    CHECK(t.m % 2 == 1);
    rz_rng r;
    rz_rng_seed(&r, n);
    int R = 3; /* rows of test data */
    float *X = malloc(sizeof(float) * R * n), *Y = malloc(sizeof(float) * R * n);
    double *Xd = malloc(sizeof(double) * R * n);
    for (long k = 0; k < (long)R * n; k++) Xd[k] = X[k] = (float)rz_rng_normal(&r);
    memcpy(Y, X, sizeof(float) * R * n);
    CHECK_EQ_INT(rz_rht_rows(&t, Y, R, n, 0, &e), 0);
    double *row = malloc(sizeof(double) * n), worst = 0;
    /* fast rows against dense rows of U: y[k] = Σ_c U[k][c] x[c] */
    int nr = rows_dense < n ? rows_dense : n;
    for (int q = 0; q < nr; q++) {
        int k = (int)((long)q * n / nr);
        dense_row(&t, k, row);
        for (int rr = 0; rr < R; rr++) {
            double y = 0;
            for (int c = 0; c < n; c++) y += row[c] * X[(long)rr * n + c];
            worst = fmax(worst, fabs(y - Y[(long)rr * n + k]));
        }
    }
    printf("# n %d = %d x %d: max |fast - dense| %.2e over %d rows of U\n", n, t.p, t.m, worst, nr);
    CHECK(worst < 1e-5);
    /* norm preserved, inverse undoes */
    double n0 = 0, n1 = 0, back = 0;
    for (long k = 0; k < (long)R * n; k++) n0 += (double)X[k] * X[k], n1 += (double)Y[k] * Y[k];
    CHECK_NEAR(n1 / n0, 1.0, 1e-5);
    CHECK_EQ_INT(rz_rht_rows(&t, Y, R, n, 1, &e), 0);
    for (long k = 0; k < (long)R * n; k++) back = fmax(back, fabs(Y[k] - X[k]));
    CHECK(back < 1e-5);
    /* double version: forward then inverse */
    double *Yd = malloc(sizeof(double) * R * n);
    memcpy(Yd, Xd, sizeof(double) * R * n);
    CHECK_EQ_INT(rz_rht_rows_d(&t, Yd, R, n, 0, &e), 0);
    double dd = 0;
    for (int q = 0; q < (nr < 8 ? nr : 8); q++) {
        int k = (int)((long)q * n / nr);
        dense_row(&t, k, row);
        double y = 0;
        for (int c = 0; c < n; c++) y += row[c] * Xd[c];
        dd = fmax(dd, fabs(y - Yd[k]));
    }
    CHECK(dd < 1e-12);
    CHECK_EQ_INT(rz_rht_rows_d(&t, Yd, R, n, 1, &e), 0);
    dd = 0;
    for (long k = 0; k < (long)R * n; k++) dd = fmax(dd, fabs(Yd[k] - Xd[k]));
    CHECK(dd < 1e-12);
    /* columns: X as n × R (the transpose of the rows data) must give the transpose */
    float *C = malloc(sizeof(float) * n * R);
    for (int c = 0; c < n; c++)
        for (int rr = 0; rr < R; rr++) C[(long)c * R + rr] = X[(long)rr * n + c];
    memcpy(Y, X, sizeof(float) * R * n);
    rz_rht_rows(&t, Y, R, n, 0, &e);
    CHECK_EQ_INT(rz_rht_cols(&t, C, R, R, 0, &e), 0);
    double tc = 0;
    for (int c = 0; c < n; c++)
        for (int rr = 0; rr < R; rr++) tc = fmax(tc, fabs(C[(long)c * R + rr] - Y[(long)rr * n + c]));
    CHECK(tc < 1e-5);
    CHECK_EQ_INT(rz_rht_cols(&t, C, R, R, 1, &e), 0);
    tc = 0;
    for (int c = 0; c < n; c++)
        for (int rr = 0; rr < R; rr++) tc = fmax(tc, fabs(C[(long)c * R + rr] - X[(long)rr * n + c]));
    CHECK(tc < 1e-5);
    free(X), free(Y), free(Xd), free(Yd), free(row), free(C);
    rz_rht_free(&t);
}

/* ‖U Uᵀ − I‖_max of the dense U (double, from the definition). */
static void check_orthogonal(int n)
{
    rz_rht t;
    rz_err e = {0};
    CHECK_EQ_INT(rz_rht_init(&t, n, 7 * n, &e), 0);
    double *U = dense(&t), worst = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += U[(long)i * n + k] * U[(long)j * n + k];
            worst = fmax(worst, fabs(s - (i == j)));
        }
    printf("# n %d: max |U U^T - I| = %.2e\n", n, worst);
    CHECK(worst < 1e-12);
    /* the whole transform, not just sampled rows: fast(e_c) = column c of U */
    float *E = calloc((size_t)n * n, sizeof(float));
    for (int c = 0; c < n; c++) E[(long)c * n + c] = 1; /* row c = e_c */
    rz_rht_rows(&t, E, n, n, 0, &e);                     /* row c = U e_c */
    double w2 = 0;
    for (int c = 0; c < n; c++)
        for (int k = 0; k < n; k++) w2 = fmax(w2, fabs(E[(long)c * n + k] - U[(long)k * n + c]));
    CHECK(w2 < 1e-6);
    free(U);
    free(E);
    rz_rht_free(&t);
}

static void test_orthogonal_64(void) { check_orthogonal(64); }
static void test_orthogonal_172(void) { check_orthogonal(172); }
static void test_orthogonal_768(void) { check_orthogonal(check_sanitized() ? 96 : 768); }
static void test_fast_equals_dense_64(void) { check_size(64, 64); }
static void test_fast_equals_dense_172(void) { check_size(172, 172); }
static void test_fast_equals_dense_768(void) { check_size(768, 768); }
static void test_fast_equals_dense_11008(void) { check_size(11008, check_sanitized() ? 4 : 24); }
static void test_odd_sizes(void)
{
    check_size(1, 1);
    check_size(43, 43);
    check_size(1024, 16);
}

/* The layer transforms as a quantiser uses them: W ← U W Vᵀ, H ← V H Vᵀ preserve
 * tr(W H Wᵀ) (= tr of the transformed pair) and the inverse calls restore W and H. */
static void test_layer_roundtrip(void)
{
    int out = 172, in = 96;
    rz_rht U, V;
    rz_err e = {0};
    CHECK_EQ_INT(rz_rht_init(&U, out, 1, &e), 0);
    CHECK_EQ_INT(rz_rht_init(&V, in, 2, &e), 0);
    rz_rng r;
    rz_rng_seed(&r, 3);
    float *W = malloc(sizeof(float) * out * in), *W0 = malloc(sizeof(float) * out * in);
    double *H = malloc(sizeof(double) * in * in), *H0 = malloc(sizeof(double) * in * in);
    double *X = malloc(sizeof(double) * 2 * in * in);
    for (int k = 0; k < out * in; k++) W0[k] = W[k] = (float)rz_rng_normal(&r);
    for (int k = 0; k < 2 * in * in; k++) X[k] = rz_rng_normal(&r);
    for (int i = 0; i < in; i++)
        for (int j = 0; j < in; j++) {
            double s = 0;
            for (int t = 0; t < 2 * in; t++) s += X[(long)t * in + i] * X[(long)t * in + j];
            H0[i * in + j] = H[i * in + j] = s / (2 * in);
        }
    double before = 0, after = 0;
    for (int a = 0; a < out; a++)
        for (int i = 0; i < in; i++)
            for (int j = 0; j < in; j++) before += (double)W[a * in + i] * H[i * in + j] * W[a * in + j];
    CHECK_EQ_INT(rz_rht_cols(&U, W, in, in, 0, &e), 0);
    CHECK_EQ_INT(rz_rht_rows(&V, W, out, in, 0, &e), 0);
    CHECK_EQ_INT(rz_rht_cols_d(&V, H, in, in, 0, &e), 0);
    CHECK_EQ_INT(rz_rht_rows_d(&V, H, in, in, 0, &e), 0);
    for (int a = 0; a < out; a++)
        for (int i = 0; i < in; i++)
            for (int j = 0; j < in; j++) after += (double)W[a * in + i] * H[i * in + j] * W[a * in + j];
    CHECK_NEAR(after / before, 1.0, 1e-5); /* W in float */
    double asym = 0;
    for (int i = 0; i < in; i++)
        for (int j = 0; j < in; j++) asym = fmax(asym, fabs(H[i * in + j] - H[j * in + i]));
    CHECK(asym < 1e-12);
    rz_rht_rows(&V, W, out, in, 1, &e);
    rz_rht_cols(&U, W, in, in, 1, &e);
    rz_rht_rows_d(&V, H, in, in, 1, &e);
    rz_rht_cols_d(&V, H, in, in, 1, &e);
    double dw = 0, dh = 0;
    for (int k = 0; k < out * in; k++) dw = fmax(dw, fabs(W[k] - W0[k]));
    for (int k = 0; k < in * in; k++) dh = fmax(dh, fabs(H[k] - H0[k]));
    CHECK(dw < 1e-5);
    CHECK(dh < 1e-12);
    /* incoherence: a spike in W is spread out (max |entry| drops by ~sqrt(in·out)) */
    memset(W, 0, sizeof(float) * out * in);
    W[5 * in + 7] = 1;
    rz_rht_cols(&U, W, in, in, 0, &e);
    rz_rht_rows(&V, W, out, in, 0, &e);
    double mx = 0;
    for (int k = 0; k < out * in; k++) mx = fmax(mx, fabs(W[k]));
    printf("# spike spread: max |entry| %.4f (1/sqrt(%d) = %.4f)\n", mx, out * in, 1 / sqrt(out * in));
    CHECK(mx < 10 / sqrt(out * in));
    /* the same seed gives the same transform, another seed another one */
    rz_rht U2, U3;
    rz_rht_init(&U2, out, 1, &e);
    rz_rht_init(&U3, out, 99, &e);
    CHECK(!memcmp(U.sign, U2.sign, sizeof(float) * out) && !memcmp(U.Qd, U2.Qd, sizeof(double) * 43 * 43));
    CHECK(memcmp(U.Qd, U3.Qd, sizeof(double) * 43 * 43) != 0);
    rz_rht_free(&U3);
    CHECK_EQ_INT(rz_rht_init(&U3, 0, 1, &e), RZ_EINPUT);
    rz_rht_free(&U), rz_rht_free(&V), rz_rht_free(&U2);
    free(W), free(W0), free(H), free(H0), free(X);
}

/* rz_rht_rows (fast: fused AVX2 butterflies, de-interleaved small Q) gives exactly the
 * bits of rz_rht_rows_ref (a pass per stage) — the same operations in the same order —
 * with and without its AVX2 code, for 1, 2 and 3 threads, for every kind of size:
 * m = 1 with p below and above the 8-lane register, odd p·m with 1 < m < 16 (the
 * de-interleaved path; 12288 = 4096·3 is past its stack buffer and takes the reference
 * steps), m ≥ 16 (BLAS), rows in one chunk and in several, a row stride beyond n, and
 * inputs with zeros of both signs and values 2^±60 apart. An exact identity, so no
 * tolerance; the dense checks above hold both to the definition. */
static void test_fast_rows_bitwise(void)
{
    static const int sizes[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 96, 128, 172, 256, 480, 512, 768, 1024, 2048, 4096, 5120, 12288, 11008};
    static const int rows_list[] = {1, 4, 17};
    rz_err e = {0};
    long bad = 0, calls = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int n = sizes[si], ld = n + 5;
        rz_rht t;
        CHECK_EQ_INT(rz_rht_init(&t, n, 4242 + (uint64_t)n, &e), 0);
        rz_rng r;
        rz_rng_seed(&r, (uint64_t)n);
        int R = 17;
        float *X = malloc(sizeof(float) * (size_t)R * ld), *A = malloc(sizeof(float) * (size_t)R * ld),
              *B = malloc(sizeof(float) * (size_t)R * ld);
        for (long k = 0; k < (long)R * ld; k++) {
            double g = rz_rng_normal(&r);
            long kind = k % 53;
            X[k] = kind == 0 ? 0.0f : kind == 1 ? -0.0f : kind == 2 ? (float)(g * 0x1p60) : kind == 3 ? (float)(g * 0x1p-60) : (float)g;
        }
        for (size_t ri = 0; ri < sizeof rows_list / sizeof *rows_list; ri++)
            for (int inv = 0; inv < 2; inv++)
                for (int mode = 0; mode < 4; mode++) { /* AVX2 or portable; 1, 2 or 3 threads */
                    int rows = rows_list[ri];
                    memcpy(A, X, sizeof(float) * (size_t)R * ld);
                    memcpy(B, X, sizeof(float) * (size_t)R * ld);
                    CHECK_EQ_INT(rz_rht_rows_ref(&t, A, rows, ld, inv, &e), 0);
                    rz_rht_portable(mode == 1);
                    omp_set_num_threads(mode == 2 ? 1 : mode == 3 ? 3 : 2);
                    CHECK_EQ_INT(rz_rht_rows(&t, B, rows, ld, inv, &e), 0);
                    rz_rht_portable(0);
                    omp_set_num_threads(2);
                    calls++;
                    if (memcmp(A, B, sizeof(float) * (size_t)R * ld)) {
                        if (bad++ < 5) printf("#   n %d rows %d inverse %d mode %d: fast != reference\n", n, rows, inv, mode);
                    }
                }
        free(X), free(A), free(B);
        rz_rht_free(&t);
    }
    printf("# %ld of %ld fast row transforms differ from the reference in some bit\n", bad, calls);
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    rz_linalg_threads(0); /* OpenBLAS single-threaded, as in every rizz tool */
    RUN(test_orthogonal_64);
    RUN(test_orthogonal_172);
    RUN(test_orthogonal_768);
    RUN(test_fast_equals_dense_64);
    RUN(test_fast_equals_dense_172);
    RUN(test_fast_equals_dense_768);
    RUN(test_fast_equals_dense_11008);
    RUN(test_odd_sizes);
    RUN(test_layer_roundtrip);
    RUN(test_fast_rows_bitwise);
    return check_summary();
}
