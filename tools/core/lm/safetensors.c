/* safetensors.c — safetensors reader (see safetensors.h). */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "record.h"

#define MAX_HEADER ((uint64_t)100 << 20) /* the format's own bound */
#define MAX_TENSORS 1000000

void rz_safetensors_close(rz_safetensors *s)
{
    if (s->map) munmap(s->map, s->size);
    free(s->t);
    memset(s, 0, sizeof *s);
}

static int cmp_begin(const void *a, const void *b)
{
    const rz_st_tensor *x = a, *y = b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const rz_st_tensor *)a)->name, ((const rz_st_tensor *)b)->name);
}

/* One header entry: name -> {dtype, shape, data_offsets}. */
static int parse_entry(const rz_safetensors *s, const msgpack_object_kv *kv, rz_st_tensor *t, rz_err *e)
{
    const msgpack_object *v = &kv->val;
    size_t kl = kv->key.via.str.size;
    if (kl == 0 || kl >= sizeof t->name || memchr(kv->key.via.str.ptr, 0, kl))
        return rz_fail(e, RZ_EINPUT, "%s: a tensor name is empty, holds a NUL or is over %zu bytes", s->path,
                       sizeof t->name - 1);
    memcpy(t->name, kv->key.via.str.ptr, kl);
    t->name[kl] = '\0';
    if (v->type != MSGPACK_OBJECT_MAP) return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': not an object", s->path, t->name);
    const msgpack_object *dt = rz_field(v, "dtype"), *sh = rz_field(v, "shape"), *off = rz_field(v, "data_offsets");
    if (!dt || dt->type != MSGPACK_OBJECT_STR)
        return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': dtype missing or not a string", s->path, t->name);
    static const char *const names[3] = {"F32", "F16", "BF16"};
    static const int size[3] = {4, 2, 2};
    t->dtype = -1;
    for (int i = 0; i < 3; i++)
        if (dt->via.str.size == strlen(names[i]) && memcmp(dt->via.str.ptr, names[i], dt->via.str.size) == 0)
            t->dtype = i;
    if (t->dtype < 0)
        return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': dtype '%.*s' is not supported (F32, F16, BF16)", s->path,
                       t->name, (int)(dt->via.str.size < 16 ? dt->via.str.size : 16), dt->via.str.ptr);
    if (!sh || sh->type != MSGPACK_OBJECT_ARRAY || sh->via.array.size > RZ_ST_MAX_DIMS)
        return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': shape missing, not an array or over %d dimensions", s->path,
                       t->name, RZ_ST_MAX_DIMS);
    if (!off || off->type != MSGPACK_OBJECT_ARRAY || off->via.array.size != 2 ||
        off->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        off->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': data_offsets is not [begin, end]", s->path, t->name);
    t->ndim = (int)sh->via.array.size;
    uint64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        const msgpack_object *x = &sh->via.array.ptr[d];
        if (x->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': shape[%d] is not a non-negative integer", s->path, t->name, d);
        uint64_t dim = x->via.u64;
        if (dim > ((uint64_t)1 << 40) || (dim && n > ((uint64_t)1 << 40) / dim))
            return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': shape has over 2^40 elements", s->path, t->name);
        t->shape[d] = (int64_t)dim;
        n *= dim;
    }
    t->begin = off->via.array.ptr[0].via.u64;
    t->end = off->via.array.ptr[1].via.u64;
    if (t->end < t->begin || t->end - t->begin != n * (uint64_t)size[t->dtype])
        return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': data_offsets [%llu, %llu] do not hold %llu values of %s",
                       s->path, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)n, names[t->dtype]);
    return 0;
}

