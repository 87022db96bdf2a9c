/* augment.h — filtering synthetic demonstrations (rz-icl augment).
 *
 * A candidate (a generated input with the label it was generated for) is scored twice by
 * the model: label_p = p(label | input) among the task's labels, softmax over the
 * verbalised labels' log-probabilities after the query; judge = the expected rating
 * sum_r r softmax(logp_r) over the continuations "1".."5" after a judging prompt. It is
 * kept when it is valid (non-empty UTF-8 without a newline), not a duplicate (of a real
 * example or of an earlier candidate, compared after rz_icl_norm_text), and both scores
 * are at least their thresholds.
 */
#ifndef RZ_ICL_AUGMENT_H
#define RZ_ICL_AUGMENT_H

#include <stdint.h>

#include "task.h"

typedef struct {
    int valid, duplicate;
    double label_p, judge;
} rz_icl_cand;

int rz_icl_keep(const rz_icl_cand *c, double min_judge, double min_label_p);
/* expected rating from the log-probabilities of "1".."5" */
double rz_icl_judge_score(const double logp[5]);
/* p(label | input) from the labels' log-probabilities */
double rz_icl_label_p(const double *logp, int L, int label);
/* In place: ASCII lower case, runs of whitespace to one space, trimmed. */
void rz_icl_norm_text(char *s);

/* The prompt that asks for a candidate of label c: k examples of that label, drawn by
 * rz_icl_sample(n_of, k, seed) from texts[of_label[0..n_of)], each rendered with the
 * task's template as a demonstration, then the template's text before {input} with its
 * trailing spaces dropped (the model writes the word's own space). NULL when out of
 * memory. k ≤ n_of. */
char *rz_icl_gen_prompt(const rz_icl_task *t, char *const *texts, const long *of_label, long n_of, int k, int c,
                        uint64_t seed);
/* The judging prompt whose continuations "1".."5" give rz_icl_judge_score: an
 * instruction, the candidate rendered as a demonstration of label c, then "Rating:".
 * NULL when out of memory. */
char *rz_icl_judge_prompt(const rz_icl_task *t, const char *text, int c);

#endif
