/* rz-maze — maze navigation with multi-step prediction (MLM-U) vs next-token training.
 *
 *   rz-maze gen   DFS mazes → "maze" record stream (and a picture)
 *   rz-maze train a transformer on a maze stream: --objective next | mlmu
 *   rz-maze eval  exact-path and valid-path accuracy of a trained model on held-out mazes
 *
 * parse → load → core calls (tools/core/maze) → report. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cluster.h"
#include "maze.h"
#include "maze_png.h"
#include "maze_rec.h"
#include "maze_train.h"

static const char usage_text[] =
    "usage: rz-maze gen   -n SIZE [--count N] [--first I] [--seed S] [--no-forks] [--extra K]\n"
    "                     [--exclude MAZES] [--png FILE] -o MAZES\n"
    "       rz-maze train --objective next|mlmu [model and optimizer options] [-o CKPT] MAZES\n"
    "       rz-maze eval  -m CKPT [--count N] [--batch B] [--png FILE] HELDOUT\n"
    "\n"
    "gen: mazes index I .. I+N-1 of seed S on an SIZE x SIZE lattice (randomised DFS; --no-forks: one\n"
    "  corridor; --extra K: K more openings, loops), deduplicated (and not in --exclude), shortest\n"
    "  path by BFS, as 'maze' records (schemas/maze.md). Disjoint index ranges give the train/held-out\n"
    "  split. --png draws the first maze with its path.\n"
    "train: full-parameter training of one transformer (Llama block: RMSNorm, RoPE, SwiGLU) with\n"
    "  next-token prediction (causal attention, loss on the path) or MLM-U (bidirectional attention,\n"
    "  path tokens masked at a rate r ~ U(0,1) per sequence). AdamW, warm-up + cosine, clipping.\n"
    "  --dim D (64) --layers L (4) --heads H (4) --hidden F (4D) --ctx T (longest maze)\n"
    "  --steps N (1000) --batch B (32) --micro M (B) --lr (1e-3) --min-lr (1e-4) --warmup (50)\n"
    "  --weight-decay (0.01) --clip (1.0) --checkpoint FILE [--every K] [--resume FILE] [--until S]\n"
    "  --eval HELDOUT [--eval-every K] [--eval-count N]: accuracy during training (in the report)\n"
    "  -o CKPT: the final checkpoint (model + optimizer state; rz-maze eval reads it)\n"
    "eval: decodes every held-out path (MLM-U: left to right, one masked token per forward;\n"
    "  next-token: greedy) and reports exact and valid path rates; mpirun splits the set.\n"
    "  --png FILE draws the first held-out maze with its true (green) and predicted (red) path.\n"
    "\n"
    "example:\n"
    "  rz-maze gen -n 5 --count 20000 -o train.rz && rz-maze gen -n 5 --first 1000000 --count 500 \\\n"
    "    --exclude train.rz -o test.rz\n"
    "  rz-maze train --objective mlmu --steps 600 --eval test.rz -o m.ckpt train.rz\n"
    "  rz-maze eval -m m.ckpt --json test.rz\n";

enum {
    O_COUNT = RZ_OPT_TOOL_BASE, O_FIRST, O_NOFORKS, O_EXTRA, O_EXCLUDE, O_PNG, O_OBJ, O_DIM, O_LAYERS, O_HEADS,
    O_HIDDEN, O_CTX, O_STEPS, O_BATCH, O_MICRO, O_LR, O_MINLR, O_WARMUP, O_WD, O_CLIP, O_CKPT, O_EVERY, O_RESUME,
    O_UNTIL, O_EVAL, O_EVAL_EVERY, O_EVAL_COUNT
};

static const struct option longopts[] = {
    RZ_CLI_LONGOPTS,
    {"count", required_argument, 0, O_COUNT}, {"first", required_argument, 0, O_FIRST},
    {"no-forks", no_argument, 0, O_NOFORKS}, {"extra", required_argument, 0, O_EXTRA},
    {"exclude", required_argument, 0, O_EXCLUDE}, {"png", required_argument, 0, O_PNG},
    {"objective", required_argument, 0, O_OBJ}, {"dim", required_argument, 0, O_DIM},
    {"layers", required_argument, 0, O_LAYERS}, {"heads", required_argument, 0, O_HEADS},
    {"hidden", required_argument, 0, O_HIDDEN}, {"ctx", required_argument, 0, O_CTX},
    {"steps", required_argument, 0, O_STEPS}, {"batch", required_argument, 0, O_BATCH},
    {"micro", required_argument, 0, O_MICRO}, {"lr", required_argument, 0, O_LR},
    {"min-lr", required_argument, 0, O_MINLR}, {"warmup", required_argument, 0, O_WARMUP},
    {"weight-decay", required_argument, 0, O_WD}, {"clip", required_argument, 0, O_CLIP},
    {"checkpoint", required_argument, 0, O_CKPT}, {"every", required_argument, 0, O_EVERY},
    {"resume", required_argument, 0, O_RESUME}, {"until", required_argument, 0, O_UNTIL},
    {"eval", required_argument, 0, O_EVAL}, {"eval-every", required_argument, 0, O_EVAL_EVERY},
    {"eval-count", required_argument, 0, O_EVAL_COUNT}, {"model", required_argument, 0, 'm'},
    {"size", required_argument, 0, 'n'}, {0, 0, 0, 0}};

typedef struct {
    int cmd; /* 0 gen, 1 train, 2 eval */
    int n, forks, extra, objective, dim, layers, heads, hidden, ctx, steps, batch, micro, warmup, every, until;
    int eval_every;
    long count, first, eval_count;
    double lr, min_lr, wd, clip;
    const char *exclude, *png, *ckpt, *resume, *eval, *model, *input;
} args;

