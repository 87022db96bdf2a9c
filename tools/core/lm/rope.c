/* rope.c — RoPE frequencies, angle tables and position indices for every context
 * extension method (see rope.h for the math of each method).
 *
 * Design: a method is reduced once, in rz_rope_init, to hs/2 frequencies f_j (double),
 * a logit multiplier and a table of cos/sin for the position indices it can produce.
 * Rotating a row is then the same loop for every method; only the position index given
 * to it differs (DCA's indices come from rz_rope_key_index / rz_rope_query_index).
 */
#include "rope.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[] = {"none", "pi", "ntk", "yarn", "dca"};

rz_rope_method rz_rope_default(double theta)
{
    rz_rope_method m;
    memset(&m, 0, sizeof m);
    m.method = RZ_ROPE_NONE;
    m.theta = theta;
    m.scale = 1.0;
    m.yarn_alpha = 1.0;
    m.yarn_beta = 32.0;
    return m;
}

const char *rz_rope_method_name(int method)
{
    return method >= RZ_ROPE_NONE && method <= RZ_ROPE_DCA ? method_names[method] : "?";
}

/* ---------------------------------------------------------------- parsing, checking */

/* Whole-string number parsers: 0 on success. */
static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != 0 || errno != 0) return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != 0 || errno != 0 || v < -(1L << 30) || v > (1L << 30)) return -1;
    *out = (int)v;
    return 0;
}

int rz_rope_parse(const char *ext, const char *scale, const char *chunk, const char *local, int orig_ctx,
                  double theta, rz_rope_method *out, rz_err *e)
{
    rz_rope_method m = rz_rope_default(theta);
    const char *name = ext ? ext : "none";
    int method = -1;
    for (int i = RZ_ROPE_NONE; i <= RZ_ROPE_DCA; i++)
        if (strcmp(name, method_names[i]) == 0) method = i;
    if (method < 0)
        return rz_fail(e, RZ_EINPUT, "--rope-ext '%s': unknown method (expected none, pi, ntk, yarn or dca)", name);
    m.method = method;
    /* Which options each method takes: scale for pi/ntk/yarn, chunk and local for dca. */
    int takes_scale = method == RZ_ROPE_PI || method == RZ_ROPE_NTK || method == RZ_ROPE_YARN;
    int takes_chunk = method == RZ_ROPE_DCA;
    if (scale && !takes_scale)
        return rz_fail(e, RZ_EINPUT, "--rope-scale given, but --rope-ext %s takes no scale%s", name,
                       method == RZ_ROPE_DCA ? " (dca uses --chunk and --local)" : "");
    if ((chunk || local) && !takes_chunk)
        return rz_fail(e, RZ_EINPUT, "--%s given, but only --rope-ext dca takes --chunk and --local (method is %s)",
                       chunk ? "chunk" : "local", name);
    if (takes_scale) {
        if (!scale) return rz_fail(e, RZ_EINPUT, "--rope-ext %s needs --rope-scale F (F >= 1)", name);
        if (parse_double(scale, &m.scale))
            return rz_fail(e, RZ_EINPUT, "--rope-scale '%s' is not a number", scale);
    }
    if (method == RZ_ROPE_YARN || method == RZ_ROPE_DCA) m.orig_ctx = orig_ctx;
    if (takes_chunk) {
        if (chunk && parse_int(chunk, &m.chunk)) return rz_fail(e, RZ_EINPUT, "--chunk '%s' is not an integer", chunk);
        if (local && parse_int(local, &m.local)) return rz_fail(e, RZ_EINPUT, "--local '%s' is not an integer", local);
        if (!chunk) m.chunk = orig_ctx / 4 * 3; /* the paper: s = 3/4 of the training length */
        if (!local) /* the paper: w = c - s; at most s, the queries of one chunk */
            m.local = orig_ctx - m.chunk < m.chunk ? orig_ctx - m.chunk : m.chunk;
    }
    int rc = rz_rope_check(&m, 0, e);
    if (rc) return rc;
    *out = m;
    return 0;
}

