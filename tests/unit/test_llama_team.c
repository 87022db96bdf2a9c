/* test_llama_team.c — the one-region decode step of rz_llama_forward (forward_team in
 * llama.c, rz_llama_one_region in llama.h) against the path it replaces.
 *
 * A random model with every linear a quantised grid read as it is (rtn 2-bit per row in
 * layer 0, 4-bit per 32 columns in layer 1, a 4-bit table shared by the embedding and the
 * classifier), grouped-query attention (4 heads, 2 kv heads of 32: the split by kv heads
 * is not the split by heads) and shapes whose row counts leave partial chunks (hidden
 * 200, vocab 300). Decoding 24 tokens one at a time:
 *   - with a no-op tap the forward takes the region-per-group path (a tap rules the one
 *     region out); that path's kernels are held to float64 products in test_qlinear and
 *     its greedy text to the dense model's in decode.sh. The one-region step must give
 *     its logits and its final hidden state bit for bit: the same operations on every
 *     element, only scheduled differently;
 *   - for 1 and 2 threads alike (each state made under omp_set_num_threads), float and
 *     int8 kernels.
 * And rz_llama_one_region says yes exactly when it should: not with a tap, not for T > 1,
 * not with one kv head on two threads, not with a head size that is no multiple of 16.
 */
#include <omp.h>
#include <string.h>

#include "../check.h"
#include "linalg.h"
#include "llama.h"
#include "qdot.h"
#include "qlayer.h"
#include "qlinear.h"

static void noop_tap(void *ctx, int layer, int which, const float *x, int T, int n, int ld)
{
    (void)ctx, (void)layer, (void)which, (void)x, (void)T, (void)n, (void)ld;
}

/* A grid layer of random codes (scales so the outputs stay O(1) through the layers). */
static rz_qlinear *random_grid(int bits, int group, int rows, int cols)
{
    rz_qlayer_view v;
    memset(&v, 0, sizeof v);
    snprintf(v.name, sizeof v.name, "team");
    v.rows = rows, v.cols = cols, v.pcols = cols;
    v.method = RZ_QM_RTN, v.bits = bits, v.group = group, v.incoherent = RZ_INCOH_NONE;
    v.codes_n = rz_qlayer_codes_bytes(RZ_QM_RTN, bits, rows, cols);
    v.n_scales = v.n_zeros = rz_qlayer_n_scales(RZ_QM_RTN, rows, cols, group);
    uint8_t *codes = malloc(v.codes_n), *zeros = malloc(v.n_zeros);
    float *scales = malloc(v.n_scales * sizeof *scales);
    for (size_t i = 0; i < v.codes_n; i++) codes[i] = (uint8_t)(check_urand() * 256);
    for (size_t i = 0; i < v.n_scales; i++) {
        scales[i] = (float)((0.5 + 0.5 * check_urand()) * 0.2 / sqrt((double)cols) / (1 << bits) * 4);
        zeros[i] = (uint8_t)((1 << bits) / 2);
    }
    v.codes = codes, v.scales = scales, v.zeros = zeros;
    rz_qlinear *q = NULL;
    rz_err e = {0};
    if (rz_qlinear_new(&v, &q, &e)) printf("#   rz_qlinear_new: %s\n", e.msg);
    free(codes), free(scales), free(zeros);
    return q;
}

static rz_llama *team_model(int dim, int heads, int kv_heads)
{
    rz_llama_config c = {dim, 200, 2, heads, kv_heads, 300, 64, 1, 10000.0f, 1e-5f};
    rz_llama *m = NULL;
    rz_err e = {0};
    if (rz_llama_random(&c, 11, &m, &e)) {
        printf("#   rz_llama_random: %s\n", e.msg);
        return NULL;
    }
    for (long i = 0; i < (long)RZ_LIN_PER_LAYER * c.n_layers; i++) {
        int r, k;
        rz_llama_linear_shape(&c, i, &r, &k);
        int l = (int)(i / RZ_LIN_PER_LAYER);
        if (rz_llama_set_qlinear(m, i, random_grid(l ? 4 : 2, l ? 32 : 0, r, k), &e)) printf("#   %s\n", e.msg);
    }
    if (rz_llama_set_qtable(m, RZ_TABLE_EMB, random_grid(4, 32, c.vocab_size, dim), &e)) printf("#   %s\n", e.msg);
    return m;
}

enum { STEPS = 24 };

/* logits [STEPS][vocab] and final hidden states [STEPS][dim] of a greedy-free decode of a
 * fixed token sequence on `threads` threads, with or without the no-op tap; *team counts
 * the steps rz_llama_one_region took. */
