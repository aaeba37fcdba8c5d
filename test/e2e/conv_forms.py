#!/usr/bin/python3
"""The convolution forms that reach the fast kernels besides plain 2-D
ones, exported from PyTorch at test time and checked against PyTorch in
float64, by the interpreter and compiled with -O3 (torch_check.py):

- conv1d: audio-like Conv1d layers (kernel 3/5, stride 1/2, dilation
  1/2/4, groups 1 and depthwise, a 1x1, batch 2), a long 64-channel row
  whose im2col goes in column bands, and a ConvTranspose1d;
- dilated: ASPP-like Conv2d at dilation 2/6/12 with padding = dilation
  on 33x33 (the taps that read only padding are left out at 12), wide
  ones whose im2col bands leave a last, shorter band or start above the
  first row a tap reads, a dilated depthwise;
- dw2: stride-2 depthwise 3x3 and 5x5 on odd and even sizes, with a
  channel multiplier;
- conv3d: Conv3d 3x3x3, 1x3x3, 1x1x1, strided and dilated, depthwise.

Then, with --prune=0.9, the conv1d model compiled (sparse kernels for its
1-D layers, which --print-stats must show) against the interpreter on the
pruned IR nncc wrote (--emit-ir).

Run: /usr/bin/python3 test/e2e/conv_forms.py TOOLS_DIR WORK_DIR CC
         NNRT_INCLUDE NNRT_LIB
Prints one line per check; exits 1 on failure.
"""
import os
import re
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_check as tc  # noqa: E402

RTOL, ATOL = 1e-4, 1e-4


class Conv1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(4, 16, 5, padding=2)
        self.b = nn.Conv1d(16, 16, 3, padding=2, dilation=2)
        self.c = nn.Conv1d(16, 16, 3, padding=4, dilation=4)
        self.d = nn.Conv1d(16, 16, 3, padding=2, dilation=2, groups=16)
        self.e = nn.Conv1d(16, 24, 5, stride=2, padding=2)
        self.f = nn.Conv1d(24, 24, 3, stride=2, padding=1, groups=24)
        self.g = nn.Conv1d(24, 8, 1)
        self.t = nn.ConvTranspose1d(8, 4, 4, stride=2, padding=1)

    def forward(self, x):
        h = torch.relu(self.a(x))
        h = torch.relu(self.b(h)) + self.c(h)
        h = torch.relu(self.d(h))
        h = torch.relu(self.f(self.e(h)))
        return (self.t(self.g(h)),)


class LongRow(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(64, 16, 5, padding=2)

    def forward(self, x):
        return (self.a(x),)


class Dilated(nn.Module):
    def __init__(self):
        super().__init__()
        self.b = nn.ModuleList([nn.Conv2d(8, 6, 3, padding=d, dilation=d)
                                for d in (2, 6, 12)])
        self.wide = nn.Conv2d(8, 64, 1)
        self.w12 = nn.Conv2d(64, 8, 3, padding=12, dilation=12)
        self.dw = nn.Conv2d(8, 8, 3, padding=12, dilation=12, groups=8)
        self.wide2 = nn.Conv2d(8, 128, 1)
        self.w6 = nn.Conv2d(128, 8, 3, padding=6, dilation=6)

    def forward(self, x):
        y = torch.cat([torch.relu(b(x)) for b in self.b], 1)
        z = self.w12(torch.relu(self.wide(x))) + self.dw(x)
        return y, z + self.w6(torch.relu(self.wide2(x)))


class Dw2(nn.Module):
    def __init__(self, c=16):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, stride=2, padding=1, groups=c)
        self.b = nn.Conv2d(c, 2 * c, 5, stride=2, padding=2, groups=c)
        self.c = nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1,
                           groups=2 * c)

    def forward(self, x):
        return (self.c(torch.relu(self.b(torch.relu(self.a(x))))),)


class Conv3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv3d(3, 8, 3, padding=1)
        self.b = nn.Conv3d(8, 8, (1, 3, 3), padding=(0, 1, 1))
        self.c = nn.Conv3d(8, 8, 1)
        self.d = nn.Conv3d(8, 6, 3, stride=2, padding=2, dilation=2)
        self.e = nn.Conv3d(6, 6, 3, padding=1, groups=6)

    def forward(self, x):
        h = torch.relu(self.a(x))
        h = torch.relu(self.c(torch.relu(self.b(h)))) + h
        return (self.e(torch.relu(self.d(h))),)


def pruned(wd):
    """Conv1d at --prune=0.9: the object against the interpreter on the
    IR it was compiled from; True if both agree and a sparse kernel was
    chosen for a 1-D layer."""
    tools = sys.argv[1]
    onnx_path = os.path.join(wd, "c1.onnx")
    ir = os.path.join(wd, "c1p.nnir")
    ref = os.path.join(wd, "c1p_ref.npy")
    x = os.path.join(wd, "x.npy")
    rc, out = tc.sh([os.path.join(tools, "nncc"), onnx_path, "-O3",
                     "--prune=0.9", "--print-stats", "--emit-ir", ir, "-o",
                     os.path.join(wd, "c1p_probe.o")])
    sparse = re.findall(r"kernel (\S+) .* -> (table|unrolled)", out)
    print("pruned kernels:", "sparse" if rc == 0 and sparse else
          "FAIL\n" + out)
    rc2, out2 = tc.sh([os.path.join(tools, "nncc-run"), ir, x, "-o", ref])
    if rc2 != 0:
        print(out2)
        return False
    ok = tc.run_both(ir, [x], [np.load(ref)], "c1p", RTOL, ATOL,
                     label="pruned ")
    return ok and rc == 0 and bool(sparse)


def main():
    wd = sys.argv[2]
    torch.manual_seed(3)
    fails = 0
    cases = [("c1", Conv1d(), torch.randn(2, 4, 150)),
             ("long", LongRow(), torch.randn(1, 64, 1200)),
             ("dil", Dilated(), torch.randn(1, 8, 33, 33)),
             ("dw2", Dw2(), torch.randn(1, 16, 57, 57)),
             ("dw2e", Dw2(), torch.randn(1, 16, 56, 56)),
             ("c3", Conv3d(), torch.randn(1, 3, 7, 10, 9))]
    for name, m, x in cases:
        m = m.eval()
        outs = ["y", "z"] if name == "dil" else ["y"]
        print("==", name)
        fails += tc.check(m, x, name, outs, RTOL, ATOL) != 0
        if name == "c1":
            fails += not pruned(wd)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
