# caldera_ref.mk — CALDERA's reference steps, each alone, on stories260K at rank 8
# (pipeline/caldera_ref.md): rz-lowrank --rank 8 --incoherence, Q = 2-bit E8P, L and R
# 4-bit grid codes, 20 outer iterations, against rizz's earlier scheme ("old") and all
# reference steps together ("ref", rz-lowrank's defaults).
#
#   make -f pipeline/caldera_ref.mk -j2                 everything into out/caldera_ref/
#   make -f pipeline/caldera_ref.mk -j2 OUT=/tmp/cr     elsewhere
#
# Text split, calibration and rules: pipeline/quant.mk (included). Every variant runs
# with quantiser seeds CR_SEEDS; CR_SEEDS2 adds seeds for the variants in CR_VARS2. The
# fits write fake-quantised float32 models (rz-lowrank --fake; the packed model gives the
# same perplexity, tests/shell/lowrank.sh), so rz-ppl is fast (quant.mk's ABL_PPL: the first
# ABL_TOKENS tokens of the evaluation split, one thread); the bits per weight do
# not depend on the values, so one fit of the same format (cr_bpw, 1 outer iteration)
# gives the bpw column. Result: caldera_ref.csv, and caldera_ref.md: per variant the
# means over the seeds, ± = their standard deviation / sqrt(n), and the paired change of
# perplexity against "old" (same seed, same evaluation tokens) with its ± over seeds.

OUT ?= out/caldera_ref
include $(dir $(lastword $(MAKEFILE_LIST)))quant.mk
.DEFAULT_GOAL := caldera-ref

CR_OLD    := --inner 5 --h-reg 0 --downdate 0 --tune-iters 0 --target-rms 0.9
CR_old    := $(CR_OLD)
CR_inner  := --inner 50 --h-reg 0 --downdate 0 --tune-iters 0 --target-rms 0.9
CR_hreg   := --inner 5 --h-reg 0.01 --downdate 0 --tune-iters 0 --target-rms 0.9
CR_dd     := --inner 5 --h-reg 0 --downdate 1 --tune-iters 0 --target-rms 0.9
CR_tune   := --inner 5 --h-reg 0 --downdate 0 --tune-iters 10 --target-rms 0.9
CR_t103   := --inner 5 --h-reg 0 --downdate 0 --tune-iters 0 --target-rms 1.03
CR_ref    :=
CR_search := --scale-search 6
CR_lre8p  := --lr-e8p
CR_nodd   := --downdate 0
CR_VARS   ?= old inner hreg dd tune t103 ref search lre8p nodd
CR_SEEDS  ?= 1 2 3
CR_VARS2  ?=
CR_SEEDS2 ?=
CR_RANK   ?= 8
CR_FIT    := --rank $(CR_RANK) --lr-bits 4 --q-method e8p --bits 2 --incoherence --outer 20
cr_var  = $(word 1,$(subst _s, ,$(1)))
cr_seed = $(word 2,$(subst _s, ,$(1)))

$(OUT)/cr-%.rzm: $(OUT)/hessians.rzs
	$(RZ_BIN)/rz-lowrank -q -t 1 -m $(MODEL) -H $< $(CR_FIT) --seed $(call cr_seed,$*) $(CR_$(call cr_var,$*)) \
	  --fake -o $@ --json > $@.json.tmp && mv $@.json.tmp $(OUT)/cr-$*.quant.json
$(OUT)/cr_bpw.json: $(OUT)/hessians.rzs
	$(RZ_BIN)/rz-lowrank -q -t 1 -m $(MODEL) -H $< $(CR_FIT) --outer 1 --inner 1 --seed 1 -o $(OUT)/cr_bpw.q --json > $@.tmp && mv $@.tmp $@

$(OUT)/cr-%.ppl.json: $(OUT)/cr-%.rzm $(OUT)/eval.txt
	$(ABL_PPL) -m $< > $@.tmp && mv $@.tmp $@

CR_RUNS := $(foreach s,$(CR_SEEDS),$(foreach v,$(CR_VARS),cr-$(v)_s$(s))) \
           $(foreach s,$(CR_SEEDS2),$(foreach v,$(CR_VARS2),cr-$(v)_s$(s)))
.PHONY: caldera-ref
caldera-ref: $(OUT)/caldera_ref.md
	@cat $<
$(OUT)/caldera_ref.md: $(OUT)/caldera_ref.csv
	awk -F, 'NR > 2 { k = $$1; if (!(k in n)) o[++no] = k; n[k]++; s[k] += $$6; q[k] += $$6 * $$6; lt[k] += $$3; lm[k] += $$4; \
	    if ($$7 > e[k]) e[k] = $$7; v[k, $$2] = $$6; sd_[k] = sd_[k] sprintf(" %.2f", $$6); seeds[k] = seeds[k] " " $$2 } \
	  END { print "| variant | seeds | rel. loss total | rel. loss mean | ppl per seed | mean ppl | ± seeds | Δppl vs old (paired) | ± |"; \
	    print "|---|---|---|---|---|---|---|---|---|"; \
	    for (i = 1; i <= no; i++) { k = o[i]; m = s[k] / n[k]; sd = n[k] > 1 ? sqrt((q[k] - n[k] * m * m) / (n[k] - 1)) : 0; \
	      c = 0; t = 0; tt = 0; split(substr(seeds[k], 2), ss, " "); \
	      for (j in ss) if ((("old", ss[j]) in v)) { d = v[k, ss[j]] - v["old", ss[j]]; c++; t += d; tt += d * d } \
	      dm = c ? t / c : 0; dsd = c > 1 ? sqrt((tt - c * dm * dm) / (c - 1)) / sqrt(c) : 0; \
	      printf "| %s | %d | %.5f | %.4f |%s | %.3f | %.3f | %+.3f | %.3f |\n", k, n[k], lt[k] / n[k], lm[k] / n[k], sd_[k], m, \
	        sd / sqrt(n[k]), dm, dsd } }' $< > $@.tmp && mv $@.tmp $@
$(OUT)/caldera_ref.csv: $(CR_RUNS:%=$(OUT)/%.ppl.json) $(OUT)/cr_bpw.json $(OUT)/abl-fp32.ppl.json
	{ echo "variant,seed,rel_loss_total,rel_loss_mean,bpw_linears,ppl,ppl_stderr,seconds"; b=$$(jq .bpw_linears $(OUT)/cr_bpw.json); \
	  jq -r '["fp32", 0, 0, 0, 32, .ppl, .stderr, 0] | @csv' $(OUT)/abl-fp32.ppl.json; \
	  for r in $(CR_RUNS); do v=$${r#cr-}; s=$${v##*_s}; v=$${v%_s*}; \
	    jq -rs --arg v $$v --argjson s $$s --argjson b $$b '[$$v, $$s, .[0].rel_loss_total, .[0].rel_loss_mean, $$b, .[1].ppl, .[1].stderr, .[0].seconds] | @csv' \
	      $(OUT)/$$r.quant.json $(OUT)/$$r.ppl.json; done; } | tr -d '"' > $@.tmp && mv $@.tmp $@
