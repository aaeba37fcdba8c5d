"""Renders nncc's --report=svg in a real browser (Debian's chromium,
headless; scripts/install-deps.sh installs it) and checks the picture:
the SVG parses as XML, has one bar group per layer of the JSON report and
one point per sweep record, and the screenshot is not blank: it has the
sparsity bars' orange and the object bytes' blue (an XML error page or an
empty picture has neither).

usage: render_svg.py REPORT.svg REPORT.json WORKDIR
       render_svg.py --xml-only REPORT.svg REPORT.json
(--xml-only: the structure without the browser: a dense model's picture
has no orange.) Past MAX_ROWS layers, the rest are only counted.
"""
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
ORANGE = (0xef, 0x6c, 0x00)  # the sparsity bars
BLUE = (0x15, 0x65, 0xc0)    # bytes in the object, the stage points
MAX_ROWS = 500               # nncc_svg.c's


def fail(msg):
    print("render_svg: FAIL: " + msg)
    sys.exit(1)


def structure(svg, rep):
    root = ET.parse(svg).getroot()  # raises on malformed XML
    if root.tag != NS + "svg":
        fail("the root is %s, not svg" % root.tag)
    groups = [g for g in root.iter(NS + "g") if g.find(NS + "title")
              is not None]
    if len(groups) != min(len(rep["layers"]), MAX_ROWS):
        fail("%d layer groups, %d layers" % (len(groups),
                                             len(rep["layers"])))
    more = "".join(root.itertext())
    if len(rep["layers"]) > MAX_ROWS and "and %d more layers" % (
            len(rep["layers"]) - MAX_ROWS) not in more:
        fail("the layers past %d are not counted" % MAX_ROWS)
    sweep = [e for e in rep["log"] if e["kind"] in ("stage",
                                                    "prune-auto-step")]
    circles = [c for c in root.iter(NS + "circle") if c.find(NS + "title")
               is not None]
    want = len(sweep) if len(sweep) >= 2 else 0
    if len(circles) != want:
        fail("%d points drawn, %d sweep records" % (len(circles), want))
    return int(float(root.get("width"))), int(float(root.get("height"))), \
        len(circles)


def screenshot(svg, work, w, h):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        fail("chromium not found (bash scripts/install-deps.sh installs it)")
    png = os.path.join(work, "shot.png")
    env = dict(os.environ, HOME=work)
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu",
           "--user-data-dir=" + os.path.join(work, "profile"),
           "--screenshot=" + png, "--window-size=%d,%d" % (w, h),
           "file://" + os.path.abspath(svg)]
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=180)
    if p.returncode != 0 or not os.path.exists(png):
        fail("chromium failed (%d): %s" % (p.returncode,
                                          p.stdout.decode()[-2000:]))
    return png


def near(p, c):
    return all(abs(a - b) <= 24 for a, b in zip(p, c))


def pixels(png, npoints):
    from PIL import Image
    im = Image.open(png).convert("RGB")
    px = list(im.getdata())
    nonwhite = sum(p != (255, 255, 255) for p in px)
    orange = sum(near(p, ORANGE) for p in px)
    blue = sum(near(p, BLUE) for p in px)
    if nonwhite < len(px) // 100:
        fail("blank: %d of %d pixels not white" % (nonwhite, len(px)))
    if orange < 50 or blue < 50:
        fail("no bars: %d orange, %d blue pixels" % (orange, blue))
    return im.size, nonwhite, orange, blue


def main():
    if sys.argv[1] == "--xml-only":
        w, h, npoints = structure(sys.argv[2], json.load(open(sys.argv[3])))
        print("render_svg: ok: %d points, %dx%d (XML only)" % (npoints, w, h))
        return
    svg, rep, work = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
    os.makedirs(work, exist_ok=True)
    w, h, npoints = structure(svg, rep)
    size, nonwhite, orange, blue = pixels(screenshot(svg, work, w, h),
                                          npoints)
    print("render_svg: ok: %d layers, %d points; %dx%d screenshot, %d "
          "non-white pixels (%d orange, %d blue)" % (
              len(rep["layers"]), npoints, size[0], size[1], nonwhite,
              orange, blue))


if __name__ == "__main__":
    main()
