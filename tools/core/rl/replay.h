/* replay.h — the online replay buffer: a bounded FIFO of transitions (s, a, s', z, done),
 * the z being the one the policy acted with (FB-CPR's discriminator reads it) and done
 * 1 when s' is terminal (rl_env_terminal: the humanoid fell), so that the TD targets of
 * that row do not bootstrap (fbcpr.h). An episode cut by its length is not terminal.
 *
 * Storage is cap rows per array; row head is written next, and once size reaches cap the
 * oldest row is overwritten (wrap-around). Rows 0 … size − 1 are always the valid ones,
 * so sampling is a uniform row below size and a saved buffer is those rows plus head.
 * States are environment states (observations are recomputed when a batch is drawn).
 * rl_replay_tensors lists the arrays for a checkpoint (names "replay.S", "replay.A",
 * "replay.S2", "replay.Z", "replay.done", "replay.meta" = head and size as int64 byte
 * images); rl_replay_loaded checks what was read into them: counts in range, every state
 * valid in the environment, every action in range, every z finite, every done 0 or 1.
 */
#ifndef RZ_RL_REPLAY_H
#define RZ_RL_REPLAY_H

#include <stdint.h>

#include "env.h"
#include "fb.h"
#include "rng.h"
#include "rz.h"

typedef struct {
    long cap, head, size;
    int sd, ad, zd;
    float *S, *A, *S2, *Z; /* cap × sd, cap × ad, cap × sd, cap × zd */
    float *done;           /* cap: 1 terminal s', 0 not */
    float meta[4];         /* head, size as int64 byte images (checkpoints) */
} rl_replay;

/* cap × (2·state + action + z + 1) floats, bounded before allocating (a checkpoint header
 * names the capacity). */
#define RL_REPLAY_MAX_BYTES (8.0 * 1073741824.0)
int rl_replay_init(rl_replay *r, long cap, int sd, int ad, int zd, rz_err *e);
void rl_replay_free(rl_replay *r);
void rl_replay_push(rl_replay *r, const float *s, const float *a, const float *s2, const float *z, int done);
/* n uniform rows (with replacement) into idx. */
void rl_replay_sample(const rl_replay *r, rz_rng *rng, int n, long *idx);

/* Arrays for a checkpoint: 6 tensors (the first size rows of each array, and meta). The
 * row counts in list[k].n are those of the current size; rl_replay_resize_for_load
 * sets size from a saved meta before the arrays are read. */
int rl_replay_tensors(rl_replay *r, fb_tensor *list);
/* After the tensors were read: head and size from meta, then validation. what names the
 * source in messages ("run.ckpt"). */
int rl_replay_loaded(rl_replay *r, const rl_env *env, const char *what, rz_err *e);

#endif
