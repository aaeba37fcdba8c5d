#!/usr/bin/python3
"""codebooks.py IR.nnir same|differ: the codebooks of the shared weights
in a printed IR file are all the same (one global codebook) or not all the
same (one per layer); there must be at least two."""
import re
import sys

text = open(sys.argv[1]).read()
books = re.findall(r"codebook\(\[([^\]]*)\]\)", text)
if len(books) < 2:
    sys.exit(f"expected at least 2 codebooks, found {len(books)}")
same = all(b == books[0] for b in books)
if same != (sys.argv[2] == "same"):
    sys.exit(f"codebooks {'all equal' if same else 'differ'}: {books}")
