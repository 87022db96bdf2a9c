/* test_maze.c — the maze core (tools/core/maze), each property against an independent
 * computation.
 *
 * Generator: edges are counted from the open bits directly and connectivity is checked
 * with a union-find written here, so "perfect maze = spanning tree" (n²−1 passages,
 * connected) and "extra K adds exactly K openings" do not trust n_passages; BFS path
 * lengths are compared with Bellman–Ford relaxation (a different algorithm) on mazes
 * with loops. Tokens round-trip through the parser and the record codec. MLM-U masks:
 * the empirical mean rate over 20000 samples against 1/2 (E[r] for r ~ U(0,1)); the
 * prompt is never masked; the padding after <PATH_END> is always <MASK> and never
 * scored (the reference keeps padding out of attention and loss). A tiny training set
 * is fitted to 100% exact paths by both objectives (the gradients themselves are
 * checked in test_train_full.c). Eval's teacher-forced single steps are recounted one
 * row at a time, with legal moves read from the generator's open bits. The next-token
 * decoder with the KV cache decodes the paths of the full-forward one token for token
 * (on the fitted model's memorised and unseen mazes and on an untrained model), with
 * the same bits on 1 and 2 threads, and its logits match the training forward's.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "lora.h"
#include "maze.h"
#include "maze_rec.h"
#include "maze_train.h"
#include "mlmu.h"
#include "stream.h"

/* ---- graph references ------------------------------------------------------------ */

static int uf_find(int *p, int x)
{
    while (p[x] != x) x = p[x] = p[p[x]];
    return x;
}

/* Passages counted from the bits; *components among cells touching a passage or being
 * the origin; *maxdeg the largest degree. */
static int count_edges(const rz_maze *m, int *components, int *maxdeg, int *cells)
{
    int n = m->n, N = n * n, edges = 0, *p = malloc(sizeof(int) * N), *deg = calloc(N, sizeof(int));
    for (int c = 0; c < N; c++) p[c] = c;
    for (int c = 0; c < N; c++) {
        if ((m->open[c] & 1) && c % n != n - 1) edges++, deg[c]++, deg[c + 1]++, p[uf_find(p, c)] = uf_find(p, c + 1);
        if ((m->open[c] & 2) && c + n < N) edges++, deg[c]++, deg[c + n]++, p[uf_find(p, c)] = uf_find(p, c + n);
    }
    int comp = 0, md = 0, used = 0;
    for (int c = 0; c < N; c++) {
        if (deg[c] == 0 && c != m->origin) continue;
        used++;
        md = deg[c] > md ? deg[c] : md;
        comp += uf_find(p, c) == c;
    }
    *components = comp, *maxdeg = md, *cells = used;
    free(p), free(deg);
    return edges;
}

static void test_dfs_spanning_tree(void)
{
    rz_err e = {0};
    for (int n = 2; n <= 9; n++) {
        rz_maze m;
        CHECK(rz_maze_alloc(n, &m, &e) == 0);
        for (uint64_t idx = 0; idx < 40; idx++) {
            rz_maze_dfs(&m, 7, idx, 1, 0);
            int comp, md, cells, edges = count_edges(&m, &comp, &md, &cells);
            CHECK(edges == n * n - 1); /* a tree on n² vertices */
            CHECK(comp == 1 && cells == n * n);
            CHECK(m.n_passages == edges);
            CHECK(m.origin != m.target);
            CHECK(rz_maze_path_valid(&m, m.path, m.path_len));
        }
        rz_maze_free(&m);
    }
}

static void test_dfs_extra_openings(void)
{
    rz_err e = {0};
    rz_maze m;
    CHECK(rz_maze_alloc(6, &m, &e) == 0);
    for (int K = 0; K <= 12; K += 3)
        for (uint64_t idx = 0; idx < 20; idx++) {
            rz_maze_dfs(&m, 3, idx, 1, K);
            int comp, md, cells, edges = count_edges(&m, &comp, &md, &cells);
            CHECK(edges == 35 + K);
            CHECK(comp == 1);
        }
    rz_maze_free(&m);
}

static void test_corridor(void)
{
    rz_err e = {0};
    rz_maze m;
    CHECK(rz_maze_alloc(7, &m, &e) == 0);
    for (uint64_t idx = 0; idx < 50; idx++) {
        rz_maze_dfs(&m, 5, idx, 0, 0);
        int comp, md, cells, edges = count_edges(&m, &comp, &md, &cells);
        CHECK(comp == 1 && md <= 2 && edges == cells - 1); /* a simple path */
    }
    rz_maze_free(&m);
}

