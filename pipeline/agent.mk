# agent.mk — zero-shot RL workflows with rz-agent (run from the repository root):
#
#   make -f pipeline/agent.mk agent-fourrooms   FB on full-coverage four-rooms: eval JSON
#                                               (10 sampled starts, and every start) and
#                                               pictures of the learned policies
#   make -j2 -f pipeline/agent.mk agent-ensemble  ENSEMBLE agents of seeds 1..ENSEMBLE on the
#                                               same data, evaluated as one ensemble
#                                               (every start) and each alone
#   make -f pipeline/agent.mk agent-table       FB vs VC-FB vs MC-FB × {full coverage, one
#                                               room, small} × SEEDS seeds over NP MPI ranks:
#                                               runs.tsv, summary.tsv (IQM + 95% bootstrap
#                                               CI), table.md and table.png
#   make -f pipeline/agent.mk agent-pointmass   the MuJoCo point-mass maze (FB and VC-FB)
#   make -j2 -f pipeline/agent.mk study-seeds   the low-quality-data study's runs, seed by seed:
#                                               FB / VC-FB / MC-FB with the reference's
#                                               settings (--reference, τ calibrated) on full
#                                               coverage, pairs removed (25/50/75%),
#                                               subsamples (100k/10k/1k) and few fixed-policy
#                                               trajectories; best checkpoint by validation
#                                               goals beside the final one, learning curves
#   make -f pipeline/agent.mk agent-study       (after study-seeds) the study's table: IQM +
#                                               95% bootstrap CIs over STUDY_SEEDS seeds on
#                                               the test tasks, overall and in support,
#                                               table.md, size.png, curves.png
#
# Variables: STEPS (training steps per run), SEEDS, NP (MPI ranks), OUT (results folder),
# ENSEMBLE (members of agent-ensemble); the study: STUDY_STEPS, STUDY_SEEDS, STUDY_VAL (validation
# interval), STUDY_EPISODES (test episodes per task), STUDY_NET (widths), STUDY_DATA (designs).
# Every product is written atomically by rz-agent, so an interrupted make never leaves a
# half-written target; rerunning resumes at the first missing file.

RIZZ   ?= $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
RZ_BIN ?= $(RIZZ)/bin
AGENT  := $(RZ_BIN)/rz-agent
OUT    ?= results/agent
STEPS  ?= 20000
SEEDS  ?= 5
NP     ?= 2
MPIRUN ?= mpirun -np $(NP)
TRAIN_FLAGS ?=
PM_STEPS ?= 30000
TABLE_DATA ?= coverage:50000,room:5000,random:1000
ENSEMBLE ?= 5

.PHONY: agent-fourrooms agent-ensemble agent-table agent-pointmass agent-study agent-all
agent-all: agent-fourrooms agent-table agent-pointmass

$(OUT):
	mkdir -p $@

# ---- four-rooms, full coverage ------------------------------------------------------------
$(OUT)/fourrooms-coverage.rz: | $(OUT)
	$(AGENT) collect --env fourrooms --policy coverage --steps 50000 --seed 1 -q -o $@
$(OUT)/fourrooms-fb.rz: $(OUT)/fourrooms-coverage.rz
	$(AGENT) train --algo fb -d $< --steps $(STEPS) --seed 1 $(TRAIN_FLAGS) --checkpoint-every 5000 -o $@
$(OUT)/fourrooms-fb.json: $(OUT)/fourrooms-fb.rz
	$(AGENT) eval -a $< --tasks all --episodes 10 --json --png $(OUT)/fourrooms-fb -q > $@.tmp && mv $@.tmp $@
$(OUT)/fourrooms-fb-all.json: $(OUT)/fourrooms-fb.rz
	$(AGENT) eval -a $< --tasks all --all-starts --json -q > $@.tmp && mv $@.tmp $@
agent-fourrooms: $(OUT)/fourrooms-fb.json $(OUT)/fourrooms-fb-all.json
	@for f in $^; do echo "$$f: $$(grep -o '"goal_success":[^,]*,"goals_solved":[^,]*,"goal_norm_return":[^,]*,"reward_norm_return":[^,]*' $$f)"; done

# ---- four-rooms, an ensemble of seeds (member 1 is fourrooms-fb.rz) -------------------------
ENS_MEMBERS := $(OUT)/fourrooms-fb.rz $(patsubst %,$(OUT)/fourrooms-fb-s%.rz,$(wordlist 2,$(ENSEMBLE),1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16))
$(OUT)/fourrooms-fb-s%.rz: $(OUT)/fourrooms-coverage.rz
	$(AGENT) train --algo fb -d $< --steps $(STEPS) --seed $* $(TRAIN_FLAGS) --checkpoint-every 5000 -q -o $@
