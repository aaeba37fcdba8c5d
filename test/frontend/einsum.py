#!/usr/bin/python3
"""Einsum equations beyond the ONNX node cases (implicit outputs, three
operands, "..." broadcasting, diagonals next to a product, upper-case
labels), each a one-node model checked by nncc-run against numpy.einsum
in float64, then malformed equations, each of which nncc-opt must refuse
with a message naming the node.

Run: /usr/bin/python3 test/frontend/einsum.py TOOLS_DIR WORK_DIR
Prints one line per case; exits 1 on a failure.
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

CASES = [
    ("ij,jk", [(3, 4), (4, 5)]),
    ("ij,jk->ki", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (3, 4, 2)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("iij,jk->ik", [(3, 3, 2), (2, 5)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
    ("Ab,bC->CA", [(2, 3), (3, 4)]),
    ("ijk->", [(2, 3, 4)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("i i , i", [(3, 3), (3,)]),
    ("ijk->kji", [(2, 3, 4)]),
    ("ij->ij", [(2, 3)]),
]

BAD = [
    ("ij,jk->ik", 1, "has 2 operand terms, the node 1 input"),
    ("ij->ik", 1, "output label 'k' is in no input"),
    ("ij->ii", 1, "output label 'i' is repeated"),
    ("i.j", 1, "'.' must be one '...' per term"),
    ("ij-k", 1, "'-' must start '->'"),
    ("i1", 1, "unexpected character '1'"),
    ("ijk", 1, "input 0 has rank 2, its term 3 labels"),
    ("ij,jk", 2, "has size 5, elsewhere 4"),
    ("abcdefgh,abcdefgh->abcdefgh", 8, "would need more than 8 dims"),
]


def model(eq, shapes, dtype=TensorProto.DOUBLE):
    names = ["x%d" % i for i in range(len(shapes))]
    ins = [helper.make_tensor_value_info(n, dtype, list(s))
           for n, s in zip(names, shapes)]
    out = helper.make_tensor_value_info("y", dtype, None)
    node = helper.make_node("Einsum", names, ["y"], name="es",
                            equation=eq)
    g = helper.make_graph([node], "g", ins, [out])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def main():
    tools, wd = sys.argv[1:3]
    os.makedirs(wd, exist_ok=True)
    rng = np.random.default_rng(5)
    bad = 0
    for k, (eq, shapes) in enumerate(CASES):
        path = os.path.join(wd, "e%d.onnx" % k)
        onnx.save(model(eq, shapes), path)
        xs = [rng.standard_normal(s) for s in shapes]
        files = []
        for i, x in enumerate(xs):
            files.append(os.path.join(wd, "e%d_x%d.npy" % (k, i)))
            np.save(files[-1], x)
        exp = os.path.join(wd, "e%d_y.npy" % k)
        np.save(exp, np.array(np.einsum(eq.replace(" ", ""), *xs), order="C"))
        p = subprocess.run([os.path.join(tools, "nncc-run"), path] + files +
                           ["--expect", exp, "--rtol", "1e-12", "--atol",
                            "1e-12"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        print("%-22s %s" % (eq, "ok" if p.returncode == 0 else
                            "FAIL\n" + p.stdout))
        bad += p.returncode != 0
    shapes = {1: [(3, 4)], 2: [(3, 4), (5, 2)], 8: [(1,) * 8] * 2}
    for k, (eq, n, msg) in enumerate(BAD):
        path = os.path.join(wd, "bad%d.onnx" % k)
        onnx.save(model(eq, shapes[n]), path)
        p = subprocess.run([os.path.join(tools, "nncc-opt"), path],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           universal_newlines=True)
        good = p.returncode == 1 and "node 'es' (Einsum): " in p.stderr \
            and msg in p.stderr
        print("refused %-14s %s" % (eq, "ok" if good else
                                    "FAIL\n" + p.stderr))
        bad += not good
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
