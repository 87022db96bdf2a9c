/* rz-cat — print any rizz record stream as JSON lines, or turn JSON lines back into a
 * stream. The bridge between record streams and jq/shell scripts.
 *
 * Reading verifies the stream completely (end record, count, checksum): if rz-cat exits
 * 0, the stream was whole. The end record itself is not printed; --from-json recomputes
 * it, and skips any "end" line it is given, so `rz-cat --full | rz-cat --from-json`
 * reproduces a stream byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "stream.h"

static const rz_cli_tool tool = {
    .name = "rz-cat",
    .summary = "print a record stream as JSON lines, or JSON lines back to a stream",
    .usage = "rz-cat [--full] [IN]            stream -> JSON lines on stdout\n"
             "rz-cat --from-json [IN] [-o OUT] JSON lines -> stream\n",
    .about = "IN is '-' (default), a file, tcp://HOST:PORT or ipc://PATH.\n",
    .examples = "rz-convert stories260K.bin -o m.rzm && rz-cat m.rzm | jq -c '{name, shape}'\n",
};

static int to_json(rz_cli *c, const char *in, int full, int count_only, rz_err *e)
{
    rz_reader *r;
    int rc = rz_reader_open(in, &c->stream, &r, e);
    if (rc) return rc;
    long n = 0;
    for (;;) {
        const msgpack_object *rec;
        if ((rc = rz_reader_next(r, &rec, NULL, e))) break;
        if (!rec) break;
        if (!count_only) {
            rz_json_print(stdout, rec, full);
            fputc('\n', stdout);
            fflush(stdout); /* each record visible downstream as it arrives (live streams) */
        }
        n++;
    }
    rz_reader_close(r);
    if (count_only && rc == RZ_OK) printf("%ld\n", n);
    if (fflush(stdout) != 0 && rc == RZ_OK) rc = rz_fail(e, RZ_EINTERNAL, "stdout: write failed");
    return rc;
}

static int from_json(rz_cli *c, const char *in, rz_err *e)
{
    FILE *f = strcmp(in, "-") == 0 ? stdin : fopen(in, "rb");
    if (!f) return rz_fail(e, RZ_EINPUT, "%s: cannot open", in);
    rz_writer *w;
    int rc = rz_writer_open(rz_cli_records_out(c), &c->stream, &w, e);
    if (rc) {
        if (f != stdin) fclose(f);
        return rc;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        size_t k = 0;
        while (k < (size_t)len && (line[k] == ' ' || line[k] == '\t')) k++;
        if (k == (size_t)len) continue; /* blank line */
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        rc = rz_json_to_msgpack(line, (size_t)len, &pk, e);
        if (rc == RZ_OK) { /* must be a record: a map with a type; "end" is recomputed */
            msgpack_unpacked up;
            size_t off = 0;
            msgpack_unpacked_init(&up);
            msgpack_unpack_next(&up, sb.data, sb.size, &off);
            const msgpack_object *t = rz_field(&up.data, "type");
            if (up.data.type != MSGPACK_OBJECT_MAP || !t || t->type != MSGPACK_OBJECT_STR)
                rc = rz_fail(e, RZ_EINPUT, "not a record (an object with a \"type\" string)");
            else if (!(t->via.str.size == 3 && memcmp(t->via.str.ptr, "end", 3) == 0)) {
                rc = rz_writer_emit_raw(w, sb.data, sb.size, e);
            }
            msgpack_unpacked_destroy(&up);
        }
        msgpack_sbuffer_destroy(&sb);
        if (rc) {
            rz_wrap(e, "%s: line %ld", in, lineno);
            break;
        }
    }
    free(line);
    if (f != stdin) fclose(f);
    if (rc) {
        rz_writer_abort(w, e);
        return rc;
    }
    return rz_writer_close(w, e);
}

int main(int argc, char **argv)
{
    rz_cli c;
    int full = 0, from = 0, count = 0;
    rz_opt opts[] = {
        RZ_O_FLAG("full", 0, full,
                  "print binary data as {\"$bin\": base64} (default: a summary; tensors\n"
                  "also get \"$stats\": min, max, mean, rms)"),
        RZ_O_FLAG("from-json", 0, from, "read JSON lines (one record per line) and write a record stream"),
        RZ_O_FLAG("count", 0, count, "print only the number of records"),
        RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (argc - first > 1) rz_cli_usage_error(&c, "at most one input");
    const char *in = first < argc ? argv[first] : from ? "-" : rz_cli_records_in(&c, NULL, "stream");
    rz_err e = {0};
    int rc = from ? from_json(&c, in, &e) : to_json(&c, in, full, count, &e);
    if (rc) rz_cli_die(&c, &e);
    return 0;
}
