/* cluster.c — the MPI layer (see cluster.h).
 *
 * Plain runs never touch MPI (no MPI_Init, so no daemons, no root warnings). Under
 * mpirun, dynamic work assignment is a shared counter on rank 0 advanced with MPI-3
 * one-sided MPI_Fetch_and_op: no master thread, and rank 0 computes like every rank.
 * Gathers are point-to-point in rank order with byte counts split into chunks below
 * INT_MAX, so blobs larger than 2 GiB in total are fine.
 */
#include "cluster.h"

#include <limits.h>
#include <stdio.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

static int active, rank_, size_ = 1;
static MPI_Win dyn_win = MPI_WIN_NULL;
static long *dyn_counter;
static long dyn_n;
static long dyn_local; /* plain-run counter */

static int argc_;
static char **argv_;

void rz_cluster_init(int *argc, char ***argv)
{
    argc_ = *argc, argv_ = *argv;
    if (active) return;
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK")) return;
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    active = 1;
    argc_ = *argc, argv_ = *argv; /* MPI_Init may have removed its own arguments */
}

char **rz_cluster_argv(int *argc)
{
    *argc = argc_;
    return argv_;
}

/* Rank 0's item list is broadcast (count, then each item's length and bytes); every
 * rank finds its first item that differs; an all-gather of (index, item) lets every
 * rank write the same message. */
int rz_cluster_agree(const char *const *items, int n, rz_err *e)
{
    if (size_ <= 1) return RZ_OK;
    enum { W = 160 };
    int n0 = n;
    rz_cluster_bcast(&n0, sizeof n0);
    int bad = -1; /* first differing index, -1 = none */
    for (int i = 0; i < n0; i++) {
        int len = i < n && rank_ == 0 ? (int)strlen(items[i]) : 0;
        rz_cluster_bcast(&len, sizeof len);
        char *buf = malloc((size_t)len + 1);
        if (!buf) rz_cluster_abort(RZ_EINTERNAL);
        if (rank_ == 0) memcpy(buf, items[i], (size_t)len);
        rz_cluster_bcast(buf, (size_t)len);
        buf[len] = 0;
        if (bad < 0 && (i >= n || strcmp(buf, items[i]) != 0)) bad = i;
        free(buf);
    }
    if (bad < 0 && n > n0) bad = n0; /* this rank has more items */
    struct { int bad; char item[W]; } mine = {bad, ""}, *all = calloc((size_t)size_, sizeof *all);
    if (!all) rz_cluster_abort(RZ_EINTERNAL);
    if (bad >= 0) snprintf(mine.item, W, "%s", bad < n ? items[bad] : "(nothing)");
    MPI_Allgather(&mine, sizeof mine, MPI_BYTE, all, sizeof mine, MPI_BYTE, MPI_COMM_WORLD);
    int r = 1;
    while (r < size_ && all[r].bad < 0) r++;
    if (r == size_) {
        free(all);
        return RZ_OK;
    }
    /* rank 0's item at the same index, sent by rank r's index */
    int at = all[r].bad;
    char zero[W] = "(nothing)";
    if (rank_ == 0 && at < n) snprintf(zero, W, "%s", items[at]);
    rz_cluster_bcast(zero, W);
    char ranks[W] = "";
    for (int q = 1, o = 0; q < size_ && o < W - 8; q++)
        if (all[q].bad >= 0) o += snprintf(ranks + o, (size_t)(W - o), "%s%d", o ? "," : "", q);
    rz_fail(e, RZ_EINPUT, "ranks disagree on their inputs: rank 0 has %s, rank %d has %s "
                          "(ranks differing from rank 0: %s); every rank must run the same "
                          "command on the same files", zero, r, all[r].item, ranks);
    free(all);
    return RZ_EINPUT;
}

void rz_cluster_finalize(void)
{
    if (!active) return;
    MPI_Finalize();
    active = 0;
    rank_ = 0;
    size_ = 1;
}

