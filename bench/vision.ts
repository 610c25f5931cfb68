/**
 * Vision figures, on the same frames in one run (frames of ../shared/data/sequence, 640 px wide):
 * per-stage ms of the pipeline beside the raw model time; frames/s of the pool with 1 and 2 workers;
 * the adaptive schedule beside every-model-on-every-frame; desks per core at 1 fps with identity
 * re-verified within 5 s and phones within 3 s (model runs per desk-second counted by the pool, for a
 * static and a moving desk, priced with the stage costs); RSS with 2 workers (under tsx, and compiled
 * in a child process as `vigil serve` runs).
 * BENCH_VISION_WINDOW_MS sets each throughput window (default 12 s); BENCH_VISION_PASSES the per-stage passes (default 4); BENCH_VISION_CANDIDATES=0 skips
 * the candidate tables; BENCH_VISION_COMPILED=0 skips the compiled RSS run (it compiles src/ with tsc).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import type { Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import { loadConfig, type Config } from '../src/config/index.js';
import { RedisServerProcess } from '../src/redis/embedded.js';
import { createConnection } from '../src/redis/connections.js';
import { createKeys } from '../src/redis/keys.js';
import { ClientRegistry } from '../src/clients/registry.js';
import { createLogger } from '../src/log.js';
import { projectRoot } from '../src/paths.js';
import { createLocalAnalyzer } from '../src/vision/local.js';
import { decodeImage, downscaleFactor, type DecodedImage } from '../src/vision/image.js';
import { downsample, type AnalysisPlan, type FrameAnalysis } from '../src/vision/analyzer.js';
import { startVisionPool, type VisionPoolStats } from '../src/vision/pool.js';
import type { Observation } from '../src/domain/observation.js';
import { percentile, table } from './stats.js';
import { phoneCandidates } from './phones.js';
import { vigilNodeFlags } from './nodeFlags.js';
import { parsePairs, verificationReport, type ScoredPair } from '../src/vision/metrics.js';
import { emptyHistory, euclidean, livenessCues } from '../src/vision/evidence.js';

const WINDOW_MS = Number(process.env.BENCH_VISION_WINDOW_MS ?? 12_000);
const WARMUP_MS = 3_000;
/** Pipeline and raw passes over the sample frames in the per-stage table (alternating): BENCH_VISION_PASSES, default 4. */
const STAGE_PASSES = Number(process.env.BENCH_VISION_PASSES ?? 4);
const DATA = join(projectRoot, '..', 'shared', 'data');

