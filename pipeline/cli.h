/* cli.h — conventions every rz-* program shares: common flags, messages, exit codes,
 * progress, and the machine-readable report record.
 *
 * Common flags (same meaning in every tool; each tool lists them in its getopt table with
 * the RZ_OPT_* codes and passes unknown codes to rz_cli_common):
 *   -h --help, -V --version, -q --quiet (no progress on stderr), -o --output LOC,
 *   --json (report as one JSON object on stdout), --report LOC (report record stream),
 *   -t --threads N, --seed N, --timeout SEC (ZeroMQ peer silence limit).
 * Exit status: 0 success, 2 bad input or usage, 1 internal failure.
 *
 * Reports: a tool builds its report as a msgpack map (type "report") with
 * rz_report_begin/rz_rec_* and then rz_report_finish, which prints it as JSON with --json
 * and writes it as a one-record stream with --report.
 */
#ifndef RZ_CLI_H
#define RZ_CLI_H

#include <msgpack.h>
#include <stdint.h>

#include "stream.h"

enum {
    RZ_OPT_HELP = 'h',
    RZ_OPT_VERSION = 'V',
    RZ_OPT_QUIET = 'q',
    RZ_OPT_OUTPUT = 'o',
    RZ_OPT_THREADS = 't',
    RZ_OPT_JSON = 1000,
    RZ_OPT_REPORT,
    RZ_OPT_SEED,
    RZ_OPT_TIMEOUT,
    RZ_OPT_TOOL_BASE = 1100 /* tools number their own long-only options from here */
};

/* The common entries, for a tool's getopt_long table; end the table with {0}. */
#define RZ_CLI_LONGOPTS                                                   \
    {"help", no_argument, 0, RZ_OPT_HELP},                                \
    {"version", no_argument, 0, RZ_OPT_VERSION},                          \
    {"quiet", no_argument, 0, RZ_OPT_QUIET},                              \
    {"output", required_argument, 0, RZ_OPT_OUTPUT},                      \
    {"threads", required_argument, 0, RZ_OPT_THREADS},                    \
    {"json", no_argument, 0, RZ_OPT_JSON},                                \
    {"report", required_argument, 0, RZ_OPT_REPORT},                      \
    {"seed", required_argument, 0, RZ_OPT_SEED},                          \
    {"timeout", required_argument, 0, RZ_OPT_TIMEOUT}
#define RZ_CLI_SHORTOPTS "hVqo:t:"

/* Help text for the common flags, for a tool's usage(). */
extern const char rz_cli_common_help[];

typedef struct {
    const char *tool;     /* "rz-ppl" */
    const char *usage;    /* full --help text of the tool */
    int quiet;
    int json;
    const char *output;   /* -o; NULL if not given */
    const char *report;   /* --report */
    int threads;          /* 0 = library default */
    uint64_t seed;
    int seed_set;
    rz_stream_opts stream;
    double t_start;
    double t_last_progress;
} rz_cli;

void rz_cli_init(rz_cli *c, const char *tool, const char *usage);
/* Handles a common option code: returns 1 if handled, 0 if not a common option.
 * --help and --version print and exit 0; a malformed value exits 2 with a message. */
int rz_cli_common(rz_cli *c, int opt, const char *arg);
/* After getopt: "unknown option" etc. -> usage hint and exit 2. */
void rz_cli_usage_error(const rz_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* Print "tool: message" to stderr and exit with e->code (never 0). */
void rz_cli_die(const rz_cli *c, const rz_err *e) __attribute__((noreturn));
/* Progress line on stderr at most every ~1 s (always when force), unless --quiet. */
void rz_cli_progress(rz_cli *c, int force, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Applies --threads to OpenMP (OpenBLAS itself stays single-threaded, see linalg.h).
 * Default: all cores, divided among the MPI ranks that share this node. */
void rz_cli_threads(const rz_cli *c);

/* Under mpirun every rank opens its inputs itself: a stream location ('-', tcp://,
 * ipc://) can be read only once, so it is a usage error (exit 2) naming `what`. */
void rz_cli_need_file_under_mpi(const rz_cli *c, const char *what, const char *loc);

/* Option value parsers: exit 2 naming the option on a malformed or out-of-range value. */
long long rz_cli_int(const rz_cli *c, const char *opt, const char *arg, long long lo, long long hi);
double rz_cli_f64(const rz_cli *c, const char *opt, const char *arg, double lo, double hi);

/* Reports. begin returns a packer whose map has n_fields after "type", "v", "tool",
 * "version"; finish emits it per --json/--report (and to stdout as JSON if want_json). */
msgpack_packer *rz_report_begin(rz_cli *c, int n_fields);
int rz_report_finish(rz_cli *c, rz_err *e);

#endif
