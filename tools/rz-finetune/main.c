/* rz-finetune — LoRA-style fine-tuning of the low-rank adapters L, R of W ≈ Q + L R on
 * calibration text (CALDERA §5 / LoRA), everything else frozen.
 *
 * The frozen Q of every linear (wq wk wv wo w1 w2 w3) is a dense float matrix from the
 * model loader: the model's own weights (--init lora: L = 0, R small random, so training
 * starts at the model), the CALDERA decomposition of them (--init caldera: Q = LDLQ-
 * or E8P-quantised W, L R the rank-K fit of the rest, under an identity Hessian or the
 * one of the calibration text's activations), or — for a packed Q + L R model (rz-lowrank
 * + rz-pack, qlayer v2 records; --init model, the default for such a model) — the
 * dequantised Q of every qlayer with the model's own L, R as the starting adapters, at
 * each matrix's own rank (rz_model_load_lowrank; k = 0 matrices stay frozen).
 * --packed-out then writes the packed model again: every record copied as it is except
 * the qlayers with L, R, whose Q codes/scales/seeds are kept byte for byte and whose L, R
 * are replaced by the tuned ones in the input's L/R format (rz_qlayer_replace_lowrank:
 * the 4-bit grid rounding happens once, at the end). Training: next-token cross-entropy on
 * contiguous --ctx windows of the text, AdamW with warmup + cosine/linear decay and
 * global-norm clipping (tools/core/train/adamw.h), forward/backward in tools/core/train/lora.h.
 * Under mpirun each rank computes some micro-batches of the global batch; the all-reduce
 * is ordered so that the result is bit-identical to one process with the same --batch
 * and --micro (lora.h). Checkpoints (schemas/train.md) hold everything needed to
 * resume bit for bit.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "cli.h"
#include "cluster.h"
#include "corpus.h"
#include "caldera.h"
#include "model.h"
#include "qlayer.h"
#include "lora.h"
#include "train_ckpt.h"

static const rz_cli_tool tool = {
    .name = "rz-finetune",
    .summary = "LoRA-style fine-tuning of the low-rank adapters L, R of W = Q + L R",
    .usage = "rz-finetune -m MODEL [-z TOKENIZER] [-f TEXT | --tokens LOC] -o TUNED.rzm [options]\n",
    .about = "Trains low-rank adapters W = Q + L R of every linear layer of MODEL (llama2.c .bin or\n"
             ".rzm) on TEXT with next-token cross-entropy; Q and all other weights stay frozen.\n"
             "Writes the merged model (W = Q + L R, f32 .rzm) and/or the adapters. A packed Q + L R\n"
             "MODEL (rz-lowrank + rz-pack: qlayer records with L, R) trains its own L, R, each matrix\n"
             "at its own rank, with Q frozen (--init model, the default for such a model), and\n"
             "--packed-out writes it packed again (Q's codes untouched, L, R re-encoded).\n"
             "Without -f and --tokens, stdin is the text (with -z) or the token stream (without).\n",
    .examples = "rz-finetune -m stories260K.bin -z tok512.bin -f train.txt --steps 50 --rank 4 --lr 3e-3 -o tuned.rzm\n"
                "mpirun -np 2 rz-finetune -m s.bin -z tok512.bin -f train.txt --batch 8 --micro 4 --checkpoint ck \\\n"
                "    --every 10 -o tuned.rzm && rz-ppl -m tuned.rzm -z tok512.bin -f valid.txt\n"
                "rz-finetune -m s.bin -z tok512.bin -f train.txt --resume ck --checkpoint ck -o tuned.rzm\n"
                "rz-finetune -m s.bin -z tok512.bin -f train.txt --init caldera --q-method ldlq --q-bits 2 -o t.rzm\n"
                "rz-finetune -m cal_r8_lr4.rzm -z tok512.bin -f calib.txt --steps 100 --lr 3e-3 \\\n"
                "    --packed-out ft_cal_r8_lr4.rzm && rz-ppl -m ft_cal_r8_lr4.rzm -z tok512.bin -f eval.txt\n",
    .report = "loss_first, loss_final, losses, steps, first_step, batch, ctx, tokens_per_s, step_seconds, "
              "trained_params, model_id, ranks, init",
    .output_help = "the tuned model, merged, f32 .rzm (float L, R: not rounded)",
    .seed_help = "adapter initialisation and data order (default 0)",
};

enum { INIT_AUTO, INIT_LORA, INIT_CALDERA, INIT_MODEL };

typedef struct {
    const char *model, *tokenizer, *text, *tokens, *adapters, *checkpoint, *resume, *packed;
    long max_tokens;
    int steps, until, batch, micro, ctx, rank, rank_given, q_given, init, qat, q_method, q_bits, hess_data, citers, every;
    rz_adamw_opts opt;
} args;

static void opt_init(rz_cli *c, const char *arg, void *init)
{
    int *v = init;
    if (!strcmp(arg, "lora")) *v = INIT_LORA;
    else if (!strcmp(arg, "caldera")) *v = INIT_CALDERA;
    else if (!strcmp(arg, "model")) *v = INIT_MODEL;
    else rz_cli_usage_error(c, "--init: expected lora, caldera or model, not '%s'", arg);
}

static void opt_q_method(rz_cli *c, const char *arg, void *q_method)
{
    int *v = q_method;
    if (!strcmp(arg, "none")) *v = RZ_CQ_NONE;
    else if (!strcmp(arg, "ldlq")) *v = RZ_CQ_LDLQ;
    else if (!strcmp(arg, "e8p")) *v = RZ_CQ_E8P;
    else rz_cli_usage_error(c, "--q-method: expected none, ldlq or e8p, not '%s'", arg);
}

static void opt_hessian(rz_cli *c, const char *arg, void *hess_data)
{
    int *v = hess_data;
    if (!strcmp(arg, "identity")) *v = 0;
    else if (!strcmp(arg, "data")) *v = 1;
    else rz_cli_usage_error(c, "--hessian: expected identity or data, not '%s'", arg);
}

static void opt_schedule(rz_cli *c, const char *arg, void *schedule)
{
    int *v = schedule;
    if ((*v = rz_adamw_schedule_parse(arg)) < 0)
        rz_cli_usage_error(c, "--schedule: expected cosine, linear or constant, not '%s'", arg);
}

static void parse(rz_cli *c, args *a, int argc, char **argv)
{
    a->steps = 100, a->batch = 8, a->rank = 8, a->q_method = RZ_CQ_LDLQ, a->citers = 5;
    rz_adamw_defaults(&a->opt);
    rz_opt opts[] = {
        RZ_O_STR("model", 'm', "F", a->model, "model file"),
        RZ_O_STR("tokenizer", 'z', "F", a->tokenizer, "tokenizer for -f (llama2.c format)"),
        RZ_O_STR("file", 'f', "TEXT", a->text, "training text"),
        RZ_O_STR("tokens", 0, "LOC", a->tokens, "a stream of \"tokens\" records instead of -f/-z"),
        RZ_O_LONG("max-tokens", 0, "N", a->max_tokens, 2, 1L << 40, "use only the first N tokens"),
        RZ_O_INT("steps", 0, "N", a->steps, 1, 1 << 30, "optimizer steps (default 100)"),
        RZ_O_INT("batch", 0, "N", a->batch, 1, 1 << 20, "sequences per step, over all ranks (default 8)"),
        RZ_O_INT("micro", 0, "N", a->micro, 1, 1 << 20,
                 "sequences per micro-batch (default batch / ranks); the result\n"
                 "depends on --batch and --micro, never on ranks or threads"),
        RZ_O_INT("ctx", 0, "N", a->ctx, 2, 1 << 20, "positions per sequence (default min(256, seq_len))"),
        RZ_O_INT("rank", 0, "K", a->rank, 0, 1 << 16, "adapter rank of every matrix (default 8; not with --init model)"),
        RZ_O_FN("init", 0, "M", opt_init, &a->init,
                "lora (L = 0, R random; default for a model without L, R),\n"
                "caldera (Q + L R fit of W) or model (MODEL's own L, R with Q\n"
                "frozen; default when MODEL's qlayer records carry L, R)"),
        RZ_O_FN("q-method", 0, "M", opt_q_method, &a->q_method, "caldera: Q = none (0), ldlq or e8p (default ldlq)"),
        RZ_O_INT("q-bits", 0, "B", a->q_bits, 2, 8, "caldera: bits of Q (default 2 for e8p, 4 for ldlq)"),
        RZ_O_FN("hessian", 0, "H", opt_hessian, &a->hess_data,
                "caldera: identity (default) or data (X^T X / N of each layer's\n"
                "inputs on the first batch of the text)"),
        RZ_O_INT("caldera-iters", 0, "N", a->citers, 1, 1000, "caldera: outer iterations (default 5)"),
        RZ_O_F64("lr", 0, "X", a->opt.lr, 0, 10, "peak learning rate (default 1e-3)"),
        RZ_O_F64("min-lr", 0, "X", a->opt.min_lr, 0, 10, "learning rate at the end of the decay (default 0)"),
        RZ_O_FN("schedule", 0, "S", opt_schedule, &a->opt.schedule, "cosine (default), linear or constant after warmup"),
        RZ_O_INT("warmup", 0, "N", a->opt.warmup, 0, 1 << 30, "linear warmup steps (default 0)"),
        RZ_O_F64("weight-decay", 0, "X", a->opt.weight_decay, 0, 10, "decoupled weight decay (default 0)"),
        RZ_O_F64("clip", 0, "X", a->opt.clip, 0, 1e30, "global gradient-norm clip, 0 = off (default 1)"),
        RZ_O_STR("adapters", 0, "OUT", a->adapters, "write the trained L, R (\"lora_adapters\" stream)"),
        RZ_O_STR("checkpoint", 0, "C", a->checkpoint, "write a checkpoint to C every --every steps and at the end"),
        RZ_O_INT("every", 0, "N", a->every, 1, 1 << 30, "checkpoint interval (default: only at the end)"),
        RZ_O_INT("until", 0, "N", a->until, 1, 1 << 30,
                 "stop after step N (the schedule still spans --steps): a run in\n"
                 "pieces, each resuming the last one's checkpoint"),
        RZ_O_STR("resume", 0, "C", a->resume,
                 "continue from checkpoint C (same model, --rank, --batch,\n"
                 "--micro, --ctx; with the same --steps and optimizer options the\n"
                 "result is bit-identical to an uninterrupted run)"),
        RZ_O_STR("packed-out", 0, "F", a->packed,
                 "--init model: the tuned model packed as MODEL is (same Q codes,\n"
                 "tuned L, R in MODEL's L/R format, rounded to its grid once at\n"
                 "the end); rz-ppl loads it, rz-pack's bpw still holds"),
        RZ_O_FLAG("qat", 0, a->qat,
                  "--init model: quantisation-aware; every step's forward and\n"
                  "backward use L, R rounded to MODEL's L/R format, the update goes\n"
                  "to the float L, R (straight-through); -o then merges the rounded\n"
                  "pair, = --packed-out to float rounding (checkpoints and --adapters\n"
                  "hold the float pair)"),
        RZ_O_END};
    int first = rz_cli_parse(c, &tool, opts, argc, argv);
    a->rank_given = rz_cli_opt(opts, "rank")->seen > 0;
    a->q_given = rz_cli_opt(opts, "q-method")->seen > 0;
    if (first < argc) rz_cli_usage_error(c, "unexpected argument '%s'", argv[first]);
    if (!a->model) rz_cli_usage_error(c, "-m MODEL is required");
    rz_cli_default_input(c, &a->text, &a->tokens, a->tokenizer);
    if (!a->text == !a->tokens) rz_cli_usage_error(c, "give exactly one of -f TEXT and --tokens LOC");
    if (a->text && !a->tokenizer) rz_cli_usage_error(c, "-f TEXT needs -z TOKENIZER");
    if (a->q_given) {
        if (a->init == INIT_LORA || a->init == INIT_MODEL) rz_cli_usage_error(c, "--q-method needs --init caldera");
        a->init = INIT_CALDERA;
    }
    if (!c->output && !a->adapters && !a->checkpoint && !a->packed)
        rz_cli_usage_error(c, "nothing to write: give -o TUNED.rzm, --packed-out P.rzm, --adapters OUT or --checkpoint C");
    /* every output checked before the work (-o and --report by the shared CLI) */
    const char *outs[] = {a->adapters, a->checkpoint, a->packed};
    for (int i = 0; i < 3; i++)
        if (outs[i]) rz_cli_output(c, outs[i]);
    if (a->init == INIT_MODEL && a->rank_given)
        rz_cli_usage_error(c, "--rank does not apply to --init model (each matrix keeps MODEL's own rank)");
    if (a->packed && (a->init == INIT_LORA || a->init == INIT_CALDERA))
        rz_cli_usage_error(c, "--packed-out needs --init model (a packed MODEL with L, R)");
    if (a->qat && (a->init == INIT_LORA || a->init == INIT_CALDERA))
        rz_cli_usage_error(c, "--qat needs --init model (a packed MODEL with L, R)");
    if ((a->packed || a->qat) && (!strcmp(a->model, "-") || rz_is_endpoint(a->model)))
        rz_cli_usage_error(c, "--packed-out and --qat read MODEL a second time: give a file");
    if (a->every && !a->checkpoint) rz_cli_usage_error(c, "--every needs --checkpoint C");
    if (a->rank == 0) rz_cli_usage_error(c, "--rank 0 leaves nothing to train");
    if (!a->micro) a->micro = a->batch % rz_cluster_size() == 0 ? a->batch / rz_cluster_size() : a->batch;
    if (a->batch % a->micro) rz_cli_usage_error(c, "--batch %d is not a multiple of --micro %d", a->batch, a->micro);
    if (!a->q_bits) a->q_bits = a->q_method == RZ_CQ_E8P ? 2 : 4;
    rz_cli_need_file_under_mpi(c, "model", a->model);
    a->opt.total = a->steps;
    if (!a->until || a->until > a->steps) a->until = a->steps;
}

