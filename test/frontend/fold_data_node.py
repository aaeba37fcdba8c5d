#!/usr/bin/python3
"""The ONNX backend node cases of NonZero and Unique with their input made
an initializer: nncc evaluates them at import (frontend/fold_data.c), and
nncc-run must then give the cases' expected outputs. Prints one line per
case and `N passed, N failed`."""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "onnx-node"))
import run as onnxnode  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return t


def check(nncc_run, case_dir, wd):
    ds = os.path.join(case_dir, "test_data_set_0")
    m = onnx.load(os.path.join(case_dir, "model.onnx"))
    for j, i in enumerate(m.graph.input):
        t = load_pb(os.path.join(ds, "input_%d.pb" % j))
        t.name = i.name
        m.graph.initializer.append(t)
    del m.graph.input[:]
    model = os.path.join(wd, "m.onnx")
    onnx.save(m, model)
    exp = []
    for k in range(len(m.graph.output)):
        e = os.path.join(wd, "e%d.npy" % k)
        np.save(e, numpy_helper.to_array(
            load_pb(os.path.join(ds, "output_%d.pb" % k))))
        exp.append(e)
    p = subprocess.run([nncc_run, model, "--expect"] + exp,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    return None if p.returncode == 0 else p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    a = ap.parse_args()
    node_dir = onnxnode.generate(os.path.abspath(a.build))
    nncc_run = os.path.join(a.build, "tools", "nncc-run")
    cases = [c for c in sorted(os.listdir(node_dir))
             if c.startswith("test_nonzero") or c.startswith("test_unique")]
    failed = 0
    for c in cases:
        with tempfile.TemporaryDirectory() as wd:
            err = check(nncc_run, os.path.join(node_dir, c), wd)
        print("%s %s" % ("FAIL" if err else "ok", c))
        if err:
            print(err.rstrip())
            failed += 1
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed or not cases else 0


if __name__ == "__main__":
    sys.exit(main())
