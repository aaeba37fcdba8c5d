#!/usr/bin/python3
"""LSTM, GRU and RNN over their options: every direction, both layouts,
initial states, sequence lengths (constant and given at run time),
peepholes, clip, linear_before_reset, input_forget, the alternative
activations with their alpha/beta, and each output omitted in turn. Each
case is a one-node ONNX model (onnx.helper, opset 14) with seeded random
data, checked against rnn_ref.py (numpy, float64, written from the ONNX
specification): by the interpreter (nncc-run --expect), compiled (nncc -O3
linked with test/codegen/harness.c) and after --emit-onnx, and its IR text
must round-trip. Then the user errors (W at run time for nncc, a sequence
length beyond T for nncc-run and the compiled model).

Run: /usr/bin/python3 test/e2e/rnn_options.py BUILD WORK_DIR [-k SUBSTR]
Prints one line per case and `N passed, N failed`; exits 1 on a failure.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "codegen"))
import rnn_ref  # noqa: E402
import run_compiled as rc  # noqa: E402

NAMES = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
OUTS = ["Y", "Y_h", "Y_c"]
RTOL, ATOL = 1e-4, 1e-5


class Case:
    def __init__(self, name, op, attrs=None, have=(), runtime=(),
                 outs=None, T=4, nb=3, I=5, H=4, lens=None):
        self.name, self.op, self.attrs = name, op, dict(attrs or {})
        self.have = set(have) | {"X", "W", "R"}
        self.runtime = set(runtime) | {"X"}  # graph inputs; others: initializers
        n = 3 if op == "LSTM" else 2
        self.outs = outs or [True] * n
        self.T, self.nb, self.I, self.H, self.lens = T, nb, I, H, lens


CASES = [
    Case("lstm_forward", "LSTM"),
    Case("lstm_reverse_all_inputs", "LSTM", {"direction": "reverse"},
         have=NAMES, runtime=("initial_h", "initial_c"), lens=[4, 2, 1]),
    Case("lstm_bidirectional", "LSTM", {"direction": "bidirectional"},
         have=("B", "initial_h", "initial_c", "P"), runtime=("B", "P")),
    Case("lstm_bidir_layout1_lens", "LSTM",
         {"direction": "bidirectional", "layout": 1},
         have=NAMES, runtime=("sequence_lens", "initial_h"), lens=[3, 4, 0]),
    Case("lstm_clip_input_forget", "LSTM",
         {"clip": 0.7, "input_forget": 1, "direction": "bidirectional"},
         have=("B", "P")),
    Case("lstm_activations", "LSTM",
         {"direction": "bidirectional",
          "activations": ["HardSigmoid", "Elu", "Softsign",
                          "Affine", "ScaledTanh", "LeakyRelu"],
          "activation_alpha": [0.3, 0.8, 0.5, 0.7, 0.2],
          "activation_beta": [0.45, 0.1, 1.3]},
         have=("B",)),
    Case("lstm_only_y_h", "LSTM", {"direction": "reverse"}, have=("B",),
         outs=[False, True, False]),
    Case("lstm_only_y_c", "LSTM", have=("B", "initial_c"),
         outs=[False, False, True]),
    Case("lstm_y_and_y_c", "LSTM", {"layout": 1}, have=("B", "P"),
         outs=[True, False, True]),
    Case("lstm_wide", "LSTM", {"direction": "bidirectional"}, have=("B",),
         T=7, nb=2, I=19, H=37),
    Case("gru_forward", "GRU", have=("B",)),
    Case("gru_lbr_reverse", "GRU",
         {"linear_before_reset": 1, "direction": "reverse"},
         have=("B", "initial_h"), runtime=("B",)),
    Case("gru_bidir_lens", "GRU", {"direction": "bidirectional"},
         have=("B", "sequence_lens", "initial_h"),
         runtime=("sequence_lens",), lens=[1, 4, 3]),
    Case("gru_lbr_bidir_layout1", "GRU",
         {"direction": "bidirectional", "layout": 1,
          "linear_before_reset": 1},
         have=("B", "sequence_lens", "initial_h"), lens=[2, 4, 4]),
    Case("gru_clip_activations", "GRU",
         {"clip": 1.1, "activations": ["Softplus", "ThresholdedRelu"],
          "activation_alpha": [0.1]}, have=("B",)),
    Case("gru_relu_sigmoid_bidir", "GRU",
         {"direction": "bidirectional",
          "activations": ["Sigmoid", "Relu", "HardSigmoid", "Tanh"]},
         have=("B",)),
    Case("gru_only_y_h", "GRU", {"layout": 1}, have=("B",),
         outs=[False, True]),
    Case("gru_wide", "GRU", {"direction": "bidirectional"}, have=("B",),
         T=6, nb=3, I=21, H=33),
    Case("rnn_forward", "RNN"),
    Case("rnn_reverse_lens", "RNN", {"direction": "reverse"},
         have=("B", "sequence_lens", "initial_h"), lens=[2, 3, 4]),
    Case("rnn_bidir_layout1_relu", "RNN",
         {"direction": "bidirectional", "layout": 1,
          "activations": ["Relu", "LeakyRelu"], "activation_alpha": [0.2]},
         have=("B", "initial_h"), runtime=("initial_h",)),
    Case("rnn_clip", "RNN", {"clip": 0.5}, have=("B",)),
    Case("rnn_only_y", "RNN", have=("B",), outs=[True, False]),
]


def make(case, rng):
    """(model, graph input arrays, expected outputs) of a case."""
    c = case
    dirs = 2 if c.attrs.get("direction") == "bidirectional" else 1
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[c.op]
    lay = c.attrs.get("layout", 0)
    state = (c.nb, dirs, c.H) if lay else (dirs, c.nb, c.H)
    shapes = {"X": (c.nb, c.T, c.I) if lay else (c.T, c.nb, c.I),
              "W": (dirs, G * c.H, c.I), "R": (dirs, G * c.H, c.H),
              "B": (dirs, 2 * G * c.H), "initial_h": state,
              "initial_c": state, "P": (dirs, 3 * c.H)}
    vals = []
    names = NAMES[:8 if c.op == "LSTM" else 6]
    for nm in names:
        if nm not in c.have:
            vals.append(None)
        elif nm == "sequence_lens":
            vals.append(np.array(c.lens, np.int32))
        else:
            s = 1.0 if nm == "X" else 0.5
            vals.append((rng.standard_normal(shapes[nm]) * s)
                        .astype(np.float32))
    while vals and vals[-1] is None:
        vals.pop()
    ins, inits, feeds = [], [], []
    for nm, v in zip(names, vals):
        if v is None:
            continue
        if nm in c.runtime:
            et = TensorProto.INT32 if v.dtype == np.int32 else \
                TensorProto.FLOAT
            ins.append(helper.make_tensor_value_info(nm, et, v.shape))
            feeds.append(v)
        else:
            inits.append(numpy_helper.from_array(v, nm))
    node_ins = [nm if v is not None else "" for nm, v in zip(names, vals)]
    node_outs = [nm if on else "" for nm, on in zip(OUTS, c.outs)]
    while node_outs and not node_outs[-1]:
        node_outs.pop()
    exp = rnn_ref.ref(c.op, vals, c.attrs)
    outs = [helper.make_tensor_value_info(nm, TensorProto.FLOAT,
                                          exp[k].shape)
            for k, nm in enumerate(node_outs) if nm]
    attrs = dict(c.attrs)
    attrs["hidden_size"] = c.H
    node = helper.make_node(c.op, node_ins, node_outs, name=c.name, **attrs)
    g = helper.make_graph([node], c.name, ins, outs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(m)
    want = [exp[k].astype(np.float32) for k, nm in enumerate(node_outs)
            if nm]
    return m, feeds, want


def run_case(t, case, wd, rng):
    os.makedirs(wd, exist_ok=True)
    m, feeds, want = make(case, rng)
    model = os.path.join(wd, "model.onnx")
    onnx.save(m, model)
    ins = []
    for k, v in enumerate(feeds):
        ins.append(os.path.join(wd, "in%d.npy" % k))
        np.save(ins[-1], v)
    exps = []
    for k, v in enumerate(want):
        exps.append(os.path.join(wd, "exp%d.npy" % k))
        np.save(exps[-1], v)
    code, out = rc.sh([t.nncc_run, model] + ins + ["--expect"] + exps +
                      ["--rtol", str(RTOL), "--atol", str(ATOL)])
    if code:
        return "interpreter:\n" + out
    a, b = os.path.join(wd, "a.nnir"), os.path.join(wd, "b.nnir")
    opt = os.path.join(os.path.dirname(t.nncc_run), "nncc-opt")
    for src, dst in ((model, a), (a, b)):
        code, out = rc.sh([opt, src, "--print-weights", "-o", dst])
        if code:
            return "nncc-opt:\n" + out
    if open(a).read() != open(b).read():
        return "IR text does not round-trip (%s vs %s)" % (a, b)
    exported = os.path.join(wd, "exported.onnx")
    exe, err = rc.build_model(t, model, wd, extra=["--emit-onnx", exported])
    if err:
        return "compiled: " + err
    onnx.checker.check_model(onnx.load(exported))
    code, out = rc.sh([t.nncc_run, exported] + ins + ["--expect"] + exps +
                      ["--rtol", str(RTOL), "--atol", str(ATOL)])
    if code:
        return "--emit-onnx model in the interpreter:\n" + out
    got = [os.path.join(wd, "got%d.npy" % k) for k in range(len(want))]
    code, out = rc.run_exe(exe, ins, got)
    if code:
        return "harness exit %d\n%s" % (code, out)
    for k, w in enumerate(want):
        msg = rc.close(np.load(got[k]), w, RTOL, ATOL)
        if msg:
            return "compiled output %d: %s" % (k, msg)
    return None


def errors(t, wd):
    """User errors: W given at run time cannot be compiled (the message
    names the node); a sequence length beyond T makes the compiled run
    return 2 (index out of range, README.md) and nncc-run refuse it."""
    os.makedirs(wd, exist_ok=True)
    rng = np.random.default_rng(7)
    c = Case("lstm_w_at_run_time", "LSTM", runtime=("W",))
    m, feeds, _ = make(c, rng)
    model = os.path.join(wd, "w.onnx")
    onnx.save(m, model)
    code, out = rc.sh([t.nncc, model, "-o", os.path.join(wd, "w.o")])
    want = "node 'lstm_w_at_run_time' (LSTM): W and R must be constants"
    if code != 1 or want not in out:
        return "W at run time: exit %d, %s" % (code, out)
    c = Case("gru_lens", "GRU", have=("sequence_lens",),
             runtime=("sequence_lens",), lens=[4, 5, 1])
    c.lens = [4, 4, 1]
    m, feeds, _ = make(c, rng)
    model = os.path.join(wd, "lens.onnx")
    onnx.save(m, model)
    feeds[1] = np.array([4, 5, 1], np.int32)
    ins = []
    for k, v in enumerate(feeds):
        ins.append(os.path.join(wd, "lens_in%d.npy" % k))
        np.save(ins[-1], v)
    code, out = rc.sh([t.nncc_run, model] + ins)
    want = "node 'gru_lens' (GRU): sequence_lens[1] = 5 is outside [0, 4]"
    if code != 1 or want not in out:
        return "nncc-run, length 5 of 4: exit %d, %s" % (code, out)
    exe, err = rc.build_model(t, model, wd)
    if err:
        return err
    code, out = rc.run_exe(exe, ins, [os.path.join(wd, "o%d.npy" % k)
                                      for k in range(2)])
    if code != 1 or "run returned 2" not in out:
        return "compiled, length 5 of 4: exit %d, %s" % (code, out)
    return None


def around(t, wd):
    """Recurrent layers among the ops the passes rewrite: a MatMul with
    dead columns before a Relu, constant Mul/Add around them, two identical
    LSTMs whose Y is omitted (dedup, fold and fuse must leave them be), a
    Gemm and a BatchNormalization after, a GRU on a reshaped Y. Compiled
    at -O3, -Os and -O0 against nncc-run on the model itself; with --prune and
    --share against nncc-run on the IR they produce."""
    os.makedirs(wd, exist_ok=True)
    rng = np.random.default_rng(3)
    T, nb, I, F, H = 5, 2, 6, 8, 4

    def r(*s):
        return (rng.standard_normal(s) * 0.5).astype(np.float32)
    w1, b1 = r(I, F), r(F)
    w1[:, [1, 5]] = 0
    b1[[1, 5]] = -1
    c = {"w1": w1, "b1": b1, "two": np.array(2, np.float32),
         "W": r(1, 4 * H, F), "R": r(1, 4 * H, H), "Wg": r(1, 3 * H, H),
         "Rg": r(1, 3 * H, H), "k": r(H), "shape": np.array([nb, H]),
         "gw": r(3, H), "gb": r(3), "s": r(3) + 1, "bb": r(3),
         "mean": r(3), "var": np.abs(r(3)) + 0.5,
         "shape3": np.array([T, nb, H])}
    N = helper.make_node
    nodes = [
        N("MatMul", ["x", "w1"], ["m"]), N("Add", ["m", "b1"], ["a"]),
        N("Relu", ["a"], ["r"]), N("Mul", ["r", "two"], ["r2"]),
        N("LSTM", ["r2", "W", "R"], ["", "h1", "c1"], hidden_size=H),
        N("LSTM", ["r2", "W", "R"], ["", "h2"], hidden_size=H),
        N("Add", ["h1", "h2"], ["hs"]), N("Mul", ["hs", "k"], ["hk"]),
        N("Add", ["hk", "c1"], ["hc"]), N("Relu", ["hc"], ["hr"]),
        N("Reshape", ["hr", "shape"], ["h2d"]),
        N("Gemm", ["h2d", "gw", "gb"], ["g"], transB=1),
        N("BatchNormalization", ["g", "s", "bb", "mean", "var"], ["bn"]),
        N("LSTM", ["r2", "W", "R"], ["y3"], hidden_size=H),
        N("Reshape", ["y3", "shape3"], ["y3s"]),
        N("GRU", ["y3s", "Wg", "Rg"], ["yg"], hidden_size=H,
          linear_before_reset=1),
    ]
    g = helper.make_graph(
        nodes, "around",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (T, nb, I))],
        [helper.make_tensor_value_info("bn", TensorProto.FLOAT, (nb, 3)),
         helper.make_tensor_value_info("yg", TensorProto.FLOAT,
                                       (T, 1, nb, H))],
        [numpy_helper.from_array(v, k) for k, v in c.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(m)
    model = os.path.join(wd, "around.onnx")
    onnx.save(m, model)
    x = os.path.join(wd, "x.npy")
    np.save(x, rng.standard_normal((T, nb, I)).astype(np.float32))
    refs = [os.path.join(wd, "ref%d.npy" % k) for k in range(2)]
    code, out = rc.sh([t.nncc_run, model, x, "-o", refs[0], "-o", refs[1]])
    if code:
        return "nncc-run: " + out
    for flags, vs_model in ((["-O3"], True), (["-Os"], True),
                            (["-O0"], True),
                            (["-O3", "--prune=0.5"], False),
                            (["-O3", "--share=8"], False)):
        exe, err = rc.build_model(t, model, wd, opt=flags[0],
                                  extra=flags[1:])
        if err:
            return "%s: %s" % (" ".join(flags), err)
        got = [os.path.join(wd, "got%d.npy" % k) for k in range(2)]
        code, out = rc.run_exe(exe, [x], got)
        if code:
            return "%s: harness exit %d\n%s" % (" ".join(flags), code, out)
        want = refs
        if not vs_model:
            want = [os.path.join(wd, "ir%d.npy" % k) for k in range(2)]
            code, out = rc.sh([t.nncc_run, os.path.join(wd, "m.nnir"), x,
                               "-o", want[0], "-o", want[1]])
            if code:
                return "nncc-run on the IR: " + out
        for k in range(2):
            msg = rc.close(np.load(got[k]), np.load(want[k]), RTOL, ATOL)
            if msg:
                return "%s: output %d: %s" % (" ".join(flags), k, msg)
    return None


def data_driven(t, wd):
    """The data-driven compression passes on a model whose weight layers
    surround an LSTM (Y omitted, batch first, so that --calib has a row
    per sample): they compress the Gemms, leave the LSTM be, and the
    object matches nncc-run on the IR they produce."""
    os.makedirs(wd, exist_ok=True)
    rng = np.random.default_rng(4)
    H = 6

    def r(*s):
        return (rng.standard_normal(s) * 0.5).astype(np.float32)
    c = {"w1": r(12, 12), "b1": r(12), "s3": np.array([-1, 3, 4]),
         "W": r(1, 4 * H, 4), "R": r(1, 4 * H, H),
         "s2": np.array([-1, H]), "w2": r(H, 5), "b2": r(5)}
    N = helper.make_node
    nodes = [N("Gemm", ["x", "w1", "b1"], ["g"]), N("Relu", ["g"], ["gr"]),
             N("Reshape", ["gr", "s3"], ["x3"]),
             N("LSTM", ["x3", "W", "R"], ["", "yh"], hidden_size=H,
               layout=1),
             N("Reshape", ["yh", "s2"], ["h2"]),
             N("Gemm", ["h2", "w2", "b2"], ["y"])]
    g = helper.make_graph(
        nodes, "dd",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (4, 12))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, (4, 5))],
        [numpy_helper.from_array(v, k) for k, v in c.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    model = os.path.join(wd, "dd.onnx")
    onnx.save(m, model)
    calib, x = os.path.join(wd, "calib.npy"), os.path.join(wd, "x.npy")
    np.save(calib, rng.standard_normal((32, 12)).astype(np.float32))
    np.save(x, rng.standard_normal((4, 12)).astype(np.float32))
    for flag in ("--prune=0.5:apoz", "--prune=0.5:wanda", "--share=4",
                 "--slim"):
        extra = [flag, "--calib", calib, "--tolerance", "0.5"]
        exe, err = rc.build_model(t, model, wd, extra=extra)
        if err:
            return "%s: %s" % (flag, err)
        got, ref = os.path.join(wd, "got.npy"), os.path.join(wd, "ref.npy")
        code, out = rc.run_exe(exe, [x], [got])
        if code:
            return "%s: harness exit %d\n%s" % (flag, code, out)
        code, out = rc.sh([t.nncc_run, os.path.join(wd, "m.nnir"), x,
                           "-o", ref])
        if code:
            return "%s: nncc-run on the IR: %s" % (flag, out)
        msg = rc.close(np.load(got), np.load(ref), RTOL, ATOL)
        if msg:
            return "%s: %s" % (flag, msg)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("work")
    ap.add_argument("-k", action="append")
    a = ap.parse_args()
    t = rc.Tools(os.path.abspath(a.build))
    failed = passed = 0
    for i, case in enumerate(CASES):
        if a.k and not any(k in case.name for k in a.k):
            continue
        err = run_case(t, case, os.path.join(a.work, case.name),
                       np.random.default_rng(1000 + i))
        print("%s %s%s" % ("FAIL" if err else "ok", case.name,
                           ": " + err if err else ""))
        failed += bool(err)
        passed += not err
    for name, job in (("errors", errors), ("around", around),
                      ("data_driven", data_driven)):
        if a.k and not any(k in name for k in a.k):
            continue
        err = job(t, os.path.join(a.work, name))
        print("%s %s%s" % ("FAIL" if err else "ok", name,
                           ": " + err if err else ""))
        failed += bool(err)
        passed += not err
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
