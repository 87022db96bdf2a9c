/* pack.c — demonstrations added from the query outwards until the budget is met (pack.h). */
#include "pack.h"

#include <stdlib.h>
#include <string.h>

void rz_icl_prompt_free(rz_icl_prompt *p)
{
    free(p->text);
    free(p->cf_text);
    memset(p, 0, sizeof *p);
}

/* the last s rendered demonstrations (r[n-s..n)) then the query, malloc'ed */
static char *join(char *const *r, int n, int s, const char *query)
{
    size_t len = strlen(query) + 1;
    for (int j = n - s; j < n; j++) len += strlen(r[j]);
    char *out = malloc(len), *q = out;
    if (!out) return NULL;
    for (int j = n - s; j < n; j++) {
        size_t l = strlen(r[j]);
        memcpy(q, r[j], l);
        q += l;
    }
    strcpy(q, query);
    return out;
}

int rz_icl_pack(const rz_icl_task *t, const rz_icl_pool *pool, const long *demos, const int *labels, int n,
                const char *input, long budget, long label_tokens, rz_icl_count_fn count, void *ctx,
                const char *what, rz_icl_prompt *out, rz_err *e)
{
    memset(out, 0, sizeof *out);
    char **r = calloc((size_t)(n > 0 ? n : 1), sizeof *r);
    char *query = rz_icl_render(t, input, -1), *cfq = rz_icl_render(t, "N/A", -1);
    int rc = r && query && cfq ? 0 : rz_fail(e, RZ_EINTERNAL, "out of memory");
    for (int j = 0; j < n && !rc; j++) {
        if (demos[j] < 0 || demos[j] >= pool->n) {
            rc = rz_fail(e, RZ_EINPUT, "%s: demonstration id %ld is not in the pool (%ld examples)", what, demos[j],
                         pool->n);
            break;
        }
        int lab = labels ? labels[j] : pool->label[demos[j]];
        if (lab < 0 || lab >= t->n_labels) {
            rc = rz_fail(e, RZ_EINPUT, "%s: label %d of demonstration %d is not a task label", what, lab, j);
            break;
        }
        if (!(r[j] = rz_icl_render(t, pool->text[demos[j]], lab))) rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
    }
    long tok = 0, one = 0;
    char *best = NULL;
    int s = 0;
    if (!rc) {
        best = join(r, n, 0, query);
        if (!best) rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
        else rc = count(ctx, best, &tok, e);
    }
    if (!rc && tok + label_tokens > budget)
        rc = rz_fail(e, RZ_EINPUT, "%s: --budget %ld is smaller than the query alone (%ld tokens + %ld for the label)",
                     what, budget, tok, label_tokens);
    while (!rc && s < n) {
        char *next = join(r, n, s + 1, query);
        long nt;
        if (!next) {
            rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
            break;
        }
        if ((rc = count(ctx, next, &nt, e))) {
            free(next);
            break;
        }
        if (s == 0) one = nt;
        if (nt + label_tokens > budget) {
            free(next);
            break;
        }
        free(best);
        best = next;
        tok = nt;
        s++;
    }
    if (!rc && n > 0 && s == 0)
        rc = rz_fail(e, RZ_EINPUT, "%s: --budget %ld is smaller than one example (query and one demonstration: %ld "
                     "tokens + %ld for the label)", what, budget, one, label_tokens);
    if (!rc) {
        out->text = best;
        best = NULL;
        out->cf_text = join(r, n, s, cfq);
        out->shots = s;
        out->tokens = tok;
        if (!out->cf_text) rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
    }
    free(best);
    for (int j = 0; r && j < n; j++) free(r[j]);
    free(r);
    free(query);
    free(cfq);
    if (rc) rz_icl_prompt_free(out);
    return rc;
}
