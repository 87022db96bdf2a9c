/* flags.c — the training flags `rz-agent train` and `rz-agent sweep` share, declared once
 * as rz_opt entries (cli.h) that fill an ag_flags; each tool includes them in its own
 * table with RZ_O_TABLE, so the parser and both --help texts come from these lines. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rzagent.h"

/* --anneal START:END (steps) into span; a usage error unless 0 ≤ START < END. */
static void parse_anneal(rz_cli *c, const char *s, long long span[2])
{
    char *end;
    errno = 0;
    span[0] = strtoll(s, &end, 10);
    int ok = !errno && end != s && *end == ':' && span[0] >= 0;
    if (ok) {
        const char *b = end + 1;
        span[1] = strtoll(b, &end, 10);
        ok = !errno && end != b && !*end && span[1] > span[0];
    }
    if (!ok) rz_cli_usage_error(c, "--anneal %s: expected START:END steps with 0 ≤ START < END", s);
}

static void opt_anneal(rz_cli *c, const char *arg, void *span)
{
    parse_anneal(c, arg, span);
}

static void opt_target(rz_cli *c, const char *arg, void *target_mean)
{
    if (strcmp(arg, "min") && strcmp(arg, "mean")) rz_cli_usage_error(c, "--target %s: expected min or mean", arg);
    *(int *)target_mean = !strcmp(arg, "mean");
}

/* --lagrange TARGET, or auto: the target derived for the exact logsumexp (+∞ marks it;
 * ag_config_apply computes fb_lagrange_target for the environment's action count) */
static void opt_lagrange(rz_cli *c, const char *arg, void *lagrange)
{
    *(double *)lagrange = !strcmp(arg, "auto") ? INFINITY : rz_cli_f64(c, "--lagrange", arg, -1e9, 1e9);
}

static void opt_cpen(rz_cli *c, const char *arg, void *cpen_ref)
{
    if (strcmp(arg, "ref") && strcmp(arg, "s")) rz_cli_usage_error(c, "--cpen %s: expected ref or s", arg);
    *(int *)cpen_ref = !strcmp(arg, "ref");
}

void ag_flags_opts(ag_flags *f, rz_opt out[AG_FLAG_OPTS])
{
    rz_opt t[AG_FLAG_OPTS] = {
        RZ_O_LONG("zdim", 0, "D", f->zdim, 1, FB_MAX_ZDIM, "representation dimension d (grids 128, maze 50)"),
        RZ_O_LONG("hidden", 0, "H", f->hidden, 1, FB_MAX_HIDDEN, "hidden width (grids 512, maze 256)"),
        RZ_O_LONG("layers", 0, "L", f->layers, 1, FB_MAX_LAYERS, "hidden layers (2)"),
        RZ_O_LONG("batch", 0, "N", f->batch, 2, FB_MAX_BATCH, "mini-batch (default 256)"),
        RZ_O_F64("lr", 0, "X", f->lr, 1e-9, 1, "Adam learning rate of F, B and the actor (grids 1e-3, maze 1e-4)"),
        RZ_O_F64("gamma", 0, "G", f->gamma, 0, 0.9999, "discount (grids 0.98, maze 0.99)"),
        RZ_O_F64("tau", 0, "T", f->tau, 1e-6, 1, "target rate (grids 0.05, maze 0.01)"),
        RZ_O_FN("target", 0, "T", opt_target, &f->target_mean,
                "TD target from the two target F heads: min (the reference\n"
                "code's pessimism; maze default) or mean (less biased low; grids)"),
        RZ_O_F64("lr-final", 0, "X", f->lr_final, 1e-12, 1,
                 "anneal every learning rate geometrically from --lr to X over the\n"
                 "last third of --steps, or between the steps of --anneal A:B\n"
                 "(grids: --lr/100, maze: constant): late small steps average out\n"
                 "the batch noise in F that decides greedy actions (the window is\n"
                 "fixed by the first run: resuming it keeps it)"),
        RZ_O_FN("anneal", 0, "A:B", opt_anneal, f->anneal, "the steps --lr-final anneals between"),
        RZ_O_F64("qloss", 0, "C", f->qloss, 0, 1e6,
                 "weight of a direct TD loss on Q = Fᵀz with the implicit reward\n"
                 "B(s')ᵀCov⁻¹z (Meta Motivo's q_loss; default 0)"),
        RZ_O_F64("fscale", 0, "S", f->fscale, 1e-3, 1e5,
                 "fixed scale of F's output layer (default 1; try ~1/(1−γ)): M = FᵀB is\n"
                 "large, so F learns on its natural scale while Adam steps stay small"),
        RZ_O_F64("mix", 0, "R", f->mix, 0, 1, "fraction of training zs taken from B(s') (default 0.5)"),
        RZ_O_F64("traj", 0, "R", f->traj, 0, 1,
                 "fraction of training zs that average B(s') over a window of\n"
                 "consecutive dataset transitions (region rewards; grids 0.25,\n"
                 "maze 0)"),
        RZ_O_LONG("traj-len", 0, "L", f->traj_len, 1, FB_MAX_TRAJ_LEN, "--traj's window (grids 32, maze 8)"),
        RZ_O_F64("alpha", 0, "A", f->alpha, 0, 1e6, "conservative weight α (fixed; default 0.1)"),
        RZ_O_FN("lagrange", 0, "TARGET", opt_lagrange, &f->lagrange,
                "tune α by a Lagrange multiplier so the penalty approaches TARGET;\n"
                "auto: the target derived for the exact logsumexp over the\n"
                "discrete actions (48.17 for 5), α from 1 unless --alpha"),
        RZ_O_F64("grad-clip", 0, "C", f->grad_clip, 0, 1e6, "clamp every gradient element of F and B to [−C, C] (default 0: off)"),
        RZ_O_FN("cpen", 0, "ref|s", opt_cpen, &f->cpen_ref,
                "continuous penalty samples: the reference's (π(s') at s', data-\n"
                "action copies) or all at s (default s)"),
        RZ_O_FLAG("reference", 0, f->reference,
                  "the reference's settings (Jeen et al.): --target min --lagrange\n"
                  "auto --alpha 1 --grad-clip 1 (--cpen ref for continuous\n"
                  "actions, target 50); flags given override them"),
        RZ_O_END};
    memcpy(out, t, sizeof t);
}

int ag_env_spec(const char *env, const char *model, char *spec, size_t n, rz_err *e)
{
    if (model && strcmp(env, "humanoid"))
        return rz_fail(e, RZ_EINPUT, "--model applies to --env humanoid only (not %s)", env);
    if ((size_t)snprintf(spec, n, "%s%s%s", env, model ? ":" : "", model ? model : "") >= n)
        return rz_fail(e, RZ_EINPUT, "--model %.64s…: path too long", model);
    return RZ_OK;
}