static void test_same_seed_same_bytes(void)
{
    rz_err e = {0};
    rz_maze a, b;
    CHECK(rz_maze_alloc(8, &a, &e) == 0 && rz_maze_alloc(8, &b, &e) == 0);
    int cap = rz_maze_max_tokens(8, 4), *ta = malloc(sizeof(int) * cap), *tb = malloc(sizeof(int) * cap);
    rz_maze_dfs(&a, 11, 123, 1, 4);
    rz_maze_dfs(&b, 11, 123, 1, 4);
    int na = rz_maze_tokens(&a, ta, cap), nb = rz_maze_tokens(&b, tb, cap);
    CHECK(na == nb && na > 0 && !memcmp(ta, tb, sizeof(int) * na));
    rz_maze_dfs(&b, 11, 124, 1, 4);
    nb = rz_maze_tokens(&b, tb, cap);
    CHECK(na != nb || memcmp(ta, tb, sizeof(int) * na)); /* another index, another maze */
    rz_maze_dfs(&b, 12, 123, 1, 4);
    nb = rz_maze_tokens(&b, tb, cap);
    CHECK(na != nb || memcmp(ta, tb, sizeof(int) * na)); /* another seed too */
    free(ta), free(tb);
    rz_maze_free(&a), rz_maze_free(&b);
}

/* BFS length = Bellman–Ford distance on mazes with loops */
static void test_bfs_shortest(void)
{
    rz_err e = {0};
    rz_maze m;
    int n = 6, N = 36, dist[36];
    CHECK(rz_maze_alloc(n, &m, &e) == 0);
    for (uint64_t idx = 0; idx < 60; idx++) {
        rz_maze_dfs(&m, 9, idx, 1, 8);
        for (int c = 0; c < N; c++) dist[c] = 1 << 20;
        dist[m.origin] = 0;
        for (int it = 0; it < N; it++)
            for (int a = 0; a < N; a++)
                for (int b = 0; b < N; b++)
                    if (rz_maze_is_open(&m, a, b) && dist[a] + 1 < dist[b]) dist[b] = dist[a] + 1;
        CHECK(m.path_len == dist[m.target] + 1);
        CHECK(rz_maze_path_valid(&m, m.path, m.path_len));
    }
    rz_maze_free(&m);
}

/* A* mazes: with no walls every neighbour pair is open (2n(n−1) passages) and the plan
 * is a Manhattan path; with walls the A* plan's length is the Bellman–Ford distance and
 * the plan is valid; the same (seed, index) gives the same tokens, and the token form
 * parses back to the same walls, origin, target and path. */
static void test_astar(void)
{
    rz_err e = {0};
    rz_maze m, p;
    int n = 7, N = 49, dist[49], cap = rz_maze_max_tokens(7, 36);
    int *ta = malloc(sizeof(int) * cap), *tb = malloc(sizeof(int) * cap);
    CHECK(rz_maze_alloc(n, &m, &e) == 0 && rz_maze_alloc(n, &p, &e) == 0);
    for (uint64_t idx = 0; idx < 20; idx++) {
        CHECK(rz_maze_astar_gen(&m, 3, idx, 0.0) == 1);
        CHECK(m.n_passages == 2 * n * (n - 1));
        int di = m.origin / n - m.target / n, dj = m.origin % n - m.target % n;
        CHECK(m.path_len == abs(di) + abs(dj) + 1);
        CHECK(rz_maze_path_valid(&m, m.path, m.path_len));
    }
    long walls_seen = 0;
    for (uint64_t idx = 0; idx < 80; idx++) {
        CHECK(rz_maze_astar_gen(&m, 5, idx, 0.35) == 1);
        for (int c = 0; c < N; c++) dist[c] = 1 << 20;
        dist[m.origin] = 0;
        for (int it = 0; it < N; it++)
            for (int a = 0; a < N; a++)
                for (int b = 0; b < N; b++)
                    if (rz_maze_is_open(&m, a, b) && dist[a] + 1 < dist[b]) dist[b] = dist[a] + 1;
        CHECK(dist[m.target] < (1 << 20) && m.path_len == dist[m.target] + 1);
        CHECK(rz_maze_path_valid(&m, m.path, m.path_len));
        walls_seen += 2 * n * (n - 1) - m.n_passages;
        int na = rz_maze_tokens(&m, ta, cap);
        CHECK(na > 0 && rz_maze_parse(&p, ta, na, &e) == 0);
        CHECK(p.origin == m.origin && p.target == m.target && p.path_len == m.path_len);
        CHECK(!memcmp(p.open, m.open, (size_t)N) && !memcmp(p.path, m.path, sizeof(int) * (size_t)m.path_len));
        rz_maze_astar_gen(&p, 5, idx, 0.35); /* again: the same bytes */
        int nb = rz_maze_tokens(&p, tb, cap);
        CHECK(na == nb && !memcmp(ta, tb, sizeof(int) * (size_t)na));
    }
    CHECK(walls_seen > 0); /* density 0.35 closes passages */
    CHECK(rz_maze_astar_gen(&m, 5, 0, 0.9) == 0 || m.path_len > 0); /* hopeless density: 0 or a real plan */
    free(ta), free(tb);
    rz_maze_free(&m), rz_maze_free(&p);
}

