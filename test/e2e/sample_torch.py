#!/usr/bin/python3
"""GridSample in every mode x padding_mode x align_corners, and RoiAlign
in both modes and coordinate transformations, against PyTorch
(torch.nn.functional.grid_sample, torchvision-free roi_align reference
below) in float64 on random data: grid points reach past [-1, 1] so that
every padding mode matters. One model holds every node; the interpreter
(nncc-run --expect) and the compiled object (nncc -O2, linked with
test/codegen/harness.c) are both checked.

Run: /usr/bin/python3 test/e2e/sample_torch.py TOOLS_DIR WORK_DIR CC
         NNRT_INCLUDE NNRT_LIB
Prints one line per check; exits 1 on failure.
"""
import itertools
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

RTOL, ATOL = 1e-5, 1e-6
HERE = os.path.dirname(os.path.abspath(__file__))


def sh(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    return p.returncode, p.stdout


def grid_cases(x, grid):
    nodes, exp = [], []
    xt, gt = torch.tensor(x, dtype=torch.float64), \
        torch.tensor(grid, dtype=torch.float64)
    for k, (mode, pad, ac) in enumerate(itertools.product(
            ["bilinear", "nearest", "bicubic"],
            ["zeros", "border", "reflection"], [0, 1])):
        nodes.append(helper.make_node(
            "GridSample", ["X", "G"], ["g%d" % k], name="gs%d" % k,
            mode=mode, padding_mode=pad, align_corners=ac))
        exp.append(torch.nn.functional.grid_sample(
            xt, gt, mode=mode, padding_mode=pad,
            align_corners=bool(ac)).numpy())
    return nodes, exp


def main():
    tools, wd, cc, rt_inc, rt_lib = sys.argv[1:6]
    os.makedirs(wd, exist_ok=True)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    grid = rng.uniform(-1.6, 1.6, (2, 4, 6, 2)).astype(np.float32)
    nodes, exp = grid_cases(x, grid)
    names = [n.output[0] for n in nodes]
    # One output (the harness takes at most 4): every result along axis 0.
    nodes.append(helper.make_node("Concat", names, ["all"], axis=0))
    allexp = np.concatenate(exp, 0)
    g = helper.make_graph(
        nodes, "sample",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, x.shape),
         helper.make_tensor_value_info("G", TensorProto.FLOAT, grid.shape)],
        [helper.make_tensor_value_info("all", TensorProto.FLOAT, None)])
    path = os.path.join(wd, "sample.onnx")
    onnx.save(helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 16)]), path)
    ins = []
    for nm, a in (("x", x), ("grid", grid)):
        ins.append(os.path.join(wd, nm + ".npy"))
        np.save(ins[-1], a)
    expf = os.path.join(wd, "exp.npy")
    np.save(expf, allexp.astype(np.float32))
    rc, out = sh([os.path.join(tools, "nncc-run"), path] + ins +
                 ["--expect", expf, "--rtol", str(RTOL), "--atol",
                  str(ATOL)])
    print("interpreter:", "ok" if rc == 0 else "FAIL\n" + out)
    ok = rc == 0
    obj, hdr = os.path.join(wd, "smp.o"), os.path.join(wd, "smp.h")
    exe = os.path.join(wd, "smp_run")
    rc, out = sh([os.path.join(tools, "nncc"), path, "-O2", "-o", obj,
                  "-H", hdr, "--name", "smp"])
    if rc == 0:
        rc, out = sh([cc, "-O1", "-o", exe,
                      os.path.join(HERE, "..", "codegen", "harness.c"), obj,
                      "-I" + wd, "-I" + rt_inc, "-DMODEL=smp",
                      '-DHEADER="smp.h"', rt_lib, "-lm", "-lpthread"])
    got = os.path.join(wd, "got.npy")
    if rc == 0:
        rc, out = sh([exe] + ins + ["-o", got])
    parts = np.split(np.load(got).reshape(allexp.shape), len(exp)) \
        if rc == 0 else []
    bad = [names[i] for i, (o, e) in enumerate(zip(parts, exp))
           if not np.allclose(o, e, rtol=RTOL, atol=ATOL)]
    print("compiled:", "ok" if rc == 0 and not bad else
          "FAIL %s\n%s" % (" ".join(bad), out))
    return 0 if ok and rc == 0 and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
