import type { Tensor, Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import type { Config as HumanConfig, FaceResult } from '@vladmandic/human';
import type { Config } from '../config/index.js';
import type { Box, QualityObservation } from '../domain/observation.js';
import { decodeImage, decodeScaled, downscaleFactor, ImageError, lumaGrid, qualityOf, type DecodedImage, type QualityThresholds, type RgbValues } from './image.js';
import { phoneModelOptions, type PhoneModelOptions, type VisionModels } from './models.js';
import { boxJumped, iou } from './evidence.js';
import { faceCells, motionScore, thumbnailOf } from './motion.js';
import { carryVerdicts, rejectedBy, rememberRejected, type MeshVerdicts } from './confirm.js';

/** What the caller knows about the client's face track, so the worker can decide which stages to run. */
export interface AnalysisPlan {
  /** Run identity + spoof whatever the detector sees (track start, re-verification due). */
  identityDue: boolean;
  /** Run the phone (object) detector on this frame. */
  phonesDue: boolean;
  /** The main face box of the previous analysis: a jump away from it triggers identity + spoof. */
  lastBox?: Box;
  /** IoU below which the box counts as having jumped. */
  jumpIou: number;
  /**
   * Run the face mesh (eye opening, head pose) on a detector-only frame; undefined = yes. The mesh
   * always runs with identity (its extent is the descriptor's crop); elsewhere only bursts need it.
   */
  meshDue?: boolean;
  /**
   * Leave a needed phone check to a follow-up phones-only analysis of the same frame (`ran.phonesPending`),
   * so the faces of this frame reach the decisions without waiting for the phone detector (~170 ms).
   */
  deferPhones?: boolean;
  /** Run only the phone detector on this frame; the faces are carried from the analysis that deferred it. */
  phonesOnly?: { faces: FaceDetail[] };
  /**
   * The mesh's verdicts on the client's previous detector frame (src/vision/confirm.ts): on a frame that
   * runs the mesh only to confirm faces, detections that continue them keep them without the mesh.
   * Absent: the mesh confirms every detection.
   */
  confirmed?: MeshVerdicts;
  /**
   * Motion gate (src/vision/motion.ts): thumbnails of the frame the detector / the phone detector last
   * ran on. When this frame's thumbnail differs from one by at most `threshold`, that stage is not
   * run again: the detector's faces are `lastFaces`, carried forward; the phone check is reported as
   * unchanged. A missing reference forces the stage (the pool drops it after a maximum age).
   */
  motion?: {
    detectRef?: Uint8Array;
    phonesRef?: Uint8Array;
    threshold: number;
    lastFaces: FaceDetail[];
    /** Face boxes on the frame the phone detector last ran on. */
    phonesFaces?: Box[];
    /**
     * The phone check ignores motion on and around the face (a head turning or talking brings no phone):
     * it runs when anything else moved, or when the faces changed (count, or the main box jumped) since
     * its last run — a phone held up in front of the face hides it and moves the box.
     */
    phonesIgnoreFace?: boolean;
  };
}

/** Faces differ in count, or the main box jumped (IoU < 0.5). */
function facesChanged(before: readonly Box[] | undefined, now: readonly { box: Box }[]): boolean {
  if (!before) return true;
  if (before.length !== now.length) return true;
  return before.length > 0 && iou(before[0]!, now[0]!.box) < 0.5;
}

export interface FaceDetail {
  box: Box;
  score: number;
  /** Head pose from the face mesh, degrees. */
  yaw?: number;
  pitch?: number;
  /** Eye opening / eye width, both eyes averaged: drops during a blink. */
  eyeOpen?: number;
}

export interface StageTimings {
  decode: number;
  quality: number;
  /** Human's detect call (detector + mesh [+ antispoof + liveness]). */
  detect: number;
  /** The phone detector (screening and, on a candidate, confirming pass). */
  phones: number;
  /** A second detect pass for antispoof when the box jumped (rare). */
  spoof: number;
  landmarks: number;
  descriptor: number;
  total: number;
  /** Time inside model calls only (detect + phones + spoof + landmarks + descriptor). */
  model: number;
}

export interface FrameAnalysis {
  width: number;
  height: number;
  format: DecodedImage['format'];
  quality: QualityObservation;
  faces: FaceDetail[];
  /** 128-d descriptor of the main (largest) face, when identity ran. */
  descriptor?: number[];
  /** Human's antispoof ("real") and liveness ("live") of the main face, when spoof ran. */
  spoof?: { real: number; live: number };
  /** "cell phone" boxes, when phones ran. */
  phones?: { box: Box; score: number }[];
  ran: {
    identity: boolean;
    spoof: boolean;
    phones: boolean;
    /** False when the motion gate carried the previous faces forward instead of running the detector. */
    detector?: boolean;
    /** Phones were due but nothing moved since the last phone check: its result still holds. */
    phonesUnchanged?: boolean;
    /** Phones were needed and deferred (plan.deferPhones): a phones-only analysis of this frame follows. */
    phonesPending?: boolean;
    /** This is that phones-only analysis (plan.phonesOnly). */
    followUp?: boolean;
    /** A detection continued no face of plan.confirmed: a second detector pass, with the mesh, confirmed the faces. */
    meshConfirm?: boolean;
  };
  /** Detections the mesh rejected (or that continue ones it rejected); undefined where the mesh ran alone and dropped them unseen. */
  rejected?: Box[];
  /** Grey thumbnail of this frame (motion gate reference for the next frames of this client). */
  thumb?: Uint8Array;
  /** Motion score against the detector's reference thumbnail, when there was one. */
  motion?: number;
  timings: StageTimings;
}

export type AnalysisResult = { ok: true; analysis: FrameAnalysis } | { ok: false; code: 'corrupt_image' | 'unsupported_format' | 'internal'; message: string; ms: number };

export interface AnalyzerOptions {
  maxSide: number;
  /** Presence-only frames are shrunk by an integer factor towards this longest side before the detector (0 = never). */
  detectSide: number;
  quality: QualityThresholds;
  phoneMinScore: number;
  /**
   * Run the face mesh on every detection to confirm it: the detector alone reports weak faces (0.5–0.7) on
   * busy backgrounds while real webcam faces score 0.76–0.79, so an empty desk could pass for an occupied one
   * or a second "face" appear; with the mesh, real faces score 1.0 and those vanish (docs/models.md).
   */
  confirmFaces: boolean;
  /** Phone detector and its inputs (VISION_PHONE_*). */
  phones: PhoneModelOptions;
}

/**
 * The crop given to face-api's landmark net: the face mesh's extent padded by 10 %. Measured on
 * pairs.tsv (docs/models.md): Human's own box (mesh extent x1.4) gave AUC 0.998 and TAR 96.7 % at FAR 1 %,
 * the mesh extent +10 % gave AUC 0.9999 and TAR 100 %, +0 % and +20 % were worse.
 */
function meshBox(f: FaceResult): number[] {
  const xs = f.mesh.map((p) => p[0]!);
  const ys = f.mesh.map((p) => p[1]!);
  if (!xs.length) return f.box;
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const k = 0.1;
  const w = x1 - x0, h = y1 - y0;
  return [x0 - w * k, y0 - h * k, w * (1 + 2 * k), h * (1 + 2 * k)];
}

export function analyzerOptions(config: Config): AnalyzerOptions {
  return {
    maxSide: config.VISION_MAX_SIDE,
    detectSide: config.VISION_DETECT_SIDE,
    quality: { darkLuma: config.VISION_DARK_LUMA, brightLuma: config.VISION_BRIGHT_LUMA, blurVariance: config.VISION_BLUR_VARIANCE, blurRatio: config.VISION_BLUR_RATIO },
    phoneMinScore: config.VISION_PHONE_MIN_SCORE,
    confirmFaces: config.VISION_CONFIRM_FACES,
    phones: phoneModelOptions(config),
  };
}

/** k x k box average of an RGB image, straight into the int32 layout tfjs takes (into `into` when given and large enough). */
export function downsample(img: RgbValues, k: number, into?: Int32Array): { data: Int32Array; width: number; height: number } {
  const width = Math.floor(img.width / k);
  const height = Math.floor(img.height / k);
  const size = width * height * 3;
  const out = into && into.length >= size ? into.subarray(0, size) : new Int32Array(size);
  const src = img.data;
  const stride = img.width * 3;
  if (k === 2) {
    // The usual case for frames sharp decodes (PNG, WebP, EXIF-rotated JPEGs; plain JPEGs are decoded at half
    // size directly, image.ts decodeScaled), written out: 0.65 ms instead of 1.7–2 ms per 640x480 frame.
    let o = 0;
    for (let y = 0; y < height; y++) {
      let a = 2 * y * stride;
      let b = a + stride;
      for (let x = 0; x < width; x++, a += 6, b += 6) {
        out[o++] = (src[a]! + src[a + 3]! + src[b]! + src[b + 3]! + 2) >> 2;
        out[o++] = (src[a + 1]! + src[a + 4]! + src[b + 1]! + src[b + 4]! + 2) >> 2;
        out[o++] = (src[a + 2]! + src[a + 5]! + src[b + 2]! + src[b + 5]! + 2) >> 2;
      }
    }
    return { data: out, width, height };
  }
  const kk = k * k;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (let dy = 0; dy < k; dy++) {
        let i = (y * k + dy) * stride + x * k * 3;
        for (let dx = 0; dx < k; dx++, i += 3) {
          r += src[i]!;
          g += src[i + 1]!;
          b += src[i + 2]!;
        }
      }
      const o = (y * width + x) * 3;
      out[o] = Math.round(r / kk);
      out[o + 1] = Math.round(g / kk);
      out[o + 2] = Math.round(b / kk);
    }
  }
  return { data: out, width, height };
}

