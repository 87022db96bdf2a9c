#!/usr/bin/env python3
"""hf_build.py — test helper: a Hugging Face Llama folder from a llama2.c checkpoint.

usage: hf_build.py MODEL.bin TOKENIZER.bin OUT_DIR [--shards N]
Writes config.json, model.safetensors (or N shards + model.safetensors.index.json) and
tokenizer.json, as transformers' convert_llama_weights_to_hf.py lays a Meta checkpoint
out: q_proj and k_proj rows permuted for rotate-half RoPE with
    permute(w, n_heads) = w.view(n_heads, dim1 // n_heads // 2, 2, dim2)
                           .transpose(1, 2).reshape(dim1, dim2)
(k_proj with the key/value head count). tokenizer.json follows the SentencePiece BPE
conversion: pieces with U+2581 for space, merges (left, right) for every split of a
piece into two pieces, ordered by the merged piece's score, byte_fallback true.
"""
import json
import os
import struct
import sys


def read_bin(path):
    b = open(path, 'rb').read()
    dim, hid, L, H, KVH, V, S = struct.unpack_from('<7i', b, 0)
    shared = V > 0
    V = abs(V)
    hd = dim // H
    kv = hd * KVH
    off = 28

    def take(n):
        nonlocal off
        v = list(struct.unpack_from('<%df' % n, b, off))
        off += 4 * n
        return v

    def per_layer(rows, cols):
        return [take(rows * cols) for _ in range(L)]

    t = {}
    t['emb'] = take(V * dim)
    t['att_norm'] = per_layer(dim, 1)
    t['wq'] = per_layer(dim, dim)
    t['wk'] = per_layer(kv, dim)
    t['wv'] = per_layer(kv, dim)
    t['wo'] = per_layer(dim, dim)
    t['ffn_norm'] = per_layer(dim, 1)
    t['w1'] = per_layer(hid, dim)
    t['w2'] = per_layer(dim, hid)
    t['w3'] = per_layer(hid, dim)
    t['norm'] = take(dim)
    off += 2 * S * (hd // 2) * 4
    t['out'] = None if shared else take(V * dim)
    cfg = dict(dim=dim, hid=hid, L=L, H=H, KVH=KVH, V=V, S=S, shared=shared)
    return cfg, t


def permute(w, n_heads, dim1, dim2):
    """HF's permute on a row-major [dim1][dim2] list."""
    hd = dim1 // n_heads
    rows = [w[r * dim2:(r + 1) * dim2] for r in range(dim1)]
    # view (n_heads, hd/2, 2, dim2) -> transpose(1, 2) -> (n_heads, 2, hd/2, dim2)
    out = []
    for h in range(n_heads):
        for t in range(2):
            for k in range(hd // 2):
                out += rows[h * hd + 2 * k + t]
    return out


def write_safetensors(path, tensors):
    header, data, off = {}, [], 0
    for name, shape, vals in tensors:
        raw = struct.pack('<%df' % len(vals), *vals)
        header[name] = {'dtype': 'F32', 'shape': shape, 'data_offsets': [off, off + len(raw)]}
        data.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(data))


def tokenizer_json(path):
    b = open(path, 'rb').read()
    off = 4
    pieces, scores = [], []
    while off < len(b):
        s, n = struct.unpack_from('<fi', b, off)
        off += 8
        pieces.append(b[off:off + n].decode('utf-8', 'surrogateescape'))
        scores.append(s)
        off += n
    pieces[0:3] = ['<unk>', '<s>', '</s>']
    pieces = [p.replace(' ', '\u2581') for p in pieces]
    vocab = {p: i for i, p in enumerate(pieces)}
    merges = []
    for i in sorted(range(259, len(pieces)), key=lambda i: (-scores[i], i)):
        p = pieces[i]
        for k in range(1, len(p)):
            if p[:k] in vocab and p[k:] in vocab:
                merges.append((vocab[p[:k]], vocab[p[k:]], p[:k] + ' ' + p[k:]))
    # within one merged piece, order the splits by their parts' ids (as the extractor does)
    merges = [m[2] for m in merges]
    added = [{'id': i, 'content': c, 'special': True} for i, c in enumerate(['<unk>', '<s>', '</s>'])]
    return {'version': '1.0', 'added_tokens': added,
            'model': {'type': 'BPE', 'byte_fallback': True, 'fuse_unk': True, 'unk_token': '<unk>',
                      'vocab': vocab, 'merges': merges}}


def main():
    src, tok, out = sys.argv[1:4]
    shards = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == '--shards' else 1
    c, t = read_bin(src)
    hd = c['dim'] // c['H']
    kv = hd * c['KVH']
    os.makedirs(out, exist_ok=True)
    D, H = c['dim'], c['hid']
    ts = [('model.embed_tokens.weight', [c['V'], D], t['emb'])]
    for l in range(c['L']):
        p = 'model.layers.%d.' % l
        ts += [(p + 'self_attn.q_proj.weight', [D, D], permute(t['wq'][l], c['H'], D, D)),
               (p + 'self_attn.k_proj.weight', [kv, D], permute(t['wk'][l], c['KVH'], kv, D)),
               (p + 'self_attn.v_proj.weight', [kv, D], t['wv'][l]),
               (p + 'self_attn.o_proj.weight', [D, D], t['wo'][l]),
               (p + 'mlp.gate_proj.weight', [H, D], t['w1'][l]),
               (p + 'mlp.down_proj.weight', [D, H], t['w2'][l]),
               (p + 'mlp.up_proj.weight', [H, D], t['w3'][l]),
               (p + 'input_layernorm.weight', [D], t['att_norm'][l]),
               (p + 'post_attention_layernorm.weight', [D], t['ffn_norm'][l])]
    ts.append(('model.norm.weight', [D], t['norm']))
    if not c['shared']:
        ts.append(('lm_head.weight', [c['V'], D], t['out']))
    if shards == 1:
        write_safetensors(os.path.join(out, 'model.safetensors'), ts)
    else:
        wm = {}
        for s in range(shards):
            name = 'model-%05d-of-%05d.safetensors' % (s + 1, shards)
            part = ts[s::shards]
            write_safetensors(os.path.join(out, name), part)
            wm.update({n: name for n, _, _ in part})
        json.dump({'metadata': {}, 'weight_map': wm}, open(os.path.join(out, 'model.safetensors.index.json'), 'w'))
    config = {'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'hidden_size': D,
              'intermediate_size': H, 'num_hidden_layers': c['L'], 'num_attention_heads': c['H'],
              'num_key_value_heads': c['KVH'], 'vocab_size': c['V'], 'max_position_embeddings': c['S'],
              'rms_norm_eps': 1e-05, 'rope_theta': 10000.0, 'tie_word_embeddings': c['shared'],
              'rope_scaling': None, 'torch_dtype': 'float32'}
    json.dump(config, open(os.path.join(out, 'config.json'), 'w'), indent=1)
    json.dump(tokenizer_json(tok), open(os.path.join(out, 'tokenizer.json'), 'w'))


main()
