/* env.c — grid worlds from ASCII maps, tasks, value iteration, collection policies,
 * rollouts and PNG pictures; the point-mass maze dispatches to mujoco_env.c.
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

#include "mujoco_env.h"

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

int rl_env_make(rl_env *env, const char *spec, double slip, rz_err *e)
{
    if (strcmp(spec, "fourrooms") == 0) return rl_env_grid_parse(env, fourrooms_map, "fourrooms", slip, e);
    if (strcmp(spec, "pointmass-maze") == 0) {
        memset(env, 0, sizeof *env);
        if (slip != 0) return rz_fail(e, RZ_EINPUT, "pointmass-maze: --slip applies to grid worlds only");
        return rl_mj_make(env, e);
    }
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

void rl_env_free(rl_env *env)
{
    if (env->kind == RL_POINTMASS) rl_mj_free(env);
    free(env->grid.wall);
    free(env->grid.state_of);
    free(env->grid.cell_of);
    free(env->grid.next);
    free(env->map_text);
    memset(env, 0, sizeof *env);
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

void rl_env_reset(const rl_env *env, nn_rng *rng, float *state)
{
    if (env->kind == RL_POINTMASS) {
        rl_mj_reset(env, rng, state);
        return;
    }
    grid_state(env, nn_rng_int(rng, env->grid.n_free), state);
}

int rl_env_check_state(const rl_env *env, const float *state)
{
    if (env->kind == RL_POINTMASS) return rl_mj_check_state(env, state);
    return rl_grid_id(env, state) >= 0;
}

int rl_env_check_action(const rl_env *env, const float *action)
{
    if (env->kind == RL_GRID) {
        float a = action[0];
        return a >= 0 && a < RL_GRID_ACTIONS && a == floorf(a);
    }
    for (int k = 0; k < env->act_dim; k++)
        if (!(action[k] >= -1 && action[k] <= 1)) return 0;
    return 1;
}

int rl_env_step(const rl_env *env, const float *state, const float *action, nn_rng *rng,
                float *next, rz_err *e)
{
    if (!rl_env_check_action(env, action))
        return rz_fail(e, RZ_EINPUT, "%s: action %g out of range (%s)", env->name, action[0],
                       env->kind == RL_GRID ? "integer 0..4: stay, up, down, left, right" : "[-1, 1]");
    if (env->kind == RL_POINTMASS) return rl_mj_step(env, state, action, next, e);
    int id = rl_grid_id(env, state);
    if (id < 0) return rz_fail(e, RZ_EINPUT, "%s: state (%g, %g) is not a free cell", env->name, state[0], state[1]);
    int a = (int)action[0];
    if (env->slip > 0 && nn_rng_uniform(rng) < env->slip) a = nn_rng_int(rng, RL_GRID_ACTIONS);
    grid_state(env, env->grid.next[id * RL_GRID_ACTIONS + a], next);
    return RZ_OK;
}

void rl_env_obs(const rl_env *env, const float *state, float *obs)
{
    if (env->kind == RL_POINTMASS) {
        memcpy(obs, state, (size_t)env->obs_dim * sizeof(float));
        return;
    }
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
    if (env->kind != RL_GRID) return;
    env->grid_obs = mode;
    env->obs_dim = (mode != RL_OBS_XY ? env->grid.n_free : 0) + (mode != RL_OBS_ONEHOT ? 2 : 0);
}

/* ---- tasks ------------------------------------------------------------------------ */
static int quadrant(const rl_grid *g, int id)
{
    int r = g->cell_of[id] / g->w, c = g->cell_of[id] % g->w;
    return (2 * r >= g->h ? 2 : 0) + (2 * c >= g->w ? 1 : 0);
}

