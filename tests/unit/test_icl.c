/* test_icl.c — the mechanics of rz-icl against independent computations:
 * - relevance selection returns exactly the k most similar pool vectors by a cosine
 *   computed here (float64, written out), in ascending order, the most similar last;
 * - k-means returns an assignment that is a fixed point: every point is nearest (by a
 *   distance computed here) to its own centroid, and every centroid is its points' mean;
 * - packing never exceeds the budget, keeps whole demonstrations only (the prompt is
 *   exactly the last s rendered demonstrations + the query), and s is maximal;
 *   a budget below one example is an error naming the item;
 * - contextual calibration on hand-built probabilities (closed form);
 * - the augmentation filter keeps exactly the candidates at or above both thresholds;
 * - macro-F1 on a hand-counted confusion table; BM25 against its formula on 3 documents;
 * - the random sample is k distinct indices, seeded; the shared sets: hard = the k
 *   highest losses by a count made here, curriculum = the random set ordered by loss,
 *   diversity = the item nearest the mean (k = 1) or every item (k = m), all mapped
 *   through the pool ids; the --pool-max subset is sorted and distinct;
 * - augment's prompts are the strings written out here from the built-in template, and
 *   a pool line written for a synthetic example is read back by the pool parser as the
 *   same (label, text) in every format;
 * - the icl_demos and icl_prompt decoders read a good record's values and refuse a
 *   record with one bad field naming that field.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "augment.h"
#include "bm25.h"
#include "field_cases.h"
#include "icl.h"
#include "kmeans.h"
#include "label_noise.h"
#include "metrics.h"
#include "pack.h"
#include "select.h"
#include "shared_set.h"
#include "task.h"

static uint64_t rng = 12345;
static double urand(void) { return (double)(rz_icl_rand(&rng) >> 11) * 0x1p-53; }

static void test_topk_cosine(void)
{
    enum { N = 200, D = 7, K = 9 };
    float x[N * D], q[D];
    for (int i = 0; i < N * D; i++) x[i] = (float)(urand() * 2 - 1);
    for (int i = 0; i < D; i++) q[i] = (float)(urand() * 2 - 1);
    memset(x + 17 * D, 0, D * sizeof(float)); /* a zero vector: cosine 0 */
    double score[N], ref[N];
    for (int i = 0; i < N; i++) {
        score[i] = rz_icl_cosine(q, x + i * D, D);
        double ab = 0, aa = 0, bb = 0;
        for (int j = 0; j < D; j++) ab += (double)q[j] * x[i * D + j], aa += (double)q[j] * q[j], bb += (double)x[i * D + j] * x[i * D + j];
        ref[i] = bb > 0 ? ab / (sqrt(aa) * sqrt(bb)) : 0;
        CHECK_NEAR(score[i], ref[i], 1e-12); /* float64 sums of 7 terms: rounding ~1e-16 */
    }
    long out[K];
    rz_icl_topk(ref, N, K, -1, out);
    /* independent: count, for each chosen index, how many items beat it */
    for (int j = 0; j < K; j++) {
        int better = 0;
        for (int i = 0; i < N; i++) better += ref[i] > ref[out[j]];
        CHECK_EQ_INT(better, K - 1 - j); /* ascending: out[K-1] is the best */
    }
    /* skip excludes an index */
    long out2[K];
    rz_icl_topk(ref, N, K, out[K - 1], out2);
    for (int j = 0; j < K; j++) CHECK(out2[j] != out[K - 1]);
    CHECK_EQ_INT(out2[K - 1], out[K - 2]);
}

