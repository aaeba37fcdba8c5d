#!/usr/bin/python3
"""Every read through the attribute table names a row that can answer it:
ir_attr_i/f/s(n, "name") and ir_attr_i/f/s_or need some op's row of
that name and kind with a default in ir/attrs.def, ir_attr_req_i/s a row
of that name and kind. (Which op's row is the run-time check in
ir/attrs.c; this catches a misspelt name or a kind mix-up that no node
case reaches.) Prints "N passed, N failed"."""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..")
KINDS = {"i": "INT", "f": "FLOAT", "s": "STRING"}
ROW = re.compile(r'ATTR\((\w+), "([^"]+)", (\w+), (NONE|D\(|S\()')
CALL = re.compile(r'ir_attr_(req_)?([ifs])(_or)?\(\s*[^,;]+?,\s*"([^"]+)"')


def main():
    rows = {}
    with open(os.path.join(ROOT, "ir", "attrs.def")) as f:
        for line in f:
            m = ROW.match(line)
            if m:
                rows.setdefault((m.group(2), m.group(3)), []).append(
                    m.group(4) != "NONE")
    passed = failed = 0
    for sub in ("ir", "passes", "codegen", "frontend", "tools"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, sub)):
            for fn in sorted(files):
                if not fn.endswith(".c"):
                    continue
                path = os.path.join(dirpath, fn)
                with open(path) as f:
                    text = f.read()
                for m in CALL.finditer(text):
                    req, k, _, name = m.groups()
                    have = rows.get((name, KINDS[k]), [])
                    ok = bool(have) if req else any(have)
                    if ok:
                        passed += 1
                        continue
                    failed += 1
                    line = text.count("\n", 0, m.start()) + 1
                    print("FAIL: %s:%d: %s '%s' has no row%s in attrs.def"
                          % (os.path.relpath(path, ROOT), line,
                             KINDS[k].lower(), name,
                             "" if req else " with a default"))
    if passed < 100:
        print("FAIL: only %d reads found" % passed)
        failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return failed != 0


if __name__ == "__main__":
    sys.exit(main())
