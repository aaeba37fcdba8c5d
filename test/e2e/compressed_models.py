#!/usr/bin/python3
"""Compression as a user runs it, on small PyTorch exports nobody tuned for:
each model is compiled with the documented flags (--prune=S:METHOD for every
method, --prune-rules, --share=K alone and with pruning, -O3 and -Os,
--report with --calib/--labels, and each sparse kernel forced), linked with test/codegen/harness.c (written
from the generated API only) and run; its output must equal `nncc-run` on
the IR code generation received (--emit-ir) within rtol 1e-4 / atol 1e-5.

With --report, the table is checked against that IR and against nncc-run:
each layer's nnz is its weight's non-zeros in the IR, sparsity is
1 - nnz/params, the layers' bytes add up to the total, magnitude-pruned
layers reach the asked sparsity, the fidelity line's a/n is its agreement,
and the accuracies equal nncc-run --labels on the dense and compressed IR.

Models (random weights, fixed seeds, exported here at test time): a CNN
with BatchNorm, depthwise and grouped convs and a residual Add; an MLP of
MatMul+Add (not Gemm) compiled at batch 1 and batch 4 (--input-shape); a
1-D conv net; a net of ConvTranspose layers.

Run: /usr/bin/python3 test/e2e/compressed_models.py BUILD_DIR OUT_DIR [-k S]
NNCC_COMPRESSED_BIG=DIR additionally runs DIR/NAME.onnx with DIR/NAME_x.npy
for NAME in NNCC_COMPRESSED_MODELS (comma-separated; slow: minutes each).
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "codegen"))
import run_compiled as rc  # noqa: E402

SEED = 20241128
NCALIB = 24

# The matrix: (model, flags). "@calib" / "@labels" / "@rules" stand for
# the model's files. Every method, both size modes, sharing alone and
# after pruning, rules, and the report with and without --calib.
FLAGS = {
	"magnitude": ["-O3", "--prune=0.9:magnitude", "--report"],
	"global": ["-O3", "--prune=0.9:global", "--report", "--calib", "@calib",
		   "--labels", "@labels"],
	"random": ["-Os", "--prune=0.9:random"],
	"l1": ["-O3", "--prune=0.5:l1", "--report"],
	"l2": ["-Os", "--prune=0.5:l2"],
	"nm": ["-O3", "--prune=0.5:nm2:4", "--report"],
	"block4x4": ["-O3", "--prune=0.8:block4x4"],
	"block1x8": ["-Os", "--prune=0.8:block1x8", "--share=16"],
	"share": ["-O3", "--share=16", "--report"],
	"share-Os": ["-Os", "--prune=0.9:magnitude", "--share=16", "--report",
		     "--calib", "@calib"],
	"rules": ["-O3", "--prune-rules", "@rules", "--report"],
	"rules+share": ["-Os", "--prune=0.7", "--prune-rules", "@rules",
			"--share=8"],
	"share256": ["-O3", "--share=256"],
	# the kernels the cost model leaves to bigger layers, forced
	"unrolled": ["-O3", "--prune=0.9:magnitude", "--share=16",
		     "--sparse-kernel=unrolled", "--report"],
	"table": ["-O3", "--prune=0.8:block4x4", "--sparse-kernel=table"],
}
MATRIX = {
	"cnn": list(FLAGS),
	"mlp": list(FLAGS),
	"mlp_b4": ["magnitude", "l1", "nm", "share-Os", "rules", "unrolled"],
	"conv1d": ["magnitude", "global", "l2", "nm", "block1x8", "share-Os",
		   "unrolled"],
	"convt": ["magnitude", "random", "l1", "block4x4", "share", "rules",
		  "unrolled", "table"],
}


# ---------------------------------------------------------------- models

def export(out):
	"""Writes OUT/NAME.onnx, NAME_x.npy (calibration samples), NAME_y.npy
	(their labels) and NAME.rules for every model; cached."""
	if os.path.exists(os.path.join(out, "done")):
		return
	import torch
	import torch.nn as nn

	torch.manual_seed(SEED)

	class Cnn(nn.Module):
		def __init__(self):
			super().__init__()
			self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1),
						  nn.BatchNorm2d(16), nn.ReLU())
			self.dw = nn.Sequential(
				nn.Conv2d(16, 16, 3, padding=1, groups=16),
				nn.BatchNorm2d(16), nn.ReLU(),
				nn.Conv2d(16, 16, 1), nn.ReLU())
			self.grp = nn.Conv2d(16, 24, 3, stride=2, padding=1,
					     groups=4)
			self.fc = nn.Linear(24 * 6 * 6, 10)

		def forward(self, x):
			x = self.stem(x)
			x = x + self.dw(x)
			x = torch.relu(self.grp(x))
			return self.fc(x.flatten(1))

	class MatMulMlp(nn.Module):
		"""x @ W + b: MatMul and Add nodes, not Gemm."""
		def __init__(self):
			super().__init__()
			self.w1 = nn.Parameter(torch.randn(32, 64) * 0.2)
			self.b1 = nn.Parameter(torch.randn(64) * 0.1)
			self.w2 = nn.Parameter(torch.randn(64, 48) * 0.2)
			self.b2 = nn.Parameter(torch.randn(48) * 0.1)
			self.w3 = nn.Parameter(torch.randn(48, 10) * 0.2)

		def forward(self, x):
			x = torch.relu(x @ self.w1 + self.b1)
			x = torch.relu(x @ self.w2 + self.b2)
			return x @ self.w3

	conv1d = nn.Sequential(
		nn.Conv1d(4, 16, 5, padding=2), nn.ReLU(),
		nn.Conv1d(16, 16, 3, stride=2, padding=1), nn.ReLU(),
		nn.Conv1d(16, 8, 1), nn.Flatten(), nn.Linear(8 * 16, 6))
	convt = nn.Sequential(
		nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
		nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1), nn.ReLU(),
		nn.ConvTranspose2d(8, 4, 3, padding=1, groups=2), nn.ReLU(),
		nn.Conv2d(4, 2, 1))
	models = {
		# name: (module, sample shape, rules file)
		"cnn": (Cnn(), (3, 12, 12),
			"/stem*  dense\n/fc/*  0.5 l1   # rows are classes\n"
			"*dw*   nm n=2 m=4\n"),
		"mlp": (MatMulMlp(), (32,), "*MatMul_2  dense\n*  0.8 random\n"),
		"conv1d": (conv1d, (4, 32), "*  0.6 block block=2x2\n"),
		"convt": (convt, (3, 6, 6),
			  "*ConvTranspose*  0.75 magnitude\n*  dense\n"),
	}
	for name, (m, shape, rules) in models.items():
		m.eval()
		with torch.no_grad():
			for p in m.modules():  # BatchNorm with real statistics
				if isinstance(p, nn.BatchNorm2d):
					p.running_mean.uniform_(-0.5, 0.5)
					p.running_var.uniform_(0.5, 2)
			x = torch.randn((NCALIB,) + shape)
			y = m(x).reshape(NCALIB, -1).argmax(1)
			torch.onnx.export(m, torch.randn((1,) + shape),
					  os.path.join(out, name + ".onnx"),
					  input_names=["x"], output_names=["y"],
					  dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
					  opset_version=13)
		np.save(os.path.join(out, name + "_x.npy"), x.numpy())
		np.save(os.path.join(out, name + "_y.npy"), y.numpy())
		with open(os.path.join(out, name + ".rules"), "w") as f:
			f.write(rules)
	open(os.path.join(out, "done"), "w").close()


# ---------------------------------------------------------------- checks

def sh(args):
	p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
			   universal_newlines=True, timeout=3000)
	return p.returncode, p.stdout, p.stderr


def weight_nnz(t, ir):
	"""{layer name: nnz of its weight} from the IR text's summaries."""
	_, text, _ = sh([t.nncc_opt, ir])
	nnz = {m.group(1): int(m.group(2)) for m in re.finditer(
		r"^\s*(%\S+) = const \S+ elided\(nnz=(\d+)", text, re.M)}
	full = {}
	for m in re.finditer(r"^\s*%\S+ = [\w.]+\(%\S+?, (%[^,)]+).*"
			     r'loc\("([^"]+)"\)', text, re.M):
		if m.group(1) in nnz:
			full[m.group(2)] = nnz[m.group(1)]
	for k, v in nnz.items():  # layers named by their weight
		full.setdefault(k[1:], v)
	return full


