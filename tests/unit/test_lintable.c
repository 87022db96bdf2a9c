/* test_lintable.c — the table of a block's seven linear layers (llama.h: RZ_LIN_*,
 * rz_lin_name, rz_lin_tensor_name, rz_lin_find) against the model's own tensor list:
 * every linear rz_llama_tensor_at names is found at the index whose storage
 * rz_llama_linear returns, every other tensor name and malformed names are not. */
#include "../check.h"
#include "llama.h"

static void test_names_match_tensors(void)
{
    rz_llama_config c = {.dim = 16, .hidden_dim = 24, .n_layers = 12, .n_heads = 2, .n_kv_heads = 1,
                         .vocab_size = 40, .seq_len = 8, .shared_classifier = 1, .rope_theta = 10000, .norm_eps = 1e-5f};
    rz_llama *m = NULL;
    CHECK(rz_llama_alloc(&c, &m, NULL) == 0);
    if (!m) return;
    int linears = 0;
    for (int t = 0; t < rz_llama_tensor_count(m); t++) {
        const char *name;
        float *data;
        int shape[2], ndim;
        rz_llama_tensor_at(m, t, &name, &data, shape, &ndim);
        long i = rz_lin_find(c.n_layers, name);
        if (i < 0) {
            CHECK(ndim == 1 || strstr(name, "layers.") == NULL); /* norms, embeddings, classifier */
            continue;
        }
        linears++;
        char buf[96], buf2[96];
        float *d2;
        int rows, cols, layer, group;
        CHECK(rz_llama_linear(m, i, buf, sizeof buf, &d2, &rows, &cols, &layer, &group) == 0);
        CHECK(strcmp(buf, name) == 0 && d2 == data && rows == shape[0] && cols == shape[1]);
        rz_lin_tensor_name(i, buf2, sizeof buf2);
        CHECK(strcmp(buf2, name) == 0);
    }
    CHECK_EQ_INT(linears, RZ_LIN_PER_LAYER * c.n_layers);
    rz_llama_free(m);
}

static void test_bad_names(void)
{
    static const char *bad[] = {"layers.12.attention.wq.weight", "layers.01.attention.wq.weight",
                                "layers.1.attention.wq",         "layers.1.attention.wq.weightx",
                                "layers..attention.wq.weight",   "layers.1.attention_norm.weight",
                                "layers.-1.attention.wq.weight", "tok_embeddings.weight",
                                "layers.1.feed_forward.w4.weight", ""};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        long i = rz_lin_find(12, bad[k]);
        if (i != -1) printf("#   '%s' found as %ld\n", bad[k], i);
        CHECK(i == -1);
    }
    CHECK_EQ_INT(rz_lin_find(12, "layers.11.feed_forward.w3.weight"), 11 * 7 + 6);
    CHECK_EQ_INT(rz_lin_find(12, "layers.0.attention.wq.weight"), 0);
    CHECK(strcmp(rz_lin_name(7), "?") == 0 && strcmp(rz_lin_name(-1), "?") == 0);
}

int main(void)
{
    RUN(test_names_match_tensors);
    RUN(test_bad_names);
    return check_summary();
}