static void test_kmeans_fixed_point(void)
{
    enum { N = 300, D = 5, K = 6 };
    float x[N * D];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) x[i * D + j] = (float)((i % K) * 3.0 + urand()); /* K blobs */
    double cent[K * D];
    int assign[N];
    rz_err e = {0};
    int it = rz_kmeans(x, N, D, K, 7, 100, cent, assign, &e);
    CHECK(it >= 0 && it < 100);
    long count[K] = {0};
    double mean[K * D];
    memset(mean, 0, sizeof mean);
    for (int i = 0; i < N; i++) {
        int best = 0;
        double bd = INFINITY;
        for (int c = 0; c < K; c++) {
            double d = 0;
            for (int j = 0; j < D; j++) d += ((double)x[i * D + j] - cent[c * D + j]) * ((double)x[i * D + j] - cent[c * D + j]);
            if (d < bd) bd = d, best = c;
        }
        CHECK_EQ_INT(assign[i], best);
        count[assign[i]]++;
        for (int j = 0; j < D; j++) mean[assign[i] * D + j] += x[i * D + j];
    }
    for (int c = 0; c < K; c++)
        for (int j = 0; j < D && count[c]; j++) CHECK_NEAR(cent[c * D + j], mean[c * D + j] / count[c], 1e-9);
    long med[K];
    rz_kmeans_medoids(x, N, D, K, cent, assign, med);
    for (int c = 0; c < K; c++) {
        if (!count[c]) continue;
        CHECK(med[c] >= 0 && assign[med[c]] == c);
        for (int i = 0; i < N; i++)
            if (assign[i] == c) CHECK(rz_kmeans_dist2(x + i * D, cent + c * D, D) >= rz_kmeans_dist2(x + med[c] * D, cent + c * D, D));
    }
}

/* k-means++'s draws against their closed form. Points 0, 1, 3 on a line, k = 2: the
 * first seed is uniform (1/3 each); given it, the second is drawn with probability
 * d² / Σd²: after 0 → {1: 1/10, 3: 9/10}; after 1 → {0: 1/5, 3: 4/5}; after 3 →
 * {0: 9/13, 1: 4/13}. 30000 seeds; every ordered pair's count within 4.5 binomial σ of
 * its probability (a false alarm per cell ~7e-6). */
static void test_kmeans_pp_draws(void)
{
    const float x[3] = {0, 1, 3};
    const double p[3][3] = {{0, 1.0 / 30, 9.0 / 30}, {1.0 / 15, 0, 4.0 / 15}, {9.0 / 39, 4.0 / 39, 0}};
    long cnt[3][3] = {{0}};
    int n = 30000;
    for (int s = 0; s < n; s++) {
        long out[2];
        CHECK_EQ_INT(rz_kmeans_seed(x, 3, 1, 2, (uint64_t)s, out), 0);
        cnt[out[0]][out[1]]++;
    }
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            double mu = n * p[a][b], sd = sqrt(n * p[a][b] * (1 - p[a][b]));
            if (fabs(cnt[a][b] - mu) > 4.5 * sd + (p[a][b] == 0 ? 0 : 1)) {
                printf("#   pair (%d, %d): %ld draws, expected %.0f ± %.0f\n", a, b, cnt[a][b], mu, sd);
                CHECK(0);
            }
        }
    /* all points equal: the seeds are still k distinct indices */
    const float same[4] = {2, 2, 2, 2};
    long o4[4];
    CHECK_EQ_INT(rz_kmeans_seed(same, 4, 1, 4, 3, o4), 0);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < i; j++) CHECK(o4[i] != o4[j]);
}

/* Separated blobs are found whatever the seed: 6 blobs of 50 points (centres 10 apart
 * on a line, spread < 1), k = 6, 20 seeds; every run puts each blob in one cluster of
 * its own. k-means++ seeds fail this only if two seeds land in one blob, probability
 * ~ 6·5/2 · (spread/gap)² per draw — negligible; seeds drawn uniformly (the earlier
 * Forgy start) merge two blobs in most runs. */
static void test_kmeans_blobs(void)
{
    enum { N = 300, D = 2, K = 6 };
    float x[N * D];
    for (int i = 0; i < N; i++) x[i * D] = (float)((i % K) * 10.0 + urand()), x[i * D + 1] = (float)urand();
    for (int s = 0; s < 20; s++) {
        double cent[K * D];
        int assign[N];
        rz_err e = {0};
        CHECK(rz_kmeans(x, N, D, K, (uint64_t)s, 100, cent, assign, &e) >= 0);
        int of_blob[K];
        for (int b = 0; b < K; b++) of_blob[b] = assign[b];
        int ok = 1;
        for (int i = 0; i < N; i++) ok &= assign[i] == of_blob[i % K];
        for (int b = 0; b < K; b++)
            for (int c = 0; c < b; c++) ok &= of_blob[b] != of_blob[c];
        if (!ok) printf("#   seed %d: a cluster mixes blobs\n", s);
        CHECK(ok);
    }
}

