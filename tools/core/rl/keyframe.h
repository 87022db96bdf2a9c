/* keyframe.h — keyframe motions as data: joint targets over time in a small text format.
 *
 * Format (one item per line; '#' starts a comment; blank lines ignored):
 *
 *     rz-keyframes 1                 the format and its version (first line)
 *     name crouch                    the motion's name (1–47 of [A-Za-z0-9_.-])
 *     units deg                      deg or rad (optional; default deg)
 *     joints right_knee left_knee    the joint columns (1–32 names, each ≤ 31 bytes, unique)
 *     0.0    0    0                  frames: time (s) then one value per joint column
 *     1.0  -90  -90
 *
 * name, units and joints come before the frames, in any order, each once. Frames: 2 to
 * RL_KF_MAX_FRAMES, the first at time 0, times strictly increasing up to RL_KF_MAX_TIME,
 * values finite and at most 360 degrees (2π rad) in magnitude. Joints not listed hold
 * their rest angle 0. Between frames the target moves along a smoothstep
 * q = q0 + (q1 − q0)(3u² − 2u³), u = (t − t0)/(t1 − t0): zero velocity at each keyframe,
 * so the tracker is not asked for steps. After the last frame the target holds.
 * Bad input is RZ_EINPUT naming the source, the line and the field.
 */
#ifndef RZ_RL_KEYFRAME_H
#define RZ_RL_KEYFRAME_H

#include <stddef.h>

#include "rz.h"

#define RL_KF_MAX_JOINTS 32
#define RL_KF_MAX_FRAMES 4096
#define RL_KF_MAX_TIME 600.0 /* s */

typedef struct {
    char source[256];                    /* the file, for messages */
    char name[48];
    int nj;                              /* joint columns */
    char joint[RL_KF_MAX_JOINTS][32];
    int joints_line;                     /* the line of "joints" */
    int nf;                              /* frames */
    double *t;                           /* nf times (s) */
    double *q;                           /* nf × nj values (rad) */
    int *line;                           /* nf source lines */
} rl_keyframes;

int rl_kf_parse(const char *text, size_t n, const char *source, rl_keyframes *k, rz_err *e);
int rl_kf_load(const char *path, rl_keyframes *k, rz_err *e);
void rl_kf_free(rl_keyframes *k);
double rl_kf_duration(const rl_keyframes *k);
/* The targets at time t (nj values, rad). */
void rl_kf_eval(const rl_keyframes *k, double t, double *q);

#endif
