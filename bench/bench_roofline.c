/* bench_roofline.c — decode and prefill speed of every weight format against the
 * machine's memory-bandwidth bound (issue: fused decode kernels, low-bit tables).
 *
 * 1. Read bandwidth: each of n threads sums its contiguous share of a 512 MiB float
 *    buffer (far beyond the last-level cache), best of 3, for n = 1 .. threads.
 * 2. Models shaped like stories110M (dim 768, 12 layers, 12 heads, hidden 2048, vocab
 *    32000, shared classifier). Weights: float32 (rz_llama_random), or every linear as
 *    one code format with random codes (speed does not depend on the code values; every
 *    format of qdot.h is read the same way whatever they are) and the embedding /
 *    classifier table float32 or rtn 8-bit per row or 4-bit per 32 columns. The last
 *    format is e8p 2-bit with the 4-bit table again, with wq|wk|wv and w1|w3 sharing one
 *    input transform each (rz-quantize --share-input-rht).
 * 3. Per format: bytes read per generated token = every linear's codes + scales + zero
 *    points (float32: 4 bytes per weight), the classifier table (float32 or its codes),
 *    one embedding row, and the KV cache (2 · layers · (p + 1) · kv_dim · 4 bytes at
 *    position p, averaged over the decoded positions 0 .. dec − 1). Bound = bandwidth(threads) / bytes per
 *    token; decode tokens/s = `dec` single-token steps with logits; ratio = measured /
 *    bound; the same with int8 inputs to the kernels (qdot.h RZ_QDOT_AUTO_I8), its ratio
 *    against the bytes it reads (e8p 2 bits: the linears re-coded at 4 bits per weight,
 *    21 MB more; 3-bit grids too, 10.6 MB more; e8p 3/4 bits at 8 bits per weight, 53.1 /
 *    42.5 MB more); 0 for float32 (no int8 kernel). Prefill: one forward of T tokens with
 *    logits, tokens/s and GFLOP/s (rz_llama_forward_flops) against a threaded 2048³ sgemm
 *    measured here.
 * 4. Rounds: all models are built first (each with its own state, touched once untimed);
 *    then each of `runs` rounds measures the bandwidth, the sgemm peak and every format
 *    once (prefill, decode, int8 decode). A shared machine's speed drifts over minutes:
 *    measured one format after another, a format could get only slow minutes and the
 *    next only fast ones, with the probe from yet another minute; in rounds every
 *    figure samples the whole run. The table gives the best of the rounds for every
 *    figure (probe, peak, decode, prefill); a second table each round's own ratio (its
 *    decode against its own probe), so the spread is in the output.
 *
 * usage: bench_roofline [runs [threads [T [dec [only]]]]]   (defaults 3 rounds, 2 threads,
 *        T 512, dec 128; only = a format index 0..11 to run that one)
 *        bench_roofline --decode F [threads [dec [i8|i8z]]]   format F only (index as above; i8:
 *            int8 inputs to the kernels; i8z: the same with RZ_QDOT_AVX512_I8, which reads
 *            e8p 2-bit codes instead of their nibbles; exit 2 on a CPU without it),
 *            no bandwidth or sgemm: decode tokens/s by wall time and by the process's
 *            CPU time (CPU seconds / threads: on a shared machine the wall figure
 *            measures the scheduler, the CPU figure what one core of our own would give;
 *            with one thread it is exact up to cache sharing), plus the same without logits
 *            (the difference is the classifier's share); the header says whether a step
 *            runs in one OpenMP region (llama.h rz_llama_one_region) or a region per
 *            linear group.
 *        bench_roofline --prefill F [threads [T]]   format F only: one forward of T tokens
 *            (default 512) with logits, best of 5, tokens/s by wall time and by CPU time
 *            as --decode reports them, and GFLOP/s per thread of CPU time.
 *        bench_roofline --kernels [rows]   one thread, one rows × 768 matrix per format
 *            (default 8192: 6.3M weights, larger than L2 at every width): CPU ns per weight
 *            and GB/s of codes for T = 1 of the reference, AVX2 and AVX2 int8-input kernels and of the
 *            previous path (16 rows decoded to float, then sgemv); e8p over nibbles ("nib") and,
 *            where the CPU has it, the AVX-512 int8 kernel over the 2-bit codes ("e8p2 z") and
 *            the AVX-512 VNNI kernels of the 2/4/8-bit grids ("rtn2 z" etc., what AUTO_I8 runs;
 *            RZ_QDOT_ISA=avx2 in the environment makes --decode's i8 runs use the AVX2 ones).
 */