static int parse_header(rz_safetensors *s, const msgpack_object *h, rz_err *e)
{
    if (h->type != MSGPACK_OBJECT_MAP) return rz_fail(e, RZ_EINPUT, "%s: header: not a JSON object", s->path);
    uint32_t nk = h->via.map.size;
    if (nk > MAX_TENSORS) return rz_fail(e, RZ_EINPUT, "%s: header: over %d entries", s->path, MAX_TENSORS);
    s->t = rz_calloc(nk ? nk : 1, sizeof *s->t, e);
    if (!s->t) return RZ_EINTERNAL;
    for (uint32_t i = 0; i < nk; i++) {
        const msgpack_object_kv *kv = &h->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return rz_fail(e, RZ_EINPUT, "%s: header: a key is not a string", s->path);
        if (kv->key.via.str.size == 12 && memcmp(kv->key.via.str.ptr, "__metadata__", 12) == 0) continue;
        int rc = parse_entry(s, kv, &s->t[s->n], e);
        if (rc) return rc;
        s->n++;
    }
    /* names unique; then by offset: contiguous from 0 to the end of the file */
    qsort(s->t, (size_t)s->n, sizeof *s->t, cmp_name);
    for (int i = 1; i < s->n; i++)
        if (strcmp(s->t[i - 1].name, s->t[i].name) == 0)
            return rz_fail(e, RZ_EINPUT, "%s: tensor '%s' appears twice", s->path, s->t[i].name);
    qsort(s->t, (size_t)s->n, sizeof *s->t, cmp_begin);
    uint64_t at = 0, avail = s->size - s->data;
    for (int i = 0; i < s->n; i++) {
        const rz_st_tensor *t = &s->t[i];
        if (t->begin != at)
            return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': data_offsets begin %llu, expected %llu (%s)", s->path,
                           t->name, (unsigned long long)t->begin, (unsigned long long)at,
                           t->begin < at ? "overlaps the previous tensor" : "a gap before it");
        if (t->end > avail)
            return rz_fail(e, RZ_EINPUT, "%s: tensor '%s': data_offsets end %llu is past the end of the file's %llu "
                           "data bytes", s->path, t->name, (unsigned long long)t->end, (unsigned long long)avail);
        at = t->end;
    }
    if (at != avail)
        return rz_fail(e, RZ_EINPUT, "%s: %llu data bytes after the last tensor", s->path,
                       (unsigned long long)(avail - at));
    return 0;
}

int rz_safetensors_open(const char *path, rz_safetensors *s, rz_err *e)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return rz_fail(e, RZ_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 8) {
        close(fd);
        return rz_fail(e, RZ_EINPUT, "%s: not a regular file of at least 8 bytes (the header length)", path);
    }
    s->size = (size_t)st.st_size;
    void *map = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return rz_fail(e, RZ_EINTERNAL, "%s: mmap: %s", path, strerror(errno));
    s->map = map;
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | s->map[i];
    if (hl > MAX_HEADER || hl > s->size - 8) {
        rz_safetensors_close(s);
        return rz_fail(e, RZ_EINPUT, "%s: header length %llu is over 100 MB or past the end of the file (%zu bytes)",
                       path, (unsigned long long)hl, s->size);
    }
    s->data = 8 + (size_t)hl;
    msgpack_sbuffer buf;
    msgpack_unpacked u;
    int rc = rz_json_parse((const char *)s->map + 8, (size_t)hl, &buf, &u, e);
    if (rc) rz_wrap(e, "%s: header", path);
    else rc = parse_header(s, &u.data, e);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
    if (rc) rz_safetensors_close(s);
    return rc;
}

const rz_st_tensor *rz_safetensors_find(const rz_safetensors *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
    return NULL;
}

void rz_safetensors_read_f32(const rz_safetensors *s, const rz_st_tensor *t, float *dst)
{
    const unsigned char *p = s->map + s->data + t->begin;
    size_t n = (size_t)(t->end - t->begin) / (t->dtype == 0 ? 4 : 2);
    if (t->dtype == 0) {
        memcpy(dst, p, n * 4);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
        dst[i] = t->dtype == 1 ? rz_f16_to_f32(h) : rz_bf16_to_f32(h);
    }
}
