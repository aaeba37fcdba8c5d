#!/usr/bin/python3
"""Control flow from PyTorch's exporter: TorchScript modules whose `if`
and `for` become ONNX If and Loop, exported at opsets 11, 13 and 17 and
checked against PyTorch (float64) in the interpreter and compiled (-O3):
an If on the data and a Loop over a run-time count (both chosen at run
time), a loop over a shape's count (unrolled), an If inside a Loop on the
iteration number, an If on a shape (decided at import, its branches of
different shapes), and an LSTM inside an If's branch (as Silero VAD has).

usage: control_torch.py TOOLS_DIR WORK_DIR CC NNRT_INCLUDE NNRT_LIB"""
import copy
import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_check  # noqa: E402

torch.manual_seed(0)
warnings.filterwarnings("ignore")  # the exporter's notes on LSTM shapes


class IfLoop(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(4, 4)
        self.b = torch.nn.Linear(4, 4)

    def forward(self, x, n: int):
        if x.sum() > 0:
            y = self.a(x)
        else:
            y = self.b(x) * 2
        for i in range(n):
            y = torch.tanh(self.a(y)) + i
        return y


class ConstLoop(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(4, 4)

    def forward(self, x, n: int):
        y = x
        for i in range(x.size(1)):  # a count known at compile time
            y = y * 0.5 + self.a(y) * float(i)
        return y + n


class IfInLoop(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(4, 4)
        self.b = torch.nn.Linear(4, 4)

    def forward(self, x, n: int):
        y = x
        for i in range(n):
            if i % 2 == 0:
                y = torch.relu(self.a(y))
            else:
                y = torch.sigmoid(self.b(y)) - 0.5
        return y


class ShapeIf(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(4, 3)

    def forward(self, x, n: int):
        if x.size(0) == 1:  # a symbolic batch, bound to 1 at import
            y = self.a(x)
        else:
            y = x[:, :2]
        return y * n


class LstmIf(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(4, 5, batch_first=True)
        self.alt = torch.nn.Linear(4, 5)

    def forward(self, x, n: int):
        if x.mean() > -10.0:
            y, _ = self.rnn(x.unsqueeze(0))
            y = y.squeeze(0)
        else:
            y = self.alt(x)
        return y * float(n)


def main():
    wd = sys.argv[2]
    os.makedirs(wd, exist_ok=True)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 4)).astype(np.float32)
    xin, nin = os.path.join(wd, "x.npy"), os.path.join(wd, "n.npy")
    np.save(xin, x)
    np.save(nin, np.array(3, np.int64))
    status = 0
    for cls in (IfLoop, ConstLoop, IfInLoop, ShapeIf, LstmIf):
        for opset in (11, 13, 17):
            name = "%s_%d" % (cls.__name__.lower(), opset)
            eager = cls().eval()
            m = torch.jit.script(eager)
            path = os.path.join(wd, name + ".onnx")
            dyn = {"x": {0: "batch"}} if cls is ShapeIf else None
            torch.onnx.export(m, (torch.from_numpy(x), 3), path,
                              opset_version=opset, input_names=["x", "n"],
                              dynamic_axes=dyn)
            import onnx
            ops = sorted({n.op_type for n in onnx.load(path).graph.node
                          if n.op_type in ("If", "Loop")})
            print(name, "control:", " ".join(ops))
            with torch.no_grad():
                ref = copy.deepcopy(eager).double()
                exp = ref(torch.from_numpy(x).double(), 3).numpy()
            ok = torch_check.run_both(path, [xin, nin], [exp], name, 1e-4,
                                      1e-5, label=name + " ")
            status |= 0 if ok else 1
    return status


if __name__ == "__main__":
    sys.exit(main())
