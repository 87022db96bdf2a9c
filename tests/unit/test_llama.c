/* test_llama.c — the Llama forward against llama2.c's output and a float64 reference.
 *
 * Three independent checks of rz_llama_forward:
 *   - greedy generation of stories260K must print exactly what llama2.c's run.c printed
 *     (stories260K.greedy256.txt), decoding token by token and also by prefill;
 *   - a reference forward written here from the model's definition (its own parser of
 *     the .bin file, double precision, one token at a time with a KV cache, naive loops,
 *     RoPE angles in double) must give the same logits and the same NLL;
 *   - prefill of T tokens, decoding one token at a time and prefill in pieces must agree.
 * Plus the file checks (bad checkpoints, save/load round trips) and the small helpers.
 * Under RZ_SANITIZED (the ASan/UBSan run) the reference windows are shorter.
 */
#include <ctype.h>
#include <stdint.h>
#include <unistd.h>

#include "../check.h"
#include "linalg.h"
#include "llama.h"
#include "tokenizer.h"
#include "ref_llama.h"
#include "readfile.h"


/* the whole file (NUL-terminated), or NULL: rz_read_file without its message */
static char *read_all(const char *path, size_t *n)
{
    char *b = NULL;
    rz_err e = {0};
    return rz_read_file(path, &b, n, &e) == RZ_OK ? b : NULL;
}

static const char *tmp_path(const char *tag)
{
    char name[64];
    snprintf(name, sizeof name, "llama-%s.bin", tag);
    return check_tmp(name);
}

static rz_llama *load_stories(void)
{
    rz_err e = {0};
    rz_llama *m = NULL;
    if (rz_llama_load_bin(check_data_path("stories260K.bin"), &m, &e) != 0) {
        printf("#   %s\n", e.msg);
        CHECK(0);
    }
    return m;
}

/* ---------------------------------------------------------------- generation */

/* Greedy generation as run.c: forward the current token, argmax, stop at BOS, print the
 * piece decoded after the current token, skipping single unprintable bytes (safe_printf).
 * Returns the text (malloc'ed) and fills seq[0..*n) with BOS and the generated tokens. */
static char *greedy(const rz_llama *m, const rz_tokenizer *tok, int steps, int *seq, int *n)
{
    rz_err e = {0};
    rz_llama_state *s;
    if (rz_llama_state_new(m, 1, steps, &s, &e) != 0) return NULL;
    int V = m->config.vocab_size, token = RZ_TOKEN_BOS;
    float *logits = malloc(sizeof(float) * V);
    char *text = malloc(16 * (size_t)steps + 1);
    size_t len = 0;
    seq[0] = token;
    *n = 1;
    for (int pos = 0; pos < steps; pos++) {
        if (rz_llama_forward(m, s, &token, 1, pos, logits) != 0) break;
        int next = rz_llama_argmax(logits, V);
        if (next == RZ_TOKEN_BOS) break;
        size_t pl;
        const char *p = rz_tokenizer_piece(tok, token, next, &pl);
        int unprintable = pl == 1 && !(isprint((unsigned char)p[0]) || isspace((unsigned char)p[0]));
        if (pl > 0 && !unprintable && p[0] != '\0') {
            memcpy(text + len, p, pl);
            len += pl;
        }
        seq[(*n)++] = next;
        token = next;
    }
    text[len] = 0;
    free(logits);
    rz_llama_state_free(s);
    return text;
}

/* ---------------------------------------------------------------- cases */

