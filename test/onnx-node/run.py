#!/usr/bin/python3
"""ONNX backend node conformance for nncc's reference interpreter.

Generates onnx's backend node test cases (model.onnx + test_data_set_*/
input_*.pb, output_*.pb) into the build tree, selects the cases of every op
nncc claims, converts their tensors to .npy and checks each one with
`nncc-run model.onnx in.npy... --expect out.npy...`. Prints a table per op
and a final line `N passed, N failed`; exits 1 if any case failed.

Usage: /usr/bin/python3 test/onnx-node/run.py --build BUILD [--op OP]...
           [-k SUBSTR] [-j N] [-v] [--list]
See README.md in this folder for the rules (what counts, tolerances).
"""
import argparse
import concurrent.futures
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"

# The ops nncc claims to implement, every backend case of which counts:
# the rows of ir/ops.def that are ONNX ops and the importer's aliases, as
# `nncc-opt --list-ops` prints them (filled by generate, which every user
# of these helpers calls first).
CLAIMED = []


def claimed_ops(nncc_opt):
    """The ONNX op names of `nncc-opt --list-ops`, in table order."""
    out = subprocess.run([nncc_opt, "--list-ops"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [n for n in names if not n.startswith("nncc.")]

RTOL, ATOL = 1e-4, 1e-5
# Per-case tolerance overrides: {case name: (rtol, atol, reason)}. Loosen
# only with a reason that says why the reference itself is that coarse.
TOLERANCE = {
    # onnx 1.12's expected data truncates float to bfloat16; nncc rounds to
    # nearest even (as onnx >= 1.14's reference does), so an element may
    # differ by one bfloat16 ulp: at most 2^-7 relative.
    "test_cast_FLOAT_to_BFLOAT16": (2.0 ** -7, 0.0, "bf16 rounding"),
    "test_castlike_FLOAT_to_BFLOAT16": (2.0 ** -7, 0.0, "bf16 rounding"),
    "test_castlike_FLOAT_to_BFLOAT16_expanded": (2.0 ** -7, 0.0,
                                                 "bf16 rounding"),
    # onnx 1.12's expected values are PyTorch's printed to 4 decimals
    # (-0.1406 for torch's own -0.140625): off by up to 5e-5.
    "test_gridsample_bicubic": (RTOL, 5e-5, "4-decimal reference"),
    # Likewise 4 decimals (0.4664, ...) for both RoiAlign cases.
    "test_roialign_aligned_false": (RTOL, 5e-5, "4-decimal reference"),
    "test_roialign_aligned_true": (RTOL, 5e-5, "4-decimal reference"),
}
# onnx 1.12's expected windows take pi as 3.1415 (hannwindow.py and its
# siblings in onnx/backend/test/case/node); nncc uses pi, as the ops'
# function bodies do (2 pi = 6.2831855): up to 7.4e-5 apart on size 10.
for _w in ("hann", "hamming", "blackman"):
    for _s in ("", "_symmetric"):
        for _e in ("", "_expanded"):
            TOLERANCE["test_%swindow%s%s" % (_w, _s, _e)] = (
                1e-4, 1e-4, "the reference's pi is 3.1415")

CASE_TIMEOUT = 120  # seconds per nncc-run

# Inputs that decide output shapes (a Reshape's shape, a Resize's sizes)
# are graph inputs in the backend cases, where exporters emit constants.
# nncc-run freezes such an input to the data given by itself (shape
# inference says which it needs: ir_infer_shapes_binding) and names it in
# a note, so the runner passes every input as generated. For the compiled
# object, run_compiled.py passes the same inputs to nncc as --input-value
# (frozen_inputs), plus WEIGHT_INPUTS.
#
# Weights that nncc's code generation packs at compile time (W and R of
# the recurrent layers): exporters emit them as initializers, the backend
# cases as graph inputs. The interpreter runs them as inputs; the compiled
# runner freezes them with --input-value, since code generation needs
# them constant.
WEIGHT_INPUTS = {"LSTM": (1, 2), "GRU": (1, 2), "RNN": (1, 2)}


def generate(build):
    """Generates the node cases once per onnx version; returns the node
    folder. A stamp file marks a complete generation. Also fills CLAIMED
    from BUILD's nncc-opt."""
    import onnx
    root = os.path.join(build, "test", "onnx-node",
                        "data-onnx-" + onnx.__version__)
    stamp = os.path.join(root, ".complete")
    if not os.path.exists(stamp):
        os.makedirs(root, exist_ok=True)
        subprocess.run([PYTHON, os.path.join(HERE, "gen_data.py"),
                        "generate-data", "-o", root], check=True,
                       stdout=subprocess.DEVNULL)
        open(stamp, "w").close()
    if not CLAIMED:
        CLAIMED[:] = claimed_ops(os.path.join(build, "tools", "nncc-opt"))
    return os.path.join(root, "node")


def node_ops(model_path):
    import onnx
    m = onnx.load(model_path)
    return [(n.domain, n.op_type) for n in m.graph.node]


def classify(node_dir, names):
    """Maps case names to (op, reason-to-skip or None). A plain case
    belongs to the op of its single node; an `_expanded` case (a function
    body) belongs to the op of its plain sibling and is skipped, not
    failed, if its body uses an op nncc does not claim."""
    plain = {}
    result = {}
    for name in names:
        if name.endswith("_expanded"):
            continue
        ops = node_ops(os.path.join(node_dir, name, "model.onnx"))
        if len(ops) == 1 and ops[0][0] in ("", "ai.onnx") and \
                ops[0][1] in CLAIMED:
            plain[name] = ops[0][1]
            result[name] = (ops[0][1], None)
    for name in names:
        base = name[:-len("_expanded")]
        if not name.endswith("_expanded") or base not in plain:
            continue
        ops = node_ops(os.path.join(node_dir, name, "model.onnx"))
        bad = sorted({t if d in ("", "ai.onnx") else d + "." + t
                      for d, t in ops
                      if d not in ("", "ai.onnx") or t not in CLAIMED})
        result[name] = (plain[base], "expanded form uses unsupported op "
                        + ", ".join(bad) if bad else None)
    return result


def to_npy(pb, npy):
    import onnx
    from onnx import numpy_helper
    import numpy as np
    t = onnx.TensorProto()
    with open(pb, "rb") as f:
        t.ParseFromString(f.read())
    np.save(npy, numpy_helper.to_array(t))


def data_sets(case_dir):
    return sorted(d for d in os.listdir(case_dir)
                  if d.startswith("test_data_set_"))


def tensors(ds_dir, prefix):
    files = [f for f in os.listdir(ds_dir)
             if f.startswith(prefix) and f.endswith(".pb")]
    return sorted(files, key=lambda f: int(f[len(prefix):-3]))


def input_names(case_dir):
    import onnx
    m = onnx.load(os.path.join(case_dir, "model.onnx"))
    inits = {t.name for t in m.graph.initializer}
    return [i.name for i in m.graph.input if i.name not in inits]


def weight_inputs(case_dir):
    """Indices of the graph inputs that WEIGHT_INPUTS lists."""
    import onnx
    m = onnx.load(os.path.join(case_dir, "model.onnx"))
    names = input_names(case_dir)
    found = set()
    for n in m.graph.node:
        if n.domain not in ("", "ai.onnx"):
            continue
        for k in WEIGHT_INPUTS.get(n.op_type, ()):
            if k < len(n.input) and n.input[k] in names:
                found.add(names.index(n.input[k]))
    return found


def frozen_inputs(nncc_run, case_dir, npys):
    """The graph inputs the compiled object needs frozen: those nncc-run
    freezes by itself on this data set (its notes name them) and the
    weights of WEIGHT_INPUTS. Returns (nncc's --input-value arguments,
    indices of the inputs that remain)."""
    import re
    model = os.path.join(case_dir, "model.onnx")
    p = subprocess.run([nncc_run, model] + npys, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=CASE_TIMEOUT,
                       universal_newlines=True)
    names = input_names(case_dir)
    frozen = weight_inputs(case_dir)
    for name in re.findall(r"note: input '(.*)' frozen to ", p.stderr):
        if name in names:
            frozen.add(names.index(name))
    args = []
    for j in sorted(frozen):
        args += ["--input-value", "%s=%s" % (names[j], npys[j])]
    return args, [j for j in range(len(npys)) if j not in frozen]


def blank_type_only_inputs(case_dir, npys):
    """Rewrites, in place, the .npy of every graph input that only carries
    a type (read by no node, or only as CastLike's `like`) as zeros of the
    shape the model declares. onnx 1.12's bf16 CastLike cases declare
    `like` [3,4] but store a [1] tensor; its values never matter."""
    import onnx
    import numpy as np
    m = onnx.load(os.path.join(case_dir, "model.onnx"))
    readers = {}
    for n in m.graph.node:
        for k, name in enumerate(n.input):
            readers.setdefault(name, []).append((n.op_type, k))
    for j, i in enumerate(m.graph.input):
        if j >= len(npys) or any(r != ("CastLike", 1)
                                 for r in readers.get(i.name, [])):
            continue
        dims = [d.dim_value for d in i.type.tensor_type.shape.dim]
        if all(d > 0 for d in dims):
            a = np.load(npys[j])
            np.save(npys[j], np.zeros(dims, a.dtype))


def import_verdict(nncc_run, case_dir):
    """nncc's own refusal of the model (e.g. a sequence or optional input),
    so a case whose data the runner cannot convert still names the
    unsupported construct; empty when nncc imports the model."""
    opt = os.path.join(os.path.dirname(nncc_run), "nncc-opt")
    p = subprocess.run([opt, os.path.join(case_dir, "model.onnx")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=CASE_TIMEOUT, universal_newlines=True)
    return "" if p.returncode == 0 else "\n" + p.stderr.rstrip()


# Cases refused by design. Each still counts as failed (it is in the table
# and in `N passed, N failed`), but its failure must carry the stated
# message, so it is a clear refusal rather than a wrong answer; the run then
# exits 0. A refused case that passes, or fails some other way, is an error.
REFUSED = {
    "test_training_dropout": "training-mode Dropout (random)",
    "test_training_dropout_default": "training-mode Dropout (random)",
    "test_training_dropout_default_mask": "training-mode Dropout (random)",
    "test_training_dropout_mask": "training-mode Dropout (random)",
    "test_cast_FLOAT_to_STRING": "string",
    "test_cast_STRING_to_FLOAT": "string",
    "test_castlike_FLOAT_to_STRING": "string",
    "test_castlike_FLOAT_to_STRING_expanded": "string",
    "test_castlike_STRING_to_FLOAT": "string",
    "test_castlike_STRING_to_FLOAT_expanded": "string",
    "test_identity_opt": "optional",
    "test_identity_sequence": "sequence",
    "test_if_seq": "SequenceConstruct",
    "test_if_opt": "Optional",
    "test_loop13_seq": "is a sequence",
    "test_loop16_seq_none": "is an optional",
}

def run_data_set(nncc_run, case_dir, ds, tol):
    """Runs one data set; returns None if it passed, else the message."""
    ds_dir = os.path.join(case_dir, ds)
    try:
        npys = {}
        for prefix in ("input_", "output_"):
            npys[prefix] = []
            for pb in tensors(ds_dir, prefix):
                npy = os.path.join(ds_dir, pb[:-3] + ".npy")
                to_npy(os.path.join(ds_dir, pb), npy)
                npys[prefix].append(npy)
        blank_type_only_inputs(case_dir, npys["input_"])
    except Exception as e:  # a tensor numpy cannot hold (strings, ...)
        return "%s: cannot convert test data: %s%s" % (
            ds, e, import_verdict(nncc_run, case_dir))
    args = [nncc_run, os.path.join(case_dir, "model.onnx")] + npys["input_"]
    args += ["--expect"] + npys["output_"]
    args += ["--rtol", repr(tol[0]), "--atol", repr(tol[1])]
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=CASE_TIMEOUT,
                           universal_newlines=True)
    except subprocess.TimeoutExpired:
        return "%s: nncc-run timed out after %ds" % (ds, CASE_TIMEOUT)
    if p.returncode == 0:
        return None
    why = "exit %d" % p.returncode if p.returncode > 0 else \
        "killed by signal %d" % -p.returncode
    return "%s: nncc-run %s\n%s" % (ds, why, p.stdout.rstrip())


def run_case(nncc_run, node_dir, name):
    case_dir = os.path.join(node_dir, name)
    tol = TOLERANCE.get(name, (RTOL, ATOL, None))
    for ds in data_sets(case_dir):
        err = run_data_set(nncc_run, case_dir, ds, tol)
        if err:
            return err
    return None


def select(cases, args):
    chosen = {}
    skipped = {}
    for name, (op, skip) in sorted(cases.items()):
        if args.op and op not in args.op:
            continue
        if args.k and not any(k in name for k in args.k):
            continue
        if skip:
            skipped[name] = (op, skip)
        else:
            chosen[name] = op
    return chosen, skipped


def report(chosen, results, skipped, ops, verbose, filtered):
    rows = {op: [0, 0, 0] for op in ops}
    for name, op in chosen.items():
        rows[op][0] += 1
        rows[op][1 if results[name] is None else 2] += 1
    for name in sorted(results):
        if results[name] is not None:
            print("FAIL %s (%s)" % (name, chosen[name]))
            lines = results[name].splitlines()
            for line in lines[:12]:
                print("    " + line)
            if len(lines) > 12:
                print("    ... (%d more lines)" % (len(lines) - 12))
    if verbose:
        for name, (op, why) in sorted(skipped.items()):
            print("SKIP %s (%s): %s" % (name, op, why))
    w = max([len("op")] + [len(op) for op in rows])
    print("%-*s %6s %7s %7s" % (w, "op", "cases", "passed", "failed"))
    for op in ops:
        c, p, f = rows[op]
        if filtered and c == 0:
            continue
        print("%-*s %6d %7d %7d%s" % (w, op, c, p, f,
                                       "  <- no cases" if c == 0 else ""))
    if skipped:
        print("(%d expanded cases skipped: their function bodies use ops "
              "nncc does not claim; -v lists them)" % len(skipped))
    npass = sum(r is None for r in results.values())
    nfail = len(results) - npass
    print("%d passed, %d failed" % (npass, nfail))
    unexpected = [n for n, r in results.items()
                  if (r is None) != (n not in REFUSED) or
                  (r is not None and REFUSED[n] not in r)]
    refused = nfail - sum(r is not None for n, r in results.items()
                          if n in unexpected)
    print("%d of the failures are refusals by design (REFUSED in run.py); "
          "%d unexpected result(s)%s" % (refused, len(unexpected),
                                         ": " + ", ".join(sorted(unexpected))
                                         if unexpected else ""))
    return len(unexpected)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--build", default=os.environ.get("NNCC_BUILD",
                    os.path.join(HERE, "..", "..", "build")),
                    help="the CMake build tree (default: $NNCC_BUILD or "
                    "./build)")
    ap.add_argument("--nncc-run", help="nncc-run binary (default: "
                    "BUILD/tools/nncc-run)")
    ap.add_argument("--op", action="append",
                    help="only cases of this op (repeatable)")
    ap.add_argument("-k", action="append",
                    help="only cases whose name contains SUBSTR "
                    "(repeatable)")
    ap.add_argument("-j", type=int, default=2, help="parallel jobs")
    ap.add_argument("-v", action="store_true", help="list skipped cases")
    ap.add_argument("--list", action="store_true",
                    help="list the selected cases and exit")
    args = ap.parse_args()
    nncc_run = args.nncc_run or os.path.join(args.build, "tools", "nncc-run")
    nncc_opt = os.path.join(os.path.dirname(nncc_run), "nncc-opt")
    for tool in (nncc_run, nncc_opt):
        if not os.access(tool, os.X_OK):
            print("run.py: error: %s: not built" % tool, file=sys.stderr)
            return 2
    if not CLAIMED:
        CLAIMED[:] = claimed_ops(nncc_opt)
    for op in args.op or []:
        if op not in CLAIMED:
            ap.error("--op %s: not a claimed op (%s)" %
                     (op, " ".join(CLAIMED)))

    node_dir = generate(args.build)
    cases = classify(node_dir, sorted(os.listdir(node_dir)))
    chosen, skipped = select(cases, args)
    if args.list:
        for name, op in chosen.items():
            print(op, name)
        return 0
    with concurrent.futures.ThreadPoolExecutor(max(1, args.j)) as ex:
        futs = {name: ex.submit(run_case, nncc_run, node_dir, name)
                for name in chosen}
        results = {name: f.result() for name, f in futs.items()}
    ops = [op for op in CLAIMED if not args.op or op in args.op]
    filtered = bool(args.op or args.k)
    return 1 if report(chosen, results, skipped, ops, args.v, filtered) \
        else 0


if __name__ == "__main__":
    sys.exit(main())
