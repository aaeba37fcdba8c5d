"""Writes .npy files with numpy (the reference writer) for the runtime's
reader tests, and checks files the runtime wrote against the originals.

  npy_cases.py write DIR     good files of every dtype/version + bad files
  npy_cases.py compare DIR   every DIR/X.out.npy must equal DIR/X.npy
"""
import os
import sys

import numpy as np

GOOD = {
    "f4": np.arange(6, dtype="<f4").reshape(2, 3) / 7,
    "f8": np.array([1.5, -2.25, np.nan, np.inf], dtype="<f8"),
    "f2": np.array([[0.5, -1.0], [65504.0, 1e-4]], dtype="<f2"),
    "i1": np.array([-128, 127, 0], dtype="i1"),
    "i2": np.array([-32768, 32767], dtype="<i2"),
    "i4": np.arange(24, dtype="<i4").reshape(2, 3, 4) - 12,
    "i8": np.array([-(2**62), 2**62, 5], dtype="<i8"),
    "u1": np.array([0, 255, 7], dtype="u1"),
    "u2": np.array([65535], dtype="<u2"),
    "u4": np.array([[4000000000]], dtype="<u4"),
    "u8": np.array([2**64 - 1], dtype="<u8"),
    "b1": np.array([True, False, True]),
    "scalar": np.array(3.25, dtype="<f4"),
    "empty": np.zeros((0, 5), dtype="<f4"),
    "rank8": np.ones((1, 2, 1, 2, 1, 2, 1, 2), dtype="<f4"),
}


def write_version(path, arr, version):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=version)


def write(d):
    os.makedirs(d, exist_ok=True)
    for name, arr in GOOD.items():
        np.save(os.path.join(d, name + ".npy"), arr)
    big = np.arange(5, dtype="<f4")
    write_version(os.path.join(d, "v2.npy"), big, (2, 0))
    write_version(os.path.join(d, "v3.npy"), big, (3, 0))
    np.save(os.path.join(d, "fortran.npy"), np.asfortranarray(GOOD["f4"]))
    np.save(os.path.join(d, "bigendian.npy"), GOOD["f4"].astype(">f4"))
    np.save(os.path.join(d, "complex.npy"), np.zeros(2, dtype="<c8"))
    np.save(os.path.join(d, "rank9.npy"), np.zeros((1,) * 9, dtype="<f4"))
    with open(os.path.join(d, "badmagic.npy"), "wb") as f:
        f.write(b"PK\x03\x04 not an npy file at all")
    raw = open(os.path.join(d, "f4.npy"), "rb").read()
    with open(os.path.join(d, "truncated.npy"), "wb") as f:
        f.write(raw[:-3])
    with open(os.path.join(d, "trailing.npy"), "wb") as f:
        f.write(raw + b"\0\0\0\0")
    # a version 1 file marked version 3: its 2-byte length and header text
    # read as a 4-byte length
    with open(os.path.join(d, "v3bad.npy"), "wb") as f:
        f.write(raw[:6] + b"\x03" + raw[7:])
    with open(os.path.join(d, "v4.npy"), "wb") as f:
        f.write(raw[:6] + b"\x04" + raw[7:])


def compare(d):
    bad = 0
    for name, arr in GOOD.items():
        out = os.path.join(d, name + ".out.npy")
        got = np.load(out)
        if got.dtype != arr.dtype or got.shape != arr.shape or not \
                np.array_equal(got, arr, equal_nan=arr.dtype.kind == "f"):
            print("MISMATCH", name, got.dtype, got.shape, arr.dtype,
                  arr.shape)
            bad += 1
        if os.path.getsize(out) % 64 != (arr.nbytes % 64):
            print("DATA NOT 64-BYTE ALIGNED", name)
            bad += 1
    print("compared", len(GOOD), "bad", bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(write(sys.argv[2]) if sys.argv[1] == "write"
             else compare(sys.argv[2]))
