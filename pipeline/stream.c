/* stream.c — record streams over stdin/stdout, files and ZeroMQ (see stream.h).
 *
 * Framing. Files and pipes carry records back to back, so the reader must find where a
 * record ends before decoding it: frame_scan walks the MessagePack headers (not the
 * payloads), bounding every declared size by what is present and by
 * RZ_MAX_RECORD_BYTES, and only a complete, bounded record is handed to msgpack-c.
 * That is what keeps a hostile "array of 4 billion elements" header from becoming a
 * 100 GB allocation. ZeroMQ messages carry exactly one record each.
 *
 * Integrity. The writer counts records and chains an FNV-1a checksum over their bytes;
 * the "end" record carries both and the reader verifies them. A stream that stops
 * early — killed producer, truncated file, vanished peer — has no valid "end" and is
 * an error, never a silently short result.
 *
 * Half-written files. A written file is an unnamed O_TMPFILE file (or a named
 * temporary where the filesystem has none) in the target folder until rz_writer_close
 * names it; devices and FIFOs are written in place (see "output files" below).
 */
#include "stream.h"
#include "versions.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

void rz_stream_opts_default(rz_stream_opts *o)
{
    o->timeout_s = 30;
    o->hwm = 64;
    o->tool = "rizz";
}

/* ---- output files ------------------------------------------------------------------ */
/* Three kinds of file output (enum out_kind):
 *  OUT_ANON   the data goes to an unnamed file made with O_TMPFILE in the target folder;
 *             when complete it is linked under a temporary name and renamed over the
 *             target. A process killed mid-write (even by SIGKILL) leaves nothing: the
 *             kernel frees an unnamed file with its last descriptor.
 *  OUT_NAMED  where the filesystem has no O_TMPFILE: a named temporary
 *             "PATH.tmp.PID.XXXXXX", renamed on completion; SIGINT/SIGTERM/SIGHUP remove
 *             it, and the temporaries of dead processes (PID no longer running on this
 *             machine) are removed by the next writer of the same PATH.
 *  OUT_DIRECT an existing output that is not a regular file (a device such as /dev/null,
 *             a FIFO, a socket) is opened and written in place: replacing it by a
 *             regular file would destroy it, and a FIFO's reader wants the stream.
 * An existing directory, a missing or read-only folder are bad input (exit 2). */
enum out_kind { OUT_NONE, OUT_ANON, OUT_NAMED, OUT_DIRECT };

#define MAX_LIVE_TMP 32
static char *volatile live_tmp[MAX_LIVE_TMP];

static void on_fatal_signal(int sig)
{
    for (int i = 0; i < MAX_LIVE_TMP; i++)
        if (live_tmp[i]) unlink(live_tmp[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void tmp_register(char *path)
{
    static int installed;
    if (!installed) {
        installed = 1;
        signal(SIGINT, on_fatal_signal);
        signal(SIGTERM, on_fatal_signal);
        signal(SIGHUP, on_fatal_signal);
    }
    for (int i = 0; i < MAX_LIVE_TMP; i++)
        if (!live_tmp[i]) {
            live_tmp[i] = path;
            return;
        }
}

static void tmp_unregister(const char *path)
{
    for (int i = 0; i < MAX_LIVE_TMP; i++)
        if (live_tmp[i] == path) live_tmp[i] = NULL;
}

/* errno of a failed create/open/rename → exit class: the user's path is at fault (2)
 * unless the system is (1). */
static int out_errclass(int err)
{
    switch (err) {
    case ENOENT: case EACCES: case ENOTDIR: case EISDIR: case EROFS: case EPERM:
    case ENAMETOOLONG: case ELOOP: case EEXIST: case ENXIO:
        return RZ_EINPUT;
    default: return RZ_EINTERNAL;
    }
}

/* Folder of path into buf ("." when none). */
static void out_dir(const char *path, char *buf, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(buf, n, ".");
    else if (slash == path) snprintf(buf, n, "/");
    else snprintf(buf, n, "%.*s", (int)(slash - path), path);
}

int rz_output_check(const char *path, rz_err *e)
{
    if (strcmp(path, "-") == 0 || rz_is_endpoint(path)) return RZ_OK;
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return rz_fail(e, RZ_EINPUT, "%s: is a directory, expected an output file name", path);
        if (!S_ISREG(st.st_mode)) {
            if (access(path, W_OK) != 0)
                return rz_fail(e, RZ_EINPUT, "%s: cannot write: %s", path, strerror(errno));
            return RZ_OK;
        }
    }
    char dir[4096];
    out_dir(path, dir, sizeof dir);
    if (access(dir, W_OK | X_OK) != 0)
        return rz_fail(e, RZ_EINPUT, "%s: cannot create output in folder '%s': %s", path, dir,
                       strerror(errno));
    return RZ_OK;
}

/* Removes "BASE.tmp.PID.*" beside path whose PID is not a running process. */
static void tmp_sweep_dead(const char *path)
{
    char dir[4096];
    out_dir(path, dir, sizeof dir);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, base, bl) != 0 || strncmp(de->d_name + bl, ".tmp.", 5) != 0) continue;
        char *end;
        long pid = strtol(de->d_name + bl + 5, &end, 10);
        if (end == de->d_name + bl + 5 || *end != '.' || pid <= 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", dir, de->d_name);
        unlink(full);
    }
    closedir(d);
}