def accuracy(t, model, x, y, shapes=()):
	args = [t.nncc_run, model, x, "--labels", y]
	for s in shapes:
		args += ["--input-shape", s]
	rcode, out, err = sh(args)
	m = re.search(r"accuracy[^0-9]*([0-9.]+) \((\d+)/(\d+)\)", out + err)
	return (int(m.group(2)), int(m.group(3))) if m else (out + err)


ROW = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+([0-9.]+)%\s+"
		 r"(\d+)\s+(\S+)\s*$")


def check_rows(t, report, ir, flags):
	"""The per-layer table against the IR code generation received."""
	nnz = weight_nnz(t, ir)
	rows = [ROW.match(l) for l in report.splitlines()]
	rows = [r for r in rows if r]
	if not rows:
		return "no layer rows in the report:\n" + report
	total = 0
	prune = [f for f in flags if f.startswith("--prune=")]
	for r in rows:
		name, params, n, sp = r.group(1), int(r.group(4)), \
			int(r.group(5)), float(r.group(6))
		total += int(r.group(7))
		if name in nnz and nnz[name] != n:
			return "layer %s: report nnz %d, the IR's weight has %d" % (
				name, n, nnz[name])
		if abs(sp - 100.0 * (1 - n / params)) > 0.006:
			return "layer %s: sparsity %.2f%% is not 1 - %d/%d" % (
				name, sp, n, params)
		if prune == ["--prune=0.9:magnitude"] and \
				n > params - round(0.9 * params):
			return "layer %s: %d of %d non-zero after per-layer 0.9" % (
				name, n, params)
	m = re.search(r"(\d+) bytes in the object after", report)
	if not m or int(m.group(1)) != total:
		return "the layers' bytes add up to %d, the total says %s" % (
			total, m.group(1) if m else "nothing")
	return None