$(OUT)/fourrooms-fb-s%-all.json: $(OUT)/fourrooms-fb-s%.rz
	$(AGENT) eval -a $< --tasks all --all-starts --json -q > $@.tmp && mv $@.tmp $@
$(OUT)/fourrooms-ens$(ENSEMBLE)-all.json: $(ENS_MEMBERS)
	$(AGENT) eval $(addprefix -a ,$^) --tasks all --all-starts --json -q > $@.tmp && mv $@.tmp $@
agent-ensemble: $(OUT)/fourrooms-fb-all.json $(patsubst %.rz,%-all.json,$(wordlist 2,$(ENSEMBLE),$(ENS_MEMBERS))) $(OUT)/fourrooms-ens$(ENSEMBLE)-all.json
	@for f in $^; do echo "$$f: $$(grep -o '"goal_success":[^,]*,"goals_solved":[^,]*,"goal_norm_return":[^,]*,"reward_norm_return":[^,]*' $$f)"; done

# ---- the table: algorithms × datasets × seeds, spread over MPI ranks -------------------------
$(OUT)/runs.tsv: | $(OUT)
	$(MPIRUN) $(AGENT) sweep --env fourrooms --data $(TABLE_DATA) \
	  --algos fb,vcfb,mcfb --seeds $(SEEDS) --steps $(STEPS) $(TRAIN_FLAGS) --tasks all --episodes 4 \
	  --summary $(OUT)/summary.tsv -o $@ > $(OUT)/table.md.tmp && mv $(OUT)/table.md.tmp $(OUT)/table.md
$(OUT)/table.png: $(OUT)/runs.tsv
	$(RIZZ)/pipeline/agent/plot.sh $(OUT)/summary.tsv $@
agent-table: $(OUT)/table.png
	@cat $(OUT)/table.md

# ---- point-mass maze (MuJoCo) ----------------------------------------------------------------
$(OUT)/pointmass-coverage.rz: | $(OUT)
	$(AGENT) collect --env pointmass-maze --policy coverage --steps 100000 --seed 1 -q -o $@
$(OUT)/pointmass-%.rz: $(OUT)/pointmass-coverage.rz
	$(AGENT) train --algo $* -d $< --steps $(PM_STEPS) --seed 1 $(TRAIN_FLAGS) --checkpoint-every 5000 -o $@
$(OUT)/pointmass-%.json: $(OUT)/pointmass-%.rz
	$(AGENT) eval -a $< --tasks goals --episodes 10 --json --png $(OUT)/pointmass-$* -q > $@.tmp && mv $@.tmp $@
agent-pointmass: $(OUT)/pointmass-fb.json $(OUT)/pointmass-vcfb.json
	@for f in $^; do echo "$$f: $$(grep -o '"goal_success":[^,]*' $$f)"; done

# ---- the low-quality-data study (Jeen et al.'s claim) ----------------------------------------
# Budget (the whole study ≈ 75 CPU-minutes on this 2-core machine; pipeline/agent.md): 2×64
# networks, batch 128, d 50, 1000 steps per run, 5 seeds, validation every 125 steps.
STUDY_STEPS ?= 1000
STUDY_SEEDS ?= 5
STUDY_VAL   ?= 125
STUDY_EPISODES ?= 10
STUDY_NET   ?= --hidden 64 --batch 128 --zdim 50
STUDY_FLAGS ?=
STUDY_DATA  ?= n100000 drop25 drop50 drop75 n10000 n1000 few
SD := $(OUT)/study
$(SD):
	mkdir -p $@
$(SD)/coverage.rz: | $(SD)
	$(AGENT) collect --env fourrooms --policy coverage --steps 100000 --seed 1 -q -o $@
$(SD)/drop%.rz: $(SD)/coverage.rz
	$(AGENT) data -d $< --drop-pairs 0.$* --seed 1 -q -o $@
# the same removal keeping the data's reach at 1 (rz-agent data --keep-reach): missing
# actions without unreachable goals; e.g. STUDY_DATA="reach25 reach50 reach70"
$(SD)/reach%.rz: $(SD)/coverage.rz
	$(AGENT) data -d $< --drop-pairs 0.$* --keep-reach --seed 1 -q -o $@
$(SD)/n%.rz: $(SD)/coverage.rz
	$(AGENT) data -d $< --subsample $* --seed 1 -q -o $@
# ten 100-step demonstrations of an ε-greedy walk to one goal cell (id 37)
$(SD)/few.rz: | $(SD)
	$(AGENT) data --env fourrooms --goal-policy 37 --eps 0.3 --trajs 10 --len 100 --seed 1 -q -o $@
