/* grid.c — grid worlds from ASCII maps: parsing, dynamics, tasks, exact values by
 * value iteration, the collection policies' actions and pictures (see env.h; env.c
 * dispatches to rl_grid_ops).
 *
 * A grid's free cells are numbered row-major (id 0..n_free−1); next[id·5 + a] is the
 * deterministic successor of action a, so a step is a table lookup and the transition
 * probabilities under slip p are
 *     P(s'|s,a) = (1−p)·1[s' = next(s,a)] + (p/5)·Σ_b 1[s' = next(s,b)].
 */
#include "env.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pngenc.h"

static const char fourrooms_map[] =
    "#############\n"
    "#.....#.....#\n"
    "#.....#.....#\n"
    "#...........#\n"
    "#.....#.....#\n"
    "#.....#.....#\n"
    "##.####.....#\n"
    "#.....###.###\n"
    "#.....#.....#\n"
    "#.....#.....#\n"
    "#...........#\n"
    "#.....#.....#\n"
    "#############\n";

static const int dcol[RL_GRID_ACTIONS] = {0, 0, 0, -1, 1};
static const int drow[RL_GRID_ACTIONS] = {0, -1, 1, 0, 0};

/* ---- parsing -------------------------------------------------------------------- */
int rl_env_grid_parse(rl_env *env, const char *text, const char *source, double slip, rz_err *e)
{
    memset(env, 0, sizeof *env);
    env->ops = &rl_grid_ops; /* from here on rl_env_free releases the grid arrays */
    if (!(slip >= 0 && slip <= 1))
        return rz_fail(e, RZ_EINPUT, "%s: slip probability %g is not in [0, 1]", source, slip);
    /* Pass 1: dimensions, ragged rows, characters. Trailing empty lines are ignored. */
    int w = -1, h = 0;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > 0 && p[len - 1] == '\r') len--;
        if (len == 0) {
            /* blank line: only allowed at the end */
            const char *q = p;
            while (*q == '\n' || *q == '\r') q++;
            if (*q) return rz_fail(e, RZ_EINPUT, "%s: line %d: empty row inside the map", source, h + 1);
            break;
        }
        for (size_t i = 0; i < len; i++)
            if (p[i] != '#' && p[i] != '.' && p[i] != ' ')
                return rz_fail(e, RZ_EINPUT,
                               "%s: line %d, column %zu: character '%c' (0x%02x) is not '#', '.' or ' '",
                               source, h + 1, i + 1, isprint((unsigned char)p[i]) ? p[i] : '?',
                               (unsigned char)p[i]);
        if (w < 0) w = (int)len;
        else if ((int)len != w)
            return rz_fail(e, RZ_EINPUT, "%s: line %d has %zu columns, line 1 has %d (ragged rows)",
                           source, h + 1, len, w);
        if (len > RL_MAX_MAP || ++h > RL_MAX_MAP)
            return rz_fail(e, RZ_EINPUT, "%s: map larger than %d × %d", source, RL_MAX_MAP, RL_MAX_MAP);
        p = eol ? eol + 1 : p + len;
    }
    if (h == 0) return rz_fail(e, RZ_EINPUT, "%s: empty map", source);
    rl_grid *g = &env->grid;
    g->w = w;
    g->h = h;
    g->wall = rz_calloc((size_t)w * h, 1, e);
    g->state_of = rz_calloc((size_t)w * h, sizeof(int), e);
    if (!g->wall || !g->state_of) goto oom;
    p = text;
    for (int r = 0; r < h; r++) {
        for (int c = 0; c < w; c++) g->wall[r * w + c] = p[c] == '#';
        const char *eol = strchr(p, '\n'); /* pass 1 saw h rows: all but the last end in '\n' */
        if (!eol) break;
        p = eol + 1;
    }
    for (int i = 0; i < w * h; i++) g->state_of[i] = g->wall[i] ? -1 : g->n_free++;
    if (g->n_free == 0) {
        rl_env_free(env);
        return rz_fail(e, RZ_EINPUT, "%s: the map has no free cell ('.' or ' ')", source);
    }
    g->cell_of = rz_malloc((size_t)g->n_free * sizeof(int), e);
    g->next = rz_malloc((size_t)g->n_free * RL_GRID_ACTIONS * sizeof(int), e);
    env->map_text = strdup(text);
    if (!g->cell_of || !g->next || !env->map_text) goto oom;
    for (int i = 0; i < w * h; i++)
        if (g->state_of[i] >= 0) g->cell_of[g->state_of[i]] = i;
    for (int s = 0; s < g->n_free; s++) {
        int r = g->cell_of[s] / w, c = g->cell_of[s] % w;
        for (int a = 0; a < RL_GRID_ACTIONS; a++) {
            int r2 = r + drow[a], c2 = c + dcol[a];
            int ok = r2 >= 0 && r2 < h && c2 >= 0 && c2 < w && !g->wall[r2 * w + c2];
            g->next[s * RL_GRID_ACTIONS + a] = ok ? g->state_of[r2 * w + c2] : s;
        }
    }
    env->kind = RL_GRID;
    const char *base = strrchr(source, '/');
    snprintf(env->name, sizeof env->name, "%s", base ? base + 1 : source);
    env->slip = slip;
    env->state_dim = 2;
    env->obs_dim = g->n_free;
    env->n_actions = RL_GRID_ACTIONS;
    env->act_dim = 1;
    /* Horizon: twice the largest shortest-path distance (BFS from every cell), ≥ 20, so
     * an optimal agent reaches any goal with time to spare. */
    int *dist = rz_malloc((size_t)g->n_free * sizeof(int), e), *queue = rz_malloc((size_t)g->n_free * sizeof(int), e);
    if (!dist || !queue) {
        free(dist);
        free(queue);
        goto oom;
    }
    int diam = 0;
    for (int s0 = 0; s0 < g->n_free; s0++) {
        for (int s = 0; s < g->n_free; s++) dist[s] = -1;
        int qh = 0, qt = 0;
        dist[s0] = 0;
        queue[qt++] = s0;
        while (qh < qt) {
            int s = queue[qh++];
            if (dist[s] > diam) diam = dist[s];
            for (int a = 1; a < RL_GRID_ACTIONS; a++) {
                int s2 = g->next[s * RL_GRID_ACTIONS + a];
                if (dist[s2] < 0) {
                    dist[s2] = dist[s] + 1;
                    queue[qt++] = s2;
                }
            }
        }
    }
    free(dist);
    free(queue);
    env->horizon = 2 * diam < 20 ? 20 : 2 * diam;
    env->episode_len = env->horizon;
    return RZ_OK;
