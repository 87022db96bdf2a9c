/* json.c — MessagePack records <-> JSON text (see json.h for the mapping).
 *
 * The parser builds a small tree first (JSON does not announce container sizes, a
 * MessagePack header must), then packs it. Nesting is limited to 64 levels and every
 * string/number is bounded by the input length, so a hostile line costs at most a few
 * times its own size. */
#include "json.h"

#include <errno.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

/* ---- printing ---------------------------------------------------------------------- */

static void print_str(FILE *out, const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (ch < 0x20) fprintf(out, "\\u%04x", ch);
            else fputc(ch, out);
        }
    }
    fputc('"', out);
}

static void print_f64(FILE *out, double v)
{
    if (isnan(v)) fputs("\"NaN\"", out);
    else if (isinf(v)) fputs(v > 0 ? "\"Infinity\"" : "\"-Infinity\"", out);
    else {
        char buf[40];
        snprintf(buf, sizeof buf, "%.17g", v);
        /* keep floats recognisable as floats when read back */
        if (!strpbrk(buf, ".eE")) strcat(buf, ".0");
        fputs(buf, out);
    }
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void print_base64(FILE *out, const unsigned char *p, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        fputc(b64[v >> 18 & 63], out);
        fputc(b64[v >> 12 & 63], out);
        fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', out);
        fputc(i + 2 < n ? b64[v & 63] : '=', out);
    }
    fputc('"', out);
}

/* min, max, mean, rms of a tensor record's values, as a JSON object. */
static void print_tensor_stats(FILE *out, const msgpack_object *rec)
{
    rz_tensor_view t;
    if (rz_tensor_decode(rec, NULL, &t, NULL) != RZ_OK || t.count == 0) return;
    double mn = INFINITY, mx = -INFINITY, sum = 0, sq = 0;
    const unsigned char *p = t.data;
    for (int64_t i = 0; i < t.count; i++) {
        double v;
        switch (t.dtype) {
        case RZ_F32: { float f; memcpy(&f, p + 4 * i, 4); v = f; break; }
        case RZ_F16: v = rz_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        case RZ_BF16: v = rz_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        case RZ_I8: v = (int8_t)p[i]; break;
        case RZ_U8: v = p[i]; break;
        case RZ_I32: { int32_t x; memcpy(&x, p + 4 * i, 4); v = x; break; }
        default: return;
        }
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
        sum += v;
        sq += v * v;
    }
    fputs(",\"$stats\":{\"min\":", out);
    print_f64(out, mn);
    fputs(",\"max\":", out);
    print_f64(out, mx);
    fputs(",\"mean\":", out);
    print_f64(out, sum / (double)t.count);
    fputs(",\"rms\":", out);
    print_f64(out, sqrt(sq / (double)t.count));
    fputc('}', out);
}

static void print_obj(FILE *out, const msgpack_object *o, int full, int depth)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: fputs("null", out); break;
    case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", out); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(out, "%llu", (unsigned long long)o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(out, "%lld", (long long)o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: print_f64(out, o->via.f64); break;
    case MSGPACK_OBJECT_STR: print_str(out, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN:
        if (full) {
            fputs("{\"$bin\":", out);
            print_base64(out, (const unsigned char *)o->via.bin.ptr, o->via.bin.size);
            fputc('}', out);
        } else {
            fprintf(out, "{\"$bytes\":%u}", o->via.bin.size);
        }
        break;
    case MSGPACK_OBJECT_ARRAY:
        fputc('[', out);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i) fputc(',', out);
            print_obj(out, &o->via.array.ptr[i], full, depth + 1);
        }
        fputc(']', out);
        break;
    case MSGPACK_OBJECT_MAP: {
        fputc('{', out);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i) fputc(',', out);
            const msgpack_object *k = &o->via.map.ptr[i].key;
            if (k->type == MSGPACK_OBJECT_STR) print_str(out, k->via.str.ptr, k->via.str.size);
            else { /* JSON keys are strings: render the key as JSON text in a string */
                fputs("\"?\"", out);
            }
            fputc(':', out);
            print_obj(out, &o->via.map.ptr[i].val, full, depth + 1);
        }
        const msgpack_object *t = depth == 0 ? rz_field(o, "type") : NULL;
        if (!full && t && t->type == MSGPACK_OBJECT_STR && t->via.str.size == 6 &&
            memcmp(t->via.str.ptr, "tensor", 6) == 0)
            print_tensor_stats(out, o);
        fputc('}', out);
        break;
    }
    default: fputs("null", out); break;
    }
}

void rz_json_print(FILE *out, const msgpack_object *o, int full) { print_obj(out, o, full, 0); }

/* ---- parsing ----------------------------------------------------------------------- */

