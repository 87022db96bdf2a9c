/* pngenc.h — writing RGB pictures as PNG without a compression library.
 *
 * The image data goes into stored (uncompressed) deflate blocks of at most 65535 bytes
 * inside a zlib stream, so the file is w·h·3 bytes plus about 1%: fine for the small
 * diagnostic pictures (grid values, trajectories) the tools draw. Written to PATH.tmp
 * and renamed into place, so a failed write never leaves a half file.
 */
#ifndef RZ_PNGENC_H
#define RZ_PNGENC_H

#include "rz.h"

/* An RGB image (w × h × 3 bytes, rows top to bottom) written as PNG. */
int rz_png_write(const char *path, int w, int h, const unsigned char *rgb, rz_err *e);

#endif
