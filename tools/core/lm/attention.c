/* attention.c — blocked, streaming (flash-attention style) causal attention over a KV
 * cache, for plain RoPE, PI, NTK, YaRN and Dual Chunk Attention (see attention.h).
 *
 * Work unit: one query head h and one block of at most QB consecutive query rows
 * [p0, p1) (absolute positions). For DCA the blocks never cross a chunk boundary, so
 * every row of a block is in the same chunk n = p0 / s and sees the same three key
 * ranges. A "part" is one softmax over a key range with one rotation of the block's
 * queries; its state per row r is the running max m[r], the running sum
 * l[r] = sum_j e^(S[r][j] - m[r]) and acc[r][hs] = sum_j e^(S[r][j] - m[r]) v_j:
 *
 *   for each key block [kb0, kb1) of at most KB keys in the part's range:
 *     S[rows][nk] = logit_scale * Q[rows][hs] . K[kb0..kb1)[hs]^T           (sgemm)
 *     per row: keys after the row's position are masked (causal parts only);
 *              m' = max(m, max_j S), acc *= e^(m - m'), l = l e^(m - m') + sum_j e^(S - m'),
 *              S[r][j] <- e^(S[r][j] - m')  (0 where masked)
 *     acc[rows][hs] += S[rows][nk] . V[kb0..kb1)[hs]                         (sgemm)
 *
 * A part's normalised output is o = acc / l and its log-sum-exp lse = m + ln l.
 * Plain methods: one causal part over keys [0, p1). DCA (chunk n, s = chunk size):
 *   intra  queries at P_q^Intra (pos mod s), keys [n s, p1), causal;
 *   succ   queries at P_q^Succ, keys [(n-1) s, n s), all visible        (n >= 1);
 *   inter  queries at P_q^Inter = c - 1, keys [0, (n-1) s), all visible (n >= 2);
 * merged exactly: lse = ln sum_p e^lse_p, out = sum_p e^(lse_p - lse) o_p — the softmax
 * over the concatenation of the three parts' scores (paper Eq. 9) without ever forming
 * it. Keys are all stored at P_k = pos mod s, so only the queries differ between parts.
 */
#include "attention.h"
#include "vexp.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Block sizes (attention.h): QB query rows per block — the diagonal (causal) key block
 * wastes at most QB^2/2 masked scores per block, and each packed K or V block is reused
 * by QB rows; KB keys per streamed block — S is QB x KB floats (256 KiB), which stays in
 * L2 between the two sgemms. 128 x 512 measured fastest of 64..256 x 256..512 at
 * T = 4096 on the bench (one layer, 12 heads x 64). */
#define QB RZ_ATTN_QBLOCK
#define KB RZ_ATTN_KBLOCK
#define N_PARTS 3

struct rz_attn {
    rz_rope rope;
    int n_heads, n_kv_heads, hs, kv_dim, max_ctx;
    int n_threads;     /* scratch slots: omp_get_max_threads() at creation */
    size_t per_thread; /* floats of scratch per thread */
    float *scratch;    /* [n_threads][per_thread] */
};

/* ---------------------------------------------------------------- creation */

void rz_attn_free(rz_attn *a)
{
    if (!a) return;
    rz_rope_free(&a->rope);
    free(a->scratch);
    free(a);
}

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

