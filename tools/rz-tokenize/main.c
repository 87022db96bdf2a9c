/* rz-tokenize — text to a stream of "tokens" records (llama2.c encoding of the whole
 * text as one stream), so that token ids can be made once and fed to rz-ppl and other
 * tools over files, pipes or ZeroMQ. --decode turns a token stream back into text. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "corpus.h"
#include "modelfile.h"

static const rz_cli_tool tool = {
    .name = "rz-tokenize",
    .summary = "text to a stream of token records, or token records back to text",
    .usage = "rz-tokenize -z TOKENIZER [-f TEXT] [--bos] [--chunk N] [-o LOC]\n"
             "rz-tokenize -z TOKENIZER --decode [IN]\n",
    .about = "TEXT defaults to stdin, LOC to stdout (never a terminal), IN to stdin.\n",
    .examples = "rz-tokenize -z tok512.bin < valid.txt | rz-ppl -m stories260K.bin --tokens -\n"
                "rz-tokenize -z tok512.bin -f valid.txt -o tcp://:5555 &\n"
                "rz-ppl -m stories260K.bin --tokens tcp://127.0.0.1:5555\n",
};

int main(int argc, char **argv)
{
    rz_cli c;
    const char *tok = NULL, *text = NULL;
    int bos = 0, decode = 0;
    long chunk = 65536;
    rz_opt opts[] = {
        RZ_O_STR("tokenizer", 'z', "F", tok,
                 "llama2.c tokenizer file, a GGUF model (its vocabulary) or a\n"
                 "tokenizer.json"),
        RZ_O_STR("file", 'f', "TEXT", text, "UTF-8 text ('-' = stdin, the default)"),
        RZ_O_FLAG("bos", 0, bos, "start with BOS (id 1)"),
        RZ_O_LONG("chunk", 0, "N", chunk, 1, 1 << 28, "ids per \"tokens\" record (default 65536)"),
        RZ_O_FLAG("decode", 0, decode, "print the text of a token stream (default IN '-')"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (!tok) rz_cli_usage_error(&c, "-z TOKENIZER is required");
    if (!decode) {
        if (!text) text = "-";
        c.output = rz_cli_records_out(&c);
    }
    rz_err e = {0};
    rz_tokenizer *t;
    if (rz_tokenizer_open(tok, NULL, &t, NULL, &e)) rz_cli_die(&c, &e);
    int V = rz_tokenizer_vocab_size(t);
    int *ids;
    size_t n;
    if (decode) {
        const char *in = rz_cli_records_in(&c, first < argc ? argv[first] : NULL, "token");
        if (rz_corpus_from_stream(in, &c.stream, V, &ids, &n, &e)) rz_cli_die(&c, &e);
        for (size_t i = 0; i < n; i++) {
            size_t len;
            /* BOS and EOS stand for no text (run.c never prints them); the piece after
             * BOS still drops its leading space */
            if (ids[i] == RZ_TOKEN_BOS || ids[i] == RZ_TOKEN_EOS) continue;
            const char *piece = rz_tokenizer_piece(t, i ? ids[i - 1] : -1, ids[i], &len);
            fwrite(piece, 1, len, stdout);
        }
        free(ids);
        rz_tokenizer_free(t);
        return 0;
    }
    if (first < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[first]);
    char *buf;
    size_t len;
    if (rz_read_file(text, &buf, &len, &e)) rz_cli_die(&c, &e);
    if (rz_tokenizer_encode(t, buf, len, bos, 0, &ids, &n, &e)) {
        rz_wrap(&e, "%s", text);
        rz_cli_die(&c, &e);
    }
    free(buf);
    rz_writer *w;
    if (rz_writer_open(c.output, &c.stream, &w, &e)) rz_cli_die(&c, &e);
    int rc = RZ_OK;
    for (size_t i = 0; i < n && rc == RZ_OK; i += (size_t)chunk) {
        size_t k = n - i < (size_t)chunk ? n - i : (size_t)chunk;
        rz_tokens_pack(rz_writer_packer(w), (const int32_t *)ids + i, k, V);
        rc = rz_writer_emit(w, &e);
    }
    if (rc) {
        rz_writer_abort(w, &e);
        rz_cli_die(&c, &e);
    }
    if (rz_writer_close(w, &e)) rz_cli_die(&c, &e);
    rz_cli_progress(&c, 1, "%zu tokens", n);
    free(ids);
    rz_tokenizer_free(t);
    return 0;
}
