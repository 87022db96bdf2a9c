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
#   make -f pipeline/fbcpr.mk fbcpr-select         FB-CPR's settings chosen on validation
#                                           trajectories and seeds of their own (below)
#   make -f pipeline/fbcpr.mk fbcpr-select-fb      online FB on the same, for context
#   make -f pipeline/fbcpr.mk fbcpr-final STEPS=48000
#                                           the chosen setting against online FB on the
#                                           held-out trajectories, seeds 1..SEEDS
#   make -f pipeline/fbcpr.mk fbcpr-goal-diag      the same agents' goal success with z
#                                           from labels at the goal, and random actions
#   make -f pipeline/fbcpr.mk humanoid-table       the humanoid (see its section below)
#   make -f pipeline/fbcpr.mk humanoid-replay      its runs' replay buffers: time on the floor
#
# Variables: STEPS (environment steps per run), SEEDS, OUT, NET (network sizes, shared by
# both methods), LOOP (collection/update schedule), CPR_FLAGS (FB-CPR's own settings, e.g.
# --reg 1 --lr-disc 1e-4; default the reference's). NET also carries the online runs' own
# flags: --norm-obs 0 (no observation normalisation: how the tables of fbcpr.md before it
# were made), --rollout-z buffer. THREADS (-t 1: one thread per job). Every product is written atomically
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
# one thread per job (the machine is shared; the loop gives the same bits for any -t)
THREADS ?= -t 1
# the training seeds (fbcpr-select overrides them with SEL_SEEDS), the expert data the
# FB-CPR runs regularise towards, the trajectories track-*.json scores, and the methods
# table.md lists
SEED_LIST ?= $(shell seq 1 $(SEEDS))
EXPERT ?= $(OUT)/expert.rz
TRACK_SET ?= $(OUT)/held-out.rz
METHODS ?= cpr fb offline

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

$(OUT)/cpr-s%.rz: $(EXPERT) | $(OUT)
	$(NICE) $(AGENT) online --env pointmass-maze --cpr --expert $< --steps $(STEPS) --seed $* $(NET) $(LOOP) $(CPR_FLAGS) $(THREADS) -q --report $(OUT)/cpr-s$*.report -o $@
$(OUT)/fb-s%.rz: | $(OUT)
	$(NICE) $(AGENT) online --env pointmass-maze --steps $(STEPS) --seed $* $(NET) $(LOOP) $(THREADS) -q --report $(OUT)/fb-s$*.report -o $@

$(OUT)/coverage-s%.rz: | $(OUT)
	$(AGENT) collect --env pointmass-maze --policy coverage --steps $(STEPS) --seed $* -q -o $@
$(OUT)/offline-s%.rz: $(OUT)/coverage-s%.rz
	$(NICE) $(AGENT) train --algo fb -d $< --steps $(OFF_UPDATES) --seed $* $(FBNET) -q -o $@

$(OUT)/offline-goals-s%.json: $(OUT)/offline-s%.rz
	$(NICE) $(AGENT) eval -a $< --tasks goals --episodes 20 --seed 7 $(THREADS) --json -q > $@.tmp && mv $@.tmp $@
$(OUT)/cpr-goals-s%.json: $(OUT)/cpr-s%.rz
	$(NICE) $(AGENT) eval -a $< --tasks goals --episodes 20 --seed 7 $(THREADS) --json -q > $@.tmp && mv $@.tmp $@
$(OUT)/fb-goals-s%.json: $(OUT)/fb-s%.rz
	$(NICE) $(AGENT) eval -a $< --tasks goals --episodes 20 --seed 7 $(THREADS) --json -q > $@.tmp && mv $@.tmp $@

$(OUT)/track-%.json: $(TRACK_SET) $(foreach s,$(SEED_LIST),$(OUT)/%-s$(s).rz)
	$(NICE) $(AGENT) track --expert $< --dims 2 --png $(OUT)/track-$*.png $(THREADS) --json -q $(filter %.rz,$(wordlist 2,1000,$^)) > $@.tmp && mv $@.tmp $@

