// Times ONNX Runtime (onnxruntime-node, CPU, one intra-op thread) on a model,
// batch 1, the same way bench_common.h times nncc: warm-up, then one timed
// session.run per sample; prints the median/p10/p90 in microseconds as JSON.
// Nothing is subtracted: the binding's own per-call cost is measured
// separately on a one-node model by run.py.
//
// usage: node ort_bench.js MODEL.onnx [--warmup N] [--runs N] [--min-runs N]
//                          [--seconds S] [-o OUT.npy]... [IN.npy...]
// Without IN.npy, every input gets seeded random f32 data (its shape must be
// static in the model).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

const DTYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array], '<i4': ['int32', Int32Array],
  '|u1': ['uint8', Uint8Array], '<u1': ['uint8', Uint8Array],
  '|i1': ['int8', Int8Array], '|b1': ['bool', Uint8Array],
};

function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1]
    .split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const dt = DTYPES[descr];
  if (!dt) throw new Error(`${path}: unsupported dtype ${descr}`);
  const off = hstart + hlen;
  const bytes = buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + buf.length);
  let data = new dt[1](bytes);
  if (dt[0] === 'bool') data = Uint8Array.from(data);
  return new ort.Tensor(dt[0], data, shape);
}

function writeNpy(path, tensor) {
  const descr = { float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4' }[tensor.type];
  if (!descr) throw new Error(`cannot write output of type ${tensor.type}`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  while ((10 + h.length + 1) % 64) h += ' ';
  h += '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(h.length, 8);
  const d = tensor.data;
  fs.writeFileSync(path, Buffer.concat([pre, Buffer.from(h, 'latin1'),
    Buffer.from(d.buffer, d.byteOffset, d.byteLength)]));
}

// Seeded (mulberry32) standard-normal-ish data: deterministic across runs.
function seededTensor(shape, seed) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rnd() + rnd() + rnd() - 1.5;
  return new ort.Tensor('float32', data, shape);
}

function parseArgs(argv) {
  const a = { warmup: 10, runs: 1000, minRuns: 10, seconds: 5, out: [], inputs: [], model: null };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    const v = () => { if (i + 1 >= argv.length) throw new Error(`${s} needs a value`); return argv[++i]; };
    if (s === '--warmup') a.warmup = Number(v());
    else if (s === '--runs') a.runs = Number(v());
    else if (s === '--min-runs') a.minRuns = Number(v());
    else if (s === '--seconds') a.seconds = Number(v());
    else if (s === '-o') a.out.push(v());
    else if (s.startsWith('-')) throw new Error(`unknown option ${s}`);
    else if (!a.model) a.model = s;
    else a.inputs.push(s);
  }
  if (!a.model) throw new Error('usage: node ort_bench.js MODEL.onnx [options] [IN.npy...]');
  return a;
}

function pct(sorted, p) {
  const k = Math.round((p / 100) * (sorted.length - 1));
  return sorted[Math.min(sorted.length - 1, Math.max(0, k))];
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all', executionProviders: ['cpu'],
  });
  const feeds = {};
  session.inputNames.forEach((name, i) => {
    if (i < a.inputs.length) { feeds[name] = readNpy(a.inputs[i]); return; }
    const meta = session.inputMetadata && session.inputMetadata[i];
    const shape = meta && meta.shape ? meta.shape.map((d) => (typeof d === 'number' ? d : 1)) : null;
    if (!shape) throw new Error(`input '${name}': give an .npy file`);
    feeds[name] = seededTensor(shape, 1234 + i);
  });
  let out;
  for (let i = 0; i < a.warmup; i++) out = await session.run(feeds);
  const t = [];
  let total = 0;
  while (t.length < a.runs && (t.length < a.minRuns || total < a.seconds * 1e6)) {
    const s = process.hrtime.bigint();
    out = await session.run(feeds);
    const us = Number(process.hrtime.bigint() - s) / 1e3;
    t.push(us);
    total += us;
  }
  if (!out) out = await session.run(feeds);
  a.out.forEach((p, i) => writeNpy(p, out[session.outputNames[i]]));
  t.sort((x, y) => x - y);
  const r = (x) => Math.round(x * 1000) / 1000;
  console.log(JSON.stringify({
    median_us: r(pct(t, 50)), p10_us: r(pct(t, 10)), p90_us: r(pct(t, 90)),
    min_us: r(t[0]), runs: t.length, ort_version: ort.env.versions.common,
  }));
}

main().catch((e) => { console.error(`ort_bench: error: ${e.message}`); process.exit(1); });
