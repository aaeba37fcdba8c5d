#!/usr/bin/python3
"""split_samples.py X.npy LOGITS.npy DIR I...: for each sample index I,
writes DIR/xI.npy (that sample of X, batch 1) and DIR/yI.npy (its row of
LOGITS, batch 1), so that nncc-run can check one sample at a time."""
import os
import sys

import numpy as np

x, logits, d = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3]
assert x.shape[0] == logits.shape[0], (x.shape, logits.shape)
for i in map(int, sys.argv[4:]):
    np.save(os.path.join(d, f"x{i}.npy"), x[i:i + 1])
    np.save(os.path.join(d, f"y{i}.npy"), logits[i:i + 1])
