/* test_tokenizer.c — the BPE tokenizer against an independent quadratic encoder.
 *
 * The reference below reads the tokenizer file with its own parser and encodes the way
 * llama2.c run.c does, literally: one token per UTF-8 code point (bytes + 3 when the code
 * point is not a piece), then for every merge a full scan of the adjacent pairs for the
 * best-scoring concatenation (strict >, so the leftmost wins ties), with piece lookup by
 * binary search over the pieces sorted bytewise. rz_tokenizer_encode (heap + linked
 * list, hash lookup) must give exactly the same ids on every text.
 */
#include <stdint.h>

#include "../check.h"
#include "tokenizer.h"
#include "readfile.h"

/* ---------------------------------------------------------------- reference encoder */

typedef struct {
    int n;
    char **piece;
    int *len;
    float *score;
    int *sorted; /* ids sorted by piece bytes */
} ref_vocab;

static const ref_vocab *cmp_vocab;

static int cmp_bytes(const char *a, int la, const char *b, int lb)
{
    int k = la < lb ? la : lb, c = memcmp(a, b, (size_t)k);
    return c ? c : (la > lb) - (la < lb);
}

static int cmp_ids(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    int c = cmp_bytes(cmp_vocab->piece[a], cmp_vocab->len[a], cmp_vocab->piece[b], cmp_vocab->len[b]);
    return c ? c : (a > b) - (a < b); /* equal pieces: lowest id first */
}

static int ref_load(const char *path, ref_vocab *v)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int32_t maxlen;
    if (fread(&maxlen, 4, 1, f) != 1) return -1;
    int cap = 1024;
    v->n = 0;
    v->piece = malloc(sizeof(char *) * cap);
    v->len = malloc(sizeof(int) * cap);
    v->score = malloc(sizeof(float) * cap);
    for (;;) {
        float s;
        int32_t l;
        if (fread(&s, 4, 1, f) != 1) break;
        if (fread(&l, 4, 1, f) != 1 || l < 0 || l > maxlen) return -1;
        if (v->n == cap) {
            cap *= 2;
            v->piece = realloc(v->piece, sizeof(char *) * cap);
            v->len = realloc(v->len, sizeof(int) * cap);
            v->score = realloc(v->score, sizeof(float) * cap);
        }
        v->piece[v->n] = malloc((size_t)l + 1);
        if (fread(v->piece[v->n], 1, (size_t)l, f) != (size_t)l) return -1;
        v->len[v->n] = l;
        v->score[v->n] = s;
        v->n++;
    }
    fclose(f);
    v->sorted = malloc(sizeof(int) * v->n);
    for (int i = 0; i < v->n; i++) v->sorted[i] = i;
    cmp_vocab = v;
    qsort(v->sorted, (size_t)v->n, sizeof(int), cmp_ids);
    return 0;
}

static void ref_free(ref_vocab *v)
{
    for (int i = 0; i < v->n; i++) free(v->piece[i]);
    free(v->piece), free(v->len), free(v->score), free(v->sorted);
}

/* Lowest id whose piece is s[0..n), or -1 (binary search for the first match). */
static int ref_lookup(const ref_vocab *v, const char *s, int n)
{
    int lo = 0, hi = v->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2, id = v->sorted[mid];
        if (cmp_bytes(v->piece[id], v->len[id], s, n) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < v->n && cmp_bytes(v->piece[v->sorted[lo]], v->len[v->sorted[lo]], s, n) == 0) return v->sorted[lo];
    return -1;
}