static void test_config_and_names(void)
{
    rz_llama *m = load_stories();
    if (!m) return;
    rz_llama_config c = m->config;
    CHECK(c.dim == 64 && c.hidden_dim == 172 && c.n_layers == 5 && c.n_heads == 8 && c.n_kv_heads == 4);
    CHECK(c.vocab_size == 512 && c.seq_len == 512 && c.shared_classifier == 1);
    CHECK(m->output == m->tok_embeddings);
    CHECK_EQ_INT(rz_llama_tensor_count(m), 1 + 9 * 5 + 1);
    const char *name;
    float *w;
    int shape[2], ndim;
    CHECK(rz_llama_tensor_at(m, 0, &name, &w, shape, &ndim) == 0 && strcmp(name, "tok_embeddings.weight") == 0 &&
          w == m->tok_embeddings && shape[0] == 512 && shape[1] == 64 && ndim == 2);
    const char *want[9] = {"attention_norm", "attention.wq", "attention.wk", "attention.wv", "attention.wo",
                           "ffn_norm", "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"};
    for (int l = 0; l < 5; l++)
        for (int k = 0; k < 9; k++) {
            char full[96];
            snprintf(full, sizeof full, "layers.%d.%s.weight", l, want[k]);
            CHECK(rz_llama_tensor_at(m, 1 + 9 * l + k, &name, &w, shape, &ndim) == 0 && strcmp(name, full) == 0);
        }
    rz_llama_layer *L = &m->layers[3];
    rz_llama_tensor_at(m, 1 + 9 * 3 + 2, &name, &w, shape, &ndim); /* wk: [kv_dim][dim] */
    CHECK(w == L->wk && L->wk == L->wqkv + 64 * 64 && shape[0] == 32 && shape[1] == 64 && ndim == 2);
    rz_llama_tensor_at(m, 1 + 9 * 3 + 3, &name, &w, shape, &ndim);
    CHECK(w == L->wv && L->wv == L->wqkv + (64 + 32) * 64);
    rz_llama_tensor_at(m, 1 + 9 * 3 + 8, &name, &w, shape, &ndim); /* w3 */
    CHECK(w == L->w3 && L->w3 == L->w13 + 172 * 64 && L->w1 == L->w13 && shape[0] == 172 && shape[1] == 64);
    rz_llama_tensor_at(m, 1 + 9 * 3 + 7, &name, &w, shape, &ndim); /* w2: [dim][hidden] */
    CHECK(w == L->w2 && shape[0] == 64 && shape[1] == 172);
    rz_llama_tensor_at(m, 1 + 9 * 3 + 0, &name, &w, shape, &ndim);
    CHECK(ndim == 1 && shape[0] == 64);
    CHECK(rz_llama_tensor_at(m, 46, &name, &w, shape, &ndim) == 0 && strcmp(name, "norm.weight") == 0 &&
          w == m->norm);
    CHECK(rz_llama_tensor_at(m, 47, &name, &w, shape, &ndim) == -1);
    CHECK(rz_llama_tensor_at(m, -1, &name, &w, shape, &ndim) == -1);
    rz_llama_free(m);
}