#include <cblas.h>
#include <omp.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "linalg.h"
#include "llama.h"
#include "qdot.h"
#include "qlayer.h"
#include "qlinear.h"
#include "rz.h"

static void die(const rz_err *e)
{
    fprintf(stderr, "bench_roofline: %s\n", e->msg);
    exit(1);
}

static uint64_t rng = 88172645463325252ull;
static uint32_t next_u32(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* GB/s of n threads each summing its share of buf (count floats), best of 3. */
static double read_gbs(const float *buf, size_t count, int n, float *sink)
{
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        float total = 0;
        double t0 = rz_now();
#pragma omp parallel num_threads(n) reduction(+ : total)
        {
            int id = omp_get_thread_num(), nt = omp_get_num_threads();
            size_t a = count * (size_t)id / (size_t)nt, b = count * (size_t)(id + 1) / (size_t)nt;
            float acc[16] = {0};
            for (size_t i = a; i + 16 <= b; i += 16)
#pragma omp simd
                for (int j = 0; j < 16; j++) acc[j] += buf[i + (size_t)j];
            for (int j = 0; j < 16; j++) total += acc[j];
        }
        double t = rz_now() - t0;
        *sink += total;
        if (t < best) best = t;
    }
    return (double)count * sizeof(float) / best / 1e9;
}

typedef struct {
    const char *label;
    int method, bits, group, incoh; /* method < 0: float32 linears */
    int tbits, tgroup;              /* table: 32 = float32 */
    int share_in;                   /* seed_v per input (rz-quantize --share-input-rht) */
} fmt;

/* A qlinear of the format with random codes (scales ~ 0.02 so activations stay sane). */
static rz_qlinear *random_qlinear(const fmt *f, int method, int bits, int group, int incoh, int rows, int cols,
                                  uint64_t seed, uint64_t seed_v, double *bytes)
{
    rz_qlayer_view v;
    memset(&v, 0, sizeof v);
    snprintf(v.name, sizeof v.name, "bench");
    v.rows = rows, v.cols = cols, v.pcols = method == RZ_QM_E8P ? (cols + 7) / 8 * 8 : cols;
    v.method = method, v.bits = bits, v.group = group, v.incoherent = incoh;
    v.seed_u = seed, v.seed_v = seed_v;
    v.codes_n = rz_qlayer_codes_bytes(method, bits, rows, v.pcols);
    v.n_scales = rz_qlayer_n_scales(method, rows, v.pcols, group);
    uint8_t *codes = malloc(v.codes_n), *zeros = NULL;
    float *scales = malloc(v.n_scales * sizeof *scales);
    for (size_t i = 0; i < v.codes_n; i++) codes[i] = (uint8_t)next_u32();
    for (size_t i = 0; i < v.n_scales; i++) scales[i] = method == RZ_QM_E8P ? 0.02f : 0.02f / (float)(1 << bits);
    if (method != RZ_QM_E8P) {
        v.n_zeros = v.n_scales;
        zeros = malloc(v.n_zeros);
        for (size_t i = 0; i < v.n_zeros; i++) zeros[i] = (uint8_t)((1 << bits) / 2);
    }
    v.codes = codes, v.scales = scales, v.zeros = zeros;
    rz_qlinear *q;
    rz_err e = {0};
    if (rz_qlinear_new(&v, &q, &e)) die(&e);
    *bytes += (double)v.codes_n + 4.0 * (double)v.n_scales + (double)v.n_zeros;
    free(codes), free(scales), free(zeros);
    (void)f;
    return q;
}

/* Bits per weight that int8 inputs read on top of the linears' codes: their nibble
 * re-codings (qdot.h) replace 2-bit e8p codes and 3-bit grid codes by 4 bits, and 3- and
 * 4-bit e8p (RVQ) codes by 8 (one nibble per stage); none for 2-bit e8p where the
 * AVX-512 int8 kernel reads the codes. */
static int i8_isa = RZ_QDOT_AUTO_I8; /* the int8 variant of the decode runs (i8z: RZ_QDOT_AVX512_I8) */

static int i8_extra_bits(const fmt *f)
{
    if (f->method == RZ_QM_E8P && f->bits == 2 && i8_isa == RZ_QDOT_AVX512_I8) return 0; /* its codes */
    if (f->method == RZ_QM_E8P) return f->bits == 2 ? 2 : 8 - f->bits;
    return f->method >= 0 && f->bits == 3 ? 1 : 0;
}