/**
 * A frame's pixels: its small image always, the full image once a stage needs it (identity, the mesh, phones).
 * Most frames (detector only, or no model at all behind the motion gate) never decode the full image.
 */
interface FramePixels {
  width: number;
  height: number;
  format: DecodedImage['format'];
  /**
   * The frame shrunk k times per side (k = downscaleFactor towards VISION_DETECT_SIDE; the frame itself when
   * k = 1): the detector's input on frames without identity or mesh, and what the quality and the motion gate
   * read — the same for every frame of a client, whichever way it was decoded.
   */
  small: RgbValues & { k: number };
  full?: DecodedImage;
}

/**
 * Whether an analysis under this plan reads the full frame whatever it finds (else it is decoded only if needed:
 * an empty desk has identity due on every frame, but behind the motion gate nothing runs on an unchanged one).
 */
const needsFullFrame = (plan: AnalysisPlan): boolean =>
  (plan.identityDue && (plan.motion?.lastFaces.length ?? 1) > 0) || plan.meshDue !== false || plan.phonesOnly !== undefined || (plan.phonesDue && !plan.deferPhones);

const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

/** Closes a frame's timings: total since t0, model = the time inside model calls, all to 0.01 ms. */
function finishTimings(timings: StageTimings, t0: number): StageTimings {
  timings.total = performance.now() - t0;
  timings.model = timings.detect + timings.phones + timings.spoof + timings.landmarks + timings.descriptor;
  for (const k of Object.keys(timings) as (keyof StageTimings)[]) timings[k] = round(timings[k], 2);
  return timings;
}
const roundBox = (b: readonly number[]): Box => [Math.round(b[0]!), Math.round(b[1]!), Math.round(b[2]!), Math.round(b[3]!)];

