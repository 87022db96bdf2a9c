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
caldera-all: $(OUT)/caldera.md $(OUT)/all_methods.png

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
# Every row is fine-tuned on the calibration text only (the text the Hessians came from)
# with the same steps, batch, context, lr and seed, and evaluated on the evaluation split
# like the rows above.
# CALDERA rows (FT_ROWS): rz-finetune loads the packed model with rz_model_load_lowrank
# and trains the model's own L, R (each matrix at its own rank, k = 0 ones frozen) with
# Q frozen (--init model); --packed-out writes ft_X.rzm packed again: Q's codes as they
# were, the tuned L, R in X's L/R format (4-bit grid: rounded once, at the end), so its
# bits per weight are X's (rz-pack's figure still holds). ft_X.ppl.json is the ppl of
# that packed model; ft_X.dense.ppl.json the ppl of the float merge Q + L R before the
# final rounding (-o).
# Controls (FT_CONTROLS: fp32, e8p 2-bit): they have no L, R, so they get a fresh
# rank-FT_RANK float32 LoRA pair (--init lora) on top, written merged (f32).
FT_RANK     ?= 4
FT_STEPS    ?= 100
FT_BATCH    ?= 8
FT_CTX      ?= 256
FT_LR       ?= 3e-3
FT_ROWS     ?= cal_r4_lr4 cal_r8_lr4 cal_r16_lr4 cal_r8_lr16 cal_budget
FT_QAT_ROWS ?= cal_r4_lr4 cal_r8_lr4 cal_r16_lr4 cal_budget
FT_CONTROLS ?= fp32 e8p_2_inc
FT_FLAGS    ?=
FT = $(RZ_BIN)/rz-finetune -q -z $(TOK) -f $(OUT)/calib.txt --steps $(FT_STEPS) --batch $(FT_BATCH) \
  --ctx $(FT_CTX) --lr $(FT_LR) --seed $(SEED) $(FT_FLAGS)

$(OUT)/ft_cal_%.rzm: $(OUT)/cal_%.rzm $(OUT)/calib.txt
	$(FT) -m $< --init model -o $(OUT)/ft_cal_$*.dense.rzm --packed-out $@ --json > $@.json.tmp \
	  && mv $@.json.tmp $(OUT)/ft_cal_$*.ft.json
$(OUT)/ft_cal_%.dense.ppl.json: $(OUT)/ft_cal_%.rzm $(OUT)/eval.txt
	$(RZ_BIN)/rz-ppl -q -m $(OUT)/ft_cal_$*.dense.rzm -z $(TOK) -f $(OUT)/eval.txt --ctx $(CTX) --json > $@.tmp \
	  && mv $@.tmp $@
# --qat rows (4-bit L, R): every step trains at the rounded pair (straight-through), so the
# packed result is what was trained; ftq_X.rzm is packed like X.
$(OUT)/ftq_cal_%.rzm: $(OUT)/cal_%.rzm $(OUT)/calib.txt
	$(FT) -m $< --init model --qat --packed-out $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/ftq_cal_$*.ft.json
$(OUT)/ft_%.rzm: $(OUT)/%.rzm $(OUT)/calib.txt
	$(FT) -m $< --init lora --rank $(FT_RANK) -o $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/ft_$*.ft.json

caldera-finetune: $(FT_ROWS:%=$(OUT)/ft_%.ppl.json) $(FT_ROWS:%=$(OUT)/ft_%.dense.ppl.json) \
  $(FT_QAT_ROWS:%=$(OUT)/ftq_%.ppl.json) $(FT_CONTROLS:%=$(OUT)/ft_%.ppl.json)
	@for m in $(FT_CONTROLS); do printf '%s + fresh rank-%s adapters (control): ppl %.3f -> %.3f, loss %.4f -> %.4f\n' \
	  $$m $(FT_RANK) "$$(jq .ppl $(OUT)/$$m.ppl.json)" "$$(jq .ppl $(OUT)/ft_$$m.ppl.json)" \
	  "$$(jq .loss_first $(OUT)/ft_$$m.ft.json)" "$$(jq .loss_final $(OUT)/ft_$$m.ft.json)"; done
	@for m in $(FT_ROWS); do printf '%s, own L R tuned: ppl %.3f -> %.3f packed (%.3f float merge), loss %.4f -> %.4f, %s params\n' \
	  $$m "$$(jq .ppl $(OUT)/$$m.ppl.json)" "$$(jq .ppl $(OUT)/ft_$$m.ppl.json)" "$$(jq .ppl $(OUT)/ft_$$m.dense.ppl.json)" \
	  "$$(jq .loss_first $(OUT)/ft_$$m.ft.json)" "$$(jq .loss_final $(OUT)/ft_$$m.ft.json)" \
	  "$$(jq .trained_params $(OUT)/ft_$$m.ft.json)"; done
	@for m in $(FT_QAT_ROWS); do printf '%s, own L R tuned with --qat: ppl %.3f -> %.3f packed, loss %.4f -> %.4f\n' \
	  $$m "$$(jq .ppl $(OUT)/$$m.ppl.json)" "$$(jq .ppl $(OUT)/ftq_$$m.ppl.json)" \
	  "$$(jq .loss_first $(OUT)/ftq_$$m.ft.json)" "$$(jq .loss_final $(OUT)/ftq_$$m.ft.json)"; done

# One plot for both issues: perplexity vs bits per weight of every quantization method
# (results.csv from quant.mk) and of the CALDERA rows (caldera.csv), same split.
$(OUT)/all_methods.png: $(OUT)/results.csv $(OUT)/caldera.csv
	cd $(OUT) && fp=$$(awk -F, '$$1 == "fp32" {print $$8}' results.csv) && gnuplot -e "set terminal pngcairo size 960,620; \
	  set output 'all_methods.png.tmp'; set datafile separator ','; set logscale y; set grid; set key top right; \
	  set xlabel 'bits per weight (quantised linears, all stored bits)'; set ylabel 'perplexity (eval split)'; \
	  set title 'stories260K: every method, perplexity vs bits per weight'; set xrange [1.5:9]; \
	  fam(m,i)= (strcol(1) eq m && strcol(3) eq i) ? 1 : NaN; cal(t)= strstrt(strcol(1), t) > 0 ? 1 : NaN; \
	  plot 'results.csv' every ::1 using 4:(fam('rtn','false')*\$$8) with linespoints title 'rtn', \
	       '' every ::1 using 4:(fam('ldlq','false')*\$$8) with linespoints title 'ldlq (GPTQ)', \
	       '' every ::1 using 4:(fam('ldlq','true')*\$$8) with linespoints title 'ldlq + incoherence', \
	       '' every ::1 using 4:(fam('e8p','false')*\$$8) with linespoints title 'e8p', \
	       '' every ::1 using 4:(fam('e8p','true')*\$$8) with linespoints title 'e8p + incoherence (QuIP#)', \
	       'caldera.csv' every ::1 using 2:(cal('_lr4')*\$$5) with linespoints lw 2 title 'CALDERA, 4-bit L R (ranks 4, 8, 16)', \
	       '' every ::1 using 2:(cal('_lr16')*\$$5) with linespoints lw 2 title 'CALDERA, 16-bit L R', \
	       '' every ::1 using 2:(cal('budget')*\$$5) with points pt 7 ps 1.5 title 'CALDERA, budgeted ranks', \
	       $$fp with lines dt 2 lc rgb 'black' title 'fp32 (32 bpw)'" \
	  && mv all_methods.png.tmp all_methods.png
