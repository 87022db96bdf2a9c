/* gguf.c — GGUF reader: header, metadata, tensor table, llama models and tokenizers
 * (see gguf.h).
 *
 * Design. The file is memory-mapped read-only. One pass over the header (a bounds-checked
 * cursor: every read first asks whether its bytes remain) records where each key's value
 * and each tensor's data live; nothing is sized from the file before that check. Counts
 * are bounded by the bytes left divided by the smallest encoding of one item, so a
 * tensor_count of 2^40 in a small file fails before any allocation. Values are decoded
 * on demand from the recorded offsets (they were validated in the pass).
 */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record.h"

enum { V_U8, V_I8, V_U16, V_I16, V_U32, V_I32, V_F32, V_BOOL, V_STR, V_ARR, V_U64, V_I64, V_F64, V_COUNT };
static const unsigned char vsize[V_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

#define MAX_NAME 64           /* ggml's GGML_MAX_NAME, NUL included */
#define MAX_KEY 65535         /* the spec's key length bound */
#define MAX_DIMS 4
#define MAX_ELEMS ((uint64_t)1 << 40)
#define DEFAULT_ALIGN 32

typedef struct {
    const unsigned char *key;
    size_t klen;
    uint32_t type, atype; /* atype, count: arrays only */
    uint64_t count;
    size_t off;           /* value (arrays: first element) */
} gkv;

typedef struct {
    char name[MAX_NAME];
    int ndim;
    uint64_t ne[MAX_DIMS];
    uint32_t type;
    uint64_t off, nbytes, nelem;
    int used;
} gtensor;

typedef struct {
    const char *path;
    unsigned char *map;
    size_t size;
    uint32_t version;
    uint64_t n_kv, n_t;
    gkv *kv;
    gtensor *t;
    size_t data;
    uint64_t align;
} gguf;

/* ---------------------------------------------------------------- ggml types */

static const char *type_name(uint32_t t)
{
    static const char *const names[] = {
        "f32", "f16", "q4_0", "q4_1", "q4_2 (removed)", "q4_3 (removed)", "q5_0", "q5_1", "q8_0", "q8_1",
        "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "q8_K", "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s", "iq4_nl",
        "iq3_s", "iq2_s", "iq4_xs", "i8", "i16", "i32", "i64", "f64", "iq1_m", "bf16", "q4_0_4_4 (removed)",
        "q4_0_4_8 (removed)", "q4_0_8_8 (removed)", "tq1_0", "tq2_0", "iq4_nl_4_4 (removed)",
        "iq4_nl_4_8 (removed)", "iq4_nl_8_8 (removed)", "mxfp4"};
    return t < sizeof names / sizeof *names ? names[t] : "unknown";
}

enum { T_F32 = 0, T_F16 = 1, T_Q8_0 = 8, T_BF16 = 30 };
#define QK8_0 32 /* q8_0 block: f16 scale d, then 32 int8 q; value = d * q */

/* Bytes of a tensor of type t with ne0 innermost and n elements; 0 if unsupported. */
static uint64_t tensor_bytes(uint32_t t, uint64_t ne0, uint64_t n)
{
    switch (t) {
    case T_F32: return 4 * n;
    case T_F16:
    case T_BF16: return 2 * n;
    case T_Q8_0: return ne0 % QK8_0 ? 0 : n / QK8_0 * (2 + QK8_0);
    default: return 0;
    }
}

/* ---------------------------------------------------------------- cursor */

typedef struct {
    const gguf *g;
    size_t pos;
    rz_err *e;
} cursor;

static int need(cursor *c, uint64_t n, const char *what)
{
    if (n <= c->g->size - c->pos) return 0;
    return rz_fail(c->e, RZ_EINPUT, "%s: truncated at byte %zu: %s needs %llu bytes, %zu left", c->g->path, c->pos,
                   what, (unsigned long long)n, c->g->size - c->pos);
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int rd(cursor *c, int n, uint64_t *v, const char *what)
{
    if (need(c, (uint64_t)n, what)) return RZ_EINPUT;
    *v = get_le(c->g->map + c->pos, n);
    c->pos += (size_t)n;
    return 0;
}

/* A string: u64 length, then that many bytes (at most max). */
static int rd_str(cursor *c, uint64_t max, const unsigned char **s, size_t *len, const char *what)
{
    uint64_t n;
    if (rd(c, 8, &n, what)) return RZ_EINPUT;
    if (n > max)
        return rz_fail(c->e, RZ_EINPUT, "%s: %s: length %llu at byte %zu is over the bound of %llu", c->g->path, what,
                       (unsigned long long)n, c->pos - 8, (unsigned long long)max);
    if (need(c, n, what)) return RZ_EINPUT;
    *s = c->g->map + c->pos;
    *len = (size_t)n;
    c->pos += (size_t)n;
    return 0;
}

/* Skips (validating) one value of type t; arrays of arrays are refused. */
static int skip_value(cursor *c, uint32_t t, const char *key, uint32_t *atype, uint64_t *count)
{
    if (t >= V_COUNT)
        return rz_fail(c->e, RZ_EINPUT, "%s: key '%s': unknown value type %u", c->g->path, key, t);
    if (t == V_STR) {
        const unsigned char *s;
        size_t n;
        return rd_str(c, c->g->size, &s, &n, key);
    }
    if (t != V_ARR) return need(c, vsize[t], key) ? RZ_EINPUT : (c->pos += vsize[t], 0);
    uint64_t at, n;
    if (rd(c, 4, &at, key) || rd(c, 8, &n, key)) return RZ_EINPUT;
    if (at >= V_COUNT || at == V_ARR)
        return rz_fail(c->e, RZ_EINPUT, "%s: key '%s': array element type %llu is not supported", c->g->path, key,
                       (unsigned long long)at);
    size_t left = c->g->size - c->pos, esz = at == V_STR ? 8 : vsize[at];
    if (n > left / esz)
        return rz_fail(c->e, RZ_EINPUT, "%s: key '%s': array count %llu cannot fit in the %zu bytes left",
                       c->g->path, key, (unsigned long long)n, left);
    *atype = (uint32_t)at;
    *count = n;
    if (at != V_STR) {
        c->pos += (size_t)n * esz;
        return 0;
    }
    for (uint64_t i = 0; i < n; i++) {
        const unsigned char *s;
        size_t len;
        if (rd_str(c, c->g->size, &s, &len, key)) return RZ_EINPUT;
    }
    return 0;
}

static int cmp_tensor_off(const void *a, const void *b)
{
    const gtensor *x = *(gtensor *const *)a, *y = *(gtensor *const *)b;
    return (x->off > y->off) - (x->off < y->off);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp((*(gtensor *const *)a)->name, (*(gtensor *const *)b)->name);
}

static int cmp_kv_key(const void *a, const void *b)
{
    const gkv *x = *(gkv *const *)a, *y = *(gkv *const *)b;
    size_t k = x->klen < y->klen ? x->klen : y->klen;
    int r = memcmp(x->key, y->key, k);
    return r ? r : (x->klen > y->klen) - (x->klen < y->klen);
}

static void gguf_close(gguf *g)
{
    if (g->map) munmap(g->map, g->size);
    free(g->kv);
    free(g->t);
    memset(g, 0, sizeof *g);
}

static const gkv *find_kv(const gguf *g, const char *key)
{
    size_t n = strlen(key);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].klen == n && memcmp(g->kv[i].key, key, n) == 0) return &g->kv[i];
    return NULL;
}

