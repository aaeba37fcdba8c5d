#!/usr/bin/python3
"""The spatial sampling ops against PyTorch in float64 on random data:
GridSample in every mode x padding_mode x align_corners
(torch.nn.functional.grid_sample; grid points reach past [-1, 1] so that
every padding mode matters) and RoiAlign avg in both coordinate
transformations, with and without sampling_ratio (torchvision.ops.
roi_align; rois reach past the image). RoiAlign max, which torchvision
lacks, is checked on values worked out by hand (onnxruntime's rule: the
largest weighted tap). Each model is checked by the interpreter
(nncc-run --expect) and compiled (nncc -O2, linked with
test/codegen/harness.c).

Run: /usr/bin/python3 test/e2e/sample_torch.py TOOLS_DIR WORK_DIR CC
         NNRT_INCLUDE NNRT_LIB
Prints one line per check; exits 1 on failure.
"""
import itertools
import os
import sys

import numpy as np
import onnx
import torch
import torchvision
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_check as tc  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6


def check(wd, name, nodes, ins, exp):
    """ins: [(name, array)]; exp: [(output name, expected array)], the
    outputs of nodes that are the graph's, at most 4 (the harness's)."""
    tp = {np.dtype(np.float32): TensorProto.FLOAT,
          np.dtype(np.int64): TensorProto.INT64}
    g = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(n, tp[a.dtype], a.shape)
         for n, a in ins],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
         for n, _ in exp])
    path = os.path.join(wd, name + ".onnx")
    onnx.save(helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 16)]), path)
    files = []
    for n, a in ins:
        files.append(os.path.join(wd, "%s_%s.npy" % (name, n)))
        np.save(files[-1], a)
    return tc.run_both(path, files, [e for _, e in exp], name, RTOL, ATOL,
                       opt="-O2", label=name + " ")


def grid(wd, rng):
    x = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    gr = rng.uniform(-1.6, 1.6, (2, 4, 6, 2)).astype(np.float32)
    xt, gt = torch.tensor(x, dtype=torch.float64), \
        torch.tensor(gr, dtype=torch.float64)
    nodes, exp = [], []
    for k, (mode, pad, ac) in enumerate(itertools.product(
            ["bilinear", "nearest", "bicubic"],
            ["zeros", "border", "reflection"], [0, 1])):
        nodes.append(helper.make_node(
            "GridSample", ["X", "G"], ["g%d" % k], name="gs%d" % k,
            mode=mode, padding_mode=pad, align_corners=ac))
        exp.append(torch.nn.functional.grid_sample(
            xt, gt, mode=mode, padding_mode=pad,
            align_corners=bool(ac)).numpy())
    # One output (the harness takes at most 4): every result along axis 0.
    nodes.append(helper.make_node("Concat", [n.output[0] for n in nodes],
                                  ["all"], axis=0))
    return check(wd, "grid", nodes, [("X", x), ("G", gr)],
                 [("all", np.concatenate(exp, 0))])


def roi(wd, rng):
    x = rng.standard_normal((2, 3, 9, 7)).astype(np.float32)
    lo = rng.uniform(-2, 9, (6, 2))
    rois = np.concatenate([lo, lo + rng.uniform(0.2, 8, (6, 2))],
                          1).astype(np.float32)
    bi = np.array([0, 1, 1, 0, 1, 0], dtype=np.int64)
    boxes = torch.cat([torch.tensor(bi, dtype=torch.float64)[:, None],
                       torch.tensor(rois, dtype=torch.float64)], 1)
    xt = torch.tensor(x, dtype=torch.float64)
    nodes, exp = [], []
    for k, (half, sr, ss) in enumerate(itertools.product(
            [True, False], [0, 2], [1.0, 0.5])):
        nodes.append(helper.make_node(
            "RoiAlign", ["X", "R", "B"], ["r%d" % k], name="ra%d" % k,
            coordinate_transformation_mode="half_pixel" if half
            else "output_half_pixel", output_height=3, output_width=2,
            sampling_ratio=sr, spatial_scale=ss))
        exp.append(torchvision.ops.roi_align(
            xt, boxes, (3, 2), spatial_scale=ss, sampling_ratio=sr,
            aligned=half).numpy())
    nodes.append(helper.make_node("Concat", [n.output[0] for n in nodes],
                                  ["all"], axis=0))
    return check(wd, "roi", nodes,
                 [("X", x), ("R", rois), ("B", bi)],
                 [("all", np.concatenate(exp, 0))])


def roi_max(wd):
    """X = [[1, 2], [3, 4]]. Roi (0,0)-(1,1), one sample at (0.5, 0.5):
    taps 1, 2, 3, 4 weigh 0.25 each (max 1, avg 2.5). Roi (0,0)-(2,2),
    2x2 samples at 0.5 and 1.5; a coordinate past the last row or column
    (1.5 >= H - 1) is clamped to it: the samples' weighted taps are
    {.25,.5,.75,1} (sum 2.5), {1, 0, 2, 0} (3), {1.5, 2, 0, 0} (3.5),
    {4, 0, 0, 0} (4): max 4, avg 13 / 4."""
    x = np.array([[[[1, 2], [3, 4]]]], dtype=np.float32)
    rois = np.array([[0, 0, 1, 1], [0, 0, 2, 2]], dtype=np.float32)
    bi = np.array([0, 0], dtype=np.int64)
    nodes = [helper.make_node(
        "RoiAlign", ["X", "R", "B"], [m], mode=m,
        coordinate_transformation_mode="output_half_pixel",
        sampling_ratio=s) for m, s in (("max", 0), ("avg", 0))]
    # sampling_ratio 0: ceil(roi size / 1) samples, 1 and 2 per axis.
    return check(wd, "roimax", nodes,
                 [("X", x), ("R", rois), ("B", bi)],
                 [("max", np.array([1, 4.0]).reshape(2, 1, 1, 1)),
                  ("avg", np.array([2.5, 3.25]).reshape(2, 1, 1, 1))])


def main():
    wd = sys.argv[2]
    os.makedirs(wd, exist_ok=True)
    rng = np.random.default_rng(3)
    ok = grid(wd, rng)
    ok &= roi(wd, rng)
    ok &= roi_max(wd)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
