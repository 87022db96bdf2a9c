/* offline.c — dataset builders for the low-quality-data study; see offline.h.
 *
 * Pair removal: the P distinct (cell, action) pairs present are listed in id order and
 * shuffled (Fisher–Yates on the seed); walking the shuffled list, a pair is removed
 * while its cell still has another present action, until round(frac·P) are gone. The
 * walk can only fail to reach the count when fewer than that many pairs are removable,
 * which is exactly P − (covered cells) < count — checked before touching the data.
 * With keep_reach the walk also skips a pair whose loss would lower the reach count
 * (reach_count below: ordered cell pairs connected within the horizon by the data's
 * transitions). A pair's transitions give it a set of next cells; edge u → v of the cell
 * graph lives while any present pair of u leads to v (edge_n counts them: at most u's
 * n_actions pairs, 5 on a grid, so a byte per edge, as in rl_data_reach), so removing a
 * pair that takes no edge's last pair cannot change reach, and only the others cost a
 * breadth-first recount. The greedy walk is not a maximum: when it ends short of the
 * count the data is left untouched and the error says how many pairs could go.
 * Subsampling: algorithm S keeps row i with probability (m − kept)/(n − i), which gives
 * every m-subset the same probability and exactly m rows. */
#include "offline.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Keeps the rows with keep[i] set, in order; returns their count. */
static long compact(long n, int sd, int ad, float *S, float *A, float *S2, const unsigned char *keep)
{
    long w = 0;
    for (long i = 0; i < n; i++) {
        if (!keep[i]) continue;
        if (w != i) {
            memmove(S + w * sd, S + i * sd, sd * sizeof(float));
            memmove(A + w * ad, A + i * ad, ad * sizeof(float));
            memmove(S2 + w * sd, S2 + i * sd, sd * sizeof(float));
        }
        w++;
    }
    return w;
}

/* Ordered (start, goal ≠ start) pairs of the ns cells whose goal is within `horizon` steps
 * of the start along edges with edge_n[u·ns + v] > 0 (breadth-first from every start).
 * dist and queue: ns ints each. */
static long reach_count(int ns, const unsigned char *edge_n, int horizon, int *dist, int *queue)
{
    long reach = 0;
    for (int s = 0; s < ns; s++) {
        for (int k = 0; k < ns; k++) dist[k] = -1;
        int head = 0, tail = 0;
        dist[s] = 0;
        queue[tail++] = s;
        while (head < tail) {
            int u = queue[head++];
            if (dist[u] == horizon) continue;
            for (int v = 0; v < ns; v++)
                if (edge_n[(size_t)u * ns + v] > 0 && dist[v] < 0) dist[v] = dist[u] + 1, queue[tail++] = v;
        }
        for (int g = 0; g < ns; g++) reach += g != s && dist[g] > 0;
    }
    return reach;
}

/* Removes pair q = id·nA + a from the edge counts (sign −1) or puts it back (+1); returns
 * whether some edge lost its last pair. nxt: the pair's next cells (P × ns bytes). */
static int pair_edges(unsigned char *edge_n, const unsigned char *nxt, int ns, int nA, long q, int sign)
{
    int u = (int)(q / nA), cut = 0;
    for (int v = 0; v < ns; v++)
        if (nxt[(size_t)q * ns + v]) {
            unsigned char *c = &edge_n[(size_t)u * ns + v];
            *c = (unsigned char)(*c + sign);
            cut |= *c == 0;
        }
    return cut;
}

