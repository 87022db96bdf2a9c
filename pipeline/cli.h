/* cli.h — conventions every rz-* program shares: common flags, messages, exit codes,
 * progress, pipeline defaults, and the machine-readable report record.
 *
 * Flags are declared once (in the spirit of git's parse_options): a tool writes one table
 * of rz_opt entries (long name, short name, argument name, help text, what to store where)
 * and one rz_cli_tool (name, summary, usage lines, description, examples, report fields).
 * rz_cli_parse builds the getopt parser from them, and --help and --man print text
 * generated from the same entries, so the usage text cannot drift from the parser:
 *
 *   int ctx = 0; const char *model = NULL;
 *   rz_opt opts[] = {
 *       RZ_O_STR("model", 'm', "LOC", model, "model file"),
 *       RZ_O_INT("ctx", 'c', "N", ctx, 2, 1 << 20, "positions per window"),
 *       RZ_O_END};
 *   int first_arg = rz_cli_parse(&c, &tool, opts, argc, argv);
 *
 * Common flags (declared once, here, for every tool): -h --help, --man (the same text as a
 * manual page), -V --version, -q --quiet (no progress on stderr), -o --output LOC,
 * --json (report as one JSON object on stdout), --report LOC (report record stream),
 * -t --threads N, --seed N, --timeout SEC (ZeroMQ peer silence limit).
 * Exit status: 0 success, 2 bad input or usage, 1 internal failure.
 *
 * Pipelines (as gzip, jq and git's plumbing): record input defaults to stdin and record
 * output to stdout, but records are never read from or written to a terminal — that is a
 * usage error (exit 2) with a hint (rz_cli_records_in, rz_cli_records_out).
 *
 * Reports: a tool builds its report as a msgpack map (type "report") with
 * rz_report_begin/rz_rec_* and then rz_report_finish, which prints it as JSON with --json
 * and writes it as a one-record stream with --report.
 */
#ifndef RZ_CLI_H
#define RZ_CLI_H

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>

#include "stream.h"

typedef struct rz_cli_tool rz_cli_tool;

typedef struct rz_cli {
    const char *tool;     /* "rz-ppl" */
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
    const rz_cli_tool *decl; /* set by rz_cli_parse */
    int timeout_set;         /* --timeout was given (rz_cli_parse) */
} rz_cli;

/* ---- Declared-once options ---- */

typedef enum {
    RZ_ARG_END = 0, /* ends a table */
    RZ_ARG_FLAG,    /* no argument: *to.i = (int)lo */
    RZ_ARG_STR,     /* *to.s = the argument */
    RZ_ARG_INT,     /* *to.i = integer in [lo, hi] */
    RZ_ARG_LONG,    /* *to.l = integer in [lo, hi] */
    RZ_ARG_F64,     /* *to.d = number in [lo, hi] */
    RZ_ARG_F32,     /* *to.f = number in [lo, hi] (parsed as double, then rounded) */
    RZ_ARG_FN,      /* to.fn(c, arg, ctx): the function validates and stores (or exits 2) */
    RZ_ARG_TABLE    /* the entries of another table (shared by several subcommands) */
} rz_arg_kind;

typedef struct rz_opt rz_opt;
struct rz_opt {
    const char *name;  /* long name without "--"; NULL only in RZ_ARG_TABLE/END */
    int shortname;     /* 'm', or 0 for long only */
    const char *arg;   /* argument name in the help ("N", "LOC"); NULL: no argument */
    const char *help;  /* help text; each '\n' starts a continuation line */
    rz_arg_kind kind;
    union {
        int *i;
        long *l;
        double *d;
        float *f;
        const char **s;
        void (*fn)(rz_cli *c, const char *arg, void *ctx);
        rz_opt *table;
    } to;
    void *ctx;         /* RZ_ARG_FN: passed to fn */
    double lo, hi;     /* range of INT/LONG/F64/F32; FLAG: the value stored */
    int optional;      /* the argument may be left out (--name or --name=ARG; fn gets NULL) */
    int seen;          /* set by rz_cli_parse: how many times the option was given */
};

