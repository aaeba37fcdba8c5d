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
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_check as tc  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5


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


def main():
    torch.manual_seed(7)
    return tc.check(Block().eval(), torch.randn(1, 3, 16, 16), "blk", ["logits", "pool"], RTOL, ATOL)


if __name__ == "__main__":
    sys.exit(main())
