#!/usr/bin/python3
"""Prints the number of non-zero elements over the rank-2+ f32 constants
(the weight layers) of IR text written with full weights (nncc --emit-ir),
counted from the text itself, independently of nncc's own nnz facts."""
import re
import sys

total = 0
for line in open(sys.argv[1]):
    m = re.search(r"= const f32\[(\d+(?:,\d+)+)\] \[(.*)\]", line)
    if m:
        total += sum(float(v) != 0.0 for v in m.group(2).split(","))
print("weight nnz %d" % total)
