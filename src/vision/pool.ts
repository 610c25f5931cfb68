import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Observation } from '../domain/observation.js';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import { ClientRegistry, type StoredFrame } from '../clients/registry.js';
import { dataFolders } from '../data/folders.js';
import { UsersDatabase } from '../users/database.js';
import type { AnalysisPlan, AnalysisResult, AnalyzerOptions, FaceDetail } from './analyzer.js';
import { ReadyQueue } from './readyQueue.js';
import { analyzerOptions } from './analyzer.js';
import { foldAnalysis, frozenFeedCheck, newTrack, planFor, trackSettings, type TrackState, type UserDescriptors } from './tracker.js';
import type { FromWorker, ToWorker } from './workerProtocol.js';

export interface VisionPoolOptions {
  config: Config;
  log: Logger;
  redis: VigilRedis;
  keys: Keys;
  onObservation(obs: Observation, frame: Buffer): void | Promise<void>;
  requestBurst(clientId: string, frames: number, fps: number, reason: string): void | Promise<void>;
  /** Reference descriptors; by default the users database under DATA_DIR, described by this pool's workers. */
  users?: { snapshot(): UserDescriptors };
  /** Tests: a stand-in worker script that speaks the same protocol (workerProtocol.ts). */
  workerUrl?: URL;
}

export interface VisionPoolStats {
  workers: number;
  analysed: number;
  errors: number;
  identicalSkipped: number;
  crashes: number;
  timeouts: number;
  busy: number;
  /** Model stages run; `detectorSkipped`: frames the motion gate answered without the detector,
   *  `phonesUnchanged`: phone checks due on a frame unchanged since the last phone check. */
  stages: { identity: number; spoof: number; phones: number; detector: number; detectorSkipped: number; phonesUnchanged: number; meshConfirm: number };
  /** Frozen-feed spoof observations emitted (bit-identical frames for VISION_FROZEN_FEED_MS). */
  frozenFeeds: number;
  /** Phone checks left due to a later frame because every phone lane was busy (workers - 1 lanes). */
  phonesPostponed: number;
  /** Mean per-frame pipeline ms and the part spent inside model calls. */
  meanMs: number;
  meanModelMs: number;
  analysedByClient: Record<string, number>;
}

class WorkerLost extends Error {
  constructor(readonly why: 'crash' | 'timeout', message: string) {
    super(message);
  }
}

