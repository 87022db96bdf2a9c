/* hf.c — Hugging Face Llama folders (see hf.h). */
#include "hf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "readfile.h"
#include "json.h"
#include "record.h"
#include "safetensors.h"

#define MAX_SHARDS 4096

typedef struct {
    char *text;
    msgpack_sbuffer buf;
    msgpack_unpacked u;
} json_doc;

static int doc_load(const char *path, json_doc *d, rz_err *e)
{
    memset(d, 0, sizeof *d);
    size_t n;
    msgpack_sbuffer_init(&d->buf);
    msgpack_unpacked_init(&d->u);
    int rc = rz_read_file(path, &d->text, &n, e);
    if (rc) return rc;
    msgpack_sbuffer_destroy(&d->buf);
    msgpack_unpacked_destroy(&d->u);
    if ((rc = rz_json_parse(d->text, n, &d->buf, &d->u, e))) return rz_wrap(e, "%s", path);
    if (d->u.data.type != MSGPACK_OBJECT_MAP) return rz_fail(e, RZ_EINPUT, "%s: not a JSON object", path);
    return 0;
}

static void doc_free(json_doc *d)
{
    msgpack_unpacked_destroy(&d->u);
    msgpack_sbuffer_destroy(&d->buf);
    free(d->text);
}

static int str_is(const msgpack_object *o, const char *s)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) && memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

static int get_int(const char *path, const msgpack_object *m, const char *key, int required, int64_t def, int64_t *v,
                   rz_err *e)
{
    const msgpack_object *o = rz_field(m, key);
    if (!o || o->type == MSGPACK_OBJECT_NIL) {
        if (required) return rz_fail(e, RZ_EINPUT, "%s: field '%s' is missing", path, key);
        *v = def;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 < 1 || o->via.u64 > (1u << 24))
        return rz_fail(e, RZ_EINPUT, "%s: field '%s' is not an integer in [1, 2^24]", path, key);
    *v = (int64_t)o->via.u64;
    return 0;
}

static int get_num(const char *path, const msgpack_object *m, const char *key, double def, double *v, rz_err *e)
{
    const msgpack_object *o = rz_field(m, key);
    if (!o || o->type == MSGPACK_OBJECT_NIL) *v = def;
    else if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) *v = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) *v = (double)o->via.u64;
    else return rz_fail(e, RZ_EINPUT, "%s: field '%s' is not a number", path, key);
    if (!isfinite(*v) || *v <= 0) return rz_fail(e, RZ_EINPUT, "%s: field '%s' is not a positive number", path, key);
    return 0;
}

