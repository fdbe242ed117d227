// Loads face-api.js from an unpacked npm package for the reference
// scripts: its bundled TensorFlow.js on the CPU backend, and a model's
// weights decoded from its manifest by tf.io.decodeWeights.
import { readFileSync } from 'node:fs';
import * as util from 'node:util';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// load imports PACKAGE_DIR/dist/face-api.esm.js. The bundle's own 'util'
// module is an empty object, and its Node platform builds a
// util.TextEncoder while the bundle loads: Node's codecs are lent through
// Object.prototype for the import, then given to that object itself.
export async function load(pkg) {
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
  return faceapi;
}

// weights decodes PACKAGE_DIR/model/NAME-weights_manifest.json and its shards.
export function weights(faceapi, pkg, name) {
  const model = path.join(pkg, 'model');
  const manifest = JSON.parse(readFileSync(path.join(model, `${name}-weights_manifest.json`), 'utf8'));
  const buf = Buffer.concat(manifest.flatMap((g) => g.paths).map((p) => readFileSync(path.join(model, p))));
  return faceapi.tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), manifest.flatMap((g) => g.weights));
}

// floats reads a file of little-endian float32s.
export function floats(file) {
  const raw = readFileSync(file);
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}
