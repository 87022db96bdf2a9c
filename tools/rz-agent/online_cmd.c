/* online_cmd.c — `rz-agent online`: online FB, or FB-CPR with --cpr and an expert stream,
 * on any continuous-action environment (tools/core/rl/online.h for the loop, fbcpr.h
 * for the update). The checkpoint is an agent checkpoint (rz-agent eval reads it) plus
 * the online state, so `online --steps 20000` equals `online --steps 10000` followed by
 * `online --resume CKPT --steps 20000` bit for bit (same BLAS thread count).
 * Under mpirun every rank loads the same inputs (checked: rz_cli_agree), steps its block
 * of the environments, and runs the update replicated (online.h); rank 0 alone writes
 * the checkpoint and the report, which equal a plain run's for any rank count. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "online.h"
#include "rzagent.h"

static const rz_cli_tool tool = {
    .name = "rz-agent online",
    .summary = "online FB, or FB-CPR regularised towards unlabelled expert trajectories",
    .usage = "rz-agent online --env pointmass-maze [--cpr --expert EXPERT] [--steps N] [options] -o CKPT\n"
             "rz-agent online --resume CKPT [--expert EXPERT] --steps N -o CKPT\n",
    .examples = "rz-agent expert --env pointmass-maze --trajectories 200 -o expert.rz\n"
                "rz-agent online --env pointmass-maze --cpr --expert expert.rz --steps 50000 -o cpr.rz\n"
                "rz-agent track -a cpr.rz --expert held.rz --dims 2 --json\n"
                "mpirun -np 2 rz-agent online --env pointmass-maze --cpr --expert expert.rz --envs 8 -t 1 --steps 50000 -o cpr.rz\n",
    .about = "Under mpirun (-np R, R <= --envs) the environments are split in contiguous blocks\n"
             "over the ranks and each rank steps its block; the step results are exchanged in\n"
             "environment order and every rank runs the same update on the same data\n"
             "(replicated), so the checkpoint and report equal a plain run's bit for bit.\n"
             "Ranks can speed up the environment steps only (given free cores): the update is\n"
             "not split (FB's loss couples every pair of rows of a batch). Every rank must be\n"
             "given the same flags and files (and -t: BLAS threads); rank 0 alone writes -o\n"
             "and the report; ranks whose copies of the run drift apart exit 1.\n",
    .report = "env, cpr, fall, init_expert, init_fall, fall_steps, env_steps, updates, seconds, env_steps_per_s, updates_per_s, fb_loss, ortho_loss, "
              "actor_loss, disc_loss, disc_expert, disc_train, grad_penalty, critic_loss, disc_reward, q_disc, q_fb",
};

typedef struct {
    long envs, buffer, seed_steps, update_every, updates, z_every, episode_len, seq, disc_hidden, disc_layers, norm_obs, z_buffer;
    double goal, expert, reg, gp, lr_disc, lr_critic, norm_momentum, init_expert, init_fall;
    long fall_steps;
    const char *rollout_z, *fall;
} online_flags;

static void progress(void *ctx, const rl_online *o)
{
    rz_cli *c = ctx;
    const fbcpr_stats *s = rl_online_last(o);
    rz_cli_progress(c, 0, "env step %lld  updates %lld  fb %.3f  actor %.3f  disc %.3f  gp %.3f  critic %.3f  r %.2f",
                    (long long)rl_online_env_steps(o), (long long)rl_online_updates(o), s->fb.fb_loss, s->actor_loss,
                    s->disc_loss, s->gp, s->critic_loss, s->reward);
}

/* A fresh run's configuration from the defaults and the flags given. */
static int setup_new(rz_cli *c, const rz_opt *opts, const ag_flags *f, const online_flags *of, int cpr, const rl_env *env,
                     long steps, fb_config *cfg, fbcpr_config *cc, rl_online_config *oc, rz_err *e)
{
    ag_config_defaults(cfg, FB_ALGO_FB, env);
    rl_online_config_default(oc, env);
#define SET(name, dst, val) \
    if (rz_cli_opt(opts, name)->seen) dst = val
    SET("envs", oc->n_envs, (int)of->envs);
    SET("buffer", oc->buffer, of->buffer);
    SET("seed-steps", oc->seed_steps, of->seed_steps);
    SET("update-every", oc->update_every, of->update_every);
    SET("updates", oc->updates, (int)of->updates);
    SET("z-every", oc->z_every, (int)of->z_every);
    SET("episode-len", oc->episode_len, (int)of->episode_len);
    SET("norm-momentum", oc->norm_momentum, of->norm_momentum);
    SET("z-buffer", oc->z_buffer, of->z_buffer);
    if (of->rollout_z && (oc->rollout_z = rz_rollout_z_parse(of->rollout_z)) < 0)
        return rz_fail(e, RZ_EINPUT, "--rollout-z '%s': expected mixture, buffer or sphere", of->rollout_z);
    if (of->fall && (oc->fall = rz_online_fall_parse(of->fall)) < 0)
        return rz_fail(e, RZ_EINPUT, "--fall '%s': expected end or continue", of->fall);
    SET("init-expert", oc->init_expert, of->init_expert);
    SET("init-fall", oc->init_fall, of->init_fall);
    SET("fall-steps", oc->fall_steps, (int)of->fall_steps); /* the start-state rules: rl_online_create checks them */
    if (ag_config_apply(cfg, f, steps / oc->update_every * oc->updates, e)) return RZ_EINPUT;
    cfg->norm_obs = (int)of->norm_obs; /* the reference's default: on */
    fbcpr_config_default(cc);
    cc->cpr = cpr;
    SET("seq-length", cc->seq_length, (int)of->seq);
    SET("goal-ratio", cc->goal_ratio, (float)of->goal);
    SET("expert-ratio", cc->expert_ratio, (float)of->expert);
    SET("reg", cc->reg_coeff, (float)of->reg);
    SET("grad-penalty", cc->grad_penalty, (float)of->gp);
    SET("lr-disc", cc->lr_disc, (float)of->lr_disc);
    SET("lr-critic", cc->lr_critic, (float)of->lr_critic);
    SET("disc-hidden", cc->disc_hidden, (int)of->disc_hidden);
    SET("disc-layers", cc->disc_layers, (int)of->disc_layers);
#undef SET
    (void)c;
    return RZ_OK;
}

