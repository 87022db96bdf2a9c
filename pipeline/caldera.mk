# caldera.mk — CALDERA on stories260K: fp32, Q alone (2-bit and 3-bit E8P with
# incoherence, the CALDERA fits' own Q: rows cal_q2, cal_q3), CALDERA (rz-lowrank: W ≈ Q + L·R, Q = 2-bit E8P with incoherence, L and R
# at 4 bits) at uniform ranks 4/8/16, the rank allocation on the measured end loss at the
# bits per weight as uniform ranks 4, 8 and 16 (ALLOC='... cal_px_r8' adds the old
# proxy-loss allocation at rank 8's bits),
# and fine-tuning by distillation to the float model; columns bits per weight (linears,
# whole model), perplexity ± on the first ABL_TOKENS (32,768) tokens of the evaluation
# split (quant.mk's ABL_PPL), the allocation's predicted and measured probe KL.
#
#   make -f pipeline/caldera.mk -j2                        the main table into out/caldera/
#   make -f pipeline/caldera.mk -j2 OUT=/tmp/cres          elsewhere
#   make -f pipeline/caldera.mk -j2 caldera-finetune       + the fine-tuned rows
#   make -f pipeline/caldera.mk caldera-finetune-rht        + the rows with the RHT sign vectors tuned
#   make -f pipeline/caldera.mk MPI='mpirun -np 2' ...     the allocation's fits on 2 ranks
#
# The text split, calibration and the e8p/fp32 rules are pipeline/quant.mk's (included):
# the first 300,000 bytes of tinystories-valid.txt calibrate (128 windows of 512 tokens,
# seed 1), the rest is the evaluation text. Rows:
#   cal_rK_lr4   uniform rank K, 4-bit L/R
#   cal_kl_rK    ranks chosen by rz-lowrank --objective kl under the bits of cal_rK_lr4
#                (its achieved bpw_linears as the budget), candidate ranks CANDS (CANDS_K if
#                set: rank 16's go up to 64): per matrix and candidate rank the
#                measured KL from the float model on PROBE windows of the calibration text
#                with that matrix at the candidate and the others at rank K (--kl-base K),
#                KL_ROUNDS rounds (each re-measured around the last allocation)
#   cal_px_r8    the old objective (Σ absolute proxy losses) under cal_r8_lr4's bits
#   cal_kls_rK   as cal_kl_rK with the curves averaged over the quantiser seeds CURVE_SEEDS
#                (--curve-seeds: each seed's candidate fits, its own baseline; disjoint
#                from SEEDS, so every evaluated seed is out of sample) and fitted
#                non-increasing in rank (--monotone) in every round; final fits with SEED
#   cal_klm_rK   cal_kl_rK's curves (seed SEED's, as measured) fitted non-increasing in
#                rank (--curves ... --monotone): no new measurement
#   X_sN         row X with quantiser seed N (RHT signs, SVD) instead of SEED; for the
#                allocation rows cal_kl_rK_sN keeps cal_kl_rK's measured curves
#                (--curves: the same ranks) and refits every matrix with seed N (likewise
#                cal_kls_rK_sN, cal_klm_rK_sN)
# Every CALDERA fit: OUTER outer / INNER inner iterations and rz-lowrank's defaults (the
# reference's steps) except CAL_FLAGS: --downdate 0, because the Hessian downdate raised
# the proxy loss and the perplexity on this model in pipeline/caldera_ref.md's ablation
# (uniform and allocated rows get the same flags).
#
#   make -f pipeline/caldera.mk -j2 caldera-seeds      uniform vs allocated at r4/r8/r16 bits, SEEDS
#   make -f pipeline/caldera.mk -j2 SEED_ALLOC=cal_kls caldera-heldout caldera-seeds
#                                                      the same for another allocation (cal_kls, cal_klm)

