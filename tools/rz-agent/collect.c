/* collect.c — `rz-agent collect`: roll a behaviour policy in an environment and write the
 * transitions as a dataset stream that records how it was made (policy, size, seed). */
#include <stdlib.h>
#include <string.h>

#include "rzagent.h"

static const rz_cli_tool tool = {
    .name = "rz-agent collect",
    .summary = "an offline dataset of transitions from an environment and a behaviour policy",
    .usage = "rz-agent collect --env fourrooms|MAPFILE|pointmass-maze|humanoid --policy POLICY --steps N\n"
             "                 [--seed N] [--slip P] [--episode-len N] [--model PATH] -o DATA\n",
    .examples = "rz-agent collect --env fourrooms --policy room --steps 5000 --seed 3 -o room.rz\n",
    .report = "env, policy, steps, seed, output",
};

int ag_collect_main(int argc, char **argv)
{
    rz_cli c;
    const char *envs = NULL, *pols = "random", *model = NULL;
    long steps = 0, eplen = 0;
    double slip = 0;
    rz_opt opts[] = {
        RZ_O_STR("env", 0, "E", envs,
                 "fourrooms (built in), a map file ('#' wall, '.' or ' ' free, equal-length\n"
                 "rows), pointmass-maze or humanoid (MuJoCo)"),
        AG_OPT_MODEL(model),
        RZ_O_STR("policy", 0, "P", pols,
                 "random    uniform random actions from uniform start states\n"
                 "coverage  grids: least-tried action in each cell (full coverage);\n"
                 "          maze: random actions held 5 steps from uniform starts\n"
                 "room      random walk confined to the top-left room (low quality)"),
        RZ_O_LONG("steps", 0, "N", steps, 1, 100000000, "number of transitions (small N = the 'small' low-quality dataset)"),
        RZ_O_F64("slip", 0, "P", slip, 0, 1, "grids: probability that a random action replaces the chosen one"),
        RZ_O_LONG("episode-len", 0, "N", eplen, 1, 1000000, "steps per episode before a reset (default: the env's horizon)"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (first < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[first]);
    if (!envs) rz_cli_usage_error(&c, "--env is required");
    if (!steps) rz_cli_usage_error(&c, "--steps is required");
    c.output = rz_cli_records_out(&c);
    rl_policy pol;
    if (rl_policy_parse(pols, &pol)) rz_cli_usage_error(&c, "--policy %s: expected random, coverage or room", pols);
    rz_err e = {0};
    rl_env env;
    char spec[4200];
    if (ag_env_spec(envs, model, spec, sizeof spec, &e)) rz_cli_die(&c, &e);
    if (rl_env_make(&env, spec, slip, &e)) rz_cli_die(&c, &e);
    if (eplen) env.episode_len = (int)eplen;
    uint64_t seed = c.seed_set ? c.seed : 1;
    ag_dataset d;
    memset(&d, 0, sizeof d);
    d.n = steps;
    d.S = rz_malloc((size_t)steps * env.state_dim * sizeof(float), &e);
    d.A = rz_malloc((size_t)steps * env.act_dim * sizeof(float), &e);
    d.S2 = rz_malloc((size_t)steps * env.state_dim * sizeof(float), &e);
    if (!d.S || !d.A || !d.S2) rz_cli_die(&c, &e);
    rz_cli_progress(&c, 1, "collecting %ld transitions in %s with policy %s (seed %llu)", steps, env.name, pols,
                    (unsigned long long)seed);
    if (rl_collect(&env, pol, steps, seed, d.S, d.A, d.S2, &e)) rz_cli_die(&c, &e);
    if (ag_env_id(&env, &d.h.env, &e)) rz_cli_die(&c, &e);
    d.h.state_dim = env.state_dim;
    d.h.act_dim = env.act_dim;
    d.h.n_actions = env.n_actions;
    snprintf(d.h.policy, sizeof d.h.policy, "%s", pols);
    d.h.steps = steps;
    d.h.seed = (int64_t)seed;
    d.h.episode_len = env.episode_len;
    if (ag_dataset_write(c.output, &c.stream, &env, &d, &e)) rz_cli_die(&c, &e);
    if (env.kind == RL_GRID) {
        /* Coverage summary: distinct cells and (cell, action) pairs seen. */
        int ns = env.grid.n_free, cells = 0, pairs = 0;
        unsigned char *seen = calloc((size_t)ns * 6, 1);
        if (seen) {
            for (long i = 0; i < steps; i++) {
                int id = rl_grid_id(&env, d.S + i * 2), a = (int)d.A[i];
                seen[id * 6 + 5] = 1;
                seen[id * 6 + a] = 1;
            }
            for (int s = 0; s < ns; s++) {
                cells += seen[s * 6 + 5];
                for (int a = 0; a < 5; a++) pairs += seen[s * 6 + a];
            }
            free(seen);
        }
        rz_cli_progress(&c, 1, "wrote %s: %ld transitions, %d/%d cells, %d/%d cell-action pairs", c.output, steps, cells,
                        ns, pairs, ns * 5);
    }
    if (c.json || c.report) {
        msgpack_packer *pk = rz_report_begin(&c, 5);
        rz_rec_str(pk, "env", env.name);
        rz_rec_str(pk, "policy", pols);
        rz_rec_int(pk, "steps", steps);
        rz_rec_int(pk, "seed", (int64_t)seed);
        rz_rec_str(pk, "output", c.output);
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    ag_dataset_free(&d);
    rl_env_free(&env);
    return 0;
}