/* Opens the output for path: *kind, *f, and *tmp (the temporary name pattern for
 * OUT_ANON/OUT_NAMED, else NULL). Mode 0666 & ~umask like an ordinary file. */
static int tmp_create(const char *path, char **tmp_out, FILE **f_out, int *kind, rz_err *e)
{
    *tmp_out = NULL;
    int rc = rz_output_check(path, e);
    if (rc) return rc;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        int fd = open(path, O_WRONLY | O_CLOEXEC); /* a FIFO waits here for its reader */
        FILE *f = fd < 0 ? NULL : fdopen(fd, "wb");
        if (!f) {
            int err = errno;
            if (fd >= 0) close(fd);
            return rz_fail(e, out_errclass(err), "%s: cannot open output: %s", path, strerror(err));
        }
        *kind = OUT_DIRECT;
        *f_out = f;
        return RZ_OK;
    }
    size_t n = strlen(path) + 48;
    char *tmp = rz_malloc(n, e);
    if (!tmp) return RZ_EINTERNAL;
    char dir[4096];
    out_dir(path, dir, sizeof dir);
    int fd = -1;
#ifdef O_TMPFILE
    /* naming the file later goes through /proc/self/fd (or CAP_DAC_READ_SEARCH): without
     * /proc, take the named path from the start. RZ_TEST_NO_TMPFILE: tests of that path. */
    if (!getenv("RZ_TEST_NO_TMPFILE") && access("/proc/self/fd", X_OK) == 0)
        fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
#endif
    if (fd >= 0) {
        *kind = OUT_ANON;
        snprintf(tmp, n, "%s.tmp.%ld.", path, (long)getpid());
    } else {
        *kind = OUT_NAMED;
        tmp_sweep_dead(path);
        snprintf(tmp, n, "%s.tmp.%ld.XXXXXX", path, (long)getpid());
        tmp_register(tmp); /* before the file exists: mkstemp fills in this buffer */
        fd = mkstemp(tmp);
        if (fd < 0) {
            int err = errno;
            tmp_unregister(tmp);
            free(tmp);
            return rz_fail(e, out_errclass(err), "%s: cannot create output: %s", path, strerror(err));
        }
        mode_t um = umask(0);
        umask(um);
        fchmod(fd, 0666 & ~um);
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        if (*kind == OUT_NAMED) unlink(tmp), tmp_unregister(tmp);
        free(tmp);
        return rz_fail(e, RZ_EINTERNAL, "%s: fdopen failed", path);
    }
    *tmp_out = tmp;
    *f_out = f;
    return RZ_OK;
}

/* An unnamed file gets a name: linked as tmp + a counter (EEXIST: next counter). */
static int tmp_link_anon(FILE *f, char *tmp, size_t cap, int *err)
{
    size_t base = strlen(tmp);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno(f));
    for (int i = 0; i < 1000; i++) {
        snprintf(tmp + base, cap - base, "%d", i);
        if (linkat(fileno(f), "", AT_FDCWD, tmp, AT_EMPTY_PATH) == 0 ||
            (errno != EEXIST && linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0)) {
            tmp_register(tmp);
            return 0;
        }
        if (errno != EEXIST) break;
        tmp[base] = 0;
    }
    *err = errno;
    return -1;
}

static int tmp_publish(FILE *f, char *tmp, int kind, const char *path, rz_err *e)
{
    int bad = ferror(f);
    bad |= fflush(f) != 0;
    int err = errno;
    if (kind == OUT_DIRECT) {
        bad |= fclose(f) != 0;
        if (bad) return rz_fail(e, RZ_EINTERNAL, "%s: write failed: %s", path, strerror(errno));
        return RZ_OK;
    }
    if (!bad && kind == OUT_ANON && tmp_link_anon(f, tmp, strlen(path) + 48, &err) != 0) {
        fclose(f);
        return rz_fail(e, out_errclass(err), "%s: cannot name the finished output: %s", path, strerror(err));
    }
    bad |= fclose(f) != 0;
    if (bad) {
        unlink(tmp);
        tmp_unregister(tmp);
        return rz_fail(e, RZ_EINTERNAL, "%s: write failed: %s", path, strerror(err ? err : errno));
    }
    if (rename(tmp, path) != 0) {
        err = errno;
        unlink(tmp);
        tmp_unregister(tmp);
        return rz_fail(e, out_errclass(err), "%s: cannot replace the output: %s", path, strerror(err));
    }
    tmp_unregister(tmp);
    return RZ_OK;
}

