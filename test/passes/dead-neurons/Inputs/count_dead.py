#!/usr/bin/python3
"""Independent count of what dead-neurons must remove from an ONNX MLP
(Gemm(transB=1) -> Relu -> ... -> Gemm), straight from the weights with
numpy; prints FileCheck lines for the --print-stats row and for the
shrunken weight shapes.

A hidden neuron dies when its incoming weights are all zero (then it is
the constant relu(bias), foldable into the next bias) or when all its
outgoing weights are zero; removing one can kill others, so iterate to a
fixpoint."""
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
		for i in np.flatnonzero(alive[l]):
			in_zero = not W[l][i, cols_in].any()
			out_zero = not W[l + 1][alive[l + 1], i].any()
			if (in_zero or out_zero) and alive[l].sum() > 1:
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
