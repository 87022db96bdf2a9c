/* fuzz_agent_size.h — for libFuzzer targets that load rz-agent checkpoints: a look at the
 * leading `agent` header before the real loader runs, so that an input asking for a network
 * larger than FUZZ_AGENT_MAX_BYTES is skipped. The loaders' own caps (fb_create's 4 GiB,
 * rl_replay_init's) are far above the fuzzer's memory limit and are tested in
 * tests/shell/agent.sh; allocating up to them here would only stop the fuzzer. */
#ifndef RZ_FUZZ_AGENT_SIZE_H
#define RZ_FUZZ_AGENT_SIZE_H

#include <string.h>

#include "agent_io.h"
#include "stream.h"

#define FUZZ_AGENT_MAX_BYTES (256.0 * 1048576)

/* A further check on the records after the header (the reader stands just past it), given
 * the environment and network it describes; 1 = small enough. */
typedef int (*fuzz_agent_more)(rz_reader *r, const rl_env *env, const fb_config *cfg);

/* 1 when PATH starts with a valid `agent` header whose networks need at most
 * FUZZ_AGENT_MAX_BYTES and MORE (when given) agrees; 0 otherwise (the loader is skipped). */
static int fuzz_agent_small(const char *path, fuzz_agent_more more)
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
        ok = fb_config_bytes(&cfg) <= FUZZ_AGENT_MAX_BYTES && (!more || more(r, &env, &cfg));
        rl_env_free(&env);
    }
    rz_env_id_free(&h.env);
    rz_reader_close(r);
    return ok;
}

#endif