static void test_tokens_roundtrip(void)
{
    rz_err e = {0};
    rz_maze m, p;
    int n = 5;
    CHECK(rz_maze_alloc(n, &m, &e) == 0 && rz_maze_alloc(n, &p, &e) == 0);
    int cap = rz_maze_max_tokens(n, 3), *tok = malloc(sizeof(int) * cap);
    uint8_t *mask = malloc(cap);
    for (uint64_t idx = 0; idx < 30; idx++) {
        rz_maze_dfs(&m, 1, idx, 1, (int)(idx % 4));
        int nt = rz_maze_tokens(&m, tok, cap), ps = rz_maze_path_start(tok, nt);
        CHECK(tok[0] == RZ_MZ_ADJ_START && tok[nt - 1] == RZ_MZ_PATH_END);
        CHECK(nt == 3 * m.n_passages + 10 + m.path_len);
        CHECK(rz_maze_parse(&p, tok, nt, &e) == 0);
        CHECK(!memcmp(p.open, m.open, (size_t)n * n) && p.origin == m.origin && p.target == m.target);
        CHECK(p.path_len == m.path_len && !memcmp(p.path, m.path, sizeof(int) * m.path_len));
        /* through the record codec */
        for (int i = 0; i < nt; i++) mask[i] = i > ps;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        rz_maze_rec_pack(&pk, n, (int64_t)idx, tok, mask, nt, ps);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        CHECK(msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS);
        rz_rec_ctx c = {"mem", 0, "maze"};
        rz_maze_rec r;
        CHECK(rz_maze_rec_decode(&u.data, &c, &r, &e) == 0);
        CHECK(r.n == n && r.n_tokens == nt && r.path_start == ps && r.index == (int64_t)idx);
        int same = 1;
        for (int i = 0; i < nt; i++) same &= rz_maze_rec_token(&r, i) == tok[i] && r.mask[i] == mask[i];
        CHECK(same);
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&sb);
    }
    /* a passage between non-neighbours is refused, naming the position */
    rz_maze_dfs(&m, 1, 0, 1, 0);
    int nt = rz_maze_tokens(&m, tok, cap);
    tok[1] = RZ_MZ_CELL0 + 0, tok[2] = RZ_MZ_CELL0 + 24;
    CHECK(rz_maze_parse(&p, tok, nt, &e) == RZ_EINPUT && strstr(e.msg, "position 1"));
    (void)nt;
    free(tok), free(mask);
    rz_maze_free(&m), rz_maze_free(&p);
}

/* ---- sets and examples -------------------------------------------------------------- */

/* A set of count n×n mazes built in memory (as rz_maze_set_load pads them). */
static void make_set(rz_maze_set *s, int n, long count, uint64_t seed, int T)
{
    rz_err e = {0};
    rz_maze m;
    rz_maze_alloc(n, &m, &e);
    s->n = n, s->T = T, s->count = count;
    s->tokens = malloc(sizeof(int) * (size_t)T * count);
    s->mask = calloc((size_t)T * count, 1);
    s->pstart = malloc(sizeof(int) * count), s->len = malloc(sizeof(int) * count);
    s->index = malloc(sizeof(int64_t) * count);
    for (long q = 0; q < count; q++) {
        rz_maze_dfs(&m, seed, (uint64_t)q, 1, 0);
        int *row = s->tokens + (size_t)q * T, nt = rz_maze_tokens(&m, row, T), ps = rz_maze_path_start(row, nt);
        for (int i = nt; i < T; i++) row[i] = RZ_MZ_PAD;
        for (int i = ps + 1; i < nt; i++) s->mask[(size_t)q * T + i] = 1;
        s->pstart[q] = ps, s->len[q] = nt, s->index[q] = q;
    }
    rz_maze_free(&m);
}

