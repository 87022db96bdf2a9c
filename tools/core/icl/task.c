/* task.c — tasks, templates and example pools (task.h). */
#include "task.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int rz_icl_task_label(const rz_icl_task *t, const char *name, size_t n)
{
    for (int i = 0; i < t->n_labels; i++)
        if (strlen(t->name[i]) == n && memcmp(t->name[i], name, n) == 0) return i;
    return -1;
}

void rz_icl_task_free(rz_icl_task *t)
{
    for (int i = 0; i < t->n_labels; i++) {
        free(t->name[i]);
        free(t->verbal[i]);
    }
    free(t->tmpl);
    memset(t, 0, sizeof *t);
}

int rz_icl_task_set_verbalizer(rz_icl_task *t, const char *spec, rz_err *e)
{
    for (int i = 0; i < t->n_labels; i++) {
        free(t->name[i]);
        free(t->verbal[i]);
    }
    t->n_labels = 0;
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq || eq == p || eq + 1 == end)
            return rz_fail(e, RZ_EINPUT, "verbaliser '%s': expected NAME=word,NAME=word,...", spec);
        if (t->n_labels == RZ_ICL_MAX_LABELS)
            return rz_fail(e, RZ_EINPUT, "verbaliser: more than %d labels", RZ_ICL_MAX_LABELS);
        if (rz_icl_task_label(t, p, (size_t)(eq - p)) >= 0)
            return rz_fail(e, RZ_EINPUT, "verbaliser: label '%.*s' given twice", (int)(eq - p), p);
        t->name[t->n_labels] = strndup(p, (size_t)(eq - p));
        t->verbal[t->n_labels] = strndup(eq + 1, (size_t)(end - eq - 1));
        if (!t->name[t->n_labels] || !t->verbal[t->n_labels]) return rz_fail(e, RZ_EINTERNAL, "out of memory");
        t->n_labels++;
        p = comma ? comma + 1 : end;
    }
    if (t->n_labels < 2) return rz_fail(e, RZ_EINPUT, "verbaliser '%s': at least two labels are needed", spec);
    return 0;
}

int rz_icl_task_set_template(rz_icl_task *t, const char *tmpl, rz_err *e)
{
    size_t n = strlen(tmpl);
    char *d = malloc(n + 1), *q = d;
    if (!d) return rz_fail(e, RZ_EINTERNAL, "out of memory");
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '\\' && p[1] == 'n') *q++ = '\n', p++;
        else if (p[0] == '\\' && p[1] == 't') *q++ = '\t', p++;
        else *q++ = *p;
    }
    *q = 0;
    const char *in = strstr(d, "{input}"), *lab = strstr(d, "{label}");
    const char *why = !in ? "has no {input} slot" : !lab ? "has no {label} slot"
                    : strstr(in + 1, "{input}") || strstr(lab + 1, "{label}") ? "has a slot twice"
                    : lab < in ? "has {label} before {input}" : NULL;
    if (why) {
        free(d);
        return rz_fail(e, RZ_EINPUT, "template '%s' %s", tmpl, why);
    }
    free(t->tmpl);
    t->tmpl = d;
    return 0;
}

int rz_icl_task_builtin(const char *name, rz_icl_task *t, rz_err *e)
{
    memset(t, 0, sizeof *t);
    if (!strcmp(name, "sst2")) {
        snprintf(t->format, sizeof t->format, "sst2");
        if (rz_icl_task_set_verbalizer(t, "0=negative,1=positive", e)) return RZ_EINPUT;
        return rz_icl_task_set_template(t, "Review: {input}\\nSentiment: {label}\\n\\n", e);
    }
    if (!strcmp(name, "trec")) {
        snprintf(t->format, sizeof t->format, "trec");
        if (rz_icl_task_set_verbalizer(t, "ABBR=abbreviation,DESC=description,ENTY=entity,HUM=person,LOC=location,"
                                          "NUM=number", e))
            return RZ_EINPUT;
        return rz_icl_task_set_template(t, "Question: {input}\\nAnswer type: {label}\\n\\n", e);
    }
    return rz_fail(e, RZ_EINPUT, "--task %s: expected sst2 or trec (or give --verbalizer and --template)", name);
}

