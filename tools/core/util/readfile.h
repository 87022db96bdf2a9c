/* readfile.h — a whole file into memory, bounded: rz_read_file (texts for the
 * tokenizers, tokenizer.json and config.json of Hugging Face folders). Below lm so that
 * both corpus.c and the model readers (hf.c) use the one copy without an include cycle.
 */
#ifndef RZ_READFILE_H
#define RZ_READFILE_H

#include <stddef.h>

#include "rz.h"

#define RZ_MAX_TEXT_BYTES ((size_t)1 << 32) /* 4 GiB of text at most */

/* Reads a whole file ("-" = stdin), at most RZ_MAX_TEXT_BYTES. *buf is malloc'ed. */
int rz_read_file(const char *path, char **buf, size_t *n, rz_err *e);

#endif
