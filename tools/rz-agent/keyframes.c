/* keyframes.c — `rz-agent keyframes`: keyframe motion files PD-tracked on the humanoid
 * into an unlabelled expert stream (states only; tools/core/rl/pdtrack.h, expert.h),
 * with an optional picture of the first motion as tracked. */
#include <stdlib.h>
#include <string.h>

#include "humanoid.h"
#include "pdtrack.h"
#include "rzagent.h"

static const rz_cli_tool tool = {
    .name = "rz-agent keyframes",
    .summary = "keyframe motions PD-tracked on the MuJoCo humanoid into an unlabelled expert dataset",
    .usage = "rz-agent keyframes [--model PATH] [--repeats N] [--jitter F] [--hold S] [--kp K] [--kd D]\n"
             "                   [--picture PNG] [--seed N] -o EXPERT MOTION.kf...\n",
    .about = "Each motion file (format in tools/core/rl/keyframe.h) gives joint targets over time;\n"
             "a PD servo at MuJoCo's rate tracks them from a standing start, and the simulated\n"
             "states, every 25 ms, become one trajectory. Repeats after the first scale time and\n"
             "amplitude by up to ±jitter. A trajectory that falls ends before the fall.\n",
    .examples = "rz-agent keyframes --repeats 8 -o expert.rz pipeline/motions/*.kf\n"
                "rz-agent keyframes --picture crouch.png -o crouch.rz pipeline/motions/crouch.kf\n",
    .report = "env, motions, trajectories, states, falls, output",
};

int ag_keyframes_main(int argc, char **argv)
{
    rz_cli c;
    const char *model = NULL, *picture = NULL;
    rl_pdtrack_opts o;
    rl_pdtrack_defaults(&o);
    long repeats = 1;
    rz_opt opts[] = {
        AG_OPT_MODEL(model),
        RZ_O_LONG("repeats", 0, "N", repeats, 1, 100000, "trajectories per motion (default 1)"),
        RZ_O_F64("jitter", 0, "F", o.jitter, 0, 0.5, "repeats' time and amplitude scale range 1 ± F (default 0.1)"),
        RZ_O_F64("hold", 0, "S", o.hold, 0, 60, "seconds the last pose is held (default 0.5)"),
        RZ_O_F64("kp", 0, "K", o.kp, 0, 1e4, "PD stiffness, ctrl units per rad (default 20)"),
        RZ_O_F64("kd", 0, "D", o.kd, 0, 1e3, "PD damping, ctrl units per rad/s (default 0.1)"),
        RZ_O_STR("picture", 0, "PNG", picture, "joint targets vs tracked angles and stick figures of the first motion"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (first >= argc) rz_cli_usage_error(&c, "no motion files given");
    if (argc - first > 1000) rz_cli_usage_error(&c, "at most 1000 motion files");
    c.output = rz_cli_records_out(&c);
    o.repeats = (int)repeats;
    o.seed = c.seed_set ? c.seed : 1;
    rz_err e = {0};
    char spec[4200];
    if (ag_env_spec("humanoid", model, spec, sizeof spec, &e)) rz_cli_die(&c, &e);
    rl_env env;
    if (rl_env_make(&env, spec, 0, &e)) rz_cli_die(&c, &e);
    int nm = argc - first;
    rl_keyframes *k = calloc((size_t)nm, sizeof *k);
    int *kept = calloc((size_t)nm, sizeof *kept), *fell = calloc((size_t)nm, sizeof *fell);
    if (!k || !kept || !fell) {
        rz_fail(&e, RZ_EINTERNAL, "out of memory");
        rz_cli_die(&c, &e);
    }
    for (int m = 0; m < nm; m++)
        if (rl_kf_load(argv[first + m], &k[m], &e)) rz_cli_die(&c, &e);
    rl_expert x;
    if (rl_expert_init(&x, &env, "keyframe-pd", (int64_t)o.seed, &e)) rz_cli_die(&c, &e);
    rz_cli_progress(&c, 1, "tracking %d motions × %d repeats on %s", nm, o.repeats, env.map_text);
    if (rl_pdtrack_expert(&env, k, nm, &o, &x, kept, fell, &e)) rz_cli_die(&c, &e);
    int falls = 0;
    for (int m = 0; m < nm; m++) {
        falls += fell[m];
        rz_cli_progress(&c, 1, "%s: %d of %d kept, %d fell", k[m].name, kept[m], o.repeats, fell[m]);
    }
    if (x.n_traj == 0) {
        rz_fail(&e, RZ_EINPUT, "no trajectory was kept (every one fell within %d states)", o.min_len);
        rz_cli_die(&c, &e);
    }
    if (rl_expert_write(c.output, &c.stream, &x, &e)) rz_cli_die(&c, &e);
    if (picture && rl_pdtrack_picture(&env, &k[0], &o, picture, &e)) rz_cli_die(&c, &e);
    rz_cli_progress(&c, 1, "wrote %s: %d trajectories, %ld states", c.output, x.n_traj, x.n);
    if (c.json || c.report) {
        msgpack_packer *pk = rz_report_begin(&c, 6);
        rz_rec_str(pk, "env", env.name);
        rz_rec_int(pk, "motions", nm);
        rz_rec_int(pk, "trajectories", x.n_traj);
        rz_rec_int(pk, "states", x.n);
        rz_rec_int(pk, "falls", falls);
        rz_rec_str(pk, "output", c.output);
        if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    }
    rl_expert_free(&x);
    for (int m = 0; m < nm; m++) rl_kf_free(&k[m]);
    free(k), free(kept), free(fell);
    rl_env_free(&env);
    return 0;
}
