/* tokenizer.c — llama2.c's BPE tokenizer: loading, encoding, decoding (see tokenizer.h).
 *
 * Design. The whole file is read once and checked before anything is sized from it. Pieces
 * live in one byte buffer (each NUL-terminated, so they can be printed), with an
 * open-addressing hash table from piece bytes to id (run.c uses a sorted array and
 * bsearch; a hash looks up a concatenation of two pieces without building it).
 *
 * The merge loop. run.c rescans all adjacent pairs for every merge: O(n^2) for n tokens,
 * minutes for a 600 KB text. Here the tokens form a doubly linked list, and a binary
 * max-heap holds one entry per adjacent pair whose concatenation is a piece, keyed by
 * (score descending, position ascending). A merge replaces the left symbol's id and
 * unlinks the right one; the entries it made stale stay in the heap and are recognised
 * when popped (the left symbol's id, its right neighbour or that neighbour's id differ
 * from what the entry recorded). Every current pair always has a valid entry, so the
 * popped valid entry is run.c's choice: the highest score, and among equal scores the
 * leftmost pair, because a merged symbol keeps its leftmost original position and the
 * list never reorders. n merges push at most 2n entries: O(n log n).
 */
#include "tokenizer.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Limits checked before sizing anything from the file. */
#define RZ_TOK_MAX_VOCAB (1 << 20)
#define RZ_TOK_MAX_PIECE 1024
#define RZ_TOK_MAX_FILE ((size_t)1 << 28)
#define RZ_TOK_MAX_TEXT ((size_t)1 << 30)

struct rz_tokenizer {
    int vocab_size;
    int max_token_length;
    float *score;            /* [vocab] merge priority */
    int32_t *len;            /* [vocab] piece length in bytes */
    uint32_t *off;           /* [vocab] offset of the piece in bytes */
    char *bytes;             /* all pieces, each followed by a NUL */
    int32_t *table;          /* [table_size] hash slots: id or -1 */
    uint32_t table_mask;     /* table_size - 1, table_size a power of two >= 2 vocab */
    int space_id;            /* id of the piece " " (dummy prefix), -1 if absent */
    char byte_piece[256][2]; /* raw byte i followed by NUL, what <0xII> decodes to */
    int byte_id[256];        /* byte-fallback id of raw byte i, -1 if none */
    int bos_id, eos_id;
};

/* ---------------------------------------------------------------- hashing */

/* FNV-1a over the concatenation a|b, so pair lookups need no temporary string. */
static uint64_t hash2(const char *a, size_t la, const char *b, size_t lb)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < la; i++) h = (h ^ (unsigned char)a[i]) * 1099511628211ull;
    for (size_t i = 0; i < lb; i++) h = (h ^ (unsigned char)b[i]) * 1099511628211ull;
    return h;
}

/* Id of the piece equal to a|b, or -1. */
static int lookup2(const rz_tokenizer *t, const char *a, size_t la, const char *b, size_t lb)
{
    uint32_t slot = (uint32_t)hash2(a, la, b, lb) & t->table_mask;
    for (;;) {
        int id = t->table[slot];
        if (id < 0) return -1;
        const char *p = t->bytes + t->off[id];
        if ((size_t)t->len[id] == la + lb && memcmp(p, a, la) == 0 && memcmp(p + la, b, lb) == 0)
            return id;
        slot = (slot + 1) & t->table_mask;
    }
}

/* ---------------------------------------------------------------- loading */

static int32_t rd_i32(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t v;
    memcpy(&v, &u, 4);
    return v;
}

static float rd_f32(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float v;
    memcpy(&v, &u, 4);
    return v;
}