/* Table entries. The target is an lvalue of the right type (checked by the compiler). */
#define RZ_O_FLAG(name_, short_, var, help_) \
    {.name = name_, .shortname = short_, .help = help_, .kind = RZ_ARG_FLAG, .to.i = &(var), .lo = 1}
#define RZ_O_SET(name_, short_, var, value, help_) \
    {.name = name_, .shortname = short_, .help = help_, .kind = RZ_ARG_FLAG, .to.i = &(var), .lo = (value)}
#define RZ_O_STR(name_, short_, arg_, var, help_) \
    {.name = name_, .shortname = short_, .arg = arg_, .help = help_, .kind = RZ_ARG_STR, .to.s = &(var)}
#define RZ_O_INT(name_, short_, arg_, var, lo_, hi_, help_)                                              \
    {.name = name_, .shortname = short_, .arg = arg_, .help = help_, .kind = RZ_ARG_INT, .to.i = &(var), \
     .lo = (double)(lo_), .hi = (double)(hi_)}
#define RZ_O_LONG(name_, short_, arg_, var, lo_, hi_, help_)                                              \
    {.name = name_, .shortname = short_, .arg = arg_, .help = help_, .kind = RZ_ARG_LONG, .to.l = &(var), \
     .lo = (double)(lo_), .hi = (double)(hi_)}
#define RZ_O_F64(name_, short_, arg_, var, lo_, hi_, help_)                                              \
    {.name = name_, .shortname = short_, .arg = arg_, .help = help_, .kind = RZ_ARG_F64, .to.d = &(var), \
     .lo = (lo_), .hi = (hi_)}
#define RZ_O_F32(name_, short_, arg_, var, lo_, hi_, help_)                                              \
    {.name = name_, .shortname = short_, .arg = arg_, .help = help_, .kind = RZ_ARG_F32, .to.f = &(var), \
     .lo = (lo_), .hi = (hi_)}
#define RZ_O_FN(name_, short_, arg_, fn_, ctx_, help_) \
    {.name = name_, .shortname = short_, .arg = arg_, .help = help_, .kind = RZ_ARG_FN, .to.fn = (fn_), .ctx = (ctx_)}
#define RZ_O_FN_OPTARG(name_, short_, arg_, fn_, ctx_, help_)                                           \
    {.name = name_, .shortname = short_, .arg = arg_, .help = help_, .kind = RZ_ARG_FN, .to.fn = (fn_), \
     .ctx = (ctx_), .optional = 1}
#define RZ_O_TABLE(tab) {.kind = RZ_ARG_TABLE, .to.table = (tab)}
#define RZ_O_END {.kind = RZ_ARG_END}

/* What a tool says about itself; --help and --man are generated from this and its table. */
struct rz_cli_tool {
    const char *name;        /* "rz-ppl" (a subcommand: "rz-agent train") */
    const char *summary;     /* one line: what it does */
    const char *usage;       /* usage lines without "usage: ", each ending in '\n' */
    const char *about;       /* description paragraphs, or NULL */
    const char *examples;    /* example command lines, each ending in '\n', or NULL */
    const char *report;      /* the report's fields, "a, b, c" (schemas/README.md), or NULL */
    const char *output_help; /* what -o means for this tool (replaces the common line), or NULL */
    const char *seed_help;   /* what --seed means for this tool, or NULL */
    const char *timeout_help; /* what --timeout means for this tool, or NULL */
};

/* Initialises c, parses argv against the common options and opts, and
 * returns the index of the first operand (GNU order: options may follow operands).
 * --help/--man/--version print and exit 0; a bad option or value exits 2. */
