/* test_qlayer.c — quantised-layer records: what rz_qlayer_quantize produces decodes back
 * (from the stored codes alone) to the quantiser's own Ŵ, its proxy loss matches a naive
 * tr(ΔW H ΔWᵀ), the plain paths equal the core quantisers called directly, padding and
 * seeds are counted in the payload bits, and malformed records are rejected.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "e8p.h"
#include "llama.h"
#include "qlayer.h"
#include "ldlq.h"


/* W (m × n) Gaussian with a few large rows; H = XᵀX/T of correlated inputs. */
static void make_problem(int m, int n, float *W, double *H)
{
    for (int i = 0; i < m * n; i++) W[i] = (float)(0.05 * check_gauss() * (i / n % 5 == 0 ? 4 : 1));
    check_ar1_gram(n, 4, 0.7, 1, H);
}

static double naive_loss(const float *W, const float *Wh, int m, int n, const double *H)
{
    double s = 0;
    for (int r = 0; r < m; r++)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                s += ((double)Wh[r * n + i] - W[r * n + i]) * H[i * n + j] * ((double)Wh[r * n + j] - W[r * n + j]);
    return s;
}

/* pack → unpack → validating decode → dequant */
static int roundtrip(const rz_qlayer *q, float *out, rz_err *e)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rz_qlayer_pack(&pk, &q->v);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = -1;
    if (msgpack_unpack_next(&u, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS) {
        rz_rec_ctx ctx = {"mem", 0, "qlayer"};
        rz_qlayer_view v;
        rc = rz_qlayer_decode(&u.data, &ctx, &v, e);
        if (!rc) rc = rz_qlayer_dequant(&v, out, e);
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void test_roundtrip_all_methods(void)
{
    enum { M = 24, N = 20 }; /* N not a multiple of 8: e8p pads to 24 */
    float W[M * N], Wh[M * N], Wd[M * N];
    double H[N * N];
    make_problem(M, N, W, H);
    struct { int method, bits, group; } cases[] = {
        {RZ_QM_RTN, 2, 0}, {RZ_QM_RTN, 3, 8}, {RZ_QM_RTN, 4, 0}, {RZ_QM_RTN, 8, 0},
        {RZ_QM_LDLQ, 2, 0}, {RZ_QM_LDLQ, 3, 0}, {RZ_QM_LDLQ, 4, 4}, {RZ_QM_E8P, 2, 0},
        {RZ_QM_E8P, 3, 0}, {RZ_QM_E8P, 4, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int inc = 0; inc < 2; inc++) {
            rz_qopts o = {cases[k].method, cases[k].bits, cases[k].group, inc, 5, 0, 0, 0, 0};
            rz_qlayer q;
            rz_err e = {0};
            int rc = rz_qlayer_quantize("layers.0.attention.wq.weight", W, M, N, H, &o, 3, 42, &q, Wh, &e);
            CHECK(rc == 0);
            if (rc) {
                printf("#   %s\n", e.msg);
                continue;
            }
            CHECK(roundtrip(&q, Wd, &e) == 0);
            double maxd = 0, maxw = 0;
            for (int i = 0; i < M * N; i++) {
                maxd = fmax(maxd, fabs(Wd[i] - Wh[i]));
                maxw = fmax(maxw, fabs(W[i]));
            }
            if (!(maxd <= 1e-6 * maxw)) printf("#   method %d bits %d inc %d: decode differs by %g\n", o.method, o.bits, inc, maxd);
            CHECK(maxd <= 1e-6 * maxw);
            double nl = naive_loss(W, Wh, M, N, H);
            CHECK_NEAR(q.v.loss, nl, 1e-9 * nl + 1e-15);
            int pc = o.method == RZ_QM_E8P ? 24 : N;
            CHECK_EQ_INT(q.v.pcols, pc);
            CHECK_EQ_INT(q.v.incoherent, inc);
            double bits = (double)M * pc * o.bits + 32.0 * (double)q.v.n_scales + 8.0 * (double)q.v.n_zeros + (inc ? 128 : 0);
            CHECK_NEAR(rz_qlayer_payload_bits(&q.v), o.method == RZ_QM_E8P ? bits : 8.0 * q.v.codes_n + bits - (double)M * pc * o.bits, 0);
            if (o.method == RZ_QM_E8P) {
                CHECK_EQ_INT(q.v.n_scales, 1);
                CHECK_EQ_INT(q.v.codes_n, (size_t)M * 24 / 8 * o.bits);
            } else {
                CHECK_EQ_INT(q.v.n_scales, (size_t)M * (o.group ? (N + o.group - 1) / o.group : 1));
                CHECK_EQ_INT(q.v.codes_n, ((size_t)M * N * o.bits + 7) / 8);
            }
            /* relative loss: well below 1, lower with more bits (8-bit rtn tiny) */
            CHECK(q.v.rel_loss > 0 && q.v.rel_loss < 0.5);
            if (o.method == RZ_QM_RTN && o.bits == 8) CHECK(q.v.rel_loss < 1e-3);
            rz_qlayer_free(&q);
        }
}

/* Plain (coherent) rtn equals rz_rtn; ldlq equals rz_gptq with its own factor; e8p
 * equals rz_ldlq_e8p on the zero-padded problem. */
static void test_equals_core(void)
{
    enum { M = 16, N = 12 };
    float W[M * N], Wh[M * N], ref[M * N];
    double H[N * N];
    make_problem(M, N, W, H);
    rz_err e = {0};
    rz_qlayer q;
    rz_qopts o = {RZ_QM_RTN, 3, 0, 0, 0, 0, 0, 0, 0};
    CHECK(rz_qlayer_quantize("x", W, M, N, H, &o, 0, 0, &q, Wh, &e) == 0);
    CHECK(rz_rtn(W, M, N, 3, 0, ref, NULL, NULL, NULL, &e) == 0);
    CHECK(memcmp(Wh, ref, sizeof ref) == 0);
    rz_qlayer_free(&q);
    o.method = RZ_QM_LDLQ;
    CHECK(rz_qlayer_quantize("x", W, M, N, H, &o, 0, 0, &q, Wh, &e) == 0);
    rz_ldl f;
    CHECK(rz_ldl_factor(H, N, 1, 0, &f, &e) == 0);
    CHECK(rz_gptq(W, M, N, &f, 3, 0, 0, ref, NULL, NULL, NULL, &e) == 0);
    rz_ldl_free(&f);
    CHECK(memcmp(Wh, ref, sizeof ref) == 0);
    rz_qlayer_free(&q);
    /* e8p pads 12 → 16 */
    float Wp[M * 16] = {0}, Rp[M * 16];
    double Hp[16 * 16] = {0};
    for (int r = 0; r < M; r++) memcpy(Wp + r * 16, W + r * N, sizeof(float) * N);
    for (int r = 0; r < N; r++) memcpy(Hp + r * 16, H + r * N, sizeof(double) * N);
    o.method = RZ_QM_E8P;
    o.bits = 2;
    CHECK(rz_qlayer_quantize("x", W, M, N, H, &o, 0, 0, &q, Wh, &e) == 0);
    float ws;
    CHECK(rz_ldl_factor(Hp, 16, 8, 0, &f, &e) == 0);
    CHECK(rz_ldlq_e8p(Wp, M, 16, &f, 2, 0, 0, Rp, NULL, &ws, &e) == 0);
    rz_ldl_free(&f);
    int same = 1;
    for (int r = 0; r < M; r++)
        for (int c = 0; c < N; c++) same &= Wh[r * N + c] == Rp[r * 16 + c];
    CHECK(same);
    rz_qlayer_free(&q);
}

/* An indefinite H fails with a message that says so; rtn does not factor H. */
static void test_not_positive_definite(void)
{
    enum { M = 8, N = 8 };
    float W[M * N];
    double H[N * N] = {0};
    for (int i = 0; i < M * N; i++) W[i] = (float)check_gauss();
    for (int i = 0; i < N; i++) H[i * N + i] = i == 3 ? -5.0 : 1.0;
    rz_qopts o = {RZ_QM_LDLQ, 4, 0, 0, 0, 0, 0, 0, 0};
    rz_qlayer q;
    rz_err e = {0};
    CHECK(rz_qlayer_quantize("layers.1.feed_forward.w2.weight", W, M, N, H, &o, 0, 0, &q, NULL, &e) == RZ_EINPUT);
    CHECK(strstr(e.msg, "not positive definite") != NULL && strstr(e.msg, "layers.1.feed_forward.w2") != NULL);
    o.method = RZ_QM_E8P;
    o.bits = 2;
    CHECK(rz_qlayer_quantize("w", W, M, N, H, &o, 0, 0, &q, NULL, &e) == RZ_EINPUT);
    o.method = RZ_QM_LDLQ;
    o.bits = 5;
    CHECK(rz_qlayer_quantize("w", W, M, N, H, &o, 0, 0, &q, NULL, &e) == RZ_EINPUT);
}

static int decode_fields(int rows, int cols, int pcols, const char *method, int bits, size_t codes_n, size_t n_scales,
                         size_t n_zeros, int zero_val, rz_err *e)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    unsigned char *codes = calloc(codes_n + 1, 1), *zeros = malloc(n_zeros + 1);
    float *scales = calloc(n_scales + 1, sizeof(float));
    memset(zeros, zero_val, n_zeros + 1);
    rz_qlayer_view v = {.name = "w", .rows = rows, .cols = cols, .pcols = pcols,
                        .method = rz_qmethod_parse(method), .bits = bits, .codes = codes,
                        .codes_n = codes_n, .scales = scales, .n_scales = n_scales,
                        .zeros = zeros, .n_zeros = n_zeros};
    int unknown = v.method < 0; /* the packer takes only a known method: pack rtn, then */
    if (unknown) v.method = 0;  /* rewrite its name by hand */
    rz_qlayer_pack(&pk, &v);
    if (unknown) {
        char *p = memmem(sb.data, sb.size, "\xa3rtn", 4);
        if (p) memcpy(p + 1, "xyz", 3);
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_next(&u, sb.data, sb.size, &off);
    rz_rec_ctx ctx = {"mem", 4, "qlayer"};
    rz_qlayer_view out;
    int rc = rz_qlayer_decode(&u.data, &ctx, &out, e);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    free(codes);
    free(zeros);
    free(scales);
    return rc;
}

static void test_decode_rejects(void)
{
    rz_err e = {0};
    CHECK(decode_fields(4, 8, 8, "rtn", 4, 16, 4, 4, 3, &e) == 0);
    CHECK(decode_fields(4, 8, 8, "rtn", 4, 15, 4, 4, 3, &e) == RZ_EINPUT && strstr(e.msg, "'codes'"));
    CHECK(decode_fields(4, 8, 8, "rtn", 4, 16, 3, 4, 3, &e) == RZ_EINPUT && strstr(e.msg, "'scales'"));
    CHECK(decode_fields(4, 8, 8, "rtn", 2, 8, 4, 4, 4, &e) == RZ_EINPUT && strstr(e.msg, "'zeros'"));
    CHECK(decode_fields(4, 8, 8, "rtn", 5, 20, 4, 4, 3, &e) == RZ_EINPUT && strstr(e.msg, "'bits'"));
    CHECK(decode_fields(4, 8, 8, "e8p", 8, 32, 1, 0, 0, &e) == RZ_EINPUT && strstr(e.msg, "'bits'"));
    CHECK(decode_fields(4, 6, 8, "e8p", 2, 8, 1, 0, 0, &e) == 0);
    CHECK(decode_fields(4, 6, 6, "e8p", 2, 6, 1, 0, 0, &e) == RZ_EINPUT && strstr(e.msg, "'pcols'"));
    CHECK(decode_fields(4, 8, 8, "xyz", 4, 16, 4, 4, 3, &e) == RZ_EINPUT && strstr(e.msg, "'method'"));
}

static void test_model_hash(void)
{
    rz_llama_config c = {16, 24, 2, 2, 2, 20, 8, 1, 10000.0f, 1e-5f};
    rz_llama *a, *b;
    rz_err e = {0};
    CHECK(rz_llama_random(&c, 1, &a, &e) == 0 && rz_llama_random(&c, 1, &b, &e) == 0);
    CHECK(rz_llama_identity(a, RZ_ID_LAYERS) == rz_llama_identity(b, RZ_ID_LAYERS));
    b->layers[1].w2[5] += 1e-3f;
    CHECK(rz_llama_identity(a, RZ_ID_LAYERS) != rz_llama_identity(b, RZ_ID_LAYERS));
    /* the linears in order, with their Hessian groups */
    char name[RZ_MAX_NAME];
    float *W;
    int rows, cols, layer, group;
    CHECK(rz_llama_linear(a, 12, name, sizeof name, &W, &rows, &cols, &layer, &group) == 0);
    CHECK(strcmp(name, "layers.1.feed_forward.w2.weight") == 0 && W == a->layers[1].w2 && rows == 16 && cols == 24 &&
          layer == 1 && group == RZ_TAP_MLP_DOWN);
    CHECK(rz_llama_linear(a, 14, name, sizeof name, &W, &rows, &cols, &layer, &group) == -1);
    rz_llama_free(a);
    rz_llama_free(b);
}

int main(void)
{
    check_rng_state = 99; /* the stream these tests were written with */
    RUN(test_roundtrip_all_methods);
    RUN(test_equals_core);
    RUN(test_not_positive_definite);
    RUN(test_decode_rejects);
    RUN(test_model_hash);
    return check_summary();
}
