# caldera.mk — CALDERA on stories260K: fp32, QuIP#-like e8p 2-bit (and 3-bit) with
# incoherence, CALDERA (rz-lowrank: W ≈ Q + L·R, Q = 2-bit E8P with incoherence, L and R
# at 4 bits) at uniform ranks 4/8/16, the rank allocation on the measured end loss at the
# same bits per weight as each uniform rank, the old proxy-loss allocation for comparison,
# and fine-tuning by distillation to the float model; columns bits per weight (linears,
# whole model), perplexity on the evaluation split ±, the allocation's prediction.
#
#   make -f pipeline/caldera.mk -j2                        the main table into out/caldera/
#   make -f pipeline/caldera.mk -j2 OUT=/tmp/cres          elsewhere
#   make -f pipeline/caldera.mk -j2 caldera-finetune       + the fine-tuned rows
#   make -f pipeline/caldera.mk MPI='mpirun -np 2' ...     the allocation's fits on 2 ranks
#
# The text split, calibration and the e8p/fp32 rules are pipeline/quant.mk's (included):
# the first 300,000 bytes of tinystories-valid.txt calibrate (128 windows of 512 tokens,
# seed 1), the rest is the evaluation text. Rows:
#   cal_rK_lr4   uniform rank K, 4-bit L/R
#   cal_kl_rK    ranks chosen by rz-lowrank --objective kl under the bits of cal_rK_lr4
#                (its achieved bpw_linears as the budget): per matrix and candidate rank the
#                measured KL from the float model on PROBE windows of the calibration text
#                with that matrix at the candidate and the others at rank K (--kl-base K),
#                KL_ROUNDS rounds (each re-measured around the last allocation)
#   cal_px_r8    the old objective (Σ absolute proxy losses) under cal_r8_lr4's bits
# Every CALDERA fit: OUTER outer / INNER inner iterations, seed SEED.

OUT      ?= out/caldera
OUTER    ?= 20
INNER    ?= 5
CANDS    ?= 0,2,4,8,16,32
PROBE    ?= --probe-windows 8 --probe-ctx 256
KL_ROUNDS ?= 2
MPI      ?=
THREADS  ?= 1
include $(dir $(lastword $(MAKEFILE_LIST)))quant.mk
.DEFAULT_GOAL := caldera-all

UNIFORM  ?= cal_r4_lr4 cal_r8_lr4 cal_r16_lr4
ALLOC    ?= cal_kl_r4 cal_kl_r8 cal_kl_r16 cal_px_r8
BASE_ROWS := e8p_2_inc e8p_3_inc
CAL_ROWS = $(UNIFORM) $(ALLOC)
LOWRANK = $(MPI) $(RZ_BIN)/rz-lowrank -q -t $(THREADS) -m $(MODEL) --lr-bits 4 --q-method e8p --bits 2 --incoherence \
  --outer $(OUTER) --inner $(INNER) --seed $(SEED)

.PHONY: caldera-all caldera-finetune caldera-plot
caldera-all: $(OUT)/caldera.md

cal_rank = $(patsubst r%,%,$(call word_,$(1),2))
cal_lrb  = $(patsubst lr%,%,$(call word_,$(1),3))
budget_of = $$(jq .bpw_linears $(OUT)/cal_r$(1)_lr4.pack.json)

# uniform rank (+ the tool's report: losses, bpw, seconds) and the packed model
$(OUT)/cal_r%.lr: $(OUT)/hessians.rzs
	$(LOWRANK) -H $< --rank $(call cal_rank,cal_r$*) -o $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/cal_r$*.quant.json
# measured-KL allocation at cal_rK_lr4's bits, the others at rank K while one is measured
$(OUT)/cal_kl_r%.lr: $(OUT)/hessians.rzs $(OUT)/calib.txt $(OUT)/cal_r%_lr4.rzm
	$(LOWRANK) -H $< --budget $(call budget_of,$*) --candidates $(CANDS) --objective kl -z $(TOK) -f $(OUT)/calib.txt \
	  $(PROBE) --kl-base $* --kl-rounds $(KL_ROUNDS) -o $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/cal_kl_r$*.quant.json
# the old objective at the same bits
$(OUT)/cal_px_r%.lr: $(OUT)/hessians.rzs $(OUT)/cal_r%_lr4.rzm
	$(LOWRANK) -H $< --budget $(call budget_of,$*) --candidates $(CANDS) --objective proxy -o $@ --json > $@.json.tmp \
	  && mv $@.json.tmp $(OUT)/cal_px_r$*.quant.json
$(OUT)/cal_%.rzm: $(OUT)/cal_%.lr
	$(RZ_BIN)/rz-pack -q -m $(MODEL) $< -o $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/cal_$*.pack.json

