/* cli.c — the shared command-line conventions of rz-* programs (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>
#include <unistd.h>

#include "cluster.h"
#include "json.h"

const char rz_cli_common_help[] =
    "Common options:\n"
    "  -o, --output LOC     where results go: '-' (stdout), a file, tcp://HOST:PORT or ipc://PATH\n"
    "      --json           print the report as one JSON object on stdout\n"
    "      --report LOC     write the report as a record stream (file, '-' or endpoint)\n"
    "  -t, --threads N      BLAS/OpenMP threads (default: all cores)\n"
    "      --seed N         random seed\n"
    "      --timeout SEC    ZeroMQ: fail when a peer is silent this long (default 30)\n"
    "  -q, --quiet          no progress on stderr\n"
    "  -h, --help           this help;  -V, --version  version\n"
    "Exit status: 0 success, 2 bad input or usage, 1 internal error.\n";

static msgpack_sbuffer report_buf;
static msgpack_packer report_pk;

void rz_cli_init(rz_cli *c, const char *tool, const char *usage)
{
    memset(c, 0, sizeof *c);
    c->tool = tool;
    c->usage = usage;
    rz_stream_opts_default(&c->stream);
    c->stream.tool = tool;
    c->t_start = c->t_last_progress = rz_now();
}

long long rz_cli_int(const rz_cli *c, const char *opt, const char *arg, long long lo, long long hi)
{
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || end == arg || *end)
        rz_cli_usage_error(c, "%s: expected an integer, got '%s'", opt, arg);
    if (v < lo || v > hi) rz_cli_usage_error(c, "%s: %lld is out of range [%lld, %lld]", opt, v, lo, hi);
    return v;
}

double rz_cli_f64(const rz_cli *c, const char *opt, const char *arg, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !isfinite(v))
        rz_cli_usage_error(c, "%s: expected a number, got '%s'", opt, arg);
    if (v < lo || v > hi) rz_cli_usage_error(c, "%s: %g is out of range [%g, %g]", opt, v, lo, hi);
    return v;
}

int rz_cli_common(rz_cli *c, int opt, const char *arg)
{
    switch (opt) {
    case RZ_OPT_HELP:
        fputs(c->usage, stdout);
        fputs(rz_cli_common_help, stdout);
        exit(0);
    case RZ_OPT_VERSION:
        printf("%s (rizz) %s\n", c->tool, RZ_VERSION);
        exit(0);
    case RZ_OPT_QUIET: c->quiet = 1; return 1;
    case RZ_OPT_OUTPUT: c->output = arg; return 1;
    case RZ_OPT_THREADS: c->threads = (int)rz_cli_int(c, "--threads", arg, 1, 1024); return 1;
    case RZ_OPT_JSON: c->json = 1; return 1;
    case RZ_OPT_REPORT: c->report = arg; return 1;
    case RZ_OPT_SEED:
        c->seed = (uint64_t)rz_cli_int(c, "--seed", arg, 0, INT64_MAX);
        c->seed_set = 1;
        return 1;
    case RZ_OPT_TIMEOUT: c->stream.timeout_s = rz_cli_f64(c, "--timeout", arg, 0.01, 1e6); return 1;
    case '?': rz_cli_usage_error(c, "unknown option or missing argument (see above)");
    default: return 0;
    }
}

void rz_cli_usage_error(const rz_cli *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", c->tool);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", c->tool);
    if (rz_cluster_active()) rz_cluster_abort(RZ_EINPUT);
    exit(RZ_EINPUT);
}

void rz_cli_die(const rz_cli *c, const rz_err *e)
{
    int code = e->code ? e->code : RZ_EINTERNAL;
    if (rz_cluster_size() > 1) fprintf(stderr, "%s: rank %d: %s\n", c->tool, rz_cluster_rank(), e->msg);
    else fprintf(stderr, "%s: %s\n", c->tool, e->msg);
    fflush(stderr);
    if (rz_cluster_active()) rz_cluster_abort(code);
    exit(code);
}

void rz_cli_progress(rz_cli *c, int force, const char *fmt, ...)
{
    if (c->quiet || rz_cluster_rank() != 0) return;
    double now = rz_now();
    if (!force && now - c->t_last_progress < 1.0) return;
    c->t_last_progress = now;
    va_list ap;
    fprintf(stderr, "%s: [%6.1fs] ", c->tool, now - c->t_start);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void rz_cli_need_file_under_mpi(const rz_cli *c, const char *what, const char *loc)
{
    if (rz_cluster_size() > 1 && (strcmp(loc, "-") == 0 || rz_is_endpoint(loc)))
        rz_cli_usage_error(c, "under mpirun every rank reads the %s: give a file, not '%s'", what, loc);
}

void rz_cli_threads(const rz_cli *c)
{
    int n = c->threads;
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        int ranks_here = local ? atoi(local) : 1;
        n = (int)(cores > 0 ? cores : 1) / (ranks_here > 0 ? ranks_here : 1);
        if (n < 1) n = 1;
    }
    /* OpenBLAS stays single-threaded: its threaded sgemm changes results with the thread
     * count. Parallelism comes from OpenMP over fixed work splits (tools/core/util/linalg.h). */
    openblas_set_num_threads(1);
    omp_set_num_threads(n);
}

msgpack_packer *rz_report_begin(rz_cli *c, int n_fields)
{
    msgpack_sbuffer_destroy(&report_buf);
    msgpack_sbuffer_init(&report_buf);
    msgpack_packer_init(&report_pk, &report_buf, msgpack_sbuffer_write);
    rz_rec_begin(&report_pk, "report", 1, n_fields + 2);
    rz_rec_str(&report_pk, "tool", c->tool);
    rz_rec_str(&report_pk, "version", RZ_VERSION);
    return &report_pk;
}

int rz_report_finish(rz_cli *c, rz_err *e)
{
    int rc = RZ_OK;
    if (c->json) {
        msgpack_unpacked up;
        size_t off = 0;
        msgpack_unpacked_init(&up);
        if (msgpack_unpack_next(&up, report_buf.data, report_buf.size, &off) != MSGPACK_UNPACK_SUCCESS) {
            msgpack_unpacked_destroy(&up);
            return rz_fail(e, RZ_EINTERNAL, "report: could not decode our own record");
        }
        rz_json_print(stdout, &up.data, 0);
        fputc('\n', stdout);
        fflush(stdout);
        msgpack_unpacked_destroy(&up);
    }
    if (c->report) {
        void *rec = report_buf.data;
        size_t len = report_buf.size;
        rc = rz_write_records(c->report, &c->stream, &rec, &len, 1, e);
    }
    return rc;
}