/* Rank 0 reads the tokens; every rank gets a copy. */
static void load_tokens(rz_cli *c, const args *a, const rz_llama *m, int **ids, size_t *n)
{
    rz_err e = {0};
    uint64_t count = 0;
    if (rz_cluster_rank() == 0) {
        int rc;
        if (a->tokens) {
            rc = rz_corpus_from_stream(a->tokens, &c->stream, m->config.vocab_size, ids, n, &e);
        } else {
            rz_tokenizer *t = NULL;
            rc = rz_tokenizer_load(a->tokenizer, &t, &e);
            if (rc == RZ_OK && rz_tokenizer_vocab_size(t) != m->config.vocab_size)
                rc = rz_fail(&e, RZ_EINPUT, "%s: tokenizer has %d tokens but model %s has a vocabulary of %d",
                             a->tokenizer, rz_tokenizer_vocab_size(t), a->model, m->config.vocab_size);
            if (rc == RZ_OK) rc = rz_corpus_from_text(t, a->text, ids, n, &e);
            if (t) rz_tokenizer_free(t);
        }
        if (rc) rz_cli_die(c, &e);
        if (a->max_tokens && (size_t)a->max_tokens < *n) *n = (size_t)a->max_tokens;
        count = *n;
    }
    rz_cluster_bcast(&count, sizeof count);
    if (rz_cluster_rank() != 0) {
        *n = count;
        *ids = rz_malloc(count * sizeof **ids + 1, &e);
        if (!*ids) rz_cli_die(c, &e);
    }
    rz_cluster_bcast(*ids, count * sizeof **ids);
}

