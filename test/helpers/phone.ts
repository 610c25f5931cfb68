import sharp from 'sharp';

/**
 * A smartphone, drawn (a dark body, a lit screen of app icons), w x h pixels: none of our real images has a
 * phone that a detector we can install finds (docs/models.md, "Phones"), while a phone raised toward the
 * camera — the case that matters — looks like this one to centernet. Used by the end-to-end scene and by
 * the phone detector bench (bench/phones.ts), which places it beside and in front of real faces.
 */
export function drawnPhone(w: number, h: number): Buffer {
  const icons = Array.from({ length: 20 }, (_, i) => `<rect x="${w * 0.12 + (i % 4) * w * 0.2}" y="${h * 0.12 + Math.floor(i / 4) * h * 0.14}" width="${w * 0.13}" height="${w * 0.13}" rx="4" fill="hsl(${i * 37},70%,55%)"/>`);
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="${w}" height="${h}" rx="14" fill="#111"/><rect x="7" y="12" width="${w - 14}" height="${h - 24}" rx="10" fill="#2a6fdb"/>${icons.join('')}</svg>`);
}

/** Where the bench holds the drawn phone in a 640x480 frame: beside the face, lower, in front of the chin (left, top, width, height). */
export const PHONE_PLACEMENTS: readonly [number, number, number, number][] = [
  [380, 150, 120, 240],
  [60, 200, 120, 240],
  [420, 260, 80, 160],
  [100, 280, 80, 160],
  [260, 220, 100, 200],
];

/** `frame` with the drawn phone at `at`, as a JPEG. */
export async function withDrawnPhone(frame: Buffer, at: readonly [number, number, number, number] = PHONE_PLACEMENTS[0]!): Promise<Buffer> {
  const [left, top, w, h] = at;
  return sharp(frame).composite([{ input: drawnPhone(w, h), left, top }]).jpeg({ quality: 85 }).toBuffer();
}