OUT      ?= out/caldera
OUTER    ?= 20
INNER    ?= 50
CAL_FLAGS ?= --downdate 0
SEEDS    ?= 1 2 3
SEED_RANKS ?= 4 8 16
CANDS    ?= 0,2,4,8,16,32
# rank 16's budget: the average rank is 16, so a cap of 32 (2x the mean) would bind on the
# matrices the measurement favours (wk already reached 32 at rank 8's bits); 64 is full rank
# of every 64-wide matrix (wk/wv, 32 x 64, stop at 32: rz-lowrank drops candidates above
# min(rows, cols))
CANDS_16 ?= 0,2,4,8,16,32,64
cands_of = $(or $(CANDS_$(1)),$(CANDS))
PROBE    ?= --probe-windows 8 --probe-ctx 256
KL_ROUNDS ?= 2
# cal_kls: the quantiser seeds its curves are averaged over (none of SEEDS)
CURVE_SEEDS ?= 101,102
# the allocation rows caldera-seeds and caldera-heldout compare with uniform rank
SEED_ALLOC ?= cal_kl
MPI      ?=
THREADS  ?= 1
include $(dir $(lastword $(MAKEFILE_LIST)))quant.mk
.DEFAULT_GOAL := caldera-all

UNIFORM  ?= cal_r4_lr4 cal_r8_lr4 cal_r16_lr4
ALLOC    ?= cal_kl_r4 cal_kl_r8 cal_kl_r16
BASE_ROWS := cal_q2 cal_q3
CAL_ROWS = $(UNIFORM) $(ALLOC)
LOWRANK = $(MPI) $(RZ_BIN)/rz-lowrank -q -t $(THREADS) -m $(MODEL) --lr-bits 4 --q-method e8p --bits 2 --incoherence \
  --outer $(OUTER) --inner $(INNER) $(CAL_FLAGS)
cal_seed = $(call q_seed,$(1))

.PHONY: caldera-all caldera-finetune caldera-plot
caldera-all: $(OUT)/caldera.md

cal_rank = $(patsubst r%,%,$(call word_,$(1),2))
cal_lrb  = $(patsubst lr%,%,$(call word_,$(1),3))
budget_of = $$(jq .bpw_linears $(OUT)/cal_r$(1)_lr4.pack.json)

# uniform rank (+ the tool's report: losses, bpw, seconds) and the packed model
$(OUT)/cal_r%.lr: $(OUT)/hessians.rzs
	$(LOWRANK) -H $< --seed $(call cal_seed,cal_r$*) --rank $(call cal_rank,cal_r$*) -o $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/cal_r$*.quant.json
# measured-KL allocation at cal_rK_lr4's bits, the others at rank K while one is measured
$(OUT)/cal_kl_r%.lr: $(OUT)/hessians.rzs $(OUT)/calib.txt $(OUT)/cal_r%_lr4.rzm
	$(LOWRANK) -H $< --seed $(SEED) --budget $(call budget_of,$*) --candidates $(call cands_of,$*) --objective kl -z $(TOK) -f $(OUT)/calib.txt \
	  $(PROBE) --kl-base $* --kl-rounds $(KL_ROUNDS) -o $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/cal_kl_r$*.quant.json
# the same with the curves averaged over CURVE_SEEDS and fitted monotone in rank
$(OUT)/cal_kls_r%.lr: $(OUT)/hessians.rzs $(OUT)/calib.txt $(OUT)/cal_r%_lr4.rzm
	$(LOWRANK) -H $< --seed $(SEED) --budget $(call budget_of,$*) --candidates $(call cands_of,$*) --objective kl -z $(TOK) -f $(OUT)/calib.txt \
	  $(PROBE) --kl-base $* --kl-rounds $(KL_ROUNDS) --curve-seeds $(CURVE_SEEDS) --monotone -o $@ --json > $@.json.tmp \
	  && mv $@.json.tmp $(OUT)/cal_kls_r$*.quant.json
# cal_kl_rK's curves fitted monotone in rank (no new measurement)
$(OUT)/cal_klm_r%.lr: $(OUT)/hessians.rzs $(OUT)/cal_kl_r%.lr
	$(LOWRANK) -H $< --seed $(SEED) --budget $(call budget_of,$*) --candidates $(call cands_of,$*) --objective kl \
	  --curves $(OUT)/cal_kl_r$*.quant.json --monotone -o $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/cal_klm_r$*.quant.json