# one CSV line per row: name, bpw linears, bpw model, total proxy loss, ppl, ±, predicted
# (allocation rows: Σ KL or Σ proxy of the choice), seconds, ranks
$(OUT)/caldera.csv: $(OUT)/fp32.ppl.json $(BASE_ROWS:%=$(OUT)/%.ppl.json) $(CAL_ROWS:%=$(OUT)/%.ppl.json)
	{ echo "row,bpw_linears,bpw_model,proxy_loss,ppl,ppl_stderr,predicted,seconds,ranks"; \
	  jq -r '["fp32",32,32,0,.ppl,.stderr,"","",""] | @csv' $(OUT)/fp32.ppl.json; \
	  for m in $(BASE_ROWS) $(CAL_ROWS); do \
	    jq -rs --arg m $$m '[$$m, .[1].bpw_linears, .[1].bpw_model, .[0].loss, .[2].ppl, .[2].stderr, \
	      (.[0].predicted // ""), .[0].seconds, (.[0].ranks_chosen // "")] | @csv' \
	      $(OUT)/$$m.quant.json $(OUT)/$$m.pack.json $(OUT)/$$m.ppl.json; done; } | tr -d '"' > $@.tmp && mv $@.tmp $@

$(OUT)/caldera.md: $(OUT)/caldera.csv
	awk -F, 'NR==1 {print "| row | bpw (linears) | bpw (model) | total proxy loss | ppl | ± | predicted |"; \
	  print "|---|---|---|---|---|---|---|"; next} \
	  {printf "| %s | %.3f | %.3f | %.4g | %.3f | %.3f | %s |\n", $$1, $$2, $$3, $$4, $$5, $$6, $$7}' $< > $@.tmp && mv $@.tmp $@

# ---- fine-tuning (not part of caldera-all) -----------------------------------------------
# As CALDERA/QuIP# fine-tune: distillation to the float model's next-token distribution
# (rz-finetune --distill MODEL, KL) on the calibration text, its last FT_HOLDOUT windows
# held out and evaluated every FT_EVAL steps, the best step's L, R kept. Each run writes
#   ftd_X.rzm        packed as X (Q's codes untouched, the tuned L, R re-rounded to X's
#                    4-bit grid once at the end): X's bits per weight exactly (rizz's rows)
#   ftd_X.dense.rzm  the float merge Q + L R: the factors at full precision (the reference's
#                    rows); their honest bits: Q's (e8p_2_inc's bpw) + 16 bits per entry of
#                    L and R (trained_params)
# and fth_X: the same with hard labels (next-token cross-entropy on the text), the control.
FT_STEPS    ?= 100
FT_BATCH    ?= 8
FT_CTX      ?= 256
FT_LR       ?= 3e-3
FT_HOLDOUT  ?= 16
FT_EVAL     ?= 10
FT_ROWS     ?= cal_r8_lr4 cal_kl_r8
FTH_ROWS    ?= cal_r8_lr4
FT = $(RZ_BIN)/rz-finetune -q -t $(THREADS) -z $(TOK) -f $(OUT)/calib.txt --steps $(FT_STEPS) --batch $(FT_BATCH) \
  --ctx $(FT_CTX) --lr $(FT_LR) --seed $(SEED) --holdout $(FT_HOLDOUT) --eval-every $(FT_EVAL)

$(OUT)/ftd_%.rzm: $(OUT)/%.rzm $(OUT)/calib.txt
	$(FT) -m $< --distill $(MODEL) -o $(OUT)/ftd_$*.dense.rzm --packed-out $@ --json > $@.json.tmp \
	  && mv $@.json.tmp $(OUT)/ftd_$*.ft.json
$(OUT)/fth_%.rzm: $(OUT)/%.rzm $(OUT)/calib.txt
	$(FT) -m $< -o $(OUT)/fth_$*.dense.rzm --packed-out $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/fth_$*.ft.json
$(OUT)/ft%.dense.ppl.json: $(OUT)/ft%.rzm $(OUT)/eval.txt
	$(RZ_BIN)/rz-ppl -q -m $(OUT)/ft$*.dense.rzm -z $(TOK) -f $(OUT)/eval.txt --ctx $(CTX) --json > $@.tmp && mv $@.tmp $@

FT_ALL = $(FT_ROWS:%=ftd_%) $(FTH_ROWS:%=fth_%)
$(OUT)/finetune.md: $(FT_ALL:%=$(OUT)/%.ppl.json) $(FT_ALL:%=$(OUT)/%.dense.ppl.json) $(OUT)/e8p_2_inc.pack.json
	{ echo "| row | loss | bpw (linears), re-rounded | ppl | ± | bpw (linears), factors fp16 | ppl | ± | held-out loss first → best (step) |"; \
	  echo "|---|---|---|---|---|---|---|---|---|"; \
	  for r in $(FT_ALL); do x=$${r#ft?_}; \
	    jq -rs --arg r $$r '.[0] as $$p | .[1] as $$q | .[2] as $$f | .[3] as $$a | .[4] as $$b | \
	      "| \($$r) | \($$f.loss_kind) | \($$p.bpw_linears*1000|round/1000) | \($$a.ppl*1000|round/1000) | \($$a.stderr*1000|round/1000) | \(($$q.bpw_linears + 16*$$f.trained_params/$$p.linear_weights)*1000|round/1000) | \($$b.ppl*1000|round/1000) | \($$b.stderr*1000|round/1000) | \($$f.holdout_first*10000|round/10000) → \($$f.holdout_best*10000|round/10000) (\($$f.best_step)) |"' \
	      $(OUT)/$$x.pack.json $(OUT)/e8p_2_inc.pack.json $(OUT)/$$r.ft.json $(OUT)/$$r.ppl.json $(OUT)/$$r.dense.ppl.json; done; } \
	  > $@.tmp && mv $@.tmp $@
caldera-finetune: $(OUT)/finetune.md
	@cat $<
