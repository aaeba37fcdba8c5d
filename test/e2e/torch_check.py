"""The check behind the e2e PyTorch op tests (ops_norm.py,
ops_transformer.py): export a module at test time, run it in float64 as
the reference, and compare nncc-run (--expect) and the object compiled
with nncc -O3 and linked with test/codegen/harness.c with it.

check(module, x, name, outputs, rtol, atol) reads TOOLS_DIR WORK_DIR CC
NNRT_INCLUDE NNRT_LIB from sys.argv[1:6]; prints the ONNX op set, then one
line per check; returns the exit status (1 on any failure)."""
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def sh(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    return p.returncode, p.stdout


def check(m, x, name, outputs, rtol, atol, opset=13):
    tools, wd, cc, rt_inc, rt_lib = sys.argv[1:6]
    os.makedirs(wd, exist_ok=True)
    onnx_path = os.path.join(wd, name + ".onnx")
    torch.onnx.export(m, (x,), onnx_path, opset_version=opset,
                      input_names=["x"], output_names=outputs)
    import onnx
    ops = sorted({n.op_type for n in onnx.load(onnx_path).graph.node})
    print("ops:", " ".join(ops))
    with torch.no_grad():
        exp = [e.numpy() for e in m.double()(x.double())]
    xin = os.path.join(wd, "x.npy")
    np.save(xin, x.numpy())
    args = [os.path.join(tools, "nncc-run"), onnx_path, xin]
    for i, e in enumerate(exp):
        args += ["--expect", os.path.join(wd, "y%d.npy" % i)]
        np.save(args[-1], e.astype(np.float32))
    rc, out = sh(args + ["--rtol", str(rtol), "--atol", str(atol)])
    print("interpreter:", "ok" if rc == 0 else "FAIL\n" + out)
    ok = rc == 0
    obj, hdr = os.path.join(wd, name + ".o"), os.path.join(wd, name + ".h")
    exe = os.path.join(wd, name + "_run")
    rc, out = sh([os.path.join(tools, "nncc"), onnx_path, "-O3", "-o", obj,
                  "-H", hdr, "--name", name])
    if rc == 0:
        rc, out = sh([cc, "-O1", "-o", exe,
                      os.path.join(HERE, "..", "codegen", "harness.c"), obj,
                      "-I" + wd, "-I" + rt_inc, "-DMODEL=" + name,
                      '-DHEADER="%s.h"' % name, rt_lib, "-lm", "-lpthread"])
    outs = [os.path.join(wd, "got%d.npy" % i) for i in range(len(exp))]
    if rc == 0:
        rc, out = sh([exe, xin] + sum([["-o", o] for o in outs], []))
    good = rc == 0 and all(
        np.allclose(np.load(o).reshape(e.shape), e, rtol=rtol, atol=atol)
        for o, e in zip(outs, exp))
    print("compiled:", "ok" if good else "FAIL\n" + out)
    return 0 if ok and good else 1