# the old objective at the same bits
$(OUT)/cal_px_r%.lr: $(OUT)/hessians.rzs $(OUT)/cal_r%_lr4.rzm
	$(LOWRANK) -H $< --seed $(SEED) --budget $(call budget_of,$*) --candidates $(call cands_of,$*) --objective proxy -o $@ --json > $@.json.tmp \
	  && mv $@.json.tmp $(OUT)/cal_px_r$*.quant.json
# Q alone (rank 0) at 2 and 3 bits, with the CALDERA fits' own Q settings: the e8p rows
# of the table in the same scheme (quant.mk's e8p_B_inc rows are rz-quantize's, with its
# own defaults). cal_qB.lr gives the bits (rz-pack), cal_qB.fake.rzm the float32 model of
# the same fit for a fast rz-ppl (a packed E8P model evaluates from its codes).
$(OUT)/cal_q%.lr: $(OUT)/hessians.rzs
	$(subst --bits 2,--bits $*,$(LOWRANK)) -H $< --seed $(SEED) --rank 0 -o $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/cal_q$*.quant.json
$(OUT)/cal_q%.fake.rzm: $(OUT)/hessians.rzs
	$(subst --bits 2,--bits $*,$(LOWRANK)) -H $< --seed $(SEED) --rank 0 --fake -o $@ --json > $@.json.tmp && rm $@.json.tmp
$(OUT)/cal_q%.abl.json: $(OUT)/cal_q%.fake.rzm $(OUT)/cal_q%.rzm $(OUT)/eval.txt
	$(ABL_PPL) -m $< > $@.tmp && mv $@.tmp $@
# the allocation P (cal_kl, cal_kls, cal_klm) with another quantiser seed: the curves of its
# seed-SEED row (same ranks; cal_klm's are cal_kl's, fitted again), fits with seed N
curves_of = $(if $(filter cal_klm,$(1)),cal_kl,$(1))
mono_of = $(if $(filter cal_kl,$(1)),,--monotone)
define cal_kl_seed
$(OUT)/$(3)_r$(1)_s$(2).lr: $(OUT)/hessians.rzs $(OUT)/$(3)_r$(1).lr
	$$(LOWRANK) -H $$< --seed $(2) --budget $$(call budget_of,$(1)) --candidates $$(call cands_of,$(1)) --objective kl \
	  --curves $(OUT)/$(call curves_of,$(3))_r$(1).quant.json $(call mono_of,$(3)) -o $$@ --json > $$@.json.tmp \
	  && mv $$@.json.tmp $(OUT)/$(3)_r$(1)_s$(2).quant.json
endef
$(foreach p,cal_kl cal_kls cal_klm,$(foreach k,$(SEED_RANKS),$(foreach n,$(filter-out $(SEED),$(SEEDS)),$(eval $(call cal_kl_seed,$(k),$(n),$(p))))))
$(OUT)/cal_%.rzm: $(OUT)/cal_%.lr
	$(RZ_BIN)/rz-pack -q -m $(MODEL) $< -o $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/cal_$*.pack.json

# one CSV line per row (SEED's fits): name, bpw linears, bpw model, total proxy loss, ppl
# and ± on the first ABL_TOKENS tokens of the evaluation split (as caldera_seeds.md), the
# allocation's predicted probe KL, the probe KL measured of its first baseline (uniform
# rank K) and of itself, seconds, ranks (space-separated)
$(OUT)/caldera.csv: FORCE $(OUT)/abl-fp32.ppl.json $(BASE_ROWS:%=$(OUT)/%.abl.json) $(CAL_ROWS:%=$(OUT)/%.abl.json)
	ROW='[$$m, .[1].bpw_linears, .[1].bpw_model, .[0].loss, .[2].ppl, .[2].stderr, (if .[0].budget > 0 then .[0].predicted else "" end), (.[0].kl_baselines[0]? // ""), (if (.[0].kl_measured // 0) > 0 then .[0].kl_measured else "" end), .[0].seconds, (.[0].ranks_chosen // "" | gsub(",";" "))] | @csv'; \
	{ echo "row,bpw_linears,bpw_model,proxy_loss,ppl,ppl_stderr,predicted,kl_baseline,kl_measured,seconds,ranks"; \
	  jq -r '["fp32",32,32,0,.ppl,.stderr,"","","","",""] | @csv' $(OUT)/abl-fp32.ppl.json; \
	  for m in $(BASE_ROWS) $(CAL_ROWS); do \
	    jq -rs --arg m $$m "$$ROW" \
	      $(OUT)/$$m.quant.json $(OUT)/$$m.pack.json $(OUT)/$$m.abl.json; done; } | tr -d '"' > $@.tmp && mv $@.tmp $@

