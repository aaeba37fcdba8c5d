#!/usr/bin/python3
"""nncc's benchmark: batch-1, single-thread latency of nncc -O3, ONNX Runtime
and nncc's interpreter on the same inputs, with compile time, compiler peak
memory, object size and fidelity; then the compressed configurations as
ratios against nncc's dense build. Prints markdown tables.

usage: /usr/bin/python3 bench/run.py --build build [--quick] [--models a,b]
       [--configs dense,prune0.9] [--write bench/results.md]
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

import numpy as np

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
OUT = os.path.join(BENCH, 'out')
DIGITS = os.path.join(ROOT, 'examples', 'digits')

# Models: name -> how to get the ONNX file, the benchmark input and, for the
# digits models, the labelled test split (for accuracy). `batch` > 1 binds
# the dynamic batch dimension with --input-shape.
MODELS = {
    'digits_mlp': dict(onnx=os.path.join(DIGITS, 'mlp.onnx'), input='digits_x'),
    'digits_cnn': dict(onnx=os.path.join(DIGITS, 'cnn.onnx'), input='digits_x_img'),
    'digits_mlp_l1': dict(onnx=os.path.join(DIGITS, 'mlp_l1.onnx'), input='digits_x'),
    'mlp4k': dict(export='mlp4k', shape=(1, 1024)),
    'mlp4k_b8': dict(export='mlp4k', shape=(8, 1024), batch=8),
    'resnet18': dict(export='resnet18', shape=(1, 3, 224, 224)),
    'mobilenetv2': dict(export='mobilenetv2', shape=(1, 3, 224, 224)),
}
DEFAULT_MODELS = ['digits_mlp', 'digits_cnn', 'digits_mlp_l1', 'mlp4k', 'mlp4k_b8',
                  'resnet18', 'mobilenetv2']

# Build configurations: (name, nncc flags, models or None for all). The first
# one is the dense baseline every other one is a ratio against. A
# configuration whose flags nncc rejects is skipped, and the table says why.
CONFIGS = [
    ('dense', ['-O3'], None),
    ('Os', ['-Os'], None),
    ('prune0.5', ['-O3', '--prune=0.5'], None),
    ('prune0.7', ['-O3', '--prune=0.7'], None),
    ('prune0.8', ['-O3', '--prune=0.8'], None),
    ('prune0.9', ['-O3', '--prune=0.9'], None),
    ('prune0.95', ['-O3', '--prune=0.95'], None),
    ('share16', ['-O3', '--share=16'], None),
    ('prune0.5+share16', ['-O3', '--prune=0.5', '--share=16'], None),
    ('prune0.7+share16', ['-O3', '--prune=0.7', '--share=16'], None),
    ('prune0.8+share16', ['-O3', '--prune=0.8', '--share=16'], None),
    ('prune0.9+share16', ['-O3', '--prune=0.9', '--share=16'], None),
    ('prune0.95+share16', ['-O3', '--prune=0.95', '--share=16'], None),
    ('prune0.9+share16-Os', ['-Os', '--prune=0.9', '--share=16'], None),
]

ONE_NODE = 'one_node_add'


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    """Runs cmd; returns (returncode, stdout, stderr, seconds)."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, **kw)
    out, err = p.communicate()
    secs = time.monotonic() - start
    return p.returncode, out, err, secs


def run_rusage(cmd):
    """Runs cmd under /usr/bin/time so that its own peak RSS is known (the
    rusage of a child forked from this Python process would count the
    parent's pages copied at fork); returns (returncode, stderr text,
    seconds, peak MiB)."""
    errf, memf = os.path.join(OUT, '.stderr'), os.path.join(OUT, '.maxrss')
    with open(errf, 'w') as ef:
        start = time.monotonic()
        rc = subprocess.call(['/usr/bin/time', '-f', '%M', '-o', memf, *cmd],
                             stdout=subprocess.DEVNULL, stderr=ef)
        secs = time.monotonic() - start
    with open(errf) as ef:
        err = ef.read()
    try:
        with open(memf) as f:
            mib = int(f.read().split()[-1]) / 1024.0
    except (OSError, ValueError, IndexError):
        mib = float('nan')
    return rc, err, secs, mib


