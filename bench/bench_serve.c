/* bench_serve.c — rz-serve's two speed targets on stories260K (issue: in-context learning).
 *
 * 1. score of N (context, label) pairs sharing one prompt of P tokens (default 1000
 *    pairs, P = 500 so that prompt + label fits the model's 512 positions): the
 *    context's KV computed once and reused (rz_infer_score_ids reuse = 1) against each
 *    pair scored from scratch (reuse = 0, context + label in one forward). The from-
 *    scratch side is timed on the first S pairs (default 100) and scaled to N, to keep
 *    the run short on a shared machine; the per-pair cost is constant (same lengths).
 * 2. round trip of a one-token score request over ipc:// to a server running in a
 *    thread of this process (rz_serve_run): median and 99th percentile of R requests.
 *
 * usage: bench_serve [N [S [R]]]      (needs RIZZ_DATA with stories260K.bin, tok512.bin)
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "infer.h"
#include "linalg.h"
#include "serve.h"

static volatile sig_atomic_t stop;

typedef struct {
    rz_infer *f;
    const char *ep;
} srv_args;

static void *srv_main(void *p)
{
    srv_args *a = p;
    rz_serve_opts o = {a->ep, 0, &stop, NULL, NULL};
    rz_serve_stats st;
    rz_err e = {0};
    if (rz_serve_run(a->f, &o, &st, &e)) fprintf(stderr, "server: %s\n", e.msg);
    return NULL;
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
    int N = argc > 1 ? atoi(argv[1]) : 1000, S = argc > 2 ? atoi(argv[2]) : 100, R = argc > 3 ? atoi(argv[3]) : 2000;
    if (S > N) S = N;
    const char *dir = getenv("RIZZ_DATA") ? getenv("RIZZ_DATA") : "../shared/data";
    char mp[4096], tp[4096];
    snprintf(mp, sizeof mp, "%s/stories260K.bin", dir);
    snprintf(tp, sizeof tp, "%s/tok512.bin", dir);
    rz_err e = {0};
    rz_llama *m;
    rz_tokenizer *t;
    if (rz_llama_load_bin(mp, &m, &e) || rz_tokenizer_load(tp, &t, &e)) {
        fprintf(stderr, "bench_serve: %s\n", e.msg);
        return 1;
    }
    rz_linalg_threads(1); /* one replica per core is how rz-serve scales */
    rz_infer *f;
    if (rz_infer_new(m, t, 512, NULL, &f, &e)) return fprintf(stderr, "%s\n", e.msg), 1;

    /* a 500-token prompt: BOS + token ids cycling over ordinary pieces (>= 259) */
    int P = 500, ctx[500];
    ctx[0] = 1;
    for (int i = 1; i < P; i++) ctx[i] = 259 + (i * 37) % 250;
    int **cont = malloc((size_t)N * sizeof *cont), *nc = malloc((size_t)N * sizeof *nc);
    double *sum = malloc((size_t)N * sizeof *sum), *sum0 = malloc((size_t)N * sizeof *sum0);
    for (int i = 0; i < N; i++) { /* labels of 1 to 3 tokens */
        nc[i] = 1 + i % 3;
        cont[i] = malloc(3 * sizeof(int));
        for (int j = 0; j < nc[i]; j++) cont[i][j] = 259 + (i * 7 + j * 13) % 250;
    }
    double t0 = rz_now();
    rz_infer_score_ids(f, ctx, P, (const int *const *)cont, nc, N, 1, sum, &e);
    double reuse = rz_now() - t0;
    t0 = rz_now();
    rz_infer_score_ids(f, ctx, P, (const int *const *)cont, nc, S, 0, sum0, &e);
    double scratch = (rz_now() - t0) * N / S;
    double maxdiff = 0;
    for (int i = 0; i < S; i++) maxdiff = fabs(sum[i] - sum0[i]) > maxdiff ? fabs(sum[i] - sum0[i]) : maxdiff;
    printf("score %d pairs, shared %d-token prompt: reuse %.3f s, from scratch %.3f s (%d timed, scaled), "
           "speed-up %.1fx; max |difference| %.2g nats\n", N, P, reuse, scratch, S, scratch / reuse, maxdiff);

    /* round trip over ipc:// */
    char ep[128];
    snprintf(ep, sizeof ep, "ipc:///tmp/rz-bench-serve-%d.sock", (int)getpid());
    srv_args sa = {f, ep};
    pthread_t th;
    pthread_create(&th, NULL, srv_main, &sa);
    rz_client *cl = NULL;
    for (int i = 0; i < 50 && !cl; i++)
        if (rz_client_open(ep, 0.2, &cl, NULL, NULL, &e)) usleep(20000);
    if (!cl) return fprintf(stderr, "bench_serve: %s\n", e.msg), 1;
    double *lat = malloc((size_t)R * sizeof *lat);
    const char *label[1] = {"yes"};
    for (int i = 0; i < R; i++) {
        double s, a = rz_now();
        if (rz_client_score(cl, "Is it good?", label, 1, &s, NULL, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        lat[i] = rz_now() - a;
    }
    qsort(lat, (size_t)R, sizeof *lat, cmp_d);
    printf("round trip, one-token score over ipc:// (%d requests): median %.3f ms, p99 %.3f ms\n", R,
           lat[R / 2] * 1e3, lat[(int)(R * 0.99)] * 1e3);
    stop = 1;
    rz_client_close(cl);
    pthread_join(th, NULL);
    unlink(ep + 6);
    for (int i = 0; i < N; i++) free(cont[i]);
    free(cont), free(nc), free(sum), free(sum0), free(lat);
    rz_infer_free(f);
    rz_tokenizer_free(t);
    rz_llama_free(m);
    return 0;
}