# the datasets are made by pattern rules, so make would delete them as intermediates after
# each seed; keep them (agent-study reads their reach, and τ's data must stay put)
.SECONDARY: $(addprefix $(SD)/,$(addsuffix .rz,coverage n100000 $(STUDY_DATA)))
# The Lagrange target τ of VC-FB / MC-FB, calibrated (pipeline/agent.md): the penalty an
# unpenalised agent (α = 0) reaches on the full-coverage data at the study's budget — the
# mean of its learning curve's penalty over the second half of training. τ tolerates the
# action-value gaps full coverage shows and pushes back anything above them. τ belongs to
# the budget (STUDY_STEPS, STUDY_NET), not to the design, and its file does not record
# the budget: give each budget its own OUT (e.g. OUT=results/big for 10,000 steps).
# The data is an order-only prerequisite: the seeded datasets are rebuilt bit for bit
# when missing, and a rebuilt n100000.rz must not recalibrate τ under finished runs.
$(SD)/tau-%.txt: | $(SD)/n100000.rz
	$(AGENT) train --algo $* -d $(SD)/n100000.rz --steps $(STUDY_STEPS) --seed 99 --target min --grad-clip 1 --alpha 0 \
	  $(STUDY_NET) --val-every $(STUDY_VAL) --curve $(SD)/tau-$*.csv -q -o $(SD)/tau-$*.rz
	awk -F, -v s=$(STUDY_STEPS) 'NR > 1 && $$1 > s / 2 {t += $$4; n++} END {printf "%.2f\n", t / n}' $(SD)/tau-$*.csv > $@.tmp && mv $@.tmp $@
# STUDY_LAGRANGE=auto instead: the target derived from the reference's τ = 50 for an exact
# logsumexp over the 5 actions (48.17, fb.h fb_lagrange_target), for the comparison.
STUDY_LAGRANGE ?= calibrated
ifeq ($(STUDY_LAGRANGE),auto)
STUDY_TAU =
STUDY_TAU_DEP =
else
STUDY_TAU = $(if $(filter fb,$(1)),,--lagrange $$$$(cat $(SD)/tau-$(1).txt))
STUDY_TAU_DEP = $(if $(filter fb,$(1)),,$(SD)/tau-$(1).txt)
endif
define study_run
$(SD)/$(1)-$(2)-s$(3).rz: $(SD)/$(1).rz $(call STUDY_TAU_DEP,$(2))
	$(AGENT) train --algo $(2) -d $$< --steps $(STUDY_STEPS) --seed $(3) --reference $(call STUDY_TAU,$(2)) $(STUDY_NET) $(STUDY_FLAGS) \
	  --val-every $(STUDY_VAL) --best $(SD)/$(1)-$(2)-s$(3)-best.rz --curve $(SD)/$(1)-$(2)-s$(3).csv -q -o $$@
$(SD)/$(1)-$(2)-s$(3).json: $(SD)/$(1)-$(2)-s$(3).rz
	$(AGENT) eval -a $(SD)/$(1)-$(2)-s$(3)-best.rz --split test --episodes $(STUDY_EPISODES) --json -q > $$@.tmp && mv $$@.tmp $(SD)/$(1)-$(2)-s$(3)-best.json
	$(AGENT) eval -a $$< --split test --episodes $(STUDY_EPISODES) --json -q > $$@.tmp && mv $$@.tmp $$@
STUDY_RUNS += $(SD)/$(1)-$(2)-s$(3).json
study-seed-$(3): $(SD)/$(1)-$(2)-s$(3).json
endef
$(foreach s,$(shell seq $(STUDY_SEEDS)),$(foreach d,$(STUDY_DATA),$(foreach a,fb vcfb mcfb,$(eval $(call study_run,$(d),$(a),$(s))))))
# `make -f pipeline/agent.mk study-seeds` runs seed by seed (each seed's runs two at a time
# under -j2), so an interrupted study has whole seeds of every design; agent-study then
# writes the table from whatever it finds complete.
.PHONY: study-seeds $(addprefix study-seed-,$(shell seq $(STUDY_SEEDS)))
study-seeds:
	for s in $$(seq $(STUDY_SEEDS)); do $(MAKE) -f $(firstword $(MAKEFILE_LIST)) study-seed-$$s || exit 1; done
# the table (IQM + 95% bootstrap CI per design × algorithm × checkpoint), the size plot and
# the learning curves
$(SD)/table.md: $(STUDY_RUNS)
	$(RIZZ)/pipeline/agent/study.sh $(SD) "$(STUDY_DATA)" $(STUDY_SEEDS) $(AGENT)
agent-study: $(SD)/table.md
	@cat $<