/* Read a whole file of at most max bytes. */
static int read_file(const char *path, size_t max, unsigned char **buf, size_t *size, rz_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) return rz_fail(e, RZ_EINPUT, "%s: cannot open tokenizer file: %s", path, strerror(errno));
    struct stat st; /* a directory opens, and "seeks" to LONG_MAX: say what it is */
    if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
        fclose(f);
        return rz_fail(e, RZ_EINPUT, "%s: %s, expected a tokenizer file", path,
                       S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return rz_fail(e, RZ_EINPUT, "%s: cannot seek (not a regular file?)", path);
    }
    long end = ftell(f);
    if (end < 0 || (unsigned long)end > max) {
        fclose(f);
        return rz_fail(e, RZ_EINPUT, "%s: size %ld bytes is not in [0, %zu]", path, end, max);
    }
    rewind(f);
    unsigned char *b = rz_malloc((size_t)end, e);
    if (!b) {
        fclose(f);
        return RZ_EINTERNAL;
    }
    size_t got = fread(b, 1, (size_t)end, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != (size_t)end) {
        free(b);
        return rz_fail(e, RZ_EINTERNAL, "%s: read error", path);
    }
    *buf = b;
    *size = (size_t)end;
    return 0;
}

void rz_tokenizer_free(rz_tokenizer *t)
{
    if (!t) return;
    free(t->score);
    free(t->len);
    free(t->off);
    free(t->bytes);
    free(t->table);
    free(t);
}

int rz_tokenizer_load(const char *path, rz_tokenizer **out, rz_err *e)
{
    *out = NULL;
    unsigned char *buf = NULL;
    size_t size = 0;
    int rc = read_file(path, RZ_TOK_MAX_FILE, &buf, &size, e);
    if (rc) return rc;

    /* Pass 1: validate every entry and count them, so that sizes come from checked data. */
    if (size < 4) {
        free(buf);
        return rz_fail(e, RZ_EINPUT, "%s: truncated: %zu bytes, the int32 max_token_length header needs 4",
                       path, size);
    }
    int32_t maxlen = rd_i32(buf);
    if (maxlen < 1 || maxlen > RZ_TOK_MAX_PIECE) {
        free(buf);
        return rz_fail(e, RZ_EINPUT, "%s: max_token_length %d is not in [1, %d]", path, (int)maxlen,
                       RZ_TOK_MAX_PIECE);
    }
    size_t pos = 4, nvocab = 0, nbytes = 0;
    while (pos < size) {
        if (nvocab >= RZ_TOK_MAX_VOCAB) {
            free(buf);
            return rz_fail(e, RZ_EINPUT, "%s: more than %d vocabulary entries", path, RZ_TOK_MAX_VOCAB);
        }
        if (size - pos < 8) {
            free(buf);
            return rz_fail(e, RZ_EINPUT, "%s: truncated in entry %zu at byte %zu: score and length need 8 bytes, %zu left",
                           path, nvocab, pos, size - pos);
        }
        float score = rd_f32(buf + pos);
        int32_t len = rd_i32(buf + pos + 4);
        if (!isfinite(score)) {
            free(buf);
            return rz_fail(e, RZ_EINPUT, "%s: entry %zu: score is not finite", path, nvocab);
        }
        if (len < 0 || len > maxlen) {
            free(buf);
            return rz_fail(e, RZ_EINPUT, "%s: entry %zu: piece length %d is not in [0, max_token_length %d]",
                           path, nvocab, (int)len, (int)maxlen);
        }
        pos += 8;
        if (size - pos < (size_t)len) {
            free(buf);
            return rz_fail(e, RZ_EINPUT, "%s: truncated in entry %zu: piece of %d bytes, %zu left",
                           path, nvocab, (int)len, size - pos);
        }
        pos += (size_t)len;
        nbytes += (size_t)len + 1;
        nvocab++;
    }
    if (nvocab < 3) {
        free(buf);
        return rz_fail(e, RZ_EINPUT, "%s: %zu entries; a llama2.c vocabulary has at least <unk>, BOS and EOS",
                       path, nvocab);
    }

    /* Pass 2: the pieces in place, then the common constructor. */
    const char **piece = rz_malloc(nvocab * sizeof *piece, e);
    int *plen = rz_malloc(nvocab * sizeof *plen, e);
    float *score = rz_malloc(nvocab * sizeof *score, e);
    rc = piece && plen && score ? RZ_OK : RZ_EINTERNAL;
    pos = 4;
    for (size_t id = 0; id < nvocab && rc == RZ_OK; id++) {
        score[id] = rd_f32(buf + pos);
        plen[id] = rd_i32(buf + pos + 4);
        piece[id] = (const char *)buf + pos + 8;
        pos += 8 + (size_t)plen[id];
    }
    rz_tokenizer_spec sp = {(int)nvocab, piece, plen, score, NULL, RZ_TOKEN_BOS, RZ_TOKEN_EOS};
    if (rc == RZ_OK && (rc = rz_tokenizer_build(&sp, out, e))) rz_wrap(e, "%s", path);
    free(piece);
    free(plen);
    free(score);
    free(buf);
    return rc;
}