int rz_attn_new(const rz_rope_method *m, int n_heads, int n_kv_heads, int head_size, int max_ctx, rz_attn **out,
                rz_err *e)
{
    *out = NULL;
    if (n_heads < 1 || n_kv_heads < 1 || n_kv_heads > n_heads || n_heads % n_kv_heads != 0 || n_heads > 65536)
        return rz_fail(e, RZ_EINPUT, "attention: %d heads, %d kv heads: kv heads must divide heads", n_heads,
                       n_kv_heads);
    if (head_size <= 0) return rz_fail(e, RZ_EINPUT, "attention: head size %d is not positive", head_size);
    rz_attn *a = rz_calloc(1, sizeof *a, e);
    if (!a) return RZ_EINTERNAL;
    int rc = rz_rope_init(&a->rope, m, head_size, max_ctx, e);
    if (rc) {
        free(a);
        return rz_wrap(e, "attention");
    }
    a->n_heads = n_heads;
    a->n_kv_heads = n_kv_heads;
    a->hs = head_size;
    a->kv_dim = n_kv_heads * head_size;
    a->max_ctx = max_ctx;
    a->n_threads = omp_get_max_threads();
    /* Per thread: Q of each part [3][QB][hs], acc [3][QB][hs], S [QB][KB], m and l [3][QB]. */
    size_t hs = (size_t)head_size;
    a->per_thread = round16(2 * N_PARTS * QB * hs + (size_t)QB * KB + 2 * N_PARTS * QB);
    a->scratch = aligned_alloc(64, sizeof(float) * a->per_thread * (size_t)a->n_threads);
    if (!a->scratch) {
        rz_attn_free(a);
        return rz_fail(e, RZ_EINTERNAL, "attention: out of memory for scratch");
    }
    *out = a;
    return 0;
}

const rz_rope *rz_attn_rope(const rz_attn *a) { return &a->rope; }

size_t rz_attn_scratch_bytes(const rz_attn *a) { return sizeof(float) * a->per_thread * (size_t)a->n_threads; }

/* ---------------------------------------------------------------- cache */

/* Columns [c0, c0 + w) of cache row pos: the key k[c0 ..] rotated for pos, the value
 * v[c0 ..] as it is. rotate_pairs works head by head, so a range of whole heads rotates
 * as it does in the full row. */
static void store_kv_cols(const rz_attn *a, const float *k, const float *v, int pos, size_t c0, size_t w,
                          float *key_cache, float *value_cache)
{
    size_t row = (size_t)pos * (size_t)a->kv_dim + c0;
    memcpy(key_cache + row, k + c0, w * sizeof(float));
    rz_rope_rotate(&a->rope, key_cache + row, (int)w, rz_rope_key_index(&a->rope, pos));
    memcpy(value_cache + row, v + c0, w * sizeof(float));
}

int rz_attn_store_kv(const rz_attn *a, const float *k, int ldk, const float *v, int ldv, int T, int pos0,
                     float *key_cache, float *value_cache)
{
    if (T < 1 || pos0 < 0 || pos0 > a->max_ctx - T) return RZ_EINPUT;
    for (int t = 0; t < T; t++)
        store_kv_cols(a, k + (size_t)t * ldk, v + (size_t)t * ldv, pos0 + t, 0, (size_t)a->kv_dim, key_cache,
                      value_cache);
    return 0;
}

/* ---------------------------------------------------------------- streaming softmax */

/* State of one part for the rows of a block: Q [QB][hs] (rotated queries), acc [QB][hs],
 * m [QB], l [QB]. */
typedef struct {
    float *q, *acc, *m, *l;
    int used; /* the part has a non-empty key range */
} part;

static void part_reset(part *P, int rows, int hs)
{
    memset(P->acc, 0, sizeof(float) * (size_t)rows * hs);
    for (int r = 0; r < rows; r++) {
        P->m[r] = -INFINITY;
        P->l[r] = 0.0f;
    }
    P->used = 1;
}

/* One row of the streaming softmax, the code attend and decode_heads share: m = the larger
 * of m_prev and max_j s[j], s[j] = e^(s[j] - m) for j < n (n >= 1); returns sum_j s[j]
 * (after the exponentials) and stores m in *m_out. The simd reductions sum in an order
 * fixed by the vector width gcc chose at compile time: the same for every run and thread
 * count. */
static inline float softmax_row(float *restrict s, int n, float m_prev, float *m_out)
{
    float mx = s[0];
#pragma omp simd reduction(max : mx)
    for (int j = 1; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    float m = m_prev > mx ? m_prev : mx;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; j++) {
        float p = rz_expf(s[j] - m);
        s[j] = p;
        sum += p;
    }
    *m_out = m;
    return sum;
}

/* Streams keys [k0, k1) of one kv head (kh, vh: its first column in the cache, row stride
 * ld) through part P for rows query rows at positions p0 .. p0+rows-1. causal: row r sees
 * only keys <= p0 + r. S: [QB][KB] scratch. */
