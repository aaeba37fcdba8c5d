#!/usr/bin/python3
"""A small ViT-like block exported from PyTorch at test time (Conv patch
embedding, class token, LayerNorm, MatMul attention with a data-dependent
Where/Expand mask, Softmax, erf GELU, Equal/Greater/Or/Not/Mod index logic), checked
against PyTorch run in float64: by the interpreter (nncc-run --expect) and
compiled (nncc -O3, linked with test/codegen/harness.c).

Run: /usr/bin/python3 test/e2e/ops_transformer.py TOOLS_DIR WORK_DIR CC
         NNRT_INCLUDE NNRT_LIB
Prints the ONNX op set used, then one line per check; exits 1 on failure.
"""
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

RTOL, ATOL = 1e-4, 1e-5
HERE = os.path.dirname(os.path.abspath(__file__))


class Block(nn.Module):
    def __init__(self, dim=16, heads=2, patch=4):
        super().__init__()
        self.heads, self.patch = heads, patch
        self.embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.randn(1, 1, dim))
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc1, self.fc2 = nn.Linear(dim, 2 * dim), nn.Linear(2 * dim, dim)
        self.act = nn.GELU()  # erf form
        self.head = nn.Linear(dim, 5)

    def forward(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)
        b, n, d = t.shape
        t = torch.cat([self.cls.expand(b, -1, -1), t], dim=1)
        # Keys whose token sum is negative are masked (data-dependent),
        # the class token (position 0) never: Greater, Equal, Not, Mod.
        pos = torch.arange(n + 1)
        keep = (t.sum(-1) > 0) | (pos == 0) | ~(pos % 3 != 1)
        h = self.ln1(t)
        q, k, v = self.qkv(h).reshape(b, n + 1, 3, self.heads,
                                      d // self.heads).permute(2, 0, 3, 1, 4)
        s = q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5
        m = keep[:, None, None, :].expand(b, self.heads, n + 1, n + 1)
        s = torch.where(m, s, torch.full_like(s, -1e4))
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, n + 1, d)
        t = t + self.proj(a)
        t = t + self.fc2(self.act(self.fc1(self.ln2(t))))
        return self.head(t[:, 0]), t.amax(1)


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
    m = Block().eval()
    x = torch.randn(1, 3, 16, 16)
    onnx_path = os.path.join(wd, "block.onnx")
    torch.onnx.export(m, (x,), onnx_path, opset_version=13,
                      input_names=["x"], output_names=["logits", "pool"])
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
    obj, hdr = os.path.join(wd, "blk.o"), os.path.join(wd, "blk.h")
    exe = os.path.join(wd, "blk_run")
    rc, out = sh([os.path.join(tools, "nncc"), onnx_path, "-O3", "-o", obj,
                  "-H", hdr, "--name", "blk"])
    if rc == 0:
        rc, out = sh([cc, "-O1", "-o", exe,
                      os.path.join(HERE, "..", "codegen", "harness.c"), obj,
                      "-I" + wd, "-I" + rt_inc, "-DMODEL=blk",
                      '-DHEADER="blk.h"', rt_lib, "-lm", "-lpthread"])
    outs = [os.path.join(wd, "got%d.npy" % i) for i in range(len(exp))]
    if rc == 0:
        rc, out = sh([exe, xin] + sum([["-o", o] for o in outs], []))
    good = rc == 0 and all(close(np.load(o).reshape(e.shape), e)
                           for o, e in zip(outs, exp))
    print("compiled:", "ok" if good else "FAIL\n" + out)
    return 0 if ok and good else 1


if __name__ == "__main__":
    sys.exit(main())