/** Picks the worker file next to this module: worker.ts under tsx, worker.js in dist. */
function defaultWorkerUrl(): URL {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./worker${ext}`, import.meta.url);
}

/** One worker thread and the job it runs; replaced wholesale when it crashes or hangs. */
class Slot {
  private worker?: Worker;
  private pending?: { jobId: number; resolve(r: AnalysisResult): void; reject(e: Error): void; timer: NodeJS.Timeout };
  private jobs = 0;
  modelVersion = 'unknown';

  constructor(
    private readonly url: URL,
    private readonly init: AnalyzerOptions,
    private readonly timeoutMs: number,
    /** V8 young-generation cap per worker (MB, 0 = Node's default; docs/models.md "Memory"). */
    private readonly youngGenMb = 0,
  ) {}

  /** Starts the thread and waits until its models are loaded; a model error rejects with the worker's message. */
  start(): Promise<void> {
    // Node 20 does not apply `--import tsx` to a worker's entry file, so a .ts worker (tests, `npm run bench`)
    // starts from a tiny script that registers tsx first; compiled .js workers start directly.
    const resourceLimits = this.youngGenMb > 0 ? { maxYoungGenerationSizeMb: this.youngGenMb } : undefined;
    const worker = this.url.pathname.endsWith('.ts')
      ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(this.url.href)}); })`, { eval: true, workerData: this.init, resourceLimits })
      : new Worker(this.url, { workerData: this.init, resourceLimits });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: FromWorker) => {
        if (msg.type === 'ready') {
          this.modelVersion = msg.modelVersion;
          resolve();
        } else if (msg.type === 'fatal') {
          reject(new Error(msg.message));
          void worker.terminate();
        } else if (msg.type === 'result' && this.pending?.jobId === msg.jobId) {
          const p = this.pending;
          this.pending = undefined;
          clearTimeout(p.timer);
          p.resolve(msg.result);
        }
      });
      const lost = (why: string) => {
        if (this.worker !== worker) return;
        reject(new Error(`vision worker stopped before it was ready: ${why}`));
        const p = this.pending;
        this.pending = undefined;
        if (p) {
          clearTimeout(p.timer);
          p.reject(new WorkerLost('crash', `vision worker crashed: ${why}`));
        }
      };
      worker.on('error', (err) => lost(err.message));
      worker.on('exit', (code) => lost(`exit code ${code}`));
    });
  }

  run(bytes: Buffer, plan: AnalysisPlan): Promise<AnalysisResult> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new WorkerLost('crash', 'no worker'));
    const jobId = ++this.jobs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending?.jobId !== jobId) return;
        this.pending = undefined;
        reject(new WorkerLost('timeout', `vision worker did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending = { jobId, resolve, reject, timer };
      // A copy, so the Redis buffer stays usable for the observation callback.
      const msg: ToWorker = { type: 'analyze', jobId, bytes: new Uint8Array(bytes), plan };
      worker.postMessage(msg);
    });
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

/**
 * The vision worker pool: N worker threads (one per core by default), each pulling the longest-waiting
 * ready client from Redis (fair, latest frame wins, one worker per client at a time, paused/blocked
 * skipped), analysing only what is due (adaptive), and handing the observation to the decision step.
 */
export interface VisionPool {
  stop(): Promise<void>;
  stats(): VisionPoolStats;
  /** A frame was stored: idle workers look at the ready queue now instead of at their next poll. */
  wake(): void;
  /** The users database this pool describes references with (enrolment through the API uses it). */
  users: UsersDatabase | undefined;
}

export async function startVisionPool(opts: VisionPoolOptions): Promise<VisionPool> {
  const { config, log, redis, keys } = opts;
  const count = config.VISION_WORKERS > 0 ? config.VISION_WORKERS : availableParallelism();
  const init: AnalyzerOptions = analyzerOptions(config);
  const url = opts.workerUrl ?? defaultWorkerUrl();
  // `vigil` starts node with --initial-heap-size for the gateway (bin/vigil.js). V8 applies the flag to every
  // isolate created while it is set, so each worker would grow ~50 MB of old generation before its first full GC
  // (measured with a 4 MB young generation: 2 workers 705–715 MB RSS instead of 580–631). The main isolate keeps its setting; workers (and their replacements) get V8's default (0).
  setFlagsFromString('--initial-heap-size=0');
  const slots = Array.from({ length: count }, () => new Slot(url, init, config.VISION_JOB_TIMEOUT_MS, config.VISION_WORKER_YOUNG_GEN_MB));
  try {
    await Promise.all(slots.map((s) => s.start()));
  } catch (err) {
    await Promise.all(slots.map((s) => s.stop()));
    throw new Error(`vision workers could not start: ${(err as Error).message}`);
  }
  const modelVersion = slots[0]!.modelVersion;
  const settings = trackSettings(config);
  const registry = new ClientRegistry(redis, keys);
  const queue = new ReadyQueue(redis, keys, { leaseMs: config.VISION_JOB_TIMEOUT_MS * 2, log });
  const tracks = new Map<string, TrackState>();
  const seenAt = new Map<string, number>();
  const crashesByFrame = new Map<string, number>();
  /** Reference images waiting for a worker; served before client frames. */
  const referenceJobs: { bytes: Buffer; resolve(r: AnalysisResult): void }[] = [];
  const describeReference = (bytes: Buffer) =>
    new Promise<AnalysisResult>((resolve) => referenceJobs.push({ bytes, resolve }));
  const users =
    opts.users ??
    new UsersDatabase({
      dir: dataFolders(config).usersDatabase,
      describe: describeReference,
      modelVersion,
      redis,
      keys,
      ttlSeconds: config.EMBEDDING_CACHE_TTL_S,
      log,
    });

  const st: VisionPoolStats = { workers: count, analysed: 0, errors: 0, identicalSkipped: 0, crashes: 0, timeouts: 0, busy: 0, stages: { identity: 0, spoof: 0, phones: 0, detector: 0, detectorSkipped: 0, phonesUnchanged: 0, meshConfirm: 0 }, frozenFeeds: 0, phonesPostponed: 0, meanMs: 0, meanModelMs: 0, analysedByClient: {} };
  let totalMs = 0;
  let totalModelMs = 0;
  let stopped = false;
  // Phone checks (~170 ms each) run on at most workers - 1 workers at once, so one worker is always free
  // for the next frame: a violation is not decided behind someone else's phone check. A check that finds
  // no free lane stays due and runs on the client's next frame.
  const phoneLanes = Math.max(1, count - 1);
  let phonesRunning = 0;
  // Idle workers poll the ready queue with backoff (frames may come from a gateway in another process);
  // a gateway in this process wakes them at once, so a frame does not wait for the next poll.
  const sleepers = new Set<() => void>();
  const wakeAll = () => {
    for (const done of [...sleepers]) done();
  };
  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      sleepers.add(done);
    });

  async function replace(slot: Slot, err: WorkerLost): Promise<void> {
    if (err.why === 'timeout') st.timeouts++;
    else st.crashes++;
    await slot.stop();
    while (!stopped) {
      try {
        await slot.start();
        return;
      } catch (e) {
        log.error({ err: (e as Error).message }, 'vision worker restart failed; retrying');
        await sleep(1_000);
      }
    }
  }

  /** What the tracker needs to know of a frame, whatever came of its analysis. */
  const frameInput = (clientId: string, frame: StoredFrame) => ({ clientId, frameSeq: frame.frameNumber, frameTs: frame.tsMs, modelVersion, now: Date.now() });

  /** Hands an observation to the decisions; their failure is logged, never the analysis loop's. */
  async function emit(observation: Observation, frame: Buffer): Promise<void> {
    try {
      await opts.onObservation(observation, frame);
    } catch (err) {
      log.error({ clientId: observation.clientId, err: (err as Error).message }, 'onObservation failed');
    }
  }

  /**
   * The phone check a frame's analysis deferred (plan.deferPhones), on the same frame, while the decisions take
   * the frame's faces (`facesEmitted`); its observation follows theirs. Resolves when the worker is done, with
   * what is left for the main thread (the emit). A lost worker only loses this check: the next is due at the next frame.
   */
  async function checkPhones(slot: Slot, clientId: string, frame: StoredFrame, faces: FaceDetail[], facesEmitted: Promise<void>): Promise<Tail> {
    let result: AnalysisResult;
    try {
      result = await slot.run(frame.data, { identityDue: false, phonesDue: true, jumpIou: settings.jumpIou, phonesOnly: { faces } });
    } catch (err) {
      if (!(err instanceof WorkerLost)) throw err;
      log.warn({ clientId, frameSeq: frame.frameNumber, why: err.why }, 'vision worker lost during a phone check; replacing it');
      await replace(slot, err);
      return { after: facesEmitted };
    }
    if (!result.ok) return { after: facesEmitted };
    const track = tracks.get(clientId) ?? newTrack();
    const out = foldAnalysis(track, { ...frameInput(clientId, frame), result, users: users.snapshot() }, settings);
    tracks.set(clientId, { ...out.track, lastHash: track.lastHash, hashSince: track.hashSince });
    st.stages.phones++;
    totalMs += result.analysis.timings.total;
    totalModelMs += result.analysis.timings.model;
    return { after: facesEmitted.then(() => emit(out.observation, frame.data)) };
  }

  /**
   * Analyses the client's latest frame on the slot's worker. Resolves once the worker is done with it, with the
   * main thread's part still running (observations to the decisions, a burst request): the worker takes its next
   * client meanwhile, and this one stays leased until that part is over, so its observations stay in order.
   */
  async function analyseClient(slot: Slot, clientId: string, readySince: number): Promise<Tail> {
    const frame = await registry.getClientImage(clientId);
    if (!frame) return NOTHING_LEFT;
    const track = tracks.get(clientId) ?? newTrack();
    const hash = createHash('sha1').update(frame.data).digest('hex');
    if (hash === track.lastHash) {
      st.identicalSkipped++;
      const frozen = frozenFeedCheck(track, frameInput(clientId, frame), settings);
      tracks.set(clientId, frozen.track);
      if (!frozen.observation) return NOTHING_LEFT;
      st.frozenFeeds++;
      return { after: emit(frozen.observation, frame.data) };
    }
    const now = Date.now();
    const plan = planFor(track, now, settings);
    let result: AnalysisResult;
    try {
      result = await slot.run(frame.data, plan);
    } catch (err) {
      if (!(err instanceof WorkerLost)) throw err;
      log.warn({ clientId, frameSeq: frame.frameNumber, why: err.why }, 'vision worker lost during analysis; replacing it');
      await replace(slot, err);
      const key = `${clientId}#${frame.frameNumber}`;
      const n = (crashesByFrame.get(key) ?? 0) + 1;
      crashesByFrame.set(key, n);
      if (n < 2) {
        // Analysed again by the next free worker, ahead of the others (it has waited longest).
        await queue.requeue(clientId, readySince);
        return NOTHING_LEFT;
      }
      crashesByFrame.delete(key);
      result = { ok: false, code: 'internal', message: `analysis ${err.why === 'timeout' ? 'timed out' : 'crashed the worker'} twice on this frame`, ms: Date.now() - now };
    }
    if (crashesByFrame.size > 1_000) crashesByFrame.clear();
    const out = foldAnalysis(track, { ...frameInput(clientId, frame), result, users: users.snapshot() }, settings);
    tracks.set(clientId, { ...out.track, lastHash: hash, hashSince: now });
    seenAt.set(clientId, Date.now());
    if (st.analysed % 1_000 === 0) {
      // Tracks of clients gone for 10 minutes are dropped (a returning client starts a new track).
      for (const [id, t] of seenAt) if (Date.now() - t > 600_000) (seenAt.delete(id), tracks.delete(id));
    }
    st.analysed++;
    st.analysedByClient[clientId] = (st.analysedByClient[clientId] ?? 0) + 1;
    if (!result.ok) st.errors++;
    else {
      totalMs += result.analysis.timings.total;
      totalModelMs += result.analysis.timings.model;
      st.meanMs = Math.round((totalMs / (st.analysed - st.errors)) * 10) / 10;
      st.meanModelMs = Math.round((totalModelMs / (st.analysed - st.errors)) * 10) / 10;
      if (result.analysis.ran.identity) st.stages.identity++;
      if (result.analysis.ran.spoof) st.stages.spoof++;
      if (result.analysis.ran.phones) st.stages.phones++;
      if (result.analysis.ran.detector === false) st.stages.detectorSkipped++;
      else st.stages.detector++;
      if (result.analysis.ran.phonesUnchanged) st.stages.phonesUnchanged++;
      if (result.analysis.ran.meshConfirm) st.stages.meshConfirm++;
    }
    let after = emit(out.observation, frame.data);
    if (result.ok && result.analysis.ran.phonesPending) {
      if (phonesRunning < phoneLanes) {
        phonesRunning++;
        try {
          ({ after } = await checkPhones(slot, clientId, frame, result.analysis.faces, after));
        } finally {
          phonesRunning--;
        }
      } else st.phonesPostponed++;
    }
    const burst = out.burst;
    if (!burst) return { after };
    return {
      after: after.then(async () => {
        try {
          await opts.requestBurst(clientId, burst.frames, burst.fps, burst.reason);
        } catch (err) {
          log.warn({ clientId, err: (err as Error).message }, 'requestBurst failed');
        }
      }),
    };
  }

  /** What the main thread still does for analysed clients (decisions, then the lease's release); stop() waits for it. */
  const finishing = new Set<Promise<void>>();

  async function loop(slot: Slot): Promise<void> {
    let idleMs = 10;
    while (!stopped) {
      const ref = referenceJobs.shift();
      if (ref) {
        st.busy++;
        try {
          ref.resolve(await slot.run(ref.bytes, { identityDue: true, phonesDue: false, jumpIou: settings.jumpIou }));
        } catch (err) {
          if (err instanceof WorkerLost) await replace(slot, err);
          ref.resolve({ ok: false, code: 'internal', message: (err as Error).message, ms: 0 });
        } finally {
          st.busy--;
        }
        continue;
      }
      let taken: { id: string; readySince: number } | undefined;
      try {
        taken = await queue.take();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'vision: cannot take a ready client (Redis?)');
        await sleep(500);
        continue;
      }
      if (!taken) {
        await idle(idleMs);
        idleMs = Math.min(100, idleMs * 2);
        continue;
      }
      idleMs = 10;
      st.busy++;
      const { id } = taken;
      let after = NOTHING_LEFT.after;
      try {
        ({ after } = await analyseClient(slot, id, taken.readySince));
      } catch (err) {
        log.error({ clientId: id, err: (err as Error).message }, 'vision analysis failed');
      } finally {
        st.busy--;
      }
      const done = after.then(() => queue.release(id)).catch(() => undefined);
      finishing.add(done);
      void done.finally(() => finishing.delete(done));
    }
  }

  const loops = slots.map((s) => loop(s));
  if (users instanceof UsersDatabase) {
    // Identity verdicts before the reference descriptors are known would call every user "unknown".
    const t0 = Date.now();
    await users.refresh().catch((err: Error) => log.error({ err: err.message }, 'users database scan failed'));
    log.info({ users: users.snapshot().size, ms: Date.now() - t0 }, 'users database loaded');
  }
  log.info({ workers: count, modelVersion }, 'vision pool started');
  return {
    async stop() {
      stopped = true;
      wakeAll();
      let timer: NodeJS.Timeout | undefined;
      const drained = Promise.all(loops).then(() => Promise.all([...finishing]));
      await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(r, config.VISION_JOB_TIMEOUT_MS)))]);
      clearTimeout(timer);
      await Promise.all(slots.map((s) => s.stop()));
    },
    stats: () => ({ ...st, stages: { ...st.stages }, analysedByClient: { ...st.analysedByClient } }),
    wake: wakeAll,
    users: users instanceof UsersDatabase ? users : undefined,
  };
}

/**
 * The main thread's part of an analysis that remains once the worker is free (in an object: a promise
 * returned from an async function would be awaited with it).
 */
interface Tail {
  after: Promise<void>;
}
const NOTHING_LEFT: Tail = { after: Promise.resolve() };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