function eyeOpenness(face: FaceResult): number | undefined {
  const a = face.annotations;
  const ratio = (upper?: number[][], lower?: number[][]) => {
    if (!upper?.length || !lower?.length || lower.length < 9) return undefined;
    const width = Math.hypot(lower[8]![0]! - lower[0]![0]!, lower[8]![1]! - lower[0]![1]!);
    if (width <= 0) return undefined;
    const top = (upper[2]![1]! + upper[3]![1]! + upper[4]![1]!) / 3;
    const bottom = (lower[3]![1]! + lower[4]![1]! + lower[5]![1]!) / 3;
    return (bottom - top) / width;
  };
  const l = ratio(a?.leftEyeUpper0 as number[][] | undefined, a?.leftEyeLower0 as number[][] | undefined);
  const r = ratio(a?.rightEyeUpper0 as number[][] | undefined, a?.rightEyeLower0 as number[][] | undefined);
  if (l === undefined || r === undefined) return l ?? r;
  return (l + r) / 2;
}

/**
 * Analyses one frame with the loaded models: decode (EXIF upright, any of JPEG/PNG/WebP), quality,
 * faces on every frame, and — as the plan asks — descriptor + spoof of the main face and phones.
 * Runs inside a worker thread; every tensor it makes is disposed before it returns.
 */
