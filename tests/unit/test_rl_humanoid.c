/* test_rl_humanoid.c — MuJoCo's humanoid as an environment kind: it loads with the sizes
 * the model file implies, its standing height matches the model's geometry, states
 * round-trip bit for bit and steps are pure functions, it falls when dropped from a bad
 * pose (and a PD servo keeps it standing), a fallen start lies on the floor, the reward and goal functions give the values
 * computed by hand for hand-built states, NaN and malformed states are refused, keyframe
 * files parse and fail naming file/line/field, and PD-tracked motions become an expert
 * stream that reads back unchanged. Without the model file (libmujoco-samples) every case
 * reports SKIP with the reason. */
#include <unistd.h>

#include "../check.h"
#include "env.h"
#include "expert.h"
#include "humanoid.h"
#include "keyframe.h"
#include "online.h"
#include "pdtrack.h"
#include "tracking.h"

static int have_model(void) { return access(RL_HUM_MODEL_DEFAULT, R_OK) == 0; }
#define NEED_MODEL(name)                                                                                \
    if (!have_model()) {                                                                                \
        printf("ok - %s # SKIP %s absent (install libmujoco-samples: make deps)\n", name, RL_HUM_MODEL_DEFAULT); \
        return;                                                                                         \
    }

static rl_env env; /* made once: compiling the model takes ~10 ms */

/* Stock pose geometry from humanoid.xml: lower_waist −0.26, pelvis −0.165, thigh −0.04,
 * shin −0.403, foot −0.39 below the torso, foot capsules of radius 0.027 with axes at the
 * foot's origin height: the root stands 1.285 m above the floor. Hands: upper arm +0.06,
 * lower arm −0.18, hand +0.18 → 0.06 above the root. Exact sums of the file's decimals
 * (tolerance 1e-9 for double rounding). */
static void test_loads(void)
{
    CHECK_EQ_INT(env.kind, RL_HUMANOID);
    CHECK_EQ_INT(env.state_dim, 28 + 27);
    CHECK_EQ_INT(env.obs_dim, 26 + 27);
    CHECK_EQ_INT(env.act_dim, 21);
    CHECK_EQ_INT(rl_hum_joints(&env), 21);
    CHECK_NEAR(rl_hum_stand_height(&env), 0.26 + 0.165 + 0.04 + 0.403 + 0.39 + 0.027, 1e-9);
    int j = rl_hum_joint_find(&env, "right_knee");
    CHECK(j >= 0 && !strcmp(rl_hum_joint_name(&env, j), "right_knee"));
    double lo, hi;
    rl_hum_joint_range(&env, j, &lo, &hi);
    CHECK_NEAR(lo, -160 * M_PI / 180, 1e-6); /* range="-160 2" degrees */
    CHECK_NEAR(hi, 2 * M_PI / 180, 1e-6);
    /* the first motor drives abdomen_y, the second hinge in the file (abdomen_z is
     * qpos 7): motor order, not joint order */
    CHECK_EQ_INT(rl_hum_qpos_index(&env, 0), 8);
    CHECK(rl_hum_joint_find(&env, "tail") == -1);
    float s[RL_MAX_STATE];
    double q[RL_HUM_MAX_JOINTS] = {0}, h[2];
    rl_hum_pose_state(&env, q, s);
    rl_hum_hand_heights(&env, s, h);
    CHECK_NEAR(h[0], s[2] + 0.06, 1e-6);
    CHECK_NEAR(h[1], s[2] + 0.06, 1e-6);
    /* A missing model file: RZ_EINPUT naming it. */
    rl_env bad;
    rz_err e = {0};
    CHECK(rl_env_make(&bad, "humanoid:/nonexistent/humanoid.xml", 0, &e) == RZ_EINPUT);
    CHECK(strstr(e.msg, "/nonexistent/humanoid.xml") != NULL);
}

static void test_roundtrip_and_purity(void)
{
    rz_rng rng;
    rz_rng_seed(&rng, 7);
    float s[RL_MAX_STATE], b[RL_MAX_STATE], a[RL_MAX_ACT], n1[RL_MAX_STATE], n2[RL_MAX_STATE];
    float o1[RL_MAX_STATE], o2[RL_MAX_STATE];
    rl_env_reset(&env, &rng, s);
    CHECK(rl_env_check_state(&env, s));
    CHECK(rl_hum_roundtrip(&env, s, b) == 0);
    CHECK(memcmp(s, b, env.state_dim * sizeof(float)) == 0); /* float → double → float is exact */
    for (int k = 0; k < env.act_dim; k++) a[k] = (float)(2 * rz_rng_uniform(&rng) - 1);
    /* step twice from the same state (another state stepped in between): same bits */
    CHECK(rl_env_step(&env, s, a, NULL, n1, NULL) == 0);
    CHECK(rl_env_step(&env, n1, a, NULL, n2, NULL) == 0);
    CHECK(rl_env_step(&env, s, a, NULL, n2, NULL) == 0);
    CHECK(memcmp(n1, n2, env.state_dim * sizeof(float)) == 0);
    CHECK(memcmp(s, n1, env.state_dim * sizeof(float)) != 0); /* and it moved */
    /* a clone (the online loop's worker instance) has its own simulator and the same bits */
    rl_env w;
    env.episode_len = 77; /* a caller's setting, not the kind's default: kept by the clone */
    CHECK(rl_env_clone(&env, &w, NULL) == 0);
    env.episode_len = 300;
    CHECK(w.mj != env.mj && w.state_dim == env.state_dim && w.episode_len == 77);
    CHECK(rl_env_step(&w, s, a, NULL, n2, NULL) == 0);
    CHECK(memcmp(n1, n2, env.state_dim * sizeof(float)) == 0);
    rl_env_free(&w);
    rl_env_obs(&env, n1, o1);
    rl_env_obs(&env, n1, o2);
    CHECK(memcmp(o1, o2, env.obs_dim * sizeof(float)) == 0);
    /* obs = state without root x, y, clipped to ±10 */
    float c[RL_MAX_STATE];
    memcpy(c, n1, sizeof c);
    c[28 + 6] = 50, c[28 + 7] = -50; /* abdomen rates */
    rl_env_obs(&env, c, o1);
    for (int i = 0; i < env.obs_dim; i++) {
        float want = c[i + 2] > 10 ? 10 : c[i + 2] < -10 ? -10 : c[i + 2];
        if (o1[i] != want) {
            CHECK(o1[i] == want);
            break;
        }
    }
    CHECK(o1[26 + 6] == 10 && o1[26 + 7] == -10);
}

