/* bench_rht.c — what the random Hadamard transforms of the activations cost per generated
 * token (issue: token-by-token decode), measured outside the library with the thread's
 * CPU clock.
 *
 * A decode step of the stories110M shape (dim 768 = 256·3, hidden 2048, 12 layers) with
 * two-sided incoherence on every linear transforms each linear's input (x̃ = V x) and
 * output (y = Uᵀ ỹ) once:
 *   inputs   wq wk wv wo w1 w3 at 768, w2 at 2048            7 per layer
 *   outputs  wq wk wv wo w2 at 768, w1 w3 at 2048 (inverse)  7 per layer
 * With a shared input transform (wq|wk|wv and w1|w3 quantised with one seed_v: qlinear.h
 * rz_qlinear_apply_group) the inputs drop to 4 per layer (wqkv, wo, w13 at 768, w2 at
 * 2048). The bench times one rz_rht_rows call of each kind (T = 1, best of 5 runs of at
 * least 0.05 s of CPU) and prints the per-token total both ways.
 *
 * usage: bench_rht [n_small [n_big]]   (defaults 768 2048)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rht.h"
#include "rz.h"

static double thread_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds per call on one row of n, best of 5: rz_rht_rows, or rz_rht_rows_ref when
 * ref (the loops rz_rht_rows replaced; the same bits). */
static double per_call(int n, int inverse, int ref)
{
    rz_rht t;
    rz_err e = {0};
    if (rz_rht_init(&t, n, 12345 + (uint64_t)n, &e)) {
        fprintf(stderr, "bench_rht: %s\n", e.msg);
        exit(1);
    }
    float *x = malloc(sizeof(float) * (size_t)n);
    for (int i = 0; i < n; i++) x[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        long reps = 0;
        double t0 = thread_cpu_now(), dt;
        do { /* 200 calls between clock reads: reading the thread's CPU clock is a system call */
            for (int k = 0; k < 200; k++) (ref ? rz_rht_rows_ref : rz_rht_rows)(&t, x, 1, n, inverse, NULL);
            reps += 200;
            dt = thread_cpu_now() - t0;
        } while (dt < 0.05);
        if (dt / reps < best) best = dt / reps;
    }
    free(x);
    rz_rht_free(&t);
    return best;
}

int main(int argc, char **argv)
{
    int ns = argc > 1 ? atoi(argv[1]) : 768, nb = argc > 2 ? atoi(argv[2]) : 2048, layers = 12;
    if (ns < 1 || nb < 1) {
        fprintf(stderr, "usage: bench_rht [n_small [n_big]]\n");
        return 2;
    }
    printf("rz_rht_rows, one row, CPU us per call (one thread); reference = rz_rht_rows_ref:\n");
    double own[2], shared[2];
    for (int ref = 1; ref >= 0; ref--) {
        double sf = per_call(ns, 0, ref), si = per_call(ns, 1, ref), bf = per_call(nb, 0, ref), bi = per_call(nb, 1, ref);
        const char *who = ref ? "reference" : "fast";
        printf("  %-9s n %5d forward %7.3f  inverse %7.3f\n", who, ns, 1e6 * sf, 1e6 * si);
        printf("  %-9s n %5d forward %7.3f  inverse %7.3f\n", who, nb, 1e6 * bf, 1e6 * bi);
        own[ref] = layers * (6 * sf + bf + 5 * si + 2 * bi);
        shared[ref] = layers * (3 * sf + bf + 5 * si + 2 * bi);
    }
    printf("per token, %d layers, ms (reference / fast): each linear its own input transform %.3f / %.3f; "
           "wq|wk|wv and w1|w3 sharing one %.3f / %.3f\n",
           layers, 1e3 * own[1], 1e3 * own[0], 1e3 * shared[1], 1e3 * shared[0]);
    return 0;
}