int rz_cli_parse(rz_cli *c, const rz_cli_tool *t, rz_opt *opts, int argc, char **argv);
/* The entry of opts (searched recursively) named `name`, for its `seen` count. */
const rz_opt *rz_cli_opt(const rz_opt *opts, const char *name);
/* The --help text (to f); --man prints rz_cli_print_man. */
void rz_cli_print_help(const rz_cli_tool *t, const rz_opt *opts, FILE *f);
void rz_cli_print_man(const rz_cli_tool *t, const rz_opt *opts, FILE *f);

/* Pipeline ends. rz_cli_records_out: where records go — -o if given, else stdout ("-");
 * exits 2 ("refusing to write records to a terminal") when that is a terminal.
 * rz_cli_records_in: loc, or stdin ("-") when loc is NULL; exits 2 when that is a
 * terminal (`what` names the input in the message). */
const char *rz_cli_records_out(const rz_cli *c);
const char *rz_cli_records_in(const rz_cli *c, const char *loc, const char *what);
/* Tools that read -f TEXT (with a tokenizer: -z, or the model's own) or --tokens LOC:
 * when neither is given, the input is stdin — text when have_tokenizer, else "tokens"
 * records (which rz_cli_records_in refuses to read from a terminal); exits 2 when both
 * are given, or on -f TEXT without a tokenizer. */
void rz_cli_text_input(const rz_cli *c, const char **text, const char **tokens, int have_tokenizer);
/* Where a tool's human-readable summary goes: stdout, unless the records (at `records`)
 * or the --json report already use it; then stderr, or nowhere with --quiet. */
FILE *rz_cli_text_out(const rz_cli *c, const char *records);

/* A usage error: "tool: message", a hint to --help, exit 2. */
void rz_cli_usage_error(const rz_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* Print "tool: message" to stderr and exit with e->code (never 0). */
void rz_cli_die(const rz_cli *c, const rz_err *e) __attribute__((noreturn));
/* Progress line on stderr at most every ~1 s (always when force), unless --quiet. */
void rz_cli_progress(rz_cli *c, int force, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Under mpirun: every rank must run the same command on the same input files. Compares
 * the command lines (all but -t/--threads, -q, --timeout) and the contents of every
 * input file they name across ranks; on any difference exits 2 naming the option and
 * the ranks. A no-op in plain runs. Called by rz_cli_threads; tools that do not call
 * that call this after parsing. */
void rz_cli_agree(const rz_cli *c);

/* Applies --threads to OpenMP (OpenBLAS itself stays single-threaded, see linalg.h).
 * Default: all cores, divided among the MPI ranks that share this node. Starts with
 * rz_cli_agree. */
void rz_cli_threads(const rz_cli *c);

/* Under mpirun every rank opens its inputs itself: a stream location ('-', tcp://,
 * ipc://) can be read only once, so it is a usage error (exit 2) naming `what`. */
void rz_cli_need_file_under_mpi(const rz_cli *c, const char *what, const char *loc);

/* An output location given on the command line, checked before any work: a directory,
 * a missing or read-only folder exits 2 naming it (rz_output_check). -o and --report
 * are checked by rz_cli_parse; tools pass their other outputs through this. */
const char *rz_cli_output(const rz_cli *c, const char *loc);

/* Option value parsers: exit 2 naming the option on a malformed or out-of-range value. */
long long rz_cli_int(const rz_cli *c, const char *opt, const char *arg, long long lo, long long hi);
double rz_cli_f64(const rz_cli *c, const char *opt, const char *arg, double lo, double hi);
/* A comma-separated list of 1..max integers in [lo, hi] into out; returns their number.
 * An empty list or item ("1,,2", "3,"), more than max items or a bad item exit 2. */
int rz_cli_ints(const rz_cli *c, const char *opt, const char *arg, long long lo, long long hi, long long *out,
                int max);

/* Reports. begin returns a packer whose map has n_fields after "type", "v", "tool",
 * "version"; finish emits it per --json/--report (and to stdout as JSON if want_json). */
msgpack_packer *rz_report_begin(rz_cli *c, int n_fields);
int rz_report_finish(rz_cli *c, rz_err *e);

#endif
