/* eval.c — `rz-agent eval`: zero-shot evaluation of a trained agent.
 *
 * No further training: for each task z is inferred — z = √d·normalize(B(g)) for a goal,
 * z = √d·normalize(Σ_i r(s_i) B(s_i)) over the checkpoint's label states for a reward —
 * and the greedy policy is rolled out for `episodes` episodes of the environment's
 * horizon from uniform start states. Reported per task and in aggregate: success
 * (goal reached), return, the optimal return from the same starts (grids: finite-horizon
 * value iteration) and the normalised return Σ return / Σ optimum. Several -a make an
 * ensemble (fb_ens_act): each member infers its own z, the action maximises their summed Q;
 * the first checkpoint's environment and label states serve all of them. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mujoco_env.h"
#include "offline.h"
#include "tracking.h"
#include "rzagent.h"

static const rz_cli_tool tool = {
    .name = "rz-agent eval",
    .summary = "zero-shot goal and reward tasks of a trained agent (or an ensemble)",
    .usage = "rz-agent eval -a AGENT [-a AGENT2 ...] [--tasks goals|rewards|all] [--split val|test]\n"
             "              [--episodes N] [--seed N] [--json] [--png PREFIX]\n",
    .about = "Output: a table on stdout, or with --json one report object with per-task and aggregate\n"
             "success, return and normalised return.\n",
    .examples = "rz-agent eval -a fb.rz --tasks goals --episodes 5 --json | jq .goal_success\n"
                "rz-agent eval -a seed1.rz -a seed2.rz -a seed3.rz --all-starts\n",
    .report = "agent, ensemble, env, algo, data_policy, steps_trained, episodes, starts, n_tasks, goal_success, "
              "goals_solved, goal_norm_return, reward_norm_return, norm_return, n_goals_in_support, "
              "goal_success_in_support, n_rewards_in_support, reward_norm_return_in_support, tasks",
};

/* -a: one more member of the ensemble */
typedef struct {
    const char **paths;
    int n;
} agent_list;

static void opt_agent(rz_cli *c, const char *arg, void *list)
{
    agent_list *l = list;
    if (l->n == FB_MAX_ENSEMBLE) rz_cli_usage_error(c, "-a: at most %d agents in an ensemble", FB_MAX_ENSEMBLE);
    l->paths[l->n++] = arg;
}

/* --goal-z labels: goal tasks take z from labelled states (rl_eval_goal_labels) */
static int goal_z_labels;