int rl_env_tasks(const rl_env *env, const char *which, rl_task **tasks, int *n, rz_err *e)
{
    int goals = !strcmp(which, "goals") || !strcmp(which, "all");
    int rewards = !strcmp(which, "rewards") || !strcmp(which, "all");
    if (!goals && !rewards)
        return rz_fail(e, RZ_EINPUT, "--tasks %s: expected goals, rewards or all", which);
    *tasks = NULL;
    *n = 0;
    if (env->kind == RL_POINTMASS) {
        static const char *names[4] = {"reach-top-left", "reach-top-right", "reach-bottom-left", "reach-bottom-right"};
        int cnt = goals ? 4 : 0;
        if (cnt == 0) return rz_fail(e, RZ_EINPUT, "pointmass-maze: only goal tasks exist (use --tasks goals)");
        rl_task *t = rz_calloc(cnt, sizeof *t, e);
        if (!t) return RZ_EINTERNAL;
        for (int k = 0; k < cnt; k++) {
            snprintf(t[k].name, sizeof t[k].name, "%s", names[k]);
            t[k].is_goal = 1;
            rl_mj_goal(k, t[k].goal);
            t[k].radius = RL_MJ_GOAL_RADIUS;
        }
        *tasks = t;
        *n = cnt;
        return RZ_OK;
    }
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

void rl_tasks_free(rl_task *tasks, int n)
{
    if (!tasks) return;
    for (int i = 0; i < n; i++) free(tasks[i].r);
    free(tasks);
}

double rl_task_reward(const rl_env *env, const rl_task *task, const float *state)
{
    if (env->kind == RL_POINTMASS) return rl_task_success(env, task, state) ? 1.0 : 0.0;
    int id = rl_grid_id(env, state);
    return id >= 0 ? task->r[id] : 0.0;
}

int rl_task_success(const rl_env *env, const rl_task *task, const float *state)
{
    if (!task->is_goal) return 0;
    if (env->kind == RL_POINTMASS) {
        double dx = state[0] - task->goal[0], dy = state[1] - task->goal[1];
        return dx * dx + dy * dy <= task->radius * task->radius;
    }
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
static const char *policy_names[RL_POL_COUNT] = {"random", "coverage", "room"};
const char *rl_policy_name(rl_policy p) { return p < RL_POL_COUNT ? policy_names[p] : "?"; }
int rl_policy_parse(const char *s, rl_policy *p)
{
    for (int i = 0; i < RL_POL_COUNT; i++)
        if (!strcmp(s, policy_names[i])) {
            *p = (rl_policy)i;
            return 0;
        }
    return -1;
}

static int grid_in_room0(const rl_grid *g, int id) { return quadrant(g, id) == 0; }

int rl_collect(const rl_env *env, rl_policy pol, long n, uint64_t seed, float *S, float *A,
               float *S2, rz_err *e)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    int sd = env->state_dim, ad = env->act_dim;
    float cur[4], act[2] = {0, 0}, nxt[4];
    long *tries = NULL;
    if (env->kind == RL_GRID && pol == RL_POL_COVERAGE) {
        tries = rz_calloc((size_t)env->grid.n_free * RL_GRID_ACTIONS, sizeof(long), e);
        if (!tries) return RZ_EINTERNAL;
    }
    int t = env->episode_len;
    for (long i = 0; i < n; i++) {
        if (t >= env->episode_len) {
            t = 0;
            if (pol == RL_POL_ROOM) {
                /* Rejection-sample a start inside the top-left room. */
                do rl_env_reset(env, &rng, cur);
                while (env->kind == RL_GRID ? !grid_in_room0(&env->grid, rl_grid_id(env, cur)) : !rl_mj_in_room0(cur));
            } else {
                rl_env_reset(env, &rng, cur);
            }
        }
        if (env->kind == RL_GRID) {
            const rl_grid *g = &env->grid;
            int id = rl_grid_id(env, cur), a = 0;
            if (pol == RL_POL_RANDOM) {
                a = nn_rng_int(&rng, RL_GRID_ACTIONS);
            } else if (pol == RL_POL_COVERAGE) {
                long lo = -1;
                int ties = 0;
                for (int b = 0; b < RL_GRID_ACTIONS; b++) {
                    long c = tries[id * RL_GRID_ACTIONS + b];
                    if (lo < 0 || c < lo) lo = c, ties = 1, a = b;
                    else if (c == lo && nn_rng_int(&rng, ++ties) == 0) a = b; /* reservoir tie-break */
                }
                tries[id * RL_GRID_ACTIONS + a]++;
            } else {
                int ok[RL_GRID_ACTIONS], m = 0;
                for (int b = 0; b < RL_GRID_ACTIONS; b++)
                    if (!grid_in_room0(g, id) || grid_in_room0(g, g->next[id * RL_GRID_ACTIONS + b])) ok[m++] = b;
                a = ok[nn_rng_int(&rng, m)];
            }
            act[0] = (float)a;
        } else {
            /* Continuous: uniform actions; coverage holds each for 5 steps (longer reach). */
            if (pol != RL_POL_COVERAGE || t % 5 == 0)
                for (int k = 0; k < ad; k++) act[k] = (float)(2 * nn_rng_uniform(&rng) - 1);
        }
        int rc = rl_env_step(env, cur, act, &rng, nxt, e);
        if (rc) {
            free(tries);
            return rc;
        }
        if (pol == RL_POL_ROOM && env->kind == RL_POINTMASS && !rl_mj_in_room0(nxt)) {
            /* Confined: a step leaving the room is not recorded; the episode ends there and
             * the next transition starts a fresh episode inside the room. */
            t = env->episode_len;
            i--;
            continue;
        }
        memcpy(S + i * sd, cur, sd * sizeof(float));
        memcpy(A + i * ad, act, ad * sizeof(float));
        memcpy(S2 + i * sd, nxt, sd * sizeof(float));
        memcpy(cur, nxt, sd * sizeof(float));
        t++;
    }
    free(tries);
    return RZ_OK;
}

/* ---- rollouts -------------------------------------------------------------------- */
int rl_rollout(const rl_env *env, const rl_task *task, int E, const float *starts,
               rl_policy_fn pol, void *ctx, nn_rng *rng, double *ret, int *success, rz_err *e)
{
    int sd = env->state_dim, od = env->obs_dim, ad = env->act_dim, rc = RZ_OK;
    float *S = rz_malloc((size_t)E * sd * sizeof(float), e);
    float *O = rz_malloc((size_t)E * od * sizeof(float), e);
    float *Ac = rz_malloc((size_t)E * ad * sizeof(float), e);
    if (!S || !O || !Ac) {
        rc = RZ_EINTERNAL;
        goto out;
    }
    memcpy(S, starts, (size_t)E * sd * sizeof(float));
    for (int i = 0; i < E; i++) {
        ret[i] = 0;
        success[i] = 0;
    }
    for (int t = 0; t < env->horizon; t++) {
        for (int i = 0; i < E; i++) rl_env_obs(env, S + i * sd, O + (size_t)i * od);
        pol(ctx, E, O, Ac);
        for (int i = 0; i < E; i++) {
            float nx[4];
            if ((rc = rl_env_step(env, S + i * sd, Ac + i * ad, rng, nx, e))) goto out;
            memcpy(S + i * sd, nx, sd * sizeof(float));
            ret[i] += rl_task_reward(env, task, nx);
            if (rl_task_success(env, task, nx)) success[i] = 1;
        }
    }
out:
    free(S);
    free(O);
    free(Ac);
    return rc;
}

/* ---- PNG: stored (uncompressed) deflate inside zlib, CRC-32 per chunk ---------------- */
static uint32_t crc_table[256];
static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}
static uint32_t crc_update(uint32_t c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c;
}
static void put32(unsigned char *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}
static void chunk(FILE *f, const char *type, const unsigned char *data, size_t n)
{
    unsigned char b[4];
    put32(b, (uint32_t)n);
    fwrite(b, 1, 4, f);
    fwrite(type, 1, 4, f);
    if (n) fwrite(data, 1, n, f);
    uint32_t c = crc_update(0xffffffffu, (const unsigned char *)type, 4);
    c = crc_update(c, data, n) ^ 0xffffffffu;
    put32(b, c);
    fwrite(b, 1, 4, f);
}

