/* fuzz_online.c — libFuzzer target: any bytes as an online-training checkpoint through
 * the loader `rz-agent online --resume` uses (tools/core/rl/online.c). Inputs whose
 * headers ask for networks, a replay buffer or a z FIFO over 256 MiB are skipped before loading
 * (fuzz_agent_size.h says why). */
#include <stdlib.h>
#include <string.h>

#include "agent_io.h"
#include "fuzz_agent_size.h"
#include "fuzz_file.h"
#include "online.h"

/* The `agent_online` header after the agent one: its replay buffer and discriminator. */
static int online_small(rz_reader *r, const rl_env *env, const fb_config *cfg)
{
    const msgpack_object *rec;
    rz_rec_ctx c;
    rz_online_header oh;
    rz_err e = {0};
    if (rz_reader_next(r, &rec, &c, &e) || !rec || !c.type || strcmp(c.type, "agent_online") ||
        rz_online_header_decode(rec, &c, &oh, &e))
        return 0;
    double zbuf = oh.rollout_z == RL_ROLLOUT_BUFFER ? (double)oh.z_buffer * cfg->zdim * 4 : 0; /* the FIFO of rollout zs */
    return (double)oh.buffer * (2.0 * env->state_dim + env->act_dim + cfg->zdim) * 4 + zbuf <= FUZZ_AGENT_MAX_BYTES &&
           (double)oh.disc_hidden * oh.disc_hidden * oh.disc_layers * 4 <= 64.0 * 1048576;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    const char *path = fuzz_file("online.rz", data, n);
    if (!path || !fuzz_agent_small(path, online_small)) return 0;
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
