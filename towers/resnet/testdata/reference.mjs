// Writes face-api.js's own face descriptors for raw inputs, the reference
// that towers/resnet's import test compares with.
//
//   node reference.mjs PACKAGE_DIR INPUTS.f32 OUT.json
//
// PACKAGE_DIR is the unpacked npm package @vladmandic/face-api (its
// dist/face-api.esm.js bundles TensorFlow.js, run on its CPU backend).
// INPUTS.f32 holds N inputs of 150×150×3 float32 pixel values (0–255, row
// major, RGB last), little-endian. OUT.json gets [[128 floats], ...].
import { writeFileSync } from 'node:fs';
import { load, weights, floats } from '../../../internal/faceapitest/faceapi.mjs';

const [pkg, inputs, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node reference.mjs PACKAGE_DIR INPUTS.f32 OUT.json');
  process.exit(2);
}
const faceapi = await load(pkg);
const tf = faceapi.tf;
faceapi.nets.faceRecognitionNet.loadFromWeightMap(weights(faceapi, pkg, 'face_recognition_model'));

const data = floats(inputs);
const side = 150 * 150 * 3;
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