int rl_data_drop_pairs(const rl_env *env, long *n, float *S, float *A, float *S2, double frac, int keep_reach,
                       uint64_t seed, long *pairs_before, long *pairs_removed, rz_err *e)
{
    if (env->kind != RL_GRID) return rz_fail(e, RZ_EINPUT, "removing state-action pairs: defined for grids only");
    if (!(frac >= 0 && frac < 1)) return rz_fail(e, RZ_EINPUT, "removing a fraction %g of the pairs: expected 0 ≤ fraction < 1", frac);
    int ns = env->grid.n_free, nA = env->n_actions;
    unsigned char *present = rz_calloc((size_t)ns * nA, 1, e), *keep = rz_malloc((size_t)(*n > 0 ? *n : 1), e);
    int *left = rz_calloc((size_t)ns, sizeof(int), e); /* present actions per cell */
    long *pairs = rz_malloc((size_t)ns * nA * sizeof(long), e);
    /* keep_reach only: each pair's next cells, the cell graph's edge counts, BFS scratch */
    size_t gsz = keep_reach ? (size_t)ns : 1;
    unsigned char *nxt = rz_calloc(gsz * nA * gsz, 1, e);
    unsigned char *edge_n = rz_calloc(gsz * gsz, 1, e);
    int *dist = rz_malloc(gsz * sizeof(int), e), *queue = rz_malloc(gsz * sizeof(int), e);
    assert(nA < 256); /* edge counts fit a byte */
    int rc = RZ_OK;
    if (!present || !keep || !left || !pairs || !nxt || !edge_n || !dist || !queue) {
        rc = RZ_EINTERNAL;
        goto out;
    }
    for (long i = 0; i < *n; i++) {
        int id = rl_grid_id(env, S + i * env->state_dim), a = (int)A[i];
        int to = keep_reach ? rl_grid_id(env, S2 + i * env->state_dim) : 0;
        if (id < 0 || a < 0 || a >= nA || to < 0) {
            rc = rz_fail(e, RZ_EINPUT, "transition %ld: state, action or next state outside the grid", i);
            goto out;
        }
        if (!present[id * nA + a]) present[id * nA + a] = 1, left[id]++;
        if (keep_reach && !nxt[((size_t)id * nA + a) * ns + to]) {
            nxt[((size_t)id * nA + a) * ns + to] = 1;
            edge_n[(size_t)id * ns + to]++;
        }
    }
    long P = 0, cells = 0;
    for (int q = 0; q < ns * nA; q++)
        if (present[q]) pairs[P++] = q;
    for (int s = 0; s < ns; s++) cells += left[s] > 0;
    long want = lround(frac * (double)P);
    if (want > P - cells) {
        rc = rz_fail(e, RZ_EINPUT, "removing %ld of %ld pairs keeps an action in each of the %ld covered cells only up to %ld: expected a smaller fraction",
                     want, P, cells, P - cells);
        goto out;
    }
    rz_rng rng;
    rz_rng_seed(&rng, seed);
    for (long q = P - 1; q > 0; q--) { /* Fisher–Yates */
        long j = (long)(rz_rng_u64(&rng) % (uint64_t)(q + 1)), t = pairs[q];
        pairs[q] = pairs[j], pairs[j] = t;
    }
    long removed = 0, reach0 = keep_reach ? reach_count(ns, edge_n, env->horizon, dist, queue) : 0;
    for (long q = 0; q < P && removed < want; q++) {
        int id = (int)(pairs[q] / nA);
        if (left[id] < 2) continue;
        if (keep_reach && pair_edges(edge_n, nxt, ns, nA, pairs[q], -1) &&
            reach_count(ns, edge_n, env->horizon, dist, queue) < reach0) {
            pair_edges(edge_n, nxt, ns, nA, pairs[q], +1);
            continue;
        }
        present[pairs[q]] = 2; /* removed */
        left[id]--, removed++;
    }
    if (removed < want) { /* keep_reach only: the walk ran out of pairs */
        assert(keep_reach);
        rc = rz_fail(e, RZ_EINPUT,
                     "removing %ld of %ld pairs while keeping the data's reach: only %ld could go (seed %llu); expected a fraction ≤ %.3f",
                     want, P, removed, (unsigned long long)seed, (double)removed / (double)P);
        goto out;
    }
    for (long i = 0; i < *n; i++) keep[i] = present[rl_grid_id(env, S + i * env->state_dim) * nA + (int)A[i]] == 1;
    *n = compact(*n, env->state_dim, env->act_dim, S, A, S2, keep);
    if (pairs_before) *pairs_before = P;
    if (pairs_removed) *pairs_removed = removed;
out:
    free(present), free(keep), free(left), free(pairs), free(nxt), free(edge_n), free(dist), free(queue);
    return rc;
}

int rl_data_subsample(long *n, int sd, int ad, float *S, float *A, float *S2, long m, uint64_t seed, rz_err *e)
{
    if (m < 0 || m > *n) return rz_fail(e, RZ_EINPUT, "subsampling %ld of %ld transitions: expected at most %ld", m, *n, *n);
    unsigned char *keep = rz_malloc((size_t)(*n > 0 ? *n : 1), e);
    if (!keep) return RZ_EINTERNAL;
    rz_rng rng;
    rz_rng_seed(&rng, seed);
    long kept = 0;
    for (long i = 0; i < *n; i++) {
        keep[i] = (double)(*n - i) * rz_rng_uniform(&rng) < (double)(m - kept);
        kept += keep[i];
    }
    *n = compact(*n, sd, ad, S, A, S2, keep);
    free(keep);
    return RZ_OK;
}

