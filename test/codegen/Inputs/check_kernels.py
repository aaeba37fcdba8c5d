"""Checks that --print-stats and --report name the kernel code generation
emitted for every weight layer, in graph order.

usage: check_kernels.py MODEL.ll REPORT.txt STATS.txt

The emitted kernel is read from the LLVM IR (--emit-llvm -S), not from
nncc's own choice: a node function NAME_<Op>_<i> (with what it calls and
the globals it or its callers pass it) that uses packed dense weights
(_wpack, _wconv) is dense; one that calls its .part straight-line code
with _spw weights is unrolled; one with _sp and _tab tables is the table
kernel. Prints one summary line; exits 1 on a mismatch.
"""
import re
import sys


def emitted(ll):
    """[(op, kernel)] of the node functions that are weight layers, by
    node index."""
    refs, cur = {}, None
    for line in open(ll):
        m = re.match(r"define .*?@([\w.]+)\(", line)
        if m:
            cur = m.group(1)
            refs.setdefault(cur, set())
            continue
        if line.startswith("}"):
            cur = None
            continue
        if cur is None:
            continue
        names = re.findall(r"@([\w.]+)", line)
        refs[cur].update(names)
        m = re.search(r"call \w+ @([\w.]+)\(", line)
        if m:  # lifted constants are passed by the caller (-O0)
            refs.setdefault(m.group(1), set()).update(names)
    layers = []
    for f, r in refs.items():
        m = re.match(r"\w+?_((?:nncc\.)?\w+?)_(\d+)$", f)
        if not m:
            continue
        r = r | refs.get(f + ".part", set()) | ({"PART"}
                                              if f + ".part" in r else set())
        tags = {t for g in r for t in ("_wpack", "_wconv", "_spw", "_sp",
                                       "_tab") if re.search(t + r"(\.\d+)?$",
                                                            g)}
        if "_wpack" in tags or "_wconv" in tags:
            k = "dense"
        elif "PART" in r and "_spw" in tags:
            k = "unrolled"
        elif "_sp" in tags and "_tab" in tags:
            k = "table"
        else:
            continue  # not a weight layer's kernel
        layers.append((int(m.group(2)), m.group(1), k))
    return [(op, k) for _, op, k in sorted(layers)]


def reported(path):
    rows, inside = [], False
    for line in open(path):
        f = line.split()
        if f[:2] == ["layer", "op"]:
            inside = True
        elif inside and (not f or f[0] == "weights:"):
            break
        elif inside:
            rows.append((f[1], f[-1]))
    return rows


def stats(path):
    rows = []
    for line in open(path):
        m = re.match(r"nncc: kernel \S+\s+(\S+)\s.*-> (\w+)", line)
        if m:
            rows.append((m.group(1), m.group(2)))
    return rows


def main():
    got = emitted(sys.argv[1])
    for what, rows in (("--report", reported(sys.argv[2])),
                       ("--print-stats", stats(sys.argv[3]))):
        if rows != got:
            print("check_kernels: FAIL: %s says %s, the code has %s"
                  % (what, rows, got))
            sys.exit(1)
    print("check_kernels: ok: %d layers: %s"
          % (len(got), " ".join(k for _, k in got)))


if __name__ == "__main__":
    main()
