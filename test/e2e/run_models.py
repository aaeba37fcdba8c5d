#!/usr/bin/python3
"""Runs every exported e2e model through `nncc-run --expect` and reports all
passes and failures (not just the first), exiting 1 if any case failed.
Exports the models first (export_models.py) unless OUT_DIR already holds an
export made by the same script version.

Run: /usr/bin/python3 test/e2e/run_models.py NNCC_RUN OUT_DIR [--only A,B]
	[--via-ir NNCC_OPT]
Environment: NNCC_E2E_SKIP_HEAVY=1 skips ResNet-18 and MobileNetV2 at 224x224
(the sanitized CI build uses it); NNCC_E2E_ONLY=a,b runs only those cases.
"""
import argparse
import os
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # tests write only into the build tree
sys.path.insert(0, HERE)
import export_models  # noqa: E402  (after the path tweak)

TIMEOUT = 300


def ensure_exported(out, cases):
	"""Re-export only the cases whose export is missing or was made by
	another version of export_models.py (each case dir holds its stamp)."""
	stamp = export_models.self_hash()
	todo = []
	for c in cases:
		p = os.path.join(out, c.name, "stamp.txt")
		if not os.path.exists(p) or open(p).read().strip() != stamp:
			todo.append(c.name)
	if todo:
		cmd = [sys.executable, os.path.join(HERE, "export_models.py"),
		       out, "--only", ",".join(todo)]
		subprocess.run(cmd, check=True)


def files(d, prefix):
	out, i = [], 0
	while os.path.exists(os.path.join(d, "%s_%d.npy" % (prefix, i))):
		out.append(os.path.join(d, "%s_%d.npy" % (prefix, i)))
		i += 1
	return out


def execute(cmd):
	t0 = time.time()
	try:
		p = subprocess.run(cmd, capture_output=True, text=True,
				   timeout=TIMEOUT)
		rc, text = p.returncode, (p.stdout + p.stderr).strip()
	except subprocess.TimeoutExpired:
		rc, text = -1, "timed out after %d s" % TIMEOUT
	return rc, text, time.time() - t0


def split_shapes(args):
	"""(--input-shape arguments, the others): after import the IR text is
	static, so the shapes go to nncc-opt and the rest to nncc-run."""
	shapes, rest, i = [], [], 0
	while i < len(args):
		if args[i] == "--input-shape":
			shapes += args[i:i + 2]
			i += 2
		else:
			rest.append(args[i])
			i += 1
	return shapes, rest


def run_case(tools, out, case, via_ir):
	"""[(label, rc, text, secs, cmd)]: the ONNX model, and with via_ir its
	IR text with full weights (which must give the same outputs)."""
	d = os.path.join(out, case.name)
	with open(os.path.join(d, "args.txt")) as f:
		extra = shlex.split(f.read())
	tail = files(d, "input") + ["--expect"] + files(d, "expected")
	cmd = [tools["run"], os.path.join(d, "model.onnx")] + tail + extra
	res = [(case.name,) + execute(cmd) + (cmd,)]
	if not via_ir or case.heavy:
		return res
	shapes, rest = split_shapes(extra)
	ir = os.path.join(d, "model.nnir")
	cmd = [tools["opt"], os.path.join(d, "model.onnx"), "--print-weights",
	       "-o", ir] + shapes
	r = execute(cmd)
	if r[0] == 0:
		cmd = [tools["run"], ir] + tail + rest
		r = execute(cmd)
	return res + [(case.name + " (IR text)",) + r + (cmd,)]


def select(only):
	heavy_off = os.environ.get("NNCC_E2E_SKIP_HEAVY", "") not in ("", "0")
	only = set(filter(None, (only or os.environ.get("NNCC_E2E_ONLY", ""))
			  .split(",")))
	return [c for c in export_models.CASES
		if (not only or c.name in only) and not (heavy_off and c.heavy)]


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("nncc_run")
	ap.add_argument("out")
	ap.add_argument("--only", default="")
	ap.add_argument("--via-ir", metavar="NNCC_OPT", help="also run each "
			"light model from its IR text (nncc-opt --print-weights)")
	a = ap.parse_args()
	cases = select(a.only)
	ensure_exported(a.out, cases)
	tools = {"run": a.nncc_run, "opt": a.via_ir}
	failed, total = [], 0
	for case in cases:
		for label, rc, text, secs, cmd in run_case(tools, a.out, case,
							   a.via_ir):
			total += 1
			print("%s %-40s %6.2fs" % ("PASS" if rc == 0 else "FAIL",
						   label, secs), flush=True)
			if rc == 0:
				continue
			failed.append(label)
			print("  $ " + " ".join(shlex.quote(c) for c in cmd))
			print("  exit %d: " % rc + text.replace("\n", "\n  "))
	print("e2e models: %d passed, %d failed%s" % (total - len(failed),
	      len(failed), (": " + ", ".join(failed)) if failed else ""))
	return 1 if failed else 0


if __name__ == "__main__":
	sys.exit(main())
