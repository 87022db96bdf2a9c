/* bench_qinfer.c — quantised inference from the codes (qlinear.h) against float32.
 *
 * A random model shaped like stories110M (dim 768, hidden 2048, 12 layers, vocab
 * 32000, seq_len 1024); every linear is quantised (Hessian = identity: the codes'
 * quality does not matter here, only their format) with
 *   e8p 2-bit, incoherence on both sides (QuIP#: the decode plus two Hadamard transforms)
 *   e8p 4-bit (residual E8P), both sides
 *   rtn 4-bit, per row, no incoherence (scalar grid decode only)
 * and run by the same rz_llama_forward with the layers set as rz_qlinear (the dense
 * tensors are then not read). Printed per format: the bytes of the linears' weights
 * (float32 vs what the codes hold in memory), prefill tokens/s for one forward of
 * T = 512, and decode tokens/s (T = 1, 128 positions), each next to float32's, best of
 * `runs`. The classifier (24.6M weights) and embeddings stay float32 in every case.
 *
 * usage: bench_qinfer [runs [threads [format]]]   (format 0..2: only that one)
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "linalg.h"
#include "llama.h"
#include "qlayer.h"
#include "qlinear.h"
#include "rz.h"

static void die(const rz_err *e)
{
    fprintf(stderr, "bench_qinfer: %s\n", e->msg);
    exit(1);
}

/* best-of-runs seconds of one prefill of T tokens and of `dec` one-token decode steps */
static void time_model(const rz_llama *m, int runs, int T, int dec, double *prefill, double *decode)
{
    rz_err e = {0};
    rz_llama_state *s;
    if (rz_llama_state_new(m, T, m->config.seq_len, &s, &e)) die(&e);
    int *tok = malloc(sizeof(int) * (size_t)T);
    for (int t = 0; t < T; t++) tok[t] = (t * 7919 + 13) % m->config.vocab_size;
    *prefill = *decode = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = rz_now();
        rz_llama_forward(m, s, tok, T, 0, NULL); /* stops before the classifier: the linears' work */
        double t1 = rz_now();
        for (int p = 0; p < dec; p++) rz_llama_forward(m, s, tok + p, 1, p, NULL);
        double t2 = rz_now();
        if (t1 - t0 < *prefill) *prefill = t1 - t0;
        if (t2 - t1 < *decode) *decode = t2 - t1;
    }
    free(tok);
    rz_llama_state_free(s);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 3, threads = argc > 2 ? atoi(argv[2]) : 0, only = argc > 3 ? atoi(argv[3]) : -1;
    if (runs < 1) runs = 1;
    rz_linalg_threads(threads);
    rz_llama_config c = {768, 2048, 12, 12, 12, 32000, 1024, 1, 10000.0f, 1e-5f};
    rz_err e = {0};
    rz_llama *m;
    if (rz_llama_random(&c, 7, &m, &e)) die(&e);
    const int T = 512, dec = 128;
    long nlin = (long)RZ_LIN_PER_LAYER * c.n_layers;
    double dense_bytes = 0;
    for (long i = 0; i < nlin; i++) {
        char name[RZ_MAX_NAME];
        float *W;
        int rows, cols, layer, group;
        rz_llama_linear(m, i, name, sizeof name, &W, &rows, &cols, &layer, &group);
        dense_bytes += 4.0 * rows * cols;
    }
    double pf, dc;
    time_model(m, runs, T, dec, &pf, &dc);
    printf("stories110M shape, linears only (no classifier), best of %d, %d threads\n", runs, omp_get_max_threads());
    printf("%-22s %9s %12s %8s %12s %8s\n", "weights", "MB", "prefill t/s", "ratio", "decode t/s", "ratio");
    printf("%-22s %9.1f %12.0f %8s %12.1f %8s\n", "float32", dense_bytes / 1e6, T / pf, "1.00", dec / dc, "1.00");
    struct {
        const char *label;
        rz_qopts o;
    } fmt[3] = {{"e8p 2-bit, inc. both", {RZ_QM_E8P, 2, 0, RZ_INCOH_BOTH, 1, 0, 0, 0, 0}},
                {"e8p 4-bit, inc. both", {RZ_QM_E8P, 4, 0, RZ_INCOH_BOTH, 1, 0, 0, 0, 0}},
                {"rtn 4-bit, per row", {RZ_QM_RTN, 4, 0, RZ_INCOH_NONE, 1, 0, 0, 0, 0}}};
    for (int f = 0; f < 3; f++) {
        if (only >= 0 && f != only) continue;
        rz_llama *qm;
        if (rz_llama_random(&c, 7, &qm, &e)) die(&e);
        double bytes = 0;
        for (long i = 0; i < nlin; i++) {
            char name[RZ_MAX_NAME];
            float *W;
            int rows, cols, layer, group;
            rz_llama_linear(qm, i, name, sizeof name, &W, &rows, &cols, &layer, &group);
            double *H = calloc((size_t)cols * cols, sizeof *H);
            for (int j = 0; j < cols; j++) H[(size_t)j * cols + j] = 1.0;
            rz_qlayer q;
            rz_qlinear *ql;
            if (rz_qlayer_quantize(name, W, rows, cols, H, &fmt[f].o, i, 0, &q, NULL, &e) ||
                rz_qlinear_new(&q.v, &ql, &e))
                die(&e);
            bytes += (double)rz_qlinear_bytes(ql);
            if (rz_llama_set_qlinear(qm, i, ql, &e)) die(&e);
            rz_qlayer_free(&q);
            free(H);
        }
        double qpf, qdc;
        time_model(qm, runs, T, dec, &qpf, &qdc);
        printf("%-22s %9.1f %12.0f %8.2f %12.1f %8.2f\n", fmt[f].label, bytes / 1e6, T / qpf, pf / qpf, dec / qdc, dc / qdc);
        rz_llama_free(qm);
    }
    rz_llama_free(m);
    return 0;
}
