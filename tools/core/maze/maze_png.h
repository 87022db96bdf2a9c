/* maze_png.h — a picture of a maze: walls in black, origin (blue) and target (orange)
 * cells, the true path as a green line through cell centres and a predicted path (if
 * any) as a red line offset by a quarter cell, so both stay visible where they agree. */
#ifndef RZ_MAZE_PNG_H
#define RZ_MAZE_PNG_H

#include "maze.h"

/* pred: predicted cells (may be NULL / 0 long). Written through a temporary file. */
int rz_maze_png(const char *path, const rz_maze *m, const int *pred, int pred_len, rz_err *e);

#endif