int rz_tokenizer_build(const rz_tokenizer_spec *sp, rz_tokenizer **out, rz_err *e)
{
    *out = NULL;
    size_t nvocab = sp->n > 0 ? (size_t)sp->n : 0, nbytes = 0;
    int maxlen = 1;
    if (nvocab < 3 || nvocab > RZ_TOK_MAX_VOCAB)
        return rz_fail(e, RZ_EINPUT, "vocabulary of %d pieces is not in [3, %d]", sp->n, RZ_TOK_MAX_VOCAB);
    if (sp->bos < 0 || sp->bos >= sp->n || sp->eos < 0 || sp->eos >= sp->n)
        return rz_fail(e, RZ_EINPUT, "BOS id %d or EOS id %d is outside the vocabulary of %d", sp->bos, sp->eos, sp->n);
    for (size_t id = 0; id < nvocab; id++) {
        if (sp->len[id] < 0 || sp->len[id] > RZ_TOK_MAX_PIECE || !isfinite(sp->score[id]))
            return rz_fail(e, RZ_EINPUT, "piece %zu: length %d not in [0, %d] or score not finite", id, sp->len[id],
                           RZ_TOK_MAX_PIECE);
        if (sp->len[id] > maxlen) maxlen = sp->len[id];
        nbytes += (size_t)sp->len[id] + 1;
    }
    if (nbytes > UINT32_MAX) return rz_fail(e, RZ_EINPUT, "vocabulary pieces total %zu bytes, over 4 GiB", nbytes);
    rz_tokenizer *t = rz_calloc(1, sizeof *t, e);
    if (!t) return RZ_EINTERNAL;
    uint32_t tsize = 16;
    while (tsize < 2 * nvocab) tsize *= 2;
    t->vocab_size = (int)nvocab;
    t->max_token_length = maxlen;
    t->bos_id = sp->bos;
    t->eos_id = sp->eos;
    t->score = rz_malloc(nvocab * sizeof *t->score, e);
    t->len = rz_malloc(nvocab * sizeof *t->len, e);
    t->off = rz_malloc(nvocab * sizeof *t->off, e);
    t->bytes = rz_malloc(nbytes, e);
    t->table = rz_malloc(tsize * sizeof *t->table, e);
    if (!t->score || !t->len || !t->off || !t->bytes || !t->table) {
        rz_tokenizer_free(t);
        return RZ_EINTERNAL;
    }
    t->table_mask = tsize - 1;
    for (uint32_t i = 0; i < tsize; i++) t->table[i] = -1;
    size_t boff = 0;
    for (size_t id = 0; id < nvocab; id++) {
        t->score[id] = sp->score[id];
        t->len[id] = sp->len[id];
        t->off[id] = (uint32_t)boff;
        memcpy(t->bytes + boff, sp->piece[id], (size_t)t->len[id]);
        t->bytes[boff + (size_t)t->len[id]] = '\0';
        boff += (size_t)t->len[id] + 1;
        /* Insert unless an equal piece is already there: duplicates resolve to the lowest
         * id (run.c's bsearch would return an arbitrary one; real vocabularies have none).
         * Pieces the spec marks unmatchable (control tokens) are never looked up. */
        const char *p = t->bytes + t->off[id];
        if (sp->matchable && !sp->matchable[id]) continue;
        if (lookup2(t, p, (size_t)t->len[id], "", 0) < 0) {
            uint32_t slot = (uint32_t)hash2(p, (size_t)t->len[id], "", 0) & t->table_mask;
            while (t->table[slot] >= 0) slot = (slot + 1) & t->table_mask;
            t->table[slot] = (int32_t)id;
        }
    }
    t->space_id = lookup2(t, " ", 1, "", 0);
    for (int i = 0; i < 256; i++) {
        t->byte_piece[i][0] = (char)i;
        t->byte_piece[i][1] = '\0';
        /* byte fallback: the piece <0xII> (SentencePiece spells it in upper case), else id
         * i + 3 where llama2.c's run.c puts it */
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", i);
        int id = lookup2(t, hex, 6, "", 0);
        t->byte_id[i] = id >= 0 ? id : i + 3 < t->vocab_size ? i + 3 : -1;
    }
    *out = t;
    return 0;
}

