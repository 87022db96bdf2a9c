/* rz-agent — zero-shot reinforcement learning with forward–backward representations.
 *
 *   rz-agent collect  an offline dataset of transitions from an environment and policy
 *   rz-agent train    FB / VC-FB / MC-FB on a dataset, checkpoint as a record stream
 *   rz-agent eval     zero-shot goal and reward tasks, report success and returns
 *   rz-agent sweep    seeds × datasets × algorithms (spread over MPI ranks), one table
 *   rz-agent data     the study's dataset designs: pairs removed, subsampled, few trajectories
 *   rz-agent iqm      IQM and bootstrap CI per key of a KEY<TAB>VALUE table of runs
 *   rz-agent online   online FB, or FB-CPR towards unlabelled expert trajectories (--cpr)
 *   rz-agent expert   point-mass expert trajectories (A* + PD), states only
 *   rz-agent track    zero-shot tracking of expert trajectories, IQM over agents
 *   rz-agent keyframes  keyframe motions PD-tracked on the humanoid: an unlabelled expert set
 *
 * Each subcommand lives in its own file; this one dispatches and holds the shared help. */
#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "rzagent.h"

static const rz_cli_tool tool = {
    .name = "rz-agent",
    .summary = "zero-shot reinforcement learning with forward-backward representations",
    .usage = "rz-agent collect --env fourrooms|MAPFILE|pointmass-maze|humanoid --policy random|coverage|room\n"
             "                 --steps N [--seed N] [--slip P] -o DATA\n"
             "rz-agent train --algo fb|vcfb|mcfb -d DATA [--steps N] [--zdim D] [--seed N] -o AGENT\n"
             "rz-agent eval -a AGENT --tasks goals|rewards|all [--episodes N] [--json]\n"
             "rz-agent sweep --env ENV [--seeds N] [--algos fb,vcfb,mcfb] [--data SPEC,...] -o TABLE\n"
             "rz-agent data -d DATA --drop-pairs F | --subsample N [--seed N] -o OUT\n"
             "rz-agent iqm [TABLE] [-o OUT.tsv]\n"
             "rz-agent online --env pointmass-maze [--cpr --expert EXPERT] --steps N -o CKPT\n"
             "rz-agent expert --env pointmass-maze --trajectories N -o EXPERT\n"
             "rz-agent track --expert EXPERT [--dims D] AGENT...\n"
             "rz-agent keyframes [--model PATH] [--repeats N] [--picture PNG] -o EXPERT MOTION.kf...\n",
    .about = "Run 'rz-agent SUBCOMMAND --help' for every option.\n",
    .examples = "rz-agent collect --env fourrooms --policy coverage --steps 50000 -o d.rz\n"
                "rz-agent train --algo fb -d d.rz --steps 20000 -o fb.rz\n"
                "rz-agent eval -a fb.rz --tasks all --json\n",
};

int main(int argc, char **argv)
{
    rz_cluster_init(&argc, &argv);
    int rc = 2;
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        rz_cli_print_help(&tool, NULL, argc < 2 ? stderr : stdout);
        rc = argc < 2 ? 2 : 0;
    } else if (!strcmp(argv[1], "--man")) {
        rz_cli_print_man(&tool, NULL, stdout);
        rc = 0;
    } else if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
        printf("rz-agent (rizz) %s\n", RZ_VERSION);
        rc = 0;
    } else if (!strcmp(argv[1], "collect")) {
        rc = ag_collect_main(argc - 1, argv + 1);
    } else if (!strcmp(argv[1], "train")) {
        rc = ag_train_main(argc - 1, argv + 1);
    } else if (!strcmp(argv[1], "eval")) {
        rc = ag_eval_main(argc - 1, argv + 1);
    } else if (!strcmp(argv[1], "sweep")) {
        rc = ag_sweep_main(argc - 1, argv + 1);
    } else if (!strcmp(argv[1], "data")) {
        rc = ag_data_main(argc - 1, argv + 1);
    } else if (!strcmp(argv[1], "iqm")) {
        rc = ag_iqm_main(argc - 1, argv + 1);
    } else if (!strcmp(argv[1], "online")) {
        rc = ag_online_main(argc - 1, argv + 1);
    } else if (!strcmp(argv[1], "expert")) {
        rc = ag_expert_main(argc - 1, argv + 1);
    } else if (!strcmp(argv[1], "track")) {
        rc = ag_track_main(argc - 1, argv + 1);
    } else if (!strcmp(argv[1], "keyframes")) {
        rc = ag_keyframes_main(argc - 1, argv + 1);
    } else {
        fprintf(stderr, "rz-agent: unknown subcommand '%s' (collect, train, eval, sweep, data, iqm, online, expert, track or keyframes)\n", argv[1]);
        rz_cli_print_help(&tool, NULL, stderr);
        rc = 2;
    }
    rz_cluster_finalize();
    return rc;
}
