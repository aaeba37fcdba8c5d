#!/usr/bin/python3
"""PyTorch recurrent layers exported at test time (torch.onnx.export, random
weights with fixed seeds) and checked against PyTorch's own forward in
float64: a 2-layer LSTM, a bidirectional batch-first LSTM, GRUs and RNNs
(tanh and relu, bidirectional), at several opsets; by the interpreter
(nncc-run --expect) and compiled (nncc -O3 linked with
test/codegen/harness.c, also against the interpreter). Then a streaming
model in the manner of Silero VAD (audio chunk and LSTM state in,
probability and new state out) compiled once and run chunk after chunk
with the state carried, against PyTorch chunk after chunk.

Run: /usr/bin/python3 test/e2e/rnn_torch.py BUILD WORK_DIR
Prints one line per check and `N passed, N failed`; exits 1 on a failure.
"""
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "codegen"))
import run_compiled as rc  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5


class Seq(nn.Module):
    """A recurrent layer with its initial state as inputs; returns the
    sequence output and the final state(s)."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, *state):
        if isinstance(self.rnn, nn.LSTM):
            y, (h, c) = self.rnn(x, (state[0], state[1]))
            return y, h, c
        y, h = self.rnn(x, state[0])
        return y, h


def seq_case(name, rnn, T, B, opset):
    layers = rnn.num_layers * (2 if rnn.bidirectional else 1)
    x = torch.randn((B, T, rnn.input_size) if rnn.batch_first
                    else (T, B, rnn.input_size))
    st = [torch.randn(layers, B, rnn.hidden_size) * 0.5]
    if isinstance(rnn, nn.LSTM):
        st.append(torch.randn(layers, B, rnn.hidden_size) * 0.5)
    return name, Seq(rnn), [x] + st, opset


def cases():
    torch.manual_seed(11)
    return [
        seq_case("lstm_2layer_op14", nn.LSTM(8, 16, num_layers=2), 6, 2, 14),
        seq_case("lstm_2layer_op11", nn.LSTM(8, 16, num_layers=2), 5, 1, 11),
        seq_case("lstm_bidir_batch_first_op13",
                 nn.LSTM(8, 12, bidirectional=True, batch_first=True), 7, 3,
                 13),
        seq_case("lstm_bidir_2layer_op17",
                 nn.LSTM(6, 10, num_layers=2, bidirectional=True), 5, 2, 17),
        seq_case("gru_op14", nn.GRU(8, 16), 6, 2, 14),
        seq_case("gru_bidir_2layer_op11",
                 nn.GRU(8, 12, num_layers=2, bidirectional=True), 5, 2, 11),
        seq_case("gru_batch_first_op17", nn.GRU(5, 9, batch_first=True), 4,
                 3, 17),
        seq_case("rnn_tanh_op14", nn.RNN(8, 16), 6, 2, 14),
        seq_case("rnn_relu_bidir_op13",
                 nn.RNN(8, 12, nonlinearity="relu", bidirectional=True), 5,
                 2, 13),
    ]


def export(m, args, path, opset, in_names, out_names):
    m.eval()
    with torch.no_grad():
        torch.onnx.export(m, tuple(args), path, opset_version=opset,
                          input_names=in_names, output_names=out_names)


def reference(m, args):
    with torch.no_grad():
        out = m.double()(*[a.double() for a in args])
    m.float()
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


class Compiled:
    """A model compiled once (nncc -O3 + harness), run on many inputs."""

    def __init__(self, t, model, wd):
        self.t, self.wd = t, wd
        self.exe, self.err = rc.build_model(t, model, wd)
        self.ir = os.path.join(wd, "m.nnir")

    def run(self, ins, nout, tag):
        outs = [os.path.join(self.wd, "%s_got%d.npy" % (tag, k))
                for k in range(nout)]
        code, out = rc.run_exe(self.exe, ins, outs)
        if code:
            return None, "harness exit %d\n%s" % (code, out)
        return [np.load(o) for o in outs], None

    def interp(self, ins, nout, tag):
        outs = [os.path.join(self.wd, "%s_ref%d.npy" % (tag, k))
                for k in range(nout)]
        a = [self.t.nncc_run, self.ir] + ins
        for o in outs:
            a += ["-o", o]
        code, out = rc.sh(a)
        if code:
            return None, "nncc-run failed:\n" + out
        return [np.load(o) for o in outs], None


def save_all(wd, tag, arrays):
    paths = []
    for k, a in enumerate(arrays):
        paths.append(os.path.join(wd, "%s_%d.npy" % (tag, k)))
        np.save(paths[-1], np.asarray(a, np.float32))
    return paths


def check(got, exp, what):
    for k, (g, e) in enumerate(zip(got, exp)):
        msg = rc.close(g, e.astype(np.float32), RTOL, ATOL)
        if msg:
            return "%s output %d: %s" % (what, k, msg)
    return None


def seq_check(t, wd, name, m, args, opset):
    os.makedirs(wd, exist_ok=True)
    model = os.path.join(wd, "model.onnx")
    nst = len(args) - 1
    outs = ["y", "h", "c"][:1 + nst]
    export(m, args, model, opset, ["x", "h0", "c0"][:len(args)], outs)
    exp = reference(m, args)
    ins = save_all(wd, "in", [a.numpy() for a in args])
    exps = save_all(wd, "exp", exp)
    code, out = rc.sh([t.nncc_run, model] + ins + ["--expect"] + exps +
                      ["--rtol", str(RTOL), "--atol", str(ATOL)])
    if code:
        return "interpreter vs PyTorch:\n" + out
    c = Compiled(t, model, wd)
    if c.err:
        return c.err
    got, err = c.run(ins, len(exp), "x")
    ref, err2 = c.interp(ins, len(exp), "x")
    return err or err2 or check(got, exp, "compiled vs PyTorch") or \
        check(got, ref, "compiled vs interpreter")


class Stream(nn.Module):
    """Silero-VAD-like: a chunk of audio samples is cut into frames,
    encoded, run through a 2-layer LSTM whose state is carried between
    calls, and decoded into a speech probability."""

    def __init__(self, frame=32, hidden=24):
        super().__init__()
        self.frame = frame
        self.enc = nn.Linear(frame, 16)
        self.lstm = nn.LSTM(16, hidden, num_layers=2, batch_first=True)
        self.dec = nn.Linear(hidden, 1)

    def forward(self, chunk, h, c):
        frames = chunk.reshape(1, -1, self.frame)
        y, (h2, c2) = self.lstm(torch.relu(self.enc(frames)), (h, c))
        prob = torch.sigmoid(self.dec(y[:, -1]))
        return prob, h2, c2


def stream_check(t, wd, chunks=12):
    os.makedirs(wd, exist_ok=True)
    torch.manual_seed(5)
    m = Stream().eval()
    h = torch.zeros(2, 1, 24)
    c = torch.zeros(2, 1, 24)
    audio = torch.randn(chunks, 1, 256)
    model = os.path.join(wd, "stream.onnx")
    export(m, (audio[0], h, c), model, 14, ["chunk", "h", "c"],
           ["prob", "hn", "cn"])
    comp = Compiled(t, model, wd)
    if comp.err:
        return comp.err
    gh, gc = h.numpy(), c.numpy()
    for i in range(chunks):
        exp = reference(m, (audio[i], h, c))
        ins = save_all(wd, "c%d" % i, [audio[i].numpy(), gh, gc])
        got, err = comp.run(ins, 3, "c%d" % i)
        if err:
            return "chunk %d: %s" % (i, err)
        msg = check(got, exp, "chunk %d: compiled vs PyTorch" % i)
        if msg:
            return msg
        # the state carried is the compiled model's own, the reference
        # carries PyTorch's: a drift would show in the next chunk
        gh, gc = got[1], got[2]
        h, c = torch.from_numpy(exp[1]).float(), torch.from_numpy(
            exp[2]).float()
    return None


def main():
    warnings.filterwarnings("ignore")  # the exporter's, on stderr
    build, work = sys.argv[1:3]
    t = rc.Tools(os.path.abspath(build))
    failed = passed = 0
    jobs = [(n, lambda n=n, m=m, a=a, o=o: seq_check(
        t, os.path.join(work, n), n, m, a, o)) for n, m, a, o in cases()]
    jobs.append(("stream_lstm_state", lambda: stream_check(
        t, os.path.join(work, "stream"))))
    for name, job in jobs:
        err = job()
        print("%s %s%s" % ("FAIL" if err else "ok", name,
                           ": " + err if err else ""))
        failed += bool(err)
        passed += not err
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
