/* fuzz_kvline.c — libFuzzer target: any bytes as one line of the KEY<TAB>VALUE table
 * `rz-agent iqm` reads (rl_kv_line, tools/core/rl/stats.c). */
#include <string.h>

#include "stats.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    char key[64];
    double v;
    if (rl_kv_line((const char *)data, n, key, sizeof key, &v) == 0 && strlen(key) >= sizeof key) __builtin_trap();
    return 0;
}
