#!/usr/bin/python3
"""Long and wide graphs for the compile-time tests: writes a model of N
nodes as IR text (.nnir) or ONNX (.onnx), by the output's suffix.

  long_graph.py KIND N OUT [--width W]
  long_graph.py KIND N --check BUILD   (compiles it at -O3 with BUILD's
      nncc, runs it and compares with nncc-run: run_compiled.py --model)

KIND: chain (Relu, Add, Sigmoid, Mul by a constant, in turn, on f32[1,16]),
mlp (N small MatMul+Add layers), wide (W parallel chains joined by a Sum
tree) or branchy (a chain where every fourth node adds an earlier value
back, so values live long)."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def chain(n, w):
    """Nodes as (op, inputs, output); constants as name -> (shape, seed)."""
    ops = ["Relu", "Add", "Sigmoid", "Mul"]
    nodes, consts, x = [], {}, "x"
    for i in range(n):
        op = ops[i % 4]
        if op in ("Add", "Mul"):
            c = "c%d" % i
            consts[c] = ([16], i)
            nodes.append((op, [x, c], "v%d" % i))
        else:
            nodes.append((op, [x], "v%d" % i))
        x = "v%d" % i
    return nodes, consts, x


def mlp(n, w):
    nodes, consts, x = [], {}, "x"
    for i in range(n // 2):
        consts["w%d" % i] = ([16, 16], 2 * i)
        consts["b%d" % i] = ([16], 2 * i + 1)
        nodes.append(("MatMul", [x, "w%d" % i], "m%d" % i))
        nodes.append(("Add", ["m%d" % i, "b%d" % i], "a%d" % i))
        x = "a%d" % i
    return nodes, consts, x


def wide(n, w):
    nodes, consts, heads = [], {}, []
    per = max(1, (n - w) // w)
    for j in range(w):
        x = "x"
        for i in range(per):
            op = "Sigmoid" if (i + j) % 2 else "Relu"
            nodes.append((op, [x], "w%d_%d" % (j, i)))
            x = "w%d_%d" % (j, i)
        heads.append(x)
    k = 0
    while len(heads) > 1:
        nxt = []
        for a in range(0, len(heads) - 1, 2):
            nodes.append(("Add", [heads[a], heads[a + 1]], "s%d" % k))
            nxt.append("s%d" % k)
            k += 1
        if len(heads) % 2:
            nxt.append(heads[-1])
        heads = nxt
    return nodes, consts, heads[0]


def branchy(n, w):
    nodes, consts, x, back = [], {}, "x", "x"
    for i in range(n):
        if i % 4 == 3:
            nodes.append(("Add", [x, back], "v%d" % i))
            back = x
        else:
            nodes.append(("Sigmoid" if i % 2 else "Relu", [x], "v%d" % i))
        x = "v%d" % i
    return nodes, consts, x


def write_nnir(path, nodes, consts, out):
    with open(path, "w") as f:
        f.write("graph @long(%x: f32[1,16]) -> (f32[1,16]) {\n")
        for name, (shape, seed) in consts.items():
            f.write("  %%%s = const f32[%s] random(seed=%d)\n" %
                    (name, ",".join(map(str, shape)), seed + 1))
        for op, ins, o in nodes:
            f.write("  %%%s = %s(%s) : f32[1,16]\n" %
                    (o, op, ", ".join("%" + i for i in ins)))
        f.write("  return %%%s\n}\n" % out)


def write_onnx(path, nodes, consts, out):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(
        rng.uniform(-1, 1, shape).astype(np.float32), name)
        for name, (shape, _) in consts.items()]
    onodes = [helper.make_node(op, ins, [o], name=o) for op, ins, o in nodes]
    g = helper.make_graph(
        onodes, "long",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 16])],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(m, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["chain", "mlp", "wide", "branchy"])
    ap.add_argument("n", type=int)
    ap.add_argument("out", nargs="?")
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--check", metavar="BUILD")
    a = ap.parse_args()
    nodes, consts, out = globals()[a.kind](a.n, a.width)
    if a.check:
        wd = tempfile.mkdtemp(prefix="long-")
        try:
            m = os.path.join(wd, "%s%d.nnir" % (a.kind, a.n))
            write_nnir(m, nodes, consts, out)
            return subprocess.call([sys.executable, os.path.join(
                os.path.dirname(os.path.abspath(__file__)),
                "run_compiled.py"), "--build", a.check, "--model", m])
        finally:
            shutil.rmtree(wd, ignore_errors=True)
    if a.out.endswith(".onnx"):
        write_onnx(a.out, nodes, consts, out)
    else:
        write_nnir(a.out, nodes, consts, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