/* Integer value of any integer (or bool) type, in [lo, hi]. */
static int kv_int(const gguf *g, const char *key, int required, int64_t def, int64_t lo, int64_t hi, int64_t *v,
                  rz_err *e)
{
    const gkv *k = find_kv(g, key);
    if (!k) {
        if (required) return rz_fail(e, RZ_EINPUT, "%s: key '%s' is missing", g->path, key);
        *v = def;
        return 0;
    }
    const unsigned char *p = g->map + k->off;
    int64_t x;
    switch (k->type) {
    case V_U8: case V_BOOL: x = p[0]; break;
    case V_I8: x = (int8_t)p[0]; break;
    case V_U16: x = (int64_t)get_le(p, 2); break;
    case V_I16: x = (int16_t)get_le(p, 2); break;
    case V_U32: x = (int64_t)get_le(p, 4); break;
    case V_I32: x = (int32_t)get_le(p, 4); break;
    case V_U64: {
        uint64_t u = get_le(p, 8);
        x = u > INT64_MAX ? INT64_MAX : (int64_t)u;
        break;
    }
    case V_I64: x = (int64_t)get_le(p, 8); break;
    default: return rz_fail(e, RZ_EINPUT, "%s: key '%s' is not an integer (value type %u)", g->path, key, k->type);
    }
    if (x < lo || x > hi)
        return rz_fail(e, RZ_EINPUT, "%s: key '%s' = %lld is not in [%lld, %lld]", g->path, key, (long long)x,
                       (long long)lo, (long long)hi);
    *v = x;
    return 0;
}

