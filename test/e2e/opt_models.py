#!/usr/bin/python3
"""Checks that the lossless -O3 pipeline changes no output beyond float
rounding: for every e2e model (export_models.py) the unoptimized model's
interpreter outputs are the reference for `nncc-run` on the IR that
`nncc-opt --passes=<O3>` wrote (rtol 1e-5). A few models are also pruned
structurally first (whole channels, L1), so that dead-neurons has real
channels to remove (through ResNet's residual Adds); there the pruned
model is the reference.

Run: /usr/bin/python3 test/e2e/opt_models.py TOOLS_DIR OUT_DIR [--only A,B]
	[--passes SPEC] [--stats]
Environment: NNCC_E2E_SKIP_HEAVY / NNCC_E2E_ONLY as for run_models.py.
"""
import argparse
import os
import shlex
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import run_models  # noqa: E402

O3 = "const-fold,eliminate-layers,dead-neurons,dedup-weights,fuse,dce"
PRUNE = "prune{sparsity=0.5,method=l1}"
PRUNED_CASES = ("mlp", "cnn", "resnet18")


def run_case(tools, d, passes, rtol, pre=None):
	"""[(rc, text, cmd)] up to the first failing step. With pre, the
	model after the passes `pre` is both the reference and the input."""
	with open(os.path.join(d, "args.txt")) as f:
		extra = shlex.split(f.read())
	shapes, _ = run_models.split_shapes(extra)
	ins = run_models.files(d, "input")
	n_out = len(run_models.files(d, "expected"))
	tag = "opt_pre" if pre else "opt"
	refs = [os.path.join(d, "%s_ref_%d.npy" % (tag, i))
		for i in range(n_out)]
	model, ir = os.path.join(d, "model.onnx"), os.path.join(d, tag + ".nnir")
	steps = []
	if pre:
		src = os.path.join(d, "pre.nnir")
		steps.append([tools + "/nncc-opt", model, "--passes=" + pre,
			      "--print-weights", "-o", src] + shapes)
		model, shapes = src, []
	steps += [
		[tools + "/nncc-run", model] + ins +
		sum([["-o", r] for r in refs], []) + shapes,
		[tools + "/nncc-opt", model, "--passes=" + passes,
		 "--verify-each", "--print-weights", "-o", ir] + shapes,
		[tools + "/nncc-run", ir] + ins + ["--expect"] + refs +
		["--rtol", str(rtol)],
	]
	res = []
	for cmd in steps:
		rc, text, _ = run_models.execute(cmd)
		res.append((rc, text, cmd))
		if rc:
			break
	return res


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("tools")
	ap.add_argument("out")
	ap.add_argument("--only", default="")
	ap.add_argument("--passes", default=O3)
	ap.add_argument("--rtol", type=float, default=1e-5)
	a = ap.parse_args()
	cases = run_models.select(a.only)
	run_models.ensure_exported(a.out, cases)
	failed, total = [], 0
	runs = [(c, None) for c in cases] + [(c, PRUNE) for c in cases
					      if c.name in PRUNED_CASES]
	for case, pre in runs:
		label = case.name + (" (pruned)" if pre else "")
		res = run_case(a.tools, os.path.join(a.out, case.name), a.passes,
			       a.rtol, pre)
		rc, text, cmd = res[-1]
		total += 1
		print("%s %s" % ("PASS" if rc == 0 else "FAIL", label),
		      flush=True)
		if rc:
			failed.append(label)
			print("  $ " + " ".join(shlex.quote(c) for c in cmd))
			print("  exit %d: " % rc + text.replace("\n", "\n  "))
	print("opt e2e: %d passed, %d failed%s" % (total - len(failed),
	      len(failed), (": " + ", ".join(failed)) if failed else ""))
	return 1 if failed else 0


if __name__ == "__main__":
	sys.exit(main())