async function benchFrames(dir: string): Promise<Buffer[]> {
  const video = join(DATA, 'sequence', 'proctoring_ai', 'center_left_center.mp4');
  if (existsSync(video)) {
    try {
      execFileSync('ffmpeg', ['-loglevel', 'error', '-i', video, '-vf', 'fps=2,scale=-2:480,pad=640:480:(ow-iw)/2:0', '-q:v', '4', join(dir, 'f%03d.jpg')]);
      const files = (await readdir(dir)).filter((f) => f.endsWith('.jpg')).sort();
      if (files.length >= 10) return Promise.all(files.map((f) => readFile(join(dir, f))));
    } catch {
      // No ffmpeg: fall back to still photos below.
    }
  }
  const stills = ['img1.jpg', 'img2.jpg', 'img4.jpg', 'img5.jpg', 'img6.jpg', 'img7.jpg', 'img10.jpg', 'img11.jpg'];
  return Promise.all(stills.map((f) => sharp(join(DATA, 'face', 'deepface', f)).rotate().resize(640, 480, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer()));
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 0.5);
const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');

export interface StageCosts {
  /** Per-frame pipeline ms by schedule: mean and median (under the machine's load); the raw model calls' median. */
  mean: Record<StageRow, number>;
  median: Record<StageRow, number>;
  rawMedian: Record<StageRow, number>;
}
type StageRow = 'gated' | 'tracked' | 'detector' | 'mesh' | 'identity' | 'phones' | 'followUp' | 'all';

async function stageTable(config: Config, frames: Buffer[]): Promise<StageCosts> {
  const confirm = config.VISION_PHONE_CONFIRM_INPUT;
  const phoneName = `${config.VISION_PHONE_MODEL === 'yolov5s' ? 'YOLOv5s' : 'centernet'} ${config.VISION_PHONE_INPUT.join('x')}${confirm ? ` (confirm ${confirm.join('x')})` : ''}`;
  const local = await createLocalAnalyzer(config);
  const { analyzer, models } = local;
  const { human, tf } = models;
  const sample = frames.slice(0, 10);
  const plans: Record<StageRow, AnalysisPlan> = {
    gated: { identityDue: false, phonesDue: false, jumpIou: 0.3, meshDue: false },
    tracked: { identityDue: false, phonesDue: false, jumpIou: 0.3, meshDue: false },
    detector: { identityDue: false, phonesDue: false, jumpIou: 0.3, meshDue: false },
    mesh: { identityDue: false, phonesDue: false, jumpIou: 0.3, meshDue: true },
    identity: { identityDue: true, phonesDue: false, jumpIou: 0.3, meshDue: false },
    phones: { identityDue: false, phonesDue: true, jumpIou: 0.3, meshDue: false },
    all: { identityDue: true, phonesDue: true, jumpIou: 0.3, meshDue: true },
    // Right after `all` on the same frame, as the pool runs a deferred phone check (VISION_PHONES_FOLLOW_UP).
    followUp: { identityDue: false, phonesDue: true, jumpIou: 0.3, phonesOnly: { faces: [] } },
  };
  const labels: Record<StageRow, string> = {
    gated: 'motion gate: frame unchanged, no model (static desk)',
    tracked: 'detector only, half size, faces continue confirmed ones (adaptive: most moving frames)',
    detector: 'detector + mesh confirming new faces, half size (before: every detector frame)',
    mesh: 'detector + mesh (burst frames; before: every frame)',
    identity: '+ identity + spoof (mesh always on here)',
    phones: `+ phones (detector without mesh, half size + ${phoneName})`,
    all: 'every model',
    followUp: `phones follow-up of the same frame (phones only: ${phoneName})`,
  };
  // Warm-up: the first wasm calls compile kernels, and each input size (full, half) has its own.
  for (const f of sample.slice(0, 3)) for (const plan of Object.values(plans)) await analyzer.analyze(f, plan);
  const rows: string[][] = [];
  const out: StageCosts = { mean: {} as Record<StageRow, number>, median: {} as Record<StageRow, number>, rawMedian: {} as Record<StageRow, number> };
  const rowNames = Object.keys(plans) as StageRow[];
  const pipes = new Map(rowNames.map((row) => [row, { decode: [], quality: [], detect: [], phones: [], landmarks: [], descriptor: [], total: [], model: [] } as Record<string, number[]>]));
  const raws = new Map(rowNames.map((row) => [row, [] as number[]]));
  // What a static desk's next frame is compared with (the gate's reference: this very frame's thumbnail) and
  // what a moving desk's next frame continues (the mesh's verdicts on it); and the raw side's decoded frames.
  const prepared: { frame: Buffer; first: FrameAnalysis; img: DecodedImage }[] = [];
  for (const frame of sample) {
    const first = await analyzer.analyze(frame, plans.detector);
    if (!first.ok || !first.analysis.thumb) throw new Error('bench frame failed');
    prepared.push({ frame, first: first.analysis, img: await decodeImage(frame, config.VISION_MAX_SIDE) });
  }
  const planFor = (row: StageRow, first: FrameAnalysis): AnalysisPlan => {
    if (row === 'gated') return { ...plans.gated, motion: { threshold: config.VISION_MOTION_THRESHOLD, detectRef: first.thumb, lastFaces: first.faces } };
    if (row === 'tracked') return { ...plans.tracked, confirmed: { faces: first.faces, rejected: first.rejected ?? [] } };
    return plans[row];
  };
  // Pipeline and raw run in separate passes (each twice, alternating), rows interleaved frame by frame within a
  // pass (the machine's load drifts, and must not favour one row). Separate passes, so that each pays for the
  // garbage it makes: interleaved, the collection work the raw calls left ran in the pipeline's next wait.
  let fullPixels = new Int32Array(0);
  for (let pass = 0; pass < STAGE_PASSES; pass++) {
    for (const { frame, first } of prepared) {
      for (const row of rowNames) {
        const r = await analyzer.analyze(frame, planFor(row, first));
        if (!r.ok) throw new Error(`bench frame failed: ${r.message}`);
        if (row === 'gated' && r.analysis.ran.detector !== false) throw new Error('the motion gate did not recognise an unchanged frame');
        if (row === 'tracked' && (r.analysis.ran.meshConfirm || r.analysis.faces.length === 0)) throw new Error('a face that continues a confirmed one ran the mesh, or vanished');
        const pipe = pipes.get(row)!;
        for (const k of Object.keys(pipe)) pipe[k]!.push(r.analysis.timings[k as keyof typeof r.analysis.timings] ?? 0);
      }
    }
    // Raw: the same model calls on ready tensors, nothing else (inputs made from reused buffers, without a wait).
    for (const { img } of prepared) {
      if (fullPixels.length < img.data.length) fullPixels = new Int32Array(img.data.length);
      const px = fullPixels.subarray(0, img.data.length);
      px.set(img.data);
      const t3 = tf.tensor3d(px, [img.height, img.width, 3], 'int32') as Tensor3D;
      // The pipeline hands frames without identity or mesh to the detector shrunk (VISION_DETECT_SIDE), and the
      // phone detector always gets the shrunk frame: so does raw.
      const kSmall = downscaleFactor(img, config.VISION_DETECT_SIDE);
      const small = kSmall > 1 ? downsample(img, kSmall) : undefined;
      const fullT4 = tf.expandDims(t3, 0) as Tensor4D;
      const smallT4 = small ? (tf.tensor4d(small.data, [1, small.height, small.width, 3], 'int32') as Tensor4D) : fullT4;
      for (const row of rowNames) {
        if (row === 'gated') continue;
        const plan = plans[row];
        const mesh = plan.meshDue !== false || plan.identityDue;
        const t4 = mesh ? fullT4 : smallT4;
        const t0 = performance.now();
        // The mesh also runs where it only confirms the detector's new faces (VISION_CONFIRM_FACES), as in the pipeline.
        const confirming = config.VISION_CONFIRM_FACES && row !== 'tracked';
        const res = plan.phonesOnly ? undefined : await human.detect(t4, { face: { enabled: true, mesh: { enabled: mesh || confirming }, antispoof: { enabled: plan.identityDue }, liveness: { enabled: plan.identityDue } }, object: { enabled: false } } as never);
        // As the analyser: the phone detector reads the half-size frame when that is about its input size.
        const phonesSmall = small !== undefined && small.width >= models.phones.inputWidth * 0.9 && small.height >= models.phones.inputHeight * 0.9;
        if (plan.phonesDue) await models.phones.detect(phonesSmall ? smallT4 : fullT4, config.VISION_PHONE_MIN_SCORE);
        const face = res?.face[0];
        if (plan.identityDue && face) {
          const xs = face.mesh.map((p) => p[0]!);
          const ys = face.mesh.map((p) => p[1]!);
          const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
          await analyzer.describe(t3, [x0 - (x1 - x0) * 0.1, y0 - (y1 - y0) * 0.1, (x1 - x0) * 1.2, (y1 - y0) * 1.2]);
        }
        raws.get(row)!.push(performance.now() - t0);
      }
      tf.dispose([t3, fullT4, smallT4]);
    }
  }
  for (const row of rowNames) {
    const pipe = pipes.get(row)!;
    const raw = raws.get(row)!;
    const total = mean(pipe.total!);
    const rawMean = mean(raw);
    const min = Math.min(...pipe.total!);
    // Medians beside the means: on this shared machine one model call in twenty can take 1.5x its time, on
    // either side, and a mean ratio then says more about those outliers than about the pipeline.
    const ratioOfMedians = raw.length ? (median(pipe.total!) / median(raw)).toFixed(2) : '-';
    rows.push([labels[row], f1(mean(pipe.decode!)), f1(mean(pipe.quality!)), f1(mean(pipe.detect!)), f1(mean(pipe.phones!)), f1(mean(pipe.landmarks!)), f1(mean(pipe.descriptor!)), f1(total), f1(min), raw.length ? f1(rawMean) : '0', raw.length ? (total / rawMean).toFixed(2) : '-', ratioOfMedians]);
    out.mean[row] = total;
    out.median[row] = median(pipe.total!);
    out.rawMedian[row] = raw.length ? median(raw) : 0;
  }
  console.log(`\n## vision: per-stage ms, VISION_PHONE_MODEL=${config.VISION_PHONE_MODEL} (${phoneName}), one thread, mean of ${sample.length} frames x ${STAGE_PASSES}, rows interleaved (${frames.length > 8 ? 'video frames' : 'photos'} at 640 px); raw = the same model calls on a ready tensor; load avg ${loadavg()[0]!.toFixed(1)}`);
  table(['schedule', 'decode', 'quality+thumb', 'detect', 'phones', 'landmarks', 'descriptor', 'pipeline/frame', 'min pipeline', 'raw models', 'pipeline/raw (means)', 'pipeline/raw (medians)'], rows);
  return out;
}

/** Scores the candidates behind the choices in docs/models.md on ../shared/data, with the same loaded models. */
async function candidatesTables(config: Config, frames: Buffer[]): Promise<void> {
  const local = await createLocalAnalyzer(config);
  const { analyzer, models } = local;
  const { human, tf } = models;
  const pairs = parsePairs(await readFile(join(DATA, 'pairs.tsv'), 'utf8'));
  const files = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
  type Variant = 'human box' | 'mesh +0 %' | 'mesh +10 % (chosen)' | 'mesh +20 %';
  const variants: Variant[] = ['human box', 'mesh +0 %', 'mesh +10 % (chosen)', 'mesh +20 %'];
  const desc = new Map<Variant, Map<string, number[]>>(variants.map((v) => [v, new Map()]));
  const ms = new Map<Variant, number[]>(variants.map((v) => [v, []]));
  for (const file of files) {
    const img = await decodeImage(await readFile(join(DATA, file)), config.VISION_MAX_SIDE);
    const t3 = tf.tensor3d(new Int32Array(img.data), [img.height, img.width, 3], 'int32') as Tensor3D;
    const t4 = tf.expandDims(t3, 0) as Tensor4D;
    const res = await human.detect(t4, { face: { enabled: true, mesh: { enabled: true }, antispoof: { enabled: false }, liveness: { enabled: false } }, object: { enabled: false } } as never);
    const face = [...res.face].sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3])[0];
    if (face) {
      const xs = face.mesh.map((p) => p[0]!);
      const ys = face.mesh.map((p) => p[1]!);
      const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
      const pad = (k: number) => [x0 - (x1 - x0) * k, y0 - (y1 - y0) * k, (x1 - x0) * (1 + 2 * k), (y1 - y0) * (1 + 2 * k)];
      const boxes: Record<Variant, number[]> = { 'human box': [...face.box], 'mesh +0 %': pad(0), 'mesh +10 % (chosen)': pad(0.1), 'mesh +20 %': pad(0.2) };
      for (const v of variants) {
        const t0 = performance.now();
        const d = await analyzer.describe(t3, boxes[v]);
        ms.get(v)!.push(performance.now() - t0);
        if (d.descriptor) desc.get(v)!.set(file, d.descriptor);
      }
    }
    tf.dispose([t3, t4]);
  }
  const rows = variants.map((v) => {
    const m = desc.get(v)!;
    const scored: ScoredPair[] = pairs.filter((p) => m.has(p.a) && m.has(p.b)).map((p) => ({ distance: euclidean(m.get(p.a)!, m.get(p.b)!), same: p.label === 'same' }));
    const r = verificationReport(scored, config.VISION_MATCH_DISTANCE, pairs.length - scored.length);
    const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
    return [`face-api 128-d on ${v}`, String(scored.length), pct(r.tarAtFar1.tar), pct(r.tarAtFar01.tar), `${pct(r.eer.rate)} @ ${r.eer.threshold}`, r.auc.toFixed(4), `${pct(r.atThreshold.tar)} / ${pct(r.atThreshold.far)}`, f1(mean(ms.get(v)!))];
  });
  console.log(`\n## vision: identity candidates on pairs.tsv (${pairs.length} pairs), shipped threshold ${config.VISION_MATCH_DISTANCE}`);
  table(['descriptor and crop', 'pairs scored', 'TAR @ FAR 1 %', 'TAR @ FAR 0.1 %', 'EER @ threshold', 'AUC', 'TAR / FAR at shipped', 'ms per face'], rows);

  // Spoof: Human's single-frame scores on the labelled stills, and mesh cues over the live video.
  const spoofRows: string[][] = [];
  for (const [file, label] of [['image_T1.jpg', 'real'], ['image_F1.jpg', 'fake (print)'], ['image_F2.jpg', 'fake (replay)']] as const) {
    const r = await local.describe(await readFile(join(DATA, 'spoof', 'silentface', file)));
    spoofRows.push([file, label, r.ok && r.analysis.spoof ? r.analysis.spoof.real.toFixed(2) : '-', r.ok && r.analysis.spoof ? r.analysis.spoof.live.toFixed(2) : '-']);
  }
  console.log('\n## vision: spoof, single frame (Human antispoof "real" and liveness "live"; 1 real and 2 fake stills only)');
  table(['image', 'label', 'real', 'live'], spoofRows);

  // Liveness over time: bursts of 5 consecutive video frames (a live person) against 5 copies of a
  // still photo shifted by a few pixels (a stand-in for a printed photo held in front of the camera).
  const burstCues = async (burst: Buffer[]) => {
    let h = emptyHistory();
    for (const f of burst) {
      const r = await analyzer.analyze(f, { identityDue: false, phonesDue: false, jumpIou: 0.3 });
      const face = r.ok ? r.analysis.faces[0] : undefined;
      if (face?.eyeOpen !== undefined) h = { ...h, eyeOpen: [...h.eyeOpen, face.eyeOpen] };
      if (face?.yaw !== undefined) h = { ...h, yaw: [...h.yaw, face.yaw] };
    }
    return livenessCues(h);
  };
  const liveBursts = Array.from({ length: Math.floor(frames.length / 5) }, (_, i) => frames.slice(i * 5, i * 5 + 5));
  const still = await readFile(join(DATA, 'spoof', 'silentface', 'image_F1.jpg'));
  const stillBurst = await Promise.all([0, 2, 4, 2, 0].map((dx) => sharp(still).rotate().extend({ left: dx, right: 4 - dx, top: 0, bottom: 0, background: '#000' }).jpeg().toBuffer()));
  const live = await Promise.all(liveBursts.map(burstCues));
  const fake = await burstCues(stillBurst);
  console.log('\n## vision: liveness cues over a 5-frame burst (face mesh: blink = eye opening dips and recovers, head motion = yaw span > 12 deg)');
  table(['burst', 'bursts', 'with blink', 'with head motion', 'with either'], [
    ['live video (centre-left-centre)', String(live.length), String(live.filter((c) => c.blink).length), String(live.filter((c) => c.headMotion).length), String(live.filter((c) => c.blink || c.headMotion).length)],
    ['printed photo, shifted copies', '1', String(Number(fake.blink)), String(Number(fake.headMotion)), String(Number(fake.blink || fake.headMotion))],
  ]);

  // Phones: the detector candidates (bench/phones.ts) on samples.jpg, a phone held up to the camera, and
  // images without a phone (portraits, frames of the webcam video).
  const noPhone = await Promise.all(['img1.jpg', 'img2.jpg', 'img8.jpg', 'img16.jpg', 'img20.jpg', 'img24.jpg', 'img29.jpg', 'img38.jpg'].map((f) => readFile(join(DATA, 'face', 'deepface', f))));
  await phoneCandidates(models, DATA, [...frames, ...noPhone, await readFile(join(DATA, 'spoof', 'silentface', 'image_T1.jpg')), await readFile(join(DATA, 'spoof', 'silentface', 'image_F1.jpg'))], config.VISION_PHONE_MIN_SCORE, config.VISION_PHONE_SCREEN_SCORE);
}

