"""Runs onnx.backend.test.cmd_tools (generate-data) under numpy 1.24.

onnx 1.12's test-case generators still use numpy aliases that numpy 1.24
removed (np.float, np.int, np.bool, ...); restore them, then run the module
as if invoked with `python3 -m onnx.backend.test.cmd_tools ARGS`.
"""
import runpy
import sys

import numpy as np

for alias, typ in [("float", float), ("int", int), ("bool", bool),
                   ("object", object), ("complex", complex), ("str", str)]:
    if alias not in np.__dict__:
        setattr(np, alias, typ)

sys.argv = ["onnx.backend.test.cmd_tools"] + sys.argv[1:]
runpy.run_module("onnx.backend.test.cmd_tools", run_name="__main__",
                 alter_sys=True)
