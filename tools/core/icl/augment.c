/* augment.c — the keep/drop rule for synthetic demonstrations (augment.h). */
#include "augment.h"

#include <ctype.h>
#include <math.h>

int rz_icl_keep(const rz_icl_cand *c, double min_judge, double min_label_p)
{
    return c->valid && !c->duplicate && c->judge >= min_judge && c->label_p >= min_label_p;
}

double rz_icl_judge_score(const double logp[5])
{
    double mx = logp[0], z = 0, s = 0;
    for (int r = 1; r < 5; r++) mx = logp[r] > mx ? logp[r] : mx;
    for (int r = 0; r < 5; r++) {
        double w = exp(logp[r] - mx);
        z += w;
        s += (r + 1) * w;
    }
    return s / z;
}

double rz_icl_label_p(const double *logp, int L, int label)
{
    double mx = logp[0], z = 0;
    for (int c = 1; c < L; c++) mx = logp[c] > mx ? logp[c] : mx;
    for (int c = 0; c < L; c++) z += exp(logp[c] - mx);
    return exp(logp[label] - mx) / z;
}

void rz_icl_norm_text(char *s)
{
    char *w = s;
    int space = 1; /* drop leading whitespace */
    for (char *r = s; *r; r++) {
        if (isspace((unsigned char)*r)) {
            if (!space) *w++ = ' ';
            space = 1;
        } else {
            *w++ = (char)tolower((unsigned char)*r);
            space = 0;
        }
    }
    if (w > s && w[-1] == ' ') w--;
    *w = 0;
}
