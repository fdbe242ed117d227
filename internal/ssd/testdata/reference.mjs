// Writes face-api.js's own SSD MobileNetV1 output for a raw image, the
// reference internal/ssd's test compares with.
//
//   node reference.mjs PACKAGE_DIR IMAGE.f32 HEIGHT WIDTH OUT.json
//
// IMAGE.f32 holds HEIGHT×WIDTH×3 float32 pixel values (0–255, RGB last),
// little-endian. OUT.json gets {"boxes": [5118×4 floats], "scores": [5118
// floats], "faces": [{x, y, width, height, score}]} (minConfidence 0.5).
import { writeFileSync } from 'node:fs';
import { load, weights, floats } from '../../faceapitest/faceapi.mjs';

const [pkg, file, hs, ws, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node reference.mjs PACKAGE_DIR IMAGE.f32 HEIGHT WIDTH OUT.json');
  process.exit(2);
}
const faceapi = await load(pkg);
const net = faceapi.nets.ssdMobilenetv1;
net.loadFromWeightMap(weights(faceapi, pkg, 'ssd_mobilenetv1_model'));

const x = faceapi.tf.tensor3d(floats(file), [Number(hs), Number(ws), 3]);
const y = await net.forward(x);
const faces = await net.locateFaces(x, { minConfidence: 0.5 });
writeFileSync(out, JSON.stringify({
  boxes: Array.from(await y.boxes[0].data()),
  scores: Array.from(await y.scores[0].data()),
  faces: faces.map((f) => ({ x: f.box.x, y: f.box.y, width: f.box.width, height: f.box.height, score: f.score })),
}));