static void test_mlmu_mask_stats(void)
{
    rz_maze_set s;
    int T = rz_maze_max_tokens(5, 0);
    make_set(&s, 5, 50, 2, T);
    int *tok = malloc(sizeof(int) * T), *tgt = malloc(sizeof(int) * T);
    double masked = 0, region = 0;
    int prompt_touched = 0, bad_target = 0, pad_wrong = 0;
    const int K = 20000;
    for (int k = 0; k < K; k++) {
        long q = k % s.count;
        rz_maze_example(&s, RZ_MZ_MLMU, 77, (uint64_t)k, q, tok, tgt);
        const int *src = s.tokens + (size_t)q * T;
        for (int i = 0; i < T; i++) {
            if (i <= s.pstart[q]) prompt_touched += tok[i] != src[i] || tgt[i] != RZ_TR_IGNORE;
            else if (!s.mask[(size_t)q * T + i]) { /* padding: always <MASK>, never scored */
                pad_wrong += tok[i] != RZ_MZ_MASK || tgt[i] != RZ_TR_IGNORE;
            } else {
                region++;
                if (tok[i] == RZ_MZ_MASK) masked++, bad_target += tgt[i] != src[i];
                else bad_target += tgt[i] != RZ_TR_IGNORE || tok[i] != src[i];
            }
        }
    }
    /* mean over samples of r is 1/2; the sample mean of 20000 U(0,1) draws has sd
     * sqrt(1/12/20000) = 0.002 (plus a smaller binomial term): 0.01 is 5 sd */
    double rate = masked / region;
    printf("#   MLM-U mask rate %.4f over %.0f path positions\n", rate, region);
    CHECK(fabs(rate - 0.5) < 0.01);
    CHECK(prompt_touched == 0);
    CHECK(bad_target == 0);
    CHECK(pad_wrong == 0);
    /* next-token: targets exactly the predictable positions, shifted by one */
    int nscored = rz_maze_example(&s, RZ_MZ_NEXT, 77, 0, 3, tok, tgt), want = 0;
    for (int i = 0; i + 1 < T; i++) {
        int p = s.mask[3 * (size_t)T + i + 1];
        want += p;
        CHECK(tgt[i] == (p ? s.tokens[3 * (size_t)T + i + 1] : RZ_TR_IGNORE));
    }
    CHECK(nscored == want && want == s.len[3] - s.pstart[3] - 1);
    free(tok), free(tgt);
    rz_maze_set_free(&s);
}

static void test_path_through_wall_rejected(void)
{
    rz_err e = {0};
    rz_maze m;
    CHECK(rz_maze_alloc(5, &m, &e) == 0);
    rz_maze_dfs(&m, 4, 0, 1, 0);
    CHECK(rz_maze_path_valid(&m, m.path, m.path_len));
    /* a closed wall between neighbours a | b (a perfect 5×5 maze has 40 − 24 = 16) */
    int a = -1, b = -1;
    for (int c = 0; c < 25 && a < 0; c++) {
        if (c % 5 != 4 && !rz_maze_is_open(&m, c, c + 1)) a = c, b = c + 1;
        else if (c + 5 < 25 && !rz_maze_is_open(&m, c, c + 5)) a = c, b = c + 5;
    }
    CHECK(a >= 0);
    m.origin = a, m.target = b;
    int p[2] = {a, b};
    CHECK(!rz_maze_path_valid(&m, p, 2)); /* one step, through the wall */
    /* the true path between them (around the wall) is valid */
    CHECK(rz_maze_bfs(&m) > 2 && rz_maze_path_valid(&m, m.path, m.path_len));
    /* a jump (non-neighbours) is refused too */
    int far[2] = {0, 24};
    m.origin = 0, m.target = 24;
    CHECK(!rz_maze_path_valid(&m, far, 2));
    rz_maze_free(&m);
}

/* ---- training ----------------------------------------------------------------------- */

/* The cached next-token decoder (rz_maze_decode_cached) against the full-forward one
 * (rz_maze_decode, the slow reference: a whole training forward per generated cell) on
 * every maze of s: the same decoded rows token for token (prompt, path, <PAD> after)
 * and the same scores; the cached decoder's bits are the same on 1 and 2 threads; and
 * each step's logits against the training forward (lora.c, a different implementation
 * of the model) run once over the decoded row, whose causal logits at p − 1 are what
 * chose the token at p. Returns the exact count.
 * Tolerance of the logits: not bitwise — the cached path runs llama.c's forward
 * (fused q|k|v and w1|w3 products, a one-row product per step, streamed online softmax
 * over the cache, llama.c's RMSNorm with a simd sum) where the training forward runs
 * separate products over all rows and a materialised softmax, so every activation
 * differs by a few float ulps, amplified through 2 layers to ~1e-6–1e-5 of the O(1–10)
 * logits (printed); 1e-3 absolute, as test_train's rz_llama_forward comparison, still
 * catches any wrong term (a wrong position, key or value moves logits by O(0.1)). */
static rz_maze_steps steps_reference(rz_train *t, const rz_maze_set *s, int obj, uint64_t seed, rz_maze *m);

