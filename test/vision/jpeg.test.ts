import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp, { type Sharp } from 'sharp';
import { decodePlainJpeg, plainJpegSize } from '../../src/vision/jpeg.js';
import { decodeImage, lumaGrid, rgbInt32 } from '../../src/vision/image.js';
import { downsample } from '../../src/vision/analyzer.js';
import { thumbnail } from '../../src/vision/motion.js';

/** A 96x64 gradient with some texture, as JPEG with the given sharp settings. */
async function jpeg(edit: (s: Sharp) => Sharp = (s) => s.jpeg({ quality: 85 })): Promise<Buffer> {
  const width = 96;
  const height = 64;
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + Math.floor(i / 291) * 13) & 255;
  return edit(sharp(raw, { raw: { width, height, channels: 3 } })).toBuffer();
}

const sharpRgb = (bytes: Buffer) => sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer();

/** RGB of an RGBA image (the alpha byte dropped). */
const rgbOf = (rgba: Uint8Array | Uint8ClampedArray) => Buffer.from(rgba.filter((_, i) => i % 4 !== 3));

test('plain baseline, progressive and grey JPEGs decode in wasm to the same pixels as sharp', async () => {
  for (const [name, bytes] of [
    ['baseline', await jpeg()],
    ['progressive', await jpeg((s) => s.jpeg({ progressive: true }))],
    ['grey', await jpeg((s) => s.greyscale().jpeg())],
  ] as const) {
    assert.deepEqual(plainJpegSize(bytes), { width: 96, height: 64 }, name);
    const decoded = await decodePlainJpeg(bytes, 640);
    assert.ok(decoded, name);
    assert.equal(decoded.data.length, 96 * 64 * 4, `${name}: RGBA, as the decoder returns it`);
    assert.deepEqual(rgbOf(decoded.data), await sharpRgb(bytes), name);
  }
});

test('an RGBA decode (wasm) and an RGB decode (sharp) of the same pixels give the same tensor input, box average, quality and thumbnail', async () => {
  const bytes = await jpeg((s) => s.resize(640, 480, { kernel: 'nearest' }).jpeg({ quality: 90 }));
  const rgba = await decodeImage(bytes, 800);
  assert.equal(rgba.channels, 4, 'a plain JPEG decodes in wasm');
  const rgb = { ...rgba, data: await sharpRgb(bytes), channels: 3 as const };
  const size = 640 * 480 * 3;
  assert.deepEqual(rgbInt32(rgba, new Int32Array(size)), Int32Array.from(rgb.data));
  assert.deepEqual(rgbInt32(rgb, new Int32Array(size)), Int32Array.from(rgb.data));
  for (const k of [2, 3]) assert.deepEqual(downsample(rgba, k).data, downsample(rgb, k).data, `box average, k = ${k}`);
  assert.deepEqual(Array.from(lumaGrid(rgba).luma), Array.from(lumaGrid(rgb).luma));
  assert.deepEqual(thumbnail(rgba), thumbnail(rgb));
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
