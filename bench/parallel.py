#!/usr/bin/python3
"""NAME_run_parallel against NAME_run: ResNet-18 (and any other model of
run.py's MODELS) compiled at -O3, timed with bench_parallel.c and a pool of
1..T pthreads in interleaved rounds; prints a markdown table with the
speedup of T threads over NAME_run. The target on two free cores is 1.8x
for ResNet-18; a loaded machine gives less, so the load average before and
after the run is printed with the table.

Run: /usr/bin/python3 bench/parallel.py --build build [--models resnet18]
	[--threads 2] [--runs 10] [--rounds 7]
"""
import argparse
import json
import os
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.dont_write_bytecode = True
import run as bench  # noqa: E402  (models, export, paths)


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
	ap.add_argument("--build", required=True)
	ap.add_argument("--models", default="resnet18")
	ap.add_argument("--threads", type=int, default=2)
	ap.add_argument("--runs", type=int, default=10)
	ap.add_argument("--rounds", type=int, default=7)
	ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
	a = ap.parse_args()
	build = os.path.abspath(a.build)
	load0 = os.getloadavg()
	rows = []
	for name in a.models.split(","):
		onnx, inputs = bench.prepare_model(name)
		d = os.path.join(bench.OUT, "parallel", name)
		os.makedirs(d, exist_ok=True)
		obj, hdr = os.path.join(d, "m.o"), os.path.join(d, "m.h")
		subprocess.run([os.path.join(build, "tools", "nncc"), onnx, "-O3",
				"-o", obj, "-H", hdr, "--name", "m"] +
			       bench.shape_flags(name), check=True)
		exe = os.path.join(d, "bench_parallel")
		subprocess.run([a.cc, "-O2", "-o", exe, os.path.join(
			BENCH, "bench_parallel.c"), obj, "-I" + d, "-I" +
			os.path.join(bench.ROOT, "runtime"), "-I" + os.path.join(
			bench.ROOT, "examples", "parallel"), "-DMODEL=m",
			'-DHEADER="m.h"', os.path.join(build, "runtime",
			"libnncc_rt.a"), "-lm", "-lpthread"], check=True)
		out = subprocess.run([exe, "--runs", str(a.runs), "--rounds",
				      str(a.rounds), "--threads", str(a.threads)]
				     + inputs, check=True, stdout=subprocess.PIPE,
				     universal_newlines=True).stdout
		res = [json.loads(l) for l in out.splitlines() if l.strip()]
		base = res[0]["median_ms"]
		for r in res:
			rows.append((name, r["engine"], r["threads"],
				     r["median_ms"], r["min_ms"],
				     base / r["median_ms"]))
	load1 = os.getloadavg()
	print("| model | entry | threads | median ms | min ms | speedup vs run |")
	print("|---|---|---|---|---|---|")
	for n, e, t, med, mn, sp in rows:
		print("| %s | %s | %d | %.2f | %.2f | %.2fx |" % (n, e, t, med, mn,
								  sp))
	print("\nload average (1 min) before %.2f, after %.2f on %d cores"
	      % (load0[0], load1[0], os.cpu_count()))
	return 0


if __name__ == "__main__":
	sys.exit(main())
