#!/usr/bin/python3
"""Trains the digits demo models and writes everything nncc's example and
e2e accuracy test need: mlp.onnx, cnn.onnx, mlp_pruned.onnx (90% of its
weights zeroed by PyTorch's own magnitude pruning with fine-tuning, as
training-side pruning leaves a model), mlp_l1.onnx (sparsified with an
L1 / group-L1 penalty so that dead-neuron removal has real work), the test
split (digits_x.npy, digits_x_img.npy, digits_y.npy), 512 training samples
for calibration (digits_calib_x.npy, digits_calib_x_img.npy,
digits_calib_y.npy) and expected_accuracy.txt.

The recorded accuracies come from PyTorch, and are cross-checked against a
small numpy evaluation of the exported ONNX graphs (no onnxruntime on Debian),
so a broken export cannot hide. Deterministic: fixed seeds, one thread, the
split from sklearn's bundled load_digits (no download).

Run: /usr/bin/python3 examples/digits/train.py [--out DIR]
"""
import argparse
import os
import random

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 1234
OPSET = 13
CALIB = 512  # training samples saved for --calib


def set_seeds():
	random.seed(SEED)
	np.random.seed(SEED)
	torch.manual_seed(SEED)
	torch.set_num_threads(1)
	torch.use_deterministic_algorithms(True)


def load_split():
	d = load_digits()
	x = (d.data / 16.0).astype(np.float32)
	y = d.target.astype(np.int64)
	return train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)


class Mlp(nn.Module):
	def __init__(self):
		super().__init__()
		self.fc1 = nn.Linear(64, 128)
		self.fc2 = nn.Linear(128, 64)
		self.fc3 = nn.Linear(64, 10)

	def forward(self, x):
		x = torch.relu(self.fc1(x))
		x = torch.relu(self.fc2(x))
		return self.fc3(x)


class Cnn(nn.Module):
	"""1x8x8 -> conv/bn/relu/maxpool -> conv/relu -> flatten -> linear."""

	def __init__(self):
		super().__init__()
		self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
		self.bn1 = nn.BatchNorm2d(8)
		self.pool = nn.MaxPool2d(2)
		self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
		self.flat = nn.Flatten()
		self.fc = nn.Linear(16 * 4 * 4, 10)

	def forward(self, x):
		x = self.pool(torch.relu(self.bn1(self.conv1(x))))
		x = torch.relu(self.conv2(x))
		return self.fc(self.flat(x))


class Block(nn.Module):
	"""Two 3x3 conv/BN, ReLU between and after the residual Add; a 1x1
	conv projects the skip where the width or stride changes."""

	def __init__(self, cin, cout, stride):
		super().__init__()
		self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
		self.bn1 = nn.BatchNorm2d(cout)
		self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
		self.bn2 = nn.BatchNorm2d(cout)
		self.proj = None
		if stride != 1 or cin != cout:
			self.proj = nn.Conv2d(cin, cout, 1, stride)

	def forward(self, x):
		y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
		return torch.relu(y + (self.proj(x) if self.proj else x))


class ResCnn(nn.Module):
	"""1x8x8 -> conv(8)/BN/ReLU -> 3 residual blocks (8, 16 stride 2, 16)
	-> global average pool -> linear: the residual model of --slim."""

	def __init__(self):
		super().__init__()
		self.stem = nn.Conv2d(1, 8, 3, padding=1, bias=False)
		self.bn = nn.BatchNorm2d(8)
		self.layer1 = nn.Sequential(Block(8, 8, 1))
		self.layer2 = nn.Sequential(Block(8, 16, 2), Block(16, 16, 1))
		self.pool = nn.AdaptiveAvgPool2d(1)
		self.flat = nn.Flatten()
		self.fc = nn.Linear(16, 10)

	def forward(self, x):
		x = torch.relu(self.bn(self.stem(x)))
		x = self.layer2(self.layer1(x))
		return self.fc(self.flat(self.pool(x)))


def group_prox(layer, lam):
	"""Proximal step of a group-L1 penalty over each output neuron's
	(weights, bias): whole groups become exactly zero, i.e. dead neurons."""
	with torch.no_grad():
		g = torch.cat([layer.weight, layer.bias[:, None]], dim=1)
		norm = g.norm(dim=1, keepdim=True)
		scale = torch.clamp(1 - lam / torch.clamp(norm, min=1e-12), min=0)
		layer.weight.mul_(scale)
		layer.bias.mul_(scale[:, 0])


