import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadConfig } from '../src/config/index.js';
import { RedisServerProcess } from '../src/redis/embedded.js';
import { createConnection } from '../src/redis/connections.js';
import { createKeys } from '../src/redis/keys.js';
import { createDecisionEngine } from '../src/decisions/engine.js';
import { decide, emptyHistory } from '../src/decisions/policy.js';
import { defaultPolicy } from '../src/decisions/policyFile.js';
import { scriptObservations, type SceneStep } from '../test/decisions/scenes.js';

/**
 * Decision-step cost per observation: the pure policy alone, and the engine (history read + policy
 * + atomic commit, plus evidence/audit/event when an action fires) against a private redis-server
 * and a temp DATA_DIR. The frame-to-action delay needs the whole system and is measured elsewhere.
 */

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
const fmt = (ms: number) => (ms < 1 ? `${(ms * 1_000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`);
const line = (what: string, v: number[]) => console.log(`  ${what.padEnd(62)} n=${String(v.length).padStart(5)}  p50 ${fmt(pct(v, 50)).padStart(9)}  p95 ${fmt(pct(v, 95)).padStart(9)}`);

const mixed: SceneStep[] = [
  { scene: 'user', seconds: 20 },
  { scene: 'nobody', seconds: 50 },
  { scene: 'other_user', seconds: 10 },
  { scene: 'user', seconds: 10 },
  { scene: 'phone', seconds: 20 },
  { scene: 'dark', seconds: 25 },
  { scene: 'two_people', seconds: 10 },
];
/** A spoof episode every 5 frames: many actions, each with evidence. */
const actionHeavy: SceneStep[] = Array.from({ length: 40 }, () => [
  { scene: 'photo_of_user' as const, seconds: 1 },
  { scene: 'user' as const, seconds: 4 },
]).flat();

export async function benchDecisions(): Promise<void> {
  console.log('decisions: policy and engine time per observation (2 shared cores: figures are disturbed by other work)');

  // Pure policy.
  const policyTimes: number[] = [];
  for (let round = 0; round < 20; round++) {
    let h = emptyHistory();
    for (const { obs, now } of scriptObservations(mixed, { startMs: Date.UTC(2026, 0, 1) + round * 10_000_000 })) {
      const t0 = performance.now();
      h = decide({ kind: 'observation', obs }, h, defaultPolicy.config, now).history;
      policyTimes.push(performance.now() - t0);
    }
  }
  line('policy decide() (pure)', policyTimes.slice(200));

  const redisDir = await mkdtemp(join(tmpdir(), 'vigil-bench-redis-'));
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-bench-data-'));
  const server = new RedisServerProcess({ dir: redisDir });
  await server.start();
  const config = loadConfig({}, { NAMESPACE: 'benchdecisions', LOG_LEVEL: 'silent', DATA_DIR: dataDir });
  const redis = createConnection(config, server.url, 'normal');
  await redis.connect();
  const keys = createKeys(config.NAMESPACE);
  const frame = await readFile(new URL('../../shared/data/spoof/silentface/image_T1.jpg', import.meta.url)).catch(() => undefined);
  try {
    const clock = { t: 0 };
    const engine = await createDecisionEngine({ config, log: pino({ level: 'silent' }), redis, keys, now: () => clock.t });

    // The action is queued (and the gateway woken) at the commit, before the evidence is written:
    // the wake-up on the actions channel shows when an agent could have it.
    const sub = createConnection(config, server.url, 'subscriber');
    await sub.connect();
    await sub.subscribe(keys.channels.actions);
    let callStart = 0;
    const toQueue: number[] = [];
    sub.on('message', () => toQueue.push(performance.now() - callStart));

    // One client, frames one after another: no action vs action (evidence + audit included).
    const quiet: number[] = [];
    const acting: number[] = [];
    for (const steps of [mixed, actionHeavy]) {
      for (const { obs, now } of scriptObservations(steps, { clientId: `solo-${steps.length}`, startMs: Date.UTC(2026, 0, 1) })) {
        clock.t = now;
        const t0 = performance.now();
        callStart = t0;
        const r = await engine.onObservation(obs, frame);
        (r ? acting : quiet).push(performance.now() - t0);
      }
    }
    line('engine.onObservation, no action (load + policy + commit)', quiet);
    line(`engine.onObservation, action (+ evidence${frame ? ' JPEG' : ''}, audit, event)`, acting);
    line('  of which: call start -> action queued (wake-up received)', toQueue);
    sub.disconnect();

    // Ten clients at once, each frame of each client concurrently: the per-call time under load.
    const clients = Array.from({ length: 10 }, (_, i) => [...scriptObservations(mixed, { clientId: `c${i}`, startMs: Date.UTC(2026, 0, 2) })]);
    const loaded: number[] = [];
    for (let f = 0; f < clients[0]!.length; f++) {
      clock.t = clients[0]![f]!.now;
      await Promise.all(
        clients.map(async (frames) => {
          const t0 = performance.now();
          await engine.onObservation(frames[f]!.obs, frame);
          loaded.push(performance.now() - t0);
        }),
      );
    }
    line('engine.onObservation, 10 clients concurrently', loaded);
    const s = engine.stats();
    console.log(`  engine counters: inputs ${s.inputs}, actions ${s.actions}, commit conflicts ${s.conflicts}, ignored ${s.ignored}`);
    await engine.close();
  } finally {
    redis.disconnect();
    await server.stop();
    await rm(redisDir, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchDecisions();
}
