#!/usr/bin/env python3
"""tokens_decimate.py — test helper: JSON lines of "tokens" records (rz-cat --full) on
stdin -> one "tokens" record on stdout holding, for every whole chunk k of C ids, the ids
k*C+1 .. k*C+C-1 (each chunk's first id dropped; the tail after the last whole chunk
dropped too).

usage: rz-cat --full T.rzs | tokens_decimate.py C [N] | rz-cat --from-json -o U.rzs
(N: use only the first N ids, as rz-ppl --max-tokens N)
llama.cpp's perplexity overwrites each chunk's first token with BOS; plain windows that
PREPEND BOS to C-1 tokens of this decimated stream see exactly the same sequences.
"""
import base64
import json
import struct
import sys

C = int(sys.argv[1])
ids, vocab = [], None
for line in sys.stdin:
    r = json.loads(line)
    if r.get('type') != 'tokens':
        continue
    vocab = r['vocab_size']
    raw = base64.b64decode(r['ids']['$bin'])
    ids += struct.unpack('<%di' % (len(raw) // 4), raw)
if len(sys.argv) > 2:
    ids = ids[:int(sys.argv[2])]
keep = [ids[i] for i in range(len(ids) // C * C) if i % C]
out = {'type': 'tokens', 'v': 1, 'n': len(keep), 'vocab_size': vocab,
       'ids': {'$bin': base64.b64encode(struct.pack('<%di' % len(keep), *keep)).decode()}}
print(json.dumps(out))
