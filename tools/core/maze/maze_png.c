/* maze_png.c — maze pictures (maze_png.h), encoded by the project's PNG writer. */
#include "maze_png.h"

#include <stdlib.h>
#include <string.h>

#include "pngenc.h" /* rz_png_write */

#define CELL 24

static void fill(unsigned char *img, int W, int x0, int y0, int x1, int y1, const unsigned char *rgb)
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            if (x >= 0 && y >= 0 && x < W && y < W) memcpy(img + ((size_t)y * W + x) * 3, rgb, 3);
}

/* A 3-pixel line between the centres (plus offset) of cells a and b. */
static void segment(unsigned char *img, int W, int n, int a, int b, int off, const unsigned char *rgb)
{
    int ax = (a % n) * CELL + CELL / 2 + off, ay = (a / n) * CELL + CELL / 2 + off;
    int bx = (b % n) * CELL + CELL / 2 + off, by = (b / n) * CELL + CELL / 2 + off;
    int x0 = ax < bx ? ax : bx, x1 = ax < bx ? bx : ax, y0 = ay < by ? ay : by, y1 = ay < by ? by : ay;
    fill(img, W, x0 - 1, y0 - 1, x1 + 2, y1 + 2, rgb); /* neighbours: axis-aligned */
}

int rz_maze_png(const char *path, const rz_maze *m, const int *pred, int pred_len, rz_err *e)
{
    int n = m->n, W = n * CELL + 1;
    unsigned char *img = rz_malloc((size_t)W * W * 3, e);
    if (!img) return RZ_EINTERNAL;
    static const unsigned char white[3] = {255, 255, 255}, black[3] = {0, 0, 0}, blue[3] = {120, 160, 255},
                               orange[3] = {255, 190, 90}, green[3] = {0, 160, 60}, red[3] = {220, 30, 30};
    memset(img, 255, (size_t)W * W * 3);
    (void)white;
    fill(img, W, (m->origin % n) * CELL, (m->origin / n) * CELL, (m->origin % n + 1) * CELL, (m->origin / n + 1) * CELL, blue);
    fill(img, W, (m->target % n) * CELL, (m->target / n) * CELL, (m->target % n + 1) * CELL, (m->target / n + 1) * CELL, orange);
    for (int c = 0; c < n * n; c++) {
        int i = c / n, j = c % n, x = j * CELL, y = i * CELL;
        if (j + 1 == n || !(m->open[c] & RZ_MZ_RIGHT)) fill(img, W, x + CELL - 1, y, x + CELL + 1, y + CELL + 1, black);
        if (i + 1 == n || !(m->open[c] & RZ_MZ_DOWN)) fill(img, W, x, y + CELL - 1, x + CELL + 1, y + CELL + 1, black);
        if (j == 0) fill(img, W, 0, y, 1, y + CELL + 1, black);
        if (i == 0) fill(img, W, x, 0, x + CELL + 1, 1, black);
    }
    for (int k = 1; k < m->path_len; k++) segment(img, W, n, m->path[k - 1], m->path[k], -CELL / 8, green);
    for (int k = 1; k < pred_len; k++) {
        int a = pred[k - 1], b = pred[k], N = n * n;
        if (a < 0 || b < 0 || a >= N || b >= N) continue;
        int d = abs(a - b);
        if (d == n || (d == 1 && a / n == b / n)) segment(img, W, n, a, b, CELL / 8, red);
    }
    int rc = rz_png_write(path, W, W, img, e);
    free(img);
    return rc;
}
