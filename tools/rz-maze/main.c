/* rz-maze — maze navigation with multi-step prediction (MLM-U) vs next-token training.
 *
 *   rz-maze gen   DFS mazes → "maze" record stream (and a picture)
 *   rz-maze train a transformer on a maze stream: --objective next | mlmu
 *   rz-maze eval  exact-path and valid-path accuracy of a trained model on held-out mazes
 *
 * parse → load → core calls (tools/core/maze) → report. */
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

static const rz_cli_tool tool_main = {
    .name = "rz-maze",
    .summary = "maze navigation: multi-step prediction (MLM-U) vs next-token training",
    .usage = "rz-maze gen   -n SIZE [--count N] [--first I] [--no-forks] [--extra K] [--exclude MAZES] -o MAZES\n"
             "rz-maze train --objective next|mlmu [model and optimizer options] [-o CKPT] MAZES\n"
             "rz-maze eval  -m CKPT [--count N] [--batch B] [--full-forward] [--png FILE] HELDOUT\n",
    .about = "Run 'rz-maze COMMAND --help' for every option.\n",
    .examples = "rz-maze gen -n 5 --count 20000 -o train.rz && rz-maze gen -n 5 --first 1000000 --count 500 \\\n"
                "  --exclude train.rz -o test.rz\n"
                "rz-maze train --objective mlmu --steps 600 --eval test.rz -o m.ckpt train.rz\n"
                "rz-maze eval -m m.ckpt --json test.rz\n",
};

static const rz_cli_tool tool_gen = {
    .name = "rz-maze gen",
    .summary = "DFS or A* mazes as a 'maze' record stream (and a picture)",
    .usage = "rz-maze gen -n SIZE [--count N] [--first I] [--seed S] [--no-forks] [--extra K]\n"
             "            [--astar DENSITY] [--exclude MAZES] [--png FILE] -o MAZES\n",
    .about = "Mazes index I .. I+N-1 of seed S on an SIZE x SIZE lattice (randomised DFS), deduplicated\n"
             "(and not in --exclude), shortest path by BFS, as 'maze' records (schemas/maze.md).\n"
             "--astar DENSITY: A* mazes instead (random wall cells, start and goal, the A* plan;\n"
             "train on them with a context that holds the longest sequence).\n"
             "Disjoint index ranges give the train/held-out split.\n",
    .examples = "rz-maze gen -n 5 --count 20000 -o train.rz\n"
                "rz-maze gen -n 5 --first 1000000 --count 500 --exclude train.rz -o test.rz\n",
    .report = "n, count, first, next_index, duplicates_skipped, excluded, mean_path_cells, vocab_size",
    .output_help = "the maze stream (required)",
    .seed_help = "generator seed (default 0)",
};

static const rz_cli_tool tool_train = {
    .name = "rz-maze train",
    .summary = "train a transformer on a maze stream: next-token prediction or MLM-U",
    .usage = "rz-maze train --objective next|mlmu [model and optimizer options] [-o CKPT] MAZES\n",
    .about = "Full-parameter training of one transformer (Llama block: RMSNorm, RoPE, SwiGLU) with\n"
             "next-token prediction (causal attention, loss on the path) or MLM-U (bidirectional\n"
             "attention, path tokens masked at a rate r ~ U(0,1) per sequence). AdamW, warm-up +\n"
             "cosine, clipping. --eval HELDOUT: accuracy during training (in the report).\n"
             "--keys visible (MLM-U): every query attends only to the unmasked positions and\n"
             "itself, never to another <MASK> (the reference PAST encoder's keys); the checkpoint\n"
             "records it, so rz-maze eval decodes the same way.\n"
             "--arch past (MLM-U): the reference's PAST encoder-decoder: --layers encoder blocks with\n"
             "the visible keys, then --dec-layers decoder blocks with their own weights and no\n"
             "self-attention, whose input is one learned vector and whose every block attends to\n"
             "the encoder's final output (visible positions only); the logits are the decoder's.\n",
    .examples = "rz-maze train --objective mlmu --steps 600 --eval test.rz -o m.ckpt train.rz\n"
                "rz-maze train --objective mlmu --keys visible --steps 600 --eval test.rz -o v.ckpt train.rz\n"
                "rz-maze train --objective mlmu --arch past --steps 600 --eval test.rz -o p.ckpt train.rz\n",
    .report = "objective, keys, arch, n, mazes, ctx, params, first_step, steps, samples, loss_first, loss_final, "
              "train_seconds, tokens_per_s, wall_seconds, evals",
    .output_help = "the final checkpoint (model + optimizer state; rz-maze eval reads it)",
    .seed_help = "initialisation and masking seed (default 0)",
};

