#!/usr/bin/python3
"""Exports the e2e models from PyTorch with random weights (fixed seeds) and
writes, per case, model.onnx, input_<i>.npy, expected_<i>.npy and args.txt
(extra nncc-run arguments). The expected outputs come from PyTorch run in
float64, so they carry no float32 rounding of their own.

Run: /usr/bin/python3 test/e2e/export_models.py OUT_DIR [--only NAME,...]
"""
import argparse
import copy
import hashlib
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 20240601


class Case:
	def __init__(self, name, build, shapes, opset=13, heavy=False,
		     dynamic=False, fold=True, args=(), tol=None, external=False):
		self.name, self.build, self.shapes = name, build, shapes
		self.external = external  # weights in a separate file
		self.opset, self.heavy, self.dynamic = opset, heavy, dynamic
		self.fold, self.args = fold, list(args)
		# (rtol, atol) for nncc-run --expect; the brief's default.
		self.tol = tol or (1e-4, 1e-5)


# ---------------------------------------------------------------- models

def mlp():
	return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64),
			     nn.ReLU(), nn.Linear(64, 10))


def cnn():
	return nn.Sequential(
		nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
		nn.MaxPool2d(2),
		nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
		nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))


class DynReshape(nn.Module):
	"""x.view(x.size(0), -1): Shape/Gather/Unsqueeze/Concat/Reshape."""

	def __init__(self):
		super().__init__()
		self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
		self.fc = nn.Linear(4 * 8 * 8, 5)

	def forward(self, x):
		x = F.relu(self.conv(x))
		return self.fc(x.view(x.size(0), -1))


class LayerNormNet(nn.Module):
	def __init__(self):
		super().__init__()
		self.fc = nn.Linear(32, 48)
		self.ln = nn.LayerNorm(48)

	def forward(self, x):
		return self.ln(self.fc(x))


class SoftmaxNet(nn.Module):
	def __init__(self):
		super().__init__()
		self.fc = nn.Linear(16, 10)

	def forward(self, x):
		y = self.fc(x)
		return F.softmax(y, dim=-1), F.log_softmax(y, dim=1)


class Upsample(nn.Module):
	def __init__(self, mode, align=None):
		super().__init__()
		self.conv = nn.Conv2d(3, 4, 3, padding=1)
		self.mode, self.align = mode, align

	def forward(self, x):
		return F.interpolate(self.conv(x), scale_factor=2, mode=self.mode,
				     align_corners=self.align)


class ResizeSizes(nn.Module):
	"""Resize to explicit sizes (the `sizes` input, non-integer scales),
	down and up, nearest and bilinear."""

	def forward(self, x):
		a = F.interpolate(x, size=(5, 7), mode="nearest")
		b = F.interpolate(x, size=(11, 13), mode="bilinear",
				  align_corners=False)
		c = F.interpolate(x, size=(4, 4), mode="bilinear",
				  align_corners=False)
		return a, b, c


class Softmax4d(nn.Module):
	"""Softmax over the channel axis of NCHW: opset 11's Softmax coerces
	to 2-D, so exporters rewrite it; opset 13 takes the axis as is."""

	def forward(self, x):
		return F.softmax(x, dim=1), F.log_softmax(x, dim=-2)


class SqueezeSlice(nn.Module):
	"""Squeeze/Unsqueeze (axes attribute before opset 13, input after),
	negative slice bounds and a reversed axis."""

	def forward(self, x):
		y = x.unsqueeze(2).squeeze(0)
		z = y[..., -3:, 1:-1]
		return z.flip(-1), x.squeeze(0)[:, -1]


class GeluTanh(nn.Module):
	def __init__(self):
		super().__init__()
		self.fc = nn.Linear(12, 12)

	def forward(self, x):
		return F.gelu(self.fc(x), approximate="tanh")


class Pools(nn.Module):
	def __init__(self):
		super().__init__()
		self.conv = nn.Conv2d(3, 6, 3)

	def forward(self, x):
		x = self.conv(x)
		a = F.avg_pool2d(x, 3, 2, 1, count_include_pad=True)
		b = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
		c = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)
		c = c + F.avg_pool2d(x, 2, 2, ceil_mode=True)[..., :c.shape[-1]]
		g = F.adaptive_avg_pool2d(x, 1) + F.adaptive_max_pool2d(x, 1)
		return a + b + g, c