static void decode(const rz_llama *m, int threads, int tap, float *logits, float *hidden, int *team)
{
    const rz_llama_config *c = &m->config;
    omp_set_num_threads(threads);
    rz_llama_state *s = NULL;
    rz_err e = {0};
    if (rz_llama_state_new(m, 4, c->seq_len, &s, &e)) {
        printf("#   state: %s\n", e.msg);
        return;
    }
    if (tap) rz_llama_set_tap(s, noop_tap, NULL);
    *team = 0;
    for (int p = 0; p < STEPS; p++) {
        int tok = (p * 37 + 5) % c->vocab_size;
        *team += rz_llama_one_region(m, s, 1, p);
        CHECK_EQ_INT(rz_llama_forward(m, s, &tok, 1, p, logits + (size_t)p * c->vocab_size), 0);
        memcpy(hidden + (size_t)p * c->dim, rz_llama_hidden(s), sizeof(float) * (size_t)c->dim);
    }
    rz_llama_state_free(s);
}

static void test_same_bits(void)
{
    rz_llama *m = team_model(128, 4, 2);
    CHECK(m != NULL);
    if (!m) return;
    const rz_llama_config *c = &m->config;
    size_t nl = (size_t)STEPS * c->vocab_size, nh = (size_t)STEPS * c->dim;
    float *L[3], *H[3];
    for (int k = 0; k < 3; k++) L[k] = malloc(sizeof(float) * nl), H[k] = malloc(sizeof(float) * nh);
    int max_th = omp_get_max_threads();
    for (int isa = 0; isa < 2; isa++) {
        rz_llama_set_qdot(m, isa ? RZ_QDOT_AUTO_I8 : RZ_QDOT_AUTO);
        int team;
        decode(m, 1, 1, L[0], H[0], &team); /* the region-per-group path */
        CHECK_EQ_INT(team, 0);
        for (int th = 1; th <= 2; th++) {
            decode(m, th, 0, L[th], H[th], &team);
            CHECK_EQ_INT(team, STEPS);
            int same_l = !memcmp(L[0], L[th], sizeof(float) * nl), same_h = !memcmp(H[0], H[th], sizeof(float) * nh);
            if (!same_l || !same_h) {
                double d = 0; size_t first = nh;
                for (size_t i = 0; i < nh; i++) { double a = fabs(H[0][i] - H[th][i]); if (a > 0 && first == nh) first = i; d = a > d ? a : d; }
                printf("#   isa %d, %d threads: one region != region per group (max diff %g, first at step %zu)\n", isa, th, d, first / c->dim);
            }
            CHECK(same_l);
            CHECK(same_h);
        }
        double mx = 0; /* the logits are not degenerate (random weights give O(0.1..1) values) */
        for (size_t i = 0; i < nl; i++) mx = fabs(L[1][i]) > mx ? fabs(L[1][i]) : mx;
        CHECK(mx > 1e-3 && isfinite(mx));
    }
    omp_set_num_threads(max_th);
    for (int k = 0; k < 3; k++) free(L[k]), free(H[k]);
    rz_llama_free(m);
}

static int one_region(const rz_llama *m, int threads, int T)
{
    omp_set_num_threads(threads);
    rz_llama_state *s = NULL;
    rz_err e = {0};
    if (rz_llama_state_new(m, 4, m->config.seq_len, &s, &e)) return -1;
    int r = rz_llama_one_region(m, s, T, 0);
    rz_llama_set_tap(s, noop_tap, NULL);
    r = r * 2 + rz_llama_one_region(m, s, T, 0);
    rz_llama_state_free(s);
    return r; /* 2: without tap only */
}

static void test_when(void)
{
    int max_th = omp_get_max_threads();
    rz_llama *gqa = team_model(128, 4, 2), *mqa = team_model(128, 4, 1), *h8 = team_model(64, 8, 8);
    CHECK(gqa && mqa && h8);
    if (gqa && mqa && h8) {
        CHECK_EQ_INT(one_region(gqa, 1, 1), 2);
        CHECK_EQ_INT(one_region(gqa, 2, 1), 2);
        CHECK_EQ_INT(one_region(gqa, 2, 2), 0); /* two tokens */
        CHECK_EQ_INT(one_region(mqa, 1, 1), 2);
        CHECK_EQ_INT(one_region(mqa, 2, 1), 0); /* one kv head, two threads */
        CHECK_EQ_INT(one_region(h8, 1, 1), 0);  /* head size 8 */
    }
    omp_set_num_threads(max_th);
    rz_llama_free(gqa), rz_llama_free(mqa), rz_llama_free(h8);
}

int main(void)
{
    rz_linalg_threads(0); /* OpenBLAS single-threaded, OpenMP panels: as every rizz tool */
    RUN(test_same_bits);
    RUN(test_when);
    return check_summary();
}
