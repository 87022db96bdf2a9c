/* iqm.c — `rz-agent iqm`: the interquartile mean over seeds and its 95% percentile-
 * bootstrap interval (tools/core/rl/stats.c, as `sweep` reports them) for every key of a
 * "KEY<TAB>VALUE" table, e.g. one line per run written by a workflow. Keys keep the
 * order of their first line; "nan" values (a score with no task to average) are
 * dropped, so n counts the finite ones. Output: "key n iqm ci_lo ci_hi" as TSV. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rzagent.h"
#include "stats.h"

static const rz_cli_tool tool = {
    .name = "rz-agent iqm",
    .summary = "IQM and 95% bootstrap CI per key of a KEY<TAB>VALUE table",
    .usage = "rz-agent iqm [TABLE|-] [-o OUT.tsv]\n",
    .examples = "printf 'fb\\t0.5\\nfb\\t0.7\\nvcfb\\t0.6\\n' | rz-agent iqm\n",
    .output_help = "the summary (TSV: key, n, iqm, ci_lo, ci_hi)",
};

enum { MAX_KEYS = 4096, MAX_VALS = 256, KEY_CAP = 256 };

typedef struct {
    char key[KEY_CAP];
    int n;
    double v[MAX_VALS];
} group;

int ag_iqm_main(int argc, char **argv)
{
    rz_cli c;
    rz_opt opts[] = {RZ_O_END};
    int first = rz_cli_parse(&c, &tool, opts, argc, argv);
    if (first + 1 < argc) rz_cli_usage_error(&c, "unexpected argument '%s'", argv[first + 1]);
    const char *in = first < argc ? argv[first] : "-";
    FILE *f = strcmp(in, "-") ? fopen(in, "r") : stdin;
    if (!f) {
        fprintf(stderr, "rz-agent iqm: %s: cannot open\n", in);
        return 2;
    }
    rz_err e = {0};
    group *g = rz_calloc(MAX_KEYS, sizeof *g, &e);
    if (!g) rz_cli_die(&c, &e);
    int ng = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        char key[KEY_CAP];
        double v;
        if (len == 1 && line[0] == '\n') continue;
        if (rl_kv_line(line, (size_t)len, key, sizeof key, &v)) {
            rz_fail(&e, RZ_EINPUT, "%s: line %ld: expected KEY<TAB>NUMBER (key under %d bytes)", in, lineno, KEY_CAP);
            rc = 2;
            break;
        }
        int k = 0;
        while (k < ng && strcmp(g[k].key, key)) k++;
        if (k == ng && ng == MAX_KEYS) {
            rz_fail(&e, RZ_EINPUT, "%s: line %ld: more than %d keys", in, lineno, MAX_KEYS);
            rc = 2;
            break;
        }
        if (k == ng) memcpy(g[ng++].key, key, sizeof key);
        if (g[k].n == MAX_VALS) {
            rz_fail(&e, RZ_EINPUT, "%s: line %ld: key '%s' has more than %d values", in, lineno, key, MAX_VALS);
            rc = 2;
            break;
        }
        if (!isnan(v)) g[k].v[g[k].n++] = v;
    }
    free(line);
    if (f != stdin) fclose(f);
    if (rc) {
        free(g);
        rz_cli_die(&c, &e);
    }
    rz_outfile o;
    if (rz_outfile_open(&o, c.output ? c.output : "-", &e)) rz_cli_die(&c, &e);
    fprintf(o.f, "key\tn\tiqm\tci_lo\tci_hi\n");
    for (int k = 0; k < ng; k++) {
        double lo = NAN, hi = NAN, m = rl_iqm(g[k].v, g[k].n);
        if (g[k].n > 0) rl_bootstrap_ci(g[k].v, g[k].n, &lo, &hi);
        fprintf(o.f, "%s\t%d\t%.4f\t%.4f\t%.4f\n", g[k].key, g[k].n, m, lo, hi);
    }
    free(g);
    if (rz_outfile_commit(&o, &e)) rz_cli_die(&c, &e);
    return 0;
}