/* run.c's encode on valid UTF-8; returns the number of ids written to out. */
static size_t ref_encode(const ref_vocab *v, const char *text, size_t len, int bos, int eos, int *out)
{
    size_t n = 0;
    if (bos) out[n++] = 1;
    if (len > 0) out[n++] = ref_lookup(v, " ", 1);
    for (size_t i = 0; i < len;) {
        size_t k = 1;
        while (i + k < len && ((unsigned char)text[i + k] & 0xC0) == 0x80) k++;
        int id = ref_lookup(v, text + i, (int)k);
        if (id >= 0) out[n++] = id;
        else
            for (size_t j = 0; j < k; j++) out[n++] = (unsigned char)text[i + j] + 3;
        i += k;
    }
    char buf[4096];
    for (;;) {
        float best = -1e10f;
        long best_i = -1;
        int best_id = -1;
        for (size_t i = 0; i + 1 < n; i++) {
            int a = out[i], b = out[i + 1];
            memcpy(buf, v->piece[a], (size_t)v->len[a]);
            memcpy(buf + v->len[a], v->piece[b], (size_t)v->len[b]);
            int id = ref_lookup(v, buf, v->len[a] + v->len[b]);
            if (id >= 0 && v->score[id] > best) {
                best = v->score[id];
                best_i = (long)i;
                best_id = id;
            }
        }
        if (best_i < 0) break;
        out[best_i] = best_id;
        memmove(out + best_i + 1, out + best_i + 2, (n - (size_t)best_i - 2) * sizeof(int));
        n--;
    }
    if (eos) out[n++] = 2;
    return n;
}

/* ---------------------------------------------------------------- helpers */

/* the whole file (NUL-terminated), or NULL: rz_read_file without its message */
static char *read_all(const char *path, size_t *n)
{
    char *b = NULL;
    rz_err e = {0};
    return rz_read_file(path, &b, n, &e) == RZ_OK ? b : NULL;
}

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}


/* Encode with both encoders and compare; reports the first difference. */
static int same_as_ref(const rz_tokenizer *t, const ref_vocab *v, const char *text, size_t len, int bos, int eos)
{
    rz_err e = {0};
    int *ids;
    size_t n;
    if (rz_tokenizer_encode(t, text, len, bos, eos, &ids, &n, &e) != 0) {
        printf("#   encode failed: %s\n", e.msg);
        return 0;
    }
    int *ref = malloc(sizeof(int) * (len + 3));
    size_t m = ref_encode(v, text, len, bos, eos, ref);
    int ok = m == n && memcmp(ids, ref, n * sizeof(int)) == 0;
    if (!ok) {
        size_t i = 0;
        while (i < n && i < m && ids[i] == ref[i]) i++;
        printf("#   text of %zu bytes \"%.60s\": %zu ids vs reference %zu, first difference at %zu\n", len, text, n,
               m, i);
    }
    free(ids), free(ref);
    return ok;
}

/* Decode ids as run.c prints them, tracking the previous token. */
static char *decode_all(const rz_tokenizer *t, const int *ids, size_t n, size_t *out_len)
{
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    int prev = -1;
    for (size_t i = 0; i < n; i++) {
        size_t pl;
        const char *p = rz_tokenizer_piece(t, prev, ids[i], &pl);
        if (ids[i] == RZ_TOKEN_BOS) pl = 0; /* BOS is not text */
        while (len + pl + 1 > cap) s = realloc(s, cap *= 2);
        memcpy(s + len, p, pl);
        len += pl;
        prev = ids[i];
    }
    s[len] = 0;
    *out_len = len;
    return s;
}

/* ---------------------------------------------------------------- cases */

static void test_load(void)
{
    rz_err e = {0};
    rz_tokenizer *t;
    CHECK_EQ_INT(rz_tokenizer_load(check_data_path("tok512.bin"), &t, &e), 0);
    if (!t) return;
    CHECK_EQ_INT(rz_tokenizer_vocab_size(t), 512);
    size_t n;
    const char *p = rz_tokenizer_piece(t, 0, 259, &n);
    CHECK(n == 2 && memcmp(p, " t", 2) == 0);
    p = rz_tokenizer_piece(t, RZ_TOKEN_BOS, 259, &n); /* leading space dropped after BOS */
    CHECK(n == 1 && p[0] == 't');
    p = rz_tokenizer_piece(t, 0, 13, &n); /* <0x0A> */
    CHECK(n == 1 && p[0] == '\n');
    p = rz_tokenizer_piece(t, 0, 3, &n); /* <0x00> is one NUL byte */
    CHECK(n == 1 && p[0] == 0);
    CHECK(rz_tokenizer_piece(t, 0, 512, &n) == NULL && n == 0);
    CHECK(rz_tokenizer_piece(t, 0, -1, &n) == NULL);
    rz_tokenizer_free(t);
    CHECK_EQ_INT(rz_tokenizer_load(check_data_path("tokenizer.bin"), &t, &e), 0);
    if (!t) return;
    CHECK_EQ_INT(rz_tokenizer_vocab_size(t), 32000);
    rz_tokenizer_free(t);
}