/* token count stand-in: one token per space-separated word + 1 for BOS (independent
 * of the packer, which only sees the count) */
static int words(void *ctx, const char *s, long *n, rz_err *e)
{
    (void)ctx, (void)e;
    long w = 0;
    int in = 0;
    for (; *s; s++) {
        int sp = *s == ' ' || *s == '\n';
        if (!sp && !in) w++;
        in = !sp;
    }
    *n = w + 1;
    return 0;
}

static void test_pack_budget(void)
{
    rz_err e = {0};
    rz_icl_task t;
    CHECK(rz_icl_task_builtin("sst2", &t, &e) == 0);
    char *texts[6] = {"a b c", "d e f g h i", "j", "k l m n", "o p", "q r s t u v w x"};
    int labels[6] = {0, 1, 0, 1, 1, 0};
    rz_icl_pool pool = {6, texts, labels, "pool"};
    long demos[6] = {0, 1, 2, 3, 4, 5};
    for (long budget = 1; budget < 80; budget++) {
        rz_icl_prompt p;
        int rc = rz_icl_pack(&t, &pool, demos, NULL, 6, "my query words", budget, 1, words, NULL, "item 0", &p, &e);
        /* independent: tokens of the last s demos + query, by the word count */
        long need[7];
        for (int s = 0; s <= 6; s++) {
            long w = 4; /* "Review: my query words" */ /* + "Sentiment:" */
            w += 1;
            for (int j = 6 - s; j < 6; j++) w += 1 + (long)(strlen(texts[j]) + 1) / 2 + 2; /* Review: + words + Sentiment: label */
            need[s] = w + 1 + 1; /* BOS + label */
        }
        int want = -1;
        for (int s = 6; s >= 0 && want < 0; s--)
            if (need[s] <= budget) want = s;
        if (want <= 0) {
            CHECK(rc == RZ_EINPUT);
            CHECK(strstr(e.msg, "item 0") && strstr(e.msg, "budget"));
            continue;
        }
        CHECK(rc == 0);
        if (rc) continue;
        CHECK_EQ_INT(p.shots, want);
        CHECK(p.tokens + 1 <= budget);
        /* whole demonstrations: the text is exactly the last s rendered + the query */
        size_t off = 0;
        for (int j = 6 - p.shots; j < 6; j++) {
            char *r = rz_icl_render(&t, texts[j], labels[j]);
            CHECK(strncmp(p.text + off, r, strlen(r)) == 0);
            off += strlen(r);
            free(r);
        }
        CHECK(strcmp(p.text + off, "Review: my query words\nSentiment:") == 0);
        CHECK(strstr(p.cf_text, "Review: N/A\nSentiment:") != NULL);
        rz_icl_prompt_free(&p);
    }
    /* label overrides (noise) are used */
    int flip[2] = {1, 0};
    rz_icl_prompt p;
    CHECK(rz_icl_pack(&t, &pool, demos, flip, 2, "q", 1000, 1, words, NULL, "x", &p, &e) == 0);
    CHECK(strstr(p.text, "Review: a b c\nSentiment: positive") && strstr(p.text, "i\nSentiment: negative"));
    rz_icl_prompt_free(&p);
    /* templates without the input slot are refused */
    CHECK(rz_icl_task_set_template(&t, "Text only {label}", &e) == RZ_EINPUT && strstr(e.msg, "{input}"));
    rz_icl_task_free(&t);
}

