/* pointmass_expert.c — A* over the maze's free cells + a PD tracker (see the header). */
#include "pointmass_expert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mujoco_env.h"

#define NC (PM_GRID * PM_GRID)

void pm_cell_centre(int cell, float *xy)
{
    xy[0] = -RL_MJ_HALF + PM_CELL * (cell % PM_GRID + 0.5f);
    xy[1] = -RL_MJ_HALF + PM_CELL * (cell / PM_GRID + 0.5f);
}

static int cell_free(int cell)
{
    float xy[2];
    pm_cell_centre(cell, xy);
    return !rl_mj_in_wall(xy[0], xy[1], 0.008f);
}

int pm_cell(float x, float y)
{
    int best = -1;
    float bd = 1e30f;
    for (int c = 0; c < NC; c++) {
        if (!cell_free(c)) continue;
        float xy[2];
        pm_cell_centre(c, xy);
        float d = (xy[0] - x) * (xy[0] - x) + (xy[1] - y) * (xy[1] - y);
        if (d < bd) bd = d, best = c;
    }
    return best;
}

static double octile(int a, int b)
{
    int dx = abs(a % PM_GRID - b % PM_GRID), dy = abs(a / PM_GRID - b / PM_GRID);
    int mn = dx < dy ? dx : dy, mx = dx < dy ? dy : dx;
    return (mx - mn) + sqrt(2.0) * mn;
}

int pm_astar(int a, int b, int *path)
{
    double g[NC], f[NC];
    int parent[NC];
    unsigned char open[NC], closed[NC];
    for (int c = 0; c < NC; c++) g[c] = 1e30, parent[c] = -1, open[c] = closed[c] = 0;
    if (a < 0 || b < 0 || !cell_free(a) || !cell_free(b)) return 0;
    g[a] = 0, f[a] = octile(a, b), open[a] = 1;
    for (;;) {
        int cur = -1; /* the open cell of least f (ties: lowest index); 900 cells, a scan is enough */
        for (int c = 0; c < NC; c++)
            if (open[c] && (cur < 0 || f[c] < f[cur])) cur = c;
        if (cur < 0) return 0;
        if (cur == b) break;
        open[cur] = 0, closed[cur] = 1;
        int cx = cur % PM_GRID, cy = cur / PM_GRID;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int nx = cx + dx, ny = cy + dy;
                if ((!dx && !dy) || nx < 0 || ny < 0 || nx >= PM_GRID || ny >= PM_GRID) continue;
                int n = ny * PM_GRID + nx;
                if (closed[n] || !cell_free(n)) continue;
                if (dx && dy && (!cell_free(cy * PM_GRID + nx) || !cell_free(ny * PM_GRID + cx))) continue;
                double ng = g[cur] + (dx && dy ? sqrt(2.0) : 1.0);
                if (ng < g[n]) g[n] = ng, f[n] = ng + octile(n, b), parent[n] = cur, open[n] = 1;
            }
    }
    int len = 0;
    for (int c = b; c >= 0; c = parent[c]) path[len++] = c;
    for (int i = 0; i < len / 2; i++) {
        int t = path[i];
        path[i] = path[len - 1 - i], path[len - 1 - i] = t;
    }
    return len;
}

/* The carrot: the point la metres of arc past the path point nearest to p. P is the
 * polyline (m points). */
static void carrot(const float *P, int m, const float *p, float la, float *out)
{
    int seg = 0;
    float bt = 0, bd = 1e30f;
    for (int i = 0; i + 1 < m; i++) {
        float ax = P[2 * i], ay = P[2 * i + 1], bx = P[2 * i + 2] - ax, by = P[2 * i + 3] - ay;
        float L2 = bx * bx + by * by, t = L2 > 0 ? ((p[0] - ax) * bx + (p[1] - ay) * by) / L2 : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        float dx = ax + t * bx - p[0], dy = ay + t * by - p[1], d = dx * dx + dy * dy;
        if (d < bd) bd = d, seg = i, bt = t;
    }
    float left = la;
    for (int i = seg; i + 1 < m; i++) {
        float ax = P[2 * i], ay = P[2 * i + 1], bx = P[2 * i + 2] - ax, by = P[2 * i + 3] - ay;
        float L = sqrtf(bx * bx + by * by), rest = (1 - (i == seg ? bt : 0)) * L;
        if (rest >= left && L > 0) {
            float t = (i == seg ? bt : 0) + left / L;
            out[0] = ax + t * bx, out[1] = ay + t * by;
            return;
        }
        left -= rest;
    }
    out[0] = P[2 * (m - 1)], out[1] = P[2 * (m - 1) + 1];
}

int pm_expert_make(const rl_env *env, int n, uint64_t seed, rl_expert *x, int *reached, rz_err *e)
{
    if (env->kind != RL_POINTMASS) return rz_fail(e, RZ_EINPUT, "A* + PD expert data is for pointmass-maze, not %s", env->name);
    enum { MAXT = 400 };
    rz_rng rng;
    rz_rng_seed(&rng, seed);
    int path[NC], rc = RZ_OK, hit = 0;
    float *P = rz_malloc((NC + 2) * 2 * sizeof(float), e), *S = rz_malloc((MAXT + 1) * 4 * sizeof(float), e);
    if (!P || !S) {
        free(P), free(S);
        return RZ_EINTERNAL;
    }
    for (int k = 0; k < n && !rc;) {
        float s0[4], goal[4];
        rl_env_reset(env, &rng, s0);
        rl_env_reset(env, &rng, goal);
        int m = pm_astar(pm_cell(s0[0], s0[1]), pm_cell(goal[0], goal[1]), path);
        float dg = hypotf(goal[0] - s0[0], goal[1] - s0[1]);
        if (m < 1 || dg < 0.1f) continue; /* unreachable (never in this maze) or too short to be a motion */
        /* polyline: start, cell centres after the first, the goal itself */
        P[0] = s0[0], P[1] = s0[1];
        for (int i = 1; i < m; i++) pm_cell_centre(path[i], P + 2 * i);
        P[2 * m] = goal[0], P[2 * m + 1] = goal[1];
        memcpy(S, s0, sizeof s0);
        int t = 0;
        for (; t < MAXT; t++) {
            const float *s = S + 4 * t;
            float dgoal = hypotf(goal[0] - s[0], goal[1] - s[1]);
            if (dgoal < 0.02f) break;
            float c[2], act[2];
            carrot(P, m + 1, s, 0.04f, c);
            float dx = c[0] - s[0], dy = c[1] - s[1], d = hypotf(dx, dy);
            float vmax = 0.3f * (dgoal < 0.05f ? dgoal / 0.05f + 0.1f : 1.0f);
            float vx = d > 1e-6f ? vmax * dx / d : 0, vy = d > 1e-6f ? vmax * dy / d : 0;
            act[0] = vx + 3.0f * (vx - s[2]);
            act[1] = vy + 3.0f * (vy - s[3]);
            for (int r = 0; r < 2; r++) act[r] = act[r] < -1 ? -1 : act[r] > 1 ? 1 : act[r];
            if ((rc = rl_env_step(env, s, act, &rng, S + 4 * (t + 1), e))) break;
        }
        if (rc) break;
        hit += t < MAXT;
        char name[32];
        snprintf(name, sizeof name, "path-%d", k);
        rc = rl_expert_add(x, name, t + 1, S, e);
        k++;
    }
    free(P), free(S);
    if (reached) *reached = hit;
    return rc;
}
