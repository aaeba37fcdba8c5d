#!/usr/bin/python3
"""Checks that an object file is at most 1/N of the dense fp32 bytes of
a model's weight matrices (the constant weight operand of every Gemm,
MatMul and Conv node), both counted here from the files themselves.

usage: object_size.py OBJECT MODEL.onnx N
"""
import os
import sys

import numpy as np
import onnx


def weight_bytes(path):
    g = onnx.load(path).graph
    inits = {t.name: t for t in g.initializer}
    n = 0
    for node in g.node:
        if (node.op_type in ("Gemm", "MatMul", "Conv") and
                len(node.input) > 1 and node.input[1] in inits):
            n += 4 * int(np.prod(inits[node.input[1]].dims))
    return n


def main():
    obj, model, div = sys.argv[1], sys.argv[2], int(sys.argv[3])
    size, w = os.path.getsize(obj), weight_bytes(model)
    ok = 0 < w and size * div <= w
    print(f"{'ok' if ok else 'FAIL'}: object {size} bytes, dense weights "
          f"{w} bytes, bound 1/{div}: {w // div} bytes")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