/* Per-matrix H = XᵀX / N of its inputs on the first batch of the text (model as loaded),
 * or NULL for the identity. */
static double *data_hessian(rz_train *t, const rz_adapter *ad, int l, int kind)
{
    int N, width;
    const float *X = rz_train_layer_input(t, l, kind, &N, &width);
    double *H = calloc((size_t)width * width, sizeof *H);
    if (!H) return NULL;
    for (int r = 0; r < N; r++)
        for (int i = 0; i < width; i++) {
            double xi = X[(size_t)r * width + i];
            for (int j = 0; j < width; j++) H[(size_t)i * width + j] += xi * X[(size_t)r * width + j];
        }
    for (size_t i = 0; i < (size_t)width * width; i++) H[i] /= N;
    (void)ad;
    return H;
}

/* CALDERA initialisation: for every matrix, W ≈ Q + L R; Q replaces W in the model (it
 * becomes the frozen part), L and R start the adapters. Without incoherence so that Q,
 * L and R are in the model's own basis. */
static void caldera_init(rz_cli *c, const args *a, rz_lora *lo, const int *ids, size_t n)
{
    rz_err e = {0};
    rz_caldera_opts co;
    rz_caldera_defaults(&co);
    co.q_method = a->q_method;
    co.q_bits = a->q_bits;
    co.incoherent = 0;
    co.lr_bits = 32;
    co.outer = a->citers;
    co.seed = c->seed;
    rz_train *t = NULL;
    if (a->hess_data) { /* one forward of the original model over the first batch */
        int B = a->batch, T = a->ctx;
        int *tok = malloc(sizeof(int) * (size_t)B * T);
        rz_data_cursor cur = {0, 0};
        if (!tok || rz_train_new(lo, B, T, &t, &e)) rz_cli_die(c, &e);
        for (int b = 0; b < B; b++) rz_data_next(&cur, ids, n, T, tok + (size_t)b * T, NULL);
        rz_train_forward(t, tok, NULL, B, NULL);
        free(tok);
    }
    int total = lo->n_layers * RZ_TR_NMAT, done = 0;
    for (int l = 0; l < lo->n_layers; l++)
        for (int kind = 0; kind < RZ_TR_NMAT; kind++) {
            rz_adapter *ad = rz_lora_at(lo, l, kind);
            double *H = t ? data_hessian(t, ad, l, kind) : calloc((size_t)ad->n * ad->n, sizeof *H);
            if (!H) {
                rz_fail(&e, RZ_EINTERNAL, "out of memory for a %d x %d Hessian", ad->n, ad->n);
                rz_cli_die(c, &e);
            }
            if (!t)
                for (int i = 0; i < ad->n; i++) H[(size_t)i * ad->n + i] = 1.0;
            co.svd = (long)ad->m * ad->n <= 512L * 512 ? RZ_SVD_EXACT : RZ_SVD_RANDOM;
            rz_caldera fit;
            if (rz_caldera_fit(ad->Q, H, ad->m, ad->n, ad->k, &co, &fit, &e)) {
                rz_wrap(&e, "CALDERA fit of layers.%d.%s", l, rz_train_matrix_name(kind));
                rz_cli_die(c, &e);
            }
            memcpy((float *)ad->Q, fit.Q, sizeof(float) * (size_t)ad->m * ad->n);
            memcpy(ad->L, fit.L, sizeof(float) * (size_t)ad->m * ad->k);
            memcpy(ad->R, fit.R, sizeof(float) * (size_t)ad->k * ad->n);
            rz_cli_progress(c, 0, "CALDERA init: %d/%d matrices, layers.%d.%s relative error %.4f", ++done, total, l,
                            rz_train_matrix_name(kind), fit.ref > 0 ? sqrt(fit.obj / fit.ref) : 0.0);
            rz_caldera_free(&fit);
            free(H);
        }
    rz_train_free(t);
}