/* Dropped lying flat (torso rotated 90° about x, 1 m up, at rest) with zero torques it
 * ends on the floor: terminal within 2 s. Standing under the PD servo (kp 20, kd 0.1)
 * it stays up for 4 s. The threshold itself: 0.79 m is fallen, 0.81 m is not. */
static void test_falls(void)
{
    float s[RL_MAX_STATE], n[RL_MAX_STATE], a[RL_MAX_ACT] = {0};
    double q[RL_HUM_MAX_JOINTS] = {0};
    rl_hum_pose_state(&env, q, s);
    s[2] = 1.0f;
    s[3] = (float)cos(M_PI / 4), s[4] = (float)sin(M_PI / 4); /* 90° about x */
    CHECK(rl_env_check_state(&env, s));
    CHECK(!rl_env_terminal(&env, s));
    int fell = -1;
    for (int t = 0; t < 80 && fell < 0; t++) {
        CHECK(rl_env_step(&env, s, a, NULL, n, NULL) == 0);
        memcpy(s, n, sizeof s);
        if (rl_env_terminal(&env, s)) fell = t;
    }
    CHECK(fell >= 0);
    rl_hum_pose_state(&env, q, s);
    int up = 1;
    for (int t = 0; t < 160; t++) {
        CHECK(rl_hum_pd_step(&env, s, q, 20, 0.1, n, NULL) == 0);
        memcpy(s, n, sizeof s);
        if (rl_env_terminal(&env, s)) up = 0;
    }
    CHECK(up && s[2] > 1.2f);
    rl_hum_pose_state(&env, q, s);
    s[2] = 0.79f;
    CHECK(rl_env_terminal(&env, s));
    s[2] = 0.81f;
    CHECK(!rl_env_terminal(&env, s));
}

static const rl_task *task(const rl_task *t, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(t[i].name, name)) return &t[i];
    return NULL;
}

/* Hand-built states, rewards by hand (humanoid.h's formulas; exact up to float inputs,
 * tolerance 1e-6). */
static void test_rewards(void)
{
    rl_task *t;
    int n;
    CHECK(rl_env_tasks(&env, "all", &t, &n, NULL) == 0);
    CHECK_EQ_INT(n, 8);
    const rl_task *stand = task(t, n, "stand"), *f1 = task(t, n, "move-forward-1"), *f2 = task(t, n, "move-forward-2"),
                  *b1 = task(t, n, "move-backward-1"), *arms = task(t, n, "raise-arms"), *crouch = task(t, n, "pose-crouch");
    CHECK(stand && f1 && f2 && b1 && arms && crouch);
    if (!stand || !f1 || !f2 || !b1 || !arms || !crouch) return;
    float s[RL_MAX_STATE];
    double q[RL_HUM_MAX_JOINTS] = {0};
    rl_hum_pose_state(&env, q, s);
    /* z = 1.0: h = (1.0 − 0.8)/0.4 = 0.5; upright; vx = 0.2, vy = 0 */
    s[2] = 1.0f, s[28] = 0.2f;
    CHECK_NEAR(rl_task_reward(&env, stand, s), 0.5 * (1 - 0.2 / 0.5), 1e-6);  /* 0.3 */
    CHECK_NEAR(rl_task_reward(&env, f1, s), 0.5 * (1 - 0.8 / 1), 1e-6);       /* 0.1 */
    CHECK_NEAR(rl_task_reward(&env, f2, s), 0.5 * (1 - 1.8 / 2), 1e-6);       /* 0.05 */
    CHECK_NEAR(rl_task_reward(&env, b1, s), 0, 1e-12);                         /* |0.2 + 1| > 1 */
    s[28] = -0.5f;
    CHECK_NEAR(rl_task_reward(&env, b1, s), 0.5 * 0.5, 1e-6);
    /* moving sideways at 0.3, 0.4 m/s: |v| = 0.5, not still at all */
    s[28] = 0.3f, s[29] = 0.4f;
    CHECK_NEAR(rl_task_reward(&env, stand, s), 0, 1e-6);
    /* tilted 60° about x, 1.4 m up, at rest: h = 1, up = cos 60° = 0.5 */
    s[2] = 1.4f, s[28] = s[29] = 0;
    s[3] = (float)cos(M_PI / 6), s[4] = (float)sin(M_PI / 6);
    CHECK_NEAR(rl_task_reward(&env, stand, s), 0.5, 1e-6);
    /* upside down: up = −1 → 0 */
    s[3] = 0, s[4] = 1;
    CHECK_NEAR(rl_task_reward(&env, stand, s), 0, 1e-12);
    /* raise-arms in the stock pose: hands 0.06 above the root, 0.06/0.3 = 0.2 each */
    rl_hum_pose_state(&env, q, s);
    CHECK_NEAR(rl_task_reward(&env, arms, s), 0.2, 1e-6);
    /* goal poses: the goal state succeeds; hinges 0.19 rad off (RMS 0.19) still do,
     * 0.21 rad off do not; 0.11 m too high does not */
    memcpy(s, crouch->goal, sizeof s);
    CHECK(rl_task_success(&env, crouch, s));
    CHECK_NEAR(rl_task_reward(&env, crouch, s), 1, 0);
    for (int d = 0; d < 2; d++) {
        memcpy(s, crouch->goal, sizeof s);
        for (int j = 0; j < 21; j++) s[rl_hum_qpos_index(&env, j)] += (j % 2 ? 1 : -1) * (d ? 0.21f : 0.19f);
        CHECK(rl_task_success(&env, crouch, s) == !d);
    }
    memcpy(s, crouch->goal, sizeof s);
    s[2] += 0.11f;
    CHECK(!rl_task_success(&env, crouch, s));
    /* no goal is met by a start state (episodes start standing) */
    rz_rng rng;
    rz_rng_seed(&rng, 11);
    for (int i = 0; i < n; i++)
        if (t[i].is_goal) {
            rl_env_reset(&env, &rng, s);
            CHECK(!rl_task_success(&env, &t[i], s));
        }
    /* the crouch goal: hips −45°, knees −90°, ankles −45°, lower than standing */
    int k = rl_hum_joint_find(&env, "left_knee");
    CHECK_NEAR(crouch->goal[rl_hum_qpos_index(&env, k)], -M_PI / 2, 1e-6);
    CHECK(crouch->goal[2] < rl_hum_stand_height(&env) - 0.1);
    rl_tasks_free(t, n);
}

