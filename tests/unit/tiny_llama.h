/* tiny_llama.h — the small random Llama the training tests differentiate through
 * (static; include it from a test_*.c after check.h): dim 16, hidden 24, 2 layers, 4 query
 * heads over 2 kv heads, vocab 32, context 16, from rz_llama_random's N(0, 0.02²) with
 * every 2-D weight but the embeddings scaled by 15 (to N(0, 0.3²)) so activations and
 * gradients are O(1) — the regime the finite-difference tolerances are derived for.
 * shared: the classifier is the embedding table (1) or its own matrix (0). */
#ifndef RZ_TEST_TINY_LLAMA_H
#define RZ_TEST_TINY_LLAMA_H

#include <string.h>

#include "llama.h"

static inline rz_llama *tiny_llama(uint64_t seed, int shared)
{
    rz_llama_config c = {16, 24, 2, 4, 2, 32, 16, shared, 10000.0f, 1e-5f};
    rz_llama *m = NULL;
    rz_err e = {0};
    if (rz_llama_random(&c, seed, &m, &e)) return NULL;
    int count = rz_llama_tensor_count(m);
    for (int i = 0; i < count; i++) {
        const char *name;
        float *d;
        int sh[2], nd;
        rz_llama_tensor_at(m, i, &name, &d, sh, &nd);
        if (nd == 2 && strstr(name, "tok_embeddings") == NULL)
            for (int j = 0; j < sh[0] * sh[1]; j++) d[j] *= 15.0f;
    }
    return m;
}

#endif