GOALS = $(foreach m,$(METHODS),$(foreach s,$(SEED_LIST),$(OUT)/$(m)-goals-s$(s).json))
$(OUT)/table.md: $(foreach m,$(METHODS),$(OUT)/track-$(m).json) $(GOALS)
	@{ echo "| method | tracking distance (m), IQM [95% CI] over $(words $(SEED_LIST)) seeds | per seed | goal success per seed (4 rooms × 20 episodes) |"; \
	   echo "|---|---|---|---|"; \
	   for m in $(METHODS); do \
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

# ---- choosing FB-CPR's settings honestly (validation), then the final table ------------
#   make -f pipeline/fbcpr.mk fbcpr-select     every candidate of CANDS (FB-CPR flags
#                                              CAND_<name>) trained on SEL_SEEDS at SEL_STEPS,
#                                              each scored by tracking the VALIDATION
#                                              trajectories (expert seed VAL_SEED, disjoint
#                                              from the held-out 1001 and the training 1);
#                                              the lowest IQM wins (ties: the earlier in
#                                              CANDS, the reference's default first);
#                                              SEL_OUT/selection.md and SEL_OUT/chosen.flags
#   make -f pipeline/fbcpr.mk fbcpr-final      the chosen flags (read from chosen.flags,
#                                              never typed by hand) against online FB on
#                                              seeds 1..SEEDS at STEPS, tracking the
#                                              held-out trajectories; runs one at a time in
#                                              seed order (cpr-s1, fb-s1, cpr-s2, …) so a
#                                              cut budget leaves whole seeds; FINAL_OUT/table.md
# Neither target looks at the held-out trajectories until the choice is written.
VAL_SEED  ?= 2001
VAL_TRAJ  ?= 20
SEL_SEEDS ?= 6 7 8
SEL_STEPS ?= 20000
SEL_OUT   ?= $(OUT)/select
FINAL_OUT ?= $(OUT)/final
CANDS     ?= default reg0.1 reg0.1-disc1e-4 reg1-disc1e-4
CAND_default ?=
CAND_reg0.1 ?= --reg 0.1
CAND_reg0.1-disc1e-4 ?= --reg 0.1 --lr-disc 1e-4
CAND_reg1-disc1e-4 ?= --reg 1 --lr-disc 1e-4
SUBMAKE = $(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST))

$(OUT)/validation.rz: | $(OUT)
	$(AGENT) expert --env pointmass-maze --trajectories $(VAL_TRAJ) --seed $(VAL_SEED) -q -o $@

.PHONY: fbcpr-select fbcpr-final
$(SEL_OUT)/selection.md: $(OUT)/expert.rz $(OUT)/validation.rz
	$(foreach c,$(CANDS),$(SUBMAKE) OUT=$(SEL_OUT)/$(c) STEPS=$(SEL_STEPS) SEED_LIST="$(SEL_SEEDS)" \
	    EXPERT=$(abspath $(OUT)/expert.rz) TRACK_SET=$(abspath $(OUT)/validation.rz) \
	    CPR_FLAGS="$(CAND_$(c))" $(SEL_OUT)/$(c)/track-cpr.json || exit 1; \
	  printf '%s\n' "$(CAND_$(c))" > $(SEL_OUT)/$(c)/flags;)
	@{ echo "| candidate | FB-CPR flags | validation tracking (m), IQM [95% CI] over seeds $(SEL_SEEDS) | per seed |"; \
	   echo "|---|---|---|---|"; \
	   $(foreach c,$(CANDS),t=$(SEL_OUT)/$(c)/track-cpr.json; \
	     printf '| %s | %s | %.4f [%.4f, %.4f] | %s|\n' $(c) "$(or $(CAND_$(c)),(reference default))" \
	       $$(grep -o '"iqm":[-0-9.e]*' $$t | cut -d: -f2) $$(grep -o '"ci_lo":[-0-9.e]*' $$t | cut -d: -f2) \
	       $$(grep -o '"ci_hi":[-0-9.e]*' $$t | cut -d: -f2) \
	       "$$(grep -o '"mean_dist":[-0-9.e]*' $$t | cut -d: -f2 | xargs printf '%.4f ')";) \
	 } > $@.tmp
	@best=$$( { $(foreach c,$(CANDS),printf '%s %s\n' "$$(grep -o '"iqm":[-0-9.e]*' $(SEL_OUT)/$(c)/track-cpr.json | cut -d: -f2)" $(c);) } \
	   | awk 'NR == 1 || $$1 < b { b = $$1; n = $$2 } END { print n }'); \
	 echo "chosen (lowest validation IQM): $$best" >> $@.tmp; \
	 cp $(SEL_OUT)/$$best/flags $(SEL_OUT)/chosen.flags.tmp && mv $(SEL_OUT)/chosen.flags.tmp $(SEL_OUT)/chosen.flags && mv $@.tmp $@
	@cat $@
fbcpr-select: $(SEL_OUT)/selection.md

