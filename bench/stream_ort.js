// Streams a stateful model through ONNX Runtime (onnxruntime-node, CPU, one
// thread): chunk after chunk, each run's state outputs fed back as the next
// run's state inputs; writes every run's outputs, concatenated, as raw
// little-endian float32 (bench/stream.py compares nncc's object with them).
//
// usage: node stream_ort.js MODEL.onnx SPEC.json OUT.bin
// SPEC: {"chunks": "chunks.bin", "chunk": [1, 512], "feed": "input",
//        "state": {"state": [2, 1, 128]}, "carry": {"stateN": "state"},
//        "fixed": {"sr": ["int64", [], [16000]]}, "outputs": ["output", "stateN"]}
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, specPath, outPath] = process.argv.slice(2);
  const spec = JSON.parse(fs.readFileSync(specPath, 'utf8'));
  const raw = fs.readFileSync(spec.chunks);
  const all = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  const per = spec.chunk.reduce((a, b) => a * b, 1);
  const opts = {intraOpNumThreads: 1, interOpNumThreads: 1,
                executionMode: 'sequential'};
  const s = await ort.InferenceSession.create(model, opts);
  const state = {};
  for (const [name, shape] of Object.entries(spec.state))
    state[name] = new ort.Tensor('float32',
      new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  const fixed = {};
  for (const [name, [type, shape, vals]] of Object.entries(spec.fixed || {}))
    fixed[name] = new ort.Tensor(type, type === 'int64'
      ? BigInt64Array.from(vals.map(BigInt)) : Float32Array.from(vals), shape);
  const out = [];
  for (let k = 0; k * per < all.length; k++) {
    const feeds = Object.assign({}, fixed, state);
    feeds[spec.feed] = new ort.Tensor('float32',
      all.slice(k * per, (k + 1) * per), spec.chunk);
    const r = await s.run(feeds);
    for (const name of spec.outputs) out.push(Float32Array.from(r[name].data));
    for (const [from, to] of Object.entries(spec.carry)) state[to] = r[from];
  }
  const total = out.reduce((a, b) => a + b.length, 0), buf = new Float32Array(total);
  let o = 0;
  for (const a of out) { buf.set(a, o); o += a.length; }
  fs.writeFileSync(outPath, Buffer.from(buf.buffer));
}
main().catch((e) => { console.error(e.message || e); process.exit(1); });
