/* spinbar.h — a barrier for the threads of one running OpenMP team that waits by spinning
 * on an atomic instead of in the kernel.
 *
 * Why: libgomp's `#pragma omp barrier` ends every barrier with a futex wake system call by
 * the last thread to arrive, whether anyone sleeps or not, and a decode step in one region
 * (llama.c forward_team, forward_team_rot) passes four or five barriers per layer: 48–61
 * per token of the 110M shape. On a virtual machine with page-table isolation a system
 * call costs microseconds, and the barriers' share of a 2-ms step showed (bench/README,
 * "twelfth pass").
 *
 * Contract: every thread of the team calls rz_spinbar_wait(b, n) the same number of times
 * with n = the team's size (omp_get_num_threads()); b was set up by rz_spinbar_init and no
 * other team uses it meanwhile. Everything any thread wrote before its call is visible to every
 * thread after its call returns: each arrival is an acquire-release increment of count
 * (the last arrival reads every earlier one's), and the last one releases the others by a
 * release store of gen that they read with acquire. count is back to 0 when every call has
 * returned, so the next team may use b again.
 *
 * Waiting: RZ_SPINBAR_SPINS checks with the CPU's pause hint (~0.1 ms: a balanced step's
 * waits are microseconds), then sched_yield between checks, so that a team with more
 * threads than free cores — its threads taking turns on them — still moves on. */
#ifndef RZ_SPINBAR_H
#define RZ_SPINBAR_H

#include <sched.h>
#include <stdatomic.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RZ_SPINBAR_PAUSE() _mm_pause()
#else
#define RZ_SPINBAR_PAUSE() ((void)0)
#endif

enum { RZ_SPINBAR_SPINS = 1 << 12 };

/* count and gen each alone on its cache line whatever the alignment (64 bytes either side):
 * the arrivals' writes to count do not disturb the waiters reading gen, and neither shares
 * a line with the fields of the struct that holds the barrier */
typedef struct {
    char lead_[64];
    atomic_int count; /* threads arrived at the current barrier */
    char mid_[64];
    atomic_uint gen; /* barriers completed (wraps; only its change is read) */
    char tail_[64];
} rz_spinbar;

static inline void rz_spinbar_init(rz_spinbar *b)
{
    atomic_init(&b->count, 0);
    atomic_init(&b->gen, 0u);
}

static inline void rz_spinbar_wait(rz_spinbar *b, int n)
{
    unsigned g = atomic_load_explicit(&b->gen, memory_order_relaxed); /* before arriving: it cannot change until we do */
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == n - 1) {
        atomic_store_explicit(&b->count, 0, memory_order_relaxed); /* before the release below */
        atomic_store_explicit(&b->gen, g + 1u, memory_order_release);
        return;
    }
    for (int i = 0; atomic_load_explicit(&b->gen, memory_order_acquire) == g;)
        if (i < RZ_SPINBAR_SPINS) {
            RZ_SPINBAR_PAUSE();
            i++;
        } else {
            sched_yield();
        }
}

#endif