# context only, never part of the choice: online FB on the same validation seeds and
# trajectories (FB has no CPR settings to choose)
.PHONY: fbcpr-select-fb
fbcpr-select-fb: $(OUT)/expert.rz $(OUT)/validation.rz
	$(SUBMAKE) OUT=$(SEL_OUT)/fb STEPS=$(SEL_STEPS) SEED_LIST="$(SEL_SEEDS)" \
	    TRACK_SET=$(abspath $(OUT)/validation.rz) $(SEL_OUT)/fb/track-fb.json
	@t=$(SEL_OUT)/fb/track-fb.json; printf '| online FB | (none) | %.4f [%.4f, %.4f] | %s|\n' \
	   $$(grep -o '"iqm":[-0-9.e]*' $$t | cut -d: -f2) $$(grep -o '"ci_lo":[-0-9.e]*' $$t | cut -d: -f2) \
	   $$(grep -o '"ci_hi":[-0-9.e]*' $$t | cut -d: -f2) "$$(grep -o '"mean_dist":[-0-9.e]*' $$t | cut -d: -f2 | xargs printf '%.4f ')"

FINAL_RUNS = $(foreach s,$(SEED_LIST),$(FINAL_OUT)/cpr-s$(s).rz $(FINAL_OUT)/fb-s$(s).rz)
fbcpr-final: $(SEL_OUT)/selection.md $(OUT)/expert.rz $(OUT)/held-out.rz
	for f in $(FINAL_RUNS); do $(SUBMAKE) OUT=$(FINAL_OUT) EXPERT=$(abspath $(OUT)/expert.rz) \
	    TRACK_SET=$(abspath $(OUT)/held-out.rz) CPR_FLAGS="$$(cat $(SEL_OUT)/chosen.flags)" $$f || exit 1; done
	$(SUBMAKE) OUT=$(FINAL_OUT) EXPERT=$(abspath $(OUT)/expert.rz) TRACK_SET=$(abspath $(OUT)/held-out.rz) \
	    METHODS="cpr fb" $(FINAL_OUT)/table.md

# goal diagnostic (item "reward and goal tasks not worse than offline FB"): the same
# agents' goal success with z inferred from the label states at the goal instead of
# z = B(goal) (the goal at rest), and uniform random actions from the same starts
#   make -f pipeline/fbcpr.mk fbcpr-goal-diag [DIAG_SEEDS=1]
DIAG_SEEDS ?= $(SEEDS)
DIAG_LIST := $(shell seq 1 $(DIAG_SEEDS))
$(OUT)/%-goals-labels.json: $(OUT)/%.rz
	$(NICE) $(AGENT) eval -a $< --tasks goals --goal-z labels --episodes 20 --seed 7 --json -q > $@.tmp && mv $@.tmp $@
$(OUT)/random-goals.json: $(OUT)/fb-s1.rz
	$(NICE) $(AGENT) eval -a $< --random --tasks goals --episodes 20 --seed 7 --json -q > $@.tmp && mv $@.tmp $@
DIAG = $(OUT)/random-goals.json $(foreach m,cpr fb offline,$(foreach s,$(DIAG_LIST),$(OUT)/$(m)-goals-s$(s).json $(OUT)/$(m)-s$(s)-goals-labels.json))
.PHONY: fbcpr-goal-diag
fbcpr-goal-diag: $(DIAG)
	@{ echo "| method | seed | goal success, z = B(goal) | goal success, z from labels at the goal |"; echo "|---|---|---|---|"; \
	   for m in cpr fb offline; do for s in $(DIAG_LIST); do \
	     printf '| %s | %s | %.3f | %.3f |\n' $$m $$s $$(grep -o '"goal_success":[-0-9.e]*' $(OUT)/$$m-goals-s$$s.json | cut -d: -f2) \
	       $$(grep -o '"goal_success":[-0-9.e]*' $(OUT)/$$m-s$$s-goals-labels.json | cut -d: -f2); done; done; \
	   printf '| uniform random actions | | %.3f (same starts) | |\n' $$(grep -o '"goal_success":[-0-9.e]*' $(OUT)/random-goals.json | cut -d: -f2); \
	 } > $(OUT)/goal-diag.md.tmp && mv $(OUT)/goal-diag.md.tmp $(OUT)/goal-diag.md
	@cat $(OUT)/goal-diag.md

