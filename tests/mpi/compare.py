#!/usr/bin/env python3
"""compare.py A B [TOL]: the largest difference between the weight tensors of
two Ember model files, |a - b| / max(|a|, |b|, FLOOR) over every value (the
error measure of STYLE.md 7: relative, with an absolute floor for values
near 0). Prints it and the tensor; exits 1 when it exceeds TOL (if given),
2 when the files hold different tensors."""
import json, struct, sys
from array import array

FLOOR = 1e-3  # below |w| = 1e-3 compare absolutely: relative error of a near-zero weight is noise

def tensors(p):
    raw = open(p, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        a = array("f")
        a.frombytes(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
        out[k] = a
    return out

a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
if not a or a.keys() != b.keys() or any(len(a[k]) != len(b[k]) for k in a):
    print("different tensors")
    sys.exit(2)
worst, where, maxabs = 0.0, "", 0.0
for k in a:
    for x, y in zip(a[k], b[k]):
        d = abs(x - y)
        if d != d:
            worst, where = float("inf"), k
            continue
        maxabs = max(maxabs, d)
        r = d / max(abs(x), abs(y), FLOOR)
        if r > worst:
            worst, where = r, k
print(f"max relative difference {worst:.3g} (in {where}), max absolute {maxabs:.3g}")
if len(sys.argv) > 3 and not worst <= float(sys.argv[3]):
    sys.exit(1)
