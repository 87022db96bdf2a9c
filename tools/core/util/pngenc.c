/* pngenc.c — RGB images as PNG files: stored (uncompressed) deflate blocks inside zlib
 * framing (Adler-32), CRC-32 per chunk (see pngenc.h). */
#include "pngenc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t crc_table[256];
static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}
static uint32_t crc_update(uint32_t c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c;
}
static void put32(unsigned char *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}
static void chunk(FILE *f, const char *type, const unsigned char *data, size_t n)
{
    unsigned char b[4];
    put32(b, (uint32_t)n);
    fwrite(b, 1, 4, f);
    fwrite(type, 1, 4, f);
    if (n) fwrite(data, 1, n, f);
    uint32_t c = crc_update(0xffffffffu, (const unsigned char *)type, 4);
    c = crc_update(c, data, n) ^ 0xffffffffu;
    put32(b, c);
    fwrite(b, 1, 4, f);
}

int rz_png_write(const char *path, int w, int h, const unsigned char *rgb, rz_err *e)
{
    crc_init();
    size_t raw_n = (size_t)h * (1 + (size_t)w * 3);
    size_t nblk = raw_n / 65535 + 1;
    size_t z_n = 2 + raw_n + 5 * nblk + 4;
    unsigned char *raw = rz_malloc(raw_n, e), *z = rz_malloc(z_n, e);
    if (!raw || !z) {
        free(raw);
        free(z);
        return RZ_EINTERNAL;
    }
    for (int y = 0; y < h; y++) {
        raw[(size_t)y * (1 + w * 3)] = 0; /* filter: none */
        memcpy(raw + (size_t)y * (1 + w * 3) + 1, rgb + (size_t)y * w * 3, (size_t)w * 3);
    }
    size_t o = 0;
    z[o++] = 0x78;
    z[o++] = 0x01;
    uint32_t s1 = 1, s2 = 0;
    for (size_t i = 0; i < raw_n; i++) {
        s1 = (s1 + raw[i]) % 65521;
        s2 = (s2 + s1) % 65521;
    }
    for (size_t off = 0; off < raw_n || off == 0;) {
        size_t len = raw_n - off > 65535 ? 65535 : raw_n - off;
        z[o++] = off + len == raw_n ? 1 : 0;
        z[o++] = len & 0xff;
        z[o++] = len >> 8;
        z[o++] = ~len & 0xff;
        z[o++] = (~len >> 8) & 0xff;
        memcpy(z + o, raw + off, len);
        o += len;
        off += len;
        if (len == 0) break;
    }
    put32(z + o, (s2 << 16) | s1);
    o += 4;
    free(raw);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(z);
        return rz_fail(e, RZ_EINPUT, "%s: cannot create", tmp);
    }
    static const unsigned char sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    fwrite(sig, 1, 8, f);
    unsigned char ihdr[13];
    put32(ihdr, (uint32_t)w);
    put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* RGB */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    chunk(f, "IHDR", ihdr, 13);
    chunk(f, "IDAT", z, o);
    chunk(f, "IEND", NULL, 0);
    free(z);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return rz_fail(e, RZ_EINTERNAL, "%s: write failed", path);
    }
    return RZ_OK;
}