/* Greedy generation from BOS equals run.c's printed output. */
static void test_greedy_matches_llama2c(void)
{
    size_t want_len;
    char *want = read_all(check_data_path("stories260K.greedy256.txt"), &want_len);
    rz_err e = {0};
    rz_tokenizer *tok;
    rz_llama *m = load_stories();
    if (!want || !m || rz_tokenizer_load(check_data_path("tok512.bin"), &tok, &e) != 0) {
        CHECK(0);
        free(want);
        rz_llama_free(m);
        return;
    }
    /* run.c -n 256: forwards at positions 0..255 (while pos < steps), printing each piece
     * unless the next token is BOS, then prints "\n" after the loop. The file is that
     * stdout, so it is the generated text plus one final newline. */
    int seq[258], n;
    char *got = greedy(m, tok, 256, seq, &n);
    CHECK(want_len > 0 && want[want_len - 1] == '\n');
    size_t got_len = strlen(got);
    CHECK_EQ_INT(got_len + 1, want_len);
    CHECK(got_len + 1 == want_len && memcmp(got, want, got_len) == 0);
    if (got_len + 1 != want_len || memcmp(got, want, got_len) != 0) printf("#   got: %s\n", got);
    printf("#   %d tokens generated, %zu bytes\n", n - 1, got_len);
    CHECK(strncmp(got, "Once upon a time, there was a little girl named Lily.", 53) == 0);

    /* The same sequence by prefill: with the prefix seq[0..k) in one call, the argmax of the
     * last row is seq[k]; and in one prefill of the whole sequence every row's argmax is the
     * next token. */
    rz_llama_state *s;
    int V = m->config.vocab_size;
    float *logits = malloc(sizeof(float) * (size_t)n * V);
    if (rz_llama_state_new(m, n, n, &s, &e) == 0) {
        int ks[] = {1, 2, 17, 63, 64, 65, 100, 128, 129, 200, n - 1};
        for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
            int k = ks[i];
            if (k < 1 || k >= n) continue;
            CHECK_EQ_INT(rz_llama_forward(m, s, seq, k, 0, logits), 0);
            CHECK_EQ_INT(rz_llama_argmax(logits + (size_t)(k - 1) * V, V), seq[k]);
        }
        CHECK_EQ_INT(rz_llama_forward(m, s, seq, n - 1, 0, logits), 0);
        int mismatches = 0;
        for (int t = 0; t + 1 < n; t++) mismatches += rz_llama_argmax(logits + (size_t)t * V, V) != seq[t + 1];
        CHECK_EQ_INT(mismatches, 0);
        rz_llama_state_free(s);
    } else
        CHECK(0);
    free(logits);
    free(got), free(want);
    rz_tokenizer_free(tok);
    rz_llama_free(m);
}

/* Tokens of tinystories-valid.txt as one stream starting with BOS. */
static int *story_tokens(size_t *n)
{
    rz_err e = {0};
    rz_tokenizer *tok;
    size_t len;
    char *text = read_all(check_data_path("tinystories-valid.txt"), &len);
    int *ids = NULL;
    *n = 0;
    if (text && rz_tokenizer_load(check_data_path("tok512.bin"), &tok, &e) == 0) {
        if (rz_tokenizer_encode(tok, text, len, 1, 0, &ids, n, &e) != 0) ids = NULL;
        rz_tokenizer_free(tok);
    }
    free(text);
    return ids;
}

/* Logits and NLL of windows of real text against the float64 reference. */
static void test_matches_float64_reference(void)
{
    rz_llama *m = load_stories();
    ref_model r;
    size_t ntok;
    int *ids = story_tokens(&ntok);
    if (!m || !ids || ref_load(check_data_path("stories260K.bin"), &r) != 0) {
        CHECK(0);
        rz_llama_free(m);
        free(ids);
        return;
    }
    int W = check_sanitized() ? 128 : 512, V = m->config.vocab_size;
    rz_err e = {0};
    rz_llama_state *s;
    CHECK_EQ_INT(rz_llama_state_new(m, W, W, &s, &e), 0);
    float *logits = malloc(sizeof(float) * (size_t)W * V);
    double *rl = malloc(sizeof(double) * V), *nll = malloc(sizeof(double) * W);
    double max_diff = 0, max_logit = 0, nll_rz = 0, nll_ref = 0;
    for (int w = 0; w < 2; w++) {
        const int *in = ids + (size_t)w * W, *target = in + 1;
        CHECK_EQ_INT(rz_llama_forward(m, s, in, W, 0, logits), 0);
        rz_log_softmax_nll(logits, W, V, target, nll);
        for (int t = 0; t < W; t++) {
            ref_forward(&r, in[t], t, rl);
            double mx = rl[0], sum = 0;
            for (int i = 0; i < V; i++) {
                double d = fabs(rl[i] - logits[(size_t)t * V + i]);
                max_diff = d > max_diff ? d : max_diff;
                max_logit = fabs(rl[i]) > max_logit ? fabs(rl[i]) : max_logit;
                mx = rl[i] > mx ? rl[i] : mx;
            }
            for (int i = 0; i < V; i++) sum += exp(rl[i] - mx);
            nll_ref += log(sum) + mx - rl[target[t]];
            nll_rz += nll[t];
        }
    }
    nll_rz /= 2 * W, nll_ref /= 2 * W;
    printf("#   2 windows of %d: max |logit - ref| %.2e (max |logit| %.1f), mean NLL %.6f vs ref %.6f\n", W,
           max_diff, max_logit, nll_rz, nll_ref);
    /* Tolerance. float32 rounds each operation to 6e-8 relative. The logits (up to ~25 in
     * size) come out of 5 layers of dot products of length 64..172, softmaxes over up to
     * 512 positions and a final dot of length 64; rounding errors that grow like the square
     * root of the lengths give ~25 * 6e-8 * sqrt(172) * a few layers, a few 1e-5 absolute
     * (2.4e-5 observed). 5e-4 leaves a factor 20 for other BLAS kernels and summation
     * orders, and is still 200 times below what a wrong formula (a misplaced RoPE pair, a
     * wrong kv head, a missing scale or norm) does to the logits: 0.1 and more. */
    CHECK(max_diff < 5e-4);
    CHECK_NEAR(nll_rz, nll_ref, 1e-4 * nll_ref);
    free(logits), free(rl), free(nll), free(ids);
    rz_llama_state_free(s);
    ref_free(&r);
    rz_llama_free(m);
}

