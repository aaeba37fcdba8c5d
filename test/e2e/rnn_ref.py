"""A numpy reference for ONNX LSTM, GRU and RNN (opset 14), written from
the operator specification (docs/Operators.md of onnx) in float64, one
time step and one batch row at a time: the independent oracle for
rnn_options.py. ref(op, inputs, attrs) returns [Y, Y_h] (+ [Y_c] for
LSTM); inputs is a list X, W, R, B, sequence_lens, initial_h, initial_c,
P with None for an omitted one."""
import numpy as np

# name: (number of alpha/beta parameters it takes, default alpha, beta)
FNS = {
    "relu": (0, 0, 0), "tanh": (0, 0, 0), "sigmoid": (0, 0, 0),
    "affine": (2, 1.0, 0.0), "leakyrelu": (1, 0.01, 0),
    "thresholdedrelu": (1, 1.0, 0), "scaledtanh": (2, 1.0, 1.0),
    "hardsigmoid": (2, 0.2, 0.5), "elu": (1, 1.0, 0),
    "softsign": (0, 0, 0), "softplus": (0, 0, 0),
}


def apply(name, a, b, x):
    name = name.lower()
    if name == "relu":
        return np.maximum(x, 0)
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if name == "affine":
        return a * x + b
    if name == "leakyrelu":
        return np.where(x >= 0, x, a * x)
    if name == "thresholdedrelu":
        return np.where(x > a, x, 0)
    if name == "scaledtanh":
        return a * np.tanh(b * x)
    if name == "hardsigmoid":
        return np.clip(a * x + b, 0, 1)
    if name == "elu":
        return np.where(x >= 0, x, a * (np.exp(x) - 1))
    if name == "softsign":
        return x / (1 + np.abs(x))
    if name == "softplus":
        return np.log(1 + np.exp(x))
    raise ValueError(name)


def activations(op, attrs, dirs):
    """[direction][k] -> function of x, parameters bound in order."""
    dflt = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"],
            "RNN": ["Tanh"]}[op]
    names = attrs.get("activations", dflt * dirs)
    alphas = list(attrs.get("activation_alpha", []))
    betas = list(attrs.get("activation_beta", []))
    fns = []
    for nm in names:
        k, a, b = FNS[nm.lower()]
        if k >= 1 and alphas:
            a = alphas.pop(0)
        if k >= 2 and betas:
            b = betas.pop(0)
        fns.append(lambda x, nm=nm, a=a, b=b: apply(nm, a, b, x))
    n = len(dflt)
    return [fns[d * n:(d + 1) * n] for d in range(dirs)]


def ref(op, inputs, attrs):
    inputs = list(inputs) + [None] * (8 - len(inputs))
    X, W, R, B, lens, h0, c0, P = [None if a is None else
                                   np.asarray(a, np.float64)
                                   for a in inputs]
    direction = attrs.get("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    layout = attrs.get("layout", 0)
    if layout:
        X = X.transpose(1, 0, 2)
        h0 = None if h0 is None else h0.transpose(1, 0, 2)
        c0 = None if c0 is None else c0.transpose(1, 0, 2)
    T, nb, _ = X.shape
    H = R.shape[2]
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    clip = attrs.get("clip")
    lens = np.full(nb, T) if lens is None else lens.astype(np.int64)
    acts = activations(op, attrs, dirs)
    Y = np.zeros((T, dirs, nb, H))
    Yh = np.zeros((dirs, nb, H))
    Yc = np.zeros((dirs, nb, H))

    def cl(x):
        return x if clip is None else np.clip(x, -clip, clip)

    for d in range(dirs):
        f = acts[d]
        back = direction == "reverse" or d == 1
        w, r = W[d], R[d]
        bw = B[d][:G * H] if B is not None else np.zeros(G * H)
        br = B[d][G * H:] if B is not None else np.zeros(G * H)
        p = P[d] if P is not None else np.zeros(3 * H)
        for b in range(nb):
            h = h0[d, b].copy() if h0 is not None else np.zeros(H)
            c = c0[d, b].copy() if c0 is not None else np.zeros(H)
            L = int(lens[b])
            steps = range(L - 1, -1, -1) if back else range(L)
            for t in steps:
                x = X[t, b]
                if op == "LSTM":
                    g = w @ x + r @ h + bw + br
                    gi, go, gf, gc = np.split(g, 4)
                    i = f[0](cl(gi + p[:H] * c))
                    if attrs.get("input_forget", 0):
                        fg = 1 - i
                    else:
                        fg = f[0](cl(gf + p[2 * H:] * c))
                    c = fg * c + i * f[1](cl(gc))
                    o = f[0](cl(go + p[H:2 * H] * c))
                    h = o * f[2](c)
                elif op == "GRU":
                    wz, wr, wh = np.split(w, 3)
                    rz, rr, rh = np.split(r, 3)
                    bwz, bwr, bwh = np.split(bw, 3)
                    brz, brr, brh = np.split(br, 3)
                    z = f[0](cl(wz @ x + rz @ h + bwz + brz))
                    rg = f[0](cl(wr @ x + rr @ h + bwr + brr))
                    if attrs.get("linear_before_reset", 0):
                        hh = f[1](cl(wh @ x + rg * (rh @ h + brh) + bwh))
                    else:
                        hh = f[1](cl(wh @ x + rh @ (rg * h) + brh + bwh))
                    h = (1 - z) * hh + z * h
                else:
                    h = f[0](cl(w @ x + r @ h + bw + br))
                Y[t, d, b] = h
            Yh[d, b] = h
            Yc[d, b] = c
    if layout:
        Y = Y.transpose(2, 0, 1, 3)
        Yh = Yh.transpose(1, 0, 2)
        Yc = Yc.transpose(1, 0, 2)
    return [Y, Yh, Yc] if op == "LSTM" else [Y, Yh]