static long cached_case(rz_llama *model, const rz_maze_set *s, uint64_t seed)
{
    rz_err e = {0};
    int T = s->T, V = rz_maze_vocab(s->n), B = 8;
    long nq = s->count;
    size_t nt = (size_t)nq * T, nl = nt * (size_t)V;
    int *full = malloc(sizeof(int) * nt), *c1 = malloc(sizeof(int) * nt), *c2 = malloc(sizeof(int) * nt);
    float *l1 = calloc(nl, sizeof(float)), *l2 = calloc(nl, sizeof(float));
    rz_maze_score sf = {0, 0, 0, 0}, s1 = {0, 0, 0, 0}, s2 = {0, 0, 0, 0};
    int ranks[RZ_LIN_PER_LAYER] = {0};
    rz_lora *a;
    rz_train *t;
    CHECK(rz_lora_new(model, ranks, &a, &e) == 0 && rz_train_new(a, B, T, &t, &e) == 0);
    CHECK(rz_maze_decode(t, s, RZ_MZ_NEXT, RZ_MZ_KEYS_ALL, 0, nq, B, full, &sf, &e) == 0);
    int nthr = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(rz_maze_decode_cached(model, s, 0, nq, c1, l1, &s1, &e) == 0);
    omp_set_num_threads(2);
    CHECK(rz_maze_decode_cached(model, s, 0, nq, c2, l2, &s2, &e) == 0);
    omp_set_num_threads(nthr);
    CHECK(!memcmp(c1, full, sizeof(int) * nt)); /* the same paths as the full forward */
    CHECK(s1.count == sf.count && s1.exact == sf.exact && s1.valid == sf.valid && s1.tokens == sf.tokens);
    CHECK(!memcmp(c1, c2, sizeof(int) * nt) && !memcmp(l1, l2, sizeof(float) * nl)); /* 1 = 2 threads */
    CHECK(s2.count == s1.count && s2.exact == s1.exact && s2.valid == s1.valid);
    double worst = 0, margin = INFINITY;
    long steps = 0, unended = 0;
    rz_train_set_causal(t, 1);
    rz_train_set_hidden(t, -1);
    for (long q = 0; q < nq; q++) {
        const int *row = c1 + (size_t)q * T;
        CHECK(rz_train_forward(t, row, NULL, 1, NULL) == 0);
        const float *ref = rz_train_logits(t);
        int p = s->pstart[q] + 1;
        for (; p < T; p++) { /* the step that chose row[p] read the logits at p − 1 */
            const float *a1 = l1 + ((size_t)q * T + (size_t)(p - 1)) * V, *r = ref + (size_t)(p - 1) * V;
            float top = -INFINITY, second = -INFINITY;
            for (int v = 0; v < V; v++) {
                worst = fmax(worst, fabs((double)a1[v] - r[v]));
                if (r[v] > top) second = top, top = r[v];
                else if (r[v] > second) second = r[v];
            }
            margin = fmin(margin, (double)top - second);
            steps++;
            if (row[p] == RZ_MZ_PATH_END) break;
        }
        unended += p == T;
    }
    printf("#   cached decoder: %ld mazes, %ld exact, %ld steps (%ld paths never ended), max |cached - full| "
           "logit %.3g, smallest top-2 margin %.3g\n", nq, s1.exact, steps, unended, worst, margin);
    CHECK(steps > nq && worst <= 1e-3);
    CHECK(s1.tokens == steps); /* the decoded-token count, recounted here */
    /* the single steps of a trained model (one forward per maze for next-token) against
     * one row per step */
    rz_maze m;
    rz_maze_alloc(s->n, &m, &e);
    rz_maze_steps got = {0, 0, 0, 0}, want = steps_reference(t, s, RZ_MZ_NEXT, seed, &m);
    CHECK(rz_maze_evaluate_steps(model, 0, s, RZ_MZ_NEXT, RZ_MZ_KEYS_ALL, 0, 3, &got, &e) == 0);
    printf("#   single steps: %ld, %ld right, %ld wrong cells, %ld of them legal moves\n", got.steps, got.right,
           got.wrong_cell, got.wrong_open);
    CHECK(got.steps == want.steps && got.right == want.right && got.wrong_cell == want.wrong_cell &&
          got.wrong_open == want.wrong_open);
    rz_maze_free(&m);
    rz_train_free(t);
    rz_lora_free(a);
    free(full), free(c1), free(c2), free(l1), free(l2);
    return s1.exact;
}

/* arch past: 2 encoder layers (visible keys) and 2 decoder layers, decoded the
 * reference's all_but_last way by rz_maze_evaluate */
