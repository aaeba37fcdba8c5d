#!/usr/bin/python3
"""refit against numpy: for hand-made layers (Gemm with bias, MatMul,
Conv with padding, stride and groups, shared weights), runs
`nncc-opt --calib X.npy --passes=prune{...},refit{damp=0}` and compares the
refit weights and biases with numpy's least squares on the same data
(numpy.linalg.lstsq over each row's surviving weights plus the bias, the
im2col rows of a Conv per group, and the joint centroid-and-bias problem
of a shared layer). Also a layer that pruning leaves exactly
reconstructable (a calibration feature that duplicates another) must be
refit to zero error. Prints 'N passed, N failed'; exits 1 on a failure.

Run: /usr/bin/python3 lstsq.py WORKDIR   (nncc-opt on PATH)
"""
import os
import re
import subprocess
import sys

import numpy as np

FAILED = []
PASSED = []


def fmt(a):
	return "[" + ", ".join(repr(float(v)) for v in np.asarray(a).ravel()) + "]"


def shape(a):
	return ",".join(str(d) for d in a.shape)


def run_opt(work, name, ir, calib, passes):
	path = os.path.join(work, name + ".nnir")
	with open(path, "w") as f:
		f.write(ir)
	xp = os.path.join(work, name + "_x.npy")
	np.save(xp, calib.astype(np.float32))
	r = subprocess.run(["nncc-opt", path, "--calib", xp, "--print-weights",
			    "--passes=" + passes], capture_output=True,
			   text=True)
	if r.returncode != 0:
		raise RuntimeError(r.stderr)
	return r.stdout


def const(text, name):
	m = re.search(r"%" + name + r" = const f32\[([0-9,]*)\] \[([^\]]*)\]",
		      text)
	if not m:
		raise RuntimeError("no constant %" + name + " in:\n" + text)
	dims = [int(d) for d in m.group(1).split(",") if d]
	return np.array([float(v) for v in m.group(2).split(",")],
			np.float64).reshape(dims)


def check(name, got, want, tol=2e-3):
	err = np.max(np.abs(got - want)) / max(1.0, np.max(np.abs(want)))
	if err <= tol:
		PASSED.append(name)
	else:
		FAILED.append(name)
		print("FAIL %s: max rel err %.3g\n got %s\nwant %s" %
		      (name, err, got.ravel()[:12], want.ravel()[:12]))


def lstsq_rows(X, Y, W, bias):
	"""Per output row j: least squares over the non-zero W[:, j] (K x M)
	and the bias, on rows X [N, K] against targets Y [N, M]."""
	W2 = np.zeros_like(W)
	b2 = np.zeros(W.shape[1])
	for j in range(W.shape[1]):
		keep = np.nonzero(W[:, j])[0]
		A = X[:, keep]
		if bias:
			A = np.hstack([A, np.ones((len(X), 1))])
		sol = np.linalg.lstsq(A, Y[:, j], rcond=None)[0]
		W2[keep, j] = sol[:len(keep)]
		if bias:
			b2[j] = sol[-1]
	return W2, b2


def gemm_case(work, rng):
	N, K, M = 96, 7, 4
	X = rng.standard_normal((N, K))
	W = rng.standard_normal((K, M))
	b = rng.standard_normal(M)
	Y = X @ W + b  # the teacher's outputs
	ir = ("graph @g(%%x: f32[1,%d]) -> (f32[1,%d]) {\n"
	      "  %%w = const f32[%s] %s\n  %%b = const f32[%d] %s\n"
	      "  %%0 = Gemm(%%x, %%w, %%b) : f32[1,%d] loc(\"fc\")\n"
	      "  return %%0\n}\n" % (K, M, shape(W), fmt(W), M, fmt(b), M))
	out = run_opt(work, "gemm", ir, X,
		      "prune{sparsity=0.5,method=magnitude},refit{damp=0}")
	Wp = const(out, "w")
	W2, b2 = lstsq_rows(X, Y, np.where(Wp != 0, W, 0), True)
	check("gemm weights", Wp, W2)
	check("gemm bias", const(out, "b"), b2)


def matmul_duplicate_case(work, rng):
	"""Feature 5 duplicates feature 0 on the calibration data, and pruning
	removes row 5 of W (its smallest weights): refit moves them onto row
	0, which reproduces the teacher exactly."""
	N, K, M = 64, 6, 3
	X = rng.standard_normal((N, K))
	X[:, 5] = X[:, 0]
	W = rng.standard_normal((K, M)) + np.sign(rng.standard_normal((K, M)))
	W[5] = [0.01, -0.02, 0.03]
	ir = ("graph @d(%%x: f32[1,%d]) -> (f32[1,%d]) {\n"
	      "  %%w = const f32[%s] %s\n"
	      "  %%0 = MatMul(%%x, %%w) : f32[1,%d] loc(\"fc\")\n"
	      "  return %%0\n}\n" % (K, M, shape(W), fmt(W), M))
	out = run_opt(work, "dup", ir, X,
		      "prune{sparsity=%r,method=global},refit{damp=0}" %
		      (3 / 18))
	want = W.copy()
	want[0] += W[5]
	want[5] = 0
	check("duplicate feature: exact reconstruction", const(out, "w"), want,
	      1e-4)


