// Writes face-api.js's own tiny face detector output for a raw image, the
// reference internal/tinyyolo's test compares with.
//
//   node reference.mjs PACKAGE_DIR IMAGE.f32 HEIGHT WIDTH OUT.json
//
// IMAGE.f32 holds HEIGHT×WIDTH×3 float32 pixel values (0–255, RGB last),
// little-endian. OUT.json gets {"raw": [13·13·25 floats, NHWC], "faces":
// [{x, y, width, height, score}]} at input size 416, score threshold 0.5.
import { writeFileSync } from 'node:fs';
import { load, weights, floats } from '../../faceapitest/faceapi.mjs';

const [pkg, file, hs, ws, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node reference.mjs PACKAGE_DIR IMAGE.f32 HEIGHT WIDTH OUT.json');
  process.exit(2);
}
const faceapi = await load(pkg);
const net = faceapi.nets.tinyFaceDetector;
net.loadFromWeightMap(weights(faceapi, pkg, 'tiny_face_detector_model'));

const x = faceapi.tf.tensor3d(floats(file), [Number(hs), Number(ws), 3]);
const y = await net.forward(x, 416);
const faces = await net.locateFaces(x, { inputSize: 416, scoreThreshold: 0.5 });
writeFileSync(out, JSON.stringify({
  raw: Array.from(await y.data()),
  faces: faces.map((f) => ({ x: f.box.x, y: f.box.y, width: f.box.width, height: f.box.height, score: f.score })),
}));