static const fmt FMTS[] = {
    {"f32", -1, 0, 0, 0, 32, 0, 0},
    {"e8p2 rht, f32 table", RZ_QM_E8P, 2, 0, RZ_INCOH_BOTH, 32, 0, 0},
    {"e8p2 rht, 4-bit table", RZ_QM_E8P, 2, 0, RZ_INCOH_BOTH, 4, 32, 0},
    {"e8p2 rht, 8-bit table", RZ_QM_E8P, 2, 0, RZ_INCOH_BOTH, 8, 0, 0},
    {"e8p3 rht, 4-bit table", RZ_QM_E8P, 3, 0, RZ_INCOH_BOTH, 4, 32, 0},
    {"e8p4 rht, 4-bit table", RZ_QM_E8P, 4, 0, RZ_INCOH_BOTH, 4, 32, 0},
    {"rtn2 row, 4-bit table", RZ_QM_RTN, 2, 0, RZ_INCOH_NONE, 4, 32, 0},
    {"rtn3 g32, 4-bit table", RZ_QM_RTN, 3, 32, RZ_INCOH_NONE, 4, 32, 0},
    {"rtn4 row, 4-bit table", RZ_QM_RTN, 4, 0, RZ_INCOH_NONE, 4, 32, 0},
    {"rtn4 g32, 4-bit table", RZ_QM_RTN, 4, 32, RZ_INCOH_NONE, 4, 32, 0},
    {"rtn8 row, 8-bit table", RZ_QM_RTN, 8, 0, RZ_INCOH_NONE, 8, 0, 0},
    {"e8p2 rht shared V, 4-bit", RZ_QM_E8P, 2, 0, RZ_INCOH_BOTH, 4, 32, 1},
};
#define NFMTS (sizeof FMTS / sizeof FMTS[0])

/* The model of format f; *wbytes = bytes of weights read per decoded token (linears,
 * classifier, one embedding row). */
static rz_llama *make_model(const rz_llama_config *c, const fmt *f, double *wbytes)
{
    rz_err e = {0};
    rz_llama *m;
    double lin = 0, table = 0;
    if (f->method < 0) {
        if (rz_llama_random(c, 7, &m, &e)) die(&e);
        for (long i = 0; i < (long)RZ_LIN_PER_LAYER * c->n_layers; i++) {
            int r, k;
            rz_llama_linear_shape(c, i, &r, &k);
            lin += 4.0 * r * k;
        }
    } else {
        if (rz_llama_alloc_lazy(c, &m, &e)) die(&e);
        for (int l = 0; l < c->n_layers; l++)
            for (int j = 0; j < c->dim; j++) m->layers[l].attention_norm[j] = m->layers[l].ffn_norm[j] = 1.0f;
        for (int j = 0; j < c->dim; j++) m->norm[j] = 1.0f;
        for (long i = 0; i < (long)RZ_LIN_PER_LAYER * c->n_layers; i++) {
            int r, k;
            rz_llama_linear_shape(c, i, &r, &k);
            /* with share_in, wq|wk|wv and w1|w3 take one seed_v each (by RZ_LIN_*: the first
             * member's item), as rz-quantize --share-input-rht gives them */
            static const int vkey[RZ_LIN_PER_LAYER] = {0, 0, 0, 3, 4, 5, 4};
            long j = i % RZ_LIN_PER_LAYER, vi = f->share_in ? i - j + vkey[j] : i;
            rz_qlinear *q = random_qlinear(f, f->method, f->bits, f->group, f->incoh, r, k, 1000 + (uint64_t)i,
                                           1001 + (uint64_t)vi, &lin);
            if (rz_llama_set_qlinear(m, i, q, &e)) die(&e);
        }
    }
    if (f->tbits == 32) {
        float *t = m->tok_embeddings ? m->tok_embeddings : rz_llama_table_storage(m, RZ_TABLE_EMB, &e);
        if (!t) die(&e);
        if (f->method >= 0)
            for (size_t i = 0; i < (size_t)c->vocab_size * c->dim; i++) t[i] = 0.02f * ((float)(next_u32() & 1023) / 512.0f - 1.0f);
        table = 4.0 * c->vocab_size * c->dim;
    } else {
        rz_qlinear *q = random_qlinear(f, RZ_QM_RTN, f->tbits, f->tgroup, RZ_INCOH_NONE, c->vocab_size, c->dim, 5, 6, &table);
        if (rz_llama_set_qtable(m, RZ_TABLE_EMB, q, &e)) die(&e);
    }
    *wbytes = lin + table + table / c->vocab_size; /* + one embedding row */
    return m;
}