static int kv_float(const gguf *g, const char *key, int required, double def, double *v, rz_err *e)
{
    const gkv *k = find_kv(g, key);
    if (!k) {
        if (required) return rz_fail(e, RZ_EINPUT, "%s: key '%s' is missing", g->path, key);
        *v = def;
        return 0;
    }
    uint64_t u = get_le(g->map + k->off, k->type == V_F64 ? 8 : 4);
    if (k->type == V_F32) {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, 4);
        *v = f;
    } else if (k->type == V_F64) {
        memcpy(v, &u, 8);
    } else {
        return rz_fail(e, RZ_EINPUT, "%s: key '%s' is not a float (value type %u)", g->path, key, k->type);
    }
    if (!isfinite(*v)) return rz_fail(e, RZ_EINPUT, "%s: key '%s' is not finite", g->path, key);
    return 0;
}

/* String value copied into out (NUL-terminated, at most n-1 bytes); "" when absent. */
static int kv_str(const gguf *g, const char *key, int required, char *out, size_t n, rz_err *e)
{
    const gkv *k = find_kv(g, key);
    out[0] = '\0';
    if (!k) return required ? rz_fail(e, RZ_EINPUT, "%s: key '%s' is missing", g->path, key) : 0;
    if (k->type != V_STR) return rz_fail(e, RZ_EINPUT, "%s: key '%s' is not a string", g->path, key);
    uint64_t len = get_le(g->map + k->off, 8);
    if (len >= n) return rz_fail(e, RZ_EINPUT, "%s: key '%s': string of %llu bytes is too long", g->path, key,
                                 (unsigned long long)len);
    memcpy(out, g->map + k->off + 8, (size_t)len);
    out[len] = '\0';
    if (strlen(out) != len) return rz_fail(e, RZ_EINPUT, "%s: key '%s' holds a NUL byte", g->path, key);
    return 0;
}

/* ---------------------------------------------------------------- opening */

static int parse_tensor_infos(gguf *g, cursor *c, rz_err *e)
{
    for (uint64_t i = 0; i < g->n_t; i++) {
        gtensor *t = &g->t[i];
        const unsigned char *s;
        size_t len;
        char what[64];
        snprintf(what, sizeof what, "tensor %llu name", (unsigned long long)i);
        if (rd_str(c, MAX_NAME - 1, &s, &len, what)) return RZ_EINPUT;
        memcpy(t->name, s, len);
        t->name[len] = '\0';
        if (strlen(t->name) != len || len == 0)
            return rz_fail(e, RZ_EINPUT, "%s: tensor %llu: name is empty or holds a NUL byte", g->path,
                           (unsigned long long)i);
        uint64_t nd, ty;
        if (rd(c, 4, &nd, t->name)) return RZ_EINPUT;
        if (nd < 1 || nd > MAX_DIMS)
            return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': n_dims %llu is not in [1, %d]", g->path, t->name,
                           (unsigned long long)nd, MAX_DIMS);
        t->ndim = (int)nd;
        t->nelem = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (rd(c, 8, &t->ne[d], t->name)) return RZ_EINPUT;
            if (t->ne[d] < 1 || t->ne[d] > MAX_ELEMS / t->nelem)
                return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': dimension %d = %llu (elements must be in [1, 2^40])",
                               g->path, t->name, d, (unsigned long long)t->ne[d]);
            t->nelem *= t->ne[d];
        }
        if (rd(c, 4, &ty, t->name) || rd(c, 8, &t->off, t->name)) return RZ_EINPUT;
        t->type = (uint32_t)ty;
        t->nbytes = tensor_bytes(t->type, t->ne[0], t->nelem);
        if (!t->nbytes) {
            if (t->type == T_Q8_0)
                return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': q8_0 needs rows of a multiple of 32, not %llu",
                               g->path, t->name, (unsigned long long)t->ne[0]);
            return rz_fail(e, RZ_EINPUT, "%s: tensor '%s' has type %s (%u); rizz reads f32, f16, bf16 and q8_0",
                           g->path, t->name, type_name(t->type), t->type);
        }
    }
    return 0;
}

