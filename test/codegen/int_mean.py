#!/usr/bin/python3
"""Integer ReduceMean, compiled at -O0, -O3 and -Os and interpreted, against
numpy: each mean is the 64-bit sum of the elements (unsigned for unsigned
types) divided by their count, truncated toward zero. The inputs' sums
overflow their element types (the object used to sum u8 in 8 bits and
divide signed). Prints failures, then `N passed, N failed`.
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_compiled as rc  # noqa: E402  (Tools, build_model, close, sh)

MODEL = os.path.join(HERE, "Inputs", "int_mean.nnir")
INPUTS = [
    (np.array([[200, 250, 100, 50], [255, 255, 255, 1]], np.uint8), 1),
    (np.array([[-100, -100, -100, -1], [127, 127, 127, 126]], np.int8), 1),
    (np.array([[65535, 1], [65535, 2], [65534, 65535]], np.uint16), 0),
    (np.array([[2**31 - 1, 2**31 - 1, 1], [-2**31, -2**31, -7]], np.int32),
     1),
]


def expected(a, axis):
    s = a.astype(np.int64).sum(axis=axis)
    n = a.shape[axis]
    q = np.abs(s) // n * np.sign(s)  # truncation toward zero
    return q.astype(a.dtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    t = rc.Tools(ap.parse_args().build)
    wd = tempfile.mkdtemp(prefix="intmean-")
    passed = failed = 0
    try:
        ins = []
        for k, (a, _) in enumerate(INPUTS):
            ins.append(os.path.join(wd, "in%d.npy" % k))
            np.save(ins[-1], a)
        exps = [expected(a, ax) for a, ax in INPUTS]
        outs = [os.path.join(wd, "out%d.npy" % k) for k in range(4)]
        runs = [("nncc-run", None)]
        for opt in ("-O0", "-O3", "-Os"):
            exe, err = rc.build_model(t, MODEL, wd, name="int_mean",
                                      opt=opt)
            runs.append((opt, err or exe))
        for what, exe in runs:
            if exe is None:
                code, out = rc.sh([t.nncc_run, MODEL] + ins +
                                  sum((["-o", o] for o in outs), []))
            elif not os.path.isfile(exe):
                code, out = 1, exe
            else:
                code, out = rc.run_exe(exe, ins, outs)
            errs = [out] if code else []
            for k in range(4 if not code else 0):
                got = np.load(outs[k])
                if got.dtype != exps[k].dtype or \
                        not np.array_equal(got, exps[k]):
                    errs.append("output %d: got %s, expected %s" % (
                        k, got.tolist(), exps[k].tolist()))
            if errs:
                print("FAIL %s: %s" % (what, "; ".join(errs)))
                failed += 1
            else:
                passed += 1
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
