"""Writes Resize cases (IR text, input, expected output) for
resize-antialias.test. Expected values come from a numpy transcription of
the ONNX 1.13+ reference (onnx/reference/ops/op_resize.py: n-nearest taps
found by sorting distances in an edge-padded array, antialias filters
stretched by 1/scale and normalized), not from nncc. Before writing, the
transcription is checked against onnx 1.12's own reference where that one
applies (no antialias) and against torch's antialiased bilinear."""
import sys

import numpy as np
import torch
from onnx.backend.test.case.node import resize as onnx_ref


def linear_aa(ratio, scale):
    scale = min(scale, 1.0)
    start = int(np.floor(-1 / scale) + 1)
    args = (np.arange(start, 2 - start) - ratio) * scale
    c = np.clip(1 - np.abs(args), 0, 1)
    return c / c.sum()


def cubic_aa(ratio, scale, a):
    scale = min(scale, 1.0)

    def k(x):
        x = abs(x)
        if x <= 1:
            return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1
        if x < 2:
            return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a
        return 0.0

    start = int(np.floor(-2 / scale) + 1)
    c = np.array([k(scale * (i - ratio)) for i in range(start, 2 - start)])
    return c / c.sum()


def source(x, scale, n_in, ct):
    n_out = scale * n_in
    if ct == "align_corners":
        return 0.0 if n_out == 1 else x * (n_in - 1) / (n_out - 1)
    if ct == "asymmetric":
        return x / scale
    if ct == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if n_out > 1 else 0.0
    return (x + 0.5) / scale - 0.5


def interp_1d(data, scale, x, coeffs, ct, exclude):
    n_in = len(data)
    xo = source(x, scale, n_in, ct)
    ratio = 1.0 if float(xo).is_integer() else xo - np.floor(xo)
    c = np.array(coeffs(ratio, scale), dtype=np.float64)
    n = len(c)
    pad = int(np.ceil(n / 2))
    padded = np.pad(np.asarray(data, dtype=np.float64), pad, mode="edge")
    xp = xo + pad
    idx = sorted(sorted(range(len(padded)),
                        key=lambda i: (abs(xp - i), i))[:n])
    pts = padded[idx]
    if exclude:
        for j, i in enumerate(idx):
            if not 0 <= i - pad < n_in:
                c[j] = 0
        c = c / c.sum()
    return float(np.dot(c, pts))


def interp_nd(data, scales, x, coeffs, ct, exclude):
    if data.ndim == 1:
        return interp_1d(data, scales[0], x[0], coeffs, ct, exclude)
    inner = [interp_nd(data[i], scales[1:], x[1:], coeffs, ct, exclude)
             for i in range(data.shape[0])]
    return interp_1d(inner, scales[0], x[0], coeffs, ct, exclude)


def resize(data, scales, out_shape, coeffs, ct, exclude=False):
    out = np.zeros(out_shape)
    for x in np.ndindex(*out_shape):
        out[x] = interp_nd(data, scales, x, coeffs, ct, exclude)
    return out


def self_check(rng):
    # Upsampling: antialias changes nothing, so onnx 1.12's reference
    # (cubic_coeffs / linear_coeffs) must agree with the transcription.
    x = rng.standard_normal((3, 4))
    sc = np.array([2.0, 1.5])
    shape = (6, 6)
    for ct in ("half_pixel", "align_corners", "asymmetric"):
        want = onnx_ref.interpolate_nd(
            x, lambda r: onnx_ref.cubic_coeffs(r, -0.75), scale_factors=sc,
            coordinate_transformation_mode=ct)
        got = resize(x, sc, shape, lambda r, s: cubic_aa(r, s, -0.75), ct)
        assert np.allclose(want, got, atol=1e-12), ct
        want = onnx_ref.interpolate_nd(
            x, onnx_ref.linear_coeffs, scale_factors=sc,
            coordinate_transformation_mode=ct)
        got = resize(x, sc, shape, linear_aa, ct)
        assert np.allclose(want, got, atol=1e-12), ct
    # Downsampling 8x8 -> 4x4: torch's antialiased bilinear is the same
    # triangle filter stretched by 1/scale; torch drops the taps outside
    # the input, which is ONNX's exclude_outside=1.
    x = rng.standard_normal((1, 1, 8, 8)).astype(np.float32)
    want = torch.nn.functional.interpolate(
        torch.from_numpy(x), size=(4, 4), mode="bilinear",
        align_corners=False, antialias=True).numpy()
    got = resize(x.astype(np.float64), [1, 1, 0.5, 0.5], (1, 1, 4, 4),
                 linear_aa, "half_pixel", exclude=True)
    assert np.allclose(want, got, atol=1e-5), (want, got)


