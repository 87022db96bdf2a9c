#!/usr/bin/env python3
"""gguf_compare.py — test helper: compares two GGUF files written for the same model.

usage: gguf_compare.py A B [IGNORED_KEY...]
Prints one line per difference and exits 1 if there is any: version, the set of
metadata keys with their value types and values (except IGNORED_KEYs, whose values may
differ), general.alignment (default 32), the set of tensors with their shapes and
ggml types, and each tensor's data bytes (in whatever order the files store them).
A plain parser of the format, independent of rizz's C reader.
"""
import struct
import sys

FMT = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}
BLOCK = {0: (1, 4), 1: (1, 2), 30: (1, 2), 8: (32, 34)}


def parse(path):
    b = open(path, 'rb').read()
    o = [0]

    def rd(f):
        v = struct.unpack_from('<' + f, b, o[0])
        o[0] += struct.calcsize('<' + f)
        return v[0]

    def rs():
        n = rd('Q')
        s = b[o[0]:o[0] + n]
        o[0] += n
        return s

    def val(t):
        if t == 8:
            return rs()
        if t == 9:
            at, n = rd('I'), rd('Q')
            return (at, tuple(val(at) for _ in range(n)))
        return rd(FMT[t])

    assert b[:4] == b'GGUF'
    o[0] = 4
    ver, nt, nkv = rd('I'), rd('Q'), rd('Q')
    kv = {}
    for _ in range(nkv):
        k = rs().decode()
        t = rd('I')
        kv[k] = (t, val(t))
    tensors = {}
    for _ in range(nt):
        name = rs().decode()
        nd = rd('I')
        dims = tuple(rd('Q') for _ in range(nd))
        t, off = rd('I'), rd('Q')
        tensors[name] = (dims, t, off)
    align = kv.get('general.alignment', (4, 32))[1]
    data = (o[0] + align - 1) // align * align
    out = {}
    for name, (dims, t, off) in tensors.items():
        n = 1
        for d in dims:
            n *= d
        per, size = BLOCK[t]
        out[name] = (dims, t, b[data + off:data + off + n // per * size])
    return ver, kv, align, out


def main():
    a, b = parse(sys.argv[1]), parse(sys.argv[2])
    ignored = set(sys.argv[3:])
    diffs = []
    if a[0] != b[0]:
        diffs.append('version %d vs %d' % (a[0], b[0]))
    for k in sorted(set(a[1]) | set(b[1])):
        if k not in a[1] or k not in b[1]:
            diffs.append('key %s only in %s' % (k, 'B' if k not in a[1] else 'A'))
        elif a[1][k][0] != b[1][k][0] or (k not in ignored and a[1][k] != b[1][k]):
            diffs.append('key %s differs' % k)
    if a[2] != b[2]:
        diffs.append('alignment %d vs %d' % (a[2], b[2]))
    for n in sorted(set(a[3]) | set(b[3])):
        if n not in a[3] or n not in b[3]:
            diffs.append('tensor %s only in %s' % (n, 'B' if n not in a[3] else 'A'))
        elif a[3][n][:2] != b[3][n][:2]:
            diffs.append('tensor %s: shape/type %s vs %s' % (n, a[3][n][:2], b[3][n][:2]))
        elif a[3][n][2] != b[3][n][2]:
            diffs.append('tensor %s: data differs' % n)
    for d in diffs:
        print(d)
    sys.exit(1 if diffs else 0)


main()
