#!/usr/bin/python3
"""Exports a small CNN that flattens with x.view(x.size(0), -1), with a
dynamic batch, at the given opset, keeping BatchNormalization nodes
(TrainingMode.PRESERVE on an eval model) so the Shape -> Gather ->
Unsqueeze -> Concat -> Reshape chain and a BN reach the ONNX file; writes
the model, a batch-3 input and PyTorch's output.

usage: export_view.py OPSET OUT.onnx X.npy Y.npy"""
import sys

import numpy as np
import torch


class ViewNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.drop = torch.nn.Dropout(0.25)
        self.fc = torch.nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        x = torch.nn.functional.max_pool2d(x, 2)
        return self.fc(self.drop(x.view(x.size(0), -1)))


def main():
    opset, path, xpath, ypath = int(sys.argv[1]), *sys.argv[2:5]
    torch.manual_seed(0)
    m = ViewNet().eval()
    with torch.no_grad():
        m.bn.running_mean.uniform_(-0.5, 0.5)
        m.bn.running_var.uniform_(0.5, 2.0)
        m.bn.weight.uniform_(0.5, 1.5)
        m.bn.bias.uniform_(-0.5, 0.5)
        x = torch.randn(3, 3, 8, 8)
        y = m(x)
    torch.onnx.export(m, x, path, input_names=["x"], output_names=["y"],
                      opset_version=opset, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE,
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    np.save(xpath, x.numpy())
    np.save(ypath, y.numpy())


main()