$(OUT)/caldera.md: $(OUT)/caldera.csv
	awk -F, 'NR==1 {print "| row | bpw (linears) | bpw (model) | total proxy loss | ppl | ± | predicted probe KL | probe KL of uniform rank K | probe KL measured |"; \
	  print "|---|---|---|---|---|---|---|---|---|"; next} \
	  {for (i = 7; i <= 9; i++) if ($$i != "") $$i = sprintf("%.3f", $$i); \
	   printf "| %s | %.3f | %.3f | %.4g | %.3f | %.3f | %s | %s | %s |\n", $$1, $$2, $$3, $$4, $$5, $$6, $$7, $$8, $$9}' $< > $@.tmp && mv $@.tmp $@

# ---- fine-tuning (not part of caldera-all) -----------------------------------------------
# As CALDERA/QuIP# fine-tune: distillation to the float model's next-token distribution
# (rz-finetune --distill MODEL, KL) on the calibration text, its last FT_HOLDOUT windows
# held out and evaluated every FT_EVAL steps, the best step's L, R kept. Each run writes
#   ftd_X.rzm        packed as X (Q's codes untouched, the tuned L, R re-rounded to X's
#                    4-bit grid once at the end): X's bits per weight exactly (rizz's rows)
#   ftd_X.dense.rzm  the float merge Q + L R: the factors at full precision (the reference's
#                    rows); their honest bits: Q's (cal_q2's bpw: the same Q format) + 16
#                    bits per entry of L and R (trained_params)
# Perplexity as the main table: the first ABL_TOKENS tokens of the evaluation split.
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
$(OUT)/ft%.dense.abl.json: $(OUT)/ft%.rzm $(OUT)/eval.txt
	$(ABL_PPL) -m $(OUT)/ft$*.dense.rzm > $@.tmp && mv $@.tmp $@

