/* pack.h — many-shot prompts under a token budget.
 *
 * Given demonstrations d[0..n) in prompt order and a query, the prompt is
 *     render(d[n-s]) ++ ... ++ render(d[n-1]) ++ query
 * with s, the shots, the largest number such that
 *     tokens(prompt) + label_tokens <= budget
 * where tokens() is the exact count of the whole prompt as the model will see it (BOS
 * included; the caller's count function) and label_tokens the longest verbalised label.
 * Demonstrations are dropped whole, from the front (the ones farthest from the query).
 * Adding a demonstration never shortens the prompt, and s is found by adding them one at
 * a time, so the packed prompt never exceeds the budget. A budget that does not hold the
 * query and one demonstration (when there is one) is RZ_EINPUT naming the item.
 * The content-free twin (Zhao et al. 2021) has the same demonstrations and "N/A" as input.
 */
#ifndef RZ_ICL_PACK_H
#define RZ_ICL_PACK_H

#include "task.h"

typedef int (*rz_icl_count_fn)(void *ctx, const char *text, long *tokens, rz_err *e);

typedef struct {
    char *text, *cf_text; /* malloc'ed */
    int shots;
    long tokens;          /* of text, BOS included */
} rz_icl_prompt;

/* labels: per-demonstration label overrides (noise), or NULL for the pool's labels. */
int rz_icl_pack(const rz_icl_task *t, const rz_icl_pool *pool, const long *demos, const int *labels, int n,
                const char *input, long budget, long label_tokens, rz_icl_count_fn count, void *ctx,
                const char *what, rz_icl_prompt *out, rz_err *e);
void rz_icl_prompt_free(rz_icl_prompt *p);

#endif