typedef enum { J_NULL, J_TRUE, J_FALSE, J_INT, J_UINT, J_F64, J_STR, J_BIN, J_ARR, J_OBJ } jkind;

typedef struct jnode {
    jkind kind;
    int64_t i;
    uint64_t u;
    double f;
    char *s; /* J_STR, J_BIN bytes; key of an object member in `key` */
    size_t n;
    char *key;
    size_t keyn;
    struct jnode *child, *next; /* J_ARR/J_OBJ children as a list */
    size_t count;
} jnode;

typedef struct {
    const char *p, *end, *start;
    rz_err *e;
    const char *key; /* the member being parsed, for messages (NULL: none) */
    size_t keyn;
} jparser;

static int jfail(jparser *jp, const char *what)
{
    if (jp->key)
        return rz_fail(jp->e, RZ_EINPUT, "JSON: field '%.*s': %s at byte %ld", (int)(jp->keyn > 64 ? 64 : jp->keyn),
                       jp->key, what, (long)(jp->p - jp->start));
    return rz_fail(jp->e, RZ_EINPUT, "JSON: %s at byte %ld", what, (long)(jp->p - jp->start));
}

static void jfree(jnode *n)
{
    while (n) {
        jnode *next = n->next;
        jfree(n->child);
        free(n->s);
        free(n->key);
        free(n);
        n = next;
    }
}

static void skip_ws(jparser *jp)
{
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r')) jp->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void put_utf8(char *out, size_t *o, unsigned cp)
{
    if (cp < 0x80) out[(*o)++] = (char)cp;
    else if (cp < 0x800) {
        out[(*o)++] = (char)(0xc0 | cp >> 6);
        out[(*o)++] = (char)(0x80 | (cp & 63));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xe0 | cp >> 12);
        out[(*o)++] = (char)(0x80 | (cp >> 6 & 63));
        out[(*o)++] = (char)(0x80 | (cp & 63));
    } else {
        out[(*o)++] = (char)(0xf0 | cp >> 18);
        out[(*o)++] = (char)(0x80 | (cp >> 12 & 63));
        out[(*o)++] = (char)(0x80 | (cp >> 6 & 63));
        out[(*o)++] = (char)(0x80 | (cp & 63));
    }
}

static int parse_string(jparser *jp, char **out, size_t *outn)
{
    jp->p++; /* opening quote */
    const char *q = jp->p;
    while (q < jp->end && *q != '"') q += (*q == '\\') ? 2 : 1;
    if (q >= jp->end) return jfail(jp, "unterminated string");
    char *s = malloc((size_t)(q - jp->p) + 1); /* escapes only shrink */
    if (!s) return rz_fail(jp->e, RZ_EINTERNAL, "out of memory");
    size_t o = 0;
    while (*jp->p != '"') {
        char c = *jp->p++;
        if (c != '\\') {
            if ((unsigned char)c < 0x20) { free(s); return jfail(jp, "control character in string"); }
            s[o++] = c;
            continue;
        }
        c = *jp->p++;
        switch (c) {
        case '"': s[o++] = '"'; break;
        case '\\': s[o++] = '\\'; break;
        case '/': s[o++] = '/'; break;
        case 'b': s[o++] = '\b'; break;
        case 'f': s[o++] = '\f'; break;
        case 'n': s[o++] = '\n'; break;
        case 'r': s[o++] = '\r'; break;
        case 't': s[o++] = '\t'; break;
        case 'u': {
            unsigned cp = 0;
            for (int k = 0; k < 4; k++) {
                int h = jp->p < jp->end ? hexval(*jp->p++) : -1;
                if (h < 0) { free(s); return jfail(jp, "bad \\u escape"); }
                cp = cp << 4 | (unsigned)h;
            }
            if (cp >= 0xd800 && cp < 0xdc00 && jp->end - jp->p >= 6 && jp->p[0] == '\\' && jp->p[1] == 'u') {
                unsigned lo = 0;
                int okh = 1;
                for (int k = 0; k < 4; k++) {
                    int h = hexval(jp->p[2 + k]);
                    if (h < 0) okh = 0;
                    lo = lo << 4 | (unsigned)(h < 0 ? 0 : h);
                }
                if (okh && lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    jp->p += 6;
                }
            }
            /* a surrogate left unpaired has no UTF-8 encoding: reject, never store it */
            if (cp >= 0xd800 && cp < 0xe000) {
                free(s);
                return jfail(jp, "lone UTF-16 surrogate in \\u escape (not valid Unicode)");
            }
            put_utf8(s, &o, cp); /* \uXXXX is 6 bytes in, at most 4 out */
            break;
        }
        default: free(s); return jfail(jp, "bad escape in string");
        }
    }
    jp->p++;
    s[o] = 0;
    *out = s;
    *outn = o;
    return RZ_OK;
}

