#!/usr/bin/env python3
"""gguf_mutate.py — test helper: writes a damaged copy of a GGUF file.

usage: gguf_mutate.py IN OUT KIND
KIND: tensor_count (set to 2^40), offset_past_end (last tensor's offset beyond the file),
overlap (second tensor's offset = first's), dtype_unknown (type 99), dtype_q4k (type 12),
arch (general.architecture 'llama' -> 'qwen2'), dims_overflow (a dimension of 2^62),
string_len (the first key's length = 2^60), dup_tensor (a tensor renamed as an earlier one),
tok_gpt2 (tokenizer.ggml.model = 'gpt2'), blocks (llama.block_count = 60000).
The header is walked with the format's own rules (plain struct, independent of the C
reader) so each damage lands exactly on the named field.
"""
import struct
import sys

VSIZE = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def walk(b):
    """Offsets of: the kv values by key, and per tensor (name_off, type_off, off_off)."""
    o = 24
    n_t, n_kv = struct.unpack_from('<QQ', b, 8)
    kv = {}

    def skip(t, o):
        if t == 8:
            (n,) = struct.unpack_from('<Q', b, o)
            return o + 8 + n
        if t == 9:
            at, n = struct.unpack_from('<IQ', b, o)
            o += 12
            for _ in range(n):
                o = skip(at, o)
            return o
        return o + VSIZE[t]

    for _ in range(n_kv):
        (kl,) = struct.unpack_from('<Q', b, o)
        key = b[o + 8:o + 8 + kl].decode()
        o += 8 + kl
        (t,) = struct.unpack_from('<I', b, o)
        kv[key] = o + 4
        o = skip(t, o + 4)
    tensors = []
    for _ in range(n_t):
        name_off = o
        (nl,) = struct.unpack_from('<Q', b, o)
        o += 8 + nl
        (nd,) = struct.unpack_from('<I', b, o)
        dims_off = o + 4
        o += 4 + 8 * nd
        tensors.append((name_off, dims_off, o, o + 4))  # name, dims, type, offset
        o += 12
    return kv, tensors


def main():
    src, dst, kind = sys.argv[1:4]
    b = bytearray(open(src, 'rb').read())
    kv, ts = walk(b)
    if kind == 'tensor_count':
        struct.pack_into('<Q', b, 8, 1 << 40)
    elif kind == 'offset_past_end':
        struct.pack_into('<Q', b, ts[-1][3], len(b) + 4096)
    elif kind == 'overlap':
        (off0,) = struct.unpack_from('<Q', b, ts[0][3])
        struct.pack_into('<Q', b, ts[1][3], off0)
    elif kind == 'dtype_unknown':
        struct.pack_into('<I', b, ts[0][2], 99)
    elif kind == 'dtype_q4k':
        struct.pack_into('<I', b, ts[0][2], 12)
    elif kind == 'arch':
        o = kv['general.architecture']
        assert b[o + 8:o + 13] == b'llama'
        b[o + 8:o + 13] = b'qwen2'
    elif kind == 'dims_overflow':
        struct.pack_into('<Q', b, ts[0][1], 1 << 62)
    elif kind == 'string_len':
        struct.pack_into('<Q', b, 24, 1 << 60)
    elif kind == 'dup_tensor':  # the first two tensors whose names have equal length
        names = [(t[0], struct.unpack_from('<Q', b, t[0])[0]) for t in ts]
        i, j = next((i, j) for i in range(len(ts)) for j in range(i + 1, len(ts)) if names[i][1] == names[j][1])
        (oi, li), (oj, _) = names[i], names[j]
        b[oj + 8:oj + 8 + li] = b[oi + 8:oi + 8 + li]
    elif kind == 'blocks':  # llama.block_count 60000: a 5 GB model claimed by a 1 MB file
        struct.pack_into('<I', b, kv['llama.block_count'], 60000)
    elif kind == 'tok_gpt2':  # tokenizer.ggml.model 'llama' -> 'gpt2', the header kept aligned
        o = kv['tokenizer.ggml.model']
        assert b[o:o + 13] == struct.pack('<Q', 5) + b'llama'
        hend = ts[-1][3] + 8
        b = b[:o] + struct.pack('<Q', 4) + b'gpt2' + b[o + 13:hend] + b'\0' + b[hend:]
    else:
        sys.exit('unknown KIND ' + kind)
    open(dst, 'wb').write(bytes(b))


main()