class ConvT(nn.Module):
	def __init__(self):
		super().__init__()
		self.conv = nn.Conv2d(3, 8, 3, padding=1)
		self.up = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1,
					     output_padding=1)

	def forward(self, x):
		return self.up(F.relu(self.conv(x)))


class ConcatSplit(nn.Module):
	"""Two inputs, two outputs: graph order of both matters."""

	def __init__(self):
		super().__init__()
		self.conv = nn.Conv2d(8, 8, 1)

	def forward(self, a, b):
		x = self.conv(torch.cat([a, b], dim=1))
		s0, s1 = torch.split(x, [3, 5], dim=1)
		return F.relu(s0), torch.sigmoid(s1)


class ConvVariants(nn.Module):
	def __init__(self):
		super().__init__()
		self.grouped = nn.Conv2d(4, 8, 3, padding=1, groups=2)
		self.dilated = nn.Conv2d(8, 8, 3, padding=2, dilation=2, bias=False)
		self.strided = nn.Conv2d(8, 6, 5, stride=3, padding=(1, 2))
		self.depthwise = nn.Conv2d(6, 6, 3, padding=1, groups=6)

	def forward(self, x):
		x = F.relu(self.grouped(x))
		x = F.leaky_relu(self.dilated(x), 0.1)
		return self.depthwise(self.strided(x))


class Conv1d(nn.Module):
	def __init__(self):
		super().__init__()
		self.conv = nn.Conv1d(4, 6, 5, padding=2)
		self.bn = nn.BatchNorm1d(6)

	def forward(self, x):
		return F.max_pool1d(F.relu(self.bn(self.conv(x))), 2)


class Elementwise(nn.Module):
	"""Unary and binary ops with their edge cases kept in range."""

	def __init__(self):
		super().__init__()
		self.prelu = nn.PReLU(4, init=0.2)

	def forward(self, x):
		a = torch.abs(x) + 0.5
		y = torch.exp(-a) + torch.log(a) + torch.sqrt(a) + 1.0 / a
		y = y + torch.tanh(x) * torch.sigmoid(x) - (-x)
		y = y + torch.clamp(x, -0.5, 0.7) + torch.pow(x, 2) / 3.0
		y = y + F.hardsigmoid(x) + F.hardswish(x) + self.prelu(x)
		return y + F.relu6(x * 4) + F.gelu(x)


class Shuffle(nn.Module):
	"""Pad, Slice (with steps), Transpose, Gather, Squeeze/Unsqueeze."""

	def forward(self, x):
		y = F.pad(x, (1, 2, 0, 1), value=0.5)
		y = y[:, :, 1:6, ::2]
		z = y.permute(0, 2, 3, 1)
		g = z[:, 2] + z.index_select(1, torch.tensor([0, 2, 1]))[:, 1]
		return g.unsqueeze(1), F.pad(x, (2, 1, 1, 2), mode="reflect")


class Reduce(nn.Module):
	def forward(self, x):
		m = x.mean(dim=(2, 3), keepdim=True)
		s = x.sum(dim=1)
		mx = x.amax(dim=-1)
		return x - m, s, mx


class ArgMax(nn.Module):
	def forward(self, x):
		return torch.argmax(x, dim=1)


class Attention(nn.Module):
	"""One transformer block: 3-D MatMul, Transpose, Softmax, LayerNorm
	(decomposed at opset 13), GELU (Erf)."""

	def __init__(self, d=32, heads=4):
		super().__init__()
		self.h, self.dk = heads, d // heads
		self.qkv = nn.Linear(d, 3 * d)
		self.out = nn.Linear(d, d)
		self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
		self.ff = nn.Sequential(nn.Linear(d, 64), nn.GELU(), nn.Linear(64, d))

	def forward(self, x):
		n, t, d = x.shape
		q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
		sh = lambda z: z.reshape(n, t, self.h, self.dk).transpose(1, 2)
		q, k, v = sh(q), sh(k), sh(v)
		a = torch.softmax(q @ k.transpose(-1, -2) / self.dk ** 0.5, dim=-1)
		y = (a @ v).transpose(1, 2).reshape(n, t, d)
		x = x + self.out(y)
		return x + self.ff(self.ln2(x))


def resnet18():
	import torchvision
	return torchvision.models.resnet18(weights=None)


