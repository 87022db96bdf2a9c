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

#endif
