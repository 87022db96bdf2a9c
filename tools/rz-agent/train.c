/* train.c — `rz-agent train`: FB / VC-FB / MC-FB on an offline dataset.
 *
 * With --val-every N the agent is scored every N steps (and at the end) on the
 * validation goals only (offline.h: goal cells ≡ 3 mod 4, never the reported test
 * tasks), --val-episodes sampled starts per goal with a fixed seed; the checkpoint with
 * the strictly best validation goal success so far is written to --best (the reference's
 * selection, Jeen et al., which keeps the checkpoint of the best evaluation every 20k
 * steps — there on the reported tasks themselves). --curve writes the learning curve as
 * CSV (step, the training statistics averaged over the interval, validation success),
 * rewritten whole at each point. Validation uses no training RNG, so it leaves the
 * trained bits unchanged; --resume restarts the selection (the best so far is not kept
 * in the checkpoint).
 *
 * The checkpoint holds every bit of training state (parameters, targets, Adam moments,
 * log α, step counter, RNG), so `train --steps 400` equals `train --steps 200` followed by
 * `train --resume AGENT --steps 400` bit for bit (same thread count: OpenBLAS kernels
 * are deterministic for a fixed count). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "offline.h"
#include "rzagent.h"
#include "stats.h"

static const rz_cli_tool tool = {
    .name = "rz-agent train",
    .summary = "FB / VC-FB / MC-FB on an offline dataset, checkpointed as a record stream",
    .usage = "rz-agent train --algo fb|vcfb|mcfb -d DATA [options] -o AGENT\n"
             "rz-agent train --resume AGENT -d DATA --steps N -o AGENT\n",
    .examples = "rz-agent train --algo vcfb -d room.rz --steps 20000 --seed 2 -o vcfb.rz\n",
    .report = "algo, env, data_policy, steps, seconds, steps_per_s, fb_loss, ortho_loss, penalty, alpha, "
              "best_step, best_val_goal_success",
};

/* The learning curve: one CSV row per validation point, kept in memory and written whole
 * (temp + rename) each time, so the file is always complete. */
typedef struct {
    char *buf;
    size_t len, cap;
    double sum[5]; /* fb, ortho, penalty, alpha, Q: sums over the current interval */
    long n;
} curve;

static int curve_row(curve *cv, const char *path, int64_t step, double val, rz_err *e)
{
    static const char head[] = "step,fb_loss,ortho_loss,penalty,alpha,q_mean,val_goal_success\n";
    char row[320];
    double k = cv->n > 0 ? (double)cv->n : 1.0;
    int w = snprintf(row, sizeof row, "%s%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", cv->len ? "" : head, (long long)step,
                     cv->sum[0] / k, cv->sum[1] / k, cv->sum[2] / k, cv->sum[3] / k, cv->sum[4] / k, val);
    if (cv->len + (size_t)w > cv->cap) {
        size_t cap = 2 * (cv->cap + (size_t)w);
        char *nb = realloc(cv->buf, cap);
        if (!nb) return rz_fail(e, RZ_EINTERNAL, "out of memory for the learning curve");
        cv->buf = nb, cv->cap = cap;
    }
    memcpy(cv->buf + cv->len, row, (size_t)w);
    cv->len += (size_t)w;
    memset(cv->sum, 0, sizeof cv->sum);
    cv->n = 0;
    if (!path) return RZ_OK;
    rz_outfile o;
    int rc = rz_outfile_open(&o, path, e);
    if (rc) return rc;
    if (fwrite(cv->buf, 1, cv->len, o.f) != cv->len) {
        rz_outfile_abort(&o);
        return rz_fail(e, RZ_EINTERNAL, "%s: write failed", path);
    }
    return rz_outfile_commit(&o, e);
}

/* Validation goal success of the current agent (the goals of the validation split). */
static int validate(fb_agent *a, const rl_env *env, int episodes, int n_labels, const float *labels, double *score, rz_err *e)
{
    rl_task *tasks;
    fb_task_result *res;
    ag_summary sum;
    int rc = ag_evaluate(&a, 1, env, "goals:val", episodes, 0, 4242, n_labels, labels, &tasks, &res, &sum, NULL, e);
    if (rc) return rc;
    *score = sum.goal_success;
    rl_tasks_free(tasks, sum.n_tasks);
    free(res), free(sum.in_support);
    return RZ_OK;
}

