#!/usr/bin/python3
"""Signal and loss ops in the forms the ONNX backend cases leave out,
against numpy (np.fft and the losses' definitions), through nncc-run and
through compiled code (-O0 and -O3): DFT with onesided, a dft_length that
pads or truncates, a negative axis, complex and f64 input; STFT on a
complex signal with a window input, onesided=0; MelWeightMatrix with
output_datatype f64; a window cast to int32; NegativeLogLikelihoodLoss on
f64 scores with i32 targets, weights and ignore_index; SCE with log_prob.
Prints failures, then `N passed, N failed`."""
import argparse
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_compiled as rc  # noqa: E402  (Tools, build_model, close, sh)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import helper, numpy_helper, TensorProto  # noqa: E402

RNG = np.random.default_rng(7)
TYPES = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE,
         np.int32: TensorProto.INT32, np.int64: TensorProto.INT64}


def ri(a):
    """[..., 2] real/imaginary pairs of a complex array."""
    return np.stack([a.real, a.imag], axis=-1)


def model(op, inputs, consts, outputs, opset, **attrs):
    """One node of op on (name, array) graph inputs and initializers
    (consts), named in the node's order by `order` (default: inputs, then
    consts), with (name, expected array) outputs: (model, input arrays,
    expected arrays)."""
    names = [n for n, _ in inputs + consts]
    order = attrs.pop("order", names)
    node = helper.make_node(op, order, [n for n, _ in outputs], **attrs)
    g = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, TYPES[a.dtype.type], a.shape)
         for n, a in inputs],
        [helper.make_tensor_value_info(n, TYPES[a.dtype.type], a.shape)
         for n, a in outputs],
        [numpy_helper.from_array(a, n) for n, a in consts])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    return m, [a for _, a in inputs], [a for _, a in outputs]


