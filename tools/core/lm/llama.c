/* llama.c — the Llama model of llama2.c: weights, checkpoint I/O and a batched forward.
 *
 * Design. The forward runs T tokens per call (see rz_llama_forward). For T > 1 each
 * linear layer is one cblas_sgemm over all T rows, x[T][in] . W[out][in]^T, and attention
 * is two sgemms per head and block of rows (Q K^T on the causal block, then P V), so
 * almost all the time is spent inside OpenBLAS at near its peak. For T = 1 the same
 * products are matrix-vector (cblas_sgemv). Everything else (RMSNorm, RoPE, softmax,
 * SwiGLU) is O(T * width) or O(T * context) and written as plain loops that gcc
 * vectorises: no function calls in the inner loops, restrict pointers, and an exp()
 * of our own (rz_expf, vexp.h) because libm's expf is not vectorised without -ffast-math.
 * Threads: the products go through linalg.h (OpenMP column panels over single-threaded
 * OpenBLAS, the same result for any thread count), attention through attention.h.
 * Quantised linears (rz_llama_set_qlinear) are applied from their codes (qlinear.h);
 * the layers that read one input (wq|wk|wv, w1|w3) as one group, which at decode is one
 * OpenMP region with their activation transforms spread over the threads.
 *
 * All memory is allocated in rz_llama_state_new; the forward allocates nothing (except
 * the row buffers of a quantised layer's Hadamard transform whose odd factor is ≥ 16,
 * e.g. 43 for Llama's 11008, when a call has more than 16 rows or rows longer than
 * 8192: rht.c).
 * The host is assumed little-endian, as llama2.c's files are.
 */
#include "llama.h"

#include "attention.h"
#include "linalg.h"
#include "rng.h"
#include "spinbar.h"
#include "qlinear.h"
#include "stream.h"
#include "vexp.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Tensors start on 64-byte boundaries (16 floats): aligned rows for the BLAS kernels. */
#define ALIGN_FLOATS 16

/* Rows per call of a quantised classifier with an output-side transform (bounds its
 * scratch at RZ_CLS_ROWS x vocab). */
#define RZ_CLS_ROWS 64

/* ---------------------------------------------------------------- weights */

static size_t round_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

/* Hands out n floats (rounded up to the alignment) at *off of base; NULL while counting. */
static float *take(float *base, size_t *off, size_t n)
{
    float *p = base ? base + *off : NULL;
    *off += round_up(n);
    return p;
}

/* Lays the tensors out in one block and sets every pointer of m (m->layers must exist).
 * With base == NULL it only counts: the return value is the floats needed. A lazy model
 * (m->lazy set) leaves the linears (rz_llama_linear_storage) and the embedding and
 * classifier tables (rz_llama_table_storage) out. */
static size_t layout(rz_llama *m, float *base)
{
    if (m->lazy) {
        const rz_llama_config *c = &m->config;
        size_t dim = (size_t)c->dim, off = 0;
        for (int l = 0; l < c->n_layers; l++) {
            m->layers[l].attention_norm = take(base, &off, dim);
            m->layers[l].ffn_norm = take(base, &off, dim);
        }
        m->norm = take(base, &off, dim);
        return off; /* tok_embeddings, output: rz_llama_table_storage */
    }
    const rz_llama_config *c = &m->config;
    size_t dim = (size_t)c->dim, hid = (size_t)c->hidden_dim, kv = dim / (size_t)c->n_heads * (size_t)c->n_kv_heads;
    size_t off = 0;
    m->tok_embeddings = take(base, &off, (size_t)c->vocab_size * dim);
    for (int l = 0; l < c->n_layers; l++) {
        rz_llama_layer *L = &m->layers[l];
        L->attention_norm = take(base, &off, dim);
        L->wqkv = take(base, &off, (dim + 2 * kv) * dim);
        L->wo = take(base, &off, dim * dim);
        L->ffn_norm = take(base, &off, dim);
        L->w13 = take(base, &off, 2 * hid * dim);
        L->w2 = take(base, &off, dim * hid);
        if (base) {
            L->wq = L->wqkv;
            L->wk = L->wqkv + dim * dim;
            L->wv = L->wqkv + (dim + kv) * dim;
            L->w1 = L->w13;
            L->w3 = L->w13 + hid * dim;
        }
    }
    m->norm = take(base, &off, dim);
    m->output = c->shared_classifier ? m->tok_embeddings : take(base, &off, (size_t)c->vocab_size * dim);
    return off;
}

void rz_llama_free(rz_llama *m)
{
    if (!m) return;
    long nlin = (long)RZ_LIN_PER_LAYER * m->config.n_layers;
    if (m->qlin)
        for (long i = 0; i < nlin; i++) rz_qlinear_free(m->qlin[i]);
    free(m->qlin);
    if (m->lazy)
        for (int b = 0; b < 4 * m->config.n_layers; b++) free(m->lazy[b]);
    free(m->lazy);
    if (m->qout != m->qemb) rz_qlinear_free(m->qout);
    rz_qlinear_free(m->qemb);
    free(m->emb_alloc);
    free(m->out_alloc);
    free(m->params);
    free(m->layers);
    free(m);
}

static int alloc_model(const rz_llama_config *c, int lazy, rz_llama **out, rz_err *e)
{
    *out = NULL;
    int rc = rz_llama_config_check(c, e);
    if (rc) return rc;
    rz_llama *m = rz_calloc(1, sizeof *m, e);
    if (!m) return RZ_EINTERNAL;
    m->config = *c;
    m->layers = rz_calloc((size_t)c->n_layers, sizeof *m->layers, e);
    if (lazy && !(m->lazy = rz_calloc(4 * (size_t)c->n_layers, sizeof *m->lazy, e))) {
        rz_llama_free(m);
        return RZ_EINTERNAL;
    }
    if (!m->layers) {
        rz_llama_free(m);
        return RZ_EINTERNAL;
    }
    m->n_params = layout(m, NULL);
    m->params = aligned_alloc(64, m->n_params * sizeof(float));
    if (!m->params) {
        rz_fail(e, RZ_EINTERNAL, "out of memory allocating %zu parameters", m->n_params);
        rz_llama_free(m);
        return RZ_EINTERNAL;
    }
    memset(m->params, 0, m->n_params * sizeof(float));
    layout(m, m->params);
    *out = m;
    return 0;
}

int rz_llama_alloc(const rz_llama_config *c, rz_llama **out, rz_err *e) { return alloc_model(c, 0, out, e); }
int rz_llama_alloc_lazy(const rz_llama_config *c, rz_llama **out, rz_err *e) { return alloc_model(c, 1, out, e); }

float *rz_llama_linear_storage(rz_llama *m, long i, rz_err *e)
{
    const rz_llama_config *c = &m->config;
    if (i < 0 || i >= (long)RZ_LIN_PER_LAYER * c->n_layers) {
        rz_fail(e, RZ_EINTERNAL, "linear %ld out of range", i);
        return NULL;
    }
    int l = (int)(i / RZ_LIN_PER_LAYER), j = (int)(i % RZ_LIN_PER_LAYER);
    rz_llama_layer *L = &m->layers[l];
    float *const have[RZ_LIN_PER_LAYER] = {L->wq, L->wk, L->wv, L->wo, L->w1, L->w2, L->w3};
    if (have[j]) return have[j];
    /* a lazy model: the fused block of linear j (wq|wk|wv, wo, w1|w3, w2) */
    size_t dim = (size_t)c->dim, hid = (size_t)c->hidden_dim, kv = dim / (size_t)c->n_heads * (size_t)c->n_kv_heads;
    int b = j <= RZ_LIN_WV ? 0 : j == RZ_LIN_WO ? 1 : j == RZ_LIN_W2 ? 3 : 2;
    size_t n = b == 0 ? (dim + 2 * kv) * dim : b == 1 ? dim * dim : b == 2 ? 2 * hid * dim : dim * hid;
    float *p = aligned_alloc(64, round_up(n) * sizeof *p);
    if (!p) {
        rz_fail(e, RZ_EINTERNAL, "out of memory allocating %zu parameters", n);
        return NULL;
    }
    memset(p, 0, round_up(n) * sizeof *p);
    m->lazy[4 * l + b] = p;
    if (b == 0) L->wqkv = L->wq = p, L->wk = p + dim * dim, L->wv = p + (dim + kv) * dim;
    else if (b == 1) L->wo = p;
    else if (b == 2) L->w13 = L->w1 = p, L->w3 = p + hid * dim;
    else L->w2 = p;
    float *const now[RZ_LIN_PER_LAYER] = {L->wq, L->wk, L->wv, L->wo, L->w1, L->w2, L->w3};
    return now[j];
}