int rz_hf_is_dir(const char *path)
{
    struct stat st;
    char p[4096];
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    snprintf(p, sizeof p, "%s/config.json", path);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int read_config(const char *dir, rz_llama_config *c, rz_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_doc d;
    int rc = doc_load(path, &d, e);
    if (rc) {
        doc_free(&d);
        return rc;
    }
    const msgpack_object *m = &d.u.data, *arch = rz_field(m, "architectures"), *mt = rz_field(m, "model_type");
    int llama = str_is(mt, "llama");
    if (arch && arch->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < arch->via.array.size; i++) llama |= str_is(&arch->via.array.ptr[i], "LlamaForCausalLM");
    if (!llama) {
        const msgpack_object *a0 = arch && arch->type == MSGPACK_OBJECT_ARRAY && arch->via.array.size &&
                                           arch->via.array.ptr[0].type == MSGPACK_OBJECT_STR ? &arch->via.array.ptr[0] : mt;
        rc = rz_fail(e, RZ_EINPUT, "%s: architectures/model_type '%.*s' is not supported (rizz reads LlamaForCausalLM)",
                     path, a0 && a0->type == MSGPACK_OBJECT_STR ? (int)(a0->via.str.size < 64 ? a0->via.str.size : 64) : 1,
                     a0 && a0->type == MSGPACK_OBJECT_STR ? a0->via.str.ptr : "?");
        doc_free(&d);
        return rc;
    }
    int64_t v[8];
    double theta, eps;
    static const char *const keys[7] = {"hidden_size", "intermediate_size", "num_hidden_layers",
                                        "num_attention_heads", "vocab_size", "max_position_embeddings", "head_dim"};
    for (int i = 0; i < 7 && !rc; i++) rc = get_int(path, m, keys[i], i < 5, i == 5 ? 2048 : 0, &v[i], e);
    if (!rc) rc = get_int(path, m, "num_key_value_heads", 0, v[3], &v[7], e);
    if (!rc) rc = get_num(path, m, "rope_theta", 10000.0, &theta, e);
    if (!rc) rc = get_num(path, m, "rms_norm_eps", 1e-6, &eps, e);
    const msgpack_object *tie = rz_field(m, "tie_word_embeddings"), *rs = rz_field(m, "rope_scaling");
    if (!rc && tie && tie->type != MSGPACK_OBJECT_BOOLEAN)
        rc = rz_fail(e, RZ_EINPUT, "%s: field 'tie_word_embeddings' is not a boolean", path);
    if (!rc && rs && rs->type != MSGPACK_OBJECT_NIL)
        rc = rz_fail(e, RZ_EINPUT, "%s: field 'rope_scaling' is set; not supported (use rz-ppl --rope-ext)", path);
    if (!rc && v[6] && v[6] * v[3] != v[0])
        rc = rz_fail(e, RZ_EINPUT, "%s: head_dim %lld x num_attention_heads %lld != hidden_size %lld", path,
                     (long long)v[6], (long long)v[3], (long long)v[0]);
    if (!rc) {
        memset(c, 0, sizeof *c);
        c->dim = (int)v[0];
        c->hidden_dim = (int)v[1];
        c->n_layers = (int)v[2];
        c->n_heads = (int)v[3];
        c->vocab_size = (int)v[4];
        c->seq_len = (int)v[5];
        c->n_kv_heads = (int)v[7];
        c->shared_classifier = tie && tie->via.boolean;
        c->rope_theta = (float)theta;
        c->norm_eps = (float)eps;
        if ((rc = rz_llama_config_check(c, e))) rz_wrap(e, "%s", path);
    }
    doc_free(&d);
    return rc;
}

/* The shard files: model.safetensors alone, or the index's weight_map values. */
static int open_shards(const char *dir, rz_safetensors **out, int *count, rz_err *e)
{
    char path[4096];
    struct stat st;
    *out = NULL;
    *count = 0;
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    char (*names)[256] = NULL;
    int n = 0, rc = 0;
    json_doc d = {0};
    int have_index = stat(path, &st) == 0;
    if (!have_index) {
        names = rz_malloc(sizeof *names, e);
        if (!names) return RZ_EINTERNAL;
        snprintf(names[0], sizeof names[0], "model.safetensors");
        n = 1;
    } else {
        if ((rc = doc_load(path, &d, e))) goto done;
        const msgpack_object *wm = rz_field(&d.u.data, "weight_map");
        if (!wm || wm->type != MSGPACK_OBJECT_MAP) {
            rc = rz_fail(e, RZ_EINPUT, "%s: weight_map missing or not an object", path);
            goto done;
        }
        names = rz_malloc(MAX_SHARDS * sizeof *names, e);
        if (!names) {
            rc = RZ_EINTERNAL;
            goto done;
        }
        for (uint32_t i = 0; i < wm->via.map.size && !rc; i++) {
            const msgpack_object *f = &wm->via.map.ptr[i].val;
            if (f->type != MSGPACK_OBJECT_STR || f->via.str.size == 0 || f->via.str.size >= 256 ||
                memchr(f->via.str.ptr, '/', f->via.str.size) || memchr(f->via.str.ptr, 0, f->via.str.size) ||
                (f->via.str.size <= 2 && f->via.str.ptr[0] == '.')) {
                rc = rz_fail(e, RZ_EINPUT, "%s: weight_map: a shard is not a plain file name in the folder", path);
                break;
            }
            int seen = 0;
            for (int k = 0; k < n && !seen; k++)
                seen = strlen(names[k]) == f->via.str.size && memcmp(names[k], f->via.str.ptr, f->via.str.size) == 0;
            if (seen) continue;
            if (n == MAX_SHARDS) {
                rc = rz_fail(e, RZ_EINPUT, "%s: over %d shards", path, MAX_SHARDS);
                break;
            }
            memcpy(names[n], f->via.str.ptr, f->via.str.size);
            names[n++][f->via.str.size] = '\0';
        }
    }
    rz_safetensors *s = rc ? NULL : rz_calloc((size_t)(n ? n : 1), sizeof *s, e);
    if (!rc && !s) rc = RZ_EINTERNAL;
    for (int i = 0; i < n && !rc; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) != 0) {
            rc = rz_fail(e, RZ_EINPUT, "%s: missing shard%s", path, have_index ? " (named by model.safetensors.index.json)" : "");
            break;
        }
        char *p = strdup(path);
        if (!p || (rc = rz_safetensors_open(p, &s[i], e))) {
            free(p);
            if (!rc) rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
            break;
        }
        (*count)++;
    }
    *out = s;