/* Per-matrix ranks [n_layers][RZ_TR_NMAT] from the qlayer pairs of a packed model; 0
 * for matrices without one. Exits 2 on a pair that is not one of the model's linears. */
static int *pairs_ranks(rz_cli *c, const char *loc, const rz_llama *m, const rz_lowrank_adapters *ad, int *n_pairs)
{
    rz_err e = {0};
    int nl = m->config.n_layers;
    int *ranks = rz_calloc((size_t)nl * RZ_TR_NMAT + 1, sizeof *ranks, &e);
    if (!ranks) rz_cli_die(c, &e);
    *n_pairs = 0;
    for (int i = 0; i < ad->count; i++) {
        const rz_lowrank_adapter *p = &ad->a[i];
        if (p->k == 0) continue;
        int found = -1;
        for (int j = 0; j < nl * RZ_TR_NMAT && found < 0; j++) {
            char name[RZ_MAX_NAME];
            snprintf(name, sizeof name, "layers.%d.%s.weight", j / RZ_TR_NMAT, rz_train_matrix_name(j % RZ_TR_NMAT));
            if (!strcmp(name, p->name)) found = j;
        }
        if (found < 0) {
            rz_fail(&e, RZ_EINPUT, "%s: qlayer '%s' carries L, R but is not a linear layer rz-finetune trains", loc,
                    p->name);
            rz_cli_die(c, &e);
        }
        ranks[found] = p->k;
        ++*n_pairs;
    }
    return ranks;
}

