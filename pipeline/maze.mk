# maze.mk — maze navigation with multi-step prediction (run from the repository root):
#
#   make -f pipeline/maze.mk maze-quick     N×N (5) DFS mazes, MLM-U under a small budget:
#                                           training set, disjoint held-out set, training
#                                           with held-out accuracy every EVAL_EVERY steps,
#                                           the final eval JSON and a picture
#   make -f pipeline/maze.mk maze-compare   MLM-U and next-token on the same model size and
#                                           data: held-out exact / valid path rate against
#                                           steps, mazes seen and training seconds
#                                           (compare.md, made by pipeline/maze-table.sh)
#
# Variables: N (lattice size), TRAIN / HELD (mazes), STEPS, BATCH, MODEL (shape flags),
# LR, EVAL_EVERY, THREADS (per run; 1 keeps a shared machine usable), SEED, OUT.
# Every product is written atomically (rz-maze writes through temporary files, the JSON
# reports go through .tmp), so an interrupted make resumes at the first missing file.

RIZZ   ?= $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
RZ_BIN ?= $(RIZZ)/bin
MAZE   := $(RZ_BIN)/rz-maze
OUT    ?= results/maze
N      ?= 5
TRAIN  ?= 20000
HELD   ?= 200
STEPS  ?= 500
BATCH  ?= 32
MODEL  ?= --dim 64 --layers 4 --heads 4
LR     ?= 2e-3
EVAL_EVERY ?= 100
THREADS ?= 1
SEED   ?= 1
RUN    := $(OUT)/$(N)x$(N)

.PHONY: maze-quick maze-compare
.SECONDARY:

$(OUT):
	mkdir -p $@

# training mazes: indices 0.. of SEED; held-out: indices from 10^9, minus any training maze
$(RUN)-train.rz: | $(OUT)
	$(MAZE) gen -q -n $(N) --count $(TRAIN) --seed $(SEED) -o $@
$(RUN)-held.rz: $(RUN)-train.rz
	$(MAZE) gen -q -n $(N) --count $(HELD) --seed $(SEED) --first 1000000000 --exclude $< -o $@

# one objective: the training report carries the accuracy curve; the checkpoint is the model
$(RUN)-%.json: $(RUN)-train.rz $(RUN)-held.rz
	$(MAZE) train -t $(THREADS) --objective $* $(MODEL) --steps $(STEPS) --batch $(BATCH) --lr $(LR) \
	  --warmup 50 --seed $(SEED) --eval $(RUN)-held.rz --eval-every $(EVAL_EVERY) \
	  -o $(RUN)-$*.ckpt --json $< > $@.tmp && mv $@.tmp $@
$(RUN)-%-eval.json: $(RUN)-%.json
	$(MAZE) eval -t $(THREADS) -q -m $(RUN)-$*.ckpt --png $(RUN)-$*.png --json $(RUN)-held.rz > $@.tmp && mv $@.tmp $@

maze-quick: $(RUN)-mlmu-eval.json
	@cat $<; echo

$(OUT)/compare-$(N).md: $(RUN)-mlmu.json $(RUN)-next.json
	$(RIZZ)/pipeline/maze-table.sh $^ > $@.tmp && mv $@.tmp $@
maze-compare: $(OUT)/compare-$(N).md
	@cat $<
