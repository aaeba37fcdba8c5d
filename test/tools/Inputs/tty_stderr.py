"""Runs a command with stderr on a pseudo-terminal (stdout to a pipe) and
prints what reached the terminal with \\r as <CR> and escape sequences as
<ESC>, one line per \\n, for FileCheck (progress.test); then its exit
status.

usage: tty_stderr.py CMD ARG...
"""
import os
import subprocess
import sys

master, slave = os.openpty()
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=slave)
os.close(slave)
out = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the other end closed
        break
    if not chunk:
        break
    out += chunk
rc = p.wait()
text = out.decode("utf-8", "replace").replace("\r\n", "\n")
text = text.replace("\r", "<CR>").replace("\x1b", "<ESC>")
sys.stdout.write(text)
print("\ntty_stderr: exit %d" % rc)