# ---------------------------------------------------------------- models

def export_torch(kind, path):
    import torch
    torch.manual_seed(0)
    if kind == 'mlp4k':
        net = torch.nn.Sequential(
            torch.nn.Linear(1024, 4096), torch.nn.ReLU(),
            torch.nn.Linear(4096, 4096), torch.nn.ReLU(),
            torch.nn.Linear(4096, 1000))
        x = torch.randn(1, 1024)
        dyn = {'input': {0: 'batch'}, 'output': {0: 'batch'}}
    else:
        import torchvision
        ctor = {'resnet18': torchvision.models.resnet18,
                'mobilenetv2': torchvision.models.mobilenet_v2}[kind]
        net = ctor(weights=None)
        x = torch.randn(1, 3, 224, 224)
        dyn = None
    net.eval()
    with torch.no_grad():
        torch.onnx.export(net, x, path + '.tmp', opset_version=13,
                          input_names=['input'], output_names=['output'],
                          dynamic_axes=dyn, do_constant_folding=True)
    os.replace(path + '.tmp', path)


def export_one_node(path):
    """A one-node model (Add of a constant to f32[1,16]): its latency is the
    engine's per-call cost, nothing else."""
    import onnx
    from onnx import TensorProto, helper
    c = helper.make_tensor('c', TensorProto.FLOAT, [1, 16], [0.5] * 16)
    g = helper.make_graph(
        [helper.make_node('Add', ['x', 'c'], ['y'], name='add')], 'one_node',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 16])],
        [c])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, path)


def prepare_model(name):
    """Returns (onnx path, [input .npy paths]) for model name, exporting the
    model and writing its seeded input if they are not in bench/out yet."""
    m = MODELS[name]
    d = os.path.join(OUT, 'models')
    os.makedirs(d, exist_ok=True)
    if 'onnx' in m:
        path = m['onnx']
    else:
        path = os.path.join(d, m['export'] + '.onnx')
        if not os.path.exists(path):
            log(f'exporting {m["export"]} ...')
            export_torch(m['export'], path)
    inp = os.path.join(d, name + '.in.npy')
    if not os.path.exists(inp):
        if 'input' in m:
            # a real sample: the first of the test split
            x = np.load(os.path.join(DIGITS, m['input'] + '.npy'))[:1]
        else:
            x = np.random.default_rng(42).standard_normal(m['shape'])
        np.save(inp, np.ascontiguousarray(x, dtype=np.float32))
    return path, [inp]


# ---------------------------------------------------------------- nncc

def shape_flags(name):
    m = MODELS[name]
    if m.get('batch', 1) == 1:
        return []
    return ['--input-shape', 'input=' + 'x'.join(map(str, m['shape']))]


def compile_model(args, name, onnx, cfg, flags):
    """Compiles with nncc, links bench_main.c; returns a dict with exe,
    obj size, compile seconds and peak MiB, or with 'error'."""
    d = os.path.join(OUT, name, cfg)
    os.makedirs(d, exist_ok=True)
    obj, hdr, ir = (os.path.join(d, 'm.' + e) for e in ('o', 'h', 'nnir'))
    for f in (obj, hdr):
        if os.path.exists(f):
            os.remove(f)
    cmd = [args.nncc, onnx, *flags, *shape_flags(name), '-o', obj, '-H', hdr,
           '--name', 'm']
    rc, err, secs, mib = run_rusage(cmd)
    if rc != 0:
        return dict(error=first_error(err), compile_s=secs)
    # --emit-ir prints every weight as text, which would dominate the
    # compile time of big models; only the accuracy check needs the IR, so
    # it is written by a second, untimed run.
    if os.path.exists(ir):
        os.remove(ir)
    if 'input' in MODELS[name]:
        run([*cmd[:-6], '-o', os.path.join(d, 'ir.o'), '--emit-ir', ir])
    exe = os.path.join(d, 'bench_main')
    cc = [args.cc, '-O2', '-std=c11', '-D_GNU_SOURCE', '-DNNCC_NAME=m',
          '-DNNCC_HEADER="m.h"', '-I', d, '-I', os.path.join(ROOT, 'runtime'),
          os.path.join(BENCH, 'bench_main.c'), obj, args.rtlib, '-lm', '-o', exe]
    rc, _, err, _ = run(cc)
    if rc != 0:
        return dict(error='link failed: ' + first_error(err), compile_s=secs)
    return dict(exe=exe, ir=ir, obj_bytes=os.path.getsize(obj),
                compile_s=secs, compile_mib=mib)


