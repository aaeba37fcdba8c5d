#!/usr/bin/python3
"""Sparse and codebook kernels: compiled output vs nncc-run on the IR code
generation received (--emit-ir), within rtol 1e-4 / atol 1e-5.

Models (written here with numpy weights of an exact sparsity, plus an
empty row and an empty column whenever some zeros are asked for):
FC Gemm(transB=1)+Relu+Gemm at batch 1 and 8, MatMul [K,N] at batch 3,
Conv 3x3 pad 1 + Relu + Conv 3x3 stride 2 + grouped 1x1 conv, at 0, 50,
90, 99 and 100% sparsity (and 1-D convs: dilated, strided, grouped), each with the table and the unrolled kernel
forced, plus the cost model's choice under -O3 and -Os; then 16-centroid
sharing with and without 90% pruning; then the -Os table's edge cases
(2 to 256 centroids, 50-100% sparsity, wide layers with long runs of
zeros and u32 headers, 0%-sparse rows, a bias it cannot fold). Also
checks that a sparse kernel leaves the dense weights out of the object.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_compiled as rc  # noqa: E402

import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def sparse(shape, s, rng):
    w = rng.standard_normal(shape).astype(np.float32)
    flat = w.reshape(w.shape[0], -1)
    nz = int(round(s * flat.size))
    idx = rng.permutation(flat.size)[:nz]
    flat.flat[idx] = 0
    if 0 < s < 1:
        flat[0, :] = 0          # an empty row (output)
        flat[:, -1] = 0         # an empty column (input)
    return flat.reshape(shape)


def save(nodes, inits, x, y, path):
    g = helper.make_graph(nodes, "g", [x], [y],
                          [numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.save(m, path)


def fc_model(path, s, batch, rng, matmul=False):
    k, n = 48, 40
    w1 = sparse((n, k), s, rng)
    w2 = sparse((10, n), s, rng)
    if matmul:
        nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]),
                 helper.make_node("Relu", ["h"], ["r"]),
                 helper.make_node("MatMul", ["r", "w2"], ["y"])]
        inits = [("w1", w1.T.copy()), ("w2", w2.T.copy())]
    else:
        nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
                 helper.make_node("Relu", ["h"], ["r"]),
                 helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1,
                                  alpha=0.5, beta=2.0)]
        inits = [("w1", w1), ("w2", w2),
                 ("b1", rng.standard_normal(n).astype(np.float32)),
                 ("b2", rng.standard_normal(10).astype(np.float32))]
    save(nodes, inits,
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, k]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10]),
         path)
    return (batch, k)


def fc_edge_model(path, s, batch, rng, kind):
    """-Os table edge cases: "fcw" a wide layer (skips of thousands of
    zeros; with cols > 65535 the u32 header), "fcr" a 0%-sparse row next
    to an empty one, "fcb" a bias that varies along the batch (not
    foldable into the table)."""
    k, n = {"fcw": (70000, 5), "fcr": (48, 40), "fcb": (48, 40)}[kind]
    w1 = sparse((n, k), s, rng)
    if kind == "fcr":
        w1[1, :] = rng.standard_normal(k).astype(np.float32)
    b1 = rng.standard_normal([batch, n] if kind == "fcb" else [n])
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["y"])]
    save(nodes, [("w1", w1), ("b1", b1.astype(np.float32))],
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, k]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, n]),
         path)
    return (batch, k)


def conv_model(path, s, batch, rng):
    w1 = sparse((8, 3, 3, 3), s, rng)
    w2 = sparse((6, 8, 3, 3), s, rng)
    w3 = sparse((4, 3, 1, 1), s, rng)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["h"], pads=[1] * 4),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["c"], strides=[2, 2],
                              pads=[1, 0, 1, 1]),
             helper.make_node("Conv", ["c", "w3"], ["y"], group=2)]
    inits = [("w1", w1), ("w2", w2), ("w3", w3),
             ("b1", rng.standard_normal(8).astype(np.float32))]
    save(nodes, inits,
         helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                       [batch, 3, 11, 13]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4, 6, 6]),
         path)
    return (batch, 3, 11, 13)


def wconv_model(path, s, batch, rng):
    """Many input channels: the table kernel blocks them (partial last
    block, stride-2 phase planes, partial last tile)."""
    w1 = sparse((40, 96, 3, 3), s, rng)
    w2 = sparse((3, 40, 3, 3), s, rng)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["h"], pads=[1] * 4),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["y"], strides=[2, 2])]
    inits = [("w1", w1), ("w2", w2),
             ("b1", rng.standard_normal(40).astype(np.float32))]
    save(nodes, inits,
         helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                       [batch, 96, 9, 10]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3, 4, 4]),
         path)
    return (batch, 96, 9, 10)


def rconv_model(path, s, batch, rng):
    """Residual add + Relu and Clip fused into the table kernel's copy-out;
    a dilated stride-2 conv (one row and column phase of two used) over
    rows long enough for the split vector copy; a 1x1 stride-2 conv (one
    phase); planes rounded to whole vectors or sharing a pad column."""
    w1 = sparse((8, 8, 3, 3), s, rng)
    w2 = sparse((12, 8, 3, 3), s, rng)
    w3 = sparse((6, 12, 1, 1), s, rng)
    lo, hi = np.array(0, np.float32), np.array(0.5, np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1] * 4),
             helper.make_node("Add", ["c1", "x"], ["a1"]),
             helper.make_node("Relu", ["a1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"],
                              strides=[2, 2], dilations=[2, 2], pads=[2] * 4),
             helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"]),
             helper.make_node("Conv", ["r2", "w3"], ["y"], strides=[2, 2])]
    inits = [("w1", w1), ("w2", w2), ("w3", w3), ("lo", lo), ("hi", hi),
             ("b1", rng.standard_normal(8).astype(np.float32)),
             ("b2", rng.standard_normal(12).astype(np.float32))]
    save(nodes, inits,
         helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                       [batch, 8, 13, 37]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                       [batch, 6, 4, 10]),
         path)
    return (batch, 8, 13, 37)


def check(t, wd, model, shape, flags, rng, atol=rc.ATOL):
    """Compile with flags, run, compare with nncc-run on the emitted IR."""
    exe, err = rc.build_model(t, model, wd, opt=flags[0], extra=flags[1:])
    if err:
        return err
    x = rng.uniform(-1, 1, shape).astype(np.float32)
    xi, yo, yr = (os.path.join(wd, f) for f in ("x.npy", "y.npy", "r.npy"))
    np.save(xi, x)
    r, out = rc.sh([exe, xi, "-o", yo])
    if r != 0:
        return "run failed: " + out
    r, out = rc.sh([t.nncc_run, os.path.join(wd, "m.nnir"), xi, "-o", yr])
    if r != 0:
        return "nncc-run failed: " + out
    return rc.close(np.load(yo), np.load(yr), atol=atol)


def kernels_chosen(t, model, flags):
    p = subprocess.run([t.nncc, model, *flags, "--print-stats", "-o",
                        "/dev/null"], stderr=subprocess.PIPE, text=True)
    return [l.split("-> ")[1].split()[0] for l in p.stderr.splitlines()
            if l.startswith("nncc: kernel ")]


def cases():
    for s in (0.0, 0.5, 0.9, 0.99, 1.0):
        for kind, batch in (("fc", 1), ("fc", 8), ("mm", 3), ("conv", 1),
                            ("conv", 2)):
            for k in ("table", "unrolled"):
                yield kind, batch, s, ["-O3", "--sparse-kernel=" + k]
            if s in (0.0, 0.9):
                yield kind, batch, s, ["-O3"]
                yield kind, batch, s, ["-Os"]
    for s in (0.0, 0.5, 0.9, 1.0):
        yield "wconv", 2, s, ["-O3", "--sparse-kernel=table"]
    yield "wconv", 1, 0.9, ["-O3"]
    for s in (0.0, 0.5, 0.9, 1.0):
        yield "rconv", 2, s, ["-O3", "--sparse-kernel=table"]
    yield "rconv", 1, 0.9, ["-O3"]
    yield "rconv", 1, 0.9, ["-O3", "--sparse-kernel=unrolled"]
    yield "rconv", 1, 0.9, ["-O3", "--share=16", "--sparse-kernel=table"]
    for s in (0.0, 0.5, 0.9, 1.0):
        for k in ("table", "unrolled"):
            yield "c1conv", 2, s, ["-O3", "--sparse-kernel=" + k]
    yield "c1conv", 1, 0.9, ["-O3"]
    yield "c1conv", 1, 0.9, ["-Os"]
    yield "c1conv", 1, 0.9, ["-O3", "--share=16", "--sparse-kernel=table"]
    for batch in (1, 8):  # -Os compact table with byte (not 4-bit) codes
        yield "fc", batch, 0.9, ["-Os", "--share=32"]
    yield "wconv", 1, 0.9, ["-Os", "--share=16"]
    for kind, batch in (("fc", 1), ("fc", 8), ("conv", 1)):
        for s in (0.0, 0.9):
            for o in ("-O3", "-Os"):
                for k in ("auto", "table", "unrolled"):
                    yield kind, batch, s, [o, "--share=16",
                                           "--sparse-kernel=" + k]
    # the -Os table: codes of 1 to 9 bits, every sparsity, long skips,
    # wide headers, dense and empty rows, a bias it cannot fold
    for kc in (2, 3, 8, 32, 256):
        for kind, batch in (("fc", 1), ("fc", 8), ("mm", 3)):
            yield kind, batch, 0.9, ["-Os", f"--share={kc}"]
    for s in (0.5, 0.99, 1.0):
        for kind, batch in (("fc", 1), ("fc", 8), ("mm", 3)):
            yield kind, batch, s, ["-Os", "--sparse-kernel=table"]
            yield kind, batch, s, ["-Os", "--share=16",
                                   "--sparse-kernel=table"]
    for kind, batch, s in (("fcw", 1, 0.999), ("fcw", 2, 0.9995),
                           ("fcr", 1, 0.9), ("fcr", 8, 0.5),
                           ("fcb", 8, 0.9)):
        for share in ([], ["--share=16"]):
            yield kind, batch, s, ["-Os", "--sparse-kernel=table", *share]
    # the -O3 batch-1 table on a layer of more than 65,536 columns (i32
    # column indices), dense-ish to very sparse rows
    for s in (0.9, 0.98, 0.999):
        for share in ([], ["--share=16"]):
            yield "fcw", 1, s, ["-O3", "--sparse-kernel=table", *share]


def c1conv_model(path, s, batch, rng):
    """1-D convolutions (a 1 x L plane to the sparse kernels): dilated
    with asymmetric pads, strided, grouped."""
    w1 = sparse((8, 3, 5), s, rng)
    w2 = sparse((6, 8, 3), s, rng)
    w3 = sparse((6, 2, 3), s, rng)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["h"], pads=[4, 3],
                              dilations=[2]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["c"], strides=[2],
                              pads=[1, 0]),
             helper.make_node("Conv", ["c", "w3"], ["y"], group=3,
                              pads=[1, 1])]
    inits = [("w1", w1), ("w2", w2), ("w3", w3),
             ("b1", rng.standard_normal(8).astype(np.float32))]
    save(nodes, inits,
         helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                       [batch, 3, 150]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                       [batch, 6, 74]),
         path)
    return (batch, 3, 150)


def make_model(kind, model, s, batch, rng):
    if kind in ("fcw", "fcr", "fcb"):
        return fc_edge_model(model, s, batch, rng, kind)
    make = {"conv": conv_model, "wconv": wconv_model,
            "rconv": rconv_model, "c1conv": c1conv_model}.get(kind, fc_model)
    return make(model, s, batch, rng, *([True] if kind == "mm" else []))


def run_cases(t, wd, cases, make=make_model):
    """Builds and checks every (kind, batch, sparsity, flags) case; returns
    the failure messages and the number of cases."""
    fails, n = [], 0
    for kind, batch, s, flags in cases:
        rng = np.random.default_rng(int(s * 100) + batch)
        model = os.path.join(wd, "model.onnx")
        shape = make(kind, model, s, batch, rng)
        # "fcw" sums up to 7,000 products per output: f32 accumulation
        # (any order) strays ~5e-5 from the interpreter's double sums
        err = check(t, wd, model, shape, flags, rng,
                    atol=1e-4 if kind == "fcw" else rc.ATOL)
        n += 1
        if err:
            fails.append(f"{kind} b{batch} s={s} {' '.join(flags)}: {err}")
    return fails, n


def report(fails, n):
    """Prints the failures and the tally; the exit status."""
    for f in fails:
        print("FAIL", f)
    print(f"{n - len(fails)} passed, {len(fails)} failed")
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    args = ap.parse_args()
    t = rc.Tools(args.build)
    with tempfile.TemporaryDirectory() as wd:
        fails, n = run_cases(t, wd, cases())
        # a sparse kernel must not carry the dense weights too
        rng = np.random.default_rng(7)
        big = os.path.join(wd, "big.onnx")
        w = sparse((512, 512), 0.9, rng)
        save([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)],
             [("w", w)],
             helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 512]),
             helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 512]),
             big)
        for flags, most in ((["-O3"], 0.6), (["-Os"], 0.25)):
            obj = os.path.join(wd, "big.o")
            r, out = rc.sh([t.nncc, big, *flags, "-o", obj])
            size = os.path.getsize(obj) if r == 0 else -1
            n += 1
            if not 0 < size < w.nbytes * most:
                fails.append(f"90%-sparse 512x512 {flags}: object {size} "
                             f"bytes, dense weights {w.nbytes}: {out}")
        ks = kernels_chosen(t, big, ["-O3"]) + kernels_chosen(t, big, ["-Os"])
        n += 1
        if ks != ["unrolled", "table"] and ks != ["table", "table"]:
            fails.append(f"90%-sparse 512x512: kernels {ks}")
        # 1-D convolutions reach the sparse kernels
        c1 = os.path.join(wd, "c1.onnx")
        c1conv_model(c1, 0.9, 1, rng)
        ks = kernels_chosen(t, c1, ["-O3", "--sparse-kernel=table"])
        n += 1
        if ks != ["table"] * 3:
            fails.append(f"90%-sparse conv1d: kernels {ks}")
    return report(fails, n)


if __name__ == "__main__":
    sys.exit(main())