def dft_cases():
    x = RNG.standard_normal((2, 7, 3, 1)).astype(np.float32)
    yield ("DFT real, dft_length pads, onesided",
           model("DFT", [("x", x)], [("n", np.array(10, np.int64))],
                 [("y", ri(np.fft.rfft(x[..., 0], n=10, axis=1))
                   .astype(np.float32))], 17, axis=1, onesided=1))
    z = RNG.standard_normal((2, 5, 4, 2))
    zc = z[..., 0] + 1j * z[..., 1]
    yield ("DFT complex f64, dft_length truncates, axis -2, inverse",
           model("DFT", [("x", z)], [("n", np.array(3, np.int32))],
                 [("y", ri(np.fft.ifft(zc, n=3, axis=2)))], 17, axis=-2,
                 inverse=1))
    z32 = z.astype(np.float32)
    yield ("DFT complex f32, axis 1, forward",
           model("DFT", [("x", z32)], [],
                 [("y", ri(np.fft.fft(zc, axis=1)).astype(np.float32))],
                 17, axis=1))
    s = RNG.standard_normal((2, 16, 2)).astype(np.float32)
    w = RNG.standard_normal(6).astype(np.float32)
    sc = s[..., 0] + 1j * s[..., 1].astype(np.float64)
    fr = [np.fft.fft(sc[:, i * 3:i * 3 + 6] * w, axis=1)
          for i in range((16 - 6) // 3 + 1)]
    yield ("STFT complex signal, window input, onesided=0",
           model("STFT", [("s", s), ("w", w)],
                 [("step", np.array(3, np.int64))],
                 [("y", ri(np.stack(fr, axis=1)).astype(np.float32))], 17,
                 order=["s", "step", "w"], onesided=0))


def mel_reference(bins, n, rate, lo, hi):
    """onnx's melweightmatrix.py reference, in float64."""
    pts = np.arange(0, bins + 2)
    mlo = 2595 * np.log10(1 + lo / 700)
    mhi = 2595 * np.log10(1 + hi / 700)
    pts = pts * (mhi - mlo) / (bins + 2) + mlo
    pts = 700 * (np.power(10, pts / 2595) - 1)
    pts = ((n + 1) * pts // rate).astype(int)
    out = np.zeros((n // 2 + 1, bins))
    for i in range(bins):
        lft, c, h = pts[i], pts[i + 1], pts[i + 2]
        if c == lft:
            out[c, i] = 1
        else:
            for j in range(lft, c + 1):
                out[j, i] = (j - lft) / (c - lft)
        for j in range(c, h):
            out[j, i] = (h - j) / (h - c)
    return out


def const_cases():
    sc = [("b", np.array(5, np.int64)), ("n", np.array(32, np.int64)),
          ("r", np.array(16000, np.int64)),
          ("lo", np.array(100, np.float32)),
          ("hi", np.array(6000, np.float32))]
    yield ("MelWeightMatrix f64",
           model("MelWeightMatrix", [], sc,
                 [("y", mel_reference(5, 32, 16000, 100.0, 6000.0))], 17,
                 output_datatype=TensorProto.DOUBLE))
    k = np.arange(7)
    ham = 25 / 46 - 21 / 46 * np.cos(2 * np.pi * k / 6)
    yield ("HammingWindow symmetric f64",
           model("HammingWindow", [], [("x", np.array(7, np.int32))],
                 [("y", ham)], 17, periodic=0,
                 output_datatype=TensorProto.DOUBLE))
    yield ("HannWindow to int32 (truncated)",
           model("HannWindow", [], [("x", np.array(4, np.int64))],
                 [("y", (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(4) / 4))
                   .astype(np.int32))],
                 17, output_datatype=TensorProto.INT32))


def nll(lp, t, w, ii, red):
    """-lp[n, t, d] * w[t], 0 where t is ii; mean over the weights."""
    c = lp.shape[1]
    wt = np.where(t == ii, 0, w[np.clip(t, 0, c - 1)])
    g = np.take_along_axis(lp, np.clip(t, 0, c - 1)[:, None], 1)[:, 0]
    loss = -g * wt
    if red == "none":
        return loss
    return loss.sum() if red == "sum" else loss.sum() / wt.sum()


def loss_cases():
    x = RNG.standard_normal((3, 4, 2, 5))
    t = RNG.integers(0, 4, (3, 2, 5)).astype(np.int32)
    t[0, 0, :2] = -3
    w = RNG.random(4)
    yield ("NLL f64, i32 targets, weights, ignore_index -3, mean",
           model("NegativeLogLikelihoodLoss", [("x", x), ("t", t),
                                               ("w", w)], [],
                 [("y", np.array(nll(x, t, w, -3, "mean")))], 13,
                 ignore_index=-3))
    xs = RNG.standard_normal((4, 6)).astype(np.float32)
    ts = RNG.integers(0, 6, 4).astype(np.int64)
    ts[1] = 2
    lp = xs - xs.max(1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(1, keepdims=True))
    yield ("SCE f32, ignore_index 2, sum, log_prob",
           model("SoftmaxCrossEntropyLoss", [("x", xs), ("t", ts)], [],
                 [("y", np.array(nll(lp, ts, np.ones(6), 2, "sum"),
                                 np.float32)),
                  ("lp", lp.astype(np.float32))], 13, ignore_index=2,
                 reduction="sum"))


def run_case(t, case, wd):
    m, xs, ys = case
    path = os.path.join(wd, "m.onnx")
    onnx.save(m, path)
    ins, exps = [], []
    for k, x in enumerate(xs):
        ins.append(os.path.join(wd, "in%d.npy" % k))
        np.save(ins[-1], x)
    for k, y in enumerate(ys):
        exps.append(os.path.join(wd, "exp%d.npy" % k))
        np.save(exps[-1], y)
    errs = []
    code, out = rc.sh([t.nncc_run, path] + ins + ["--expect"] + exps)
    if code:
        errs.append("nncc-run: exit %d\n%s" % (code, out))
    for opt in ("-O0", "-O3"):
        exe, err = rc.build_model(t, path, wd, opt=opt)
        if err:
            errs.append("%s: %s" % (opt, err))
            continue
        outs = [os.path.join(wd, "out%d.npy" % k)
                for k in range(len(exps))]
        code, out = rc.run_exe(exe, ins, outs)
        if code:
            errs.append("%s: harness exit %d\n%s" % (opt, code, out))
            continue
        for k in range(len(exps)):
            msg = rc.close(np.load(outs[k]), np.load(exps[k]))
            if msg:
                errs.append("%s: output %d: %s" % (opt, k, msg))
    return "\n".join(errs) or None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    a = ap.parse_args()
    t = rc.Tools(os.path.abspath(a.build))
    failed = 0
    cases = [c for gen in (dft_cases, const_cases, loss_cases)
             for c in gen()]
    for name, case in cases:
        wd = tempfile.mkdtemp(prefix="sigloss-")
        try:
            err = run_case(t, case, wd)
        finally:
            shutil.rmtree(wd, ignore_errors=True)
        if err:
            failed += 1
            print("FAIL %s\n%s" % (name, err))
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