def fmt(v):
    return "[" + ", ".join(repr(float(e)) if isinstance(e, float) else
                           str(e) for e in v) + "]"


def shape_str(s):
    return "f32[" + ",".join(str(d) for d in s) + "]"


# name, input shape, mode, scales or None, sizes or None, extra attributes
CASES = [
    ("lin_half", (1, 1, 8, 8), "linear", [1, 1, 0.5, 0.5], None, {}),
    ("lin_odd", (1, 1, 5, 7), "linear", [1, 1, 0.6, 0.4], None, {}),
    ("lin_sizes_align", (1, 2, 6, 9), "linear", None, [1, 2, 4, 3],
     {"coordinate_transformation_mode": '"align_corners"'}),
    ("cub_half", (1, 1, 8, 8), "cubic", [1, 1, 0.5, 0.5], None, {}),
    ("cub_odd_a5_excl", (1, 1, 7, 6), "cubic", [1, 1, 0.6, 0.7], None,
     {"cubic_coeff_a": "-0.5", "exclude_outside": "1"}),
    ("cub_asym_mixed", (2, 9), "cubic", None, [2, 4],
     {"coordinate_transformation_mode": '"asymmetric"'}),
    ("cub_up_pytorch", (1, 5), "cubic", [1, 1.6], None,
     {"coordinate_transformation_mode": '"pytorch_half_pixel"'}),
]


def main(out):
    rng = np.random.default_rng(7)
    self_check(rng)
    for name, shp, mode, sc, sz, attrs in CASES:
        x = rng.standard_normal(shp).astype(np.float32)
        if sc is not None:
            scales = list(sc)
            oshape = tuple(int(np.floor(d * s)) for d, s in zip(shp, sc))
            const = "  %%sc = const f32[%d] %s\n" % (len(sc), fmt(
                [float(v) for v in sc]))
            args = "%x, none, %sc"
        else:
            scales = [o / d for o, d in zip(sz, shp)]
            oshape = tuple(sz)
            const = "  %%sz = const i64[%d] %s\n" % (len(sz), fmt(sz))
            args = "%x, none, none, %sz"
        a = float(attrs.get("cubic_coeff_a", "-0.75"))
        ct = attrs.get("coordinate_transformation_mode",
                       '"half_pixel"').strip('"')
        excl = attrs.get("exclude_outside") == "1"
        coeffs = linear_aa if mode == "linear" else (
            lambda r, s, a=a: cubic_aa(r, s, a))
        y = resize(x.astype(np.float64), scales, oshape, coeffs, ct, excl)
        al = dict(attrs, antialias="1", mode='"%s"' % mode)
        attr_text = ", ".join("%s=%s" % kv for kv in sorted(al.items()))
        with open("%s/%s.nnir" % (out, name), "w") as f:
            f.write("graph @%s(%%x: %s) -> (%s) {\n%s"
                    "  %%y = Resize(%s) {%s} : %s\n  return %%y\n}\n"
                    % (name, shape_str(shp), shape_str(oshape), const,
                       args, attr_text, shape_str(oshape)))
        np.save("%s/%s_x.npy" % (out, name), x)
        np.save("%s/%s_y.npy" % (out, name), y.astype(np.float32))


main(sys.argv[1])
