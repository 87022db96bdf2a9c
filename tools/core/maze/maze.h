/* maze.h — mazes on an n×n lattice: generation (randomised depth-first search), shortest
 * paths (breadth-first search), path validity, and the token form of a maze.
 *
 * A maze is a set of open passages between 4-neighbour cells of the n×n grid. Cell (i, j)
 * is row i, column j, index c = i·n + j. open[c] bit 0: passage to (i, j+1); bit 1:
 * passage to (i+1, j) (each passage stored once, at its upper/left cell).
 *
 * Generation (rz_maze_dfs) follows maze-dataset's gen_dfs: start at a random cell, walk
 * to a random unvisited neighbour opening the wall between, backtrack at dead ends until
 * every cell is visited: a uniformly-rooted random spanning tree (a perfect maze, n²−1
 * passages, one path between any two cells). forks = 0 is maze-dataset's
 * do_forks=False: the walk stops at its first dead end instead of backtracking, leaving
 * one corridor (cells off it stay closed). extra > 0 then opens that many more walls,
 * chosen uniformly among the closed walls between two cells of the maze (loops: n²−1 +
 * extra passages for a perfect maze). Origin and target are two distinct random cells of
 * the maze; the path is the BFS shortest path (neighbours tried right, down, left, up,
 * so with loops the tie is broken the same way every time).
 *
 * Everything is drawn from a counter-based generator keyed by (seed, index): maze
 * `index` of seed s is the same bytes anywhere, and disjoint index ranges give the
 * train / held-out split.
 *
 * Tokens (rz_maze_tokens), one token per cell coordinate, as the MLM-U reference:
 *   <ADJLIST_START> (i,j) (k,l) ; (…) (…) ; … <ADJLIST_END> <ORIGIN_START> (i,j)
 *   <ORIGIN_END> <TARGET_START> (i,j) <TARGET_END> <PATH_START> (i,j) … <PATH_END>
 * The passages are listed in a random order with a random direction each (as maze-
 * dataset shuffles its adjacency list), drawn from the same (seed, index) stream. Ids:
 * RZ_MZ_* specials first, then cell c = RZ_MZ_CELL0 + c; vocabulary RZ_MZ_CELL0 + n².
 */
#ifndef RZ_MAZE_H
#define RZ_MAZE_H

#include <stdint.h>

#include "rz.h"

#define RZ_MAZE_MIN 2
#define RZ_MAZE_MAX 64 /* vocabulary 12 + 4096; a 64×64 token sequence is ~16k long */

enum {
    RZ_MZ_PAD = 0,
    RZ_MZ_MASK,
    RZ_MZ_ADJ_START,
    RZ_MZ_ADJ_END,
    RZ_MZ_ORIGIN_START,
    RZ_MZ_ORIGIN_END,
    RZ_MZ_TARGET_START,
    RZ_MZ_TARGET_END,
    RZ_MZ_PATH_START,
    RZ_MZ_PATH_END,
    RZ_MZ_SEP, /* ";" after each passage */
    RZ_MZ_RESERVED,
    RZ_MZ_CELL0 /* first cell id */
};

enum { RZ_MZ_RIGHT = 1, RZ_MZ_DOWN = 2 };

typedef struct {
    int n;
    uint8_t *open;      /* [n*n] RZ_MZ_RIGHT | RZ_MZ_DOWN bits */
    int origin, target; /* cell indices */
    int *path;          /* [n*n] cells origin … target (BFS shortest) */
    int path_len;       /* cells on the path (≥ 2) */
    int n_passages;
    uint64_t key;       /* the generator key of (seed, index) */
    int *work;          /* [2 n*n] scratch */
} rz_maze;

int rz_maze_vocab(int n);
/* Longest token sequence of an n×n maze with `extra` loop openings. */
int rz_maze_max_tokens(int n, int extra);
/* A maze of size n with empty walls and buffers (n checked: RZ_EINPUT outside
 * [RZ_MAZE_MIN, RZ_MAZE_MAX]). */
int rz_maze_alloc(int n, rz_maze *m, rz_err *e);
void rz_maze_free(rz_maze *m);

/* Generates maze `index` of seed into m (allocated for its n). forks: 1 backtracking DFS
 * (perfect maze), 0 one corridor. extra: loop openings (fewer if the maze has fewer closed
 * walls inside it). */
void rz_maze_dfs(rz_maze *m, uint64_t seed, uint64_t index, int forks, int extra);
/* A*-style maze `index` of seed (astar.c; Searchformer's maze task): every cell is a
 * wall with probability density, the passages are all pairs of 4-neighbouring free
 * cells, origin and target are distinct free cells drawn uniformly, and the path is the
 * A* plan (rz_maze_astar). Draws again from the same (seed, index) stream until the
 * target is reachable (at most 1000 times). Returns 1, or 0 if no solvable maze was
 * drawn (density too high). A wall cell is a cell without passages, so the token form,
 * rz_maze_parse, BFS and rz_maze_path_valid treat it like any other maze. */
int rz_maze_astar_gen(rz_maze *m, uint64_t seed, uint64_t index, double density);
/* A* from m->origin to m->target with the Manhattan heuristic (consistent on the unit
 * grid, so the plan is a shortest path); open-list ties go to the larger g, then the
 * smaller cell index. Path into m->path / path_len; returns the length in cells, 0 if
 * unreachable. */
int rz_maze_astar(rz_maze *m);
/* 1 if a and b (cells) are 4-neighbours with the passage between them open. */
/* Neighbour of cell c of an n×n lattice in direction d (0 right, 1 down, 2 left,
 * 3 up), or -1 off the lattice. */
int rz_maze_step(int n, int c, int d);
int rz_maze_is_open(const rz_maze *m, int a, int b);
/* BFS shortest path from m->origin to m->target into m->path / path_len; returns the
 * length in cells, or 0 if the target is unreachable. */
int rz_maze_bfs(rz_maze *m);
/* Validity of a proposed path of cells p[0..len): starts at origin, ends at target, every
 * step between open neighbours. Returns 1 valid, 0 not. */
int rz_maze_path_valid(const rz_maze *m, const int *p, int len);

/* Tokens of m into out[cap] (cap ≥ rz_maze_max_tokens); returns the count. The passage
 * order and directions come from m->key. */
int rz_maze_tokens(const rz_maze *m, int *out, int cap);
/* Rebuilds the maze (walls, origin, target, path) from tokens; RZ_EINPUT naming the
 * position when the sequence is not a well-formed maze of size m->n. */
int rz_maze_parse(rz_maze *m, const int *tok, int n_tok, rz_err *e);
/* Index of the <PATH_START> token, or -1. */
int rz_maze_path_start(const int *tok, int n_tok);
/* Printable name of token id (cells as "(i,j)") into buf[32]. */
const char *rz_maze_token_name(int n, int id, char buf[32]);

/* FNV-1a of the maze's walls, origin and target (uniqueness). */
uint64_t rz_maze_hash(const rz_maze *m);

/* The generator state of maze `index` of seed (then stepped by rz_train_rng_next,
 * splitmix64). */
uint64_t rz_maze_key(uint64_t seed, uint64_t index);

#endif
