import sharp from 'sharp';
import type { QualityObservation } from '../domain/observation.js';

/** A decoded, upright RGB image. */
export interface DecodedImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
  format: 'jpeg' | 'png' | 'webp';
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

const ACCEPTED = new Set(['jpeg', 'png', 'webp']);

/**
 * Decodes JPEG, PNG or WebP whatever the name or the claimed format says (the bytes decide), turns it
 * upright by its EXIF orientation, and scales it so the longest side is at most `maxSide` (frames are
 * ~640 px; reference photos can be 4000 px and would only cost time).
 */
export async function decodeImage(bytes: Buffer, maxSide: number): Promise<DecodedImage> {
  let format: string | undefined;
  try {
    format = (await sharp(bytes).metadata()).format;
  } catch (err) {
    throw new ImageError('corrupt_image', `not a readable image: ${(err as Error).message}`);
  }
  if (!format || !ACCEPTED.has(format)) {
    throw new ImageError('unsupported_format', `image format ${format ?? 'unknown'} is not accepted (JPEG, PNG or WebP)`);
  }
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error' })
      .rotate()
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels, got ${info.channels}`);
    return { data, width: info.width, height: info.height, channels: 3, format: format as DecodedImage['format'] };
  } catch (err) {
    throw new ImageError('corrupt_image', `cannot decode the ${format} image: ${(err as Error).message}`);
  }
}

export interface QualityThresholds {
  darkLuma: number;
  brightLuma: number;
  blurVariance: number;
}

export const defaultQualityThresholds: QualityThresholds = { darkLuma: 40, brightLuma: 220, blurVariance: 20 };

/**
 * Mean luma and variance of the 4-neighbour Laplacian, measured on the image scaled to 320 px wide so
 * the blur figure does not depend on the camera's resolution.
 */
export function measureQuality(img: DecodedImage, t: QualityThresholds = defaultQualityThresholds): QualityObservation {
  const targetW = Math.min(320, img.width);
  const step = img.width / targetW;
  const w = targetW;
  const h = Math.max(1, Math.floor(img.height / step));
  const luma = new Float32Array(w * h);
  let sum = 0;
  for (let y = 0; y < h; y++) {
    const sy = Math.min(img.height - 1, Math.floor(y * step));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(img.width - 1, Math.floor(x * step));
      const i = (sy * img.width + sx) * 3;
      const v = 0.299 * img.data[i]! + 0.587 * img.data[i + 1]! + 0.114 * img.data[i + 2]!;
      luma[y * w + x] = v;
      sum += v;
    }
  }
  const brightness = sum / (w * h);
  let n = 0;
  let lsum = 0;
  let lsq = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const c = y * w + x;
      const lap = luma[c - 1]! + luma[c + 1]! + luma[c - w]! + luma[c + w]! - 4 * luma[c]!;
      lsum += lap;
      lsq += lap * lap;
      n++;
    }
  }
  const sharpness = n ? lsq / n - (lsum / n) ** 2 : 0;
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    brightness: round(brightness),
    sharpness: round(sharpness),
    tooDark: brightness < t.darkLuma,
    tooBright: brightness > t.brightLuma,
    // A black or white frame has no edges anyway: call it dark/bright, not blurred.
    blurred: sharpness < t.blurVariance && brightness >= t.darkLuma && brightness <= t.brightLuma,
  };
}
