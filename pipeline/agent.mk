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

.PHONY: agent-fourrooms agent-ensemble agent-table agent-pointmass agent-all
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
