# maze.mk — maze navigation with multi-step prediction (run from the repository root):
#
#   make -f pipeline/maze.mk maze-quick     N×N (5) DFS mazes, MLM-U under a small budget:
#                                           training set, disjoint held-out set, training
#                                           with held-out accuracy every EVAL_EVERY steps,
#                                           the final eval JSON and a picture
#   make -f pipeline/maze.mk maze-compare   MLM-U and next-token on the same model size and
#                                           data: held-out exact / valid path rate against
#                                           steps, mazes seen and training seconds, and the
#                                           final models' single steps (rz-maze eval)
#                                           (compare-N.md, made by pipeline/maze-table.sh)
#
#   make -f pipeline/maze.mk maze-seeds     maze-compare for every seed of SEEDS (each in
#                                           OUT/seedS), then seeds.md: mean and spread of
#                                           the held-out exact rate per objective and step
#   make -f pipeline/maze.mk maze-curves    maze-compare's held-out exact rate, one curve per
#                                           objective, against mazes seen (= steps x BATCH)
#                                           and against training seconds: curves-N-seen.png,
#                                           curves-N-seconds.png and their rows curves-N.dat
#                                           (pipeline/maze-curves.sh)
#   make -f pipeline/maze.mk maze-seeds-curves   the same from maze-seeds' reports: the mean
#                                           over SEEDS with 95% t-intervals as error bars
#                                           (seeds-N-curves-seen.png, -seconds.png, .dat)
#
# Variables: N (lattice size), TRAIN / HELD (mazes), STEPS, BATCH, MODEL (shape flags),
# LR, MIN_LR (the end of the cosine), WARMUP, EVAL_EVERY, THREADS (per run; 1 keeps a shared machine usable: with other
# jobs on the cores, two OpenMP threads wait for each other and a step got 2-5x slower,
# pipeline/maze.md), SEED, OUT;
# ROPE (RoPE base), INIT (0: the reference's initialisation, else N(0, INIT^2)),
# SHARED (weight of a vector common to every token embedding, rz-maze --init-shared; 0: none);
# KEYS (MLM-U's attention keys, rz-maze --keys: all, or visible = the unmasked positions and
# the query itself; next-token ignores it);
# ARCH (MLM-U's model, rz-maze --arch: enc, or past = the PAST encoder-decoder, whose encoder
# reads the visible keys whatever KEYS says; next-token ignores it) and DEC (past: decoder
# layers, rz-maze --dec-layers; empty: as many as the encoder's);
# ASTAR (a wall density: A* mazes instead of DFS; set CTX to the longest sequence, e.g.
# 7 N^2 + 11, so held-out mazes fit). 10x10, for example:
#   make -f pipeline/maze.mk maze-compare N=10 BATCH=16 MODEL="--dim 128 --layers 4 --heads 4"
# Every product is written atomically (rz-maze writes through temporary files, the JSON
# reports go through .tmp), so an interrupted make resumes at the first missing file.

RIZZ   ?= $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
RZ_BIN ?= $(RIZZ)/bin
MAZE   := $(RZ_BIN)/rz-maze
OUT    ?= results/maze
N      ?= 5
TRAIN  ?= 100000
HELD   ?= 200
STEPS  ?= 1500
BATCH  ?= 32
MODEL  ?= --dim 64 --layers 4 --heads 4
LR     ?= 2e-3
EVAL_EVERY ?= 300
THREADS ?= 1
SEED   ?= 1
SEEDS  ?= 1 2 3
WARMUP ?= 50
MIN_LR ?= 1e-4
ROPE   ?= 10000
INIT   ?= 0
SHARED ?= 0
KEYS   ?= all
ARCH   ?= enc
DEC    ?=
ASTAR  ?=
CTX    ?=
RUN    := $(OUT)/$(N)x$(N)
GENOPT := $(if $(ASTAR),--astar $(ASTAR))
CTXOPT := $(if $(CTX),--ctx $(CTX))
KEYSEFF := $(if $(filter past,$(ARCH)),visible,$(KEYS))
ARCHOPT := $(if $(filter past,$(ARCH)),--arch past $(if $(DEC),--dec-layers $(DEC)))

