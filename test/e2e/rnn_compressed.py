#!/usr/bin/python3
"""Compressed recurrent layers: PyTorch LSTM, GRU and RNN models (a
recurrent layer and a Linear head, random weights with fixed seeds)
exported at test time and compiled with --prune and --share, whose W and R
are weight layers like a Gemm's weight. For each case:
- the compiled object (linked with test/codegen/harness.c) equals nncc-run
  on the IR code generation received (--emit-ir), on random inputs and on
  inputs holding an Inf and a NaN (the floating-point contract: a sparse
  kernel owes the NaN a skipped zero weight gives);
- the compressed model written back (--emit-onnx) has the zeros the flags
  ask for in W and R, counted here with numpy: per-layer magnitude 0.9
  leaves exactly round(0.1 * n) non-zeros in each, --share=K at most K
  distinct values;
- --report lists NODE:W and NODE:R with the nnz counted here;
- with --print-stats, the kernel lines name them too (the cost model
  keeps these small layers' products dense at -O3: --sparse-kernel
  forces the table and unrolled kernels, which the same checks cover).

Run: /usr/bin/python3 test/e2e/rnn_compressed.py BUILD WORK_DIR
Prints one line per case and `N passed, N failed`; exits 1 on a failure.
"""
import os
import re
import sys
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "codegen"))
import run_compiled as rc  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5


class Head(nn.Module):
    """A batch-first recurrent layer, its last step into a Linear."""

    def __init__(self, rnn, out=4):
        super().__init__()
        self.rnn = rnn
        h = rnn.hidden_size * (2 if rnn.bidirectional else 1)
        self.fc = nn.Linear(h, out)

    def forward(self, x):
        return self.fc(self.rnn(x)[0][:, -1])


def models():
    torch.manual_seed(3)
    return [
        ("lstm", nn.LSTM(24, 48, batch_first=True), 6, 2),
        ("lstm_bidir", nn.LSTM(16, 32, batch_first=True,
                               bidirectional=True), 5, 1),
        ("gru", nn.GRU(24, 48, batch_first=True), 6, 2),
        ("gru_bidir", nn.GRU(16, 24, batch_first=True,
                             bidirectional=True), 5, 3),
        ("rnn", nn.RNN(24, 48, batch_first=True), 6, 2),
        ("rnn_relu", nn.RNN(16, 32, nonlinearity="relu", batch_first=True),
         5, 1),
    ]


FLAGS = {
    "prune0.5": ["-O3", "--prune=0.5", "--report", "--print-stats"],
    "prune0.9": ["-O3", "--prune=0.9:magnitude", "--report",
                 "--print-stats"],
    "share16": ["-O3", "--share=16", "--report"],
    "prune0.9-share16": ["-O3", "--prune=0.9:magnitude", "--share=16",
                         "--report", "--print-stats"],
    "table": ["-O3", "--prune=0.9:magnitude", "--sparse-kernel=table"],
    "unrolled": ["-O3", "--prune=0.5:magnitude",
                 "--sparse-kernel=unrolled"],
    "share-table": ["-O3", "--prune=0.5:magnitude", "--share=8",
                    "--sparse-kernel=table"],
    "Os": ["-Os", "--prune=0.9:magnitude", "--share=16"],
}


def export(name, rnn, T, B, wd):
    m = Head(rnn).eval()
    path = os.path.join(wd, name + ".onnx")
    with torch.no_grad():
        torch.onnx.export(m, (torch.randn(B, T, rnn.input_size),), path,
                          opset_version=14, input_names=["x"],
                          output_names=["y"])
    return path


