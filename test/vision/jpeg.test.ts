import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp, { type Sharp } from 'sharp';
import { decodePlainJpeg, plainJpegSize, rgbaToRgb } from '../../src/vision/jpeg.js';

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

test('dropping the alpha byte keeps every pixel, also for pixel counts that are not a multiple of four', () => {
  for (const pixels of [0, 1, 3, 4, 5, 11, 640 * 480]) {
    const rgba = new Uint8ClampedArray(pixels * 4).map((_, i) => (i * 37 + 11) & 255);
    const expected = Buffer.from(Array.from({ length: pixels * 3 }, (_, i) => rgba[Math.floor(i / 3) * 4 + (i % 3)]!));
    assert.deepEqual(rgbaToRgb(rgba, pixels), expected, `${pixels} pixels`);
    const unaligned = new Uint8ClampedArray(pixels * 4 + 1);
    unaligned.set(rgba, 1);
    assert.deepEqual(rgbaToRgb(unaligned.subarray(1), pixels), expected, `${pixels} pixels, not on a 4-byte boundary`);
  }
});