/* Prefill of a whole window = T=1 decoding = prefill in pieces. */
static void test_prefill_equals_decode(void)
{
    rz_llama *m = load_stories();
    size_t ntok;
    int *ids = story_tokens(&ntok);
    if (!m || !ids) {
        CHECK(0);
        rz_llama_free(m);
        free(ids);
        return;
    }
    int W = 512, V = m->config.vocab_size;
    rz_err e = {0};
    rz_llama_state *s;
    CHECK_EQ_INT(rz_llama_state_new(m, W, W, &s, &e), 0);
    float *full = malloc(sizeof(float) * (size_t)W * V), *part = malloc(sizeof(float) * (size_t)W * V);
    const int *in = ids + 1000;
    CHECK_EQ_INT(rz_llama_forward(m, s, in, W, 0, full), 0);
    /* Split points: one token at a time, the brief's 100 + 412, and pieces crossing the
     * 64-row attention blocks at odd places. */
    int splits[3][8] = {{0}, {100, 412}, {1, 63, 65, 64, 127, 1, 191}};
    for (int v = 0; v < 3; v++) {
        int pos = 0;
        double max_diff = 0;
        for (int p = 0; pos < W; p++) {
            int T = v == 0 ? 1 : splits[v][p];
            CHECK_EQ_INT(rz_llama_forward(m, s, in + pos, T, pos, part + (size_t)pos * V), 0);
            pos += T;
        }
        for (size_t i = 0; i < (size_t)W * V; i++) {
            double d = fabs(full[i] - part[i]);
            max_diff = d > max_diff ? d : max_diff;
        }
        printf("#   split %d: max |prefill - pieces| %.2e\n", v, max_diff);
        /* Different blockings of the same float32 sums (sgemv for T = 1, other row blocks
         * in attention, other sgemm shapes): each side is within a few 1e-5 of the float64
         * reference (see above), so they differ by about that much; 2.5e-4 is 10 times the
         * observed 2.4e-5 and half the reference tolerance. */
        CHECK(max_diff < 2.5e-4);
    }
    free(full), free(part), free(ids);
    rz_llama_state_free(s);
    rz_llama_free(m);
}

