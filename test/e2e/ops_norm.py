#!/usr/bin/python3
"""A small CNN exported from PyTorch at test time with nn.InstanceNorm2d
(affine and not), nn.GroupNorm (exported as Reshape +
InstanceNormalization + Reshape + Mul + Add) and torch.einsum (a channel
mixing, a batched product, a diagonal and a sum) and torch.cumsum
(forward and reversed through flip), checked against
PyTorch run in float64: by the interpreter (nncc-run --expect) and
compiled (nncc -O3, linked with test/codegen/harness.c), within 1e-4.

Run: /usr/bin/python3 test/e2e/ops_norm.py TOOLS_DIR WORK_DIR CC
         NNRT_INCLUDE NNRT_LIB
Prints the ONNX op set used, then one line per check; exits 1 on failure.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_check as tc  # noqa: E402

RTOL, ATOL = 1e-4, 1e-4


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
        c = h.cumsum(1) + h.flip(2).cumsum(2).flip(2)
        return torch.einsum("bij->bj", s.softmax(-1)) + d, c


def main():
    torch.manual_seed(7)
    return tc.check(Net().eval(), torch.randn(2, 3, 6, 6), "nrm", ["y", "h"], RTOL, ATOL)


if __name__ == "__main__":
    sys.exit(main())
