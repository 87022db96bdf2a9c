/* augment.c — the prompts and the keep/drop rule for synthetic demonstrations (augment.h). */
#include "augment.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

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

char *rz_icl_gen_prompt(const rz_icl_task *t, char *const *texts, const long *of_label, long n_of, int k, int c,
                        uint64_t seed)
{
    long *pick = malloc((size_t)k * sizeof *pick);
    size_t cap = 1, len = 0;
    char *out = NULL;
    if (!pick) return NULL;
    rz_icl_sample(n_of, k, seed, pick);
    char **r = calloc((size_t)k, sizeof *r);
    for (int j = 0; r && j < k; j++) {
        r[j] = rz_icl_render(t, texts[of_label[pick[j]]], c);
        cap += r[j] ? strlen(r[j]) : 0;
    }
    const char *in = strstr(t->tmpl, "{input}");
    cap += (size_t)(in - t->tmpl);
    if (r && (out = malloc(cap))) {
        for (int j = 0; j < k; j++) {
            size_t l = r[j] ? strlen(r[j]) : 0;
            memcpy(out + len, r[j], l);
            len += l;
        }
        memcpy(out + len, t->tmpl, (size_t)(in - t->tmpl));
        len += (size_t)(in - t->tmpl);
        while (len && out[len - 1] == ' ') len--; /* the model writes the word's space */
        out[len] = 0;
    }
    for (int j = 0; r && j < k; j++) free(r[j]);
    free(r);
    free(pick);
    return out;
}

char *rz_icl_judge_prompt(const rz_icl_task *t, const char *text, int c)
{
    char *demo = rz_icl_render(t, text, c);
    if (!demo) return NULL;
    size_t jl = strlen(demo) + 128;
    char *judge = malloc(jl);
    if (judge) snprintf(judge, jl, "Rate how good this example is, from 1 (bad) to 5 (good).\n\n%sRating:", demo);
    free(demo);
    return judge;
}
