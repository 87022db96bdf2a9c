/* rz-convert — move a model between llama2.c's .bin checkpoint and rizz's .rzm record
 * stream, or make a random model of any shape from a seed (for tests and benchmarks).
 *
 * The output format follows the output name (*.bin -> llama2.c, anything else -> .rzm)
 * unless --to says otherwise. Outputs appear only when complete. */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "gguf.h"
#include "model.h"
#include "modelfile.h"

static const char usage[] =
    "usage: rz-convert IN -o OUT [--to bin|rzm] [--dtype f32|f16|bf16]\n"
    "       rz-convert --random --dim D --layers L --heads H [--kv-heads K] --hidden F\n"
    "                  --vocab V --seq-len S [--unshared] [--seed N] -o OUT\n"
    "IN is a llama2.c .bin checkpoint, an .rzm stream (file, '-', tcp://, ipc://), a GGUF\n"
    "file or a Hugging Face Llama folder (config.json + *.safetensors).\n"
    "  --to FMT       output format: bin (llama2.c legacy), rzm (record stream) or gguf\n"
    "                 (llama.cpp); default from OUT's name: *.bin, *.gguf, else rzm\n"
    "  --dtype T      tensor storage: f32 (default), f16, bf16 (.rzm), q8_0 (GGUF: matrices\n"
    "                 whose rows are a multiple of 32; others f16)\n"
    "  -z, --tokenizer F  GGUF: the tokenizer to embed (default: IN's own, GGUF or HF)\n"
    "  --random       a random model (linears N(0, 0.02^2), norms 1) from --seed (default 1)\n"
    "  --unshared     random model with its own classifier (default: shared embeddings)\n"
    "Examples:\n"
    "  rz-convert stories260K.bin -o stories260K.rzm\n"
    "  rz-convert stories260K.bin -z tok512.bin --dtype q8_0 -o stories260K-q8_0.gguf\n"
    "  rz-convert --random --dim 768 --layers 12 --heads 12 --hidden 2048 --vocab 32000 \\\n"
    "             --seq-len 1024 --seed 7 -o s110m.rzm\n";