int rl_png_write(const char *path, int w, int h, const unsigned char *rgb, rz_err *e)
{
    crc_init();
    size_t raw_n = (size_t)h * (1 + (size_t)w * 3);
    size_t nblk = raw_n / 65535 + 1;
    size_t z_n = 2 + raw_n + 5 * nblk + 4;
    unsigned char *raw = rz_malloc(raw_n, e), *z = rz_malloc(z_n, e);
    if (!raw || !z) {
        free(raw);
        free(z);
        return RZ_EINTERNAL;
    }
    for (int y = 0; y < h; y++) {
        raw[(size_t)y * (1 + w * 3)] = 0; /* filter: none */
        memcpy(raw + (size_t)y * (1 + w * 3) + 1, rgb + (size_t)y * w * 3, (size_t)w * 3);
    }
    size_t o = 0;
    z[o++] = 0x78;
    z[o++] = 0x01;
    uint32_t s1 = 1, s2 = 0;
    for (size_t i = 0; i < raw_n; i++) {
        s1 = (s1 + raw[i]) % 65521;
        s2 = (s2 + s1) % 65521;
    }
    for (size_t off = 0; off < raw_n || off == 0;) {
        size_t len = raw_n - off > 65535 ? 65535 : raw_n - off;
        z[o++] = off + len == raw_n ? 1 : 0;
        z[o++] = len & 0xff;
        z[o++] = len >> 8;
        z[o++] = ~len & 0xff;
        z[o++] = (~len >> 8) & 0xff;
        memcpy(z + o, raw + off, len);
        o += len;
        off += len;
        if (len == 0) break;
    }
    put32(z + o, (s2 << 16) | s1);
    o += 4;
    free(raw);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(z);
        return rz_fail(e, RZ_EINPUT, "%s: cannot create", tmp);
    }
    static const unsigned char sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    fwrite(sig, 1, 8, f);
    unsigned char ihdr[13];
    put32(ihdr, (uint32_t)w);
    put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* RGB */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    chunk(f, "IHDR", ihdr, 13);
    chunk(f, "IDAT", z, o);
    chunk(f, "IEND", NULL, 0);
    free(z);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return rz_fail(e, RZ_EINTERNAL, "%s: write failed", path);
    }
    return RZ_OK;
}

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
    int rc = rl_png_write(path, W, H, img, e);
    free(img);
    return rc;
}
