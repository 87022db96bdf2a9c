/* gguf_write.c — a llama model and its tokenizer as a GGUF v3 file (see gguf.h).
 *
 * Layout as llama.cpp's converter writes it for a llama2.c model (the shared
 * stories260K-*.gguf files): tokenizer.ggml.{tokens, scores, token_type, model},
 * general.{architecture, name}, tokenizer.ggml.{unknown, bos, eos, seperator,
 * padding}_token_id, llama.{context_length, embedding_length, feed_forward_length,
 * attention.head_count, attention.head_count_kv, block_count, rope.dimension_count,
 * attention.layer_norm_rms_epsilon}; for f16/q8_0 also general.quantization_version
 * and general.file_type, as llama-quantize adds. llama.rope.freq_base only when it is
 * not 10000 (llama.cpp's default). Tensors token_embd, output_norm, output (always
 * written, also for a tied classifier, as llama.cpp's converter does), then per block
 * attn_q, attn_k, attn_v, attn_output, attn_norm, ffn_gate, ffn_down, ffn_up, ffn_norm;
 * alignment 32. Pieces: " " becomes "▁", ids 0 / BOS / EOS are named <unk>, <s>, </s>
 * (llama2.c's files spell them "\n<s>\n"...), token types unknown / control / byte
 * ("<0xII>") / normal.
 *
 * q8_0 (ggml's reference quantize_row_q8_0): per block of 32, d = max|x| / 127 stored
 * as f16, q = round(x / d) (ties away from zero); value = d·q. Only rows whose length
 * is a multiple of 32 can be q8_0; other matrices are written f16 (llama.cpp's
 * quantizer refuses such a model instead).
 */
#include "gguf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "stream.h"

typedef struct {
    unsigned char *p;
    size_t n, cap;
    int oom; /* 1 out of memory, 2 a tensor without float32 data */
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->oom == 1) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void str(buf *b, const char *s, size_t n)
{
    u64(b, n);
    put(b, s, n);
}
static void key(buf *b, const char *k, uint32_t type)
{
    str(b, k, strlen(k));
    u32(b, type);
}
static void kv_u32(buf *b, const char *k, uint32_t v)
{
    key(b, k, 4);
    u32(b, v);
}
static void kv_f32(buf *b, const char *k, float v)
{
    key(b, k, 6);
    put(b, &v, 4);
}
static void kv_str(buf *b, const char *k, const char *v)
{
    key(b, k, 8);
    str(b, v, strlen(v));
}

static void tokenizer_kvs(buf *b, const rz_tokenizer *t, int *nkv)
{
    int n = rz_tokenizer_vocab_size(t), bos = rz_tokenizer_bos(t), eos = rz_tokenizer_eos(t);
    key(b, "tokenizer.ggml.tokens", 9);
    u32(b, 8);
    u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *p = rz_tokenizer_raw(t, i, &len);
        if (i == 0) p = "<unk>", len = 5;
        else if (i == bos) p = "<s>", len = 3;
        else if (i == eos) p = "</s>", len = 4;
        size_t sp = 0;
        for (size_t j = 0; j < len; j++) sp += p[j] == ' ';
        u64(b, len + 2 * sp);
        for (size_t j = 0; j < len; j++) put(b, p[j] == ' ' ? "\xe2\x96\x81" : &p[j], p[j] == ' ' ? 3 : 1);
    }
    key(b, "tokenizer.ggml.scores", 9);
    u32(b, 6);
    u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        float s = rz_tokenizer_score(t, i);
        put(b, &s, 4);
    }
    key(b, "tokenizer.ggml.token_type", 9);
    u32(b, 5);
    u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *p = rz_tokenizer_raw(t, i, &len);
        int32_t type = i == 0 ? 2 : i == bos || i == eos ? 3 : 1; /* unknown, control, normal */
        if (len == 6 && memcmp(p, "<0x", 3) == 0 && p[5] == '>') type = 6; /* byte */
        put(b, &type, 4);
    }
    kv_str(b, "tokenizer.ggml.model", "llama");
    *nkv += 4;
}

