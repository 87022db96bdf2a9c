/* icl_cli.h — rz-icl's shared options and the helpers its subcommands share (loading
 * the task and pools, opening the server, streams). Each subcommand is one file. */
#ifndef RZ_ICL_CLI_H
#define RZ_ICL_CLI_H

#include "cli.h"
#include "client.h"
#include "icl.h"
#include "task.h"
#include "tokenizer.h"

typedef struct {
    rz_cli c;
    const char *cmd;
    const char *task, *verbalizer, *tmpl, *format;
    const char *pool, *test, *server, *demos, *prompts, *tokenizer, *method;
    int k, per_item, calibrate, bootstrap, pool_max, test_max, layer, gen_tokens;
    long budget;
    double rate, min_judge, min_label_p, temperature, top_p;
    int n_generate;
} icl_args;

void icl_parse(icl_args *a, int argc, char **argv);
/* task from --task / --verbalizer / --template; dies on error */
void icl_task(icl_args *a, rz_icl_task *t);
void icl_pool(icl_args *a, const char *path, const char *opt, const rz_icl_task *t, rz_icl_pool *p);
rz_client *icl_server(icl_args *a, int *max_ctx, int *dim);
/* Opens the -o stream (stdout when absent) */
rz_writer *icl_writer(icl_args *a);
void icl_emit(icl_args *a, rz_writer *w);
void icl_close(icl_args *a, rz_writer *w);
/* The next icl_demos record of r into *d (records of other types skipped) and its
 * context into *ctx; 0 at the end of the stream. Dies on a read or decode error. */
int icl_next_demos(icl_args *a, rz_reader *r, rz_icl_demos *d, rz_rec_ctx *ctx);
void icl_die(icl_args *a, rz_err *e) __attribute__((noreturn));

int icl_select(icl_args *a);
int icl_pack(icl_args *a);
int icl_eval(icl_args *a);
int icl_noise(icl_args *a);
int icl_augment(icl_args *a);
int icl_request(icl_args *a);

#endif
