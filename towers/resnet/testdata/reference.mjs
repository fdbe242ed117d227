// Writes face-api.js's own face descriptors for raw inputs, the reference
// that towers/resnet's import test compares with.
//
//   node reference.mjs PACKAGE_DIR INPUTS.f32 OUT.json
//
// PACKAGE_DIR is the unpacked npm package @vladmandic/face-api (its
// dist/face-api.esm.js bundles TensorFlow.js, run on its CPU backend).
// INPUTS.f32 holds N inputs of 150×150×3 float32 pixel values (0–255, row
// major, RGB last), little-endian. OUT.json gets [[128 floats], ...].
import { readFileSync, writeFileSync } from 'node:fs';
import * as util from 'node:util';
import path from 'node:path';
import { pathToFileURL } from 'node:url';


const [pkg, inputs, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node reference.mjs PACKAGE_DIR INPUTS.f32 OUT.json');
  process.exit(2);
}
// The bundle's own 'util' module is an empty object, and its Node platform
// builds a util.TextEncoder while the bundle loads: lend Node's through
// Object.prototype for the import, then give them to that object itself.
const lent = { TextEncoder: util.TextEncoder, TextDecoder: util.TextDecoder, types: util.types };
for (const [k, v] of Object.entries(lent)) {
  Object.defineProperty(Object.prototype, k, { value: v, configurable: true, writable: true, enumerable: false });
}
let faceapi;
try {
  faceapi = await import(pathToFileURL(path.join(pkg, 'dist', 'face-api.esm.js')).href);
} finally {
  for (const k of Object.keys(lent)) delete Object.prototype[k];
}
const tf = faceapi.tf;
const platform = tf.env().platform;
if (platform && platform.util) Object.assign(platform.util, lent);
await tf.setBackend('cpu');
await tf.ready();

const model = path.join(pkg, 'model');
const manifest = JSON.parse(readFileSync(path.join(model, 'face_recognition_model-weights_manifest.json'), 'utf8'));
const specs = manifest.flatMap((g) => g.weights);
const shards = manifest.flatMap((g) => g.paths).map((p) => readFileSync(path.join(model, p)));
const buf = Buffer.concat(shards);
const weights = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), specs);
faceapi.nets.faceRecognitionNet.loadFromWeightMap(weights);

const raw = readFileSync(inputs);
const side = 150 * 150 * 3;
const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const n = data.length / side;
if (!Number.isInteger(n) || n < 1) {
  console.error(`${inputs}: ${data.length} floats is not a whole number of 150×150×3 inputs`);
  process.exit(1);
}
const result = [];
for (let i = 0; i < n; i++) {
  const x = tf.tensor4d(data.subarray(i * side, (i + 1) * side), [1, 150, 150, 3]);
  const d = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(x);
  result.push(Array.from(d));
  x.dispose();
}
writeFileSync(out, JSON.stringify(result));
