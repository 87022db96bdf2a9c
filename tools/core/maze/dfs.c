/* dfs.c — randomised depth-first-search mazes, BFS shortest paths and path validity
 * (the contract is in maze.h). */
#include <stdlib.h>
#include <string.h>

#include "rng.h" /* rz_splitmix64 */
#include "maze.h"
#include "record.h"

int rz_maze_vocab(int n) { return RZ_MZ_CELL0 + n * n; }

int rz_maze_max_tokens(int n, int extra)
{
    /* passages 3 tokens each, 2 adjlist brackets, 6 origin/target tokens, path start,
     * at most n² cells, path end */
    return 3 * (n * n - 1 + extra) + 2 + 6 + 1 + n * n + 1;
}

int rz_maze_alloc(int n, rz_maze *m, rz_err *e)
{
    memset(m, 0, sizeof *m);
    if (n < RZ_MAZE_MIN || n > RZ_MAZE_MAX)
        return rz_fail(e, RZ_EINPUT, "maze size %d: expected %d to %d", n, RZ_MAZE_MIN, RZ_MAZE_MAX);
    m->n = n;
    m->open = rz_calloc((size_t)n * n, 1, e);
    m->path = rz_calloc((size_t)n * n, sizeof(int), e);
    m->work = rz_calloc((size_t)n * n * 2, sizeof(int), e);
    if (!m->open || !m->path || !m->work) return rz_maze_free(m), RZ_EINTERNAL;
    return 0;
}

void rz_maze_free(rz_maze *m)
{
    free(m->open);
    free(m->path);
    free(m->work);
    m->open = NULL, m->path = NULL, m->work = NULL;
}

uint64_t rz_maze_key(uint64_t seed, uint64_t index)
{
    uint64_t s = seed ^ 0x6D617A65ULL; /* "maze" */
    uint64_t a = rz_splitmix64(&s);
    s = a ^ (index * 0xD1342543DE82EF95ULL);
    return rz_splitmix64(&s);
}

static int below(uint64_t *s, int k) { return (int)(rz_splitmix64(s) % (uint64_t)k); }

int rz_maze_step(int n, int c, int d)
{
    int i = c / n, j = c % n;
    switch (d) {
    case 0: return j + 1 < n ? c + 1 : -1;
    case 1: return i + 1 < n ? c + n : -1;
    case 2: return j > 0 ? c - 1 : -1;
    default: return i > 0 ? c - n : -1;
    }
}

static void set_open(rz_maze *m, int a, int b)
{
    int lo = a < b ? a : b, hi = a < b ? b : a;
    m->open[lo] |= hi == lo + 1 ? RZ_MZ_RIGHT : RZ_MZ_DOWN;
}

int rz_maze_is_open(const rz_maze *m, int a, int b)
{
    int n = m->n, N = n * n;
    if (a < 0 || b < 0 || a >= N || b >= N) return 0;
    int lo = a < b ? a : b, hi = a < b ? b : a;
    if (hi == lo + 1 && lo % n != n - 1) return (m->open[lo] & RZ_MZ_RIGHT) != 0;
    if (hi == lo + n) return (m->open[lo] & RZ_MZ_DOWN) != 0;
    return 0;
}

int rz_maze_bfs(rz_maze *m)
{
    int N = m->n * m->n, *queue = m->path; /* path doubles as the queue, then is rebuilt */
    int *dist = m->work;
    for (int c = 0; c < N; c++) dist[c] = -1;
    int head = 0, tail = 0;
    dist[m->origin] = 0;
    queue[tail++] = m->origin;
    while (head < tail) {
        int c = queue[head++];
        for (int d = 0; d < 4; d++) {
            int b = rz_maze_step(m->n, c, d);
            if (b >= 0 && dist[b] < 0 && rz_maze_is_open(m, c, b)) dist[b] = dist[c] + 1, queue[tail++] = b;
        }
    }
    if (dist[m->target] < 0) return m->path_len = 0;
    /* walk back from the target through strictly decreasing distances (first direction
     * in the fixed order wins) */
    int L = dist[m->target] + 1, c = m->target;
    for (int k = L - 1; k >= 0; k--) {
        m->path[k] = c;
        if (k == 0) break;
        for (int d = 0; d < 4; d++) {
            int b = rz_maze_step(m->n, c, d);
            if (b >= 0 && dist[b] == dist[c] - 1 && rz_maze_is_open(m, c, b)) {
                c = b;
                break;
            }
        }
    }
    return m->path_len = L;
}