oom:
    rl_env_free(env);
    return RZ_EINTERNAL;
}

/* A map file (at most RL_MAX_MAP × RL_MAX_MAP) parsed as a grid. */
int rl_env_grid_load(rl_env *env, const char *spec, double slip, rz_err *e)
{
    FILE *f = fopen(spec, "rb");
    if (!f)
        return rz_fail(e, RZ_EINPUT, "%s: cannot open map file (expected fourrooms, pointmass-maze or a map file)", spec);
    char *buf = rz_malloc(RL_MAX_MAP * (RL_MAX_MAP + 2) + 2, e);
    if (!buf) {
        fclose(f);
        return RZ_EINTERNAL;
    }
    size_t n = fread(buf, 1, RL_MAX_MAP * (RL_MAX_MAP + 2) + 1, f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return rz_fail(e, RZ_EINPUT, "%s: read error", spec);
    }
    if (n > (size_t)RL_MAX_MAP * (RL_MAX_MAP + 2)) {
        free(buf);
        return rz_fail(e, RZ_EINPUT, "%s: map larger than %d × %d", spec, RL_MAX_MAP, RL_MAX_MAP);
    }
    buf[n] = 0;
    if (memchr(buf, 0, n)) {
        free(buf);
        return rz_fail(e, RZ_EINPUT, "%s: NUL byte in map file", spec);
    }
    int rc = rl_env_grid_parse(env, buf, spec, slip, e);
    free(buf);
    return rc;
}


static int grid_make(rl_env *env, const char *spec, double slip, rz_err *e)
{
    return rl_env_grid_parse(env, fourrooms_map, spec, slip, e);
}

static void grid_free(rl_env *env)
{
    free(env->grid.wall);
    free(env->grid.state_of);
    free(env->grid.cell_of);
    free(env->grid.next);
}