int ag_evaluate(fb_agent *const *a, int n_agents, const rl_env *env, const char *which, int episodes, int all_starts, uint64_t seed,
                int n_labels, const float *labels, rl_task **tasks_out, fb_task_result **res_out,
                ag_summary *sum, rz_cli *progress, rz_err *e)
{
    /* "FAMILY:val" / "FAMILY:test": only that side of the validation split (offline.h) */
    char fam[16];
    const char *colon = strchr(which, ':');
    int split = !colon ? -1 : !strcmp(colon + 1, "val") ? 1 : !strcmp(colon + 1, "test") ? 0 : -2;
    if (split == -2 || (colon && colon - which >= (long)sizeof fam))
        return rz_fail(e, RZ_EINPUT, "tasks %s: expected FAMILY, FAMILY:val or FAMILY:test", which);
    snprintf(fam, sizeof fam, "%.*s", colon ? (int)(colon - which) : 15, which);
    rl_task *tasks;
    int nt, rc = rl_env_tasks(env, fam, &tasks, &nt, e);
    if (rc) return rc;
    if (split >= 0) rl_tasks_split(env, tasks, &nt, split);
    fb_task_result *res = rz_calloc(nt, sizeof *res, e);
    if (!res) {
        rl_tasks_free(tasks, nt);
        return RZ_EINTERNAL;
    }
    memset(sum, 0, sizeof *sum);
    sum->in_support = rz_calloc(nt, 1, e);
    if (!sum->in_support) {
        free(res);
        rl_tasks_free(tasks, nt);
        return RZ_EINTERNAL;
    }
    double sr = 0, so = 0, rr = 0, ro = 0;
    for (int k = 0; k < nt; k++) {
        uint64_t sk = seed + 7919 * (uint64_t)k;
        if (!n_agents) rc = rl_eval_random(env, &tasks[k], episodes, sk, &res[k], e);
        else if (goal_z_labels && tasks[k].is_goal)
            rc = rl_eval_goal_labels(a[0], env, &tasks[k], n_labels, labels, episodes, sk, &res[k], e);
        else rc = fb_eval_task(a, n_agents, env, &tasks[k], n_labels, labels, episodes, all_starts, sk, &res[k], NULL, e);
        if (rc) {
            rz_wrap(e, "task %s", tasks[k].name);
            free(res), free(sum->in_support);
            rl_tasks_free(tasks, nt);
            return rc;
        }
        if (progress) rz_cli_progress(progress, 0, "task %d/%d %s", k + 1, nt, tasks[k].name);
        int in = sum->in_support[k] = (unsigned char)rl_task_in_support(env, &tasks[k], n_labels, labels);
        if (in && tasks[k].is_goal) sum->n_goal_in++, sum->goal_success_in += res[k].success;
        if (in && !tasks[k].is_goal) sum->n_reward_in++, sum->reward_norm_in += res[k].norm;
        if (tasks[k].is_goal) {
            sum->n_goal++;
            sum->goal_success += res[k].success;
            sum->goals_solved += res[k].success == 1.0;
            sr += res[k].ret;
            so += res[k].opt;
        } else {
            sum->n_reward++;
            rr += res[k].ret;
            ro += res[k].opt;
            sum->reward_norm += res[k].norm;
        }
    }
    sum->n_tasks = nt;
    if (sum->n_goal) {
        sum->goal_success /= sum->n_goal;
        sum->goals_solved /= sum->n_goal;
        sum->goal_norm = so > 0 ? sr / so : NAN;
    } else {
        sum->goal_success = sum->goals_solved = sum->goal_norm = NAN;
    }
    /* Reward tasks: the mean over tasks of each task's Σ return / Σ optimum. */
    sum->reward_norm = sum->n_reward && ro > 0 ? sum->reward_norm / sum->n_reward : NAN;
    sum->all_norm = (so + ro) > 0 ? (sr + rr) / (so + ro) : NAN;
    sum->goal_success_in = sum->n_goal_in ? sum->goal_success_in / sum->n_goal_in : NAN;
    sum->reward_norm_in = sum->n_reward_in ? sum->reward_norm_in / sum->n_reward_in : NAN;
    *tasks_out = tasks;
    *res_out = res;
    return RZ_OK;
}

