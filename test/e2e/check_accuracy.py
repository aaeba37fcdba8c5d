#!/usr/bin/python3
"""Checks that `nncc-run MODEL X.npy --labels Y.npy` reports exactly the top-1
accuracy that PyTorch got on the same test split, as recorded by
examples/digits/train.py in expected_accuracy.txt (never by nncc).

With --via-ir NNCC_OPT TMPDIR, each model is also printed as IR text with
full weights (nncc-opt --print-weights) and the .nnir file must score the
same: the text form loses nothing that matters.

Run: /usr/bin/python3 test/e2e/check_accuracy.py NNCC_RUN DIGITS_DIR
	[--via-ir NNCC_OPT TMPDIR] [MODEL...]
"""
import os
import re
import subprocess
import sys


def expectations(d):
	"""{model: (input file, correct, total)} from expected_accuracy.txt."""
	out = {}
	with open(os.path.join(d, "expected_accuracy.txt")) as f:
		for line in f:
			if line.startswith("#") or not line.strip():
				continue
			model, xfile, _, frac = line.split()
			ok, total = frac.split("/")
			out[model] = (xfile, int(ok), int(total))
	return out


def reported(text, total):
	"""Correct-count nncc-run printed: from an `N/M` fraction when present,
	else from the accuracy value (a fraction of 1 or a percentage)."""
	m = re.search(r"accuracy[^\n]*?(\d+)\s*/\s*(\d+)", text, re.I)
	if m:
		return int(m.group(1)), int(m.group(2))
	m = re.search(r"accuracy\D*?(\d+(?:\.\d*)?)\s*(%?)", text, re.I)
	if not m:
		return None
	v = float(m.group(1)) / (100.0 if m.group(2) or
				 float(m.group(1)) > 1 else 1.0)
	return round(v * total), total


def to_ir(nncc_opt, tmp, d, model):
	"""IR text of MODEL with every weight printed; None on failure."""
	out = os.path.join(tmp, os.path.splitext(model)[0] + ".nnir")
	cmd = [nncc_opt, os.path.join(d, model), "--print-weights", "-o", out]
	p = subprocess.run(cmd, capture_output=True, text=True)
	if p.returncode != 0:
		print("FAIL %s: %s: exit %d: %s" % (model, " ".join(cmd),
		      p.returncode, p.stderr.strip()))
		return None
	return out


def check(nncc_run, d, model, xfile, ok, total):
	cmd = [nncc_run, os.path.join(d, model), os.path.join(d, xfile),
	       "--labels", os.path.join(d, "digits_y.npy")]
	p = subprocess.run(cmd, capture_output=True, text=True)
	text = (p.stdout + p.stderr).strip()
	got = reported(text, total) if p.returncode == 0 else None
	good = got == (ok, total)
	print("%s %s: expected %d/%d (%.6f), nncc-run said: %s" % (
		"PASS" if good else "FAIL", model, ok, total, ok / total,
		text.replace("\n", " | ")))
	if p.returncode != 0:
		print("  exit status %d: %s" % (p.returncode, " ".join(cmd)))
	return good


def main():
	if len(sys.argv) < 3:
		print(__doc__)
		return 2
	nncc_run, d, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
	via = None
	if rest[:1] == ["--via-ir"]:
		via, rest = rest[1:3], rest[3:]
		os.makedirs(via[1], exist_ok=True)
	exp = expectations(d)
	results = []
	for m in rest or sorted(exp):
		results.append(check(nncc_run, d, m, *exp[m]))
		if via:
			ir = to_ir(via[0], via[1], d, m)
			results.append(ir is not None and
				       check(nncc_run, d, ir, *exp[m]))
	return 0 if all(results) else 1


if __name__ == "__main__":
	sys.exit(main())