int ag_train_main(int argc, char **argv)
{
    rz_cli c;
    const char *algos = NULL, *data = NULL, *resume = NULL, *obs = "onehot";
    long steps = 20000, ckpt = 0, nlabels = 10000, val_every = 0, val_episodes = 4;
    const char *best_path = NULL, *curve_path = NULL;
    ag_flags f;
    ag_flags_init(&f);
    rz_opt flag_opts[AG_FLAG_OPTS];
    ag_flags_opts(&f, flag_opts);
    rz_opt opts[] = {
        RZ_O_STR("algo", 0, "A", algos,
                 "fb (Touati & Ollivier), vcfb or mcfb (value-/measure-conservative,\n"
                 "Jeen et al. 2024)"),
        RZ_O_STR("data", 'd', "DATA", data, "dataset from rz-agent collect"),
        RZ_O_LONG("steps", 0, "N", steps, 1, 1000000000, "total gradient steps (default 20000)"),
        RZ_O_TABLE(flag_opts),
        RZ_O_STR("obs", 0, "M", obs, "grid observations: onehot (default), onehot-xy, xy"),
        RZ_O_STR("resume", 0, "AGENT", resume, "continue a checkpoint (its configuration is kept)"),
        RZ_O_LONG("checkpoint-every", 0, "N", ckpt, 1, 1000000000, "also write -o every N steps"),
        RZ_O_LONG("labels", 0, "N", nlabels, 1, 1000000, "dataset states kept for reward inference (default 10000)"),
        RZ_O_LONG("val-every", 0, "N", val_every, 1, 1000000000,
                  "grids: every N steps and at the end, score the validation goals\n"
                  "(cell id ≡ 3 mod 4; eval's test split reports the others)"),
        RZ_O_LONG("val-episodes", 0, "E", val_episodes, 1, 10000, "--val-every: sampled starts per validation goal (default 4)"),
        RZ_O_STR("best", 0, "AGENT", best_path, "--val-every: write the checkpoint of the best validation score here"),
        RZ_O_STR("curve", 0, "CSV", curve_path, "--val-every: the learning curve (training losses, validation success)"),
        RZ_O_END};
    int operand = rz_cli_parse(&c, &tool, opts, argc, argv);
    /* options that would change the configuration a checkpoint keeps */
    int changed = rz_cli_opt(opts, "algo")->seen + rz_cli_opt(opts, "obs")->seen + rz_cli_opt(opts, "labels")->seen;
    for (const rz_opt *o = flag_opts; o->kind != RZ_ARG_END; o++) changed += o->seen;
    if (operand < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[operand]);
    if (!data) rz_cli_usage_error(&c, "-d DATA is required");
    if (!c.output) rz_cli_usage_error(&c, "-o AGENT is required");
    if (!resume && !algos) rz_cli_usage_error(&c, "--algo is required (fb, vcfb or mcfb)");
    if ((best_path || curve_path) && !val_every) rz_cli_usage_error(&c, "--best and --curve need --val-every N");
    if (resume && changed > 0) rz_cli_usage_error(&c, "--resume keeps the checkpoint's configuration: only -d, --steps, --checkpoint-every, -o may be given");
    /* Small matrices: one BLAS thread unless -t asks for more (threads spinning on a busy
     * 2-core machine cost far more than they give at batch 256). */
    openblas_set_num_threads(c.threads > 0 ? c.threads : 1);
    rz_err e = {0};
    ag_dataset d;
    rl_env env;
    if (ag_dataset_read(data, &c.stream, &d, &env, &e)) rz_cli_die(&c, &e);
    rz_agent_header h;
    memset(&h, 0, sizeof h);
    fb_agent *a = NULL;
    float *labels = NULL;
    int n_labels = 0;
    if (resume) {
        rl_env aenv;
        if (ag_agent_read(resume, &c.stream, &h, &a, &aenv, &n_labels, &labels, &e)) rz_cli_die(&c, &e);
        if (rz_env_id_same(&h.env, &d.h.env, data, &e)) rz_cli_die(&c, &e);
        if (strcmp(h.data_policy, d.h.policy) || h.data_steps != d.h.steps) {
            rz_fail(&e, RZ_EINPUT, "%s: dataset (policy %s, %lld steps) is not the one %s was trained on (policy %s, %lld steps)",
                    data, d.h.policy, (long long)d.h.steps, resume, h.data_policy, (long long)h.data_steps);
            rz_cli_die(&c, &e);
        }
        rl_env_free(&env);
        env = aenv;
    } else {
        fb_algo algo;
        if (fb_algo_parse(algos, &algo)) rz_cli_usage_error(&c, "--algo %s: expected fb, vcfb or mcfb", algos);
        rl_grid_obs go = !strcmp(obs, "onehot") ? RL_OBS_ONEHOT : !strcmp(obs, "onehot-xy") ? RL_OBS_ONEHOT_XY
                         : !strcmp(obs, "xy")   ? RL_OBS_XY : (rl_grid_obs)-1;
        if ((int)go < 0) rz_cli_usage_error(&c, "--obs %s: expected onehot, onehot-xy or xy", obs);
        rl_env_set_grid_obs(&env, go);
        fb_config cfg;
        ag_config_defaults(&cfg, algo, &env);
        if (ag_config_apply(&cfg, &f, steps, &e)) rz_cli_die(&c, &e);
        uint64_t seed = c.seed_set ? c.seed : 1;
        if (fb_create(&cfg, seed, &a, &e)) rz_cli_die(&c, &e);
        if (ag_env_id(&env, &h.env, &e)) rz_cli_die(&c, &e);
        h.grid_obs = go;
        ag_config_to_header(&cfg, &h);
        h.seed = (int64_t)seed;
        snprintf(h.dataset, sizeof h.dataset, "%.255s", data);
        snprintf(h.data_policy, sizeof h.data_policy, "%s", d.h.policy);
        h.data_steps = d.h.steps;
        /* Labels: dataset next-states (ρ for reward inference; offline.h rl_data_labels). */
        n_labels = (int)(nlabels < d.n ? nlabels : d.n);
        labels = rz_malloc((size_t)n_labels * env.state_dim * sizeof(float), &e);
        if (!labels) rz_cli_die(&c, &e);
        rl_data_labels(d.n, env.state_dim, d.S2, n_labels, seed, labels);
    }
    float *O, *O2;
    if (ag_dataset_obs(&env, &d, &O, &O2, &e)) rz_cli_die(&c, &e);
    fb_data fd = {d.n, env.obs_dim, env.act_dim, O, d.A, O2, NULL};
    const fb_config *cfg = fb_cfg(a);
    rz_cli_progress(&c, 1, "training %s on %s (%ld transitions, %s, d=%d, %d×%d, batch %d) from step %lld to %ld",
                    fb_algo_name(cfg->algo), env.name, d.n, d.h.policy, cfg->zdim, cfg->layers, cfg->hidden, cfg->batch,
                    (long long)fb_steps(a), steps);
    double t0 = rz_now();
    int64_t first = fb_steps(a);
    fb_stats st;
    memset(&st, 0, sizeof st);
    if (val_every && env.kind != RL_GRID) {
        rz_fail(&e, RZ_EINPUT, "%s: --val-every needs a grid environment (validation goals), not %s", data, env.name);
        rz_cli_die(&c, &e);
    }
    rl_best best;
    rl_best_init(&best);
    curve cv = {0};
    while (fb_steps(a) < steps) {
        if (fb_train_step(a, &fd, &st, &e)) rz_cli_die(&c, &e);
        int64_t k = fb_steps(a);
        double sv[5] = {st.fb_loss, st.ortho_loss, st.penalty, st.alpha, st.q_mean};
        for (int q = 0; q < 5; q++) cv.sum[q] += sv[q];
        cv.n++;
        if (val_every && (k % val_every == 0 || k == steps)) {
            double score;
            if (validate(a, &env, (int)val_episodes, n_labels, labels, &score, &e)) rz_cli_die(&c, &e);
            if (curve_row(&cv, curve_path, k, score, &e)) rz_cli_die(&c, &e);
            if (rl_best_update(&best, k, score) && best_path) {
                h.steps_done = k;
                if (ag_agent_write(best_path, &c.stream, &h, a, n_labels, labels, env.state_dim, &e)) rz_cli_die(&c, &e);
            }
            rz_cli_progress(&c, 1, "step %lld: validation goal success %.3f (best %.3f at step %lld)", (long long)k, score,
                            best.score, (long long)best.step);
        }
        rz_cli_progress(&c, k == steps, "step %lld/%ld  fb %.3f  ortho %.3f  qloss %.3g  penalty %.3f  alpha %.3g  Q %.2f  (%.0f steps/s)",
                        (long long)k, steps, st.fb_loss, st.ortho_loss, st.q_loss, st.penalty, st.alpha, st.q_mean,
                        (k - first) / (rz_now() - t0 + 1e-9));
        if (ckpt && k % ckpt == 0 && k < steps) {
            h.steps_done = k;
            if (ag_agent_write(c.output, &c.stream, &h, a, n_labels, labels, env.state_dim, &e)) rz_cli_die(&c, &e);
        }
    }
    h.steps_done = fb_steps(a);
    if (ag_agent_write(c.output, &c.stream, &h, a, n_labels, labels, env.state_dim, &e)) rz_cli_die(&c, &e);
    double secs = rz_now() - t0;
    if (c.json || c.report) {
        msgpack_packer *pk = rz_report_begin(&c, 12);
        rz_rec_str(pk, "algo", fb_algo_name(cfg->algo));
        rz_rec_str(pk, "env", env.name);
        rz_rec_str(pk, "data_policy", d.h.policy);
        rz_rec_int(pk, "steps", fb_steps(a));
        rz_rec_f64(pk, "seconds", secs);
        rz_rec_f64(pk, "steps_per_s", (fb_steps(a) - first) / (secs + 1e-9));
        rz_rec_f64(pk, "fb_loss", st.fb_loss);
        rz_rec_f64(pk, "ortho_loss", st.ortho_loss);
        rz_rec_f64(pk, "penalty", st.penalty);
        rz_rec_f64(pk, "alpha", st.alpha);
        rz_rec_int(pk, "best_step", best.step); /* −1 without --val-every */
        rz_rec_key(pk, "best_val_goal_success");
        if (best.step < 0) msgpack_pack_nil(pk);
        else msgpack_pack_double(pk, best.score);
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    free(O), free(O2), free(labels), free(cv.buf);
    fb_destroy(a);
    rz_env_id_free(&h.env);
    ag_dataset_free(&d);
    rl_env_free(&env);
    return 0;
}