static void parse(rz_cli *c, args *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->forks = 1, a->objective = -1, a->dim = 64, a->layers = 4, a->heads = 4, a->steps = 1000, a->batch = 32;
    a->lr = 1e-3, a->min_lr = 1e-4, a->warmup = 50, a->wd = 0.01, a->clip = 1.0, a->count = -1;
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "gen")) a->cmd = 0;
    else if (!strcmp(cmd, "train")) a->cmd = 1;
    else if (!strcmp(cmd, "eval")) a->cmd = 2;
    else {
        int opt;
        while ((opt = getopt_long(argc, argv, RZ_CLI_SHORTOPTS, longopts, NULL)) != -1) rz_cli_common(c, opt, optarg);
        rz_cli_usage_error(c, "expected a command: gen, train or eval");
    }
    argc--, argv++;
    int opt;
    while ((opt = getopt_long(argc, argv, RZ_CLI_SHORTOPTS "n:m:", longopts, NULL)) != -1) {
        if (rz_cli_common(c, opt, optarg)) continue;
        switch (opt) {
        case 'n': a->n = (int)rz_cli_int(c, "-n", optarg, 2, RZ_MAZE_MAX); break;
        case 'm': a->model = optarg; break;
        case O_COUNT: a->count = (long)rz_cli_int(c, "--count", optarg, 1, 100000000); break;
        case O_FIRST: a->first = (long)rz_cli_int(c, "--first", optarg, 0, 1LL << 40); break;
        case O_NOFORKS: a->forks = 0; break;
        case O_EXTRA: a->extra = (int)rz_cli_int(c, "--extra", optarg, 0, 1 << 20); break;
        case O_EXCLUDE: a->exclude = optarg; break;
        case O_PNG: a->png = optarg; break;
        case O_OBJ:
            if ((a->objective = rz_maze_objective_parse(optarg)) < 0)
                rz_cli_usage_error(c, "--objective: '%s', expected next or mlmu", optarg);
            break;
        case O_DIM: a->dim = (int)rz_cli_int(c, "--dim", optarg, 2, 4096); break;
        case O_LAYERS: a->layers = (int)rz_cli_int(c, "--layers", optarg, 1, 64); break;
        case O_HEADS: a->heads = (int)rz_cli_int(c, "--heads", optarg, 1, 256); break;
        case O_HIDDEN: a->hidden = (int)rz_cli_int(c, "--hidden", optarg, 1, 65536); break;
        case O_CTX: a->ctx = (int)rz_cli_int(c, "--ctx", optarg, 11, 65536); break;
        case O_STEPS: a->steps = (int)rz_cli_int(c, "--steps", optarg, 1, 100000000); break;
        case O_BATCH: a->batch = (int)rz_cli_int(c, "--batch", optarg, 1, 1 << 20); break;
        case O_MICRO: a->micro = (int)rz_cli_int(c, "--micro", optarg, 1, 1 << 20); break;
        case O_LR: a->lr = rz_cli_f64(c, "--lr", optarg, 0, 10); break;
        case O_MINLR: a->min_lr = rz_cli_f64(c, "--min-lr", optarg, 0, 10); break;
        case O_WARMUP: a->warmup = (int)rz_cli_int(c, "--warmup", optarg, 0, 100000000); break;
        case O_WD: a->wd = rz_cli_f64(c, "--weight-decay", optarg, 0, 10); break;
        case O_CLIP: a->clip = rz_cli_f64(c, "--clip", optarg, 0, 1e9); break;
        case O_CKPT: a->ckpt = optarg; break;
        case O_EVERY: a->every = (int)rz_cli_int(c, "--every", optarg, 1, 100000000); break;
        case O_RESUME: a->resume = optarg; break;
        case O_UNTIL: a->until = (int)rz_cli_int(c, "--until", optarg, 1, 100000000); break;
        case O_EVAL: a->eval = optarg; break;
        case O_EVAL_EVERY: a->eval_every = (int)rz_cli_int(c, "--eval-every", optarg, 1, 100000000); break;
        case O_EVAL_COUNT: a->eval_count = (long)rz_cli_int(c, "--eval-count", optarg, 1, 100000000); break;
        default: rz_cli_usage_error(c, "unknown option");
        }
    }
    if (optind < argc) a->input = argv[optind++];
    if (optind < argc) rz_cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if (a->cmd == 0 && !a->n) rz_cli_usage_error(c, "gen: -n SIZE is required");
    if (a->cmd == 0 && !c->output) rz_cli_usage_error(c, "gen: -o MAZES is required");
    if (a->cmd == 1 && a->objective < 0) rz_cli_usage_error(c, "train: --objective next|mlmu is required");
    if (a->cmd >= 1 && !a->input) rz_cli_usage_error(c, "%s: a maze stream is required", argv[0]);
    if (a->cmd == 2 && !a->model) rz_cli_usage_error(c, "eval: -m CKPT is required");
    if (!a->micro) a->micro = a->batch;
    if (a->batch % a->micro) rz_cli_usage_error(c, "--micro %d does not divide --batch %d", a->micro, a->batch);
    if (!a->hidden) a->hidden = 4 * a->dim;
    if (a->dim % a->heads || (a->dim / a->heads) % 2)
        rz_cli_usage_error(c, "--heads %d must divide --dim %d into even head sizes", a->heads, a->dim);
}

