#!/usr/bin/python3
"""Scaling check for the passes that rewrite many times per graph: writes
a chain of N blocks Identity -> Dropout -> Gemm -> Mul(per-channel const)
-> Relu as IR text, runs nncc-opt PASSES on it, and checks that every
block was rewritten and that memory and time stayed bounded (a pass that
recomputes uses after each rewrite needs O(N^2) of both).

usage: long_chain.py NNCC_OPT OUT_DIR PASSES N MAX_RSS_MB MAX_SECONDS"""
import os
import re
import resource
import subprocess
import sys
import time


def write_chain(path, n):
    lines = ["graph @chain(%x: f32[1,4]) -> (f32[1,4]) {",
             "  %w = const f32[4,4] splat(0.25)",
             "  %b = const f32[4] splat(0.5)",
             "  %s = const f32[4] [1, 2, 3, 4]"]
    prev = "%x"
    for k in range(n):
        lines += [f"  %i{k} = Identity({prev}) : f32[1,4]",
                  f"  %d{k} = Dropout(%i{k}) : f32[1,4]",
                  f"  %g{k} = Gemm(%d{k}, %w, %b) : f32[1,4]",
                  f"  %m{k} = Mul(%g{k}, %s) : f32[1,4]",
                  f"  %r{k} = Relu(%m{k}) : f32[1,4]"]
        prev = f"%r{k}"
    lines += [f"  return {prev}", "}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    opt, out, passes, n, max_mb, max_s = sys.argv[1:7]
    n, max_mb, max_s = int(n), float(max_mb), float(max_s)
    os.makedirs(out, exist_ok=True)
    src, dst = os.path.join(out, "chain.nnir"), os.path.join(out, "opt.nnir")
    write_chain(src, n)
    t0 = time.monotonic()
    r = subprocess.run([opt, src, "--passes=" + passes, "-o", dst],
                       capture_output=True, text=True)
    secs = time.monotonic() - t0
    mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if r.returncode:
        sys.exit("nncc-opt failed: " + r.stderr)
    ops = {}
    for op in re.findall(r"= ([A-Za-z.]+)\(", open(dst).read()):
        ops[op] = ops.get(op, 0) + 1
    print("ops:", " ".join(f"{k}={v}" for k, v in sorted(ops.items())))
    print(f"blocks: {n}, peak rss {mb:.0f} MB, {secs:.2f} s")
    ok = mb <= max_mb and secs <= max_s
    print("bounded:", "yes" if ok else
          f"NO (limits {max_mb:.0f} MB, {max_s:.1f} s)")


main()
