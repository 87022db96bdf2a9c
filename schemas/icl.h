/* icl.h — the in-context-learning records (schemas/icl.md): icl_demos (a test item's
 * chosen demonstrations), icl_prompt (a packed prompt), icl_pred (a scored prediction).
 * Decoders validate every field and bound every array before allocating it.
 */
#ifndef RZ_ICL_H
#define RZ_ICL_H

#include <msgpack.h>

#include "record.h"

#define RZ_ICL_DEMOS_VERSION 1
#define RZ_ICL_PROMPT_VERSION 1
#define RZ_ICL_PRED_VERSION 1
#define RZ_ICL_MAX_DEMOS 100000
#define RZ_ICL_MAX_CLASSES 64

typedef struct {
    long test;
    int n;
    long *demos;  /* [n] pool ids, prompt order */
    int *labels;  /* [n] label overrides, or NULL */
    char method[32];
} rz_icl_demos;

void rz_icl_demos_pack(msgpack_packer *pk, const rz_icl_demos *d);
/* Allocates d->demos (and d->labels); free with rz_icl_demos_free. */
int rz_icl_demos_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_icl_demos *d, rz_err *e);
void rz_icl_demos_free(rz_icl_demos *d);

typedef struct {
    long test;
    int gold, shots;
    long tokens;
    const char *text, *cf_text; /* point into the record (not NUL-terminated) */
    size_t text_n, cf_n;
} rz_icl_prompt_rec;

void rz_icl_prompt_pack(msgpack_packer *pk, long test, int gold, int shots, long tokens, const char *text,
                        const char *cf_text);
int rz_icl_prompt_decode(const msgpack_object *rec, const rz_rec_ctx *c, rz_icl_prompt_rec *p, rz_err *e);

void rz_icl_pred_pack(msgpack_packer *pk, long test, int gold, int pred, int L, const double *logp,
                      const double *logp_cf, int shots);

#endif
