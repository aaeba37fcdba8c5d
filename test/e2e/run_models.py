#!/usr/bin/python3
"""Runs every exported e2e model through `nncc-run --expect` and reports all
passes and failures (not just the first), exiting 1 if any case failed.
Exports the models first (export_models.py) unless OUT_DIR already holds an
export made by the same script version.

Run: /usr/bin/python3 test/e2e/run_models.py NNCC_RUN OUT_DIR [--only A,B]
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


def run_case(nncc_run, out, case):
	d = os.path.join(out, case.name)
	with open(os.path.join(d, "args.txt")) as f:
		extra = shlex.split(f.read())
	cmd = ([nncc_run, os.path.join(d, "model.onnx")] + files(d, "input") +
	       ["--expect"] + files(d, "expected") + extra)
	t0 = time.time()
	try:
		p = subprocess.run(cmd, capture_output=True, text=True,
				   timeout=TIMEOUT)
		rc, text = p.returncode, (p.stdout + p.stderr).strip()
	except subprocess.TimeoutExpired:
		rc, text = -1, "timed out after %d s" % TIMEOUT
	return rc, text, time.time() - t0, cmd


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
	a = ap.parse_args()
	cases = select(a.only)
	ensure_exported(a.out, cases)
	failed = []
	for case in cases:
		rc, text, secs, cmd = run_case(a.nncc_run, a.out, case)
		ok = rc == 0
		print("%s %-30s %6.2fs" % ("PASS" if ok else "FAIL", case.name, secs))
		if not ok:
			failed.append(case.name)
			print("  $ " + " ".join(shlex.quote(c) for c in cmd))
			print("  exit %d: " % rc + text.replace("\n", "\n  "))
	print("e2e models: %d passed, %d failed%s" % (len(cases) - len(failed),
	      len(failed), (": " + " ".join(failed)) if failed else ""))
	return 1 if failed else 0


if __name__ == "__main__":
	sys.exit(main())
