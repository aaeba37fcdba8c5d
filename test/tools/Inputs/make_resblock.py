"""Writes two small seeded models for the --emit-onnx tests, and an input:

  resblock.onnx (opset 13): a ResNet-like block (Conv+BN+Relu, Conv+BN, the
    residual Add, Relu), a ReLU6 (Clip) block, MaxPool, ReduceMean, and a
    Gemm+LeakyRelu+Gemm+Softmax head. At -O2 and above, fuse makes
    nncc.FusedConv with a residual and Relu/Clip activations, and
    nncc.FusedGemm with LeakyRelu.
  legacy.onnx (opset 10): old forms the importer rewrites (Clip min/max and
    Split/ReduceMax axes as attributes, Softmax over a 4-D tensor with the
    coerce-to-2-D meaning).
  x.npy: one input of shape [1, 4, 8, 8].

usage: make_resblock.py OUTDIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)


def const(name, shape, scale=0.3):
    a = (rng.standard_normal(shape) * scale).astype(np.float32)
    return numpy_helper.from_array(a, name)


def bn(prefix, c):
    scale = numpy_helper.from_array(
        (1 + 0.1 * rng.standard_normal(c)).astype(np.float32), prefix + ".s")
    bias = const(prefix + ".b", [c], 0.1)
    mean = const(prefix + ".m", [c], 0.1)
    var = numpy_helper.from_array(
        (1 + 0.2 * rng.random(c)).astype(np.float32), prefix + ".v")
    return [scale, bias, mean, var]


def resblock():
    inits, nodes = [], []
    inits += [const("w1", [4, 4, 3, 3]), const("w2", [4, 4, 3, 3]),
              const("w3", [8, 4, 3, 3]), const("b3", [8], 0.1)]
    inits += bn("bn1", 4) + bn("bn2", 4)
    inits += [numpy_helper.from_array(np.float32(0), "zero"),
              numpy_helper.from_array(np.float32(6), "six"),
              numpy_helper.from_array(np.array([2, 3], np.int64), "hw"),
              const("fc1.w", [8, 16]), const("fc1.b", [16], 0.1),
              const("fc2.w", [10, 16]), const("fc2.b", [10], 0.1)]
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes += [
        helper.make_node("Conv", ["x", "w1"], ["c1"], "conv1", **conv),
        helper.make_node("BatchNormalization",
                         ["c1", "bn1.s", "bn1.b", "bn1.m", "bn1.v"], ["n1"],
                         "bn1"),
        helper.make_node("Relu", ["n1"], ["r1"], "relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], "conv2", **conv),
        helper.make_node("BatchNormalization",
                         ["c2", "bn2.s", "bn2.b", "bn2.m", "bn2.v"], ["n2"],
                         "bn2"),
        helper.make_node("Add", ["n2", "x"], ["s"], "add"),
        helper.make_node("Relu", ["s"], ["r2"], "relu2"),
        helper.make_node("Conv", ["r2", "w3", "b3"], ["c3"], "conv3",
                         strides=[2, 2], **conv),
        helper.make_node("Clip", ["c3", "zero", "six"], ["r3"], "relu6"),
        helper.make_node("MaxPool", ["r3"], ["p"], "pool",
                         kernel_shape=[2, 2], strides=[1, 1]),
        helper.make_node("ReduceMean", ["p"], ["g"], "gap", axes=[2, 3],
                         keepdims=0),
        helper.make_node("Gemm", ["g", "fc1.w", "fc1.b"], ["f1"], "fc1"),
        helper.make_node("LeakyRelu", ["f1"], ["l1"], "lrelu", alpha=0.2),
        helper.make_node("Gemm", ["l1", "fc2.w", "fc2.b"], ["f2"], "fc2",
                         transB=1),
        helper.make_node("Softmax", ["f2"], ["y"], "softmax"),
    ]
    g = helper.make_graph(
        nodes, "resblock",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                       ["batch", 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                       ["batch", 10])],
        inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def legacy():
    inits = [const("w", [6, 4, 3, 3]), const("b", [6], 0.1)]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], "conv",
                         kernel_shape=[3, 3]),
        helper.make_node("Clip", ["c"], ["r"], "clip", min=-0.5, max=0.5),
        helper.make_node("Split", ["r"], ["a", "b2"], "split", axis=1,
                         split=[2, 4]),
        helper.make_node("ReduceMax", ["b2"], ["m"], "rmax", axes=[1],
                         keepdims=1),
        helper.make_node("Mul", ["a", "m"], ["am"], "mul"),
        helper.make_node("Softmax", ["am"], ["y"], "softmax", axis=1),
    ]
    g = helper.make_graph(
        nodes, "legacy",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                       [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                       [1, 2, 6, 6])],
        inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 10)])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, m in [("resblock", resblock()), ("legacy", legacy())]:
        m.ir_version = 7
        onnx.checker.check_model(m)
        onnx.save(m, os.path.join(out, name + ".onnx"))
    x = rng.standard_normal([1, 4, 8, 8]).astype(np.float32)
    np.save(os.path.join(out, "x.npy"), x)


if __name__ == "__main__":
    main()