/* The expected number from SOURCES.md: 60 windows of 512 tokens, one stream from BOS. */
static void test_nll_sixty_windows(void)
{
    rz_llama *m = load_stories();
    size_t ntok;
    int *ids = story_tokens(&ntok);
    if (!m || !ids || ntok < 60 * 512 + 1) {
        CHECK(0);
        rz_llama_free(m);
        free(ids);
        return;
    }
    int W = 512, V = m->config.vocab_size;
    rz_err e = {0};
    rz_llama_state *s;
    CHECK_EQ_INT(rz_llama_state_new(m, W, W, &s, &e), 0);
    float *logits = malloc(sizeof(float) * (size_t)W * V);
    double *nll = malloc(sizeof(double) * W), sum = 0;
    for (int w = 0; w < 60; w++) {
        CHECK_EQ_INT(rz_llama_forward(m, s, ids + (size_t)w * W, W, 0, logits), 0);
        rz_log_softmax_nll(logits, W, V, ids + (size_t)w * W + 1, nll);
        for (int t = 0; t < W; t++) sum += nll[t];
    }
    printf("#   mean NLL over 60 x 512 tokens: %.5f (SOURCES.md: 1.395)\n", sum / (60 * W));
    CHECK_NEAR(sum / (60 * W), 1.395, 0.0005);
    free(logits), free(nll), free(ids);
    rz_llama_state_free(s);
    rz_llama_free(m);
}

/* Writes a damaged copy of stories260K.bin and expects RZ_EINPUT naming the file. */
static void expect_bad_bin(const char *label, const char *buf, size_t n, const char *what)
{
    const char *path = tmp_path("bad");
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    rz_err e = {0};
    rz_llama *m = (rz_llama *)&e;
    int rc = rz_llama_load_bin(path, &m, &e);
    CHECK_EQ_INT(rc, RZ_EINPUT);
    CHECK(m == NULL);
    if (rc != RZ_EINPUT || !strstr(e.msg, path) || (what && !strstr(e.msg, what))) {
        printf("#   %s: rc %d, message \"%s\" (want the path and \"%s\")\n", label, rc, e.msg, what ? what : "");
        CHECK(0);
    }
    if (rc == 0) rz_llama_free(m);
    remove(path);
}

static void test_load_errors(void)
{
    size_t n;
    char *b = read_all(check_data_path("stories260K.bin"), &n);
    CHECK(b != NULL);
    if (!b) return;
    char *c = malloc(n + 8);
    expect_bad_bin("truncated", b, n - 4, "truncated");
    expect_bad_bin("header only", b, 20, "truncated");
    memcpy(c, b, n);
    memset(c + n, 0, 8);
    expect_bad_bin("oversized", c, n + 4, "extra bytes");
    char want[64];
    snprintf(want, sizeof want, "%zu bytes", n); /* the expected size is in the message */
    expect_bad_bin("oversized size", c, n + 4, want);
    int32_t bad[][2] = {{0, 0}, {0, -64}, {3, 7},  /* n_heads 7 does not divide dim 64 */
                        {4, 3},                    /* kv heads 3 do not divide 8 heads */
                        {4, 16},                   /* more kv heads than heads */
                        {6, 0}, {6, -1}, {1, -172}, {2, 1 << 30}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memcpy(c, b, n);
        memcpy(c + 4 * bad[i][0], &bad[i][1], 4);
        char label[32];
        snprintf(label, sizeof label, "header %zu", i);
        expect_bad_bin(label, c, n, "header");
    }
    /* head size 64/16 = 4 is fine, but then wk/wv sizes change: a size mismatch */
    memcpy(c, b, n);
    int32_t v = 16;
    memcpy(c + 12, &v, 4);
    memcpy(c + 16, &v, 4);
    expect_bad_bin("other shape", c, n, "bytes");
    /* a NaN weight is named */
    memcpy(c, b, n);
    float nan = NAN;
    memcpy(c + 28 + 4 * (512 * 64 + 5 * 64 + 10), &nan, 4); /* in layers.0 wq */
    expect_bad_bin("nan", c, n, "layers.0.attention.wq.weight");
    rz_err e = {0};
    rz_llama *m;
    CHECK_EQ_INT(rz_llama_load_bin("/nonexistent/model.bin", &m, &e), RZ_EINPUT);
    CHECK(strstr(e.msg, "/nonexistent/model.bin") != NULL);
    free(b), free(c);
}

