/* test_llama_team.c — the one-region decode steps of rz_llama_forward (forward_team and
 * forward_team_rot in llama.c, rz_llama_one_region in llama.h) against the path they
 * replace.
 *
 * Random models whose row counts leave partial chunks (hidden 200, vocab 300), with
 * grouped-query attention (4 heads, 2 kv heads of 32: the split by kv heads is not the
 * split by heads) and a 4-bit table shared by the embedding and the classifier:
 *   - grids read as they are (rtn 2-bit per row in layer 0, 4-bit per 32 columns in layer
 *     1): forward_team;
 *   - e8p with incoherence on both sides (2 bits in layer 0, each linear its own V; 3 bits
 *     in layer 1 with one V for wq|wk|wv and one for w1|w3, as --share-input-rht makes
 *     them), one e8p layer with the input transform only and one grid among them:
 *     forward_team_rot, where outputs cross threads through a shared ỹ;
 *   - the grids with head size 8 (no split by heads at 16-row chunks): forward_team_rot.
 * Decoding 24 tokens one at a time:
 *   - with a no-op tap the forward takes the region-per-group path (a tap rules the one
 *     region out); that path's kernels are held to float64 products in test_qlinear and
 *     its greedy text to the dense model's in decode.sh. The one-region step must give
 *     its logits and its final hidden state bit for bit: the same operations on every
 *     element, only scheduled differently;
 *   - for 1, 2 and 3 threads (each state made under omp_set_num_threads), float and int8
 *     kernels.
 * And rz_llama_one_region says which step runs exactly when it should: none with a tap,
 * for T > 1 or with a low-rank part; forward_team_rot with one kv head on two threads, a
 * head size that is no multiple of 16 or transforms.
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

/* The layer of a view (its payloads copied, so the caller frees them); NULL, said, on error. */
static rz_qlinear *new_qlinear(const rz_qlayer_view *v)
{
    rz_qlinear *q = NULL;
    rz_err e = {0};
    if (rz_qlinear_new(v, &q, &e)) printf("#   rz_qlinear_new: %s\n", e.msg);
    return q;
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
    rz_qlinear *q = new_qlinear(&v);
    free(codes), free(scales), free(zeros);
    return q;
}

/* An e8p layer of random codes (every code decodes to a lattice point), incoherent on the
 * sides incoh says, V from seed_v. */
static rz_qlinear *random_e8p(int bits, int incoh, int rows, int cols, uint64_t seed_v, uint64_t seed_u)
{
    rz_qlayer_view v;
    memset(&v, 0, sizeof v);
    snprintf(v.name, sizeof v.name, "team-e8p");
    v.rows = rows, v.cols = cols, v.pcols = (cols + 7) / 8 * 8;
    v.method = RZ_QM_E8P, v.bits = bits, v.incoherent = incoh, v.seed_v = seed_v, v.seed_u = seed_u;
    v.codes_n = rz_qlayer_codes_bytes(RZ_QM_E8P, bits, rows, v.pcols);
    v.n_scales = rz_qlayer_n_scales(RZ_QM_E8P, rows, v.pcols, 0);
    uint8_t *codes = malloc(v.codes_n);
    float *scales = malloc(v.n_scales * sizeof *scales);
    for (size_t i = 0; i < v.codes_n; i++) codes[i] = (uint8_t)(check_urand() * 256);
    for (size_t i = 0; i < v.n_scales; i++) scales[i] = (float)((0.5 + 0.5 * check_urand()) * 0.5 / sqrt((double)cols));
    v.codes = codes, v.scales = scales;
    rz_qlinear *q = new_qlinear(&v);
    free(codes), free(scales);
    return q;
}

