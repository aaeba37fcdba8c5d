#!/usr/bin/python3
"""Run-time errors of compiled models (issue 10, defects 2 and 3).

Compiles Inputs/rt_index.nnir (Gather, GatherElements, ScatterND on indices
read at run time), Inputs/rt_div.nnir (integer Div and Mod on divisors read
at run time) Inputs/rt_reduce.nnir (an integer mean of nothing), Inputs/rt_roi.nnir
(RoiAlign's batch indices) and Inputs/rt_empty.nnir
(indices read by nodes with empty outputs), Inputs/rt_loss.nnir (loss
targets read at run time), Inputs/rt_index2.nnir (GatherND,
ScatterElements) and Inputs/rt_index3.nnir (ReverseSequence, MaxUnpool)
at -O0,
-O3 and -Os, links them with harness.c, and feeds good and bad inputs. A bad
input must make NAME_run return the documented code (README.md: 2 index out
of range, 3 integer division by zero), never trap, and nncc-run must refuse
the same input naming the node; good inputs (INT_MIN / -1 among them, which
wraps) must match nncc-run. null_buffers.c checks the NULL-pointer code.
rt_long (written here) puts a Div after 300 other nodes, so the run
function calls them through part functions and the code must come back
through a part.
Prints failures, then `N passed, N failed`.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_compiled as rc  # noqa: E402  (Tools, build_model, close, sh)

ERR_INDEX, ERR_DIV_ZERO = 2, 3  # the documented values, not the header's
INT32_MIN, INT64_MIN = -2**31, -2**63
OPTS = ("-O0", "-O3", "-Os")


def index_inputs(**bad):
    """rt_index's inputs, all in range unless overridden by bad."""
    rng = np.random.default_rng(1)
    ins = {"x": rng.standard_normal((5, 3)).astype(np.float32),
           "idx": np.array([4, -5], np.int32),
           "ei": np.array([[0, 4, -1], [2, 3, -5]], np.int64),
           "si": np.array([[1], [-1]], np.int64),
           "u": rng.standard_normal((2, 3)).astype(np.float32)}
    for k, v in bad.items():
        ins[k] = np.array(v, ins[k].dtype).reshape(ins[k].shape)
    return [ins[k] for k in ("x", "idx", "ei", "si", "u")]


def div_inputs(**bad):
    ins = {"a": np.array([7, -7, INT32_MIN, 5], np.int32),
           "b": np.array([2, 2, -1, -1], np.int32),
           "c": np.array([7, -7, INT64_MIN], np.int64),
           "e": np.array([-3, 3, -1], np.int64),
           "p": np.array([2, 3], np.uint8)}
    for k, v in bad.items():
        ins[k] = np.array(v, ins[k].dtype)
    return [ins[k] for k in ("a", "b", "c", "e", "p")]


# (model, case, inputs, expected code or 0, the node nncc-run must name)
def empty_inputs(i=(1, -5), j=((4,),)):
    """rt_empty's inputs: data [5,0], Gather indices i, ScatterND j."""
    return [np.zeros((5, 0), np.float32), np.array(i, np.int64),
            np.array(j, np.int64), np.zeros((1, 0), np.float32)]


def loss_inputs(t):
    """rt_loss's inputs: scores [3, 4] and the targets t."""
    rng = np.random.default_rng(2)
    return [rng.standard_normal((3, 4)).astype(np.float32),
            np.array(t, np.int64)]


def index2_inputs(**bad):
    """rt_index2's inputs (GatherND, ScatterElements), all in range unless
    overridden by bad."""
    rng = np.random.default_rng(2)
    ins = {"x": rng.standard_normal((2, 3, 4)).astype(np.float32),
           "ni": np.array([[[2], [-3]], [[0], [1]]], np.int64),
           "d": rng.standard_normal((3, 4)).astype(np.float32),
           "ei": np.array([[3, -4], [1, 1]], np.int32),
           "u": rng.standard_normal((2, 2)).astype(np.float32),
           "z": np.zeros((3, 0), np.float32),
           "ej": np.array([[-1]], np.int64)}
    for k, v in bad.items():
        ins[k] = np.array(v, ins[k].dtype).reshape(ins[k].shape)
    return [ins[k] for k in ("x", "ni", "d", "ei", "u", "z", "ej")]


