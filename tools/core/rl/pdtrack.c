/* pdtrack.c — keyframe motions PD-tracked on the humanoid into expert trajectories, and
 * the picture of one tracked motion (contract in pdtrack.h).
 */
#include "pdtrack.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "humanoid.h"
#include "pngenc.h"

#define DT (0.005 * RL_HUM_NSUB) /* one environment step (s) of the stock model */

void rl_pdtrack_defaults(rl_pdtrack_opts *o)
{
    memset(o, 0, sizeof *o);
    o->kp = 20;
    o->kd = 0.1;
    o->hold = 0.5;
    o->repeats = 1;
    o->jitter = 0.1;
    o->min_len = 8;
    o->seed = 1;
}

int rl_pdtrack_bind(const rl_env *env, const rl_keyframes *k, int *map, rz_err *e)
{
    if (env->kind != RL_HUMANOID) return rz_fail(e, RZ_EINPUT, "%s: keyframe motions drive the humanoid, not %s", k->source, env->name);
    for (int c = 0; c < k->nj; c++) {
        int j = rl_hum_joint_find(env, k->joint[c]);
        if (j < 0)
            return rz_fail(e, RZ_EINPUT, "%s:%d: field 'joints': '%s' is not an actuated joint of the model %s", k->source,
                           k->joints_line, k->joint[c], env->map_text ? env->map_text : env->name);
        map[c] = j;
        double lo, hi;
        rl_hum_joint_range(env, j, &lo, &hi);
        for (int f = 0; f < k->nf; f++) {
            double v = k->q[(size_t)f * k->nj + c];
            if (v < lo - 1e-9 || v > hi + 1e-9)
                return rz_fail(e, RZ_EINPUT, "%s:%d: field '%s': %g degrees is outside the joint's range [%g, %g]", k->source,
                               k->line[f], k->joint[c], v * 180 / M_PI, lo * 180 / M_PI, hi * 180 / M_PI);
        }
    }
    return RZ_OK;
}

int rl_pdtrack_steps(const rl_keyframes *k, const rl_pdtrack_opts *o, double scale)
{
    return (int)ceil((scale * rl_kf_duration(k) + o->hold) / DT - 1e-9) + 1;
}

int rl_pdtrack_run(const rl_env *env, const rl_keyframes *k, const int *map, const rl_pdtrack_opts *o, double scale,
                   double amp, rz_rng *rng, int max_len, float *S, double *qref, int *len, int *fell, rz_err *e)
{
    int sd = env->state_dim, nj = rl_hum_joints(env), T = rl_pdtrack_steps(k, o, scale);
    if (T > max_len) T = max_len;
    double q[RL_HUM_MAX_JOINTS], kq[RL_KF_MAX_JOINTS];
    *fell = 0;
    rl_env_reset(env, rng, S);
    int n = 1;
    for (int t = 0; t < T; t++) {
        /* the target for the step that starts at time t·DT */
        memset(q, 0, sizeof q);
        rl_kf_eval(k, t * DT / scale, kq);
        for (int c = 0; c < k->nj; c++) q[map[c]] = amp * kq[c];
        if (qref) memcpy(qref + (size_t)t * nj, q, (size_t)nj * sizeof(double));
        if (t + 1 >= T) break; /* the last recorded state has its target, no step after it */
        int rc = rl_hum_pd_step(env, S + (size_t)t * sd, q, o->kp, o->kd, S + (size_t)(t + 1) * sd, e);
        if (rc) return rc;
        if (rl_env_terminal(env, S + (size_t)(t + 1) * sd)) {
            *fell = 1;
            break;
        }
        n++;
    }
    *len = n;
    return RZ_OK;
}

int rl_pdtrack_expert(const rl_env *env, const rl_keyframes *motions, int n_motions, const rl_pdtrack_opts *o,
                      rl_expert *x, int *kept, int *fell, rz_err *e)
{
    rz_rng rng;
    rz_rng_seed(&rng, o->seed);
    int rc = RZ_OK;
    for (int m = 0; m < n_motions && !rc; m++) {
        int map[RL_KF_MAX_JOINTS];
        if ((rc = rl_pdtrack_bind(env, &motions[m], map, e))) break;
        if (kept) kept[m] = 0;
        if (fell) fell[m] = 0;
        for (int r = 0; r < o->repeats && !rc; r++) {
            double s = 1, a = 1;
            if (r > 0) {
                s = 1 + o->jitter * (2 * rz_rng_uniform(&rng) - 1);
                a = 1 + o->jitter * (2 * rz_rng_uniform(&rng) - 1);
            }
            int T = rl_pdtrack_steps(&motions[m], o, s), len, fl;
            if (T > RZ_AGENT_MAX_STEPS) {
                rc = rz_fail(e, RZ_EINPUT, "%s: %d steps, more than a trajectory's %d", motions[m].source, T, RZ_AGENT_MAX_STEPS);
                break;
            }
            float *S = rz_malloc((size_t)T * env->state_dim * sizeof(float), e);
            if (!S) return RZ_EINTERNAL;
            rc = rl_pdtrack_run(env, &motions[m], map, o, s, a, &rng, T, S, NULL, &len, &fl, e);
            if (!rc && fell) fell[m] += fl;
            if (!rc && len >= o->min_len) {
                char name[64];
                snprintf(name, sizeof name, "%s-%d", motions[m].name, r);
                rc = rl_expert_add(x, name, len, S, e);
                if (!rc && kept) kept[m]++;
            }
            free(S);
        }
    }
    return rc;
}

/* ---- picture --------------------------------------------------------------------------- */
static void px(unsigned char *img, int W, int H, int x, int y, const unsigned char *c)
{
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    memcpy(img + ((size_t)y * W + x) * 3, c, 3);
}