static void attend(part *P, int rows, int hs, int p0, int causal, int k0, int k1, const float *kh, const float *vh,
                   int ld, float logit_scale, float *S)
{
    for (int kb0 = k0; kb0 < k1; kb0 += KB) {
        int nk = k1 - kb0 < KB ? k1 - kb0 : KB;
        /* S[rows][nk] = logit_scale * Q . K^T; one row (decoding): matrix-vector, which
         * BLAS does without packing K */
        if (rows == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, nk, hs, logit_scale, kh + (size_t)kb0 * ld, ld, P->q, 1, 0.0f,
                        S, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, nk, hs, logit_scale, P->q, hs,
                        kh + (size_t)kb0 * ld, ld, 0.0f, S, KB);
        for (int r = 0; r < rows; r++) {
            float *restrict s = S + (size_t)r * KB;
            int valid = nk;
            if (causal) {
                valid = p0 + r + 1 - kb0; /* keys kb0 .. p0+r */
                valid = valid < 0 ? 0 : valid > nk ? nk : valid;
            }
            if (valid == 0) { /* all of this block is in the row's future */
                memset(s, 0, sizeof(float) * (size_t)nk);
                continue;
            }
            float m_old = P->m[r], m_new;
            float sum = softmax_row(s, valid, m_old, &m_new);
            for (int j = valid; j < nk; j++) s[j] = 0.0f;
            /* rescale what was accumulated against the old max (nothing yet: m_old = -inf) */
            float alpha = m_old == -INFINITY ? 0.0f : rz_expf(m_old - m_new);
            if (alpha != 1.0f) {
                float *restrict acc = P->acc + (size_t)r * hs;
                for (int i = 0; i < hs; i++) acc[i] *= alpha;
            }
            P->l[r] = P->l[r] * alpha + sum;
            P->m[r] = m_new;
        }
        /* acc[rows][hs] += P[rows][nk] . V[nk][hs] */
        if (rows == 1)
            cblas_sgemv(CblasRowMajor, CblasTrans, nk, hs, 1.0f, vh + (size_t)kb0 * ld, ld, S, 1, 1.0f, P->acc, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hs, nk, 1.0f, S, KB, vh + (size_t)kb0 * ld,
                        ld, 1.0f, P->acc, hs);
    }
}

/* Copies the rows of query head h (q + h hs, row stride ldq) into P->q, rotating row r
 * to the position index of absolute position p0 + r for DCA part `which`. */
static void load_queries(const rz_rope *rope, part *P, const float *qh, int ldq, int rows, int p0, int which)
{
    int hs = rope->head_size;
    for (int r = 0; r < rows; r++) {
        float *dst = P->q + (size_t)r * hs;
        memcpy(dst, qh + (size_t)r * ldq, sizeof(float) * (size_t)hs);
        rz_rope_rotate(rope, dst, hs, rz_rope_query_index(rope, p0 + r, which));
    }
}

/* out[r] = the LSE merge of the used parts' outputs (see the file comment). */
static void merge_parts(const part *parts, int rows, int hs, float *out, int ldo)
{
    for (int r = 0; r < rows; r++) {
        double lse[N_PARTS], mx = -INFINITY;
        for (int p = 0; p < N_PARTS; p++) {
            lse[p] = -INFINITY;
            if (!parts[p].used || parts[p].l[r] <= 0.0f) continue;
            lse[p] = (double)parts[p].m[r] + log((double)parts[p].l[r]);
            mx = lse[p] > mx ? lse[p] : mx;
        }
        double total = 0.0;
        for (int p = 0; p < N_PARTS; p++)
            if (lse[p] > -INFINITY) total += exp(lse[p] - mx);
        double lse_all = mx + log(total);
        float wgt[N_PARTS]; /* e^(lse_p - lse) / l_p: the weight of acc_p = l_p o_p */
        for (int p = 0; p < N_PARTS; p++)
            wgt[p] = lse[p] > -INFINITY ? (float)(exp(lse[p] - lse_all) / (double)parts[p].l[r]) : 0.0f;
        float *o = out + (size_t)r * ldo;
        for (int i = 0; i < hs; i++) {
            float v = 0.0f;
            for (int p = 0; p < N_PARTS; p++)
                if (wgt[p] != 0.0f) v += wgt[p] * parts[p].acc[(size_t)r * hs + i];
            o[i] = v;
        }
    }
}