static void test_calibration(void)
{
    /* p = (0.7, 0.2, 0.1), p_cf = (0.5, 0.4, 0.1): q ∝ (1.4, 0.5, 1.0) / 2.9 */
    double lp[3] = {log(0.7) - 3, log(0.2) - 3, log(0.1) - 3}; /* unnormalised: shift cancels */
    double lcf[3] = {log(0.5), log(0.4), log(0.1)}, q[3];
    int best = rz_icl_calibrate(lp, lcf, 3, q);
    CHECK_NEAR(q[0], 1.4 / 2.9, 1e-12);
    CHECK_NEAR(q[1], 0.5 / 2.9, 1e-12);
    CHECK_NEAR(q[2], 1.0 / 2.9, 1e-12);
    CHECK_EQ_INT(best, 0);
    /* p_cf = (0.8, 0.1, 0.1) flips it: q ∝ (0.875, 2, 1) */
    double lcf2[3] = {log(0.8), log(0.1), log(0.1)};
    CHECK_EQ_INT(rz_icl_calibrate(lp, lcf2, 3, q), 1);
    CHECK_NEAR(q[1], 2 / 3.875, 1e-12);
    /* uncalibrated: plain softmax */
    CHECK_EQ_INT(rz_icl_calibrate(lp, NULL, 3, q), 0);
    CHECK_NEAR(q[2], 0.1, 1e-12);
}

static void test_filter(void)
{
    rz_icl_cand c[200];
    int n = 0;
    for (int i = 0; i < 200; i++) {
        c[i] = (rz_icl_cand){i % 13 != 0, i % 17 == 0, urand(), 1 + 4 * urand()};
        if (i == 5) c[i].judge = 3.0, c[i].label_p = 0.5; /* exactly at both thresholds */
    }
    for (int i = 0; i < 200; i++) {
        int want = c[i].valid && !c[i].duplicate && c[i].judge >= 3.0 && c[i].label_p >= 0.5;
        CHECK_EQ_INT(rz_icl_keep(&c[i], 3.0, 0.5), want);
        n += want;
    }
    CHECK(n > 10 && n < 150);
    CHECK(rz_icl_keep(&c[5], 3.0, 0.5));
    /* judge: logp of "1".."5" with probabilities (0.1, 0.1, 0.2, 0.2, 0.4): E = 3.7 */
    double lj[5] = {log(0.1), log(0.1), log(0.2), log(0.2), log(0.4)};
    CHECK_NEAR(rz_icl_judge_score(lj), 3.7, 1e-12);
    double lp[2] = {log(0.25), log(0.75)};
    CHECK_NEAR(rz_icl_label_p(lp, 2, 1), 0.75, 1e-12);
    char s[] = "  Hello\t  World \n";
    rz_icl_norm_text(s);
    CHECK(strcmp(s, "hello world") == 0);
}

static void test_metrics(void)
{
    /* gold/pred over 3 labels; per-class TP/FP/FN counted by hand:
     * c0: TP 2 (items 0, 1) FP 1 (item 4) FN 1 (item 2) -> 2TP/(2TP+FP+FN) = 4/6;
     * c1: TP 1 (3) FP 2 (2, 5) FN 2 (4, 6) -> 2/6; c2: TP 0 FP 1 (6) FN 1 (5) -> 0 */
    int gold[7] = {0, 0, 0, 1, 1, 2, 1}, pred[7] = {0, 0, 1, 1, 0, 1, 2};
    CHECK_NEAR(rz_icl_accuracy(gold, pred, 7), 3.0 / 7, 1e-15);
    CHECK_NEAR(rz_icl_macro_f1(gold, pred, 7, 3), (4.0 / 6 + 2.0 / 6 + 0) / 3, 1e-15);
    /* a label absent from gold and pred is left out (4 labels declared) */
    CHECK_NEAR(rz_icl_macro_f1(gold, pred, 7, 4), (4.0 / 6 + 2.0 / 6 + 0) / 3, 1e-15);
    double ci[4];
    rz_icl_bootstrap(gold, pred, 7, 3, 2000, 1, ci);
    CHECK(ci[0] <= 3.0 / 7 && ci[1] >= 3.0 / 7 && ci[0] >= 0 && ci[1] <= 1);
    int all[50], same[50];
    for (int i = 0; i < 50; i++) all[i] = same[i] = i % 2;
    rz_icl_bootstrap(all, same, 50, 2, 200, 3, ci);
    CHECK(ci[0] == 1 && ci[1] == 1);
}

