#!/usr/bin/python3
"""The floating-point contract (README): NaN propagates through max/min-like
ops, the first NaN wins ArgMax/MaxPool. Each model is compiled at -O0, -O3
and -Os, run on NaN/Inf inputs and compared with nncc-run bit for bit and
with the value numpy gives. Prints `N passed, N failed`; exits 1 on any."""
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
X = np.array([[1.0, NAN, -2.0, INF, -INF, 0.5, NAN, 3.0]], np.float32)


def model(op, shape_out, dtype=TP.FLOAT, inits=(), extra_in=(), **attrs):
    ins = ["x"] + [i.name for i in inits] + list(extra_in)
    node = h.make_node(op, ins, ["y"], **attrs)
    g = h.make_graph([node], "g",
                     [h.make_tensor_value_info("x", TP.FLOAT, X.shape)],
                     [h.make_tensor_value_info("y", dtype, shape_out)],
                     initializer=list(inits))
    return h.make_model(g, opset_imports=[h.make_opsetid("", 13)])


def const(name, a):
    return numpy_helper.from_array(np.asarray(a, np.float32), name)


def cases():
    fl = [1, 8]
    with np.errstate(invalid="ignore"):
        return [
            ("relu", model("Relu", fl), np.maximum(X, 0)),
            ("clip", model("Clip", fl, inits=[const("lo", -1),
                                              const("hi", 1)]),
             np.clip(X, -1, 1)),
            ("hardsigmoid", model("HardSigmoid", fl),
             np.clip(0.2 * X + 0.5, 0, 1)),
            ("leakyrelu", model("LeakyRelu", fl),
             np.where(X < 0, 0.01 * X, X)),
            ("max", model("Max", fl, inits=[const("b", np.zeros(8))]),
             np.maximum(X, 0)),
            ("min", model("Min", fl, inits=[const("b", np.zeros(8))]),
             np.minimum(X, 0)),
            ("reducemax", model("ReduceMax", [1, 1], keepdims=1,
                                axes=[1]), np.max(X, 1, keepdims=True)),
            ("reducemin", model("ReduceMin", [1, 1], keepdims=1,
                                axes=[1]), np.min(X, 1, keepdims=True)),
            ("argmax", model("ArgMax", [1, 1], TP.INT64, axis=1),
             np.argmax(X, 1).reshape(1, 1)),
            ("argmin", model("ArgMin", [1, 1], TP.INT64, axis=1),
             np.argmin(X, 1).reshape(1, 1)),
            ("celu", model("Celu", fl),
             np.maximum(X, 0) + np.minimum(0, np.expm1(X))),
        ]


def math_cases():
    """The math ops of issue 11 on the same NaN/Inf row: IsInf and IsNaN
    (NaN is not infinite), Shrink (NaN is neither below -lambd nor above
    lambd: 0, as ONNX's reference computes it), Hardmax (the first NaN is
    the maximum, as np.argmax and ArgMax)."""
    fl = [1, 8]
    with np.errstate(invalid="ignore"):
        return [
            ("isinf", model("IsInf", fl, TP.BOOL), np.isinf(X)),
            ("isinf-pos", model("IsInf", fl, TP.BOOL, detect_negative=0),
             X == INF),
            ("isinf-neg", model("IsInf", fl, TP.BOOL, detect_positive=0),
             X == -INF),
            ("isnan", model("IsNaN", fl, TP.BOOL), np.isnan(X)),
            ("shrink", model("Shrink", fl, lambd=1.0, bias=0.5),
             np.where(X < -1, X + 0.5, np.where(X > 1, X - 0.5, 0))
             .astype(np.float32)),
            ("hardmax", model("Hardmax", fl),
             np.eye(8, dtype=np.float32)[np.argmax(X, 1)]),
        ]


def det_cases():
    """Det (LU with partial pivoting in double, the same steps in the
    object and nncc-run): a batch of random matrices, singular ones (0,
    as numpy's det), NaN/Inf entries, 1x1 matrices. numpy's det (LAPACK)
    orders its steps differently, so that comparison has a tolerance."""
    def det_model(shape):
        node = h.make_node("Det", ["x"], ["y"])
        g = h.make_graph([node], "g",
                         [h.make_tensor_value_info("x", TP.FLOAT, shape)],
                         [h.make_tensor_value_info("y", TP.FLOAT,
                                                   shape[:-2])])
        return h.make_model(g, opset_imports=[h.make_opsetid("", 13)])

    def want(x):
        with np.errstate(invalid="ignore"):
            return np.linalg.det(x.astype(np.float64)).astype(np.float32)

    rng = np.random.default_rng(11)
    big = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    odd = np.array([[[1, 2], [2, 4]], [[0, 0], [0, 0]], [[0, NAN], [0, 1]],
                    [[1, NAN], [2, 1]], [[INF, 1], [1, 1]],
                    [[0, 1], [1, 0]]], np.float32)
    one = np.array([[[3]], [[-0.5]], [[NAN]]], np.float32)
    return [("det-" + n, det_model(list(x.shape)), want(x), x, 1e-5)
            for n, x in (("batch", big), ("special", odd), ("1x1", one))]