/* Data section: tensors inside the file, aligned, not overlapping; names unique. */
static int check_tensor_layout(gguf *g, rz_err *e)
{
    size_t avail = g->size - g->data;
    gtensor **ord = rz_malloc((g->n_t ? g->n_t : 1) * sizeof *ord, e);
    if (!ord) return RZ_EINTERNAL;
    int rc = 0;
    for (uint64_t i = 0; i < g->n_t && !rc; i++) {
        gtensor *t = &g->t[i];
        ord[i] = t;
        if (t->off % g->align)
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s': offset %llu is not a multiple of the alignment %llu", g->path,
                         t->name, (unsigned long long)t->off, (unsigned long long)g->align);
        else if (t->off > avail || t->nbytes > avail - t->off)
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s': offset %llu + %llu bytes is past the end of the data "
                         "section (%zu bytes)", g->path, t->name, (unsigned long long)t->off,
                         (unsigned long long)t->nbytes, avail);
    }
    if (!rc && g->n_t > 1) {
        qsort(ord, (size_t)g->n_t, sizeof *ord, cmp_tensor_off);
        for (uint64_t i = 1; i < g->n_t && !rc; i++)
            if (ord[i - 1]->off + ord[i - 1]->nbytes > ord[i]->off)
                rc = rz_fail(e, RZ_EINPUT, "%s: tensors '%s' and '%s' overlap (offsets %llu + %llu bytes and %llu)",
                             g->path, ord[i - 1]->name, ord[i]->name, (unsigned long long)ord[i - 1]->off,
                             (unsigned long long)ord[i - 1]->nbytes, (unsigned long long)ord[i]->off);
        qsort(ord, (size_t)g->n_t, sizeof *ord, cmp_tensor_name);
        for (uint64_t i = 1; i < g->n_t && !rc; i++)
            if (strcmp(ord[i - 1]->name, ord[i]->name) == 0)
                rc = rz_fail(e, RZ_EINPUT, "%s: tensor name '%s' appears twice", g->path, ord[i]->name);
    }
    free(ord);
    return rc;
}