int ag_online_main(int argc, char **argv)
{
    rz_cli c;
    const char *envs = NULL, *expert = NULL, *resume = NULL;
    long steps = 20000, ckpt = 0, nlabels = 10000;
    int cpr = 0;
    ag_flags f;
    ag_flags_init(&f);
    rz_opt flag_opts[AG_FLAG_OPTS];
    ag_flags_opts(&f, flag_opts);
    online_flags of = {.norm_obs = 1};
    rz_opt opts[] = {
        RZ_O_STR("env", 0, "E", envs, "a continuous-action environment (pointmass-maze, or another kind's name)"),
        RZ_O_FLAG("cpr", 0, cpr, "FB-CPR: regularise the policy towards --expert (default: plain online FB)"),
        RZ_O_STR("expert", 0, "EXPERT", expert, "unlabelled expert stream (agent_expert; rz-agent expert)"),
        RZ_O_LONG("steps", 0, "N", steps, 1, 2000000000, "total environment steps (default 20000)"),
        RZ_O_LONG("envs", 0, "N", of.envs, 1, 4096, "environments acting in rounds: one batched actor forward, steps on the -t workers (default 4)"),
        RZ_O_LONG("buffer", 0, "N", of.buffer, 1, 1L << 26, "replay capacity, FIFO (default 100000)"),
        RZ_O_LONG("seed-steps", 0, "N", of.seed_steps, 0, 2000000000, "first environment steps with uniform actions (2000)"),
        RZ_O_LONG("update-every", 0, "N", of.update_every, 1, 1 << 20, "environment steps between rounds of updates (4)"),
        RZ_O_LONG("updates", 0, "N", of.updates, 0, 1 << 20, "gradient steps per round (1)"),
        RZ_O_LONG("z-every", 0, "N", of.z_every, 1, 1 << 30, "steps between rollout-z redraws (50)"),
        RZ_O_LONG("episode-len", 0, "N", of.episode_len, 1, 1 << 30, "steps between resets (the env's)"),
        RZ_O_LONG("norm-obs", 0, "0|1", of.norm_obs, 0, 1, "running observation statistics in front of every network (1)"),
        RZ_O_F64("norm-momentum", 0, "M", of.norm_momentum, 0, 1, "their momentum per batch update (0.01)"),
        RZ_O_STR("rollout-z", 0, "R", of.rollout_z, "rollout zs: mixture (fresh draws from the training mixture; default), buffer (recent training zs), sphere"),
        RZ_O_LONG("z-buffer", 0, "N", of.z_buffer, 1, 1 << 24, "--rollout-z buffer: training zs kept (10000)"),
        RZ_O_STR("fall", 0, "end|continue", of.fall,
                 "a fall (the humanoid's torso below 0.8 m) ends the episode as a\n"
                 "terminal transition (end; default), or the fallen body stays in the\n"
                 "episode until --episode-len, no transition terminal (continue: the\n"
                 "reference environment's)"),
        RZ_O_F64("init-expert", 0, "P", of.init_expert, 0, 1,
                 "share of resets to a state drawn from --expert's states (0; needs\n"
                 "--expert, also without --cpr)"),
        RZ_O_F64("init-fall", 0, "P", of.init_fall, 0, 1,
                 "share of resets to a fallen body (dropped from a random orientation,\n"
                 "--fall-steps of random torques; needs --fall continue) (0); the rest\n"
                 "of the resets: the default pose"),
        RZ_O_LONG("fall-steps", 0, "N", of.fall_steps, 0, RL_FALL_STEPS_MAX, "a fallen start's steps of falling (40: it lies on the floor)"),
        RZ_O_LONG("seq-length", 0, "L", of.seq, 1, FB_MAX_TRAJ_LEN, "expert window length, divides --batch (8)"),
        RZ_O_F64("goal-ratio", 0, "R", of.goal, 0, 1, "zs from B(replay next-state) (0.2)"),
        RZ_O_F64("expert-ratio", 0, "R", of.expert, 0, 1, "zs from expert windows, --cpr (0.6)"),
        RZ_O_F64("reg", 0, "C", of.reg, 0, 1e6, "weight of the discriminator critic in the actor loss (0.01)"),
        RZ_O_F64("grad-penalty", 0, "C", of.gp, 0, 1e6, "discriminator gradient-penalty weight (10)"),
        RZ_O_F64("lr-disc", 0, "X", of.lr_disc, 1e-9, 1, "discriminator learning rate (1e-5)"),
        RZ_O_F64("lr-critic", 0, "X", of.lr_critic, 1e-9, 1, "critic learning rate (1e-4)"),
        RZ_O_LONG("disc-hidden", 0, "H", of.disc_hidden, 1, FB_MAX_HIDDEN, "discriminator width (256)"),
        RZ_O_LONG("disc-layers", 0, "L", of.disc_layers, 1, FB_MAX_LAYERS, "discriminator hidden layers (2)"),
        RZ_O_TABLE(flag_opts),
        RZ_O_STR("resume", 0, "CKPT", resume, "continue an online checkpoint (its configuration is kept)"),
        RZ_O_LONG("checkpoint-every", 0, "N", ckpt, 1, 2000000000, "also write -o every N environment steps"),
        RZ_O_LONG("labels", 0, "N", nlabels, 1, 1000000, "replay states kept for reward inference (10000)"),
        RZ_O_END};
    int operand = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (operand < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[operand]);
    if (!c.output) rz_cli_usage_error(&c, "-o CKPT is required");
    int changed = 0;
    for (const rz_opt *o = opts; o->kind != RZ_ARG_END; o++)
        if (o->kind != RZ_ARG_TABLE && o->seen && strcmp(o->name, "steps") && strcmp(o->name, "expert") &&
            strcmp(o->name, "resume") && strcmp(o->name, "checkpoint-every"))
            changed++;
    for (const rz_opt *o = flag_opts; o->kind != RZ_ARG_END; o++) changed += o->seen;
    if (resume && changed) rz_cli_usage_error(&c, "--resume keeps the checkpoint's configuration: only --expert, --steps, --checkpoint-every, -o may be given");
    if (!resume && !envs) rz_cli_usage_error(&c, "--env is required");
    /* training flags of the offline agents that online training does not use */
    const char *unused[] = {"mix", "traj", "traj-len", "alpha", "lagrange", "cpen", "reference"};
    for (size_t q = 0; q < sizeof unused / sizeof *unused; q++)
        if (rz_cli_opt(flag_opts, unused[q])->seen)
            rz_cli_usage_error(&c, "--%s does not apply to online training (zs come from --goal-ratio/--expert-ratio; no conservative penalty)",
                               unused[q]);
    if (!resume && cpr && !expert) rz_cli_usage_error(&c, "--cpr needs --expert EXPERT");
    if (!resume && of.init_expert > 0 && !expert) rz_cli_usage_error(&c, "--init-expert needs --expert EXPERT");
    int rank0 = rz_cluster_rank() == 0;
    if (expert) rz_cli_need_file_under_mpi(&c, "expert stream", expert);
    if (resume) rz_cli_need_file_under_mpi(&c, "checkpoint", resume);
    rz_cli_agree(&c); /* the same flags and input files on every rank (a no-op in plain runs) */
    int blas_threads = c.threads > 0 ? c.threads : 1;
    openblas_set_num_threads(blas_threads);
    rz_err e = {0};
    rl_env env;
    rz_agent_header h;
    memset(&h, 0, sizeof h);
    fb_agent *a = NULL;
    fbcpr *cp = NULL;
    rl_online *o = NULL;
    rl_expert x;
    memset(&x, 0, sizeof x);
    int have_x = 0;
    char expert_buf[sizeof ((rz_online_header *)0)->expert];
    rz_online_header oh; /* the run's online header (for the report) */
    if (resume) {
        if (rl_online_load(resume, &c.stream, &h, &oh, &a, &cp, &o, &env, &e)) rz_cli_die(&c, &e);
        cpr = oh.cpr;
        int need_x = cpr || oh.init_expert > 0;
        if (need_x && !expert && oh.expert[0]) expert = memcpy(expert_buf, oh.expert, sizeof expert_buf);
        if (need_x && !expert) rz_cli_usage_error(&c, "%s records no expert stream: give --expert", resume);
    } else {
        if (rl_env_make(&env, envs, 0, &e)) rz_cli_die(&c, &e);
        fb_config cfg;
        fbcpr_config cc;
        rl_online_config oc;
        if (setup_new(&c, opts, &f, &of, cpr, &env, steps, &cfg, &cc, &oc, &e)) rz_cli_die(&c, &e);
        uint64_t seed = c.seed_set ? c.seed : 1;
        if (fb_create(&cfg, seed, &a, &e) || fbcpr_create(a, &cc, seed ^ 0x637072ULL, &cp, &e) ||
            rl_online_create(&env, cp, NULL, &oc, seed ^ 0x6f6e6c696e65ULL, &o, &e))
            rz_cli_die(&c, &e);
        if (ag_env_id(&env, &h.env, &e)) rz_cli_die(&c, &e);
        h.seed = (int64_t)seed;
        snprintf(h.dataset, sizeof h.dataset, "online");
    }
    rl_online_header(o, &oh);
    int use_x = cpr || oh.init_expert > 0; /* the expert data: CPR's windows, expert starts */
    if (use_x) {
        rl_env xenv;
        if (rl_expert_read(expert, &c.stream, &env, &x, &xenv, &e)) rz_cli_die(&c, &e);
        rl_env_free(&xenv);
        have_x = 1;
        rl_online_attach_expert(o, &x);
        long nw = rl_expert_windows(&x, fbcpr_cfg(cp)->seq_length + 1);
        if (cpr && nw < 1) {
            rz_fail(&e, RZ_EINPUT, "%s: no trajectory has %d states (seq_length + 1)", expert, fbcpr_cfg(cp)->seq_length + 1);
            rz_cli_die(&c, &e);
        }
    }
    rl_online_set_threads(o, c.threads > 0 ? c.threads : 1); /* environment workers: same bits for any -t */
    if (rz_cluster_size() > 1) {
        /* the replicated update's bits on every rank need the same BLAS thread count */
        char item[64];
        const char *items[1] = {item};
        snprintf(item, sizeof item, "-t %d (BLAS threads)", blas_threads);
        if (rz_cluster_agree(items, 1, &e) || rl_online_set_ranks(o, 1, &e)) rz_cli_die(&c, &e);
        rz_cluster_barrier(); /* every rank has read its inputs before rank 0 may replace -o */
    }
    rz_cli_progress(&c, 1, "online %s on %s from env step %lld to %ld", cpr ? "FB-CPR" : "FB", env.name,
                    (long long)rl_online_env_steps(o), steps);
    double t0 = rz_now();
    int64_t s0 = rl_online_env_steps(o), u0 = rl_online_updates(o);
    for (int64_t next = s0; next < steps;) {
        next = ckpt ? (next / ckpt + 1) * ckpt : steps;
        if (next > steps) next = steps;
        if (rl_online_run(o, next, progress, &c, &e)) rz_cli_die(&c, &e);
        if (rank0 && next < steps && rl_online_save(o, c.output, &c.stream, &h, (int)nlabels, use_x ? expert : NULL, &e))
            rz_cli_die(&c, &e);
    }
    if (rank0 && rl_online_save(o, c.output, &c.stream, &h, (int)nlabels, use_x ? expert : NULL, &e)) rz_cli_die(&c, &e);
    double secs = rz_now() - t0;
    if (rank0 && (c.json || c.report)) {
        const fbcpr_stats *s = rl_online_last(o);
        msgpack_packer *pk = rz_report_begin(&c, 22);
        rz_rec_str(pk, "env", env.name);
        rz_rec_int(pk, "cpr", cpr);
        rz_rec_str(pk, "fall", oh.fall == RL_FALL_CONTINUE ? "continue" : "end");
        rz_rec_f64(pk, "init_expert", oh.init_expert);
        rz_rec_f64(pk, "init_fall", oh.init_fall);
        rz_rec_int(pk, "fall_steps", oh.fall_steps);
        rz_rec_int(pk, "env_steps", rl_online_env_steps(o));
        rz_rec_int(pk, "updates", rl_online_updates(o));
        rz_rec_f64(pk, "seconds", secs);
        rz_rec_f64(pk, "env_steps_per_s", (rl_online_env_steps(o) - s0) / (secs + 1e-9));
        rz_rec_f64(pk, "updates_per_s", (rl_online_updates(o) - u0) / (secs + 1e-9));
        rz_rec_f64(pk, "fb_loss", s->fb.fb_loss);
        rz_rec_f64(pk, "ortho_loss", s->fb.ortho_loss);
        rz_rec_f64(pk, "actor_loss", s->actor_loss);
        rz_rec_f64(pk, "disc_loss", s->disc_loss);
        rz_rec_f64(pk, "disc_expert", s->disc_expert);
        rz_rec_f64(pk, "disc_train", s->disc_train);
        rz_rec_f64(pk, "grad_penalty", s->gp);
        rz_rec_f64(pk, "critic_loss", s->critic_loss);
        rz_rec_f64(pk, "disc_reward", s->reward);
        rz_rec_f64(pk, "q_disc", s->q_disc);
        rz_rec_f64(pk, "q_fb", s->q_fb);
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    rl_online_free(o);
    fbcpr_destroy(cp);
    fb_destroy(a);
    if (have_x) rl_expert_free(&x);
    rz_env_id_free(&h.env);
    rl_env_free(&env);
    return 0;
}