def pool_case():
    x = X.reshape(1, 1, 1, 8)
    node = h.make_node("MaxPool", ["x"], ["y"], kernel_shape=[1, 2],
                       strides=[1, 2])
    g = h.make_graph([node], "g",
                     [h.make_tensor_value_info("x", TP.FLOAT, x.shape)],
                     [h.make_tensor_value_info("y", TP.FLOAT, [1, 1, 1, 4])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
    return "maxpool", m, np.maximum(x[..., 0::2], x[..., 1::2]), x


def global_pool_case():
    x = X.reshape(1, 4, 2)
    node = h.make_node("GlobalMaxPool", ["x"], ["y"])
    g = h.make_graph([node], "g",
                     [h.make_tensor_value_info("x", TP.FLOAT, x.shape)],
                     [h.make_tensor_value_info("y", TP.FLOAT, [1, 4, 1])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
    return "globalmaxpool", m, np.max(x, 2, keepdims=True), x


def resize_case():
    # linear, asymmetric, scale 1.5: out[j] blends x[i] and x[i+1] at
    # c = j / 1.5 = i + f; where f is 0 the second tap has weight 0 and
    # contributes nothing, even when it is NaN or Inf
    x = X.reshape(1, 1, 1, 8)
    node = h.make_node("Resize", ["x", "", "s"], ["y"], mode="linear",
                       coordinate_transformation_mode="asymmetric")
    g = h.make_graph([node], "g",
                     [h.make_tensor_value_info("x", TP.FLOAT, x.shape)],
                     [h.make_tensor_value_info("y", TP.FLOAT, [1, 1, 1, 12])],
                     initializer=[const("s", [1, 1, 1, 1.5])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
    want = []
    for j in range(12):
        c = j / 1.5
        i = int(np.floor(c))
        f = np.float32(c - i)
        a, b = X[0, i], X[0, min(i + 1, 7)]
        with np.errstate(invalid="ignore"):
            want.append(a if f == 0 else (1 - f) * a + f * b)
    return "resize", m, np.array(want, np.float32).reshape(1, 1, 1, 12), x


def digits_case():
    """The digits MLP with one NaN pixel: every logit is NaN."""
    src = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    ex = os.path.join(src, "examples", "digits")
    x = np.load(os.path.join(ex, "digits_x.npy"))[:1].copy()
    x[0, 20] = NAN
    m = onnx.load(os.path.join(ex, "mlp.onnx"))
    return "digits-mlp", m, np.full((1, 10), NAN, np.float32), x


def conv2d(x, w, b, pad):
    """Direct convolution, stride 1, as the definition reads (0 * Inf is
    NaN here as in the model)."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    k = w.shape[2]
    oh, ow = x.shape[2] - k + 1, x.shape[3] - k + 1
    y = np.zeros((x.shape[0], w.shape[0], oh, ow), np.float32)
    with np.errstate(invalid="ignore"):
        for o in range(w.shape[0]):
            for i in range(oh):
                for j in range(ow):
                    y[:, o, i, j] = np.sum(x[:, :, i:i + k, j:j + k] *
                                           w[o], axis=(1, 2, 3)) + b[o]
    return y


def dead_neuron_cases():
    """Layers with two all-zero channels, one of which the dead-neurons
    pass (-O2 and up) removes: an Inf input makes them NaN (0 * Inf) while
    the live channels clamp to 0 in the Relu (or stay finite), so the NaN
    reaches the outputs only through the dead channels."""
    rng = np.random.RandomState(7)
    fc = []
    w1 = np.array([[0, -1, 2, 0], [0, 3, 4, 0]], np.float32)
    b1 = np.array([1, 0, 0, 2], np.float32)
    w2 = np.array([[1, 2], [1, 0], [0, 1], [3, 1]], np.float32)
    x = np.array([[INF, 1]], np.float32)
    with np.errstate(invalid="ignore"):
        want = np.maximum(x @ w1 + b1, 0) @ w2
    nodes = [h.make_node("Gemm", ["x", "w1", "b1"], ["h"]),
             h.make_node("Relu", ["h"], ["r"]),
             h.make_node("Gemm", ["r", "w2"], ["y"])]
    g = h.make_graph(nodes, "g",
                     [h.make_tensor_value_info("x", TP.FLOAT, [1, 2])],
                     [h.make_tensor_value_info("y", TP.FLOAT, [1, 2])],
                     initializer=[const("w1", w1), const("b1", b1),
                                  const("w2", w2)])
    fc.append(("dead-neuron-fc", h.make_model(
        g, opset_imports=[h.make_opsetid("", 13)]), want, x))
    # Conv: channels 0 and 3 of c1 are all zero with biases 1 and 2; the
    # live channels weigh input channel 0 negatively, so an Inf there
    # clamps to 0 and only the dead channels carry NaN, to the c2 outputs
    # whose window covers it.
    c1 = rng.uniform(-1, 1, (4, 2, 3, 3)).astype(np.float32)
    c1[0] = c1[3] = 0
    c1[1:3, 0] = -np.abs(c1[1:3, 0]) - 0.1
    cb1 = np.array([1, 0.5, 0.25, 2], np.float32)
    c2 = rng.uniform(-1, 1, (2, 4, 3, 3)).astype(np.float32)
    cb2 = np.zeros(2, np.float32)
    x = rng.uniform(-1, 1, (1, 2, 6, 6)).astype(np.float32)
    x[0, 0, 0, 0] = INF
    r = np.maximum(conv2d(x, c1, cb1, 1), 0)
    for name, leaf in (("conv", "conv"), ("flatten", "gemm")):
        inits = [const("c1", c1), const("cb1", cb1)]
        nodes = [h.make_node("Conv", ["x", "c1", "cb1"], ["h"],
                             kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                 h.make_node("Relu", ["h"], ["r"])]
        if leaf == "conv":
            inits += [const("c2", c2), const("cb2", cb2)]
            nodes.append(h.make_node("Conv", ["r", "c2", "cb2"], ["y"],
                                     kernel_shape=[3, 3]))
            want, shape = conv2d(r, c2, cb2, 0), [1, 2, 4, 4]
        else:
            fw = rng.uniform(-1, 1, (4 * 36, 4)).astype(np.float32)
            inits.append(const("fw", fw))
            nodes += [h.make_node("Flatten", ["r"], ["f"]),
                      h.make_node("Gemm", ["f", "fw"], ["y"])]
            with np.errstate(invalid="ignore"):
                want, shape = r.reshape(1, -1) @ fw, [1, 4]
        g = h.make_graph(nodes, "g",
                         [h.make_tensor_value_info("x", TP.FLOAT, x.shape)],
                         [h.make_tensor_value_info("y", TP.FLOAT, shape)],
                         initializer=inits)
        fc.append(("dead-neuron-" + name, h.make_model(
            g, opset_imports=[h.make_opsetid("", 13)]), want, x))
    return fc


def same(a, b):
    """NaN exactly where numpy has NaN, other values to float32 rounding
    (numpy sums in another order)."""
    a, b = np.asarray(a), np.asarray(b).reshape(np.shape(a))
    if a.dtype.kind == "f":
        na, nb = np.isnan(a), np.isnan(b)
        return bool(np.all(na == nb) and np.allclose(
            a[~na], b[~nb], rtol=1e-5, atol=1e-6))
    return bool(np.all(a == b))


def bits(a):
    """a's bytes with every NaN as one NaN: the sign and payload of a NaN
    made by 0 * Inf differ between the dense product (the hardware's
    default NaN) and a sparse kernel's marking, and IEEE 754 leaves both
    open."""
    a = np.array(a)
    if a.dtype.kind == "f":
        a[np.isnan(a)] = np.nan
    return a.tobytes()


def one(t, name, m, want, x, opt, rtol=0):
    wd = tempfile.mkdtemp(prefix="nan-")
    try:
        path = os.path.join(wd, name + ".onnx")
        onnx.save(m, path)
        exe, err = rc.build_model(t, path, wd, "m", opt=opt)
        if err:
            return err
        got, exp, err = rc.object_and_interp(
            t, exe, os.path.join(wd, "m.nnir"), x, wd)
        if err:
            return err
        if bits(got) != bits(exp):
            return "object %r != nncc-run %r (%s, %s)" % (
                got, exp, got.view(np.uint32), exp.view(np.uint32))
        if rtol and not np.allclose(got, np.reshape(want, got.shape),
                                    rtol=rtol, atol=1e-6, equal_nan=True):
            return "got %r, numpy says %r" % (got, want)
        if not rtol and not same(got, want):
            return "got %r, contract says %r" % (got, want)
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--math", action="store_true",
                    help="the math ops' cases (math_cases) instead")
    a = ap.parse_args()
    t = rc.Tools(a.build)
    if a.math:
        all_cases = [(n, m, w, X) for n, m, w in math_cases()] + \
            det_cases()
    else:
        all_cases = [(n, m, w, X) for n, m, w in cases()] + [
            pool_case(), global_pool_case(), resize_case(), digits_case()]
        all_cases += dead_neuron_cases()
    npass = nfail = 0
    for name, m, want, x, *tol in all_cases:
        for opt in ("-O0", "-O3", "-Os"):
            err = one(t, name, m, want, x, opt, *tol)
            if err:
                nfail += 1
                print("FAIL %s %s: %s" % (name, opt, err))
            else:
                npass += 1
    print("%d passed, %d failed" % (npass, nfail))
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