/* ---- dynamics ------------------------------------------------------------------- */
int rl_grid_id(const rl_env *env, const float *state)
{
    const rl_grid *g = &env->grid;
    float c = state[0], r = state[1];
    if (!(c >= 0 && c < g->w && r >= 0 && r < g->h) || c != floorf(c) || r != floorf(r)) return -1;
    return g->state_of[(int)r * g->w + (int)c];
}

static void grid_state(const rl_env *env, int id, float *state)
{
    state[0] = (float)(env->grid.cell_of[id] % env->grid.w);
    state[1] = (float)(env->grid.cell_of[id] / env->grid.w);
}

static void grid_reset(const rl_env *env, rz_rng *rng, float *state)
{
    grid_state(env, rz_rng_int(rng, env->grid.n_free), state);
}

static int grid_check_state(const rl_env *env, const float *state) { return rl_grid_id(env, state) >= 0; }

static int grid_check_action(const rl_env *env, const float *action)
{
    (void)env;
    float a = action[0];
    return a >= 0 && a < RL_GRID_ACTIONS && a == floorf(a);
}

static int grid_step(const rl_env *env, const float *state, const float *action, rz_rng *rng, float *next,
                     rz_err *e)
{
    int id = rl_grid_id(env, state);
    if (id < 0) return rz_fail(e, RZ_EINPUT, "%s: state (%g, %g) is not a free cell", env->name, state[0], state[1]);
    int a = (int)action[0];
    if (env->slip > 0 && rz_rng_uniform(rng) < env->slip) a = rz_rng_int(rng, RL_GRID_ACTIONS);
    grid_state(env, env->grid.next[id * RL_GRID_ACTIONS + a], next);
    return RZ_OK;
}

static void grid_obs(const rl_env *env, const float *state, float *obs)
{
    memset(obs, 0, (size_t)env->obs_dim * sizeof(float));
    int id = rl_grid_id(env, state), off = 0;
    if (env->grid_obs != RL_OBS_XY) {
        if (id >= 0) obs[id] = 1.0f;
        off = env->grid.n_free;
    }
    if (env->grid_obs != RL_OBS_ONEHOT) { /* coordinates scaled to [−1, 1] */
        obs[off] = env->grid.w > 1 ? 2.0f * state[0] / (env->grid.w - 1) - 1.0f : 0.0f;
        obs[off + 1] = env->grid.h > 1 ? 2.0f * state[1] / (env->grid.h - 1) - 1.0f : 0.0f;
    }
}

void rl_env_set_grid_obs(rl_env *env, rl_grid_obs mode)
{
    if (env->ops != &rl_grid_ops) return; /* a grid-only setting: other kinds ignore it */
    env->grid_obs = mode;
    env->obs_dim = (mode != RL_OBS_XY ? env->grid.n_free : 0) + (mode != RL_OBS_ONEHOT ? 2 : 0);
}

/* ---- tasks ------------------------------------------------------------------------ */
static int quadrant(const rl_grid *g, int id)
{
    int r = g->cell_of[id] / g->w, c = g->cell_of[id] % g->w;
    return (2 * r >= g->h ? 2 : 0) + (2 * c >= g->w ? 1 : 0);
}

static int grid_tasks(const rl_env *env, int goals, int rewards, rl_task **tasks, int *n, rz_err *e)
{
    const rl_grid *g = &env->grid;
    int cnt = (goals ? g->n_free : 0) + (rewards ? 8 : 0), k = 0;
    rl_task *t = rz_calloc(cnt, sizeof *t, e);
    if (!t) return RZ_EINTERNAL;
    for (int i = 0; i < cnt; i++) {
        t[i].r = rz_calloc(g->n_free, sizeof(float), e);
        if (!t[i].r) {
            rl_tasks_free(t, cnt);
            return RZ_EINTERNAL;
        }
    }
    if (goals)
        for (int s = 0; s < g->n_free; s++, k++) {
            t[k].is_goal = 1;
            grid_state(env, s, t[k].goal);
            snprintf(t[k].name, sizeof t[k].name, "goal-%d-%d", (int)t[k].goal[0], (int)t[k].goal[1]);
            t[k].r[s] = 1.0f;
        }
    if (rewards) {
        static const char *room[4] = {"room-top-left", "room-top-right", "room-bottom-left", "room-bottom-right"};
        static const char *corner[4] = {"corner-top-left", "corner-top-right", "corner-bottom-left", "corner-bottom-right"};
        for (int q = 0; q < 4; q++, k++) {
            snprintf(t[k].name, sizeof t[k].name, "%s", room[q]);
            for (int s = 0; s < g->n_free; s++) t[k].r[s] = quadrant(g, s) == q ? 1.0f : 0.0f;
        }
        /* Stay in a corner: reward 1 in the free cell nearest (Euclidean) to each map corner. */
        for (int q = 0; q < 4; q++, k++) {
            snprintf(t[k].name, sizeof t[k].name, "%s", corner[q]);
            double cr = (q & 2) ? g->h - 1 : 0, cc = (q & 1) ? g->w - 1 : 0, best = 1e30;
            int bs = 0;
            for (int s = 0; s < g->n_free; s++) {
                double r = g->cell_of[s] / g->w, c = g->cell_of[s] % g->w;
                double d2 = (r - cr) * (r - cr) + (c - cc) * (c - cc);
                if (d2 < best) best = d2, bs = s;
            }
            t[k].r[bs] = 1.0f;
        }
    }
    *tasks = t;
    *n = cnt;
    return RZ_OK;
}