interface RunResult {
  fps: number;
  observations: { clientId: string; t: number; stages?: Observation['stages'] }[];
  stats: VisionPoolStats;
  rssMb: number;
  offeredFps: number;
  windowS: number;
  desks: number;
  /** 1-minute load average at the end of the window: other processes competing for the cores. */
  load: number;
}

type Settings = Partial<Record<keyof Config, unknown>>;
/** Every model on every frame, no gate: the baseline the adaptive schedule is compared with. */
/** The phone detector that is not the default, compared in the same run (docs/models.md, "Phones"). */
const ALT: Settings = { VISION_PHONE_MODEL: 'yolov5s' };
const ALT_NAME = 'VISION_PHONE_MODEL=yolov5s';
/** The mesh confirms every detection, also faces that continue confirmed ones (the behaviour before src/vision/confirm.ts). */
const CONFIRM_EVERY: Settings = { VISION_CONFIRM_EVERY_FRAME: true };
const CONFIRM_EVERY_NAME = 'VISION_CONFIRM_EVERY_FRAME=true';
const EVERY: Settings = { VISION_IDENTITY_INTERVAL_MS: 0, VISION_PHONE_INTERVAL_MS: 0, VISION_MOTION_THRESHOLD: 0, VISION_MESH_EVERY_FRAME: true };

