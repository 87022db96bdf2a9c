/* bench_act8.c — what int8 inputs cost in quality (qdot.h RZ_QDOT_AUTO_I8 against the
 * float kernels and the dense float32 path), on a packed model read from its codes.
 *
 * The text is tokenised (no BOS) and cut into windows of ctx tokens; each window is run
 * token by token (T = 1: the fused decode kernels, as generation uses them), and
 * positions 1 .. ctx − 1 are scored. Three runs: the model loaded as codes with the
 * float kernels (RZ_QDOT_AUTO), the same with int8 inputs (RZ_QDOT_AUTO_I8), and the
 * model decoded to float32 (rz_model_load: sgemv, no kernels). Printed per run: the
 * perplexity, and against the float-kernel run: the fraction of positions whose argmax
 * token agrees and the largest |Δ logit|.
 *
 * usage: bench_act8 MODEL.rzm TOKENIZER TEXT [tokens [ctx]]   (defaults 4096, 256)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"
#include "model_io.h"
#include "modelfile.h"
#include "qdot.h"
#include "readfile.h"
#include "rz.h"
#include "tokenizer.h"

static void die(const rz_err *e)
{
    fprintf(stderr, "bench_act8: %s\n", e->msg);
    exit(1);
}

/* Runs the windows token by token; returns the perplexity; logits of every scored
 * position into all (n_scored × vocab). */
static double run(const rz_llama *m, const int *tok, int ntok, int ctx, float *all)
{
    rz_err e = {0};
    rz_llama_state *s;
    int V = m->config.vocab_size;
    if (rz_llama_state_new(m, 1, ctx, &s, &e)) die(&e);
    double nll = 0;
    long k = 0;
    for (int w0 = 0; w0 + ctx <= ntok; w0 += ctx)
        for (int p = 0; p + 1 < ctx; p++, k++) {
            float *lg = all + (size_t)k * V;
            rz_llama_forward(m, s, tok + w0 + p, 1, p, lg);
            double l;
            rz_log_softmax_nll(lg, 1, V, tok + w0 + p + 1, &l);
            nll += l;
        }
    rz_llama_state_free(s);
    return exp(nll / (double)k);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_act8 MODEL.rzm TOKENIZER TEXT [tokens [ctx]]\n");
        return 2;
    }
    int want = argc > 4 ? atoi(argv[4]) : 4096, ctx = argc > 5 ? atoi(argv[5]) : 256;
    rz_err e = {0};
    rz_llama *mq, *md;
    rz_tokenizer *t;
    if (rz_model_load_codes(argv[1], NULL, &mq, &e) || rz_model_load(argv[1], NULL, &md, &e)) die(&e);
    if (rz_tokenizer_open(argv[2], argv[1], &t, NULL, &e)) die(&e);
    char *text;
    size_t len;
    if (rz_read_file(argv[3], &text, &len, &e)) die(&e);
    int *ids;
    size_t n;
    if (rz_tokenizer_encode(t, text, len, 0, 0, &ids, &n, &e)) die(&e);
    int ntok = (int)n < want ? (int)n : want;
    if (ctx > mq->config.seq_len) ctx = mq->config.seq_len;
    long scored = (long)(ntok / ctx) * (ctx - 1);
    int V = mq->config.vocab_size;
    float *ref = malloc(sizeof(float) * (size_t)scored * V), *cur = malloc(sizeof(float) * (size_t)scored * V);
    if (!ref || !cur || scored == 0) return 1;
    printf("%s: %d tokens in windows of %d, token by token, %ld positions scored\n", argv[1], ntok, ctx, scored);
    const char *names[4] = {"codes, float kernels", "codes, int8 inputs", "dense float32 (sgemv)", "codes, ref-i8 (portable)"};
    for (int r = 0; r < 4; r++) {
        if (r != 2) rz_llama_set_qdot(mq, r == 0 ? RZ_QDOT_AUTO : r == 1 ? RZ_QDOT_AUTO_I8 : RZ_QDOT_REF_I8);
        double ppl = run(r != 2 ? mq : md, ids, ntok, ctx, r == 0 ? ref : cur);
        if (r == 0) {
            printf("  %-24s ppl %.4f\n", names[r], ppl);
            continue;
        }
        long agree = 0;
        double dmax = 0;
        for (long k = 0; k < scored; k++) {
            agree += rz_llama_argmax(ref + (size_t)k * V, V) == rz_llama_argmax(cur + (size_t)k * V, V);
            for (int v = 0; v < V; v++) dmax = fmax(dmax, fabs((double)ref[(size_t)k * V + v] - cur[(size_t)k * V + v]));
        }
        printf("  %-24s ppl %.4f   argmax as float kernels %.4f   max |d logit| %.4g\n", names[r], ppl,
               (double)agree / (double)scored, dmax);
    }
    free(ref), free(cur), free(ids), free(text);
    rz_tokenizer_free(t);
    rz_llama_free(mq), rz_llama_free(md);
    return 0;
}
