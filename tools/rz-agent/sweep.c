/* sweep.c — `rz-agent sweep`: datasets × algorithms × seeds, each item a full
 * collect → train → eval run, spread over MPI ranks (dynamic partition: rank 0 hands out
 * item indices), gathered in item order to rank 0, which writes one row per run and a
 * summary per (dataset, algorithm): the interquartile mean over seeds with a 95%
 * percentile-bootstrap confidence interval (Agarwal et al. 2021, as Jeen et al. report).
 *
 * IQM of n values (rl_iqm, tools/core/rl/stats.c): sort, drop floor(n/4) from each end,
 * average the rest (for n = 5 the middle three). Bootstrap (rl_bootstrap_ci): 2000
 * resamples of the seeds with replacement (fixed RNG), the 2.5% and 97.5% quantiles of
 * their IQMs. Runs are deterministic given the seed, so `mpirun -np N` writes the same
 * table as one process. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "rzagent.h"
#include "stats.h"

static const rz_cli_tool tool = {
    .name = "rz-agent sweep",
    .summary = "datasets x algorithms x seeds, spread over MPI ranks, one table",
    .usage = "rz-agent sweep --env ENV [--data SPEC,...] [--algos fb,vcfb,mcfb] [--seeds N]\n"
             "               [--steps N] [train options] [--tasks T] [--episodes N] -o RUNS.tsv\n"
             "               [--summary SUMMARY.tsv] [--json]\n",
    .about = "Under mpirun the runs are spread over the ranks; rank 0 writes the tables.\n",
    .examples = "mpirun -np 2 rz-agent sweep --env fourrooms --seeds 5 --steps 20000 -o runs.tsv\n",
    .report = "env, runs, summary",
    .output_help = "the table of runs (TSV)",
};

#define NMET 5 /* goal_success, goals_solved, goal_norm, reward_norm, all_norm */
static const char *met_names[NMET] = {"goal_success", "goals_solved", "goal_norm", "reward_norm", "norm_return"};

typedef struct {
    char policy[32];
    long steps;
} data_spec;

typedef struct {
    const char *env;
    data_spec *data;
    int n_data;
    fb_algo algos[3];
    int n_algos, seeds;
    long steps;
    ag_flags flags;
    const char *tasks;
    int episodes;
} sweep_cfg;

/* One run: item = ((data · n_algos) + algo) · seeds + (seed − 1). */
static int run_item(const sweep_cfg *s, long item, double *met, rz_err *e)
{
    int seed = (int)(item % s->seeds) + 1;
    int ai = (int)((item / s->seeds) % s->n_algos);
    int di = (int)(item / s->seeds / s->n_algos);
    rl_env env;
    int rc = rl_env_make(&env, s->env, 0, e);
    if (rc) return rc;
    rl_policy pol;
    if (rl_policy_parse(s->data[di].policy, &pol)) {
        rl_env_free(&env);
        return rz_fail(e, RZ_EINPUT, "--data: policy '%s' is not random, coverage or room", s->data[di].policy);
    }
    long n = s->data[di].steps;
    int sd = env.state_dim, ad = env.act_dim, od = env.obs_dim;
    float *S = rz_malloc((size_t)n * sd * sizeof(float), e), *A = rz_malloc((size_t)n * ad * sizeof(float), e);
    float *S2 = rz_malloc((size_t)n * sd * sizeof(float), e);
    float *O = rz_malloc((size_t)n * od * sizeof(float), e), *O2 = rz_malloc((size_t)n * od * sizeof(float), e);
    fb_agent *a = NULL;
    rl_task *tasks = NULL;
    fb_task_result *res = NULL;
    ag_summary sum = {0};
    if (!S || !A || !S2 || !O || !O2) {
        rc = RZ_EINTERNAL;
        goto out;
    }
    if ((rc = rl_collect(&env, pol, n, (uint64_t)seed, S, A, S2, e))) goto out;
    for (long i = 0; i < n; i++) {
        rl_env_obs(&env, S + i * sd, O + (size_t)i * od);
        rl_env_obs(&env, S2 + i * sd, O2 + (size_t)i * od);
    }
    fb_config cfg;
    ag_config_defaults(&cfg, s->algos[ai], &env);
    if ((rc = ag_config_apply(&cfg, &s->flags, s->steps, e))) goto out;
    if ((rc = fb_create(&cfg, (uint64_t)seed, &a, e))) goto out;
    fb_data fd = {n, od, ad, O, A, O2, NULL};
    for (long k = 0; k < s->steps; k++)
        if ((rc = fb_train_step(a, &fd, NULL, e))) goto out;
    /* Labels for reward inference: the dataset's next states (up to 10000, evenly strided). */
    long nl = n < 10000 ? n : 10000, stride = n / nl;
    for (long i = 0; i < nl; i++) memcpy(S + i * sd, S2 + i * stride * sd, sd * sizeof(float));
    if ((rc = ag_evaluate(&a, 1, &env, s->tasks, s->episodes, 0, 1000 + (uint64_t)seed, (int)nl, S, &tasks, &res, &sum, NULL, e)))
        goto out;
    met[0] = sum.goal_success;
    met[1] = sum.goals_solved;
    met[2] = sum.goal_norm;
    met[3] = sum.reward_norm;
    met[4] = sum.all_norm;
out:
    if (tasks) rl_tasks_free(tasks, sum.n_tasks);
    free(res), free(sum.in_support);
    fb_destroy(a);
    free(S), free(A), free(S2), free(O), free(O2);
    rl_env_free(&env);
    return rc;
}