/* ---------------------------------------------------------------- forward */

/* Query blocks: for DCA, chunk n is split into nbc = ceil(s / QB) blocks and position p
 * is in block (p / s) nbc + (p mod s) / QB; otherwise block p / QB. Consecutive block ids
 * tile the positions without gaps, so [pos0, pos0 + T) is blocks [id(pos0), id(last)]. */
static long block_id(const rz_rope *rope, int p)
{
    if (rope->m.method != RZ_ROPE_DCA) return p / QB;
    int s = rope->m.chunk, nbc = (s + QB - 1) / QB;
    return (long)(p / s) * nbc + (p % s) / QB;
}

/* First position of block g and one past its last (before clipping to the call). */
static void block_range(const rz_rope *rope, long g, int *start, int *end)
{
    if (rope->m.method != RZ_ROPE_DCA) {
        *start = (int)(g * QB), *end = (int)(g * QB + QB);
        return;
    }
    int s = rope->m.chunk, nbc = (s + QB - 1) / QB;
    long n = g / nbc, b = g % nbc;
    *start = (int)(n * s + b * QB);
    *end = (int)(b * QB + QB < s ? n * s + b * QB + QB : n * s + s);
}

/* One query row at position pos without DCA (decoding), reading the cache in key order:
 * for each key row the scores of every head (one pass over the K rows, which lie kv_dim
 * floats apart, instead of one strided pass per head), the softmax per head as attend
 * does it, then acc_h += p_hj V_j,h for every head in one pass over the V rows, and
 * merge_parts for the one part. Heads [h0, h1) here; `threads` threads take contiguous
 * ranges of heads, and each head is computed the same way whatever range it is in (dot
 * products and sums in a fixed order: simd loops whose order gcc fixes at compile time),
 * so the output does not depend on the thread count. */
enum { DECODE_AHEAD = 8 };

/* Columns [c0, c1) of a cache row into the cache, one 64-byte line at a time. */
static inline void prefetch_cols(const float *row, size_t c0, size_t c1)
{
    for (size_t c = c0; c < c1; c += 16) __builtin_prefetch(row + c, 0, 3);
}

static void decode_heads(rz_attn *a, const float *q, int pos, const float *kc, const float *vc, float *out, int h0,
                         int h1)
{
    const rz_rope *rope = &a->rope;
    int H = a->n_heads, hs = a->hs, group = H / a->n_kv_heads, nk = pos + 1, ld = a->kv_dim;
    float *Q = a->scratch, *acc = Q + (size_t)H * hs, *S = acc + (size_t)H * hs, *m = S + (size_t)H * nk, *l = m + H;
    part P = {0};
    for (int h = h0; h < h1; h++) {
        P.q = Q + (size_t)h * hs;
        load_queries(rope, &P, q + (size_t)h * hs, 0, 1, pos, RZ_DCA_INTRA);
    }
    const float sc = rope->logit_scale;
    /* the columns these heads read of a cache row: rows are kv_dim floats apart, so each
     * row's slice starts a new stream that the hardware prefetchers, which stop at page
     * boundaries, would meet late; fetched DECODE_AHEAD rows ahead instead */
    size_t c0 = (size_t)(h0 / group) * hs, c1 = (size_t)((h1 - 1) / group + 1) * hs;
    for (int j = 0; j < nk; j++) {
        const float *krow = kc + (size_t)j * ld;
        if (j + DECODE_AHEAD < nk) prefetch_cols(krow + (size_t)DECODE_AHEAD * ld, c0, c1);
        for (int h = h0; h < h1; h++) {
            const float *restrict kh = krow + (size_t)(h / group) * hs, *restrict qh = Q + (size_t)h * hs;
            float d = 0.0f;
#pragma omp simd reduction(+ : d)
            for (int i = 0; i < hs; i++) d += qh[i] * kh[i];
            S[(size_t)h * nk + j] = sc * d;
        }
    }
    for (int h = h0; h < h1; h++) /* attend's softmax for one row, nothing accumulated before (max(-inf, x) = x) */
        l[h] = softmax_row(S + (size_t)h * nk, nk, -INFINITY, &m[h]);
    memset(acc + (size_t)h0 * hs, 0, sizeof(float) * (size_t)(h1 - h0) * hs);
    for (int j = 0; j < nk; j++) {
        const float *vrow = vc + (size_t)j * ld;
        if (j + DECODE_AHEAD < nk) prefetch_cols(vrow + (size_t)DECODE_AHEAD * ld, c0, c1);
        for (int h = h0; h < h1; h++) {
            const float *restrict vh = vrow + (size_t)(h / group) * hs;
            float *restrict ah = acc + (size_t)h * hs;
            float p = S[(size_t)h * nk + j];
#pragma omp simd
            for (int i = 0; i < hs; i++) ah[i] += p * vh[i];
        }
    }
    part parts[N_PARTS];
    memset(parts, 0, sizeof parts);
    for (int h = h0; h < h1; h++) {
        parts[0].acc = acc + (size_t)h * hs, parts[0].m = m + h, parts[0].l = l + h, parts[0].used = 1;
        merge_parts(parts, 1, hs, out + (size_t)h * hs, 0);
    }
}

