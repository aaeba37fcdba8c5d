"""accuracy_drop.py DENSE.txt COMPRESSED.txt MAX_DROP: both files hold
nncc-run's `accuracy: A (c/n)` line; fails if the compressed accuracy is
more than MAX_DROP (absolute, e.g. 0.02 = 2 points) below the dense one."""
import re
import sys


def acc(path):
    m = re.search(r"accuracy: ([0-9.]+) \((\d+)/(\d+)\)", open(path).read())
    if not m:
        sys.exit(f"accuracy_drop: no accuracy line in {path}")
    return int(m.group(2)) / int(m.group(3))


dense, comp, bound = acc(sys.argv[1]), acc(sys.argv[2]), float(sys.argv[3])
print(f"dense {dense:.4f}, compressed {comp:.4f}, drop {dense - comp:.4f} (bound {bound})")
if dense - comp > bound:
    sys.exit(1)
