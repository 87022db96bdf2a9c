/* cli.c — the shared command-line conventions of rz-* programs (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blas.h"
#include "cluster.h"
#include "json.h"

static msgpack_sbuffer report_buf;
static msgpack_packer report_pk;

static void cli_init(rz_cli *c, const char *tool)
{
    memset(c, 0, sizeof *c);
    c->tool = tool;
    rz_stream_opts_default(&c->stream);
    c->stream.tool = tool;
    c->t_start = c->t_last_progress = rz_now();
    /* OpenBLAS kernels: the best the CPU supports, verified (pipeline/blas.h) */
    const rz_blas_status *bs = rz_blas_startup();
    if (bs->warning[0] && rz_cluster_rank() == 0) fprintf(stderr, "%s: warning: %s\n", tool, bs->warning);
}

long long rz_cli_int(const rz_cli *c, const char *opt, const char *arg, long long lo, long long hi)
{
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (end == arg || *end) rz_cli_usage_error(c, "%s: expected an integer, got '%s'", opt, arg);
    if (errno == ERANGE) /* an integer, just beyond what strtoll holds */
        rz_cli_usage_error(c, "%s: %s is out of range [%lld, %lld]", opt, arg, lo, hi);
    if (v < lo || v > hi) rz_cli_usage_error(c, "%s: %lld is out of range [%lld, %lld]", opt, v, lo, hi);
    return v;
}

int rz_cli_ints(const rz_cli *c, const char *opt, const char *arg, long long lo, long long hi, long long *out,
                int max)
{
    char item[64];
    int n = 0;
    for (const char *p = arg;; p++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) rz_cli_usage_error(c, "%s '%s': an empty item (expected integers separated by commas)", opt, arg);
        if (n == max) rz_cli_usage_error(c, "%s '%s': more than %d items", opt, arg, max);
        if (len >= sizeof item) rz_cli_usage_error(c, "%s: '%.*s' is not an integer", opt, (int)len, p);
        memcpy(item, p, len);
        item[len] = 0;
        out[n++] = rz_cli_int(c, opt, item, lo, hi);
        if (!comma) return n;
        p = comma;
    }
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

#define MAX_OUTPUTS 16
static const char *outputs[MAX_OUTPUTS]; /* option values that name outputs */

const char *rz_cli_output(const rz_cli *c, const char *loc)
{
    rz_err e = {0};
    if (rz_output_check(loc, &e)) rz_cli_die(c, &e);
    for (int i = 0; i < MAX_OUTPUTS; i++)
        if (!outputs[i]) {
            outputs[i] = loc;
            break;
        }
    return loc;
}

static int is_output(const char *tok)
{
    size_t n = strlen(tok);
    for (int i = 0; i < MAX_OUTPUTS && outputs[i]; i++)
        if (outputs[i] >= tok && outputs[i] <= tok + n) return 1;
    return 0;
}

/* 64-bit FNV-1a over 8-byte words (the tail zero-padded) of a whole file: 0 if unreadable. */
static uint64_t file_hash(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint64_t h = 1469598103934665603ULL, buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (n % 8) memset((char *)buf + n, 0, 8 - n % 8);
        for (size_t i = 0; i < (n + 7) / 8; i++) h = (h ^ buf[i]) * 1099511628211ULL;
        h = (h ^ n) * 1099511628211ULL;
    }
    fclose(f);
    return h;
}

/* Options that cannot change results: threads (deterministic threading), progress,
 * ZeroMQ patience. 1 = the option alone, 2 = it takes the next token as its value. */
static int ignored_option(const char *tok)
{
    if (!strcmp(tok, "-q") || !strcmp(tok, "--quiet") || !strncmp(tok, "--timeout=", 10) ||
        !strncmp(tok, "--threads=", 10) || (!strncmp(tok, "-t", 2) && tok[2]))
        return 1;
    if (!strcmp(tok, "-t") || !strcmp(tok, "--threads") || !strcmp(tok, "--timeout")) return 2;
    return 0;
}

