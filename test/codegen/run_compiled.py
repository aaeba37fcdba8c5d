#!/usr/bin/python3
"""Compiled-model checks: compile with nncc, link with harness.c, run, compare.

Modes (combinable):
  --onnx-node        every claimed ONNX backend node case (prepared by
                     test/onnx-node/run.py's helpers), compiled output vs
                     the case's expected output (rtol 1e-4, atol 1e-5)
  --model FILE       a model (.onnx or .nnir) with seeded random inputs,
                     compiled output vs `nncc-run` on the IR that code
                     generation received (--emit-ir); repeatable
  --e2e DIR          the exported models of test/e2e (DIR/CASE/model.onnx,
                     input_*.npy, expected_*.npy, args.txt): compiled output
                     vs nncc-run on the emitted IR and vs the expected files
  --extra            two models linked into one program, run_with_workspace
                     from two threads, one run under valgrind
Prints failures, then `N passed, N failed`; exits 1 if any failed.
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "test", "onnx-node"))
import run as onnxnode  # noqa: E402  (the conformance runner's helpers)

import numpy as np  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5
CC = os.environ.get("CC", "cc")
NP_TYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16,
            5: np.int16, 6: np.int32, 7: np.int64, 9: np.bool_,
            10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64,
            16: np.uint16}


# Node cases the compiled path cannot pass because nncc itself (the
# frontend or the shape hooks) rejects them, not code generation. They are
# listed, not silently dropped: `--onnx-node -v` prints them, and a case
# here that starts to compile is reported so the list shrinks.
NOT_COMPILED = {
    "test_batchnorm_epsilon_training_mode": "training mode",
    "test_batchnorm_example_training_mode": "training mode",
    "test_training_dropout": "training mode",
    "test_training_dropout_default": "training mode",
    "test_training_dropout_default_mask": "training mode",
    "test_training_dropout_mask": "training mode",
    "test_cast_FLOAT_to_STRING": "string tensors",
    "test_cast_STRING_to_FLOAT": "string tensors",
    "test_castlike_FLOAT_to_STRING": "string tensors",
    "test_castlike_FLOAT_to_STRING_expanded": "string tensors",
    "test_castlike_STRING_to_FLOAT": "string tensors",
    "test_castlike_STRING_to_FLOAT_expanded": "string tensors",
    "test_identity_opt": "optional type",
    "test_identity_sequence": "sequence type",
    "test_if_seq": "sequence type",
    "test_if_opt": "optional type",
    "test_loop13_seq": "sequence type",
    "test_loop16_seq_none": "optional type",
}


class Tools:
    def __init__(self, build):
        self.nncc = os.path.join(build, "tools", "nncc")
        self.nncc_run = os.path.join(build, "tools", "nncc-run")
        self.rt = os.path.join(build, "runtime", "libnncc_rt.a")
        self.rt_inc = os.path.join(SRC, "runtime")


def sh(args, timeout=300):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=timeout)
    return p.returncode, p.stdout


def build_model(t, model, wd, name="m", shapes=(), opt="-O3", extra=()):
    """nncc + cc: returns (exe path, None) or (None, error text)."""
    obj, hdr = os.path.join(wd, name + ".o"), os.path.join(wd, name + ".h")
    ir = os.path.join(wd, name + ".nnir")
    args = [t.nncc, model, opt, "-o", obj, "-H", hdr, "--emit-ir", ir,
            "--name", name] + list(extra)
    for s in shapes:
        args += ["--input-shape", s]
    rc, out = sh(args)
    if rc != 0:
        return None, "nncc failed:\n" + out
    exe = os.path.join(wd, name + "_run")
    rc, out = sh([CC, "-O1", "-o", exe, os.path.join(HERE, "harness.c"),
                  obj, "-I" + wd, "-I" + t.rt_inc, "-DMODEL=" + name,
                  '-DHEADER="%s.h"' % name, t.rt, "-lm", "-lpthread"])
    if rc != 0:
        return None, "link failed:\n" + out
    return exe, None


def close(got, exp, rtol=RTOL, atol=ATOL):
    if got.shape != exp.shape and got.size == exp.size:
        got = got.reshape(exp.shape)
    if got.shape != exp.shape:
        return "shape %s != %s" % (got.shape, exp.shape)
    if exp.dtype.kind in "fc":
        g, e = got.astype(np.float64), exp.astype(np.float64)
        bad = ~((np.abs(g - e) <= atol + rtol * np.abs(e)) |
                (np.isnan(g) & np.isnan(e)) | (g == e))
    else:
        bad = got != exp
    if bad.any():
        i = np.flatnonzero(bad)[0]
        return "%d of %d elements differ; first at %d: %r vs %r" % (
            bad.sum(), bad.size, i, got.flat[i], exp.flat[i])
    return None


def run_exe(exe, ins, outs, mode=None, prefix=()):
    args = list(prefix) + [exe] + ([mode] if mode else []) + list(ins)
    for o in outs:
        args += ["-o", o]
    return sh(args)


def object_and_interp(t, exe, ir, x, wd):
    """Runs the linked model exe and `nncc-run` on the IR it was compiled
    from (ir) on the one input array x: (object output, nncc-run output,
    None), or (None, None, error text)."""
    inp = os.path.join(wd, "x.npy")
    np.save(inp, x)
    out, ref = os.path.join(wd, "o.npy"), os.path.join(wd, "r.npy")
    code, txt = run_exe(exe, [inp], [out])
    if code:
        return None, None, "harness exit %d\n%s" % (code, txt)
    code, txt = sh([t.nncc_run, ir, inp, "-o", ref])
    if code:
        return None, None, "nncc-run failed:\n" + txt
    return np.load(out), np.load(ref), None


def node_case(t, node_dir, name):
    case = os.path.join(node_dir, name)
    tol = onnxnode.TOLERANCE.get(name, (RTOL, ATOL, None))
    for ds in onnxnode.data_sets(case):
        d = os.path.join(case, ds)
        try:
            npys = {}
            for prefix in ("input_", "output_"):
                npys[prefix] = []
                for pb in onnxnode.tensors(d, prefix):
                    npy = os.path.join(d, pb[:-3] + ".npy")
                    onnxnode.to_npy(os.path.join(d, pb), npy)
                    npys[prefix].append(npy)
            onnxnode.blank_type_only_inputs(case, npys["input_"])
            frozen, kept = onnxnode.frozen_inputs(t.nncc_run, case,
                                                  npys["input_"])
        except Exception as e:
            return "%s: cannot convert test data: %s" % (ds, e)
        wd = tempfile.mkdtemp(prefix="cg-")
        try:
            exe, err = build_model(t, os.path.join(case, "model.onnx"), wd,
                                   extra=frozen)
            if err:
                return "%s: %s" % (ds, err)
            outs = [os.path.join(wd, "out%d.npy" % k)
                    for k in range(len(npys["output_"]))]
            rc, out = run_exe(exe, [npys["input_"][j] for j in kept], outs)
            if rc != 0:
                return "%s: harness exit %d\n%s" % (ds, rc, out)
            ports = header_ports(os.path.join(wd, "m.h"), "OUTPUT")
            for k, o in enumerate(outs):
                got, exp = np.load(o), np.load(npys["output_"][k])
                if ports[k][0] == 16:  # bf16 bit patterns: compare values
                    got, exp = bf16(got), bf16(exp)
                msg = close(got, exp, tol[0], tol[1])
                if msg:
                    return "%s: output %d: %s" % (ds, k, msg)
        finally:
            shutil.rmtree(wd, ignore_errors=True)
    return None


def bf16(a):
    return (a.astype(np.uint32) << 16).view(np.float32)


def header_ports(hdr, what):
    text = open(hdr).read()
    n = int(re.search(r"_NUM_%sS (\d+)" % what, text).group(1))
    ports = []
    for k in range(n):
        dt = int(re.search(r"_%s_%d_DTYPE (\d+)" % (what, k), text).group(1))
        rank = int(re.search(r"_%s_%d_RANK (\d+)" % (what, k), text).group(1))
        shp = re.search(r"_%s_%d_SHAPE \{([^}]*)\}" % (what, k), text).group(1)
        dims = [int(x) for x in shp.split(",")][:rank]
        ports.append((dt, dims))
    return ports


def random_inputs(hdr, wd, seed=0):
    rng = np.random.default_rng(seed)
    paths = []
    for k, (dt, dims) in enumerate(header_ports(hdr, "INPUT")):
        ty = NP_TYPES[dt]
        if np.issubdtype(ty, np.floating):
            a = rng.standard_normal(dims).astype(ty)
        elif ty == np.bool_:
            a = rng.integers(0, 2, dims).astype(ty)
        else:
            a = rng.integers(0, 10, dims).astype(ty)
        p = os.path.join(wd, "in%d.npy" % k)
        np.save(p, a)
        paths.append(p)
    return paths


def model_case(t, model, mode=None, prefix=(), name="m", extra=()):
    """Compiled vs nncc-run on the emitted IR, with random inputs."""
    wd = tempfile.mkdtemp(prefix="cg-")
    try:
        exe, err = build_model(t, model, wd, name, extra=extra)
        if err:
            return err
        hdr = os.path.join(wd, name + ".h")
        ins = random_inputs(hdr, wd)
        nout = len(header_ports(hdr, "OUTPUT"))
        outs = [os.path.join(wd, "out%d.npy" % k) for k in range(nout)]
        refs = [os.path.join(wd, "ref%d.npy" % k) for k in range(nout)]
        rc, out = run_exe(exe, ins, outs, mode, prefix)
        if rc != 0:
            return "harness exit %d\n%s" % (rc, out)
        args = [t.nncc_run, os.path.join(wd, name + ".nnir")] + ins
        for r in refs:
            args += ["-o", r]
        rc, out = sh(args)
        if rc != 0:
            return "nncc-run failed:\n" + out
        for k in range(nout):
            msg = close(np.load(outs[k]), np.load(refs[k]))
            if msg:
                return "output %d: %s" % (k, msg)
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    return None


def e2e_case(t, case):
    """A test/e2e export: compiled vs nncc-run on the emitted IR (same
    inputs) and vs PyTorch's expected outputs, with the case's args."""
    args = open(os.path.join(case, "args.txt")).read().split()
    shapes = [args[i + 1] for i, a in enumerate(args) if a == "--input-shape"]
    rtol = float(args[args.index("--rtol") + 1]) if "--rtol" in args else RTOL
    atol = float(args[args.index("--atol") + 1]) if "--atol" in args else ATOL
    ins = sorted((f for f in os.listdir(case) if re.match(r"input_\d+\.npy$", f)),
                 key=lambda f: int(f[6:-4]))
    exps = sorted((f for f in os.listdir(case)
                   if re.match(r"expected_\d+\.npy$", f)),
                  key=lambda f: int(f[9:-4]))
    ins = [os.path.join(case, f) for f in ins]
    wd = tempfile.mkdtemp(prefix="cg-")
    try:
        exe, err = build_model(t, os.path.join(case, "model.onnx"), wd,
                               shapes=shapes)
        if err:
            return err
        outs = [os.path.join(wd, "out%d.npy" % k) for k in range(len(exps))]
        refs = [os.path.join(wd, "ref%d.npy" % k) for k in range(len(exps))]
        rc, out = run_exe(exe, ins, outs)
        if rc != 0:
            return "harness exit %d\n%s" % (rc, out)
        a = [t.nncc_run, os.path.join(wd, "m.nnir")] + ins
        for r in refs:
            a += ["-o", r]
        rc, out = sh(a)
        if rc != 0:
            return "nncc-run failed:\n" + out
        for k in range(len(exps)):
            got = np.load(outs[k])
            msg = close(got, np.load(refs[k]))
            if msg:
                return "output %d vs nncc-run: %s" % (k, msg)
            msg = close(got, np.load(os.path.join(case, exps[k])), rtol,
                        atol)
            if msg:
                return "output %d vs expected: %s" % (k, msg)
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    return None


def expect_reject(err, name):
    """A NOT_COMPILED case must still fail in nncc itself."""
    if err is None:
        return "passes now: remove it from NOT_COMPILED"
    if "nncc failed" in err or "cannot convert test data" in err:
        return None
    return "expected nncc to reject it (%s), got: %s" % (
        NOT_COMPILED[name], err)


def two_models(t, ma, mb):
    wd = tempfile.mkdtemp(prefix="cg-")
    try:
        for name, m in (("a", ma), ("b", mb)):
            rc, out = sh([t.nncc, m, "-O3", "-o", os.path.join(wd, name + ".o"),
                          "-H", os.path.join(wd, name + ".h"), "--name", name,
                          "--emit-ir", os.path.join(wd, name + ".nnir")])
            if rc:
                return "nncc failed:\n" + out
        exe = os.path.join(wd, "two")
        rc, out = sh([CC, "-o", exe, os.path.join(HERE, "two_models.c"),
                      os.path.join(wd, "a.o"), os.path.join(wd, "b.o"),
                      "-I" + wd, "-I" + t.rt_inc, t.rt, "-lm"])
        if rc:
            return "link failed:\n" + out
        ins = []
        for name in ("a", "b"):
            ins.append(random_inputs(os.path.join(wd, name + ".h"),
                                     wd, seed=len(ins))[0])
            os.rename(ins[-1], os.path.join(wd, name + "_in.npy"))
            ins[-1] = os.path.join(wd, name + "_in.npy")
        outs = [os.path.join(wd, n + "_out.npy") for n in ("a", "b")]
        rc, out = sh([exe] + ins + outs)
        if rc:
            return "two_models exit %d\n%s" % (rc, out)
        for k, name in enumerate(("a", "b")):
            ref = os.path.join(wd, name + "_ref.npy")
            rc, out = sh([t.nncc_run, os.path.join(wd, name + ".nnir"),
                          ins[k], "-o", ref])
            if rc:
                return "nncc-run failed:\n" + out
            msg = close(np.load(outs[k]), np.load(ref))
            if msg:
                return "model %s: %s" % (name, msg)
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    return None


def sanitized_cc():
    """Whether CC is the test suite's wrapper adding sanitizer flags."""
    if not os.path.isfile(CC):
        return False
    with open(CC) as f:
        return "-fsanitize" in f.read()