export class FrameAnalyzer {
  constructor(
    private readonly models: VisionModels,
    private readonly options: AnalyzerOptions,
  ) {}

  private humanPass(spoof: boolean, mesh = true): Partial<HumanConfig> {
    return { face: { enabled: true, mesh: { enabled: mesh || spoof }, antispoof: { enabled: spoof }, liveness: { enabled: spoof } } } as Partial<HumanConfig>;
  }

  /** The last frame decoded here: a phones-only follow-up of the same frame (plan.phonesOnly) does not decode it again. */
  private lastDecoded?: { bytes: Buffer; frame: FramePixels };
  /** Quality and thumbnail of the last frame analysed: that follow-up does not measure them again either. */
  private lastMeasured?: { frame: FramePixels; quality: QualityObservation; thumb: Uint8Array };
  /**
   * One int32 pixel buffer reused for every tensor upload (tfjs copies the values into the wasm heap at once):
   * a fresh 3.7 MB array per 640x480 frame made the worker's garbage collector stall the next frames' decodes.
   */
  private pixelBuffer = new Int32Array(0);
  /** The small image of the last frame decoded at full size (its box average), reused likewise. */
  private smallBuffer = new Int32Array(0);

  private pixels(size: number): Int32Array {
    if (this.pixelBuffer.length < size) this.pixelBuffer = new Int32Array(size);
    return this.pixelBuffer.subarray(0, size);
  }

  /** The frame's small image, decoded at that size when nothing needs more (a plain JPEG, k of 2, 4 or 8). */
  private async decode(bytes: Buffer, fullNeeded: boolean): Promise<FramePixels> {
    const { maxSide, detectSide } = this.options;
    const scaled = fullNeeded ? undefined : decodeScaled(bytes, maxSide, detectSide);
    if (scaled) return { width: scaled.width, height: scaled.height, format: 'jpeg', small: { ...scaled.small, k: scaled.k } };
    const full = await decodeImage(bytes, maxSide);
    const k = downscaleFactor(full, detectSide);
    if (k === 1) return { width: full.width, height: full.height, format: full.format, full, small: { data: full.data, width: full.width, height: full.height, k } };
    const size = Math.floor(full.width / k) * Math.floor(full.height / k) * 3;
    if (this.smallBuffer.length < size) this.smallBuffer = new Int32Array(size);
    return { width: full.width, height: full.height, format: full.format, full, small: { ...downsample(full, k, this.smallBuffer), k } };
  }

  async analyze(bytes: Buffer, plan: AnalysisPlan): Promise<AnalysisResult> {
    const t0 = performance.now();
    let frame: FramePixels;
    try {
      const last = this.lastDecoded;
      frame = plan.phonesOnly && last?.bytes.equals(bytes) ? last.frame : await this.decode(bytes, needsFullFrame(plan));
      this.lastDecoded = { bytes, frame };
    } catch (err) {
      const ms = performance.now() - t0;
      if (err instanceof ImageError) return { ok: false, code: err.code, message: err.message, ms };
      return { ok: false, code: 'internal', message: (err as Error).message, ms };
    }
    try {
      return { ok: true, analysis: await this.analyzeFrame(frame, bytes, plan, performance.now() - t0, t0) };
    } catch (err) {
      return { ok: false, code: 'internal', message: (err as Error).message, ms: performance.now() - t0 };
    }
  }