static void tmp_discard(FILE *f, char *tmp, int kind)
{
    if (f) fclose(f);
    if (tmp && kind == OUT_NAMED) {
        unlink(tmp);
        tmp_unregister(tmp);
    }
}

int rz_outfile_open(rz_outfile *o, const char *path, rz_err *e)
{
    memset(o, 0, sizeof *o);
    if (strcmp(path, "-") == 0) {
        o->f = stdout;
        return RZ_OK;
    }
    o->path = strdup(path);
    if (!o->path) return rz_fail(e, RZ_EINTERNAL, "out of memory");
    int rc = tmp_create(path, &o->tmp, &o->f, &o->kind, e);
    if (rc) {
        free(o->path);
        o->path = NULL;
    }
    return rc;
}

int rz_outfile_commit(rz_outfile *o, rz_err *e)
{
    int rc = RZ_OK;
    if (o->kind) rc = tmp_publish(o->f, o->tmp, o->kind, o->path, e);
    else if (o->f && fflush(o->f) != 0) rc = rz_fail(e, RZ_EINTERNAL, "write to stdout failed");
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
    return rc;
}

void rz_outfile_abort(rz_outfile *o)
{
    if (o->kind) tmp_discard(o->f, o->tmp, o->kind);
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
}

/* ---- ZeroMQ endpoints -------------------------------------------------------------- */

int rz_is_endpoint(const char *loc)
{
    if (strncmp(loc, "bind:", 5) == 0) loc += 5;
    else if (strncmp(loc, "connect:", 8) == 0) loc += 8;
    return strncmp(loc, "tcp://", 6) == 0 || strncmp(loc, "ipc://", 6) == 0;
}

/* Splits an optional bind:/connect: prefix and fills in the loopback host for
 * "tcp://:PORT". want_bind is the side's default. */
int rz_endpoint_parse(const char *loc, int default_bind, char *addr, size_t cap, int *bind, rz_err *e)
{
    *bind = default_bind;
    if (strncmp(loc, "bind:", 5) == 0) {
        *bind = 1;
        loc += 5;
    } else if (strncmp(loc, "connect:", 8) == 0) {
        *bind = 0;
        loc += 8;
    }
    if (strncmp(loc, "tcp://", 6) == 0) {
        const char *hp = loc + 6, *colon = strrchr(hp, ':');
        if (!colon || !colon[1])
            return rz_fail(e, RZ_EINPUT, "%s: expected tcp://HOST:PORT", loc);
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port <= 0 || port > 65535)
            return rz_fail(e, RZ_EINPUT, "%s: port must be a number in 1..65535", loc);
        if (colon == hp) snprintf(addr, cap, "tcp://127.0.0.1:%ld", port);
        else snprintf(addr, cap, "%s", loc);
        if (!*bind && strncmp(addr + 6, "*:", 2) == 0)
            return rz_fail(e, RZ_EINPUT, "%s: cannot connect to '*'; name a host", loc);
    } else if (strncmp(loc, "ipc://", 6) == 0) {
        if (!loc[6]) return rz_fail(e, RZ_EINPUT, "%s: expected ipc://PATH", loc);
        snprintf(addr, cap, "%s", loc);
    } else {
        return rz_fail(e, RZ_EINPUT, "%s: not a ZeroMQ endpoint", loc);
    }
    return RZ_OK;
}

