import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { decodeScaled, measureQuality } from '../../src/vision/image.js';
import { projectRoot } from '../../src/paths.js';

const shared = join(projectRoot, '..', 'shared', 'data');
/** Quality as the analyser measures it: on the frame's small image (a 640x480 frame decoded at 320x240). */
const quality = async (jpeg: Buffer) => {
  const scaled = decodeScaled(jpeg, 800, 320);
  assert.ok(scaled, 'a plain 640x480 JPEG decodes at half size');
  return measureQuality(scaled.small);
};
const webcam = (file: string) => sharp(file).rotate().resize(640, 480, { fit: 'cover' }).jpeg().toBuffer();

/** A plain wall: a soft gradient with sensor noise, nothing sharp in it and nothing blurred either. */
async function plainWall(): Promise<Buffer> {
  const raw = Buffer.alloc(640 * 480 * 3);
  let seed = 7;
  for (let i = 0; i < 640 * 480; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    raw.fill(110 + (i % 640) / 20 + ((seed / 2 ** 31) - 0.5) * 6, 3 * i, 3 * i + 3);
  }
  return sharp(raw, { raw: { width: 640, height: 480, channels: 3 } }).jpeg().toBuffer();
}

test('sharp photos are not blurred, the same photos blurred are', async () => {
  for (const file of ['face/deepface/img1.jpg', 'spoof/silentface/image_T1.jpg', 'face/face_recognition/tests/test_images/obama.jpg']) {
    const jpeg = await webcam(join(shared, file));
    assert.equal((await quality(jpeg)).blurred, false, file);
    for (const sigma of [5, 8]) assert.equal((await quality(await sharp(jpeg).blur(sigma).jpeg().toBuffer())).blurred, true, `${file} blurred by ${sigma} px`);
  }
});

test('a plain scene (a wall behind an empty chair) has little detail but is not blurred', async () => {
  const wall = await quality(await plainWall());
  assert.ok(wall.sharpness < 20, `sharpness ${wall.sharpness}`);
  assert.equal(wall.blurred, false);
  // A dim plain corner of a real room (face-api's demo photo, shipped with npm).
  const corner = await sharp(join(projectRoot, 'node_modules', '@vladmandic', 'face-api', 'demo', 'sample1.jpg')).extract({ left: 0, top: 0, width: 500, height: 375 }).resize(640, 480).jpeg().toBuffer();
  const q = await quality(corner);
  assert.ok(q.sharpness < 20 && !q.tooDark, JSON.stringify(q));
  assert.equal(q.blurred, false);
});
