/* modelfile.c — dispatch to the model and tokenizer readers (see modelfile.h). */
#include "modelfile.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "gguf.h"
#include "hf.h"

int rz_modelfile_load(const char *path, rz_llama **out, rz_err *e)
{
    if (rz_gguf_is_file(path)) return rz_gguf_load_model(path, out, e);
    if (rz_hf_is_dir(path)) return rz_hf_load_model(path, out, e);
    return rz_llama_load_bin(path, out, e);
}

int rz_modelfile_has_tokenizer(const char *model)
{
    if (!model) return 0;
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/tokenizer.json", model);
    return rz_gguf_is_file(model) || (rz_hf_is_dir(model) && stat(p, &st) == 0);
}

int rz_tokenizer_open(const char *tok, const char *model, rz_tokenizer **out, int *add_bos, rz_err *e)
{
    *out = NULL;
    if (add_bos) *add_bos = 1;
    const char *src = tok ? tok : model;
    if (!src) return rz_fail(e, RZ_EINPUT, "no tokenizer given (-z)");
    if (rz_gguf_is_file(src)) return rz_gguf_load_tokenizer(src, out, add_bos, e);
    struct stat st;
    size_t n = strlen(src);
    int isdir = stat(src, &st) == 0 && S_ISDIR(st.st_mode);
    if (isdir) {
        char p[4096];
        snprintf(p, sizeof p, "%s/tokenizer.json", src);
        if (stat(p, &st) != 0)
            return rz_fail(e, RZ_EINPUT,
                           "%s: is a directory without tokenizer.json (expected a llama2.c tokenizer file, a GGUF "
                           "model or a Hugging Face folder)", src);
    }
    if (isdir || (n >= 5 && strcmp(src + n - 5, ".json") == 0)) return rz_hf_load_tokenizer(src, out, e);
    if (!tok)
        return rz_fail(e, RZ_EINPUT, "%s: this model carries no tokenizer (llama2.c .bin or .rzm): give -z TOKENIZER",
                       model);
    return rz_tokenizer_load(tok, out, e);
}
