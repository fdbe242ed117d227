// Writes face-api.js's own tiny face detector output for a raw image, the
// reference internal/tinyyolo's test compares with.
//
//   node reference.mjs PACKAGE_DIR IMAGE.f32 HEIGHT WIDTH OUT.json
//
// IMAGE.f32 holds HEIGHT×WIDTH×3 float32 pixel values (0–255, RGB last),
// little-endian. OUT.json gets {"raw": [13·13·25 floats, NHWC], "faces":
// [{x, y, width, height, score}]} at input size 416, score threshold 0.5.
import { readFileSync, writeFileSync } from 'node:fs';
import * as util from 'node:util';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkg, file, hs, ws, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node reference.mjs PACKAGE_DIR IMAGE.f32 HEIGHT WIDTH OUT.json');
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
Object.assign(tf.env().platform.util, lent);
await tf.setBackend('cpu');
await tf.ready();

const model = path.join(pkg, 'model');
const manifest = JSON.parse(readFileSync(path.join(model, 'tiny_face_detector_model-weights_manifest.json'), 'utf8'));
const buf = Buffer.concat(manifest.flatMap((g) => g.paths).map((p) => readFileSync(path.join(model, p))));
const weights = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), manifest.flatMap((g) => g.weights));
const net = faceapi.nets.tinyFaceDetector;
net.loadFromWeightMap(weights);

const raw = readFileSync(file);
const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const x = tf.tensor3d(data, [Number(hs), Number(ws), 3]);
const y = await net.forward(x, 416);
const faces = await net.locateFaces(x, { inputSize: 416, scoreThreshold: 0.5 });
writeFileSync(out, JSON.stringify({
  raw: Array.from(await y.data()),
  faces: faces.map((f) => ({ x: f.box.x, y: f.box.y, width: f.box.width, height: f.box.height, score: f.score })),
}));