int rz_rope_check(const rz_rope_method *m, int head_size, rz_err *e)
{
    const char *name = rz_rope_method_name(m->method);
    if (m->method < RZ_ROPE_NONE || m->method > RZ_ROPE_DCA)
        return rz_fail(e, RZ_EINPUT, "rope: unknown method %d (expected none, pi, ntk, yarn or dca)", m->method);
    if (!(m->theta > 1.0) || !isfinite(m->theta))
        return rz_fail(e, RZ_EINPUT, "rope: theta %g is not a finite number > 1", m->theta);
    if (!(m->scale >= 1.0 && m->scale <= 1e6))
        return rz_fail(e, RZ_EINPUT, "rope %s: scale %g is not in [1, 1e6]", name, m->scale);
    if ((m->method == RZ_ROPE_NONE || m->method == RZ_ROPE_DCA) && m->scale != 1.0)
        return rz_fail(e, RZ_EINPUT, "rope %s: takes no scale (got %g)", name, m->scale);
    if (!(m->mscale >= 0.0) || !isfinite(m->mscale))
        return rz_fail(e, RZ_EINPUT, "rope %s: mscale %g is not finite >= 0 (0 = the default)", name, m->mscale);
    if (m->method == RZ_ROPE_YARN || m->method == RZ_ROPE_DCA) {
        if (m->orig_ctx < 2 || m->orig_ctx > (1 << 24))
            return rz_fail(e, RZ_EINPUT, "rope %s: original context %d is not in [2, 2^24]", name, m->orig_ctx);
    }
    if (m->method == RZ_ROPE_YARN &&
        !(m->yarn_alpha >= 0.0 && m->yarn_beta > m->yarn_alpha && isfinite(m->yarn_beta)))
        return rz_fail(e, RZ_EINPUT, "rope yarn: ramp alpha %g, beta %g: need 0 <= alpha < beta", m->yarn_alpha,
                       m->yarn_beta);
    if (m->method == RZ_ROPE_DCA) {
        int s = m->chunk, w = m->local, c = m->orig_ctx;
        /* s < c: inter-chunk queries sit at c - 1 and keys at < s, so inter-chunk distances
         * are >= c - s > 0 and never collide with intra-chunk ones (paper: M >= c - s). */
        if (s <= 0 || s >= c)
            return rz_fail(e, RZ_EINPUT, "rope dca: chunk size %d must be in [1, original context %d - 1] "
                           "(the paper uses 3/4 of it)", s, c);
        /* w <= c - s keeps the successive indices s .. s+w-1 below c (trained positions);
         * w <= s because a chunk has only s queries; w >= 1 keeps a local window at all. */
        int wmax = c - s < s ? c - s : s;
        if (w < 1 || w > wmax)
            return rz_fail(e, RZ_EINPUT, "rope dca: local window %d must be in [1, min(chunk %d, context %d - chunk "
                           "%d) = %d] (the paper sets it to context - chunk)", w, s, c, s, wmax);
    } else if (m->chunk != 0 || m->local != 0) {
        return rz_fail(e, RZ_EINPUT, "rope %s: takes no chunk or local window (got chunk %d, local %d)", name,
                       m->chunk, m->local);
    }
    if (head_size != 0) {
        if (head_size < 2 || head_size > 1024 || head_size % 2 != 0)
            return rz_fail(e, RZ_EINPUT, "rope: head size %d is not even and in [2, 1024]", head_size);
        if (m->method == RZ_ROPE_NTK && head_size < 4)
            return rz_fail(e, RZ_EINPUT, "rope ntk: head size %d < 4 (the base exponent is hs / (hs - 2))",
                           head_size);
    }
    return 0;
}

/* ---------------------------------------------------------------- tables */

/* f_j of pair j after the method, in double. */
static double method_freq(const rz_rope_method *m, int hs, int j)
{
    double expo = -(double)(2 * j) / (double)hs;
    double f = pow(m->theta, expo); /* the trained frequency */
    switch (m->method) {
    case RZ_ROPE_PI:
        return f / m->scale;
    case RZ_ROPE_NTK: {
        /* theta' = theta * scale^(hs/(hs-2)); f'_j = theta'^(-2j/hs) */
        double theta2 = m->theta * pow(m->scale, (double)hs / (double)(hs - 2));
        return pow(theta2, expo);
    }
    case RZ_ROPE_YARN: {
        /* r = turns of pair j over the original context; gamma ramps 0 -> 1 between
         * alpha and beta: pairs turning fewer than alpha times are interpolated (f/scale),
         * more than beta times kept (f), in between a linear blend. */
        double wavelength = 2.0 * M_PI / f;
        double r = (double)m->orig_ctx / wavelength;
        double gamma = (r - m->yarn_alpha) / (m->yarn_beta - m->yarn_alpha);
        gamma = gamma < 0.0 ? 0.0 : gamma > 1.0 ? 1.0 : gamma;
        return (1.0 - gamma) * f / m->scale + gamma * f;
    }
    default: /* none, dca: trained frequencies */
        return f;
    }
}

