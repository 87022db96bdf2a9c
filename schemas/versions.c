/* versions.c — the record versions this build reads, one table over every record type
 * (see versions.h). It sits above the record types' headers so that record.c, which
 * they all include, includes none of them. */
#include "versions.h"

#include "agent.h"
#include "icl.h"
#include "maze_rec.h"
#include "model.h"
#include "qrecord.h"

#include <string.h>

/* Versions this build reads, per record type (schemas/README.md). The training records'
 * constants live above schemas/ (RZ_TRAIN_CKPT_VERSION, RZ_ADAPTERS_VERSION in
 * tools/core/train/checkpoint.h): keep them in step.
 * Types not listed are passed on; the code that reads them checks their fields. */
static const struct {
    const char *type;
    int lo, hi;
} known_versions[] = {
    {"end", RZ_END_VERSION, RZ_END_VERSION},
    {"error", RZ_ERROR_VERSION, RZ_ERROR_VERSION},
    {"tensor", RZ_TENSOR_VERSION, RZ_TENSOR_VERSION},
    {"tokens", RZ_TOKENS_VERSION, RZ_TOKENS_VERSION},
    {"model", RZ_MODEL_VERSION, RZ_MODEL_VERSION},
    {"hessian", RZ_HESSIAN_VERSION, RZ_HESSIAN_VERSION},
    {"qlayer", RZ_QLAYER_VERSION, RZ_QLAYER_VERSION_SCALES}, /* v3: line scales (out_scale, in_scale) */
    {"agent", RZ_AGENT_VERSION, RZ_AGENT_VERSION},
    {"agent_dataset", RZ_AGENT_DATASET_VERSION, RZ_AGENT_DATASET_VERSION},
    {"agent_steps", RZ_AGENT_STEPS_VERSION, RZ_AGENT_STEPS_VERSION},
    {"train_checkpoint", 1, 1},
    {"lora_adapters", 1, 1},
    {"icl_demos", RZ_ICL_DEMOS_VERSION, RZ_ICL_DEMOS_VERSION},
    {"icl_prompt", RZ_ICL_PROMPT_VERSION, RZ_ICL_PROMPT_VERSION},
    {"icl_pred", RZ_ICL_PRED_VERSION, RZ_ICL_PRED_VERSION},
    {"maze", RZ_MAZE_REC_VERSION, RZ_MAZE_REC_VERSION},
    {"report", 1, 1},
    {"agent_expert", RZ_AGENT_EXPERT_VERSION, RZ_AGENT_EXPERT_VERSION},
    {"agent_traj", RZ_AGENT_TRAJ_VERSION, RZ_AGENT_TRAJ_VERSION},
    {"agent_online", 2, RZ_AGENT_ONLINE_VERSION}, /* v2: its agent still evaluates; resume refuses it;
                                                   * v3: resumes with v4's defaults (agent.c) */
};

int rz_rec_version_check(const rz_rec_ctx *c, const char *type, int64_t v, rz_err *e)
{
    for (size_t i = 0; i < sizeof known_versions / sizeof *known_versions; i++) {
        if (strcmp(type, known_versions[i].type) != 0) continue;
        if (v >= known_versions[i].lo && v <= known_versions[i].hi) return RZ_OK;
        if (known_versions[i].lo == known_versions[i].hi)
            return rz_rec_fail(e, c, "v", "version %lld is not known to this build (it reads version %d)",
                               (long long)v, known_versions[i].lo);
        return rz_rec_fail(e, c, "v", "version %lld is not known to this build (it reads versions %d-%d)",
                           (long long)v, known_versions[i].lo, known_versions[i].hi);
    }
    return RZ_OK;
}
