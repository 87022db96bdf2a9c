/* safetensors.h — Hugging Face safetensors files, read-only, memory-mapped.
 *
 * Format: u64 little-endian N, then N bytes of JSON: an object mapping each tensor name
 * to {"dtype": "F32"|"F16"|"BF16"|..., "shape": [d0, d1, ...], "data_offsets": [begin,
 * end]} (and an optional "__metadata__" object of strings), then the data; offsets are
 * relative to the data start. Row-major, little-endian.
 *
 * Checked before use (rz_safetensors_open): N at most 100 MB and inside the file, the
 * JSON well-formed (pipeline/json.c), every entry's fields present and typed, the
 * dtype one of F32/F16/BF16 (others refused naming the tensor and dtype), shape × dtype
 * size = end - begin (overflow-checked), and the tensors tiling the data section
 * exactly: sorted by offset they are contiguous from 0 to the end of the file, so none
 * overlaps and none points outside. Duplicate names are refused.
 */
#ifndef RZ_SAFETENSORS_H
#define RZ_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "rz.h"

#define RZ_ST_MAX_DIMS 8

typedef struct {
    char name[256];
    int dtype; /* 0 F32, 1 F16, 2 BF16 */
    int ndim;
    int64_t shape[RZ_ST_MAX_DIMS];
    uint64_t begin, end; /* in the data section */
} rz_st_tensor;

typedef struct {
    const char *path;
    unsigned char *map;
    size_t size, data; /* file size; offset of the data section */
    int n;
    rz_st_tensor *t;
} rz_safetensors;

int rz_safetensors_open(const char *path, rz_safetensors *s, rz_err *e);
void rz_safetensors_close(rz_safetensors *s);
const rz_st_tensor *rz_safetensors_find(const rz_safetensors *s, const char *name);
/* The tensor's values as float32 into dst (count = product of the shape). */
void rz_safetensors_read_f32(const rz_safetensors *s, const rz_st_tensor *t, float *dst);

#endif