static void test_bad_states(void)
{
    float s[RL_MAX_STATE], n[RL_MAX_STATE], a[RL_MAX_ACT] = {0};
    double q[RL_HUM_MAX_JOINTS] = {0};
    rz_err e = {0};
    rl_hum_pose_state(&env, q, s);
    s[28 + 3] = NAN; /* qvel[3] */
    CHECK(!rl_env_check_state(&env, s));
    CHECK(rl_env_step(&env, s, a, NULL, n, &e) == RZ_EINPUT);
    CHECK(strstr(e.msg, "qvel[3]") != NULL);
    rl_hum_pose_state(&env, q, s);
    s[3] = 0.5f; /* quaternion of norm 0.5 */
    CHECK(!rl_env_check_state(&env, s));
    rl_hum_pose_state(&env, q, s);
    s[7] = INFINITY;
    CHECK(!rl_env_check_state(&env, s));
    /* hinge limits are soft: the left ankle (left_ankle_x, ±50°, qpos entry 21) 1.15 rad past its lower
     * limit (the state the simulator reached in a 1M-step run) is a state, and steps; half
     * a turn past it (plus a little) is not, named by its qpos entry */
    int j = rl_hum_joint_find(&env, "left_ankle_x");
    CHECK(j >= 0);
    if (j >= 0) {
        double lo, hi;
        rl_hum_joint_range(&env, j, &lo, &hi);
        rl_hum_pose_state(&env, q, s);
        s[rl_hum_qpos_index(&env, j)] = (float)(lo - 1.15);
        CHECK(rl_env_check_state(&env, s));
        CHECK(rl_env_step(&env, s, a, NULL, n, &e) == RZ_OK);
        s[rl_hum_qpos_index(&env, j)] = (float)(lo - M_PI - 0.01);
        CHECK(!rl_env_check_state(&env, s));
        CHECK(rl_env_step(&env, s, a, NULL, n, &e) == RZ_EINPUT);
        char want[32];
        snprintf(want, sizeof want, "qpos[%d]", rl_hum_qpos_index(&env, j));
        CHECK(strstr(e.msg, want) != NULL);
    }
    /* actions outside [−1, 1] or NaN */
    rl_hum_pose_state(&env, q, s);
    a[20] = 1.5f;
    CHECK(rl_env_step(&env, s, a, NULL, n, NULL) == RZ_EINPUT);
    a[20] = NAN;
    CHECK(rl_env_step(&env, s, a, NULL, n, NULL) == RZ_EINPUT);
}

static const char good_kf[] = "# a comment\n"
                              "rz-keyframes 1\n"
                              "name bend   # trailing comment\n"
                              "joints right_knee left_knee\n"
                              "\n"
                              "0   0   0\n"
                              "1 -90 -45\n"
                              "3 -90 -45\n";

/* Parsed values in radians; the smoothstep at u = 1/4 is 3/16 − 2/64 = 0.15625 of the
 * way, at u = 1/2 half; held after the last frame and before the first. */
static void test_keyframe_parse(void)
{
    rl_keyframes k;
    rz_err e = {0};
    CHECK(rl_kf_parse(good_kf, strlen(good_kf), "bend.kf", &k, &e) == 0);
    if (e.code) {
        printf("#   %s\n", e.msg);
        return;
    }
    CHECK(!strcmp(k.name, "bend"));
    CHECK_EQ_INT(k.nj, 2);
    CHECK_EQ_INT(k.nf, 3);
    CHECK_EQ_INT(k.line[1], 7);
    CHECK_NEAR(k.q[2], -M_PI / 2, 1e-12);
    double q[2];
    rl_kf_eval(&k, 0.25, q);
    CHECK_NEAR(q[0], -M_PI / 2 * 0.15625, 1e-12);
    CHECK_NEAR(q[1], -M_PI / 4 * 0.15625, 1e-12);
    rl_kf_eval(&k, 0.5, q);
    CHECK_NEAR(q[0], -M_PI / 4, 1e-12);
    rl_kf_eval(&k, 10, q);
    CHECK_NEAR(q[1], -M_PI / 4, 1e-12);
    rl_kf_eval(&k, -1, q);
    CHECK_NEAR(q[0], 0, 0);
    CHECK_NEAR(rl_kf_duration(&k), 3, 0);
    rl_kf_free(&k);
    /* radians */
    const char *rad = "rz-keyframes 1\nname r\nunits rad\njoints a\n0 0\n1 1.5\n";
    CHECK(rl_kf_parse(rad, strlen(rad), "r.kf", &k, NULL) == 0);
    CHECK_NEAR(k.q[1], 1.5, 0);
    rl_kf_free(&k);
}

/* Each bad file: exit-2 error naming file, line and field. */
static void test_keyframe_bad(void)
{
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"", "x.kf: empty"},
        {"keyframes 1\n", "x.kf:1: field 'format'"},
        {"rz-keyframes 2\n", "x.kf:1: field 'format'"},
        {"rz-keyframes 1\njoints a\n0 0\n1 1\n", "x.kf: field 'name'"},
        {"rz-keyframes 1\nname a b\n", "x.kf:2: field 'name'"},
        {"rz-keyframes 1\nname a/b\n", "x.kf:2: field 'name'"},
        {"rz-keyframes 1\nname a\nunits grad\n", "x.kf:3: field 'units'"},
        {"rz-keyframes 1\nname a\njoints k k\n", "x.kf:3: field 'joints'"},
        {"rz-keyframes 1\nname a\n0 0\n", "x.kf:3: field 'joints'"},
        {"rz-keyframes 1\nname a\njoints k\n0 0 0\n", "x.kf:4: field 'frame'"},
        {"rz-keyframes 1\nname a\njoints k\n0.5 0\n1 0\n", "x.kf:4: field 'time'"},
        {"rz-keyframes 1\nname a\njoints k\n0 0\n0 1\n", "x.kf:5: field 'time'"},
        {"rz-keyframes 1\nname a\njoints k\n0 0\n1 nan\n", "x.kf:5: field 'k'"},
        {"rz-keyframes 1\nname a\njoints k\n0 0\n1 400\n", "x.kf:5: field 'k'"},
        {"rz-keyframes 1\nname a\njoints k\n0 0\n1 1x\n", "x.kf:5: field 'k'"},
        {"rz-keyframes 1\nname a\njoints k\n0 0\n1e9 1\n", "x.kf:5: field 'time'"},
        {"rz-keyframes 1\nname a\njoints k\n0 0\n", "x.kf: field 'frame': 1 frames"},
        {"rz-keyframes 1\nname a\njoints k\n0 0\nname b\n", "x.kf:5: field 'name'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rl_keyframes k;
        rz_err e = {0};
        int rc = rl_kf_parse(bad[i].text, strlen(bad[i].text), "x.kf", &k, &e);
        if (rc != RZ_EINPUT || !strstr(e.msg, bad[i].want)) {
            printf("#   case %zu: rc %d, message '%s', expected '%s'\n", i, rc, e.msg, bad[i].want);
            CHECK(0);
        }
    }
}