/* ---- gen ------------------------------------------------------------------------- */

typedef struct {
    uint64_t *slot;
    size_t cap, used;
} hset;

/* 1 if h was new (inserted), 0 if present, -1 out of memory. Hash 0 is stored as 1. */
static int hset_add(hset *s, uint64_t h)
{
    if (!h) h = 1;
    if (2 * (s->used + 1) > s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 1024;
        uint64_t *ns = calloc(nc, sizeof *ns);
        if (!ns) return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i])
                for (size_t j = s->slot[i] & (nc - 1);; j = (j + 1) & (nc - 1))
                    if (!ns[j]) { ns[j] = s->slot[i]; break; }
        free(s->slot);
        s->slot = ns, s->cap = nc;
    }
    for (size_t j = h & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->slot[j] == h) return 0;
        if (!s->slot[j]) { s->slot[j] = h, s->used++; return 1; }
    }
}

/* The hashes of every maze of an existing stream (another split). */
static int exclude_load(rz_cli *c, const char *loc, int n, hset *hs, rz_err *e)
{
    rz_maze_set s;
    if (rz_maze_set_load(loc, &c->stream, n, 0, 0, &s, e)) return e->code;
    rz_maze m;
    if (rz_maze_alloc(n, &m, e)) return rz_maze_set_free(&s), e->code;
    int rc = 0;
    for (long q = 0; q < s.count && !rc; q++) {
        if ((rc = rz_maze_parse(&m, s.tokens + (size_t)q * s.T, s.len[q], e))) rz_wrap(e, "%s maze %ld", loc, q);
        else if (hset_add(hs, rz_maze_hash(&m)) < 0) rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
    }
    rz_maze_free(&m);
    rz_maze_set_free(&s);
    return rc;
}

