/* test_linalg.c — util/linalg.h's row panels (rz_matmul_tall) against a product written
 * out here in double, and their promise: the same bits for any thread count.
 *   - every form (NT, NN, TN), overwrite and accumulate, on shapes that take row panels
 *     (M not a multiple of the panel height, so the last panel is short) and one that
 *     does not (N >= 256: rz_matmul's column panels): each element within
 *     1e-5 · Σ_k |a_ik b_kj| + 1e-30 of the double product — float32 sums of K terms with
 *     one rounding each stay far inside K · 2^-24 ≈ 6e-6 (K ≤ 400) of that scale;
 *   - the panel counts of the shapes the training core uses (6 panels of 3,360 rows at
 *     width 64, 2 for the 64 × 64 weight gradients, 1 with N >= 256 or little work);
 *   - 1, 2 and 3 OpenMP threads give bitwise equal results. */
#include "../check.h"
#include "linalg.h"

#include <omp.h>

typedef struct {
    int ta, tb, M, N, K;
} shape;

static void fill(float *v, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

/* C = [C +] op(A) op(B) through rz_matmul_tall with `threads` threads */
static void product(const shape *s, const float *A, const float *B, float *C, int acc, int threads)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    omp_set_num_threads(threads);
    rz_matmul_tall(s->ta, s->tb, s->M, s->N, s->K, A, lda, B, ldb, C, s->N, acc);
}

static void test_against_double(void)
{
    shape sh[] = {{0, 1, 1001, 64, 48}, {0, 0, 1001, 64, 48}, {1, 0, 96, 64, 400}, {0, 1, 300, 256, 40}};
    for (int c = 0; c < 4; c++) {
        const shape *s = &sh[c];
        size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
        float *A = malloc(na * 4), *B = malloc(nb * 4), *C = malloc(nc * 4), *C0 = malloc(nc * 4);
        fill(A, na, 1 + c), fill(B, nb, 7 + c), fill(C0, nc, 13 + c);
        for (int acc = 0; acc < 2; acc++) {
            memcpy(C, C0, nc * 4);
            product(s, A, B, C, acc, 2);
            int bad = 0;
            for (int i = 0; i < s->M; i++)
                for (int j = 0; j < s->N; j++) {
                    double sum = acc ? C0[(size_t)i * s->N + j] : 0, mag = fabs(sum);
                    for (int k = 0; k < s->K; k++) {
                        double a = s->ta ? A[(size_t)k * s->M + i] : A[(size_t)i * s->K + k];
                        double b = s->tb ? B[(size_t)j * s->K + k] : B[(size_t)k * s->N + j];
                        sum += a * b, mag += fabs(a * b);
                    }
                    bad += fabs(C[(size_t)i * s->N + j] - sum) > 1e-5 * mag + 1e-30;
                }
            if (bad) printf("#   shape %d (ta %d tb %d %dx%dx%d) acc %d: %d elements off\n", c, s->ta, s->tb, s->M,
                            s->N, s->K, acc, bad);
            CHECK_EQ_INT(bad, 0);
        }
        free(A), free(B), free(C), free(C0);
    }
}

static void test_panel_counts(void)
{
    CHECK_EQ_INT(rz_matmul_row_panels(3360, 64, 64), 6);
    CHECK_EQ_INT(rz_matmul_row_panels(3360, 64, 256), 6);
    CHECK_EQ_INT(rz_matmul_row_panels(64, 64, 3360), 2);
    CHECK_EQ_INT(rz_matmul_row_panels(256, 64, 3360), 2);
    CHECK_EQ_INT(rz_matmul_row_panels(100000, 64, 64), 8);
    CHECK_EQ_INT(rz_matmul_row_panels(3360, 256, 64), 1); /* column panels take it */
    CHECK_EQ_INT(rz_matmul_row_panels(32, 64, 3360), 1);  /* too few rows */
    CHECK_EQ_INT(rz_matmul_row_panels(100, 64, 64), 1);   /* too little work */
}

static void test_thread_invariance(void)
{
    shape sh[] = {{0, 1, 3360, 64, 64}, {0, 0, 3359, 64, 256}, {1, 0, 64, 64, 3360}, {1, 0, 256, 64, 1001}};
    int saved = omp_get_max_threads();
    for (int c = 0; c < 4; c++) {
        const shape *s = &sh[c];
        size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
        float *A = malloc(na * 4), *B = malloc(nb * 4), *C[3];
        fill(A, na, 3 + c), fill(B, nb, 5 + c);
        for (int t = 0; t < 3; t++) {
            C[t] = malloc(nc * 4);
            fill(C[t], nc, 11);
            product(s, A, B, C[t], c & 1, t + 1);
        }
        CHECK(memcmp(C[0], C[1], nc * 4) == 0);
        CHECK(memcmp(C[0], C[2], nc * 4) == 0);
        for (int t = 0; t < 3; t++) free(C[t]);
        free(A), free(B);
    }
    omp_set_num_threads(saved);
}

int main(void)
{
    rz_linalg_threads(0);
    RUN(test_against_double);
    RUN(test_panel_counts);
    RUN(test_thread_invariance);
    return check_summary();
}
