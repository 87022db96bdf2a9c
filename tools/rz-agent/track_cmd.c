/* track_cmd.c — `rz-agent expert` (point-mass expert trajectories from A* + a PD tracker,
 * tools/core/rl/pointmass_expert.h) and `rz-agent track` (zero-shot tracking of expert
 * trajectories by one or more agents, tools/core/rl/tracking.h; IQM and bootstrap CI
 * over the agents, typically seeds). */
#include <stdlib.h>
#include <string.h>

#include "mujoco_env.h"
#include "pdtrack.h"
#include "pointmass_expert.h"
#include "rzagent.h"
#include "stats.h"
#include "tracking.h"

static const rz_cli_tool expert_tool = {
    .name = "rz-agent expert",
    .summary = "unlabelled expert trajectories for the point-mass maze: A* over free cells + a PD tracker",
    .usage = "rz-agent expert --env pointmass-maze --trajectories N [--seed N] -o EXPERT\n",
    .examples = "rz-agent expert --env pointmass-maze --trajectories 200 --seed 1 -o expert.rz\n"
                "rz-agent expert --env pointmass-maze --trajectories 20 --seed 99 -o held-out.rz\n",
    .report = "env, trajectories, states, reached, seed, output",
};

int ag_expert_main(int argc, char **argv)
{
    rz_cli c;
    const char *envs = "pointmass-maze";
    long n = 0;
    rz_opt opts[] = {
        RZ_O_STR("env", 0, "E", envs, "pointmass-maze (the only kind with a planner here)"),
        RZ_O_LONG("trajectories", 0, "N", n, 1, 1000000, "trajectories, each from a uniform start to a uniform goal"),
        RZ_O_END};
    int operand = rz_cli_parse(&c, &expert_tool, opts, argc, argv);
    if (operand < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[operand]);
    if (!n) rz_cli_usage_error(&c, "--trajectories is required");
    c.output = rz_cli_records_out(&c);
    rz_err e = {0};
    rl_env env;
    if (rl_env_make(&env, envs, 0, &e)) rz_cli_die(&c, &e);
    uint64_t seed = c.seed_set ? c.seed : 1;
    rl_expert x;
    int reached = 0;
    if (rl_expert_init(&x, &env, "astar-pd", (int64_t)seed, &e) || pm_expert_make(&env, (int)n, seed, &x, &reached, &e) ||
        rl_expert_write(c.output, &c.stream, &x, &e))
        rz_cli_die(&c, &e);
    rz_cli_progress(&c, 1, "%ld trajectories, %ld states, %d reached their goal", n, x.n, reached);
    if (c.json || c.report) {
        msgpack_packer *pk = rz_report_begin(&c, 6);
        rz_rec_str(pk, "env", env.name);
        rz_rec_int(pk, "trajectories", n);
        rz_rec_int(pk, "states", x.n);
        rz_rec_int(pk, "reached", reached);
        rz_rec_int(pk, "seed", (int64_t)seed);
        rz_rec_str(pk, "output", c.output);
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    rl_expert_free(&x);
    rl_env_free(&env);
    return 0;
}

static const rz_cli_tool track_tool = {
    .name = "rz-agent track",
    .summary = "zero-shot tracking of expert trajectories: z_t from the expert's next states",
    .usage = "rz-agent track --expert EXPERT [--window L] [--dims D] [--count N] [--png FILE] AGENT...\n",
    .examples = "rz-agent track --expert held-out.rz --dims 2 --json cpr-1.rz cpr-2.rz cpr-3.rz\n",
    .report = "expert, env, trajectories, window, dims, still_dist, still_upright, random, random_iqm, random_ci_lo, "
              "random_ci_hi, agents, iqm, ci_lo, ci_hi, upright_iqm, upright_ci_lo, upright_ci_hi",
    .about = "The floors: zero actions (still_*) and uniform random actions (random_*: one run per agent,\n"
             "seeds 1, 2, …, with its IQM and CI over those runs). upright: the fraction of episodes in\n"
             "which the agent never reached a terminal state (the humanoid never fell).\n",
};

/* The reference that needs no agent: zero action (the point mass stays where it starts). */
static int still(void *ctx, const float *obs, int n, const float *window, float *act, rz_err *e)
{
    (void)obs, (void)n, (void)window, (void)e;
    memset(act, 0, (size_t)*(int *)ctx * sizeof(float));
    return 0;
}

int ag_track_main(int argc, char **argv)
{
    rz_cli c;
    const char *expert = NULL, *png = NULL;
    long L = 8, dims = 0, count = 0;
    rz_opt opts[] = {
        RZ_O_STR("expert", 0, "EXPERT", expert, "expert stream whose trajectories are tracked (held out from training)"),
        RZ_O_LONG("window", 0, "L", L, 1, FB_MAX_TRAJ_LEN, "expert states ahead embedded into z_t (8, FB-CPR's seq_length)"),
        RZ_O_LONG("dims", 0, "D", dims, 1, 4096, "observation components in the distance (default all; the maze: 2 = position)"),
        RZ_O_LONG("count", 0, "N", count, 1, 1000000, "track the first N trajectories (default all)"),
        RZ_O_STR("png", 0, "FILE", png,
                 "point mass: the first agent's rollouts over the maze into FILE, the\n"
                 "expert trajectories they track into FILE with -expert before .png;\n"
                 "humanoid: six joint angles of the first agent tracking the first\n"
                 "trajectory against the expert's (grey), and its stick figures"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &track_tool, opts, argc, argv);
    int n_agents = argc - first;
    if (!expert) rz_cli_usage_error(&c, "--expert is required");
    if (n_agents < 1 || n_agents > 256) rz_cli_usage_error(&c, "give 1 to 256 agent checkpoints");
    rz_err e = {0};
    rl_env env;
    rl_expert x;
    if (rl_expert_read(expert, &c.stream, NULL, &x, &env, &e)) rz_cli_die(&c, &e);
    int n = count && count < x.n_traj ? (int)count : x.n_traj;
    if (!dims) dims = env.obs_dim;
    if (dims > env.obs_dim) rz_cli_usage_error(&c, "--dims %ld: the observation has %d components", dims, env.obs_dim);
    double *mean = rz_calloc((size_t)4 * n_agents, sizeof(double), &e), still_dist, still_up;
    if (!mean) rz_cli_die(&c, &e);
    double *up = mean + n_agents, *rnd = mean + 2 * n_agents, *rnd_up = mean + 3 * n_agents;
    if (rl_track_eval(&env, &x, 0, n, (int)L, (int)dims, still, &env.act_dim, NULL, &still_dist, &still_up, NULL, &e))
        rz_cli_die(&c, &e);
    rz_cli_progress(&c, 1, "zero action: mean distance %.4f, upright %.3f", still_dist, still_up);
    for (int k = 0; k < n_agents; k++) {
        rl_track_random r = {.act_dim = env.act_dim};
        rz_rng_seed(&r.rng, (uint64_t)k + 1);
        if (rl_track_eval(&env, &x, 0, n, (int)L, (int)dims, rl_track_random_act, &r, NULL, &rnd[k], &rnd_up[k], NULL, &e))
            rz_cli_die(&c, &e);
    }
    double rlo, rhi, riqm = rl_iqm(rnd, n_agents);
    rl_bootstrap_ci(rnd, n_agents, &rlo, &rhi);
    rz_cli_progress(&c, 1, "random actions: IQM distance %.4f [%.4f, %.4f] over %d seeds", riqm, rlo, rhi, n_agents);
    for (int k = 0; k < n_agents; k++) {
        rz_agent_header h;
        fb_agent *a;
        rl_env aenv;
        int nl;
        float *labels;
        const char *path = argv[first + k];
        if (ag_agent_read(path, &c.stream, &h, &a, &aenv, &nl, &labels, &e)) rz_cli_die(&c, &e);
        free(labels);
        rz_env_id want;
        if (ag_env_id(&env, &want, &e) || rz_env_id_same(&want, &h.env, path, &e)) rz_cli_die(&c, &e);
        rz_env_id_free(&want);
        long tmax = 0;
        for (int q = 0; q < n; q++) tmax = x.start[q + 1] - x.start[q] > tmax ? x.start[q + 1] - x.start[q] : tmax;
        float *traj = png && k == 0 ? rz_malloc((size_t)n * tmax * env.state_dim * sizeof(float), &e) : NULL;
        if (png && k == 0 && !traj) rz_cli_die(&c, &e);
        if (rl_track_eval(&aenv, &x, 0, n, (int)L, (int)dims, rl_track_fb, a, NULL, &mean[k], &up[k], traj, &e))
            rz_cli_die(&c, &e);
        rz_cli_progress(&c, 1, "%s: mean distance %.4f, upright %.3f over %d trajectories", path, mean[k], up[k], n);
        if (traj && env.kind == RL_HUMANOID) {
            if (rl_pdtrack_plot_vs(&env, (int)(x.start[1] - x.start[0]), traj, x.S, png, &e)) rz_cli_die(&c, &e);
            free(traj);
        } else if (traj) {
            if (env.kind != RL_POINTMASS) rz_cli_usage_error(&c, "--png draws the point-mass maze and the humanoid only");
            if (rl_mj_render(&env, NULL, n, (int)tmax, traj, png, &e)) rz_cli_die(&c, &e);
            /* the expert paths, each padded with its last state, in the same colours */
            for (int q = 0; q < n; q++)
                for (long t = 0; t < tmax; t++) {
                    long last = x.start[q + 1] - x.start[q] - 1, r = t < last ? t : last;
                    memcpy(traj + ((size_t)q * tmax + t) * env.state_dim, x.S + (size_t)(x.start[q] + r) * env.state_dim,
                           env.state_dim * sizeof(float));
                }
            char xp[1024];
            size_t pl = strlen(png);
            int dot = pl > 4 && !strcmp(png + pl - 4, ".png");
            snprintf(xp, sizeof xp, "%.*s-expert.png", (int)(dot ? pl - 4 : pl), png);
            if (rl_mj_render(&env, NULL, n, (int)tmax, traj, xp, &e)) rz_cli_die(&c, &e);
            free(traj);
        }
        fb_destroy(a);
        rl_env_free(&aenv);
        rz_env_id_free(&h.env);
    }
    double lo, hi, iqm = rl_iqm(mean, n_agents);
    rl_bootstrap_ci(mean, n_agents, &lo, &hi);
    double ulo, uhi, uiqm = rl_iqm(up, n_agents);
    rl_bootstrap_ci(up, n_agents, &ulo, &uhi);
    rz_cli_progress(&c, 1, "IQM %.4f  95%% CI [%.4f, %.4f] over %d agents; upright IQM %.3f [%.3f, %.3f]", iqm, lo, hi,
                    n_agents, uiqm, ulo, uhi);
    if (c.json || c.report) {
        msgpack_packer *pk = rz_report_begin(&c, 18);
        rz_rec_str(pk, "expert", expert);
        rz_rec_str(pk, "env", env.name);
        rz_rec_int(pk, "trajectories", n);
        rz_rec_int(pk, "window", L);
        rz_rec_int(pk, "dims", dims);
        rz_rec_f64(pk, "still_dist", still_dist);
        rz_rec_f64(pk, "still_upright", still_up);
        rz_rec_key(pk, "random");
        msgpack_pack_array(pk, n_agents);
        for (int k = 0; k < n_agents; k++) {
            msgpack_pack_map(pk, 3);
            rz_rec_int(pk, "seed", k + 1);
            rz_rec_f64(pk, "random_dist", rnd[k]);
            rz_rec_f64(pk, "random_upright", rnd_up[k]);
        }
        rz_rec_f64(pk, "random_iqm", riqm);
        rz_rec_f64(pk, "random_ci_lo", rlo);
        rz_rec_f64(pk, "random_ci_hi", rhi);
        rz_rec_key(pk, "agents");
        msgpack_pack_array(pk, n_agents);
        for (int k = 0; k < n_agents; k++) {
            msgpack_pack_map(pk, 3);
            rz_rec_str(pk, "agent", argv[first + k]);
            rz_rec_f64(pk, "mean_dist", mean[k]);
            rz_rec_f64(pk, "upright", up[k]);
        }
        rz_rec_f64(pk, "iqm", iqm);
        rz_rec_f64(pk, "ci_lo", lo);
        rz_rec_f64(pk, "ci_hi", hi);
        rz_rec_f64(pk, "upright_iqm", uiqm);
        rz_rec_f64(pk, "upright_ci_lo", ulo);
        rz_rec_f64(pk, "upright_ci_hi", uhi);
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    free(mean);
    rl_expert_free(&x);
    rl_env_free(&env);
    return 0;
}
