#!/usr/bin/python3
"""The floating-point contract for exact-zero weights (README): where a
kernel skips a weight that is exactly zero, a NaN or Inf input meeting it
still gives NaN, as the dense product (0 * Inf = NaN) and nncc-run do.
Pruned FC (batch 1 and 5; a row without zeros), conv (padded, strided, depthwise) and the
digits MLP pruned and shared under -Os, with Inf/NaN at inputs that meet
only zero weights, only non-zero weights, and both; each compiled with
every kernel (-O0 dense, -O3 table/unrolled, -Os table) and compared with
nncc-run on the emitted IR (NaN, Inf and sign positions exactly, finite
values within rounding) and with numpy (elementwise products summed, so
0 * Inf is NaN there too). Prints `N passed, N failed`; exits 1 on any."""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto as TP, helper as h, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_compiled as rc  # noqa: E402

NAN, INF = np.float32("nan"), np.float32("inf")
LEVELS = [("-O0",), ("-O3", "--sparse-kernel=table"),
          ("-O3", "--sparse-kernel=unrolled"), ("-Os",),
          ("-Os", "--sparse-kernel=table"), ("-Os", "--sparse-kernel=unrolled")]


def const(name, a):
    return numpy_helper.from_array(np.asarray(a, np.float32), name)


def graph_model(nodes, x_shape, y_shape, inits):
    g = h.make_graph(nodes, "g",
                     [h.make_tensor_value_info("x", TP.FLOAT, x_shape)],
                     [h.make_tensor_value_info("y", TP.FLOAT, y_shape)],
                     initializer=inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", 13)])


def fc_weights(pattern, rows, cols, rng):
    w = rng.uniform(0.5, 2.0, (rows, cols)) * rng.choice([-1, 1],
                                                         (rows, cols))
    if pattern == "random":
        w[rng.random((rows, cols)) < 0.7] = 0
    elif pattern == "nm":  # 2:4 along the reduction
        for r in range(rows):
            for c0 in range(0, cols, 4):
                w[r, c0 + rng.permutation(4)[:2]] = 0
    elif pattern in ("block", "fullrow"):  # 2x2 blocks
        for r0 in range(0, rows, 2):
            for c0 in range(0, cols, 2):
                if rng.random() < 0.6:
                    w[r0:r0 + 2, c0:c0 + 2] = 0
    w[1, :] = 0          # a row with no weight at all
    w[:, 2] = 0          # an input that meets only zeros
    w[:, 5] = np.where(w[:, 5] == 0, 1.5, w[:, 5])  # only non-zeros
    if pattern == "fullrow":  # a row with no zero: its pads read no input
        w[0, :] = np.where(w[0, :] == 0, -0.75, w[0, :])
    return w.astype(np.float32)


def fc_inputs(m, cols):
    x = np.linspace(-1, 1, m * cols).reshape(m, cols).astype(np.float32)
    if m == 1:
        return [x] + [v for v in (_one(x, c, s) for c, s in
                      [(2, INF), (5, NAN), (5, -INF), (3, INF)])] + \
            [_one(_one(x, 2, NAN), 5, INF)]
    x[1, 2] = INF        # only zeros
    x[2, 5] = NAN        # only non-zeros
    x[3, 5], x[3, 2], x[3, 3] = -INF, NAN, INF  # both
    x[4, 3] = -INF       # zeros in some rows
    return [x]


def _one(x, c, v):
    x = x.copy()
    x[0, c] = v
    return x


def fc_case(pattern, m, seed):
    rng = np.random.default_rng(seed)
    rows, cols = 12, 16 if pattern != "fullrow" else 13
    w = fc_weights(pattern, rows, cols, rng)
    b = rng.uniform(-1, 1, rows).astype(np.float32)
    node = h.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)
    relu = h.make_node("Relu", ["y0"], ["y"])
    node.output[0] = "y0"
    m_ = graph_model([node, relu], [m, cols], [m, rows],
                     [const("w", w), const("b", b)])

    def ref(x):
        with np.errstate(invalid="ignore"):
            p = (x[:, None, :].astype(np.float64) * w[None, :, :]).sum(-1)
            return np.maximum(p + b, 0).astype(np.float32)
    return "fc-%s-b%d" % (pattern, m), m_, fc_inputs(m, cols), ref