def mobilenet_v2():
	import torchvision
	return torchvision.models.mobilenet_v2(weights=None)


CASES = [
	Case("mlp", mlp, [(2, 64)]),
	Case("mlp_external_data", mlp, [(2, 64)], external=True),
	Case("mlp_dynbatch", mlp, [(4, 64)], dynamic=True,
	     args=["--input-shape", "in_0=4x64"]),
	Case("cnn", cnn, [(1, 3, 32, 32)]),
	# A static batch lets the exporter fold x.size(0) away; a dynamic one
	# keeps the Shape/Gather/Unsqueeze/Concat/Reshape chain in the graph.
	Case("dynreshape_op11", DynReshape, [(2, 3, 16, 16)], opset=11,
	     fold=False),
	Case("dynreshape_op13", DynReshape, [(2, 3, 16, 16)], dynamic=True,
	     args=["--input-shape", "in_0=2x3x16x16"]),
	Case("layernorm_op13", LayerNormNet, [(2, 5, 32)]),
	Case("layernorm_op17", LayerNormNet, [(2, 5, 32)], opset=17),
	Case("softmax_op11", SoftmaxNet, [(3, 16)], opset=11),
	Case("softmax_op13", SoftmaxNet, [(3, 16)]),
	Case("upsample_nearest_op10", lambda: Upsample("nearest"),
	     [(1, 3, 7, 9)], opset=10),
	Case("upsample_nearest_op13", lambda: Upsample("nearest"),
	     [(1, 3, 7, 9)]),
	Case("upsample_bilinear_op11", lambda: Upsample("bilinear", False),
	     [(1, 3, 7, 9)], opset=11),
	Case("upsample_bilinear_align_op13", lambda: Upsample("bilinear", True),
	     [(1, 3, 7, 9)]),
	Case("resize_sizes", ResizeSizes, [(1, 2, 8, 9)]),
	Case("softmax4d_op11", Softmax4d, [(2, 3, 4, 5)], opset=11),
	Case("softmax4d_op13", Softmax4d, [(2, 3, 4, 5)]),
	Case("squeeze_slice_op11", SqueezeSlice, [(1, 3, 6, 7)], opset=11),
	Case("squeeze_slice_op13", SqueezeSlice, [(1, 3, 6, 7)]),
	Case("gelu_tanh", GeluTanh, [(3, 12)]),
	Case("pools", Pools, [(1, 3, 15, 15)]),
	Case("convtranspose", ConvT, [(1, 3, 9, 9)]),
	Case("concat_split_op11", ConcatSplit, [(1, 4, 6, 6), (1, 4, 6, 6)],
	     opset=11),
	Case("concat_split_op13", ConcatSplit, [(1, 4, 6, 6), (1, 4, 6, 6)]),
	Case("conv_variants", ConvVariants, [(1, 4, 20, 20)]),
	Case("conv1d", Conv1d, [(2, 4, 30)]),
	Case("elementwise_op14", Elementwise, [(2, 4, 5, 5)], opset=14),
	Case("shuffle", Shuffle, [(1, 3, 6, 8)]),
	Case("reduce_op13", Reduce, [(2, 3, 4, 5)]),
	Case("reduce_op11", Reduce, [(2, 3, 4, 5)], opset=11),
	Case("argmax", ArgMax, [(3, 10)]),
	Case("attention", Attention, [(2, 6, 32)]),
	Case("mobilenet_v2_op10", mobilenet_v2, [(1, 3, 64, 64)], opset=10),
	Case("resnet18", resnet18, [(1, 3, 224, 224)], heavy=True),
	Case("mobilenet_v2", mobilenet_v2, [(1, 3, 224, 224)], heavy=True),
]


# ---------------------------------------------------------------- export

def randomize_norms(model, shapes):
	"""Default BN statistics (mean 0, var 1) make BN nearly an identity and
	let deep activations drift; estimate real statistics on random data and
	give the affine parameters non-trivial values, so folding BN is tested
	and outputs stay O(1) (which keeps a relative tolerance meaningful)."""
	norms = [m for m in model.modules()
		 if isinstance(m, nn.modules.batchnorm._BatchNorm)]
	if not norms:
		return
	for m in norms:
		m.reset_running_stats()
		m.momentum = None
	model.train()
	with torch.no_grad():
		batch = [torch.randn((4,) + tuple(s[1:])) for s in shapes]
		model(*batch)
		for m in norms:
			m.weight.uniform_(0.5, 1.5)
			m.bias.normal_(0, 0.1)
			# Channels that random weights leave almost constant
			# (var ~1e-5) would amplify float32 rounding 300x and
			# make any fixed tolerance a coin toss.
			m.running_var.clamp_(min=1e-2)
	model.eval()


