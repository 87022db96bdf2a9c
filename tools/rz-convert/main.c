/* rz-convert — move a model between llama2.c's .bin checkpoint and rizz's .rzm record
 * stream, or make a random model of any shape from a seed (for tests and benchmarks).
 *
 * The output format follows the output name (*.bin -> llama2.c, anything else -> .rzm)
 * unless --to says otherwise. Outputs appear only when complete. */
#include <string.h>

#include "cli.h"
#include "model_io.h"

static const rz_cli_tool tool = {
    .name = "rz-convert",
    .summary = "convert a model between llama2.c .bin and .rzm, or make a random one",
    .usage = "rz-convert [IN] [-o OUT] [--to bin|rzm] [--dtype f32|f16|bf16]\n"
             "rz-convert --random --dim D --layers L --heads H [--kv-heads K] --hidden F\n"
             "           --vocab V --seq-len S [--unshared] [--seed N] -o OUT\n",
    .about = "IN is a llama2.c .bin checkpoint or an .rzm stream (file, '-', tcp://, ipc://);\n"
             "it defaults to stdin (an .rzm stream), OUT to stdout (.rzm; never a terminal).\n",
    .examples = "rz-convert stories260K.bin -o stories260K.rzm\n"
                "rz-convert stories260K.bin | rz-cat | jq -c .name\n"
                "rz-convert --random --dim 768 --layers 12 --heads 12 --hidden 2048 --vocab 32000 \\\n"
                "           --seq-len 1024 --seed 7 -o s110m.rzm\n",
};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void opt_to(rz_cli *c, const char *arg, void *to)
{
    if (strcmp(arg, "bin") && strcmp(arg, "rzm")) rz_cli_usage_error(c, "--to: expected bin or rzm, got '%s'", arg);
    *(const char **)to = arg;
}

static void opt_dtype(rz_cli *c, const char *arg, void *dtype)
{
    rz_dtype *d = dtype;
    if (rz_dtype_parse(arg, d) || (*d != RZ_F32 && *d != RZ_F16 && *d != RZ_BF16))
        rz_cli_usage_error(c, "--dtype: expected f32, f16 or bf16, got '%s'", arg);
}

int main(int argc, char **argv)
{
    rz_cli c;
    const char *to = NULL;
    rz_dtype dtype = RZ_F32;
    int random = 0;
    rz_llama_config cfg = {0, 0, 0, 0, 0, 0, 0, 1, 10000.0f, 1e-5f};
    const int max = 1 << 24;
    rz_opt opts[] = {
        RZ_O_FN("to", 0, "FMT", opt_to, &to,
                "output format: bin (llama2.c legacy) or rzm (record stream);\n"
                "default from OUT's name: *.bin -> bin, else rzm"),
        RZ_O_FN("dtype", 0, "T", opt_dtype, &dtype, ".rzm tensor storage: f32 (default), f16, bf16"),
        RZ_O_FLAG("random", 0, random, "a random model (linears N(0, 0.02^2), norms 1) from --seed (default 1)"),
        RZ_O_INT("dim", 0, "D", cfg.dim, 1, max, "random model: embedding width"),
        RZ_O_INT("layers", 0, "L", cfg.n_layers, 1, 4096, "random model: transformer layers"),
        RZ_O_INT("heads", 0, "H", cfg.n_heads, 1, 4096, "random model: attention heads"),
        RZ_O_INT("kv-heads", 0, "K", cfg.n_kv_heads, 1, 4096, "random model: key/value heads (default --heads)"),
        RZ_O_INT("hidden", 0, "F", cfg.hidden_dim, 1, max, "random model: feed-forward width"),
        RZ_O_INT("vocab", 0, "V", cfg.vocab_size, 1, max, "random model: vocabulary size"),
        RZ_O_INT("seq-len", 0, "S", cfg.seq_len, 1, max, "random model: context length"),
        RZ_O_SET("unshared", 0, cfg.shared_classifier, 0, "random model with its own classifier (default: shared embeddings)"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (random && first < argc) rz_cli_usage_error(&c, "give either IN or --random");
    if (argc - first > 1) rz_cli_usage_error(&c, "one input only");
    const char *in = random ? NULL : rz_cli_records_in(&c, first < argc ? argv[first] : NULL, "model");
    c.output = rz_cli_records_out(&c);
    if (!to) to = ends_with(c.output, ".bin") ? "bin" : "rzm";
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
        rc = rz_model_load(in, &c.stream, &m, &e);
    }
    if (rc == RZ_OK) {
        rz_cli_progress(&c, 0, "writing %s (%s)", c.output, to);
        rc = strcmp(to, "bin") == 0 ? rz_llama_save_bin(m, c.output, &e)
                                    : rz_model_save_rzm(m, c.output, dtype, &c.stream, &e);
    }
    rz_llama_free(m);
    if (rc) rz_cli_die(&c, &e);
    return 0;
}