static void test_published_ids(void)
{
    rz_err e = {0};
    rz_tokenizer *t;
    if (rz_tokenizer_load(check_data_path("tokenizer.bin"), &t, &e) != 0) {
        printf("#   %s\n", e.msg);
        CHECK(0);
        return;
    }
    const char *text = "Once upon a time, there was a little girl.";
    const int want[] = {9038, 2501, 263, 931, 29892, 727, 471, 263, 2217, 7826, 29889};
    int *ids;
    size_t n;
    CHECK_EQ_INT(rz_tokenizer_encode(t, text, strlen(text), 0, 0, &ids, &n, &e), 0);
    CHECK_EQ_INT(n, 11);
    for (size_t i = 0; i < n && i < 11; i++) CHECK_EQ_INT(ids[i], want[i]);
    free(ids);
    /* With BOS and EOS around them. */
    CHECK_EQ_INT(rz_tokenizer_encode(t, text, strlen(text), 1, 1, &ids, &n, &e), 0);
    CHECK(n == 13 && ids[0] == 1 && ids[1] == 9038 && ids[12] == 2);
    free(ids);
    rz_tokenizer_free(t);
}

static void test_empty(void)
{
    rz_err e = {0};
    rz_tokenizer *t;
    if (rz_tokenizer_load(check_data_path("tok512.bin"), &t, &e) != 0) {
        CHECK(0);
        return;
    }
    int *ids;
    size_t n;
    CHECK_EQ_INT(rz_tokenizer_encode(t, "", 0, 0, 0, &ids, &n, &e), 0);
    CHECK_EQ_INT(n, 0);
    free(ids);
    CHECK_EQ_INT(rz_tokenizer_encode(t, "", 0, 1, 1, &ids, &n, &e), 0);
    CHECK(n == 2 && ids[0] == 1 && ids[1] == 2);
    free(ids);
    /* A single space: the dummy prefix " " and the space merge into one "  " if that is a
     * piece; whatever it is, it must agree with the reference (checked below) and decode. */
    CHECK_EQ_INT(rz_tokenizer_encode(t, " ", 1, 0, 0, &ids, &n, &e), 0);
    CHECK(n >= 1);
    free(ids);
    rz_tokenizer_free(t);
}

