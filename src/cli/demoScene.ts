import { join } from 'node:path';
import sharp from 'sharp';
import { projectRoot } from '../paths.js';

/** Pictures that ship with our dependencies (a newcomer has no others): face-api's demo photos. */
const samples = join(projectRoot, 'node_modules', '@vladmandic', 'face-api', 'demo');

interface Region {
  file: string;
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Regions of those photos: one person (the demo user), an empty background (window blinds), another
 * person. Other corners were worse stand-ins for an empty desk: the face detector alone (without the
 * mesh) reports weak false faces (0.5–0.7) on some, and a plain dark wall reads as a blurred image.
 */
const user: Region = { file: 'sample1.jpg', left: 579, top: 224, width: 718, height: 539 };
const empty: Region = { file: 'sample6.jpg', left: 0, top: 0, width: 500, height: 375 };
const stranger: Region = { file: 'sample5.jpg', left: 51, top: 661, width: 824, height: 618 };

/** A 640x480 webcam-like frame of a region, shifted by (dx, dy) pixels: a live feed never repeats itself exactly. */
async function frame(r: Region, dx = 0, dy = 0): Promise<Buffer> {
  const meta = await sharp(join(samples, r.file)).metadata();
  const left = Math.max(0, Math.min((meta.width ?? 0) - r.width, r.left + dx));
  const top = Math.max(0, Math.min((meta.height ?? 0) - r.height, r.top + dy));
  return sharp(join(samples, r.file)).extract({ left, top, width: r.width, height: r.height }).resize(640, 480, { fit: 'cover' }).jpeg({ quality: 80 }).toBuffer();
}

async function run(r: Region, count: number): Promise<Buffer[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => frame(r, ((i * 7) % 17) - 8, ((i * 5) % 11) - 5)));
}

/** The demo user's reference image. */
export function demoReference(): Promise<Buffer> {
  return frame(user);
}

/**
 * The demo agent's loop at 1 fps: the user at the desk (20 s), nobody (20 s: a no-face warning),
 * the user again (10 s), someone else (15 s: a wrong-user lock).
 */
export async function demoFrames(): Promise<Buffer[]> {
  return [...(await run(user, 20)), ...(await run(empty, 20)), ...(await run(user, 10)), ...(await run(stranger, 15))];
}
