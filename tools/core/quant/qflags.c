/* qflags.c — the shared block-LDLQ/E8P flags (see qflags.h). */
#include "qflags.h"

void rz_qflags_table(rz_opt *tab, rz_e8p_opts *o)
{
    rz_opt t[RZ_QFLAGS_N + 1] = {
        RZ_O_F32("target-rms", 0, "F", o->target_rms, 0.05, 4.0,
                 "e8p: input RMS of the codebook: W is divided by rms(W)/F\n"
                 "(QuIP#'s opt_scale 1.03, or 0.9 at 2 bits as its README advises)"),
        RZ_O_INT("tune-iters", 0, "N", o->tune_iters, 0, 100,
                 "e8p: refinement passes after LDLQ, each re-quantising every\n"
                 "8-column block against the others (QuIP#'s quip_tune_iters, 10)"),
        RZ_O_INT("scale-search", 0, "N", o->scale_search, 0, 12,
                 "e8p: also try targets F*2^(-i/6), i = 1..N, and keep the one with\n"
                 "the lowest proxy loss (not in QuIP#; see pipeline/quant.md)"),
        RZ_O_END};
    for (int i = 0; i <= RZ_QFLAGS_N; i++) tab[i] = t[i];
}