# ---- the humanoid (MuJoCo's humanoid.xml) -----------------------------------------------
#   make -f pipeline/fbcpr.mk humanoid-table      expert data (keyframe motions PD-tracked),
#                                                 H_SEEDS seeds of online FB-CPR and FB
#                                                 (H_STEPS environment steps each), tracking
#                                                 of held-out motions (distance to the
#                                                 expert's qpos, episodes that do not fall)
#                                                 and the stand-still reward, with a random
#                                                 policy as the floor; H_OUT/table.md
# Runs go one at a time in seed order (cpr-s1, fb-s1, cpr-s2, …) so that a cut budget
# still leaves whole seeds of both methods. H_INIT: falls and start states of both
# methods' runs (default none: a fall ends the episode, every start the standing pose);
# H_INIT="$(H_REF_INIT)" is the reference environment's (HumEnv, as Meta Motivo trains:
# never terminal, 80% of starts from the motion data — here the expert stream's states —
# and 20% fallen); with --init-expert the FB runs read the expert stream too (for starts
# only, no regularisation).
H_OUT   ?= results/fbcpr-humanoid
H_STEPS ?= 50000
H_SEEDS ?= 5
H_SEED_LIST := $(shell seq 1 $(H_SEEDS))
MOTIONS := $(sort $(wildcard $(RIZZ)/pipeline/motions/*.kf))
H_RUNS  := $(foreach s,$(H_SEED_LIST),$(H_OUT)/cpr-s$(s).rz $(H_OUT)/fb-s$(s).rz)
H_REF_INIT := --fall continue --init-expert 0.8 --init-fall 0.2
H_INIT  ?=
H_FB_X  = $(if $(findstring init-expert,$(H_INIT)),--expert $(H_OUT)/expert.rz)

$(H_OUT):
	mkdir -p $@
# training motions (8 jittered repeats of each) and held-out ones (other jitter draws)
$(H_OUT)/expert.rz: $(MOTIONS) | $(H_OUT)
	$(AGENT) keyframes --repeats 8 --seed 1 -q -o $@ $(MOTIONS)
$(H_OUT)/held-out.rz: $(MOTIONS) | $(H_OUT)
	$(AGENT) keyframes --repeats 2 --seed 1001 -q -o $@ $(MOTIONS)

$(H_OUT)/cpr-s%.rz: $(H_OUT)/expert.rz
	$(NICE) $(AGENT) online --env humanoid --cpr --expert $< --steps $(H_STEPS) --seed $* $(NET) $(LOOP) $(H_INIT) $(CPR_FLAGS) -t 1 -q --report $(H_OUT)/cpr-s$*.report -o $@
$(H_OUT)/fb-s%.rz: | $(H_OUT) $(H_OUT)/expert.rz
	$(NICE) $(AGENT) online --env humanoid $(H_FB_X) --steps $(H_STEPS) --seed $* $(NET) $(LOOP) $(H_INIT) -t 1 -q --report $(H_OUT)/fb-s$*.report -o $@

.PHONY: humanoid-train humanoid-table
# one run at a time, in seed order, whatever -j says
humanoid-train: $(H_OUT)/expert.rz
	for f in $(H_RUNS); do $(MAKE) -f $(firstword $(MAKEFILE_LIST)) $$f || exit 1; done

# evaluation: the reward tasks and goal poses (10 episodes each; random actions with the
# seed's own draws), tracking of the held-out motions by every seed's agent (the random
# floor comes with it), the joint-angle picture of seed 1 tracking the first motion
$(H_OUT)/%-tasks.json: $(H_OUT)/%.rz
	$(NICE) $(AGENT) eval -a $< --tasks all --episodes 10 --seed 7 -t 1 --json -q > $@.tmp && mv $@.tmp $@
$(H_OUT)/random-s%-tasks.json: $(H_OUT)/fb-s1.rz
	$(NICE) $(AGENT) eval -a $< --random --tasks all --episodes 10 --seed $* -t 1 --json -q > $@.tmp && mv $@.tmp $@
$(H_OUT)/track-%.json: $(H_OUT)/held-out.rz $(foreach s,$(H_SEED_LIST),$(H_OUT)/%-s$(s).rz)
	$(NICE) $(AGENT) track --expert $< --dims 26 --png $(H_OUT)/track-$*.png -t 1 --json -q $(filter %.rz,$(wordlist 2,1000,$^)) > $@.tmp && mv $@.tmp $@

H_EVAL = $(H_OUT)/track-cpr.json $(H_OUT)/track-fb.json \
         $(foreach s,$(H_SEED_LIST),$(H_OUT)/cpr-s$(s)-tasks.json $(H_OUT)/fb-s$(s)-tasks.json $(H_OUT)/random-s$(s)-tasks.json)
$(H_OUT)/table.md: $(H_EVAL)
	$(RIZZ)/pipeline/fbcpr-humanoid-table.sh $(H_OUT) $(H_SEEDS) $(AGENT)

humanoid-table: humanoid-train
	$(MAKE) -f $(firstword $(MAKEFILE_LIST)) $(H_OUT)/table.md

# where the runs' replay buffers spend their time: shares of next states on the floor,
# upright and between, and rows that get up (pipeline/fbcpr-replay-heights.sh)
.PHONY: humanoid-replay
humanoid-replay: humanoid-train
	RZ_CAT=$(RZ_BIN)/rz-cat $(RIZZ)/pipeline/fbcpr-replay-heights.sh $(H_RUNS) > $(H_OUT)/replay-heights.tsv.tmp
	mv $(H_OUT)/replay-heights.tsv.tmp $(H_OUT)/replay-heights.tsv
	@cat $(H_OUT)/replay-heights.tsv