enum {
    OPT_TO = RZ_OPT_TOOL_BASE, OPT_DTYPE, OPT_RANDOM, OPT_DIM, OPT_LAYERS, OPT_HEADS,
    OPT_KV_HEADS, OPT_HIDDEN, OPT_VOCAB, OPT_SEQ_LEN, OPT_UNSHARED
};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        RZ_CLI_LONGOPTS,
        {"to", required_argument, 0, OPT_TO},
        {"dtype", required_argument, 0, OPT_DTYPE},
        {"random", no_argument, 0, OPT_RANDOM},
        {"dim", required_argument, 0, OPT_DIM},
        {"layers", required_argument, 0, OPT_LAYERS},
        {"heads", required_argument, 0, OPT_HEADS},
        {"kv-heads", required_argument, 0, OPT_KV_HEADS},
        {"hidden", required_argument, 0, OPT_HIDDEN},
        {"vocab", required_argument, 0, OPT_VOCAB},
        {"seq-len", required_argument, 0, OPT_SEQ_LEN},
        {"unshared", no_argument, 0, OPT_UNSHARED},
        {"tokenizer", required_argument, 0, 'z'},
        {0, 0, 0, 0}};
    rz_cli c;
    rz_cli_init(&c, "rz-convert", usage);
    const char *to = NULL, *tok = NULL;
    int q8 = 0;
    rz_dtype dtype = RZ_F32;
    int random = 0, o;
    rz_llama_config cfg = {0, 0, 0, 0, 0, 0, 0, 1, 10000.0f, 1e-5f};
    const int max = 1 << 24;
    while ((o = getopt_long(argc, argv, RZ_CLI_SHORTOPTS "z:", opts, NULL)) != -1) {
        if (rz_cli_common(&c, o, optarg)) continue;
        switch (o) {
        case OPT_TO:
            if (strcmp(optarg, "bin") && strcmp(optarg, "rzm") && strcmp(optarg, "gguf"))
                rz_cli_usage_error(&c, "--to: expected bin, rzm or gguf, got '%s'", optarg);
            to = optarg;
            break;
        case 'z': tok = optarg; break;
        case OPT_DTYPE:
            if ((q8 = strcmp(optarg, "q8_0") == 0)) break;
            if (rz_dtype_parse(optarg, &dtype) || (dtype != RZ_F32 && dtype != RZ_F16 && dtype != RZ_BF16))
                rz_cli_usage_error(&c, "--dtype: expected f32, f16, bf16 or q8_0, got '%s'", optarg);
            break;
        case OPT_RANDOM: random = 1; break;
        case OPT_DIM: cfg.dim = (int)rz_cli_int(&c, "--dim", optarg, 1, max); break;
        case OPT_LAYERS: cfg.n_layers = (int)rz_cli_int(&c, "--layers", optarg, 1, 4096); break;
        case OPT_HEADS: cfg.n_heads = (int)rz_cli_int(&c, "--heads", optarg, 1, 4096); break;
        case OPT_KV_HEADS: cfg.n_kv_heads = (int)rz_cli_int(&c, "--kv-heads", optarg, 1, 4096); break;
        case OPT_HIDDEN: cfg.hidden_dim = (int)rz_cli_int(&c, "--hidden", optarg, 1, max); break;
        case OPT_VOCAB: cfg.vocab_size = (int)rz_cli_int(&c, "--vocab", optarg, 1, max); break;
        case OPT_SEQ_LEN: cfg.seq_len = (int)rz_cli_int(&c, "--seq-len", optarg, 1, max); break;
        case OPT_UNSHARED: cfg.shared_classifier = 0; break;
        default: rz_cli_usage_error(&c, "unexpected option");
        }
    }
    if (!c.output) rz_cli_usage_error(&c, "-o OUT is required");
    if (random == (optind < argc)) rz_cli_usage_error(&c, "give either IN or --random");
    if (argc - optind > 1) rz_cli_usage_error(&c, "one input only");
    if (!to) to = ends_with(c.output, ".bin") ? "bin" : ends_with(c.output, ".gguf") ? "gguf" : "rzm";
    int gguf = strcmp(to, "gguf") == 0;
    if (gguf && dtype == RZ_BF16) rz_cli_usage_error(&c, "GGUF output: --dtype f32, f16 or q8_0");
    if (!gguf && q8) rz_cli_usage_error(&c, "--dtype q8_0 is for GGUF output");
    if (gguf && (strcmp(c.output, "-") == 0 || rz_is_endpoint(c.output)))
        rz_cli_usage_error(&c, "a GGUF file is written to a file only");
    if (strcmp(to, "bin") == 0 && (strcmp(c.output, "-") == 0 || rz_is_endpoint(c.output)))
        rz_cli_usage_error(&c, "a llama2.c .bin is written to a file only");

    rz_err e = {0};
    rz_llama *m = NULL;
    int rc;
    if (random) {
        if (!cfg.dim || !cfg.n_layers || !cfg.n_heads || !cfg.hidden_dim || !cfg.vocab_size || !cfg.seq_len)
            rz_cli_usage_error(&c, "--random needs --dim, --layers, --heads, --hidden, --vocab and --seq-len");
        if (!cfg.n_kv_heads) cfg.n_kv_heads = cfg.n_heads;
        if (!c.seed_set) c.seed = 1;
        rc = rz_llama_random(&cfg, c.seed, &m, &e);
    } else {
        rc = rz_model_load(argv[optind], &c.stream, &m, &e);
    }
    if (rc == RZ_OK) {
        rz_cli_progress(&c, 0, "writing %s (%s)", c.output, to);
        if (gguf) {
            rz_tokenizer *t = NULL;
            rc = rz_tokenizer_open(tok, random ? NULL : argv[optind], &t, NULL, &e);
            rz_gguf_type gt = q8 ? RZ_GGUF_Q8_0 : dtype == RZ_F16 ? RZ_GGUF_F16 : RZ_GGUF_F32;
            if (rc == RZ_OK) rc = rz_gguf_save(m, t, gt, c.output, &e);
            rz_tokenizer_free(t);
        } else {
            rc = strcmp(to, "bin") == 0 ? rz_llama_save_bin(m, c.output, &e)
                                        : rz_model_save_rzm(m, c.output, dtype, &c.stream, &e);
        }
    }
    rz_llama_free(m);
    if (rc) rz_cli_die(&c, &e);
    return 0;
}