/* 1 when decode_heads' scratch (per_thread floats of the first slot, the same for every
 * thread count) holds the scores of every head at position pos. */
static int decode_fits(const rz_attn *a, int pos)
{
    int H = a->n_heads;
    size_t need = 2 * (size_t)H * a->hs + (size_t)H * (size_t)(pos + 1) + 2 * (size_t)H;
    return need <= a->per_thread;
}

/* decode_heads over all heads on `threads` threads; 0 if the scratch cannot hold the
 * scores (decode_fits). */
static int decode_row(rz_attn *a, const float *q, int pos, const float *kc, const float *vc, float *out, int threads)
{
    int H = a->n_heads;
    if (!decode_fits(a, pos)) return 0;
    if (threads > H) threads = H;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int k = 0; k < threads; k++) decode_heads(a, q, pos, kc, vc, out, k * H / threads, (k + 1) * H / threads);
    return 1;
}

int rz_attn_decode_ok(const rz_attn *a, int pos)
{
    return pos >= 0 && pos < a->max_ctx && a->rope.m.method != RZ_ROPE_DCA && decode_fits(a, pos);
}

void rz_attn_decode_part(rz_attn *a, const float *q, const float *k, const float *v, int pos, float *key_cache,
                         float *value_cache, float *out, int g0, int g1)
{
    int hs = a->hs, group = a->n_heads / a->n_kv_heads;
    if (g1 <= g0) return;
    /* rz_attn_store_kv for these heads' columns */
    store_kv_cols(a, k, v, pos, (size_t)g0 * hs, (size_t)(g1 - g0) * hs, key_cache, value_cache);
    decode_heads(a, q, pos, key_cache, value_cache, out, g0 * group, g1 * group);
}

