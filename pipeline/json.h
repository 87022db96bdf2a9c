/* json.h — records as JSON lines and back (used by rz-cat and every --json report).
 *
 * Mapping: map -> object, array -> array, str -> string, int -> integer, float ->
 * number printed with 17 significant digits (so it parses back to the same double;
 * NaN and infinities, which JSON lacks, become the strings "NaN", "Infinity",
 * "-Infinity"), bool/nil -> true/false/null. Binary data -> {"$bin": "<base64>"} in
 * full mode, or a summary {"$bytes": N} otherwise (tensor records also get a "$stats"
 * object: min, max, mean, rms of the values). Summaries cannot be converted back.
 */
#ifndef RZ_JSON_H
#define RZ_JSON_H

#include <msgpack.h>
#include <stdio.h>

#include "rz.h"

void rz_json_print(FILE *out, const msgpack_object *o, int full);
/* Parses one JSON value from text[0..n) and packs it. Trailing whitespace only. */
int rz_json_to_msgpack(const char *text, size_t n, msgpack_packer *pk, rz_err *e);
/* Parses one JSON value into *out, whose strings point into *buf (both initialised
 * here; release with msgpack_unpacked_destroy and msgpack_sbuffer_destroy, also after a
 * failure). */
int rz_json_parse(const char *text, size_t n, msgpack_sbuffer *buf, msgpack_unpacked *out, rz_err *e);

#endif