static int gguf_open(const char *path, gguf *g, rz_err *e)
{
    memset(g, 0, sizeof *g);
    g->path = path;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return rz_fail(e, RZ_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rz_fail(e, RZ_EINPUT, "%s: not a regular file", path);
    }
    if (st.st_size < 24) {
        close(fd);
        return rz_fail(e, RZ_EINPUT, "%s: truncated: %lld bytes, the GGUF header needs 24", path,
                       (long long)st.st_size);
    }
    g->size = (size_t)st.st_size;
    void *map = mmap(NULL, g->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return rz_fail(e, RZ_EINTERNAL, "%s: mmap: %s", path, strerror(errno));
    g->map = map;
    cursor c = {g, 0, e};
    uint64_t magic = 0, ver = 0;
    rd(&c, 4, &magic, "magic");
    if (memcmp(g->map, "GGUF", 4) != 0) {
        gguf_close(g);
        return rz_fail(e, RZ_EINPUT, "%s: not a GGUF file (magic)", path);
    }
    rd(&c, 4, &ver, "version");
    rd(&c, 8, &g->n_t, "tensor_count");
    rd(&c, 8, &g->n_kv, "kv_count");
    int rc = 0;
    if (ver != 2 && ver != 3)
        rc = rz_fail(e, RZ_EINPUT, "%s: version: GGUF v%llu is not supported (v2 and v3 are)", path,
                     (unsigned long long)ver);
    /* smallest encodings: a kv is 8 + 1 + 4 + 1 bytes, a tensor info 8 + 1 + 4 + 8 + 4 + 8 */
    else if (g->n_kv > (g->size - c.pos) / 14)
        rc = rz_fail(e, RZ_EINPUT, "%s: kv_count %llu cannot fit in the file's %zu bytes", path,
                     (unsigned long long)g->n_kv, g->size);
    else if (g->n_t > (g->size - c.pos) / 33)
        rc = rz_fail(e, RZ_EINPUT, "%s: tensor_count %llu cannot fit in the file's %zu bytes", path,
                     (unsigned long long)g->n_t, g->size);
    if (rc) {
        gguf_close(g);
        return rc;
    }
    g->version = (uint32_t)ver;
    g->kv = rz_calloc(g->n_kv ? (size_t)g->n_kv : 1, sizeof *g->kv, e);
    g->t = rz_calloc(g->n_t ? (size_t)g->n_t : 1, sizeof *g->t, e);
    if (!g->kv || !g->t) {
        gguf_close(g);
        return RZ_EINTERNAL;
    }
    for (uint64_t i = 0; i < g->n_kv && !rc; i++) {
        gkv *k = &g->kv[i];
        char what[64], key[96];
        snprintf(what, sizeof what, "key %llu", (unsigned long long)i);
        uint64_t ty;
        if ((rc = rd_str(&c, MAX_KEY, &k->key, &k->klen, what)) || (rc = rd(&c, 4, &ty, what))) break;
        snprintf(key, sizeof key, "%.*s", (int)(k->klen < 80 ? k->klen : 80), (const char *)k->key);
        k->type = (uint32_t)ty;
        k->off = c.pos;
        rc = skip_value(&c, k->type, key, &k->atype, &k->count);
        if (k->type == V_ARR) k->off += 12; /* past the element type and count */
    }
    if (!rc && g->n_kv > 1) { /* unique keys */
        gkv **ord = rz_malloc((size_t)g->n_kv * sizeof *ord, e);
        if (!ord) rc = RZ_EINTERNAL;
        for (uint64_t i = 0; i < g->n_kv && !rc; i++) ord[i] = &g->kv[i];
        if (!rc) qsort(ord, (size_t)g->n_kv, sizeof *ord, cmp_kv_key);
        for (uint64_t i = 1; i < g->n_kv && !rc; i++)
            if (cmp_kv_key(&ord[i - 1], &ord[i]) == 0)
                rc = rz_fail(e, RZ_EINPUT, "%s: key '%.*s' appears twice", path, (int)(ord[i]->klen < 80 ? ord[i]->klen : 80),
                             (const char *)ord[i]->key);
        free(ord);
    }
    int64_t align = DEFAULT_ALIGN;
    if (!rc) rc = kv_int(g, "general.alignment", 0, DEFAULT_ALIGN, 1, 1 << 20, &align, e);
    if (!rc && (align & (align - 1)))
        rc = rz_fail(e, RZ_EINPUT, "%s: key 'general.alignment' = %lld is not a power of two", path, (long long)align);
    g->align = (uint64_t)align;
    if (!rc) rc = parse_tensor_infos(g, &c, e);
    if (!rc) {
        size_t pad = (size_t)((g->align - c.pos % g->align) % g->align);
        if (g->n_t > 0 && pad > g->size - c.pos)
            rc = rz_fail(e, RZ_EINPUT, "%s: truncated: the data section (after %zu header bytes) is missing", path,
                         c.pos);
        g->data = c.pos + (pad <= g->size - c.pos ? pad : g->size - c.pos);
    }
    if (!rc) rc = check_tensor_layout(g, e);
    if (rc) gguf_close(g);
    return rc;
}

int rz_gguf_is_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char m[4] = {0};
    size_t n = fread(m, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(m, "GGUF", 4) == 0;
}

/* ---------------------------------------------------------------- model */

int rz_gguf_name(const char *rz_name, char *out, size_t n)
{
    static const char *const rz_layer[9] = {"attention_norm.weight", "attention.wq.weight", "attention.wk.weight",
                                            "attention.wv.weight", "attention.wo.weight", "ffn_norm.weight",
                                            "feed_forward.w1.weight", "feed_forward.w2.weight",
                                            "feed_forward.w3.weight"};
    static const char *const gg_layer[9] = {"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight",
                                            "attn_output.weight", "ffn_norm.weight", "ffn_gate.weight",
                                            "ffn_down.weight", "ffn_up.weight"};
    int l, k;
    if (strcmp(rz_name, "tok_embeddings.weight") == 0) return snprintf(out, n, "token_embd.weight") < (int)n ? 0 : -1;
    if (strcmp(rz_name, "norm.weight") == 0) return snprintf(out, n, "output_norm.weight") < (int)n ? 0 : -1;
    if (strcmp(rz_name, "output.weight") == 0) return snprintf(out, n, "output.weight") < (int)n ? 0 : -1;
    if (sscanf(rz_name, "layers.%d.%n", &l, &k) != 1 || l < 0) return -1;
    for (int i = 0; i < 9; i++)
        if (strcmp(rz_name + k, rz_layer[i]) == 0)
            return snprintf(out, n, "blk.%d.%s", l, gg_layer[i]) < (int)n ? 0 : -1;
    return -1;
}

static gtensor *find_tensor(const gguf *g, const char *name)
{
    for (uint64_t i = 0; i < g->n_t; i++)
        if (strcmp(g->t[i].name, name) == 0) return &g->t[i];
    return NULL;
}

/* Tensor t (validated) as float32 into dst[nelem]. */
static void dequant(const gguf *g, const gtensor *t, float *dst)
{
    const unsigned char *p = g->map + g->data + t->off;
    size_t n = (size_t)t->nelem;
    if (t->type == T_F32) {
        memcpy(dst, p, n * 4); /* little-endian host, as llama.h assumes */
    } else if (t->type == T_F16 || t->type == T_BF16) {
        for (size_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            dst[i] = t->type == T_F16 ? rz_f16_to_f32(h) : rz_bf16_to_f32(h);
        }
    } else { /* q8_0 */
        for (size_t b = 0; b < n / QK8_0; b++, p += 2 + QK8_0) {
            float d = rz_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
            for (int j = 0; j < QK8_0; j++) dst[b * QK8_0 + (size_t)j] = d * (float)(int8_t)p[2 + j];
        }
    }
}

static int model_config(const gguf *g, rz_llama_config *c, rz_err *e)
{
    char s[64];
    int64_t v[6];
    double theta, eps;
    int rc = kv_str(g, "general.architecture", 1, s, sizeof s, e);
    if (rc) return rc;
    if (strcmp(s, "llama") != 0)
        return rz_fail(e, RZ_EINPUT, "%s: general.architecture '%s' is not supported (rizz reads \"llama\")", g->path, s);
    static const char *const keys[5] = {"llama.embedding_length", "llama.feed_forward_length", "llama.block_count",
                                        "llama.attention.head_count", "llama.context_length"};
    for (int i = 0; i < 5; i++)
        if ((rc = kv_int(g, keys[i], 1, 0, 1, 1 << 24, &v[i], e))) return rc;
    if ((rc = kv_int(g, "llama.attention.head_count_kv", 0, v[3], 1, 1 << 24, &v[5], e)) ||
        (rc = kv_float(g, "llama.rope.freq_base", 0, 10000.0, &theta, e)) ||
        (rc = kv_float(g, "llama.attention.layer_norm_rms_epsilon", 1, 0, &eps, e)))
        return rc;
    int64_t rope_dim, experts;
    if ((rc = kv_int(g, "llama.rope.dimension_count", 0, v[0] / v[3], 1, 1 << 24, &rope_dim, e)) ||
        (rc = kv_int(g, "llama.expert_count", 0, 0, 0, 1 << 20, &experts, e)))
        return rc;
    if (experts > 0)
        return rz_fail(e, RZ_EINPUT, "%s: llama.expert_count %lld: mixture-of-experts models are not supported",
                       g->path, (long long)experts);
    if (rope_dim != v[0] / v[3])
        return rz_fail(e, RZ_EINPUT, "%s: llama.rope.dimension_count %lld differs from the head size %lld (partial "
                       "RoPE is not supported)", g->path, (long long)rope_dim, (long long)(v[0] / v[3]));
    if ((rc = kv_str(g, "llama.rope.scaling.type", 0, s, sizeof s, e))) return rc;
    if (s[0] && strcmp(s, "none") != 0)
        return rz_fail(e, RZ_EINPUT, "%s: llama.rope.scaling.type '%s' is not supported (use rz-ppl --rope-ext)",
                       g->path, s);
    const gtensor *emb = find_tensor(g, "token_embd.weight");
    if (!emb || emb->ndim != 2)
        return rz_fail(e, RZ_EINPUT, "%s: tensor 'token_embd.weight' is missing or not a matrix", g->path);
    memset(c, 0, sizeof *c);
    c->dim = (int)v[0];
    c->hidden_dim = (int)v[1];
    c->n_layers = (int)v[2];
    c->n_heads = (int)v[3];
    c->seq_len = (int)v[4];
    c->n_kv_heads = (int)v[5];
    c->vocab_size = emb->ne[1] > (1 << 24) ? 0 : (int)emb->ne[1];
    c->shared_classifier = find_tensor(g, "output.weight") == NULL;
    c->rope_theta = (float)theta;
    c->norm_eps = (float)eps;
    if ((rc = rz_llama_config_check(c, e))) return rz_wrap(e, "%s: llama.* keys", g->path);
    return 0;
}

int rz_gguf_load_model(const char *path, rz_llama **out, rz_err *e)
{
    *out = NULL;
    gguf g;
    int rc = gguf_open(path, &g, e);
    if (rc) return rc;
    rz_llama_config c;
    rz_llama *m = NULL;
    if ((rc = model_config(&g, &c, e))) goto done;
    /* every weight takes at least one byte of the file (q8_0: 34/32): nothing larger
     * than the file describes is allocated */
    if (rz_llama_param_count(&c) > (double)(g.size - g.data)) {
        rc = rz_fail(e, RZ_EINPUT, "%s: the llama.* keys describe %.0f weights, the data section holds %zu bytes", path,
                     rz_llama_param_count(&c), g.size - g.data);
        goto done;
    }
    if ((rc = rz_llama_alloc(&c, &m, e))) goto done;
    for (int i = 0; i < rz_llama_tensor_count(m) && !rc; i++) {
        const char *name;
        float *data;
        int shape[2], ndim;
        char gname[MAX_NAME];
        rz_llama_tensor_at(m, i, &name, &data, shape, &ndim);
        rz_gguf_name(name, gname, sizeof gname);
        gtensor *t = find_tensor(&g, gname);
        if (!t) {
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s' is missing", path, gname);
            break;
        }
        /* ggml order: ne[0] = columns */
        uint64_t want0 = (uint64_t)(ndim == 2 ? shape[1] : shape[0]), want1 = ndim == 2 ? (uint64_t)shape[0] : 1;
        int ok = t->ndim == ndim && t->ne[0] == want0 && (ndim == 1 || t->ne[1] == want1);
        if (!ok) {
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s' has shape [%llu, %llu] (ggml order), the llama.* keys "
                         "want [%llu, %llu]", path, gname, (unsigned long long)t->ne[0],
                         (unsigned long long)(t->ndim > 1 ? t->ne[1] : 1), (unsigned long long)want0,
                         (unsigned long long)want1);
            break;
        }
        dequant(&g, t, data);
        for (uint64_t k = 0; k < t->nelem; k++)
            if (!isfinite(data[k])) {
                rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s' holds a non-finite value at %llu", path, gname,
                             (unsigned long long)k);
                break;
            }
        t->used = 1;
    }
    for (uint64_t i = 0; i < g.n_t && !rc; i++)
        if (!g.t[i].used)
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s' is not part of a llama model rizz runs", path, g.t[i].name);
done:
    gguf_close(&g);
    if (rc) {
        rz_llama_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---------------------------------------------------------------- tokenizer */

/* The array under key: element type want, count n (checked against count if n >= 0). */
static int kv_array(const gguf *g, const char *key, uint32_t want, int64_t n, const gkv **out, rz_err *e)
{
    const gkv *k = find_kv(g, key);
    *out = k;
    if (!k) return 0;
    if (k->type != V_ARR || k->atype != want)
        return rz_fail(e, RZ_EINPUT, "%s: key '%s' is not an array of value type %u", g->path, key, want);
    if (n >= 0 && k->count != (uint64_t)n)
        return rz_fail(e, RZ_EINPUT, "%s: key '%s' has %llu entries, tokenizer.ggml.tokens has %lld", g->path, key,
                       (unsigned long long)k->count, (long long)n);
    return 0;
}

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

static int build_tokenizer(const gguf *g, const gkv *tk, const gkv *sc, const gkv *ty, int bos, int eos,
                           rz_tokenizer **out, rz_err *e)
{
    size_t n = (size_t)tk->count, total = 0, pos = tk->off;
    for (size_t i = 0; i < n; i++) { /* lengths were bounded by the file in the header pass */
        uint64_t len = get_le(g->map + pos, 8);
        total += (size_t)len;
        pos += 8 + (size_t)len;
    }
    char *buf = rz_malloc(total + 1, e), **piece = rz_malloc(n * sizeof *piece, e);
    int *len = rz_malloc(n * sizeof *len, e);
    float *score = rz_malloc(n * sizeof *score, e);
    unsigned char *match = rz_malloc(n, e);
    int rc = buf && piece && len && score && match ? 0 : RZ_EINTERNAL;
    char *w = buf;
    pos = tk->off;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t l = (size_t)get_le(g->map + pos, 8);
        const unsigned char *s = g->map + pos + 8;
        pos += 8 + l;
        piece[i] = w;
        for (size_t j = 0; j < l; j++) { /* "▁" = E2 96 81 is SentencePiece's space */
            if (j + 2 < l && s[j] == 0xE2 && s[j + 1] == 0x96 && s[j + 2] == 0x81) {
                *w++ = ' ';
                j += 2;
            } else {
                *w++ = (char)s[j];
            }
        }
        len[i] = (int)(w - piece[i]);
        if (sc) {
            uint32_t u = (uint32_t)get_le(g->map + sc->off + 4 * i, 4);
            memcpy(&score[i], &u, 4);
        } else {
            score[i] = 0;
        }
        int32_t type = ty ? (int32_t)get_le(g->map + ty->off + 4 * i, 4) : TT_NORMAL;
        match[i] = type != TT_UNKNOWN && type != TT_CONTROL && type != TT_UNUSED;
    }
    if (!rc) {
        rz_tokenizer_spec sp = {(int)n, (const char *const *)piece, len, score, match, bos, eos};
        if ((rc = rz_tokenizer_build(&sp, out, e))) rz_wrap(e, "%s: tokenizer.ggml.*", g->path);
    }
    free(buf), free(piece), free(len), free(score), free(match);
    return rc;
}