static int same_weights(rz_llama *a, rz_llama *b)
{
    if (memcmp(&a->config, &b->config, sizeof a->config) != 0) return 0;
    int count = rz_llama_tensor_count(a);
    if (count != rz_llama_tensor_count(b)) return 0;
    for (int i = 0; i < count; i++) {
        const char *na, *nb;
        float *wa, *wb;
        int sa[2], sb[2], da, db;
        rz_llama_tensor_at(a, i, &na, &wa, sa, &da);
        char name[64];
        snprintf(name, sizeof name, "%s", na);
        rz_llama_tensor_at(b, i, &nb, &wb, sb, &db);
        if (strcmp(name, nb) != 0 || sa[0] != sb[0] || sa[1] != sb[1] || da != db) return 0;
        if (memcmp(wa, wb, sizeof(float) * (size_t)sa[0] * sa[1]) != 0) return 0;
    }
    return 1;
}

static void test_save_roundtrip(void)
{
    rz_llama *m = load_stories(), *m2 = NULL;
    if (!m) return;
    rz_err e = {0};
    const char *path = tmp_path("save");
    CHECK_EQ_INT(rz_llama_save_bin(m, path, &e), 0);
    CHECK_EQ_INT(rz_llama_load_bin(path, &m2, &e), 0);
    CHECK(m2 && same_weights(m, m2));
    /* The file itself: the weights are the same bytes; freq_cis is recomputed the way
     * llama2.c's exporter does in float32, which may differ from PyTorch's cos/sin in the
     * last bit, so only its closeness is checked. */
    size_t n1, n2;
    char *f1 = read_all(check_data_path("stories260K.bin"), &n1), *f2 = read_all(path, &n2);
    CHECK(f1 && f2 && n1 == n2);
    if (f1 && f2 && n1 == n2) {
        size_t fc = 28 + 4 * (size_t)(512 * 64 + 5 * (64 + 64 * 64 + 2 * 32 * 64 + 64 * 64 + 64 + 3 * 172 * 64) + 64);
        size_t fc_end = fc + 4 * 512 * (8 / 2) * 2; /* [seq_len][head_size/2], twice */
        CHECK(memcmp(f1, f2, fc) == 0 && fc_end == n1);
        if (fc_end > n1) fc_end = n1;
        double worst = 0;
        int differ = 0;
        for (size_t i = fc; i < fc_end; i += 4) {
            float a, b;
            memcpy(&a, f1 + i, 4);
            memcpy(&b, f2 + i, 4);
            worst = fabs(a - b) > worst ? fabs(a - b) : worst;
            differ += a != b;
        }
        printf("#   freq_cis: %d of %d values differ from the original file, by at most %.2e\n", differ,
               512 * 4 * 2, worst);
        CHECK(worst < 1e-4);
    }
    free(f1), free(f2);
    rz_llama_free(m2);
    remove(path);
    rz_llama_free(m);
}

/* A random model with an unshared classifier and grouped-query attention: save/load is
 * bit-identical, the generator is deterministic, and the forward matches the float64
 * reference reading the saved file. */