/* q8_0 blocks of row x[n] (n % 32 == 0) into out. */
static void quant_q8_0(const float *x, size_t n, unsigned char *out)
{
    for (size_t b = 0; b < n / 32; b++, out += 34, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        uint16_t h = rz_f32_to_f16(d);
        memcpy(out, &h, 2);
        for (int j = 0; j < 32; j++) out[2 + j] = (unsigned char)(int8_t)roundf(x[j] * id);
    }
}

int rz_gguf_save(rz_llama *m, const rz_tokenizer *tok, rz_gguf_type type, const char *path, rz_err *e)
{
    const rz_llama_config *c = &m->config;
    if (type != RZ_GGUF_F32 && type != RZ_GGUF_F16 && type != RZ_GGUF_Q8_0)
        return rz_fail(e, RZ_EINPUT, "GGUF tensor type %d: rizz writes f32, f16 and q8_0", (int)type);
    if (tok && rz_tokenizer_vocab_size(tok) != c->vocab_size)
        return rz_fail(e, RZ_EINPUT, "tokenizer has %d pieces, the model's vocabulary is %d",
                       rz_tokenizer_vocab_size(tok), c->vocab_size);
    /* tensors: llama.cpp's order; rz index of each */
    int L = c->n_layers, nt = 3 + 9 * L;
    int *idx = rz_malloc((size_t)nt * sizeof *idx, e);
    uint32_t *ttype = rz_malloc((size_t)nt * sizeof *ttype, e);
    if (!idx || !ttype) {
        free(idx), free(ttype);
        return RZ_EINTERNAL;
    }
    static const int order[9] = {1, 2, 3, 4, 0, 6, 7, 8, 5}; /* q k v o attn_norm gate down up ffn_norm */
    idx[0] = 0;
    idx[1] = 9 * L + 1;
    idx[2] = c->shared_classifier ? 0 : 9 * L + 2; /* output = the embeddings when tied */
    for (int l = 0; l < L; l++)
        for (int k = 0; k < 9; k++) idx[3 + 9 * l + k] = 1 + 9 * l + order[k];

    buf h = {0};
    int nkv = 0;
    put(&h, "GGUF", 4);
    u32(&h, 3);
    u64(&h, (uint64_t)nt);
    size_t nkv_at = h.n;
    u64(&h, 0); /* kv count, patched below */
    if (tok) tokenizer_kvs(&h, tok, &nkv);
    kv_str(&h, "general.architecture", "llama");
    kv_str(&h, "general.name", "llama");
    nkv += 2;
    if (tok) {
        kv_u32(&h, "tokenizer.ggml.unknown_token_id", 0);
        kv_u32(&h, "tokenizer.ggml.bos_token_id", (uint32_t)rz_tokenizer_bos(tok));
        kv_u32(&h, "tokenizer.ggml.eos_token_id", (uint32_t)rz_tokenizer_eos(tok));
        kv_u32(&h, "tokenizer.ggml.seperator_token_id", UINT32_MAX); /* llama.cpp's spelling */
        kv_u32(&h, "tokenizer.ggml.padding_token_id", UINT32_MAX);
        nkv += 5;
    }
    kv_u32(&h, "llama.context_length", (uint32_t)c->seq_len);
    kv_u32(&h, "llama.embedding_length", (uint32_t)c->dim);
    kv_u32(&h, "llama.feed_forward_length", (uint32_t)c->hidden_dim);
    kv_u32(&h, "llama.attention.head_count", (uint32_t)c->n_heads);
    kv_u32(&h, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    kv_u32(&h, "llama.block_count", (uint32_t)L);
    kv_u32(&h, "llama.rope.dimension_count", (uint32_t)(c->dim / c->n_heads));
    kv_f32(&h, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
    nkv += 8;
    if (c->rope_theta != 10000.0f) {
        kv_f32(&h, "llama.rope.freq_base", c->rope_theta);
        nkv++;
    }
    if (type != RZ_GGUF_F32) {
        kv_u32(&h, "general.quantization_version", 2);
        kv_u32(&h, "general.file_type", type == RZ_GGUF_F16 ? 1 : 7); /* LLAMA_FTYPE_MOSTLY_F16 / Q8_0 */
        nkv += 2;
    }
    /* tensor infos */
    uint64_t off = 0;
    size_t maxbytes = 0;
    for (int i = 0; i < nt; i++) {
        const char *name;
        float *data;
        int shape[2], ndim;
        char gname[64];
        rz_llama_tensor_at(m, idx[i], &name, &data, shape, &ndim);
        if (!data) h.oom = 2; /* a linear held as codes: load the model dense */
        if (i == 2) snprintf(gname, sizeof gname, "output.weight");
        else rz_gguf_name(name, gname, sizeof gname);
        int cols = ndim == 2 ? shape[1] : shape[0];
        uint64_t n = (uint64_t)shape[0] * (uint64_t)shape[1];
        ttype[i] = ndim == 1 || type == RZ_GGUF_F32 ? 0 : type == RZ_GGUF_Q8_0 && cols % 32 == 0 ? 8 : 1;
        uint64_t bytes = ttype[i] == 0 ? 4 * n : ttype[i] == 1 ? 2 * n : n / 32 * 34;
        str(&h, gname, strlen(gname));
        u32(&h, (uint32_t)ndim);
        u64(&h, (uint64_t)cols);
        if (ndim == 2) u64(&h, (uint64_t)shape[0]);
        u32(&h, ttype[i]);
        u64(&h, off);
        off += (bytes + 31) / 32 * 32;
        if (bytes > maxbytes) maxbytes = (size_t)bytes;
    }
    static const unsigned char zero[32];
    put(&h, zero, (32 - h.n % 32) % 32);
    unsigned char *tbuf = rz_malloc(maxbytes + 32, e);
    int rc = h.oom == 2 ? rz_fail(e, RZ_EINPUT, "a quantised linear is not decoded (load the model dense)")
             : h.oom ? rz_fail(e, RZ_EINTERNAL, "out of memory") : tbuf ? 0 : RZ_EINTERNAL;
    if (!rc) memcpy(h.p + nkv_at, &(uint64_t){(uint64_t)nkv}, 8);
    rz_outfile out;
    if (!rc) rc = rz_outfile_open(&out, path, e);
    if (rc) {
        free(h.p), free(tbuf), free(idx), free(ttype);
        return rc;
    }
    int ok = fwrite(h.p, 1, h.n, out.f) == h.n;
    for (int i = 0; i < nt && ok; i++) {
        const char *name;
        float *data;
        int shape[2], ndim;
        rz_llama_tensor_at(m, idx[i], &name, &data, shape, &ndim);
        size_t n = (size_t)shape[0] * (size_t)shape[1], bytes;
        if (ttype[i] == 0) {
            memcpy(tbuf, data, 4 * n);
            bytes = 4 * n;
        } else if (ttype[i] == 1) {
            for (size_t k = 0; k < n; k++) {
                uint16_t v = rz_f32_to_f16(data[k]);
                memcpy(tbuf + 2 * k, &v, 2);
            }
            bytes = 2 * n;
        } else {
            quant_q8_0(data, n, tbuf);
            bytes = n / 32 * 34;
        }
        size_t pad = (32 - bytes % 32) % 32;
        memset(tbuf + bytes, 0, pad);
        ok = fwrite(tbuf, 1, bytes + pad, out.f) == bytes + pad;
    }
    free(h.p), free(tbuf), free(idx), free(ttype);
    if (!ok) {
        rz_outfile_abort(&out);
        return rz_fail(e, RZ_EINTERNAL, "%s: write failed: %s", path, strerror(errno));
    }
    return rz_outfile_commit(&out, e);
}