static void cmd_gen(rz_cli *c, const args *a)
{
    rz_err e = {0};
    long count = a->count > 0 ? a->count : 1000;
    hset hs = {0};
    if (a->exclude && exclude_load(c, a->exclude, a->n, &hs, &e)) rz_cli_die(c, &e);
    long excluded = (long)hs.used;
    rz_maze m;
    if (rz_maze_alloc(a->n, &m, &e)) rz_cli_die(c, &e);
    int cap = rz_maze_max_tokens(a->n, a->extra), *tok = malloc(sizeof(int) * (size_t)cap);
    uint8_t *mask = malloc((size_t)cap);
    rz_writer *w;
    if (!tok || !mask) rz_fail(&e, RZ_EINTERNAL, "out of memory"), rz_cli_die(c, &e);
    if (rz_writer_open(c->output, &c->stream, &w, &e)) rz_cli_die(c, &e);
    long made = 0, dup = 0;
    double plen = 0;
    uint64_t idx = (uint64_t)a->first;
    for (; made < count; idx++) {
        if (dup > 10 * count + 1000) {
            rz_fail(&e, RZ_EINPUT, "only %ld unique %dx%d mazes found in %" PRIu64 " draws", made, a->n, a->n,
                    idx - (uint64_t)a->first);
            rz_writer_abort(w, &e), rz_cli_die(c, &e);
        }
        rz_maze_dfs(&m, c->seed, idx, a->forks, a->extra);
        int fresh = hset_add(&hs, rz_maze_hash(&m));
        if (fresh < 0) rz_fail(&e, RZ_EINTERNAL, "out of memory"), rz_writer_abort(w, &e), rz_cli_die(c, &e);
        if (!fresh) { dup++; continue; }
        int nt = rz_maze_tokens(&m, tok, cap), ps = rz_maze_path_start(tok, nt);
        for (int i = 0; i < nt; i++) mask[i] = i > ps; /* path cells and <PATH_END> */
        rz_maze_rec_pack(rz_writer_packer(w), a->n, (int64_t)idx, tok, mask, nt, ps);
        if (rz_writer_emit(w, &e)) rz_writer_abort(w, &e), rz_cli_die(c, &e);
        if (made == 0 && a->png && rz_maze_png(a->png, &m, NULL, 0, &e)) rz_writer_abort(w, &e), rz_cli_die(c, &e);
        plen += m.path_len;
        made++;
        rz_cli_progress(c, made == count, "%ld/%ld mazes", made, count);
    }
    if (rz_writer_close(w, &e)) rz_cli_die(c, &e);
    msgpack_packer *pk = rz_report_begin(c, 8);
    rz_rec_int(pk, "n", a->n);
    rz_rec_int(pk, "count", made);
    rz_rec_int(pk, "first", a->first);
    rz_rec_int(pk, "next_index", (int64_t)idx);
    rz_rec_int(pk, "duplicates_skipped", dup);
    rz_rec_int(pk, "excluded", excluded);
    rz_rec_f64(pk, "mean_path_cells", plen / (double)(made ? made : 1));
    rz_rec_int(pk, "vocab_size", rz_maze_vocab(a->n));
    if (rz_report_finish(c, &e)) rz_cli_die(c, &e);
    free(tok), free(mask), free(hs.slot);
    rz_maze_free(&m);
}

