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
#   make -f pipeline/agent.mk agent-study       the low-quality-data study's runs: FB / VC-FB /
#                                               MC-FB with the reference's settings
#                                               (--reference) on pairs removed (25/50/75%),
#                                               subsamples (100k/10k/1k) and few fixed-policy
#                                               trajectories, scored overall and in support.
#                                               Defaults are a smoke budget (STUDY_STEPS 200,
#                                               STUDY_SEEDS 1), not the study: that needs
#                                               ≥ 5 seeds and long budgets
#
# Variables: STEPS (training steps per run), SEEDS, NP (MPI ranks), OUT (results folder),
# ENSEMBLE (members of agent-ensemble).
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
STUDY_STEPS ?= 200
STUDY_SEEDS ?= 1
STUDY_FLAGS ?=
STUDY_DATA  ?= drop25 drop50 drop75 n100000 n10000 n1000 few
SD := $(OUT)/study
$(SD):
	mkdir -p $@
$(SD)/coverage.rz: | $(SD)
	$(AGENT) collect --env fourrooms --policy coverage --steps 100000 --seed 1 -q -o $@
$(SD)/drop%.rz: $(SD)/coverage.rz
	$(AGENT) data -d $< --drop-pairs 0.$* --seed 1 -q -o $@
$(SD)/n%.rz: $(SD)/coverage.rz
	$(AGENT) data -d $< --subsample $* --seed 1 -q -o $@
# ten 100-step demonstrations of an ε-greedy walk to one goal cell (id 37)
$(SD)/few.rz: | $(SD)
	$(AGENT) data --env fourrooms --goal-policy 37 --eps 0.3 --trajs 10 --len 100 --seed 1 -q -o $@
define study_run
$(SD)/$(1)-$(2)-s$(3).rz: $(SD)/$(1).rz
	$(AGENT) train --algo $(2) -d $$< --steps $(STUDY_STEPS) --seed $(3) --reference $(STUDY_FLAGS) -q -o $$@
$(SD)/$(1)-$(2)-s$(3).json: $(SD)/$(1)-$(2)-s$(3).rz
	$(AGENT) eval -a $$< --tasks all --all-starts --json -q > $$@.tmp && mv $$@.tmp $$@
STUDY_RUNS += $(SD)/$(1)-$(2)-s$(3).json
endef
$(foreach d,$(STUDY_DATA),$(foreach a,fb vcfb mcfb,$(foreach s,$(shell seq $(STUDY_SEEDS)),$(eval $(call study_run,$(d),$(a),$(s))))))
agent-study: $(STUDY_RUNS)
	@for f in $^; do echo "$$(basename $$f .json): $$(grep -o '"goal_success":[^,]*' $$f) $$(grep -o '"n_goals_in_support":[^,]*,"goal_success_in_support":[^,]*,"n_rewards_in_support":[^,]*,"reward_norm_return_in_support":[^,]*' $$f)"; done
