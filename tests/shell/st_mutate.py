#!/usr/bin/env python3
"""st_mutate.py — test helper: a damaged copy of a safetensors file.

usage: st_mutate.py IN OUT KIND
KIND: header_len (length 2^62), overlap (second tensor's offsets = the first's),
dtype (first tensor I8), shape (first tensor's first dimension + 1), past_end (the data
cut 100 bytes short), json (header cut mid-way).
"""
import json
import struct
import sys

src, dst, kind = sys.argv[1:4]
b = open(src, 'rb').read()
(n,) = struct.unpack_from('<Q', b, 0)
h = json.loads(b[8:8 + n])
data = b[8 + n:]
names = sorted((k for k in h if k != '__metadata__'), key=lambda k: h[k]['data_offsets'][0])
if kind == 'header_len':
    out = struct.pack('<Q', 1 << 62) + b[8:]
else:
    if kind == 'overlap':  # the second tensor starts where the first does (its size kept)
        b0 = h[names[0]]['data_offsets'][0]
        b1, e1 = h[names[1]]['data_offsets']
        h[names[1]]['data_offsets'] = [b0, b0 + e1 - b1]
    elif kind == 'dtype':
        h[names[0]]['dtype'] = 'I8'
    elif kind == 'shape':
        h[names[0]]['shape'][0] += 1
    elif kind == 'past_end':  # the data cut 100 bytes short
        data = data[:-100]
    hj = json.dumps(h).encode()
    if kind == 'json':
        hj = hj[:len(hj) // 2]
    out = struct.pack('<Q', len(hj)) + hj + data
open(dst, 'wb').write(out)
