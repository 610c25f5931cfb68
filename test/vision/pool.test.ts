import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectTest, startTestRedis, testConfig, waitFor } from '../helpers/redis.js';
import { ClientRegistry } from '../../src/clients/registry.js';
import { ReadyQueue } from '../../src/vision/readyQueue.js';
import { startVisionPool } from '../../src/vision/pool.js';
import { createLogger } from '../../src/log.js';
import type { Observation } from '../../src/domain/observation.js';
import type { Config } from '../../src/config/index.js';

const { server } = await startTestRedis();
const fakeWorker = new URL('./fakeWorker.ts', import.meta.url);
const noUsers = { snapshot: () => new Map<string, number[][]>() };

async function setup(overrides: Partial<Record<keyof Config, unknown>> = {}, decide: (o: Observation) => void | Promise<void> = () => undefined) {
  const config = testConfig({ VISION_WORKERS: 1, VISION_JOB_TIMEOUT_MS: 1_000, ...overrides });
  const conns = await connectTest(server, config);
  const registry = new ClientRegistry(conns.redis, conns.keys);
  const observations: Observation[] = [];
  const bursts: { clientId: string; reason: string }[] = [];
  const pool = await startVisionPool({
    config,
    log: createLogger('silent'),
    redis: conns.redis,
    keys: conns.keys,
    onObservation: (o) => {
      observations.push(o);
      return decide(o);
    },
    requestBurst: (clientId, _f, _fps, reason) => void bursts.push({ clientId, reason }),
    users: noUsers,
    workerUrl: fakeWorker,
  });
  return { config, conns, registry, pool, observations, bursts };
}

test('a leased client is not handed to a second worker; paused and blocked clients are skipped', async () => {
  const config = testConfig();
  const { redis, keys } = await connectTest(server, config);
  const registry = new ClientRegistry(redis, keys);
  const q = new ReadyQueue(redis, keys, { leaseMs: 10_000, statusCacheMs: 0 });
  await registry.storeFrame('alice', Buffer.from('a1'), 'jpeg', new Date(1_000));
  await registry.storeFrame('bob', Buffer.from('b1'), 'jpeg', new Date(2_000));
  await registry.storeFrame('carol', Buffer.from('c1'), 'jpeg', new Date(3_000));
  await redis.hset(keys.clientsStatus, 'paused_clients', JSON.stringify(['bob']), 'blocked_clients', JSON.stringify(['carol']));
  const first = await q.take();
  assert.equal(first?.id, 'alice');
  assert.equal(first?.readySince, 1_000);
  // A frame arriving during the analysis re-adds alice, but her lease keeps a second worker off.
  await registry.storeFrame('alice', Buffer.from('a2'), 'jpeg', new Date(4_000));
  assert.equal(await q.take(), undefined, 'bob is paused, carol blocked, alice leased');
  assert.equal(await redis.zscore(keys.ready, 'bob'), null, 'a paused client is dropped from the ready set');
  await q.release('alice');
  assert.equal((await q.take())?.id, 'alice');
});

test('one worker shares itself fairly between clients and always analyses the freshest frame', async () => {
  const { registry, pool, observations } = await setup();
  try {
    const clients = ['c1', 'c2', 'c3'];
    let seq = 0;
    const deadline = Date.now() + 1_500;
    while (Date.now() < deadline) {
      seq++;
      for (const c of clients) await registry.storeFrame(c, Buffer.from(`SLOW:20:${c}:${seq}`), 'jpeg');
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => clients.every((c) => observations.some((o) => o.clientId === c && o.frameSeq === seq)), { what: 'the last frames analysed' });
    const counts = clients.map((c) => observations.filter((o) => o.clientId === c).length);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 2, `fair share: ${counts.join(', ')}`);
    // Frames arrive faster than one worker can analyse: the older ones are skipped, not queued.
    assert.ok(counts[0]! < seq, `latest wins: ${counts[0]} analyses for ${seq} frames`);
    const c1 = observations.filter((o) => o.clientId === 'c1').map((o) => o.frameSeq);
    assert.deepEqual(c1, [...c1].sort((a, b) => a - b), 'never an older frame after a newer one');
    assert.equal(pool.stats().errors, 0);
  } finally {
    await pool.stop();
  }
});

test('slow decisions do not hold the worker: it analyses other clients meanwhile, and a client stays leased until its decisions are done', async () => {
  const decided: string[] = [];
  const slow = async (o: Observation) => {
    if (o.clientId === 'slowpoke') await new Promise((r) => setTimeout(r, 400));
    decided.push(`${o.clientId}#${o.frameSeq}`);
  };
  const { registry, pool, observations } = await setup({ VISION_IDENTITY_INTERVAL_MS: 60_000, VISION_PHONE_INTERVAL_MS: 60_000 }, slow);
  try {
    await registry.storeFrame('slowpoke', Buffer.from('SLOW:1:s1'), 'jpeg');
    await waitFor(() => observations.length === 1, { what: 'slowpoke analysed' });
    // Its decisions take 400 ms: the worker is free for the next client at once; slowpoke's newer frame waits.
    await registry.storeFrame('slowpoke', Buffer.from('SLOW:1:s2'), 'jpeg');
    await registry.storeFrame('quick', Buffer.from('SLOW:1:q1'), 'jpeg');
    await waitFor(() => decided.includes('quick#1'), { what: 'quick analysed and decided' });
    assert.deepEqual(decided, ['quick#1'], 'quick went through while slowpoke\'s decisions were still running');
    assert.equal(observations.filter((o) => o.clientId === 'slowpoke').length, 1, 'slowpoke is not analysed again before its decisions are done');
    await waitFor(() => decided.includes('slowpoke#2'), { what: 'slowpoke\'s next frame' });
    assert.deepEqual(decided, ['quick#1', 'slowpoke#1', 'slowpoke#2'], 'a client\'s observations reach the decisions in order');
  } finally {
    await pool.stop();
  }
});