int rz_cluster_active(void) { return active; }
int rz_cluster_rank(void) { return rank_; }
int rz_cluster_size(void) { return size_; }

void rz_cluster_barrier(void)
{
    if (active) MPI_Barrier(MPI_COMM_WORLD);
}

void rz_cluster_abort(int status)
{
    if (active) MPI_Abort(MPI_COMM_WORLD, status);
    exit(status);
}

void rz_cluster_block(long n, int rank, int size, long *lo, long *hi)
{
    /* the first n % size ranks get one extra item */
    long base = n / size, extra = n % size;
    *lo = rank * base + (rank < extra ? rank : extra);
    *hi = *lo + base + (rank < extra ? 1 : 0);
}

/* ---- dynamic assignment ------------------------------------------------------------ */

void rz_cluster_dynamic_begin(long n)
{
    dyn_n = n;
    dyn_local = 0;
    if (!active) return;
    MPI_Aint bytes = rank_ == 0 ? (MPI_Aint)sizeof(long) : 0;
    MPI_Win_allocate(bytes, sizeof(long), MPI_INFO_NULL, MPI_COMM_WORLD, &dyn_counter, &dyn_win);
    if (rank_ == 0) *dyn_counter = 0;
    MPI_Win_fence(0, dyn_win); /* counter initialised before anyone fetches */
    MPI_Win_lock_all(0, dyn_win);
}

long rz_cluster_dynamic_next(void)
{
    long got;
    if (!active) {
        got = dyn_local++;
    } else {
        long one = 1;
        MPI_Fetch_and_op(&one, &got, MPI_LONG, 0, 0, MPI_SUM, dyn_win);
        MPI_Win_flush(0, dyn_win);
    }
    return got < dyn_n ? got : -1;
}

void rz_cluster_dynamic_end(void)
{
    if (!active || dyn_win == MPI_WIN_NULL) return;
    MPI_Win_unlock_all(dyn_win);
    MPI_Win_free(&dyn_win);
    dyn_win = MPI_WIN_NULL;
}

/* ---- point-to-point in chunks ------------------------------------------------------ */

#define CHUNK ((size_t)1 << 30)

static void send_bytes(const void *p, size_t n, int to, int tag)
{
    const char *b = p;
    for (size_t off = 0; off < n || off == 0; off += CHUNK) {
        size_t k = n - off < CHUNK ? n - off : CHUNK;
        MPI_Send(b + off, (int)k, MPI_BYTE, to, tag, MPI_COMM_WORLD);
        if (n == 0) break;
    }
}

static void recv_bytes(void *p, size_t n, int from, int tag)
{
    char *b = p;
    for (size_t off = 0; off < n || off == 0; off += CHUNK) {
        size_t k = n - off < CHUNK ? n - off : CHUNK;
        MPI_Recv(b + off, (int)k, MPI_BYTE, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (n == 0) break;
    }
}

void rz_cluster_bcast(void *buf, size_t n)
{
    if (!active || size_ == 1) return;
    char *b = buf;
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t k = n - off < CHUNK ? n - off : CHUNK;
        MPI_Bcast(b + off, (int)k, MPI_BYTE, 0, MPI_COMM_WORLD);
    }
}

/* ---- ordered gathers --------------------------------------------------------------- */

enum { TAG_COUNT = 101, TAG_IDX, TAG_VALS, TAG_LENS, TAG_BLOB };