static int zsock_open(const char *loc, int type, int default_bind, const rz_stream_opts *o,
                      void **ctx_out, void **sock_out, rz_err *e)
{
    char addr[1024];
    int bind, rc;
    if ((rc = rz_endpoint_parse(loc, default_bind, addr, sizeof addr, &bind, e))) return rc;
    void *ctx = zmq_ctx_new();
    void *s = ctx ? zmq_socket(ctx, type) : NULL;
    if (!s) {
        if (ctx) zmq_ctx_term(ctx);
        return rz_fail(e, RZ_EINTERNAL, "%s: cannot create ZeroMQ socket: %s", loc, zmq_strerror(zmq_errno()));
    }
    int hwm = o->hwm > 0 ? o->hwm : 64;
    int ms = o->timeout_s > 0 ? (int)(o->timeout_s * 1000) : -1;
    int zero = 0;
    zmq_setsockopt(s, type == ZMQ_PUSH ? ZMQ_SNDHWM : ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, type == ZMQ_PUSH ? ZMQ_SNDTIMEO : ZMQ_RCVTIMEO, &ms, sizeof ms);
    zmq_setsockopt(s, ZMQ_LINGER, type == ZMQ_PUSH ? &ms : &zero, sizeof ms);
    /* A connecting PUSH socket would otherwise queue records for a peer that never
     * answers and drop them at close: with IMMEDIATE, sends wait (then time out) until a
     * reader is connected, as a binding writer's do. */
    int one = 1;
    if (type == ZMQ_PUSH) zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof one);
    int64_t maxmsg = (int64_t)RZ_MAX_RECORD_BYTES;
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if ((bind ? zmq_bind(s, addr) : zmq_connect(s, addr)) != 0) {
        int err = zmq_errno();
        zmq_close(s);
        zmq_ctx_term(ctx);
        return rz_fail(e, RZ_EINPUT, "%s: cannot %s: %s", loc, bind ? "bind" : "connect", zmq_strerror(err));
    }
    *ctx_out = ctx;
    *sock_out = s;
    return RZ_OK;
}

/* ---- writer ------------------------------------------------------------------------ */

struct rz_writer {
    char *loc;
    rz_stream_opts opts;
    FILE *f;           /* file or stdout */
    char *tmp;         /* temporary name (pattern) when writing a file */
    int kind;          /* enum out_kind; OUT_NONE for stdout and sockets */
    void *zctx, *zsock;
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    uint64_t count, checksum;
};

int rz_writer_open(const char *loc, const rz_stream_opts *o, rz_writer **wp, rz_err *e)
{
    rz_writer *w = rz_calloc(1, sizeof *w, e);
    if (!w) return RZ_EINTERNAL;
    if (o) w->opts = *o;
    else rz_stream_opts_default(&w->opts);
    w->loc = strdup(loc);
    w->checksum = RZ_CHECKSUM_INIT;
    msgpack_sbuffer_init(&w->sbuf);
    msgpack_packer_init(&w->pk, &w->sbuf, msgpack_sbuffer_write);
    int rc = RZ_OK;
    if (rz_is_endpoint(loc)) {
        rc = zsock_open(loc, ZMQ_PUSH, 1, &w->opts, &w->zctx, &w->zsock, e);
    } else if (strcmp(loc, "-") == 0) {
        if (isatty(STDOUT_FILENO))
            rc = rz_fail(e, RZ_EINPUT, "refusing to write a binary record stream to a terminal: "
                                       "use -o FILE, a pipe, or rz-cat");
        else w->f = stdout;
    } else {
        rc = tmp_create(loc, &w->tmp, &w->f, &w->kind, e);
    }
    if (rc) {
        msgpack_sbuffer_destroy(&w->sbuf);
        free(w->loc);
        free(w);
        return rc;
    }
    *wp = w;
    return RZ_OK;
}

msgpack_packer *rz_writer_packer(rz_writer *w) { return &w->pk; }
uint64_t rz_writer_count(const rz_writer *w) { return w->count; }

static int send_bytes(rz_writer *w, const void *p, size_t n, rz_err *e)
{
    if (w->zsock) {
        if (zmq_send(w->zsock, p, n, 0) < 0) {
            int err = zmq_errno();
            if (err == EAGAIN)
                return rz_fail(e, RZ_EINPUT, "%s: no reader took record %llu within %g s "
                                             "(reader gone or never started?)",
                               w->loc, (unsigned long long)w->count, w->opts.timeout_s);
            return rz_fail(e, RZ_EINTERNAL, "%s: send failed: %s", w->loc, zmq_strerror(err));
        }
        return RZ_OK;
    }
    if (fwrite(p, 1, n, w->f) != n)
        return rz_fail(e, RZ_EINTERNAL, "%s: write failed: %s", w->kind ? w->loc : "stdout", strerror(errno));
    return RZ_OK;
}

int rz_writer_emit(rz_writer *w, rz_err *e)
{
    if (rz_rec_check(w->sbuf.data, w->sbuf.size, e)) { /* a miscounted record never leaves */
        msgpack_sbuffer_clear(&w->sbuf);
        return RZ_EINTERNAL;
    }
    w->checksum = rz_checksum(w->checksum, w->sbuf.data, w->sbuf.size);
    int rc = send_bytes(w, w->sbuf.data, w->sbuf.size, e);
    msgpack_sbuffer_clear(&w->sbuf);
    if (rc == RZ_OK) w->count++;
    return rc;
}

int rz_writer_emit_raw(rz_writer *w, const void *rec, size_t n, rz_err *e)
{
    msgpack_sbuffer_clear(&w->sbuf);
    msgpack_sbuffer_write(&w->sbuf, rec, n);
    return rz_writer_emit(w, e);
}

