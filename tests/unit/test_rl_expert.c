/* test_rl_expert.c — the unlabelled expert stream (expert.h): write/read round trip bit
 * for bit, windows counted against a brute-force enumeration, and bad streams (wrong
 * state size, a NaN state, a state outside the arena, counts that disagree with the
 * header) refused with RZ_EINPUT naming the field. */
#include "../check.h"
#include "expert.h"
#include "stream.h"

static const char *tmp; /* check_tmp("expert.rz"), set in main */

/* A trajectory of n maze states along a line (inside the ±0.3 m arena). */
static void line(int n, float x0, float *S)
{
    for (int i = 0; i < n; i++) S[4 * i] = x0 + 0.01f * i, S[4 * i + 1] = -0.05f, S[4 * i + 2] = 0.1f, S[4 * i + 3] = 0;
}

static void test_roundtrip_windows(void)
{
    rl_env env;
    CHECK(rl_env_make(&env, "pointmass-maze", 0, NULL) == 0);
    rl_expert x, y;
    rl_env env2;
    CHECK(rl_expert_init(&x, &env, "test", 42, NULL) == 0);
    float S[4 * 20];
    int lens[4] = {20, 3, 8, 11};
    for (int k = 0; k < 4; k++) {
        line(lens[k], -0.2f + 0.05f * k, S);
        CHECK(rl_expert_add(&x, k == 1 ? "short" : "t", lens[k], S, NULL) == 0);
    }
    CHECK(rl_expert_write(tmp, NULL, &x, NULL) == 0);
    rz_err e = {0};
    CHECK(rl_expert_read(tmp, NULL, &env, &y, &env2, &e) == 0);
    CHECK_EQ_INT(y.n_traj, 4);
    CHECK_EQ_INT(y.n, 42);
    CHECK(y.n == x.n && !memcmp(x.S, y.S, (size_t)x.n * 4 * sizeof(float)) && !strcmp(y.name[1], "short"));
    CHECK(!strcmp(y.h.source, "test") && y.h.seed == 42);
    /* windows of L = 8: brute force over every (trajectory, offset) in order */
    long want = 0, bad = 0;
    for (int k = 0; k < 4; k++)
        for (int o = 0; o + 8 <= lens[k]; o++) {
            if (rl_expert_window(&y, 8, want) != y.start[k] + o) bad++;
            want++;
        }
    CHECK_EQ_INT(rl_expert_windows(&y, 8), want); /* 13 + 0 + 1 + 4 = 18 */
    CHECK_EQ_INT(want, 18);
    CHECK_EQ_INT(bad, 0);
    CHECK(rl_expert_window(&y, 8, want) == -1);
    rl_expert_free(&y);
    rl_env_free(&env2);
    rl_expert_free(&x);
    rl_env_free(&env);
}

/* Writes a header declaring sd / trajectories / steps and one trajectory of n states. */
static void write_raw(int sd, int trajs, int steps, int n, const float *S)
{
    rl_env env;
    rl_env_make(&env, "pointmass-maze", 0, NULL);
    rz_writer *w;
    CHECK(rz_writer_open(tmp, NULL, &w, NULL) == 0);
    rz_expert_header h;
    memset(&h, 0, sizeof h);
    snprintf(h.env.env, sizeof h.env.env, "pointmass-maze");
    h.env.map = "";
    h.state_dim = sd, h.trajectories = trajs, h.steps = steps;
    rz_expert_header_pack(rz_writer_packer(w), &h);
    CHECK(rz_writer_emit(w, NULL) == 0);
    rz_traj_pack(rz_writer_packer(w), "x", n, sd, S);
    CHECK(rz_writer_emit(w, NULL) == 0);
    CHECK(rz_writer_close(w, NULL) == 0);
    rl_env_free(&env);
}

static int read_fails(const char *field)
{
    rl_expert x;
    rl_env env;
    rz_err e = {0};
    int rc = rl_expert_read(tmp, NULL, NULL, &x, &env, &e);
    if (rc == 0) {
        rl_expert_free(&x);
        rl_env_free(&env);
        return 0;
    }
    if (field && !strstr(e.msg, field)) printf("#   message '%s' lacks '%s'\n", e.msg, field);
    return rc == RZ_EINPUT && (!field || strstr(e.msg, field));
}

static void test_bad_streams(void)
{
    float S[4 * 10];
    line(10, 0, S);
    write_raw(4, 1, 10, 10, S);
    CHECK(!read_fails(NULL)); /* the control is accepted */
    write_raw(3, 1, 10, 10, S);
    CHECK(read_fails("state_dim"));
    S[4 * 5 + 2] = NAN;
    write_raw(4, 1, 10, 10, S);
    CHECK(read_fails("'s'"));
    line(10, 0, S);
    S[4 * 7] = 5.0f; /* outside the arena */
    write_raw(4, 1, 10, 10, S);
    CHECK(read_fails("'s'"));
    line(10, 0, S);
    write_raw(4, 1, 12, 10, S); /* header promises more states */
    CHECK(read_fails("steps = 12"));
    write_raw(4, 1, 8, 10, S); /* fewer */
    CHECK(read_fails("'n'"));
    write_raw(4, 2, 3, 10, S);
    CHECK(read_fails(NULL));
    remove(tmp);
}

int main(void)
{
    tmp = check_tmp("expert.rz");
    RUN(test_roundtrip_windows);
    RUN(test_bad_streams);
    return check_summary();
}
