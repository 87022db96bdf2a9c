/* test_cluster.c — the MPI layer. Runs plain (1 rank) from tests/run and under
 * `mpirun -np 2|3` from tests/shell/mpi.sh; only rank 0 prints. Expected values are
 * closed forms (sums of item indices), never outputs of the layer itself. */
#include <stdlib.h>
#include <string.h>

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
    long first = rz_cluster_dynamic_next();
    rz_cluster_barrier(); /* every rank has fetched once before anyone fetches again */
    for (i = first; i >= 0; i = rz_cluster_dynamic_next()) {
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
    double mine = (double)k;
    rz_cluster_allreduce_sum(&mine, 1);
    CHECK(mine == (double)n);
    /* every rank took at least one item when items outnumber ranks (the counter is
     * shared): each rank's first fetch happens before the barrier, so no rank can drain
     * the counter before the others have fetched once */
    double took[64] = {0};
    CHECK(size <= 64);
    if (rank < 64) took[rank] = first >= 0 && first < n ? 1.0 : 0.0;
    rz_cluster_allreduce_sum(took, 64);
    for (int r = 0; r < size && r < 64; r++) CHECK(took[r] == 1.0);
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

/* The block all-gather: item i is the 3 bytes (i, 7i, 255 − i) mod 256; each rank writes
 * only its own block and fills the rest with 0xEE; afterwards every rank holds every item
 * in item order. n = 1 leaves ranks with empty blocks under -np 2/3. */
static void test_allgather_block(void)
{
    long ns[3] = {11, 1, 0};
    for (int q = 0; q < 3; q++) {
        long n = ns[q], lo, hi;
        unsigned char buf[3 * 11 + 1];
        memset(buf, 0xEE, sizeof buf);
        rz_cluster_block(n, rank, size, &lo, &hi);
        for (long i = lo; i < hi; i++) {
            buf[3 * i] = (unsigned char)i;
            buf[3 * i + 1] = (unsigned char)(7 * i);
            buf[3 * i + 2] = (unsigned char)(255 - i);
        }
        rz_err e = {0};
        CHECK(rz_cluster_allgather_block(buf, n, 3, &e) == 0);
        for (long i = 0; i < n; i++)
            CHECK(buf[3 * i] == (unsigned char)i && buf[3 * i + 1] == (unsigned char)(7 * i) &&
                  buf[3 * i + 2] == (unsigned char)(255 - i));
        CHECK(buf[3 * n] == 0xEE); /* nothing written past the n items */
    }
}

static void test_allreduce_deterministic(void)
{
    /* Values whose double sum depends on the order within one element: ranks 0, 1, 2
     * contribute the six orderings of {1e16, 1, -1e16} (element j, rank r: perm[j][r];
     * ranks from 3 on add 0). 1e16 + 1 rounds back to 1e16 (ulp 2, tie to even), so
     * summing left to right in rank order gives 0 for the orderings that put 1 next to
     * a 1e16 first, and 1 for those where the two 1e16s cancel first: the exact
     * rank-order result {0, 1, 0, 0, 1, 0} (3 ranks). A tree reduction, reversed order or
     * any other association changes some element (e.g. element 1: 1e16 + (-1e16 + 1) = 0).
     * With 2 ranks, a + b is commutative: only the exact sum is checked there. */
    static const double perm[6][3] = {{1e16, 1, -1e16}, {1e16, -1e16, 1}, {1, 1e16, -1e16},
                                      {1, -1e16, 1e16}, {-1e16, 1e16, 1}, {-1e16, 1, 1e16}};
    static const double expect3[6] = {0, 1, 0, 0, 1, 0}; /* by hand, see above */
    double w[6];
    for (int j = 0; j < 6; j++) w[j] = rank < 3 ? perm[j][rank] : 0.0;
    rz_cluster_allreduce_sum(w, 6);
    for (int j = 0; j < 6; j++) {
        double left = 0; /* left to right in rank order, the first min(size, 3) ranks */
        for (int r = 0; r < size && r < 3; r++) left += perm[j][r];
        CHECK(w[j] == left);
        if (size == 3) CHECK(w[j] == expect3[j]);
    }
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
    RUN(test_allgather_block);
    RUN(test_allreduce_deterministic);
    printf("# ranks: %d\n", size);
    int rc = check_summary();
    rz_cluster_finalize();
    return rc;
}