/* A 4-bit grid with a rank-2 float pair L R added (CALDERA's W = Q + L R). */
static rz_qlinear *lowrank_member(int rows, int cols)
{
    rz_qlayer_view v;
    memset(&v, 0, sizeof v);
    snprintf(v.name, sizeof v.name, "team-lr");
    v.rows = rows, v.cols = cols, v.pcols = cols;
    v.method = RZ_QM_RTN, v.bits = 4, v.incoherent = RZ_INCOH_NONE;
    v.codes_n = rz_qlayer_codes_bytes(RZ_QM_RTN, 4, rows, cols);
    v.n_scales = v.n_zeros = rz_qlayer_n_scales(RZ_QM_RTN, rows, cols, 0);
    enum { K = 2 };
    uint8_t *codes = calloc(v.codes_n, 1), *zeros = calloc(v.n_zeros, 1);
    float *scales = calloc(v.n_scales, sizeof *scales), *L = malloc(sizeof(float) * (size_t)rows * K),
          *R = malloc(sizeof(float) * (size_t)K * cols);
    for (int i = 0; i < rows * K; i++) L[i] = (float)(0.1 * check_gauss());
    for (int i = 0; i < K * cols; i++) R[i] = (float)(0.1 * check_gauss());
    v.codes = codes, v.scales = scales, v.zeros = zeros;
    v.rank = K, v.lr_format = RZ_LR_F32, v.lr_bits = 32, v.L = L, v.R = R;
    v.L_n = sizeof(float) * (size_t)rows * K, v.R_n = sizeof(float) * (size_t)K * cols;
    rz_qlinear *q = new_qlinear(&v);
    free(codes), free(scales), free(zeros), free(L), free(R);
    return q;
}

enum { GRIDS, E8P, LOWRANK };

/* Layer 0 e8p 2-bit, each linear its own V; layer 1 e8p 3-bit with V shared by wq|wk|wv and
 * by w1|w3, wo incoherent on the input side only and w2 a grid read as it is. */
static rz_qlinear *e8p_linear(long i, int rows, int cols)
{
    int l = (int)(i / RZ_LIN_PER_LAYER), k = (int)(i % RZ_LIN_PER_LAYER);
    if (l == 0) return random_e8p(2, RZ_INCOH_BOTH, rows, cols, 100 + (uint64_t)k, 200 + (uint64_t)k);
    if (k == RZ_LIN_W2) return random_grid(4, 32, rows, cols);
    uint64_t sv = k == RZ_LIN_W1 || k == RZ_LIN_W3 ? 301 : 302;
    return random_e8p(3, k == RZ_LIN_WO ? RZ_INCOH_IN : RZ_INCOH_BOTH, rows, cols, sv, 400 + (uint64_t)k);
}

static rz_llama *team_model_kind(int dim, int heads, int kv_heads, int kind)
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
        rz_qlinear *q = kind == E8P ? e8p_linear(i, r, k) : random_grid(l ? 4 : 2, l ? 32 : 0, r, k);
        if (kind == LOWRANK && i == RZ_LIN_PER_LAYER + RZ_LIN_W1) { /* one low-rank part rules both steps out */
            rz_qlinear_free(q);
            q = lowrank_member(r, k);
        }
        if (rz_llama_set_qlinear(m, i, q, &e)) printf("#   %s\n", e.msg);
    }
    if (rz_llama_set_qtable(m, RZ_TABLE_EMB, random_grid(4, 32, c.vocab_size, dim), &e)) printf("#   %s\n", e.msg);
    return m;
}

static rz_llama *team_model(int dim, int heads, int kv_heads) { return team_model_kind(dim, heads, kv_heads, GRIDS); }

enum { STEPS = 24 };

/* logits [STEPS][vocab] and final hidden states [STEPS][dim] of a greedy-free decode of a
 * fixed token sequence on `threads` threads, with or without the no-op tap; *team counts
 * the steps rz_llama_one_region chose a one-region step for. */
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
        *team += rz_llama_one_region(m, s, 1, p) != 0;
        CHECK_EQ_INT(rz_llama_forward(m, s, &tok, 1, p, logits + (size_t)p * c->vocab_size), 0);
        memcpy(hidden + (size_t)p * c->dim, rz_llama_hidden(s), sizeof(float) * (size_t)c->dim);
    }
    rz_llama_state_free(s);
}

/* rz_llama_one_region of a fresh state on `threads` threads without a tap; -1 if it says
 * anything but 0 with one. */
static int one_region(const rz_llama *m, int threads, int T)
{
    omp_set_num_threads(threads);
    rz_llama_state *s = NULL;
    rz_err e = {0};
    if (rz_llama_state_new(m, 4, m->config.seq_len, &s, &e)) return -1;
    int r = rz_llama_one_region(m, s, T, 0);
    rz_llama_set_tap(s, noop_tap, NULL);
    if (rz_llama_one_region(m, s, T, 0) != 0) r = -1;
    rz_llama_state_free(s);
    return r;
}

/* The one-region step of m (path 1 or 2 of rz_llama_one_region on 1 and 2 threads, path3 on
 * 3) against the region-per-group path, bit for bit, for 1..3 threads, float and int8
 * kernels. */