void rz_cli_agree(const rz_cli *c)
{
    if (rz_cluster_size() <= 1) return;
    int argc;
    char **argv = rz_cluster_argv(&argc);
    char **items = calloc((size_t)argc + 1, sizeof *items);
    int n = 0;
    for (int i = 1; items && i < argc; i++) {
        const char *tok = argv[i];
        int ign = ignored_option(tok);
        if (ign) {
            i += ign - 1;
            continue;
        }
        /* a value: named after its option; an input file: by its content as well */
        const char *opt = tok[0] != '-' && i > 1 && argv[i - 1][0] == '-' ? argv[i - 1] : "";
        const char *val = tok[0] == '-' ? strchr(tok, '=') : tok;
        val = val && tok[0] == '-' ? val + 1 : val;
        struct stat st;
        char hash[40] = "";
        if (val && !is_output(tok) && stat(val, &st) == 0 && S_ISREG(st.st_mode))
            snprintf(hash, sizeof hash, " (content %016llx)", (unsigned long long)file_hash(val));
        size_t len = strlen(opt) + strlen(tok) + strlen(hash) + 2;
        if (!(items[n] = malloc(len))) break;
        snprintf(items[n++], len, "%s%s%s%s", opt, *opt ? " " : "", tok, hash);
    }
    rz_err e = {0};
    int rc = items ? rz_cluster_agree((const char *const *)items, n, &e)
                   : rz_fail(&e, RZ_EINTERNAL, "out of memory");
    for (int i = 0; items && i < n; i++) free(items[i]);
    free(items);
    if (rc) rz_cli_die(c, &e);
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
    rz_cli_agree(c);
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
    int rc = rz_rec_check(report_buf.data, report_buf.size, e); /* the hand count matched the fields */
    if (rc) return rc;
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

/* ---- Declared-once options ---- */

#define RZ_CLI_MAX_OPTS 160 /* common + a tool's entries, after expanding included tables */

static void opt_help(rz_cli *c, const char *arg, void *ctx)
{
    (void)arg;
    rz_cli_print_help(c->decl, ctx, stdout);
    exit(0);
}

static void opt_man(rz_cli *c, const char *arg, void *ctx)
{
    (void)arg;
    rz_cli_print_man(c->decl, ctx, stdout);
    exit(0);
}

static void opt_version(rz_cli *c, const char *arg, void *ctx)
{
    (void)arg;
    (void)ctx;
    printf("%s (rizz) %s\n", c->tool, RZ_VERSION);
    exit(0);
}

static void opt_seed(rz_cli *c, const char *arg, void *ctx)
{
    (void)ctx;
    c->seed = (uint64_t)rz_cli_int(c, "--seed", arg, 0, INT64_MAX);
    c->seed_set = 1;
}

static void opt_timeout(rz_cli *c, const char *arg, void *ctx)
{
    (void)ctx;
    c->stream.timeout_s = rz_cli_f64(c, "--timeout", arg, 0.01, 1e6);
    c->timeout_set = 1;
}

static void opt_threads(rz_cli *c, const char *arg, void *ctx)
{
    (void)ctx;
    c->threads = (int)rz_cli_int(c, "--threads", arg, 1, 1024);
}

/* The common options of every tool, declared once; the help entries get the tool's table
 * as ctx so that they can print it. */
static void common_table(rz_cli *c, const rz_opt *tool_opts, rz_opt out[11])
{
    const char *oh = c->decl && c->decl->output_help
                         ? c->decl->output_help
                         : "where results go: '-' (stdout), a file, tcp://HOST:PORT or ipc://PATH";
    rz_opt t[11] = {
        RZ_O_STR("output", 'o', "LOC", c->output, oh),
        RZ_O_FLAG("json", 0, c->json, "print the report as one JSON object on stdout"),
        RZ_O_STR("report", 0, "LOC", c->report, "write the report as a record stream (file, '-' or endpoint)"),
        RZ_O_FN("threads", 't', "N", opt_threads, NULL, "BLAS/OpenMP threads (default: all cores)"),
        RZ_O_FN("seed", 0, "N", opt_seed, NULL, c->decl && c->decl->seed_help ? c->decl->seed_help : "random seed"),
        RZ_O_FN("timeout", 0, "SEC", opt_timeout, NULL,
                c->decl && c->decl->timeout_help ? c->decl->timeout_help
                                                 : "ZeroMQ: fail when a peer is silent this long (default 30)"),
        RZ_O_FLAG("quiet", 'q', c->quiet, "no progress on stderr"),
        RZ_O_FN("help", 'h', NULL, opt_help, (void *)tool_opts, "this help"),
        RZ_O_FN("man", 0, NULL, opt_man, (void *)tool_opts, "this help as a manual page"),
        RZ_O_FN("version", 'V', NULL, opt_version, NULL, "version"),
        RZ_O_END};
    memcpy(out, t, sizeof t);
}

/* The entries of opts and the tables it includes, in order, into flat; returns how many
 * there are (which may exceed RZ_CLI_MAX_OPTS: only that many are stored). */
static int flatten(rz_opt *opts, rz_opt **flat, int n, int depth)
{
    for (rz_opt *o = opts; o && o->kind != RZ_ARG_END; o++) {
        if (o->kind == RZ_ARG_TABLE) {
            if (depth < 4) n = flatten(o->to.table, flat, n, depth + 1);
        } else {
            if (n < RZ_CLI_MAX_OPTS) flat[n] = o;
            n++;
        }
    }
    return n;
}

/* A table that cannot work (too many entries, a name or short name declared twice, e.g.
 * a tool redeclaring a common option) is the program's bug, not the user's: exit 1. */
static void check_table(const rz_cli *c, rz_opt **flat, int n)
{
    const char *bad = NULL;
    char buf[96];
    if (n > RZ_CLI_MAX_OPTS) bad = "too many options";
    for (int i = 0; i < n && !bad; i++)
        for (int j = 0; j < i && !bad; j++)
            if (strcmp(flat[i]->name, flat[j]->name) == 0 ||
                (flat[i]->shortname && flat[i]->shortname == flat[j]->shortname)) {
                snprintf(buf, sizeof buf, "option --%s declared twice", flat[i]->name);
                bad = buf;
            }
    if (!bad) return;
    fprintf(stderr, "%s: internal error: %s\n", c->tool, bad);
    exit(RZ_EINTERNAL);
}

static void apply(rz_cli *c, rz_opt *o, const char *arg)
{
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", o->name);
    o->seen++;
    switch (o->kind) {
    case RZ_ARG_FLAG: *o->to.i = (int)o->lo; break;
    case RZ_ARG_STR: *o->to.s = arg; break;
    case RZ_ARG_INT: *o->to.i = (int)rz_cli_int(c, flag, arg, (long long)o->lo, (long long)o->hi); break;
    case RZ_ARG_LONG: *o->to.l = (long)rz_cli_int(c, flag, arg, (long long)o->lo, (long long)o->hi); break;
    case RZ_ARG_F64: *o->to.d = rz_cli_f64(c, flag, arg, o->lo, o->hi); break;
    case RZ_ARG_F32: *o->to.f = (float)rz_cli_f64(c, flag, arg, o->lo, o->hi); break;
    case RZ_ARG_FN: o->to.fn(c, arg, o->ctx); break;
    default: break;
    }
}

int rz_cli_parse(rz_cli *c, const rz_cli_tool *t, rz_opt *opts, int argc, char **argv)
{
    cli_init(c, t->name);
    c->decl = t;
    rz_opt common[11];
    common_table(c, opts, common);
    rz_opt *flat[RZ_CLI_MAX_OPTS];
    int n = flatten(common, flat, 0, 0);
    n = flatten(opts, flat, n, 0);
    check_table(c, flat, n);
    struct option lo[RZ_CLI_MAX_OPTS + 1];
    char shorts[2 * RZ_CLI_MAX_OPTS + 1];
    size_t ns = 0;
    for (int i = 0; i < n; i++) {
        int has_arg = !flat[i]->arg ? no_argument : flat[i]->optional ? optional_argument : required_argument;
        lo[i] = (struct option){flat[i]->name, has_arg, 0, flat[i]->shortname ? flat[i]->shortname : 256 + i};
        if (flat[i]->shortname) {
            shorts[ns++] = (char)flat[i]->shortname;
            if (has_arg) shorts[ns++] = ':';
            if (has_arg == optional_argument) shorts[ns++] = ':';
        }
    }
    lo[n] = (struct option){0, 0, 0, 0};
    shorts[ns] = 0;
    int code;
    while ((code = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        int k = code >= 256 ? code - 256 : -1;
        for (int i = 0; i < n && k < 0; i++)
            if (flat[i]->shortname == code) k = i;
        if (k < 0 || k >= n) rz_cli_usage_error(c, "unknown option or missing argument (see above)");
        apply(c, flat[k], optarg);
    }
    /* outputs checked before any work: a directory, a missing or read-only folder → exit 2 */
    if (c->output) rz_cli_output(c, c->output);
    if (c->report) rz_cli_output(c, c->report);
    return optind;
}

const rz_opt *rz_cli_opt(const rz_opt *opts, const char *name)
{
    for (const rz_opt *o = opts; o && o->kind != RZ_ARG_END; o++) {
        if (o->kind == RZ_ARG_TABLE) {
            const rz_opt *r = rz_cli_opt(o->to.table, name);
            if (r) return r;
        } else if (strcmp(o->name, name) == 0) {
            return o;
        }
    }
    return NULL;
}

/* Prints `text`'s lines, the first after `first` characters already on the line, every
 * line indented to column `col`. */
static void print_indented(FILE *f, const char *text, int first, int col)
{
    int at = first;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(f, "%*s%.*s\n", col > at ? col - at : 1, "", (int)len, p);
        at = 0;
        p += len + (nl ? 1 : 0);
    }
}

static void print_opts(FILE *f, const rz_opt *opts, int man)
{
    for (const rz_opt *o = opts; o && o->kind != RZ_ARG_END; o++) {
        if (o->kind == RZ_ARG_TABLE) {
            print_opts(f, o->to.table, man);
            continue;
        }
        char left[96];
        int len;
        if (o->shortname) len = snprintf(left, sizeof left, "-%c, --%s", o->shortname, o->name);
        else len = snprintf(left, sizeof left, "%s--%s", man ? "" : "    ", o->name);
        if (o->arg && len > 0 && (size_t)len < sizeof left)
            len += snprintf(left + len, sizeof left - (size_t)len, o->optional ? "[=%s]" : " %s", o->arg);
        if (man) {
            fprintf(f, "       %s\n", left);
            print_indented(f, o->help ? o->help : "", 0, 14);
        } else {
            fprintf(f, "  %s", left);
            if (len + 2 > 21) { /* too wide: the help goes on the next line */
                fputc('\n', f);
                print_indented(f, o->help ? o->help : "", 0, 23);
            } else {
                print_indented(f, o->help ? o->help : "", len + 2, 23);
            }
        }
    }
}

/* "a, b, c" wrapped to lines of at most 88 columns; `first` characters are already on the
 * line, continuation lines start at column `col`. */
static void print_wrapped(FILE *f, const char *list, int first, int col)
{
    int at = first;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, " ");
        if (at > col && at + 1 + (int)len > 88) {
            fprintf(f, "\n%*s", col, "");
            at = col;
        } else if (at == 0) {
            fprintf(f, "%*s", col, "");
            at = col;
        } else {
            fputc(' ', f);
            at++;
        }
        fprintf(f, "%.*s", (int)len, p);
        at += (int)len;
        p += len;
        while (*p == ' ') p++;
    }
    fputc('\n', f);
}

