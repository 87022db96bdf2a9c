/* task.h — an in-context classification task: labels, their verbalisers, the prompt
 * template, and example pools read from files.
 *
 * Template: text with one "{input}" and one "{label}" slot ("\n" and "\t" escapes are
 * decoded), e.g. "Review: {input}\nSentiment: {label}\n\n". A demonstration is the whole
 * template filled in; the query is the template cut just before "{label}", trailing
 * spaces dropped (the label is scored as a continuation that brings its own leading
 * space: infer.h). Built-in tasks: sst2 (0 = negative, 1 = positive) and trec (the six
 * coarse classes ABBR, DESC, ENTY, HUM, LOC, NUM).
 *
 * Pool formats, one example per line (line numbers are 1-based in messages; the id of
 * an example is its 0-based line index):
 *   sst2   "<label> <text>"             (../data/sst2/stsa.binary.*)
 *   trec   "<COARSE>:<fine> <text>"     (the coarse class is the label)
 *   tsv    "<label>\t<text>"
 *   jsonl  {"label": "<label>", "text": "<text>"}   (label may be an integer)
 * Bad input is RZ_EINPUT naming file:line and the field: a missing label, a label that
 * is not in the verbaliser, an empty input, bytes that are not UTF-8.
 */
#ifndef RZ_ICL_TASK_H
#define RZ_ICL_TASK_H

#include <stdio.h>

#include "rz.h"

#define RZ_ICL_MAX_LABELS 64
#define RZ_ICL_MAX_LINE (1 << 16) /* bytes of one example line */
#define RZ_ICL_MAX_POOL 10000000L

typedef struct {
    int n_labels;
    char *name[RZ_ICL_MAX_LABELS];   /* as written in the data ("0", "ABBR") */
    char *verbal[RZ_ICL_MAX_LABELS]; /* as written in prompts ("negative") */
    char *tmpl;                      /* decoded template */
    char format[8];                  /* default pool format: sst2, trec, tsv, jsonl */
} rz_icl_task;

/* A built-in task (sst2, trec); verbaliser and template may then be replaced. */
int rz_icl_task_builtin(const char *name, rz_icl_task *t, rz_err *e);
/* "NAME=word,NAME=word,..." (at least two labels). */
int rz_icl_task_set_verbalizer(rz_icl_task *t, const char *spec, rz_err *e);
/* Checks exactly one {input} before exactly one {label}. */
int rz_icl_task_set_template(rz_icl_task *t, const char *tmpl, rz_err *e);
void rz_icl_task_free(rz_icl_task *t);
/* Label index of name[0..n), or -1. */
int rz_icl_task_label(const rz_icl_task *t, const char *name, size_t n);

/* A demonstration (label >= 0) or, with label -1, the query. malloc'ed. */
char *rz_icl_render(const rz_icl_task *t, const char *input, int label);

typedef struct {
    long n;
    char **text; /* [n], NUL-terminated, UTF-8 */
    int *label;  /* [n] task label indices */
    char *path;
} rz_icl_pool;

int rz_icl_pool_load(const char *path, const char *format, const rz_icl_task *t, rz_icl_pool *p, rz_err *e);
void rz_icl_pool_free(rz_icl_pool *p);
/* One pool line of format fmt, newline included, that rz_icl_pool_load reads back as
 * (label, text): "label text" (sst2), "label\ttext" (tsv), "label:syn text" (trec's
 * COARSE:fine), {"label":…,"text":…} (jsonl, text escaped). text holds no newline. */
void rz_icl_pool_write(FILE *f, const char *fmt, const char *label, const char *text);
/* Index of the first invalid UTF-8 byte in s[0..n), or -1 when it is all valid. */
long rz_icl_utf8_invalid(const char *s, size_t n);

#endif
