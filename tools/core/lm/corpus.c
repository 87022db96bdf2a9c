/* corpus.c — text and token-stream inputs (see corpus.h). */
#include "corpus.h"

#include "cluster.h"
#include "modelfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


int rz_corpus_from_text(const rz_tokenizer *t, const char *path, int **ids, size_t *n, rz_err *e)
{
    char *text;
    size_t len;
    int rc = rz_read_file(path, &text, &len, e);
    if (rc) return rc;
    if (len == 0) {
        free(text);
        return rz_fail(e, RZ_EINPUT, "%s: the text is empty", path);
    }
    rc = rz_tokenizer_encode(t, text, len, 0, 0, ids, n, e);
    free(text);
    if (rc) return rz_wrap(e, "%s", path);
    return RZ_OK;
}

int rz_corpus_from_stream(const char *loc, const rz_stream_opts *o, int vocab_size, int **ids,
                          size_t *n, rz_err *e)
{
    rz_reader *r;
    int rc = rz_reader_open(loc, o, &r, e);
    if (rc) return rc;
    int *all = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        const msgpack_object *rec;
        rz_rec_ctx ctx;
        if ((rc = rz_reader_next(r, &rec, &ctx, e)) || !rec) break;
        if (strcmp(ctx.type, "tokens") != 0) continue; /* other records pass by */
        const void *p;
        size_t k;
        int64_t vs;
        if ((rc = rz_tokens_decode(rec, &ctx, &p, &k, &vs, e))) break;
        if (vs != vocab_size) {
            rc = rz_rec_fail(e, &ctx, "vocab_size", "tokens are for a %lld-token vocabulary, the model has %d",
                             (long long)vs, vocab_size);
            break;
        }
        if (len + k > cap) {
            size_t nc = cap ? cap : 1 << 16;
            while (nc < len + k) nc *= 2;
            int *na = realloc(all, nc * sizeof *na);
            if (!na) {
                rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
                break;
            }
            all = na;
            cap = nc;
        }
        memcpy(all + len, p, k * sizeof(int32_t));
        len += k;
    }
    rz_reader_close(r);
    if (rc == RZ_OK && len == 0) rc = rz_fail(e, RZ_EINPUT, "%s: no tokens in the stream", loc);
    if (rc) {
        free(all);
        return rc;
    }
    *ids = all;
    *n = len;
    return RZ_OK;
}

int rz_corpus_load_bcast(const char *tokens, const rz_stream_opts *o, const char *text, const char *tokenizer,
                         int vocab_size, const char *model, size_t max_tokens, int llama_bos, int *bos,
                         int **ids, size_t *n, rz_err *e)
{
    int rc = RZ_OK;
    uint64_t count = UINT64_MAX; /* what rank 0 sends when it failed */
    *ids = NULL;
    *n = 0;
    if (rz_cluster_rank() == 0) {
        if (tokens) {
            rc = rz_corpus_from_stream(tokens, o, vocab_size, ids, n, e);
        } else {
            rz_tokenizer *t = NULL;
            int add_bos = 0;
            rc = rz_tokenizer_open(tokenizer, model, &t, &add_bos, e); /* NULL: the model's own (GGUF, HF) */
            if (rc == RZ_OK && rz_tokenizer_vocab_size(t) != vocab_size)
                rc = rz_fail(e, RZ_EINPUT, "%s: tokenizer has %d tokens but model %s has a vocabulary of %d",
                             tokenizer ? tokenizer : model,
                             rz_tokenizer_vocab_size(t), model, vocab_size);
            if (rc == RZ_OK) rc = rz_corpus_from_text(t, text, ids, n, e);
            if (rc == RZ_OK && bos) *bos = rz_tokenizer_bos(t);
            if (rc == RZ_OK && llama_bos && add_bos) { /* llama.cpp: tokenize(text, add_special) */
                int *b = realloc(*ids, (*n + 2) * sizeof **ids);
                if (!b) {
                    rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
                } else {
                    memmove(b + 1, b, *n * sizeof *b);
                    b[0] = rz_tokenizer_bos(t);
                    *ids = b;
                    *n += 1;
                }
            }
            if (t) rz_tokenizer_free(t);
        }
        if (rc == RZ_OK) {
            if (max_tokens && max_tokens < *n) *n = max_tokens;
            count = *n;
        }
    }
    if (bos) rz_cluster_bcast(bos, sizeof *bos);
    rz_cluster_bcast(&count, sizeof count);
    if (count == UINT64_MAX) {
        if (rz_cluster_rank() == 0) {
            free(*ids);
            *ids = NULL;
            *n = 0;
            return rc;
        }
        return rz_fail(e, RZ_EINPUT, "rank 0 could not read the tokens");
    }
    if (rz_cluster_rank() != 0) {
        *n = count;
        *ids = rz_malloc((count + 1) * sizeof **ids, e);
        if (!*ids) return RZ_EINTERNAL; /* rank 0 goes on into the broadcast: the caller must abort */
    }
    rz_cluster_bcast(*ids, count * sizeof **ids);
    return RZ_OK;
}