static const rz_cli_tool tool_eval = {
    .name = "rz-maze eval",
    .summary = "exact-path and valid-path accuracy of a trained model on held-out mazes",
    .usage = "rz-maze eval -m CKPT [--count N] [--batch B] [--full-forward] [--png FILE] HELDOUT\n",
    .about = "Decodes every held-out path (MLM-U: left to right, one masked token per forward;\n"
             "next-token: greedy, each new cell one position against the cached keys and values)\n"
             "and reports exact and valid path rates; mpirun splits the set.\n"
             "Single steps: each path token predicted from the true path before it (step_accuracy),\n"
             "and how many wrong cells were a legal move (an open neighbour of the previous cell).\n",
    .examples = "rz-maze eval -m m.ckpt --json test.rz\n",
    .report = "objective, keys, arch, n, step, mazes, exact, valid, exact_rate, valid_rate, seconds, decoded_tokens, decoder, "
              "step_accuracy, wrong_steps, wrong_steps_open",
};

typedef struct {
    int cmd; /* 0 gen, 1 train, 2 eval */
    int n, forks, extra, objective, keys, keys_set, arch, dec_layers, dim, layers, heads, hidden, ctx, steps, batch, micro, warmup, every, until;
    int eval_every, full;
    long count, first, eval_count;
    double lr, min_lr, wd, clip, init_std, init_shared, astar, theta;
    const char *exclude, *png, *ckpt, *resume, *eval, *model, *input;
} args;

static void opt_objective(rz_cli *c, const char *arg, void *ctx)
{
    args *a = ctx;
    if ((a->objective = rz_maze_objective_parse(arg)) < 0)
        rz_cli_usage_error(c, "--objective: '%s', expected next or mlmu", arg);
}

static void opt_keys(rz_cli *c, const char *arg, void *ctx)
{
    args *a = ctx;
    if ((a->keys = rz_maze_keys_parse(arg)) < 0) rz_cli_usage_error(c, "--keys: '%s', expected all or visible", arg);
    a->keys_set = 1;
}

static void opt_arch(rz_cli *c, const char *arg, void *ctx)
{
    args *a = ctx;
    if ((a->arch = rz_maze_arch_parse(arg)) < 0) rz_cli_usage_error(c, "--arch: '%s', expected enc or past", arg);
}

/* Top level: --help, --man, --version, or a command. Returns the command (0, 1, 2). */
static int command(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "gen")) return 0;
    if (!strcmp(cmd, "train")) return 1;
    if (!strcmp(cmd, "eval")) return 2;
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) rz_cli_print_help(&tool_main, NULL, stdout), exit(0);
    if (!strcmp(cmd, "--man")) rz_cli_print_man(&tool_main, NULL, stdout), exit(0);
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) printf("rz-maze (rizz) %s\n", RZ_VERSION), exit(0);
    if (*cmd && *cmd != '-') fprintf(stderr, "rz-maze: unknown command '%s' (gen, train or eval)\n", cmd);
    else fprintf(stderr, "rz-maze: expected a command: gen, train or eval\n");
    fprintf(stderr, "Try 'rz-maze --help'.\n");
    exit(RZ_EINPUT);
}