def index3_inputs(**bad):
    """rt_index3's inputs (ReverseSequence, MaxUnpool), all in range
    unless overridden by bad."""
    rng = np.random.default_rng(3)
    ins = {"d": rng.standard_normal((3, 4)).astype(np.float32),
           "lens": np.array([4, 0, 2], np.int64),
           "z": np.zeros((3, 0), np.float32),
           "lz": np.zeros(3, np.int32),
           "xt": rng.standard_normal((1, 1, 2, 2)).astype(np.float32),
           "xi": np.array([0, 3, 9, 15], np.int64).reshape(1, 1, 2, 2)}
    for k, v in bad.items():
        ins[k] = np.array(v, ins[k].dtype).reshape(ins[k].shape)
    return [ins[k] for k in ("d", "lens", "z", "lz", "xt", "xi")]


def roi_inputs(b=(1, 0)):
    rng = np.random.default_rng(2)
    return [rng.standard_normal((2, 1, 4, 4)).astype(np.float32),
            np.array([[0, 0, 3, 3], [1, 0.5, 2, 3.5]], np.float32),
            np.array(b, np.int64)]


CASES = [
    ("rt_index", "in range", index_inputs(), 0, None),
    ("rt_index", "Gather past the end", index_inputs(idx=[0, 5]),
     ERR_INDEX, "node 'gather' (Gather): index 5 out of range"),
    ("rt_index", "Gather before the start", index_inputs(idx=[-6, 0]),
     ERR_INDEX, "node 'gather' (Gather): index -6 out of range"),
    ("rt_index", "Gather INT32_MIN", index_inputs(idx=[0, INT32_MIN]),
     ERR_INDEX, "node 'gather' (Gather)"),
    ("rt_index", "GatherElements past the end",
     index_inputs(ei=[0, 1, 2, 3, 4, 5]), ERR_INDEX,
     "node 'gather_elements' (GatherElements): index 5 out of range"),
    ("rt_index", "ScatterND before the start", index_inputs(si=[0, -6]),
     ERR_INDEX, "node 'scatter' (ScatterND): index -6 out of range"),
    ("rt_index", "ScatterND huge", index_inputs(si=[1 << 40, 0]),
     ERR_INDEX, "node 'scatter' (ScatterND)"),
    ("rt_div", "non-zero divisors, INT_MIN / -1", div_inputs(), 0, None),
    ("rt_div", "Div by zero", div_inputs(b=[1, 0, 1, 1]), ERR_DIV_ZERO,
     "node 'div' (Div): integer division by zero"),
    ("rt_div", "Mod by zero", div_inputs(e=[0, 1, 1]), ERR_DIV_ZERO,
     "node 'mod' (Mod): integer modulo by zero"),
    ("rt_div", "unsigned Div by zero", div_inputs(p=[3, 0]), ERR_DIV_ZERO,
     "node 'udiv' (Div): integer division by zero"),
    ("rt_empty", "empty Gather, indices in range", empty_inputs(), 0, None),
    ("rt_empty", "empty Gather, index out of range", empty_inputs(i=[1, 9]),
     ERR_INDEX, "node 'gather' (Gather): index 9 out of range"),
    ("rt_empty", "empty ScatterND, index out of range",
     empty_inputs(j=[[-6]]), ERR_INDEX,
     "node 'scatter' (ScatterND): index -6 out of range"),
    ("rt_loss", "targets in range or ignored", loss_inputs([3, -1, 0]), 0,
     None),
    ("rt_loss", "target past the end", loss_inputs([0, 4, 1]), ERR_INDEX,
     "node 'nll' (NegativeLogLikelihoodLoss): target 4 is out of range"),
    ("rt_loss", "negative target", loss_inputs([-2, 0, 1]), ERR_INDEX,
     "node 'nll' (NegativeLogLikelihoodLoss): target -2 is out of range"),
    ("rt_index2", "in range", index2_inputs(), 0, None),
    ("rt_index2", "GatherND past the end",
     index2_inputs(ni=[0, 1, 3, 0]), ERR_INDEX,
     "node 'gather_nd' (GatherND): index 3 out of range"),
    ("rt_index2", "GatherND huge", index2_inputs(ni=[0, 1, 1 << 40, 0]),
     ERR_INDEX, "node 'gather_nd' (GatherND)"),
    ("rt_index2", "ScatterElements before the start",
     index2_inputs(ei=[0, -5, 1, 1]), ERR_INDEX,
     "node 'scatter_elements' (ScatterElements): index -5 out of range"),
    ("rt_index2", "empty GatherND, index out of range",
     index2_inputs(ej=[[3]]), ERR_INDEX,
     "node 'gather_nd_empty' (GatherND): index 3 out of range"),
    ("rt_index3", "in range", index3_inputs(), 0, None),
    ("rt_index3", "ReverseSequence length past the end",
     index3_inputs(lens=[4, 5, 0]), ERR_INDEX,
     "node 'reverse_sequence' (ReverseSequence): sequence_lens[1] is 5"),
    ("rt_index3", "ReverseSequence negative length",
     index3_inputs(lens=[1, 1, -1]), ERR_INDEX,
     "node 'reverse_sequence' (ReverseSequence): sequence_lens[2] is -1"),
    ("rt_index3", "empty ReverseSequence, length past the end",
     index3_inputs(lz=[0, 1, 0]), ERR_INDEX,
     "node 'reverse_sequence_empty' (ReverseSequence): sequence_lens[1]"),
    ("rt_index3", "MaxUnpool past the end",
     index3_inputs(xi=[0, 3, 16, 15]), ERR_INDEX,
     "node 'max_unpool' (MaxUnpool): index 16 out of range"),
    ("rt_index3", "MaxUnpool negative", index3_inputs(xi=[-1, 3, 9, 15]),
     ERR_INDEX, "node 'max_unpool' (MaxUnpool): index -1 out of range"),
    ("rt_roi", "RoiAlign, batch indices in range", roi_inputs(), 0, None),
    ("rt_roi", "RoiAlign batch index past the end", roi_inputs((0, 2)),
     ERR_INDEX, "node 'roi' (RoiAlign): batch_indices[1] = 2 is outside"),
    ("rt_roi", "RoiAlign batch index negative", roi_inputs((-1, 0)),
     ERR_INDEX, "node 'roi' (RoiAlign): batch_indices[0] = -1 is outside"),
    ("rt_reduce", "integer mean of nothing", [np.zeros((0, 3), np.int32)],
     0, None),
    ("rt_long", "late Div, non-zero", [np.arange(4, dtype=np.int32),
                                       np.full(4, 3, np.int32),
                                       np.ones(4, np.int32)], 0, None),
    ("rt_long", "late Div by zero", [np.arange(4, dtype=np.int32),
                                     np.array([3, 3, 0, 3], np.int32),
                                     np.ones(4, np.int32)], ERR_DIV_ZERO,
     "node 'late_div' (Div): integer division by zero"),
]