static void overfit_case(int objective, int arch, int steps)
{
    rz_maze_set s;
    make_set(&s, 3, 8, 6, rz_maze_max_tokens(3, 0));
    rz_maze_ckpt info;
    memset(&info, 0, sizeof info);
    info.objective = objective;
    info.arch = arch, info.dec_layers = arch == RZ_MZ_ARCH_PAST ? 2 : 0;
    info.keys = arch == RZ_MZ_ARCH_PAST ? RZ_MZ_KEYS_VISIBLE : RZ_MZ_KEYS_ALL;
    rz_llama_config *c = &info.config;
    c->dim = 32, c->hidden_dim = 64, c->n_layers = 2 + info.dec_layers, c->n_heads = 2, c->n_kv_heads = 2;
    c->rope_theta = 10000.0f, c->norm_eps = 1e-5f;
    info.total = steps, info.batch = 8, info.micro = 8, info.seed = 5;
    rz_adamw_defaults(&info.opt);
    info.opt.lr = 3e-3, info.opt.min_lr = 3e-4, info.opt.warmup = 20, info.opt.total = steps, info.opt.clip = 1.0;
    rz_maze_trainer tr;
    rz_err e = {0};
    CHECK(rz_maze_trainer_new(&tr, &info, &s, NULL, NULL, &e) == 0);
    double loss = 0, gn, lr;
    for (int i = 0; i < steps; i++) CHECK(rz_maze_trainer_step(&tr, &loss, &gn, &lr, &e) == 0);
    rz_maze_score sc = {0, 0, 0, 0};
    CHECK(rz_maze_evaluate(tr.model, info.dec_layers, &s, objective, info.keys, 0, 0, 8, &sc, &e) == 0);
    printf("#   %s, arch %s: loss %.4f after %d steps, %ld/%ld exact, %ld valid\n", rz_maze_objective_name(objective),
           rz_maze_arch_name(arch), loss, steps, sc.exact, sc.count, sc.valid);
    CHECK(sc.count == 8 && sc.exact == 8 && sc.valid == 8);
    if (objective == RZ_MZ_NEXT) {
        /* the cached decoder on the memorised mazes, and on unseen ones (wrong paths,
         * paths that never end: every branch of the decoder) */
        rz_maze_set h;
        make_set(&h, 3, 40, 77, s.T);
        long ex = cached_case(tr.model, &s, 6);
        CHECK(ex == 8);
        ex = cached_case(tr.model, &h, 77);
        CHECK(ex < 40); /* some unseen maze is decoded wrong: the comparison covers wrong paths too */
        /* an untrained model: paths that run to the end of the context without <PATH_END> */
        rz_llama *raw;
        CHECK(rz_llama_random(&tr.model->config, 31, &raw, &e) == 0);
        rz_maze_init_weights(raw, 0.5, 0, 0);
        CHECK(cached_case(raw, &h, 77) == 0);
        rz_llama_free(raw);
        rz_maze_set_free(&h);
    }
    rz_maze_trainer_free(&tr);
    rz_maze_set_free(&s);
}

/* The reference's initialisation: every matrix's sample std is 1/sqrt(3 fan_in) (fan_in
 * = its columns), norms stay 1; --init-std S gives S. A matrix of m·k ≥ 4096 normal draws
 * has a sample std within 3·(1/sqrt(2·4096)) ≈ 3.3% of the target at 3 sd: 5% tolerance. */
static void test_init_weights(void)
{
    rz_err e = {0};
    rz_llama_config c = {0};
    c.dim = 64, c.hidden_dim = 256, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 4, c.vocab_size = 37;
    c.seq_len = 16, c.rope_theta = 10000.0f, c.norm_eps = 1e-5f;
    for (int pass = 0; pass < 2; pass++) {
        rz_llama *m;
        CHECK(rz_llama_random(&c, 3, &m, &e) == 0);
        double S = pass ? 0.05 : 0;
        rz_maze_init_weights(m, S, 0, 0);
        for (int i = 0; i < rz_llama_tensor_count(m); i++) {
            const char *name;
            float *w;
            int shape[2], nd;
            rz_llama_tensor_at(m, i, &name, &w, shape, &nd);
            long cnt = (long)shape[0] * (nd == 2 ? shape[1] : 1);
            double ss = 0;
            for (long k = 0; k < cnt; k++) ss += (double)w[k] * w[k];
            double sd = sqrt(ss / (double)cnt);
            if (nd == 2) {
                double want = S > 0 ? S : 1.0 / sqrt(3.0 * shape[1]);
                if (fabs(sd / want - 1) > 0.05) printf("#   %s: std %.4f, expected %.4f\n", name, sd, want);
                CHECK(fabs(sd / want - 1) < 0.05);
            } else {
                CHECK(sd == 1.0);
            }
        }
        rz_llama_free(m);
    }
}

/* The shared embedding component (rz_maze_init_weights' shared = a): against the same model
 * drawn with a = 0, w_r − √(1 − a²)·e_r must be one vector for every row r (exact up to
 * float rounding: 1e-6 absolute on elements of ~0.04), of rms a·want (want = 1/√(3·dim);
 * the rms of dim = 256 normals is within 3.4 sd = 15% of its target), and every other
 * tensor must be untouched (bit-equal). */
