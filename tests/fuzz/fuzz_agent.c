/* fuzz_agent.c — libFuzzer target: any bytes as an rz-agent dataset and as an rz-agent
 * checkpoint, through the loaders rz-agent itself uses (tools/core/rl/agent_io.c). A
 * checkpoint whose header asks for a large network is skipped before loading when fb_config_bytes exceeds 256 MiB: fb_create's own 4 GiB cap is
 * tested in tests/shell/agent.sh, and allocating up to it here would only hit the
 * fuzzer's memory limit. */
#include <stdlib.h>
#include <string.h>

#include "agent_io.h"
#include "fuzz_file.h"
#include "stream.h"

static int small_enough(const char *path)
{
    rz_reader *r;
    rz_err e = {0};
    if (rz_reader_open(path, NULL, &r, &e)) return 0;
    const msgpack_object *rec;
    rz_rec_ctx c;
    rz_agent_header h = {0};
    rl_env env = {0};
    int ok = 0;
    if (!rz_reader_next(r, &rec, &c, &e) && rec && c.type && !strcmp(c.type, "agent") &&
        !rz_agent_header_decode(rec, &c, &h, &e) && !ag_env_from_id(&h.env, &env, &e)) {
        fb_config cfg;
        ag_header_to_config(&h, &env, &cfg);
        ok = fb_config_bytes(&cfg) <= 256.0 * 1048576;
        rl_env_free(&env);
    }
    rz_env_id_free(&h.env);
    rz_reader_close(r);
    return ok;
}

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
    if (small_enough(path)) {
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
