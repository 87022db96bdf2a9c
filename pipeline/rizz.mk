# rizz.mk — make rules that chain rz-* programs; include it from a workflow makefile.
#
#   include $(RIZZ)/pipeline/rizz.mk
#   results/stories260K.ppl.json: results/stories260K.rzm
#
# Conventions: every product is a file written atomically by the tool (temp + rename),
# so an interrupted `make` never leaves a half-written target that looks up to date.
# Variables: RIZZ (repository root), RZ_BIN (programs), RIZZ_DATA (data folder),
# TOK (tokenizer), TEXT (evaluation text), CTX (window), PPL_FLAGS (more rz-ppl flags).

RIZZ      ?= $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
RZ_BIN    ?= $(RIZZ)/bin
RIZZ_DATA ?= $(abspath $(RIZZ)/../shared/data)
TOK       ?= $(RIZZ_DATA)/tok512.bin
TEXT      ?= $(RIZZ_DATA)/tinystories-valid.txt
CTX       ?= 512
PPL_FLAGS ?=

# llama2.c checkpoint -> .rzm record stream
%.rzm: %.bin
	$(RZ_BIN)/rz-convert -q $< -o $@

# perplexity report (one JSON object) of any model file
%.ppl.json: %.rzm
	$(RZ_BIN)/rz-ppl -q -m $< -z $(TOK) -f $(TEXT) --ctx $(CTX) $(PPL_FLAGS) --json > $@.tmp && mv $@.tmp $@

# text in the training format of llama2.c's TinyStories models: paragraphs joined by
# one newline instead of a blank line
%.oneline.txt: %.txt
	awk 'BEGIN{RS="\n\n"; ORS="\n"} {print}' $< > $@.tmp && mv $@.tmp $@