static int b64val(char c)
{
    const char *p = strchr(b64, c);
    return c && p ? (int)(p - b64) : -1;
}

static int decode_base64(jparser *jp, const char *s, size_t n, char **out, size_t *outn)
{
    if (n % 4) return jfail(jp, "$bin: base64 length is not a multiple of 4");
    char *b = malloc(n / 4 * 3 + 1);
    if (!b) return rz_fail(jp->e, RZ_EINTERNAL, "out of memory");
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) v[k] = s[i + k] == '=' ? 0 : b64val(s[i + k]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0) { free(b); return jfail(jp, "$bin: bad base64"); }
        unsigned x = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        b[o++] = (char)(x >> 16);
        if (s[i + 2] != '=') b[o++] = (char)(x >> 8 & 255);
        if (s[i + 3] != '=') b[o++] = (char)(x & 255);
    }
    *out = b;
    *outn = o;
    return RZ_OK;
}

static int parse_value(jparser *jp, jnode **out, int depth);

static int parse_container(jparser *jp, jnode *n, int depth)
{
    char close = n->kind == J_ARR ? ']' : '}';
    jnode **tail = &n->child;
    jp->p++;
    skip_ws(jp);
    if (jp->p < jp->end && *jp->p == close) {
        jp->p++;
        return RZ_OK;
    }
    for (;;) {
        char *key = NULL;
        size_t keyn = 0;
        int rc;
        skip_ws(jp);
        if (n->kind == J_OBJ) {
            if (jp->p >= jp->end || *jp->p != '"') return jfail(jp, "expected a string key");
            if ((rc = parse_string(jp, &key, &keyn))) return rc;
            skip_ws(jp);
            if (jp->p >= jp->end || *jp->p != ':') { free(key); return jfail(jp, "expected ':'"); }
            jp->p++;
        }
        jnode *child = NULL;
        if (key) jp->key = key, jp->keyn = keyn;
        rc = parse_value(jp, &child, depth + 1);
        if (key) jp->key = NULL; /* the message of a later error names no freed key */
        if (!child) { free(key); return rc; }
        child->key = key; /* attach even a half-parsed child, so the tree frees it */
        child->keyn = keyn;
        *tail = child;
        tail = &child->next;
        n->count++;
        if (rc) return rc;
        skip_ws(jp);
        if (jp->p < jp->end && *jp->p == ',') { jp->p++; continue; }
        if (jp->p < jp->end && *jp->p == close) { jp->p++; break; }
        return jfail(jp, n->kind == J_ARR ? "expected ',' or ']'" : "expected ',' or '}'");
    }
    /* {"$bin": "..."} is binary data; {"$bytes": N} a summary we cannot invert */
    if (n->kind == J_OBJ && n->count == 1 && n->child->keyn == 6 && memcmp(n->child->key, "$bytes", 6) == 0)
        return jfail(jp, "binary data was summarised ({\"$bytes\":...}); produce the JSON with rz-cat --full");
    if (n->kind == J_OBJ && n->count == 1 && n->child->keyn == 4 && memcmp(n->child->key, "$bin", 4) == 0) {
        if (n->child->kind != J_STR) return jfail(jp, "$bin must hold a base64 string");
        char *b = NULL;
        size_t bn = 0;
        int rc = decode_base64(jp, n->child->s, n->child->n, &b, &bn);
        if (rc) return rc;
        jfree(n->child);
        n->child = NULL;
        n->count = 0;
        n->kind = J_BIN;
        n->s = b;
        n->n = bn;
    }
    return RZ_OK;
}

