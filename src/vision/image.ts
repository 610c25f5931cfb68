import sharp from 'sharp';
import type { QualityObservation } from '../domain/observation.js';
import { sniffImageFormat } from '../domain/protocol.js';
import { decodePlainJpeg, plainJpegSize } from './jpeg.js';

/** A decoded, upright RGB image. */
export interface DecodedImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
  format: 'jpeg' | 'png' | 'webp';
}

/** RGB values, 3 per pixel, row by row: a decoded image's bytes, or int32 values ready for a tensor. */
export interface RgbValues {
  data: ArrayLike<number>;
  width: number;
  height: number;
}

/** The integer factor that brings the longest side down to about `side` (1 = keep). */
export function downscaleFactor(img: Pick<DecodedImage, 'width' | 'height'>, side: number): number {
  if (side <= 0) return 1;
  return Math.max(1, Math.floor(Math.max(img.width, img.height) / side));
}

export class ImageError extends Error {
  constructor(
    readonly code: 'corrupt_image' | 'unsupported_format',
    message: string,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}

/**
 * Decodes JPEG, PNG or WebP whatever the name or the claimed format says (the bytes decide), turns it
 * upright by its EXIF orientation, and scales it so the longest side is at most `maxSide` (frames are
 * ~640 px; reference photos can be 4000 px and would only cost time). Plain JPEGs (most webcam frames)
 * decode in wasm on this thread (src/vision/jpeg.ts); everything else through sharp.
 */
export async function decodeImage(bytes: Buffer, maxSide: number): Promise<DecodedImage> {
  // The magic bytes name the format; only what they do not recognise costs a header parse (~0.3 ms a frame
  // saved), to tell a corrupt file from a format that is not accepted.
  const format = sniffImageFormat(bytes) ?? (await unacceptedFormat(bytes));
  const plain = format === 'jpeg' ? decodePlainJpeg(bytes, maxSide) : undefined;
  if (plain) return { ...plain, channels: 3, format };
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error' })
      .rotate()
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels, got ${info.channels}`);
    return { data, width: info.width, height: info.height, channels: 3, format };
  } catch (err) {
    throw new ImageError('corrupt_image', `cannot decode the ${format} image: ${(err as Error).message}`);
  }
}

/**
 * A plain JPEG (src/vision/jpeg.ts) decoded at 1/k of each side only, k being downscaleFactor(image, side) when
 * that is a scale libjpeg decodes at (2, 4, 8): the detector's small input without the full image (DCT scaling:
 * ~0.85 ms for 640x480 -> 320x240 against ~1.9 ms for the full frame plus ~0.5 ms for its box average; the two
 * differ by 0.2 grey levels on average). Undefined when not possible: sharp's formats, another k.
 */
export function decodeScaled(bytes: Buffer, maxSide: number, side: number): { small: DecodedImage; k: number; width: number; height: number } | undefined {
  const size = plainJpegSize(bytes);
  if (!size) return undefined;
  const k = downscaleFactor(size, side);
  if (k === 1) return undefined;
  const small = decodePlainJpeg(bytes, maxSide, k);
  return small && { small: { ...small, channels: 3, format: 'jpeg' }, k, ...size };
}

/** Throws the error for bytes that are not JPEG, PNG or WebP. */
async function unacceptedFormat(bytes: Buffer): Promise<never> {
  let format: string | undefined;
  try {
    format = (await sharp(bytes).metadata()).format;
  } catch (err) {
    throw new ImageError('corrupt_image', `not a readable image: ${(err as Error).message}`);
  }
  throw new ImageError('unsupported_format', `image format ${format ?? 'unknown'} is not accepted (JPEG, PNG or WebP)`);
}

export interface QualityThresholds {
  darkLuma: number;
  brightLuma: number;
  blurVariance: number;
  /** Fine / coarse Laplacian variance below which a low-detail image is blurred rather than flat. */
  blurRatio: number;
}

export const defaultQualityThresholds: QualityThresholds = { darkLuma: 40, brightLuma: 220, blurVariance: 20, blurRatio: 0.08 };

/**
 * Luma standard deviation from which a low-detail image counts as blurred whatever its coarse detail:
 * heavy blur flattens the coarse scale too, but a person in the picture keeps the contrast (measured:
 * face photos and the webcam clip 55–76 even at sigma 16 px; a plain corner of a room 20–35).
 */
const BLURRED_CONTRAST_STD = 50;

/** Variance of the 4-neighbour Laplacian over a w x h luma grid. */
function laplacianVariance(luma: Float32Array, w: number, h: number): number {
  let n = 0;
  let sum = 0;
  let sq = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const c = y * w + x;
      const lap = luma[c - 1]! + luma[c + 1]! + luma[c - w]! + luma[c + w]! - 4 * luma[c]!;
      sum += lap;
      sq += lap * lap;
      n++;
    }
  }
  return n ? sq / n - (sum / n) ** 2 : 0;
}

/**
 * Scratch grids reused by every call (the analysis is synchronous here): a fresh ~300 kB array per frame is
 * garbage that makes the collector run more often in the worker.
 */
const scratch = { luma: new Float32Array(0), coarse: new Float32Array(0) };
function grid(name: keyof typeof scratch, size: number): Float32Array {
  if (scratch[name].length < size) scratch[name] = new Float32Array(size);
  const out = scratch[name].subarray(0, size);
  out.fill(0);
  return out;
}

/** k x k block means of a w x h grid. */
function shrink(luma: Float32Array, w: number, h: number, k: number): { luma: Float32Array; w: number; h: number } {
  const sw = Math.floor(w / k);
  const sh = Math.floor(h / k);
  const out = grid('coarse', sw * sh);
  for (let y = 0; y < sh * k; y++) {
    const row = Math.floor(y / k) * sw;
    const src = y * w;
    for (let x = 0, cell = row, n = 0; x < sw * k; x++) {
      out[cell]! += luma[src + x]!;
      if (++n === k) {
        n = 0;
        cell++;
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i]! /= k * k;
  return { luma: out, w: sw, h: sh };
}

/** Luma (0..255) of the image sampled on a grid at most 320 wide (the gate's thumbnail and the quality both read it). */
export interface LumaGrid {
  luma: Float32Array;
  w: number;
  h: number;
  /** Sum of the grid's values and of their squares (mean luma and contrast). */
  sum: number;
  sumSq: number;
}

/**
 * The image's luma sampled on a grid at most 320 points wide, so the blur figure does not depend on the camera's
 * resolution (the analyser hands it a frame's small image: a 640x480 frame's 2x2 box average). The grid is
 * scratch memory: the next call reuses it.
 */
export function lumaGrid(img: RgbValues): LumaGrid {
  const targetW = Math.min(320, img.width);
  const step = img.width / targetW;
  const w = targetW;
  const h = Math.max(1, Math.floor(img.height / step));
  const luma = grid('luma', w * h);
  const data = img.data;
  // Byte offsets of the sampled columns, once per image rather than once per pixel.
  const columns = new Int32Array(w);
  for (let x = 0; x < w; x++) columns[x] = Math.min(img.width - 1, Math.floor(x * step)) * 3;
  let sum = 0;
  let sumSq = 0;
  for (let y = 0, o = 0; y < h; y++) {
    const row = Math.min(img.height - 1, Math.floor(y * step)) * img.width * 3;
    for (let x = 0; x < w; x++, o++) {
      const i = row + columns[x]!;
      const v = 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
      luma[o] = v;
      sum += v;
      sumSq += v * v;
    }
  }
  return { luma, w, h, sum, sumSq };
}

/**
 * Mean luma and variance of the 4-neighbour Laplacian of an image's luma grid (lumaGrid).
 *
 * Little fine detail alone does not mean blurred: a plain wall behind an empty chair has none either, and
 * calling it blurred would hide every empty desk in front of one. Blur removes fine detail but keeps
 * the coarse shapes, so an image is blurred only when its fine detail is low both absolutely and relative
 * to the detail of the same image at a quarter of the size (measured on the small images of the webcam clip
 * and of face photos at 640x480: sharp >= 0.18, Gaussian blur of sigma >= 2 px <= 0.05; docs/models.md), or when
 * it keeps a person's contrast (BLURRED_CONTRAST_STD).
 */
export function qualityOf({ luma, w, h, sum, sumSq }: LumaGrid, t: QualityThresholds = defaultQualityThresholds): QualityObservation {
  const brightness = sum / (w * h);
  const contrast = Math.sqrt(Math.max(0, sumSq / (w * h) - brightness ** 2));
  const sharpness = laplacianVariance(luma, w, h);
  const coarse = shrink(luma, w, h, 4);
  const coarseSharpness = laplacianVariance(coarse.luma, coarse.w, coarse.h);
  const detailRatio = coarseSharpness > 0 ? sharpness / coarseSharpness : Infinity;
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    brightness: round(brightness),
    sharpness: round(sharpness),
    tooDark: brightness < t.darkLuma,
    tooBright: brightness > t.brightLuma,
    // A black or white frame has no edges anyway: call it dark/bright, not blurred.
    blurred: sharpness < t.blurVariance && (detailRatio < t.blurRatio || contrast >= BLURRED_CONTRAST_STD) && brightness >= t.darkLuma && brightness <= t.brightLuma,
  };
}

/** Image quality (qualityOf) of an image. */
export function measureQuality(img: RgbValues, t: QualityThresholds = defaultQualityThresholds): QualityObservation {
  return qualityOf(lumaGrid(img), t);
}