done:
    if (have_index) doc_free(&d);
    free(names);
    return rc;
}

static void close_shards(rz_safetensors *s, int n)
{
    for (int i = 0; i < n; i++) {
        free((char *)s[i].path);
        rz_safetensors_close(&s[i]);
    }
    free(s);
}

/* HF's name of rizz's tensor. */
static void hf_name(const char *rz, char *out, size_t n)
{
    static const char *const rz_layer[9] = {"attention_norm.weight", "attention.wq.weight", "attention.wk.weight",
                                            "attention.wv.weight", "attention.wo.weight", "ffn_norm.weight",
                                            "feed_forward.w1.weight", "feed_forward.w2.weight",
                                            "feed_forward.w3.weight"};
    static const char *const hf_layer[9] = {"input_layernorm.weight", "self_attn.q_proj.weight",
                                            "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                                            "self_attn.o_proj.weight", "post_attention_layernorm.weight",
                                            "mlp.gate_proj.weight", "mlp.down_proj.weight", "mlp.up_proj.weight"};
    int l, k;
    if (strcmp(rz, "tok_embeddings.weight") == 0) snprintf(out, n, "model.embed_tokens.weight");
    else if (strcmp(rz, "norm.weight") == 0) snprintf(out, n, "model.norm.weight");
    else if (strcmp(rz, "output.weight") == 0) snprintf(out, n, "lm_head.weight");
    else if (sscanf(rz, "layers.%d.%n", &l, &k) == 1)
        for (int i = 0; i < 9; i++)
            if (strcmp(rz + k, rz_layer[i]) == 0) snprintf(out, n, "model.layers.%d.%s", l, hf_layer[i]);
}

/* In place: HF row h·hd + t·hd/2 + k -> Meta row h·hd + 2k + t (hf.h). */
static int unpermute(float *w, int heads, int hd, int cols, rz_err *e)
{
    float *tmp = rz_malloc((size_t)hd * (size_t)cols * sizeof *tmp, e);
    if (!tmp) return RZ_EINTERNAL;
    for (int h = 0; h < heads; h++) {
        float *W = w + (size_t)h * hd * cols;
        for (int t = 0; t < 2; t++)
            for (int k = 0; k < hd / 2; k++)
                memcpy(tmp + (size_t)(2 * k + t) * cols, W + (size_t)(t * hd / 2 + k) * cols, (size_t)cols * sizeof *W);
        memcpy(W, tmp, (size_t)hd * cols * sizeof *W);
    }
    free(tmp);
    return 0;
}