int rz_write_records(const char *location, const rz_stream_opts *o, void *const *recs,
                     const size_t *lens, long count, rz_err *e)
{
    rz_writer *w;
    int rc = rz_writer_open(location, o, &w, e);
    if (rc) return rc;
    for (long i = 0; i < count; i++)
        if ((rc = rz_writer_emit_raw(w, recs[i], lens[i], e))) {
            rz_writer_abort(w, e);
            return rc;
        }
    return rz_writer_close(w, e);
}

static void writer_free(rz_writer *w)
{
    if (w->zsock) zmq_close(w->zsock);
    if (w->zctx) zmq_ctx_term(w->zctx); /* waits up to the linger time for delivery */
    msgpack_sbuffer_destroy(&w->sbuf);
    free(w->tmp);
    free(w->loc);
    free(w);
}

int rz_writer_close(rz_writer *w, rz_err *e)
{
    msgpack_sbuffer_clear(&w->sbuf);
    rz_end_pack(&w->pk, w->count, w->checksum);
    int rc = send_bytes(w, w->sbuf.data, w->sbuf.size, e);
    if (rc == RZ_OK && w->zsock) {
        /* zmq_ctx_term returns as soon as every queued record is handed to the peer, or
         * after the linger time (the timeout) with the rest dropped: a term that lasts the
         * whole linger time means records may be lost — an error, not a silent exit 0. */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        zmq_close(w->zsock);
        zmq_ctx_term(w->zctx);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        w->zsock = w->zctx = NULL;
        double held = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (w->opts.timeout_s > 0 && held >= 0.99 * w->opts.timeout_s)
            rc = rz_fail(e, RZ_EINPUT, "%s: the reader did not take the last records within %g s "
                                       "(reader gone?): the stream may be incomplete",
                         w->loc, w->opts.timeout_s);
    }
    if (rc == RZ_OK && w->kind) {
        rc = tmp_publish(w->f, w->tmp, w->kind, w->loc, e);
        w->f = NULL;
    } else if (rc == RZ_OK && w->f && fflush(w->f) != 0) {
        rc = rz_fail(e, RZ_EINTERNAL, "stdout: write failed: %s", strerror(errno));
    } else if (rc != RZ_OK && w->kind) {
        tmp_discard(w->f, w->tmp, w->kind);
        w->f = NULL;
    }
    writer_free(w);
    return rc;
}

void rz_writer_abort(rz_writer *w, const rz_err *why)
{
    if (!w) return;
    if (w->kind == OUT_ANON || w->kind == OUT_NAMED) {
        tmp_discard(w->f, w->tmp, w->kind);
        w->f = NULL;
    } else {
        /* A reader is waiting on the other end: tell it why, briefly. */
        msgpack_sbuffer_clear(&w->sbuf);
        rz_error_pack(&w->pk, w->opts.tool, why ? why->code : RZ_EINTERNAL,
                      why ? why->msg : "aborted");
        if (w->zsock) {
            int ms = 1000;
            zmq_setsockopt(w->zsock, ZMQ_SNDTIMEO, &ms, sizeof ms);
            zmq_setsockopt(w->zsock, ZMQ_LINGER, &ms, sizeof ms);
        }
        send_bytes(w, w->sbuf.data, w->sbuf.size, NULL);
        if (w->f) fflush(w->f);
        if (w->kind == OUT_DIRECT) fclose(w->f); /* a device or FIFO: cannot be removed */
    }
    writer_free(w);
}

/* ---- frame scanning ---------------------------------------------------------------- */

enum { FRAME_OK, FRAME_NEED, FRAME_BAD };

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* Finds the extent of the one MessagePack object at p[0..len). FRAME_OK: *size is its
 * length. FRAME_NEED: at least *size bytes are needed to know more. FRAME_BAD: *why set. */