def check_report(t, report, ir, flags, case, shapes):
	err = check_rows(t, report, ir, flags)
	if err:
		return err
	m = re.search(r"fidelity on (\d+) samples .* top-1 agreement "
		      r"([0-9.]+) \((\d+)/(\d+)\)", report)
	if not m or int(m.group(4)) != int(m.group(1)) or \
			abs(float(m.group(2)) - int(m.group(3)) /
			    int(m.group(4))) > 1e-4:
		return "bad fidelity line:\n" + report
	if "--calib" in flags and int(m.group(1)) != NCALIB:
		return "fidelity on %s samples, --calib has %d" % (
			m.group(1), NCALIB)
	if "--labels" not in flags:
		return None
	a = re.search(r"accuracy: [0-9.]+ \((\d+)/(\d+)\), uncompressed "
		      r"[0-9.]+ \((\d+)/(\d+)\)", report)
	x, y = case + "_x.npy", case + "_y.npy"
	got = accuracy(t, ir, x, y, shapes)
	ref = accuracy(t, case + ".onnx", x, y, shapes)
	if not a or got != (int(a.group(1)), int(a.group(2))) or \
			ref != (int(a.group(3)), int(a.group(4))):
		return "accuracy line %r; nncc-run says %r compressed, %r " \
			"dense" % (a and a.group(0), got, ref)
	return None


