#!/usr/bin/python3
"""Checks a generated header's provenance macros against the model file
and the expected options, independently of nncc: the FNV-1a 64 hash of
the file's bytes is recomputed here, the version is what `NNCC
--version` says. usage: check_provenance.py HEADER NAME MODEL 'OPTIONS'
NNCC"""
import re
import subprocess
import sys

hdr, name, model, options, nncc = sys.argv[1:6]
version = subprocess.run([nncc, "--version"], stdout=subprocess.PIPE,
                         universal_newlines=True).stdout.split()[1]
text = open(hdr).read()
h = 0xcbf29ce484222325
for b in open(model, "rb").read():
    h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
want = {
    "MODEL_HASH": "%016x" % h,
    "OPTIONS": options,
    "NNCC_VERSION": version,
    "PROVENANCE": "nncc %s; model fnv1a64:%016x; options: %s" % (version, h,
                                                                 options),
}
bad = 0
for k, v in want.items():
    m = re.search(r'#define %s_%s "(.*)"' % (name, k), text)
    got = m.group(1) if m else None
    if got != v:
        print("%s_%s is %r, expected %r" % (name, k, got, v))
        bad = 1
print("provenance ok" if not bad else "provenance differs")
sys.exit(bad)