  private async analyzeFrame(frame: FramePixels, bytes: Buffer, plan: AnalysisPlan, decodeMs: number, t0: number): Promise<FrameAnalysis> {
    const { human, tf } = this.models;
    const tq = performance.now();
    if (this.lastMeasured?.frame !== frame) {
      const luma = lumaGrid(frame.small);
      this.lastMeasured = { frame, quality: qualityOf(luma, this.options.quality), thumb: thumbnailOf(luma) };
    }
    const { quality, thumb } = this.lastMeasured;
    const qualityMs = performance.now() - tq;
    const gate = plan.motion;
    const moved = (ref?: Uint8Array, ignore?: ReturnType<typeof faceCells>) => !gate || !ref || motionScore(ref, thumb, ignore) > gate.threshold;
    const faceZone = gate?.phonesIgnoreFace && gate.lastFaces[0] ? faceCells(gate.lastFaces[0].box, frame.width, frame.height) : undefined;
    let runPhones = plan.phonesDue && (moved(gate?.phonesRef, faceZone) || facesChanged(gate?.phonesFaces, gate?.lastFaces ?? []));
    const motion = gate?.detectRef ? motionScore(gate.detectRef, thumb) : undefined;
    // Identity is due on every frame of an empty desk (the next face starts a track): with no face before
    // and nothing moved, there is still no face, so the gate may answer.
    const identityNeeded = plan.identityDue && gate !== undefined && gate.lastFaces.length > 0;
    if (gate && !identityNeeded && !runPhones && !moved(gate.detectRef)) {
      // Nothing moved since the detector last ran: its faces still hold; no tensor, no model call.
      const timings = finishTimings({ decode: decodeMs, quality: qualityMs, detect: 0, phones: 0, spoof: 0, landmarks: 0, descriptor: 0, total: 0, model: 0 }, t0);
      return {
        width: frame.width,
        height: frame.height,
        format: frame.format,
        quality,
        faces: gate.lastFaces,
        ran: { identity: false, spoof: false, phones: false, detector: false, phonesUnchanged: plan.phonesDue },
        thumb,
        motion,
        timings,
      };
    }

    const timings: StageTimings = { decode: decodeMs, quality: qualityMs, detect: 0, phones: 0, spoof: 0, landmarks: 0, descriptor: 0, total: 0, model: 0 };
    // Full-size tensors, made when a stage needs them (identity, spoof, mesh, phones); the full frame is decoded
    // then if it was not (a box jump on a detector-only frame, a phones follow-up of one).
    const made: Tensor[] = [];
    let full: { t3: Tensor3D; t4: Tensor4D } | undefined;
    const fullTensors = async () => {
      if (!full) {
        if (!frame.full) {
          const td = performance.now();
          frame.full = await decodeImage(bytes, this.options.maxSide);
          timings.decode += performance.now() - td;
        }
        const img = frame.full;
        const px = this.pixels(img.data.length);
        px.set(img.data);
        const t3 = tf.tensor3d(px, [img.height, img.width, 3], 'int32');
        full = { t3, t4: tf.expandDims(t3, 0) as Tensor4D };
        made.push(full.t3, full.t4);
      }
      return full;
    };
    // Frames without identity or mesh: blazeface sees 256 px anyway, so it gets the k-times smaller image
    // (cheaper to upload and resize); boxes are scaled back. A box jump found there re-runs on the full image.
    // A phone detector input no larger than that image (one pass at 320x256) gets the same small image (a
    // bilinear resize of the full frame would alias), and no full tensor is made.
    const kSmall = frame.small.k;
    const k = !plan.identityDue && plan.meshDue === false ? kSmall : 1;
    let small: Tensor4D | undefined;
    const smallTensor = () => {
      if (!small) {
        const s = frame.small;
        let values = s.data;
        if (!(values instanceof Int32Array)) {
          const px = this.pixels(s.width * s.height * 3);
          px.set(values);
          values = px;
        }
        small = tf.tensor4d(values as Int32Array, [1, s.height, s.width, 3], 'int32');
        made.push(small);
      }
      return small;
    };
    const scaleBox = (b: readonly number[]): Box => roundBox(k > 1 ? b.map((v) => v * k) : b);
    const { inputWidth: phoneW, inputHeight: phoneH } = this.models.phones;
    // The phone detector reads the small image when it is about its largest input size (e.g. one pass at
    // 320x256); else the full frame.
    const phoneInput = async () => (kSmall > 1 && frame.small.width >= phoneW * 0.9 && frame.small.height >= phoneH * 0.9 ? { t: smallTensor(), k: kSmall } : { t: (await fullTensors()).t4, k: 1 });
    const detectPhones = async () => {
      const tp = performance.now();
      const { t, k: pk } = await phoneInput();
      const found = await this.models.phones.detect(t, this.options.phoneMinScore);
      timings.phones += performance.now() - tp;
      return found.map((p) => ({ box: roundBox(p.box.map((v) => v * pk)), score: p.score }));
    };
    try {
      if (plan.phonesOnly) {
        const phones = await detectPhones();
        finishTimings(timings, t0);
        return { width: frame.width, height: frame.height, format: frame.format, quality, faces: plan.phonesOnly.faces, phones, ran: { identity: false, spoof: false, phones: true, detector: false, followUp: true }, thumb, timings };
      }
      const detectInput: Tensor4D = k > 1 ? smallTensor() : (await fullTensors()).t4;
      const spoofPlanned = plan.identityDue;
      let td = performance.now();
      const mesh = plan.meshDue ?? true;
      const detectFaces = async (withMesh: boolean) => {
        const result = await human.detect(detectInput, this.humanPass(spoofPlanned, withMesh));
        if (result.error) throw new Error(`human: ${result.error}`);
        return [...result.face].sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3]);
      };
      let faces: FaceResult[];
      /** Faces that keep the mesh's earlier confirmation, with its score. */
      const carried = new Map<FaceResult, number>();
      let rejected: Box[] | undefined;
      let meshConfirm = false;
      if (this.options.confirmFaces && !mesh && !spoofPlanned && plan.confirmed) {
        const found = await detectFaces(false);
        const boxes = found.map((f) => scaleBox(f.box));
        const verdicts = carryVerdicts(boxes, plan.confirmed);
        if (verdicts) {
          faces = found.filter((f, i) => {
            const v = verdicts[i]!;
            if (v.face) carried.set(f, Math.max(f.score, v.score));
            return v.face;
          });
          rejected = boxes.filter((_, i) => !verdicts[i]!.face);
        } else {
          faces = await detectFaces(true);
          rejected = rejectedBy(boxes, faces.map((f) => scaleBox(f.box)));
          meshConfirm = true;
        }
        rejected = rememberRejected(rejected, boxes, plan.confirmed.rejected);
      } else {
        // The mesh also confirms each detection (Human keeps a face only if the mesh finds one in its box).
        faces = await detectFaces(mesh || this.options.confirmFaces);
      }
      timings.detect = performance.now() - td;
      // The faces changed on this very frame (a phone held up hides or moves the face): check phones now.
      if (plan.phonesDue && !runPhones && facesChanged(gate?.phonesFaces, faces.map((f) => ({ box: scaleBox(f.box) })))) runPhones = true;
      const phonesPending = runPhones && plan.deferPhones === true;
      if (phonesPending) runPhones = false;
      const phones = runPhones ? await detectPhones() : undefined;
      // Without the mesh, Human's pose and eye points come from the detector's 6 keypoints: not readings.
      const meshRan = mesh || spoofPlanned;
      const details: FaceDetail[] = faces.map((f) => ({
        box: scaleBox(f.box),
        score: round(carried.get(f) ?? f.score, 3),
        yaw: meshRan && f.rotation ? round((f.rotation.angle.yaw * 180) / Math.PI) : undefined,
        pitch: meshRan && f.rotation ? round((f.rotation.angle.pitch * 180) / Math.PI) : undefined,
        eyeOpen: (() => {
          const e = meshRan ? eyeOpenness(f) : undefined;
          return e === undefined ? undefined : round(e, 3);
        })(),
      }));
      const main = faces[0];
      const identityRuns = !!main && (plan.identityDue || boxJumped(plan.lastBox, details[0]!.box, plan.jumpIou));
      const analysis: FrameAnalysis = {
        width: frame.width,
        height: frame.height,
        format: frame.format,
        quality,
        faces: details,
        ran: { identity: false, spoof: false, phones: runPhones, detector: true, phonesUnchanged: plan.phonesDue && !runPhones && !phonesPending, ...(phonesPending ? { phonesPending } : {}), ...(meshConfirm ? { meshConfirm } : {}) },
        ...(rejected ? { rejected } : {}),
        thumb,
        motion,
        timings,
      };
      if (phones) analysis.phones = phones;
      identity: if (main && identityRuns) {
        let spoofFace = main;
        let meshFace = main;
        if (!spoofPlanned) {
          // The box jumped: a new face may have arrived, so spoof is checked again (second, rarer pass).
          const fullInput = (await fullTensors()).t4;
          td = performance.now();
          const again = await human.detect(fullInput, this.humanPass(true));
          timings.spoof = performance.now() - td;
          const fullMain = [...again.face].sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3])[0];
          // Boxes of the small image are not full-image boxes: without a face on the full image, no crop.
          if (!fullMain && k > 1) break identity;
          spoofFace = fullMain ?? main;
          // The first pass may have run without the mesh (or on the small image); the descriptor's crop needs it.
          if (!mesh || k > 1) meshFace = spoofFace;
        }
        if (typeof spoofFace.real === 'number') {
          analysis.spoof = { real: round(spoofFace.real, 3), live: round(spoofFace.live ?? 0, 3) };
          analysis.ran.spoof = true;
        }
        const d = await this.describe((await fullTensors()).t3, meshBox(meshFace));
        timings.landmarks = d.landmarksMs;
        timings.descriptor = d.descriptorMs;
        if (d.descriptor) {
          analysis.descriptor = d.descriptor;
          analysis.ran.identity = true;
        }
      }
      finishTimings(timings, t0);
      return analysis;
    } finally {
      tf.dispose(made);
    }
  }

  /**
   * face-api's recognition net on a face aligned with its 68-point landmarks, as face-api's own
   * pipeline does: crop around the detector's box, find landmarks, crop the aligned box, describe.
   */
  async describe(image: Tensor3D, box: readonly number[]): Promise<{ descriptor?: number[]; landmarksMs: number; descriptorMs: number }> {
    const { faceapi, tf } = this.models;
    const [h, w] = [image.shape[0], image.shape[1]];
    const x = Math.max(0, box[0]!);
    const y = Math.max(0, box[1]!);
    const bw = Math.min(w - x, box[2]!);
    const bh = Math.min(h - y, box[3]!);
    if (bw < 16 || bh < 16) return { landmarksMs: 0, descriptorMs: 0 };
    const t0 = performance.now();
    const [crop] = await faceapi.extractFaceTensors(image as never, [new faceapi.Rect(x, y, bw, bh)]);
    let landmarks;
    try {
      landmarks = (await faceapi.nets.faceLandmark68Net.detectLandmarks(crop!)) as InstanceType<typeof faceapi.FaceLandmarks68>;
    } finally {
      tf.dispose(crop as never);
    }
    const shifted = landmarks.shiftBy<InstanceType<typeof faceapi.FaceLandmarks68>>(x, y);
    const aligned = shifted.align(null, { useDlibAlignment: false });
    const t1 = performance.now();
    const ax = Math.max(0, aligned.x);
    const ay = Math.max(0, aligned.y);
    const rect = new faceapi.Rect(ax, ay, Math.min(w - ax, aligned.width), Math.min(h - ay, aligned.height));
    const [face] = await faceapi.extractFaceTensors(image as never, [rect]);
    try {
      const descriptor = (await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(face!)) as Float32Array;
      return { descriptor: Array.from(descriptor, (v) => Math.round(v * 1e6) / 1e6), landmarksMs: t1 - t0, descriptorMs: performance.now() - t1 };
    } finally {
      tf.dispose(face as never);
    }
  }
}