/* --packed-out: MODEL's records again, each qlayer with L, R re-encoded with the tuned
 * pair (rz_qlayer_replace_lowrank), everything else copied as read. */
static int write_packed(const args *a, const rz_stream_opts *so, const rz_lora *lo, rz_err *e)
{
    rz_reader *r;
    rz_writer *w;
    int rc = rz_reader_open(a->model, so, &r, e);
    if (rc) return rc;
    if ((rc = rz_writer_open(a->packed, so, &w, e))) return rz_reader_close(r), rc;
    const msgpack_object *rec;
    rz_rec_ctx ctx;
    int nl = lo->n_layers;
    for (;;) {
        if ((rc = rz_reader_next(r, &rec, &ctx, e))) break;
        if (!rec) break;
        msgpack_packer *pk = rz_writer_packer(w);
        rz_qlayer_view ql;
        if (!strcmp(ctx.type, "qlayer")) {
            if ((rc = rz_qlayer_decode(rec, &ctx, &ql, e))) break;
        } else {
            ql.rank = 0;
        }
        if (ql.rank > 0) {
            const rz_adapter *ad = NULL;
            for (int j = 0; j < nl * RZ_TR_NMAT && !ad; j++) {
                char name[RZ_MAX_NAME];
                snprintf(name, sizeof name, "layers.%d.%s.weight", j / RZ_TR_NMAT, rz_train_matrix_name(j % RZ_TR_NMAT));
                if (!strcmp(name, ql.name)) ad = rz_lora_at(lo, j / RZ_TR_NMAT, j % RZ_TR_NMAT);
            }
            if (!ad || ad->k != ql.rank || ad->m != ql.rows || ad->n != ql.cols) {
                rc = rz_rec_fail(e, &ctx, "rank", "qlayer '%s' does not match the trained adapters (was %s changed?)",
                                 ql.name, a->model);
                break;
            }
            rz_qlayer nq;
            if ((rc = rz_qlayer_replace_lowrank(&ql, ad->L, ad->R, &nq, e))) break;
            rz_qlayer_pack(pk, &nq.v);
            rz_qlayer_free(&nq);
        } else {
            msgpack_pack_object(pk, *rec);
        }
        if ((rc = rz_writer_emit(w, e))) break;
    }
    rz_reader_close(r);
    if (rc) {
        rz_writer_abort(w, e);
        return rc;
    }
    return rz_writer_close(w, e);
}

/* --qat: every pair's record (format, grids, seeds) as MODEL holds it, by matrix index
 * l·RZ_TR_NMAT + kind (rank 0: none). */
