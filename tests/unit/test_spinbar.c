/* test_spinbar.c — util/spinbar.h's barrier does what a barrier must:
 *   - nobody leaves barrier k before everyone has arrived at it, and what each thread wrote
 *     before it is what every thread reads after it: per round every thread writes its
 *     slot (plain ints, no atomics), waits, checks every slot holds this round, waits
 *     again (so no slot is overwritten while someone still reads it);
 *   - teams of 2 threads (one per core here) and of 3 and 5 (more threads than the
 *     machine's 2 cores: they take turns, so the waiters must yield, not only spin);
 *   - the same barrier serves the next team (count back to 0 after a team's last wait).
 * A barrier that returned at once fails the first case: with 2 threads over thousands
 * of rounds, one of them reads a slot the other has not yet written this round. */
#include "../check.h"
#include "spinbar.h"
#include <omp.h>

enum { MAXT = 8 };

/* rounds of write, wait, check, wait on a team of n; returns the stale slots seen, *got the
 * team's size */
static long run_team(rz_spinbar *b, int n, int rounds, int *got)
{
    int slot[MAXT];
    long stale = 0;
    for (int i = 0; i < MAXT; i++) slot[i] = -1;
#pragma omp parallel num_threads(n) reduction(+ : stale)
    {
        int id = omp_get_thread_num(), m = omp_get_num_threads();
        if (id == 0) *got = m;
        for (int r = 0; r < rounds; r++) {
            slot[id] = r;
            rz_spinbar_wait(b, m);
            for (int j = 0; j < m; j++) stale += slot[j] != r;
            rz_spinbar_wait(b, m);
        }
    }
    return stale;
}

static void test_orders(void)
{
    rz_spinbar b;
    rz_spinbar_init(&b);
    static const int teams[3] = {2, 3, 5}, rounds[3] = {20000, 2000, 1000};
    for (int k = 0; k < 3; k++) {
        int got = 0;
        long stale = run_team(&b, teams[k], rounds[k], &got);
        CHECK_EQ_INT(got, teams[k]);
        if (stale) printf("#   team of %d: %ld stale slots\n", teams[k], stale);
        CHECK_EQ_INT(stale, 0);
        CHECK_EQ_INT(atomic_load(&b.count), 0); /* ready for the next team */
    }
    CHECK_EQ_INT(atomic_load(&b.gen), 2u * (20000u + 2000u + 1000u)); /* one per barrier passed */
}

/* a team of one never waits */
static void test_single(void)
{
    rz_spinbar b;
    rz_spinbar_init(&b);
    for (int i = 0; i < 1000; i++) rz_spinbar_wait(&b, 1);
    CHECK_EQ_INT(atomic_load(&b.count), 0);
    CHECK_EQ_INT(atomic_load(&b.gen), 1000);
}

int main(void)
{
    RUN(test_orders);
    RUN(test_single);
    return check_summary();
}