def run_case(t, case, flags, shapes=(), x=None):
	"""Compile case.onnx (or case itself, an .nnir) with flags, run,
	compare; check the report."""
	model = case if case.endswith(".nnir") else case + ".onnx"
	case = case[:-5] if case.endswith(".nnir") else case
	sub = {"@calib": case + "_x.npy", "@labels": case + "_y.npy",
	       "@rules": case + ".rules"}
	flags = [sub.get(f, f) for f in flags]
	opt = [f for f in flags if f.startswith("-O")][-1]
	extra = [f for f in flags if not f.startswith("-O")]
	wd = tempfile.mkdtemp(prefix="cmp-")
	try:
		args = [t.nncc, model, opt, "-o", wd + "/m.o", "-H",
			wd + "/m.h", "--emit-ir", wd + "/m.nnir", "--name", "m"]
		for s in shapes:
			args += ["--input-shape", s]
		code, report, err = sh(args + extra)
		if code:
			return "nncc failed:\n" + report + err
		code, out, err = sh([rc.CC, "-O1", "-o", wd + "/run",
				     os.path.join(rc.HERE, "harness.c"), wd + "/m.o",
				     "-I" + wd, "-I" + t.rt_inc, "-DMODEL=m",
				     '-DHEADER="m.h"', t.rt, "-lm", "-lpthread"])
		if code:
			return "link failed:\n" + out + err
		ins = [x] if x else rc.random_inputs(wd + "/m.h", wd, SEED)
		code, out = rc.run_exe(wd + "/run", ins, [wd + "/out.npy"])
		if code:
			return "harness exit %d\n%s" % (code, out)
		code, out, err = sh([t.nncc_run, wd + "/m.nnir"] + ins +
				    ["-o", wd + "/ref.npy"])
		if code:
			return "nncc-run failed:\n" + out + err
		msg = rc.close(np.load(wd + "/out.npy"), np.load(wd + "/ref.npy"))
		if msg:
			return "compiled vs nncc-run on the emitted IR: " + msg
		if "--report" in flags:
			return check_report(t, report, wd + "/m.nnir", flags, case,
					    shapes)
		return None
	finally:
		shutil.rmtree(wd, ignore_errors=True)


def jobs(t, out):
	for model, names in MATRIX.items():
		base = os.path.join(out, model.split("_b")[0])
		shapes = ["x=4x32"] if model == "mlp_b4" else []
		for n in names:
			flags = FLAGS[n]
			if shapes and "@labels" in flags:
				continue
			yield "%s %s" % (model, " ".join(flags)), \
				lambda b=base, f=flags, s=shapes: run_case(t, b, f, s)
	big = os.environ.get("NNCC_COMPRESSED_BIG")
	for name in filter(None, os.environ.get("NNCC_COMPRESSED_MODELS",
						"").split(",")):
		base = os.path.join(big, name)
		for n in ("magnitude", "l1", "nm", "share-Os"):
			flags = [f for f in FLAGS[n] if f not in ("--calib",
								  "@calib")]
			yield "%s %s" % (name, " ".join(flags)), \
				lambda b=base, f=flags: run_case(
					t, b, f, x=b + "_x.npy")


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("build")
	ap.add_argument("out")
	ap.add_argument("-k", help="only cases whose name contains this")
	ap.add_argument("-j", type=int, default=2)
	a = ap.parse_args()
	os.makedirs(a.out, exist_ok=True)
	export(a.out)
	t = rc.Tools(os.path.abspath(a.build))
	t.nncc_opt = os.path.join(os.path.abspath(a.build), "tools", "nncc-opt")
	todo = [(n, f) for n, f in jobs(t, a.out) if not a.k or a.k in n]
	failed = 0
	with concurrent.futures.ThreadPoolExecutor(a.j) as ex:
		futs = [(n, ex.submit(f)) for n, f in todo]
		for n, fu in futs:
			try:
				err = fu.result()
			except Exception as e:  # the runner itself
				err = "runner error: %r" % e
			if err:
				failed += 1
				print("FAIL %s: %s" % (n, err.rstrip()))
	print("%d passed, %d failed" % (len(todo) - failed, failed))
	return 1 if failed else 0


if __name__ == "__main__":
	sys.exit(main())