static double grid_reward(const rl_env *env, const rl_task *task, const float *state)
{
    int id = rl_grid_id(env, state);
    return id >= 0 ? task->r[id] : 0.0;
}

static int grid_success(const rl_env *env, const rl_task *task, const float *state)
{
    (void)env;
    return state[0] == task->goal[0] && state[1] == task->goal[1];
}

/* ---- value iteration ------------------------------------------------------------ */
void rl_grid_trans(const rl_env *env, int id, int a, double *p)
{
    const rl_grid *g = &env->grid;
    memset(p, 0, (size_t)g->n_free * sizeof(double));
    p[g->next[id * RL_GRID_ACTIONS + a]] += 1.0 - env->slip;
    for (int b = 0; b < RL_GRID_ACTIONS; b++) p[g->next[id * RL_GRID_ACTIONS + b]] += env->slip / RL_GRID_ACTIONS;
}

int rl_grid_vi(const rl_env *env, const float *r, double gamma, int iters, double tol,
               double *V, double *Q)
{
    const rl_grid *g = &env->grid;
    int n = g->n_free, sweeps = 0;
    double *Vn = malloc((size_t)n * sizeof(double));
    if (!Vn) return -1;
    for (int s = 0; s < n; s++) V[s] = 0;
    /* The successor structure is sparse (≤ 5 successors), so each backup sums over the
     * five actions' deterministic successors instead of a dense P row:
     *   Q(s,a) = (1−p)(r(s_a) + γV(s_a)) + (p/5) Σ_b (r(s_b) + γV(s_b)). */
    for (sweeps = 0; sweeps < iters; sweeps++) {
        double change = 0;
        for (int s = 0; s < n; s++) {
            double u[RL_GRID_ACTIONS], mean = 0, best = -1e300;
            for (int b = 0; b < RL_GRID_ACTIONS; b++) {
                int s2 = g->next[s * RL_GRID_ACTIONS + b];
                u[b] = r[s2] + gamma * V[s2];
                mean += u[b] / RL_GRID_ACTIONS;
            }
            for (int a = 0; a < RL_GRID_ACTIONS; a++) {
                double q = (1.0 - env->slip) * u[a] + env->slip * mean;
                if (Q) Q[s * RL_GRID_ACTIONS + a] = q;
                if (q > best) best = q;
            }
            Vn[s] = best;
            if (fabs(best - V[s]) > change) change = fabs(best - V[s]);
        }
        memcpy(V, Vn, (size_t)n * sizeof(double));
        if (change < tol) {
            sweeps++;
            break;
        }
    }
    free(Vn);
    return sweeps;
}

/* ---- collection ------------------------------------------------------------------ */
static int grid_in_room0(const rl_grid *g, int id) { return quadrant(g, id) == 0; }

static int grid_start_in_room0(const rl_env *env, const float *state)
{
    return grid_in_room0(&env->grid, rl_grid_id(env, state));
}

/* coverage counts every (cell, action) tried */
static size_t grid_collect_scratch(const rl_env *env, rl_policy pol)
{
    return pol == RL_POL_COVERAGE ? (size_t)env->grid.n_free * RL_GRID_ACTIONS * sizeof(long) : 0;
}