/** The pool on a private redis-server: `clients` desks each sending `fps` new frames per second. */
async function poolRun(server: RedisServerProcess, frames: Buffer[], o: { workers: number; settings?: Settings; clients: number; fps: number; windowMs: number }): Promise<RunResult> {
  const config = loadConfig({}, {
    NAMESPACE: `bench${Math.random().toString(36).slice(2, 8)}`,
    LOG_LEVEL: 'silent',
    DATA_DIR: join(tmpdir(), 'vigil-bench-empty'),
    VISION_WORKERS: o.workers,
    VISION_BURST_FRAMES: 0,
    ...o.settings,
  });
  const redis = createConnection(config, server.url, 'normal');
  await redis.connect();
  const keys = createKeys(config.NAMESPACE);
  const registry = new ClientRegistry(redis, keys);
  const observations: RunResult['observations'] = [];
  const pool = await startVisionPool({ config, log: createLogger('silent'), redis, keys, onObservation: (obs) => void observations.push({ clientId: obs.clientId, t: Date.now(), stages: obs.stages }), requestBurst: () => undefined });
  const ids = Array.from({ length: o.clients }, (_, i) => `desk${String(i).padStart(3, '0')}`);
  let tick = 0;
  let stored = 0;
  const start = Date.now();
  // Each desk sends the next frame `fps` times per second, desks spread over the period.
  const periodMs = 1_000 / o.fps;
  const timer = setInterval(() => {
    tick++;
    const slot = tick % 10;
    ids.forEach((id, i) => {
      if (i % 10 !== slot) return;
      const n = Math.floor((Date.now() - start) / periodMs) + i * 7;
      stored++;
      void registry.storeFrame(id, frames[n % frames.length]!, 'jpeg');
    });
  }, periodMs / 10);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const statsAtWarmup = pool.stats();
  await new Promise((r) => setTimeout(r, o.windowMs));
  clearInterval(timer);
  const rssMb = process.memoryUsage().rss / 1e6;
  const end = pool.stats();
  await pool.stop();
  redis.disconnect();
  const stats: VisionPoolStats = {
    ...end,
    analysed: end.analysed - statsAtWarmup.analysed,
    stages: Object.fromEntries(Object.entries(end.stages).map(([k, v]) => [k, v - statsAtWarmup.stages[k as keyof VisionPoolStats['stages']]])) as VisionPoolStats['stages'],
  };
  const inWindow = observations.filter((x) => x.t >= start + WARMUP_MS);
  // A phone check deferred by a frame's analysis comes as a second observation of that frame: not a frame.
  return { fps: inWindow.filter((x) => !x.stages?.followUp).length / (o.windowMs / 1_000), observations: inWindow, stats, rssMb, offeredFps: stored / ((Date.now() - start) / 1_000), windowS: o.windowMs / 1_000, desks: o.clients, load: loadavg()[0]! };
}

