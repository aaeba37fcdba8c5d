#!/usr/bin/python3
"""A small CNN exported from PyTorch at test time with nn.InstanceNorm2d
(affine and not), nn.GroupNorm (exported as Reshape +
InstanceNormalization + Reshape + Mul + Add) and torch.einsum (a channel
mixing, a batched product, a diagonal and a sum), checked against
PyTorch run in float64: by the interpreter (nncc-run --expect) and
compiled (nncc -O3, linked with test/codegen/harness.c), within 1e-4.
torch.cumsum is left out: CumSum is not an op of this branch.

Run: /usr/bin/python3 test/e2e/ops_norm.py TOOLS_DIR WORK_DIR CC
         NNRT_INCLUDE NNRT_LIB
Prints the ONNX op set used, then one line per check; exits 1 on failure.
"""
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

RTOL, ATOL = 1e-4, 1e-4
HERE = os.path.dirname(os.path.abspath(__file__))


class Net(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.conv1 = nn.Conv2d(3, c, 3, padding=1)
        self.in1 = nn.InstanceNorm2d(c, affine=True)
        self.in2 = nn.InstanceNorm2d(c)
        self.gn = nn.GroupNorm(2, c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.mix = nn.Parameter(torch.randn(c, c) / c ** 0.5)
        self.q = nn.Linear(c, c)

    def forward(self, x):
        h = torch.relu(self.in1(self.conv1(x)))
        h = self.gn(self.conv2(h)) + self.in2(h)
        h = torch.einsum("nchw,dc->ndhw", h, self.mix)
        t = h.flatten(2).transpose(1, 2)
        q = self.q(t)
        s = torch.einsum("bik,bjk->bij", q, t)
        d = torch.einsum("bii->bi", s)
        return torch.einsum("bij->bj", s.softmax(-1)) + d, h


def sh(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    return p.returncode, p.stdout


def close(got, exp):
    return np.allclose(got, exp, rtol=RTOL, atol=ATOL)


def main():
    tools, wd, cc, rt_inc, rt_lib = sys.argv[1:6]
    os.makedirs(wd, exist_ok=True)
    torch.manual_seed(7)
    m = Net().eval()
    x = torch.randn(2, 3, 6, 6)
    onnx_path = os.path.join(wd, "norm.onnx")
    torch.onnx.export(m, (x,), onnx_path, opset_version=13,
                      input_names=["x"], output_names=["y", "h"])
    import onnx
    ops = sorted({n.op_type for n in onnx.load(onnx_path).graph.node})
    print("ops:", " ".join(ops))
    with torch.no_grad():
        exp = [e.numpy() for e in m.double()(x.double())]
    xin = os.path.join(wd, "x.npy")
    np.save(xin, x.numpy())
    expf = []
    for i, e in enumerate(exp):
        expf.append(os.path.join(wd, "y%d.npy" % i))
        np.save(expf[-1], e.astype(np.float32))
    args = [os.path.join(tools, "nncc-run"), onnx_path, xin]
    for e in expf:
        args += ["--expect", e]
    rc, out = sh(args + ["--rtol", str(RTOL), "--atol", str(ATOL)])
    print("interpreter:", "ok" if rc == 0 else "FAIL\n" + out)
    ok = rc == 0
    obj, hdr = os.path.join(wd, "nrm.o"), os.path.join(wd, "nrm.h")
    exe = os.path.join(wd, "nrm_run")
    rc, out = sh([os.path.join(tools, "nncc"), onnx_path, "-O3", "-o", obj,
                  "-H", hdr, "--name", "nrm"])
    if rc == 0:
        rc, out = sh([cc, "-O1", "-o", exe,
                      os.path.join(HERE, "..", "codegen", "harness.c"), obj,
                      "-I" + wd, "-I" + rt_inc, "-DMODEL=nrm",
                      '-DHEADER="nrm.h"', rt_lib, "-lm", "-lpthread"])
    outs = [os.path.join(wd, "got%d.npy" % i) for i in range(len(exp))]
    if rc == 0:
        rc, out = sh([exe, xin] + sum([["-o", o] for o in outs], []))
    good = rc == 0 and all(close(np.load(o).reshape(e.shape), e)
                           for o, e in zip(outs, exp))
    print("compiled:", "ok" if good else "FAIL\n" + out)
    return 0 if ok and good else 1


if __name__ == "__main__":
    sys.exit(main())