int rz_attn_forward(rz_attn *a, const float *q, int ldq, int T, int pos0, const float *key_cache,
                    const float *value_cache, float *out, int ldo)
{
    if (T < 1 || pos0 < 0 || pos0 > a->max_ctx - T) return RZ_EINPUT;
    const rz_rope *rope = &a->rope;
    int dca = rope->m.method == RZ_ROPE_DCA, hs = a->hs, group = a->n_heads / a->n_kv_heads;
    long g_first = block_id(rope, pos0), n_blocks = block_id(rope, pos0 + T - 1) - g_first + 1;
    long n_units = n_blocks * a->n_heads;
    int threads = omp_get_max_threads() < a->n_threads ? omp_get_max_threads() : a->n_threads;
    /* Small calls (decoding, short prefills) run on the calling thread: a parallel region
     * costs a fork and a barrier, and on a loaded machine a barrier can wait a whole
     * scheduler time slice for a preempted team member. Upper bound of the multiply-adds
     * of Q K^T and P V: heads * T * (pos0 + T) * 2 hs; 2^22 is ~1 ms of one core. */
    double work = (double)a->n_heads * T * ((double)pos0 + T) * 2.0 * hs;
    if (work < 4194304.0) threads = 1;
    /* Each unit calls sgemm from its own thread: OpenBLAS must not start threads of its own
     * (nested oversubscription, and bitwise results that depend on its thread count). */
    if (T == 1 && !dca && decode_row(a, q, pos0, key_cache, value_cache, out, threads)) return 0;
    int blas_threads = openblas_get_num_threads();
    if (blas_threads != 1) openblas_set_num_threads(1);

    /* Units from the last block (the most keys) to the first: a greedy order that keeps
     * the threads evenly loaded under dynamic scheduling. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1)
    for (long u = 0; u < n_units; u++) {
        long g = g_first + n_blocks - 1 - u / a->n_heads;
        int h = (int)(u % a->n_heads);
        int p0, p1;
        block_range(rope, g, &p0, &p1);
        p0 = p0 < pos0 ? pos0 : p0;
        p1 = p1 > pos0 + T ? pos0 + T : p1;
        int rows = p1 - p0;

        /* this thread's scratch */
        float *base = a->scratch + a->per_thread * (size_t)omp_get_thread_num();
        part parts[N_PARTS];
        for (int p = 0; p < N_PARTS; p++) {
            parts[p].q = base + (size_t)p * QB * hs;
            parts[p].acc = base + (size_t)(N_PARTS + p) * QB * hs;
            parts[p].m = base + (size_t)2 * N_PARTS * QB * hs + (size_t)QB * KB + (size_t)p * QB;
            parts[p].l = parts[p].m + (size_t)N_PARTS * QB;
            parts[p].used = 0;
        }
        float *S = base + (size_t)2 * N_PARTS * QB * hs;

        const float *qh = q + (size_t)(p0 - pos0) * ldq + (size_t)h * hs;
        const float *kh = key_cache + (size_t)(h / group) * hs, *vh = value_cache + (size_t)(h / group) * hs;
        float *oh = out + (size_t)(p0 - pos0) * ldo + (size_t)h * hs;

        if (!dca) {
            /* one causal softmax over keys [0, p1) */
            load_queries(rope, &parts[0], qh, ldq, rows, p0, RZ_DCA_INTRA);
            part_reset(&parts[0], rows, hs);
            attend(&parts[0], rows, hs, p0, 1, 0, p1, kh, vh, a->kv_dim, rope->logit_scale, S);
        } else {
            int s = rope->m.chunk, n = p0 / s;
            load_queries(rope, &parts[RZ_DCA_INTRA], qh, ldq, rows, p0, RZ_DCA_INTRA);
            part_reset(&parts[RZ_DCA_INTRA], rows, hs);
            attend(&parts[RZ_DCA_INTRA], rows, hs, p0, 1, n * s, p1, kh, vh, a->kv_dim, rope->logit_scale, S);
            if (n >= 1) {
                load_queries(rope, &parts[RZ_DCA_SUCC], qh, ldq, rows, p0, RZ_DCA_SUCC);
                part_reset(&parts[RZ_DCA_SUCC], rows, hs);
                attend(&parts[RZ_DCA_SUCC], rows, hs, p0, 0, (n - 1) * s, n * s, kh, vh, a->kv_dim,
                       rope->logit_scale, S);
            }
            if (n >= 2) {
                load_queries(rope, &parts[RZ_DCA_INTER], qh, ldq, rows, p0, RZ_DCA_INTER);
                part_reset(&parts[RZ_DCA_INTER], rows, hs);
                attend(&parts[RZ_DCA_INTER], rows, hs, p0, 0, 0, (n - 1) * s, kh, vh, a->kv_dim, rope->logit_scale,
                       S);
            }
        }
        merge_parts(parts, rows, hs, oh, ldo);
    }

    if (blas_threads != 1) openblas_set_num_threads(blas_threads);
    return 0;
}
