"""Writes an IR graph of N chained 4x4 MatMul layers (for the report's
row cap): make_chain.py N OUT.nnir"""
import sys

n, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    f.write("graph @chain(%x: f32[1,4]) -> (f32[1,4]) {\n")
    prev = "%x"
    for i in range(n):
        f.write("  %%w%d = const f32[4,4] random(seed=%d)\n" % (i, i + 1))
        f.write('  %%%d = MatMul(%s, %%w%d) : f32[1,4] loc("l%d")\n'
                % (i, prev, i, i))
        prev = "%%%d" % i
    f.write("  return %s\n}\n" % prev)
