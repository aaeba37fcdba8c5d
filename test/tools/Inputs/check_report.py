"""Checks nncc's --report=json against independent sources of the same
figures: the text report (--report), the object file on disk, the IR code
generation received (--emit-ir, whose weights are counted here), nncc-run's
accuracy on that IR, the rules file --prune=auto wrote, and what the
command line asked for. Never against expected numbers.

usage:
  check_report.py json REPORT.json --text REPORT.txt [--object M.o]
        [--ir M.nnir] [--accuracy NNCC_RUN_OUTPUT] [--prune S]
  check_report.py auto REPORT.json --rules RULES
  check_report.py names REPORT.json --svg REPORT.svg --expect-name NAME...

Prints "check_report: ok: ..." or the first mismatch, exit 1.
"""
import argparse
import json
import os
import re
import sys


def fail(msg):
    print("check_report: FAIL: " + msg)
    sys.exit(1)


def strict_json(path):
    """JSON as RFC 8259 has it: NaN and Infinity are not numbers."""
    def bad(tok):
        fail("%s: non-finite number %s" % (path, tok))
    with open(path, encoding="utf-8") as f:
        return json.load(f, parse_constant=bad)


def text_report(path):
    """The layer rows, the weights line, the log lines, the fidelity and
    accuracy lines, and the object line of the text report."""
    lines = open(path, encoding="utf-8", errors="replace").read() \
        .splitlines()
    rows, log, rep = [], [], {}
    i = next(k for k, l in enumerate(lines) if l.split()[:2] == ["layer",
                                                                "op"])
    i += 1
    while not lines[i].startswith("weights: "):
        f = lines[i].split()
        rows.append(f)
        i += 1
    m = re.match(r"weights: (\d+) bytes dense f32 before, (\d+) bytes in "
                 r"the object after", lines[i])
    rep["before"], rep["after"] = int(m.group(1)), int(m.group(2))
    for l in lines[i + 1:]:
        m = re.match(r"fidelity on (\d+) samples \((.*)\): max abs err (\S+),"
                     r" max rel err (\S+), top-1 agreement (\S+) "
                     r"\((\d+)/(\d+)\)$", l)
        if m:
            rep["fid"] = m.groups()
            continue
        m = re.match(r"accuracy: (\S+) \((\d+)/(\d+)\), uncompressed (\S+) "
                     r"\((\d+)/(\d+)\)$", l)
        if m:
            rep["acc"] = m.groups()
            continue
        m = re.match(r"object: (.*), (\d+) bytes", l)
        if m:
            rep["object"] = (m.group(1), int(m.group(2)))
            continue
        if "fid" not in rep:
            log.append(l)
    return rows, log, rep


def ir_weights(path):
    """{node name: non-zeros of its weight input} from IR text with full
    weights (--emit-ir)."""
    nnz, out = {}, {}
    for line in open(path, encoding="utf-8"):
        m = re.match(r'\s*(%\S+) = const \S+ \[([^\]]*)\]( codebook\(.*)?'
                     r'\s*$', line)
        if m:
            vals = [float(v) for v in m.group(2).split(",") if v.strip()]
            nnz[m.group(1)] = sum(v != 0 for v in vals)
            continue
        m = re.match(r'\s*\S+ = [\w.]+\(([^)]*)\).*loc\("(.*)"\)\s*$', line)
        if m:
            args = [a.strip() for a in m.group(1).split(",")]
            if len(args) > 1 and args[1] in nnz:
                out[m.group(2)] = nnz[args[1]]
    return out


def close(a, b, tol):
    return abs(a - b) <= tol