/** Two runs of the same settings as one: mean frames/s and stage counts, the larger RSS. */
function bothRuns(a: RunResult, b: RunResult): RunResult {
  const meanCount = (k: keyof VisionPoolStats['stages']) => Math.round((a.stats.stages[k] + b.stats.stages[k]) / 2);
  const stages = Object.fromEntries(Object.keys(a.stats.stages).map((k) => [k, meanCount(k as keyof VisionPoolStats['stages'])])) as VisionPoolStats['stages'];
  return { ...a, fps: (a.fps + b.fps) / 2, offeredFps: (a.offeredFps + b.offeredFps) / 2, stats: { ...a.stats, stages }, rssMb: Math.max(a.rssMb, b.rssMb), load: (a.load + b.load) / 2, observations: [...a.observations, ...b.observations] };
}

/** Longest time a desk went without an identity check (or a phone check: run, or due on an unchanged frame) inside the window, seconds. */
function maxGap(obs: RunResult['observations'], stage: 'identity' | 'phones' | 'phoneModel'): number {
  if (!obs.length) return Infinity;
  const start = Math.min(...obs.map((x) => x.t));
  const end = Math.max(...obs.map((x) => x.t));
  const desks = new Set(obs.map((x) => x.clientId));
  const hit = (s: Observation['stages']) => (stage === 'identity' ? s?.identity : stage === 'phoneModel' ? s?.phones : s?.phones || s?.phonesUnchanged);
  let gap = 0;
  for (const desk of desks) {
    const ts = [start, ...obs.filter((x) => x.clientId === desk && hit(x.stages)).map((x) => x.t), end];
    // The window's first check may have happened just before it; count from the first one seen.
    for (let i = 2; i < ts.length; i++) gap = Math.max(gap, ts[i]! - ts[i - 1]!);
    if (ts.length === 2) gap = Math.max(gap, end - start);
  }
  return gap / 1_000;
}

/** A static desk: one video frame with fresh sensor noise (sigma ~3 grey levels) in every JPEG, as a still webcam delivers. */
async function staticFeed(frame: Buffer, n = 10): Promise<Buffer[]> {
  const { data, info } = await sharp(frame).raw().toBuffer({ resolveWithObject: true });
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const out: Buffer[] = [];
  for (let k = 0; k < n; k++) {
    const noisy = Buffer.from(data);
    for (let i = 0; i < noisy.length; i++) noisy[i] = Math.max(0, Math.min(255, noisy[i]! + Math.round((rnd() + rnd() + rnd() - 1.5) * 6)));
    out.push(await sharp(noisy, { raw: { width: info.width, height: info.height, channels: info.channels } }).jpeg({ quality: 85 }).toBuffer());
  }
  return out;
}

/** A busy desk: the moving video plus a hand-sized dark block that moves beside the face on every frame (typing, reaching). */
async function busyFeed(frames: Buffer[]): Promise<Buffer[]> {
  return Promise.all(
    frames.map(async (f, i) => {
      const { width = 640, height = 480 } = await sharp(f).metadata();
      const block = await sharp({ create: { width: 70, height: 50, channels: 3, background: { r: 30, g: 25, b: 20 } } }).png().toBuffer();
      return sharp(f).composite([{ input: block, left: Math.round(width * 0.05 + ((i * 97) % Math.round(width * 0.2))), top: Math.round(height * 0.75 + ((i * 31) % 40)) }]).jpeg({ quality: 85 }).toBuffer();
    }),
  );
}

interface DeskSecond {
  frames: number;
  detector: number;
  /** Detector frames with a new detection: a second pass with the mesh. */
  meshConfirm: number;
  identity: number;
  phoneModel: number;
  phonesUnchanged: number;
}

function perDeskSecond(r: RunResult): DeskSecond {
  const ds = r.desks * r.windowS;
  const st = r.stats.stages;
  return { frames: r.stats.analysed / ds, detector: st.detector / ds, meshConfirm: st.meshConfirm / ds, identity: st.identity / ds, phoneModel: st.phones / ds, phonesUnchanged: st.phonesUnchanged / ds };
}

/**
 * ms of one desk-second: every analysed frame pays the gated cost, detector frames the detector on top (with
 * faces that continue confirmed ones), a new detection a second pass with the mesh, identity frames theirs, etc.
 */