static void test_init_shared(void)
{
    rz_err e = {0};
    rz_llama_config c = {0};
    c.dim = 256, c.hidden_dim = 64, c.n_layers = 1, c.n_heads = 4, c.n_kv_heads = 4, c.vocab_size = 40;
    c.seq_len = 8, c.rope_theta = 10000.0f, c.norm_eps = 1e-5f;
    rz_llama *m0, *m1;
    CHECK(rz_llama_random(&c, 5, &m0, &e) == 0 && rz_llama_random(&c, 5, &m1, &e) == 0);
    double a = 0.7, b = sqrt(1 - a * a), want = 1.0 / sqrt(3.0 * c.dim);
    rz_maze_init_weights(m0, 0, 0, 11);
    rz_maze_init_weights(m1, 0, a, 11);
    int d = c.dim;
    double ss = 0, worst = 0;
    for (int j = 0; j < d; j++) {
        double v0 = m1->tok_embeddings[j] - b * m0->tok_embeddings[j];
        ss += v0 * v0;
        for (int r = 1; r < c.vocab_size; r++) {
            double v = m1->tok_embeddings[(size_t)r * d + j] - b * m0->tok_embeddings[(size_t)r * d + j];
            worst = fabs(v - v0) > worst ? fabs(v - v0) : worst;
        }
    }
    double rms = sqrt(ss / d);
    if (worst > 1e-6 || fabs(rms / (a * want) - 1) > 0.15)
        printf("#   shared part: rows differ by %.3g, rms %.4f, expected %.4f\n", worst, rms, a * want);
    CHECK(worst < 1e-6);
    CHECK(fabs(rms / (a * want) - 1) < 0.15);
    size_t e0 = (size_t)(m0->tok_embeddings - m0->params), e1 = e0 + (size_t)c.vocab_size * d;
    CHECK(!memcmp(m0->params, m1->params, sizeof(float) * e0));
    CHECK(!memcmp(m0->params + e1, m1->params + e1, sizeof(float) * (m0->n_params - e1)));
    rz_llama_free(m0);
    rz_llama_free(m1);
}

/* Teacher-forced single steps (rz_maze_step_scores through rz_maze_evaluate_steps, rows
 * of 3 so forwards cut across mazes) against a one-row-at-a-time loop written here: each
 * path position's input built by hand, its own argmax, and the legal-move check read
 * from the generator's open bits (not from the token parser). On 60 mazes a random model
 * makes right steps, legal wrong moves and jumps, so every count is exercised. Exact
 * equality: both sides take the argmax of the logits of the same rows, and the products
 * treat a row alike whatever rows share its forward. */
static int open_pair(const rz_maze *m, int a, int b)
{
    int n = m->n, lo = a < b ? a : b, hi = a < b ? b : a;
    return (hi == lo + 1 && lo % n != n - 1 && (m->open[lo] & 1)) || (hi == lo + n && (m->open[lo] & 2));
}

/* The single steps one row and one forward at a time (the true tokens before i, the
 * decoder's filler after), t's attention set by the caller; mazes from the generator's
 * seed for the legal moves. */
static rz_maze_steps steps_reference(rz_train *t, const rz_maze_set *s, int obj, uint64_t seed, rz_maze *m)
{
    int T = s->T, V = rz_maze_vocab(s->n), N = s->n * s->n;
    int *row = malloc(sizeof(int) * (size_t)T);
    rz_maze_steps want = {0, 0, 0, 0};
    for (long q = 0; q < s->count; q++) {
        const int *src = s->tokens + (size_t)q * T;
        rz_maze_dfs(m, seed, (uint64_t)q, 1, 0); /* the same maze, from the generator */
        for (int i = s->pstart[q] + 1; i < s->len[q]; i++) {
            for (int j = 0; j < T; j++) row[j] = j < i ? src[j] : obj == RZ_MZ_MLMU ? RZ_MZ_MASK : RZ_MZ_PAD;
            CHECK(rz_train_forward(t, row, NULL, 1, NULL) == 0);
            const float *lg = rz_train_logits(t) + (size_t)(obj == RZ_MZ_MLMU ? i : i - 1) * V;
            int y = 0;
            for (int v = 1; v < V; v++) y = lg[v] > lg[y] ? v : y;
            want.steps++;
            if (y == src[i]) {
                want.right++;
            } else if (src[i - 1] >= RZ_MZ_CELL0 && src[i] >= RZ_MZ_CELL0) {
                want.wrong_cell++;
                want.wrong_open += y >= RZ_MZ_CELL0 && y < RZ_MZ_CELL0 + N &&
                                   open_pair(m, src[i - 1] - RZ_MZ_CELL0, y - RZ_MZ_CELL0);
            }
        }
    }
    free(row);
    return want;
}