LONG_ADDS = 300  # over codegen's 256 calls per part


def write_long(path):
    """A chain of LONG_ADDS input-dependent Adds, then a Div."""
    lines = ["graph @rt_long(%a: i32[4], %b: i32[4], %s: i32[4]) -> "
             "(i32[4]) {"]
    prev = "%a"
    for i in range(LONG_ADDS):
        lines.append("  %%t%d = Add(%s, %%s) : i32[4]" % (i, prev))
        prev = "%%t%d" % i
    lines.append('  %%q = Div(%s, %%b) : i32[4] loc("late_div")' % prev)
    lines += ["  return %q", "}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def reference(t, model, npys, outs):
    args = [t.nncc_run, model] + npys
    for o in outs:
        args += ["-o", o]
    return rc.sh(args)


def check_case(t, exe, model, case, wd, nout):
    name, what, ins, code, node = case
    npys = []
    for k, a in enumerate(ins):
        npys.append(os.path.join(wd, "in%d.npy" % k))
        np.save(npys[-1], a)
    outs = [os.path.join(wd, "out%d.npy" % k) for k in range(nout)]
    refs = [os.path.join(wd, "ref%d.npy" % k) for k in range(nout)]
    got, out = rc.run_exe(exe, npys, outs)
    ref, rout = reference(t, model, npys, refs)
    if got < 0:
        return "the object trapped (signal %d)" % -got
    if code:
        if got != 1 or "harness: run returned %d\n" % code not in out:
            return "expected run to return %d, got exit %d:\n%s" % (
                code, got, out)
        if ref != 1 or node not in rout:
            return "nncc-run: expected exit 1 naming %r, got %d:\n%s" % (
                node, ref, rout)
        return None
    if got != 0 or ref != 0:
        return "expected success: harness %d, nncc-run %d:\n%s%s" % (
            got, ref, out, rout)
    for o, r in zip(outs, refs):
        err = rc.close(np.load(o), np.load(r), 0, 0)
        if err:
            return "%s: %s" % (os.path.basename(o), err)
    if name == "rt_div":
        q, m = np.load(outs[0]), np.load(outs[1])
        if q[2] != INT32_MIN or m[2] != 0:
            return "INT_MIN / -1 gave %d, INT64_MIN mod -1 gave %d" % (
                q[2], m[2])
    return None


def null_buffers(t, wd, opt):
    """null_buffers.c on rt_index: NULL arrays, buffers and workspace."""
    exe, err = rc.build_model(t, os.path.join(HERE, "Inputs",
                                              "rt_index.nnir"), wd,
                              name="rt_index", opt=opt)
    if err:
        return err
    exe = os.path.join(wd, "null_buffers")
    code, out = rc.sh([rc.CC, "-O1", "-o", exe,
                       os.path.join(HERE, "null_buffers.c"),
                       os.path.join(wd, "rt_index.o"), "-I" + wd,
                       "-DMODEL=rt_index", '-DHEADER="rt_index.h"'])
    if code != 0:
        return "link failed:\n" + out
    code, out = rc.sh([exe])
    return None if code == 0 else "null_buffers (exit %d):\n%s" % (code,
                                                                    out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    a = ap.parse_args()
    t = rc.Tools(a.build)
    t.nncc_run = os.path.join(a.build, "tools", "nncc-run")
    passed, failed = 0, 0
    nout = {"rt_index": 3, "rt_div": 3, "rt_empty": 2, "rt_reduce": 1,
            "rt_long": 1, "rt_loss": 2, "rt_index2": 3, "rt_index3": 3,
            "rt_roi": 1}
    for opt in OPTS:
        wd = tempfile.mkdtemp(prefix="rterr-")
        try:
            write_long(os.path.join(wd, "rt_long.nnir"))
            for name in nout:
                model = os.path.join(wd if name == "rt_long" else
                                     os.path.join(HERE, "Inputs"),
                                     name + ".nnir")
                exe, berr = rc.build_model(t, model, wd, name=name,
                                           opt=opt)
                for case in (c for c in CASES if c[0] == name):
                    err = berr or check_case(t, exe, model, case, wd,
                                             nout[name])
                    if err:
                        print("FAIL %s %s: %s" % (opt, case[1], err))
                        failed += 1
                    else:
                        passed += 1
            err = null_buffers(t, wd, opt)
            if err:
                print("FAIL %s NULL buffers: %s" % (opt, err))
                failed += 1
            else:
                passed += 1
        finally:
            shutil.rmtree(wd, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
