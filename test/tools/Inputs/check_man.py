#!/usr/bin/python3
"""check_man.py TOOL MAN_PAGE: every option TOOL --help lists is in the man
page, every option the man page describes (its .TP tags) is in --help, and
the tool accepts every option --help lists (it is not "unknown").
Options are found in --help the way the tools' did-you-mean finds them
(tools/cli.c, cli_help_options): on a line that starts with two spaces and
'-', the words of the first column that start with '-' and a letter, cut
where their value starts. Exits 1 naming what is wrong."""
import re
import subprocess
import sys

OPTION = re.compile(r"^\(?(-(?:-)?[A-Za-z][^ \t\n=\[,;:)|]*)")


def help_options(text):
    """{option: the word it came from} of a --help text."""
    found = {}
    for line in text.splitlines():
        if not line.startswith("  -"):
            continue
        for word in line[2:].split("  ")[0].split():
            m = re.match(r"-(?:-)?[A-Za-z][^=\[,;:)|]*", word)
            if m:
                found.setdefault(m.group(0), word)
    return found


def options(text):
    found = set()
    for word in text.split():
        m = OPTION.match(word)
        if m:
            found.add(m.group(1))
    return found


def plain(roff):
    """The man page's text: escapes and font changes dropped."""
    out = []
    for line in roff.splitlines():
        if line.startswith('.\\"'):
            continue
        line = re.sub(r"\\f[BIRP]", "", line)
        line = line.replace("\\-", "-").replace('"', " ")
        line = re.sub(r"^\.(B|I|BI|BR|IR|IB|RB|RI|TP|PP|SH|TH|nf|fi|br)\b",
                      " ", line)
        out.append(line)
    return "\n".join(out)


def main():
    tool, page = sys.argv[1], sys.argv[2]
    helptext = subprocess.run([tool, "--help"], check=True,
                              capture_output=True, text=True).stdout
    roff = open(page).read()
    text = plain(roff)
    bad = []
    listed = help_options(helptext)
    for o in sorted(listed):
        if not re.search(r"(?<![\w-])" + re.escape(o) + r"(?![\w-])", text):
            bad.append(f"{page}: '{o}' of {tool} --help is not described")
        # as --help spells it: with a value after '=' where it shows one
        arg = o + "=1" if listed[o][len(o):].startswith("=") else o
        r = subprocess.run([tool, arg], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
        if f"unknown option '{arg}'" in r.stderr:
            bad.append(f"{tool}: '{arg}' of its --help is unknown to it")
    lines = roff.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == ".TP":
            tag = plain(lines[i + 1]).split()
            for o in options(" ".join(tag)):
                if not re.search(r"(?<![\w-])" + re.escape(o) + r"(?![\w-])",
                                 helptext):
                    bad.append(f"{page}: '{o}' is not in {tool} --help")
    for b in bad:
        print(b)
    if not bad:
        print(f"{page}: {len(listed)} options, all described")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
