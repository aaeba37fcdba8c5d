"""Checks a model written by nncc --emit-onnx: the ONNX checker with full
shape inference passes, every node is a standard ONNX op, and, given the
--report table of the same compile, each reported layer's weight in the file
has the reported non-zero count and sparsity.

usage: check_export.py MODEL.onnx [REPORT.txt]
Prints one summary line; exits 1 on the first mismatch.
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def fail(msg):
    print("check_export: FAIL: " + msg)
    sys.exit(1)


def report_rows(path):
    """(layer, params, nnz, sparsity %) for each row of the report table."""
    rows, inside = [], False
    for line in open(path):
        f = line.split()
        if f[:2] == ["layer", "op"]:
            inside = True
        elif inside and (not f or f[0] == "weights:"):
            break
        elif inside:
            rows.append((f[0], int(f[3]), int(f[4]), float(f[5][:-1])))
    return rows


def main():
    m = onnx.load(sys.argv[1])
    onnx.checker.check_model(m, full_check=True)
    for n in m.graph.node:
        if n.domain not in ("", "ai.onnx") or n.op_type.startswith("nncc"):
            fail("node '%s' is %s.%s, not a standard op"
                 % (n.name, n.domain, n.op_type))
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    nodes = {n.name: n for n in m.graph.node}
    rows = report_rows(sys.argv[2]) if len(sys.argv) > 2 else []
    zeros = 0
    for layer, params, nnz, sparsity in rows:
        if layer not in nodes:
            fail("reported layer '%s' is not a node of the file" % layer)
        w = inits.get(nodes[layer].input[1])
        if w is None:
            fail("layer '%s': its weight is not an initializer" % layer)
        got = int(np.count_nonzero(w))
        if got != nnz:
            fail("layer '%s': %d non-zeros in the file, %d reported"
                 % (layer, got, nnz))
        if abs(100.0 * (1 - got / params) - sparsity) > 0.006:
            fail("layer '%s': sparsity %.2f%% in the file, %.2f%% reported"
                 % (layer, 100.0 * (1 - got / params), sparsity))
        zeros += w.size - got
    print("check_export: ok: opset %d, %d nodes, %d layers match the "
          "report (%d zero weights)"
          % (m.opset_import[0].version, len(m.graph.node), len(rows), zeros))


if __name__ == "__main__":
    main()