def first_error(err):
    lines = [l for l in err.splitlines() if 'error' in l] or err.splitlines() or ['?']
    return lines[0].strip()[:160]


def build_interp(args):
    exe = os.path.join(OUT, 'bench_interp')
    b = args.build
    cmd = [args.cc, '-O2', '-std=c11', '-D_GNU_SOURCE',
           *('-I' + os.path.join(ROOT, s) for s in ('ir', 'frontend', 'runtime')),
           os.path.join(BENCH, 'bench_interp.c'),
           os.path.join(b, 'frontend', 'libnncc_frontend.a'),
           os.path.join(b, 'ir', 'libnncc_ir.a'), args.rtlib,
           '-lprotobuf-c', '-lopenblas', '-lm', '-o', exe]
    rc, _, err, _ = run(cmd)
    if rc != 0:
        log('bench_interp: build failed: ' + first_error(err))
        return None
    return exe


# ---------------------------------------------------------------- timing

def timed(cmd, args, out_npy=None):
    """Runs one timing harness; returns its JSON summary or None."""
    t = args.timing
    full = [*cmd, '--warmup', str(t['warmup']), '--runs', str(t['runs']),
            '--min-runs', str(t['min_runs']), '--seconds', str(t['seconds'])]
    if out_npy:
        full += ['-o', out_npy]
    rc, out, err, _ = run(full)
    if rc != 0:
        log(f'{os.path.basename(cmd[0])}: failed: {first_error(err)}')
        return None
    return json.loads(out.strip().splitlines()[-1])


