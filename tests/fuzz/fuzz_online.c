/* fuzz_online.c — libFuzzer target: any bytes as an online-training checkpoint through
 * the loader `rz-agent online --resume` uses (tools/core/rl/online.c). Inputs whose
 * headers ask for networks or a replay buffer over 256 MiB are skipped before loading
 * (fb_create's and rl_replay_init's own caps are far above the fuzzer's memory limit). */
#include <stdlib.h>
#include <string.h>

#include "agent_io.h"
#include "fuzz_file.h"
#include "online.h"
#include "stream.h"

static int small_enough(const char *path)
{
    rz_reader *r;
    rz_err e = {0};
    if (rz_reader_open(path, NULL, &r, &e)) return 0;
    const msgpack_object *rec;
    rz_rec_ctx c;
    rz_agent_header h = {0};
    rz_online_header oh;
    rl_env env = {0};
    int ok = 0, have_env = 0;
    if (!rz_reader_next(r, &rec, &c, &e) && rec && c.type && !strcmp(c.type, "agent") &&
        !rz_agent_header_decode(rec, &c, &h, &e) && !ag_env_from_id(&h.env, &env, &e)) {
        have_env = 1;
        fb_config cfg;
        ag_header_to_config(&h, &env, &cfg);
        if (fb_config_bytes(&cfg) <= 256.0 * 1048576 && !rz_reader_next(r, &rec, &c, &e) && rec && c.type &&
            !strcmp(c.type, "agent_online") && !rz_online_header_decode(rec, &c, &oh, &e))
            ok = (double)oh.buffer * (2.0 * env.state_dim + env.act_dim + cfg.zdim) * 4 <= 256.0 * 1048576 &&
                 (double)oh.disc_hidden * oh.disc_hidden * oh.disc_layers * 4 <= 64.0 * 1048576;
    }
    if (have_env) rl_env_free(&env);
    rz_env_id_free(&h.env);
    rz_reader_close(r);
    return ok;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    const char *path = fuzz_file("online.rz", data, n);
    if (!path || !small_enough(path)) return 0;
    rz_err e = {0};
    rz_agent_header h;
    rz_online_header oh;
    fb_agent *fb;
    fbcpr *c;
    rl_online *o;
    rl_env env;
    if (rl_online_load(path, NULL, &h, &oh, &fb, &c, &o, &env, &e) == 0) {
        rl_online_free(o);
        fbcpr_destroy(c);
        fb_destroy(fb);
        rl_env_free(&env);
        rz_env_id_free(&h.env);
    }
    return 0;
}