test('identical frames are not analysed twice; adaptive stages run only when due', async () => {
  const { registry, pool, observations, bursts } = await setup({ VISION_IDENTITY_INTERVAL_MS: 60_000, VISION_PHONE_INTERVAL_MS: 60_000 });
  try {
    await registry.storeFrame('dana', Buffer.from('SLOW:1:same'), 'jpeg');
    await waitFor(() => observations.length === 1, { what: 'first observation' });
    await registry.storeFrame('dana', Buffer.from('SLOW:1:same'), 'jpeg');
    await waitFor(() => pool.stats().identicalSkipped === 1, { what: 'identical frame skipped' });
    await registry.storeFrame('dana', Buffer.from('SLOW:1:other'), 'jpeg');
    await waitFor(() => observations.length === 2, { what: 'second observation' });
    assert.deepEqual(observations[0]!.stages, { identity: true, spoof: true, phones: true, detector: true, phonesUnchanged: false }, 'a new track runs every check');
    assert.deepEqual(observations[1]!.stages, { identity: false, spoof: false, phones: false, detector: true, phonesUnchanged: false }, 'nothing is due on the next frame');
    assert.equal(observations[0]!.identity?.verdict, 'unknown', 'no enrolled users: unknown');
    assert.deepEqual(bursts, [{ clientId: 'dana', reason: 'track_start' }]);
  } finally {
    await pool.stop();
  }
});

test('a feed that keeps sending the same bytes is reported as a frozen feed', async () => {
  const { registry, pool, observations } = await setup({ VISION_FROZEN_FEED_MS: 400, VISION_IDENTITY_INTERVAL_MS: 60_000, VISION_PHONE_INTERVAL_MS: 60_000 });
  try {
    const timer = setInterval(() => void registry.storeFrame('erin', Buffer.from('SLOW:1:frozen'), 'jpeg'), 50);
    try {
      await waitFor(() => observations.some((o) => o.spoof?.frozenFeed), { what: 'frozen-feed observation' });
    } finally {
      clearInterval(timer);
    }
    const frozen = observations.find((o) => o.spoof?.frozenFeed)!;
    assert.equal(frozen.spoof?.verdict, 'spoof');
    assert.ok(frozen.spoof!.frozenForMs! >= 400);
    assert.equal(frozen.faces.length, 1, 'the last faces are carried');
    assert.equal(observations[0]!.spoof?.frozenFeed, undefined, 'the first frame is analysed normally');
    assert.equal(pool.stats().frozenFeeds, observations.filter((o) => o.spoof?.frozenFeed).length);
  } finally {
    await pool.stop();
  }
});

test('a crashed worker is replaced and its client analysed again; a frame that keeps crashing becomes an error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-crash-'));
  const { registry, pool, observations } = await setup();
  try {
    await registry.storeFrame('erin', Buffer.from(`CRASHONCE:${join(dir, 'marker')}`), 'jpeg');
    await waitFor(() => observations.some((o) => o.clientId === 'erin'), { what: 'erin analysed after the crash', timeoutMs: 20_000 });
    assert.equal(observations.find((o) => o.clientId === 'erin')!.error, undefined);
    assert.equal(pool.stats().crashes, 1);

    await registry.storeFrame('fred', Buffer.from('CRASH'), 'jpeg');
    const err = await waitFor(() => observations.find((o) => o.clientId === 'fred'), { what: 'fred error observation', timeoutMs: 20_000 });
    assert.equal(err.error?.code, 'internal');
    assert.equal(pool.stats().crashes, 3);

    // The replaced worker still works.
    await registry.storeFrame('erin', Buffer.from('SLOW:1:after'), 'jpeg');
    await waitFor(() => observations.filter((o) => o.clientId === 'erin').length === 2, { what: 'erin again', timeoutMs: 10_000 });
  } finally {
    await pool.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a hung worker is detected by its timeout and replaced', async () => {
  const { registry, pool, observations } = await setup({ VISION_JOB_TIMEOUT_MS: 1_000 });
  try {
    await registry.storeFrame('gina', Buffer.from('HANG'), 'jpeg');
    const err = await waitFor(() => observations.find((o) => o.clientId === 'gina'), { what: 'gina error observation', timeoutMs: 20_000 });
    assert.match(err.error?.message ?? '', /timed out/);
    assert.equal(pool.stats().timeouts, 2);
    await registry.storeFrame('hank', Buffer.from('SLOW:1:ok'), 'jpeg');
    await waitFor(() => observations.some((o) => o.clientId === 'hank' && !o.error), { what: 'hank analysed', timeoutMs: 10_000 });
  } finally {
    await pool.stop();
  }
});