def as_tuple(out):
	return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def reference(model, inputs):
	"""Outputs in float64 (exact up to the model's own math); falls back to
	float32 for ops that have no double kernel."""
	with torch.no_grad():
		try:
			m64 = copy.deepcopy(model).double()
			outs = as_tuple(m64(*[t.double() for t in inputs]))
		except RuntimeError:
			outs = as_tuple(model(*inputs))
		f32 = as_tuple(model(*inputs))
	# .npy files in C order: permuted outputs come back as strided views.
	conv = lambda o: np.ascontiguousarray(o.numpy().astype(
		np.float32 if o.is_floating_point() else o.numpy().dtype))
	return [conv(o) for o in outs], [o.numpy() for o in f32]


def export_case(case, out):
	torch.manual_seed(SEED)
	model = case.build()
	randomize_norms(model, case.shapes)
	model.eval()
	inputs = [torch.randn(s) for s in case.shapes]
	d = os.path.join(out, case.name)
	os.makedirs(d, exist_ok=True)
	names_in = ["in_%d" % i for i in range(len(inputs))]
	expected, f32 = reference(model, inputs)
	names_out = ["out_%d" % i for i in range(len(expected))]
	dyn = None
	if case.dynamic:
		dyn = {n: {0: "batch"} for n in names_in + names_out}
	torch.onnx.export(model, tuple(inputs), os.path.join(d, "model.onnx"),
			  input_names=names_in, output_names=names_out,
			  opset_version=case.opset, dynamic_axes=dyn,
			  do_constant_folding=case.fold)
	if case.external:
		to_external_data(os.path.join(d, "model.onnx"))
	for i, t in enumerate(inputs):
		np.save(os.path.join(d, "input_%d.npy" % i),
			np.ascontiguousarray(t.numpy()))
	for i, e in enumerate(expected):
		np.save(os.path.join(d, "expected_%d.npy" % i), e)
	rtol, atol = case.tol
	with open(os.path.join(d, "args.txt"), "w") as f:
		f.write(" ".join(case.args + ["--rtol", str(rtol), "--atol",
					      str(atol)]) + "\n")
	with open(os.path.join(d, "stamp.txt"), "w") as f:
		f.write(self_hash() + "\n")
	return float32_gap(expected, f32, rtol, atol)


def to_external_data(path):
	"""Re-saves the model with every initializer in weights.bin beside it,
	as exporters do for models over 2 GB."""
	import onnx
	m = onnx.load(path)
	onnx.save_model(m, path, save_as_external_data=True,
			all_tensors_to_one_file=True, location="weights.bin",
			size_threshold=0)


def self_hash():
	"""Identifies this exporter version, so stale exports get redone."""
	with open(os.path.abspath(__file__), "rb") as f:
		return hashlib.sha256(f.read()).hexdigest()


def float32_gap(expected, f32, rtol, atol):
	"""How far PyTorch's own float32 run lands from the float64 reference,
	as a fraction of the tolerance: a hint of how tight the test is."""
	worst = 0.0
	for e, g in zip(expected, f32):
		if e.dtype.kind != "f":
			continue
		lim = atol + rtol * np.abs(e.astype(np.float64))
		worst = max(worst, float((np.abs(g - e) / lim).max()))
	return worst


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("out")
	ap.add_argument("--only", default="")
	ap.add_argument("--skip-heavy", action="store_true")
	a = ap.parse_args()
	only = set(filter(None, a.only.split(",")))
	torch.set_num_threads(1)
	os.makedirs(a.out, exist_ok=True)
	import warnings
	warnings.filterwarnings("ignore")
	for case in CASES:
		if (only and case.name not in only) or (a.skip_heavy and case.heavy):
			continue
		gap = export_case(case, a.out)
		print("exported %-30s torch-f32 error/tolerance %.2f"
		      % (case.name, gap), flush=True)
	return 0


if __name__ == "__main__":
	sys.exit(main())
