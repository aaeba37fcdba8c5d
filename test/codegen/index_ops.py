#!/usr/bin/python3
"""The indexing ops (issue 11) at their edges, compiled and interpreted.

Each case is a small IR graph with chosen inputs: TopK with ties and NaN
(both orders, an integer type), OneHot with float indices that are NaN,
fractional or out of range, CumSum wrapping in i32 and exclusive/reverse,
ReverseSequence with lengths 0 and T, Compress with and without an axis,
MaxUnpool with output_shape and a duplicate index, GatherND with
batch_dims and negative indices, ScatterElements mul with duplicates. The
expected values come from numpy here, written from the ONNX spec (plus
nncc's documented choices: TopK puts NaN above every number and breaks
ties by the lower index). Both nncc-run and the object at -O0 and -O3
must give them. Prints failures, then `N passed, N failed`.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_compiled as rc  # noqa: E402

NAN = float("nan")


def topk_ref(x, k, axis, largest):
    """Values and indices: NaN first (largest) or last, ties by index."""
    x = np.moveaxis(x, axis, -1)
    vals = np.empty(x.shape[:-1] + (k,), x.dtype)
    idx = np.empty(x.shape[:-1] + (k,), np.int64)
    for pos in np.ndindex(x.shape[:-1]):
        row = x[pos]

        def key(i):
            v = row[i]
            nan = isinstance(v, (float, np.floating)) and np.isnan(v)
            big = 1 if nan else 0
            num = 0 if nan else (v if largest else -v)
            return (-big, -num, i) if largest else (big, -num, i)
        order = sorted(range(len(row)), key=key)[:k]
        vals[pos] = row[order]
        idx[pos] = order
    return np.moveaxis(vals, -1, axis), np.moveaxis(idx, -1, axis)


def onehot_ref(ind, depth, values, axis):
    out = np.empty(ind.shape + (depth,), values.dtype)
    for pos in np.ndindex(ind.shape):
        v = float(ind[pos])
        hit = -1
        if not np.isnan(v) and -depth - 1 < v < depth:
            hit = int(np.trunc(v)) % depth
        out[pos] = values[0]
        if hit >= 0:
            out[pos + (hit,)] = values[1]
    return np.moveaxis(out, -1, axis)


def cumsum_ref(x, axis, exclusive, reverse):
    if reverse:
        x = np.flip(x, axis)
    s = np.cumsum(x, axis=axis, dtype=x.dtype)
    if exclusive:
        s = np.concatenate([np.zeros_like(np.take(s, [0], axis)),
                            np.take(s, range(x.shape[axis] - 1), axis)], axis)
    return np.flip(s, axis) if reverse else s


def revseq_ref(x, lens, batch_axis, time_axis):
    y = x.copy()
    for b, n in enumerate(lens):
        for t in range(n):
            src = [slice(None)] * x.ndim
            dst = [slice(None)] * x.ndim
            src[batch_axis] = dst[batch_axis] = b
            src[time_axis], dst[time_axis] = n - 1 - t, t
            y[tuple(dst)] = x[tuple(src)]
    return y


def unpool_ref(x, ind, inferred, shape):
    y = np.zeros(int(np.prod(inferred)), x.dtype)
    for q, i in enumerate(ind.reshape(-1)):
        y[i] = x.reshape(-1)[q]
    out = np.zeros(shape, x.dtype)
    out[tuple(slice(d) for d in inferred)] = y.reshape(inferred)
    return out


def gathernd_ref(data, ind, b):
    out = []
    for pos in np.ndindex(ind.shape[:-1]):
        tup = tuple(int(v) for v in ind[pos])
        out.append(data[pos[:b] + tup])
    shape = ind.shape[:-1] + data.shape[b + ind.shape[-1]:]
    return np.array(out, data.dtype).reshape(shape)


def scatter_mul_ref(data, ind, upd, axis):
    y = data.copy()
    for pos in np.ndindex(ind.shape):
        p = list(pos)
        p[axis] = ind[pos] % data.shape[axis]
        y[tuple(p)] *= upd[pos]
    return y


def cases():
    """(name, IR text, inputs, expected outputs)."""
    out = []
    x = np.array([[3, NAN, 1, 3, -2, NAN], [0, -0.0, 5, 5, 5, 1]],
                 np.float32)
    xi = np.array([[4, 4, -7, 2], [9, 4, 4, 9], [0, 1, 0, 1]], np.int32)
    out.append(("topk", """graph @topk(%x: f32[2,6]) -> (f32[2,4], i64[2,4], f32[2,4], i64[2,4]) {
  %k = const i64[1] [4]
  %v, %i = TopK(%x, %k) : f32[2,4], i64[2,4]
  %s, %j = TopK(%x, %k) {largest=0} : f32[2,4], i64[2,4]
  return %v, %i, %s, %j
}
""", [x], list(topk_ref(x, 4, 1, True)) + list(topk_ref(x, 4, 1, False))))
    out.append(("topk_int", """graph @topk_int(%xi: i32[3,4]) -> (i32[2,4], i64[2,4]) {
  %k2 = const i64[1] [2]
  %w, %l = TopK(%xi, %k2) {axis=0} : i32[2,4], i64[2,4]
  return %w, %l
}
""", [xi], list(topk_ref(xi, 2, 0, True))))
    rng = np.random.default_rng(11)
    xr = rng.choice(np.array([0, 1, 2, -0.0, NAN, -1], np.float32),
                    (5, 17))
    out.append(("topk_ties", """graph @topk_ties(%x: f32[5,17]) -> (f32[5,9], i64[5,9], f32[3,17], i64[3,17]) {
  %k = const i64[1] [9]
  %k3 = const i64[1] [3]
  %v, %i = TopK(%x, %k) {largest=0} : f32[5,9], i64[5,9]
  %w, %j = TopK(%x, %k3) {axis=0, sorted=0} : f32[3,17], i64[3,17]
  return %v, %i, %w, %j
}
""", [xr], list(topk_ref(xr, 9, 1, False)) + list(topk_ref(xr, 3, 0, True))))
    ind = np.array([NAN, -1.5, 2.7, 5, -5, 1e30, -6, 4.99], np.float32)
    vals = np.array([7, 9], np.int32)
    out.append(("onehot", """graph @onehot(%i: f32[8], %v: i32[2], %j: i64[2,3]) -> (i32[5,8], f32[2,3,4]) {
  %d = const f32[] [5.9]
  %d4 = const i64[] [4]
  %fv = const f32[2] [-1, 2.5]
  %o = OneHot(%i, %d, %v) {axis=0} : i32[5,8]
  %p = OneHot(%j, %d4, %fv) : f32[2,3,4]
  return %o, %p
}
""", [ind, vals, np.array([[0, -1, 4], [-4, -5, 3]], np.int64)],
        [onehot_ref(ind, 5, vals, 0),
         onehot_ref(np.array([[0, -1, 4], [-4, -5, 3]]), 4,
                    np.array([-1, 2.5], np.float32), 2)]))
    ci = np.array([[2**31 - 1, 1, 5], [1, 2, -3]], np.int32)
    cf = np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.5 - 3
    out.append(("cumsum", """graph @cumsum(%a: i32[2,3], %f: f32[2,3,4]) -> (i32[2,3], f32[2,3,4], f32[2,3,4]) {
  %ax1 = const i32[] [1]
  %axm2 = const i64[1] [-2]
  %ax0 = const i64[] [0]
  %s = CumSum(%a, %ax1) : i32[2,3]
  %e = CumSum(%f, %axm2) {exclusive=1, reverse=1} : f32[2,3,4]
  %r = CumSum(%f, %ax0) {reverse=1} : f32[2,3,4]
  return %s, %e, %r
}
""", [ci, cf], [cumsum_ref(ci, 1, False, False), cumsum_ref(cf, 1, True, True),
                cumsum_ref(cf, 0, False, True)]))
    rx = np.arange(24, dtype=np.float32).reshape(4, 3, 2)
    lens = np.array([4, 1, 0], np.int64)
    cx = np.arange(12, dtype=np.int64).reshape(3, 4)
    out.append(("revseq_compress", """graph @rc(%x: f32[4,3,2], %l: i64[3], %c: i64[3,4]) -> (f32[4,3,2], i64[3,2], i64[3]) {
  %y = ReverseSequence(%x, %l) : f32[4,3,2]
  %m = const bool[3] [1, 0, 1]
  %f = const bool[6] [0, 0, 1, 0, 1, 1]
  %a = Compress(%c, %m) {axis=-1} : i64[3,2]
  %b = Compress(%c, %f) : i64[3]
  return %y, %a, %b
}
""", [rx, lens, cx], [revseq_ref(rx, lens, 1, 0),
                      np.compress([1, 0, 1], cx, axis=1),
                      np.compress([0, 0, 1, 0, 1, 1], cx.reshape(-1))]))
    ux = np.array([1, 2, 3, 4], np.float32).reshape(1, 1, 2, 2)
    uxi = np.array([5, 7, 7, 10], np.int64).reshape(1, 1, 2, 2)
    out.append(("maxunpool", """graph @mu(%x: f32[1,1,2,2], %i: i64[1,1,2,2]) -> (f32[1,2,6,5], f32[1,1,4,4]) {
  %s = const i64[4] [1, 2, 6, 5]
  %u = MaxUnpool(%x, %i, %s) {kernel_shape=[2,2], strides=[2,2], pads=[1,1,1,1]} : f32[1,2,6,5]
  %v = MaxUnpool(%x, %i) {kernel_shape=[2,2], strides=[2,2]} : f32[1,1,4,4]
  return %u, %v
}
""", [ux, uxi], [unpool_ref(ux, uxi, (1, 1, 4, 4), (1, 2, 6, 5)),
                 unpool_ref(ux, uxi, (1, 1, 4, 4), (1, 1, 4, 4))]))
    gd = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    gi = np.array([[[-1, 0], [2, 3]], [[0, -4], [1, 1]]], np.int64)
    sd = np.arange(1, 10, dtype=np.int32).reshape(3, 3)
    si = np.array([[0, -1, 0], [2, 2, 0]], np.int64)
    su = np.array([[2, 3, 4], [5, 6, 7]], np.int32)
    out.append(("gathernd_scatter", """graph @gs(%d: i32[2,3,4], %i: i64[2,2,2], %s: i32[3,3], %j: i64[2,3], %u: i32[2,3]) -> (i32[2,2], i32[3,3]) {
  %g = GatherND(%d, %i) {batch_dims=1} : i32[2,2]
  %e = ScatterElements(%s, %j, %u) {axis=1, reduction="mul"} : i32[3,3]
  return %g, %e
}
""", [gd, gi, sd, si, su], [gathernd_ref(gd, gi, 1),
                            scatter_mul_ref(sd, si, su, 1)]))
    return out


def check(t, wd, name, text, ins, exps, opt):
    model = os.path.join(wd, name + ".nnir")
    with open(model, "w") as f:
        f.write(text)
    npys = []
    for k, a in enumerate(ins):
        npys.append(os.path.join(wd, "%s_in%d.npy" % (name, k)))
        np.save(npys[-1], a)
    outs = [os.path.join(wd, "%s_out%d.npy" % (name, k))
            for k in range(len(exps))]
    refs = [os.path.join(wd, "%s_ref%d.npy" % (name, k))
            for k in range(len(exps))]
    exe, err = rc.build_model(t, model, wd, name=name, opt=opt)
    if err:
        return err
    code, out = rc.run_exe(exe, npys, outs)
    if code != 0:
        return "object: exit %d\n%s" % (code, out)
    args = [t.nncc_run, model] + npys
    for r in refs:
        args += ["-o", r]
    code, out = rc.sh(args)
    if code != 0:
        return "nncc-run: exit %d\n%s" % (code, out)
    for k, e in enumerate(exps):
        for who, p in (("object", outs[k]), ("nncc-run", refs[k])):
            msg = rc.close(np.load(p), e, 0, 0)
            if msg:
                return "%s output %d: %s" % (who, k, msg)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    a = ap.parse_args()
    t = rc.Tools(a.build)
    passed = failed = 0
    for opt in ("-O0", "-O3"):
        wd = tempfile.mkdtemp(prefix="index-ops-")
        try:
            for name, text, ins, exps in cases():
                err = check(t, wd, name, text, ins, exps, opt)
                if err:
                    print("FAIL %s %s: %s" % (opt, name, err))
                    failed += 1
                else:
                    passed += 1
        finally:
            shutil.rmtree(wd, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