static int frame_scan(const uint8_t *p, size_t len, size_t *size, const char **why)
{
    size_t pos = 0;
    uint64_t pending = 1; /* objects still to walk */
    while (pending) {
        if (pos >= len) {
            *size = pos + 1;
            return FRAME_NEED;
        }
        uint8_t b = p[pos];
        size_t hdr = 1;
        uint64_t payload = 0, children = 0;
        int lenbytes = 0; /* size of the length field following the type byte */
        enum { SCALAR, STR, ARR, MAP } kind = SCALAR;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        } else if (b >= 0x80 && b <= 0x8f) {
            kind = MAP, children = b & 0x0f;
        } else if (b >= 0x90 && b <= 0x9f) {
            kind = ARR, children = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            payload = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: lenbytes = 1; kind = STR; break; /* bin8, str8 */
            case 0xc5: case 0xda: lenbytes = 2; kind = STR; break;
            case 0xc6: case 0xdb: lenbytes = 4; kind = STR; break;
            case 0xc7: lenbytes = 1; kind = STR; payload = 1; break; /* ext8: +type byte */
            case 0xc8: lenbytes = 2; kind = STR; payload = 1; break;
            case 0xc9: lenbytes = 4; kind = STR; payload = 1; break;
            case 0xca: payload = 4; break;
            case 0xcb: payload = 8; break;
            case 0xcc: case 0xd0: payload = 1; break;
            case 0xcd: case 0xd1: payload = 2; break;
            case 0xce: case 0xd2: payload = 4; break;
            case 0xcf: case 0xd3: payload = 8; break;
            case 0xd4: payload = 2; break; /* fixext 1..16 incl. type byte */
            case 0xd5: payload = 3; break;
            case 0xd6: payload = 5; break;
            case 0xd7: payload = 9; break;
            case 0xd8: payload = 17; break;
            case 0xdc: lenbytes = 2; kind = ARR; break;
            case 0xdd: lenbytes = 4; kind = ARR; break;
            case 0xde: lenbytes = 2; kind = MAP; break;
            case 0xdf: lenbytes = 4; kind = MAP; break;
            default: *why = "reserved type byte 0xc1"; return FRAME_BAD;
            }
        }
        hdr += (size_t)lenbytes;
        if (pos + hdr > len) {
            *size = pos + hdr;
            return FRAME_NEED;
        }
        if (lenbytes) {
            uint64_t n = be(p + pos + 1, lenbytes);
            if (kind == STR) payload += n;
            else children = n;
        }
        if (kind == MAP) children *= 2;
        pending = pending - 1 + children;
        /* every object takes at least one byte: more pending objects than the record
         * limit allows is corrupt, whatever bytes follow */
        if (pending > RZ_MAX_RECORD_BYTES || payload > RZ_MAX_RECORD_BYTES) {
            *why = "declared size exceeds the record size limit";
            return FRAME_BAD;
        }
        pos += hdr + (size_t)payload;
        if (pos > RZ_MAX_RECORD_BYTES) {
            *why = "record exceeds the record size limit";
            return FRAME_BAD;
        }
        if (pos > len) {
            *size = pos;
            return FRAME_NEED;
        }
    }
    *size = pos;
    return FRAME_OK;
}

int rz_stream_one_object(const void *p, size_t n)
{
    size_t size;
    const char *why;
    return frame_scan(p, n, &size, &why) == FRAME_OK && size == n;
}

/* ---- reader ------------------------------------------------------------------------ */

struct rz_reader {
    char *loc;
    rz_stream_opts opts;
    FILE *f;
    int own_f;
    void *zctx, *zsock;
    zmq_msg_t zmsg;
    int zmsg_live;
    uint8_t *buf; /* file reading: bytes [start, len) not yet consumed */
    size_t cap, start, len;
    int eof, ended;
    msgpack_unpacked up;
    uint64_t count, checksum;
    char type[65]; /* type tag of the current record */
};

int rz_reader_open(const char *loc, const rz_stream_opts *o, rz_reader **rp, rz_err *e)
{
    rz_reader *r = rz_calloc(1, sizeof *r, e);
    if (!r) return RZ_EINTERNAL;
    if (o) r->opts = *o;
    else rz_stream_opts_default(&r->opts);
    r->loc = strdup(loc);
    r->checksum = RZ_CHECKSUM_INIT;
    msgpack_unpacked_init(&r->up);
    int rc = RZ_OK;
    if (rz_is_endpoint(loc)) {
        rc = zsock_open(loc, ZMQ_PULL, 0, &r->opts, &r->zctx, &r->zsock, e);
    } else if (strcmp(loc, "-") == 0) {
        r->f = stdin;
    } else {
        struct stat st;
        r->f = fopen(loc, "rb");
        if (!r->f) rc = rz_fail(e, RZ_EINPUT, "%s: cannot open: %s", loc, strerror(errno));
        else if (fstat(fileno(r->f), &st) == 0 && S_ISDIR(st.st_mode))
            rc = rz_fail(e, RZ_EINPUT, "%s: is a directory", loc);
        r->own_f = 1;
    }
    if (rc) {
        rz_reader_close(r);
        return rc;
    }
    *rp = r;
    return RZ_OK;
}

int rz_reader_open_mem(const void *data, size_t n, const char *name, rz_reader **rp, rz_err *e)
{
    rz_reader *r = rz_calloc(1, sizeof *r, e);
    if (!r) return RZ_EINTERNAL;
    rz_stream_opts_default(&r->opts);
    r->loc = strdup(name);
    r->checksum = RZ_CHECKSUM_INIT;
    msgpack_unpacked_init(&r->up);
    /* fmemopen rejects a zero-size buffer: an empty stream reads from an empty file */
    r->f = n ? fmemopen((void *)data, n, "rb") : fopen("/dev/null", "rb");
    r->own_f = 1;
    if (!r->f) {
        rz_reader_close(r);
        return rz_fail(e, RZ_EINTERNAL, "%s: cannot open the memory buffer", name);
    }
    *rp = r;
    return RZ_OK;
}

