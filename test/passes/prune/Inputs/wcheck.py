"""Checks properties of weight constants in IR text printed with
--print-weights, independently of nncc's own code: counts, patterns of
zeros, magnitude order, codebook sizes. Exit 1 with a message on failure.

  wcheck.py FILE NAME[,NAME...] CHECK [ARGS]
checks:
  nnz N                    total non-zeros of the named constants
  rows-zero K VIEW         exactly K whole output rows are zero (VIEW: rows
                           = dim 0 'row' or the last dim 'col')
  rows-smallest ORIG VIEW l1|l2   zeroed rows had the smallest norms in ORIG
  nm N M VIEW              each group of M along the reduction dim keeps <= N
  nm-largest ORIG M VIEW   the kept weights of each group were its largest
  blocks R C K             the [dim0, rest] view (or transposed with 'col'
                           suffix not supported) is tiled RxC: every tile is
                           all zero or all non-zero; K tiles are zero
  magnitude ORIG           per constant, every pruned |w| <= every kept |w|
                           and kept weights are unchanged
  magnitude-global ORIG    the same over all the named constants together
  same ORIG                values identical to ORIG's
  zeros-kept ORIG          every zero of ORIG is still zero, and no new zero
  distinct K               at most K distinct values per constant
  distinct-all K           at most K distinct values over all of them
"""
import re
import sys


def load(path, name):
    text = open(path).read()
    pat = r"%" + re.escape(name) + r" = const f32\[([0-9,]*)\] \[([^\]]*)\]"
    m = re.search(pat, text)
    if m:
        dims = [int(d) for d in m.group(1).split(",") if d]
        return dims, [float(v) for v in m.group(2).split(",")]
    pat = r"%" + re.escape(name) + r" = const f32\[([0-9,]*)\] splat\(([^)]*)\)"
    m = re.search(pat, text)
    if not m:
        sys.exit(f"wcheck: no full-data f32 constant %{name} in {path}")
    dims = [int(d) for d in m.group(1).split(",") if d]
    n = 1
    for d in dims:
        n *= d
    return dims, [float(m.group(2))] * n


def fail(msg):
    print("wcheck: FAIL:", msg)
    sys.exit(1)


def view(dims, vals, how):
    """2-D [out, reduction] rows of a weight: 'row' = dim 0 is the output
    (Conv, Gemm transB=1), 'col' = last dim is the output (MatMul, Gemm)."""
    if how == "row":
        r = dims[0]
        c = len(vals) // r
        return [vals[i * c:(i + 1) * c] for i in range(r)]
    n = dims[-1]
    k = len(vals) // n
    return [[vals[j * n + i] for j in range(k)] for i in range(n)]


def main():
    path, names, check, args = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4:]
    ws = [load(path, n) for n in names]
    if check == "nnz":
        got = sum(sum(v != 0 for v in w[1]) for w in ws)
        if got != int(args[0]):
            fail(f"nnz {got}, want {args[0]}")
    elif check == "rows-zero":
        for dims, vals in ws:
            rows = view(dims, vals, args[1])
            dead = sum(all(v == 0 for v in r) for r in rows)
            part = sum(any(v == 0 for v in r) and not all(v == 0 for v in r) for r in rows)
            if dead != int(args[0]) or part:
                fail(f"{dead} zero rows and {part} partly zero, want {args[0]} and 0")
    elif check == "rows-smallest":
        l2 = args[2] == "l2"
        for name, (dims, vals) in zip(names, ws):
            rows = view(dims, vals, args[1])
            orig = view(*load(args[0], name), args[1])
            norm = [sum(v * v if l2 else abs(v) for v in r) for r in orig]
            dead = [norm[i] for i, r in enumerate(rows) if all(v == 0 for v in r)]
            live = [norm[i] for i, r in enumerate(rows) if not all(v == 0 for v in r)]
            if dead and live and max(dead) > min(live):
                fail(f"%{name}: a zeroed row has norm {max(dead)} > kept {min(live)}")
    elif check == "nm-largest":
        m = int(args[1])
        for name, (dims, vals) in zip(names, ws):
            rows = view(dims, vals, args[2])
            orig = view(*load(args[0], name), args[2])
            for r, o in zip(rows, orig):
                for g in range(0, len(r), m):
                    kept = [abs(b) for a, b in zip(r[g:g + m], o[g:g + m]) if a != 0]
                    gone = [abs(b) for a, b in zip(r[g:g + m], o[g:g + m]) if a == 0]
                    if kept and gone and min(kept) < max(gone):
                        fail(f"%{name}: group {o[g:g + m]} kept {kept}")
    elif check == "nm":
        n, m = int(args[0]), int(args[1])
        for dims, vals in ws:
            for r in view(dims, vals, args[2]):
                for g in range(0, len(r), m):
                    grp = r[g:g + m]
                    if sum(v != 0 for v in grp) > n:
                        fail(f"group {grp} keeps more than {n}")
                    if len(grp) == m and sum(v != 0 for v in grp) != n:
                        fail(f"group {grp} keeps fewer than {n} (data has no zeros)")
    elif check == "blocks":
        br, bc, want = int(args[0]), int(args[1]), int(args[2])
        for dims, vals in ws:
            rows = view(dims, vals, "row")
            zt = 0
            for r0 in range(0, len(rows), br):
                for c0 in range(0, len(rows[0]), bc):
                    t = [rows[r][c] for r in range(r0, min(r0 + br, len(rows)))
                         for c in range(c0, min(c0 + bc, len(rows[0])))]
                    z = sum(v == 0 for v in t)
                    if 0 < z < len(t):
                        fail(f"tile at {r0},{c0} partly zero: {t}")
                    zt += z == len(t)
            if zt != want:
                fail(f"{zt} zero tiles, want {want}")
    elif check in ("magnitude", "magnitude-global"):
        pruned, kept = [], []
        for name, (dims, vals) in zip(names, ws):
            _, orig = load(args[0], name)
            if check == "magnitude":
                pruned, kept = [], []
            for o, v in zip(orig, vals):
                if v != 0 and v != o:
                    fail(f"kept weight changed: {o} -> {v}")
                (kept if v != 0 else pruned).append(abs(o))
            if pruned and kept and max(pruned) > min(kept):
                fail(f"%{name}: pruned |w| {max(pruned)} > kept |w| {min(kept)}")
    elif check == "same":
        for name, (dims, vals) in zip(names, ws):
            if load(args[0], name)[1] != vals:
                fail(f"%{name} changed")
    elif check == "zeros-kept":
        for name, (dims, vals) in zip(names, ws):
            _, orig = load(args[0], name)
            for o, v in zip(orig, vals):
                if (o == 0) != (v == 0):
                    fail(f"%{name}: zero pattern changed ({o} -> {v})")
    elif check in ("distinct", "distinct-all"):
        k = int(args[0])
        sets = [set(w[1]) for w in ws]
        if check == "distinct-all":
            sets = [set().union(*sets)]
        for s in sets:
            if len(s) > k:
                fail(f"{len(s)} distinct values, want at most {k}")
    else:
        sys.exit(f"wcheck: unknown check {check}")
    print("wcheck: ok")


main()
