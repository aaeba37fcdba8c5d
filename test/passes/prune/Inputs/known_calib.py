#!/usr/bin/python3
"""known_calib.py NAME OUT.npy: the calibration sets of the data-driven
prune tests, written out so each test's expected answer can be worked by
hand from the numbers here.

  neurons  f32[8,3]: x0 = 1..7 then -1 (ReLU(x0) zero once, ReLU(-x0)
           zero 7 times), x1 alternating +-1 (zero half the time), x2 -1
           six times then +1 twice.
  wanda    f32[8,2]: feature 0 is +-100, feature 1 is +-0.01, so
           ||x_0|| = 100 sqrt(8) and ||x_1|| = 0.01 sqrt(8).
  normal2  f32[64,2]: seeded standard normal (half the values negative).
  pos2     f32[64,2]: its absolute values, so ReLU(x) = x on every sample.
"""
import sys

import numpy as np

SETS = {
    "neurons": np.array([[1, 1, -1], [2, -1, -1], [3, 1, -1], [4, -1, -1],
                         [5, 1, -1], [6, -1, -1], [7, 1, 1], [-1, -1, 1]]),
    "wanda": np.array([[100, 0.01], [-100, -0.01]] * 4),
    "normal2": np.random.RandomState(7).randn(64, 2),
}
SETS["pos2"] = np.abs(SETS["normal2"])
np.save(sys.argv[2], SETS[sys.argv[1]].astype(np.float32))
