/* rz-icl noise — flip a fraction of demonstration labels, seeded. In each icl_demos
 * record exactly round(rate * n) demonstrations (chosen with rz_icl_sample) get a label
 * drawn uniformly from the task's OTHER labels; the record gains a "labels" array. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "icl_cli.h"
#include "select.h"

int icl_noise(icl_args *a)
{
    rz_err e = {0};
    rz_icl_task t;
    rz_icl_pool pool;
    icl_task(a, &t);
    icl_pool(a, a->pool, "--pool", &t, &pool);
    if (!a->demos) rz_cli_usage_error(&a->c, "--demos LOC is required");
    rz_reader *r;
    if (rz_reader_open(a->demos, &a->c.stream, &r, &e)) icl_die(a, &e);
    rz_writer *w = icl_writer(a);
    long records = 0, flipped = 0, total = 0;
    rz_rec_ctx ctx;
    rz_icl_demos d;
    while (icl_next_demos(a, r, &d, &ctx)) {
        int *lab = malloc(((size_t)d.n + 1) * sizeof *lab);
        long *which = malloc(((size_t)d.n + 1) * sizeof *which);
        if (!lab || !which) {
            rz_fail(&e, RZ_EINTERNAL, "out of memory");
            icl_die(a, &e);
        }
        for (int j = 0; j < d.n; j++) {
            if (d.demos[j] >= pool.n) {
                rz_rec_fail(&e, &ctx, "demos", "id %ld is not in %s (%ld examples)", d.demos[j], pool.path, pool.n);
                icl_die(a, &e);
            }
            lab[j] = d.labels ? d.labels[j] : pool.label[d.demos[j]];
        }
        int nf = (int)floor(a->rate * d.n + 0.5);
        uint64_t s = a->c.seed * 0x9E3779B97F4A7C15ULL + (uint64_t)d.test;
        rz_icl_sample(d.n, nf, s, which);
        for (int f = 0; f < nf; f++) {
            int j = (int)which[f], other = (int)rz_icl_rand_below(&s, t.n_labels - 1);
            lab[j] = other >= lab[j] ? other + 1 : other;
        }
        free(d.labels);
        d.labels = lab;
        rz_icl_demos_pack(rz_writer_packer(w), &d);
        icl_emit(a, w);
        records++;
        flipped += nf;
        total += d.n;
        free(which);
        rz_icl_demos_free(&d);
    }
    rz_reader_close(r);
    icl_close(a, w);
    msgpack_packer *pk = rz_report_begin(&a->c, 4);
    rz_rec_int(pk, "records", records);
    rz_rec_int(pk, "demos", total);
    rz_rec_int(pk, "flipped", flipped);
    rz_rec_f64(pk, "rate", a->rate);
    if (rz_report_finish(&a->c, &e)) icl_die(a, &e);
    rz_icl_pool_free(&pool);
    rz_icl_task_free(&t);
    return 0;
}