static void print_lines(FILE *f, const char *text, const char *first_prefix, const char *prefix)
{
    int line = 0;
    for (const char *p = text; p && *p; line++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(f, "%s%.*s\n", line ? prefix : first_prefix, (int)len, p);
        p += len + (nl ? 1 : 0);
    }
}

/* The common options' table as t's help lists them (those opts does not override); its
 * entries point into *dummy, a cleared rz_cli for t. */
static void cli_help_common(rz_cli *dummy, const rz_cli_tool *t, const rz_opt *opts, rz_opt common[11])
{
    memset(dummy, 0, sizeof *dummy);
    dummy->decl = t;
    common_table(dummy, opts, common);
}

void rz_cli_print_help(const rz_cli_tool *t, const rz_opt *opts, FILE *f)
{
    rz_cli dummy;
    rz_opt common[11];
    cli_help_common(&dummy, t, opts, common);
    print_lines(f, t->usage, "usage: ", "       ");
    print_lines(f, t->about ? t->about : t->summary, "", "");
    if (opts && opts->kind != RZ_ARG_END) {
        fputs("Options:\n", f);
        print_opts(f, opts, 0);
    }
    if (t->report) {
        fputs("Report fields (--json, --report; see schemas/):", f);
        print_wrapped(f, t->report, 45, 2);
    }
    if (t->examples) {
        fputs(strchr(t->examples, '\n') && strchr(t->examples, '\n')[1] ? "Examples:\n" : "Example:\n", f);
        print_lines(f, t->examples, "  ", "  ");
    }
    fputs("Common options:\n", f);
    print_opts(f, common, 0);
    fputs("Exit status: 0 success, 2 bad input or usage, 1 internal error.\n", f);
}