/* The joint limit at its edge: 32 names parse (with frames of 33 values), 33 names are
 * refused on the joints line. The 33-name line once wrote past k.joint (found by
 * fuzz_keyframe under ASan). */
static void test_keyframe_joint_limit(void)
{
    for (int nj = RL_KF_MAX_JOINTS; nj <= RL_KF_MAX_JOINTS + 1; nj++) {
        char text[2048];
        int n = snprintf(text, sizeof text, "rz-keyframes 1\nname a\njoints");
        for (int j = 0; j < nj; j++) n += snprintf(text + n, sizeof text - n, " j%d", j);
        for (int f = 0; f < 2; f++) {
            n += snprintf(text + n, sizeof text - n, "\n%d", f);
            for (int j = 0; j < nj; j++) n += snprintf(text + n, sizeof text - n, " 1");
        }
        n += snprintf(text + n, sizeof text - n, "\n");
        CHECK(n < (int)sizeof text);
        rl_keyframes k;
        rz_err e = {0};
        int rc = rl_kf_parse(text, (size_t)n, "x.kf", &k, &e);
        if (nj <= RL_KF_MAX_JOINTS) {
            CHECK_EQ_INT(rc, 0);
            CHECK_EQ_INT(k.nj, nj);
            CHECK_EQ_INT(k.nf, 2);
            CHECK(!strcmp(k.joint[nj - 1], "j31"));
            rl_kf_free(&k);
        } else {
            CHECK_EQ_INT(rc, RZ_EINPUT);
            CHECK(strstr(e.msg, "x.kf:3: field 'line'") != NULL);
        }
    }
}

/* rl_collect on the humanoid: a random policy falls within ~1 s, and a fallen state
 * starts a fresh episode, so no transition starts from a fallen state (S2 may be one). */
static void test_collect_falls(void)
{
    long n = 600;
    float *S = malloc(n * 55 * sizeof(float)), *A = malloc(n * 21 * sizeof(float)), *S2 = malloc(n * 55 * sizeof(float));
    CHECK(rl_collect(&env, RL_POL_RANDOM, n, 5, S, A, S2, NULL) == 0);
    int fallen_s = 0, fallen_s2 = 0;
    for (long i = 0; i < n; i++) {
        fallen_s += rl_env_terminal(&env, S + i * 55);
        fallen_s2 += rl_env_terminal(&env, S2 + i * 55);
        for (int k = 0; k < 21; k++) CHECK(A[i * 21 + k] >= -1 && A[i * 21 + k] <= 1);
    }
    CHECK_EQ_INT(fallen_s, 0);
    CHECK(fallen_s2 > 0); /* and it did fall */
    CHECK(rl_collect(&env, RL_POL_ROOM, 10, 5, S, A, S2, NULL) == RZ_EINPUT); /* no rooms */
    free(S), free(A), free(S2);
}

static void test_keyframe_bind(void)
{
    rl_keyframes k;
    int map[RL_KF_MAX_JOINTS];
    rz_err e = {0};
    const char *unk = "rz-keyframes 1\nname a\njoints right_knee tail\n0 0 0\n1 -10 0\n";
    CHECK(rl_kf_parse(unk, strlen(unk), "u.kf", &k, NULL) == 0);
    CHECK(rl_pdtrack_bind(&env, &k, map, &e) == RZ_EINPUT);
    CHECK(strstr(e.msg, "u.kf:3: field 'joints': 'tail'") != NULL);
    rl_kf_free(&k);
    const char *range = "rz-keyframes 1\nname a\njoints right_knee\n0 0\n1 -10\n2 30\n";
    CHECK(rl_kf_parse(range, strlen(range), "r.kf", &k, NULL) == 0);
    CHECK(rl_pdtrack_bind(&env, &k, map, &e) == RZ_EINPUT);
    CHECK(strstr(e.msg, "r.kf:6: field 'right_knee'") != NULL);
    rl_kf_free(&k);
}

/* PD tracking of a crouch: the knees follow the target (error under 0.2 rad at the
 * deepest point, where the target has been still for 1 s), nothing falls, the same seed
 * gives the same bits, and the expert stream reads back bit for bit. */
static int limp(void *ctx, const float *obs, int n, const float *window, float *act, rz_err *e)
{
    (void)ctx, (void)obs, (void)n, (void)window, (void)e;
    memset(act, 0, 21 * sizeof(float));
    return 0;
}