/* Many texts, both vocabularies, heap encoder == quadratic reference. */
static void test_matches_reference(void)
{
    const char *files[2] = {"tok512.bin", "tokenizer.bin"};
    size_t story_len;
    char *story = read_all(check_data_path("tinystories-valid.txt"), &story_len);
    CHECK(story != NULL);
    if (!story) return;
    int rounds = check_sanitized() ? 15 : 120;
    for (int fi = 0; fi < 2; fi++) {
        rz_err e = {0};
        rz_tokenizer *t;
        ref_vocab v;
        if (rz_tokenizer_load(check_data_path(files[fi]), &t, &e) != 0 ||
            ref_load(check_data_path(files[fi]), &v) != 0) {
            printf("#   cannot load %s: %s\n", files[fi], e.msg);
            CHECK(0);
            continue;
        }
        /* The code points that are single pieces, to draw random text from. */
        char(*chars)[5] = malloc(sizeof *chars * (size_t)v.n);
        int nchars = 0;
        for (int i = 0; i < v.n; i++) {
            const unsigned char *p = (const unsigned char *)v.piece[i];
            int l = v.len[i];
            int cl = p[0] < 0x80 ? 1 : p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC0 ? 2 : 0;
            if (l >= 1 && cl == l && p[0] != '<') {
                memcpy(chars[nchars], p, (size_t)l);
                chars[nchars][4] = (char)l;
                nchars++;
            }
        }
        CHECK(nchars > 20);
        static const char *fixed[] = {
            "Once upon a time, there was a little girl.",
            "Hello\n\nworld\n",
            "  leading and   doubled   spaces  ",
            "héllo wörld – ☃ naïve café 日本語 𝄞 😀",
            "\x01\x02\x7f tabs\tand\rreturns",
            "a", " ", "\n", "😀😀😀", "ab\0cd", /* an embedded NUL is a code point */
            "The quick brown fox jumps over the lazy dog. 0123456789 !@#$%^&*()",
        };
        for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
            size_t len = i == 9 ? 5 : strlen(fixed[i]);
            for (int flags = 0; flags < 4; flags++)
                CHECK(same_as_ref(t, &v, fixed[i], len, flags & 1, flags >> 1));
        }
        char buf[2048];
        for (int r = 0; r < rounds; r++) {
            /* random text from the vocabulary's characters, spaces and newlines */
            size_t len = 0, want = 1 + rnd() % 300;
            while (len + 8 < sizeof buf && len < want) {
                uint32_t u = rnd() % 10;
                if (u < 2) buf[len++] = ' ';
                else if (u < 3) buf[len++] = '\n';
                else {
                    int c = (int)(rnd() % (uint32_t)nchars);
                    memcpy(buf + len, chars[c], (size_t)chars[c][4]);
                    len += (size_t)chars[c][4];
                }
            }
            CHECK(same_as_ref(t, &v, buf, len, (int)(rnd() % 2), (int)(rnd() % 2)));
            /* a slice of real text, starting and ending on code point boundaries */
            size_t start = rnd() % (story_len - 1500), slen = 1 + rnd() % 1200;
            while (((unsigned char)story[start] & 0xC0) == 0x80) start++;
            while (((unsigned char)story[start + slen] & 0xC0) == 0x80) slen++;
            CHECK(same_as_ref(t, &v, story + start, slen, 0, 0));
        }
        free(chars);
        ref_free(&v);
        rz_tokenizer_free(t);
    }
    free(story);
}

/* decode(encode(text)) is " " + text without BOS, the text itself after BOS. */
static void test_roundtrip(void)
{
    rz_err e = {0};
    rz_tokenizer *t;
    size_t story_len;
    char *story = read_all(check_data_path("tinystories-valid.txt"), &story_len);
    if (!story || rz_tokenizer_load(check_data_path("tok512.bin"), &t, &e) != 0) {
        CHECK(0);
        free(story);
        return;
    }
    /* The whole 600 KB file in one go (its speed is bench/bench_tokenizer's business: a
     * wall-clock bound in a test fails on a loaded machine, not on a slow encoder). */
    int *ids;
    size_t n, dl;
    CHECK_EQ_INT(rz_tokenizer_encode(t, story, story_len, 0, 0, &ids, &n, &e), 0);
    char *d = decode_all(t, ids, n, &dl);
    CHECK(dl == story_len + 1 && d[0] == ' ' && memcmp(d + 1, story, story_len) == 0);
    free(d), free(ids);
    const char *txt = "héllo wörld 😀 – \x01 end";
    CHECK_EQ_INT(rz_tokenizer_encode(t, txt, strlen(txt), 1, 0, &ids, &n, &e), 0);
    d = decode_all(t, ids, n, &dl);
    CHECK(dl == strlen(txt) && memcmp(d, txt, dl) == 0);
    free(d), free(ids);
    free(story);
    rz_tokenizer_free(t);
}