int rz_reader_first(rz_reader *r, const char *type, const char *what, const msgpack_object **rec, rz_rec_ctx *ctx,
                    rz_err *e)
{
    int rc = rz_reader_next(r, rec, ctx, e);
    if (rc) return rc;
    if (!*rec || !rz_rec_type_is(ctx, type))
        return rz_fail(e, RZ_EINPUT, "%s: not %s (first record is %s, expected %s)", r->loc, what,
                       *rec ? ctx->type : "the end", type);
    return RZ_OK;
}

const char *rz_reader_source(const rz_reader *r) { return r->loc; }

void rz_reader_close(rz_reader *r)
{
    if (!r) return;
    if (r->zmsg_live) zmq_msg_close(&r->zmsg);
    if (r->zsock) zmq_close(r->zsock);
    if (r->zctx) zmq_ctx_term(r->zctx);
    if (r->own_f && r->f) fclose(r->f);
    msgpack_unpacked_destroy(&r->up);
    free(r->buf);
    free(r->loc);
    free(r);
}

/* Makes at least `need` unconsumed bytes available, or sets eof. The buffer grows with
 * the bytes that actually arrive (at most doubling), never with a size the input merely
 * declares: a 10-byte file claiming a 2 GiB record costs 64 KiB, not 2 GiB. */
static int fill(rz_reader *r, size_t need, rz_err *e)
{
    if (r->start > 0 && r->start == r->len) r->start = r->len = 0;
    if (r->len - r->start >= need) return RZ_OK;
    if (r->start > 0) { /* compact */
        memmove(r->buf, r->buf + r->start, r->len - r->start);
        r->len -= r->start;
        r->start = 0;
    }
    while (r->len < need && !r->eof) {
        if (r->len == r->cap) {
            size_t cap = r->cap ? 2 * r->cap : (size_t)1 << 16;
            if (cap > need && need > r->cap) cap = need > ((size_t)1 << 16) ? need : (size_t)1 << 16;
            uint8_t *nb = realloc(r->buf, cap);
            if (!nb) return rz_fail(e, RZ_EINTERNAL, "%s: out of memory for a %zu-byte record", r->loc, need);
            r->buf = nb;
            r->cap = cap;
        }
        size_t got = fread(r->buf + r->len, 1, r->cap - r->len, r->f);
        if (got == 0) {
            if (ferror(r->f)) return rz_fail(e, RZ_EINTERNAL, "%s: read failed: %s", r->loc, strerror(errno));
            r->eof = 1;
        }
        r->len += got;
    }
    return RZ_OK;
}

/* Next raw record's bytes and length (valid until the next call); length 0: clean EOF. */
static int next_frame(rz_reader *r, const uint8_t **data, size_t *n, rz_err *e)
{
    const char *why = NULL;
    size_t size = 0;
    if (r->zsock) {
        if (r->zmsg_live) zmq_msg_close(&r->zmsg);
        zmq_msg_init(&r->zmsg);
        r->zmsg_live = 1;
        if (zmq_msg_recv(&r->zmsg, r->zsock, 0) < 0) {
            int err = zmq_errno();
            if (err == EAGAIN)
                return rz_fail(e, RZ_EINPUT, "%s: no record for %g s after %llu records and no end "
                                             "record: producer gone? (stream incomplete)",
                               r->loc, r->opts.timeout_s, (unsigned long long)r->count);
            return rz_fail(e, RZ_EINTERNAL, "%s: receive failed: %s", r->loc, zmq_strerror(err));
        }
        *data = zmq_msg_data(&r->zmsg);
        *n = zmq_msg_size(&r->zmsg);
        int st = frame_scan(*data, *n, &size, &why);
        if (st != FRAME_OK || size != *n)
            return rz_fail(e, RZ_EINPUT, "%s: record %llu: corrupt MessagePack message (%s)", r->loc,
                           (unsigned long long)r->count,
                           st == FRAME_BAD ? why : size != *n && st == FRAME_OK ? "trailing bytes" : "truncated");
        return RZ_OK;
    }
    size_t need = 1;
    for (;;) {
        int rc = fill(r, need, e);
        if (rc) return rc;
        size_t avail = r->len - r->start;
        if (avail == 0 && r->eof) {
            *n = 0;
            return RZ_OK;
        }
        int st = frame_scan(r->buf + r->start, avail, &size, &why);
        if (st == FRAME_BAD)
            return rz_fail(e, RZ_EINPUT, "%s: record %llu: corrupt MessagePack (%s)", r->loc,
                           (unsigned long long)r->count, why);
        if (st == FRAME_OK) break;
        if (r->eof)
            return rz_fail(e, RZ_EINPUT, "%s: truncated: record %llu is incomplete (%zu of at least %zu bytes)",
                           r->loc, (unsigned long long)r->count, avail, size);
        need = size;
    }
    *data = r->buf + r->start;
    *n = size;
    r->start += size;
    return RZ_OK;
}

