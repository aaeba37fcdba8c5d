#!/usr/bin/python3
"""Refit on the trained digits models, as a user runs it: nncc compiles
each model with --prune=S:global, once without data and once with
--calib (512 unlabeled training samples, so refit runs), writes the IR
code generation received (--emit-ir), and links the object with the demo
app (examples/digits/app.c). On the test split, nncc-run on that IR and
the linked object must agree exactly, the refit build must be within
MAX_DROP of the dense model's accuracy and at least MIN_GAIN above the
build without data. The bounds are the issue's kind of target at this
scale (tiny models: 17k and 4k weights), not figures copied from nncc.

Run: /usr/bin/python3 refit_digits.py BUILD_DIR OUT_DIR  (CC: the C compiler
that links the app; lit sets the test suite's, with any sanitizer flags)
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DIGITS = os.path.join(ROOT, "examples", "digits")

# model, its input files (calibration, test), sparsity, max drop, min gain
CASES = [
	("mlp", "digits_calib_x.npy", "digits_x.npy", 0.9, 0.03, 0.2),
	("mlp", "digits_calib_x.npy", "digits_x.npy", 0.8, 0.02, 0.03),
	("cnn", "digits_calib_x_img.npy", "digits_x_img.npy", 0.8, 0.02, 0.1),
]


def sh(args):
	p = subprocess.run(args, capture_output=True, text=True)
	if p.returncode:
		sys.exit("failed: %s\n%s%s" % (" ".join(args), p.stdout, p.stderr))
	return p.stdout


def accuracy(text):
	m = re.search(r"accuracy[: ]+([0-9.]+)", text)
	if not m:
		sys.exit("no accuracy in:\n" + text)
	return float(m.group(1))


def build(bd, out, model, flags, tag):
	d = os.path.join(out, "%s-%s" % (model, tag))
	os.makedirs(d, exist_ok=True)
	sh([os.path.join(bd, "tools", "nncc"),
	    os.path.join(DIGITS, model + ".onnx"), "-O3", "--name", "digits",
	    "-o", d + "/digits.o", "-H", d + "/digits.h", "--emit-ir",
	    d + "/m.nnir"] + flags)
	sh([os.environ.get("CC", "cc"), "-O1", "-I" + d,
	    "-I" + os.path.join(ROOT, "runtime"),
	    os.path.join(DIGITS, "app.c"), d + "/digits.o",
	    os.path.join(bd, "runtime", "libnncc_rt.a"), "-lm", "-o",
	    d + "/app"])
	return d


def main():
	bd, out = sys.argv[1], sys.argv[2]
	y = os.path.join(DIGITS, "digits_y.npy")
	run = os.path.join(bd, "tools", "nncc-run")
	failed = passed = 0
	for model, xc, xt, s, drop, gain in CASES:
		xt = os.path.join(DIGITS, xt)
		dense = accuracy(sh([run, os.path.join(DIGITS, model + ".onnx"),
				     xt, "--labels", y]))
		acc = {}
		for tag, extra in (("nodata", []),
				   ("refit", ["--calib",
					      os.path.join(DIGITS, xc)])):
			d = build(bd, out, model, ["--prune=%g:global" % s] +
				  extra, "%g-%s" % (s, tag))
			ir = accuracy(sh([run, d + "/m.nnir", xt, "--labels", y]))
			obj = accuracy(sh([d + "/app", xt, y]))
			if abs(ir - obj) > 1e-9:
				print("FAIL %s %g %s: object %.4f, IR %.4f" %
				      (model, s, tag, obj, ir))
				failed += 1
			acc[tag] = ir
		ok = dense - acc["refit"] <= drop and \
			acc["refit"] - acc["nodata"] >= gain
		print("%s %s at %g: dense %.4f, no data %.4f, refit %.4f "
		      "(drop bound %g, gain bound %g)" % ("ok  " if ok else "FAIL",
		      model, s, dense, acc["nodata"], acc["refit"], drop, gain))
		passed += ok
		failed += not ok
	print("%d passed, %d failed" % (passed, failed))
	sys.exit(1 if failed else 0)


if __name__ == "__main__":
	main()
