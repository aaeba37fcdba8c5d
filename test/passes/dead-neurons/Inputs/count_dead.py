#!/usr/bin/python3
"""Independent count of what dead-neurons must remove from an ONNX MLP
(Gemm(transB=1) -> Relu -> ... -> Gemm), straight from the weights with
numpy; prints FileCheck lines for the --print-stats row and for the
shrunken weight shapes.

A hidden neuron is dead when its incoming weights are all zero (then it
is the constant relu(bias), foldable into the next bias). Of a layer's
dead neurons one stays, to carry the NaN an Inf input gives them all
(0 * Inf): the first whose outgoing weights are all zero, else the first.
A neuron with zero outgoing weights but live incoming ones stays (its Inf
would be NaN in the next layer). Removing neurons can kill others, so
iterate to a fixpoint."""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

m = onnx.load(sys.argv[1])
init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
gemms = [n for n in m.graph.node if n.op_type == "Gemm"]
W = [init[n.input[1]] for n in gemms]  # [out, in] (transB=1)
b = [init[n.input[2]] for n in gemms]
alive = [np.ones(w.shape[0], bool) for w in W]
alive_in0 = np.ones(W[0].shape[1], bool)
changed = True
while changed:
	changed = False
	for l in range(len(W) - 1):  # hidden layers only
		cols_in = alive_in0 if l == 0 else alive[l - 1]
		dead = [i for i in np.flatnonzero(alive[l])
			if not W[l][i, cols_in].any()]
		if not dead:
			continue
		quiet = [i for i in dead if not W[l + 1][alive[l + 1], i].any()]
		carrier = quiet[0] if quiet else dead[0]
		for i in dead:
			if i != carrier:
				alive[l][i] = False
				changed = True
before = sum(w.size + c.size for w, c in zip(W, b))
after, shapes = 0, []
for l in range(len(W)):
	rows = alive[l]
	cols = alive_in0 if l == 0 else alive[l - 1]
	shapes.append((int(rows.sum()), int(cols.sum())))
	after += int(rows.sum()) * int(cols.sum()) + int(rows.sum())
if sys.argv[2] == "stats":
	print("CHECK: {{^}}dead-neurons {{[0-9]+}} {{[0-9]+}} %d %d %d " %
	      (before, after, 4 * (before - after)))
else:
	for r, c in shapes:
		print("CHECK-DAG: const f32[%d,%d]" % (r, c))
		print("CHECK-DAG: const f32[%d]" % r)
	print("CHECK: return")