def interleaved(engines, args):
    """engines: {key: (cmd, out_npy)}. Runs every engine `rounds` times,
    alternating, so that load from other processes hits all of them alike;
    returns {key: summary} with the median of the round medians."""
    res = {k: [] for k in engines}
    for _ in range(args.timing['rounds']):
        for k, (cmd, out_npy) in engines.items():
            r = timed(cmd, args, out_npy)
            if r is not None:
                res[k].append(r)
    summary = {}
    for k, rs in res.items():
        if rs:
            rs.sort(key=lambda r: r['median_us'])
            mid = dict(rs[len(rs) // 2])
            mid['round_medians_us'] = [r['median_us'] for r in rs]
            summary[k] = mid
    return summary


def ort_cmd(onnx, inputs):
    return ['node', os.path.join(BENCH, 'ort_bench.js'), onnx, *inputs]


def fidelity(got_npy, ref_npy):
    """Max abs error, and max abs error relative to the reference's largest
    magnitude (elementwise relative errors explode near zero logits)."""
    if not (got_npy and ref_npy and os.path.exists(got_npy) and os.path.exists(ref_npy)):
        return None
    g, r = np.load(got_npy).astype(np.float64), np.load(ref_npy).astype(np.float64)
    if g.shape != r.shape:
        return dict(error=f'shape {g.shape} vs {r.shape}')
    a = float(np.max(np.abs(g - r))) if g.size else 0.0
    scale = float(np.max(np.abs(r))) if r.size else 0.0
    return dict(abs=a, rel=a / scale if scale else a)


def accuracy(args, name, ir):
    """Top-1 accuracy of the IR nncc compiled (the interpreter runs it; e2e
    tests hold the object equal to it) on the digits test split."""
    m = MODELS[name]
    if 'input' not in m or not ir or not os.path.exists(ir):
        return None
    rc, out, err, _ = run([args.nncc_run, ir,
                           os.path.join(DIGITS, m['input'] + '.npy'),
                           '--labels', os.path.join(DIGITS, 'digits_y.npy')])
    mt = re.search(r'accuracy: ([0-9.]+)', out + err)
    return float(mt.group(1)) if rc == 0 and mt else None


# ---------------------------------------------------------------- driver

def check_configs(args, configs):
    """Compiles the smallest model with each configuration's flags; returns
    {config: reason} for those nncc rejects, so they are skipped everywhere."""
    onnx, _ = prepare_model('digits_mlp')
    skipped = {}
    for name, flags, _ in configs[1:]:
        r = compile_model(args, 'digits_mlp', onnx, name + '.check', flags)
        if 'error' in r:
            skipped[name] = r['error']
            log(f'config {name}: skipped ({r["error"]})')
    return skipped


def bench_model(args, name, configs, skipped, interp):
    """Compiles every configuration of one model, then times them, ONNX
    Runtime and the interpreter interleaved; returns the row data."""
    onnx, inputs = prepare_model(name)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    row = dict(model=name, builds={}, runs={})
    engines = {'ort': (ort_cmd(onnx, inputs), os.path.join(d, 'ort.out.npy'))}
    if interp:
        engines['interp'] = ([interp, '--model', onnx, *shape_flags(name), *inputs],
                             os.path.join(d, 'interp.out.npy'))
    for cfg, flags, only in configs:
        if cfg in skipped or (only and name not in only):
            continue
        log(f'{name}: nncc {" ".join(flags)} ...')
        b = compile_model(args, name, onnx, cfg, flags)
        row['builds'][cfg] = b
        if 'exe' in b:
            engines[cfg] = ([b['exe'], *inputs], os.path.join(d, cfg, 'out.npy'))
        else:
            log(f'{name}: {cfg}: {b["error"]}')
    log(f'{name}: timing {", ".join(engines)} ...')
    row['runs'] = interleaved(engines, args)
    ref = engines['ort'][1] if 'ort' in row['runs'] else None
    row['fidelity'] = {k: fidelity(engines[k][1], ref) for k in engines if k != 'ort'}
    row['acc'] = {cfg: accuracy(args, name, b.get('ir'))
                  for cfg, b in row['builds'].items()}
    return row


def fmt_us(r):
    if not r:
        return 'n/a'
    return fmt_t(r['median_us'])


def fmt_t(us):
    if us >= 1000:
        return f'{us / 1000:.2f} ms'
    return f'{us:.1f} us' if us >= 10 else f'{us:.2f} us'


def fmt_size(n):
    if n is None:
        return 'n/a'
    return f'{n / 2**20:.2f} MiB' if n >= 2**20 else f'{n / 1024:.1f} KiB'


def fmt_err(f):
    if not f:
        return 'n/a'
    return f.get('error') or f'{f["rel"]:.1e}'


def main_table(rows):
    out = ['| model | nncc -O3 median | ORT median | ratio nncc/ORT | interp median '
           '| object size | compile s | compile peak MiB | max rel err |',
           '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        b = r['builds'].get('dense', {})
        n, o, i = (r['runs'].get(k) for k in ('dense', 'ort', 'interp'))
        ratio = f'{n["median_us"] / o["median_us"]:.2f}' if n and o else 'n/a'
        nn = fmt_us(n)
        if 'error' in b:
            nn = 'n/a (' + b['error'].replace('|', '/') + ')'
        cs = f'{b["compile_s"]:.2f}' if 'compile_s' in b else 'n/a'
        mib = f'{b["compile_mib"]:.0f}' if 'compile_mib' in b else 'n/a'
        out.append(f'| {r["model"]} | {nn} | {fmt_us(o)} | {ratio} | {fmt_us(i)} '
                   f'| {fmt_size(b.get("obj_bytes"))} | {cs} | {mib} '
                   f'| {fmt_err(r["fidelity"].get("dense"))} |')
    return out


def compressed_table(rows, configs, skipped):
    out = ['| model | config | nncc flags | median | speedup vs dense | object size '
           '| size vs dense | compile s | compile peak MiB | max rel err vs ORT | top-1 acc |',
           '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        dense_run = r['runs'].get('dense')
        dense_b = r['builds'].get('dense', {})
        for cfg, flags, _ in configs:
            if cfg in skipped or cfg not in r['builds']:
                continue
            b, t = r['builds'][cfg], r['runs'].get(cfg)
            if 'error' in b:
                out.append(f'| {r["model"]} | {cfg} | `{" ".join(flags)}` | failed: '
                           f'{b["error"].replace("|", "/")} | | | | | | | |')
                continue
            sp = f'{dense_run["median_us"] / t["median_us"]:.2f}x' if t and dense_run else 'n/a'
            sz = (f'{b["obj_bytes"] / dense_b["obj_bytes"]:.3f}'
                  if dense_b.get('obj_bytes') else 'n/a')
            acc = r['acc'].get(cfg)
            out.append(f'| {r["model"]} | {cfg} | `{" ".join(flags)}` | {fmt_us(t)} | {sp} '
                       f'| {fmt_size(b["obj_bytes"])} | {sz} | {b["compile_s"]:.2f} '
                       f'| {b["compile_mib"]:.0f} | {fmt_err(r["fidelity"].get(cfg))} '
                       f'| {"n/a" if acc is None else f"{acc:.4f}"} |')
    for cfg, flags, _ in configs:
        if cfg in skipped:
            out.append(f'| all | {cfg} | `{" ".join(flags)}` | skipped: nncc rejects '
                       f'the flags ({skipped[cfg].replace("|", "/")}) | | | | | | | |')
    return out


def one_node(args, interp):
    """ORT's (and nncc's) time for a one-node model: the per-call floor."""
    d = os.path.join(OUT, ONE_NODE)
    os.makedirs(d, exist_ok=True)
    path, inp = os.path.join(d, 'model.onnx'), os.path.join(d, 'in.npy')
    if not os.path.exists(path):
        export_one_node(path)
    np.save(inp, np.random.default_rng(1).standard_normal((1, 16)).astype(np.float32))
    engines = {'ONNX Runtime (onnxruntime-node)': (ort_cmd(path, [inp]), None)}
    MODELS[ONE_NODE] = dict(onnx=path)
    b = compile_model(args, ONE_NODE, path, 'dense', ['-O3'])
    if 'exe' in b:
        engines['nncc -O3'] = ([b['exe'], inp], None)
    if interp:
        engines['nncc interpreter'] = ([interp, '--model', path, inp], None)
    res = interleaved(engines, args)
    out = ['| engine (one Add node, f32[1,16]) | median | p10 | p90 |',
           '|---|---:|---:|---:|']
    for k in engines:
        r = res.get(k)
        out.append(f'| {k} | {fmt_us(r)} | {fmt_t(r["p10_us"])} | {fmt_t(r["p90_us"])} |'
                   if r else f'| {k} | n/a | | |')
    return out


def cmd_version(cmd):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=30)
        return r.stdout.strip().splitlines()[0] if r.stdout.strip() else '?'
    except (OSError, subprocess.SubprocessError):
        return 'not found'


def machine(args):
    cpu = '?'
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    with open('/proc/cpuinfo') as f:
        flags = next((l for l in f if l.startswith('flags')), '')
    isa = ' '.join(x for x in ('avx2', 'fma', 'avx512f', 'avx512vnni')
                   if f' {x}' in flags)
    ort = json.load(open(os.path.join(BENCH, 'node_modules', 'onnxruntime-node',
                                      'package.json')))['version']
    import torch
    return [
        f'- date: {datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}',
        f'- CPU: {cpu} ({isa}), {os.cpu_count()} cores visible, '
        f'load average at start {os.getloadavg()[0]:.2f} (shared machine)',
        f'- OS: {platform.platform()}',
        f'- nncc: {cmd_version([args.nncc, "--version"])} at commit '
        f'{cmd_version(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])}, '
        f'built in `{os.path.relpath(args.build, ROOT)}`; '
        f'LLVM {cmd_version(["llvm-config-14", "--version"])}',
        f'- harness compiler: {cmd_version([args.cc, "--version"])} (-O2)',
        f'- ONNX Runtime: onnxruntime-node {ort} (CPU EP, intra/inter-op threads 1, '
        f'graph optimization all), node {cmd_version(["node", "--version"])}',
        f'- models exported with torch {torch.__version__} (opset 13, weights=None, eval)',
        f'- timing: batch 1 (unless the model name says b8), one thread '
        f'(OPENBLAS_NUM_THREADS=1), {args.timing["rounds"]} interleaved rounds of '
        f'~{args.timing["seconds"]} s per engine, median of the round medians',
    ]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--build', required=True, help='nncc build directory')
    ap.add_argument('--quick', action='store_true', help='short timing (smoke run)')
    ap.add_argument('--models', default=','.join(DEFAULT_MODELS),
                    help='comma-separated, from: ' + ', '.join(MODELS))
    ap.add_argument('--configs', default='all',
                    help='comma-separated, from: ' + ', '.join(c[0] for c in CONFIGS))
    ap.add_argument('--no-interp', action='store_true')
    ap.add_argument('--write', metavar='FILE', help='also write the report to FILE')
    ap.add_argument('--cc', default=os.environ.get('CC', 'cc'))
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.nncc = os.path.join(args.build, 'tools', 'nncc')
    args.nncc_run = os.path.join(args.build, 'tools', 'nncc-run')
    args.rtlib = os.path.join(args.build, 'runtime', 'libnncc_rt.a')
    args.timing = (dict(warmup=3, runs=100000, min_runs=5, seconds=0.3, rounds=1)
                   if args.quick else
                   dict(warmup=5, runs=100000, min_runs=10, seconds=2.0, rounds=3))
    return args


def select(args):
    models = [m for m in args.models.split(',') if m]
    bad = [m for m in models if m not in MODELS]
    names = [c[0] for c in CONFIGS]
    cfgs = names if args.configs == 'all' else ['dense'] + [
        c for c in args.configs.split(',') if c and c != 'dense']
    bad += [c for c in cfgs if c not in names]
    if bad:
        sys.exit(f'run.py: error: unknown model or config: {", ".join(bad)}')
    return models, [c for c in CONFIGS if c[0] in cfgs]


def main():
    args = parse_args()
    models, configs = select(args)
    os.environ['OPENBLAS_NUM_THREADS'] = '1'
    os.environ['OMP_NUM_THREADS'] = '1'
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(os.path.join(BENCH, 'node_modules', 'onnxruntime-node')):
        sys.exit('run.py: error: run `cd bench && ONNXRUNTIME_NODE_INSTALL=skip npm ci` first')
    interp = None if args.no_interp else build_interp(args)
    have_nncc = os.path.exists(args.nncc)
    if not have_nncc:
        log(f'{args.nncc} not found: nncc columns will say n/a')
        configs = []
    skipped = check_configs(args, configs) if configs else {}
    report = ['# nncc benchmark results', '',
              f'`/usr/bin/python3 bench/run.py {" ".join(sys.argv[1:])}` '
              '(see bench/README.md for what each column means)', '',
              '## Machine', ''] + machine(args) + ['']
    rows = [bench_model(args, m, configs, skipped, interp) for m in models]
    report += ['## Dense: nncc -O3 vs ONNX Runtime vs the interpreter', '']
    report += main_table(rows) + ['']
    report += ['## Per-call floor: a one-node model', ''] + one_node(args, interp) + ['']
    if len(configs) > 1:
        report += ['## Compressed builds, as ratios against nncc\'s dense -O3 build '
                   '(same run)', ''] + compressed_table(rows, configs, skipped) + ['']
    text = '\n'.join(report)
    print(text)
    if args.write:
        with open(args.write, 'w') as f:
            f.write(text + '\n')
    with open(os.path.join(OUT, 'results.json'), 'w') as f:
        json.dump(rows, f, indent=1, default=str)


if __name__ == '__main__':
    main()