static void test_track_expert(void)
{
    const char *text = "rz-keyframes 1\nname crouch\njoints right_hip_y left_hip_y right_knee left_knee right_ankle_y left_ankle_y\n"
                       "0 0 0 0 0 0 0\n1.2 -45 -45 -90 -90 -45 -45\n2.2 -45 -45 -90 -90 -45 -45\n3.4 0 0 0 0 0 0\n";
    rl_keyframes k;
    rz_err e = {0};
    CHECK(rl_kf_parse(text, strlen(text), "crouch.kf", &k, &e) == 0);
    rl_pdtrack_opts o;
    rl_pdtrack_defaults(&o);
    o.repeats = 2;
    int map[RL_KF_MAX_JOINTS], T = rl_pdtrack_steps(&k, &o, 1), len, fell;
    CHECK_EQ_INT(T, (int)ceil((3.4 + 0.5) / 0.025 - 1e-9) + 1); /* 157 */
    CHECK(rl_pdtrack_bind(&env, &k, map, NULL) == 0);
    float *S = malloc((size_t)T * env.state_dim * sizeof(float));
    double *qr = malloc((size_t)T * 21 * sizeof(double));
    rz_rng rng;
    rz_rng_seed(&rng, 3);
    CHECK(rl_pdtrack_run(&env, &k, map, &o, 1, 1, &rng, T, S, qr, &len, &fell, &e) == 0);
    CHECK_EQ_INT(fell, 0);
    CHECK_EQ_INT(len, T);
    int kn = rl_hum_joint_find(&env, "right_knee"), t = (int)(2.0 / 0.025);
    CHECK_NEAR(qr[(size_t)t * 21 + kn], -M_PI / 2, 1e-12);
    CHECK_NEAR(S[(size_t)t * env.state_dim + rl_hum_qpos_index(&env, kn)], -M_PI / 2, 0.2);
    rl_expert x1, x2, back;
    CHECK(rl_expert_init(&x1, &env, "keyframe-pd", 1, NULL) == 0);
    CHECK(rl_expert_init(&x2, &env, "keyframe-pd", 1, NULL) == 0);
    CHECK(rl_pdtrack_expert(&env, &k, 1, &o, &x1, NULL, NULL, &e) == 0);
    CHECK(rl_pdtrack_expert(&env, &k, 1, &o, &x2, NULL, NULL, &e) == 0);
    CHECK_EQ_INT(x1.n_traj, 2);
    CHECK(x1.n == x2.n && memcmp(x1.S, x2.S, (size_t)x1.n * env.state_dim * sizeof(float)) == 0);
    CHECK(x1.start[2] - x1.start[1] != x1.start[1] || memcmp(x1.S, x1.S + x1.start[1] * env.state_dim, 4 * 55) != 0);
    const char *path = check_tmp("hum.rz");
    CHECK(rl_expert_write(path, NULL, &x1, &e) == 0);
    rl_env renv;
    CHECK(rl_expert_read(path, NULL, &env, &back, &renv, &e) == 0);
    if (!e.code) {
        CHECK(back.n == x1.n && memcmp(back.S, x1.S, (size_t)x1.n * env.state_dim * sizeof(float)) == 0);
        CHECK(renv.kind == RL_HUMANOID);
        rl_expert_free(&back);
        rl_env_free(&renv);
    } else {
        printf("#   %s\n", e.msg);
    }
    /* tracking's upright fraction: zero torques (a limp body) from each trajectory's
     * start, counted by the test's own loop over rl_env_terminal */
    {
        double mean, up = -1;
        CHECK(rl_track_eval(&env, &x1, 0, 2, 8, 26, limp, NULL, NULL, &mean, &up, NULL, &e) == 0);
        int n_up = 0;
        for (int q = 0; q < 2; q++) {
            float s[64], s2[64], a[21] = {0};
            memcpy(s, x1.S + (size_t)x1.start[q] * env.state_dim, env.state_dim * sizeof(float));
            rz_rng g;
            rz_rng_seed(&g, 0);
            int down = 0;
            for (long u = 0; u < x1.start[q + 1] - x1.start[q] - 1; u++) {
                CHECK(rl_env_step(&env, s, a, &g, s2, NULL) == 0);
                memcpy(s, s2, env.state_dim * sizeof(float));
                down |= rl_env_terminal(&env, s);
            }
            n_up += !down;
        }
        printf("#   limp body: upright %.2f (want %.2f)\n", up, n_up / 2.0);
        CHECK(n_up < 2); /* it does fall: the check is not vacuous */
        CHECK(up == n_up / 2.0);
    }
    /* a NaN state in the stream is refused naming the file */
    x1.S[5 * env.state_dim + 30] = NAN;
    CHECK(rl_expert_write(path, NULL, &x1, &e) == 0);
    e.code = 0;
    CHECK(rl_expert_read(path, NULL, &env, &back, &renv, &e) == RZ_EINPUT);
    CHECK(strstr(e.msg, path) != NULL);
    unlink(path);
    rl_expert_free(&x1);
    rl_expert_free(&x2);
    free(S), free(qr);
    rl_kf_free(&k);
}

/* Start-state options of tiny_online_starts: fall rule, shares of expert and fallen
 * starts, and the expert data (may be NULL). */
typedef struct {
    int fall;
    double init_expert, init_fall;
    rl_expert *x;
} starts;

/* A tiny FB agent (d 4, 2 x 8) in the online loop on the humanoid, plain FB (no CPR):
 * N environments, a buffer of BUFFER rows, SEED_STEPS random steps, episodes of
 * EPISODE_LEN, THREADS environment workers, start states by st (NULL: the defaults).
 * 0 on success. */
static int tiny_online_starts(int n, long buffer, long seed_steps, int episode_len, int threads, const starts *st,
                              fb_agent **fb, fbcpr **c, rl_online **o, rz_err *e)
{
    *fb = NULL, *c = NULL, *o = NULL;
    fb_config f;
    fb_config_default(&f, FB_ALGO_FB, env.obs_dim, 0, env.act_dim);
    f.zdim = 4, f.hidden = 8, f.layers = 2, f.batch = 8;
    if (fb_create(&f, 5, fb, e)) return -1;
    fbcpr_config cc;
    fbcpr_config_default(&cc);
    cc.cpr = 0;
    if (fbcpr_create(*fb, &cc, 6, c, e)) return -1;
    rl_online_config oc;
    rl_online_config_default(&oc, &env);
    oc.n_envs = n, oc.buffer = buffer, oc.seed_steps = seed_steps, oc.episode_len = episode_len, oc.threads = threads;
    if (st) oc.fall = st->fall, oc.init_expert = st->init_expert, oc.init_fall = st->init_fall;
    if (rl_online_create(&env, *c, NULL, &oc, 7, o, e)) return -1;
    if (st && st->x) rl_online_attach_expert(*o, st->x);
    return 0;
}

static int tiny_online(int n, long buffer, long seed_steps, int episode_len, int threads, fb_agent **fb, fbcpr **c,
                       rl_online **o, rz_err *e)
{
    return tiny_online_starts(n, buffer, seed_steps, episode_len, threads, NULL, fb, c, o, e);
}

static void tiny_online_free(fb_agent *fb, fbcpr *c, rl_online *o)
{
    rl_online_free(o);
    fbcpr_destroy(c);
    fb_destroy(fb);
}

/* One tiny online loop of the start tests: the agent, the loop and their error. */
typedef struct {
    fb_agent *fb;
    fbcpr *c;
    rl_online *o;
    rz_err e;
} tiny_run;

/* The start tests' set-up: tiny_online_starts into r (its error cleared first) with start
 * states st. 0 on success. tiny_run_free releases what it made, also after a failure. */
static int tiny_run_new(tiny_run *r, int n, long buffer, long seed_steps, int episode_len, int threads, starts st)
{
    memset(r, 0, sizeof *r);
    return tiny_online_starts(n, buffer, seed_steps, episode_len, threads, &st, &r->fb, &r->c, &r->o, &r->e);
}

static void tiny_run_free(tiny_run *r) { tiny_online_free(r->fb, r->c, r->o); }

/* Environment workers on the humanoid (falls and resets on the way): 3 environments on
 * 1 and 2 threads fill the replay buffer with the same bits. */
