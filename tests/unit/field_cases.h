/* field_cases.h — records written field by field for tests of a decoder's refusals:
 * every field good but one, which is given a bad value, so a test can require that the
 * decoder refuses naming exactly that field. A value is an integer, a string, the
 * double 1.5, or an array of integers. */
#ifndef RZ_TEST_FIELD_CASES_H
#define RZ_TEST_FIELD_CASES_H

#include <msgpack.h>
#include <stdint.h>

#include "record.h"

typedef struct {
    char t;           /* 'i' integer i, 's' string s, 'f' the double 1.5, 'a' array of i integers */
    int64_t i;
    const char *s;
    const int64_t *a; /* 'a': the i integers (NULL: all 1) */
} fc_val;
typedef struct {
    const char *key;
    fc_val good, bad[3];
    int nbad;
} fc_field;

static inline void fc_pack(msgpack_packer *pk, const char *key, fc_val v)
{
    switch (v.t) {
    case 'i': rz_rec_int(pk, key, v.i); break;
    case 's': rz_rec_str(pk, key, v.s); break;
    case 'f': rz_rec_f64(pk, key, 1.5); break;
    case 'a':
        rz_rec_key(pk, key);
        msgpack_pack_array(pk, (size_t)v.i);
        for (int k = 0; k < v.i; k++) msgpack_pack_int64(pk, v.a ? v.a[k] : 1);
        break;
    }
}

/* A record of type `type` (version 1) with fields f, field `bad` (-1: none) given v. */
static inline void fc_pack_record(msgpack_packer *pk, const char *type, const fc_field *f, int n, int bad, fc_val v)
{
    rz_rec_begin(pk, type, 1, n);
    for (int i = 0; i < n; i++) fc_pack(pk, f[i].key, i == bad ? v : f[i].good);
}

#endif