/* Seconds of one prefill of T tokens (positions 0 .. T - 1) and of dec single-token steps
 * (positions 0 .. dec - 1) with logits, on a state kept by the caller (its KV cache and
 * scratch already touched: no page faults inside the timing); tok holds max(T, dec). */
static void time_model(const rz_llama *m, rz_llama_state *s, const int *tok, float *logits, int T, int dec,
                       double *prefill, double *decode)
{
    double t0 = rz_now();
    rz_llama_forward(m, s, tok, T, 0, logits);
    double t1 = rz_now();
    for (int p = 0; p < dec; p++) rz_llama_forward(m, s, tok + p, 1, p, logits);
    *prefill = t1 - t0, *decode = rz_now() - t1;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* --decode: dec steps of format f, best of runs, with and without logits; wall and
 * CPU-time rates. */
static void decode_only(const rz_llama_config *c, const fmt *f, int threads, int dec, int runs, int isa)
{
    double wb, kvb = 2.0 * c->n_layers * c->dim * 4.0 * ((dec + 1) / 2.0);
    rz_llama *m = make_model(c, f, &wb);
    rz_llama_set_qdot(m, isa);
    if (isa == RZ_QDOT_AUTO_I8 || isa == RZ_QDOT_AVX512_I8) /* the nibble re-codings (qdot.h) */
        for (long i = 0; i < (long)RZ_LIN_PER_LAYER * c->n_layers; i++) {
            int r, k;
            rz_llama_linear_shape(c, i, &r, &k);
            wb += (double)r * k * i8_extra_bits(f) / 8;
        }
    rz_err e = {0};
    rz_llama_state *s;
    if (rz_llama_state_new(m, 1, c->seq_len, &s, &e)) die(&e);
    float *logits = malloc(sizeof(float) * (size_t)c->vocab_size);
    static const char *const step[3] = {"a region per linear group", "one region per step, split by kv heads",
                                        "one region per step, rows into a shared y~"};
    char zk[64] = ""; /* under auto-i8, the AVX-512 VNNI kernels that give avx2-i8's bits */
    if (isa == RZ_QDOT_AUTO_I8 && f->method >= 0)
        snprintf(zk, sizeof zk, " (%s: %s)", f->method == RZ_QM_E8P ? "e8p nibbles" : "grids",
                 f->method == RZ_QM_E8P ? rz_qdot_e8p2n_name() : rz_qdot_grid_i8_name());
    printf("%-24s %.1f MB/token, %d threads, %d steps, best of %d, kernels %s%s, %s\n", f->label, (wb + kvb) / 1e6,
           threads, dec, runs,
           rz_qdot_name(isa == RZ_QDOT_AUTO ? rz_qdot_best() : isa == RZ_QDOT_AUTO_I8 ? rz_qdot_best_i8() : isa), zk,
           step[rz_llama_one_region(m, s, 1, 0)]);
    for (int with = 1; with >= 0; with--) {
        double wall = 1e30, cpu = 1e30;
        for (int r = 0; r < runs; r++) {
            double t0 = rz_now(), c0 = cpu_now();
            for (int p = 0; p < dec; p++) {
                int tok = (p * 7919 + 13) % c->vocab_size;
                rz_llama_forward(m, s, &tok, 1, p, with ? logits : NULL);
            }
            double t = rz_now() - t0, cp = (cpu_now() - c0) / threads;
            if (t < wall) wall = t;
            if (cp < cpu) cpu = cp;
        }
        printf("  %-14s wall %7.1f tokens/s   CPU time %7.1f tokens/s (%.3f ms/token/thread)\n",
               with ? "with logits" : "without logits", dec / wall, dec / cpu, 1e3 * cpu / dec);
    }
    free(logits);
    rz_llama_state_free(s);
    rz_llama_free(m);
}

/* --prefill: one forward of T tokens with logits, best of runs; wall and CPU-time rates. */
static void prefill_only(const rz_llama_config *c, const fmt *f, int threads, int T, int runs)
{
    double wb;
    rz_llama *m = make_model(c, f, &wb);
    rz_err e = {0};
    rz_llama_state *s;
    if (rz_llama_state_new(m, T, c->seq_len, &s, &e)) die(&e);
    int *tok = malloc(sizeof(int) * (size_t)T);
    float *logits = malloc(sizeof(float) * (size_t)T * c->vocab_size);
    for (int t = 0; t < T; t++) tok[t] = (t * 7919 + 13) % c->vocab_size;
    double wall = 1e30, cpu = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = rz_now(), c0 = cpu_now();
        rz_llama_forward(m, s, tok, T, 0, logits);
        double t = rz_now() - t0, cp = (cpu_now() - c0) / threads;
        if (t < wall) wall = t;
        if (cp < cpu) cpu = cp;
    }
    double fl = rz_llama_forward_flops(m, T, 0);
    printf("%-24s prefill T = %d, %d threads, best of %d: wall %.1f tokens/s, CPU time %.1f tokens/s "
           "(%.1f ms/thread, %.1f GFLOP/s per thread)\n",
           f->label, T, threads, runs, T / wall, T / cpu, 1e3 * cpu, fl / cpu / threads / 1e9);
    free(tok);
    free(logits);
    rz_llama_state_free(s);
    rz_llama_free(m);
}