static void parse(rz_cli *c, args *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->forks = 1, a->objective = -1, a->dim = 64, a->layers = 4, a->heads = 4, a->steps = 1000, a->batch = 32;
    a->theta = 10000, a->lr = 1e-3, a->min_lr = 1e-4, a->warmup = 50, a->wd = 0.01, a->clip = 1.0, a->count = -1;
    a->cmd = command(argc, argv);
    argc--, argv++;
    rz_opt gen[] = {
        RZ_O_INT("size", 'n', "SIZE", a->n, 2, RZ_MAZE_MAX, "maze side: SIZE x SIZE cells (required)"),
        RZ_O_LONG("count", 0, "N", a->count, 1, 100000000, "mazes to write (default 1000)"),
        RZ_O_LONG("first", 0, "I", a->first, 0, 1LL << 40, "first generator index (default 0)"),
        RZ_O_SET("no-forks", 0, a->forks, 0, "one corridor: no side branches"),
        RZ_O_INT("extra", 0, "K", a->extra, 0, 1 << 20, "K more openings after the DFS (loops; default 0)"),
        RZ_O_F64("astar", 0, "DENSITY", a->astar, 0, 0.9,
                 "A* mazes instead of DFS: wall cells at DENSITY, the A* plan (e.g. 0.3)"),
        RZ_O_STR("exclude", 0, "MAZES", a->exclude, "leave out the mazes of this stream (another split)"),
        RZ_O_STR("png", 0, "FILE", a->png, "draw the first maze with its path"),
        RZ_O_END};
    rz_opt train[] = {
        RZ_O_FN("objective", 0, "next|mlmu", opt_objective, a, "next-token (causal) or MLM-U (bidirectional) (required)"),
        RZ_O_FN("keys", 0, "all|visible", opt_keys, a,
                "MLM-U's attention keys: every position, or the unmasked ones and the query itself (default all)"),
        RZ_O_FN("arch", 0, "enc|past", opt_arch, a,
                "MLM-U's model: one encoder, or the PAST encoder-decoder (--keys visible) (default enc)"),
        RZ_O_INT("dim", 0, "D", a->dim, 2, 4096, "model width (default 64)"),
        RZ_O_INT("layers", 0, "L", a->layers, 1, 64, "transformer blocks (default 4; past: the encoder's)"),
        RZ_O_INT("dec-layers", 0, "L", a->dec_layers, 1, 64, "past: decoder blocks (default --layers)"),
        RZ_O_INT("heads", 0, "H", a->heads, 1, 256, "attention heads; D / H even (default 4)"),
        RZ_O_INT("hidden", 0, "F", a->hidden, 1, 65536, "feed-forward width (default 4D)"),
        RZ_O_F64("rope-theta", 0, "B", a->theta, 2, 1e9, "RoPE base (default 10000)"),
        RZ_O_INT("ctx", 0, "T", a->ctx, 11, 65536, "padded sequence length (default: the longest maze)"),
        RZ_O_INT("steps", 0, "N", a->steps, 1, 100000000, "optimizer steps (default 1000)"),
        RZ_O_INT("batch", 0, "B", a->batch, 1, 1 << 20, "sequences per step (default 32)"),
        RZ_O_INT("micro", 0, "M", a->micro, 1, 1 << 20, "sequences per forward; divides B (default B)"),
        RZ_O_F64("lr", 0, "LR", a->lr, 0, 10, "peak learning rate (default 1e-3)"),
        RZ_O_F64("min-lr", 0, "LR", a->min_lr, 0, 10, "learning rate at the end of the cosine (default 1e-4)"),
        RZ_O_INT("warmup", 0, "N", a->warmup, 0, 100000000, "warm-up steps (default 50)"),
        RZ_O_F64("weight-decay", 0, "W", a->wd, 0, 10, "AdamW weight decay (default 0.01)"),
        RZ_O_F64("clip", 0, "C", a->clip, 0, 1e9, "gradient norm clipping (default 1.0)"),
        RZ_O_F64("init-std", 0, "S", a->init_std, 0, 10,
                 "initial weights N(0, S^2) (default 0: the reference's, 1/sqrt(3 fan_in))"),
        RZ_O_F64("init-shared", 0, "A", a->init_shared, 0, 0.99,
                 "token embeddings share a common vector with weight A (cosine A^2 between rows; default 0)"),
        RZ_O_STR("checkpoint", 0, "FILE", a->ckpt, "write a checkpoint at the end (and every --every K steps)"),
        RZ_O_INT("every", 0, "K", a->every, 1, 100000000, "checkpoint period in steps"),
        RZ_O_STR("resume", 0, "FILE", a->resume, "continue from a checkpoint"),
        RZ_O_INT("until", 0, "S", a->until, 1, 100000000, "stop after step S (of --steps; resume later)"),
        RZ_O_STR("eval", 0, "HELDOUT", a->eval, "held-out mazes scored during training"),
        RZ_O_INT("eval-every", 0, "K", a->eval_every, 1, 100000000, "score --eval every K steps (and at the end)"),
        RZ_O_LONG("eval-count", 0, "N", a->eval_count, 1, 100000000, "score at most N --eval mazes"),
        RZ_O_LONG("count", 0, "N", a->count, 1, 100000000, "train on at most N mazes (default all)"),
        RZ_O_END};
    rz_opt eval[] = {
        RZ_O_STR("model", 'm', "CKPT", a->model, "a checkpoint of rz-maze train (required)"),
        RZ_O_LONG("count", 0, "N", a->count, 1, 100000000, "score at most N mazes (default all)"),
        RZ_O_INT("batch", 0, "B", a->batch, 1, 1 << 20, "mazes per forward (default 32; MLM-U and --full-forward)"),
        RZ_O_SET("full-forward", 0, a->full, 1,
                 "next-token: decode with a whole forward per cell, no KV cache (the slow reference; same paths)"),
        RZ_O_STR("png", 0, "FILE", a->png,
                 "draw the first held-out maze with its true (green) and predicted (red) path"),
        RZ_O_END};
    const rz_cli_tool *t[] = {&tool_gen, &tool_train, &tool_eval};
    rz_opt *opts[] = {gen, train, eval};
    int first = rz_cli_parse(c, t[a->cmd], opts[a->cmd], argc, argv);
    if (first < argc) a->input = argv[first++];
    if (first < argc) rz_cli_usage_error(c, "unexpected argument '%s'", argv[first]);
    if (a->cmd == 0 && !a->n) rz_cli_usage_error(c, "-n SIZE is required");
    if (a->cmd == 0 && !c->output) rz_cli_usage_error(c, "-o MAZES is required");
    if (a->cmd == 0 && a->input) rz_cli_usage_error(c, "unexpected argument '%s'", a->input);
    if (a->cmd == 1 && a->objective < 0) rz_cli_usage_error(c, "--objective next|mlmu is required");
    if (a->arch == RZ_MZ_ARCH_PAST) {
        if (a->objective != RZ_MZ_MLMU) rz_cli_usage_error(c, "--arch past is MLM-U's model: use --objective mlmu");
        if (a->keys_set && a->keys != RZ_MZ_KEYS_VISIBLE)
            rz_cli_usage_error(c, "--arch past reads the visible keys: --keys all does not apply");
        a->keys = RZ_MZ_KEYS_VISIBLE;
        if (!a->dec_layers) a->dec_layers = a->layers;
    } else if (a->dec_layers) {
        rz_cli_usage_error(c, "--dec-layers needs --arch past");
    }
    if (a->cmd >= 1 && !a->input) rz_cli_usage_error(c, "a maze stream is required");
    if (a->cmd == 2 && !a->model) rz_cli_usage_error(c, "-m CKPT is required");
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
    /* A*: up to 2n(n−1) passages, the (n−1)² beyond a spanning tree's n²−1 */
    int cap = rz_maze_max_tokens(a->n, a->astar > 0 ? (a->n - 1) * (a->n - 1) : a->extra);
    int *tok = malloc(sizeof(int) * (size_t)cap);
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
        if (a->astar > 0) {
            if (!rz_maze_astar_gen(&m, c->seed, idx, a->astar)) {
                rz_fail(&e, RZ_EINPUT, "--astar %g: no solvable %dx%d maze in 1000 draws at index %" PRIu64,
                        a->astar, a->n, a->n, idx);
                rz_writer_abort(w, &e), rz_cli_die(c, &e);
            }
        } else {
            rz_maze_dfs(&m, c->seed, idx, a->forks, a->extra);
        }
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
    info.keys = a->objective == RZ_MZ_MLMU ? a->keys : RZ_MZ_KEYS_ALL; /* next-token: causal either way */
    info.arch = a->arch, info.dec_layers = a->arch == RZ_MZ_ARCH_PAST ? a->dec_layers : 0;
    info.init_std = a->init_std, info.init_shared = a->init_shared;
    rz_llama_config *cf = &info.config;
    cf->dim = a->dim, cf->hidden_dim = a->hidden, cf->n_layers = a->layers + info.dec_layers;
    cf->n_heads = a->heads;
    cf->n_kv_heads = a->heads, cf->rope_theta = (float)a->theta, cf->norm_eps = 1e-5f;
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
            rz_maze_score sc = {0, 0, 0, 0};
            if (rz_maze_evaluate(tr.model, tr.info.dec_layers, &held, a->objective, a->keys, 0, 0, a->micro, &sc, &e))
                rz_cli_die(c, &e);
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
        msgpack_packer *pk = rz_report_begin(c, 16);
        rz_rec_str(pk, "objective", rz_maze_objective_name(a->objective));
        rz_rec_str(pk, "keys", rz_maze_keys_name(a->keys));
        rz_rec_str(pk, "arch", rz_maze_arch_name(a->arch));
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
    rz_maze_score sc = {0, 0, 0, 0};
    double t0 = rz_now();
    if (rz_maze_evaluate(model, info.dec_layers, &held, info.objective, info.keys, a->full, 0, B, &sc, &e))
        rz_cli_die(c, &e);
    double secs = rz_now() - t0;
    rz_maze_steps st = {0, 0, 0, 0};
    if (rz_maze_evaluate_steps(model, info.dec_layers, &held, info.objective, info.keys, 0, B, &st, &e)) rz_cli_die(c, &e);
    if (a->png && rz_cluster_rank() == 0) { /* the first maze, decoded again on rank 0 */
        int *pred = malloc(sizeof(int) * (size_t)held.T);
        rz_maze m;
        rz_maze_score one = {0, 0, 0, 0};
        if (!pred ||
            rz_maze_decode_model(model, info.dec_layers, &held, info.objective, info.keys, a->full, 0, 1, 1, pred, &one,
                                 &e) ||
            rz_maze_alloc(held.n, &m, &e) || rz_maze_parse(&m, held.tokens, held.len[0], &e))
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
    }
    if (rz_cluster_rank() == 0) {
        msgpack_packer *pk = rz_report_begin(c, 16);
        rz_rec_str(pk, "objective", rz_maze_objective_name(info.objective));
        rz_rec_str(pk, "keys", rz_maze_keys_name(info.keys));
        rz_rec_str(pk, "arch", rz_maze_arch_name(info.arch));
        rz_rec_int(pk, "n", info.n);
        rz_rec_int(pk, "step", info.step);
        rz_rec_int(pk, "mazes", sc.count);
        rz_rec_int(pk, "exact", sc.exact);
        rz_rec_int(pk, "valid", sc.valid);
        rz_rec_f64(pk, "exact_rate", (double)sc.exact / (double)sc.count);
        rz_rec_f64(pk, "valid_rate", (double)sc.valid / (double)sc.count);
        rz_rec_f64(pk, "seconds", secs);
        rz_rec_int(pk, "decoded_tokens", sc.tokens);
        rz_rec_str(pk, "decoder", rz_maze_uses_cache(info.objective, info.dec_layers, a->full) ? "cached" : "full");
        rz_rec_f64(pk, "step_accuracy", st.steps ? (double)st.right / (double)st.steps : 0.0);
        rz_rec_int(pk, "wrong_steps", st.wrong_cell);
        rz_rec_int(pk, "wrong_steps_open", st.wrong_open);
        if (rz_report_finish(c, &e)) rz_cli_die(c, &e);
    }
    rz_maze_set_free(&held);
    rz_llama_free(model);
}

int main(int argc, char **argv)
{
    rz_cluster_init(&argc, &argv);
    rz_cli c;
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