int rz_cluster_gather_items(long n_total, int width, const long *idx, const double *vals,
                            long n_local, double *out, rz_err *e)
{
    char *seen = NULL;
    if (rank_ == 0) {
        seen = rz_calloc((size_t)n_total, 1, e);
        if (!seen) return RZ_EINTERNAL;
    }
    int rc = RZ_OK;
    for (int r = 0; r < size_; r++) {
        long n = n_local;
        const long *ix = idx;
        const double *v = vals;
        long *rix = NULL;
        double *rv = NULL;
        if (r > 0) {
            if (rank_ == r) {
                send_bytes(&n_local, sizeof n_local, 0, TAG_COUNT);
                send_bytes(idx, (size_t)n_local * sizeof *idx, 0, TAG_IDX);
                send_bytes(vals, (size_t)n_local * (size_t)width * sizeof *vals, 0, TAG_VALS);
            }
            if (rank_ != 0) continue;
            recv_bytes(&n, sizeof n, r, TAG_COUNT);
            rix = malloc((size_t)n * sizeof *rix + 1);
            rv = malloc((size_t)n * (size_t)width * sizeof *rv + 1);
            if (!rix || !rv) {
                free(rix);
                free(rv);
                free(seen);
                return rz_fail(e, RZ_EINTERNAL, "out of memory gathering results");
            }
            recv_bytes(rix, (size_t)n * sizeof *rix, r, TAG_IDX);
            recv_bytes(rv, (size_t)n * (size_t)width * sizeof *rv, r, TAG_VALS);
            ix = rix;
            v = rv;
        } else if (rank_ != 0) {
            continue;
        }
        for (long i = 0; i < n && rc == RZ_OK; i++) {
            if (ix[i] < 0 || ix[i] >= n_total || seen[ix[i]])
                rc = rz_fail(e, RZ_EINTERNAL, "gather: item %ld from rank %d is out of range or duplicated", ix[i], r);
            else {
                seen[ix[i]] = 1;
                memcpy(out + (size_t)ix[i] * (size_t)width, v + (size_t)i * (size_t)width, (size_t)width * sizeof *v);
            }
        }
        free(rix);
        free(rv);
    }
    if (rank_ == 0 && rc == RZ_OK)
        for (long i = 0; i < n_total; i++)
            if (!seen[i]) {
                rc = rz_fail(e, RZ_EINTERNAL, "gather: no rank computed item %ld", i);
                break;
            }
    free(seen);
    return rc;
}

int rz_cluster_gather_blobs(long n_total, const long *idx, void *const *blobs_local,
                            const size_t *lens_local, long n_local, void **blobs_out,
                            size_t *lens_out, rz_err *e)
{
    if (rank_ == 0)
        for (long i = 0; i < n_total; i++) blobs_out[i] = NULL, lens_out[i] = 0;
    for (int r = 0; r < size_; r++) {
        if (r == 0) {
            if (rank_ != 0) continue;
            for (long i = 0; i < n_local; i++) {
                if (idx[i] < 0 || idx[i] >= n_total || blobs_out[idx[i]])
                    return rz_fail(e, RZ_EINTERNAL, "gather: blob %ld out of range or duplicated", idx[i]);
                void *copy = malloc(lens_local[i] + 1);
                if (!copy) return rz_fail(e, RZ_EINTERNAL, "out of memory gathering results");
                memcpy(copy, blobs_local[i], lens_local[i]);
                blobs_out[idx[i]] = copy;
                lens_out[idx[i]] = lens_local[i];
            }
            continue;
        }
        if (rank_ == r) {
            send_bytes(&n_local, sizeof n_local, 0, TAG_COUNT);
            send_bytes(idx, (size_t)n_local * sizeof *idx, 0, TAG_IDX);
            send_bytes(lens_local, (size_t)n_local * sizeof *lens_local, 0, TAG_LENS);
            for (long i = 0; i < n_local; i++) send_bytes(blobs_local[i], lens_local[i], 0, TAG_BLOB);
        } else if (rank_ == 0) {
            long n;
            recv_bytes(&n, sizeof n, r, TAG_COUNT);
            long *rix = malloc((size_t)n * sizeof *rix + 1);
            size_t *rl = malloc((size_t)n * sizeof *rl + 1);
            if (!rix || !rl) {
                free(rix);
                free(rl);
                return rz_fail(e, RZ_EINTERNAL, "out of memory gathering results");
            }
            recv_bytes(rix, (size_t)n * sizeof *rix, r, TAG_IDX);
            recv_bytes(rl, (size_t)n * sizeof *rl, r, TAG_LENS);
            int rc = RZ_OK;
            for (long i = 0; i < n; i++) {
                void *b = malloc(rl[i] + 1);
                if (!b) rc = rz_fail(e, RZ_EINTERNAL, "out of memory gathering results");
                recv_bytes(b ? b : NULL, b ? rl[i] : 0, r, TAG_BLOB);
                if (rc == RZ_OK && (rix[i] < 0 || rix[i] >= n_total || blobs_out[rix[i]]))
                    rc = rz_fail(e, RZ_EINTERNAL, "gather: blob %ld from rank %d out of range or duplicated", rix[i], r);
                if (rc == RZ_OK) {
                    blobs_out[rix[i]] = b;
                    lens_out[rix[i]] = rl[i];
                } else {
                    free(b);
                }
            }
            free(rix);
            free(rl);
            if (rc) return rc;
        }
    }
    return RZ_OK;
}