def elem_prox(layer, lam):
	"""Proximal step of an element-wise L1 penalty (soft thresholding)."""
	with torch.no_grad():
		w = layer.weight
		w.copy_(torch.sign(w) * torch.clamp(w.abs() - lam, min=0))


def train(model, x, y, epochs, l1=None):
	opt = torch.optim.Adam(model.parameters(), lr=3e-3)
	gen = torch.Generator().manual_seed(SEED)
	xt, yt = torch.from_numpy(x), torch.from_numpy(y)
	model.train()
	for _ in range(epochs):
		perm = torch.randperm(len(xt), generator=gen)
		for i in range(0, len(xt), 64):
			idx = perm[i:i + 64]
			loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
			opt.zero_grad()
			loss.backward()
			opt.step()
			if l1:
				l1(model)
	model.eval()


def sparsify(model):
	# ISTA-style: gradient step on the loss, then the L1 proximal steps.
	group_prox(model.fc1, 3e-3)
	group_prox(model.fc2, 3e-3)
	for fc in (model.fc1, model.fc2, model.fc3):
		elem_prox(fc, 2e-4)


def prune_finetune(model, xtr, ytr, target, rounds, epochs):
	# What training-side pruning does: global magnitude masks, raised over
	# a few rounds with fine-tuning in between, then baked in as zeros.
	# The model is no smaller or faster for it; nncc makes it pay.
	import torch.nn.utils.prune as tprune
	params = [(fc, "weight") for fc in (model.fc1, model.fc2, model.fc3)]
	step = 1 - (1 - target) ** (1 / rounds)  # of what is still unpruned
	for _ in range(rounds):
		tprune.global_unstructured(params, amount=step,
					   pruning_method=tprune.L1Unstructured)
		train(model, xtr, ytr, epochs)
	for fc, name in params:
		tprune.remove(fc, name)


def torch_logits(model, x):
	with torch.no_grad():
		return model(torch.from_numpy(x)).numpy()


def export(model, x, path):
	torch.onnx.export(model, torch.from_numpy(x[:1]), path,
			  input_names=["input"], output_names=["logits"],
			  dynamic_axes={"input": {0: "batch"},
					"logits": {0: "batch"}},
			  opset_version=OPSET, do_constant_folding=True)
	onnx.checker.check_model(onnx.load(path))


# --- numpy evaluation of the exported graphs: an oracle independent of both
# --- PyTorch and nncc, covering only the ops these exports contain.

def np_conv(x, w, b, pads, strides):
	n, c, h, wd = x.shape
	m, _, kh, kw = w.shape
	x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
	oh = (x.shape[2] - kh) // strides[0] + 1
	ow = (x.shape[3] - kw) // strides[1] + 1
	out = np.zeros((n, m, oh, ow), np.float32)
	for i in range(kh):
		for j in range(kw):
			patch = x[:, :, i:i + oh * strides[0]:strides[0],
				  j:j + ow * strides[1]:strides[1]]
			out += np.einsum("nchw,mc->nmhw", patch, w[:, :, i, j])
	return out + (b.reshape(1, -1, 1, 1) if b is not None else 0)


def np_maxpool(x, k, s):
	n, c, h, w = x.shape
	oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
	out = np.full((n, c, oh, ow), -np.inf, np.float32)
	for i in range(k[0]):
		for j in range(k[1]):
			out = np.maximum(out, x[:, :, i:i + oh * s[0]:s[0],
						j:j + ow * s[1]:s[1]])
	return out


def np_node(node, ins, a):
	op = node.op_type
	if op == "Gemm":
		av = ins[0].T if a.get("transA") else ins[0]
		bv = ins[1].T if a.get("transB") else ins[1]
		r = a.get("alpha", 1.0) * (av @ bv)
		return r + a.get("beta", 1.0) * ins[2] if len(ins) > 2 else r
	if op == "MatMul":
		return ins[0] @ ins[1]
	if op == "Add":
		return ins[0] + ins[1]
	if op == "Relu":
		return np.maximum(ins[0], 0)
	if op == "Flatten":
		ax = a.get("axis", 1)
		return ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
	if op == "Conv":
		k = len(ins[1].shape) - 2
		return np_conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
			       a.get("pads", [0] * 2 * k), a.get("strides", [1] * k))
	if op == "GlobalAveragePool":
		return ins[0].mean(axis=(2, 3), keepdims=True)
	if op == "MaxPool":
		return np_maxpool(ins[0], a["kernel_shape"], a.get("strides"))
	if op == "BatchNormalization":
		x, s, bias, mean, var = ins
		sh = (1, -1, 1, 1)
		return ((x - mean.reshape(sh)) / np.sqrt(var.reshape(sh) +
			a.get("epsilon", 1e-5)) * s.reshape(sh) + bias.reshape(sh))
	raise NotImplementedError("numpy oracle lacks op " + op)