static int parse_value(jparser *jp, jnode **out, int depth)
{
    if (depth > 64) return jfail(jp, "nesting deeper than 64");
    skip_ws(jp);
    if (jp->p >= jp->end) return jfail(jp, "unexpected end of input");
    jnode *n = calloc(1, sizeof *n);
    if (!n) return rz_fail(jp->e, RZ_EINTERNAL, "out of memory");
    *out = n;
    char c = *jp->p;
    size_t left = (size_t)(jp->end - jp->p);
    if (c == '{' || c == '[') {
        n->kind = c == '{' ? J_OBJ : J_ARR;
        return parse_container(jp, n, depth);
    }
    if (c == '"') {
        n->kind = J_STR;
        return parse_string(jp, &n->s, &n->n);
    }
    if (left >= 4 && memcmp(jp->p, "null", 4) == 0) { n->kind = J_NULL; jp->p += 4; return RZ_OK; }
    if (left >= 4 && memcmp(jp->p, "true", 4) == 0) { n->kind = J_TRUE; jp->p += 4; return RZ_OK; }
    if (left >= 5 && memcmp(jp->p, "false", 5) == 0) { n->kind = J_FALSE; jp->p += 5; return RZ_OK; }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char buf[64];
        size_t k = 0;
        int is_float = 0;
        while (jp->p + k < jp->end && k < sizeof buf - 1 && strchr("+-0123456789.eE", jp->p[k])) {
            if (strchr(".eE", jp->p[k])) is_float = 1;
            buf[k] = jp->p[k];
            k++;
        }
        buf[k] = 0;
        char *endp;
        errno = 0;
        if (is_float) {
            n->kind = J_F64;
            n->f = strtod(buf, &endp);
        } else if (buf[0] == '-') {
            n->kind = J_INT;
            n->i = strtoll(buf, &endp, 10);
        } else {
            n->kind = J_UINT;
            n->u = strtoull(buf, &endp, 10);
        }
        if (endp != buf + k || k == 0) return jfail(jp, "malformed number");
        /* strtoll/strtoull clamp to the 64-bit limits: never store a different number */
        if (!is_float && errno == ERANGE) return jfail(jp, "integer out of the 64-bit range");
        if (is_float && !isfinite(n->f)) return jfail(jp, "number too large for a float64");
        if (jp->p + k < jp->end && k == sizeof buf - 1 && strchr("+-0123456789.eE", jp->p[k]))
            return jfail(jp, "number longer than 63 characters");
        jp->p += k;
        return RZ_OK;
    }
    return jfail(jp, "unexpected character");
}

static void pack_node(msgpack_packer *pk, const jnode *n)
{
    switch (n->kind) {
    case J_NULL: msgpack_pack_nil(pk); break;
    case J_TRUE: msgpack_pack_true(pk); break;
    case J_FALSE: msgpack_pack_false(pk); break;
    case J_INT: msgpack_pack_int64(pk, n->i); break;
    case J_UINT: msgpack_pack_uint64(pk, n->u); break;
    case J_F64: msgpack_pack_double(pk, n->f); break;
    case J_STR:
        /* the printer's spellings of non-finite doubles come back as doubles */
        if (n->n == 3 && memcmp(n->s, "NaN", 3) == 0) msgpack_pack_double(pk, NAN);
        else if (n->n == 8 && memcmp(n->s, "Infinity", 8) == 0) msgpack_pack_double(pk, INFINITY);
        else if (n->n == 9 && memcmp(n->s, "-Infinity", 9) == 0) msgpack_pack_double(pk, -INFINITY);
        else {
            msgpack_pack_str(pk, n->n);
            msgpack_pack_str_body(pk, n->s, n->n);
        }
        break;
    case J_BIN:
        msgpack_pack_bin(pk, n->n);
        msgpack_pack_bin_body(pk, n->s, n->n);
        break;
    case J_ARR:
        msgpack_pack_array(pk, n->count);
        for (const jnode *c = n->child; c; c = c->next) pack_node(pk, c);
        break;
    case J_OBJ: {
        size_t real = 0; /* "$stats" is the printer's decoration, not record content */
        for (const jnode *c = n->child; c; c = c->next)
            if (!(c->keyn == 6 && memcmp(c->key, "$stats", 6) == 0)) real++;
        msgpack_pack_map(pk, real);
        for (const jnode *c = n->child; c; c = c->next) {
            if (c->keyn == 6 && memcmp(c->key, "$stats", 6) == 0) continue;
            msgpack_pack_str(pk, c->keyn);
            msgpack_pack_str_body(pk, c->key, c->keyn);
            pack_node(pk, c);
        }
        break;
    }
    }
}

int rz_json_to_msgpack(const char *text, size_t n, msgpack_packer *pk, rz_err *e)
{
    jparser jp = {text, text + n, text, e, NULL, 0};
    jnode *root = NULL;
    int rc = parse_value(&jp, &root, 0);
    if (rc == RZ_OK) {
        skip_ws(&jp);
        if (jp.p != jp.end) rc = jfail(&jp, "trailing characters after the value");
    }
    if (rc == RZ_OK) pack_node(pk, root);
    jfree(root);
    return rc;
}

int rz_json_parse(const char *text, size_t n, msgpack_sbuffer *buf, msgpack_unpacked *out, rz_err *e)
{
    msgpack_unpacked_init(out);
    msgpack_sbuffer_init(buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    int rc = rz_json_to_msgpack(text, n, &pk, e);
    if (rc == RZ_OK && msgpack_unpack_next(out, buf->data, buf->size, NULL) != MSGPACK_UNPACK_SUCCESS)
        rc = rz_fail(e, RZ_EINTERNAL, "JSON: re-reading the packed value failed");
    return rc;
}
