/* qflags.h — the block-LDLQ/E8P flags that rz-quantize and rz-lowrank share, declared
 * once as rz_opt entries (pipeline/cli.h); each tool includes them in its own table with
 * RZ_O_TABLE, so the parser and both --help texts come from the same lines.
 *
 *   --target-rms F    the codebook's input RMS: the matrix is divided by rms(W)/F
 *                     (rz_e8p_opts.target_rms; ≤ 0 keeps the tool's default)
 *   --tune-iters N    QuIP#'s quip_tune_iters refinement passes after the LDLQ sweep
 *   --scale-search N  also try F·2^(−i/6), i = 1 … N, keep the lowest proxy loss
 *
 * Each tool sets its defaults in the struct before parsing and says them in its --help
 * description (rz-quantize: QuIP#'s; rz-lowrank: CALDERA's).
 */
#ifndef RZ_QFLAGS_H
#define RZ_QFLAGS_H

#include "cli.h"
#include "ldlq.h"

enum { RZ_QFLAGS_N = 3 };

/* tab[RZ_QFLAGS_N + 1]: the entries (END-terminated) storing into o. */
void rz_qflags_table(rz_opt *tab, rz_e8p_opts *o);

#endif
