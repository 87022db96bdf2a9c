/* lora_caldera.c — CALDERA initialisation of LoRA adapters (see lora_caldera.h). */
#include "lora_caldera.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caldera.h"
#include "calib.h"

/* H = XᵀX / N of matrix (l, kind)'s inputs in t's last forward, malloc'd (NULL: out of
 * memory). */
static double *data_hessian(rz_train *t, int l, int kind)
{
    int N, width;
    const float *X = rz_train_layer_input(t, l, kind, &N, &width);
    double *H = calloc((size_t)width * width, sizeof *H), *tmp = malloc((size_t)N * width * sizeof *tmp);
    if (H && tmp) {
        rz_gram_add(H, X, N, width, width, tmp);
        rz_gram_finish(H, width, N);
    } else {
        free(H);
        H = NULL;
    }
    free(tmp);
    return H;
}

int rz_lora_caldera_init(rz_lora *lo, const rz_lora_caldera_opts *o, const int *ids, size_t n,
                         void (*progress)(void *ctx, int done, int total, long lin, double rel), void *ctx, rz_err *e)
{
    rz_caldera_opts co;
    rz_caldera_defaults(&co);
    co.q_method = o->q_method;
    co.q_bits = o->q_bits;
    co.incoherent = 0;
    co.lr_bits = 32;
    co.outer = o->outer;
    co.seed = o->seed;
    rz_train *t = NULL;
    int rc = RZ_OK;
    if (o->batch > 0) { /* one forward of the original model over the first batch */
        int B = o->batch, T = o->ctx;
        int *tok = malloc(sizeof(int) * (size_t)B * T);
        rz_data_cursor cur = {0, 0};
        if (!tok) return rz_fail(e, RZ_EINTERNAL, "out of memory");
        if ((rc = rz_train_new(lo, B, T, &t, e))) {
            free(tok);
            return rc;
        }
        for (int b = 0; b < B; b++) rz_data_next(&cur, ids, n, T, tok + (size_t)b * T, NULL);
        rz_train_forward(t, tok, NULL, B, NULL);
        free(tok);
    }
    int total = lo->n_layers * RZ_LIN_PER_LAYER, done = 0;
    for (int l = 0; l < lo->n_layers && !rc; l++)
        for (int kind = 0; kind < RZ_LIN_PER_LAYER && !rc; kind++) {
            rz_adapter *ad = rz_lora_at(lo, l, kind);
            double *H = t ? data_hessian(t, l, kind) : calloc((size_t)ad->n * ad->n, sizeof *H);
            if (!H) {
                rc = rz_fail(e, RZ_EINTERNAL, "out of memory for a %d x %d Hessian", ad->n, ad->n);
                break;
            }
            if (!t)
                for (int i = 0; i < ad->n; i++) H[(size_t)i * ad->n + i] = 1.0;
            co.svd = (long)ad->m * ad->n <= 512L * 512 ? RZ_SVD_EXACT : RZ_SVD_RANDOM;
            rz_caldera fit;
            if ((rc = rz_caldera_fit(ad->Q, H, ad->m, ad->n, ad->k, &co, &fit, e))) {
                rz_wrap(e, "CALDERA fit of layers.%d.%s", l, rz_lin_name(kind));
                free(H);
                break;
            }
            memcpy((float *)ad->Q, fit.Q, sizeof(float) * (size_t)ad->m * ad->n);
            memcpy(ad->L, fit.L, sizeof(float) * (size_t)ad->m * ad->k);
            memcpy(ad->R, fit.R, sizeof(float) * (size_t)ad->k * ad->n);
            ++done;
            if (progress)
                progress(ctx, done, total, (long)l * RZ_LIN_PER_LAYER + kind, fit.ref > 0 ? sqrt(fit.obj / fit.ref) : 0.0);
            rz_caldera_free(&fit);
            free(H);
        }
    rz_train_free(t);
    return rc;
}
