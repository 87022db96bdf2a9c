/* fuzz_keyframe.c — libFuzzer target: any bytes as a keyframe motion file through the
 * parser rz-agent keyframes uses (rl_kf_parse), and every parsed motion evaluated at its
 * frame times, between them and past the end. */
#include <stdlib.h>

#include "keyframe.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    rl_keyframes k;
    rz_err e = {0};
    if (rl_kf_parse((const char *)data, n, "fuzz.kf", &k, &e) == 0) {
        double q[RL_KF_MAX_JOINTS];
        for (int f = 0; f < k.nf; f++) {
            rl_kf_eval(&k, k.t[f], q);
            rl_kf_eval(&k, k.t[f] + 1e-3, q);
        }
        rl_kf_eval(&k, rl_kf_duration(&k) + 1, q);
        rl_kf_eval(&k, -1, q);
        rl_kf_free(&k);
    }
    return 0;
}
