/* rz-generate — text from a model, as llama2.c's run does: the prompt (with BOS) is
 * prefilled in one forward call, then one token per call with the KV cache. Greedy at
 * --temp 0; otherwise temperature + top-p (nucleus) sampling from a seeded generator.
 *
 * Output: the decoded text on stdout (followed by a newline, as run prints), or with -o
 * a stream of one "tokens" record holding prompt + generated ids. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model_io.h"
#include "modelfile.h"
#include "qdot.h"
#include "sampler.h"
#include "tokenizer.h"

static const rz_cli_tool tool = {
    .name = "rz-generate",
    .summary = "text from a model (greedy or temperature + top-p sampling)",
    .usage = "rz-generate -m MODEL [-z TOKENIZER] [-p PROMPT] [-n STEPS] [--temp T] [--top-p P]\n",
    .examples = "rz-generate -m stories260K.bin -z tok512.bin --temp 0\n",
    .report = "tokens_generated, prompt_tokens, tokens_per_s, kernels",
    .output_help = "write the ids as a \"tokens\" record stream instead of text",
};

static uint64_t rng_state;

/* xorshift64*: uniform in [0, 1) with 24 bits */
static float rng_f32(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (float)((rng_state * 0x2545F4914F6CDD1DULL) >> 40) / 16777216.0f;
}

