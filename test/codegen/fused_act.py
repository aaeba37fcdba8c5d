#!/usr/bin/python3
"""Activations fused into a Conv/Gemm and applied in the kernel's
registers (the VACT rows of ir/ops.def through cg_act_apply): Sigmoid,
Tanh, HardSigmoid, HardSwish, LeakyRelu and the SiLU, erf-GELU and
tanh-GELU chains, after a residual Add, on the dense GEMM kernel and the
sparse conv kernels (table, unrolled; 90% sparse), with inputs wide
enough to reach exp's overflow and underflow and NaN/Inf: compiled output
vs nncc-run on the emitted IR, within 1e-4 (NaN where it is NaN). Also
that the activation left no libm call and no second loop over the output
(--emit-llvm: no call of expf/tanhf/erff).

Run: /usr/bin/python3 test/codegen/fused_act.py --build BUILD
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_compiled as rc  # noqa: E402
import sparse_kernels as sk  # noqa: E402

from onnx import TensorProto, helper  # noqa: E402


def act_nodes(act, y, out, consts):
    """The nodes of activation act from y to out (the chains as PyTorch
    exports them); scalar constants go to consts."""
    def k(name, v):
        consts.append((name, np.array(v, np.float32)))
        return name
    mk = helper.make_node
    if act == "Silu":
        return [mk("Sigmoid", [y], ["s"]), mk("Mul", [y, "s"], [out])]
    if act == "Gelu":
        return [mk("Div", [y, k("s2", 1.4142135)], ["d"]),
                mk("Erf", ["d"], ["e"]), mk("Add", ["e", k("one", 1)], ["a"]),
                mk("Mul", [y, "a"], ["m"]),
                mk("Mul", ["m", k("half", 0.5)], [out])]
    if act == "GeluTanh":
        return [mk("Mul", [y, y], ["q"]), mk("Mul", [y, "q"], ["cu"]),
                mk("Mul", [k("kap", 0.044715), "cu"], ["kc"]),
                mk("Add", [y, "kc"], ["a"]),
                mk("Mul", [k("bet", 0.7978846), "a"], ["i"]),
                mk("Tanh", ["i"], ["t"]), mk("Add", [k("one", 1), "t"], ["a2"]),
                mk("Mul", [y, "a2"], ["m"]),
                mk("Mul", [k("half", 0.5), "m"], [out])]
    return [mk(act, [y], [out])]


def model(path, act, base, s, rng):
    """base "conv": Conv 3x3 pad 1 + residual Add + act; "gemm": Gemm +
    act. Weights scaled so that outputs reach +-120."""
    consts = []
    if base == "conv":
        w = sk.sparse((8, 8, 3, 3), s, rng) * 8
        nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"],
                                  pads=[1] * 4),
                 helper.make_node("Add", ["c", "x"], ["r"])]
        shape, oshape = [1, 8, 6, 19], [1, 8, 6, 19]
        inits = [("w", w), ("b", rng.standard_normal(8).astype(np.float32))]
    else:
        w = sk.sparse((72, 40), s, rng) * 8
        nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["r"])]
        shape, oshape = [3, 72], [3, 40]
        inits = [("w", w), ("b", rng.standard_normal(40).astype(np.float32))]
    nodes += act_nodes(act, "r", "y", consts)
    sk.save(nodes, inits + consts,
            helper.make_tensor_value_info("x", TensorProto.FLOAT, shape),
            helper.make_tensor_value_info("y", TensorProto.FLOAT, oshape),
            path)
    return shape


def check(t, wd, path, shape, flags, rng):
    exe, err = rc.build_model(t, path, wd, opt=flags[0], extra=flags[1:])
    if err:
        return err
    x = rng.uniform(-4, 4, shape).astype(np.float32)
    x.flat[:6] = [np.nan, np.inf, -np.inf, 100, -100, 0]
    xi, yo, yr = (os.path.join(wd, f) for f in ("x.npy", "y.npy", "r.npy"))
    np.save(xi, x)
    r, out = rc.sh([exe, xi, "-o", yo])
    if r != 0:
        return "run failed: " + out
    r, out = rc.sh([t.nncc_run, os.path.join(wd, "m.nnir"), xi, "-o", yr])
    if r != 0:
        return "nncc-run failed: " + out
    with np.errstate(invalid="ignore"):  # inf - inf where both are inf
        return rc.close(np.load(yo), np.load(yr))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    args = ap.parse_args()
    t = rc.Tools(args.build)
    fails, n = [], 0
    acts = ["Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu",
            "Silu", "Gelu", "GeluTanh"]
    with tempfile.TemporaryDirectory() as wd:
        path = os.path.join(wd, "model.onnx")
        for act in acts:
            for base, s, flags in (("conv", 0.0, ["-O3"]),
                                   ("gemm", 0.0, ["-O3"]),
                                   ("conv", 0.9, ["-O3",
                                                  "--sparse-kernel=table"]),
                                   ("conv", 0.9, ["-O3",
                                                  "--sparse-kernel=unrolled"])):
                rng = np.random.default_rng(n)
                shape = model(path, act, base, s, rng)
                err = check(t, wd, path, shape, flags, rng)
                n += 1
                if err:
                    fails.append(f"{act} {base} s={s} {' '.join(flags)}: "
                                 f"{err}")
                if s or err:
                    continue
                ll = subprocess.run([t.nncc, path, "-O3", "--emit-llvm",
                                     "-S", "-o", "-"], stdout=subprocess.PIPE,
                                    text=True).stdout
                n += 1
                if any(("@%sf(" % f) in ll for f in ("exp", "tanh", "erf")):
                    fails.append(f"{act} {base}: a libm call is left")
    return sk.report(fails, n)


if __name__ == "__main__":
    sys.exit(main())
