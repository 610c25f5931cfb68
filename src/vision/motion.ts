import { lumaGrid, type LumaGrid, type RgbValues } from './image.js';

/**
 * A cheap motion gate. Most desks are static most of the time: when a frame shows nothing that moved
 * since the frame the detector last ran on, the detector's answer would be the same, so the faces are
 * carried forward instead. The gate compares tiny grayscale thumbnails (cell means) taken from the
 * luma grid the image quality is measured on anyway, so it costs well under a millisecond and no second decode.
 */

export const THUMB_W = 32;
export const THUMB_H = 24;

/** Grey cell means (0..255) of a THUMB_W x THUMB_H grid over a luma grid. */
export function thumbnailOf({ luma, w, h }: LumaGrid): Uint8Array {
  const out = new Uint8Array(THUMB_W * THUMB_H);
  for (let cy = 0; cy < THUMB_H; cy++) {
    const y0 = Math.floor((cy * h) / THUMB_H);
    const y1 = Math.max(y0 + 1, Math.floor(((cy + 1) * h) / THUMB_H));
    for (let cx = 0; cx < THUMB_W; cx++) {
      const x0 = Math.floor((cx * w) / THUMB_W);
      const x1 = Math.max(x0 + 1, Math.floor(((cx + 1) * w) / THUMB_W));
      let sum = 0;
      for (let y = y0; y < y1; y++) for (let i = y * w + x0, end = y * w + x1; i < end; i++) sum += luma[i]!;
      out[cy * THUMB_W + cx] = Math.round(sum / ((y1 - y0) * (x1 - x0)));
    }
  }
  return out;
}

/** The thumbnail of an image. */
export function thumbnail(img: RgbValues): Uint8Array {
  return thumbnailOf(lumaGrid(img));
}

/**
 * How much moved between two thumbnails: the largest mean absolute difference over 4x4-cell regions,
 * after removing the global brightness shift (webcam auto-exposure changes every cell alike). Sensor
 * noise averages out in the cell means, so a still scene scores ~0-1; a head turn, a hand or a phone
 * entering the picture changes at least one region by several grey levels. Different sizes -> Infinity.
 */
export function motionScore(a: ArrayLike<number>, b: ArrayLike<number>, ignore?: CellRect): number {
  if (a.length !== THUMB_W * THUMB_H || b.length !== a.length) return Infinity;
  let shift = 0;
  for (let i = 0; i < a.length; i++) shift += b[i]! - a[i]!;
  shift /= a.length;
  const ignored = (x: number, y: number) => ignore !== undefined && x >= ignore.x0 && x < ignore.x1 && y >= ignore.y0 && y < ignore.y1;
  let worst = 0;
  for (let ry = 0; ry < THUMB_H; ry += 4) {
    for (let rx = 0; rx < THUMB_W; rx += 4) {
      let s = 0;
      let n = 0;
      for (let y = ry; y < ry + 4; y++) {
        for (let x = rx; x < rx + 4; x++) {
          if (ignored(x, y)) continue;
          s += Math.abs(b[y * THUMB_W + x]! - a[y * THUMB_W + x]! - shift);
          n++;
        }
      }
      // A region mostly inside the ignored rectangle says too little on its own.
      if (n >= 4) worst = Math.max(worst, s / n);
    }
  }
  return Math.round(worst * 100) / 100;
}

/** A rectangle of thumbnail cells, end-exclusive. */
export interface CellRect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * The cells covered by a face box (image pixels) grown by `grow` of its size on every side (0.3: hair, ears and
 * neck; measured in docs/models.md, 0.15 let a head turn through): where a head
 * turning or talking moves pixels. The phone check ignores motion there (docs/models.md).
 */
export function faceCells(box: readonly number[], width: number, height: number, grow = 0.3): CellRect {
  const [x, y, w, h] = box as [number, number, number, number];
  const cx = (v: number) => Math.max(0, Math.min(THUMB_W, v));
  const cy = (v: number) => Math.max(0, Math.min(THUMB_H, v));
  return {
    x0: cx(Math.floor(((x - w * grow) / width) * THUMB_W)),
    y0: cy(Math.floor(((y - h * grow) / height) * THUMB_H)),
    x1: cx(Math.ceil(((x + w * (1 + grow)) / width) * THUMB_W)),
    y1: cy(Math.ceil(((y + h * (1 + grow)) / height) * THUMB_H)),
  };
}
