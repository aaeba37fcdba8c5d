#!/usr/bin/python3
"""A streaming model shaped like Silero VAD, from TorchScript: an audio
chunk, the LSTM state and the sample rate in; a probability and the new
state out; the front end an `if` on the sample rate whose branches give
different shapes (so only a frozen rate compiles). Compiled once with
`--input-value sr=16000` (the If inlined) at -O3, it must give PyTorch's
(float64) outputs chunk after chunk with the state fed back, as must the
interpreter (nncc-run, the rate frozen the same way).

usage: stream_torch.py TOOLS_DIR WORK_DIR CC NNRT_INCLUDE NNRT_LIB"""
import os
import subprocess
import sys
import warnings

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
warnings.filterwarnings("ignore")  # the exporter's notes on LSTM shapes
torch.manual_seed(0)


class VadLike(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fe16 = torch.nn.Conv1d(1, 8, 32, stride=16)
        self.fe8 = torch.nn.Conv1d(1, 8, 16, stride=4)
        self.rnn = torch.nn.LSTM(8, 16)
        self.head = torch.nn.Linear(16, 1)

    def forward(self, x, state, sr: int):
        if sr == 16000:
            f = torch.relu(self.fe16(x.unsqueeze(1)))
        else:
            f = torch.relu(self.fe8(x[:, ::2].unsqueeze(1)))
        y, (h, c) = self.rnn(f.permute(2, 0, 1), (state[0:1], state[1:2]))
        p = torch.sigmoid(self.head(y[-1]))
        return p, torch.cat([h, c], 0)


def sh(args):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if r.returncode:
        sys.exit("%s failed:\n%s" % (args[0], r.stdout))
    return r.stdout


def main():
    tools, wd, cc, rt_inc, rt_lib = sys.argv[1:6]
    os.makedirs(wd, exist_ok=True)
    m = VadLike().eval()
    path = os.path.join(wd, "vad.onnx")
    x0, s0 = torch.zeros(1, 512), torch.zeros(2, 1, 16)
    torch.onnx.export(torch.jit.script(m), (x0, s0, 16000), path,
                      opset_version=13, input_names=["x", "state", "sr"],
                      output_names=["p", "stateN"])
    import onnx
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    print("top-level ops:", " ".join(ops))
    obj, hdr = os.path.join(wd, "vad.o"), os.path.join(wd, "vad.h")
    r = subprocess.run([os.path.join(tools, "nncc"), path, "-o", obj],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    print("without the rate: exit %d" % r.returncode)
    print(r.stdout.strip().splitlines()[-1])
    sh([os.path.join(tools, "nncc"), path, "-O3", "--input-value",
        "sr=16000", "-o", obj, "-H", hdr, "--name", "vad"])
    exe = os.path.join(wd, "vad_run")
    sh([cc, "-O1", "-o", exe, os.path.join(HERE, "..", "codegen",
                                           "harness.c"), obj, "-I" + wd,
        "-I" + rt_inc, "-DMODEL=vad", '-DHEADER="vad.h"', rt_lib, "-lm",
        "-lpthread"])
    rng = np.random.default_rng(3)
    ref = m.double()
    s_obj = s_int = np.zeros((2, 1, 16), np.float32)
    s_ref = torch.zeros(2, 1, 16, dtype=torch.float64)
    worst = [0.0, 0.0, 0.0, 0.0]
    chunks = 12
    for k in range(chunks):
        t = np.arange(512) / 16000.0 + k * 512 / 16000.0
        x = (0.4 * np.sin(2 * np.pi * (150 + 20 * k) * t) * (k % 3 != 0) +
             0.05 * rng.standard_normal(512)).astype(np.float32)[None]
        xin, sin_ = os.path.join(wd, "x.npy"), os.path.join(wd, "s.npy")
        np.save(xin, x)
        np.save(sin_, s_obj)
        po, so = os.path.join(wd, "p.npy"), os.path.join(wd, "sn.npy")
        sh([exe, xin, sin_, "-o", po, "-o", so])
        p_obj, s_obj = np.load(po), np.load(so)
        np.save(sin_, s_int)
        pi, si = os.path.join(wd, "pi.npy"), os.path.join(wd, "si.npy")
        sh([os.path.join(tools, "nncc-run"), path, xin, sin_,
            "--input-value", "sr=16000", "-o", pi, "-o", si])
        p_int, s_int = np.load(pi), np.load(si)
        with torch.no_grad():
            p_ref, s_ref = ref(torch.from_numpy(x).double(), s_ref, 16000)
        for i, (a, b) in enumerate([(p_obj, p_ref), (s_obj, s_ref),
                                    (p_int, p_ref), (s_int, s_ref)]):
            worst[i] = max(worst[i], float(np.max(np.abs(
                a - b.numpy().reshape(a.shape)))))
    tol = 1e-4
    for name, w in zip(["compiled probability", "compiled state",
                        "interpreter probability", "interpreter state"],
                       worst):
        print("%s over %d chunks: %s" % (name, chunks,
                                         "ok" if w <= tol else
                                         "FAIL (max diff %.3g)" % w))
    return 0 if max(worst) <= tol else 1


if __name__ == "__main__":
    sys.exit(main())
