/* exp_incoherence.c — which side of the random Hadamard incoherence helps LDLQ on a
 * small model? An experiment, not a pass/fail benchmark.
 *
 * rz-quantize --incoherence rotates both sides, W <- U W V^T and H <- V H V^T, as QuIP#
 * does. On stories260K that lowers the (input-side) proxy loss of every method yet raises
 * perplexity (pipeline/quant.md). This program quantises every linear of a model with
 * GPTQ/LDLQ (per-row min-max grid) three ways — no rotation, the input side V only, and
 * both sides — and writes each fake-quantised model as an f32 .rzm for rz-ppl:
 *
 *   build/release/bench/exp_incoherence MODEL HESSIANS BITS OUT_PREFIX
 *   rz-ppl -m OUT_PREFIX-v1.rzm -z tok512.bin -f eval.txt --json
 *
 * The proxy loss it prints is computed in the original basis from the dequantised Ŵ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "rht.h"
#include "linalg.h"
#include "model_io.h"
#include "qlayer.h"
#include "ldlq.h"

static const char *const variant_name[3] = {"no rotation", "input side only (V)", "both sides (U, V)"};

/* Quantises W [rows][cols] (in place: W <- Ŵ) with rotation variant v; returns the
 * relative proxy loss tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) in the original basis. */
static double quantise(float *W, int rows, int cols, const double *H, int bits, int v, long item, rz_err *e)
{
    size_t nw = (size_t)rows * cols;
    double *Hr = malloc(sizeof(double) * (size_t)cols * cols);
    float *Wr = malloc(sizeof(float) * nw), *Wq = malloc(sizeof(float) * nw);
    float *scales = malloc(sizeof(float) * nw), *zeros = malloc(sizeof(float) * nw);
    uint8_t *codes = malloc(nw);
    memcpy(Hr, H, sizeof(double) * (size_t)cols * cols);
    memcpy(Wr, W, sizeof(float) * nw);
    rz_rht U = {0}, V = {0};
    if (v >= 1) { /* W <- W V^T, H <- V H V^T */
        rz_rht_init(&V, cols, 1000 + (uint64_t)item, e);
        rz_rht_rows(&V, Wr, rows, cols, 0, e);
        rz_rht_cols_d(&V, Hr, cols, cols, 0, e);
        rz_rht_rows_d(&V, Hr, cols, cols, 0, e);
    }
    if (v == 2) { /* W <- U W */
        rz_rht_init(&U, rows, 2000 + (uint64_t)item, e);
        rz_rht_cols(&U, Wr, cols, cols, 0, e);
    }
    rz_ldl f;
    double rel = -1, loss;
    if (rz_ldl_factor(Hr, cols, 1, 0.01, &f, e) == 0) {
        if (rz_gptq(Wr, rows, cols, &f, bits, 0, 128, Wq, codes, scales, zeros, e) == 0) {
            if (v == 2) rz_rht_cols(&U, Wq, cols, cols, 1, e);
            if (v >= 1) rz_rht_rows(&V, Wq, rows, cols, 1, e);
            rz_proxy_loss(W, Wq, rows, cols, H, &loss, &rel, e);
            memcpy(W, Wq, sizeof(float) * nw);
        }
        rz_ldl_free(&f);
    }
    rz_rht_free(&U);
    rz_rht_free(&V);
    free(Hr), free(Wr), free(Wq), free(scales), free(zeros), free(codes);
    return rel;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: exp_incoherence MODEL HESSIANS BITS OUT_PREFIX\n");
        return 2;
    }
    rz_err e = {0};
    int bits = atoi(argv[3]);
    rz_linalg_threads(0);
    for (int v = 0; v < 3; v++) {
        rz_llama *m;
        uint64_t mhash;
        double **H;
        if (rz_quant_inputs_load(argv[1], argv[2], NULL, &m, &mhash, &H, &e)) {
            fprintf(stderr, "exp_incoherence: %s\n", e.msg);
            return e.code;
        }
        long n = 7L * m->config.n_layers;
        double rel_sum = 0;
        for (long i = 0; i < n; i++) {
            char name[128];
            float *W;
            int rows, cols, layer, group;
            rz_llama_linear(m, i, name, sizeof name, &W, &rows, &cols, &layer, &group);
            double rel = quantise(W, rows, cols, H[layer * RZ_TAP_GROUPS + group], bits, v, i, &e);
            if (rel < 0) {
                fprintf(stderr, "exp_incoherence: %s: %s\n", name, e.msg);
                return e.code ? e.code : 1;
            }
            rel_sum += rel;
        }
        char out[512];
        snprintf(out, sizeof out, "%s-v%d.rzm", argv[4], v);
        if (rz_model_save_rzm(m, out, RZ_F32, NULL, &e)) {
            fprintf(stderr, "exp_incoherence: %s\n", e.msg);
            return e.code;
        }
        printf("ldlq %d-bit, %-20s mean relative proxy loss %.5f -> %s\n", bits, variant_name[v], rel_sum / (double)n, out);
        for (int g = 0; g < m->config.n_layers * RZ_TAP_GROUPS; g++) free(H[g]);
        free(H);
        rz_llama_free(m);
    }
    return 0;
}