.PHONY: maze-quick maze-compare maze-seeds maze-curves maze-seeds-curves
.SECONDARY:

$(OUT):
	mkdir -p $@

# training mazes: indices 0.. of SEED; held-out: indices from 10^9, minus any training maze
$(RUN)-train.rz: | $(OUT)
	$(MAZE) gen -q -n $(N) $(GENOPT) --count $(TRAIN) --seed $(SEED) -o $@
$(RUN)-held.rz: $(RUN)-train.rz
	$(MAZE) gen -q -n $(N) $(GENOPT) --count $(HELD) --seed $(SEED) --first 1000000000 --exclude $< -o $@

# one objective: the training report carries the accuracy curve; the checkpoint is the model
$(RUN)-%.json: $(RUN)-train.rz $(RUN)-held.rz
	$(MAZE) train -t $(THREADS) --objective $* $(MODEL) $(CTXOPT) --rope-theta $(ROPE) --init-std $(INIT) --init-shared $(SHARED) --keys $(KEYSEFF) \
	  $(if $(filter mlmu,$*),$(ARCHOPT)) \
	  --steps $(STEPS) --batch $(BATCH) --lr $(LR) --min-lr $(MIN_LR) \
	  --warmup $(WARMUP) --seed $(SEED) --eval $(RUN)-held.rz --eval-every $(EVAL_EVERY) \
	  -o $(RUN)-$*.ckpt --json $< > $@.tmp && mv $@.tmp $@
$(RUN)-%-eval.json: $(RUN)-%.json
	$(MAZE) eval -t $(THREADS) -q -m $(RUN)-$*.ckpt --png $(RUN)-$*.png --json $(RUN)-held.rz > $@.tmp && mv $@.tmp $@

maze-quick: $(RUN)-mlmu-eval.json
	@cat $<; echo

$(OUT)/compare-$(N).md: $(RUN)-mlmu.json $(RUN)-next.json $(RUN)-mlmu-eval.json $(RUN)-next-eval.json
	$(RIZZ)/pipeline/maze-table.sh $^ > $@.tmp && mv $@.tmp $@
maze-compare: $(OUT)/compare-$(N).md
	@cat $<

# several seeds: one maze-compare per seed (its own data and initialisation), then the
# spread per objective and step (pipeline/maze-seeds.sh)
$(OUT)/seeds-$(N).md:
	for s in $(SEEDS); do $(MAKE) -f $(RIZZ)/pipeline/maze.mk maze-compare SEED=$$s OUT=$(OUT)/seed$$s || exit 1; done
	$(RIZZ)/pipeline/maze-seeds.sh $(foreach s,$(SEEDS),$(OUT)/seed$(s)/$(N)x$(N)-mlmu.json $(OUT)/seed$(s)/$(N)x$(N)-next.json) > $@.tmp && mv $@.tmp $@
maze-seeds: $(OUT)/seeds-$(N).md
	@cat $<

# curves (pipeline/maze-curves.sh writes both pictures, then the .dat: the target)
$(OUT)/curves-$(N).dat: $(RUN)-mlmu.json $(RUN)-next.json
	$(RIZZ)/pipeline/maze-curves.sh $(OUT)/curves-$(N) $^
maze-curves: $(OUT)/curves-$(N).dat
	@cat $<
$(OUT)/seeds-$(N)-curves.dat: $(OUT)/seeds-$(N).md
	$(RIZZ)/pipeline/maze-curves.sh $(OUT)/seeds-$(N)-curves \
	  $(foreach s,$(SEEDS),$(OUT)/seed$(s)/$(N)x$(N)-mlmu.json $(OUT)/seed$(s)/$(N)x$(N)-next.json)
maze-seeds-curves: $(OUT)/seeds-$(N)-curves.dat
	@cat $<
