/* fuzz_rank_curves.c — libFuzzer target: any bytes as the JSON report rz-lowrank
 * --curves reads back (rz_rank_curves_parse). */
#include "rank_alloc.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    enum { COUNT = 3, MAXC = 4 };
    int rk[COUNT * MAXC], nc[COUNT];
    double v[COUNT * MAXC];
    rz_err e = {0};
    rz_rank_curves_parse((const char *)data, n, "kl", 0x0123456789abcdefULL, COUNT, MAXC, rk, v, nc, &e);
    return 0;
}
