import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp, { type Sharp } from 'sharp';
import { decodePlainJpeg, plainJpegSize } from '../../src/vision/jpeg.js';
import { decodeImage, decodeScaled } from '../../src/vision/image.js';
import { downsample } from '../../src/vision/analyzer.js';

/** A 96x64 gradient with some texture, as JPEG with the given sharp settings. */
async function jpeg(edit: (s: Sharp) => Sharp = (s) => s.jpeg({ quality: 85 })): Promise<Buffer> {
  const width = 96;
  const height = 64;
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + Math.floor(i / 291) * 13) & 255;
  return edit(sharp(raw, { raw: { width, height, channels: 3 } })).toBuffer();
}

const sharpRgb = (bytes: Buffer) => sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer();

test('plain baseline, progressive and grey JPEGs decode in wasm to the same pixels as sharp', async () => {
  for (const [name, bytes] of [
    ['baseline', await jpeg()],
    ['progressive', await jpeg((s) => s.jpeg({ progressive: true }))],
    ['grey', await jpeg((s) => s.greyscale().jpeg())],
  ] as const) {
    assert.deepEqual(plainJpegSize(bytes), { width: 96, height: 64 }, name);
    const decoded = decodePlainJpeg(bytes, 640);
    assert.ok(decoded, name);
    assert.deepEqual(decoded.data, await sharpRgb(bytes), name);
  }
});

test('a frame decoded at half or quarter size directly is the box average of its full decode, within JPEG rounding', async () => {
  const frame = await jpeg((s) => s.resize(640, 480).blur(1).jpeg({ quality: 85 }));
  const full = await decodeImage(frame, 800);
  for (const [side, k] of [[320, 2], [160, 4], [80, 8]] as const) {
    const scaled = decodeScaled(frame, 800, side);
    assert.ok(scaled, `1/${k}`);
    assert.deepEqual([scaled.k, scaled.width, scaled.height, scaled.small.width, scaled.small.height], [k, 640, 480, 640 / k, 480 / k]);
    const box = downsample(full, k).data;
    let diff = 0;
    for (let i = 0; i < box.length; i++) diff += Math.abs(box[i]! - scaled.small.data[i]!);
    assert.ok(diff / box.length < 1, `1/${k}: mean difference ${(diff / box.length).toFixed(2)} grey levels`);
  }
  assert.equal(decodeScaled(frame, 800, 200), undefined, 'k = 3 is not a scale libjpeg decodes at: the caller decodes in full');
  assert.equal(decodeScaled(await sharp(frame).png().toBuffer(), 800, 320), undefined, 'not a JPEG');
});

test('a JPEG whose entropy-coded data is damaged is refused (sharp then decides), and the next frame decodes', async () => {
  const good = await jpeg((s) => s.resize(640, 480).jpeg({ quality: 85 }));
  const bad = Buffer.from(good);
  for (let i = 1_000; i < bad.length - 10; i += 13) bad[i] = (bad[i]! + 77) & 0xff;
  assert.ok(plainJpegSize(bad), 'the header still looks plain');
  assert.equal(decodePlainJpeg(bad, 800), undefined);
  assert.deepEqual(decodePlainJpeg(good, 800)?.data, await sharpRgb(good));
  assert.equal(decodePlainJpeg(good, 800, 2)?.width, 320);
});

test('what needs more than decoding is left to sharp: EXIF orientation, ICC profile, CMYK, a truncated file, a size above the limit', async () => {
  const plain = await jpeg();
  assert.equal(plainJpegSize(await jpeg((s) => s.withMetadata({ orientation: 6 }).jpeg())), undefined, 'EXIF');
  assert.equal(plainJpegSize(await jpeg((s) => s.withIccProfile('p3').jpeg())), undefined, 'ICC');
  assert.equal(plainJpegSize(await jpeg((s) => s.toColourspace('cmyk').jpeg())), undefined, 'CMYK');
  assert.equal(plainJpegSize(plain.subarray(0, plain.length - 100)), undefined, 'truncated');
  assert.equal(plainJpegSize(Buffer.from('not a jpeg at all')), undefined);
  assert.equal(decodePlainJpeg(plain, 64), undefined, 'wider than maxSide');
});
