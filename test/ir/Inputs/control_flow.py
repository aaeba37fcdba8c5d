#!/usr/bin/python3
"""Inputs and expected outputs of Inputs/if_run.nnir, loop_run.nnir and
scan_run.nnir, worked out here in numpy from the ONNX semantics of If,
Loop and Scan (not from nncc): usage control_flow.py OUT_DIR; or
control_flow.py --same GOT.npy EXP.npy... (pairs; exit 1 unless each
pair agrees within 1e-5)."""
import os
import sys

import numpy as np

if sys.argv[1] == "--same":
    pairs = sys.argv[2:]
    for got, exp in zip(pairs[::2], pairs[1::2]):
        g, e = np.load(got), np.load(exp)
        if g.shape != e.shape or not np.allclose(g, e, rtol=1e-5, atol=1e-6):
            sys.exit("%s differs from %s:\n%s\n%s" % (got, exp, g, e))
    print("same")
    sys.exit(0)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def save(name, a):
    np.save(os.path.join(out, name + ".npy"), a)


# If: then (x + w, x), else (x * w, -x)
x = np.array([0.5, -1.0, 2.0], np.float32)
w = np.array([1, 2, 3], np.float32)
save("if_x", x)
save("if_c1", np.array(True))
save("if_c0", np.array(False))
save("if_y1", x + w)
save("if_z1", x)
save("if_y0", x * w)
save("if_z0", -x)

# Loop: at most 10 iterations of s = 2 s + x, stopping after the first
# whose sum reaches 100; k counts the iterations run
x = np.array([1.0, 0.5], np.float32)
s = np.array([0.25, 0.0], np.float32)
save("loop_x", x)
save("loop_s0", s)
k, cond = 0, True
while k < 10 and cond:
    s = (s * 2 + x).astype(np.float32)
    cond = s.sum() < 100
    k += 1
assert 0 < k < 10  # the early exit is what the case is about
save("loop_s", s)
save("loop_k", np.array(k, np.int64))

# Scan: a read along axis 1 backwards, b along axis 0; o1 stacked on
# axis 0, o2 on axis 1 backwards
h = np.array([1.0, -1.0], np.float32)
a = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
b = np.arange(6, dtype=np.float32).reshape(3, 2) - 2
save("scan_h0", h)
save("scan_a", a)
save("scan_b", b)
o1 = np.zeros((3, 2), np.float32)
o2 = np.zeros((2, 3), np.float32)
for t in range(3):
    ai, bi = a[:, 2 - t], b[t]
    h = h * ai + bi
    o1[t] = h
    o2[:, 2 - t] = h - ai
save("scan_h", h)
save("scan_o1", o1)
save("scan_o2", o2)