void rz_rope_free(rz_rope *r)
{
    if (!r) return;
    free(r->freq);
    free(r->cos_t);
    free(r->sin_t);
    memset(r, 0, sizeof *r);
}

int rz_rope_init(rz_rope *r, const rz_rope_method *m, int head_size, int max_ctx, rz_err *e)
{
    memset(r, 0, sizeof *r);
    if (head_size <= 0) return rz_fail(e, RZ_EINPUT, "rope: head size %d is not positive", head_size);
    int rc = rz_rope_check(m, head_size, e);
    if (rc) return rc;
    if (max_ctx < 1 || max_ctx > (1 << 24))
        return rz_fail(e, RZ_EINPUT, "rope: context %d is not in [1, 2^24]", max_ctx);
    r->m = *m;
    if (r->m.mscale == 0.0) r->m.mscale = m->method == RZ_ROPE_YARN ? 0.1 * log(m->scale) + 1.0 : 1.0;
    r->head_size = head_size;
    r->n_pos = m->method == RZ_ROPE_DCA ? m->orig_ctx : max_ctx;
    int half = head_size / 2;
    r->logit_scale = (float)(r->m.mscale * r->m.mscale / sqrt((double)head_size));
    r->freq = rz_malloc(sizeof(double) * (size_t)half, e);
    r->cos_t = rz_malloc(sizeof(float) * (size_t)r->n_pos * (size_t)half, e);
    r->sin_t = rz_malloc(sizeof(float) * (size_t)r->n_pos * (size_t)half, e);
    if (!r->freq || !r->cos_t || !r->sin_t) {
        rz_rope_free(r);
        return RZ_EINTERNAL;
    }
    for (int j = 0; j < half; j++) r->freq[j] = method_freq(&r->m, head_size, j);
    for (int p = 0; p < r->n_pos; p++)
        for (int j = 0; j < half; j++) {
            double a = (double)p * r->freq[j];
            r->cos_t[(size_t)p * half + j] = (float)cos(a);
            r->sin_t[(size_t)p * half + j] = (float)sin(a);
        }
    return 0;
}

/* ---------------------------------------------------------------- rotation, indices */

/* Rotates pairs (2j, 2j+1) of every hs-wide head of v[width] by the angles cs, sn [hs/2]. */
static void rotate_pairs(float *restrict v, int width, int hs, const float *restrict cs, const float *restrict sn)
{
    for (int h0 = 0; h0 < width; h0 += hs) {
        float *restrict vh = v + h0;
        for (int j = 0; j < hs / 2; j++) {
            float a = vh[2 * j], b = vh[2 * j + 1];
            vh[2 * j] = a * cs[j] - b * sn[j];
            vh[2 * j + 1] = a * sn[j] + b * cs[j];
        }
    }
}

void rz_rope_rotate(const rz_rope *r, float *v, int width, int p)
{
    int half = r->head_size / 2;
    if (p < r->n_pos) {
        rotate_pairs(v, width, r->head_size, r->cos_t + (size_t)p * half, r->sin_t + (size_t)p * half);
        return;
    }
    /* Beyond the table: the same angles, computed now (rz_rope_check bounds hs by 1024). */
    float cs[512], sn[512];
    for (int j = 0; j < half; j++) {
        double a = (double)p * r->freq[j];
        cs[j] = (float)cos(a);
        sn[j] = (float)sin(a);
    }
    rotate_pairs(v, width, r->head_size, cs, sn);
}

int rz_rope_key_index(const rz_rope *r, int pos)
{
    return r->m.method == RZ_ROPE_DCA ? pos % r->m.chunk : pos;
}

int rz_rope_query_index(const rz_rope *r, int pos, int part)
{
    if (r->m.method != RZ_ROPE_DCA) return pos;
    int s = r->m.chunk, w = r->m.local, c = r->m.orig_ctx, i = pos % s;
    switch (part) {
    case RZ_DCA_INTRA: return i;
    case RZ_DCA_SUCC: return i < w ? s + i : c - 1;
    default: return c - 1;
    }
}
