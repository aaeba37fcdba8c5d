#!/usr/bin/python3
"""NAME_run_parallel on real exports (export_models.py): each case is
compiled, its object checked to need no thread library (`nm -u`), linked
with parallel_harness.c and examples/parallel/nncc_pool.h (the pthread
pool a user would take), and run: the
outputs of NAME_run_parallel must equal NAME_run's bit for bit with no
parallel_for, pools of 1, 2 and 4 threads and a reverse-order callback, and
NAME_run's must equal nncc-run on the IR the object was compiled from
(rtol 1e-4, atol 1e-5, as the other compiled-model tests). Cases marked
split must have made parallel_for calls (the layers really were split);
-Os cases must have made none (-Os keeps the serial code).

Run: /usr/bin/python3 test/e2e/parallel_models.py BUILD_DIR OUT_DIR
	[--only A,B] [--model FILE]...
--model: instead of the exports, a model with seeded random inputs whose
layers must be split (test/e2e/Inputs/parallel_layers.nnir: one layer of
each split kind).
Environment: NNCC_E2E_SKIP_HEAVY / NNCC_E2E_ONLY as for run_models.py.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import run_models  # noqa: E402

RTOL, ATOL = "1e-4", "1e-5"
# (label, export case, nncc options, expected parallel_for calls: "some",
# "none" or None for either)
RUNS = [
	("mlp", "mlp", [], None),
	("cnn", "cnn", [], None),
	("conv1d", "conv1d", [], None),
	("conv_variants", "conv_variants", [], None),
	("mobilenet_v2_op10", "mobilenet_v2_op10", [], "some"),
	("mobilenet_v2_op10 -Os", "mobilenet_v2_op10", ["-Os"], "none"),
	("mobilenet_v2_op10 pruned", "mobilenet_v2_op10", ["--prune=0.8"],
	 None),
	("cnn pruned", "cnn", ["--prune=0.9"], None),
	("resnet18", "resnet18", [], "some"),
]
# Symbols of a thread runtime the object must not reference.
THREAD_SYMS = re.compile(r"pthread|omp_|gomp|__kmpc|thrd_|mtx_|cnd_")


def sh(cmd):
	p = subprocess.run(cmd, stdout=subprocess.PIPE,
			   stderr=subprocess.STDOUT, universal_newlines=True,
			   timeout=900)
	return p.returncode, p.stdout


def seeded_inputs(hdr, wd):
	"""Seeded standard normals for the f32 inputs the header declares."""
	import numpy as np
	h = open(hdr).read()
	n = int(re.search(r"#define m_NUM_INPUTS (\d+)", h).group(1))
	rng = np.random.default_rng(7)
	paths = []
	for k in range(n):
		shape = re.search(r"#define m_INPUT_%d_SHAPE \{([^}]*)\}" % k,
				  h).group(1)
		x = rng.standard_normal([int(v) for v in shape.split(",")])
		paths.append(os.path.join(wd, "input_%d.npy" % k))
		np.save(paths[-1], x.astype(np.float32))
	return paths, int(re.search(r"#define m_NUM_OUTPUTS (\d+)",
				    h).group(1))


def run_one(build, out, label, case, opts):
	"""The harness's first line, or why the run failed. case: an export's
	name, or a model file (seeded random inputs)."""
	wd = os.path.join(out, "parallel", re.sub(r"\W+", "_", label))
	os.makedirs(wd, exist_ok=True)
	obj, hdr, ir = (os.path.join(wd, "m" + e) for e in (".o", ".h", ".nnir"))
	if os.path.isfile(case):
		model, shapes = case, []
	else:
		d = os.path.join(out, case)
		model = os.path.join(d, "model.onnx")
		args = shlex.split(open(os.path.join(d, "args.txt")).read())
		shapes, _ = run_models.split_shapes(args)
	cmd = [os.path.join(build, "tools", "nncc"), model, "-O3", "-o", obj,
	       "-H", hdr, "--emit-ir", ir, "--name", "m"] + shapes + opts
	rc, txt = sh(cmd)
	if rc:
		return "nncc failed: %s\n%s" % (" ".join(cmd), txt)
	if os.path.isfile(case):
		ins, nout = seeded_inputs(hdr, wd)
	else:
		ins = run_models.files(d, "input")
		nout = len(run_models.files(d, "expected"))
	rc, txt = sh(["nm", "-u", obj])
	bad = [s for s in txt.split() if THREAD_SYMS.search(s)]
	if rc or bad:
		return "the object needs %s" % (bad or txt)
	exe = os.path.join(wd, "run")
	cc = os.environ.get("CC", "cc")
	rc, txt = sh([cc, "-O1", "-o", exe, os.path.join(HERE,
		     "parallel_harness.c"), obj, "-I" + wd, "-I" + os.path.join(
		     SRC, "runtime"), "-I" + os.path.join(SRC, "examples",
		     "parallel"), "-DMODEL=m", '-DHEADER="m.h"',
		     os.path.join(build, "runtime", "libnncc_rt.a"), "-lm",
		     "-lpthread"])
	if rc:
		return "harness build failed:\n" + txt
	outs = [os.path.join(wd, "out_%d.npy" % k) for k in range(nout)]
	cmd = [exe] + ins
	for o in outs:
		cmd += ["-o", o]
	rc, txt = sh(cmd)
	if rc or "run_parallel: equal" not in txt:
		return "harness exit %d:\n%s" % (rc, txt)
	cmd = [os.path.join(build, "tools", "nncc-run"), ir] + ins + \
		["--expect"] + outs + ["--rtol", RTOL, "--atol", ATOL]
	rc, rtxt = sh(cmd)
	if rc:
		return "NAME_run vs nncc-run: %s\n%s" % (" ".join(cmd), rtxt)
	return txt.strip().splitlines()[0]


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("build")
	ap.add_argument("out")
	ap.add_argument("--only", default="")
	ap.add_argument("--model", action="append", default=[],
			help="a model file (IR text or ONNX) instead of the "
			"exports, expected to split: repeatable")
	a = ap.parse_args()
	if a.model:
		runs = [(os.path.basename(m), m, [], "some") for m in a.model]
		names = set(a.model)
	else:
		used = {r[1] for r in RUNS}
		cases = [c for c in run_models.select(a.only) if c.name in used]
		names = {c.name for c in cases}
		run_models.ensure_exported(a.out, cases)
		runs = RUNS
	failed = []
	for label, case, opts, want in runs:
		if case not in names:
			continue
		res = run_one(a.build, a.out, label, case, opts)
		ok = res is not None and res.startswith("parallel_for calls")
		if ok and want:
			calls = int(re.search(r"calls per run: (\d+)",
					      res).group(1))
			if (want == "some") != (calls > 0):
				res = "%s, want %s" % (res, want)
				ok = False
		print("%s %s: %s" % ("PASS" if ok else "FAIL", label, res),
		      flush=True)
		if not ok:
			failed.append(label)
	print("parallel e2e: %d passed, %d failed%s" % (
	      len([r for r in runs if r[1] in names]) - len(failed),
	      len(failed), (": " + ", ".join(failed)) if failed else ""))
	return 1 if failed else 0


if __name__ == "__main__":
	sys.exit(main())