def check_layers(r, rows):
    if len(rows) != len(r["layers"]):
        fail("%d layers in the text, %d in the JSON" % (len(rows),
                                                        len(r["layers"])))
    for f, L in zip(rows, r["layers"]):
        name, op, method, params, nnz, sp, obytes, kernel = f
        got = (L["name"], L["op"], L["method"], L["params"], L["nnz"],
               L["object_bytes"], L["kernel"])
        want = (name, op, method, int(params), int(nnz), int(obytes), kernel)
        if got != want:
            fail("layer %s: JSON %s, text %s" % (name, got, want))
        if not close(100 * L["sparsity"], float(sp.rstrip("%")), 0.005001):
            fail("layer %s: sparsity %r in the JSON, %s in the text"
                 % (name, L["sparsity"], sp))
        if not close(L["sparsity"], 1 - L["nnz"] / L["params"], 1e-12):
            fail("layer %s: sparsity is not 1 - nnz/params" % name)
        if L["dense_bytes"] != 4 * L["params"]:
            fail("layer %s: dense_bytes is not 4 * params" % name)


def check_json(a):
    r = strict_json(a.report)
    rows, log, rep = text_report(a.text)
    check_layers(r, rows)
    w = r["weights"]
    if (w["dense_bytes_before"], w["object_bytes_after"]) != (rep["before"],
                                                              rep["after"]):
        fail("weights: JSON %s, text %s" % (w, rep))
    if w["object_bytes_after"] != sum(L["object_bytes"] for L in r["layers"]):
        fail("weights.object_bytes_after is not the layers' sum")
    if w["nnz"] != sum(L["nnz"] for L in r["layers"]):
        fail("weights.nnz is not the layers' sum")
    texts = [e["text"] for e in r["log"] if e["text"] is not None]
    if texts != log:
        fail("the log's text lines differ from the text report's:\n%s\n%s"
             % (texts[:3], log[:3]))
    fid = r["fidelity"]
    if "fid" in rep:
        n, on, mabs, mrel, agr, agree, n2 = rep["fid"]
        if (fid["samples"], fid["on"], fid["agree"]) != (int(n), on,
                                                         int(agree)):
            fail("fidelity: JSON %s, text %s" % (fid, rep["fid"]))
        # a figure that is not finite is null in the JSON
        for key, txt in (("max_abs_err", mabs), ("max_rel_err", mrel)):
            v = fid[key]
            if (v is None) != (txt in ("inf", "-inf", "nan")) or \
                    (v is not None and "%.3g" % v != txt):
                fail("fidelity %s: JSON %r, text %s" % (key, v, txt))
        if "%.4f" % fid["top1_agreement"] != agr:
            fail("fidelity figures: JSON %s, text %s" % (fid, rep["fid"]))
    elif fid is not None:
        fail("fidelity in the JSON, not in the text")
    if "acc" in rep:
        acc, corr, n, racc, rcorr, n2 = rep["acc"]
        if (fid["correct"], fid["ref_correct"]) != (int(corr), int(rcorr)):
            fail("accuracy: JSON %s, text %s" % (fid, rep["acc"]))
    checked = ["layers", "weights", "log (%d records)" % len(r["log"])]
    if a.object:
        size = os.path.getsize(a.object)
        if r["object"]["bytes"] != size:
            fail("object: %d bytes in the JSON, %d on disk"
                 % (r["object"]["bytes"], size))
        if rep.get("object", (None, size))[1] != size:
            fail("object: the text report says %s" % (rep["object"],))
        checked.append("object %d bytes" % size)
    if a.ir:
        counted = ir_weights(a.ir)
        for L in r["layers"]:
            if counted.get(L["name"]) != L["nnz"]:
                fail("layer %s: %s non-zeros in the JSON, %s in the IR"
                     % (L["name"], L["nnz"], counted.get(L["name"])))
        checked.append("nnz against the IR")
    if a.accuracy:
        m = re.search(r"accuracy: \S+ \((\d+)/(\d+)\)", open(a.accuracy).read())
        if (fid["correct"], fid["samples"]) != (int(m.group(1)),
                                                int(m.group(2))):
            fail("accuracy: JSON %d/%d, nncc-run on the IR %s/%s"
                 % (fid["correct"], fid["samples"], m.group(1), m.group(2)))
        checked.append("accuracy against nncc-run")
    if a.prune is not None:
        if r["options"]["prune_sparsity"] != a.prune:
            fail("options.prune_sparsity %r, asked %r"
                 % (r["options"]["prune_sparsity"], a.prune))
        # pruning removes S of the weights; nothing after it adds any
        if w["sparsity"] < a.prune - 1e-3:
            fail("sparsity %.4f below the %.4f asked" % (w["sparsity"],
                                                         a.prune))
        stages = [e for e in r["log"] if e["kind"] == "stage"]
        for e in stages:
            if e["params"] != w["params"]:
                fail("stage %s counts %d weights, the layers %d"
                     % (e["pass"], e["params"], w["params"]))
        if stages and stages[-1]["nnz"] < w["nnz"]:
            fail("the last stage has fewer weights than the object")
        checked.append("prune %g: %.4f removed" % (a.prune, w["sparsity"]))
    print("check_report: ok: %d layers; %s" % (len(r["layers"]),
                                              ", ".join(checked)))


