/* rz-icl select — demonstrations per test item (tools/core/icl/select.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bm25.h"
#include "icl_cli.h"
#include "select.h"
#include "shared_set.h"

#define EMBED_BATCH 256

/* embeddings out[n][dim] of texts, EMBED_BATCH per request */
static void embed_all(icl_args *a, rz_client *cl, char *const *texts, const long *ids, long n, int dim, float *out)
{
    rz_err e = {0};
    const char *batch[EMBED_BATCH];
    for (long i = 0; i < n; i += EMBED_BATCH) {
        int b = n - i < EMBED_BATCH ? (int)(n - i) : EMBED_BATCH;
        for (int j = 0; j < b; j++) batch[j] = texts[ids ? ids[i + j] : i + j];
        if (rz_client_embed(cl, batch, b, a->layer, out + (size_t)i * dim, dim, &e)) icl_die(a, &e);
        rz_cli_progress(&a->c, 0, "embedded %ld/%ld", i + b, n);
    }
}

/* loss[m] = -log p(verbalised label | query) of each pool item, zero-shot */
static void pool_losses(icl_args *a, rz_client *cl, const rz_icl_task *t, const rz_icl_pool *p, const long *ids,
                        long m, double *loss)
{
    rz_err e = {0};
    for (long i = 0; i < m; i++) {
        char *q = rz_icl_render(t, p->text[ids[i]], -1);
        const char *cont[1] = {t->verbal[p->label[ids[i]]]};
        double s;
        if (!q) {
            rz_fail(&e, RZ_EINTERNAL, "out of memory");
            icl_die(a, &e);
        }
        if (rz_client_score(cl, q, cont, 1, &s, NULL, &e)) icl_die(a, &e);
        loss[i] = -s;
        free(q);
        rz_cli_progress(&a->c, 0, "pool losses %ld/%ld", i + 1, m);
    }
}

int icl_select(icl_args *a)
{
    rz_err e = {0};
    rz_icl_task t;
    rz_icl_pool pool, test;
    icl_task(a, &t);
    icl_pool(a, a->pool, "--pool", &t, &pool);
    icl_pool(a, a->test, "--test", &t, &test);
    if (!a->method) rz_cli_usage_error(&a->c, "--method random|relevance|bm25|diversity|curriculum|hard is required");
    const char *meth = a->method;
    int embed = !strcmp(meth, "relevance") || !strcmp(meth, "diversity");
    int loss = !strcmp(meth, "curriculum") || !strcmp(meth, "hard");
    if (!embed && !loss && strcmp(meth, "random") && strcmp(meth, "bm25"))
        rz_cli_usage_error(&a->c, "--method %s: expected random, relevance, bm25, diversity, curriculum or hard", meth);
    long nt = a->test_max && a->test_max < test.n ? a->test_max : test.n;
    long *ids = malloc((size_t)pool.n * sizeof *ids), m = ids ? rz_icl_pool_subset(pool.n, a->pool_max, a->c.seed, ids) : 0;
    int k = a->k;
    if (k > m) {
        rz_fail(&e, RZ_EINPUT, "-k %d is more than the %ld pool examples in use", k, m);
        icl_die(a, &e);
    }
    long *out = malloc((size_t)k * sizeof *out), *shared = NULL;
    double *score = malloc((size_t)m * sizeof *score);
    float *pe = NULL, *te = NULL;
    int dim = 0;
    rz_client *cl = embed || loss ? icl_server(a, NULL, &dim) : NULL;
    rz_bm25 *bm = NULL;
    if (!ids || !out || !score) {
        rz_fail(&e, RZ_EINTERNAL, "out of memory");
        icl_die(a, &e);
    }
    if (embed) {
        pe = malloc((size_t)m * (size_t)dim * sizeof *pe);
        te = malloc((size_t)nt * (size_t)dim * sizeof *te);
        if (!pe || !te) {
            rz_fail(&e, RZ_EINTERNAL, "out of memory");
            icl_die(a, &e);
        }
        embed_all(a, cl, pool.text, ids, m, dim, pe);
        if (!strcmp(meth, "relevance")) embed_all(a, cl, test.text, NULL, nt, dim, te);
    }
    if (!strcmp(meth, "bm25")) {
        char **docs = malloc((size_t)m * sizeof *docs);
        for (long i = 0; docs && i < m; i++) docs[i] = pool.text[ids[i]];
        if (!docs || rz_bm25_new((const char *const *)docs, m, &bm, &e)) icl_die(a, &e);
        free(docs);
    }
    int iters = 0;
    if (!strcmp(meth, "diversity") || loss || (!strcmp(meth, "random") && !a->per_item)) {
        /* one set for every test item */
        rz_icl_set_method sm = !strcmp(meth, "diversity") ? RZ_ICL_SET_DIVERSITY
                               : !strcmp(meth, "hard")    ? RZ_ICL_SET_HARD
                               : loss                     ? RZ_ICL_SET_CURRICULUM
                                                          : RZ_ICL_SET_RANDOM;
        shared = malloc((size_t)k * sizeof *shared);
        if (!shared) icl_die(a, (rz_fail(&e, RZ_EINTERNAL, "out of memory"), &e));
        if (loss) pool_losses(a, cl, &t, &pool, ids, m, score);
        if ((k = rz_icl_shared_set(sm, m, k, a->c.seed, ids, score, pe, dim, shared, &iters, &e)) < 0) icl_die(a, &e);
    }
    rz_writer *w = icl_writer(a);
    for (long i = 0; i < nt; i++) {
        if (shared) {
            memcpy(out, shared, (size_t)k * sizeof *out);
        } else if (!strcmp(meth, "random")) { /* --per-item */
            rz_icl_sample(m, k, a->c.seed + 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1), out);
            for (int j = 0; j < k; j++) out[j] = ids[out[j]];
        } else {
            if (bm) rz_bm25_score(bm, test.text[i], score);
            else
                for (long j = 0; j < m; j++)
                    score[j] = rz_icl_cosine(te + (size_t)i * dim, pe + (size_t)j * dim, dim);
            rz_icl_topk(score, m, k, -1, out);
            for (int j = 0; j < k; j++) out[j] = ids[out[j]];
        }
        rz_icl_demos d = {i, k, out, NULL, ""};
        snprintf(d.method, sizeof d.method, "%s", meth);
        rz_icl_demos_pack(rz_writer_packer(w), &d);
        icl_emit(a, w);
        rz_cli_progress(&a->c, 0, "selected for %ld/%ld test items", i + 1, nt);
    }
    icl_close(a, w);
    msgpack_packer *pk = rz_report_begin(&a->c, 6);
    rz_rec_str(pk, "method", meth);
    rz_rec_int(pk, "k", k);
    rz_rec_int(pk, "test_items", nt);
    rz_rec_int(pk, "pool_used", m);
    rz_rec_int(pk, "kmeans_iterations", iters);
    rz_rec_bool(pk, "shared_set", shared != NULL);
    if (rz_report_finish(&a->c, &e)) icl_die(a, &e);
    rz_bm25_free(bm);
    rz_client_close(cl);
    free(pe), free(te), free(out), free(shared), free(score), free(ids);
    rz_icl_pool_free(&pool);
    rz_icl_pool_free(&test);
    rz_icl_task_free(&t);
    return 0;
}
