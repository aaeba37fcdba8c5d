#!/usr/bin/python3
"""Streams a stateful model (Silero VAD: an audio chunk and the LSTM state
in, a probability and the new state out) through nncc's object and through
ONNX Runtime, chunk after chunk with the state carried, and reports the
largest difference of every output over the whole stream.

usage: bench/stream.py MODEL.onnx --build BUILD [--chunks N] [--spec v5|legacy]
       [-- nncc options]
The audio is synthetic and deterministic (16 kHz: silence, noise, and
voiced harmonic segments with a pitch glide), so no data is downloaded.
ORT runs through bench/stream_ort.js (onnxruntime-node from npm: run
`npm install` in bench/ first, or set NODE_PATH)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "codegen"))
import run_compiled as rc  # noqa: E402

SPECS = {
    "v5": {"chunk": [1, 512], "feed": "input",
           "state": {"state": [2, 1, 128]}, "carry": {"stateN": "state"},
           "fixed": {"sr": ["int64", [], [16000]]},
           "outputs": ["output", "stateN"]},
    "legacy": {"chunk": [1, 512], "feed": "input",
               "state": {"h": [2, 1, 64], "c": [2, 1, 64]},
               "carry": {"hn": "h", "cn": "c"},
               "fixed": {"sr": ["int64", [], [16000]]},
               "outputs": ["output", "hn", "cn"]},
}


def audio(n, per, seed=7):
    rng = np.random.default_rng(seed)
    t = np.arange(n * per) / 16000.0
    x = np.zeros_like(t)
    seg = per * 8
    for s in range(0, len(t), seg):
        kind = (s // seg) % 3
        tt = t[s:s + seg]
        if kind == 1:
            x[s:s + seg] = 0.05 * rng.standard_normal(len(tt))
        elif kind == 2:
            f0 = 120 + 60 * np.sin(2 * np.pi * 0.7 * tt)
            ph = 2 * np.pi * np.cumsum(f0) / 16000.0
            v = sum(np.sin(h * ph) / h for h in range(1, 12))
            x[s:s + seg] = 0.3 * v * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * tt))
    return x.astype(np.float32)


def run_ort(model, spec, wd, tag):
    sp, out = os.path.join(wd, tag + ".json"), os.path.join(wd, tag + ".bin")
    with open(sp, "w") as f:
        json.dump(spec, f)
    r = subprocess.run(["node", os.path.join(HERE, "stream_ort.js"), model,
                        sp, out])
    if r.returncode:
        sys.exit("stream_ort.js failed")
    return np.fromfile(out, dtype=np.float32)


def output_sizes(spec):
    sizes = [1]  # the probability; then the states, in output order
    carried = {frm: to for frm, to in spec["carry"].items()}
    for name in spec["outputs"][1:]:
        sizes.append(int(np.prod(spec["state"][carried[name]])))
    return sizes


def ref_diff(a, b, spec, chunks):
    """Per output, the largest difference over the stream (relative to the
    output's magnitude above 1)."""
    sizes = output_sizes(spec)
    a, b = a.reshape(chunks, -1), b.reshape(chunks, -1)
    out, off = [], 0
    for n in sizes:
        x, y = a[:, off:off + n], b[:, off:off + n]
        out.append(float(np.max(np.abs(x - y) /
                                np.maximum(1.0, np.abs(x).max(1))[:, None])))
        off += n
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--build", required=True)
    ap.add_argument("--chunks", type=int, default=100)
    ap.add_argument("--spec", default="v5", choices=sorted(SPECS))
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("-v", action="store_true", help="per-chunk differences")
    ap.add_argument("--interp", action="store_true",
                    help="also stream nncc-run on the IR code generation "
                         "received, and compare the object with it")
    ap.add_argument("nncc_args", nargs="*")
    a = ap.parse_args()
    spec = dict(SPECS[a.spec])
    per = int(np.prod(spec["chunk"]))
    t = rc.Tools(a.build)
    wd = tempfile.mkdtemp(prefix="nncc-stream-")
    x = audio(a.chunks, per)
    spec["chunks"] = os.path.join(wd, "chunks.bin")
    x.tofile(spec["chunks"])
    with open(os.path.join(wd, "spec.json"), "w") as f:
        json.dump(spec, f)
    ref = run_ort(a.model, spec, wd, "ort")
    # ORT against itself with the audio one ulp up: how much the model's
    # own recurrence amplifies rounding (the legacy Silero model's state
    # moves by 5e-3 so from chunk 16 of this stream)
    spec_p = dict(spec, chunks=os.path.join(wd, "chunks_ulp.bin"))
    np.nextafter(x, np.float32(np.inf)).astype(np.float32).tofile(
        spec_p["chunks"])
    sens = ref_diff(ref, run_ort(a.model, spec_p, wd, "ort_ulp"), spec,
                    a.chunks)
    shapes = ["%s=%s" % (spec["feed"], "x".join(map(str, spec["chunk"])))]
    shapes += ["%s=%s" % (k, "x".join(map(str, v)))
               for k, v in spec["state"].items()]
    extra = ["--input-value", "sr=16000"] + a.nncc_args
    exe, err = rc.build_model(t, a.model, wd, shapes=shapes, extra=extra)
    if err:
        sys.exit(err)
    state = {k: np.zeros(v, np.float32) for k, v in spec["state"].items()}
    sizes = [1] + [int(np.prod(v)) for v in spec["state"].values()]
    worst = [0.0] * len(spec["outputs"])
    worst_interp = 0.0
    off = 0
    for k in range(a.chunks):
        ins = [os.path.join(wd, "in.npy")]
        np.save(ins[0], x[k * per:(k + 1) * per].reshape(spec["chunk"]))
        for name in spec["state"]:
            ins.append(os.path.join(wd, name + ".npy"))
            np.save(ins[-1], state[name])
        outs = [os.path.join(wd, "o%d.npy" % i)
                for i in range(len(spec["outputs"]))]
        code, txt = rc.run_exe(exe, ins, outs)
        if code:
            sys.exit("chunk %d: harness exit %d\n%s" % (k, code, txt))
        got = [np.load(o) for o in outs]
        if a.interp:
            refs = [os.path.join(wd, "r%d.npy" % i) for i in range(len(outs))]
            args = [t.nncc_run, os.path.join(wd, "m.nnir")] + ins
            for o in refs:
                args += ["-o", o]
            code, txt = rc.sh(args)
            if code:
                sys.exit("chunk %d: nncc-run failed\n%s" % (k, txt))
            iw = max(float(np.max(np.abs(np.load(o) - g)))
                     for o, g in zip(refs, got))
            worst_interp = max(worst_interp, iw)
        diffs = []
        for i, g in enumerate(got):
            e = ref[off:off + g.size]
            off += g.size
            diffs.append(float(np.max(np.abs(g.ravel() - e)) /
                               max(1.0, float(np.max(np.abs(e))))))
            worst[i] = max(worst[i], diffs[-1])
        if a.v:
            print("chunk %3d: p=%.4f  " % (k, got[0].flat[0]) +
                  "  ".join("%.2g" % x for x in diffs))
        for frm, to in spec["carry"].items():
            state[to] = got[spec["outputs"].index(frm)].reshape(
                spec["state"][to])
    probs = ref.reshape(a.chunks, -1)[:, 0]
    print("%s: %d chunks, speech probability range %.3f..%.3f" %
          (os.path.basename(a.model), a.chunks, probs.min(), probs.max()))
    for name, w, e in zip(spec["outputs"], worst, sens):
        print("  %-8s max |nncc - ORT| / max(1, max |ORT|) = %.3g   "
              "(ORT against itself, audio +1 ulp: %.3g)" % (name, w, e))
    if a.interp:
        print("  object vs nncc-run: max difference %.3g" % worst_interp)
    # within the tolerance, or within a few times what one ulp of input
    # does to ORT itself (a chaotic recurrence has no tighter reference)
    bad = [n for n, w, e in zip(spec["outputs"], worst, sens)
           if w > max(a.tol, 4 * e)]
    if bad:
        sys.exit("%s: differs from ONNX Runtime by more than %g and more "
                 "than 4x ORT's own sensitivity" % (", ".join(bad), a.tol))


if __name__ == "__main__":
    main()
