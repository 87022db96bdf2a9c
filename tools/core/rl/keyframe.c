/* keyframe.c — the keyframe motion format's parser and interpolation (see keyframe.h).
 *
 * The parser works on a bounded copy of one line at a time (lines longer than
 * MAX_LINE are an error, not truncated), splits it into whitespace-separated tokens and
 * never reads past n bytes of the input, so any bytes are safe input (fuzz_keyframe.c).
 */
#include "keyframe.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readfile.h"

#define MAX_LINE 4096
#define MAX_TOK (RL_KF_MAX_JOINTS + 1) /* "joints" and 32 names, or a time and 32 values */

static int bad(rz_err *e, const rl_keyframes *k, int line, const char *field, const char *fmt, const char *got)
{
    return rz_fail(e, RZ_EINPUT, "%s:%d: field '%s': expected %s, got '%.40s'", k->source, line, field, fmt, got);
}

static int number(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return end != s && !*end && !errno && isfinite(*v);
}

static int name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 1 || n >= max) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

int rl_kf_parse(const char *text, size_t n, const char *source, rl_keyframes *k, rz_err *e)
{
    memset(k, 0, sizeof *k);
    snprintf(k->source, sizeof k->source, "%s", source ? source : "keyframes");
    char buf[MAX_LINE + 1];
    char *tok[MAX_TOK];
    int line = 0, have_tag = 0, have_units = 0, cap = 0, rc = RZ_OK;
    double scale = M_PI / 180;
    size_t pos = 0;
    while (pos < n && !rc) {
        size_t end = pos;
        while (end < n && text[end] != '\n') end++;
        line++;
        size_t len = end - pos;
        if (len > MAX_LINE) {
            rc = rz_fail(e, RZ_EINPUT, "%s:%d: line longer than %d bytes", k->source, line, MAX_LINE);
            break;
        }
        memcpy(buf, text + pos, len);
        buf[len] = 0;
        pos = end + 1;
        if (memchr(buf, 0, len)) {
            rc = rz_fail(e, RZ_EINPUT, "%s:%d: a NUL byte (not a text file)", k->source, line);
            break;
        }
        char *hash = strchr(buf, '#');
        if (hash) *hash = 0;
        int nt = 0;
        for (char *s = strtok(buf, " \t\r\f\v"); s; s = strtok(NULL, " \t\r\f\v")) {
            if (nt == MAX_TOK) {
                rc = bad(e, k, line, "line", "at most 33 words (a time or 'joints', and 32 columns)", s);
                break;
            }
            tok[nt++] = s;
        }
        if (rc || nt == 0) continue;
        if (!have_tag) {
            if (strcmp(tok[0], "rz-keyframes") || nt != 2 || strcmp(tok[1], "1"))
                rc = bad(e, k, line, "format", "the first line 'rz-keyframes 1'", tok[0]);
            have_tag = 1;
            continue;
        }
        if (!strcmp(tok[0], "name") || !strcmp(tok[0], "units") || !strcmp(tok[0], "joints")) {
            if (k->nf > 0) {
                rc = bad(e, k, line, tok[0], "name, units and joints before the first frame", tok[0]);
            } else if (!strcmp(tok[0], "name")) {
                if (k->name[0]) rc = bad(e, k, line, "name", "one name line", tok[0]);
                else if (nt != 2 || !name_ok(tok[1], sizeof k->name))
                    rc = bad(e, k, line, "name", "one name of 1-47 letters, digits, '_', '-' or '.'", nt > 1 ? tok[1] : "");
                else snprintf(k->name, sizeof k->name, "%s", tok[1]);
            } else if (!strcmp(tok[0], "units")) {
                if (have_units) rc = bad(e, k, line, "units", "one units line", tok[0]);
                else if (nt != 2 || (strcmp(tok[1], "deg") && strcmp(tok[1], "rad")))
                    rc = bad(e, k, line, "units", "deg or rad", nt > 1 ? tok[1] : "");
                else scale = !strcmp(tok[1], "deg") ? M_PI / 180 : 1;
                have_units = 1;
            } else {
                if (k->nj) rc = bad(e, k, line, "joints", "one joints line", tok[0]);
                else if (nt < 2) rc = bad(e, k, line, "joints", "1 to 32 joint names", "");
                for (int i = 1; i < nt && !rc; i++) {
                    if (!name_ok(tok[i], sizeof k->joint[0])) rc = bad(e, k, line, "joints", "names of 1-31 letters, digits, '_', '-' or '.'", tok[i]);
                    for (int j = 0; j < i - 1 && !rc; j++)
                        if (!strcmp(k->joint[j], tok[i])) rc = bad(e, k, line, "joints", "each joint once", tok[i]);
                    if (!rc) snprintf(k->joint[i - 1], sizeof k->joint[0], "%s", tok[i]);
                }
                k->nj = rc ? 0 : nt - 1;
                k->joints_line = line;
            }
            continue;
        }
        /* a frame */
        if (!k->nj) {
            rc = bad(e, k, line, "joints", "a joints line before the frames", tok[0]);
            break;
        }
        if (nt != k->nj + 1) {
            rc = rz_fail(e, RZ_EINPUT, "%s:%d: field 'frame': expected %d values (time and %d joints), got %d", k->source, line,
                         k->nj + 1, k->nj, nt);
            break;
        }
        if (k->nf == RL_KF_MAX_FRAMES) {
            rc = bad(e, k, line, "frame", "at most 4096 frames", tok[0]);
            break;
        }
        double t;
        if (!number(tok[0], &t) || t < 0 || t > RL_KF_MAX_TIME) {
            rc = bad(e, k, line, "time", "a number of seconds in [0, 600]", tok[0]);
            break;
        }
        if (k->nf == 0 && t != 0) {
            rc = bad(e, k, line, "time", "0 for the first frame", tok[0]);
            break;
        }
        if (k->nf > 0 && !(t > k->t[k->nf - 1])) {
            rc = bad(e, k, line, "time", "a time after the previous frame's", tok[0]);
            break;
        }
        if (k->nf == cap) {
            int nc = cap ? 2 * cap : 16;
            double *t2 = realloc(k->t, (size_t)nc * sizeof(double));
            if (t2) k->t = t2;
            double *q2 = realloc(k->q, (size_t)nc * k->nj * sizeof(double));
            if (q2) k->q = q2;
            int *l2 = realloc(k->line, (size_t)nc * sizeof(int));
            if (l2) k->line = l2;
            if (!t2 || !q2 || !l2) {
                rc = rz_fail(e, RZ_EINTERNAL, "out of memory");
                break;
            }
            cap = nc;
        }
        for (int j = 0; j < k->nj && !rc; j++) {
            double v;
            if (!number(tok[j + 1], &v) || fabs(v * scale) > 2 * M_PI + 1e-9) {
                char field[48];
                snprintf(field, sizeof field, "%s", k->joint[j]);
                rc = bad(e, k, line, field, "a finite angle of at most 360 degrees", tok[j + 1]);
            }
            k->q[(size_t)k->nf * k->nj + j] = v * scale;
        }
        k->t[k->nf] = t;
        k->line[k->nf] = line;
        k->nf++;
    }
    if (!rc && !have_tag) rc = rz_fail(e, RZ_EINPUT, "%s: empty: expected the line 'rz-keyframes 1'", k->source);
    if (!rc && !k->name[0]) rc = rz_fail(e, RZ_EINPUT, "%s: field 'name': missing", k->source);
    if (!rc && k->nf < 2) rc = rz_fail(e, RZ_EINPUT, "%s: field 'frame': %d frames, expected at least 2", k->source, k->nf);
    if (rc) rl_kf_free(k);
    return rc;
}

