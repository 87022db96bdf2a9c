/* test_gguf.c — the GGUF reader against independent sources of the same numbers.
 *
 * - stories260K-f32.gguf (written by llama.cpp's converter from stories260K.bin) must
 *   load to exactly the .bin's weights, read by the separate llama2.c loader.
 * - stories260K-f16.gguf (llama-quantize F16 of it) must hold, for every matrix, the
 *   round-to-nearest-even f16 of the .bin weight (rounded here with rz_f32_to_f16, the
 *   writer's direction, not the reader's), and norms (kept f32 by llama.cpp) unchanged;
 *   the relative error bound |w16 - w| <= 2^-11 |w| (+ 2^-25 below f16's normal range)
 *   is checked too.
 * - The tokenizer read from the GGUF metadata must give tok512.bin's ids on the whole
 *   validation text (the GGUF stores the same pieces with "▁" for space).
 * - q8_0 and bf16 (absent from the shared files): a tiny GGUF is written here byte by
 *   byte, and the loaded weights compared with values dequantised here (d * q; bf16 =
 *   the upper 16 bits of the float).
 * - The writer's q8_0 (rz_gguf_save): every weight within its block's quantisation step.
 */
#include <stdint.h>

#include "../check.h"
#include "gguf.h"
#include "record.h"

static rz_llama *load_bin(void)
{
    rz_llama *m = NULL;
    rz_err e = {0};
    if (rz_llama_load_bin(check_data_path("stories260K.bin"), &m, &e)) printf("#   %s\n", e.msg);
    return m;
}

static rz_llama *load_gguf(const char *name)
{
    rz_llama *m = NULL;
    rz_err e = {0};
    if (rz_gguf_load_model(check_data_path(name), &m, &e)) printf("#   %s\n", e.msg);
    return m;
}

/* Compares every tensor of g with the .bin model's (output.weight: the shared
 * embeddings); f16: expect the f16 rounding of matrices. Returns mismatches. */
static long compare(rz_llama *g, rz_llama *b, int f16)
{
    long bad = 0;
    for (int i = 0; i < rz_llama_tensor_count(g); i++) {
        const char *name;
        float *gd, *bd;
        int gs[2], bs[2], gn, bn;
        rz_llama_tensor_at(g, i, &name, &gd, gs, &gn);
        int j = i < rz_llama_tensor_count(b) ? i : 0; /* output.weight -> tok_embeddings */
        rz_llama_tensor_at(b, j, &name, &bd, bs, &bn);
        CHECK(gs[0] == bs[0] && gs[1] == bs[1] && gn == bn);
        size_t n = (size_t)gs[0] * (size_t)gs[1];
        for (size_t k = 0; k < n; k++) {
            float want = bd[k];
            if (f16 && gn == 2) {
                want = rz_f16_to_f32(rz_f32_to_f16(bd[k]));
                /* the rounding itself: half an f16 ulp, relative 2^-11, absolute 2^-25 */
                if (!(fabsf(gd[k] - bd[k]) <= ldexpf(fabsf(bd[k]), -11) + ldexpf(1, -25))) bad++;
            }
            if (memcmp(&gd[k], &want, 4) != 0) bad++;
        }
    }
    return bad;
}

static void test_f32_equals_bin(void)
{
    rz_llama *g = load_gguf("stories260K-f32.gguf"), *b = load_bin();
    CHECK(g && b);
    if (!g || !b) goto out;
    const rz_llama_config *x = &g->config, *y = &b->config;
    CHECK(x->dim == y->dim && x->hidden_dim == y->hidden_dim && x->n_layers == y->n_layers);
    CHECK(x->n_heads == y->n_heads && x->n_kv_heads == y->n_kv_heads && x->vocab_size == y->vocab_size);
    CHECK(x->rope_theta == y->rope_theta && x->norm_eps == y->norm_eps);
    CHECK_EQ_INT(x->seq_len, 128);        /* what llama.cpp's llama2.c converter wrote */
    CHECK_EQ_INT(x->shared_classifier, 0); /* it writes output.weight separately */
    CHECK_EQ_INT(compare(g, b, 0), 0);
out:
    rz_llama_free(g);
    rz_llama_free(b);
}

static void test_f16_is_rounded_bin(void)
{
    rz_llama *g = load_gguf("stories260K-f16.gguf"), *b = load_bin();
    CHECK(g && b);
    if (g && b) CHECK_EQ_INT(compare(g, b, 1), 0);
    rz_llama_free(g);
    rz_llama_free(b);
}

