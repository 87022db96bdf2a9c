# icl.mk — in-context learning on SST-2 and TREC with stories260K served by rz-serve:
# accuracy vs shots for each selection method, with label noise, and with synthetic
# demonstrations (rz-icl augment) at equal prompt budget. Dev splits only: SST-2's dev
# file; for TREC (no dev file) every 10th line of train (lines 1, 11, 21, ...) is dev and
# the rest is the pool. Nothing is tuned: templates, verbalisers, k and budgets are fixed
# below before any run.
#
#   make -f pipeline/icl.mk                  # results in build/icl/ (about 30 min on 2 busy cores)
#
# Budgets start at 512 tokens: the longest SST-2 query plus one demonstration needs
# more than 256, and rz-icl pack refuses a budget below one example.
#   make -f pipeline/icl.mk TEST_MAX=200 MODEL=other.bin TOK=other-tok.bin
#
# stories260K was trained on children's stories only: expect chance-level accuracy; the
# tables carry bootstrap 95% CIs so that "no better than chance" can be read off them.
include $(dir $(lastword $(MAKEFILE_LIST)))rizz.mk

OUT         ?= build/icl
MODEL       ?= $(RIZZ_DATA)/stories260K.bin
TEST_MAX    ?= 40
POOL_N      ?= 1000
BUDGETS     ?= 512 1024 2048
METHODS     ?= random bm25 relevance diversity curriculum hard
NOISE       ?= 0 0.25 0.5
NOISE_BUDGET ?= 1024
GENERATE    ?= 60
SERVE_FLAGS ?= --ctx 2048 --rope-ext dca -t 1
TASKS       := sst2 trec
export RZ_BIN RIZZ_DATA MODEL TOK TEST_MAX POOL_N BUDGETS METHODS NOISE NOISE_BUDGET GENERATE SERVE_FLAGS

all: $(OUT)/icl.md

$(OUT)/%/done: pipeline/icl/run.sh
	pipeline/icl/run.sh $* $(OUT)/$*

$(OUT)/icl.md: $(TASKS:%=$(OUT)/%/done) pipeline/icl/report.sh
	pipeline/icl/report.sh $(OUT) "$(TASKS)" > $@.tmp && mv $@.tmp $@
	cat $@

.PHONY: all