int rz_gguf_load_tokenizer(const char *path, rz_tokenizer **out, int *add_bos, rz_err *e)
{
    *out = NULL;
    gguf g;
    int rc = gguf_open(path, &g, e);
    if (rc) return rc;
    char model[32];
    const gkv *tk = NULL, *sc = NULL, *ty = NULL;
    int64_t bos, eos, ab;
    if ((rc = kv_str(&g, "tokenizer.ggml.model", 0, model, sizeof model, e))) goto done;
    if (!model[0]) {
        rc = rz_fail(e, RZ_EINPUT, "%s: no tokenizer (key 'tokenizer.ggml.model' is missing): give -z TOKENIZER",
                     path);
        goto done;
    }
    if (strcmp(model, "llama") != 0) {
        rc = rz_fail(e, RZ_EINPUT, "%s: tokenizer.ggml.model '%s' is not supported (rizz reads SentencePiece "
                     "\"llama\" vocabularies%s); give -z TOKENIZER", path, model,
                     strcmp(model, "gpt2") == 0 ? ", not gpt2-style byte-level BPE" : "");
        goto done;
    }
    if ((rc = kv_array(&g, "tokenizer.ggml.tokens", V_STR, -1, &tk, e))) goto done;
    if (!tk || tk->count < 3 || tk->count > (1 << 20)) {
        rc = rz_fail(e, RZ_EINPUT, "%s: key 'tokenizer.ggml.tokens' is missing or its count is not in [3, 2^20]", path);
        goto done;
    }
    int64_t n = (int64_t)tk->count;
    if ((rc = kv_array(&g, "tokenizer.ggml.scores", V_F32, n, &sc, e)) ||
        (rc = kv_array(&g, "tokenizer.ggml.token_type", V_I32, n, &ty, e)) ||
        (rc = kv_int(&g, "tokenizer.ggml.bos_token_id", 0, 1, 0, n - 1, &bos, e)) ||
        (rc = kv_int(&g, "tokenizer.ggml.eos_token_id", 0, 2, 0, n - 1, &eos, e)) ||
        (rc = kv_int(&g, "tokenizer.ggml.add_bos_token", 0, 1, 0, 1, &ab, e)))
        goto done;
    rc = build_tokenizer(&g, tk, sc, ty, (int)bos, (int)eos, out, e);
    if (add_bos) *add_bos = (int)ab;
done:
    gguf_close(&g);
    return rc;
}