static void test_tokenizer_ids(void)
{
    rz_tokenizer *tg = NULL, *tb = NULL;
    rz_err e = {0};
    int add_bos = -1;
    CHECK(rz_gguf_load_tokenizer(check_data_path("stories260K-f32.gguf"), &tg, &add_bos, &e) == 0);
    CHECK(rz_tokenizer_load(check_data_path("tok512.bin"), &tb, &e) == 0);
    FILE *f = fopen(check_data_path("tinystories-valid.txt"), "rb");
    CHECK(tg && tb && f);
    if (!tg || !tb || !f) goto out;
    CHECK_EQ_INT(add_bos, 1); /* no add_bos_token key: llama.cpp's SentencePiece default */
    CHECK_EQ_INT(rz_tokenizer_bos(tg), 1);
    CHECK_EQ_INT(rz_tokenizer_eos(tg), 2);
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof text, f);
    CHECK(len > 500000);
    int *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK(rz_tokenizer_encode(tg, text, len, 1, 1, &a, &na, &e) == 0);
    CHECK(rz_tokenizer_encode(tb, text, len, 1, 1, &b, &nb, &e) == 0);
    CHECK_EQ_INT(na, nb);
    CHECK(na == nb && na > 290000 && memcmp(a, b, na * sizeof *a) == 0);
    /* decoding: the same bytes for every token after its predecessor */
    size_t bad = 0;
    for (size_t i = 1; i < na && na == nb; i++) {
        size_t l1, l2;
        const char *p1 = rz_tokenizer_piece(tg, a[i - 1], a[i], &l1), *p2 = rz_tokenizer_piece(tb, b[i - 1], b[i], &l2);
        if (a[i] > 2 && (l1 != l2 || memcmp(p1, p2, l1) != 0)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    free(a);
    free(b);
out:
    if (f) fclose(f);
    rz_tokenizer_free(tg);
    rz_tokenizer_free(tb);
}

/* ---------------------------------------------------------------- a hand-made GGUF */

static void put(FILE *f, const void *p, size_t n) { fwrite(p, 1, n, f); }
static void put_u32(FILE *f, uint32_t v) { put(f, &v, 4); }
static void put_u64(FILE *f, uint64_t v) { put(f, &v, 8); }
static void put_str(FILE *f, const char *s)
{
    put_u64(f, strlen(s));
    put(f, s, strlen(s));
}
static void kv_u32(FILE *f, const char *k, uint32_t v)
{
    put_str(f, k);
    put_u32(f, 4);
    put_u32(f, v);
}

/* dim 32, hidden 32, 1 layer, 2 heads, 1 kv head, vocab 32, context 16; tied
 * classifier (no output.weight). token_embd q8_0, attn_q bf16, the rest f32. */
enum { D = 32, V = 32 };
static const char *const tnames[10] = {"token_embd.weight", "output_norm.weight", "blk.0.attn_norm.weight",
                                       "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight",
                                       "blk.0.attn_output.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight",
                                       "blk.0.ffn_down.weight"};

static void test_q8_0_bf16(void)
{
    const char *path = check_tmp("gguf-tiny.gguf");
    /* sizes: rows of each (columns all D); kv dim = 16 */
    int rows[11] = {V, 1, 1, D, 16, 16, D, 1, D, D, D};
    uint32_t types[11] = {8, 0, 0, 30, 0, 0, 0, 0, 0, 0, 0};
    static float want[11][V * D];
    static unsigned char blob[11][V * D * 4];
    size_t bytes[11];
    for (int t = 0; t < 11; t++) {
        size_t n = (size_t)rows[t] * D;
        if (types[t] == 8) { /* blocks of 32: f16 d then 32 int8 */
            for (size_t b = 0; b < n / 32; b++) {
                uint16_t d = rz_f32_to_f16(0.001f * (float)(b + 1));
                memcpy(blob[t] + b * 34, &d, 2);
                for (int j = 0; j < 32; j++) {
                    int8_t q = (int8_t)((int)(check_urand() * 255) - 127);
                    blob[t][b * 34 + 2 + (size_t)j] = (unsigned char)q;
                    want[t][b * 32 + (size_t)j] = rz_f16_to_f32(d) * (float)q;
                }
            }
            bytes[t] = n / 32 * 34;
        } else if (types[t] == 30) {
            for (size_t k = 0; k < n; k++) {
                uint32_t u = (uint32_t)(check_urand() * 4294967296.0) & 0x3fffffffu; /* finite */
                uint16_t h = (uint16_t)(u >> 16);
                memcpy(blob[t] + 2 * k, &h, 2);
                u = (uint32_t)h << 16;
                memcpy(&want[t][k], &u, 4);
            }
            bytes[t] = 2 * n;
        } else {
            for (size_t k = 0; k < n; k++) want[t][k] = (float)check_gauss();
            memcpy(blob[t], want[t], 4 * n);
            bytes[t] = 4 * n;
        }
    }
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    put(f, "GGUF", 4);
    put_u32(f, 3);
    put_u64(f, 11);
    put_u64(f, 8);
    put_str(f, "general.architecture");
    put_u32(f, 8);
    put_str(f, "llama");
    kv_u32(f, "llama.embedding_length", D);
    kv_u32(f, "llama.feed_forward_length", D);
    kv_u32(f, "llama.block_count", 1);
    kv_u32(f, "llama.attention.head_count", 2);
    kv_u32(f, "llama.attention.head_count_kv", 1);
    kv_u32(f, "llama.context_length", 16);
    put_str(f, "llama.attention.layer_norm_rms_epsilon");
    put_u32(f, 6);
    float eps = 1e-5f;
    put(f, &eps, 4);
    const char *names[11];
    for (int t = 0; t < 10; t++) names[t] = tnames[t];
    names[10] = "blk.0.ffn_up.weight";
    uint64_t off = 0;
    for (int t = 0; t < 11; t++) {
        put_str(f, names[t]);
        put_u32(f, rows[t] == 1 ? 1 : 2);
        put_u64(f, D);
        if (rows[t] != 1) put_u64(f, (uint64_t)rows[t]);
        put_u32(f, types[t]);
        put_u64(f, off);
        off += (bytes[t] + 31) / 32 * 32;
    }
    long pos = ftell(f);
    static const char zero[32];
    put(f, zero, (size_t)((32 - pos % 32) % 32));
    for (int t = 0; t < 11; t++) {
        put(f, blob[t], bytes[t]);
        put(f, zero, (bytes[t] + 31) / 32 * 32 - bytes[t]);
    }
    fclose(f);
    rz_llama *m = NULL;
    rz_err e = {0};
    CHECK(rz_gguf_load_model(path, &m, &e) == 0);
    if (!m) {
        printf("#   %s\n", e.msg);
        return;
    }
    CHECK_EQ_INT(m->config.shared_classifier, 1);
    CHECK_EQ_INT(m->config.n_kv_heads, 1);
    /* rizz order (llama.h): tok_embeddings, attention_norm, wq, wk, wv, wo, ffn_norm,
     * w1 (gate), w2 (down), w3 (up), norm */
    int src[11] = {0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1};
    long bad = 0;
    for (int i = 0; i < rz_llama_tensor_count(m); i++) {
        const char *name;
        float *d;
        int sh[2], nd;
        rz_llama_tensor_at(m, i, &name, &d, sh, &nd);
        int t = src[i];
        for (size_t k = 0; k < (size_t)rows[t] * D; k++) bad += memcmp(&d[k], &want[t][k], 4) != 0;
    }
    CHECK_EQ_INT(bad, 0);
    rz_llama_free(m);
    remove(path);
}

/* The writer's q8_0: each value within the block's quantisation step of the original:
 * |d16·q - x| <= |d16 - d|·127 + d16/2 (rounding to the grid of d16, whose f16 rounding
 * moves every grid point by at most 127·|d16 - d|), d = max|x|/127 of the block. */
static void test_q8_0_write_bound(void)
{
    rz_llama *b = load_bin(), *g = NULL;
    rz_tokenizer *t = NULL;
    rz_err e = {0};
    const char *path = check_tmp("gguf-q8.gguf");
    CHECK(b && rz_tokenizer_load(check_data_path("tok512.bin"), &t, &e) == 0);
    if (!b || !t) goto out;
    CHECK(rz_gguf_save(b, t, RZ_GGUF_Q8_0, path, &e) == 0);
    CHECK(rz_gguf_load_model(path, &g, &e) == 0);
    if (!g) goto out;
    long bad = 0, exact = 0, total = 0;
    for (int i = 0; i < rz_llama_tensor_count(g); i++) {
        const char *name;
        float *gd, *bd;
        int gs[2], bs[2], gn, bn;
        rz_llama_tensor_at(g, i, &name, &gd, gs, &gn);
        rz_llama_tensor_at(b, i < rz_llama_tensor_count(b) ? i : 0, &name, &bd, bs, &bn);
        if (gn != 2) continue;
        size_t n = (size_t)gs[0] * (size_t)gs[1];
        int q8 = gs[1] % 32 == 0;
        for (size_t k0 = 0; k0 < n; k0 += 32) {
            float amax = 0;
            for (size_t k = k0; k < k0 + 32 && k < n; k++) amax = fmaxf(amax, fabsf(bd[k]));
            float d = amax / 127, d16 = rz_f16_to_f32(rz_f32_to_f16(d));
            for (size_t k = k0; k < k0 + 32 && k < n; k++, total++) {
                float err = fabsf(gd[k] - bd[k]);
                if (q8 ? !(err <= fabsf(d16 - d) * 127 + d16 / 2 + 1e-7f)
                       : !(err <= ldexpf(fabsf(bd[k]), -11) + ldexpf(1, -25)))
                    bad++;
                exact += err == 0;
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(exact < total / 2); /* really quantised */
out:
    remove(path);
    rz_llama_free(b);
    rz_llama_free(g);
    rz_tokenizer_free(t);
}

int main(void)
{
    check_rng_state = 19;
    RUN(test_f32_equals_bin);
    RUN(test_f16_is_rounded_bin);
    RUN(test_tokenizer_ids);
    RUN(test_q8_0_bf16);
    RUN(test_q8_0_write_bound);
    return check_summary();
}