FT_ALL = $(FT_ROWS:%=ftd_%) $(FTH_ROWS:%=fth_%)
$(OUT)/finetune.md: $(FT_ALL:%=$(OUT)/%.abl.json) $(FT_ALL:%=$(OUT)/%.dense.abl.json) $(OUT)/cal_q2.rzm
	{ echo "| row | loss | bpw (linears), re-rounded | ppl | ± | bpw (linears), factors fp16 | ppl | ± | held-out loss first → best (step) |"; \
	  echo "|---|---|---|---|---|---|---|---|---|"; \
	  for r in $(FT_ALL); do x=$${r#ft?_}; \
	    jq -rs --arg r $$r '.[0] as $$p | .[1] as $$q | .[2] as $$f | .[3] as $$a | .[4] as $$b | "| \($$r) | \($$f.loss_kind) | \($$p.bpw_linears*1000|round/1000) | \($$a.ppl*1000|round/1000) | \($$a.stderr*1000|round/1000) | \(($$q.bpw_linears + 16*$$f.trained_params/$$p.linear_weights)*1000|round/1000) | \($$b.ppl*1000|round/1000) | \($$b.stderr*1000|round/1000) | \($$f.holdout_first*10000|round/10000) → \($$f.holdout_best*10000|round/10000) (\($$f.best_step)) |"' \
	      $(OUT)/$$x.pack.json $(OUT)/cal_q2.pack.json $(OUT)/$$r.ft.json $(OUT)/$$r.abl.json $(OUT)/$$r.dense.abl.json; done; } \
	  > $@.tmp && mv $@.tmp $@
caldera-finetune: $(OUT)/finetune.md
	@cat $<

# ---- fine-tuning with the RHT sign vectors tuned (not part of caldera-all) -----------------
# As the reference's finetune_RHT.py: the sign vectors SU, SV of every layer's Hadamard
# transforms tuned as floats — a scale per output row and per input column of the layer
# (rz-finetune --rht-scales) — with L, R (ftsw_X: --rht-scales with) or alone (ftso_X:
# only; L, R keep their bytes). Same distillation, data, steps, held-out split and seed as
# ftd_X. Each run writes
#   ftsX_Y.rzm        packed (qlayer v3): Q's codes untouched, L, R re-rounded to Y's 4-bit
#                     grid (with) or kept (only), the scales at fp16; its bits from rz-pack
#                     on its own qlayer records (ftsX_Y.pack.json: the 16 (m + n) per layer
#                     included); perplexity with rz-ppl --dense (the codes path refuses v3)
#   ftsX_Y.dense.rzm  the float merge diag(a) (Q + L R) diag(b): with → the factors at full
#                     precision, their bits Q's (cal_q2's) + 16 per trained entry (L, R, a,
#                     b: trained_params); only → L, R as stored, so the packed row's bits
FTS_ROWS ?= cal_r8_lr4 cal_kl_r8
FTS_MODES ?= w o
fts_flag = $(if $(filter w,$(1)),with,only)
define fts_rule
$(OUT)/fts$(1)_%.rzm: $(OUT)/%.rzm $(OUT)/calib.txt
	$$(FT) -m $$< --distill $$(MODEL) --rht-scales $$(call fts_flag,$(1)) -o $(OUT)/fts$(1)_$$*.dense.rzm --packed-out $$@ \
	  --json > $$@.json.tmp && mv $$@.json.tmp $(OUT)/fts$(1)_$$*.ft.json
endef
$(foreach x,w o,$(eval $(call fts_rule,$(x))))
$(OUT)/fts%.abl.json: $(OUT)/fts%.rzm $(OUT)/eval.txt
	$(ABL_PPL) --dense -m $< > $@.tmp && mv $@.tmp $@
# the bits of a v3 model: its qlayer records packed again (rz-pack counts the line scales)
$(OUT)/fts%.pack.json: $(OUT)/fts%.rzm
	$(RZ_BIN)/rz-cat --full $< | grep '"type":"qlayer"' | $(RZ_BIN)/rz-cat --from-json -o $@.q \
	  && $(RZ_BIN)/rz-pack -q -m $(MODEL) $@.q -o $@.rzm --json > $@.tmp && rm $@.q $@.rzm && mv $@.tmp $@
FTS_ALL = $(foreach x,$(FTS_MODES),$(FTS_ROWS:%=fts$(x)_%))
$(OUT)/finetune_rht.md: $(FTS_ALL:%=$(OUT)/%.abl.json) $(FTS_ALL:%=$(OUT)/%.dense.abl.json) $(FTS_ALL:%=$(OUT)/%.pack.json) \
  $(OUT)/cal_q2.rzm
	{ echo "| row | scales | bpw (linears), re-rounded | ppl | ± | bpw (linears), factors fp16 | ppl | ± | held-out KL first → best (step) |"; \
	  echo "|---|---|---|---|---|---|---|---|---|"; \
	  for r in $(FTS_ALL); do \
	    jq -rs --arg r $$r '.[0] as $$p | .[1] as $$q | .[2] as $$f | .[3] as $$a | .[4] as $$b | (if $$f.rht_scales == "with" then $$q.bpw_linears + 16*$$f.trained_params/$$p.linear_weights else $$p.bpw_linears end) as $$fb | "| \($$r) | \($$f.rht_scales) | \($$p.bpw_linears*1000|round/1000) | \($$a.ppl*1000|round/1000) | \($$a.stderr*1000|round/1000) | \($$fb*1000|round/1000) | \($$b.ppl*1000|round/1000) | \($$b.stderr*1000|round/1000) | \($$f.holdout_first*10000|round/10000) → \($$f.holdout_best*10000|round/10000) (\($$f.best_step)) |"' \
	      $(OUT)/$$r.pack.json $(OUT)/cal_q2.pack.json $(OUT)/$$r.ft.json $(OUT)/$$r.abl.json $(OUT)/$$r.dense.abl.json; done; } \
	  > $@.tmp && mv $@.tmp $@
.PHONY: caldera-finetune-rht
caldera-finetune-rht: $(OUT)/finetune_rht.md
	@cat $<

# ---- uniform vs allocated over quantiser seeds (not part of caldera-all) ------------------
# For each K in SEED_RANKS: cal_rK_lr4 and cal_kl_rK with every seed of SEEDS (seed SEED
# is the plain row), perplexity on the first ABL_TOKENS tokens of the evaluation split
# (quant.mk's ABL_PPL: the grid is 4 rows x seeds on a shared machine; the rows share those
# tokens, so their paired differences keep most of the precision; fp32 gives
# abl-fp32.ppl.json). caldera_seeds.csv: one line per fit; caldera_seeds.md: per row the
# mean perplexity over the seeds ± their standard deviation / sqrt(n) and the largest
# evaluation ±, and per K the paired difference allocated − uniform (same seed, same
# evaluation tokens) with its mean ± sd / sqrt(n).
# (SEED_ALLOC other than cal_kl: the allocation rows are SEED_ALLOC_rK and the tables
# caldera_seeds-SEED_ALLOC.md, caldera_hkl-SEED_ALLOC.md)
seed_row = $(if $(filter $(SEED),$(2)),$(1),$(1)_s$(2))
SEED_ROWS = $(foreach k,$(SEED_RANKS),$(foreach n,$(SEEDS),$(call seed_row,cal_r$(k)_lr4,$(n)) $(call seed_row,$(SEED_ALLOC)_r$(k),$(n))))
STAG := $(if $(filter cal_kl,$(SEED_ALLOC)),,-$(SEED_ALLOC))
$(OUT)/%.abl.json: $(OUT)/%.rzm $(OUT)/eval.txt
	$(ABL_PPL) -m $< > $@.tmp && mv $@.tmp $@
# (FORCE: quant.mk's .SECONDARY makes every file intermediate, so a row added to SEEDS
# would otherwise not be built while the table is newer than the rows it has)
$(OUT)/caldera_seeds$(STAG).csv: $(SEED_ROWS:%=$(OUT)/%.abl.json) $(OUT)/abl-fp32.ppl.json FORCE
	{ echo "row,rank,seed,bpw_linears,proxy_loss,predicted,ppl,ppl_stderr"; \
	  for k in $(SEED_RANKS); do for n in $(SEEDS); do for r in cal_r$${k}_lr4 $(SEED_ALLOC)_r$$k; do \
	    m=$$r; [ $$n = $(SEED) ] || m=$${r}_s$$n; \
	    jq -rs --arg r $$r --argjson k $$k --argjson n $$n '[$$r, $$k, $$n, .[1].bpw_linears, .[0].loss, (if .[0].budget > 0 then .[0].predicted else "" end), .[2].ppl, .[2].stderr] | @csv' \
	      $(OUT)/$$m.quant.json $(OUT)/$$m.pack.json $(OUT)/$$m.abl.json; done; done; done; } | tr -d '"' > $@.tmp && mv $@.tmp $@
$(OUT)/caldera_seeds$(STAG).md: $(OUT)/caldera_seeds$(STAG).csv $(OUT)/abl-fp32.ppl.json
	awk -F, -v fp=$$(jq .ppl $(OUT)/abl-fp32.ppl.json) -v fe=$$(jq .stderr $(OUT)/abl-fp32.ppl.json) 'NR > 1 { k = $$1; if (!(k in n)) o[++no] = k; if (!($$2 in ks)) ok[++nk] = $$2; if (!($$3 in ns)) os[++nn] = $$3; n[k]++; s[k] += $$7; q[k] += $$7 * $$7; b[k] = $$4; if ($$8 > e[k]) e[k] = $$8; \
	    p[k] += $$5; seeds[k] = seeds[k] sprintf(" %.3f", $$7); v[$$2, $$3, ($$1 ~ /kl/)] = $$7; ks[$$2] = 1; ns[$$3] = 1 } \
	  END { printf "fp32 on these tokens: %.3f ± %.3f\n\n", fp, fe; print "| row | bpw (linears) | seeds | mean proxy loss | ppl per seed | mean ppl | ± seeds | largest ± eval |"; \
	    print "|---|---|---|---|---|---|---|---|"; \
	    for (i = 1; i <= no; i++) { k = o[i]; m = s[k] / n[k]; sd = n[k] > 1 ? sqrt((q[k] - n[k] * m * m) / (n[k] - 1)) : 0; \
	      printf "| %s | %.4f | %d | %.2f |%s | %.3f | %.3f | %.3f |\n", k, b[k], n[k], p[k] / n[k], seeds[k], m, sd / sqrt(n[k]), e[k] } \
	    print ""; print "| rank | paired Δppl (allocated − uniform) per seed | mean | ± seeds |"; print "|---|---|---|---|"; \
	    for (i = 1; i <= nk; i++) { r = ok[i]; c = 0; t = 0; tt = 0; l = ""; for (j = 1; j <= nn; j++) { x = os[j]; if (!((r, x, 1) in v && (r, x, 0) in v)) continue; d = v[r, x, 1] - v[r, x, 0]; c++; t += d; tt += d * d; l = l sprintf(" %+.3f", d) } \
	      m = t / c; sd = c > 1 ? sqrt((tt - c * m * m) / (c - 1)) : 0; printf "| %s |%s | %+.3f | %.3f |\n", r, l, m, sd / sqrt(c) } }' $< > $@.tmp && mv $@.tmp $@
.PHONY: caldera-seeds
caldera-seeds: $(OUT)/caldera_seeds$(STAG).md
	@cat $<

# The probe KL out of sample: the allocation chose its ranks on the probe (the first PROBE
# windows of the calibration text) and its kl_measured is on those same windows. X.hkl.json:
# the KL from the float model on the last FT_HOLDOUT windows of FT_CTX tokens of the
# calibration text (disjoint from the probe), as rz-finetune --distill --holdout measures it
# before its first step (holdout_first; the one step's L, R are discarded).
# caldera_hkl.md: per row of caldera-seeds the held-out KL per seed and its mean.
$(OUT)/%.hkl.json: $(OUT)/%.rzm $(OUT)/calib.txt
	$(RZ_BIN)/rz-finetune -q -t $(THREADS) -z $(TOK) -f $(OUT)/calib.txt --steps 1 --batch $(FT_BATCH) --ctx $(FT_CTX) \
	  --seed $(SEED) --holdout $(FT_HOLDOUT) --distill $(MODEL) -m $< -o $@.rzm.tmp --json > $@.tmp && rm -f $@.rzm.tmp && mv $@.tmp $@
$(OUT)/caldera_hkl$(STAG).md: $(SEED_ROWS:%=$(OUT)/%.hkl.json) FORCE
	{ echo "| row | held-out KL per seed | mean |"; echo "|---|---|---|"; \
	  for k in $(SEED_RANKS); do for r in cal_r$${k}_lr4 $(SEED_ALLOC)_r$$k; do l=""; \
	    for n in $(SEEDS); do m=$$r; [ $$n = $(SEED) ] || m=$${r}_s$$n; l="$$l $$(jq .holdout_first $(OUT)/$$m.hkl.json)"; done; \
	    echo "$$r$$l" | awk '{ s = 0; l = ""; for (i = 2; i <= NF; i++) { s += $$i; l = l sprintf(" %.4f", $$i) } printf "| %s |%s | %.4f |\n", $$1, l, s / (NF - 1) }'; \
	  done; done; } > $@.tmp && mv $@.tmp $@
.PHONY: caldera-heldout
caldera-heldout: $(OUT)/caldera_hkl$(STAG).md
	@cat $<

.PHONY: FORCE
FORCE:
