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
 * contiguous --ctx windows of the text, or with --distill TEACHER the KL divergence from
 * the float TEACHER's next-token distribution on the same windows (CALDERA's and QuIP#'s
 * fine-tuning: recovery of the float model, not adaptation to the text; distill.h).
 * --holdout W keeps the last W windows of the text out of training and evaluates the
 * loss (KL or NLL) on them before the first step and every --eval-every steps; the L, R
 * of the best evaluation are what is written. --rht-scales with|only also trains a scale
 * per output row and per input column of every linear, y = a ⊙ ((x ⊙ b)(Q + L R)ᵀ) —
 * the RHT sign vectors SU, SV of CALDERA's finetune_RHT tuned as floats, which sit
 * outermost around the Hadamard transforms — with L, R or (only) instead of them; -o
 * merges diag(a)(Q + L R)diag(b), --packed-out stores a, b at fp16 (qlayer v3). AdamW with warmup + cosine/linear decay and
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
#include "model_io.h"
#include "modelfile.h"
#include "qlayer.h"
#include "lora.h"
#include "checkpoint.h"
#include "lora_caldera.h"
#include "lora_packed.h"
#include "distill.h"

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
                "    --packed-out ft_cal_r8_lr4.rzm && rz-ppl -m ft_cal_r8_lr4.rzm -z tok512.bin -f eval.txt\n"
                "rz-finetune -m cal_r8_lr4.rzm -z tok512.bin -f calib.txt --distill stories260K.bin --holdout 16 \\\n"
                "    --packed-out ft_cal_r8_lr4.rzm\n"
                "rz-finetune -m cal_r8_lr4.rzm -z tok512.bin -f calib.txt --distill stories260K.bin --holdout 16 \\\n"
                "    --rht-scales with --packed-out fts_cal_r8_lr4.rzm\n",
    .report = "loss_first, loss_final, losses, steps, first_step, batch, ctx, tokens_per_s, step_seconds, "
              "trained_params, model_id, ranks, init, loss_kind, best_step, holdout_first, holdout_best, rht_scales",
    .output_help = "the tuned model, merged, f32 .rzm (float L, R: not rounded)",
    .seed_help = "adapter initialisation and data order (default 0)",
};

enum { INIT_AUTO, INIT_LORA, INIT_CALDERA, INIT_MODEL };
enum { SCALES_OFF, SCALES_WITH, SCALES_ONLY }; /* --rht-scales */
static const char *const scales_name[] = {"off", "with", "only"};

