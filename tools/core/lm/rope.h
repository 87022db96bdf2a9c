/* rope.h — rotary position embeddings (RoPE) and their training-free context extensions.
 *
 * RoPE as llama2.c does it: each head of width hs is hs/2 adjacent pairs (v[2j], v[2j+1]),
 * and a vector at position index p has pair j rotated by the angle p * f_j:
 *     v'[2j]   = v[2j] cos(p f_j) - v[2j+1] sin(p f_j)
 *     v'[2j+1] = v[2j] sin(p f_j) + v[2j+1] cos(p f_j),     f_j = theta^(-2j/hs).
 * Since q' . k' then depends on the positions only through p_q - p_k, every method below
 * is either a change of the frequencies f_j or a change of the position indices used:
 *
 *   none  plain extrapolation: f_j as trained, positions as they come.
 *   pi    position interpolation (Chen et al. 2023): position p / scale, i.e. f_j / scale.
 *   ntk   NTK-aware scaling: base theta' = theta * scale^(hs / (hs - 2)), so f_0 is
 *         unchanged and the lowest frequency f_{hs/2-1} is divided by exactly scale.
 *   yarn  YaRN (Peng et al. 2023), "NTK-by-parts" + temperature: with wavelength
 *         lambda_j = 2 pi / f_j and r_j = c / lambda_j (turns in the original context c),
 *         gamma_j = clamp((r_j - alpha) / (beta - alpha), 0, 1) and
 *         f'_j = (1 - gamma_j) f_j / scale + gamma_j f_j   (alpha = 1, beta = 32);
 *         logits are multiplied by mscale^2, mscale = 0.1 ln(scale) + 1 (the paper's
 *         sqrt(1/t)). The ramp is on r_j itself, as in the paper, not on the floored/ceiled
 *         dimension indices of the HF implementation.
 *   dca   Dual Chunk Attention (An et al. 2024): trained f_j, but remapped position
 *         indices, all below the original context c (see rz_rope_key_index and
 *         rz_rope_query_index; the attention itself is in attention.h).
 *
 * The rotation is always orthogonal (norm-preserving): YaRN's temperature is applied to
 * the logits by attention.c (rz_rope.logit_scale), not folded into cos/sin as HF does.
 * Angles are computed in double (p * f_j, then cos, sin) and rounded to float once; a
 * table holds them for position indices [0, n_pos), and any index beyond is computed on
 * the fly the same way, so the table is only a cache.
 */
#ifndef RZ_ROPE_H
#define RZ_ROPE_H

#include "rz.h"

enum { RZ_ROPE_NONE, RZ_ROPE_PI, RZ_ROPE_NTK, RZ_ROPE_YARN, RZ_ROPE_DCA };

/* The three query position sets of Dual Chunk Attention. */
enum { RZ_DCA_INTRA, RZ_DCA_SUCC, RZ_DCA_INTER };

typedef struct {
    int method;        /* RZ_ROPE_NONE .. RZ_ROPE_DCA */
    double theta;      /* RoPE base of the trained model (10000 for llama2.c) */
    double scale;      /* pi, ntk, yarn: context extension factor, >= 1; 1 otherwise */
    int orig_ctx;      /* c, the pretraining context: yarn (ramp) and dca; 0 otherwise */
    int chunk;         /* dca: chunk size s, 0 < s < c */
    int local;         /* dca: local window w, 1 <= w <= min(s, c - s) */
    double yarn_alpha; /* yarn: ramp start in turns per original context (1) */
    double yarn_beta;  /* yarn: ramp end (32) */
    double mscale;     /* logits are multiplied by mscale^2; 0 means the method's default:
                          0.1 ln(scale) + 1 for yarn, 1 for the others */
} rz_rope_method;

/* A method with its defaults: none, theta, nothing else set (yarn_alpha 1, beta 32). */
rz_rope_method rz_rope_default(double theta);

/* "none", "pi", "ntk", "yarn", "dca"; "?" for anything else. */
const char *rz_rope_method_name(int method);

/* Builds a method from command-line strings, e.g. --rope-ext dca --chunk 768 --local 256.
 * ext: the method name (NULL = "none"); scale, chunk, local: the option values, NULL when
 * the option was not given. orig_ctx: the model's training context (seq_len); theta: its
 * RoPE base. Defaults: dca chunk = 3c/4 (the paper's setting), local = min(s, c - s)
 * (the paper's w = c - s); pi, ntk and yarn need --rope-scale. An option given to a
 * method that does not take it is an error (none takes no option at all). The result is
 * checked by rz_rope_check (with head_size 0: not checked here). Errors: RZ_EINPUT. */
int rz_rope_parse(const char *ext, const char *scale, const char *chunk, const char *local, int orig_ctx,
                  double theta, rz_rope_method *out, rz_err *e);

/* Validates a method for heads of head_size (0: skip the head-size checks): known method,
 * theta finite > 1, scale finite in [1, 1e6] and == 1 for none/dca, c in [2, 2^24] where
 * needed, 0 < s < c, 1 <= w <= min(s, c - s), yarn 0 <= alpha < beta, mscale >= 0,
 * head_size even in [2, 1024] and >= 4 for ntk (hs / (hs - 2)). Errors: RZ_EINPUT with the reason. */
int rz_rope_check(const rz_rope_method *m, int head_size, rz_err *e);

/* A method made concrete for one head size: frequencies, logit scale, angle tables. */
typedef struct {
    rz_rope_method m;   /* with mscale resolved to its default when it was 0 */
    int head_size;      /* hs (even) */
    int n_pos;          /* table rows: position indices [0, n_pos) */
    double *freq;       /* [hs/2] f_j in radians per position index, after the method */
    float *cos_t;       /* [n_pos][hs/2] cos(p f_j) */
    float *sin_t;       /* [n_pos][hs/2] sin(p f_j) */
    float logit_scale;  /* q.k multiplier: mscale^2 / sqrt(hs) */
} rz_rope;

/* Checks m, then fills r. The table covers the position indices the method can use with
 * a context of max_ctx positions: [0, max_ctx) for none/pi/ntk/yarn, [0, c) for dca
 * (every DCA index is < c). Errors: RZ_EINPUT (bad method), RZ_EINTERNAL (memory). */
int rz_rope_init(rz_rope *r, const rz_rope_method *m, int head_size, int max_ctx, rz_err *e);
void rz_rope_free(rz_rope *r);

/* Rotates every head of the row v[width] (width a multiple of hs) to position index p
 * (p >= 0; it need not be in the table). */
void rz_rope_rotate(const rz_rope *r, float *v, int width, int p);

/* The position index a key at absolute position pos is stored rotated with: pos, or for
 * dca pos mod s (paper Eq. 2: P_k = [0, 1, ..., l-1] mod s). */
int rz_rope_key_index(const rz_rope *r, int pos);

/* The position index of a query at absolute position pos for one DCA part (paper Eqs.
 * 2, 5, 7; with r = pos mod s):
 *     RZ_DCA_INTRA  r                                 (P_q^Intra = P_k)
 *     RZ_DCA_SUCC   s + r if r < w, else c - 1        (P_q^Succ = [s, .., s+w-1, c-1, .., c-1])
 *     RZ_DCA_INTER  c - 1                             (P_q^Inter)
 * For the other methods every part is pos. */
int rz_rope_query_index(const rz_rope *r, int pos, int part);

#endif