static void test_bm25(void)
{
    const char *docs[3] = {"the cat sat", "the dog the dog ran", "a cat and a dog"};
    rz_bm25 *b;
    rz_err e = {0};
    CHECK(rz_bm25_new(docs, 3, &b, &e) == 0);
    double s[3];
    rz_bm25_score(b, "Cat, dog!", s);
    /* by the formula: N = 3, avgdl = (3 + 5 + 5) / 3; idf = log(1 + (3 - n + .5)/(n + .5)) */
    double avg = 13.0 / 3, k1 = 1.5, bb = 0.75;
    double idf_cat = log(1 + (3 - 2 + 0.5) / (2 + 0.5)), idf_dog = idf_cat;
#define TERM(f, len) ((f) * (k1 + 1) / ((f) + k1 * (1 - bb + bb * (len) / avg)))
    CHECK_NEAR(s[0], idf_cat * TERM(1, 3), 1e-12);
    CHECK_NEAR(s[1], idf_dog * TERM(2, 5), 1e-12);
    CHECK_NEAR(s[2], idf_cat * TERM(1, 5) + idf_dog * TERM(1, 5), 1e-12);
    rz_bm25_free(b);
}

static void test_sample(void)
{
    long a[50], b[50];
    rz_icl_sample(60, 50, 9, a);
    rz_icl_sample(60, 50, 9, b);
    int seen[60] = {0};
    for (int i = 0; i < 50; i++) {
        CHECK(a[i] >= 0 && a[i] < 60);
        CHECK(!seen[a[i]]);
        seen[a[i]] = 1;
        CHECK_EQ_INT(a[i], b[i]);
    }
    rz_icl_sample(60, 50, 10, b);
    int diff = 0;
    for (int i = 0; i < 50; i++) diff += a[i] != b[i];
    CHECK(diff > 0);
}

/* Label noise: exactly round(rate · n) labels change, each to another label in range
 * (checked against the original labels, not the function's own choice); rate 0 leaves
 * them; the same seed gives the same labels; one label is an error when a flip is due. */
static void test_flip_labels(void)
{
    enum { N = 37, L = 6 };
    int orig[N], lab[N], again[N];
    for (int i = 0; i < N; i++) orig[i] = (i * 7) % L;
    const double rates[] = {0.0, 0.1, 0.25, 0.5, 1.0};
    rz_err e = {0};
    for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
        memcpy(lab, orig, sizeof lab);
        memcpy(again, orig, sizeof again);
        int nf = rz_icl_flip_labels(lab, N, L, rates[r], 99 + r, &e);
        CHECK_EQ_INT(nf, (int)floor(rates[r] * N + 0.5)); /* 0, 4, 9, 19, 37 */
        int changed = 0, in_range = 1;
        for (int i = 0; i < N; i++) {
            changed += lab[i] != orig[i];
            in_range &= lab[i] >= 0 && lab[i] < L;
        }
        CHECK_EQ_INT(changed, nf); /* a flip never lands on the label it replaces */
        CHECK(in_range);
        CHECK_EQ_INT(rz_icl_flip_labels(again, N, L, rates[r], 99 + r, &e), nf);
        CHECK(memcmp(lab, again, sizeof lab) == 0);
    }
    /* two labels: every flip is the other one */
    int two[N];
    for (int i = 0; i < N; i++) two[i] = i % 2;
    CHECK_EQ_INT(rz_icl_flip_labels(two, N, 2, 1.0, 5, &e), N);
    for (int i = 0; i < N; i++) CHECK_EQ_INT(two[i], 1 - i % 2);
    int one[3] = {0, 0, 0};
    CHECK(rz_icl_flip_labels(one, 3, 1, 0.5, 5, &e) < 0 && strstr(e.msg, "two labels"));
    CHECK_EQ_INT(rz_icl_flip_labels(one, 3, 1, 0.0, 5, &e), 0); /* nothing to flip: no error */
}

