/* rz-tokenize — text to a stream of "tokens" records (llama2.c encoding of the whole
 * text as one stream), so that token ids can be made once and fed to rz-ppl and other
 * tools over files, pipes or ZeroMQ. --decode turns a token stream back into text. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "corpus.h"
#include "modelfile.h"

static const char usage[] =
    "usage: rz-tokenize -z TOKENIZER -f TEXT [--bos] [--chunk N] -o LOC\n"
    "       rz-tokenize -z TOKENIZER --decode [IN]\n"
    "  -z, --tokenizer F   llama2.c tokenizer file, a GGUF model (its vocabulary) or a\n"
    "                      tokenizer.json\n"
    "  -f, --file TEXT     UTF-8 text ('-' = stdin)\n"
    "      --bos           start with BOS (id 1)\n"
    "      --chunk N       ids per \"tokens\" record (default 65536)\n"
    "      --decode        print the text of a token stream (default IN '-')\n"
    "Example:\n"
    "  rz-tokenize -z tok512.bin -f valid.txt -o tcp://:5555 &\n"
    "  rz-ppl -m stories260K.bin --tokens tcp://127.0.0.1:5555\n";

enum { OPT_BOS = RZ_OPT_TOOL_BASE, OPT_CHUNK, OPT_DECODE };

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        RZ_CLI_LONGOPTS,
        {"tokenizer", required_argument, 0, 'z'},
        {"file", required_argument, 0, 'f'},
        {"bos", no_argument, 0, OPT_BOS},
        {"chunk", required_argument, 0, OPT_CHUNK},
        {"decode", no_argument, 0, OPT_DECODE},
        {0, 0, 0, 0}};
    rz_cli c;
    rz_cli_init(&c, "rz-tokenize", usage);
    const char *tok = NULL, *text = NULL;
    int bos = 0, decode = 0, o;
    long chunk = 65536;
    while ((o = getopt_long(argc, argv, RZ_CLI_SHORTOPTS "z:f:", opts, NULL)) != -1) {
        if (rz_cli_common(&c, o, optarg)) continue;
        switch (o) {
        case 'z': tok = optarg; break;
        case 'f': text = optarg; break;
        case OPT_BOS: bos = 1; break;
        case OPT_CHUNK: chunk = rz_cli_int(&c, "--chunk", optarg, 1, 1 << 28); break;
        case OPT_DECODE: decode = 1; break;
        default: rz_cli_usage_error(&c, "unexpected option");
        }
    }
    if (!tok) rz_cli_usage_error(&c, "-z TOKENIZER is required");
    if (!decode && !text) rz_cli_usage_error(&c, "-f TEXT is required");
    if (!decode && !c.output) rz_cli_usage_error(&c, "-o LOC is required");
    rz_err e = {0};
    rz_tokenizer *t;
    if (rz_tokenizer_open(tok, NULL, &t, NULL, &e)) rz_cli_die(&c, &e);
    int V = rz_tokenizer_vocab_size(t);
    int *ids;
    size_t n;
    if (decode) {
        const char *in = optind < argc ? argv[optind] : "-";
        if (rz_corpus_from_stream(in, &c.stream, V, &ids, &n, &e)) rz_cli_die(&c, &e);
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const char *piece = rz_tokenizer_piece(t, i ? ids[i - 1] : -1, ids[i], &len);
            fwrite(piece, 1, len, stdout);
        }
        free(ids);
        rz_tokenizer_free(t);
        return 0;
    }
    if (optind < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
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
