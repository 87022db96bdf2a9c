/* test_record.c — record encoding/decoding, stream framing and integrity, JSON mapping,
 * half-precision conversions. Every expected value is computed independently of the
 * code under test (ldexp for halves, hand-built MessagePack bytes for hostile input). */
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "../check.h"
#include "json.h"
#include "record.h"
#include "stream.h"

static char dir[] = "/tmp/rz-test-record-XXXXXX";

static const char *path(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* Writes a small stream: tensor f32 2x3, tensor f16 4, tokens 5, report-like record. */
static int write_sample(const char *loc)
{
    rz_err e = {0};
    rz_writer *w;
    if (rz_writer_open(loc, NULL, &w, &e)) return 1;
    float a[6] = {1, -2, 3.5f, 0, 1e-3f, -7};
    int64_t sa[2] = {2, 3};
    rz_tensor_pack(rz_writer_packer(w), "a", RZ_F32, 2, sa, a);
    rz_writer_emit(w, &e);
    uint16_t h[4] = {rz_f32_to_f16(1.0f), rz_f32_to_f16(-0.5f), rz_f32_to_f16(65504.0f), 0};
    int64_t sh[1] = {4};
    rz_tensor_pack(rz_writer_packer(w), "h", RZ_F16, 1, sh, h);
    rz_writer_emit(w, &e);
    int32_t ids[5] = {1, 2, 3, 510, 0};
    rz_tokens_pack(rz_writer_packer(w), ids, 5, 512);
    rz_writer_emit(w, &e);
    msgpack_packer *pk = rz_writer_packer(w);
    rz_rec_begin(pk, "note", 1, 2);
    rz_rec_str(pk, "text", "quote \" backslash \\ newline \n tab \t é");
    rz_rec_f64(pk, "x", 0.1);
    rz_writer_emit(w, &e);
    return rz_writer_close(w, &e);
}

static void test_roundtrip(void)
{
    CHECK(write_sample(path("s.rzs")) == 0);
    rz_err e = {0};
    rz_reader *r;
    CHECK(rz_reader_open(path("s.rzs"), NULL, &r, &e) == 0);
    const msgpack_object *rec;
    rz_rec_ctx c;
    rz_tensor_view t;
    CHECK(rz_reader_next(r, &rec, &c, &e) == 0 && rec);
    CHECK(rz_tensor_decode(rec, &c, &t, &e) == 0);
    CHECK(strcmp(t.name, "a") == 0 && t.dtype == RZ_F32 && t.ndim == 2 && t.shape[0] == 2 && t.shape[1] == 3);
    float back[6];
    CHECK(rz_tensor_to_f32(&t, back, &c, &e) == 0);
    CHECK(back[2] == 3.5f && back[5] == -7.0f);
    CHECK(rz_reader_next(r, &rec, &c, &e) == 0 && rec);
    CHECK(rz_tensor_decode(rec, &c, &t, &e) == 0);
    float hb[4];
    CHECK(rz_tensor_to_f32(&t, hb, &c, &e) == 0);
    CHECK(hb[0] == 1.0f && hb[1] == -0.5f && hb[2] == 65504.0f && hb[3] == 0.0f);
    CHECK(rz_reader_next(r, &rec, &c, &e) == 0 && rec);
    const void *ids;
    size_t n;
    int64_t vocab;
    CHECK(rz_tokens_decode(rec, &c, &ids, &n, &vocab, &e) == 0 && n == 5 && vocab == 512);
    int32_t id3;
    memcpy(&id3, (const char *)ids + 12, 4);
    CHECK_EQ_INT(id3, 510);
    CHECK(rz_reader_next(r, &rec, &c, &e) == 0 && rec && strcmp(c.type, "note") == 0);
    CHECK(rz_reader_next(r, &rec, &c, &e) == 0 && rec == NULL); /* verified end */
    rz_reader_close(r);
}

/* Every proper prefix of a stream is an error (never a short success, never a crash). */
static void test_truncation_detected(void)
{
    CHECK(write_sample(path("s.rzs")) == 0);
    FILE *f = fopen(path("s.rzs"), "rb");
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(n > 100);
    int all_failed = 1;
    for (size_t cut = 0; cut < n; cut++) {
        f = fopen(path("cut.rzs"), "wb");
        fwrite(buf, 1, cut, f);
        fclose(f);
        rz_err e = {0};
        rz_reader *r;
        CHECK(rz_reader_open(path("cut.rzs"), NULL, &r, &e) == 0);
        int rc;
        const msgpack_object *rec;
        do rc = rz_reader_next(r, &rec, NULL, &e);
        while (rc == 0 && rec);
        if (rc != RZ_EINPUT) {
            all_failed = 0;
            printf("#   prefix of %zu bytes was accepted\n", cut);
        }
        rz_reader_close(r);
    }
    CHECK(all_failed);
}

static int read_all(const char *p, rz_err *e)
{
    rz_reader *r;
    int rc = rz_reader_open(p, NULL, &r, e);
    if (rc) return rc;
    const msgpack_object *rec;
    do rc = rz_reader_next(r, &rec, NULL, e);
    while (rc == 0 && rec);
    rz_reader_close(r);
    return rc;
}

static void write_bytes(const char *p, const void *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static void test_corruption_detected(void)
{
    CHECK(write_sample(path("s.rzs")) == 0);
    FILE *f = fopen(path("s.rzs"), "rb");
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    rz_err e = {0};
    /* flip a bit inside the f32 tensor payload: still valid MessagePack, bad checksum */
    buf[60] ^= 1;
    write_bytes(path("flip.rzs"), buf, n);
    CHECK(read_all(path("flip.rzs"), &e) == RZ_EINPUT);
    CHECK(strstr(e.msg, "checksum") || strstr(e.msg, "corrupt") || strstr(e.msg, "field"));
    buf[60] ^= 1;
    /* trailing garbage after the end record */
    buf[n] = 0x01;
    write_bytes(path("trail.rzs"), buf, n + 1);
    CHECK(read_all(path("trail.rzs"), &e) == RZ_EINPUT && strstr(e.msg, "after the end record"));
    /* a hostile header: array32 declaring 2^32-1 elements, then nothing */
    unsigned char evil[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    write_bytes(path("evil.rzs"), evil, sizeof evil);
    CHECK(read_all(path("evil.rzs"), &e) == RZ_EINPUT);
    /* bin32 declaring 4 GiB */
    unsigned char evil2[] = {0x81, 0xa4, 't', 'y', 'p', 'e', 0xc6, 0xff, 0xff, 0xff, 0xff};
    write_bytes(path("evil2.rzs"), evil2, sizeof evil2);
    CHECK(read_all(path("evil2.rzs"), &e) == RZ_EINPUT && strstr(e.msg, "limit"));
    /* not a map, reserved byte, map without type */
    unsigned char notmap[] = {0x93, 1, 2, 3};
    write_bytes(path("nm.rzs"), notmap, sizeof notmap);
    CHECK(read_all(path("nm.rzs"), &e) == RZ_EINPUT && strstr(e.msg, "expected a map"));
    unsigned char reserved[] = {0xc1};
    write_bytes(path("rs.rzs"), reserved, sizeof reserved);
    CHECK(read_all(path("rs.rzs"), &e) == RZ_EINPUT && strstr(e.msg, "corrupt"));
    unsigned char notype[] = {0x81, 0xa1, 'x', 0x01};
    write_bytes(path("nt.rzs"), notype, sizeof notype);
    CHECK(read_all(path("nt.rzs"), &e) == RZ_EINPUT && strstr(e.msg, "'type'"));
    /* empty file: no end record */
    write_bytes(path("empty.rzs"), "", 0);
    CHECK(read_all(path("empty.rzs"), &e) == RZ_EINPUT && strstr(e.msg, "without an end record"));
}

static void test_tensor_validation(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* shape says 2x3 f32 = 24 bytes, data has 20 */
    rz_rec_begin(&pk, "tensor", 1, 4);
    rz_rec_str(&pk, "name", "w");
    rz_rec_str(&pk, "dtype", "f32");
    rz_rec_key(&pk, "shape");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_int(&pk, 3);
    char zeros[20] = {0};
    rz_rec_bin(&pk, "data", zeros, 20);
    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    CHECK(msgpack_unpack_next(&up, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS);
    rz_rec_ctx c = {"mem", 7, "tensor"};
    rz_tensor_view t;
    rz_err e = {0};
    CHECK(rz_tensor_decode(&up.data, &c, &t, &e) == RZ_EINPUT);
    CHECK(strstr(e.msg, "record 7") && strstr(e.msg, "'data'") && strstr(e.msg, "need 24"));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

/* Halves against an independent formula: value = (-1)^s * 2^(e-15) * (1 + m/1024). */
static void test_f16(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        int s = h >> 15, ex = (h >> 10) & 31, m = h & 1023;
        double want;
        if (ex == 31) continue;
        if (ex == 0) want = ldexp((double)m, -24);
        else want = ldexp(1.0 + m / 1024.0, ex - 15);
        if (s) want = -want;
        float got = rz_f16_to_f32((uint16_t)h);
        if ((double)got != want) bad++;
        /* every finite half survives f32 and back */
        if (rz_f32_to_f16(got) != (uint16_t)h && !(got == 0.0f)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* rounding: the result is a nearest half; ties go to the even mantissa */
    uint64_t st = 12345;
    int notnear = 0;
    for (int i = 0; i < 200000; i++) {
        st ^= st << 13, st ^= st >> 7, st ^= st << 17;
        float x = (float)ldexp((double)(st % 2000001) / 1000000.0 - 1.0, (int)(st >> 40) % 30 - 20);
        uint16_t r = rz_f32_to_f16(x);
        double d = fabs((double)rz_f16_to_f32(r) - x);
        for (int k = -1; k <= 1; k += 2) {
            uint16_t nb = (uint16_t)(r + k);
            if ((nb & 0x7c00) == 0x7c00) continue;
            if ((nb ^ r) & 0x8000) continue;
            double dn = fabs((double)rz_f16_to_f32(nb) - x);
            if (dn < d || (dn == d && (r & 1))) notnear++;
        }
    }
    CHECK_EQ_INT(notnear, 0);
    CHECK(rz_f32_to_f16(1e6f) == 0x7c00);
    CHECK(rz_bf16_to_f32(rz_f32_to_bf16(1.0f)) == 1.0f);
    CHECK(rz_bf16_to_f32(rz_f32_to_bf16(3.14159f)) == 3.140625f);
}

/* An empty buffer and a packer writing into it. */
static void sbuf_init(msgpack_sbuffer *sb, msgpack_packer *pk)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
}

static void test_json_roundtrip(void)
{
    CHECK(write_sample(path("j.rzs")) == 0);
    rz_err e = {0};
    rz_reader *r;
    CHECK(rz_reader_open(path("j.rzs"), NULL, &r, &e) == 0);
    const msgpack_object *rec;
    int same = 0, total = 0;
    while (rz_reader_next(r, &rec, NULL, &e) == 0 && rec) {
        char *text = NULL;
        size_t tn = 0;
        FILE *mem = open_memstream(&text, &tn);
        rz_json_print(mem, rec, 1);
        fclose(mem);
        msgpack_sbuffer a, b;
        msgpack_packer pa, pb;
        sbuf_init(&a, &pa);
        sbuf_init(&b, &pb);
        msgpack_pack_object(&pa, *rec);
        CHECK(rz_json_to_msgpack(text, tn, &pb, &e) == 0);
        total++;
        if (a.size == b.size && memcmp(a.data, b.data, a.size) == 0) same++;
        else printf("#   differs: %s\n", text);
        free(text);
        msgpack_sbuffer_destroy(&a);
        msgpack_sbuffer_destroy(&b);
    }
    rz_reader_close(r);
    CHECK(total == 4 && same == total);
    /* malformed JSON is an input error with a position */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    CHECK(rz_json_to_msgpack("{\"a\": [1, 2", 11, &pk, &e) == RZ_EINPUT && strstr(e.msg, "byte"));
    CHECK(rz_json_to_msgpack("{\"d\":{\"$bytes\":4}}", 18, &pk, &e) == RZ_EINPUT && strstr(e.msg, "--full"));
    msgpack_sbuffer_destroy(&sb);
}

static void test_writer_abort_leaves_nothing(void)
{
    rz_err e = {0};
    rz_writer *w;
    CHECK(rz_writer_open(path("never.rzs"), NULL, &w, &e) == 0);
    rz_rec_begin(rz_writer_packer(w), "note", 1, 0);
    rz_writer_emit(w, &e);
    rz_err why = {RZ_EINPUT, "test"};
    rz_writer_abort(w, &why);
    CHECK(access(path("never.rzs"), F_OK) != 0);
    /* and no temporary either */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", dir);
    CHECK(system(cmd) != 0);
}

/* rz_get_hex64: exactly 16 hex digits. The strings that strtoull would also take (a
 * leading space, sign or 0x, which still make 16 characters) are refused; the round trip
 * through rz_rec_hex64 is exact at the extremes. */
static int hex_field(const char *str, uint64_t *out, rz_err *e)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "h", 1);
    msgpack_pack_str_with_body(&pk, str, strlen(str));
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = -1;
    if (msgpack_unpack_next(&u, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS) {
        rz_rec_ctx c = {0};
        rc = rz_get_hex64(&u.data, &c, "h", out, e);
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void test_hex64(void)
{
    rz_err e = {0};
    uint64_t v = 0;
    CHECK(hex_field("ffffffffffffffff", &v, &e) == 0 && v == UINT64_MAX);
    CHECK(hex_field("0123456789abcdEF", &v, &e) == 0 && v == 0x0123456789abcdefULL);
    const char *bad[] = {" 123456789abcdef", "-123456789abcdef", "+123456789abcdef",
                         "0x23456789abcdef", "123456789abcdefg", "123456789abcdef", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        e.msg[0] = 0;
        CHECK(hex_field(bad[i], &v, &e) != 0 && strstr(e.msg, "16 hex digits"));
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    rz_rec_hex64(&pk, "h", 0x8000000000000001ULL);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    rz_rec_ctx c = {0};
    CHECK(msgpack_unpack_next(&u, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS &&
          rz_get_hex64(&u.data, &c, "h", &v, &e) == 0 && v == 0x8000000000000001ULL);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* A field table packs the same bytes as the fields written by hand (msgpack-c directly,
 * not through rz_rec_*), decodes them back (a choice of three by its index, the last one
 * included), keeps an absent optional member as preset, and rejects an out-of-range
 * integer, a NaN or out-of-range double or float, a boolean written as an integer, an
 * unknown choice (listing the three) and an over-long string, naming the field. A float
 * member round-trips exactly (float → double → float). */
typedef struct {
    int i;
    int64_t big;
    double x;
    char name[8];
    int flag;
    double opt;
    float f;
    int on;
} ft_rec;
static const char *const ft_modes[] = {"off", "on", "auto", NULL};
static const rz_field_spec ft_fields[] = {
    RZ_FIELD_INT(ft_rec, i, -3, 7, 0),
    RZ_FIELD_I64(ft_rec, big, 0, INT64_MAX, 0),
    RZ_FIELD_F64(ft_rec, x, 0, 1, 0),
    RZ_FIELD_STR(ft_rec, name, 0),
    RZ_FIELD_PICK(ft_rec, "mode", flag, ft_modes, 0),
    RZ_FIELD_F32(ft_rec, f, -2, 2, 0),
    RZ_FIELD_BOOL(ft_rec, on, 0),
    RZ_FIELD_F64(ft_rec, opt, -1, 1, 1),
};

static void hand_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* Decodes the first object of sb with table f[n] into *obj (preset by the caller). */
static int table_decode(const msgpack_sbuffer *sb, void *obj, const rz_field_spec *f, int n, rz_err *e)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    rz_rec_ctx c = {"t.rz", 0, "ft"};
    int rc = msgpack_unpack_next(&u, sb->data, sb->size, &off) == MSGPACK_UNPACK_SUCCESS
                 ? rz_rec_fields_decode(&u.data, &c, obj, f, n, e)
                 : -1;
    msgpack_unpacked_destroy(&u);
    return rc;
}
static int ft_decode(const msgpack_sbuffer *sb, ft_rec *r, rz_err *e)
{
    return table_decode(sb, r, ft_fields, RZ_NFIELDS(ft_fields), e);
}

/* Packs r's fields by hand in the table's order ("opt" only when with_opt). */
static void ft_pack_hand(msgpack_sbuffer *sb, const ft_rec *r, int with_opt)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 7 + with_opt);
    hand_str(&pk, "i"), msgpack_pack_int64(&pk, r->i);
    hand_str(&pk, "big"), msgpack_pack_int64(&pk, r->big);
    hand_str(&pk, "x"), msgpack_pack_double(&pk, r->x);
    hand_str(&pk, "name"), hand_str(&pk, r->name);
    hand_str(&pk, "mode"), hand_str(&pk, r->flag == 2 ? "auto" : r->flag ? "on" : "off");
    hand_str(&pk, "f"), msgpack_pack_double(&pk, (double)r->f); /* a float travels as a double */
    hand_str(&pk, "on"), r->on ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    if (with_opt) hand_str(&pk, "opt"), msgpack_pack_double(&pk, r->opt);
}

static void test_field_table(void)
{
    ft_rec a = {-3, INT64_MAX, 0.25, "seven77", 2, -0.5, 0.1f, 1};
    msgpack_sbuffer sb, hand;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&hand);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, RZ_NFIELDS(ft_fields));
    rz_rec_fields_pack(&pk, &a, ft_fields, RZ_NFIELDS(ft_fields));
    ft_pack_hand(&hand, &a, 1);
    CHECK(sb.size == hand.size && memcmp(sb.data, hand.data, sb.size) == 0);

    rz_err e = {0};
    ft_rec b;
    memset(&b, 0x55, sizeof b);
    CHECK(ft_decode(&sb, &b, &e) == 0);
    CHECK(b.i == -3 && b.big == INT64_MAX && b.x == 0.25 && !strcmp(b.name, "seven77") && b.flag == 2 && b.opt == -0.5 &&
          b.f == 0.1f && b.on == 1);

    /* the optional field absent: the preset survives; every other field still read */
    msgpack_sbuffer_clear(&hand);
    a.flag = 0;
    ft_pack_hand(&hand, &a, 0);
    memset(&b, 0, sizeof b);
    b.opt = 0.75;
    CHECK(ft_decode(&hand, &b, &e) == 0 && b.opt == 0.75 && b.flag == 0 && b.i == -3);

    /* one bad value at a time, each rejected with the field's name in the message */
    struct { ft_rec r; const char *field; } bad[] = {
        {{8, 0, 0.5, "n", 0, 0, 0, 0}, "'i'"},          /* int above its bound */
        {{0, 0, NAN, "n", 0, 0, 0, 0}, "'x'"},          /* NaN fails every bound */
        {{0, 0, 1.5, "n", 0, 0, 0, 0}, "'x'"},          /* double above its bound */
        {{0, 0, 0.5, "n", 0, 2.0, 0, 0}, "'opt'"},      /* an optional field present is checked */
        {{0, 0, 0.5, "n", 0, 0, NAN, 0}, "'f'"},  /* a float: NaN fails */
        {{0, 0, 0.5, "n", 0, 0, 3, 0}, "'f'"},    /* a float above its bound */
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        msgpack_sbuffer_clear(&hand);
        ft_pack_hand(&hand, &bad[k].r, 1);
        e.msg[0] = 0;
        CHECK(ft_decode(&hand, &b, &e) == RZ_EINPUT && strstr(e.msg, bad[k].field) && strstr(e.msg, "t.rz"));
    }
    /* a string one byte too long for its array, and a choice that is none of the three */
    const char *keys[] = {"name", "mode"};
    const char *vals[] = {"eight888", "maybe"};
    for (int k = 0; k < 2; k++) {
        msgpack_sbuffer_clear(&hand);
        msgpack_packer_init(&pk, &hand, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 5);
        hand_str(&pk, "i"), msgpack_pack_int64(&pk, 0);
        hand_str(&pk, "big"), msgpack_pack_int64(&pk, 0);
        hand_str(&pk, "x"), msgpack_pack_double(&pk, 0);
        hand_str(&pk, "name"), hand_str(&pk, k == 0 ? vals[0] : "ok");
        hand_str(&pk, "mode"), hand_str(&pk, k == 1 ? vals[1] : "on");
        e.msg[0] = 0;
        CHECK(ft_decode(&hand, &b, &e) == RZ_EINPUT && strstr(e.msg, keys[k]));
        if (k == 1) CHECK(strstr(e.msg, "'maybe': expected \"off\", \"on\" or \"auto\"")); /* the list, spelled out */
    }
    /* a boolean written as the integer 1, and a float beyond float's range: rejected,
     * naming the field */
    for (int k = 0; k < 2; k++) {
        msgpack_sbuffer_clear(&hand);
        msgpack_packer_init(&pk, &hand, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 7);
        hand_str(&pk, "i"), msgpack_pack_int64(&pk, 0);
        hand_str(&pk, "big"), msgpack_pack_int64(&pk, 0);
        hand_str(&pk, "x"), msgpack_pack_double(&pk, 0);
        hand_str(&pk, "name"), hand_str(&pk, "ok");
        hand_str(&pk, "mode"), hand_str(&pk, "on");
        hand_str(&pk, "f"), msgpack_pack_double(&pk, k == 1 ? 1e300 : 0.5);
        hand_str(&pk, "on");
        if (k == 0) msgpack_pack_int64(&pk, 1);
        else msgpack_pack_true(&pk);
        e.msg[0] = 0;
        CHECK(ft_decode(&hand, &b, &e) == RZ_EINPUT && strstr(e.msg, k == 0 ? "'on'" : "'f'"));
    }
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&hand);
}

/* The unsigned 64-bit kind: the bytes are MessagePack's unsigned form as msgpack-c writes
 * it by hand (2^64 - 1 does not fit the int64 of rz_get_int), and a negative integer or a
 * float in its place is refused naming the field. */
typedef struct {
    uint64_t seed;
} u64_rec;
static const rz_field_spec u64_fields[] = {RZ_FIELD_U64(u64_rec, seed, 0)};

static void test_field_table_u64(void)
{
    const uint64_t vals[] = {0, 127, 1u << 31, UINT64_MAX};
    /* k < 4: vals[k] packed by the table and by hand; k = 4, 5: -1 and 3.0 by hand */
    for (int k = 0; k < 6; k++) {
        msgpack_sbuffer sb, hand;
        msgpack_packer pk, hp;
        sbuf_init(&sb, &pk);
        sbuf_init(&hand, &hp);
        u64_rec a = {k < 4 ? vals[k] : 0}, b = {42};
        rz_err e = {0};
        msgpack_pack_map(&hp, 1);
        hand_str(&hp, "seed");
        if (k < 4) {
            msgpack_pack_uint64(&hp, vals[k]);
            msgpack_pack_map(&pk, 1);
            rz_rec_fields_pack(&pk, &a, u64_fields, 1);
            CHECK(sb.size == hand.size && memcmp(sb.data, hand.data, sb.size) == 0);
            CHECK(table_decode(&sb, &b, u64_fields, 1, &e) == 0 && b.seed == vals[k]);
        } else {
            if (k == 4) msgpack_pack_int64(&hp, -1);
            else msgpack_pack_double(&hp, 3.0);
            CHECK(table_decode(&hand, &b, u64_fields, 1, &e) == RZ_EINPUT && strstr(e.msg, "'seed'") && b.seed == 42);
        }
        msgpack_sbuffer_destroy(&sb);
        msgpack_sbuffer_destroy(&hand);
    }
}

/* A member of a member is keyed by its last name; HEX64 writes 16 hex digits
 * (rz_rec_hex64's form, here packed by hand). */
typedef struct {
    struct {
        int dim;
    } config;
    uint64_t id;
} nest_rec;
static const rz_field_spec nest_fields[] = {RZ_FIELD_INT(nest_rec, config.dim, 1, 9, 0), RZ_FIELD_HEX64(nest_rec, id, 0)};

static void test_field_table_nested_hex(void)
{
    /* k = 0: good, packed by the table and by hand; 1: dim out of range; 2: id not hex */
    for (int k = 0; k < 3; k++) {
        msgpack_sbuffer sb, hand;
        msgpack_packer pk, hp;
        sbuf_init(&sb, &pk);
        sbuf_init(&hand, &hp);
        nest_rec a = {{7}, 0xfedcba9876543210ULL}, b = {{0}, 0};
        rz_err e = {0};
        msgpack_pack_map(&hp, 2);
        hand_str(&hp, "dim"), msgpack_pack_int64(&hp, k == 1 ? 10 : 7);
        hand_str(&hp, "id"), hand_str(&hp, k == 2 ? "fedcba987654321g" : "fedcba9876543210");
        if (k == 0) {
            msgpack_pack_map(&pk, 2);
            rz_rec_fields_pack(&pk, &a, nest_fields, 2);
            CHECK(sb.size == hand.size && memcmp(sb.data, hand.data, sb.size) == 0);
            CHECK(table_decode(&sb, &b, nest_fields, 2, &e) == 0 && b.config.dim == 7 && b.id == a.id);
        } else {
            CHECK(table_decode(&hand, &b, nest_fields, 2, &e) == RZ_EINPUT && strstr(e.msg, k == 1 ? "'dim'" : "'id'"));
        }
        msgpack_sbuffer_destroy(&sb);
        msgpack_sbuffer_destroy(&hand);
    }
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    RUN(test_roundtrip);
    RUN(test_truncation_detected);
    RUN(test_corruption_detected);
    RUN(test_tensor_validation);
    RUN(test_f16);
    RUN(test_json_roundtrip);
    RUN(test_writer_abort_leaves_nothing);
    RUN(test_hex64);
    RUN(test_field_table);
    RUN(test_field_table_u64);
    RUN(test_field_table_nested_hex);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) return 1;
    return check_summary();
}