static void test_online_threads(void)
{
    NEED_MODEL("test_online_threads");
    float *S2[2] = {NULL, NULL};
    long size[2] = {0, 0};
    for (int t = 0; t < 2; t++) {
        fb_agent *fb;
        fbcpr *c;
        rl_online *o;
        rz_err e = {0};
        CHECK(tiny_online(3, 300, 150, 60, t + 1, &fb, &c, &o, &e) == 0);
        CHECK(o && rl_online_run(o, 300, NULL, NULL, &e) == 0);
        const rl_replay *r = rl_online_replay(o);
        size[t] = r->size;
        S2[t] = malloc((size_t)r->size * r->sd * sizeof(float));
        if (S2[t]) memcpy(S2[t], r->S2, (size_t)r->size * r->sd * sizeof(float));
        tiny_online_free(fb, c, o);
    }
    CHECK(size[0] == 300 && size[1] == 300 && S2[0] && S2[1]);
    if (S2[0] && S2[1]) CHECK(memcmp(S2[0], S2[1], 300 * (size_t)env.state_dim * sizeof(float)) == 0);
    free(S2[0]), free(S2[1]);
}

/* The online loop restarts an environment that fell: with random torques (all steps are
 * seed steps, so no updates) the humanoid falls every ~20 steps, so of 400 transitions
 * some must end in a fall (S2 terminal, else the test says nothing) and none may start
 * from a fallen state (S terminal: the loop carried on from the floor). Each row's done
 * flag (what the TD targets read) is 1 exactly where S2 is terminal, tested by the
 * environment's own rl_env_terminal, and 0 on the other rows. */
static void test_online_restarts_after_fall(void)
{
    NEED_MODEL("test_online_restarts_after_fall");
    fb_agent *fb;
    fbcpr *c;
    rl_online *o;
    rz_err e = {0};
    CHECK(tiny_online(1, 400, 1000, 1000, 1, &fb, &c, &o, &e) == 0);
    const int batch = 8; /* tiny_online's */
    if (o && rl_online_run(o, 400, NULL, NULL, &e) == 0) {
        const rl_replay *r = rl_online_replay(o);
        int from_fallen = 0, falls = 0, flag_wrong = 0, flagged = 0;
        for (long i = 0; i < r->size; i++) {
            from_fallen += rl_env_terminal(&env, r->S + (size_t)i * r->sd);
            int fell = rl_env_terminal(&env, r->S2 + (size_t)i * r->sd);
            falls += fell;
            flagged += r->done[i] == 1.0f;
            flag_wrong += r->done[i] != (fell ? 1.0f : 0.0f);
        }
        CHECK_EQ_INT(r->size, 400);
        CHECK(falls > 0);
        CHECK_EQ_INT(flagged, falls);
        CHECK_EQ_INT(flag_wrong, 0);
        /* and a training batch carries each row's flag: find the replay row whose next
         * observation the batch row holds, compare flags (batches of 8 until a fall shows) */
        int batch_falls = 0, batch_wrong = 0, unmatched = 0;
        float ob[RL_MAX_STATE];
        for (int draw = 0; draw < 200 && !batch_falls; draw++) {
            fbcpr_batch b;
            rl_online_draw_batch(o, &b);
            for (int i = 0; i < batch; i++) {
                long j = 0;
                for (; j < r->size; j++) {
                    rl_env_obs(&env, r->S2 + (size_t)j * r->sd, ob);
                    if (!memcmp(ob, b.O2 + (size_t)i * env.obs_dim, env.obs_dim * sizeof(float))) break;
                }
                if (j == r->size) {
                    unmatched++;
                    continue;
                }
                batch_falls += b.done[i] == 1.0f;
                batch_wrong += b.done[i] != r->done[j];
            }
        }
        CHECK(batch_falls > 0);
        CHECK_EQ_INT(batch_wrong + unmatched, 0);
        CHECK_EQ_INT(from_fallen, 0);
    } else {
        CHECK(!"rl_online_run");
    }
    tiny_online_free(fb, c, o);
}

/* Fallen starts (rl_hum_fall_state, 40 steps of falling as the online loop's default):
 * of 60 from one stream every one is a valid state with the torso below the fall height
 * (rl_env_terminal; the body lies on the floor, it did not land on its feet), and the
 * orientations differ (the draw is random). The same seed gives the same bits. With 0
 * steps the body hangs in the air, its lowest point RL_HUM_DROP above the floor: the
 * torso is above the floor by at least that. */
static void test_fall_start(void)
{
    rz_rng g, g2;
    rz_rng_seed(&g, 11);
    rz_rng_seed(&g2, 11);
    float s[RL_MAX_STATE], s2[RL_MAX_STATE], first[RL_MAX_STATE];
    int fallen = 0, valid = 0, same_orient = 0;
    rz_err e = {0};
    for (int k = 0; k < 60; k++) {
        CHECK(rl_env_fall_start(&env, &g, 40, s, &e) == 0);
        if (k == 0) memcpy(first, s, sizeof s);
        else same_orient += !memcmp(first + 3, s + 3, 4 * sizeof(float));
        fallen += rl_env_terminal(&env, s);
        valid += rl_env_check_state(&env, s);
    }
    CHECK_EQ_INT(fallen, 60);
    CHECK_EQ_INT(valid, 60);
    CHECK_EQ_INT(same_orient, 0);
    CHECK(rl_env_fall_start(&env, &g2, 40, s2, &e) == 0);
    CHECK(memcmp(first, s2, env.state_dim * sizeof(float)) == 0);
    for (int k = 0; k < 20; k++) {
        CHECK(rl_env_fall_start(&env, &g, 0, s, &e) == 0);
        /* the root (torso centre) is inside the body: above its lowest point */
        CHECK(s[2] > RL_HUM_DROP);
        double n2 = (double)s[3] * s[3] + (double)s[4] * s[4] + (double)s[5] * s[5] + (double)s[6] * s[6];
        CHECK_NEAR(n2, 1, 1e-6); /* a unit quaternion (float rounding of each entry) */
    }
    /* a kind without falls says so */
    rl_env pm;
    CHECK(rl_env_make(&pm, "pointmass-maze", 0, NULL) == 0);
    CHECK(!rl_env_has_falls(&pm) && rl_env_has_falls(&env));
    CHECK(rl_env_fall_start(&pm, &g, 40, s, &e) == RZ_EINPUT && strstr(e.msg, "no fallen start") != NULL);
    rl_env_free(&pm);
}

/* An expert set for the start tests: 3 trajectories of 15 states under random torques
 * from standing starts (valid, distinct states; not terminal at first). */
