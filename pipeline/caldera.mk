# caldera.mk — a CALDERA-style table on stories260K: fp32, QuIP#-like e8p 2-bit (and
# 3-bit) with incoherence, and CALDERA (rz-lowrank: W ≈ Q + L·R, Q = 2-bit E8P with
# incoherence, L and R at 4 or 16 bits) at ranks 4/8/16 and at a rank allocation under a
# bit budget; columns bits per weight (linears, whole model), perplexity on the
# evaluation split, wall time of the quantiser.
#
#   make -f pipeline/caldera.mk -j2                        everything into out/caldera/
#   make -f pipeline/caldera.mk -j2 OUT=/tmp/cres          elsewhere
#   make -f pipeline/caldera.mk caldera-finetune           + rows "after rz-finetune"
#
# The text split, calibration and the e8p/fp32 rules are pipeline/quant.mk's (included):
# the first 300,000 bytes of tinystories-valid.txt calibrate (128 windows of 512 tokens,
# seed 1), the rest is the evaluation text. A CALDERA row is cal_rK_lrB (rank K, L/R
# storage B bits) or cal_budget (ranks chosen under BUDGET bpw, 4-bit L/R).

OUT    ?= out/caldera
BUDGET ?= 2.95
OUTER  ?= 20
INNER  ?= 5
include $(dir $(lastword $(MAKEFILE_LIST)))quant.mk
.DEFAULT_GOAL := caldera-all

CAL_ROWS ?= cal_r4_lr4 cal_r8_lr4 cal_r16_lr4 cal_r4_lr16 cal_r8_lr16 cal_r16_lr16 cal_budget
BASE_ROWS := e8p_2_inc e8p_3_inc

.PHONY: caldera-all caldera-finetune
caldera-all: $(OUT)/caldera.md

cal_rank = $(patsubst r%,%,$(call word_,$(1),2))
cal_lrb  = $(patsubst lr%,%,$(call word_,$(1),3))

# CALDERA layers (+ the tool's report: losses, bpw, seconds) and the packed model
$(OUT)/cal_budget.lr: $(OUT)/hessians.rzs
	$(RZ_BIN)/rz-lowrank -q -m $(MODEL) -H $< --budget $(BUDGET) --candidates 0,1,2,4,8,16,32 --lr-bits 4 \
	  --q-method e8p --bits 2 --incoherence --outer $(OUTER) --inner $(INNER) --seed $(SEED) -o $@ --json \
	  > $@.json.tmp && mv $@.json.tmp $(OUT)/cal_budget.quant.json
$(OUT)/cal_%.lr: $(OUT)/hessians.rzs
	$(RZ_BIN)/rz-lowrank -q -m $(MODEL) -H $< --rank $(call cal_rank,cal_$*) --lr-bits $(call cal_lrb,cal_$*) \
	  --q-method e8p --bits 2 --incoherence --outer $(OUTER) --inner $(INNER) --seed $(SEED) -o $@ --json \
	  > $@.json.tmp && mv $@.json.tmp $(OUT)/cal_$*.quant.json
$(OUT)/cal_%.rzm: $(OUT)/cal_%.lr
	$(RZ_BIN)/rz-pack -q -m $(MODEL) $< -o $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/cal_$*.pack.json

# one CSV line per row: name, bpw linears, bpw model, rel. proxy loss (total), ppl, ±, seconds
$(OUT)/caldera.csv: $(OUT)/fp32.ppl.json $(BASE_ROWS:%=$(OUT)/%.ppl.json) $(CAL_ROWS:%=$(OUT)/%.ppl.json)
	{ echo "row,bpw_linears,bpw_model,rel_loss,ppl,ppl_stderr,seconds,ranks"; \
	  jq -r '["fp32",32,32,0,.ppl,.stderr,0,""] | @csv' $(OUT)/fp32.ppl.json; \
	  for m in $(BASE_ROWS); do \
	    jq -rs --arg m $$m '[$$m, .[1].bpw_linears, .[1].bpw_model, .[0].rel_loss_mean, .[2].ppl, .[2].stderr, .[0].seconds, ""] | @csv' \
	      $(OUT)/$$m.quant.json $(OUT)/$$m.pack.json $(OUT)/$$m.ppl.json; done; \
	  for m in $(CAL_ROWS); do \
	    jq -rs --arg m $$m '[$$m, .[1].bpw_linears, .[1].bpw_model, .[0].rel_loss_mean, .[2].ppl, .[2].stderr, .[0].seconds, .[0].ranks_chosen] | @csv' \
	      $(OUT)/$$m.quant.json $(OUT)/$$m.pack.json $(OUT)/$$m.ppl.json; done; } | tr -d '"' > $@.tmp && mv $@.tmp $@

$(OUT)/caldera.md: $(OUT)/caldera.csv
	awk -F, 'NR==1 {print "| row | bpw (linears) | bpw (model) | ppl | ± | quantiser wall s |"; print "|---|---|---|---|---|---|"; next} \
	  {printf "| %s | %.3f | %.3f | %.3f | %.3f | %.2f |\n", $$1, $$2, $$3, $$5, $$6, $$7}' $< > $@.tmp && mv $@.tmp $@

# ---- after rz-finetune (not part of caldera-all) ----------------------------------------
# rz-finetune trains adapters on the calibration text only, on top of the packed CALDERA
# model as it loads (rz_model_load merges Q + L R): --init lora adds a fresh rank-FT_RANK
# pair, so the result is W = (Q + L R) + L' R' written merged as float32; its bpw is the
# CALDERA model's plus the adapters' (FT_RANK · (m + n) · 32 bits per matrix, f32).
# Training CALDERA's own L, R with Q frozen needs rz-finetune to load them with
# rz_model_load_lowrank (schemas/model.h).
FT_RANK  ?= 4
FT_STEPS ?= 100
FT_ROWS  ?= cal_r8_lr4 cal_r16_lr4
$(OUT)/ft_%.rzm: $(OUT)/%.rzm $(OUT)/calib.txt
	$(RZ_BIN)/rz-finetune -q -m $< -z $(TOK) -f $(OUT)/calib.txt --steps $(FT_STEPS) --rank $(FT_RANK) \
	  --lr 3e-3 --seed $(SEED) -o $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/ft_$*.ft.json
caldera-finetune: $(FT_ROWS:%=$(OUT)/ft_%.ppl.json)
	@for m in $(FT_ROWS); do printf '%s after rz-finetune: ppl %s (before %s)\n' $$m \
	  "$$(jq .ppl $(OUT)/ft_$$m.ppl.json)" "$$(jq .ppl $(OUT)/$$m.ppl.json)"; done
