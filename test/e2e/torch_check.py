"""The check behind the e2e PyTorch op tests (ops_norm.py,
ops_transformer.py): export a module at test time, run it in float64 as
the reference, and compare nncc-run (--expect) and the object compiled
with nncc -O3 and linked with test/codegen/harness.c with it.

check(module, x, name, outputs, rtol, atol) reads TOOLS_DIR WORK_DIR CC
NNRT_INCLUDE NNRT_LIB from sys.argv[1:6]; prints the ONNX op set, then one
line per check; returns the exit status (1 on any failure). run_both is
its second half, for a model built by hand (sample_torch.py)."""
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


def run_both(path, ins, exp, name, rtol, atol, opt="-O3", label=""):
    """Checks the ONNX model at path on the .npy inputs ins against the
    arrays exp: nncc-run --expect, then nncc OPT linked with the harness.
    Prints LABEL"interpreter:" and LABEL"compiled:" lines; True if both
    agree within rtol/atol. Tools and folders from sys.argv[1:6]."""
    tools, wd, cc, rt_inc, rt_lib = sys.argv[1:6]
    args = [os.path.join(tools, "nncc-run"), path] + ins
    for i, e in enumerate(exp):
        args += ["--expect", os.path.join(wd, "%s_exp%d.npy" % (name, i))]
        np.save(args[-1], np.asarray(e, np.float32))
    rc, out = sh(args + ["--rtol", str(rtol), "--atol", str(atol)])
    print(label + "interpreter:", "ok" if rc == 0 else "FAIL\n" + out)
    ok = rc == 0
    obj, hdr = os.path.join(wd, name + ".o"), os.path.join(wd, name + ".h")
    exe = os.path.join(wd, name + "_run")
    rc, out = sh([os.path.join(tools, "nncc"), path, opt, "-o", obj,
                  "-H", hdr, "--name", name])
    if rc == 0:
        rc, out = sh([cc, "-O1", "-o", exe,
                      os.path.join(HERE, "..", "codegen", "harness.c"), obj,
                      "-I" + wd, "-I" + rt_inc, "-DMODEL=" + name,
                      '-DHEADER="%s.h"' % name, rt_lib, "-lm", "-lpthread"])
    outs = [os.path.join(wd, "%s_got%d.npy" % (name, i))
            for i in range(len(exp))]
    if rc == 0:
        rc, out = sh([exe] + ins + sum([["-o", o] for o in outs], []))
    bad = [str(i) for i, (o, e) in enumerate(zip(outs, exp))
           if rc != 0 or not np.allclose(np.load(o).reshape(np.shape(e)), e,
                                         rtol=rtol, atol=atol)]
    print(label + "compiled:", "ok" if not bad else
          "FAIL outputs %s\n%s" % (" ".join(bad), out))
    return ok and not bad


def check(m, x, name, outputs, rtol, atol, opset=13):
    """Exports m on x, runs it in float64 as the reference, and
    run_both; the exit status."""
    wd = sys.argv[2]
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
    return 0 if run_both(onnx_path, [xin], exp, name, rtol, atol) else 1