static void test_shared_sets(void)
{
    enum { M = 60, K = 7 };
    rz_err e = {0};
    long ids[M], out[K], rnd[K];
    double loss[M];
    int iters;
    for (int j = 0; j < M; j++) ids[j] = 100 + 3 * j, loss[j] = urand(); /* ids: not the identity */
    CHECK_EQ_INT(rz_icl_shared_set(RZ_ICL_SET_HARD, M, K, 5, ids, loss, NULL, 0, out, &iters, &e), K);
    for (int p = 0; p < K; p++) { /* easiest of the k first: p items of the set below it */
        long j = (out[p] - 100) / 3;
        int higher = 0;
        for (int i = 0; i < M; i++) higher += loss[i] > loss[j];
        CHECK_EQ_INT(higher, K - 1 - p);
    }
    CHECK_EQ_INT(rz_icl_shared_set(RZ_ICL_SET_RANDOM, M, K, 5, ids, NULL, NULL, 0, rnd, &iters, &e), K);
    CHECK_EQ_INT(rz_icl_shared_set(RZ_ICL_SET_CURRICULUM, M, K, 5, ids, loss, NULL, 0, out, &iters, &e), K);
    for (int p = 0; p < K; p++) {
        int in = 0; /* the same items as random with the seed ... */
        for (int q = 0; q < K; q++) in += out[p] == rnd[q];
        CHECK_EQ_INT(in, 1);
        CHECK((out[p] - 100) % 3 == 0 && out[p] >= 100 && out[p] < 100 + 3 * M);
        if (p) CHECK(loss[(out[p - 1] - 100) / 3] <= loss[(out[p] - 100) / 3]); /* ... easy -> hard */
    }
    /* diversity, in the two cases whatever k-means' seeded start: k = 1 gives the item
     * nearest the mean of all (computed here); k = m gives every item, ids ascending */
    enum { P = 24 };
    float emb[P * 2];
    long bids[P], dout[P];
    double mx = 0, my = 0, best = INFINITY;
    for (int i = 0; i < P; i++) {
        bids[i] = 1000 - i; /* descending: the output must still come out ascending */
        emb[2 * i] = (float)(10 * urand()), emb[2 * i + 1] = (float)urand();
        mx += emb[2 * i] / (double)P, my += emb[2 * i + 1] / (double)P;
    }
    int arg = -1;
    for (int i = 0; i < P; i++) {
        double d = (emb[2 * i] - mx) * (emb[2 * i] - mx) + (emb[2 * i + 1] - my) * (emb[2 * i + 1] - my);
        if (d < best) best = d, arg = i;
    }
    CHECK_EQ_INT(rz_icl_shared_set(RZ_ICL_SET_DIVERSITY, P, 1, 9, bids, NULL, emb, 2, dout, &iters, &e), 1);
    CHECK_EQ_INT((int)dout[0], (int)bids[arg]);
    CHECK_EQ_INT(rz_icl_shared_set(RZ_ICL_SET_DIVERSITY, P, P, 9, bids, NULL, emb, 2, dout, &iters, &e), P);
    for (int p = 0; p < P; p++) CHECK_EQ_INT((int)dout[p], 1000 - (P - 1) + p);
    /* --pool-max: all when max >= n; else max distinct ids, ascending */
    long sub[M];
    CHECK_EQ_INT((int)rz_icl_pool_subset(M, M + 5, 3, sub), M);
    for (int j = 0; j < M; j++) CHECK_EQ_INT((int)sub[j], j);
    CHECK_EQ_INT((int)rz_icl_pool_subset(M, 20, 3, sub), 20);
    for (int j = 1; j < 20; j++) CHECK(sub[j - 1] < sub[j] && sub[j] < M && sub[0] >= 0);
}