/* ---- train ----------------------------------------------------------------------- */

typedef struct {
    long step;
    uint64_t samples;
    double seconds, exact, valid;
} eval_point;

static void cmd_train(rz_cli *c, const args *a)
{
    rz_err e = {0};
    int rank0 = rz_cluster_rank() == 0;
    rz_cli_need_file_under_mpi(c, "the maze stream", a->input);
    rz_maze_set set, held = {0};
    int ctx = a->ctx;
    if (rz_maze_set_load(a->input, &c->stream, 0, ctx, a->count > 0 ? a->count : 0, &set, &e)) rz_cli_die(c, &e);
    if (!ctx) { /* room for any perfect maze's longest path: held-out mazes must fit */
        int lim = rz_maze_max_tokens(set.n, 0);
        if (lim > set.T) {
            rz_maze_set_free(&set);
            if (rz_maze_set_load(a->input, &c->stream, 0, lim, a->count > 0 ? a->count : 0, &set, &e))
                rz_cli_die(c, &e);
        }
    }
    if (a->eval) {
        rz_cli_need_file_under_mpi(c, "--eval", a->eval);
        if (rz_maze_set_load(a->eval, &c->stream, set.n, set.T, a->eval_count, &held, &e)) rz_cli_die(c, &e);
    }
    rz_maze_ckpt info;
    memset(&info, 0, sizeof info);
    info.objective = a->objective;
    rz_llama_config *cf = &info.config;
    cf->dim = a->dim, cf->hidden_dim = a->hidden, cf->n_layers = a->layers, cf->n_heads = a->heads;
    cf->n_kv_heads = a->heads, cf->rope_theta = 10000.0f, cf->norm_eps = 1e-5f;
    info.total = a->steps, info.batch = a->batch, info.micro = a->micro, info.seed = c->seed;
    rz_adamw_defaults(&info.opt);
    info.opt.lr = a->lr, info.opt.min_lr = a->min_lr, info.opt.weight_decay = a->wd, info.opt.clip = a->clip;
    info.opt.warmup = a->warmup, info.opt.total = a->steps, info.opt.schedule = RZ_SCHED_COSINE;
    rz_maze_trainer tr;
    if (rz_maze_trainer_new(&tr, &info, &set, a->resume, &c->stream, &e)) rz_cli_die(c, &e);
    long until = a->until && a->until < a->steps ? a->until : a->steps, first = (long)tr.info.step;
    rz_cli_progress(c, 1, "%ld %dx%d mazes of %d tokens, %s, %zu parameters, steps %ld..%ld of %d x %d sequences",
                    set.count, set.n, set.n, set.T, rz_maze_objective_name(a->objective), tr.model->n_params, first,
                    until, a->batch, set.T);
    int nev = 0, cap_ev = 2 + (a->eval_every ? (int)(until / a->eval_every) + 1 : 0);
    eval_point *ev = calloc((size_t)cap_ev, sizeof *ev);
    if (!ev) rz_fail(&e, RZ_EINTERNAL, "out of memory"), rz_cli_die(c, &e);
    double t0 = rz_now(), loss = tr.info.loss, first_loss = NAN, train_secs = 0;
    for (long s = first; s < until; s++) {
        double lr, gnorm, ts = rz_now();
        if (rz_maze_trainer_step(&tr, &loss, &gnorm, &lr, &e)) rz_cli_die(c, &e);
        train_secs += rz_now() - ts;
        if (isnan(first_loss)) first_loss = loss;
        if (!isfinite(loss)) rz_fail(&e, RZ_EINPUT, "the loss diverged at step %ld; lower --lr", s + 1), rz_cli_die(c, &e);
        long done = s + 1 - first;
        double per = train_secs / (double)done;
        rz_cli_progress(c, s + 1 == until, "step %ld/%ld  loss %.4f  lr %.3g  |g| %.3g  %.0f tokens/s  ETA %.0f s",
                        s + 1, until, loss, lr, gnorm, (double)a->batch * set.T / per, per * (double)(until - s - 1));
        int last = s + 1 == until;
        if (a->eval && ((a->eval_every && (s + 1) % a->eval_every == 0) || last)) {
            rz_maze_score sc = {0, 0, 0};
            if (rz_maze_evaluate(tr.model, &held, a->objective, 0, a->micro, &sc, &e)) rz_cli_die(c, &e);
            eval_point p = {s + 1, tr.info.samples, train_secs, (double)sc.exact / (double)sc.count,
                            (double)sc.valid / (double)sc.count};
            if (nev < cap_ev) ev[nev++] = p;
            rz_cli_progress(c, 1, "step %ld: held-out exact %.4f valid %.4f (%ld mazes)", s + 1, p.exact, p.valid,
                            sc.count);
        }
        if (a->ckpt && ((a->every && (s + 1) % a->every == 0) || last))
            if (rz_maze_trainer_save(&tr, a->ckpt, &c->stream, 1, &e)) rz_cli_die(c, &e);
    }
    if (!isfinite(first_loss)) first_loss = loss;
    if (c->output && rz_maze_trainer_save(&tr, c->output, &c->stream, 1, &e)) rz_cli_die(c, &e);
    rz_cluster_barrier();
    if (rank0) {
        long ran = until - first;
        msgpack_packer *pk = rz_report_begin(c, 14);
        rz_rec_str(pk, "objective", rz_maze_objective_name(a->objective));
        rz_rec_int(pk, "n", set.n);
        rz_rec_int(pk, "mazes", set.count);
        rz_rec_int(pk, "ctx", set.T);
        rz_rec_int(pk, "params", (int64_t)tr.model->n_params);
        rz_rec_int(pk, "first_step", first);
        rz_rec_int(pk, "steps", until);
        rz_rec_int(pk, "samples", (int64_t)tr.info.samples);
        rz_rec_f64(pk, "loss_first", first_loss);
        rz_rec_f64(pk, "loss_final", loss);
        rz_rec_f64(pk, "train_seconds", train_secs);
        rz_rec_f64(pk, "tokens_per_s", ran ? (double)ran * a->batch * set.T / train_secs : 0.0);
        rz_rec_f64(pk, "wall_seconds", rz_now() - t0);
        rz_rec_key(pk, "evals");
        msgpack_pack_array(pk, (size_t)nev);
        for (int i = 0; i < nev; i++) {
            msgpack_pack_map(pk, 5);
            rz_rec_int(pk, "step", ev[i].step);
            rz_rec_int(pk, "samples", (int64_t)ev[i].samples);
            rz_rec_f64(pk, "train_seconds", ev[i].seconds);
            rz_rec_f64(pk, "exact", ev[i].exact);
            rz_rec_f64(pk, "valid", ev[i].valid);
        }
        if (rz_report_finish(c, &e)) rz_cli_die(c, &e);
    }
    free(ev);
    rz_maze_trainer_free(&tr);
    rz_maze_set_free(&set);
    rz_maze_set_free(&held);
}