char *rz_icl_render(const rz_icl_task *t, const char *input, int label)
{
    const char *in = strstr(t->tmpl, "{input}"), *lab = strstr(t->tmpl, "{label}");
    const char *verbal = label >= 0 ? t->verbal[label] : "";
    size_t n = strlen(t->tmpl) + strlen(input) + strlen(verbal) + 1;
    char *out = malloc(n);
    if (!out) return NULL;
    size_t a = (size_t)(in - t->tmpl), b = (size_t)(lab - (in + 7));
    char *q = out;
    memcpy(q, t->tmpl, a), q += a;
    q += sprintf(q, "%s", input);
    memcpy(q, in + 7, b), q += b;
    if (label < 0) { /* the query: up to the label slot, trailing spaces dropped */
        while (q > out && q[-1] == ' ') q--;
        *q = 0;
        return out;
    }
    q += sprintf(q, "%s", verbal);
    sprintf(q, "%s", lab + 7);
    return out;
}

long rz_icl_utf8_invalid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n || (len == 2 && c < 0xc2)) return (long)i;
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xc0) != 0x80) return (long)i;
        if (len == 3) {
            unsigned cp = (c & 0x0f) << 12 | (p[i + 1] & 0x3fu) << 6 | (p[i + 2] & 0x3fu);
            if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return (long)i;
        }
        if (len == 4) {
            unsigned cp = (c & 0x07) << 18 | (p[i + 1] & 0x3fu) << 12 | (p[i + 2] & 0x3fu) << 6 | (p[i + 3] & 0x3fu);
            if (cp < 0x10000 || cp > 0x10ffff) return (long)i;
        }
        i += len;
    }
    return -1;
}

static const msgpack_object *jfield(const msgpack_object *m, const char *k)
{
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(k) &&
            !memcmp(kv->key.via.str.ptr, k, strlen(k)))
            return &kv->val;
    }
    return NULL;
}

/* One line (no newline) -> label name and text spans. jsonl values are copied to buf. */
static int split_line(const char *fmt, char *line, size_t n, const char **lab, size_t *labn, const char **txt,
                      size_t *txtn, char *buf, size_t cap, const char *where, rz_err *e)
{
    if (!strcmp(fmt, "jsonl")) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        int rc = rz_json_to_msgpack(line, n, &pk, e);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        size_t off = 0;
        if (!rc && (msgpack_unpack_next(&up, sb.data, sb.size, &off) != MSGPACK_UNPACK_SUCCESS ||
                    up.data.type != MSGPACK_OBJECT_MAP))
            rc = rz_fail(e, RZ_EINPUT, "expected a JSON object");
        const msgpack_object *l = rc ? NULL : jfield(&up.data, "label"), *t = rc ? NULL : jfield(&up.data, "text");
        if (!rc && !l) rc = rz_fail(e, RZ_EINPUT, "field 'label': missing");
        if (!rc && !t) rc = rz_fail(e, RZ_EINPUT, "field 'text': missing");
        if (!rc && t->type != MSGPACK_OBJECT_STR) rc = rz_fail(e, RZ_EINPUT, "field 'text': expected a string");
        if (!rc) {
            int k;
            if (l->type == MSGPACK_OBJECT_STR)
                k = snprintf(buf, cap, "%.*s", (int)l->via.str.size, l->via.str.ptr);
            else if (l->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                k = snprintf(buf, cap, "%llu", (unsigned long long)l->via.u64);
            else
                k = -1, rc = rz_fail(e, RZ_EINPUT, "field 'label': expected a string or an integer");
            if (!rc && (size_t)k + t->via.str.size + 2 > cap) rc = rz_fail(e, RZ_EINPUT, "line too long");
            if (!rc) {
                *lab = buf, *labn = (size_t)k;
                memcpy(buf + k + 1, t->via.str.ptr, t->via.str.size);
                *txt = buf + k + 1, *txtn = t->via.str.size;
            }
        }
        msgpack_unpacked_destroy(&up);
        msgpack_sbuffer_destroy(&sb);
        return rc ? rz_wrap(e, "%s", where) : 0;
    }
    char sep = !strcmp(fmt, "tsv") ? '\t' : ' ';
    char *s = memchr(line, sep, n);
    if (!s || s == line) return rz_fail(e, RZ_EINPUT, "%s: field 'label': missing (expected '<label>%s<text>')", where,
                                        sep == '\t' ? "\\t" : " ");
    *lab = line;
    *labn = (size_t)(s - line);
    if (!strcmp(fmt, "trec")) { /* COARSE:fine */
        char *colon = memchr(line, ':', *labn);
        if (!colon) return rz_fail(e, RZ_EINPUT, "%s: field 'label': '%.*s' is not COARSE:fine", where, (int)*labn, line);
        *labn = (size_t)(colon - line);
    }
    *txt = s + 1;
    *txtn = n - (size_t)(s + 1 - line);
    return 0;
}