static void test_random_model(void)
{
    rz_llama_config c = {48, 100, 3, 6, 2, 70, 40, 0, 10000.0f, 1e-5f};
    rz_err e = {0};
    rz_llama *m, *m2 = NULL, *m3 = NULL;
    if (rz_llama_random(&c, 7, &m, &e) != 0) {
        printf("#   %s\n", e.msg);
        CHECK(0);
        return;
    }
    CHECK(m->output != m->tok_embeddings);
    CHECK_EQ_INT(rz_llama_tensor_count(m), 1 + 27 + 2);
    const char *name;
    float *w;
    int shape[2], ndim;
    CHECK(rz_llama_tensor_at(m, 29, &name, &w, shape, &ndim) == 0 && strcmp(name, "output.weight") == 0 &&
          w == m->output && shape[0] == 70 && shape[1] == 48);
    /* Same seed, same weights; the statistics are N(0, 0.02^2); norms are 1. */
    CHECK_EQ_INT(rz_llama_random(&c, 7, &m2, &e), 0);
    CHECK(m2 && same_weights(m, m2));
    rz_llama_free(m2);
    CHECK_EQ_INT(rz_llama_random(&c, 8, &m2, &e), 0);
    CHECK(m2 && !same_weights(m, m2));
    rz_llama_free(m2);
    double s1 = 0, s2 = 0;
    size_t cnt = (size_t)c.hidden_dim * c.dim;
    for (size_t i = 0; i < cnt; i++) s1 += m->layers[1].w1[i], s2 += (double)m->layers[1].w1[i] * m->layers[1].w1[i];
    CHECK_NEAR(s1 / cnt, 0.0, 0.002);
    CHECK_NEAR(sqrt(s2 / cnt), 0.02, 0.001);
    CHECK(m->layers[2].ffn_norm[5] == 1.0f && m->norm[0] == 1.0f);

    const char *path = tmp_path("random");
    CHECK_EQ_INT(rz_llama_save_bin(m, path, &e), 0);
    CHECK_EQ_INT(rz_llama_load_bin(path, &m3, &e), 0);
    CHECK(m3 && same_weights(m, m3));
    rz_llama_free(m3);

    ref_model r;
    if (ref_load(path, &r) == 0) {
        int T = c.seq_len, V = c.vocab_size, tokens[40];
        for (int t = 0; t < T; t++) tokens[t] = (t * 37 + 11) % V;
        rz_llama_state *s;
        CHECK_EQ_INT(rz_llama_state_new(m, T, T, &s, &e), 0);
        float *logits = malloc(sizeof(float) * (size_t)T * V);
        double *rl = malloc(sizeof(double) * V), max_diff = 0;
        CHECK_EQ_INT(rz_llama_forward(m, s, tokens, 13, 0, logits), 0);
        CHECK_EQ_INT(rz_llama_forward(m, s, tokens + 13, T - 13, 13, logits + 13 * V), 0);
        for (int t = 0; t < T; t++) {
            ref_forward(&r, tokens[t], t, rl);
            for (int i = 0; i < V; i++) {
                double d = fabs(rl[i] - logits[(size_t)t * V + i]);
                max_diff = d > max_diff ? d : max_diff;
            }
        }
        printf("#   random GQA model: max |logit - ref| %.2e\n", max_diff);
        CHECK(max_diff < 1e-4); /* logits here are ~0.1 in size */
        free(logits), free(rl);
        rz_llama_state_free(s);
        ref_free(&r);
    } else
        CHECK(0);
    remove(path);
    rz_llama_free(m);
}

static void test_config_check(void)
{
    rz_err e = {0};
    rz_llama_config ok = {64, 172, 5, 8, 4, 512, 512, 1, 10000.0f, 1e-5f};
    CHECK_EQ_INT(rz_llama_config_check(&ok, &e), 0);
    rz_llama_config bad[] = {
        {64, 172, 5, 8, 4, 512, 512, 2, 10000.0f, 1e-5f},    /* shared flag 2 */
        {60, 172, 5, 6, 6, 512, 512, 1, 10000.0f, 1e-5f},    /* head size 10: fine... */
        {66, 172, 5, 6, 6, 512, 512, 1, 10000.0f, 1e-5f},    /* head size 11: odd */
        {64, 172, 5, 8, 4, 512, 512, 1, 1.0f, 1e-5f},        /* theta */
        {64, 172, 5, 8, 4, 512, 512, 1, 10000.0f, 0.0f},     /* eps */
        {64, 172, 5, 8, 4, 512, 512, 1, NAN, 1e-5f},
        {8192, 1 << 16, 1000, 64, 8, 32000, 4096, 1, 10000.0f, 1e-5f}, /* > 2^33 parameters */
        {64, 172, 5, 8, 4, -1, 512, 1, 10000.0f, 1e-5f},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = rz_llama_config_check(&bad[i], &e);
        if (i == 1) CHECK_EQ_INT(rc, 0);
        else CHECK_EQ_INT(rc, RZ_EINPUT);
    }
}