static void test_invalid_utf8(void)
{
    rz_err e = {0};
    rz_tokenizer *t;
    if (rz_tokenizer_load(check_data_path("tok512.bin"), &t, &e) != 0) {
        CHECK(0);
        return;
    }
    struct {
        const char *s;
        size_t off;
    } bad[] = {
        {"abc\xff", 3},          {"ab\xc3", 2},          /* cut short */
        {"\xc0\xaf", 0},         {"x\xe0\x80\xaf", 1},   /* overlong */
        {"ok \xed\xa0\x80", 3},  /* surrogate */         {"\xf4\x90\x80\x80", 0}, /* > U+10FFFF */
        {"\x80", 0},             {"caf\xc3\xa9\xa9", 5}, /* stray continuation */
        {"\xf8\x88\x80\x80\x80", 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int *ids = (int *)&e; /* must come back NULL */
        size_t n = 7;
        e.code = 0;
        e.msg[0] = 0;
        CHECK_EQ_INT(rz_tokenizer_encode(t, bad[i].s, strlen(bad[i].s), 0, 0, &ids, &n, &e), RZ_EINPUT);
        CHECK(ids == NULL && n == 0);
        char want[64];
        snprintf(want, sizeof want, "offset %zu", bad[i].off);
        if (!strstr(e.msg, want)) {
            printf("#   case %zu: message \"%s\" lacks \"%s\"\n", i, e.msg, want);
            CHECK(0);
        }
    }
    rz_tokenizer_free(t);
}

/* Writes buf[0..n) to a temporary file; returns its path (static). */
static const char *write_tmp(const void *buf, size_t n)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/rz_test_tok_XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    return path;
}

/* A made-up vocabulary for the rules real vocabularies never exercise: equal scores
 * (leftmost pair first), the -1e10 floor below which run.c never merges, and stale heap
 * entries after overlapping merges. */
static void put_entry(char *buf, size_t *n, float score, const char *piece)
{
    int32_t l = (int32_t)strlen(piece);
    memcpy(buf + *n, &score, 4);
    memcpy(buf + *n + 4, &l, 4);
    memcpy(buf + *n + 8, piece, (size_t)l);
    *n += 8 + (size_t)l;
}

static void test_merge_rules(void)
{
    static char buf[8192];
    size_t n = 0;
    int32_t maxlen = 8;
    memcpy(buf, &maxlen, 4);
    n = 4;
    put_entry(buf, &n, 0, "<unk>");
    put_entry(buf, &n, 0, "\n<s>\n");
    put_entry(buf, &n, 0, "\n</s>\n");
    for (int i = 0; i < 256; i++) {
        char p[8];
        snprintf(p, sizeof p, "<0x%02X>", i);
        put_entry(buf, &n, 0, p);
    }
    /* ids from 259 on */
    const char *pieces[] = {" ", "a", "aa", "b", "bb", "c", "cc", "x", "y", "xy", "yx", "xyx", "ab", "ba"};
    const float scores[] = {-1, -1, -5, -1, -1e10f, -1, -9.9e9f, -1, -1, -3, -3, -2, -4, -4};
    for (int i = 0; i < 14; i++) put_entry(buf, &n, scores[i], pieces[i]);
    enum { SP = 259, A, AA, B, BB, C, CC, X, Y, XY, YX, XYX, AB, BA };
    const char *path = write_tmp(buf, n);
    rz_err e = {0};
    rz_tokenizer *t;
    ref_vocab v;
    if (rz_tokenizer_load(path, &t, &e) != 0 || ref_load(path, &v) != 0) {
        printf("#   %s\n", e.msg);
        CHECK(0);
        remove(path);
        return;
    }
    struct {
        const char *text;
        int n, ids[8];
    } cases[] = {
        {"aaa", 3, {SP, AA, A}},               /* equal scores: the leftmost pair merges first */
        {"aaaaa", 4, {SP, AA, AA, A}},
        {"bb", 3, {SP, B, B}},                 /* score -1e10: never merged (run.c's floor) */
        {"cc", 2, {SP, CC}},                   /* -9.9e9 is above the floor */
        {"xyx", 2, {SP, XYX}},                 /* xy and yx tie: xy (leftmost), then xy+x */
        {"yxy", 3, {SP, YX, Y}},               /* yx (leftmost of the tie), then no yx+y */
        {"aba", 3, {SP, AB, A}},               /* ab and ba tie on -4 */
        {"z", 2, {SP, 'z' + 3}},               /* byte fallback */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int *ids;
        size_t m;
        CHECK_EQ_INT(rz_tokenizer_encode(t, cases[i].text, strlen(cases[i].text), 0, 0, &ids, &m, &e), 0);
        int ok = (int)m == cases[i].n;
        for (int k = 0; ok && k < cases[i].n; k++) ok = ids[k] == cases[i].ids[k];
        if (!ok) printf("#   \"%s\" encodes to %zu ids, first %d\n", cases[i].text, m, m ? ids[0] : -1);
        CHECK(ok);
        CHECK(same_as_ref(t, &v, cases[i].text, strlen(cases[i].text), 0, 0));
        free(ids);
    }
    /* Random strings over this alphabet: many overlapping candidates and ties. */
    char s[256];
    for (int r = 0; r < 300; r++) {
        size_t len = 1 + rnd() % 200;
        for (size_t k = 0; k < len; k++) s[k] = "abcxy "[rnd() % 6];
        CHECK(same_as_ref(t, &v, s, len, 0, 0));
    }
    ref_free(&v);
    rz_tokenizer_free(t);
    remove(path);
}

