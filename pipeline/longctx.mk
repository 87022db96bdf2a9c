# longctx.mk — perplexity past the trained context: stories260K (trained at 512 tokens)
# at 1x, 2x, 4x and 8x its context with every RoPE extension, and perplexity by position.
#
#   make -f pipeline/longctx.mk            # results in build/longctx/
#   make -f pipeline/longctx.mk -j2 MAX_TOKENS=65536
#
# Long documents: the TinyStories validation text in the model's training format
# (paragraphs joined by one newline) is tokenised as ONE stream, so a window of N tokens
# is N consecutive tokens of consecutive stories: a "long document" made by
# concatenating stories in their file order. Every method sees the same windows.
# pi/ntk/yarn use scale = ctx/512; dca uses its defaults (chunk 384, local 128).
include $(dir $(lastword $(MAKEFILE_LIST)))rizz.mk

OUT        ?= build/longctx
MAX_TOKENS ?= 131072
BUCKET     ?= 256
CTXS       := 512 1024 2048 4096
METHODS    := none pi ntk yarn dca
MODEL      ?= $(RIZZ_DATA)/stories260K.bin
LONG_TEXT  := $(OUT)/tinystories-valid.oneline.txt

scale_of = $(shell echo $$(( $(1) / 512 )))
ext_flags = --rope-ext $(1) $(if $(filter pi ntk yarn,$(1)),--rope-scale $(call scale_of,$(2)),)

RUNS := $(foreach m,$(METHODS),$(foreach c,$(CTXS),$(OUT)/$(m)-$(c).json))

all: $(OUT)/longctx.md $(OUT)/longctx-by-position.png

$(LONG_TEXT): $(TEXT)
	@mkdir -p $(OUT)
	awk 'BEGIN{RS="\n\n"; ORS="\n"} {print}' $< > $@.tmp && mv $@.tmp $@

$(OUT)/%.json: $(LONG_TEXT)
	@m=$$(echo $* | cut -d- -f1); c=$$(echo $* | cut -d- -f2); \
	 flags="--rope-ext $$m"; case $$m in pi|ntk|yarn) flags="$$flags --rope-scale $$((c / 512))";; esac; \
	 echo "rz-ppl $$m ctx $$c"; \
	 $(RZ_BIN)/rz-ppl -q -m $(MODEL) -z $(TOK) -f $(LONG_TEXT) --ctx $$c $$flags \
	   --max-tokens $(MAX_TOKENS) --by-position $(BUCKET) --json > $@.tmp && mv $@.tmp $@

$(OUT)/longctx.md: $(RUNS) pipeline/longctx-table.sh
	pipeline/longctx-table.sh $(OUT) "$(METHODS)" "$(CTXS)" > $@.tmp && mv $@.tmp $@
	cat $@

$(OUT)/longctx-by-position.png: $(RUNS) pipeline/longctx-plot.sh
	pipeline/longctx-plot.sh $(OUT) "$(METHODS)" 4096 $@

.PHONY: all