typedef struct {
    const char *model, *tokenizer, *text, *tokens, *adapters, *checkpoint, *resume, *packed, *teacher;
    long max_tokens;
    int steps, until, batch, micro, ctx, rank, rank_given, q_given, init, qat, q_method, q_bits, hess_data, citers, every;
    int holdout, eval_every, scales;
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

static void opt_scales(rz_cli *c, const char *arg, void *scales)
{
    int *v = scales;
    for (*v = 0; *v < 3; ++*v)
        if (!strcmp(arg, scales_name[*v])) return;
    rz_cli_usage_error(c, "--rht-scales: expected off, with or only, not '%s'", arg);
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
    a->steps = 100, a->batch = 8, a->rank = 8, a->q_method = RZ_CQ_LDLQ, a->citers = 5, a->eval_every = 10;
    rz_adamw_defaults(&a->opt);
    rz_opt opts[] = {
        RZ_O_STR("model", 'm', "F", a->model, "model file"),
        RZ_O_STR("tokenizer", 'z', "F", a->tokenizer, "tokenizer for -f (llama2.c, a GGUF or a tokenizer.json;\n"
                 "default: a GGUF or HF model's own)"),
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
        RZ_O_STR("distill", 0, "TEACHER", a->teacher,
                 "train to TEACHER's next-token distribution (KL, soft targets;\n"
                 "TEACHER = the float model) instead of the text's next tokens"),
        RZ_O_INT("holdout", 0, "W", a->holdout, 1, 1 << 20,
                 "keep the last W windows of --ctx tokens out of training; the\n"
                 "L, R of the step with the lowest loss on them are written"),
        RZ_O_INT("eval-every", 0, "N", a->eval_every, 1, 1 << 30, "--holdout: evaluation interval in steps (default 10)"),
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
        RZ_O_FN("rht-scales", 0, "S", opt_scales, &a->scales,
                "train a scale per output row and per input column of every\n"
                "linear, y = a * ((x * b) (Q + L R)^T) (CALDERA's tuned RHT sign\n"
                "vectors): off (default), with (a, b and L, R) or only (a, b;\n"
                "L, R frozen). --packed-out stores a, b at fp16 (qlayer v3)"),
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
    rz_cli_text_input(c, &a->text, &a->tokens, a->tokenizer || rz_modelfile_has_tokenizer(a->model));
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
    if (a->scales && (a->checkpoint || a->resume || a->adapters || a->qat))
        rz_cli_usage_error(c, "--rht-scales: not with --checkpoint, --resume, --adapters or --qat (they hold L, R only)");
    if (a->holdout && (a->resume || a->until))
        rz_cli_usage_error(c, "--holdout keeps the best step of one run: not with --resume or --until");
    if (a->rank == 0) rz_cli_usage_error(c, "--rank 0 leaves nothing to train");
    if (!a->micro) a->micro = a->batch % rz_cluster_size() == 0 ? a->batch / rz_cluster_size() : a->batch;
    if (a->batch % a->micro) rz_cli_usage_error(c, "--batch %d is not a multiple of --micro %d", a->batch, a->micro);
    if (!a->q_bits) a->q_bits = a->q_method == RZ_CQ_E8P ? 2 : 4;
    rz_cli_need_file_under_mpi(c, "model", a->model);
    a->opt.total = a->steps;
    if (!a->until || a->until > a->steps) a->until = a->steps;
}

/* rz_lora_caldera_init's progress line (after every matrix) */
/* The adapters for per-matrix ranks: plain, or with the line scales of --rht-scales
 * (L, R trained with them, or frozen for "only"). Dies on error. */
static rz_lora *new_adapters(rz_cli *c, const args *a, rz_llama *m, const int *ranks)
{
    rz_lora *lo;
    rz_err e = {0};
    if (a->scales ? rz_lora_new_scaled(m, ranks, a->scales == SCALES_WITH, &lo, &e) : rz_lora_new_ranks(m, ranks, &lo, &e))
        rz_cli_die(c, &e);
    return lo;
}

static void caldera_progress(void *ctx, int done, int total, long lin, double rel)
{
    rz_cli_progress(ctx, 0, "CALDERA init: %d/%d matrices, layers.%ld.%s relative error %.4f", done, total,
                    lin / RZ_LIN_PER_LAYER, rz_lin_name((int)(lin % RZ_LIN_PER_LAYER)), rel);
}

/* --distill and --holdout: the teacher, the held-out windows and the best L, R so far. */
typedef struct {
    rz_llama *mt;        /* --distill: the float teacher */
    rz_teacher *tc;
    float *tlogp;        /* [micro·ctx·vocab] the teacher's log-probabilities of a micro-batch */
    size_t n_train;      /* tokens trained on: all but the held-out tail */
    const int *held;     /* --holdout: the last W·ctx + 1 tokens */
    int W;
    rz_kl_probe *probe;  /* --distill: KL on the held-out windows; NULL: NLL */
    float *best;         /* L, R of the best evaluation */
    double best_v, first;
    long best_step;
} tuning;

static void tuning_setup(rz_cli *c, const args *a, const rz_llama *m, const int *ids, size_t n, tuning *u)
{
    rz_err e = {0};
    u->n_train = n;
    if (a->teacher) {
        if (rz_model_load(a->teacher, &c->stream, &u->mt, &e)) rz_cli_die(c, &e);
        if (u->mt->config.vocab_size != m->config.vocab_size || u->mt->config.seq_len < a->ctx) {
            rz_fail(&e, RZ_EINPUT, "%s: the teacher's vocabulary (%d) must be the model's (%d) and its context (%d) "
                    "at least --ctx %d", a->teacher, u->mt->config.vocab_size, m->config.vocab_size,
                    u->mt->config.seq_len, a->ctx);
            rz_cli_die(c, &e);
        }
        if (rz_teacher_new(u->mt, a->micro, a->ctx, &u->tc, &e)) rz_cli_die(c, &e);
        if (!(u->tlogp = rz_malloc(sizeof(float) * (size_t)a->micro * a->ctx * m->config.vocab_size, &e)))
            rz_cli_die(c, &e);
    }
    if (!a->holdout) return;
    size_t need = (size_t)a->holdout * a->ctx + 1;
    if (n < need + (size_t)a->ctx + 1) {
        rz_fail(&e, RZ_EINPUT, "%zu tokens: --holdout %d windows of %d leave less than one training sequence", n,
                a->holdout, a->ctx);
        rz_cli_die(c, &e);
    }
    u->n_train = n - need;
    u->held = ids + u->n_train;
    u->W = a->holdout;
    if (u->mt && rz_kl_probe_new(u->mt, u->held, need, a->holdout, a->ctx, a->micro, &u->probe, &e)) rz_cli_die(c, &e);
}

/* --holdout: the held-out loss of the current L, R (rounded first with --qat, as they
 * are stored), kept when it is the best so far (or at step 0). */
static void tuning_eval(rz_cli *c, const args *a, tuning *u, rz_train *t, rz_lora *lo, const rz_qlayer *qtm,
                        float *latent, long step)
{
    rz_err e = {0};
    if (!u->best && !(u->best = rz_malloc(sizeof(float) * (lo->n_params + 1), &e))) rz_cli_die(c, &e);
    if (qtm) {
        memcpy(latent, lo->params, sizeof(float) * lo->n_params);
        if (rz_lora_qat_round(lo, latent, qtm, &e)) rz_cli_die(c, &e);
    }
    double v = 0;
    int rc = u->probe ? rz_kl_probe_student(u->probe, t, a->micro, &v, &e)
                      : rz_train_eval_nll(t, u->held, (size_t)u->W * a->ctx + 1, u->W, a->ctx, a->micro, &v, &e);
    if (qtm) memcpy(lo->params, latent, sizeof(float) * lo->n_params);
    if (rc) rz_cli_die(c, &e);
    if (step == 0) u->first = v;
    if (step == 0 || v < u->best_v) {
        u->best_v = v, u->best_step = step;
        memcpy(u->best, lo->params, sizeof(float) * lo->n_params);
    }
    rz_cli_progress(c, 1, "held-out %s at step %ld: %.5f (best %.5f at step %ld)", u->probe ? "KL" : "NLL", step, v,
                    u->best_v, u->best_step);
}

static void tuning_free(tuning *u)
{
    rz_kl_probe_free(u->probe);
    rz_teacher_free(u->tc);
    rz_llama_free(u->mt);
    free(u->tlogp), free(u->best);
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
        if (!(ranks = rz_lora_pair_ranks(a.model, m, pairs, &n_pairs, &e))) rz_cli_die(&c, &e);
    } else if (rz_model_load(a.model, &c.stream, &m, &e)) {
        rz_cli_die(&c, &e);
    }
    for (int i = 0; pairs && n_pairs == 0 && i < pairs->count; i++)
        if (pairs->a[i].sa) { /* line scales without any L, R: the loaded Q lacks them */
            rz_fail(&e, RZ_EINPUT, "%s: qlayer '%s': field 'out_scale': line scales in a model without L, R are "
                    "not supported by rz-finetune", a.model, pairs->a[i].name);
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
    if (rz_corpus_load_bcast(a.tokens, &c.stream, a.text, a.tokenizer, m->config.vocab_size, a.model,
                             (size_t)a.max_tokens, 0, NULL, &ids, &n, &e))
        rz_cli_die(&c, &e);
    if (n < (size_t)a.ctx + 1) {
        rz_fail(&e, RZ_EINPUT, "%s: %zu tokens, fewer than one sequence of --ctx %d + 1", a.text ? a.text : a.tokens,
                n, a.ctx);
        rz_cli_die(&c, &e);
    }

    tuning u = {0};
    tuning_setup(&c, &a, m, ids, n, &u);
    rz_lora *lo;
    rz_qlayer *qtm = NULL; /* --qat */
    if (a.init == INIT_MODEL) {
        lo = new_adapters(&c, &a, m, ranks);
        for (int i = 0; i < pairs->count; i++) { /* the model's own L, R (and a, b) start the training */
            const rz_lowrank_adapter *p = &pairs->a[i];
            long j = rz_lin_find(lo->n_layers, p->name);
            if (j < 0) continue;
            rz_adapter *ad = &lo->ad[j];
            if (p->k > 0) {
                memcpy(ad->L, p->L, sizeof(float) * (size_t)ad->m * ad->k);
                memcpy(ad->R, p->R, sizeof(float) * (size_t)ad->k * ad->n);
            }
            if (p->sa && !ad->sa) {
                rz_fail(&e, RZ_EINPUT, "%s: qlayer '%s' carries tuned line scales (out_scale, in_scale): give "
                        "--rht-scales with|only to train from them (--init model)", a.model, p->name);
                rz_cli_die(&c, &e);
            }
            if (p->sa) {
                memcpy(ad->sa, p->sa, sizeof(float) * (size_t)ad->m);
                memcpy(ad->sb, p->sb, sizeof(float) * (size_t)ad->n);
            }
        }
        rz_lowrank_adapters_free(pairs);
        pairs = NULL;
        if (a.qat && !(qtm = rz_lora_qat_templates(a.model, &c.stream, lo, &e))) rz_cli_die(&c, &e);
    } else {
        rz_lowrank_adapters_free(pairs); /* an .rzm without L, R pairs: the empty list */
        pairs = NULL;
        int nm = m->config.n_layers * RZ_LIN_PER_LAYER;
        int *kr = rz_malloc(sizeof(int) * (size_t)nm, &e);
        if (!kr) rz_cli_die(&c, &e);
        for (int i = 0; i < nm; i++) kr[i] = a.rank;
        lo = new_adapters(&c, &a, m, kr);
        free(kr);
        if (a.init == INIT_CALDERA) {
            rz_lora_caldera_opts co = {a.q_method, a.q_bits, a.citers, c.seed, a.hess_data ? a.batch : 0, a.ctx};
            if (rz_lora_caldera_init(lo, &co, ids, n, caldera_progress, &c, &e)) rz_cli_die(&c, &e);
        }
        else rz_lora_init_lora(lo, c.seed);
    }
    uint64_t model_id = rz_llama_identity(lo->base, RZ_ID_CHECKPOINT);

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
    if (a.holdout) tuning_eval(&c, &a, &u, t, lo, qtm, latent, info.step);
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
            if (rz_lora_qat_round(lo, latent, qtm, &e)) rz_cli_die(&c, &e);
        }
        if (u.tc ? rz_distill_step_grad(t, lo, u.tc, &sh, ids, u.n_train, &info.cur, acc, tok, u.tlogp, &loss, &e)
                 : rz_train_step_grad(t, lo, &sh, ids, u.n_train, &info.cur, acc, tok, tgt, &loss, &e))
            rz_cli_die(&c, &e);
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
        if (a.holdout && (info.step % a.eval_every == 0 || info.step == a.until))
            tuning_eval(&c, &a, &u, t, lo, qtm, latent, info.step);
    }
    if (a.holdout) memcpy(lo->params, u.best, sizeof(float) * lo->n_params); /* the best evaluation's L, R */
    rz_cluster_barrier();
    double secs = rz_now() - t0;
    if (!ran) first_loss = loss; /* cannot happen: a resume with nothing to train exits 2 */

    if (rank0) {
        if (a.adapters && rz_adapters_save(a.adapters, &c.stream, model_id, lo, &e)) rz_cli_die(&c, &e);
        if (a.packed && rz_lora_write_packed(a.model, a.packed, &c.stream, lo, &e)) rz_cli_die(&c, &e);
        if (c.output) {
            if (qtm) { /* the rounded pair, as --packed-out stores it */
                float *fl = rz_malloc(sizeof(float) * (lo->n_params + 1), &e);
                if (!fl) rz_cli_die(&c, &e);
                memcpy(fl, lo->params, sizeof(float) * lo->n_params);
                if (rz_lora_qat_round(lo, fl, qtm, &e)) rz_cli_die(&c, &e);
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
        msgpack_packer *pk = rz_report_begin(&c, 18);
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
        rz_rec_str(pk, "loss_kind", u.tc ? "kl" : "nll");
        rz_rec_int(pk, "best_step", a.holdout ? u.best_step : (int64_t)info.step);
        rz_rec_f64(pk, "holdout_first", a.holdout ? u.first : NAN);
        rz_rec_f64(pk, "holdout_best", a.holdout ? u.best_v : NAN);
        rz_rec_str(pk, "rht_scales", scales_name[a.scales]);
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    free(losses), free(tok), free(tgt), free(acc), free(ids), free(ranks), free(latent);
    if (qtm) {
        for (int j = 0; j < lo->n_layers * RZ_LIN_PER_LAYER; j++) rz_qlayer_free(&qtm[j]);
        free(qtm);
    }
    rz_adamw_free(&opt);
    tuning_free(&u);
    rz_train_free(t);
    rz_lora_free(lo);
    rz_llama_free(m);
    rz_cluster_finalize();
    return 0;
}
