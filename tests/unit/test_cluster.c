/* test_cluster.c — the MPI layer. Runs plain (1 rank) from tests/run and under
 * `mpirun -np 2|3` from tests/shell/mpi.sh; only rank 0 prints. Expected values are
 * closed forms (sums of item indices), never outputs of the layer itself. */
#include <stdlib.h>

#include "../check.h"
#include "cluster.h"

static int rank, size;

static void test_block_partition(void)
{
    /* blocks tile [0, n) in rank order and differ in size by at most one */
    for (long n = 0; n < 50; n++)
        for (int s = 1; s <= 7; s++) {
            long expect_lo = 0;
            for (int r = 0; r < s; r++) {
                long lo, hi;
                rz_cluster_block(n, r, s, &lo, &hi);
                CHECK(lo == expect_lo);
                CHECK(hi - lo == n / s || hi - lo == n / s + 1);
                expect_lo = hi;
            }
            CHECK(expect_lo == n);
        }
}

/* Dynamic assignment: every item exactly once over all ranks; results gathered in order. */
static void test_dynamic_and_gather(void)
{
    const long n = 37;
    long *idx = malloc(n * sizeof *idx);
    double *vals = malloc(2 * n * sizeof *vals), *all = malloc(2 * n * sizeof *all);
    long k = 0, i;
    rz_cluster_dynamic_begin(n);
    while ((i = rz_cluster_dynamic_next()) >= 0) {
        idx[k] = i;
        vals[2 * k] = (double)i * i;      /* item i's result: (i^2, -i) */
        vals[2 * k + 1] = -(double)i;
        k++;
    }
    rz_cluster_dynamic_end();
    rz_err e = {0};
    int rc = rz_cluster_gather_items(n, 2, idx, vals, k, all, &e);
    if (rank == 0) {
        CHECK(rc == 0);
        for (long j = 0; j < n; j++) CHECK(all[2 * j] == (double)j * j && all[2 * j + 1] == -(double)j);
    }
    /* every rank took at least one item when items outnumber ranks (the counter is shared) */
    double mine = (double)k;
    rz_cluster_allreduce_sum(&mine, 1);
    CHECK(mine == (double)n);
    free(idx);
    free(vals);
    free(all);
}

static void test_gather_blobs(void)
{
    /* item i is a blob of i+1 bytes, all equal to (unsigned char)i; static blocks */
    const long n = 10;
    long lo, hi;
    rz_cluster_block(n, rank, size, &lo, &hi);
    long *idx = malloc((size_t)(hi - lo + 1) * sizeof *idx);
    void **blobs = malloc((size_t)(hi - lo + 1) * sizeof *blobs);
    size_t *lens = malloc((size_t)(hi - lo + 1) * sizeof *lens);
    for (long i = lo; i < hi; i++) {
        idx[i - lo] = i;
        lens[i - lo] = (size_t)i + 1;
        blobs[i - lo] = malloc((size_t)i + 1);
        memset(blobs[i - lo], (int)i, (size_t)i + 1);
    }
    void *out[10];
    size_t outl[10];
    rz_err e = {0};
    int rc = rz_cluster_gather_blobs(n, idx, blobs, lens, hi - lo, out, outl, &e);
    if (rank == 0) {
        CHECK(rc == 0);
        for (long i = 0; i < n; i++) {
            CHECK(outl[i] == (size_t)i + 1);
            CHECK(out[i] && ((unsigned char *)out[i])[i] == (unsigned char)i);
            free(out[i]);
        }
    }
    for (long i = lo; i < hi; i++) free(blobs[i - lo]);
    free(idx);
    free(blobs);
    free(lens);
}

static void test_allreduce_deterministic(void)
{
    /* values whose float sum depends on order: summing in rank order must give the
     * same bits on every rank, equal to the sequential sum in rank order */
    double v[3] = {1e16 * (rank + 1), 1.0 + rank, -1e16 * (rank + 1)};
    double w[3];
    memcpy(w, v, sizeof v);
    rz_cluster_allreduce_sum(w, 3);
    double expect[3] = {0, 0, 0};
    for (int r = 0; r < size; r++) {
        expect[0] += 1e16 * (r + 1);
        expect[1] += 1.0 + r;
        expect[2] += -1e16 * (r + 1);
    }
    CHECK(w[0] == expect[0] && w[1] == expect[1] && w[2] == expect[2]);
    float f[2] = {0.5f, (float)rank};
    rz_cluster_allreduce_sum_f32(f, 2);
    CHECK(f[0] == 0.5f * size && f[1] == (float)(size * (size - 1) / 2));
    unsigned char b[4] = {0};
    if (rank == 0) memcpy(b, "rank", 4);
    rz_cluster_bcast(b, 4);
    CHECK(memcmp(b, "rank", 4) == 0);
}

int main(int argc, char **argv)
{
    rz_cluster_init(&argc, &argv);
    rank = rz_cluster_rank();
    size = rz_cluster_size();
    if (rank != 0) { /* silence other ranks' TAP lines; failures still reach the exit code */
        if (!freopen("/dev/null", "w", stdout)) return 1;
    }
    RUN(test_block_partition);
    RUN(test_dynamic_and_gather);
    RUN(test_gather_blobs);
    RUN(test_allreduce_deterministic);
    printf("# ranks: %d\n", size);
    int rc = check_summary();
    rz_cluster_finalize();
    return rc;
}
