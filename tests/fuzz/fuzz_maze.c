/* fuzz_maze.c — libFuzzer target: any bytes as a maze stream (rz_maze_set_load, the
 * reader rz-maze train/eval use) and as an rz-maze checkpoint (rz_maze_ckpt_load), and
 * every loaded maze's tokens through the maze parser. The first byte picks the reader
 * so both get inputs shaped for them. */
#include "fuzz_file.h"
#include "maze.h"
#include "maze_ckpt.h"
#include "mlmu.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    if (n < 1) return 0;
    const char *path = fuzz_file("maze.rz", data + 1, n - 1);
    if (!path) return 0;
    rz_err e = {0};
    if (data[0] & 1) {
        rz_maze_ckpt info;
        rz_llama *m = NULL;
        rz_adamw opt;
        if (rz_maze_ckpt_load(path, NULL, &info, &m, (data[0] & 2) ? &opt : NULL, &e) == 0) {
            rz_llama_free(m);
            if (data[0] & 2) rz_adamw_free(&opt);
        }
        return 0;
    }
    rz_maze_set s;
    if (rz_maze_set_load(path, NULL, 0, (data[0] & 2) ? 64 : 0, 100, &s, &e) == 0) {
        rz_maze mz;
        if (rz_maze_alloc(s.n, &mz, &e) == 0) {
            for (long q = 0; q < s.count; q++) rz_maze_parse(&mz, s.tokens + (size_t)q * s.T, s.len[q], &e);
            rz_maze_free(&mz);
        }
        rz_maze_set_free(&s);
    }
    return 0;
}