void rz_cli_print_man(const rz_cli_tool *t, const rz_opt *opts, FILE *f)
{
    rz_cli dummy;
    rz_opt common[11];
    cli_help_common(&dummy, t, opts, common);
    fprintf(f, "NAME\n       %s - %s\n\nSYNOPSIS\n", t->name, t->summary);
    print_lines(f, t->usage, "       ", "       ");
    if (t->about) {
        fputs("\nDESCRIPTION\n", f);
        print_lines(f, t->about, "       ", "       ");
    }
    if (opts && opts->kind != RZ_ARG_END) {
        fputs("\nOPTIONS\n", f);
        print_opts(f, opts, 1);
    }
    fputs("\nCOMMON OPTIONS\n", f);
    print_opts(f, common, 1);
    if (t->report) {
        fputs("\nREPORT FIELDS\n", f);
        print_wrapped(f, t->report, 0, 7);
    }
    if (t->examples) {
        fputs("\nEXAMPLES\n", f);
        print_lines(f, t->examples, "       ", "       ");
    }
    fputs("\nEXIT STATUS\n       0 success, 2 bad input or usage, 1 internal error.\n", f);
}

/* ---- Pipeline ends ---- */

const char *rz_cli_records_out(const rz_cli *c)
{
    const char *loc = c->output ? c->output : "-";
    if (strcmp(loc, "-") == 0 && isatty(STDOUT_FILENO))
        rz_cli_usage_error(c, "refusing to write records to a terminal; use -o FILE or a pipe");
    if (strcmp(loc, "-") == 0 && c->json)
        rz_cli_usage_error(c, "--json and the records would share stdout; use -o FILE (or --report LOC)");
    return loc;
}

void rz_cli_text_input(const rz_cli *c, const char **text, const char **tokens, int have_tokenizer)
{
    if (!*text && !*tokens) {
        if (have_tokenizer) *text = "-";
        else *tokens = rz_cli_records_in(c, NULL, "token");
    }
    if (*text && *tokens) rz_cli_usage_error(c, "give exactly one of -f TEXT and --tokens LOC");
    if (*text && !have_tokenizer) rz_cli_usage_error(c, "-f TEXT needs -z TOKENIZER (MODEL carries none)");
}

FILE *rz_cli_text_out(const rz_cli *c, const char *records)
{
    if (!(c->json || (records && strcmp(records, "-") == 0))) return stdout;
    return c->quiet ? NULL : stderr;
}

const char *rz_cli_records_in(const rz_cli *c, const char *loc, const char *what)
{
    if (!loc) loc = "-";
    if (strcmp(loc, "-") == 0 && isatty(STDIN_FILENO))
        rz_cli_usage_error(c, "refusing to read %s records from a terminal; give a file or a pipe", what);
    return loc;
}