static void small_expert(rl_expert *x)
{
    CHECK(rl_expert_init(x, &env, "test", 1, NULL) == 0);
    rz_rng g;
    rz_rng_seed(&g, 21);
    float S[15 * RL_MAX_STATE], a[RL_MAX_ACT];
    for (int q = 0; q < 3; q++) {
        rl_env_reset(&env, &g, S);
        for (int t = 1; t < 15; t++) {
            for (int k = 0; k < env.act_dim; k++) a[k] = (float)(2 * rz_rng_uniform(&g) - 1);
            CHECK(rl_env_step(&env, S + (size_t)(t - 1) * env.state_dim, a, NULL, S + (size_t)t * env.state_dim, NULL) == 0);
        }
        CHECK(rl_expert_add(x, "r", 15, S, NULL) == 0);
    }
}

/* Which expert row a state is, bit for bit (−1: none). */
static long expert_row(const rl_expert *x, const float *s)
{
    for (long k = 0; k < x->n; k++)
        if (!memcmp(x->S + (size_t)k * env.state_dim, s, env.state_dim * sizeof(float))) return k;
    return -1;
}

/* A default start (rl_env_reset): the standing pose's root height and orientation, every
 * hinge within ±0.01 rad of 0 (humanoid.h's reset noise). */
static int is_default_start(const float *s)
{
    double q[RL_HUM_MAX_JOINTS] = {0};
    float p[RL_MAX_STATE];
    rl_hum_pose_state(&env, q, p);
    if (s[2] != p[2] || s[3] != 1 || s[4] != 0 || s[5] != 0 || s[6] != 0) return 0;
    for (int j = 0; j < rl_hum_joints(&env); j++)
        if (fabsf(s[rl_hum_qpos_index(&env, j)]) > 0.01f) return 0;
    return 1;
}

/* The start-state mixture (init_expert 0.5, init_fall 0.2, the rest default) over 600
 * draws of rl_online_start_state: each start is classified by the test on its own —
 * expert = bit-equal to a row of the expert data (and that state round-trips through
 * MuJoCo: qpos/qvel written and read back unchanged), fall = torso below the fall height,
 * default = the standing pose with reset noise — and must agree with the source
 * returned; the counts are binomial(600, p): each within 5 standard deviations of 600p
 * (±56, ±61, ±49 for p = 0.3, 0.5, 0.2; a correct rule fails this with probability
 * below 1e-6, and the draw is fixed by the seed). */
static void test_online_start_mixture(void)
{
    rl_expert x;
    small_expert(&x);
    tiny_run tr;
    starts st = {RL_FALL_CONTINUE, 0.5, 0.2, &x};
    CHECK(tiny_run_new(&tr, 1, 100, 100, 50, 1, st) == 0);
    enum { N = 600 };
    const double p[3] = {0.3, 0.5, 0.2}; /* RL_INIT_DEFAULT, _EXPERT, _FALL */
    int count[3] = {0, 0, 0}, disagree = 0, roundtrip_bad = 0;
    float s[RL_MAX_STATE], b[RL_MAX_STATE];
    for (int k = 0; k < N && tr.o; k++) {
        int src = rl_online_start_state(tr.o, 0, s, &tr.e);
        CHECK(src >= 0 && src <= 2);
        if (src < 0 || src > 2) break;
        int mine = expert_row(&x, s) >= 0 ? RL_INIT_EXPERT : rl_env_terminal(&env, s) ? RL_INIT_FALL
                   : is_default_start(s) ? RL_INIT_DEFAULT : -1;
        disagree += mine != src;
        if (mine >= 0) count[mine]++;
        if (mine == RL_INIT_EXPERT) roundtrip_bad += rl_hum_roundtrip(&env, s, b) != 0 || memcmp(s, b, env.state_dim * sizeof(float));
    }
    CHECK_EQ_INT(disagree, 0);
    CHECK_EQ_INT(roundtrip_bad, 0);
    for (int q = 0; q < 3; q++) {
        double sd = sqrt(N * p[q] * (1 - p[q]));
        printf("#   start source %d: %d of %d (expected %.0f ± %.0f)\n", q, count[q], N, N * p[q], 5 * sd);
        CHECK(fabs(count[q] - N * p[q]) <= 5 * sd);
    }
    tiny_run_free(&tr);
    /* no expert data attached: an expert start is an error naming it, from the run too */
    st.x = NULL;
    st.init_expert = 1, st.init_fall = 0;
    CHECK(tiny_run_new(&tr, 1, 100, 100, 50, 1, st) == 0);
    if (tr.o) {
        tr.e.code = 0;
        CHECK(rl_online_run(tr.o, 10, NULL, NULL, &tr.e) == RZ_EINPUT && strstr(tr.e.msg, "expert data") != NULL);
    }
    tiny_run_free(&tr);
    /* fallen starts under "fall end", or a share over 1: refused at creation */
    st.init_expert = 0, st.init_fall = 0.2, st.fall = RL_FALL_END;
    CHECK(tiny_run_new(&tr, 1, 100, 100, 50, 1, st) == -1 && strstr(tr.e.msg, "fall 'continue'") != NULL);
    tiny_run_free(&tr);
    st.init_expert = 0.9, st.init_fall = 0.2, st.fall = RL_FALL_CONTINUE;
    CHECK(tiny_run_new(&tr, 1, 100, 100, 50, 1, st) == -1 && strstr(tr.e.msg, "invalid start states") != NULL);
    tiny_run_free(&tr);
    rl_expert_free(&x);
}

/* "fall continue" in the loop, with every reset from the expert data (init_expert 1):
 * under random torques (all seed steps) 600 transitions in episodes of 100 steps. No row
 * is terminal (done 0 everywhere) although bodies do fall (S2 below the fall height
 * somewhere, and rows continue from fallen states: the test is not vacuous); episodes run
 * to their length: row i continues row i − 1 (S[i] = S2[i − 1]) except at multiples of
 * 100, where the state is an expert state, bit for bit. */
