/* exp_variants.h — the driver the quantisation experiments (exp_*.c) share.
 *
 * For each variant v: load the model and its Hessians afresh, replace every linear W by
 * the variant's dequantised Ŵ (the experiment's quantise callback, which returns the
 * relative proxy loss tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) in the original basis, or −1), write the
 * fake-quantised model as PREFIX-TAG.rzm (f32) for rz-ppl, and print one line
 *
 *     WHAT LABEL mean relative proxy loss X -> PREFIX-TAG.rzm
 *
 * (pipeline/quant.mk reads X as the line's 10th field for exp_e8p4's lines). Returns the
 * exit status: 0, or the error's code after a message on stderr naming the tool.
 */
#ifndef RZ_EXP_VARIANTS_H
#define RZ_EXP_VARIANTS_H

#include <stdio.h>
#include <stdlib.h>

#include "calib.h"
#include "model_io.h"

typedef double (*exp_quantise_fn)(float *W, int rows, int cols, const double *H, int variant, long item, void *ctx,
                                  rz_err *e);

static int exp_run_variants(const char *tool, const char *model, const char *hessians, int nv,
                            const char *const *tags, const char *const *labels, const char *what, exp_quantise_fn q,
                            void *ctx, const char *prefix)
{
    rz_err e = {0};
    for (int v = 0; v < nv; v++) {
        rz_llama *m;
        uint64_t mhash;
        double **H;
        if (rz_quant_inputs_load(model, hessians, NULL, &m, &mhash, &H, &e)) {
            fprintf(stderr, "%s: %s\n", tool, e.msg);
            return e.code;
        }
        long n = 7L * m->config.n_layers;
        double rel_sum = 0;
        for (long i = 0; i < n; i++) {
            char name[128];
            float *W;
            int rows, cols, layer, group;
            rz_llama_linear(m, i, name, sizeof name, &W, &rows, &cols, &layer, &group);
            double rel = q(W, rows, cols, H[layer * RZ_TAP_GROUPS + group], v, i, ctx, &e);
            if (rel < 0) {
                fprintf(stderr, "%s: %s: %s\n", tool, name, e.msg[0] ? e.msg : "out of memory");
                return e.code ? e.code : 1;
            }
            rel_sum += rel;
        }
        char out[512];
        snprintf(out, sizeof out, "%s-%s.rzm", prefix, tags[v]);
        if (rz_model_save_rzm(m, out, RZ_F32, NULL, &e)) {
            fprintf(stderr, "%s: %s\n", tool, e.msg);
            return e.code;
        }
        printf("%s %-20s mean relative proxy loss %.5f -> %s\n", what, labels[v], rel_sum / (double)n, out);
        for (int g = 0; g < m->config.n_layers * RZ_TAP_GROUPS; g++) free(H[g]);
        free(H);
        rz_llama_free(m);
    }
    return 0;
}

#endif