static void expect_bad(const void *buf, size_t n, const char *what)
{
    rz_err e = {0};
    rz_tokenizer *t = (rz_tokenizer *)&e;
    const char *path = write_tmp(buf, n);
    int rc = rz_tokenizer_load(path, &t, &e);
    CHECK_EQ_INT(rc, RZ_EINPUT);
    CHECK(t == NULL);
    if (!strstr(e.msg, path) || (what && !strstr(e.msg, what))) {
        printf("#   message \"%s\" should name %s and say \"%s\"\n", e.msg, path, what ? what : "");
        CHECK(0);
    }
    if (rc == 0) rz_tokenizer_free(t);
    remove(path);
}

static void test_bad_files(void)
{
    size_t n;
    char *b = read_all(check_data_path("tok512.bin"), &n);
    CHECK(b != NULL);
    if (!b) return;
    /* Cut inside the header, inside an entry's score/len, inside a piece's bytes. Entry 0
     * is at byte 4: score (4), len (4), "<unk>" (5). */
    expect_bad(b, 2, "truncated");
    expect_bad(b, 4 + 6, "entry 0");
    expect_bad(b, 4 + 8 + 3, "entry 0");
    expect_bad(b, n - 1, "entry 511");
    /* Entry-by-entry damage on a copy. */
    char *c = malloc(n);
    int32_t v;
    memcpy(c, b, n);
    v = 0;
    memcpy(c, &v, 4); /* max_token_length 0 */
    expect_bad(c, n, "max_token_length");
    memcpy(c, b, n);
    v = -5;
    memcpy(c + 8, &v, 4); /* entry 0 length negative */
    expect_bad(c, n, "entry 0");
    memcpy(c, b, n);
    v = 8;
    memcpy(c + 8, &v, 4); /* entry 0 longer than max_token_length 7 */
    expect_bad(c, n, "entry 0");
    memcpy(c, b, n);
    float nan = NAN;
    memcpy(c + 4 + 13, &nan, 4); /* entry 1's score */
    expect_bad(c, n, "entry 1");
    free(c);
    /* A missing file. */
    rz_err e = {0};
    rz_tokenizer *t;
    CHECK_EQ_INT(rz_tokenizer_load("/nonexistent/tok.bin", &t, &e), RZ_EINPUT);
    CHECK(strstr(e.msg, "/nonexistent/tok.bin") != NULL);
    free(b);
}

int main(void)
{
    RUN(test_load);
    RUN(test_published_ids);
    RUN(test_empty);
    RUN(test_matches_reference);
    RUN(test_merge_rules);
    RUN(test_roundtrip);
    RUN(test_invalid_utf8);
    RUN(test_bad_files);
    return check_summary();
}