float *rz_llama_table_storage(rz_llama *m, int which, rz_err *e)
{
    const rz_llama_config *c = &m->config;
    if (c->shared_classifier) which = RZ_TABLE_EMB;
    float **have = which == RZ_TABLE_EMB ? &m->tok_embeddings : &m->output;
    if (*have) return *have;
    size_t n = round_up((size_t)c->vocab_size * (size_t)c->dim);
    float *p = aligned_alloc(64, n * sizeof *p);
    if (!p) {
        rz_fail(e, RZ_EINTERNAL, "out of memory allocating %zu parameters", n);
        return NULL;
    }
    memset(p, 0, n * sizeof *p);
    *(which == RZ_TABLE_EMB ? &m->emb_alloc : &m->out_alloc) = p;
    *have = p;
    if (c->shared_classifier) m->output = p;
    return p;
}

int rz_llama_set_qtable(rz_llama *m, int which, struct rz_qlinear *q, rz_err *e)
{
    const rz_llama_config *c = &m->config;
    const char *what = which == RZ_TABLE_EMB ? "tok_embeddings.weight" : "output.weight";
    if (rz_qlinear_rows(q) != c->vocab_size || rz_qlinear_cols(q) != c->dim) {
        rz_qlinear_free(q);
        return rz_fail(e, RZ_EINPUT, "%s: a quantised table must be %d x %d", what, c->vocab_size, c->dim);
    }
    if (which == RZ_TABLE_EMB && !rz_qlinear_row_ok(q)) {
        rz_qlinear_free(q);
        return rz_fail(e, RZ_EINPUT,
                       "%s: a quantised embedding is decoded one row per token and must be rtn or ldlq "
                       "without incoherence or a low-rank part", what);
    }
    if (which == RZ_TABLE_EMB) {
        if (m->qout != m->qemb) rz_qlinear_free(m->qemb);
        m->qemb = q;
        if (c->shared_classifier) m->qout = q;
    } else {
        if (m->qout != m->qemb) rz_qlinear_free(m->qout);
        m->qout = q;
    }
    return RZ_OK;
}

void rz_llama_set_qdot(rz_llama *m, int isa)
{
    long nlin = (long)RZ_LIN_PER_LAYER * m->config.n_layers;
    for (long i = 0; m->qlin && i < nlin; i++)
        if (m->qlin[i]) rz_qlinear_set_isa(m->qlin[i], isa);
    if (m->qemb) rz_qlinear_set_isa(m->qemb, isa);
    if (m->qout) rz_qlinear_set_isa(m->qout, isa);
}

int rz_llama_linear_shape(const rz_llama_config *c, long i, int *rows, int *cols)
{
    if (i < 0 || i >= (long)RZ_LIN_PER_LAYER * c->n_layers) return -1;
    int j = (int)(i % RZ_LIN_PER_LAYER), kv = c->dim / c->n_heads * c->n_kv_heads;
    const int r[RZ_LIN_PER_LAYER] = {c->dim, kv, kv, c->dim, c->hidden_dim, c->dim, c->hidden_dim};
    const int n[RZ_LIN_PER_LAYER] = {c->dim, c->dim, c->dim, c->dim, c->dim, c->hidden_dim, c->dim};
    *rows = r[j];
    *cols = n[j];
    return 0;
}

int rz_llama_set_qlinear(rz_llama *m, long i, struct rz_qlinear *q, rz_err *e)
{
    const rz_llama_config *c = &m->config;
    long nlin = (long)RZ_LIN_PER_LAYER * c->n_layers;
    int rows, cols;
    if (rz_llama_linear_shape(c, i, &rows, &cols) || rz_qlinear_rows(q) != rows || rz_qlinear_cols(q) != cols) {
        rz_qlinear_free(q);
        return rz_fail(e, RZ_EINTERNAL, "quantised linear %ld does not fit the model", i);
    }
    if (!m->qlin && !(m->qlin = rz_calloc((size_t)nlin, sizeof *m->qlin, e))) {
        rz_qlinear_free(q);
        return RZ_EINTERNAL;
    }
    rz_qlinear_free(m->qlin[i]);
    m->qlin[i] = q;
    return RZ_OK;
}

/* ---------------------------------------------------------------- named tensors */

int rz_llama_tensor_count(const rz_llama *m)
{
    return 1 + 9 * m->config.n_layers + 1 + (m->config.shared_classifier ? 0 : 1);
}

/* Per-layer tensors in llama2.c's order; the name suffix and shape of each. */
static const char *const layer_names[9] = {
    "attention_norm.weight",     "attention.wq.weight",       "attention.wk.weight",
    "attention.wv.weight",       "attention.wo.weight",       "ffn_norm.weight",
    "feed_forward.w1.weight",    "feed_forward.w2.weight",    "feed_forward.w3.weight",
};

int rz_llama_tensor_at(rz_llama *m, int i, const char **name, float **data, int shape[2], int *ndim)
{
    const rz_llama_config *c = &m->config;
    int dim = c->dim, kv = c->dim / c->n_heads * c->n_kv_heads, hid = c->hidden_dim;
    if (i < 0 || i >= rz_llama_tensor_count(m)) return -1;
    if (i == 0) {
        snprintf(m->tensor_name, sizeof m->tensor_name, "tok_embeddings.weight");
        *data = m->tok_embeddings, shape[0] = c->vocab_size, shape[1] = dim, *ndim = 2;
    } else if (i <= 9 * c->n_layers) {
        int l = (i - 1) / 9, k = (i - 1) % 9;
        rz_llama_layer *L = &m->layers[l];
        snprintf(m->tensor_name, sizeof m->tensor_name, "layers.%d.%s", l, layer_names[k]);
        float *ptr[9] = {L->attention_norm, L->wq, L->wk, L->wv, L->wo, L->ffn_norm, L->w1, L->w2, L->w3};
        int rows[9] = {dim, dim, kv, kv, dim, dim, hid, dim, hid};
        int cols[9] = {1, dim, dim, dim, dim, 1, dim, hid, dim};
        *data = ptr[k], shape[0] = rows[k], shape[1] = cols[k], *ndim = cols[k] == 1 ? 1 : 2;
    } else if (i == 9 * c->n_layers + 1) {
        snprintf(m->tensor_name, sizeof m->tensor_name, "norm.weight");
        *data = m->norm, shape[0] = dim, shape[1] = 1, *ndim = 1;
    } else {
        snprintf(m->tensor_name, sizeof m->tensor_name, "output.weight");
        *data = m->output, shape[0] = c->vocab_size, shape[1] = dim, *ndim = 2;
    }
    *name = m->tensor_name;
    return 0;
}

/* ---------------------------------------------------------------- random init */

/* splitmix64's output at state x (rng.h), used as a counter-based generator. */
static uint64_t mix64(uint64_t x) { return rz_splitmix64_at(x); }

