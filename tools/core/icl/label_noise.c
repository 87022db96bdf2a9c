/* label_noise.c — noisy demonstration labels (see label_noise.h). */
#include "label_noise.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "select.h"

int rz_icl_flip_labels(int *lab, int n, int n_labels, double rate, uint64_t s, rz_err *e)
{
    assert(n >= 0 && rate >= 0 && rate <= 1);
    int nf = (int)floor(rate * n + 0.5);
    if (nf == 0) return 0;
    if (n_labels < 2) return -rz_fail(e, RZ_EINPUT, "label noise needs at least two labels (the task has %d)", n_labels);
    long *which = rz_malloc((size_t)nf * sizeof *which, e);
    if (!which) return -RZ_EINTERNAL;
    rz_icl_sample(n, nf, s, which);
    for (int f = 0; f < nf; f++) {
        /* the draw skips the current label: r in [0, n_labels − 1), shifted past lab[j] */
        int j = (int)which[f], other = (int)rz_icl_rand_below(&s, n_labels - 1);
        lab[j] = other >= lab[j] ? other + 1 : other;
    }
    free(which);
    return nf;
}