def conv_case(name, c, oc, k, stride, pad, group, seed):
    rng = np.random.default_rng(seed)
    cg = c // group
    w = rng.uniform(0.5, 2.0, (oc, cg, k, k)) * rng.choice([-1, 1],
                                                           (oc, cg, k, k))
    w[rng.random(w.shape) < 0.6] = 0
    w[0] = 0                    # an output channel with no weight
    w[:, :, 0, 0] = 0           # a tap no channel uses
    w = w.astype(np.float32)
    hw = 6
    node = h.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[k, k],
                       strides=[stride, stride], pads=[pad] * 4,
                       group=group)
    oh = (hw + 2 * pad - k) // stride + 1
    m_ = graph_model([node], [1, c, hw, hw], [1, oc, oh, oh],
                     [const("w", w)])
    base = np.linspace(-1, 1, c * hw * hw).reshape(1, c, hw, hw)
    base = base.astype(np.float32)
    xs = [base]
    for (ch, yy, xx, v) in [(0, 0, 0, INF), (c - 1, 2, 3, NAN),
                            (0, hw - 1, hw - 1, -INF), (c // 2, 1, 4, INF)]:
        x = base.copy()
        x[0, ch, yy, xx] = v
        xs.append(x)
    x = base.copy()
    x[0, 0, 2, 2], x[0, c - 1, 4, 1] = NAN, -INF
    xs.append(x)

    def ref(x):
        xp = np.pad(x.astype(np.float64),
                    ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        y = np.zeros((1, oc, oh, oh))
        with np.errstate(invalid="ignore"):
            for o in range(oc):
                g = o // (oc // group)
                for i in range(oh):
                    for j in range(oh):
                        win = xp[0, g * cg:(g + 1) * cg,
                                 i * stride:i * stride + k,
                                 j * stride:j * stride + k]
                        y[0, o, i, j] = (win * w[o]).sum()
        return y.astype(np.float32)
    return name, m_, xs, ref


def digits_case():
    src = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    ex = os.path.join(src, "examples", "digits")
    x = np.load(os.path.join(ex, "digits_x.npy"))[:1].copy()
    xs = []
    for c, v in [(20, INF), (0, NAN), (63, -INF)]:
        y = x.copy()
        y[0, c] = v
        xs.append(y)
    return "digits-mlp-pruned", onnx.load(os.path.join(ex, "mlp.onnx")), \
        xs, None


def compare(got, exp):
    """NaN, +-Inf exactly; finite values within rounding."""
    got, exp = got.reshape(exp.shape), exp
    gn, en = np.isnan(got), np.isnan(exp)
    if (gn != en).any():
        i = np.flatnonzero(gn != en)[0]
        return "NaN at %d: %r vs %r" % (i, got.flat[i], exp.flat[i])
    gi, ei = np.isinf(got), np.isinf(exp)
    if (gi != ei).any() or (got[gi] != exp[ei]).any():
        return "Inf differs"
    f = ~(gn | gi)
    if not np.allclose(got[f], exp[f], rtol=1e-4, atol=1e-5):
        return "finite values differ"
    return None


def one(t, name, m, xs, ref, level, extra):
    wd = tempfile.mkdtemp(prefix="nfs-")
    try:
        path = os.path.join(wd, name + ".onnx")
        onnx.save(m, path)
        exe, err = rc.build_model(t, path, wd, "m", opt=level[0],
                                  extra=list(level[1:]) + list(extra))
        if err:
            return err
        for k, x in enumerate(xs):
            got, exp, err = rc.object_and_interp(
                t, exe, os.path.join(wd, "m.nnir"), x, wd)
            if err:
                return err
            err = compare(got, exp)
            if err:
                return "input %d: object vs nncc-run: %s\n%r\n%r" % (
                    k, err, got, exp)
            if ref:
                err = compare(got, ref(x))
                if err:
                    return "input %d: object vs numpy: %s\n%r\n%r" % (
                        k, err, got, ref(x))
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    t = rc.Tools(a.build)
    cases = [fc_case(p, m, s) for s, (p, m) in enumerate(
        [("random", 1), ("random", 5), ("nm", 1), ("block", 5),
         ("fullrow", 1), ("fullrow", 5)])]
    cases += [conv_case("conv-pad", 3, 4, 3, 1, 1, 1, 7),
              conv_case("conv-stride", 4, 6, 3, 2, 1, 2, 8),
              conv_case("conv-depthwise", 4, 4, 3, 1, 1, 4, 9)]
    cases = [(n, m, xs, r, ()) for n, m, xs, r in cases]
    n, m, xs, r = digits_case()
    cases.append((n, m, xs, r, ("--prune=0.9:magnitude", "--share=16")))
    npass = nfail = 0
    for name, m, xs, ref, extra in cases:
        if a.only and a.only not in name:
            continue
        for level in LEVELS:
            err = one(t, name, m, xs, ref, level, extra)
            if err:
                nfail += 1
                print("FAIL %s %s: %s" % (name, " ".join(level), err))
            else:
                npass += 1
    print("%d passed, %d failed" % (npass, nfail))
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