def extras(t):
    models = os.path.join(HERE, "Inputs")
    cnn, mlp = os.path.join(models, "cnn.nnir"), os.path.join(models, "mlp.nnir")
    jobs = [("two models in one program", lambda: two_models(t, cnn, mlp)),
            ("run_with_workspace", lambda: model_case(t, cnn, "--ws")),
            ("two threads", lambda: model_case(t, cnn, "--threads"))]
    # valgrind knows no AVX-512 (so: a baseline CPU) and cannot run ASan
    # binaries; in a sanitized build ASan itself checks the generated code.
    if shutil.which("valgrind") and not sanitized_cc():
        jobs.append(("valgrind", lambda: model_case(
            t, cnn, None, ["valgrind", "-q", "--error-exitcode=9"],
            extra=["-mcpu=x86-64-v2"])))
    return jobs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("NNCC_BUILD", "build"))
    ap.add_argument("--onnx-node", action="store_true")
    ap.add_argument("--op", action="append", help="onnx-node: only this op")
    ap.add_argument("-k", action="append", help="onnx-node: name substring")
    ap.add_argument("--model", action="append", default=[])
    ap.add_argument("--extra", action="store_true")
    ap.add_argument("--e2e", help="folder of test/e2e exports")
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("-v", action="store_true", help="list skipped cases")
    a = ap.parse_args()
    t = Tools(os.path.abspath(a.build))
    jobs = []
    if a.onnx_node:
        node_dir = onnxnode.generate(os.path.abspath(a.build))
        cases = onnxnode.classify(node_dir, sorted(os.listdir(node_dir)))
        for name, (op, skip) in sorted(cases.items()):
            if skip or (a.op and op not in a.op) or \
                    (a.k and not any(k in name for k in a.k)):
                continue
            if name in NOT_COMPILED:
                if a.v:
                    print("skip %s: %s" % (name, NOT_COMPILED[name]))
                jobs.append((name, lambda n=name: expect_reject(
                    node_case(t, node_dir, n), n)))
                continue
            jobs.append((name, lambda n=name: node_case(t, node_dir, n)))
    for m in a.model:
        jobs.append((m, lambda m=m: model_case(t, os.path.abspath(m))))
    if a.e2e:
        for c in sorted(os.listdir(a.e2e)):
            d = os.path.join(a.e2e, c)
            if os.path.exists(os.path.join(d, "args.txt")):
                jobs.append((c, lambda d=d: e2e_case(t, d)))
    if a.extra:
        jobs += extras(t)
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(a.j) as ex:
        futs = [(n, ex.submit(f)) for n, f in jobs]
        for n, fu in futs:
            try:
                err = fu.result()
            except Exception as e:  # a crash of the runner itself
                err = "runner error: %r" % e
            if err:
                failed += 1
                print("FAIL %s: %s" % (n, err.rstrip()))
    print("%d passed, %d failed" % (len(jobs) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
