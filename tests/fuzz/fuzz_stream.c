/* fuzz_stream.c — libFuzzer target: any bytes as a record stream. The reader and every
 * typed decoder (tensor, tokens, model, qlayer with its v2 low-rank and v3 line-scale
 * fields) must reject bad input with an error, never crash, hang or over-allocate. */
#include <stdio.h>

#include "json.h"
#include "model.h"
#include "qlayer.h"
#include "qrecord.h"
#include "record.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    rz_reader *r;
    rz_err e = {0};
    if (rz_reader_open_mem(data, n, "fuzz", &r, &e)) return 0;
    static FILE *devnull;
    if (!devnull) devnull = fopen("/dev/null", "w");
    for (int i = 0; i < 10000; i++) {
        const msgpack_object *rec;
        rz_rec_ctx ctx;
        if (rz_reader_next(r, &rec, &ctx, &e) || !rec) break;
        rz_tensor_view t;
        if (rz_tensor_decode(rec, &ctx, &t, &e) == 0 && t.count <= (1 << 20) &&
            (t.dtype == RZ_F32 || t.dtype == RZ_F16 || t.dtype == RZ_BF16)) {
            static float buf[1 << 20];
            rz_tensor_to_f32(&t, buf, &ctx, &e);
        }
        const void *ids;
        size_t k;
        int64_t vs;
        rz_tokens_decode(rec, &ctx, &ids, &k, &vs, &e);
        rz_llama_config cfg;
        rz_model_config_decode(rec, &ctx, &cfg, &e);
        rz_qlayer_view q;
        if (rz_qlayer_decode(rec, &ctx, &q, &e) == 0) { /* a valid view: its counts and line scales */
            static float a[RZ_QUANT_MAX_DIM], b[RZ_QUANT_MAX_DIM];
            volatile double bits = rz_qlayer_payload_bits(&q);
            (void)bits;
            rz_qlayer_line_scales(&q, a, b);
        }
        rz_json_print(devnull, rec, i & 1);
    }
    rz_reader_close(r);
    return 0;
}