int rz_hf_load_model(const char *dir, rz_llama **out, rz_err *e)
{
    *out = NULL;
    rz_llama_config c;
    int rc = read_config(dir, &c, e), ns = 0;
    if (rc) return rc;
    rz_safetensors *s = NULL;
    rz_llama *m = NULL;
    if ((rc = open_shards(dir, &s, &ns, e))) goto done;
    double bytes = 0; /* every weight takes at least 2 bytes (F16/BF16) of the shards */
    for (int k = 0; k < ns; k++) bytes += (double)(s[k].size - s[k].data);
    if (rz_llama_param_count(&c) * 2 > bytes) {
        rc = rz_fail(e, RZ_EINPUT, "%s: config.json describes %.0f weights, the safetensors hold %.0f data bytes", dir,
                     rz_llama_param_count(&c), bytes);
        goto done;
    }
    if ((rc = rz_llama_alloc(&c, &m, e))) goto done;
    int hd = c.dim / c.n_heads;
    long found = 0;
    for (int i = 0; i < rz_llama_tensor_count(m) && !rc; i++) {
        const char *name;
        float *data;
        int shape[2], ndim;
        char hn[128] = "";
        rz_llama_tensor_at(m, i, &name, &data, shape, &ndim);
        int is_q = strstr(name, ".wq.") != NULL, is_k = strstr(name, ".wk.") != NULL;
        hf_name(name, hn, sizeof hn);
        const rz_safetensors *f = NULL;
        const rz_st_tensor *t = NULL;
        for (int k = 0; k < ns && !t; k++)
            if ((t = rz_safetensors_find(&s[k], hn))) f = &s[k];
        if (!t) {
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s' is missing from the safetensors files", dir, hn);
            break;
        }
        found++;
        int ok = t->ndim == ndim && t->shape[0] == shape[0] && (ndim == 1 || t->shape[1] == shape[1]);
        if (!ok) {
            rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s' has shape [%lld%s%lld], config.json says [%d, %d]", f->path, hn,
                         (long long)t->shape[0], t->ndim > 1 ? ", " : "", t->ndim > 1 ? (long long)t->shape[1] : 0LL,
                         shape[0], ndim == 2 ? shape[1] : 1);
            break;
        }
        rz_safetensors_read_f32(f, t, data);
        size_t n = (size_t)shape[0] * (size_t)shape[1];
        for (size_t k = 0; k < n && !rc; k++)
            if (!isfinite(data[k]))
                rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s' holds a non-finite value at %zu", f->path, hn, k);
        if (!rc && (is_q || is_k)) rc = unpermute(data, is_q ? c.n_heads : c.n_kv_heads, hd, c.dim, e);
    }
    /* everything else in the files is an error, except the old rotary_emb buffers */
    for (int k = 0; k < ns && !rc; k++)
        for (int i = 0; i < s[k].n && !rc; i++) {
            const char *nm = s[k].t[i].name;
            if (strstr(nm, "rotary_emb.inv_freq")) continue;
            char hn[128];
            int known = 0;
            for (int j = 0; j < rz_llama_tensor_count(m) && !known; j++) {
                const char *name;
                float *data;
                int shape[2], ndim;
                rz_llama_tensor_at(m, j, &name, &data, shape, &ndim);
                hf_name(name, hn, sizeof hn);
                known = strcmp(hn, nm) == 0;
            }
            if (!known)
                rc = rz_fail(e, RZ_EINPUT, "%s: tensor '%s' is not part of a Llama model as config.json describes it%s",
                             s[k].path, nm, strcmp(nm, "lm_head.weight") == 0 ? " (tie_word_embeddings is true)" : "");
        }