void rl_data_labels(long n, int sd, const float *S2, long m, uint64_t seed, float *out)
{
    if (m >= n) {
        memcpy(out, S2, (size_t)n * sd * sizeof(float));
        return;
    }
    rz_rng rng;
    rz_rng_seed(&rng, seed ^ 0x6c6162656c73ULL); /* "labels" */
    for (long i = 0; i < m; i++) {
        long j = (long)(rz_rng_uniform(&rng) * n);
        memcpy(out + i * sd, S2 + j * sd, sd * sizeof(float));
    }
}

int rl_data_policy_trajs(const rl_env *env, int goal_id, double eps, int n_traj, int len, uint64_t seed, float *S,
                         float *A, float *S2, rz_err *e)
{
    if (env->kind != RL_GRID) return rz_fail(e, RZ_EINPUT, "policy trajectories: defined for grids only");
    int ns = env->grid.n_free, nA = env->n_actions;
    if (goal_id < 0 || goal_id >= ns || !(eps >= 0 && eps <= 1) || n_traj < 1 || len < 1)
        return rz_fail(e, RZ_EINPUT, "policy trajectories: goal cell %d of %d, eps %g, %d × %d steps: expected a free cell, 0 ≤ eps ≤ 1, positive counts",
                       goal_id, ns, eps, n_traj, len);
    float *r = rz_calloc((size_t)ns, sizeof(float), e);
    double *V = rz_malloc((size_t)ns * sizeof(double), e), *Q = rz_malloc((size_t)ns * nA * sizeof(double), e);
    int rc = RZ_OK;
    if (!r || !V || !Q) {
        rc = RZ_EINTERNAL;
        goto out;
    }
    r[goal_id] = 1;
    rl_grid_vi(env, r, 0.9, 1000, 1e-9, V, Q);
    rz_rng rng;
    rz_rng_seed(&rng, seed);
    int sd = env->state_dim;
    for (int t = 0; t < n_traj && !rc; t++) {
        float s[4];
        rl_env_reset(env, &rng, s);
        for (int k = 0; k < len && !rc; k++) {
            long row = (long)t * len + k;
            int id = rl_grid_id(env, s), a = 0;
            for (int b = 1; b < nA; b++)
                if (Q[(size_t)id * nA + b] > Q[(size_t)id * nA + a]) a = b;
            if (rz_rng_uniform(&rng) < eps) a = rz_rng_int(&rng, nA);
            memcpy(S + row * sd, s, sd * sizeof(float));
            A[row] = (float)a;
            rc = rl_env_step(env, s, &A[row], &rng, S2 + row * sd, e);
            memcpy(s, S2 + row * sd, sd * sizeof(float));
        }
    }
out:
    free(r), free(V), free(Q);
    return rc;
}

int rl_task_in_support(const rl_env *env, const rl_task *task, long n, const float *states)
{
    int sd = env->state_dim;
    for (long i = 0; i < n; i++) {
        const float *s = states + i * sd;
        if (task->is_goal ? rl_task_success(env, task, s) : rl_task_reward(env, task, s) != 0) return 1;
    }
    return 0;
}

int rl_task_is_validation(const rl_env *env, const rl_task *task)
{
    return env->kind == RL_GRID && task->is_goal && rl_grid_id(env, task->goal) % 4 == 3;
}

void rl_tasks_split(const rl_env *env, rl_task *tasks, int *n, int val)
{
    int w = 0;
    for (int k = 0; k < *n; k++) {
        if (rl_task_is_validation(env, &tasks[k]) != !!val) {
            free(tasks[k].r);
            continue;
        }
        if (w != k) tasks[w] = tasks[k];
        w++;
    }
    *n = w;
}

double rl_data_reach(const rl_env *env, long n, const float *S, const float *S2, int horizon, rz_err *e)
{
    int ns = env->grid.n_free, sd = env->state_dim;
    /* adjacency as a dense ns × ns byte matrix (four-rooms: 104² bytes) */
    unsigned char *adj = rz_calloc((size_t)ns * ns, 1, e);
    int *dist = rz_malloc((size_t)ns * sizeof(int), e), *queue = rz_malloc((size_t)ns * sizeof(int), e);
    if (!adj || !dist || !queue) {
        free(adj), free(dist), free(queue);
        return -1;
    }
    for (long i = 0; i < n; i++) {
        int a = rl_grid_id(env, S + i * sd), b = rl_grid_id(env, S2 + i * sd);
        if (a >= 0 && b >= 0) adj[(size_t)a * ns + b] = 1;
    }
    long reach = reach_count(ns, adj, horizon, dist, queue);
    free(adj), free(dist), free(queue);
    return ns > 1 ? (double)reach / ((double)ns * (ns - 1)) : 0;
}