void rz_icl_pool_write(FILE *f, const char *fmt, const char *label, const char *text)
{
    if (!strcmp(fmt, "trec")) fprintf(f, "%s:syn %s\n", label, text);
    else if (!strcmp(fmt, "tsv")) fprintf(f, "%s\t%s\n", label, text);
    else if (!strcmp(fmt, "jsonl")) {
        fprintf(f, "{\"label\":\"%s\",\"text\":\"", label);
        for (const char *p = text; *p; p++) {
            if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
            else if ((unsigned char)*p < 32) fprintf(f, "\\u%04x", (unsigned char)*p);
            else fputc(*p, f);
        }
        fprintf(f, "\"}\n");
    } else fprintf(f, "%s %s\n", label, text);
}

int rz_icl_pool_load(const char *path, const char *format, const rz_icl_task *t, rz_icl_pool *p, rz_err *e)
{
    memset(p, 0, sizeof *p);
    const char *fmt = format && *format ? format : t->format;
    if (strcmp(fmt, "sst2") && strcmp(fmt, "trec") && strcmp(fmt, "tsv") && strcmp(fmt, "jsonl"))
        return rz_fail(e, RZ_EINPUT, "--format %s: expected sst2, trec, tsv or jsonl", fmt);
    FILE *f = fopen(path, "rb");
    if (!f) return rz_fail(e, RZ_EINPUT, "%s: cannot open", path);
    p->path = strdup(path);
    long cap = 0;
    char *line = NULL, *buf = malloc(RZ_ICL_MAX_LINE + 2);
    size_t lcap = 0;
    ssize_t got;
    long lineno = 0;
    int rc = buf ? 0 : rz_fail(e, RZ_EINTERNAL, "out of memory");
    while (!rc && (got = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        char where[512];
        snprintf(where, sizeof where, "%s:%ld", path, lineno);
        if (n > RZ_ICL_MAX_LINE) {
            rc = rz_fail(e, RZ_EINPUT, "%s: %zu bytes, more than the limit of %d", where, n, RZ_ICL_MAX_LINE);
            break;
        }
        long bad = rz_icl_utf8_invalid(line, n);
        if (bad >= 0) {
            rc = rz_fail(e, RZ_EINPUT, "%s: not UTF-8 (byte %ld of the line)", where, bad + 1);
            break;
        }
        if (n == 0) {
            rc = rz_fail(e, RZ_EINPUT, "%s: empty line (expected an example)", where);
            break;
        }
        const char *lab = NULL, *txt = NULL;
        size_t labn = 0, txtn = 0;
        if ((rc = split_line(fmt, line, n, &lab, &labn, &txt, &txtn, buf, RZ_ICL_MAX_LINE + 2, where, e))) break;
        int li = rz_icl_task_label(t, lab, labn);
        if (li < 0) {
            char known[512] = "";
            for (int i = 0; i < t->n_labels; i++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", t->name[i]);
            rc = rz_fail(e, RZ_EINPUT, "%s: field 'label': '%.*s' is not in the verbaliser (%s)", where, (int)labn, lab,
                         known);
            break;
        }
        while (txtn && (*txt == ' ' || *txt == '\t')) txt++, txtn--;
        while (txtn && (txt[txtn - 1] == ' ' || txt[txtn - 1] == '\t')) txtn--;
        if (txtn == 0) {
            rc = rz_fail(e, RZ_EINPUT, "%s: field 'text': empty input", where);
            break;
        }
        if (p->n == cap) {
            if (cap >= RZ_ICL_MAX_POOL) {
                rc = rz_fail(e, RZ_EINPUT, "%s: more than %ld examples", path, RZ_ICL_MAX_POOL);
                break;
            }
            cap = cap ? cap * 2 : 1024;
            char **nt = realloc(p->text, (size_t)cap * sizeof *nt);
            if (nt) p->text = nt;
            int *nl = realloc(p->label, (size_t)cap * sizeof *nl);
            if (nl) p->label = nl;
            if (!nt || !nl) {
                rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
                break;
            }
        }
        p->text[p->n] = strndup(txt, txtn);
        p->label[p->n] = li;
        if (!p->text[p->n]) rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
        else p->n++;
    }
    if (!rc && ferror(f)) rc = rz_fail(e, RZ_EINPUT, "%s: read error", path);
    if (!rc && p->n == 0) rc = rz_fail(e, RZ_EINPUT, "%s: no examples", path);
    free(line);
    free(buf);
    fclose(f);
    if (rc) rz_icl_pool_free(p);
    return rc;
}

void rz_icl_pool_free(rz_icl_pool *p)
{
    for (long i = 0; i < p->n; i++) free(p->text[i]);
    free(p->text);
    free(p->label);
    free(p->path);
    memset(p, 0, sizeof *p);
}