/* Uniform in (0, 1] from counter c of stream key. */
static double uniform(uint64_t key, uint64_t c) { return (double)((mix64(key ^ mix64(c)) >> 11) + 1) * 0x1p-53; }

int rz_llama_random(const rz_llama_config *c, uint64_t seed, rz_llama **out, rz_err *e)
{
    int rc = rz_llama_alloc(c, out, e);
    if (rc) return rc;
    rz_llama *m = *out;
    int count = rz_llama_tensor_count(m);
    for (int i = 0; i < count; i++) {
        const char *name;
        float *w = NULL;
        int shape[2] = {0, 0}, ndim = 0;
        rz_llama_tensor_at(m, i, &name, &w, shape, &ndim);
        long n = (long)shape[0] * shape[1];
        if (ndim == 1) {
            for (long k = 0; k < n; k++) w[k] = 1.0f;
            continue;
        }
        /* Element k of tensor i: Box-Muller on the uniforms of counters 2(k/2), 2(k/2)+1 of
         * the stream (seed, i); even k take the cosine, odd k the sine. Counter-based, so
         * the loop can be split over threads and still give the same numbers. */
        uint64_t key = mix64(seed ^ mix64((uint64_t)i + 0x5EEDull));
#pragma omp parallel for schedule(static)
        for (long k = 0; k < n; k++) {
            uint64_t pair = (uint64_t)(k / 2) * 2;
            double u1 = uniform(key, pair), u2 = uniform(key, pair + 1);
            double r = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
            w[k] = (float)(0.02 * r * (k % 2 == 0 ? cos(a) : sin(a)));
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- llama2.c .bin files */

/* Order of the arrays in a legacy file. Each per-layer kind is stored for all layers. */
enum { K_ATT_NORM, K_WQ, K_WK, K_WV, K_WO, K_FFN_NORM, K_W1, K_W2, K_W3, N_KINDS };

static float *layer_tensor(rz_llama_layer *L, int kind)
{
    switch (kind) {
    case K_ATT_NORM: return L->attention_norm;
    case K_WQ: return L->wq;
    case K_WK: return L->wk;
    case K_WV: return L->wv;
    case K_WO: return L->wo;
    case K_FFN_NORM: return L->ffn_norm;
    case K_W1: return L->w1;
    case K_W2: return L->w2;
    default: return L->w3;
    }
}

static size_t layer_tensor_size(const rz_llama_config *c, int kind)
{
    size_t dim = (size_t)c->dim, kv = dim / (size_t)c->n_heads * (size_t)c->n_kv_heads, hid = (size_t)c->hidden_dim;
    switch (kind) {
    case K_ATT_NORM: case K_FFN_NORM: return dim;
    case K_WQ: case K_WO: return dim * dim;
    case K_WK: case K_WV: return kv * dim;
    default: return hid * dim;
    }
}

/* Bytes a legacy file of this configuration has. */
static uint64_t bin_size(const rz_llama_config *c)
{
    uint64_t floats = (uint64_t)c->vocab_size * (uint64_t)c->dim;
    for (int k = 0; k < N_KINDS; k++) floats += (uint64_t)c->n_layers * layer_tensor_size(c, k);
    floats += (uint64_t)c->dim;                                           /* final norm */
    floats += (uint64_t)c->seq_len * (uint64_t)(c->dim / c->n_heads);    /* freq_cis real + imag */
    if (!c->shared_classifier) floats += (uint64_t)c->vocab_size * (uint64_t)c->dim;
    return 28 + 4 * floats;
}

/* Index of the first non-finite value of w[0..n), or -1. */
static long first_nonfinite(const float *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(w[i])) return (long)i;
    return -1;
}

int rz_llama_load_bin(const char *path, rz_llama **out, rz_err *e)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return rz_fail(e, RZ_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return rz_fail(e, RZ_EINPUT, "%s: not a regular file", path);
    }
    int32_t h[7];
    if (fread(h, 4, 7, f) != 7) {
        fclose(f);
        return rz_fail(e, RZ_EINPUT, "%s: truncated: %lld bytes, the header needs 28", path, (long long)st.st_size);
    }
    rz_llama_config c = {h[0], h[1], h[2], h[3], h[4], h[5], h[6], 1, 10000.0f, 1e-5f};
    if (h[5] == INT32_MIN) { /* -INT32_MIN does not exist: say what the file holds */
        fclose(f);
        return rz_fail(e, RZ_EINPUT, "%s: bad header: vocab_size is %d (negative means an unshared "
                       "classifier of -vocab_size rows; that has no positive counterpart)", path, h[5]);
    }
    if (h[5] < 0) {
        c.shared_classifier = 0;
        c.vocab_size = -h[5];
    }
    int rc = rz_llama_config_check(&c, e);
    if (rc) {
        fclose(f);
        return rz_wrap(e, "%s: bad header", path);
    }
    uint64_t want = bin_size(&c);
    if ((uint64_t)st.st_size != want) {
        fclose(f);
        return rz_fail(e, RZ_EINPUT, "%s: %lld bytes, but a llama2.c checkpoint with this header (dim %d, layers %d, "
                       "vocab %d, seq_len %d) has %llu bytes (%s)", path, (long long)st.st_size, c.dim, c.n_layers,
                       c.vocab_size, c.seq_len, (unsigned long long)want,
                       (uint64_t)st.st_size < want ? "truncated" : "extra bytes at the end");
    }
    rz_llama *m;
    rc = rz_llama_alloc(&c, &m, e);
    if (rc) {
        fclose(f);
        return rz_wrap(e, "%s", path);
    }

    /* Read the arrays straight into place. */
    int ok = fread(m->tok_embeddings, sizeof(float), (size_t)c.vocab_size * c.dim, f) ==
             (size_t)c.vocab_size * c.dim;
    for (int k = 0; k < N_KINDS && ok; k++)
        for (int l = 0; l < c.n_layers && ok; l++) {
            size_t n = layer_tensor_size(&c, k);
            ok = fread(layer_tensor(&m->layers[l], k), sizeof(float), n, f) == n;
        }
    ok = ok && fread(m->norm, sizeof(float), (size_t)c.dim, f) == (size_t)c.dim;
    ok = ok && fseek(f, (long)c.seq_len * (c.dim / c.n_heads) * 4, SEEK_CUR) == 0; /* freq_cis: unused */
    if (!c.shared_classifier)
        ok = ok && fread(m->output, sizeof(float), (size_t)c.vocab_size * c.dim, f) == (size_t)c.vocab_size * c.dim;
    fclose(f);
    if (!ok) {
        rz_llama_free(m);
        return rz_fail(e, RZ_EINTERNAL, "%s: read error", path);
    }
    int count = rz_llama_tensor_count(m);
    for (int i = 0; i < count; i++) {
        const char *name;
        float *w = NULL;
        int shape[2] = {0, 0}, ndim = 0;
        rz_llama_tensor_at(m, i, &name, &w, shape, &ndim);
        long bad = first_nonfinite(w, (size_t)shape[0] * shape[1]);
        if (bad >= 0) {
            rz_fail(e, RZ_EINPUT, "%s: %s has a non-finite value at index %ld", path, name, bad);
            rz_llama_free(m);
            return RZ_EINPUT;
        }
    }
    *out = m;
    return 0;
}

/* freq_cis as llama2.c's exporter writes them (model.py precompute_freqs_cis, float32):
 * freq_j = 1 / theta^(2j / head_size), angle = t * freq_j, then cos and sin. */
static int write_freq_cis(FILE *f, const rz_llama_config *c, int imag)
{
    int hs = c->dim / c->n_heads;
    for (int t = 0; t < c->seq_len; t++)
        for (int j = 0; j < hs / 2; j++) {
            float freq = 1.0f / powf(c->rope_theta, (float)(2 * j) / (float)hs);
            float a = (float)t * freq;
            float v = imag ? sinf(a) : cosf(a);
            if (fwrite(&v, 4, 1, f) != 1) return 0;
        }
    return 1;
}

int rz_llama_save_bin(const rz_llama *m, const char *path, rz_err *e)
{
    const rz_llama_config *c = &m->config;
    rz_outfile out; /* a temporary beside path, renamed into place when complete */
    int rc = rz_outfile_open(&out, path, e);
    if (rc) return rc;
    FILE *f = out.f;
    int32_t h[7] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads,
                    c->shared_classifier ? c->vocab_size : -c->vocab_size, c->seq_len};
    int ok = fwrite(h, 4, 7, f) == 7;
    ok = ok && fwrite(m->tok_embeddings, sizeof(float), (size_t)c->vocab_size * c->dim, f) ==
                   (size_t)c->vocab_size * c->dim;
    for (int k = 0; k < N_KINDS && ok; k++)
        for (int l = 0; l < c->n_layers && ok; l++) {
            size_t n = layer_tensor_size(c, k);
            ok = fwrite(layer_tensor(&m->layers[l], k), sizeof(float), n, f) == n;
        }
    ok = ok && fwrite(m->norm, sizeof(float), (size_t)c->dim, f) == (size_t)c->dim;
    ok = ok && write_freq_cis(f, c, 0) && write_freq_cis(f, c, 1);
    if (!c->shared_classifier)
        ok = ok && fwrite(m->output, sizeof(float), (size_t)c->vocab_size * c->dim, f) ==
                       (size_t)c->vocab_size * c->dim;
    if (!ok) {
        rz_outfile_abort(&out);
        return rz_fail(e, RZ_EINTERNAL, "%s: write failed: %s", path, strerror(errno));
    }
    return rz_outfile_commit(&out, e);
}

