/* versions.h — which versions of each record type this build reads.
 *
 * rz_rec_version_check(ctx, type, v, e): RZ_OK when v is a version of `type` this build
 * reads, or when `type` is not in the table (its reader checks its own fields); else
 * RZ_EINPUT naming the record and field "v" and the versions read. The stream reader
 * (pipeline/stream.c) calls it for every record, so an unknown version exits 2 before any
 * field is trusted, as schemas/README.md promises.
 */
#ifndef RZ_VERSIONS_H
#define RZ_VERSIONS_H

#include <stdint.h>

#include "record.h"

int rz_rec_version_check(const rz_rec_ctx *c, const char *type, int64_t v, rz_err *e);

#endif