int rz_maze_path_valid(const rz_maze *m, const int *p, int len)
{
    if (len < 1 || p[0] != m->origin || p[len - 1] != m->target) return 0;
    for (int k = 1; k < len; k++)
        if (!rz_maze_is_open(m, p[k - 1], p[k])) return 0;
    return 1;
}

void rz_maze_dfs(rz_maze *m, uint64_t seed, uint64_t index, int forks, int extra)
{
    int n = m->n, N = n * n;
    uint64_t s = rz_maze_key(seed, index);
    m->key = s;
    memset(m->open, 0, (size_t)N);
    /* visited flags and the DFS stack share path's storage: stack entries are cells,
     * visited is kept in the high bit of open (cleared at the end) */
    int *stack = m->path, top = 0;
    const uint8_t VIS = 0x80;
    int start = below(&s, N);
    m->open[start] |= VIS;
    stack[top++] = start;
    m->n_passages = 0;
    while (top > 0) {
        int c = stack[top - 1], cand[4], k = 0;
        for (int d = 0; d < 4; d++) {
            int b = rz_maze_step(n, c, d);
            if (b >= 0 && !(m->open[b] & VIS)) cand[k++] = b;
        }
        if (k == 0) {
            if (!forks) break; /* do_forks = False: one corridor */
            top--;
            continue;
        }
        int b = cand[below(&s, k)];
        set_open(m, c, b);
        m->n_passages++;
        m->open[b] |= VIS;
        stack[top++] = b;
    }
    /* the maze's cells (visited), then loop openings among closed walls between two of
     * them: collect the candidates in cell order, pick without replacement */
    int *walls = m->work, nw = 0;
    {
        for (int c = 0; c < N; c++)
            for (int d = 0; d < 2; d++) {
                int b = rz_maze_step(n, c, d);
                if (b >= 0 && (m->open[c] & VIS) && (m->open[b] & VIS) && !(m->open[c] & (1 << d)))
                    walls[nw++] = c * 2 + d;
            }
        for (int x = 0; x < extra && nw > 0; x++) {
            int pick = below(&s, nw), w = walls[pick];
            walls[pick] = walls[--nw];
            m->open[w / 2] |= (uint8_t)(1 << (w % 2));
            m->n_passages++;
        }
    }
    /* origin and target: distinct cells of the maze */
    int cells = 0;
    for (int c = 0; c < N; c++) cells += (m->open[c] & VIS) != 0;
    int pick_o = below(&s, cells), pick_t = below(&s, cells - 1);
    if (pick_t >= pick_o) pick_t++;
    for (int c = 0, k = 0; c < N; c++)
        if (m->open[c] & VIS) {
            if (k == pick_o) m->origin = c;
            if (k == pick_t) m->target = c;
            k++;
        }
    for (int c = 0; c < N; c++) m->open[c] &= (uint8_t)~VIS;
    /* the rest of the stream orders the token form's passages */
    m->key = rz_splitmix64(&s);
    rz_maze_bfs(m);
}

uint64_t rz_maze_hash(const rz_maze *m)
{
    uint64_t h = rz_checksum(RZ_CHECKSUM_INIT, m->open, (size_t)m->n * m->n);
    int ot[3] = {m->n, m->origin, m->target};
    return rz_checksum(h, ot, sizeof ot);
}
