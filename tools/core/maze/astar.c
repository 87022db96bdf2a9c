/* astar.c — A*-style mazes (Searchformer's maze task as the MLM-U reference trains on it:
 * random wall cells at a density, a start and a goal, the optimal plan by A*) in the
 * rz_maze form: the passages are every pair of 4-neighbouring free cells, so the token
 * form, the parser, BFS and the validity check of maze.h apply unchanged (a wall cell is
 * a cell without passages). Contract in maze.h (rz_maze_astar_gen, rz_maze_astar).
 */
#include <string.h>

#include "maze.h"
#include "rng.h" /* rz_splitmix64 */

static int manhattan(int n, int a, int b)
{
    int di = a / n - b / n, dj = a % n - b % n;
    return (di < 0 ? -di : di) + (dj < 0 ? -dj : dj);
}

int rz_maze_astar(rz_maze *m)
{
    int n = m->n, N = n * n;
    /* g, parent and the closed flag live in work [2N]: g in work[0..N), parent in
     * work[N..2N); open/closed state in the sign of g's high values. The open list is a
     * linear scan (N ≤ 4096): the smallest f = g + h, ties to the larger g (deeper), then
     * the smaller cell index — deterministic. */
    int *g = m->work, *par = m->work + N;
    enum { UNSEEN = -1 };
    static const int CLOSED = 1 << 30;
    for (int c = 0; c < N; c++) g[c] = UNSEEN, par[c] = -1;
    g[m->origin] = 0;
    for (;;) {
        int best = -1, bf = 0, bg = 0;
        for (int c = 0; c < N; c++) {
            if (g[c] < 0 || g[c] >= CLOSED) continue;
            int f = g[c] + manhattan(n, c, m->target);
            if (best < 0 || f < bf || (f == bf && g[c] > bg)) best = c, bf = f, bg = g[c];
        }
        if (best < 0) return m->path_len = 0; /* open list empty: unreachable */
        if (best == m->target) break;
        int gc = g[best];
        g[best] = CLOSED + gc; /* closed, g kept */
        for (int d = 0; d < 4; d++) {
            int b = rz_maze_step(n, best, d);
            if (b < 0 || !rz_maze_is_open(m, best, b)) continue;
            if (g[b] >= CLOSED) continue; /* a consistent heuristic never reopens */
            if (g[b] < 0 || gc + 1 < g[b]) g[b] = gc + 1, par[b] = best;
        }
    }
    int L = g[m->target] + 1;
    for (int k = L - 1, c = m->target; k >= 0; k--, c = par[c]) m->path[k] = c;
    return m->path_len = L;
}

int rz_maze_astar_gen(rz_maze *m, uint64_t seed, uint64_t index, double density)
{
    int n = m->n, N = n * n;
    uint64_t s = rz_maze_key(seed ^ 0x41535441ULL /* "ASTA" */, index);
    uint8_t *wall = (uint8_t *)m->path; /* N bytes of scratch while drawing */
    for (int attempt = 0; attempt < 1000; attempt++) {
        /* wall cells at the density, from the top bits of one draw per cell */
        int free_cells = 0;
        for (int c = 0; c < N; c++) {
            wall[c] = (double)(rz_splitmix64(&s) >> 11) * 0x1.0p-53 < density;
            free_cells += !wall[c];
        }
        if (free_cells < 2) continue;
        memset(m->open, 0, (size_t)N);
        m->n_passages = 0;
        for (int c = 0; c < N; c++)
            for (int d = 0; d < 2; d++) {
                int b = rz_maze_step(n, c, d);
                if (b >= 0 && !wall[c] && !wall[b]) m->open[c] |= (uint8_t)(1 << d), m->n_passages++;
            }
        /* start and goal: distinct free cells, drawn uniformly */
        int po = (int)(rz_splitmix64(&s) % (uint64_t)free_cells);
        int pt = (int)(rz_splitmix64(&s) % (uint64_t)(free_cells - 1));
        if (pt >= po) pt++;
        for (int c = 0, k = 0; c < N; c++)
            if (!wall[c]) {
                if (k == po) m->origin = c;
                if (k == pt) m->target = c;
                k++;
            }
        m->key = rz_splitmix64(&s); /* orders the token form's passages */
        if (rz_maze_astar(m) > 0) return 1; /* path overwrote the wall scratch: done with it */
    }
    m->path_len = 0;
    return 0;
}