/* ---------------------------------------------------------------- state */

struct rz_llama_state {
    int max_T, max_ctx;
    float *x;           /* [max_T][dim] residual stream */
    float *xb;          /* [max_T][dim] normalised input of a block; attention output */
    float *qkv;         /* [max_T][dim + 2 kv_dim] queries | keys | values */
    float *h;           /* [max_T][2 hidden] w1 x | w3 x, then silu(w1 x) * w3 x in the left half */
    float *key_cache;   /* [n_layers][max_ctx][kv_dim] keys rotated at their position index */
    float *value_cache; /* [n_layers][max_ctx][kv_dim] */
    rz_attn *attn;      /* RoPE method + streaming causal attention (attention.h) */
    rz_llama_tap tap;   /* calibration hook (rz_llama_set_tap), NULL normally */
    void *tap_ctx;
    float *qscratch;    /* quantised linears' scratch (qlinear.h), NULL without them */
    int qthreads;       /* threads that scratch has room for */
    float *tx;          /* [qthreads][dim] each thread's normalised input in forward_team */
    float *ty;          /* [dim] the products forward_team adds to the residual; forward_team_rot's ỹ of wo, w2 */
    float *tp;          /* [qthreads][tp_stride] each thread's vectors in forward_team_rot */
    size_t tp_stride;
    int tp_pcols;       /* the widest x̃ tp has room for */
    rz_spinbar bar;     /* the barrier of forward_team and forward_team_rot's teams */
};

void rz_llama_set_tap(rz_llama_state *s, rz_llama_tap tap, void *ctx)
{
    s->tap = tap;
    s->tap_ctx = ctx;
}

void rz_llama_state_free(rz_llama_state *s)
{
    if (!s) return;
    free(s->x);
    free(s->xb);
    free(s->qkv);
    free(s->h);
    free(s->key_cache);
    free(s->value_cache);
    free(s->qscratch);
    free(s->tx);
    free(s->ty);
    free(s->tp);
    rz_attn_free(s->attn);
    free(s);
}

/* Zeroed 64-byte aligned array of a*b floats (sizes come from a checked config and
 * max_ctx <= seq_len, so a*b is far from overflowing). */
static float *alloc_floats(size_t a, size_t b, rz_err *e)
{
    size_t n = round_up(a * b > 0 ? a * b : 1);
    float *p = aligned_alloc(64, n * sizeof(float));
    if (!p) {
        rz_fail(e, RZ_EINTERNAL, "out of memory allocating %zu floats", n);
        return NULL;
    }
    memset(p, 0, n * sizeof(float));
    return p;
}

int rz_llama_state_new(const rz_llama *m, int max_T, int max_ctx, rz_llama_state **out, rz_err *e)
{
    if (max_ctx < 1 || max_ctx > m->config.seq_len)
        return rz_fail(e, RZ_EINPUT, "state: max_ctx %d is not in [1, seq_len %d]", max_ctx, m->config.seq_len);
    rz_rope_method plain = rz_rope_default(m->config.rope_theta);
    return rz_llama_state_new_ext(m, max_T, max_ctx, &plain, out, e);
}