static void test_forward_args(void)
{
    rz_llama *m = load_stories();
    if (!m) return;
    rz_err e = {0};
    rz_llama_state *s;
    CHECK_EQ_INT(rz_llama_state_new(m, 8, 600, &s, &e), RZ_EINPUT); /* beyond seq_len */
    CHECK_EQ_INT(rz_llama_state_new(m, 0, 16, &s, &e), RZ_EINPUT);
    CHECK_EQ_INT(rz_llama_state_new(m, 8, 16, &s, &e), 0);
    int tok[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float *logits = malloc(sizeof(float) * 9 * 512);
    CHECK_EQ_INT(rz_llama_forward(m, s, tok, 0, 0, logits), RZ_EINPUT);
    CHECK_EQ_INT(rz_llama_forward(m, s, tok, 9, 0, logits), RZ_EINPUT);  /* T > max_T */
    CHECK_EQ_INT(rz_llama_forward(m, s, tok, 8, 9, logits), RZ_EINPUT);  /* past max_ctx */
    CHECK_EQ_INT(rz_llama_forward(m, s, tok, 1, -1, logits), RZ_EINPUT);
    tok[3] = 512;
    CHECK_EQ_INT(rz_llama_forward(m, s, tok, 8, 0, logits), RZ_EINPUT);
    tok[3] = -1;
    CHECK_EQ_INT(rz_llama_forward(m, s, tok, 8, 0, logits), RZ_EINPUT);
    tok[3] = 4;
    CHECK_EQ_INT(rz_llama_forward(m, s, tok, 8, 8, logits), 0); /* the last 8 positions */
    free(logits);
    rz_llama_state_free(s);
    rz_llama_free(m);
}

static void test_nll_and_argmax(void)
{
    float logits[2][5] = {{1.0f, 3.0f, 3.0f, -2.0f, 0.5f}, {1000.0f, 999.0f, -1000.0f, 0.0f, 1000.0f}};
    int targets[2] = {0, 1};
    double nll[2];
    rz_log_softmax_nll(&logits[0][0], 2, 5, targets, nll);
    double z = exp(1.0) + 2 * exp(3.0) + exp(-2.0) + exp(0.5);
    /* each exp is computed in float (rz_expf of vexp.h, relative error < 1.3e-7) and summed in
     * double, so log(sum) is off by at most ~1.3e-7: 1e-6 is the tolerance */
    CHECK_NEAR(nll[0], log(z) - 1.0, 1e-6);
    /* large logits: computed relative to the maximum, no overflow */
    CHECK_NEAR(nll[1], log(2.0 + exp(-1.0)) + 1.0, 1e-6);
    CHECK_EQ_INT(rz_llama_argmax(logits[0], 5), 1); /* first of the tied maxima */
    CHECK_EQ_INT(rz_llama_argmax(logits[1], 5), 0);
}

int main(void)
{
    rz_linalg_threads(0); /* OpenBLAS single-threaded, OpenMP panels: as every rizz tool */
    RUN(test_config_and_names);
    RUN(test_greedy_matches_llama2c);
    RUN(test_matches_float64_reference);
    RUN(test_prefill_equals_decode);
    RUN(test_nll_sixty_windows);
    RUN(test_load_errors);
    RUN(test_save_roundtrip);
    RUN(test_random_model);
    RUN(test_config_check);
    RUN(test_forward_args);
    RUN(test_nll_and_argmax);
    return check_summary();
}