def im2col(x, C, k, pad, stride):
	"""x [C, H, W] -> rows [P, C*k*k] in the weight's (c, ky, kx) order."""
	_, H, Wd = x.shape
	xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
	oh = (H + 2 * pad - k) // stride + 1
	ow = (Wd + 2 * pad - k) // stride + 1
	rows = []
	for i in range(oh):
		for j in range(ow):
			patch = xp[:, i * stride:i * stride + k,
				   j * stride:j * stride + k]
			rows.append(patch.reshape(-1))
	return np.array(rows), oh, ow


def conv_case(work, rng, groups, C=4, H=6, k=3, pad=1, stride=2):
	N, M = 12, 6
	X = rng.standard_normal((N, C, H, H))
	W = rng.standard_normal((M, C // groups, k, k))
	b = rng.standard_normal(M)
	cg, mg = C // groups, M // groups
	rows, ys = [[] for _ in range(groups)], [[] for _ in range(groups)]
	for n in range(N):
		for g in range(groups):
			R, oh, ow = im2col(X[n, g * cg:(g + 1) * cg], cg, k, pad,
					   stride)
			Wg = W[g * mg:(g + 1) * mg].reshape(mg, -1)
			rows[g].append(R)
			ys[g].append(R @ Wg.T + b[g * mg:(g + 1) * mg])
	ir = ("graph @c(%%x: f32[1,%d,%d,%d]) -> (f32[1,%d,%d,%d]) {\n"
	      "  %%w = const f32[%s] %s\n  %%b = const f32[%d] %s\n"
	      "  %%0 = Conv(%%x, %%w, %%b) {group = %d, kernel_shape = [%d, %d], "
	      "pads = [%d, %d, %d, %d], strides = [%d, %d]} : f32[1,%d,%d,%d] "
	      "loc(\"conv\")\n  return %%0\n}\n" %
	      (C, H, H, M, oh, ow, shape(W), fmt(W), M, fmt(b), groups, k, k,
	       pad, pad, pad, pad, stride, stride, M, oh, ow))
	out = run_opt(work, "conv%d_%d" % (groups, k), ir, X,
		      "prune{sparsity=0.6,method=magnitude},refit{damp=0}")
	Wp = const(out, "w")
	want_w = np.zeros_like(W)
	want_b = np.zeros(M)
	for g in range(groups):
		R = np.concatenate(rows[g])
		Y = np.concatenate(ys[g])
		Wg = np.where(Wp != 0, W, 0)[g * mg:(g + 1) * mg].reshape(mg, -1)
		W2, b2 = lstsq_rows(R, Y, Wg.T, True)
		want_w[g * mg:(g + 1) * mg] = W2.T.reshape(mg, cg, k, k)
		want_b[g * mg:(g + 1) * mg] = b2
	check("conv group=%d k=%d weights" % (groups, k), Wp, want_w)
	check("conv group=%d k=%d bias" % (groups, k), const(out, "b"), want_b)


def shared_case(work, rng):
	"""Codes fixed after share-weights: the centroids (all non-zero) and
	the biases solve one least-squares problem over every row."""
	N, K, M, k = 128, 6, 5, 4
	X = rng.standard_normal((N, K))
	W = rng.standard_normal((K, M))
	b = rng.standard_normal(M)
	Y = X @ W + b
	ir = ("graph @s(%%x: f32[1,%d]) -> (f32[1,%d]) {\n"
	      "  %%w = const f32[%s] %s\n  %%b = const f32[%d] %s\n"
	      "  %%0 = Gemm(%%x, %%w, %%b) : f32[1,%d] loc(\"fc\")\n"
	      "  return %%0\n}\n" % (K, M, shape(W), fmt(W), M, fmt(b), M))
	shared = run_opt(work, "share", ir, X, "share-weights{k=%d}" % k)
	out = run_opt(work, "share_refit", ir, X,
		      "share-weights{k=%d},refit{damp=0}" % k)
	Ws = const(shared, "w")
	books = np.unique(Ws)
	codes = np.searchsorted(books, Ws)
	# unknowns: one centroid per code, and one bias per output
	A = np.zeros((N * M, len(books) + M))
	for j in range(M):
		for q in range(len(books)):
			A[j * N:(j + 1) * N, q] = X[:, codes[:, j] == q].sum(1)
		A[j * N:(j + 1) * N, len(books) + j] = 1
	sol = np.linalg.lstsq(A, Y.T.reshape(-1), rcond=None)[0]
	check("shared centroids", const(out, "w"), sol[codes])
	check("shared bias", const(out, "b"), sol[len(books):])
	got = np.unique(const(out, "w"))
	if len(got) <= len(books):
		PASSED.append("shared: still at most %d values" % len(books))
	else:
		FAILED.append("shared: %d values" % len(got))


def main():
	work = sys.argv[1]
	os.makedirs(work, exist_ok=True)
	rng = np.random.default_rng(5)
	for case in (gemm_case, matmul_duplicate_case, shared_case):
		case(work, rng)
	conv_case(work, rng, 1)
	conv_case(work, rng, 2)
	conv_case(work, rng, 1, C=3, H=16, k=7, pad=3, stride=2)  # a stem
	print("%d passed, %d failed" % (len(PASSED), len(FAILED)))
	sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
	main()