static double thread_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of this thread per call over the matrix, best of 5 (at least 0.05 s
 * each): CPU time, not wall time, so that other jobs sharing the core do not count. */
static double kernel_seconds(const rz_qlayer_view *v, int isa, const float *x, float *y, float *dec)
{
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        int reps = 0;
        double t0 = thread_cpu_now(), t;
        do {
            if (isa >= 0) {
                rz_qdot_rows(v, isa, 0, v->rows, 1, x, v->pcols, y, v->rows);
            } else {
                for (int r0 = 0; r0 < v->rows; r0 += 16) {
                    rz_qlayer_decode_rows(v, r0, 16, dec);
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, 16, v->pcols, 1.0f, dec, v->pcols, x, 1, 0.0f, y + r0, 1);
                }
            }
            reps++;
            t = thread_cpu_now() - t0;
        } while (t < 0.05);
        if (t / reps < best) best = t / reps;
    }
    return best;
}

static void kernels(int rows)
{
    openblas_set_num_threads(1);
    const int fm[][3] = {{RZ_QM_E8P, 2, 0}, {RZ_QM_E8P, 3, 0}, {RZ_QM_E8P, 4, 0}, {RZ_QM_RTN, 2, 0},
                         {RZ_QM_RTN, 3, 32}, {RZ_QM_RTN, 4, 0}, {RZ_QM_RTN, 4, 32}, {RZ_QM_RTN, 8, 0}};
    int cols = 768;
    float *x = malloc(sizeof(float) * cols), *y = malloc(sizeof(float) * rows), *dec = malloc(sizeof(float) * 16 * cols);
    for (int j = 0; j < cols; j++) x[j] = (float)(j % 13) / 13.0f - 0.5f;
    printf("one thread, %d x %d, T = 1: CPU ns/weight (GB/s of codes + scales)\n", rows, cols);
    printf("%-12s %16s %16s %16s %16s\n", "format", "ref", "avx2", "avx2-i8", "decode+sgemv");
    for (size_t f = 0; f < sizeof fm / sizeof fm[0]; f++) {
        fmt F = {"", fm[f][0], fm[f][1], fm[f][2], 0, 32, 0, 0};
        rz_qlayer_view v;
        memset(&v, 0, sizeof v);
        v.rows = rows, v.cols = cols, v.pcols = cols, v.method = F.method, v.bits = F.bits, v.group = F.group;
        v.codes_n = rz_qlayer_codes_bytes(v.method, v.bits, rows, cols);
        v.n_scales = rz_qlayer_n_scales(v.method, rows, cols, v.group);
        uint8_t *codes = malloc(v.codes_n), *zeros = malloc(v.n_scales);
        float *scales = malloc(sizeof(float) * v.n_scales);
        for (size_t i = 0; i < v.codes_n; i++) codes[i] = (uint8_t)next_u32();
        for (size_t i = 0; i < v.n_scales; i++) scales[i] = 0.01f, zeros[i] = 1;
        v.codes = codes, v.scales = scales, v.zeros = v.method == RZ_QM_E8P ? NULL : zeros;
        v.n_zeros = v.method == RZ_QM_E8P ? 0 : v.n_scales;
        double bytes = (double)v.codes_n + 5.0 * v.n_zeros + (v.n_zeros ? 0 : 4), w = (double)rows * cols;
        char label[32];
        snprintf(label, sizeof label, "%s%d%s", rz_qmethod_name(v.method), v.bits, v.group ? " g32" : "");
        printf("%-12s", label);
        int isas[4] = {RZ_QDOT_REF, RZ_QDOT_AVX2, RZ_QDOT_AVX2_I8, -1};
        for (int k = 0; k < 4; k++) {
            if (isas[k] > 0 && !rz_qdot_have(isas[k])) {
                printf(" %16s", "-");
                continue;
            }
            double t = kernel_seconds(&v, isas[k], x, y, dec);
            printf("   %5.3f (%5.1f)", t / w * 1e9, bytes / t / 1e9);
        }
        printf("\n");
        if (v.method == RZ_QM_E8P && rz_qdot_have(RZ_QDOT_AVX2_I8)) {
            uint8_t *nib = malloc(rz_qdot_e8p2n_bytes(&v));
            rz_qdot_e8p2n_encode(&v, nib);
            /* the AVX2 kernel, then the AVX-512 VNNI one (by name: auto-i8 runs it at 3 and 4
             * bits unless RZ_QDOT_ISA caps it; the same bits) where the CPU has it */
            for (int z = 0; z < 2; z++) {
                if (z && !rz_qdot_rows_e8p2n_z(&v, nib, 0, 1, 1, x, v.pcols, y, v.rows)) break;
                double best = 1e30;
                for (int r = 0; r < 5; r++) {
                    int reps = 0;
                    double t0 = thread_cpu_now(), t;
                    do {
                        if (z) rz_qdot_rows_e8p2n_z(&v, nib, 0, v.rows, 1, x, v.pcols, y, v.rows);
                        else rz_qdot_rows_e8p2n(&v, nib, RZ_QDOT_AVX2_I8, 0, v.rows, 1, x, v.pcols, y, v.rows);
                        reps++;
                        t = thread_cpu_now() - t0;
                    } while (t < 0.05);
                    if (t / reps < best) best = t / reps;
                }
                char nl[32];
                snprintf(nl, sizeof nl, "e8p%d nib%s", v.bits, z ? " z" : "");
                printf("%-12s %16s %16s   %5.3f (%5.1f)   (re-coded as nibbles, %d bits per weight%s)\n", nl, "", "",
                       best / w * 1e9, (double)rz_qdot_e8p2n_bytes(&v) / best / 1e9, v.bits == 2 ? 4 : 8,
                       z ? "; avx512 vnni" : "");
            }
            free(nib);
        }
        if (v.method != RZ_QM_E8P && v.bits != 3 && rz_qdot_have(RZ_QDOT_AVX512_I8)) {
            double t = kernel_seconds(&v, RZ_QDOT_AVX512_I8, x, y, dec);
            printf("%-12s %16s %16s   %5.3f (%5.1f)   (avx512 vnni, as auto-i8 runs it)\n",
                   strcat(label, " z"), "", "", t / w * 1e9, bytes / t / 1e9);
        }
        if (v.method == RZ_QM_E8P && v.bits == 2 && rz_qdot_have(RZ_QDOT_AVX512_I8)) {
            double t = kernel_seconds(&v, RZ_QDOT_AVX512_I8, x, y, dec);
            printf("%-12s %16s %16s   %5.3f (%5.1f)   (avx512-i8, from the codes)\n", "e8p2 z", "", "", t / w * 1e9,
                   bytes / t / 1e9);
        }
        free(codes), free(zeros), free(scales);
    }
    free(x), free(y), free(dec);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--kernels") == 0) {
        kernels(argc > 2 ? atoi(argv[2]) : 8192);
        return 0;
    }
    rz_llama_config c = {768, 2048, 12, 12, 12, 32000, 1024, 1, 10000.0f, 1e-5f};
    if (argc > 2 && strcmp(argv[1], "--decode") == 0) {
        int f = atoi(argv[2]), th = argc > 3 ? atoi(argv[3]) : 2, dec = argc > 4 ? atoi(argv[4]) : 128;
        int isa = argc > 5 && strcmp(argv[5], "i8") == 0 ? RZ_QDOT_AUTO_I8 : RZ_QDOT_AUTO;
        if (argc > 5 && strcmp(argv[5], "i8z") == 0) {
            if (!rz_qdot_have(RZ_QDOT_AVX512_I8)) {
                fprintf(stderr, "bench_roofline: i8z: this CPU has no AVX-512 VBMI/VNNI/BITALG\n");
                return 2;
            }
            isa = i8_isa = RZ_QDOT_AVX512_I8;
        }
        if (f < 0 || f >= (int)NFMTS) return 2;
        if (th < 1) th = 1;
        rz_linalg_threads(th);
        decode_only(&c, &FMTS[f], th, dec, 3, isa);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "--prefill") == 0) {
        int f = atoi(argv[2]), th = argc > 3 ? atoi(argv[3]) : 2, T = argc > 4 ? atoi(argv[4]) : 512;
        if (f < 0 || f >= (int)NFMTS || T < 1 || T > c.seq_len) return 2;
        if (th < 1) th = 1;
        rz_linalg_threads(th);
        prefill_only(&c, &FMTS[f], th, T, 5);
        return 0;
    }
    int runs = argc > 1 ? atoi(argv[1]) : 3, threads = argc > 2 ? atoi(argv[2]) : 2;
    int T = argc > 3 ? atoi(argv[3]) : 512, dec = argc > 4 ? atoi(argv[4]) : 128, only = argc > 5 ? atoi(argv[5]) : -1;
    if (runs < 1) runs = 1;
    if (threads < 1) threads = 1;
    rz_linalg_threads(threads);
    printf("kernels: %s, int8 %s, grids int8 %s, e8p nibbles int8 %s (e8p 2-bit from the codes, avx512-i8: %s, not "
           "chosen by auto)\n",
           rz_qdot_name(rz_qdot_best()), rz_qdot_name(rz_qdot_best_i8()), rz_qdot_grid_i8_name(), rz_qdot_e8p2n_name(),
           rz_qdot_have(RZ_QDOT_AVX512_I8) ? "available" : "not on this CPU");

    /* every format's model first, so that each round below visits all of them in turn */
    rz_llama *model[NFMTS] = {0};
    rz_llama_state *st[NFMTS] = {0};
    double wb[NFMTS], bytes[NFMTS], bytes8[NFMTS];
    int nt = T > dec ? T : dec, *tok = malloc(sizeof(int) * (size_t)nt);
    float *logits = malloc(sizeof(float) * (size_t)T * c.vocab_size);
    for (int t = 0; t < nt; t++) tok[t] = (t * 7919 + 13) % c.vocab_size;
    double lw = 0; /* weights in the linears (the nibble re-codings' extra bytes, below) */
    for (long i = 0; i < (long)RZ_LIN_PER_LAYER * c.n_layers; i++) {
        int r, k;
        rz_llama_linear_shape(&c, i, &r, &k);
        lw += (double)r * k;
    }
    /* KV cache bytes per decoded token: step p (positions 0 .. dec - 1, after the prefill's
     * own cache) reads p + 1 keys and values per layer; averaged */
    double kv = 2.0 * c.n_layers * c.dim * 4.0 * ((dec + 1) / 2.0);
    for (size_t f = 0; f < NFMTS; f++) {
        if (only >= 0 && (size_t)only != f) continue;
        model[f] = make_model(&c, &FMTS[f], &wb[f]);
        rz_err e = {0};
        if (rz_llama_state_new(model[f], T, c.seq_len, &st[f], &e)) die(&e);
        double t_pf, t_dc; /* a first pass to touch the state's pages (and logits'), untimed */
        time_model(model[f], st[f], tok, logits, T, dec, &t_pf, &t_dc);
        /* int8 inputs on e8p and 3-bit grids read the nibble re-codings (qdot.h), not the
         * codes: their own bound */
        bytes[f] = wb[f] + kv, bytes8[f] = bytes[f] + lw * i8_extra_bits(&FMTS[f]) / 8;
    }

    /* the rounds (head comment, 4): the bandwidth probe, the sgemm peak, then every format
     * once; the table is printed after the last */
    size_t count = (size_t)128 << 20; /* 512 MiB */
    float *buf = malloc(count * sizeof *buf), sink = 0;
    for (size_t i = 0; i < count; i++) buf[i] = (float)(i & 7);
    double *bw = calloc((size_t)threads, sizeof *bw), *bwr = calloc((size_t)runs, sizeof *bwr), peak = 0;
    double pf[NFMTS], dc[NFMTS], dc8[NFMTS], *rat = calloc((size_t)runs * NFMTS * 2, sizeof *rat);
    for (size_t f = 0; f < NFMTS; f++) pf[f] = dc[f] = dc8[f] = 1e30;
    for (int r = 0; r < runs; r++) {
        fprintf(stderr, "bench_roofline: round %d of %d\n", r + 1, runs);
        for (int n = 1; n <= threads; n++) {
            double g = read_gbs(buf, count, n, &sink);
            if (g > bw[n - 1]) bw[n - 1] = g;
            if (n == threads) bwr[r] = g;
        }
        double p = rz_blas_sgemm_gflops(2048, threads, 3);
        if (p > peak) peak = p;
        for (size_t f = 0; f < NFMTS; f++) {
            if (!model[f]) continue;
            double t_pf, t_dc, t_1, t_8 = 0;
            rz_llama_set_qdot(model[f], RZ_QDOT_AUTO);
            time_model(model[f], st[f], tok, logits, T, dec, &t_pf, &t_dc);
            /* the same decode with int8 inputs (qdot.h AUTO_I8): every quantised format here
             * has an int8 kernel for its linears (e8p; 2-, 4- and 8-bit grids; 3-bit ones
             * re-coded as nibbles); f32 has none and its columns show 0 */
            if (FMTS[f].method >= 0) {
                rz_llama_set_qdot(model[f], RZ_QDOT_AUTO_I8);
                time_model(model[f], st[f], tok, logits, 1, dec, &t_1, &t_8);
                if (t_8 < dc8[f]) dc8[f] = t_8;
            }
            if (t_pf < pf[f]) pf[f] = t_pf;
            if (t_dc < dc[f]) dc[f] = t_dc;
            double *rf = rat + ((size_t)r * NFMTS + f) * 2; /* this round's decode / its own bound */
            rf[0] = dec / t_dc / (bwr[r] * 1e9 / bytes[f]);
            rf[1] = t_8 > 0 ? dec / t_8 / (bwr[r] * 1e9 / bytes8[f]) : 0;
        }
    }
    free(buf);

    printf("read bandwidth (512 MiB, best of 3 per round, best of %d round%s):", runs, runs > 1 ? "s" : "");
    for (int n = 1; n <= threads; n++) printf("  %d thread%s %.1f GB/s", n, n > 1 ? "s" : "", bw[n - 1]);
    printf("%s\n", sink == 12345.0f ? " " : "");
    printf("  %d threads per round:", threads);
    for (int r = 0; r < runs; r++) printf(" %.1f", bwr[r]);
    printf(" GB/s\n");
    printf("sgemm peak (2048^3, %d threads, best of 3 per round): %.1f GFLOP/s\n", threads, peak);
    printf("stories110M shape, %d threads, decode: %d steps after a %d-token prefill (KV cache read %.1f MB/token), "
           "best of %d rounds\n", threads, dec, T, kv / 1e6, runs);
    printf("(decode steps rerun positions 0 .. %d: the KV cache read is the average over them)\n", dec - 1);
    printf("%-24s %9s %9s %10s %10s %7s %10s %7s %12s %9s %7s\n", "weights", "MB weights", "MB/token", "decode t/s",
           "bound t/s", "ratio", "int8 t/s", "ratio", "prefill t/s", "GFLOP/s", "of peak");
    double bwa = bw[threads - 1];
    for (size_t f = 0; f < NFMTS; f++) {
        if (!model[f]) continue;
        double bound = bwa * 1e9 / bytes[f], bound8 = bwa * 1e9 / bytes8[f];
        double tps = dec / dc[f], t8 = dc8[f] < 1e30 ? dec / dc8[f] : 0;
        double gf = rz_llama_forward_flops(model[f], T, 0) / pf[f] / 1e9;
        printf("%-24s %9.1f %9.1f %10.1f %10.1f %6.0f%% %10.1f %6.0f%% %12.0f %9.1f %6.0f%%\n", FMTS[f].label,
               wb[f] / 1e6, bytes[f] / 1e6, tps, bound, 100 * tps / bound, t8, 100 * t8 / bound8, T / pf[f], gf,
               100 * gf / peak);
    }
    printf("ratio per round (that round's decode against that round's %d-thread probe), float | int8:\n", threads);
    for (size_t f = 0; f < NFMTS; f++) {
        if (!model[f]) continue;
        printf("%-24s", FMTS[f].label);
        for (int k = 0; k < 2; k++) {
            fputs(k ? " |" : "", stdout);
            for (int r = 0; r < runs; r++) printf(" %3.0f%%", 100 * rat[((size_t)r * NFMTS + f) * 2 + k]);
        }
        printf("\n");
        rz_llama_state_free(st[f]);
        rz_llama_free(model[f]);
    }
    free(bw), free(bwr), free(rat), free(tok), free(logits);
    return 0;
}