static void test_step_scores(void)
{
    int n = 4, T = rz_maze_max_tokens(n, 0), V = rz_maze_vocab(n);
    rz_maze_set s;
    make_set(&s, n, 60, 9, T);
    rz_err e = {0};
    rz_llama_config c = {0};
    c.dim = 32, c.hidden_dim = 64, c.n_layers = 2, c.n_heads = 2, c.n_kv_heads = 2, c.vocab_size = V;
    c.seq_len = T, c.rope_theta = 10000.0f, c.norm_eps = 1e-5f;
    rz_llama *model, *pmodel;
    CHECK(rz_llama_random(&c, 7, &model, &e) == 0);
    rz_maze_init_weights(model, 0, 0, 0);
    int ranks[RZ_LIN_PER_LAYER] = {0};
    rz_lora *a, *pa;
    rz_train *t, *pt;
    CHECK(rz_lora_new(model, ranks, &a, &e) == 0 && rz_train_new(a, 1, T, &t, &e) == 0);
    /* the PAST model: 2 encoder + 2 decoder layers; the loop's core gets its decoder by
     * hand (rz_train_set_decoder), the scorer from dec_layers */
    c.n_layers = 4;
    CHECK(rz_llama_random(&c, 8, &pmodel, &e) == 0);
    rz_maze_init_weights(pmodel, 0, 0, 0);
    CHECK(rz_lora_new(pmodel, ranks, &pa, &e) == 0 && rz_train_new(pa, 1, T, &pt, &e) == 0);
    CHECK(rz_train_set_decoder(pt, 2, RZ_MZ_RESERVED, &e) == 0);
    rz_maze m;
    rz_maze_alloc(n, &m, &e);
    long right_all = -1;
    /* modes: next-token; MLM-U with every key; MLM-U with visible keys (the loop here sets
     * the mask itself: positions holding <MASK> are keys of themselves only); the PAST
     * model (visible keys, logits of the decoder) */
    for (int mode = 0; mode < 4; mode++) {
        int obj = mode ? RZ_MZ_MLMU : RZ_MZ_NEXT, keys = mode >= 2 ? RZ_MZ_KEYS_VISIBLE : RZ_MZ_KEYS_ALL;
        rz_train *tt = mode == 3 ? pt : t;
        rz_maze_steps got = {0, 0, 0, 0}, want = {0, 0, 0, 0};
        CHECK(rz_maze_evaluate_steps(mode == 3 ? pmodel : model, mode == 3 ? 2 : 0, &s, obj, keys, 0, 3, &got, &e) == 0);
        rz_train_set_causal(tt, obj == RZ_MZ_NEXT);
        rz_train_set_hidden(tt, mode >= 2 ? RZ_MZ_MASK : -1);
        long masked = 0;
        for (long q = 0; q < s.count; q++)
            for (int i = 0; i < T; i++) masked += s.mask[(size_t)q * T + i];
        want = steps_reference(tt, &s, obj, 9, &m);
        printf("#   %s, keys %s%s: %ld steps, %ld right, %ld wrong cells, %ld of them legal moves\n",
               rz_maze_objective_name(obj), rz_maze_keys_name(keys), mode == 3 ? ", past" : "", got.steps, got.right, got.wrong_cell,
               got.wrong_open);
        if (mode == 1) right_all = got.right;
        if (mode == 2) CHECK(got.right != right_all); /* the two MLM-U masks give other predictions */
        CHECK(got.steps == masked && want.steps == masked);
        CHECK(got.right == want.right && got.wrong_cell == want.wrong_cell && got.wrong_open == want.wrong_open);
        CHECK(want.right > 0 && want.wrong_cell > want.wrong_open && want.wrong_open > 0); /* every count used */
    }
    rz_maze_free(&m);
    rz_train_free(t);
    rz_lora_free(a);
    rz_llama_free(model);
    rz_train_free(pt);
    rz_lora_free(pa);
    rz_llama_free(pmodel);
    rz_maze_set_free(&s);
}

static void test_overfit_mlmu(void) { overfit_case(RZ_MZ_MLMU, RZ_MZ_ARCH_ENC, 800); }
static void test_overfit_next(void) { overfit_case(RZ_MZ_NEXT, RZ_MZ_ARCH_ENC, 300); }
static void test_overfit_past(void) { overfit_case(RZ_MZ_MLMU, RZ_MZ_ARCH_PAST, 800); }

int main(void)
{
    RUN(test_dfs_spanning_tree);
    RUN(test_dfs_extra_openings);
    RUN(test_corridor);
    RUN(test_same_seed_same_bytes);
    RUN(test_bfs_shortest);
    RUN(test_astar);
    RUN(test_tokens_roundtrip);
    RUN(test_mlmu_mask_stats);
    RUN(test_path_through_wall_rejected);
    RUN(test_init_weights);
    RUN(test_init_shared);
    RUN(test_step_scores);
    RUN(test_overfit_mlmu);
    RUN(test_overfit_next);
    RUN(test_overfit_past);
    return check_summary();
}
