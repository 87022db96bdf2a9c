# fbcpr.mk — FB-CPR (Meta Motivo's conditional policy regularisation) against plain
# online FB on the point-mass maze, at a small budget (run from the repository root):
#
#   make -j2 -f pipeline/fbcpr.mk fbcpr-table
#                                           expert data (A* + PD), SEEDS seeds of online
#                                           FB-CPR and online FB (STEPS environment steps
#                                           each) and of offline FB on STEPS coverage
#                                           transitions with as many gradient steps,
#                                           tracking of held-out expert
#                                           trajectories (IQM + 95% bootstrap CI over
#                                           seeds), zero-shot goal reaching per seed,
#                                           table.md and a picture of the tracked paths
#
# Variables: STEPS (environment steps per run), SEEDS, OUT, NET (network sizes, shared by
# both methods), LOOP (collection/update schedule), CPR_FLAGS (FB-CPR's own settings, e.g.
# --reg 1 --lr-disc 1e-4; default the reference's). Every product is written atomically
# by rz-agent, so an interrupted make resumes at the first missing file.

RIZZ   ?= $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
RZ_BIN ?= $(RIZZ)/bin
AGENT  := $(RZ_BIN)/rz-agent
OUT    ?= results/fbcpr
STEPS  ?= 20000
SEEDS  ?= 5
FBNET  ?= --hidden 64 --zdim 16 --batch 64
NET    ?= $(FBNET) --disc-hidden 64
SEED_STEPS ?= 2000
UPDATE_EVERY ?= 4
LOOP   ?= --envs 4 --seed-steps $(SEED_STEPS) --update-every $(UPDATE_EVERY) --updates 1
# the offline baseline: as many gradient steps as the online runs make, on as many
# transitions of the maze's coverage data (random actions held 5 steps, uniform starts)
OFF_UPDATES = $(shell echo $$(( ($(STEPS) - $(SEED_STEPS)) / $(UPDATE_EVERY) )))
NICE   ?= nice -n 10
CPR_FLAGS ?=
SEED_LIST := $(shell seq 1 $(SEEDS))

.PHONY: fbcpr-table
# the agents and datasets are products, not intermediates: keep them
.SECONDARY:
$(OUT):
	mkdir -p $@

# 200 training trajectories and 20 held-out ones (other starts and goals)
$(OUT)/expert.rz: | $(OUT)
	$(AGENT) expert --env pointmass-maze --trajectories 200 --seed 1 -q -o $@
$(OUT)/held-out.rz: | $(OUT)
	$(AGENT) expert --env pointmass-maze --trajectories 20 --seed 1001 -q -o $@

$(OUT)/cpr-s%.rz: $(OUT)/expert.rz
	$(NICE) $(AGENT) online --env pointmass-maze --cpr --expert $< --steps $(STEPS) --seed $* $(NET) $(LOOP) $(CPR_FLAGS) -q --report $(OUT)/cpr-s$*.report -o $@
$(OUT)/fb-s%.rz: | $(OUT)
	$(NICE) $(AGENT) online --env pointmass-maze --steps $(STEPS) --seed $* $(NET) $(LOOP) -q --report $(OUT)/fb-s$*.report -o $@

$(OUT)/coverage-s%.rz: | $(OUT)
	$(AGENT) collect --env pointmass-maze --policy coverage --steps $(STEPS) --seed $* -q -o $@
$(OUT)/offline-s%.rz: $(OUT)/coverage-s%.rz
	$(NICE) $(AGENT) train --algo fb -d $< --steps $(OFF_UPDATES) --seed $* $(FBNET) -q -o $@

$(OUT)/offline-goals-s%.json: $(OUT)/offline-s%.rz
	$(NICE) $(AGENT) eval -a $< --tasks goals --episodes 20 --seed 7 --json -q > $@.tmp && mv $@.tmp $@
$(OUT)/cpr-goals-s%.json: $(OUT)/cpr-s%.rz
	$(NICE) $(AGENT) eval -a $< --tasks goals --episodes 20 --seed 7 --json -q > $@.tmp && mv $@.tmp $@
$(OUT)/fb-goals-s%.json: $(OUT)/fb-s%.rz
	$(NICE) $(AGENT) eval -a $< --tasks goals --episodes 20 --seed 7 --json -q > $@.tmp && mv $@.tmp $@

$(OUT)/track-%.json: $(OUT)/held-out.rz $(foreach s,$(SEED_LIST),$(OUT)/%-s$(s).rz)
	$(NICE) $(AGENT) track --expert $< --dims 2 --png $(OUT)/track-$*.png --json -q $(filter %.rz,$(wordlist 2,1000,$^)) > $@.tmp && mv $@.tmp $@

GOALS = $(foreach m,cpr fb offline,$(foreach s,$(SEED_LIST),$(OUT)/$(m)-goals-s$(s).json))
$(OUT)/table.md: $(OUT)/track-cpr.json $(OUT)/track-fb.json $(OUT)/track-offline.json $(GOALS)
	@{ echo "| method | tracking distance (m), IQM [95% CI] over $(SEEDS) seeds | per seed | goal success per seed (4 rooms × 20 episodes) |"; \
	   echo "|---|---|---|---|"; \
	   for m in cpr fb offline; do \
	     t=$(OUT)/track-$$m.json; \
	     iqm=$$(grep -o '"iqm":[-0-9.e]*' $$t | cut -d: -f2); lo=$$(grep -o '"ci_lo":[-0-9.e]*' $$t | cut -d: -f2); hi=$$(grep -o '"ci_hi":[-0-9.e]*' $$t | cut -d: -f2); \
	     per=$$(grep -o '"mean_dist":[-0-9.e]*' $$t | cut -d: -f2 | xargs printf '%.4f ' ); \
	     g=$$(for s in $(SEED_LIST); do grep -o '"goal_success":[-0-9.e]*' $(OUT)/$$m-goals-s$$s.json | cut -d: -f2; done | xargs printf '%.3f '); \
	     printf '| %s | %.4f [%.4f, %.4f] | %s| %s|\n' "$$(case $$m in cpr) echo FB-CPR;; fb) echo 'FB (online)';; *) echo 'FB (offline, coverage data)';; esac)" $$iqm $$lo $$hi "$$per" "$$g"; \
	   done; \
	   printf '| zero action (stays at the start) | %.4f | | |\n' $$(grep -o '"still_dist":[-0-9.e]*' $(OUT)/track-fb.json | cut -d: -f2); \
	 } > $@.tmp && mv $@.tmp $@
	@cat $@

fbcpr-table: $(OUT)/table.md