function deskMs(d: DeskSecond, c: Record<StageRow, number>, followUp: boolean): number {
  // A deferred phone check (VISION_PHONES_FOLLOW_UP, default) is an analysis of its own; else it rides on a detector frame.
  const phoneCheck = followUp ? c.followUp : c.phones - c.detector;
  return d.frames * c.gated + d.detector * (c.tracked - c.gated) + d.meshConfirm * (c.detector - c.gated) + d.identity * (c.identity - c.tracked) + d.phoneModel * phoneCheck;
}

/**
 * RSS with 2 workers as `vigil serve` runs them: compiled JavaScript, no tsx (tsx's loader costs ~25 MB in
 * every thread). Compiles src/ into a temporary folder and runs the pool there in a child process, feeding
 * 3 desks with identity and phones due on every frame so every model runs in both workers.
 */
export async function compiledRss(server: RedisServerProcess, dir: string, frameDir: string, youngGenMb: number[], phoneModel: string[] = youngGenMb.map(() => 'centernet')): Promise<(number | string)[]> {
  const out = join(dir, 'compiled');
  try {
    execFileSync(process.execPath, [join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(projectRoot, 'tsconfig.build.json'), '--outDir', join(out, 'dist')], { stdio: 'ignore' });
  } catch {
    // tsc reports errors of others' in-progress files but still emits; only a missing output counts.
  }
  if (!existsSync(join(out, 'dist', 'vision', 'pool.js'))) return youngGenMb.map(() => 'compile failed');
  await symlink(join(projectRoot, 'node_modules'), join(out, 'node_modules'));
  await mkdir(join(out, 'src', 'redis'), { recursive: true });
  await symlink(join(projectRoot, 'src', 'redis', 'scripts'), join(out, 'src', 'redis', 'scripts'));
  const d = (m: string) => JSON.stringify(pathToFileURL(join(out, 'dist', m)).href);
  const script = `
    import { readFileSync, readdirSync } from 'node:fs';
    const { loadConfig } = await import(${d('config/index.js')});
    const { createConnection } = await import(${d('redis/connections.js')});
    const { createKeys } = await import(${d('redis/keys.js')});
    const { ClientRegistry } = await import(${d('clients/registry.js')});
    const { createLogger } = await import(${d('log.js')});
    const { startVisionPool } = await import(${d('vision/pool.js')});
    const dir = ${JSON.stringify(frameDir)};
    const frames = readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => readFileSync(dir + '/' + f));
    const config = loadConfig({}, { NAMESPACE: 'rss' + Date.now(), LOG_LEVEL: 'silent', DATA_DIR: ${JSON.stringify(join(dir, 'empty'))}, VISION_WORKERS: 2, VISION_BURST_FRAMES: 0, VISION_IDENTITY_INTERVAL_MS: 0, VISION_PHONE_INTERVAL_MS: 0, VISION_WORKER_YOUNG_GEN_MB: Number(process.argv[2]), VISION_PHONE_MODEL: process.argv[3] });
    const redis = createConnection(config, ${JSON.stringify(server.url)}, 'normal');
    await redis.connect();
    const keys = createKeys(config.NAMESPACE);
    const registry = new ClientRegistry(redis, keys);
    const pool = await startVisionPool({ config, log: createLogger('silent'), redis, keys, onObservation: () => undefined, requestBurst: () => undefined });
    let i = 0, peak = 0;
    const timer = setInterval(() => { i++; for (const c of ['a', 'b', 'c']) void registry.storeFrame(c, frames[(i + c.charCodeAt(0)) % frames.length], 'jpeg'); }, 300);
    for (let t = 0; t < 15; t++) { await new Promise((r) => setTimeout(r, 1000)); peak = Math.max(peak, process.memoryUsage().rss); }
    clearInterval(timer);
    const st = pool.stats();
    await pool.stop();
    redis.disconnect();
    console.log(JSON.stringify({ rss: peak / 1e6, identity: st.stages.identity, phones: st.stages.phones }));
  `;
  // A file, not `-e`: worker threads inherit the parent's execArgv, and `--input-type` breaks them.
  await writeFile(join(out, 'rss.mjs'), script);
  const results: (number | string)[] = [];
  for (const [i, mb] of youngGenMb.entries()) {
    try {
      // With the node flags `vigil` runs with: they reach the worker threads' heaps too (src/vision/pool.ts).
      const text = execFileSync(process.execPath, [...vigilNodeFlags(), join(out, 'rss.mjs'), String(mb), phoneModel[i]!], { cwd: out, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const r = JSON.parse(text.trim().split('\n').pop()!) as { rss: number; identity: number; phones: number };
      results.push(r.identity > 0 && r.phones > 0 ? r.rss : 'models did not all run');
    } catch (err) {
      const e = err as Error & { stderr?: string };
      results.push(`failed: ${(e.stderr ?? e.message).trim().split('\n').filter((l) => /Error/.test(l)).slice(0, 2).join(' | ')}`);
    }
  }
  return results;
}

export async function benchVision(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-vision-'));
  const server = new RedisServerProcess({ dir: join(dir, 'redis'), appendonly: false });
  try {
    const config = loadConfig({}, { LOG_LEVEL: 'silent' });
    const frames = await benchFrames(dir);
    const still = await staticFeed(frames[2]!);
    await server.start();

    // Same offered load for every run: 3 desks at 15 fps, more than one worker serves on either schedule
    // (at 10 fps the adaptive worker analysed ~85 % of what was offered, so the offered load capped the ratio),
    // so latest wins and drops frames while each desk is analysed several times a second. The video moves;
    // how many frames the motion gate answers depends on how far apart a desk's analysed frames are. (At 6
    // desks the adaptive rows change schedule, not only speed: fewer frames are gated. Worker scaling is
    // therefore read on the model-bound every-model rows.)
    const load = { clients: 3, fps: 15, windowMs: WINDOW_MS };
    // The four runs behind the goals' ratios run twice, the second time in reverse order (A B C D D C B A): the
    // machine's speed drifts over minutes on these shared cores, and a ratio of two runs minutes apart measured
    // that drift as much as the schedules (every model 1 -> 2 workers read 1.62-1.93x on the same code).
    // Every pool run comes before the per-stage tables, which load the models on this main thread: as in
    // `vigil serve`, the pool's main thread then holds no models (with them, its garbage collections — V8's helper
    // threads serve every isolate — took CPU from the workers).
    const adaptive2First = await poolRun(server, frames, { workers: 2, ...load });
    const adaptive1First = await poolRun(server, frames, { workers: 1, ...load });
    const every1First = await poolRun(server, frames, { workers: 1, settings: EVERY, ...load });
    // Worker scaling on model-bound work (every model on every frame): the adaptive schedule's cheap gated
    // frames leave the main thread (Redis, hashing, messages) as the limit, which is not what 2 workers add.
    const every2First = await poolRun(server, frames, { workers: 2, settings: EVERY, ...load });
    const every2 = bothRuns(every2First, await poolRun(server, frames, { workers: 2, settings: EVERY, ...load }));
    const every1 = bothRuns(every1First, await poolRun(server, frames, { workers: 1, settings: EVERY, ...load }));
    const adaptive1 = bothRuns(adaptive1First, await poolRun(server, frames, { workers: 1, ...load }));
    const adaptive2 = bothRuns(adaptive2First, await poolRun(server, frames, { workers: 2, ...load }));
    const adaptive1Confirm = await poolRun(server, frames, { workers: 1, settings: CONFIRM_EVERY, ...load });
    // The same with the other phone detector (VISION_PHONE_MODEL=yolov5s; the default is centernet).
    const altConfig = loadConfig({}, { LOG_LEVEL: 'silent', ...ALT });
    const adaptive1Alt = await poolRun(server, frames, { workers: 1, settings: ALT, ...load });
    const every1Alt = await poolRun(server, frames, { workers: 1, settings: { ...EVERY, ...ALT }, ...load });
    const row = (name: string, w: number, r: RunResult) => [name, String(w), f1(r.offeredFps), f1(r.fps), String(r.stats.stages.detector), String(r.stats.stages.detectorSkipped), String(r.stats.stages.meshConfirm), String(r.stats.stages.identity), String(r.stats.stages.phones), f1(r.rssMb), r.load.toFixed(1)];
    console.log(`\n## vision: pool throughput (${load.clients} desks at ${load.fps} fps of the moving video, latest wins; a private redis-server; ${WINDOW_MS / 1_000} s windows; the first four rows: the mean of two runs, in the order A B C D D C B A)`);
    table(['run', 'workers', 'offered frames/s', 'analysed frames/s', 'detector runs', 'gated (no detector)', 'mesh passes for new faces', 'identity runs', 'phone runs', 'process RSS MB', 'load avg'], [row('every model on every frame', 1, every1), row('every model on every frame', 2, every2), row('adaptive', 1, adaptive1), row('adaptive', 2, adaptive2), row(`adaptive, ${CONFIRM_EVERY_NAME}`, 1, adaptive1Confirm), row(`every model on every frame, ${ALT_NAME}`, 1, every1Alt), row(`adaptive, ${ALT_NAME}`, 1, adaptive1Alt)]);
    console.log(`2 workers / 1 worker: every model ${(every2.fps / every1.fps).toFixed(2)}x, adaptive ${(adaptive2.fps / adaptive1.fps).toFixed(2)}x (goal >= 1.7x; only meaningful when the load average stays below ~1 besides this bench)`);
    console.log(`adaptive / every model (1 worker): ${(adaptive1.fps / every1.fps).toFixed(2)}x with VISION_PHONE_MODEL=${config.VISION_PHONE_MODEL} (default), ${(adaptive1Alt.fps / every1Alt.fps).toFixed(2)}x with ${ALT_NAME}, ${(adaptive1Confirm.fps / every1.fps).toFixed(2)}x with ${CONFIRM_EVERY_NAME} (goal >= 4x); a new face or a box jump runs identity + spoof on that same frame in both schedules`);
    console.log(`RSS with 2 workers, this process under tsx (before any model was loaded on the main thread): ${f1(adaptive2First.rssMb)} MB`);
    if (process.env.BENCH_VISION_COMPILED !== '0') {
      const young = [config.VISION_WORKER_YOUNG_GEN_MB, 4, config.VISION_WORKER_YOUNG_GEN_MB];
      const phoneModels = [config.VISION_PHONE_MODEL, config.VISION_PHONE_MODEL, ALT.VISION_PHONE_MODEL as string];
      const rss = await compiledRss(server, dir, dir, young, phoneModels);
      young.forEach((mb, i) => {
        const r = rss[i]!;
        console.log(`RSS with 2 workers, compiled as \`vigil serve\` runs (peak over 15 s, every model running in both workers), VISION_PHONE_MODEL=${phoneModels[i]}, VISION_WORKER_YOUNG_GEN_MB=${mb}${mb === config.VISION_WORKER_YOUNG_GEN_MB ? ' (default)' : ''}: ${typeof r === 'number' ? `${f1(r)} MB` : r} (goal <= 700 MB)`);
      });
    }

    // Desks per core at 1 fps: model invocations per desk-second counted by the pool (load does not change
    // them), priced with the median stage costs of the table above (the minimum, used before, grows more
    // optimistic with every sample the table takes).
    const moving1fps = frames.filter((_, i) => i % 2 === 0); // the video was sampled at 2 fps
    const desks = 2;
    const runs = [
      ['static desk (person still; sensor noise only)', await poolRun(server, still, { workers: 1, clients: desks, fps: 1, windowMs: WINDOW_MS })],
      ['moving desk (head turning, video at 1 fps)', await poolRun(server, moving1fps, { workers: 1, clients: desks, fps: 1, windowMs: WINDOW_MS })],
      ['busy desk (head turning + a hand moving beside it)', await poolRun(server, await busyFeed(moving1fps), { workers: 1, clients: desks, fps: 1, windowMs: WINDOW_MS })],
      [`moving desk, ${ALT_NAME}`, await poolRun(server, moving1fps, { workers: 1, clients: desks, fps: 1, windowMs: WINDOW_MS, settings: ALT })],
      [`busy desk, ${ALT_NAME}`, await poolRun(server, await busyFeed(moving1fps), { workers: 1, clients: desks, fps: 1, windowMs: WINDOW_MS, settings: ALT })],
      [`moving desk, ${CONFIRM_EVERY_NAME}`, await poolRun(server, moving1fps, { workers: 1, clients: desks, fps: 1, windowMs: WINDOW_MS, settings: CONFIRM_EVERY })],
      ['moving desk, VISION_PHONE_IGNORE_FACE_MOTION=true', await poolRun(server, moving1fps, { workers: 1, clients: desks, fps: 1, windowMs: WINDOW_MS, settings: { VISION_PHONE_IGNORE_FACE_MOTION: true } })],
      ['before: moving desk, mesh every frame, no gate', await poolRun(server, moving1fps, { workers: 1, clients: desks, fps: 1, windowMs: WINDOW_MS, settings: { VISION_MOTION_THRESHOLD: 0, VISION_MESH_EVERY_FRAME: true } })],
    ] as [string, RunResult][];
    const stages = await stageTable(config, frames);
    const stagesAlt = await stageTable(altConfig, frames);
    const costs = stages.median;
    // The issue's idle single-thread model costs (blazeface 28, mesh ~4, antispoof + liveness 10, face-api
    // landmarks + descriptor 27 ms) and the phone screening pass at 256x192 (centernet 29, YOLOv5s 72 ms: the
    // least-disturbed figures measured for docs/models.md; a phone-free frame is rarely confirmed) on top of the
    // measured decode/quality/thumbnail cost.
    const g = costs.gated;
    const phoneIdle = (ms: number): Record<StageRow, number> => ({ gated: g, tracked: g + 28, detector: g + 32, mesh: g + 32, identity: g + 32 + 10 + 27, phones: g + 28 + ms, followUp: g + ms, all: g + 32 + 10 + 27 + ms });
    const phoneIdleMs = { centernet: 29, yolov5s: 72 } as Record<string, number>;
    const idle = phoneIdle(phoneIdleMs[config.VISION_PHONE_MODEL]!);
    const idleAlt = phoneIdle(phoneIdleMs[ALT.VISION_PHONE_MODEL as string]!);
    const rows = runs.map(([name, r]) => {
      const d = perDeskSecond(r);
      // Every detector frame runs the mesh: for readings ("before"), or to confirm faces (CONFIRM_EVERY).
      const detectorFrame = name.startsWith('before') ? 'mesh' : name.includes(CONFIRM_EVERY_NAME) ? 'detector' : 'tracked';
      const alt = name.includes(ALT_NAME);
      const price = (base: Record<StageRow, number>) => deskMs(d, { ...base, tracked: base[detectorFrame] }, config.VISION_PHONES_FOLLOW_UP);
      const ms = price(alt ? stagesAlt.median : costs);
      // The per-frame goal over this desk's own mix of frames: its pipeline ms beside the raw model ms of the same runs.
      const mixRatio = ms / price(alt ? stagesAlt.rawMedian : stages.rawMedian);
      const idleMs = price(alt ? idleAlt : idle);
      return [name, f1(r.offeredFps / r.desks), d.frames.toFixed(2), d.detector.toFixed(2), d.meshConfirm.toFixed(2), d.identity.toFixed(2), d.phoneModel.toFixed(2), d.phonesUnchanged.toFixed(2), f1(maxGap(r.observations, 'identity')), f1(maxGap(r.observations, 'phones')), f1(maxGap(r.observations, 'phoneModel')), f1(ms), mixRatio.toFixed(2), f1(1_000 / ms), f1(1_000 / idleMs)];
    });
    console.log(`\n## vision: desks per core at 1 fps (1 worker, ${desks} desks, ${WINDOW_MS / 1_000} s each): model runs per desk-second, priced with the median stage costs above (gated ${f1(costs.gated)}, detector ${f1(costs.tracked)}, + mesh confirming ${f1(costs.detector - costs.tracked)}, identity+spoof ${f1(costs.identity)}, phone check ${f1(config.VISION_PHONES_FOLLOW_UP ? costs.followUp : costs.phones - costs.detector)} ms)`);
    table(['feed', 'frames/s offered per desk', 'analysed', 'detector', 'mesh pass for a new face', 'identity+spoof', 'phone detector', 'phones unchanged', 'max identity gap s (<= 5)', 'max phone-check gap s (<= 3)', 'max phone detector gap s', 'ms per desk-second', 'pipeline/raw over these frames (medians; goal <= 1.10)', 'desks per core', 'desks per core at idle model costs'], rows);
    console.log('(a phone check "unchanged" = phones were due on a frame unchanged since the phone detector\'s last frame — with VISION_PHONE_IGNORE_FACE_MOTION=true: unchanged outside the face zone, same faces; gaps are wall-clock under this machine\'s load)');

    if (process.env.BENCH_VISION_CANDIDATES !== '0') await candidatesTables(config, frames);
    console.log('(2 shared cores with other engineers\' tests running: timings are disturbed; see docs/models.md)');
  } finally {
    await server.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchVision();