static void same_bits(rz_llama *m, int path, int path3, const char *what)
{
    CHECK(m != NULL);
    if (!m) return;
    const rz_llama_config *c = &m->config;
    size_t nl = (size_t)STEPS * c->vocab_size, nh = (size_t)STEPS * c->dim;
    float *L[4], *H[4];
    for (int k = 0; k < 4; k++) L[k] = malloc(sizeof(float) * nl), H[k] = malloc(sizeof(float) * nh);
    int max_th = omp_get_max_threads();
    for (int isa = 0; isa < 2; isa++) {
        rz_llama_set_qdot(m, isa ? RZ_QDOT_AUTO_I8 : RZ_QDOT_AUTO);
        int team;
        decode(m, 1, 1, L[0], H[0], &team); /* the region-per-group path */
        CHECK_EQ_INT(team, 0);
        for (int th = 1; th <= 3; th++) {
            decode(m, th, 0, L[th], H[th], &team);
            CHECK_EQ_INT(team, STEPS);
            CHECK_EQ_INT(one_region(m, th, 1), th < 3 ? path : path3);
            int same_l = !memcmp(L[0], L[th], sizeof(float) * nl), same_h = !memcmp(H[0], H[th], sizeof(float) * nh);
            if (!same_l || !same_h) {
                double d = 0;
                size_t first = nh;
                for (size_t i = 0; i < nh; i++) {
                    double a = fabs(H[0][i] - H[th][i]);
                    if (a > 0 && first == nh) first = i;
                    d = a > d ? a : d;
                }
                printf("#   %s, isa %d, %d threads: one region != region per group (max diff %g, first at step %zu)\n",
                       what, isa, th, d, first / c->dim);
            }
            CHECK(same_l);
            CHECK(same_h);
        }
        double mx = 0; /* the logits are not degenerate (random weights give O(0.1..1) values) */
        for (size_t i = 0; i < nl; i++) mx = fabs(L[1][i]) > mx ? fabs(L[1][i]) : mx;
        CHECK(mx > 1e-3 && isfinite(mx));
    }
    omp_set_num_threads(max_th);
    for (int k = 0; k < 4; k++) free(L[k]), free(H[k]);
    rz_llama_free(m);
}

static void test_same_bits(void) { same_bits(team_model(128, 4, 2), 1, 2, "grids") /* 3 threads > 2 kv heads */; }
static void test_same_bits_rot(void) { same_bits(team_model_kind(128, 4, 2, E8P), 2, 2, "e8p"); }
static void test_same_bits_h8(void) { same_bits(team_model(64, 8, 8), 2, 2, "grids, head size 8"); }

static void test_when(void)
{
    int max_th = omp_get_max_threads();
    rz_llama *gqa = team_model(128, 4, 2), *mqa = team_model(128, 4, 1), *h8 = team_model(64, 8, 8);
    rz_llama *e8p = team_model_kind(128, 4, 2, E8P), *lr = team_model_kind(128, 4, 2, LOWRANK);
    CHECK(gqa && mqa && h8 && e8p && lr);
    if (gqa && mqa && h8 && e8p && lr) {
        CHECK_EQ_INT(one_region(gqa, 1, 1), 1);
        CHECK_EQ_INT(one_region(gqa, 2, 1), 1);
        CHECK_EQ_INT(one_region(gqa, 2, 2), 0); /* two tokens */
        CHECK_EQ_INT(one_region(mqa, 1, 1), 1);
        CHECK_EQ_INT(one_region(mqa, 2, 1), 2); /* one kv head, two threads */
        CHECK_EQ_INT(one_region(h8, 1, 1), 2);  /* head size 8 */
        CHECK_EQ_INT(one_region(e8p, 1, 1), 2); /* transforms */
        CHECK_EQ_INT(one_region(e8p, 2, 1), 2);
        CHECK_EQ_INT(one_region(e8p, 2, 2), 0);
        CHECK_EQ_INT(one_region(lr, 1, 1), 0);  /* a low-rank part */
        CHECK_EQ_INT(one_region(lr, 2, 1), 0);
    }
    omp_set_num_threads(max_th);
    rz_llama_free(gqa), rz_llama_free(mqa), rz_llama_free(h8), rz_llama_free(e8p), rz_llama_free(lr);
}

int main(void)
{
    rz_linalg_threads(0); /* OpenBLAS single-threaded, OpenMP panels: as every rizz tool */
    RUN(test_same_bits);
    RUN(test_same_bits_rot);
    RUN(test_same_bits_h8);
    RUN(test_when);
    return check_summary();
}