int rz_llama_state_new_ext(const rz_llama *m, int max_T, int max_ctx, const rz_rope_method *rope,
                           rz_llama_state **out, rz_err *e)
{
    const rz_llama_config *c = &m->config;
    *out = NULL;
    /* the caller chose the method, so contexts past seq_len are its decision */
    if (max_ctx < 1 || max_ctx > (1 << 24))
        return rz_fail(e, RZ_EINPUT, "state: max_ctx %d is not in [1, 2^24]", max_ctx);
    if (max_T < 1 || max_T > max_ctx)
        return rz_fail(e, RZ_EINPUT, "state: max_T %d is not in [1, max_ctx %d]", max_T, max_ctx);
    rz_llama_state *s = rz_calloc(1, sizeof *s, e);
    if (!s) return RZ_EINTERNAL;
    rz_spinbar_init(&s->bar);
    size_t dim = (size_t)c->dim, hs = dim / (size_t)c->n_heads, kv = hs * (size_t)c->n_kv_heads;
    size_t T = (size_t)max_T, ctx = (size_t)max_ctx;
    s->max_T = max_T;
    s->max_ctx = max_ctx;
    if (!(s->x = alloc_floats(T, dim, e)) || !(s->xb = alloc_floats(T, dim, e)) ||
        !(s->qkv = alloc_floats(T, dim + 2 * kv, e)) || !(s->h = alloc_floats(T, 2 * (size_t)c->hidden_dim, e)) ||
        !(s->key_cache = alloc_floats((size_t)c->n_layers * ctx, kv, e)) ||
        !(s->value_cache = alloc_floats((size_t)c->n_layers * ctx, kv, e))) {
        rz_llama_state_free(s);
        return RZ_EINTERNAL;
    }
    if (m->qlin || m->qout) {
        size_t need = 0;
        s->qthreads = omp_get_max_threads();
        for (long i = 0; m->qlin && i < (long)RZ_LIN_PER_LAYER * c->n_layers; i++)
            if (m->qlin[i]) {
                size_t n = rz_qlinear_scratch_floats(m->qlin[i], max_T, s->qthreads);
                need = n > need ? n : need;
            }
        /* the groups group_linear applies together: wq|wk|wv and w1|w3 */
        for (int l = 0; m->qlin && l < c->n_layers; l++) {
            struct rz_qlinear *const *q = m->qlin + (size_t)RZ_LIN_PER_LAYER * l;
            if (q[RZ_LIN_WQ] && q[RZ_LIN_WK] && q[RZ_LIN_WV]) {
                struct rz_qlinear *g[3] = {q[RZ_LIN_WQ], q[RZ_LIN_WK], q[RZ_LIN_WV]};
                size_t n = rz_qlinear_scratch_floats_group(g, 3, max_T, s->qthreads);
                need = n > need ? n : need;
            }
            if (q[RZ_LIN_W1] && q[RZ_LIN_W3]) {
                struct rz_qlinear *g[2] = {q[RZ_LIN_W1], q[RZ_LIN_W3]};
                size_t n = rz_qlinear_scratch_floats_group(g, 2, max_T, s->qthreads);
                need = n > need ? n : need;
            }
        }
        if (m->qout) { /* see classifier() */
            size_t n = rz_qlinear_direct_ok(m->qout)
                           ? rz_qlinear_scratch_floats_direct(m->qout, max_T, s->qthreads)
                           : rz_qlinear_scratch_floats(m->qout, max_T < RZ_CLS_ROWS ? max_T : RZ_CLS_ROWS, s->qthreads);
            need = n > need ? n : need;
        }
        /* forward_team_rot's vectors per thread: x, rmsnorm(x), q | k | v, h, a product to
         * add, and up to three x̃ of the widest layer */
        int pc = c->hidden_dim > c->dim ? c->hidden_dim : c->dim;
        for (long i = 0; m->qlin && i < (long)RZ_LIN_PER_LAYER * c->n_layers; i++)
            if (m->qlin[i] && rz_qlinear_pcols(m->qlin[i]) > pc) pc = rz_qlinear_pcols(m->qlin[i]);
        s->tp_pcols = pc;
        s->tp_stride = round_up(4 * dim + 2 * kv + 2 * (size_t)c->hidden_dim + 3 * (size_t)pc);
        if (!(s->qscratch = alloc_floats(need, 1, e)) || !(s->tx = alloc_floats((size_t)s->qthreads, dim, e)) ||
            !(s->ty = alloc_floats(dim, 1, e)) || !(s->tp = alloc_floats((size_t)s->qthreads, s->tp_stride, e))) {
            rz_llama_state_free(s);
            return RZ_EINTERNAL;
        }
    }
    int rc = rz_attn_new(rope, c->n_heads, c->n_kv_heads, (int)hs, max_ctx, &s->attn, e);
    if (rc) {
        rz_llama_state_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---------------------------------------------------------------- forward pieces */

/* One compiled body of a function for every caller: gcc may otherwise clone rmsnorm for
 * forward_team's constant T = 1 and sum the squares in another order there, and that
 * path must give the bits of the other. */
#if defined(__GNUC__) && !defined(__clang__)
#define ONE_BODY __attribute__((noipa))
#else
#define ONE_BODY __attribute__((noinline))
#endif

/* out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w for each of T rows of n. */
static ONE_BODY void rmsnorm(float *restrict out, const float *restrict x, const float *restrict w, int T, int n, float eps)
{
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * n;
        float *ot = out + (size_t)t * n;
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int i = 0; i < n; i++) ss += xt[i] * xt[i];
        float inv = 1.0f / sqrtf(ss / (float)n + eps);
        for (int i = 0; i < n; i++) ot[i] = w[i] * (xt[i] * inv);
    }
}

/* SwiGLU on entries [i0, i1) of one row a | b (each hidden wide): a becomes silu(a) * b,
 * silu(a) = a * sigmoid(a) = a / (1 + exp(-a)); swiglu on T rows of h = [w1 x | w3 x]. */
static ONE_BODY void swiglu_rows(float *restrict a, int hidden, int i0, int i1)
{
    const float *restrict b = a + hidden;
    for (int i = i0; i < i1; i++) a[i] = a[i] / (1.0f + rz_expf(-a[i])) * b[i];
}

static void swiglu(float *restrict h, int T, int hidden)
{
    for (int t = 0; t < T; t++) swiglu_rows(h + (size_t)t * 2 * hidden, hidden, 0, hidden);
}

/* y[T][n_out] (row stride ldy) = beta y + x[T][n_in] (row stride ldx) . W[n_out][n_in]^T,
 * through rz_matmul_nt: the same result with any number of threads (linalg.h). */
static void linear(float *y, int ldy, const float *x, int ldx, const float *W, int T, int n_in, int n_out, float beta)
{
    rz_matmul_nt(T, n_out, n_in, x, ldx, W, n_in, y, ldy, beta != 0.0f);
}

/* A fused group of linears of layer l sharing the input x: members lin[0..n) (RZ_LIN_*),
 * whose outputs sit side by side in y (widths out[]), stored densely one after another
 * from W. All dense: one product over the group; otherwise each member on its own,
 * quantised ones through their codes (qlinear.h). */
static void group_linear(const rz_llama *m, rz_llama_state *s, int l, int n, const int *lin, const int *out,
                         const float *W, float *y, int ldy, const float *x, int ldx, int T, int n_in, float beta)
{
    struct rz_qlinear *const *q = m->qlin ? m->qlin + (size_t)RZ_LIN_PER_LAYER * l : NULL;
    int any = 0, total = 0;
    for (int k = 0; k < n; k++) {
        any |= q && q[lin[k]];
        total += out[k];
    }
    if (!any) {
        linear(y, ldy, x, ldx, W, T, n_in, total, beta);
        return;
    }
    int all = 1;
    for (int k = 0; k < n; k++) all &= q[lin[k]] != NULL;
    if (all && n <= RZ_LIN_PER_LAYER) { /* one OpenMP region for the group at decode (qlinear.h) */
        struct rz_qlinear *g[RZ_LIN_PER_LAYER];
        for (int k = 0; k < n; k++) g[k] = q[lin[k]];
        rz_qlinear_apply_group(g, n, T, x, ldx, y, ldy, beta != 0.0f, s->qscratch, s->qthreads);
        return;
    }
    for (int k = 0, off = 0; k < n; off += out[k], k++) {
        if (q[lin[k]])
            rz_qlinear_apply(q[lin[k]], T, x, ldx, y + off, ldy, beta != 0.0f, s->qscratch, s->qthreads);
        else
            linear(y + off, ldy, x, ldx, W + (size_t)off * n_in, T, n_in, out[k], beta);
    }
}

/* out[dim] = the embedding of token: decoded from its codes when the table is quantised. */
static void embed(const rz_llama *m, int token, float *out)
{
    int dim = m->config.dim;
    if (m->qemb) rz_qlinear_row(m->qemb, token, out);
    else memcpy(out, m->tok_embeddings + (size_t)token * dim, (size_t)dim * sizeof(float));
}

/* logits[T][vocab] = x[T][dim] . output^T: dense through linear(), quantised through the
 * codes: all T rows in one call written straight into logits (each panel of the table is
 * decoded once per call), or RZ_CLS_ROWS rows at a time when the table has an output-side
 * transform, so the scratch never grows with T x vocab. */
static void classifier(const rz_llama *m, const rz_llama_state *s, const float *x, int T, float *logits)
{
    const rz_llama_config *c = &m->config;
    if (!m->qout) {
        linear(logits, c->vocab_size, x, c->dim, m->output, T, c->dim, c->vocab_size, 0.0f);
        return;
    }
    int slice = rz_qlinear_direct_ok(m->qout) ? T : RZ_CLS_ROWS;
    for (int t0 = 0; t0 < T; t0 += slice) {
        int n = T - t0 < slice ? T - t0 : slice;
        rz_qlinear_apply(m->qout, n, x + (size_t)t0 * c->dim, c->dim, logits + (size_t)t0 * c->vocab_size,
                         c->vocab_size, 0, s->qscratch, s->qthreads);
    }
}

/* ---------------------------------------------------------------- forward */

/* Which one-region step runs (llama.h): 1 forward_team when every linear is read as it is,
 * the head size a multiple of RZ_QLINEAR_ROWS (so the split by heads cuts the linears where
 * rz_qlinear_apply's chunks do) and every thread gets a kv head; else 2 forward_team_rot,
 * when no linear has a low-rank part. Both need attention's split by heads at pos0
 * (rz_attn_decode_ok). */