/* ---- all-gather of static blocks ------------------------------------------------- */

int rz_cluster_allgather_block(void *buf, long n, size_t item_bytes, rz_err *e)
{
    if (!active || size_ == 1) return RZ_OK;
    if (item_bytes == 0 || item_bytes > INT_MAX || n > INT_MAX)
        return rz_fail(e, RZ_EINTERNAL, "all-gather: %ld items of %zu bytes do not fit MPI's int counts", n, item_bytes);
    int *cnt = malloc((size_t)size_ * sizeof *cnt), *off = malloc((size_t)size_ * sizeof *off);
    MPI_Datatype item;
    if (!cnt || !off) {
        free(cnt);
        free(off);
        return rz_fail(e, RZ_EINTERNAL, "out of memory");
    }
    for (int r = 0; r < size_; r++) {
        long lo, hi;
        rz_cluster_block(n, r, size_, &lo, &hi);
        cnt[r] = (int)(hi - lo), off[r] = (int)lo;
    }
    MPI_Type_contiguous((int)item_bytes, MPI_BYTE, &item);
    MPI_Type_commit(&item);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, cnt, off, item, MPI_COMM_WORLD);
    MPI_Type_free(&item);
    free(cnt);
    free(off);
    return RZ_OK;
}

/* ---- deterministic all-reduce ------------------------------------------------------ */

void rz_cluster_allreduce_sum(double *buf, size_t n)
{
    if (!active || size_ == 1) return;
    double *all = rank_ == 0 ? malloc(n * (size_t)size_ * sizeof *all + 1) : NULL;
    if (rank_ == 0 && !all) rz_cluster_abort(RZ_EINTERNAL);
    if (rank_ == 0) {
        memcpy(all, buf, n * sizeof *buf);
        for (int r = 1; r < size_; r++) recv_bytes(all + n * (size_t)r, n * sizeof *buf, r, TAG_VALS);
        for (size_t i = 0; i < n; i++) { /* rank order: the same sum on every run */
            double s = 0;
            for (int r = 0; r < size_; r++) s += all[n * (size_t)r + i];
            buf[i] = s;
        }
        free(all);
    } else {
        send_bytes(buf, n * sizeof *buf, 0, TAG_VALS);
    }
    rz_cluster_bcast(buf, n * sizeof *buf);
}

void rz_cluster_allreduce_sum_f32(float *buf, size_t n)
{
    if (!active || size_ == 1) return;
    double *d = malloc(n * sizeof *d + 1);
    if (!d) rz_cluster_abort(RZ_EINTERNAL);
    for (size_t i = 0; i < n; i++) d[i] = buf[i];
    rz_cluster_allreduce_sum(d, n);
    for (size_t i = 0; i < n; i++) buf[i] = (float)d[i];
    free(d);
}
