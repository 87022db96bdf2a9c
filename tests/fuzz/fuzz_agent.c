/* fuzz_agent.c — libFuzzer target: any bytes as an rz-agent dataset and as an rz-agent
 * checkpoint, through the loaders rz-agent itself uses (tools/core/rl/agent_io.c). A
 * checkpoint whose header asks for a network over 256 MiB is skipped before loading
 * (fuzz_agent_size.h says why). */
#include <stdlib.h>
#include <string.h>

#include "agent_io.h"
#include "fuzz_agent_size.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    const char *path = fuzz_file("agent.rz", data, n);
    if (!path) return 0;
    rz_err e = {0};
    ag_dataset d;
    rl_env env;
    if (ag_dataset_read(path, NULL, &d, &env, &e) == 0) {
        ag_dataset_free(&d);
        rl_env_free(&env);
    }
    if (fuzz_agent_small(path, NULL)) {
        rz_agent_header h;
        fb_agent *a = NULL;
        int n_labels;
        float *labels = NULL;
        if (ag_agent_read(path, NULL, &h, &a, &env, &n_labels, &labels, &e) == 0) {
            fb_destroy(a);
            free(labels);
            rl_env_free(&env);
            rz_env_id_free(&h.env);
        }
    }
    return 0;
}