int rz_llama_one_region(const rz_llama *m, const rz_llama_state *s, int T, int pos0)
{
    const rz_llama_config *c = &m->config;
    if (T != 1 || s->tap || !m->qlin || !s->tp || !rz_attn_decode_ok(s->attn, pos0)) return 0;
    int rows = 1;
    for (long i = 0; i < (long)RZ_LIN_PER_LAYER * c->n_layers; i++) {
        const struct rz_qlinear *q = m->qlin[i];
        if (!q || !rz_qlinear_step_ok(q) || rz_qlinear_pcols(q) > s->tp_pcols) return 0;
        rows &= rz_qlinear_row_ok(q);
    }
    return rows && (c->dim / c->n_heads) % RZ_QLINEAR_ROWS == 0 && c->n_kv_heads >= s->qthreads ? 1 : 2;
}

/* Part id of n of the RZ_QLINEAR_ROWS-row chunks of ỹ = x̃ Q̃ᵀ of one linear, into the shared y. */
static void team_rows(const struct rz_qlinear *a, const float *xt, float *y, int id, int n)
{
    int r0, r1, rows = rz_qlinear_rows(a);
    rz_qlinear_split_rows(rows, id, n, &r0, &r1);
    rz_qlinear_apply_rows(a, r0, r1, 1, xt, rz_qlinear_pcols(a), y, rows, NULL);
}

/* One token at pos0 (rz_llama_one_region) in one OpenMP region of s->qthreads threads, instead of a
 * region per linear group: thread id of n
 *   - computes rmsnorm(x) itself into its own tx (every thread the same bits);
 *   - takes kv heads [g0, g1) = [id kv / n, (id + 1) kv / n): the rows of wq, wk, wv of
 *     those heads, their keys and values into the cache and their attention
 *     (rz_attn_decode_part), so q, k, v never cross threads;
 *   - takes part id of the RZ_QLINEAR_ROWS-row chunks of wo, w1 and w3 (the same rows of
 *     both, so silu(w1 x) * w3 x is formed on them), w2 and the classifier, adding wo and
 *     w2's rows to its rows of x;
 * with a barrier where a thread next reads what others wrote: before wo (the attention
 * output), before each rmsnorm (x), before w2 (h): four per layer. Every output element is
 * computed whole by one thread with the operations of the region-per-group path
 * (rz_qlinear_apply_rows, rz_attn_decode_part, the same rmsnorm and swiglu), so the
 * result is that path's, bit for bit, for any thread count. The final rmsnorm is left in
 * xb (rz_llama_logits, rz_llama_hidden); the classifier runs here when it too is read as
 * it is, else after (classifier()). */
static void forward_team(const rz_llama *m, rz_llama_state *s, int token, int pos0, float *logits)
{
    const rz_llama_config *c = &m->config;
    int dim = c->dim, hid = c->hidden_dim, hs = dim / c->n_heads, kv_dim = hs * c->n_kv_heads;
    int group = c->n_heads / c->n_kv_heads, nt = s->qthreads;
    size_t cache_layer = (size_t)s->max_ctx * kv_dim;
    int cls = logits && m->qout && rz_qlinear_row_ok(m->qout);
    embed(m, token, s->x);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int id = omp_get_thread_num(), n = omp_get_num_threads();
        int g0 = id * c->n_kv_heads / n, g1 = (id + 1) * c->n_kv_heads / n, r0, r1, h0, h1;
        float *xb = s->tx + (size_t)id * dim, *q = s->qkv, *k = q + dim, *v = k + kv_dim;
        rz_qlinear_split_rows(dim, id, n, &r0, &r1);
        rz_qlinear_split_rows(hid, id, n, &h0, &h1);
        for (int l = 0; l < c->n_layers; l++) {
            const rz_llama_layer *L = &m->layers[l];
            struct rz_qlinear *const *ql = m->qlin + (size_t)RZ_LIN_PER_LAYER * l;
            float *kc = s->key_cache + l * cache_layer, *vc = s->value_cache + l * cache_layer;
            rmsnorm(xb, s->x, L->attention_norm, 1, dim, c->norm_eps);
            rz_qlinear_apply_rows(ql[RZ_LIN_WQ], g0 * group * hs, g1 * group * hs, 1, xb, dim, q, dim, NULL);
            rz_qlinear_apply_rows(ql[RZ_LIN_WK], g0 * hs, g1 * hs, 1, xb, dim, k, kv_dim, NULL);
            rz_qlinear_apply_rows(ql[RZ_LIN_WV], g0 * hs, g1 * hs, 1, xb, dim, v, kv_dim, NULL);
            rz_attn_decode_part(s->attn, q, k, v, pos0, kc, vc, s->xb, g0, g1);
            rz_spinbar_wait(&s->bar, n);
            rz_qlinear_apply_rows(ql[RZ_LIN_WO], r0, r1, 1, s->xb, dim, s->x, dim, s->ty);
            rz_spinbar_wait(&s->bar, n);
            rmsnorm(xb, s->x, L->ffn_norm, 1, dim, c->norm_eps);
            rz_qlinear_apply_rows(ql[RZ_LIN_W1], h0, h1, 1, xb, dim, s->h, 2 * hid, NULL);
            rz_qlinear_apply_rows(ql[RZ_LIN_W3], h0, h1, 1, xb, dim, s->h + hid, 2 * hid, NULL);
            swiglu_rows(s->h, hid, h0, h1);
            rz_spinbar_wait(&s->bar, n);
            rz_qlinear_apply_rows(ql[RZ_LIN_W2], r0, r1, 1, s->h, 2 * hid, s->x, dim, s->ty);
            rz_spinbar_wait(&s->bar, n);
        }
        rmsnorm(xb, s->x, m->norm, 1, dim, c->norm_eps);
        if (cls) team_rows(m->qout, xb, logits, id, n); /* read as it is: x̃ = x, ỹ = logits */
        if (id == 0) memcpy(s->xb, xb, (size_t)dim * sizeof(float));
    }
    if (logits && !cls) classifier(m, s, s->xb, 1, logits);
}

/* One token at pos0 in one OpenMP region when linears have transforms (e8p with incoherence:
 * rz_llama_one_region 2). An output transform y = Uᵀ ỹ needs all of ỹ, so the heads cannot
 * be split at the linears as forward_team splits them. Instead every linear goes as
 *     x̃ = V x           on every thread, from its own copy of x (the same bits on each);
 *     rows of ỹ          part id of the RZ_QLINEAR_ROWS-row chunks, into a shared ỹ;
 *     barrier
 *     y = Uᵀ ỹ           on every thread into its own copy (a transform of 768 floats is
 *                        ~0.7 µs: cheaper to repeat than to wait for at another barrier),
 * so each thread holds the whole residual x, q | k | v and h itself and only the rows of ỹ
 * and the attention output cross threads: after the rows of wq|wk|wv, after attention
 * (kv heads [g0, g1) per thread, rz_attn_decode_part, into the shared xb), after wo's
 * rows, after w1|w3's and after w2's: five barriers per layer. Every element is computed
 * whole with the operations of the region-per-group path (rz_qlinear_apply_group at T = 1:
 * rz_qlinear_step_in, the kernels over rows, rz_qlinear_step_out; the same rmsnorm and
 * swiglu), so the bits are that path's for any thread count (test_llama_team). A shared ỹ
 * is written again only after a barrier that every reader of it has passed. */
