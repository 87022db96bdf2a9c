/* data.c — `rz-agent data`: the study's dataset designs from an existing dataset (pairs
 * removed, subsampled) or from a fixed sub-optimal policy (offline.h does the work). The
 * output's policy field names the design ("coverage-drop0.50", "coverage-drop0.50-reach",
 * "coverage-n1000", "goal37-eps0.30"), so train --resume and the tables tell the designs apart. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "offline.h"
#include "rzagent.h"

static const rz_cli_tool tool = {
    .name = "rz-agent data",
    .summary = "the study's dataset designs: pairs removed, subsampled, or a few trajectories of one policy",
    .usage = "rz-agent data -d DATA --drop-pairs F [--keep-reach] [--seed N] -o OUT\n"
             "       rz-agent data -d DATA --reach [--json]\n"
             "       rz-agent data -d DATA --subsample N [--seed N] -o OUT\n"
             "       rz-agent data --env fourrooms|MAPFILE --goal-policy CELL [--eps E] --trajs N --len L\n"
             "                     [--seed N] -o OUT\n",
    .examples = "rz-agent data -d coverage.rz --drop-pairs 0.5 --seed 3 -o drop50.rz\n"
                "rz-agent data -d coverage.rz --drop-pairs 0.5 --keep-reach -o drop50r.rz\n",
    .report = "policy, steps, seed, output, reach",
};

int ag_data_main(int argc, char **argv)
{
    rz_cli c;
    const char *in = NULL, *envs = NULL;
    double drop = -1, eps = 0.3;
    long sub = -1, goal = -1, trajs = 0, len = 0;
    int reach_only = 0, keep_reach = 0;
    rz_opt opts[] = {
        RZ_O_STR("data", 'd', "DATA", in, "the dataset to derive from (--drop-pairs, --subsample)"),
        RZ_O_F64("drop-pairs", 0, "F", drop, 0, 0.999,
                 "grids: remove every transition of a fraction F (e.g. 0.25, 0.5, 0.75)\n"
                 "of the (cell, action) pairs present, chosen at random (seeded) while\n"
                 "keeping an action in every covered cell: states covered, actions not"),
        RZ_O_FLAG("keep-reach", 0, keep_reach,
                  "--drop-pairs: also keep every pair whose loss would disconnect a\n"
                  "(start, goal) pair the data connected (the reach ceiling stays put);\n"
                  "fails, writing nothing, if the fraction cannot be reached that way"),
        RZ_O_LONG("subsample", 0, "N", sub, 1, 100000000, "keep N transitions chosen uniformly at random (seeded), in order"),
        RZ_O_STR("env", 0, "E", envs, "--goal-policy: fourrooms or a map file"),
        RZ_O_LONG("goal-policy", 0, "C", goal, 0, 1000000,
                  "grids: N trajectories of L steps of the greedy policy for reaching\n"
                  "free cell C (its id), a uniform action with probability E (default\n"
                  "0.3) — a few demonstrations of one sub-optimal behaviour"),
        RZ_O_F64("eps", 0, "E", eps, 0, 1, "--goal-policy: probability of a uniform action (default 0.3)"),
        RZ_O_LONG("trajs", 0, "N", trajs, 1, 1000000, "--goal-policy: number of trajectories"),
        RZ_O_LONG("len", 0, "L", len, 1, 1000000, "--goal-policy: steps per trajectory"),
        RZ_O_FLAG("reach", 0, reach_only,
                  "only report DATA's reach ceiling (written for every design too): the\n"
                  "share of (start, goal) cell pairs connected within the horizon by\n"
                  "the data's own transitions"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (first < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[first]);
    if ((drop >= 0) + (sub >= 0) + (goal >= 0) + reach_only != 1)
        rz_cli_usage_error(&c, "give one of --drop-pairs, --subsample, --goal-policy, --reach");
    if (keep_reach && drop < 0) rz_cli_usage_error(&c, "--keep-reach goes with --drop-pairs");
    if (goal < 0 && (!in || envs)) rz_cli_usage_error(&c, "--drop-pairs and --subsample read -d DATA (and take no --env)");
    if (goal >= 0 && (in || !envs || !trajs || !len)) rz_cli_usage_error(&c, "--goal-policy needs --env, --trajs and --len (and no -d)");
    if (goal >= 0 && trajs * len > 100000000) rz_cli_usage_error(&c, "--trajs × --len: expected at most 100000000 transitions");
    if (!reach_only) c.output = rz_cli_records_out(&c);
    uint64_t seed = c.seed_set ? c.seed : 1;
    rz_err e = {0};
    rl_env env;
    ag_dataset d;
    memset(&d, 0, sizeof d);
    char design[32];
    if (goal < 0) {
        if (ag_dataset_read(in, &c.stream, &d, &env, &e)) rz_cli_die(&c, &e);
        if (env.kind != RL_GRID && reach_only) {
            rz_fail(&e, RZ_EINPUT, "%s: --reach needs a grid dataset (this one is %s)", in, env.name);
            rz_cli_die(&c, &e);
        }
        long n = d.n, before = 0, removed = 0;
        int rc = reach_only ? RZ_OK
                 : drop >= 0 ? rl_data_drop_pairs(&env, &n, d.S, d.A, d.S2, drop, keep_reach, seed, &before, &removed, &e)
                           : rl_data_subsample(&n, env.state_dim, env.act_dim, d.S, d.A, d.S2, sub, seed, &e);
        if (rc) rz_cli_die(&c, &e);
        if (drop >= 0) {
            snprintf(design, sizeof design, "%.14s-drop%.2f%s", d.h.policy, drop, keep_reach ? "-reach" : "");
            rz_cli_progress(&c, 1, "%s: removed %ld of %ld cell-action pairs, %ld of %ld transitions kept", in, removed, before, n, d.n);
        } else if (!reach_only) {
            snprintf(design, sizeof design, "%.18s-n%ld", d.h.policy, sub);
        } else {
            snprintf(design, sizeof design, "%.31s", d.h.policy);
        }
        d.n = n;
    } else {
        if (rl_env_make(&env, envs, 0, &e)) rz_cli_die(&c, &e);
        if (env.kind != RL_GRID || goal >= env.grid.n_free) {
            rz_fail(&e, RZ_EINPUT, "--goal-policy %ld: expected a free-cell id below %d of a grid", goal, env.kind == RL_GRID ? env.grid.n_free : 0);
            rz_cli_die(&c, &e);
        }
        d.n = trajs * len;
        d.S = rz_malloc((size_t)d.n * env.state_dim * sizeof(float), &e);
        d.A = rz_malloc((size_t)d.n * env.act_dim * sizeof(float), &e);
        d.S2 = rz_malloc((size_t)d.n * env.state_dim * sizeof(float), &e);
        if (!d.S || !d.A || !d.S2) rz_cli_die(&c, &e);
        if (rl_data_policy_trajs(&env, (int)goal, eps, (int)trajs, (int)len, seed, d.S, d.A, d.S2, &e)) rz_cli_die(&c, &e);
        if (ag_env_id(&env, &d.h.env, &e)) rz_cli_die(&c, &e);
        d.h.state_dim = env.state_dim;
        d.h.act_dim = env.act_dim;
        d.h.n_actions = env.n_actions;
        d.h.episode_len = len;
        snprintf(design, sizeof design, "goal%ld-eps%.2f", goal, eps);
    }
    double reach = env.kind == RL_GRID ? rl_data_reach(&env, d.n, d.S, d.S2, env.horizon, &e) : NAN;
    if (reach < 0) rz_cli_die(&c, &e);
    if (env.kind == RL_GRID)
        rz_cli_progress(&c, 1, "%s: %ld transitions; reach ceiling %.4f of (start, goal) pairs within %d steps", design, d.n, reach,
                        env.horizon);
    if (!reach_only) {
        snprintf(d.h.policy, sizeof d.h.policy, "%s", design);
        d.h.steps = d.n;
        d.h.seed = (int64_t)seed;
        if (ag_dataset_write(c.output, &c.stream, &env, &d, &e)) rz_cli_die(&c, &e);
    }
    if (c.json || c.report) {
        msgpack_packer *pk = rz_report_begin(&c, 5);
        rz_rec_str(pk, "policy", design);
        rz_rec_int(pk, "steps", d.n);
        rz_rec_int(pk, "seed", (int64_t)seed);
        rz_rec_key(pk, "output");
        if (reach_only) msgpack_pack_nil(pk);
        else msgpack_pack_str_with_body(pk, c.output, strlen(c.output));
        rz_rec_key(pk, "reach");
        if (isnan(reach)) msgpack_pack_nil(pk);
        else msgpack_pack_double(pk, reach);
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    ag_dataset_free(&d);
    rl_env_free(&env);
    return 0;
}