int rz_reader_next(rz_reader *r, const msgpack_object **rec, rz_rec_ctx *ctx, rz_err *e)
{
    *rec = NULL;
    if (r->ended) return RZ_OK;
    const uint8_t *data = NULL;
    size_t n = 0;
    int rc = next_frame(r, &data, &n, e);
    if (rc) return rc;
    if (n == 0)
        return rz_fail(e, RZ_EINPUT, "%s: stream ended after %llu records without an end record "
                                     "(truncated, or the producer failed)",
                       r->loc, (unsigned long long)r->count);
    size_t off = 0;
    msgpack_unpacked_destroy(&r->up);
    msgpack_unpacked_init(&r->up);
    if (msgpack_unpack_next(&r->up, (const char *)data, n, &off) != MSGPACK_UNPACK_SUCCESS || off != n)
        return rz_fail(e, RZ_EINPUT, "%s: record %llu: corrupt MessagePack", r->loc,
                       (unsigned long long)r->count);
    const msgpack_object *o = &r->up.data;
    rz_rec_ctx c = {r->loc, (long)r->count, "?"};
    if (o->type != MSGPACK_OBJECT_MAP)
        return rz_fail(e, RZ_EINPUT, "%s: record %llu: expected a map, found MessagePack type %d",
                       r->loc, (unsigned long long)r->count, (int)o->type);
    const msgpack_object *t = rz_field(o, "type");
    if (!t || t->type != MSGPACK_OBJECT_STR || t->via.str.size == 0 || t->via.str.size > 64)
        return rz_rec_fail(e, &c, "type", "missing or not a short string");
    char *type = r->type;
    memcpy(type, t->via.str.ptr, t->via.str.size);
    type[t->via.str.size] = 0;
    c.type = type;
    int64_t v;
    if ((rc = rz_get_int(o, &c, "v", 1, INT32_MAX, &v, e))) return rc;
    if ((rc = rz_rec_version_check(&c, type, v, e))) return rc;
    if (strcmp(type, "end") == 0) {
        int64_t count;
        uint64_t sum;
        const msgpack_object *cs = rz_field(o, "checksum");
        if ((rc = rz_get_int(o, &c, "count", 0, INT64_MAX, &count, e))) return rc;
        if (!cs || cs->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return rz_rec_fail(e, &c, "checksum", "missing or not an unsigned integer");
        sum = cs->via.u64;
        if ((uint64_t)count != r->count)
            return rz_rec_fail(e, &c, "count", "end record says %lld records, %llu were received "
                                               "(records lost)",
                               (long long)count, (unsigned long long)r->count);
        if (sum != r->checksum)
            return rz_rec_fail(e, &c, "checksum", "mismatch: the records' bytes were altered");
        if (r->f) { /* nothing may follow the end record in a file */
            if ((rc = fill(r, 1, e))) return rc;
            if (r->len > r->start) { /* count all of them, not just what is buffered */
                unsigned long long extra = r->len - r->start;
                struct stat st;
                long pos = ftell(r->f);
                int whole = fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode) && pos >= 0 && st.st_size >= pos;
                if (whole) extra += (unsigned long long)(st.st_size - pos);
                uint8_t b = r->buf[r->start];
                return rz_fail(e, RZ_EINPUT, "%s: %s%llu unexpected bytes after the end record%s", r->loc,
                               whole ? "" : "at least ", extra,
                               (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf
                                   ? " (they start with a record: a second stream appended?)" : "");
            }
        }
        r->ended = 1;
        return RZ_OK;
    }
    if (strcmp(type, "error") == 0) {
        char tool[64] = "upstream", msg[700] = "(no message)";
        rz_get_str(o, &c, "tool", tool, sizeof tool, NULL);
        rz_get_str(o, &c, "message", msg, sizeof msg, NULL);
        return rz_fail(e, RZ_EINPUT, "%s: the producer (%s) failed after %llu records: %s", r->loc,
                       tool, (unsigned long long)r->count, msg);
    }
    r->checksum = rz_checksum(r->checksum, data, n);
    r->count++;
    if (ctx) *ctx = c;
    *rec = o;
    return RZ_OK;
}
