#!/usr/bin/python3
"""Accuracy against sparsity for every prune method, without data, with
refit (--calib) and with distillation, as nncc reports it (--report with
--eval/--labels: accuracy on the test split, which --calib never sees).
Writes a markdown table per model (rows: method x sparsity; columns: the
data configurations) with the CPU it ran on.

Run: /usr/bin/python3 bench/accuracy.py --build build [--out FILE]
	[--models digits_mlp,digits_cnn] [--extra NAME=ONNX,CALIB,TEST_X,TEST_Y]
	[--methods ...] [--sparsities 0.5,0.8,0.9,0.95]

--extra adds a model of your own (for example one trained on MNIST):
its calibration samples, test inputs and labels as .npy files.
"""
import argparse
import os
import platform
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DIGITS = os.path.join(ROOT, "examples", "digits")

MODELS = {
	"digits_mlp": ("mlp.onnx", "digits_calib_x.npy", "digits_x.npy"),
	"digits_cnn": ("cnn.onnx", "digits_calib_x_img.npy",
		       "digits_x_img.npy"),
}
METHODS = ["magnitude", "global", "random", "l1", "l2", "nm2:4",
	   "block4x4", "wanda", "apoz", "activation"]
# the data configurations: extra flags, whether they need --calib
CONFIGS = [
	("no data", [], False),
	("refit", [], True),
	("distill, no refit", ["--no-refit", "--distill"], True),
	("refit + distill", ["--distill"], True),
]


def cpu():
	try:
		out = subprocess.run(["lscpu"], capture_output=True,
				     text=True).stdout
		m = re.search(r"Model name:\s*(.*)", out)
		return m.group(1).strip() if m else platform.processor()
	except OSError:
		return platform.processor()


def accuracy(nncc, onnx, calib, tx, ty, flags):
	args = [nncc, onnx, "-O3", "--report", "-o", os.devnull,
		"--labels", ty] + flags
	args += ["--eval", tx]
	if calib:
		args += ["--calib", calib]
	p = subprocess.run(args, capture_output=True, text=True)
	if p.returncode:
		err = (p.stderr.strip().splitlines() or ["failed"])[-1]
		return None, err
	m = re.search(r"^accuracy: ([0-9.]+) .*uncompressed ([0-9.]+)",
		      p.stdout, re.M)
	if not m:
		return None, "no accuracy line in the report"
	return (float(m.group(1)), float(m.group(2))), ""


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("--build", default=os.path.join(ROOT, "build"))
	ap.add_argument("--out", default=os.path.join(HERE,
						   "results-accuracy.md"))
	ap.add_argument("--models", default="digits_mlp,digits_cnn")
	ap.add_argument("--extra", action="append", default=[])
	ap.add_argument("--methods", default=",".join(METHODS))
	ap.add_argument("--sparsities", default="0.5,0.8,0.9,0.95")
	a = ap.parse_args()
	nncc = os.path.join(a.build, "tools", "nncc")
	models = {}
	for m in a.models.split(","):
		f = MODELS[m]
		models[m] = tuple(os.path.join(DIGITS, x) for x in f) + (
			os.path.join(DIGITS, "digits_y.npy"),)
	for e in a.extra:
		name, files = e.split("=", 1)
		models[name] = tuple(files.split(","))
	lines = ["# Accuracy against sparsity, per prune method and data",
		 "", "Made by `bench/accuracy.py` on %s, %s. Accuracy on each "
		 "model's test split (never in `--calib`), measured by nncc's "
		 "own `--report`; `--calib` holds unlabeled training samples. "
		 "`refit` is the default with `--calib`; `distill` is "
		 "`--distill` (T=4). A dash: the build was refused (the "
		 "reason is in the notes)." % (cpu(), time.strftime("%Y-%m-%d")),
		 ""]
	notes = {}
	for name, (onnx, calib, tx, ty) in models.items():
		dense = None
		rows = []
		for meth in a.methods.split(","):
			for s in a.sparsities.split(","):
				cells = []
				for cname, flags, need in CONFIGS:
					r, err = accuracy(nncc, onnx,
							  calib if need else None,
							  tx, ty, ["--prune=%s:%s" %
								   (s, meth)] + flags)
					if r is None:
						notes.setdefault(err, []).append(
							"%s %s:%s %s" % (name, s, meth,
									 cname))
						cells.append("-")
					else:
						dense = r[1]
						cells.append("%.2f%%" % (100 * r[0]))
				rows.append("| %s | %s | %s |" % (meth, s,
								   " | ".join(cells)))
				print(rows[-1], flush=True)
		lines += ["## %s (dense %s)" % (name, "%.2f%%" % (100 * dense)
						 if dense is not None else "?"), "",
			  "| method | sparsity | " + " | ".join(
				  c[0] for c in CONFIGS) + " |",
			  "|---|---:|" + "---:|" * len(CONFIGS)] + rows + [""]
	if notes:
		lines += ["## Notes", ""]
		for err, where in notes.items():
			lines.append("- %s: %s" % (", ".join(where[:4]) +
						   (" ..." if len(where) > 4 else ""),
						   err))
	with open(a.out, "w") as f:
		f.write("\n".join(lines) + "\n")
	print("wrote", a.out)


if __name__ == "__main__":
	sys.exit(main())
