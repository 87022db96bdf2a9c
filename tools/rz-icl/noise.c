/* rz-icl noise — flip a fraction of demonstration labels, seeded (label_noise.h): in each
 * icl_demos record exactly round(rate * n) demonstrations get another of the task's labels,
 * from the seed mixed with the record's test item; the record gains a "labels" array. */
#include <stdlib.h>
#include <string.h>

#include "icl_cli.h"
#include "label_noise.h"

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
        int *lab = rz_malloc(((size_t)d.n + 1) * sizeof *lab, &e);
        if (!lab) icl_die(a, &e);
        for (int j = 0; j < d.n; j++) {
            if (d.demos[j] >= pool.n) {
                rz_rec_fail(&e, &ctx, "demos", "id %ld is not in %s (%ld examples)", d.demos[j], pool.path, pool.n);
                icl_die(a, &e);
            }
            lab[j] = d.labels ? d.labels[j] : pool.label[d.demos[j]];
        }
        int nf = rz_icl_flip_labels(lab, d.n, t.n_labels, a->rate, a->c.seed * 0x9E3779B97F4A7C15ULL + (uint64_t)d.test, &e);
        if (nf < 0) icl_die(a, &e);
        free(d.labels);
        d.labels = lab;
        rz_icl_demos_pack(rz_writer_packer(w), &d);
        icl_emit(a, w);
        records++;
        flipped += nf;
        total += d.n;
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
