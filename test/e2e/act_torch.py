#!/usr/bin/python3
"""An EfficientNet-like block exported from PyTorch at test time: Conv +
BatchNorm + SiLU, a depthwise Conv + SiLU, squeeze-and-excitation
(Sigmoid gate), then a head of Linear + GELU (erf) and Linear + GELU
(tanh form) and HardSwish. Checks that -O3 fuses the SiLU and GELU
chains into their Conv/Gemm (nncc.Silu / nncc.Gelu / nncc.GeluTanh
activations in --emit-ir), then the interpreter and the object compiled with -O3 against
PyTorch in float64, within 1e-4.

Run: /usr/bin/python3 test/e2e/act_torch.py TOOLS_DIR WORK_DIR CC
         NNRT_INCLUDE NNRT_LIB
"""
import os
import subprocess
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_check as tc  # noqa: E402

RTOL, ATOL = 1e-4, 1e-4


class Block(nn.Module):
    def __init__(self, c=16):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.se1 = nn.Conv2d(c, 4, 1)
        self.se2 = nn.Conv2d(4, c, 1)
        self.proj = nn.Conv2d(c, 8, 1)
        self.fc1 = nn.Linear(8 * 8 * 8, 32)
        self.fc2 = nn.Linear(32, 16)
        self.fc3 = nn.Linear(16, 10)

    def forward(self, x):
        y = nn.functional.silu(self.bn(self.stem(x)))
        y = nn.functional.silu(self.dw(y))
        s = y.mean((2, 3), keepdim=True)
        s = torch.sigmoid(self.se2(nn.functional.silu(self.se1(s))))
        y = self.proj(y * s)
        h = nn.functional.gelu(self.fc1(y.flatten(1)))
        h = nn.functional.gelu(self.fc2(h), approximate="tanh")
        return (nn.functional.hardswish(self.fc3(h)),)


def main():
    tools, wd = sys.argv[1:3]
    torch.manual_seed(0)
    m = Block().eval()
    with torch.no_grad():  # a BatchNorm that is not the identity
        m.bn.running_mean.uniform_(-0.5, 0.5)
        m.bn.running_var.uniform_(0.5, 2)
    x = torch.randn(1, 3, 8, 8)
    rc = tc.check(m, x, "act", ["y"], RTOL, ATOL, opset=14)
    ir = os.path.join(wd, "act.nnir")
    subprocess.run([os.path.join(tools, "nncc"), os.path.join(wd, "act.onnx"),
                    "-O3", "--emit-ir", ir, "-o", os.path.join(wd, "a.o")],
                   check=True)
    text = open(ir).read()
    print("fused silu:", text.count('activation="nncc.Silu"'),
          "gelu:", text.count('activation="nncc.Gelu"'),
          "gelu_tanh:", text.count('activation="nncc.GeluTanh"'),
          "hardswish:", text.count('activation="HardSwish"'))
    return rc


if __name__ == "__main__":
    sys.exit(main())