static void test_online_fall_continue(void)
{
    rl_expert x;
    small_expert(&x);
    tiny_run tr;
    CHECK(tiny_run_new(&tr, 1, 600, 10000, 100, 1, (starts){RL_FALL_CONTINUE, 1, 0, &x}) == 0);
    if (tr.o && rl_online_run(tr.o, 600, NULL, NULL, &tr.e) == 0) {
        const rl_replay *r = rl_online_replay(tr.o);
        int sd = r->sd, done = 0, falls = 0, from_fallen = 0, broken = 0, not_expert = 0;
        CHECK_EQ_INT(r->size, 600);
        for (long i = 0; i < r->size; i++) {
            done += r->done[i] != 0;
            falls += rl_env_terminal(&env, r->S2 + (size_t)i * sd);
            from_fallen += rl_env_terminal(&env, r->S + (size_t)i * sd);
            if (i % 100 == 0) not_expert += expert_row(&x, r->S + (size_t)i * sd) < 0;
            else broken += memcmp(r->S + (size_t)i * sd, r->S2 + (size_t)(i - 1) * sd, sd * sizeof(float)) != 0;
        }
        printf("#   fall continue: %d of 600 next states fallen, %d rows start fallen\n", falls, from_fallen);
        CHECK_EQ_INT(done, 0);
        CHECK(falls > 0 && from_fallen > 0);
        CHECK_EQ_INT(broken, 0);
        CHECK_EQ_INT(not_expert, 0);
    } else {
        CHECK(!"rl_online_run");
    }
    tiny_run_free(&tr);
    rl_expert_free(&x);
}

/* The start mixture with fallen and expert starts: 3 environments on 1 and 2 worker
 * threads fill the replay buffer (states, next states, done flags) with the same bits. */
static void test_online_starts_threads(void)
{
    rl_expert x;
    small_expert(&x);
    float *S[2] = {NULL, NULL};
    long size[2] = {0, 0};
    int n_fallen_start = 0;
    for (int t = 0; t < 2; t++) {
        tiny_run tr;
        CHECK(tiny_run_new(&tr, 3, 300, 150, 20, t + 1, (starts){RL_FALL_CONTINUE, 0.4, 0.3, &x}) == 0);
        CHECK(tr.o && rl_online_run(tr.o, 300, NULL, NULL, &tr.e) == 0);
        const rl_replay *r = rl_online_replay(tr.o);
        size[t] = r->size;
        size_t n = (size_t)r->size * r->sd;
        S[t] = malloc((2 * n + (size_t)r->size) * sizeof(float));
        if (S[t]) {
            memcpy(S[t], r->S, n * sizeof(float));
            memcpy(S[t] + n, r->S2, n * sizeof(float));
            memcpy(S[t] + 2 * n, r->done, (size_t)r->size * sizeof(float));
        }
        if (t == 0)
            for (long i = 0; i < r->size; i++) n_fallen_start += rl_env_terminal(&env, r->S + (size_t)i * r->sd);
        tiny_run_free(&tr);
    }
    CHECK(n_fallen_start > 0);
    CHECK(size[0] == 300 && size[1] == 300 && S[0] && S[1]);
    if (S[0] && S[1]) CHECK(memcmp(S[0], S[1], (2 * 300 * (size_t)env.state_dim + 300) * sizeof(float)) == 0);
    free(S[0]), free(S[1]);
    rl_expert_free(&x);
}

/* The random-action floor of a reward task (rl_eval_random, what `rz-agent eval --random`
 * reports) against the test's own loop: 3 episodes of the stand task from rl_env_reset
 * starts (seed 5), uniform torques from their own RNG (seed 5 ^ the documented constant)
 * for every episode at every step, rewards summed until the body falls. */
static void test_eval_random(void)
{
    NEED_MODEL("test_eval_random");
    rl_task *tasks;
    int nt, st = -1;
    CHECK(rl_env_tasks(&env, "rewards", &tasks, &nt, NULL) == 0);
    for (int k = 0; k < nt; k++)
        if (!strcmp(tasks[k].name, "stand")) st = k;
    CHECK(st >= 0);
    if (st < 0) return;
    fb_task_result res;
    rz_err e = {0};
    CHECK(rl_eval_random(&env, &tasks[st], 3, 5, &res, &e) == 0);
    enum { E = 3 };
    float S[E][64], a[E][21], nx[64];
    rz_rng g, ga;
    rz_rng_seed(&g, 5);
    rz_rng_seed(&ga, 5 ^ 0x9e3779b97f4a7c15ull);
    for (int i = 0; i < E; i++) rl_env_reset(&env, &g, S[i]);
    double sum = 0;
    int alive[E] = {1, 1, 1}, falls = 0;
    for (int t = 0; t < env.horizon; t++) {
        for (int i = 0; i < E; i++)
            for (int q = 0; q < 21; q++) a[i][q] = (float)(2 * rz_rng_uniform(&ga) - 1);
        for (int i = 0; i < E; i++) {
            if (!alive[i]) continue;
            CHECK(rl_env_step(&env, S[i], a[i], &g, nx, NULL) == 0);
            memcpy(S[i], nx, env.state_dim * sizeof(float));
            sum += rl_task_reward(&env, &tasks[st], nx);
            if (rl_env_terminal(&env, nx)) alive[i] = 0, falls++;
        }
    }
    printf("#   random torques on stand: mean return %.4f (want %.4f), %d of 3 fell\n", res.ret, sum / E, falls);
    CHECK(falls > 0); /* random torques topple it: the episode end is exercised */
    CHECK_NEAR(res.ret, sum / E, 1e-12);
    CHECK(res.episodes == 3 && isnan(res.norm));
    rl_tasks_free(tasks, nt);
}

static void skip(const char *name) { NEED_MODEL(name); }

int main(void)
{
    RUN(test_keyframe_parse);
    RUN(test_keyframe_bad);
    RUN(test_keyframe_joint_limit);
    if (!have_model() || rl_env_make(&env, "humanoid", 0, NULL) != 0) {
        const char *names[] = {"test_loads", "test_roundtrip_and_purity", "test_falls", "test_rewards", "test_bad_states",
                               "test_collect_falls", "test_keyframe_bind", "test_track_expert",
                               "test_online_restarts_after_fall", "test_eval_random", "test_online_threads",
                               "test_fall_start", "test_online_start_mixture", "test_online_fall_continue",
                               "test_online_starts_threads"};
        for (int i = 0; i < 15; i++) {
            if (have_model()) printf("not ok - %s: the humanoid model does not load\n", names[i]);
            else skip(names[i]);
        }
        return have_model() ? 1 : check_summary();
    }
    RUN(test_loads);
    RUN(test_roundtrip_and_purity);
    RUN(test_falls);
    RUN(test_rewards);
    RUN(test_bad_states);
    RUN(test_collect_falls);
    RUN(test_keyframe_bind);
    RUN(test_track_expert);
    RUN(test_online_restarts_after_fall);
    RUN(test_online_threads);
    RUN(test_fall_start);
    RUN(test_online_start_mixture);
    RUN(test_online_fall_continue);
    RUN(test_online_starts_threads);
    RUN(test_eval_random);
    rl_env_free(&env);
    return check_summary();
}