def rnn_weights(path):
    """{"NODE:W": array, "NODE:R": array} of the model's recurrent
    layers, from the ONNX file."""
    m = onnx.load(path)
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Constant":
            init[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    out = {}
    for n in m.graph.node:
        if n.op_type in ("LSTM", "GRU", "RNN"):
            out[n.name + ":W"] = init[n.input[1]]
            out[n.name + ":R"] = init[n.input[2]]
    return out


ROW = re.compile(r"^(\S+)\s+(LSTM|GRU|RNN)\s+\S+\s+(\d+)\s+(\d+)\s+"
                 r"([0-9.]+)%\s+\d+\s+(\S+)\s*$", re.M)
KERNEL = re.compile(r"^nncc: kernel (\S+:[WR]) .*-> (\S+)", re.M)


def check_weights(flags, ws, report):
    if not ws:
        return "no recurrent weights in the emitted model"
    per_layer = "--prune=0.9:magnitude" in flags
    share = [int(f.split("=")[1]) for f in flags if f.startswith("--share")]
    rows = {m.group(1): m for m in ROW.finditer(report)}
    for name, w in ws.items():
        nnz = int(np.count_nonzero(w))
        if per_layer and nnz != w.size - round(0.9 * w.size):
            return "%s: %d of %d non-zero after magnitude 0.9" % (
                name, nnz, w.size)
        if "--prune=0.5" in flags and not 0.2 * w.size < w.size - nnz:
            return "%s: only %d of %d zero after --prune=0.5" % (
                name, w.size - nnz, w.size)
        if share and len(np.unique(w[w != 0])) > share[0]:
            return "%s: %d distinct non-zeros, --share=%d" % (
                name, len(np.unique(w[w != 0])), share[0])
        if "--report" not in flags:
            continue
        r = rows.get(name)
        if not r:
            return "the report has no row %s:\n%s" % (name, report)
        if int(r.group(3)) != w.size or int(r.group(4)) != nnz:
            return "report row %s: %s params %s nnz, the model %d %d" % (
                name, r.group(3), r.group(4), w.size, nnz)
    return None


def check_kernels(flags, ws, err):
    if "--print-stats" not in flags:
        return None
    ks = dict(KERNEL.findall(err))
    for name in ws:
        if name not in ks:
            return "--print-stats names no kernel for %s:\n%s" % (name,
                                                                  err)
    return None


def run_case(t, wd, model, flags):
    os.makedirs(wd, exist_ok=True)
    onx = os.path.join(wd, "c.onnx")
    opt = flags[0]
    code, out = rc.sh([t.nncc, model, opt, "-o", os.path.join(wd, "m.o"),
                       "-H", os.path.join(wd, "m.h"), "--emit-ir",
                       os.path.join(wd, "m.nnir"), "--name", "m",
                       "--emit-onnx", onx] + flags[1:])
    if code:
        return "nncc failed:\n" + out
    ws = rnn_weights(onx)
    msg = check_weights(flags, ws, out) or check_kernels(flags, ws, out)
    if msg:
        return msg
    exe = os.path.join(wd, "run")
    code, lk = rc.sh([rc.CC, "-O1", "-o", exe,
                      os.path.join(rc.HERE, "harness.c"),
                      os.path.join(wd, "m.o"), "-I" + wd, "-I" + t.rt_inc,
                      "-DMODEL=m", '-DHEADER="m.h"', t.rt, "-lm",
                      "-lpthread"])
    if code:
        return "link failed:\n" + lk
    ins = rc.random_inputs(os.path.join(wd, "m.h"), wd)
    x = np.load(ins[0])
    bad = x.copy()
    bad.flat[3] = np.inf
    bad.flat[x.size // 2 + 1] = np.nan
    np.save(os.path.join(wd, "bad.npy"), bad)
    for tag, inp in (("random", ins[0]), ("inf-nan",
                                          os.path.join(wd, "bad.npy"))):
        got, ref = os.path.join(wd, "got.npy"), os.path.join(wd, "ref.npy")
        code, o = rc.run_exe(exe, [inp], [got])
        if code:
            return "%s: harness exit %d\n%s" % (tag, code, o)
        code, o = rc.sh([t.nncc_run, os.path.join(wd, "m.nnir"), inp, "-o",
                         ref])
        if code:
            return "%s: nncc-run failed:\n%s" % (tag, o)
        msg = rc.close(np.load(got), np.load(ref), RTOL, ATOL)
        if msg:
            return "%s: compiled vs nncc-run on the emitted IR: %s" % (
                tag, msg)
    return None


def main():
    warnings.filterwarnings("ignore")  # the exporter's, on stderr
    build, work = sys.argv[1:3]
    t = rc.Tools(os.path.abspath(build))
    os.makedirs(work, exist_ok=True)
    failed = passed = 0
    for name, rnn, T, B in models():
        model = export(name, rnn, T, B, work)
        for fname, flags in FLAGS.items():
            case = "%s_%s" % (name, fname)
            err = run_case(t, os.path.join(work, case), model, flags)
            print("%s %s%s" % ("FAIL" if err else "ok", case,
                               ": " + err if err else ""))
            sys.stdout.flush()
            failed += bool(err)
            passed += not err
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