static void line(unsigned char *img, int W, int H, int x0, int y0, int x1, int y1, const unsigned char *c)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (int guard = 0; guard < 4 * (W + H); guard++) {
        px(img, W, H, x0, y0, c);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

int rl_pdtrack_plot(const rl_env *env, const rl_keyframes *k, const int *map, int len, const float *S,
                    const double *qref, const char *path, rz_err *e)
{
    enum { PW = 480, PH = 52, FIG = 150 };
    int np = k->nj < 6 ? k->nj : 6, W = PW, H = np * PH + FIG, nj = rl_hum_joints(env), sd = env->state_dim;
    unsigned char *img = rz_malloc((size_t)W * H * 3, e);
    if (!img) return RZ_EINTERNAL;
    memset(img, 255, (size_t)W * H * 3);
    static const unsigned char pal[6][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}, {140, 86, 75}};
    const unsigned char grey[3] = {160, 160, 160}, axis[3] = {220, 220, 220}, black[3] = {0, 0, 0};
    double tmax = (len - 1) * DT;
    for (int p = 0; p < np; p++) {
        int j = map[p], qi = rl_hum_qpos_index(env, j), y0 = p * PH;
        double lo, hi;
        rl_hum_joint_range(env, j, &lo, &hi);
        /* the panel spans the joint's range; a line at 0 and a frame */
        for (int x = 0; x < W; x++) px(img, W, H, x, y0 + PH - 1, axis);
        int yz = y0 + 4 + (int)((hi - 0) / (hi - lo) * (PH - 9));
        for (int x = 0; x < W; x += 3) px(img, W, H, x, yz, axis);
        int prev[2][2] = {{-1, -1}, {-1, -1}};
        for (int t = 0; t < len; t++) {
            int x = (int)(t * DT / (tmax > 0 ? tmax : 1) * (W - 1));
            double v[2] = {qref[(size_t)t * nj + j], S[(size_t)t * sd + qi]};
            for (int s = 0; s < 2; s++) {
                double c = v[s] < lo ? lo : v[s] > hi ? hi : v[s];
                int y = y0 + 4 + (int)((hi - c) / (hi - lo) * (PH - 9));
                if (prev[s][0] >= 0) line(img, W, H, prev[s][0], prev[s][1], x, y, s ? pal[p] : grey);
                prev[s][0] = x, prev[s][1] = y;
            }
        }
    }
    /* stick figures: side view (x right, z up), the 1.7 m of a standing figure in the
     * strip's height, one every 0.5 s */
    int every = (int)lround(0.5 / DT), nfig = (len - 1) / every + 1, gy = np * PH + FIG - 6;
    double ppm = (FIG - 12) / 1.7;
    for (int f = 0; f < nfig; f++) {
        const float *s = S + (size_t)f * every * sd;
        float xyz[3 * 64];
        int parent[64], nb = rl_hum_bodies(env, s, 64, xyz, parent);
        int cx = (int)((f + 0.5) * W / (nfig > 0 ? nfig : 1));
        for (int x = cx - 20; x < cx + 20; x++) px(img, W, H, x, gy, black);
        for (int b = 0; b < nb; b++) {
            if (parent[b] < 0) continue;
            const float *a = xyz + 3 * b, *c = xyz + 3 * parent[b];
            line(img, W, H, cx + (int)lround((a[0] - s[0]) * ppm), gy - (int)lround(a[2] * ppm),
                 cx + (int)lround((c[0] - s[0]) * ppm), gy - (int)lround(c[2] * ppm), pal[b % 6]);
        }
    }
    int rc = rz_png_write(path, W, H, img, e);
    free(img);
    return rc;
}

int rl_pdtrack_plot_vs(const rl_env *env, int len, const float *S, const float *R, const char *path, rz_err *e)
{
    static const char *names[6] = {"right_hip_y", "left_hip_y", "right_knee", "left_knee", "right_shoulder1", "left_shoulder1"};
    rl_keyframes k; /* rl_pdtrack_plot reads only the panel count */
    memset(&k, 0, sizeof k);
    k.nj = 6;
    int map[6], nj = rl_hum_joints(env), sd = env->state_dim;
    for (int p = 0; p < 6; p++)
        if ((map[p] = rl_hum_joint_find(env, names[p])) < 0)
            return rz_fail(e, RZ_EINPUT, "%s: the model has no joint '%s' to draw", env->name, names[p]);
    double *q = rz_malloc((size_t)len * nj * sizeof(double), e);
    if (!q) return RZ_EINTERNAL;
    for (int t = 0; t < len; t++)
        for (int j = 0; j < nj; j++) q[(size_t)t * nj + j] = R[(size_t)t * sd + rl_hum_qpos_index(env, j)];
    int rc = rl_pdtrack_plot(env, &k, map, len, S, q, path, e);
    free(q);
    return rc;
}

int rl_pdtrack_picture(const rl_env *env, const rl_keyframes *k, const rl_pdtrack_opts *o, const char *path, rz_err *e)
{
    int map[RL_KF_MAX_JOINTS], T = rl_pdtrack_steps(k, o, 1), len, fell, rc;
    if ((rc = rl_pdtrack_bind(env, k, map, e))) return rc;
    float *S = rz_malloc((size_t)T * env->state_dim * sizeof(float), e);
    double *q = rz_malloc((size_t)T * rl_hum_joints(env) * sizeof(double), e);
    rz_rng rng;
    rz_rng_seed(&rng, o->seed);
    rc = !S || !q ? RZ_EINTERNAL : rl_pdtrack_run(env, k, map, o, 1, 1, &rng, T, S, q, &len, &fell, e);
    if (!rc) rc = rl_pdtrack_plot(env, k, map, len, S, q, path, e);
    free(S), free(q);
    return rc;
}
