/* test_longctx.c — the engine past its trained context: for every RoPE extension,
 * token-by-token decoding with the KV cache gives the logits of one prefill, position by
 * position, on the real stories260K model at twice its context. (The attention kernels
 * themselves are checked against literal references in test_dca.c and test_rope.c.) */
#include <stdlib.h>

#include "../check.h"
#include "corpus.h"
#include "llama.h"
#include "linalg.h"
#include "tokenizer.h"

static rz_llama *model;
static int *ids;
static size_t n_ids;

static void decode_equals_prefill(const char *ext, const char *scale, int T)
{
    rz_err e = {0};
    rz_rope_method rm;
    CHECK(rz_rope_parse(ext, scale, NULL, NULL, model->config.seq_len, model->config.rope_theta, &rm, &e) == 0);
    rz_llama_state *pre, *dec;
    int V = model->config.vocab_size;
    CHECK(rz_llama_state_new_ext(model, T, T, &rm, &pre, &e) == 0);
    CHECK(rz_llama_state_new_ext(model, 1, T, &rm, &dec, &e) == 0);
    float *lp = malloc((size_t)T * V * sizeof *lp), *ld = malloc((size_t)V * sizeof *ld);
    CHECK(rz_llama_forward(model, pre, ids, T, 0, lp) == 0);
    double worst = 0;
    for (int t = 0; t < T; t++) {
        CHECK(rz_llama_forward(model, dec, ids + t, 1, t, ld) == 0);
        for (int v = 0; v < V; v++) {
            double d = fabs((double)ld[v] - lp[(size_t)t * V + v]);
            worst = d > worst ? d : worst;
        }
    }
    /* Prefill and decode sum the same products in different orders (blocked sgemm vs
     * gemv, streamed softmax blocks): float rounding of ~1e-7 relative per layer on
     * logits of magnitude ~25 gives differences around 1e-5; 5e-4 leaves room for the
     * 5 layers compounding, while any indexing error (a wrong position, a missing key)
     * moves logits by O(1). */
    printf("#   %s x%s at T=%d: max |decode - prefill| = %.3g\n", ext, scale ? scale : "-", T, worst);
    CHECK(worst < 5e-4);
    free(lp);
    free(ld);
    rz_llama_state_free(pre);
    rz_llama_state_free(dec);
}

static void test_dca(void) { decode_equals_prefill("dca", NULL, check_sanitized() ? 560 : 1024); }
static void test_yarn(void) { decode_equals_prefill("yarn", "2", check_sanitized() ? 560 : 1024); }
static void test_ntk(void) { decode_equals_prefill("ntk", "2", 600); }
static void test_extrapolation(void) { decode_equals_prefill("none", NULL, 600); }

int main(void)
{
    rz_err e = {0};
    rz_tokenizer *tok;
    rz_linalg_threads(0);
    if (rz_llama_load_bin(check_data_path("stories260K.bin"), &model, &e) ||
        rz_tokenizer_load(check_data_path("tok512.bin"), &tok, &e) ||
        rz_corpus_from_text(tok, check_data_path("tinystories-valid.txt"), &ids, &n_ids, &e)) {
        printf("not ok - load data: %s\n", e.msg);
        return 1;
    }
    RUN(test_dca);
    RUN(test_yarn);
    RUN(test_ntk);
    RUN(test_extrapolation);
    free(ids);
    rz_tokenizer_free(tok);
    rz_llama_free(model);
    return check_summary();
}