int main(int argc, char **argv)
{
    rz_cli c;
    const char *model = NULL, *tok = NULL, *prompt = "";
    const char *rope_ext = NULL, *rope_scale = NULL, *chunk = NULL, *local = NULL;
    int steps = 256, dense = 0, int8 = 0;
    float temp = 1.0f, top_p = 0.9f;
    rz_opt opts[] = {
        RZ_O_STR("model", 'm', "LOC", model, "llama2.c .bin, .rzm, GGUF or Hugging Face folder"),
        RZ_O_STR("tokenizer", 'z', "F", tok, "tokenizer file (default: a GGUF or HF model's own)"),
        RZ_O_STR("prompt", 'p', "TEXT", prompt, "prompt (default: empty, generation starts from BOS)"),
        RZ_O_INT("steps", 'n', "N", steps, 1, 1 << 20, "total positions, prompt included, as llama2.c (default 256)"),
        RZ_O_F32("temp", 0, "T", temp, 0, 100, "temperature; 0 = greedy (default 1.0)"),
        RZ_O_F32("top-p", 0, "P", top_p, 0.001, 1, "nucleus sampling mass (default 0.9; 1 = off)"),
        RZ_O_STR("rope-ext", 0, "M", rope_ext,
                 "generate past the model's context: none (extrapolation), pi,\n"
                 "ntk, yarn, dca, as in rz-ppl (without it --steps stops at the\n"
                 "model's context)"),
        RZ_O_STR("rope-scale", 0, "F", rope_scale, "pi/ntk/yarn: extension factor"),
        RZ_O_STR("chunk", 0, "S", chunk, "dca: chunk size"),
        RZ_O_STR("local", 0, "W", local, "dca: local window"),
        RZ_O_FLAG("dense", 0, dense,
                  "packed models: decode quantised layers to float32 at load\n"
                  "(default: keep their codes; decode works on them directly)"),
        RZ_O_FLAG("int8", 0, int8,
                  "quantised layers: round their inputs to int8 in the one-token steps (the int8\n"
                  "kernels: 2-4x faster steps for e8p and the grids on a 110M model, bench/README;\n"
                  "logits move by the int8 step)"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (first < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[first]);
    if (!model || (!tok && !rz_modelfile_has_tokenizer(model)))
        rz_cli_usage_error(&c, "-m MODEL and -z TOKENIZER are required (-z is optional for GGUF models)");
    rz_cli_threads(&c);
    rng_state = c.seed_set ? c.seed * 2654435761ULL + 1 : 0x9E3779B97F4A7C15ULL;

    rz_err e = {0};
    rz_llama *m;
    rz_tokenizer *t;
    if ((dense ? rz_model_load : rz_model_load_codes)(model, &c.stream, &m, &e)) rz_cli_die(&c, &e);
    if (int8) rz_llama_set_qdot(m, RZ_QDOT_AUTO_I8);
    if (rz_tokenizer_open(tok, model, &t, NULL, &e)) rz_cli_die(&c, &e);
    int V = m->config.vocab_size;
    if (rz_tokenizer_vocab_size(t) != V) {
        rz_fail(&e, RZ_EINPUT, "%s: tokenizer has %d tokens but the model's vocabulary is %d", tok ? tok : model,
                rz_tokenizer_vocab_size(t), V);
        rz_cli_die(&c, &e);
    }
    /* llama2.c caps the steps at the model's context; a RoPE extension lifts the cap */
    if (steps > m->config.seq_len && !rope_ext) steps = m->config.seq_len;
    rz_rope_method rope;
    if (rz_rope_parse(rope_ext, rope_scale, chunk, local, m->config.seq_len, m->config.rope_theta, &rope, &e) ||
        rz_rope_check(&rope, m->config.dim / m->config.n_heads, &e))
        rz_cli_die(&c, &e);
    int *pids;
    size_t np;
    if (rz_tokenizer_encode(t, prompt, strlen(prompt), 1, 0, &pids, &np, &e)) rz_cli_die(&c, &e);
    if ((int)np > steps) {
        rz_fail(&e, RZ_EINPUT, "the prompt has %zu tokens, more than --steps %d", np, steps);
        rz_cli_die(&c, &e);
    }
    rz_llama_state *st;
    if (rz_llama_state_new_ext(m, (int)np, steps, &rope, &st, &e)) rz_cli_die(&c, &e);
    float *logits = rz_malloc((size_t)np * (size_t)V * sizeof *logits, &e);
    rz_prob_id *buf = rz_malloc((size_t)V * sizeof *buf, &e);
    int32_t *out = rz_malloc(((size_t)steps + 1) * sizeof *out, &e);
    if (!logits || !buf || !out) rz_cli_die(&c, &e);

    /* prefill the prompt; its last row predicts the first new token */
    double t0 = rz_now();
    rz_llama_forward(m, st, pids, (int)np, 0, logits);
    for (size_t i = 0; i < np; i++) out[i] = pids[i];
    int n_out = (int)np, token = pids[np - 1], pos = (int)np - 1;
    float *last = logits + (np - 1) * (size_t)V;
    if (!c.output) /* echo the prompt as run does: pieces after BOS */
        for (size_t i = 1; i < np; i++) {
            size_t len;
            const char *piece = rz_tokenizer_piece(t, pids[i - 1], pids[i], &len);
            fwrite(piece, 1, len, stdout);
        }
    while (pos < steps) { /* last = the logits at position pos */
        int next = temp == 0 ? rz_llama_argmax(last, V) : rz_sample_top_p(last, V, temp, top_p, rng_f32(), buf);
        pos++;
        if (next == RZ_TOKEN_BOS) break; /* llama2.c's stop condition */
        if (!c.output) {
            size_t len;
            const char *piece = rz_tokenizer_piece(t, token, next, &len);
            /* like run's safe_printf: drop lone control bytes */
            if (!(len == 1 && (unsigned char)piece[0] < 32 && piece[0] != '\n' && piece[0] != '\t'))
                fwrite(piece, 1, len, stdout);
            fflush(stdout);
        }
        out[n_out++] = next;
        token = next;
        if (pos >= steps) break;
        rz_llama_forward(m, st, &token, 1, pos, logits);
        last = logits;
    }
    double secs = rz_now() - t0;
    int rc = RZ_OK;
    if (c.output) {
        rz_writer *w;
        if ((rc = rz_writer_open(c.output, &c.stream, &w, &e)) == RZ_OK) {
            rz_tokens_pack(rz_writer_packer(w), out, (size_t)n_out, V);
            if ((rc = rz_writer_emit(w, &e))) rz_writer_abort(w, &e);
            else rc = rz_writer_close(w, &e);
        }
    } else {
        putchar('\n');
    }
    if (rc) rz_cli_die(&c, &e);
    if (!c.quiet) fprintf(stderr, "rz-generate: %d tokens, %.1f tokens/s\n", n_out - (int)np, (n_out - (int)np) / secs);
    /* which fused kernels ran the one-token steps (none: every weight float32) */
    char kern[96] = "none";
    if (m->qlin || m->qemb || m->qout)
        snprintf(kern, sizeof kern, int8 ? "%s, grids %s, e8p nibbles %s" : "%s",
                 int8 ? rz_qdot_name(rz_qdot_best_i8()) : rz_qdot_name(rz_qdot_best()), rz_qdot_grid_i8_name(),
                 rz_qdot_e8p2n_name());
    msgpack_packer *pk = rz_report_begin(&c, 4);
    rz_rec_int(pk, "tokens_generated", n_out - (int)np);
    rz_rec_int(pk, "prompt_tokens", (int64_t)np);
    rz_rec_f64(pk, "tokens_per_s", (n_out - (int)np) / secs);
    rz_rec_str(pk, "kernels", kern);
    if (c.json) fflush(stdout);
    if (rz_report_finish(&c, &e)) rz_cli_die(&c, &e);
    free(out);
    free(buf);
    free(logits);
    free(pids);
    rz_llama_state_free(st);
    rz_tokenizer_free(t);
    rz_llama_free(m);
    return 0;
}