/* ---- eval ------------------------------------------------------------------------ */

static void cmd_eval(rz_cli *c, const args *a)
{
    rz_err e = {0};
    rz_cli_need_file_under_mpi(c, "the held-out stream", a->input);
    rz_cli_need_file_under_mpi(c, "-m", a->model);
    rz_maze_ckpt info;
    rz_llama *model;
    if (rz_maze_ckpt_load(a->model, &c->stream, &info, &model, NULL, &e)) rz_cli_die(c, &e);
    rz_maze_set held;
    if (rz_maze_set_load(a->input, &c->stream, info.n, info.config.seq_len, a->count > 0 ? a->count : 0, &held, &e))
        rz_cli_die(c, &e);
    int B = a->batch > 0 ? a->batch : 32;
    rz_maze_score sc = {0, 0, 0};
    double t0 = rz_now();
    if (rz_maze_evaluate(model, &held, info.objective, 0, B, &sc, &e)) rz_cli_die(c, &e);
    double secs = rz_now() - t0;
    if (a->png && rz_cluster_rank() == 0) { /* the first maze, decoded again on rank 0 */
        int ranks[RZ_LIN_PER_LAYER] = {0}, *pred = malloc(sizeof(int) * (size_t)held.T);
        rz_lora *lo = NULL;
        rz_train *t = NULL;
        rz_maze m;
        rz_maze_score one = {0, 0, 0};
        if (!pred || rz_lora_new(model, ranks, &lo, &e) || rz_train_new(lo, 1, held.T, &t, &e) ||
            rz_maze_decode(t, &held, info.objective, 0, 1, 1, pred, &one, &e) || rz_maze_alloc(held.n, &m, &e) ||
            rz_maze_parse(&m, held.tokens, held.len[0], &e))
            rz_cli_die(c, &e);
        if (!c->quiet) { /* the true and decoded path tokens, for a look */
            char b[32];
            fprintf(stderr, "rz-maze: maze 0 true   :");
            for (int i = held.pstart[0] + 1; i < held.len[0]; i++)
                fprintf(stderr, " %s", rz_maze_token_name(held.n, held.tokens[i], b));
            fprintf(stderr, "\nrz-maze: maze 0 decoded:");
            for (int i = held.pstart[0] + 1; i < held.T && (i == held.pstart[0] + 1 || pred[i - 1] != RZ_MZ_PATH_END); i++)
                fprintf(stderr, " %s", rz_maze_token_name(held.n, pred[i], b));
            fprintf(stderr, "\n");
        }
        int np = 0, *cells = malloc(sizeof(int) * (size_t)held.T);
        for (int i = held.pstart[0] + 1; cells && i < held.T && pred[i] >= RZ_MZ_CELL0; i++) cells[np++] = pred[i] - RZ_MZ_CELL0;
        if (!cells || rz_maze_png(a->png, &m, cells, np, &e)) rz_cli_die(c, &e);
        free(cells), free(pred);
        rz_maze_free(&m);
        rz_train_free(t);
        rz_lora_free(lo);
    }
    if (rz_cluster_rank() == 0) {
        msgpack_packer *pk = rz_report_begin(c, 9);
        rz_rec_str(pk, "objective", rz_maze_objective_name(info.objective));
        rz_rec_int(pk, "n", info.n);
        rz_rec_int(pk, "step", info.step);
        rz_rec_int(pk, "mazes", sc.count);
        rz_rec_int(pk, "exact", sc.exact);
        rz_rec_int(pk, "valid", sc.valid);
        rz_rec_f64(pk, "exact_rate", (double)sc.exact / (double)sc.count);
        rz_rec_f64(pk, "valid_rate", (double)sc.valid / (double)sc.count);
        rz_rec_f64(pk, "seconds", secs);
        if (rz_report_finish(c, &e)) rz_cli_die(c, &e);
    }
    rz_maze_set_free(&held);
    rz_llama_free(model);
}

int main(int argc, char **argv)
{
    rz_cluster_init(&argc, &argv);
    rz_cli c;
    rz_cli_init(&c, "rz-maze", usage_text);
    args a;
    parse(&c, &a, argc, argv);
    rz_cli_threads(&c);
    if (a.cmd == 0) {
        if (rz_cluster_rank() == 0) cmd_gen(&c, &a);
    } else if (a.cmd == 1) {
        cmd_train(&c, &a);
    } else {
        cmd_eval(&c, &a);
    }
    rz_cluster_finalize();
    return 0;
}