/* Policy pictures: grids get Q (shade) and greedy arrows per cell; the maze gets rollouts. */
static int render(fb_agent *const *a, int n_agents, const rl_env *env, const rl_task *t, int n_labels, const float *labels,
                  const char *prefix, rz_err *e)
{
    char path[1024];
    snprintf(path, sizeof path, "%s-%s.png", prefix, t->name);
    int rc;
    float *z = rz_malloc((size_t)n_agents * FB_MAX_ZDIM * sizeof(float), e), *zk[FB_MAX_ENSEMBLE];
    if (!z) return RZ_EINTERNAL;
    for (int k = 0; k < n_agents; k++) zk[k] = z + (size_t)k * FB_MAX_ZDIM;
    const float *const *zc = (const float *const *)zk;
    fb_task_result r;
    if ((rc = fb_eval_task(a, n_agents, env, t, n_labels, labels, 1, 0, 1, &r, zk, e))) {
        free(z);
        return rc;
    }
    if (env->kind == RL_GRID) {
        int ns = env->grid.n_free, od = env->obs_dim;
        float *O = rz_malloc((size_t)ns * od * sizeof(float), e), *act = rz_malloc((size_t)ns * sizeof(float), e);
        float *Q = rz_malloc((size_t)ns * sizeof(float), e);
        double *q = rz_malloc((size_t)ns * sizeof(double), e);
        int *ia = rz_malloc((size_t)ns * sizeof(int), e);
        if (!O || !act || !Q || !q || !ia) rc = RZ_EINTERNAL;
        else {
            for (int s = 0; s < ns; s++) {
                float st[2] = {(float)(env->grid.cell_of[s] % env->grid.w), (float)(env->grid.cell_of[s] / env->grid.w)};
                rl_env_obs(env, st, O + (size_t)s * od);
            }
            rc = fb_ens_act(a, n_agents, ns, O, zc, act, Q, e);
            for (int s = 0; s < ns; s++) q[s] = Q[s], ia[s] = (int)act[s];
            if (!rc) rc = rl_grid_render(env, q, ia, t->is_goal ? rl_grid_id(env, t->goal) : -1, 24, path, e);
        }
        free(O), free(act), free(Q), free(q), free(ia);
    } else {
        /* Eight trajectories from seeded starts. */
        enum { NT = 8 };
        int T = env->horizon, sd = env->state_dim;
        float *traj = rz_malloc((size_t)NT * T * sd * sizeof(float), e);
        if (!traj) {
            free(z);
            return RZ_EINTERNAL;
        }
        rz_rng rng;
        rz_rng_seed(&rng, 5);
        float s[NT][4], obs[NT][4], act[NT][2];
        for (int i = 0; i < NT; i++) rl_env_reset(env, &rng, s[i]);
        rc = RZ_OK;
        for (int k = 0; k < T && !rc; k++) {
            for (int i = 0; i < NT; i++) rl_env_obs(env, s[i], obs[i]);
            rc = fb_ens_act(a, n_agents, NT, &obs[0][0], zc, &act[0][0], NULL, e);
            for (int i = 0; i < NT && !rc; i++) {
                float nx[4];
                rc = rl_env_step(env, s[i], act[i], &rng, nx, e);
                memcpy(s[i], nx, sizeof nx);
                memcpy(traj + ((size_t)i * T + k) * sd, nx, sd * sizeof(float));
            }
        }
        if (!rc) rc = rl_mj_render(env, t->is_goal ? t->goal : NULL, NT, T, traj, path, e);
        free(traj);
    }
    free(z);
    return rc;
}

static void pack_num(msgpack_packer *pk, const char *key, double v)
{
    rz_rec_key(pk, key);
    if (isnan(v)) msgpack_pack_nil(pk);
    else msgpack_pack_double(pk, v);
}