static void test_augment_prompts(void)
{
    rz_err e = {0};
    rz_icl_task t;
    CHECK(rz_icl_task_builtin("sst2", &t, &e) == 0);
    char *texts[] = {"a dull film", "great fun", "so boring"};
    long of_label[] = {2, 0}; /* the label's examples: texts 2 and 0 */
    /* k = 1 of 1: one demonstration, then the template's lead-in without its space */
    char *p = rz_icl_gen_prompt(&t, texts, of_label, 1, 1, 0, 7);
    CHECK(p && !strcmp(p, "Review: so boring\nSentiment: negative\n\nReview:"));
    free(p);
    /* k = 2 of 2: both demonstrations, in the sample's order (either) */
    p = rz_icl_gen_prompt(&t, texts, of_label, 2, 2, 0, 7);
    const char *d2 = "Review: so boring\nSentiment: negative\n\n", *d0 = "Review: a dull film\nSentiment: negative\n\n";
    char ab[256], ba[256];
    snprintf(ab, sizeof ab, "%s%sReview:", d2, d0);
    snprintf(ba, sizeof ba, "%s%sReview:", d0, d2);
    CHECK(p && (!strcmp(p, ab) || !strcmp(p, ba)));
    free(p);
    p = rz_icl_judge_prompt(&t, "great fun", 1);
    CHECK(p && !strcmp(p, "Rate how good this example is, from 1 (bad) to 5 (good).\n\n"
                          "Review: great fun\nSentiment: positive\n\nRating:"));
    free(p);

    /* write -> the pool parser: same label and text in each format (jsonl with the
     * characters it must escape) */
    const char *fmts[] = {"sst2", "tsv", "jsonl"};
    const char *text[] = {"a \"quoted\" \\ back-slashed line", "plain words here"};
    for (int f = 0; f < 3; f++) {
        const char *path = check_tmp("pool.txt");
        FILE *fp = fopen(path, "w");
        CHECK(fp != NULL);
        if (!fp) continue;
        int nt = f == 2 ? 2 : 1; /* the quoted text only in jsonl: the others do not escape */
        for (int i = 0; i < nt; i++) rz_icl_pool_write(fp, fmts[f], i ? "1" : "0", text[f == 2 ? i : 1]);
        fclose(fp);
        rz_icl_pool pool;
        CHECK(rz_icl_pool_load(path, fmts[f], &t, &pool, &e) == 0);
        CHECK(pool.n == nt);
        for (int i = 0; i < nt && i < pool.n; i++)
            CHECK(pool.label[i] == i && !strcmp(pool.text[i], text[f == 2 ? i : 1]));
        rz_icl_pool_free(&pool);
        remove(path);
    }
    rz_icl_task_free(&t);
    /* trec: the label is written as COARSE:syn and read back as COARSE */
    CHECK(rz_icl_task_builtin("trec", &t, &e) == 0);
    const char *path = check_tmp("trec.txt");
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (fp) {
        rz_icl_pool_write(fp, t.format, "LOC", "where is it ?");
        fclose(fp);
        rz_icl_pool pool;
        CHECK(rz_icl_pool_load(path, NULL, &t, &pool, &e) == 0);
        CHECK(pool.n == 1 && pool.n == 1 && !strcmp(t.name[pool.label[0]], "LOC") && !strcmp(pool.text[0], "where is it ?"));
        rz_icl_pool_free(&pool);
        remove(path);
    }
    rz_icl_task_free(&t);
}

/* The icl_demos and icl_prompt decoders: a record with every field good decodes to its
 * values; with one field bad (just outside its bounds, or of the wrong kind) it is
 * refused naming that field. */
