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
#include "exp_variants.h"
#include "rht.h"
#include "linalg.h"
#include "model_io.h"
#include "qlayer.h"
#include "ldlq.h"

static const char *const variant_name[3] = {"no rotation", "input side only (V)", "both sides (U, V)"};

/* Quantises W [rows][cols] (in place: W <- Ŵ) with rotation variant v; returns the
 * relative proxy loss tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) in the original basis. */
static double quantise(float *W, int rows, int cols, const double *H, int v, long item, void *ctx, rz_err *e)
{
    int bits = *(const int *)ctx;
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
    int bits = atoi(argv[3]);
    static const char *const tags[3] = {"v0", "v1", "v2"};
    char what[64];
    snprintf(what, sizeof what, "ldlq %d-bit,", bits);
    rz_linalg_threads(0);
    return exp_run_variants("exp_incoherence", argv[1], argv[2], 3, tags, variant_name, what, quantise, &bits, argv[4]);
}