static void forward_team_rot(const rz_llama *m, rz_llama_state *s, int token, int pos0, float *logits)
{
    const rz_llama_config *c = &m->config;
    int dim = c->dim, hid = c->hidden_dim, hs = dim / c->n_heads, kv_dim = hs * c->n_kv_heads;
    int nt = s->qthreads, pc = s->tp_pcols;
    size_t cache_layer = (size_t)s->max_ctx * kv_dim;
    int cls = logits && m->qout && rz_qlinear_row_ok(m->qout);
    /* shared: ỹ of wq | wk | wv, of w1 | w3, of wo and then w2; the attention output */
    float *yqkv = s->qkv, *y13 = s->h, *yo = s->ty, *att = s->xb;
    embed(m, token, s->x);
    /* a transform with an odd factor >= 16 multiplies by BLAS (rht.c): on this thread only */
    int blas_threads = openblas_get_num_threads();
    if (blas_threads != 1) openblas_set_num_threads(1);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int id = omp_get_thread_num(), n = omp_get_num_threads();
        int g0 = id * c->n_kv_heads / n, g1 = (id + 1) * c->n_kv_heads / n;
        /* this thread's vectors (tp_stride floats, rz_llama_state_new) */
        float *x = s->tp + (size_t)id * s->tp_stride, *xb = x + dim, *qkv = xb + dim, *h = qkv + dim + 2 * kv_dim;
        float *tmp = h + 2 * hid, *xt = tmp + dim;
        memcpy(x, s->x, (size_t)dim * sizeof(float));
        for (int l = 0; l < c->n_layers; l++) {
            const rz_llama_layer *L = &m->layers[l];
            struct rz_qlinear *const *ql = m->qlin + (size_t)RZ_LIN_PER_LAYER * l;
            float *kc = s->key_cache + l * cache_layer, *vc = s->value_cache + l * cache_layer;
            static const int qkv_lin[3] = {RZ_LIN_WQ, RZ_LIN_WK, RZ_LIN_WV}, ffn_lin[2] = {RZ_LIN_W1, RZ_LIN_W3};
            const int qkv_off[3] = {0, dim, dim + kv_dim};
            const float *in[3];

            /* q | k | v = rmsnorm(x) . [wq; wk; wv]^T (members with one V share x̃) */
            rmsnorm(xb, x, L->attention_norm, 1, dim, c->norm_eps);
            for (int j = 0; j < 3; j++) {
                const struct rz_qlinear *a = ql[qkv_lin[j]];
                int jj = 0;
                while (jj < j && !rz_qlinear_same_input_rht(ql[qkv_lin[jj]], a)) jj++;
                in[j] = jj < j ? in[jj] : rz_qlinear_step_in(a, xb, xt + (size_t)j * pc);
                team_rows(a, in[j], yqkv + qkv_off[j], id, n);
            }
            rz_spinbar_wait(&s->bar, n);
            for (int j = 0; j < 3; j++)
                rz_qlinear_step_out(ql[qkv_lin[j]], yqkv + qkv_off[j], NULL, qkv + qkv_off[j], 0);
            rz_attn_decode_part(s->attn, qkv, qkv + dim, qkv + dim + kv_dim, pos0, kc, vc, att, g0, g1);
            rz_spinbar_wait(&s->bar, n);

            /* x += att . wo^T */
            team_rows(ql[RZ_LIN_WO], rz_qlinear_step_in(ql[RZ_LIN_WO], att, xt), yo, id, n);
            rz_spinbar_wait(&s->bar, n);
            rz_qlinear_step_out(ql[RZ_LIN_WO], yo, tmp, x, 1);

            /* h = rmsnorm(x) . [w1; w3]^T, silu(h1) * h3, x += . w2^T */
            rmsnorm(xb, x, L->ffn_norm, 1, dim, c->norm_eps);
            for (int j = 0; j < 2; j++) {
                const struct rz_qlinear *a = ql[ffn_lin[j]];
                int shared = j && rz_qlinear_same_input_rht(ql[ffn_lin[0]], a);
                in[j] = shared ? in[0] : rz_qlinear_step_in(a, xb, xt + (size_t)j * pc);
                team_rows(a, in[j], y13 + (size_t)j * hid, id, n);
            }
            rz_spinbar_wait(&s->bar, n);
            for (int j = 0; j < 2; j++)
                rz_qlinear_step_out(ql[ffn_lin[j]], y13 + (size_t)j * hid, NULL, h + (size_t)j * hid, 0);
            swiglu_rows(h, hid, 0, hid);
            team_rows(ql[RZ_LIN_W2], rz_qlinear_step_in(ql[RZ_LIN_W2], h, xt), yo, id, n);
            rz_spinbar_wait(&s->bar, n);
            rz_qlinear_step_out(ql[RZ_LIN_W2], yo, tmp, x, 1);
        }
        rmsnorm(xb, x, m->norm, 1, dim, c->norm_eps);
        if (cls) team_rows(m->qout, xb, logits, id, n); /* read as it is: x̃ = x, ỹ = logits */
        if (id == 0) {
            memcpy(s->x, x, (size_t)dim * sizeof(float));
            memcpy(s->xb, xb, (size_t)dim * sizeof(float));
        }
    }
    if (blas_threads != 1) openblas_set_num_threads(blas_threads);
    if (logits && !cls) classifier(m, s, s->xb, 1, logits);
}

int rz_llama_forward(const rz_llama *m, rz_llama_state *s, const int *tokens, int T, int pos0, float *logits)
{
    const rz_llama_config *c = &m->config;
    if (T < 1 || T > s->max_T || pos0 < 0 || pos0 > s->max_ctx - T) return RZ_EINPUT;
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size) return RZ_EINPUT;
    int dim = c->dim, hid = c->hidden_dim, hs = dim / c->n_heads, kv_dim = hs * c->n_kv_heads;
    int qkv_w = dim + 2 * kv_dim;
    size_t cache_layer = (size_t)s->max_ctx * kv_dim;
    switch (rz_llama_one_region(m, s, T, pos0)) {
    case 1: forward_team(m, s, tokens[0], pos0, logits); return 0;
    case 2: forward_team_rot(m, s, tokens[0], pos0, logits); return 0;
    default: break;
    }

    /* x[t] = embedding of tokens[t] */
    for (int t = 0; t < T; t++) embed(m, tokens[t], s->x + (size_t)t * dim);

    for (int l = 0; l < c->n_layers; l++) {
        const rz_llama_layer *L = &m->layers[l];
        float *kc = s->key_cache + l * cache_layer, *vc = s->value_cache + l * cache_layer;

        /* Attention block: qkv[T][dim + 2 kv_dim] = rmsnorm(x) . [wq; wk; wv]^T */
        rmsnorm(s->xb, s->x, L->attention_norm, T, dim, c->norm_eps);
        if (s->tap) s->tap(s->tap_ctx, l, RZ_TAP_ATTN_IN, s->xb, T, dim, dim);
        group_linear(m, s, l, 3, (const int[]){RZ_LIN_WQ, RZ_LIN_WK, RZ_LIN_WV}, (const int[]){dim, kv_dim, kv_dim},
                     L->wqkv, s->qkv, qkv_w, s->xb, dim, T, dim, 0.0f);
        /* k, v into the cache rows pos0.. (k rotated at its position index), then causal
         * attention of the (un-rotated) queries over cache rows [0, pos0 + T) */
        rz_attn_store_kv(s->attn, s->qkv + dim, qkv_w, s->qkv + dim + kv_dim, qkv_w, T, pos0, kc, vc);
        rz_attn_forward(s->attn, s->qkv, qkv_w, T, pos0, kc, vc, s->xb, dim);
        /* x += att . wo^T (the residual via beta = 1) */
        if (s->tap) s->tap(s->tap_ctx, l, RZ_TAP_ATTN_OUT, s->xb, T, dim, dim);
        group_linear(m, s, l, 1, (const int[]){RZ_LIN_WO}, (const int[]){dim}, L->wo, s->x, dim, s->xb, dim, T, dim,
                     1.0f);

        /* Feed-forward block: h = rmsnorm(x) . [w1; w3]^T, silu(h1) * h3, x += . w2^T */
        rmsnorm(s->xb, s->x, L->ffn_norm, T, dim, c->norm_eps);
        if (s->tap) s->tap(s->tap_ctx, l, RZ_TAP_MLP_IN, s->xb, T, dim, dim);
        group_linear(m, s, l, 2, (const int[]){RZ_LIN_W1, RZ_LIN_W3}, (const int[]){hid, hid}, L->w13, s->h, 2 * hid,
                     s->xb, dim, T, dim, 0.0f);
        swiglu(s->h, T, hid);
        if (s->tap) s->tap(s->tap_ctx, l, RZ_TAP_MLP_DOWN, s->h, T, hid, 2 * hid);
        group_linear(m, s, l, 1, (const int[]){RZ_LIN_W2}, (const int[]){dim}, L->w2, s->x, dim, s->h, 2 * hid, T, hid,
                     1.0f);
    }

    /* logits[T][vocab] = rmsnorm(x) . output^T */
    rmsnorm(s->xb, s->x, m->norm, T, dim, c->norm_eps);
    if (logits) classifier(m, s, s->xb, T, logits);
    return 0;
}