static int decode_case(const char *type, const fc_field *f, int n, int bad, fc_val v, rz_icl_demos *d,
                       rz_icl_prompt_rec *p, rz_err *e)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    fc_pack_record(&pk, type, f, n, bad, v);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS ? 0 : -1;
    rz_rec_ctx c = {"mem", 0, type};
    if (!rc) rc = d ? rz_icl_demos_decode(&u.data, &c, d, e) : rz_icl_prompt_decode(&u.data, &c, p, e);
    if (p && !rc) /* the strings point into the record: check them before it goes */
        rc = p->text_n == 3 && !memcmp(p->text, "abc", 3) && p->cf_n == 3 && !memcmp(p->cf_text, "N/A", 3) ? 0 : -2;
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void check_fields(const char *type, const fc_field *f, int n, int demos)
{
    for (int i = 0; i < n; i++)
        for (int b = 0; b < f[i].nbad; b++) {
            rz_icl_demos d = {0};
            rz_icl_prompt_rec p;
            rz_err e = {0};
            int rc = decode_case(type, f, n, i, f[i].bad[b], demos ? &d : NULL, demos ? NULL : &p, &e);
            if (demos) rz_icl_demos_free(&d);
            char want[64];
            snprintf(want, sizeof want, "field '%s'", f[i].key);
            if (rc != RZ_EINPUT || !strstr(e.msg, want)) {
                printf("#   %s: bad value %d of '%s': rc %d, %s\n", type, b, f[i].key, rc, e.msg);
                CHECK(0);
            }
        }
}

static void test_record_fields(void)
{
    const int64_t big = ((int64_t)1 << 40) + 1, ids[3] = {5, 7, 9}, labels[3] = {0, 1, 0}, neg[3] = {5, -1, 9};
    const int64_t many[3] = {0, RZ_ICL_MAX_CLASSES, 0};
    const fc_field demos[] = {
        {"test", {'i', 4, 0, 0}, {{'i', -1, 0, 0}, {'i', big, 0, 0}, {'s', 0, "4", 0}}, 3},
        {"method", {'s', 0, "random", 0}, {{'i', 3, 0, 0}, {'s', 0, "0123456789abcdef0123456789abcdef", 0}}, 2},
        {"demos", {'a', 3, 0, ids}, {{'s', 0, "5", 0}, {'a', 3, 0, neg}}, 2},
        {"labels", {'a', 3, 0, labels}, {{'a', 2, 0, labels}, {'a', 3, 0, many}}, 2},
    };
    const fc_field prompt[] = {
        {"test", {'i', 4, 0, 0}, {{'i', -1, 0, 0}, {'i', big, 0, 0}}, 2},
        {"gold", {'i', 1, 0, 0}, {{'i', -1, 0, 0}, {'i', RZ_ICL_MAX_CLASSES, 0, 0}}, 2},
        {"shots", {'i', 2, 0, 0}, {{'i', -1, 0, 0}, {'i', RZ_ICL_MAX_DEMOS + 1, 0, 0}}, 2},
        {"tokens", {'i', 100, 0, 0}, {{'i', -1, 0, 0}, {'i', big, 0, 0}}, 2},
        {"text", {'s', 0, "abc", 0}, {{'i', 1, 0, 0}}, 1},
        {"cf_text", {'s', 0, "N/A", 0}, {{'i', 1, 0, 0}}, 1},
    };
    /* the controls */
    rz_icl_demos d;
    rz_icl_prompt_rec p;
    rz_err e = {0};
    CHECK(decode_case("icl_demos", demos, 4, -1, demos[0].good, &d, NULL, &e) == 0);
    CHECK(d.test == 4 && !strcmp(d.method, "random") && d.n == 3 && d.demos[0] == 5 && d.demos[2] == 9);
    CHECK(d.labels && d.labels[1] == 1);
    rz_icl_demos_free(&d);
    CHECK(decode_case("icl_prompt", prompt, 6, -1, prompt[0].good, NULL, &p, &e) == 0);
    CHECK(p.test == 4 && p.gold == 1 && p.shots == 2 && p.tokens == 100);
    check_fields("icl_demos", demos, 4, 1);
    check_fields("icl_prompt", prompt, 6, 0);
}

int main(void)
{
    RUN(test_topk_cosine);
    RUN(test_kmeans_fixed_point);
    RUN(test_kmeans_pp_draws);
    RUN(test_kmeans_blobs);
    RUN(test_pack_budget);
    RUN(test_calibration);
    RUN(test_filter);
    RUN(test_metrics);
    RUN(test_bm25);
    RUN(test_sample);
    RUN(test_flip_labels);
    RUN(test_shared_sets);
    RUN(test_augment_prompts);
    RUN(test_record_fields);
    return check_summary();
}