static rz_qlayer *qat_templates(rz_cli *c, const args *a, const rz_lora *lo)
{
    rz_err e = {0};
    int nm = lo->n_layers * RZ_TR_NMAT;
    rz_qlayer *tm = rz_calloc((size_t)nm, sizeof *tm, &e);
    rz_reader *r;
    if (!tm || rz_reader_open(a->model, &c->stream, &r, &e)) rz_cli_die(c, &e);
    const msgpack_object *rec;
    rz_rec_ctx ctx;
    for (;;) {
        if (rz_reader_next(r, &rec, &ctx, &e)) rz_cli_die(c, &e);
        if (!rec) break;
        rz_qlayer_view ql;
        if (strcmp(ctx.type, "qlayer") != 0) continue;
        if (rz_qlayer_decode(rec, &ctx, &ql, &e)) rz_cli_die(c, &e);
        for (int j = 0; j < nm && ql.rank > 0; j++) {
            char name[RZ_MAX_NAME];
            snprintf(name, sizeof name, "layers.%d.%s.weight", j / RZ_TR_NMAT, rz_train_matrix_name(j % RZ_TR_NMAT));
            const rz_adapter *ad = &lo->ad[j];
            if (strcmp(name, ql.name) != 0) continue;
            if (ad->k != ql.rank || rz_qlayer_replace_lowrank(&ql, ad->L, ad->R, &tm[j], &e)) {
                if (!e.code) rz_rec_fail(&e, &ctx, "rank", "qlayer '%s' changed since it was loaded", ql.name);
                rz_cli_die(c, &e);
            }
        }
    }
    rz_reader_close(r);
    return tm;
}

/* --qat: lo's pairs ← the float pairs of `latent` (same layout) rounded to the stored
 * format and decoded back to the original basis. */
static int qat_round(rz_lora *lo, const float *latent, const rz_qlayer *tm, rz_err *e)
{
    for (int j = 0; j < lo->n_layers * RZ_TR_NMAT; j++) {
        rz_adapter *ad = &lo->ad[j];
        if (!ad->k) continue;
        rz_qlayer q;
        const float *L = latent + (ad->L - lo->params), *R = latent + (ad->R - lo->params);
        int rc = rz_qlayer_replace_lowrank(&tm[j].v, L, R, &q, e);
        if (!rc) rc = rz_qlayer_dequant_parts(&q.v, NULL, ad->L, ad->R, e);
        rz_qlayer_free(&q);
        if (rc) return rc;
    }
    return 0;
}

