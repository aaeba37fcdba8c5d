#!/usr/bin/python3
"""The report's weight bytes follow the object: with and without
--select-features, the drop in the report's 'bytes in the object after'
must match the drop in the object file's size to within 2 KiB (code and
tables around the weights), and be positive.

usage: report_bytes.py REPORT0 OBJECT0 REPORT1 OBJECT1
"""
import os
import re
import sys


def after(path):
    m = re.search(r"^weights: \d+ bytes dense f32 before, (\d+) bytes in the "
                  r"object after", open(path).read(), re.M)
    if not m:
        sys.exit("no weights line in " + path)
    return int(m.group(1))


def main():
    r0, o0, r1, o1 = sys.argv[1:5]
    dw = after(r0) - after(r1)
    do = os.path.getsize(o0) - os.path.getsize(o1)
    ok = dw > 0 and abs(dw - do) <= 2048
    print("%s: report -%d bytes, object -%d bytes" % (
        "ok" if ok else "FAIL", dw, do))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
