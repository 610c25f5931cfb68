import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp, { type Sharp } from 'sharp';
import { decodePlainJpeg, plainJpegSize } from '../../src/vision/jpeg.js';

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
    const decoded = await decodePlainJpeg(bytes, 640);
    assert.ok(decoded, name);
    assert.deepEqual(decoded.data, await sharpRgb(bytes), name);
  }
});

test('what needs more than decoding is left to sharp: EXIF orientation, ICC profile, CMYK, a truncated file, a size above the limit', async () => {
  const plain = await jpeg();
  assert.equal(plainJpegSize(await jpeg((s) => s.withMetadata({ orientation: 6 }).jpeg())), undefined, 'EXIF');
  assert.equal(plainJpegSize(await jpeg((s) => s.withIccProfile('p3').jpeg())), undefined, 'ICC');
  assert.equal(plainJpegSize(await jpeg((s) => s.toColourspace('cmyk').jpeg())), undefined, 'CMYK');
  assert.equal(plainJpegSize(plain.subarray(0, plain.length - 100)), undefined, 'truncated');
  assert.equal(plainJpegSize(Buffer.from('not a jpeg at all')), undefined);
  assert.equal(await decodePlainJpeg(plain, 64), undefined, 'wider than maxSide');
});