int rz_tokenizer_vocab_size(const rz_tokenizer *t) { return t->vocab_size; }
int rz_tokenizer_bos(const rz_tokenizer *t) { return t->bos_id; }
int rz_tokenizer_eos(const rz_tokenizer *t) { return t->eos_id; }

const char *rz_tokenizer_raw(const rz_tokenizer *t, int id, size_t *len)
{
    if (id < 0 || id >= t->vocab_size) return NULL;
    *len = (size_t)t->len[id];
    return t->bytes + t->off[id];
}

float rz_tokenizer_score(const rz_tokenizer *t, int id)
{
    return id < 0 || id >= t->vocab_size ? 0.0f : t->score[id];
}

/* ---------------------------------------------------------------- decoding */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

const char *rz_tokenizer_piece(const rz_tokenizer *t, int prev, int id, size_t *len)
{
    if (id < 0 || id >= t->vocab_size) {
        *len = 0;
        return NULL;
    }
    const char *p = t->bytes + t->off[id];
    size_t n = (size_t)t->len[id];
    /* After BOS SentencePiece drops the leading space of the first word. */
    if (prev == t->bos_id && n > 0 && p[0] == ' ') {
        p++;
        n--;
    }
    /* Byte-fallback pieces are spelled "<0xNN>" (run.c: sscanf "<0x%02hhX>"; here only the
     * exact 6-character form, which is the only one vocabularies contain). */
    if (n == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>') {
        int hi = hexval(p[3]), lo = hexval(p[4]);
        if (hi >= 0 && lo >= 0) {
            *len = 1;
            return t->byte_piece[hi * 16 + lo];
        }
    }
    *len = n;
    return p;
}

/* ---------------------------------------------------------------- encoding */

/* Length of the valid UTF-8 sequence at s[0..n) (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 if it is invalid or cut short. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) k = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        if (c == 0xE0) lo = 0xA0;      /* overlong */
        else if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        if (c == 0xF0) lo = 0x90;      /* overlong */
        else if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
    } else
        return 0;
    if (n < k) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < k; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return k;
}

/* A candidate merge: symbols left and right (adjacent when pushed, with ids lid, rid)
 * become the piece merged of the given score. */
typedef struct {
    float score;
    int32_t left, right, lid, rid, merged;
} pair_entry;

/* Heap order: higher score first, then the leftmost pair. */
static int pair_before(const pair_entry *a, const pair_entry *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct {
    pair_entry *a;
    size_t n;
} pair_heap;

static void heap_push(pair_heap *h, pair_entry x)
{
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&x, &h->a[parent])) break;
        h->a[i] = h->a[parent];
        i = parent;
    }
    h->a[i] = x;
}

static pair_entry heap_pop(pair_heap *h)
{
    pair_entry top = h->a[0], x = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && pair_before(&h->a[c + 1], &h->a[c])) c++;
        if (!pair_before(&h->a[c], &x)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n > 0) h->a[i] = x;
    return top;
}

/* Push the pair (left, right) if their concatenation is a piece. run.c starts its search
 * from best_score = -1e10 with a strict >, so pieces scoring -1e10 or less never merge. */