int main(int argc, char **argv)
{
    rz_cluster_init(&argc, &argv);
    rz_cli c;
    args a = {0};
    parse(&c, &a, argc, argv);
    rz_cli_threads(&c);
    rz_err e = {0};
    int rank0 = rz_cluster_rank() == 0;

    /* a packed model with L, R: Q alone as the model, the pairs as the adapters */
    rz_llama *m;
    rz_lowrank_adapters *pairs = NULL;
    int *ranks = NULL, n_pairs = 0;
    if ((a.init == INIT_AUTO || a.init == INIT_MODEL) && rz_model_is_rzm(a.model)) {
        if (rz_model_load_lowrank(a.model, &c.stream, &m, &pairs, &e)) rz_cli_die(&c, &e);
        ranks = pairs_ranks(&c, a.model, m, pairs, &n_pairs);
    } else if (rz_model_load(a.model, &c.stream, &m, &e)) {
        rz_cli_die(&c, &e);
    }
    if (n_pairs > 0) {
        a.init = INIT_MODEL;
        if (a.rank_given) rz_cli_usage_error(&c, "--rank does not apply: %s carries its own L, R (--init model); "
                                             "--init lora trains fresh adapters on the merged model", a.model);
    } else if (a.init == INIT_MODEL || a.packed) {
        rz_fail(&e, RZ_EINPUT, "%s: no qlayer record carries L, R (--init model, --packed-out need a packed "
                "Q + L R model from rz-lowrank + rz-pack)", a.model);
        rz_cli_die(&c, &e);
    } else if (a.init == INIT_AUTO) {
        a.init = INIT_LORA; /* nothing to merge: m is the model as rz_model_load gives it */
    }
    if (!a.ctx) a.ctx = m->config.seq_len < 256 ? m->config.seq_len : 256;
    if (a.ctx > m->config.seq_len) {
        rz_fail(&e, RZ_EINPUT, "--ctx %d is longer than the model's context of %d positions", a.ctx,
                m->config.seq_len);
        rz_cli_die(&c, &e);
    }
    int *ids;
    size_t n;
    load_tokens(&c, &a, m, &ids, &n);
    if (n < (size_t)a.ctx + 1) {
        rz_fail(&e, RZ_EINPUT, "%s: %zu tokens, fewer than one sequence of --ctx %d + 1", a.text ? a.text : a.tokens,
                n, a.ctx);
        rz_cli_die(&c, &e);
    }

    rz_lora *lo;
    rz_qlayer *qtm = NULL; /* --qat */
    if (a.init == INIT_MODEL) {
        if (rz_lora_new_ranks(m, ranks, &lo, &e)) rz_cli_die(&c, &e);
        for (int i = 0; i < pairs->count; i++) /* the model's own L, R start the training */
            for (int j = 0; j < lo->n_layers * RZ_TR_NMAT; j++) {
                rz_adapter *ad = &lo->ad[j];
                char name[RZ_MAX_NAME];
                snprintf(name, sizeof name, "layers.%d.%s.weight", j / RZ_TR_NMAT, rz_train_matrix_name(j % RZ_TR_NMAT));
                if (pairs->a[i].k > 0 && !strcmp(name, pairs->a[i].name)) {
                    memcpy(ad->L, pairs->a[i].L, sizeof(float) * (size_t)ad->m * ad->k);
                    memcpy(ad->R, pairs->a[i].R, sizeof(float) * (size_t)ad->k * ad->n);
                }
            }
        rz_lowrank_adapters_free(pairs);
        pairs = NULL;
        if (a.qat) qtm = qat_templates(&c, &a, lo);
    } else {
        rz_lowrank_adapters_free(pairs); /* an .rzm without L, R pairs: the empty list */
        pairs = NULL;
        int kr[RZ_TR_NMAT];
        for (int i = 0; i < RZ_TR_NMAT; i++) kr[i] = a.rank;
        if (rz_lora_new(m, kr, &lo, &e)) rz_cli_die(&c, &e);
        if (a.init == INIT_CALDERA) caldera_init(&c, &a, lo, ids, n);
        else rz_lora_init_lora(lo, c.seed);
    }
    uint64_t model_id = rz_lora_model_id(lo);

    rz_adamw opt;
    if (rz_adamw_init(&opt, lo->n_params, &e)) rz_cli_die(&c, &e);
    rz_ckpt_info info = {0};
    info.total = a.steps;
    info.cur.rng = c.seed ^ 0x6a09e667f3bcc909ULL;
    if (a.resume) {
        if (rz_ckpt_load(a.resume, &c.stream, model_id, &info, lo, &opt, &e)) rz_cli_die(&c, &e);
        if (info.batch != a.batch || info.micro != a.micro || info.ctx != a.ctx) {
            rz_fail(&e, RZ_EINPUT, "%s: the checkpoint was made with --batch %" PRId64 " --micro %" PRId64
                    " --ctx %" PRId64 ", this run has %d, %d, %d", a.resume, info.batch, info.micro, info.ctx,
                    a.batch, a.micro, a.ctx);
            rz_cli_die(&c, &e);
        }
        if (info.step > info.total) {
            rz_fail(&e, RZ_EINPUT, "%s: field 'step': step %" PRId64 " is beyond the checkpoint's own "
                    "total_steps %" PRId64 " (corrupt or forged checkpoint)", a.resume, info.step, info.total);
            rz_cli_die(&c, &e);
        }
        if (info.step >= a.until) {
            rz_fail(&e, RZ_EINPUT, "%s: the checkpoint is at step %" PRId64 " and this run stops at step %d: "
                    "nothing is left to train (raise --steps%s)", a.resume, info.step, a.until,
                    a.until < a.steps ? " or --until" : "");
            rz_cli_die(&c, &e);
        }
        rz_cli_progress(&c, 1, "resuming %s at step %" PRId64 " (loss %.4f)", a.resume, info.step, info.loss);
    }
    info.model_id = model_id;
    info.batch = a.batch, info.micro = a.micro, info.ctx = a.ctx, info.total = a.steps;
    memcpy(info.rank, lo->rank, sizeof info.rank);

    rz_train *t;
    if (rz_train_new(lo, a.micro, a.ctx, &t, &e)) rz_cli_die(&c, &e);
    double *acc = rz_malloc(sizeof(double) * (lo->n_params + 1), &e);
    int *tok = rz_malloc(sizeof(int) * (size_t)a.micro * a.ctx, &e), *tgt = rz_malloc(sizeof(int) * (size_t)a.micro * a.ctx, &e);
    double *losses = rz_calloc((size_t)a.steps + 1, sizeof *losses, &e);
    float *latent = qtm ? rz_malloc(sizeof(float) * (lo->n_params + 1), &e) : NULL;
    if (!acc || !tok || !tgt || !losses || (qtm && !latent)) rz_cli_die(&c, &e);
    rz_step_shape sh = {a.batch, a.micro};
    if (a.init == INIT_MODEL)
        rz_cli_progress(&c, 1, "%s: %d matrices carry L, R (largest ranks wq..w3: %d %d %d %d %d %d %d); Q frozen",
                        a.model, n_pairs, lo->rank[0], lo->rank[1], lo->rank[2], lo->rank[3], lo->rank[4],
                        lo->rank[5], lo->rank[6]);
    rz_cli_progress(&c, 1, "%zu tokens, %zu trained parameters (%s), %d steps of %d x %d tokens, %.0f MB of "
                    "activations per rank", n, lo->n_params, a.init == INIT_MODEL ? "the model's L, R" : "--rank",
                    a.steps, a.batch, a.ctx, rz_train_bytes(t) / 1e6);

    long first = info.step, ran = 0;
    double t0 = rz_now(), loss = info.loss, first_loss = NAN;
    for (long s = info.step; s < a.until; s++) {
        if (qtm) { /* the gradient at the rounded pair; the update to the float one */
            memcpy(latent, lo->params, sizeof(float) * lo->n_params);
            if (qat_round(lo, latent, qtm, &e)) rz_cli_die(&c, &e);
        }
        if (rz_train_step_grad(t, lo, &sh, ids, n, &info.cur, acc, tok, tgt, &loss, &e)) rz_cli_die(&c, &e);
        if (qtm) memcpy(lo->params, latent, sizeof(float) * lo->n_params);
        double lr, gnorm = rz_adamw_step(&opt, &a.opt, lo->params, lo->grads, &lr);
        losses[ran++] = loss;
        if (isnan(first_loss)) first_loss = loss;
        info.step = s + 1;
        info.loss = loss;
        rz_cli_progress(&c, s + 1 == a.until, "step %ld/%d  loss %.4f  lr %.3g  |g| %.3g  %.2f s/step", s + 1,
                        a.steps, loss, lr, gnorm, (rz_now() - t0) / (double)ran);
        if (!isfinite(loss)) {
            rz_fail(&e, RZ_EINPUT, "the loss diverged (%g) at step %ld; lower --lr", loss, s + 1);
            rz_cli_die(&c, &e);
        }
        if (rank0 && a.checkpoint && ((a.every && info.step % a.every == 0) || info.step == a.until))
            if (rz_ckpt_save(a.checkpoint, &c.stream, &info, lo, &opt, &e)) rz_cli_die(&c, &e);
    }
    rz_cluster_barrier();
    double secs = rz_now() - t0;
    if (!ran) first_loss = loss; /* cannot happen: a resume with nothing to train exits 2 */

    if (rank0) {
        if (a.adapters && rz_adapters_save(a.adapters, &c.stream, model_id, lo, &e)) rz_cli_die(&c, &e);
        if (a.packed && write_packed(&a, &c.stream, lo, &e)) rz_cli_die(&c, &e);
        if (c.output) {
            if (qtm) { /* the rounded pair, as --packed-out stores it */
                float *fl = rz_malloc(sizeof(float) * (lo->n_params + 1), &e);
                if (!fl) rz_cli_die(&c, &e);
                memcpy(fl, lo->params, sizeof(float) * lo->n_params);
                if (qat_round(lo, fl, qtm, &e)) rz_cli_die(&c, &e);
                free(fl);
            }
            rz_lora_merge(lo, m); /* W = Q + L R in place: Q is no longer needed */
            if (rz_model_save_rzm(m, c.output, RZ_F32, &c.stream, &e)) rz_cli_die(&c, &e);
        }
        double tps = ran ? (double)ran * a.batch * a.ctx / secs : 0;
        if (!c.json && !c.quiet)
            fprintf(stderr, "rz-finetune: %ld steps, loss %.4f -> %.4f, %.0f tokens/s, %.3f s/step\n", ran,
                    first_loss, loss, tps, ran ? secs / ran : 0.0);
        char id[17];
        snprintf(id, sizeof id, "%016" PRIx64, model_id);
        msgpack_packer *pk = rz_report_begin(&c, 13);
        rz_rec_f64(pk, "loss_first", first_loss);
        rz_rec_f64(pk, "loss_final", loss);
        rz_rec_key(pk, "losses");
        msgpack_pack_array(pk, (size_t)ran);
        for (long i = 0; i < ran; i++) msgpack_pack_double(pk, losses[i]);
        rz_rec_int(pk, "steps", a.steps);
        rz_rec_int(pk, "first_step", first);
        rz_rec_int(pk, "batch", a.batch);
        rz_rec_int(pk, "ctx", a.ctx);
        rz_rec_f64(pk, "tokens_per_s", tps);
        rz_rec_f64(pk, "step_seconds", ran ? secs / ran : 0.0);
        rz_rec_int(pk, "trained_params", (int64_t)lo->n_params);
        rz_rec_str(pk, "model_id", id);
        rz_rec_int(pk, "ranks", rz_cluster_size());
        rz_rec_str(pk, "init", a.init == INIT_MODEL ? "model" : a.init == INIT_CALDERA ? "caldera" : "lora");
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    free(losses), free(tok), free(tgt), free(acc), free(ids), free(ranks), free(latent);
    if (qtm) {
        for (int j = 0; j < lo->n_layers * RZ_TR_NMAT; j++) rz_qlayer_free(&qtm[j]);
        free(qtm);
    }
    rz_adamw_free(&opt);
    rz_train_free(t);
    rz_lora_free(lo);
    rz_llama_free(m);
    rz_cluster_finalize();
    return 0;
}
