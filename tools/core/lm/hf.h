/* hf.h — Hugging Face model folders: config.json + *.safetensors (+ tokenizer.json).
 *
 * config.json: architectures containing "LlamaForCausalLM" or model_type "llama";
 * hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
 * num_key_value_heads (default: heads), vocab_size, rope_theta (default 10000),
 * rms_norm_eps (default 1e-6, HF's), tie_word_embeddings (default false),
 * max_position_embeddings (default 2048); a rope_scaling other than null is refused
 * (rz-ppl --rope-ext does context extension), head_dim must be hidden / heads.
 * Weights: model.safetensors, or the shards named by model.safetensors.index.json's
 * weight_map (plain file names inside the folder). Names: model.embed_tokens.weight,
 * model.layers.N.self_attn.{q,k,v,o}_proj.weight, model.layers.N.mlp.{gate,up,down}_proj
 * .weight, model.layers.N.{input,post_attention}_layernorm.weight, model.norm.weight,
 * lm_head.weight (absent when tied). Shapes must agree with config.json; any other
 * tensor is an error except the rotary_emb.inv_freq buffers of older checkpoints.
 *
 * RoPE layout. HF's Llama rotates halves: within each head, dimension i pairs with
 * i + hd/2. Meta/llama2.c rotate adjacent pairs (2k, 2k+1). HF's conversion script
 * (convert_llama_weights_to_hf.py) therefore permutes the rows of q_proj and k_proj,
 * per head: HF row h·hd + t·hd/2 + k = Meta row h·hd + 2k + t (k < hd/2, t ∈ {0, 1}),
 * with n_kv_heads heads for k_proj. This reader applies the inverse, so the engine's
 * adjacent-pair RoPE computes exactly what HF's rotate-half computes on HF's rows.
 *
 * tokenizer.json (model.type "BPE" with byte_fallback, SentencePiece-style "▁"
 * pieces; Llama-2 tokenizers): the vocabulary, and merge rank r giving the merged
 * piece the score -r (earlier merges first, as SentencePiece's scores order them);
 * pieces no merge produces never merge. added_tokens marked special are control tokens.
 */
#ifndef RZ_HF_H
#define RZ_HF_H

#include "llama.h"
#include "tokenizer.h"

/* 1 if path is a directory holding config.json. */
int rz_hf_is_dir(const char *path);
int rz_hf_load_model(const char *dir, rz_llama **out, rz_err *e);
/* path: a tokenizer.json file, or a folder holding one. */
int rz_hf_load_tokenizer(const char *path, rz_tokenizer **out, rz_err *e);

#endif