done:
    close_shards(s, ns);
    if (rc) {
        rz_llama_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---------------------------------------------------------------- tokenizer.json */

static int cmp_vocab_key(const void *a, const void *b)
{
    const msgpack_object *x = &((const msgpack_object_kv *const *)a)[0]->key,
                         *y = &((const msgpack_object_kv *const *)b)[0]->key;
    size_t k = x->via.str.size < y->via.str.size ? x->via.str.size : y->via.str.size;
    int r = memcmp(x->via.str.ptr, y->via.str.ptr, k);
    return r ? r : (x->via.str.size > y->via.str.size) - (x->via.str.size < y->via.str.size);
}

int rz_hf_load_tokenizer(const char *path, rz_tokenizer **out, rz_err *e)
{
    *out = NULL;
    char p[4096];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(p, sizeof p, "%s/tokenizer.json", path);
    else snprintf(p, sizeof p, "%s", path);
    json_doc d;
    int rc = doc_load(p, &d, e);
    const msgpack_object *model = rc ? NULL : rz_field(&d.u.data, "model");
    const msgpack_object *vocab = model ? rz_field(model, "vocab") : NULL, *merges = model ? rz_field(model, "merges") : NULL;
    const msgpack_object *bf = model ? rz_field(model, "byte_fallback") : NULL;
    if (!rc && (!model || model->type != MSGPACK_OBJECT_MAP || !str_is(rz_field(model, "type"), "BPE")))
        rc = rz_fail(e, RZ_EINPUT, "%s: model.type is not \"BPE\" (rizz reads Llama-2 SentencePiece-BPE tokenizers)", p);
    if (!rc && !(bf && bf->type == MSGPACK_OBJECT_BOOLEAN && bf->via.boolean))
        rc = rz_fail(e, RZ_EINPUT, "%s: model.byte_fallback is not true (a byte-level gpt2-style BPE?); give -z", p);
    if (!rc && (!vocab || vocab->type != MSGPACK_OBJECT_MAP || vocab->via.map.size < 3 || vocab->via.map.size > (1 << 20)))
        rc = rz_fail(e, RZ_EINPUT, "%s: model.vocab missing or not an object of 3 .. 2^20 pieces", p);
    if (!rc && (!merges || merges->type != MSGPACK_OBJECT_ARRAY))
        rc = rz_fail(e, RZ_EINPUT, "%s: model.merges missing or not an array", p);
    if (rc) {
        doc_free(&d);
        return rc;
    }
    int n = (int)vocab->via.map.size;
    char **piece = rz_calloc((size_t)n, sizeof *piece, e);
    int *len = rz_calloc((size_t)n, sizeof *len, e);
    float *score = rz_malloc((size_t)n * sizeof *score, e);
    unsigned char *match = rz_malloc((size_t)n, e);
    if (!piece || !len || !score || !match) rc = RZ_EINTERNAL;
    for (int i = 0; i < n && !rc; i++) {
        const msgpack_object_kv *kv = &vocab->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR || kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            kv->val.via.u64 >= (uint64_t)n || piece[kv->val.via.u64]) {
            rc = rz_fail(e, RZ_EINPUT, "%s: model.vocab entry %d: ids must be 0 .. %d, each once", p, i, n - 1);
            break;
        }
        int id = (int)kv->val.via.u64;
        const char *s = kv->key.via.str.ptr;
        size_t l = kv->key.via.str.size;
        char *w = rz_malloc(l + 1, e);
        if (!w) {
            rc = RZ_EINTERNAL;
            break;
        }
        piece[id] = w;
        for (size_t j = 0; j < l; j++) { /* "▁" -> " " */
            if (j + 2 < l && (unsigned char)s[j] == 0xE2 && (unsigned char)s[j + 1] == 0x96 &&
                (unsigned char)s[j + 2] == 0x81) {
                *w++ = ' ';
                j += 2;
            } else {
                *w++ = s[j];
            }
        }
        len[id] = (int)(w - piece[id]);
        score[id] = -1e30f; /* until a merge produces it */
        match[id] = 1;
    }
    /* vocabulary entries sorted by their bytes, to find merged pieces */
    const msgpack_object_kv **ord = rc ? NULL : rz_malloc((size_t)n * sizeof *ord, e);
    if (!rc && !ord) rc = RZ_EINTERNAL;
    for (int i = 0; i < n && !rc; i++) ord[i] = &vocab->via.map.ptr[i];
    if (!rc) qsort(ord, (size_t)n, sizeof *ord, cmp_vocab_key);
    /* merge rank r: "a b" (or ["a", "b"]) makes the piece a+b, score -r */
    for (uint32_t r = 0; r < merges->via.array.size && !rc; r++) {
        const msgpack_object *mo = &merges->via.array.ptr[r];
        char buf[2048];
        size_t bl = 0;
        if (mo->type == MSGPACK_OBJECT_STR && mo->via.str.size < sizeof buf) {
            const char *sp = memchr(mo->via.str.ptr, ' ', mo->via.str.size);
            if (!sp) {
                rc = rz_fail(e, RZ_EINPUT, "%s: merges[%u] is not \"left right\"", p, r);
                break;
            }
            bl = mo->via.str.size - 1;
            memcpy(buf, mo->via.str.ptr, (size_t)(sp - mo->via.str.ptr));
            memcpy(buf + (sp - mo->via.str.ptr), sp + 1, mo->via.str.size - (size_t)(sp - mo->via.str.ptr) - 1);
        } else if (mo->type == MSGPACK_OBJECT_ARRAY && mo->via.array.size == 2 &&
                   mo->via.array.ptr[0].type == MSGPACK_OBJECT_STR && mo->via.array.ptr[1].type == MSGPACK_OBJECT_STR &&
                   mo->via.array.ptr[0].via.str.size + mo->via.array.ptr[1].via.str.size < sizeof buf) {
            memcpy(buf, mo->via.array.ptr[0].via.str.ptr, mo->via.array.ptr[0].via.str.size);
            memcpy(buf + mo->via.array.ptr[0].via.str.size, mo->via.array.ptr[1].via.str.ptr,
                   mo->via.array.ptr[1].via.str.size);
            bl = mo->via.array.ptr[0].via.str.size + mo->via.array.ptr[1].via.str.size;
        } else {
            rc = rz_fail(e, RZ_EINPUT, "%s: merges[%u] is not \"left right\"", p, r);
            break;
        }
        /* the merged piece (in the vocabulary's spelling, "▁" kept) */
        msgpack_object_kv key = {{.type = MSGPACK_OBJECT_STR, .via.str = {(uint32_t)bl, buf}}, {0}};
        const msgpack_object_kv *kp = &key, **hit = bsearch(&kp, ord, (size_t)n, sizeof *ord, cmp_vocab_key);
        if (hit) {
            int id = (int)(*hit)->val.via.u64;
            if (score[id] < -(float)r) score[id] = -(float)r;
        }
    }
    /* special added tokens: control, never matched by text */
    const msgpack_object *added = rc ? NULL : rz_field(&d.u.data, "added_tokens");
    int bos = 1, eos = 2;
    if (added && added->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < added->via.array.size; i++) {
            const msgpack_object *a = &added->via.array.ptr[i], *id = rz_field(a, "id"), *sp = rz_field(a, "special");
            if (!id || id->type != MSGPACK_OBJECT_POSITIVE_INTEGER || id->via.u64 >= (uint64_t)n) continue;
            if (sp && sp->type == MSGPACK_OBJECT_BOOLEAN && sp->via.boolean) match[id->via.u64] = 0;
            if (str_is(rz_field(a, "content"), "<s>")) bos = (int)id->via.u64;
            if (str_is(rz_field(a, "content"), "</s>")) eos = (int)id->via.u64;
        }
    for (int i = 0; i < n && !rc; i++)
        if (!piece[i]) rc = rz_fail(e, RZ_EINPUT, "%s: model.vocab has no piece for id %d", p, i);
    if (!rc) {
        for (int i = 0; i < n; i++)
            if (score[i] < -1e29f) score[i] = -1e10f; /* never merged (tokenizer.c: <= -1e10) */
        rz_tokenizer_spec sp = {n, (const char *const *)piece, len, score, match, bos, eos};
        if ((rc = rz_tokenizer_build(&sp, out, e))) rz_wrap(e, "%s", p);
    }
    for (int i = 0; piece && i < n; i++) free(piece[i]);
    free(piece), free(len), free(score), free(match), free(ord);
    doc_free(&d);
    return rc;
}
