#!/usr/bin/python3
"""Shared-weight (codebook) kernels: for codebooks of 2 to 256 centroids
(code widths 1 to 8 bits, including the odd ones), dense, table and
unrolled kernels of FC layers at batch 1 and 8, MatMul and convs (im2col,
1x1, grouped, depthwise), with and without pruning: compiled output ==
nncc-run on the emitted IR within 1e-4. Also checks that a shared layer's
object stores codes, not floats: the dense 0%-sparse 512x512 layer with
16 centroids must take at most a bit over 1/8 of its f32 bytes.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_compiled as rc  # noqa: E402
import sparse_kernels as sk  # noqa: E402

from onnx import TensorProto, helper  # noqa: E402


def dw_model(path, s, batch, rng):
    """Depthwise 3x3 (its own kernel) then a 1x1 conv (a plain GEMM)."""
    w1 = sk.sparse((6, 1, 3, 3), s, rng)
    w2 = sk.sparse((5, 6, 1, 1), s, rng)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["h"], group=6,
                              pads=[1] * 4),
             helper.make_node("Conv", ["h", "w2"], ["y"])]
    sk.save(nodes, [("w1", w1), ("w2", w2)],
            helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                          [batch, 6, 9, 9]),
            helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                          [batch, 5, 9, 9]), path)
    return (batch, 6, 9, 9)


def make(kind, model, s, batch, rng):
    if kind == "dw":
        return dw_model(model, s, batch, rng)
    return sk.make_model(kind, model, s, batch, rng)


def cases():
    for k in (2, 3, 5, 8, 16, 17, 32, 33, 100, 256):
        for kind, batch in (("fc", 1), ("fc", 8), ("mm", 3), ("conv", 1),
                            ("dw", 1)):
            for s in (0.0, 0.9):
                for o in ("-O3", "-Os"):
                    yield kind, batch, s, [o, "--share=%d" % k]
            if k in (3, 16, 33):
                for kern in ("table", "unrolled"):
                    yield kind, batch, 0.9, ["-O3", "--share=%d" % k,
                                             "--sparse-kernel=" + kern]


def size_check(t, wd):
    rng = np.random.default_rng(3)
    path = os.path.join(wd, "big.onnx")
    w = rng.standard_normal((512, 512)).astype(np.float32)
    sk.save([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)],
            [("w", w)],
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 512]),
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 512]),
            path)
    obj = os.path.join(wd, "big.o")
    fails = []
    for o in ("-O3", "-Os"):
        r, out = rc.sh([t.nncc, path, o, "--share=16", "-o", obj])
        size = os.path.getsize(obj) if r == 0 else -1
        # 4-bit codes are 1/8 of the floats; allow code and ELF overhead
        if not 0 < size < w.nbytes / 8 + 8192:
            fails.append(f"dense 512x512 {o} --share=16: object {size} "
                         f"bytes, f32 weights {w.nbytes}: {out}")
    return fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    args = ap.parse_args()
    t = rc.Tools(args.build)
    with tempfile.TemporaryDirectory() as wd:
        fails, n = sk.run_cases(t, wd, cases(), make)
        size_fails = size_check(t, wd)
        n += 2
        fails += size_fails
    return sk.report(fails, n)


if __name__ == "__main__":
    sys.exit(main())