static void grid_collect_act(const rl_env *env, rl_policy pol, int t, const float *cur, void *scratch, rz_rng *rng,
                             float *act)
{
    (void)t;
    const rl_grid *g = &env->grid;
    long *tries = scratch;
    int id = rl_grid_id(env, cur), a = 0;
    if (pol == RL_POL_RANDOM) {
        a = rz_rng_int(rng, RL_GRID_ACTIONS);
    } else if (pol == RL_POL_COVERAGE) {
        long lo = -1;
        int ties = 0;
        for (int b = 0; b < RL_GRID_ACTIONS; b++) {
            long c = tries[id * RL_GRID_ACTIONS + b];
            if (lo < 0 || c < lo) lo = c, ties = 1, a = b;
            else if (c == lo && rz_rng_int(rng, ++ties) == 0) a = b; /* reservoir tie-break */
        }
        tries[id * RL_GRID_ACTIONS + a]++;
    } else {
        int ok[RL_GRID_ACTIONS], m = 0;
        for (int b = 0; b < RL_GRID_ACTIONS; b++)
            if (!grid_in_room0(g, id) || grid_in_room0(g, g->next[id * RL_GRID_ACTIONS + b])) ok[m++] = b;
        a = ok[rz_rng_int(rng, m)];
    }
    act[0] = (float)a;
}

/* ---- pictures ---------------------------------------------------------------------- */
static void px_set(unsigned char *img, int W, int x, int y, int r, int g, int b)
{
    unsigned char *p = img + ((size_t)y * W + x) * 3;
    p[0] = r;
    p[1] = g;
    p[2] = b;
}

int rl_grid_render(const rl_env *env, const double *val, const int *act, int goal_id, int px,
                   const char *path, rz_err *e)
{
    const rl_grid *g = &env->grid;
    int W = g->w * px, H = g->h * px;
    unsigned char *img = rz_malloc((size_t)W * H * 3, e);
    if (!img) return RZ_EINTERNAL;
    double lo = 0, hi = 1;
    if (val) {
        lo = 1e300, hi = -1e300;
        for (int s = 0; s < g->n_free; s++) lo = fmin(lo, val[s]), hi = fmax(hi, val[s]);
        if (hi <= lo) hi = lo + 1;
    }
    for (int r = 0; r < g->h; r++)
        for (int c = 0; c < g->w; c++) {
            int id = g->state_of[r * g->w + c], R = 0, G = 0, B = 0;
            if (id >= 0) {
                double v = val ? (val[id] - lo) / (hi - lo) : 0; /* white → blue */
                R = (int)(255 * (1 - 0.8 * v));
                G = (int)(255 * (1 - 0.6 * v));
                B = 255;
                if (id == goal_id) R = 230, G = 40, B = 40;
            }
            for (int y = 0; y < px; y++)
                for (int x = 0; x < px; x++) px_set(img, W, c * px + x, r * px + y, R, G, B);
            if (id >= 0 && act) {
                int cx = c * px + px / 2, cy = r * px + px / 2, a = act[id];
                if (a == 0)
                    for (int y = -1; y <= 1; y++)
                        for (int x = -1; x <= 1; x++) px_set(img, W, cx + x, cy + y, 0, 0, 0);
                else
                    for (int k = 0; k < px * 2 / 5; k++) {
                        int x = cx + dcol[a] * k, y = cy + drow[a] * k;
                        px_set(img, W, x, y, 0, 0, 0);
                        if (k > px / 4) /* arrow head */
                            for (int m = -(px * 2 / 5 - k); m <= px * 2 / 5 - k; m++)
                                px_set(img, W, x + (dcol[a] ? 0 : m), y + (drow[a] ? 0 : m), 0, 0, 0);
                    }
            }
        }
    int rc = rz_png_write(path, W, H, img, e);
    free(img);
    return rc;
}

const rl_env_ops rl_grid_ops = {
    .spec = "fourrooms",
    .action_range = "integer 0..4: stay, up, down, left, right",
    .make = grid_make,
    .free = grid_free,
    .reset = grid_reset,
    .check_state = grid_check_state,
    .check_action = grid_check_action,
    .step = grid_step,
    .obs = grid_obs,
    .tasks = grid_tasks,
    .reward = grid_reward,
    .success = grid_success,
    .in_room0 = grid_start_in_room0,
    .collect_scratch = grid_collect_scratch,
    .collect_act = grid_collect_act,
    .confine_room = 0,
};