def np_run(path, x):
	m = onnx.load(path)
	env = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
	env[m.graph.input[0].name] = x
	for node in m.graph.node:
		a = {at.name: onnx.helper.get_attribute_value(at)
		     for at in node.attribute}
		ins = [env[i] for i in node.input if i]
		env[node.output[0]] = np_node(node, ins, a).astype(np.float32)
	return env[m.graph.output[0].name]


def accuracy(logits, y):
	return int((logits.argmax(axis=1) == y).sum())


def min_margin(logits):
	s = np.sort(logits, axis=1)
	return float((s[:, -1] - s[:, -2]).min())


def dead_neurons(layer):
	w = layer.weight.detach().numpy()
	b = layer.bias.detach().numpy()
	return int(((np.abs(w).sum(axis=1) == 0) & (b <= 0)).sum())


def build(name, model, xtr, ytr, xte, yte, out, epochs, l1=None,
	  xfile="digits_x.npy"):
	train(model, xtr, ytr, epochs, l1)
	path = os.path.join(out, name + ".onnx")
	export(model, xte, path)
	lt, ln = torch_logits(model, xte), np_run(path, xte)
	ct, cn = accuracy(lt, yte), accuracy(ln, yte)
	if ct != cn:
		raise SystemExit("%s: ONNX graph disagrees with PyTorch: %d vs %d"
				 % (name, cn, ct))
	print("%s: %d/%d correct, max |torch-onnx| %.2e, min top-2 margin %.3g"
	      % (name, ct, len(yte), np.abs(lt - ln).max(), min_margin(lt)))
	return "%s.onnx %s %.6f %d/%d" % (name, xfile, ct / len(yte), ct,
					   len(yte))


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
	out = ap.parse_args().out
	set_seeds()
	xtr, xte, ytr, yte = load_split()
	img = lambda v: v.reshape(-1, 1, 8, 8)
	np.save(os.path.join(out, "digits_x.npy"), xte)
	np.save(os.path.join(out, "digits_x_img.npy"), img(xte))
	np.save(os.path.join(out, "digits_y.npy"), yte)
	# calibration samples for the data-driven passes: unlabeled training
	# inputs (labels too, for --prune=auto with --labels)
	np.save(os.path.join(out, "digits_calib_x.npy"), xtr[:CALIB])
	np.save(os.path.join(out, "digits_calib_x_img.npy"), img(xtr[:CALIB]))
	np.save(os.path.join(out, "digits_calib_y.npy"), ytr[:CALIB])
	lines = [build("mlp", Mlp(), xtr, ytr, xte, yte, out, 40)]
	torch.manual_seed(SEED)
	lines.append(build("cnn", Cnn(), img(xtr), ytr, img(xte), yte, out, 30,
			   xfile="digits_x_img.npy"))
	torch.manual_seed(SEED)
	l1 = Mlp()
	lines.append(build("mlp_l1", l1, xtr, ytr, xte, yte, out, 60, sparsify))
	dead = (dead_neurons(l1.fc1), dead_neurons(l1.fc2))
	zeros = sum(int((fc.weight == 0).sum()) for fc in (l1.fc1, l1.fc2, l1.fc3))
	print("mlp_l1: dead neurons fc1 %d/128, fc2 %d/64; zero weights %d/%d"
	      % (dead + (zeros, 64 * 128 + 128 * 64 + 64 * 10)))
	torch.manual_seed(SEED)
	pruned = Mlp()
	train(pruned, xtr, ytr, 40)
	prune_finetune(pruned, xtr, ytr, 0.9, 4, 10)
	lines.append(build("mlp_pruned", pruned, xtr, ytr, xte, yte, out, 0))
	zeros = sum(int((fc.weight == 0).sum())
		    for fc in (pruned.fc1, pruned.fc2, pruned.fc3))
	print("mlp_pruned: zero weights %d/%d"
	      % (zeros, 64 * 128 + 128 * 64 + 64 * 10))
	torch.manual_seed(SEED)
	lines.append(build("rescnn", ResCnn(), img(xtr), ytr, img(xte), yte, out,
			   30, xfile="digits_x_img.npy"))
	with open(os.path.join(out, "expected_accuracy.txt"), "w") as f:
		f.write("# model input top1-accuracy correct/total (PyTorch, test"
			" split, labels digits_y.npy; written by train.py)\n")
		f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
	main()