static void try_pair(const rz_tokenizer *t, pair_heap *h, const int32_t *id, int32_t left, int32_t right)
{
    int a = id[left], b = id[right];
    int m = lookup2(t, t->bytes + t->off[a], (size_t)t->len[a], t->bytes + t->off[b], (size_t)t->len[b]);
    if (m < 0 || !(t->score[m] > -1e10f)) return;
    pair_entry x = {t->score[m], left, right, a, b, m};
    heap_push(h, x);
}

int rz_tokenizer_encode(const rz_tokenizer *t, const char *text, size_t len, int bos, int eos,
                        int **ids, size_t *n, rz_err *e)
{
    *ids = NULL;
    *n = 0;
    if (len > RZ_TOK_MAX_TEXT)
        return rz_fail(e, RZ_EINPUT, "text of %zu bytes is over the %zu-byte limit", len, RZ_TOK_MAX_TEXT);
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_len(s + i, len - i);
        if (k == 0) return rz_fail(e, RZ_EINPUT, "invalid UTF-8 at byte offset %zu", i);
        i += k;
    }
    if (len > 0 && t->space_id < 0)
        return rz_fail(e, RZ_EINPUT, "tokenizer has no \" \" piece for the dummy prefix");

    /* Symbols: at most BOS + prefix + one per byte, plus EOS at the end. */
    size_t cap = len + 3;
    int32_t *id = rz_malloc(cap * sizeof *id, e);
    int32_t *next = rz_malloc(cap * sizeof *next, e);
    int32_t *prev = rz_malloc(cap * sizeof *prev, e);
    pair_heap h = {rz_malloc(3 * cap * sizeof *h.a, e), 0};
    if (!id || !next || !prev || !h.a) {
        free(id), free(next), free(prev), free(h.a);
        return RZ_EINTERNAL;
    }

    /* Initial symbols: BOS, dummy prefix, then each code point (or its bytes). */
    int32_t m = 0;
    if (bos) id[m++] = t->bos_id;
    if (len > 0) id[m++] = t->space_id;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_len(s + i, len - i);
        int v = lookup2(t, text + i, k, "", 0);
        if (v >= 0) {
            id[m++] = v;
        } else {
            for (size_t j = 0; j < k; j++) {
                int b = t->byte_id[s[i + j]];
                if (b < 0) {
                    free(id), free(next), free(prev), free(h.a);
                    return rz_fail(e, RZ_EINPUT, "byte 0x%02x at offset %zu has no byte-fallback piece in a vocabulary of %d",
                                   s[i + j], i + j, t->vocab_size);
                }
                id[m++] = b;
            }
        }
        i += k;
    }
    for (int32_t i = 0; i < m; i++) {
        prev[i] = i - 1;
        next[i] = i + 1 < m ? i + 1 : -1;
    }

    /* BPE merges, best first. */
    for (int32_t i = 0; i + 1 < m; i++) try_pair(t, &h, id, i, i + 1);
    while (h.n > 0) {
        pair_entry x = heap_pop(&h);
        if (id[x.left] != x.lid || next[x.left] != x.right || id[x.right] != x.rid) continue; /* stale */
        int32_t l = x.left, r = x.right, after = next[r];
        id[l] = x.merged;
        id[r] = -1;
        next[l] = after;
        if (after >= 0) prev[after] = l;
        if (prev[l] >= 0) try_pair(t, &h, id, prev[l], l);
        if (after >= 0) try_pair(t, &h, id, l, after);
    }

    /* Read the list out in place (symbol 0 is always the head: merges keep the left). */
    size_t count = 0;
    for (int32_t i = m > 0 ? 0 : -1; i >= 0; i = next[i]) id[count++] = id[i];
    if (eos) id[count++] = t->eos_id;
    free(next), free(prev), free(h.a);
    int *res = rz_malloc((count ? count : 1) * sizeof *res, e);
    if (!res) {
        free(id);
        return RZ_EINTERNAL;
    }
    for (size_t i = 0; i < count; i++) res[i] = id[i];
    free(id);
    *ids = res;
    *n = count;
    return 0;
}