int ag_eval_main(int argc, char **argv)
{
    rz_cli c;
    const char *paths[FB_MAX_ENSEMBLE], *which = "all", *png = NULL, *split = NULL;
    long episodes = 10;
    int all_starts = 0, random_pol = 0;
    const char *goal_z = "goal";
    agent_list agents = {paths, 0};
    rz_opt opts[] = {
        RZ_O_FN("agent", 'a', "AGENT", opt_agent, &agents,
                "checkpoint from rz-agent train; given several times (up to 16,\n"
                "same environment), their ensemble: each infers its own z and\n"
                "the action maximises the sum of their Q values"),
        RZ_O_STR("tasks", 0, "T", which,
                 "goals (every free cell / the maze's four rooms), rewards (grids: reach\n"
                 "each room, stay in each corner) or all (default)"),
        RZ_O_LONG("episodes", 0, "N", episodes, 1, 100000, "episodes per task (default 10), from uniformly drawn starts"),
        RZ_O_STR("split", 0, "S", split,
                 "grids: only the validation goals (val: goal cell id ≡ 3 mod 4, what\n"
                 "train's validation selects on) or every other task (test)"),
        RZ_O_FLAG("all-starts", 0, all_starts,
                  "grids: instead one episode from every free cell (but a goal's\n"
                  "own): with slip 0 an exact score, free of start sampling"),
        RZ_O_STR("png", 0, "PREFIX", png,
                 "pictures: PREFIX-TASK.png of the greedy policy and Q (grids) or the\n"
                 "trajectories (maze), for the reward tasks and four goals"),
        RZ_O_FLAG("random", 0, random_pol,
                  "continuous actions: score uniform random actions instead of the\n"
                  "agent (the floor; -a still names the environment), same tasks and starts"),
        RZ_O_STR("goal-z", 0, "HOW", goal_z,
                 "goal tasks' z: goal (default, z = B(goal), the goal at rest) or labels\n"
                 "(inferred like a reward from the label states within the goal's radius;\n"
                 "one agent, continuous actions: a diagnostic of goal inference)"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    int n_agents = agents.n;
    if (first < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[first]);
    if (!n_agents) rz_cli_usage_error(&c, "-a AGENT is required");
    if (strcmp(which, "goals") && strcmp(which, "rewards") && strcmp(which, "all"))
        rz_cli_usage_error(&c, "--tasks %s: expected goals, rewards or all", which);
    if (split && strcmp(split, "val") && strcmp(split, "test")) rz_cli_usage_error(&c, "--split %s: expected val or test", split);
    /* Small matrices: one BLAS thread unless -t asks for more (threads spinning on a busy
     * 2-core machine cost far more than they give at batch 256). */
    openblas_set_num_threads(c.threads > 0 ? c.threads : 1);
    rz_err e = {0};
    /* The first agent's environment and label states serve the whole ensemble; every
     * other member must be trained on the same environment, observed the same way. */
    rz_agent_header h, hk;
    fb_agent *a[FB_MAX_ENSEMBLE];
    rl_env env, envk;
    int n_labels, nk;
    float *labels, *lk;
    const char *agent = paths[0];
    if (ag_agent_read(agent, &c.stream, &h, &a[0], &env, &n_labels, &labels, &e)) rz_cli_die(&c, &e);
    for (int k = 1; k < n_agents; k++) {
        if (ag_agent_read(paths[k], &c.stream, &hk, &a[k], &envk, &nk, &lk, &e)) rz_cli_die(&c, &e);
        if (rz_env_id_same(&h.env, &hk.env, "environment", &e)) {
            rz_wrap(&e, "%s: not the environment of %s", paths[k], agent);
            rz_cli_die(&c, &e);
        }
        if (hk.grid_obs != h.grid_obs) {
            rz_fail(&e, RZ_EINPUT, "%s: grid observations %d, %s has %d: an ensemble observes one way", paths[k], hk.grid_obs, agent, h.grid_obs);
            rz_cli_die(&c, &e);
        }
        free(lk);
        rz_env_id_free(&hk.env);
        rl_env_free(&envk);
    }
    if (env.kind == RL_POINTMASS && !strcmp(which, "all")) which = "goals";
    char which_split[32];
    if (split) snprintf(which_split, sizeof which_split, "%s:%s", which, split), which = which_split;
    uint64_t seed = c.seed_set ? c.seed : 1;
    rl_task *tasks;
    fb_task_result *res;
    ag_summary sum;
    if (all_starts && env.kind != RL_GRID) {
        rz_fail(&e, RZ_EINPUT, "%s: --all-starts needs a grid environment (this agent's is %s)", agent, env.name);
        rz_cli_die(&c, &e);
    }
    if (random_pol && (env.n_actions || png)) rz_cli_usage_error(&c, "--random: continuous actions only, without --png");
    if (strcmp(goal_z, "goal") && strcmp(goal_z, "labels")) rz_cli_usage_error(&c, "--goal-z %s: expected goal or labels", goal_z);
    goal_z_labels = !strcmp(goal_z, "labels");
    if (goal_z_labels && (n_agents > 1 || env.n_actions || png))
        rz_cli_usage_error(&c, "--goal-z labels: one agent, continuous actions, without --png");
    if (ag_evaluate(a, random_pol ? 0 : n_agents, &env, which, (int)episodes, all_starts, seed, n_labels, labels, &tasks, &res,
                    &sum, &c, &e))
        rz_cli_die(&c, &e);
    if (png) {
        int shown_goals = 0;
        for (int k = 0; k < sum.n_tasks; k++) {
            /* Reward tasks, and four goals spread over the list. */
            if (tasks[k].is_goal && !(sum.n_goal <= 4 || k % (sum.n_goal / 4) == sum.n_goal / 8)) continue;
            if (tasks[k].is_goal && ++shown_goals > 4) continue;
            if (render(a, n_agents, &env, &tasks[k], n_labels, labels, png, &e)) rz_cli_die(&c, &e);
        }
    }
    if (c.json || c.report) {
        msgpack_packer *pk = rz_report_begin(&c, 19);
        rz_rec_str(pk, "agent", agent);
        rz_rec_key(pk, "ensemble"); /* every member's path; the first is "agent" */
        msgpack_pack_array(pk, n_agents);
        for (int k = 0; k < n_agents; k++) msgpack_pack_str_with_body(pk, paths[k], strlen(paths[k]));
        rz_rec_str(pk, "env", env.name);
        rz_rec_str(pk, "algo", h.algo);
        rz_rec_str(pk, "data_policy", h.data_policy);
        rz_rec_int(pk, "steps_trained", h.steps_done);
        rz_rec_int(pk, "episodes", all_starts ? env.grid.n_free : episodes); /* a goal task: one fewer */
        rz_rec_str(pk, "starts", all_starts ? "all" : "uniform");
        rz_rec_int(pk, "n_tasks", sum.n_tasks);
        pack_num(pk, "goal_success", sum.goal_success);
        pack_num(pk, "goals_solved", sum.goals_solved);
        pack_num(pk, "goal_norm_return", sum.goal_norm);
        pack_num(pk, "reward_norm_return", sum.reward_norm);
        pack_num(pk, "norm_return", sum.all_norm);
        /* the tasks inside the data's support (the label states): the ceiling in view */
        rz_rec_int(pk, "n_goals_in_support", sum.n_goal_in);
        pack_num(pk, "goal_success_in_support", sum.goal_success_in);
        rz_rec_int(pk, "n_rewards_in_support", sum.n_reward_in);
        pack_num(pk, "reward_norm_return_in_support", sum.reward_norm_in);
        rz_rec_key(pk, "tasks");
        msgpack_pack_array(pk, sum.n_tasks);
        for (int k = 0; k < sum.n_tasks; k++) {
            msgpack_pack_map(pk, 7);
            rz_rec_str(pk, "name", tasks[k].name);
            rz_rec_str(pk, "kind", tasks[k].is_goal ? "goal" : "reward");
            pack_num(pk, "success", res[k].success);
            pack_num(pk, "return", res[k].ret);
            pack_num(pk, "optimal_return", res[k].opt);
            pack_num(pk, "norm_return", res[k].norm);
            rz_rec_key(pk, "in_support");
            sum.in_support[k] ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        }
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    } else {
        printf("%-24s %-6s %8s %9s %9s %8s\n", "task", "kind", "success", "return", "optimum", "norm");
        for (int k = 0; k < sum.n_tasks; k++)
            printf("%-24s %-6s %8.3f %9.2f %9.2f %8.3f\n", tasks[k].name, tasks[k].is_goal ? "goal" : "reward",
                   res[k].success, res[k].ret, res[k].opt, res[k].norm);
        printf("goals: %d, mean success %.3f, solved %.3f, normalised return %.3f\n", sum.n_goal, sum.goal_success,
               sum.goals_solved, sum.goal_norm);
        printf("rewards: %d, mean normalised return %.3f\n", sum.n_reward, sum.reward_norm);
        printf("inside the data's support: goals %d, mean success %.3f; rewards %d, mean normalised return %.3f\n",
               sum.n_goal_in, sum.goal_success_in, sum.n_reward_in, sum.reward_norm_in);
    }
    rl_tasks_free(tasks, sum.n_tasks);
    free(res), free(labels), free(sum.in_support);
    for (int k = 0; k < n_agents; k++) fb_destroy(a[k]);
    rz_env_id_free(&h.env);
    rl_env_free(&env);
    return 0;
}