int ag_sweep_main(int argc, char **argv)
{
    rz_cli c;
    sweep_cfg s;
    memset(&s, 0, sizeof s);
    ag_flags_init(&s.flags);
    s.env = NULL;
    s.seeds = 5;
    s.steps = 20000;
    s.tasks = "all";
    s.episodes = 4;
    const char *data = "coverage:50000,room:5000,random:1000", *algos = "fb,vcfb,mcfb", *summary = NULL;
    rz_opt flag_opts[AG_FLAG_OPTS];
    ag_flags_opts(&s.flags, flag_opts);
    rz_opt opts[] = {
        RZ_O_STR("env", 0, "ENV", s.env, "environment, as in collect"),
        RZ_O_STR("data", 0, "SPEC,...", data, "datasets as POLICY:STEPS (default coverage:50000,room:5000,random:1000)"),
        RZ_O_STR("algos", 0, "LIST", algos, "algorithms (default fb,vcfb,mcfb)"),
        RZ_O_INT("seeds", 0, "N", s.seeds, 1, 256, "seeds 1..N per (dataset, algorithm) (default 5)"),
        RZ_O_LONG("steps", 0, "N", s.steps, 1, 1000000000, "training steps per run (default 20000)"),
        RZ_O_TABLE(flag_opts),
        RZ_O_STR("tasks", 0, "T", s.tasks, "goals, rewards or all (default all)"),
        RZ_O_INT("episodes", 0, "N", s.episodes, 1, 100000, "episodes per task (default 4)"),
        RZ_O_STR("summary", 0, "SUMMARY.tsv", summary, "also write the IQM summary per (dataset, algorithm)"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (first < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[first]);
    if (!s.env) rz_cli_usage_error(&c, "--env is required");
    if (!c.output) rz_cli_usage_error(&c, "-o RUNS.tsv is required");
    rz_cli_agree(&c); /* under mpirun: same command, same files on every rank */
    openblas_set_num_threads(c.threads > 0 ? c.threads : 1);
    /* Parse the lists. */
    data_spec specs[16];
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", data);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *colon = strchr(tok, ':');
        if (!colon || s.n_data == 16) rz_cli_usage_error(&c, "--data %s: expected POLICY:STEPS items", data);
        *colon = 0;
        snprintf(specs[s.n_data].policy, sizeof specs[0].policy, "%s", tok);
        rl_policy p;
        if (rl_policy_parse(tok, &p)) rz_cli_usage_error(&c, "--data: policy '%s' is not random, coverage or room", tok);
        specs[s.n_data++].steps = rz_cli_int(&c, "--data", colon + 1, 1, 100000000);
    }
    s.data = specs;
    snprintf(buf, sizeof buf, "%s", algos);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (s.n_algos == 3 || fb_algo_parse(tok, &s.algos[s.n_algos]))
            rz_cli_usage_error(&c, "--algos %s: expected up to three of fb, vcfb, mcfb", algos);
        s.n_algos++;
    }
    rz_err e = {0};
    { /* validate env and tasks once, before any rank starts work */
        rl_env env;
        rl_task *t;
        int nt;
        if (rl_env_make(&env, s.env, 0, &e)) rz_cli_die(&c, &e);
        if (rl_env_tasks(&env, s.tasks, &t, &nt, &e)) rz_cli_die(&c, &e);
        rl_tasks_free(t, nt);
        rl_env_free(&env);
    }
    long n_items = (long)s.n_data * s.n_algos * s.seeds;
    long *idx = rz_malloc((size_t)n_items * sizeof(long), &e);
    double *vals = rz_malloc((size_t)n_items * NMET * sizeof(double), &e);
    double *all = rz_malloc((size_t)n_items * NMET * sizeof(double), &e);
    if (!idx || !vals || !all) rz_cli_die(&c, &e);
    int rank = rz_cluster_rank();
    long n_local = 0;
    rz_cluster_dynamic_begin(n_items);
    for (long it; (it = rz_cluster_dynamic_next()) >= 0;) {
        double t0 = rz_now();
        if (run_item(&s, it, vals + n_local * NMET, &e)) {
            rz_cli_progress(&c, 1, "rank %d: run %ld failed: %s", rank, it, e.msg);
            rz_cluster_abort(e.code ? e.code : 1);
        }
        idx[n_local++] = it;
        rz_cli_progress(&c, 1, "rank %d: run %ld/%ld (%s:%ld %s seed %ld) goal success %.3f reward norm %.3f (%.0f s)", rank,
                        it + 1, n_items, specs[it / s.seeds / s.n_algos].policy, specs[it / s.seeds / s.n_algos].steps,
                        fb_algo_name(s.algos[(it / s.seeds) % s.n_algos]), it % s.seeds + 1, vals[(n_local - 1) * NMET],
                        vals[(n_local - 1) * NMET + 3], rz_now() - t0);
    }
    rz_cluster_dynamic_end();
    if (rz_cluster_gather_items(n_items, NMET, idx, vals, n_local, all, &e)) rz_cli_die(&c, &e);
    if (rank == 0) {
        rz_outfile f;
        if (rz_outfile_open(&f, c.output, &e)) rz_cli_die(&c, &e);
        fprintf(f.f, "env\tdata\tdata_steps\talgo\tseed");
        for (int m = 0; m < NMET; m++) fprintf(f.f, "\t%s", met_names[m]);
        fputc('\n', f.f);
        for (long it = 0; it < n_items; it++) {
            const data_spec *ds = &specs[it / s.seeds / s.n_algos];
            fprintf(f.f, "%s\t%s\t%ld\t%s\t%ld", s.env, ds->policy, ds->steps, fb_algo_name(s.algos[(it / s.seeds) % s.n_algos]),
                    it % s.seeds + 1);
            for (int m = 0; m < NMET; m++) fprintf(f.f, "\t%.4f", all[it * NMET + m]);
            fputc('\n', f.f);
        }
        if (rz_outfile_commit(&f, &e)) rz_cli_die(&c, &e);
        rz_outfile sf;
        int have_sf = summary != NULL;
        if (have_sf && rz_outfile_open(&sf, summary, &e)) rz_cli_die(&c, &e);
        if (have_sf) {
            fprintf(sf.f, "env\tdata\tdata_steps\talgo\tseeds");
            for (int m = 0; m < NMET; m++) fprintf(sf.f, "\t%s_iqm\t%s_lo\t%s_hi", met_names[m], met_names[m], met_names[m]);
            fputc('\n', sf.f);
        }
        if (!c.json) printf("| data | algo | seeds | goal success IQM [95%% CI] | reward norm. return IQM [95%% CI] |\n|---|---|---|---|---|\n");
        msgpack_packer *pk = NULL;
        if (c.json || c.report) {
            pk = rz_report_begin(&c, 3);
            rz_rec_str(pk, "env", s.env);
            rz_rec_int(pk, "runs", n_items);
            rz_rec_key(pk, "summary");
            msgpack_pack_array(pk, s.n_data * s.n_algos);
        }
        for (int di = 0; di < s.n_data; di++)
            for (int ai = 0; ai < s.n_algos; ai++) {
                double st[NMET][3];
                for (int m = 0; m < NMET; m++) {
                    double v[256];
                    for (int sd = 0; sd < s.seeds; sd++) v[sd] = all[(((long)di * s.n_algos + ai) * s.seeds + sd) * NMET + m];
                    st[m][0] = rl_iqm(v, s.seeds);
                    rl_bootstrap_ci(v, s.seeds, &st[m][1], &st[m][2]);
                }
                if (have_sf) {
                    fprintf(sf.f, "%s\t%s\t%ld\t%s\t%d", s.env, specs[di].policy, specs[di].steps, fb_algo_name(s.algos[ai]), s.seeds);
                    for (int m = 0; m < NMET; m++) fprintf(sf.f, "\t%.4f\t%.4f\t%.4f", st[m][0], st[m][1], st[m][2]);
                    fputc('\n', sf.f);
                }
                if (!c.json)
                    printf("| %s:%ld | %s | %d | %.3f [%.3f, %.3f] | %.3f [%.3f, %.3f] |\n", specs[di].policy, specs[di].steps,
                           fb_algo_name(s.algos[ai]), s.seeds, st[0][0], st[0][1], st[0][2], st[3][0], st[3][1], st[3][2]);
                if (pk) {
                    msgpack_pack_map(pk, 4 + NMET);
                    rz_rec_str(pk, "data", specs[di].policy);
                    rz_rec_int(pk, "data_steps", specs[di].steps);
                    rz_rec_str(pk, "algo", fb_algo_name(s.algos[ai]));
                    rz_rec_int(pk, "seeds", s.seeds);
                    for (int m = 0; m < NMET; m++) {
                        rz_rec_key(pk, met_names[m]);
                        msgpack_pack_map(pk, 3);
                        const char *k3[3] = {"iqm", "ci_lo", "ci_hi"};
                        for (int q = 0; q < 3; q++) {
                            rz_rec_key(pk, k3[q]);
                            if (isnan(st[m][q])) msgpack_pack_nil(pk);
                            else msgpack_pack_double(pk, st[m][q]);
                        }
                    }
                }
            }
        if (have_sf && rz_outfile_commit(&sf, &e)) rz_cli_die(&c, &e);
        if (pk && rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    free(idx), free(vals), free(all);
    return 0;
}
