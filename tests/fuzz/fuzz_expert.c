/* fuzz_expert.c — libFuzzer target: any bytes as an FB-CPR expert stream through the
 * reader rz-agent uses (tools/core/rl/expert.c). */
#include "expert.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    const char *path = fuzz_file("expert.rz", data, n);
    if (!path) return 0;
    rz_err e = {0};
    rl_expert x;
    rl_env env;
    if (rl_expert_read(path, NULL, NULL, &x, &env, &e) == 0) {
        rl_expert_windows(&x, 8);
        rl_expert_free(&x);
        rl_env_free(&env);
    }
    return 0;
}