void rz_llama_logits(const rz_llama *m, const rz_llama_state *s, int t0, int n, float *logits)
{
    classifier(m, s, s->xb + (size_t)t0 * m->config.dim, n, logits);
}

const float *rz_llama_hidden(const rz_llama_state *s) { return s->xb; }

double rz_llama_forward_flops(const rz_llama *m, int T, int pos0)
{
    const rz_llama_config *c = &m->config;
    double dim = c->dim, hid = c->hidden_dim, hs = dim / c->n_heads, kv = hs * c->n_kv_heads;
    double linears = (dim + 2 * kv) * dim + dim * dim + 2 * hid * dim + hid * dim;
    /* attention, per head: the query at position p meets p + 1 keys in Q K^T and as many
     * values in P V (hs multiply-adds each): the exact causal triangle, not the masked
     * parts of blocks that attention.c also multiplies, so this is the useful work */
    double pairs = (double)T * pos0 + (double)T * (T + 1) / 2;
    double att = 2.0 * pairs * hs;
    return 2.0 * (c->n_layers * (T * linears + c->n_heads * att) + (double)T * dim * c->vocab_size);
}

/* ---------------------------------------------------------------- outputs */

int rz_llama_argmax(const float *logits, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

void rz_log_softmax_nll(const float *logits, int T, int vocab, const int *targets, double *nll_out)
{
    /* Rows are independent: OpenMP over rows, each row the same computation whatever the
     * thread count. exp in float (rz_expf, ~1 ulp) vectorises; the sum of up to 32000
     * terms is accumulated in double, so the log-sum-exp is good to ~1e-7 relative. */
#pragma omp parallel for schedule(static) if ((long)T * vocab >= (1L << 16))
    for (int t = 0; t < T; t++) {
        const float *row = logits + (size_t)t * vocab;
        if (targets[t] < 0 || targets[t] >= vocab) {
            nll_out[t] = NAN;
            continue;
        }
        float mx = row[0];
#pragma omp simd reduction(max : mx)
        for (int i = 0; i < vocab; i++) mx = row[i] > mx ? row[i] : mx;
        double sum = 0.0;
#pragma omp simd reduction(+ : sum)
        for (int i = 0; i < vocab; i++) sum += (double)rz_expf(row[i] - mx);
        /* -log p = log sum exp(x - max) - (x_target - max) */
        nll_out[t] = log(sum) - ((double)row[targets[t]] - (double)mx);
    }
}

/* ---------------------------------------------------------------- identity and linears */

uint64_t rz_llama_identity(rz_llama *m, int flavour)
{
    /* the configuration field by field — the bytes the struct held when the layer
     * identity was defined (eight int32 then two float32, no padding), or eight int64
     * for checkpoints — so existing files keep their value and a field added to
     * rz_llama_config changes neither */
    const rz_llama_config *c = &m->config;
    int64_t ints[8] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len,
                       c->shared_classifier};
    int32_t ints32[8];
    for (int k = 0; k < 8; k++) ints32[k] = (int32_t)ints[k];
    float fl[2] = {c->rope_theta, c->norm_eps};
    uint64_t h = flavour == RZ_ID_CHECKPOINT ? rz_checksum(RZ_CHECKSUM_INIT, ints, sizeof ints)
                                             : rz_checksum(RZ_CHECKSUM_INIT, ints32, sizeof ints32);
    h = rz_checksum(h, fl, sizeof fl);
    for (int i = 0; i < rz_llama_tensor_count(m); i++) {
        const char *name;
        float *data;
        int shape[2], ndim;
        rz_llama_tensor_at(m, i, &name, &data, shape, &ndim);
        if (flavour == RZ_ID_CHECKPOINT) h = rz_checksum(h, name, strlen(name));
        h = rz_checksum(h, data, (size_t)shape[0] * (size_t)(ndim == 2 ? shape[1] : 1) * sizeof *data);
    }
    return h;
}

int rz_llama_linear(rz_llama *m, long i, char *buf, size_t cap, float **data, int *rows, int *cols,
                     int *layer, int *group)
{
    static const int groups[7] = {RZ_TAP_ATTN_IN, RZ_TAP_ATTN_IN, RZ_TAP_ATTN_IN, RZ_TAP_ATTN_OUT,
                                  RZ_TAP_MLP_IN, RZ_TAP_MLP_DOWN, RZ_TAP_MLP_IN};
    if (rz_llama_linear_shape(&m->config, i, rows, cols)) return -1;
    int l = (int)(i / RZ_LIN_PER_LAYER), k = (int)(i % RZ_LIN_PER_LAYER);
    const rz_llama_layer *L = &m->layers[l];
    float *ptr[RZ_LIN_PER_LAYER] = {L->wq, L->wk, L->wv, L->wo, L->w1, L->w2, L->w3};
    rz_lin_tensor_name(i, buf, cap);
    *data = ptr[k];
    *layer = l;
    *group = groups[k];
    return 0;
}

const char *rz_lin_name(int kind)
{
    static const char *const names[RZ_LIN_PER_LAYER] = {"attention.wq",    "attention.wk",    "attention.wv",
                                                        "attention.wo",    "feed_forward.w1", "feed_forward.w2",
                                                        "feed_forward.w3"};
    return kind >= 0 && kind < RZ_LIN_PER_LAYER ? names[kind] : "?";
}

void rz_lin_tensor_name(long i, char *buf, size_t cap)
{
    snprintf(buf, cap, "layers.%ld.%s.weight", i / RZ_LIN_PER_LAYER, rz_lin_name((int)(i % RZ_LIN_PER_LAYER)));
}

long rz_lin_find(int n_layers, const char *name)
{
    /* "layers." digits "." kind ".weight", the layer written as rz_lin_tensor_name writes it */
    if (strncmp(name, "layers.", 7) != 0) return -1;
    const char *p = name + 7;
    if (*p < '0' || *p > '9' || (*p == '0' && p[1] != '.')) return -1;
    long l = 0;
    while (*p >= '0' && *p <= '9') {
        l = 10 * l + (*p++ - '0');
        if (l >= n_layers) return -1;
    }
    if (*p++ != '.') return -1;
    for (int k = 0; k < RZ_LIN_PER_LAYER; k++) {
        size_t n = strlen(rz_lin_name(k));
        if (strncmp(p, rz_lin_name(k), n) == 0 && strcmp(p + n, ".weight") == 0) return l * RZ_LIN_PER_LAYER + k;
    }
    return -1;
}
