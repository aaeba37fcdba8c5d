"""Writes the .npy files of the nncc-run tests into DIR. Expected values
are computed here with numpy, independently of nncc."""
import os
import sys

import numpy as np

d = sys.argv[1]
os.makedirs(d, exist_ok=True)


def save(name, arr):
    np.save(os.path.join(d, name + ".npy"), arr)


x = np.array([[1.0, -2.0, 3.0, 0.5]], dtype=np.float32)
save("x", x)
save("x_f64", x.astype(np.float64))
save("x_shape", x.reshape(2, 2))
save("y", np.maximum(x @ np.full((4, 2), 0.5, np.float32), 0))
save("y_off", np.maximum(x @ np.full((4, 2), 0.5, np.float32), 0) + 0.01)
save("y_close", np.maximum(x @ np.full((4, 2), 0.5, np.float32), 0)
     * (1 + 5e-5))
save("y_shape", np.zeros((2,), np.float32))

save("nan", np.array([[np.nan, 1.0, -np.inf]], np.float32))
save("nan_zero", np.array([[0.0, 1.0, -np.inf]], np.float32))
save("ints", np.array([5, -7, 1 << 40], np.int64))
save("ints_off", np.array([5, -6, 1 << 40], np.int64))

# 10 samples of 3 scores; argmax is the row's label for 7 of them.
rng = np.random.default_rng(7)
samples = rng.standard_normal((10, 3)).astype(np.float32)
labels = samples.argmax(axis=1).astype(np.int64)
labels[[1, 4, 8]] = (labels[[1, 4, 8]] + 1) % 3
save("samples", samples.reshape(10, 1, 3)[:, 0, :])
save("labels", labels)
save("labels_short", labels[:9])
save("labels_f32", labels.astype(np.float32))
save("samples7", samples[:7])
