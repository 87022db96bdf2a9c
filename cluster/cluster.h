/* cluster.h — the MPI layer: every rz-* program runs plain or under mpirun unchanged.
 *
 * rz_cluster_init detects an MPI launch from the environment (OMPI_COMM_WORLD_SIZE,
 * PMI_SIZE or PMIX_RANK) and calls MPI_Init only then; a plain run is rank 0 of 1 and
 * every function below degenerates to a local operation.
 *
 * Determinism: reductions never use MPI_Reduce's unspecified order. Results are computed
 * per work item (a window, a layer, a seed) in double, gathered to rank 0 in item order
 * and summed there in that order, so `mpirun -np N` prints exactly what one process does.
 *
 * Work partitioning: static (contiguous blocks of items, rz_cluster_block) or dynamic
 * (rank 0 hands out item indices on request; rank 0 works too, between requests).
 */
#ifndef RZ_CLUSTER_H
#define RZ_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "rz.h"

void rz_cluster_init(int *argc, char ***argv);
void rz_cluster_finalize(void);
int rz_cluster_active(void); /* 1 under mpirun with MPI initialised */
int rz_cluster_rank(void);
int rz_cluster_size(void);
void rz_cluster_barrier(void);
/* Abort every rank (after a fatal error on one rank) with an exit status. */
void rz_cluster_abort(int status) __attribute__((noreturn));

/* Static block partition of n items: this rank owns [*lo, *hi). */
void rz_cluster_block(long n, int rank, int size, long *lo, long *hi);

/* Dynamic partition: returns the next item index for this rank, or -1 when all n are
 * handed out. All ranks must call until -1. Rank 0 serves requests from a helper thread,
 * so it also computes. Call rz_cluster_dynamic_begin(n) on every rank first and
 * rz_cluster_dynamic_end() on every rank after its last -1. */
void rz_cluster_dynamic_begin(long n);
long rz_cluster_dynamic_next(void);
void rz_cluster_dynamic_end(void);

/* Ordered gather of per-item results: each rank passes the items it computed (indices
 * and `width` doubles each); on rank 0, out[n_total*width] is filled in item order.
 * Returns 0, or RZ_EINTERNAL on a missing/duplicate item. */
int rz_cluster_gather_items(long n_total, int width, const long *idx, const double *vals,
                            long n_local, double *out, rz_err *e);

/* Ordered gather of variable-size byte blobs (e.g. encoded records) to rank 0: item i's
 * bytes end up in blobs[i] (malloc'd, *lens[i]) on rank 0. Items absent locally: NULL. */
int rz_cluster_gather_blobs(long n_total, const long *idx, void *const *blobs_local,
                            const size_t *lens_local, long n_local, void **blobs_out,
                            size_t *lens_out, rz_err *e);

/* All-gather of a static block partition: n items of item_bytes each in buf (n ×
 * item_bytes); this rank holds the items of its block (rz_cluster_block(n, rank, size))
 * in place; afterwards every rank's buf holds every item, in item order, byte for byte
 * (data movement only, no arithmetic). Returns 0, or RZ_EINTERNAL when an item is over
 * INT_MAX bytes. Every rank must call it with the same n and item_bytes. Plain runs: a
 * no-op. */
int rz_cluster_allgather_block(void *buf, long n, size_t item_bytes, rz_err *e);

/* The command line given to rz_cluster_init (after MPI_Init took its own arguments);
 * the array getopt permutes is the same one. */
char **rz_cluster_argv(int *argc);
/* Every rank passes its list of items (strings such as "--ctx 512"); RZ_EINPUT on every
 * rank when any rank's list differs from rank 0's, naming the first differing item on
 * rank 0 and on the lowest such rank, and all differing ranks. Plain runs: RZ_OK. */
int rz_cluster_agree(const char *const *items, int n, rz_err *e);
/* Broadcast a block of bytes from rank 0. */
void rz_cluster_bcast(void *buf, size_t n);
/* All-reduce (sum) of doubles in a fixed order: gathered to 0, summed by rank, broadcast.
 * Identical on every rank and independent of message timing. */
void rz_cluster_allreduce_sum(double *buf, size_t n);
/* Same for floats (gradients): sums in double, rank order. */
void rz_cluster_allreduce_sum_f32(float *buf, size_t n);

#endif
