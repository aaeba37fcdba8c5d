"""Runs one tool command against one kind of output path and prints what
happened to that path, for FileCheck (outputs.test).

    outputs.py CASE DIR [--suffix=.EXT] TOOL ARG...
                              ('@OUT' in ARG is the output path)

CASE: fifo (a FIFO with a reader), link (a symlink to an existing file),
dangling (a symlink to nothing), full (/dev/full), dir (a directory),
fsize (an existing file, with writes failing: RLIMIT_FSIZE), stdout
('-', with stdout on /dev/full). The first
three compare the bytes with those the same command writes to a new
regular file. --suffix gives the paths made here an extension (nncc picks
bitcode by the name's .bc)."""
import os
import resource
import signal
import stat
import subprocess
import sys
import threading

SUFFIX = ""
TIMEOUT = 300  # a tool that hangs fails the case instead of the run


def run(argv, out, limit=None, stdout=subprocess.PIPE):
    args = [a.replace("@OUT", out) for a in argv]

    def pre():
        if limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    try:
        p = subprocess.run(args, stdout=stdout, stderr=subprocess.PIPE,
                           preexec_fn=pre, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {TIMEOUT} s"
    err = p.stderr.decode().strip()
    if not out.startswith("/dev/"):
        err = err.replace(os.path.dirname(out) + "/", "")
    return p.returncode, err


def read(path):
    with open(path, "rb") as f:
        return f.read()


def case_fifo(d, argv, ref):
    path = os.path.join(d, "fifo" + SUFFIX)
    os.mkfifo(path)
    got = []
    # a daemon: a reader still waiting for a writer cannot keep this
    # script (and the lit run) alive
    t = threading.Thread(target=lambda: got.append(read(path)), daemon=True)
    t.start()
    rc, err = run(argv, path)
    if rc != 0:  # release the reader, if it is waiting
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    t.join(60)
    kind = "fifo" if stat.S_ISFIFO(os.lstat(path).st_mode) else "replaced"
    print(f"fifo: rc={rc} {kind} same={got and got[0] == ref} {err}")


def case_link(d, argv, ref, dangling):
    target, link = os.path.join(d, "target" + SUFFIX), os.path.join(d, "link" + SUFFIX)
    if not dangling:
        with open(target, "wb") as f:
            f.write(b"old")
    os.symlink("target" + SUFFIX, link)
    rc, err = run(argv, link)
    kind = "link" if os.path.islink(link) else "replaced"
    same = os.path.exists(target) and read(target) == ref
    name = "dangling" if dangling else "link"
    print(f"{name}: rc={rc} {kind} target-same={same} {err}")


def case_full(d, argv):
    rc, err = run(argv, "/dev/full")
    kind = "chardev" if stat.S_ISCHR(os.lstat("/dev/full").st_mode) else "?"
    print(f"full: rc={rc} {kind} {err}")


def case_stdout(d, argv):
    with open("/dev/full", "wb") as full:
        rc, err = run(argv, "-", stdout=full)
    print(f"stdout: rc={rc} {err}")


def case_dir(d, argv):
    path = os.path.join(d, "out" + SUFFIX)
    os.mkdir(path)
    rc, err = run(argv, path)
    print(f"dir: rc={rc} left={sorted(os.listdir(path))} {err}")


def case_fsize(d, argv):
    path = os.path.join(d, "out" + SUFFIX)
    with open(path, "wb") as f:
        f.write(b"old")
    rc, err = run(argv, path, limit=64)
    files = sorted(os.listdir(d))
    print(f"fsize: rc={rc} kept={read(path) == b'old'} files={files} {err}")


def main():
    global SUFFIX
    case, d, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    if argv[0].startswith("--suffix="):
        SUFFIX = argv.pop(0)[len("--suffix="):]
    d = os.path.join(d, case)
    os.makedirs(d)
    ref = None
    if case in ("fifo", "link", "dangling"):
        refpath = os.path.join(d, "ref" + SUFFIX)
        rc, err = run(argv, refpath)
        assert rc == 0, err
        ref = read(refpath)
        os.remove(refpath)
    if case == "fifo":
        case_fifo(d, argv, ref)
    elif case in ("link", "dangling"):
        case_link(d, argv, ref, case == "dangling")
    elif case == "full":
        case_full(d, argv)
    elif case == "stdout":
        case_stdout(d, argv)
    elif case == "dir":
        case_dir(d, argv)
    else:
        case_fsize(d, argv)


main()
