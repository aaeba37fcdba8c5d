#!/usr/bin/python3
"""rand_npy.py OUT.npy 1x3x8x8 [SEED]: a seeded standard-normal f32 input
for the lit tests that compare a graph before and after a pass."""
import sys

import numpy as np

shape = [int(d) for d in sys.argv[2].split("x")]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
np.save(sys.argv[1], np.random.RandomState(seed).randn(*shape)
	.astype(np.float32))