int rl_kf_load(const char *path, rl_keyframes *k, rz_err *e)
{
    char *text;
    size_t n;
    memset(k, 0, sizeof *k);
    int rc = rz_read_file(path, &text, &n, e);
    if (rc) return rc;
    if (n > (size_t)1 << 24) {
        free(text);
        return rz_fail(e, RZ_EINPUT, "%s: %zu bytes, more than a keyframe file's 16 MiB", path, n);
    }
    rc = rl_kf_parse(text, n, path, k, e);
    free(text);
    return rc;
}

void rl_kf_free(rl_keyframes *k)
{
    free(k->t), free(k->q), free(k->line);
    k->t = k->q = NULL;
    k->line = NULL;
    k->nf = 0;
}

double rl_kf_duration(const rl_keyframes *k) { return k->t[k->nf - 1]; }

void rl_kf_eval(const rl_keyframes *k, double t, double *q)
{
    int f = 0;
    while (f + 1 < k->nf && k->t[f + 1] <= t) f++;
    const double *a = k->q + (size_t)f * k->nj;
    if (f + 1 >= k->nf || t <= k->t[0]) {
        memcpy(q, t <= k->t[0] ? k->q : a, (size_t)k->nj * sizeof(double));
        return;
    }
    const double *b = a + k->nj;
    double u = (t - k->t[f]) / (k->t[f + 1] - k->t[f]), w = u * u * (3 - 2 * u);
    for (int j = 0; j < k->nj; j++) q[j] = a[j] + w * (b[j] - a[j]);
}