def check_auto(a):
    r = strict_json(a.report)
    rules = {}
    for line in open(a.rules):
        if line.startswith("#") or not line.strip():
            continue
        f = line.split()
        rules[f[0]] = 0.0 if f[1] == "dense" else float(f[1])
    chosen = {e["layer"]: e["sparsity"] for e in r["log"]
              if e["kind"] == "prune-auto-layer"}
    if chosen != rules:
        fail("prune-auto-layer records %s, rules file %s" % (chosen, rules))
    # the choice is where the kept steps left each layer
    level = {k: 0.0 for k in chosen}
    steps = [e for e in r["log"] if e["kind"] == "prune-auto-step"]
    for e in steps:
        if e["kept"]:
            level[e["layer"]] = e["to"]
    if level != chosen:
        fail("the kept steps end at %s, the choice is %s" % (level, chosen))
    sens = {e["layer"] for e in r["log"]
            if e["kind"] == "prune-auto-sensitivity"}
    if sens != set(chosen):
        fail("sensitivity measured for %s, layers %s" % (sens, set(chosen)))
    summary = [e for e in r["log"] if e["kind"] == "prune-auto"]
    if len(summary) != 1:
        fail("%d prune-auto summaries" % len(summary))
    s = summary[0]
    if s["loss"] > s["tolerance"] + 1e-12:
        fail("loss %g over the tolerance %g" % (s["loss"], s["tolerance"]))
    if s["tolerance"] != r["options"]["tolerance"]:
        fail("tolerance %g, asked %g" % (s["tolerance"],
                                         r["options"]["tolerance"]))
    for e in steps:
        if e["kept"] and e["loss"] > s["tolerance"] + 1e-12:
            fail("step %d kept over the tolerance" % e["step"])
    print("check_report: ok: prune-auto: %d layers, %d steps, %d sensitivity"
          " points" % (len(chosen), len(steps), sum(
              e["kind"] == "prune-auto-sensitivity" for e in r["log"])))


def check_names(a):
    import xml.etree.ElementTree as ET
    r = strict_json(a.report)
    names = [L["name"] for L in r["layers"]]
    for n in a.expect_name:
        n = n.encode("ascii").decode("unicode_escape")
        if n not in names:
            fail("layer %r not in the JSON's %r" % (n, names))
    svg = ET.parse(a.svg).getroot()
    titles = " ".join("".join(t.itertext()) for t in svg.iter(
        "{http://www.w3.org/2000/svg}title"))
    for n in names:
        # XML 1.0 cannot hold control characters: the SVG shows them as ?
        shown = "".join("?" if ord(c) < 0x20 or c == "\x7f" else c
                        for c in n)
        if shown not in titles:
            fail("layer %r not in the SVG's titles" % shown)
    print("check_report: ok: %d names round-trip" % len(names))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["json", "auto", "names"])
    p.add_argument("report")
    p.add_argument("--text")
    p.add_argument("--object")
    p.add_argument("--ir")
    p.add_argument("--accuracy")
    p.add_argument("--prune", type=float)
    p.add_argument("--rules")
    p.add_argument("--svg")
    p.add_argument("--expect-name", nargs="*", default=[])
    a = p.parse_args()
    {"json": check_json, "auto": check_auto, "names": check_names}[a.mode](a)


if __name__ == "__main__":
    main()
