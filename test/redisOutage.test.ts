import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { startTestRedis, waitFor } from './helpers/redis.js';
import { startTestVigil } from './helpers/vigil.js';
import { AgentClient } from '../src/agent/agentClient.js';
import { ClientsData } from '../src/clients/clientsData.js';
import { startCleanupLoop } from '../src/clients/cleanup.js';
import { Action, Reason } from '../src/domain/action.js';
import type { ActionMessage } from '../src/domain/protocol.js';

// This file stops and restarts its own redis-server, so it has a server to itself.
const { server, dir: redisDir } = await startTestRedis();
const vigil = await startTestVigil(server, { CLEANUP_INTERVAL_MS: 100, CLIENT_TIMEOUT_MS: 400 });
const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#884422' } }).jpeg().toBuffer();

const action = (): ActionMessage => ({ type: 'action', id: randomUUID(), action: Action.ACTION_LOCK_SCREEN, reason: Reason.REASON_WRONG_USER, message: 'x', at: Date.now() });

async function health(): Promise<{ status: number; body: { status: string; gateway: { framesStored: number } } }> {
  const res = await fetch(`${vigil.url}/health`);
  return { status: res.status, body: (await res.json()) as never };
}

test('cleanup loop: a silent client goes within interval + timeout, a chatty one stays', async () => {
  await vigil.registry.addClient('silent');
  await vigil.registry.addClient('chatty');
  const t0 = Date.now();
  const chatter = setInterval(() => void vigil.registry.updateClientLastSeen('chatty'), 100);
  try {
    await waitFor(async () => !(await vigil.registry.getAllClients()).includes('silent'), { what: 'silent client removed', timeoutMs: 3_000 });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 350 && elapsed <= 1_200, `removed after ${elapsed} ms (timeout 400 ms, interval 100 ms)`);
    assert.deepEqual(await vigil.registry.getClientMetadata('silent'), {});
    await new Promise((r) => setTimeout(r, 600));
    assert.ok((await vigil.registry.getAllClients()).includes('chatty'));
  } finally {
    clearInterval(chatter);
  }
});

test('cleanup loop survives a failing round', async () => {
  let calls = 0;
  const failing = { removeSilentClients: async () => { calls++; throw new Error('boom'); } };
  const loop = startCleanupLoop(failing as never, { intervalMs: 20, timeoutMs: 10 });
  await waitFor(() => calls >= 3, { what: 'rounds after a failure' });
  loop.stop();
  assert.ok(calls >= 3);
});

test('frame bytes stay out of the AOF: after a Redis restart the old frame is not served, its number and the client are kept', async () => {
  const marker = Buffer.from(`frame-marker-${randomUUID()}`);
  const frame = Buffer.concat([jpeg, marker]);
  const first = await vigil.registry.storeFrame('aof-client', frame, 'jpeg');
  assert.equal((await vigil.registry.getClientImage('aof-client'))?.frameNumber, first);
  await server.stop(); // SIGTERM: redis-server flushes its AOF
  const aofDir = join(redisDir, 'appendonlydir');
  const aof = Buffer.concat(await Promise.all((await readdir(aofDir)).map((f) => readFile(join(aofDir, f)))));
  assert.ok(aof.includes(Buffer.from('aof-client')), 'the AOF holds the frame\'s metadata and presence');
  assert.ok(!aof.includes(marker), 'the AOF does not hold the frame bytes');
  await server.start();
  await waitFor(async () => (await health()).status === 200, { what: 'healthy after restart' });
  assert.equal(await vigil.registry.getClientImage('aof-client'), undefined, 'no stale frame after the restart');
  assert.ok((await vigil.registry.getAllClients()).includes('aof-client'));
  const next = await vigil.registry.storeFrame('aof-client', jpeg, 'jpeg');
  assert.equal(next, first + 1, 'frame numbers go on from the persisted one');
  assert.equal((await vigil.registry.getClientImage('aof-client'))?.frameNumber, next);
});

test('actions survive a Redis restart (AOF) and are delivered afterwards', async () => {
  const token = await vigil.tokens.issue('ivan');
  const data = new ClientsData(vigil.redis.redis, vigil.keys, 'ivan');
  const first = action();
  await data.enqueueAction(first);
  await server.stop();
  await server.start();
  await waitFor(() => vigil.redis.redis.status === 'ready' && vigil.redis.subscriber.status === 'ready', { what: 'reconnect', timeoutMs: 8_000 });
  const agent = new AgentClient({ url: vigil.wsUrl, clientId: 'ivan', token, reconnect: false });
  const got: string[] = [];
  agent.on('action', (a) => got.push(a.id));
  agent.start();
  await waitFor(() => got.includes(first.id), { what: 'action after restart' });
  // Pub/sub was re-subscribed: a new action still arrives live.
  const second = action();
  await data.enqueueAction(second);
  await waitFor(() => got.includes(second.id), { what: 'live action after restart' });
  await waitFor(async () => (await data.pendingActions()).length === 0, { what: 'acks' });
  await agent.stop();
});

test('Redis down: sockets stay open, frames get `degraded`, /health is unhealthy; all resumes when Redis is back', async () => {
  const token = await vigil.tokens.issue('judy');
  const agent = new AgentClient({ url: vigil.wsUrl, clientId: 'judy', token, frames: [jpeg], fps: 10, frameAcks: true });
  const errors: string[] = [];
  const closes: number[] = [];
  agent.on('serverError', (e) => errors.push(e.code));
  agent.on('close', (c) => closes.push(c.code));
  agent.start();
  await agent.ready();

  await server.stop();
  await waitFor(() => errors.includes('degraded'), { what: 'degraded answers' });
  const down = await health();
  assert.equal(down.status, 503);
  assert.equal(down.body.status, 'unhealthy');
  assert.deepEqual(closes, [], 'the agent socket stays open while Redis is down');

  await server.start();
  let stored = 0;
  agent.on('stored', () => stored++);
  await waitFor(() => stored >= 3, { what: 'frames stored again', timeoutMs: 10_000 });
  const up = await health();
  assert.equal(up.status, 200);
  assert.ok(up.body.gateway.framesStored > 0);
  assert.deepEqual(closes, []);
  await agent.stop();
});

test('an action enqueued while the agent is away survives a Redis crash after AOF fsync', async () => {
  const token = await vigil.tokens.issue('kate');
  const queued = action();
  await new ClientsData(vigil.redis.redis, vigil.keys, 'kate').enqueueAction(queued);
  // appendfsync everysec: wait past one fsync, then kill -9 (no chance to flush on exit).
  await new Promise((r) => setTimeout(r, 1_500));
  server.kill();
  await server.start();
  await waitFor(() => vigil.redis.redis.status === 'ready', { what: 'reconnect', timeoutMs: 8_000 });
  const agent = new AgentClient({ url: vigil.wsUrl, clientId: 'kate', token, reconnect: false });
  const got: string[] = [];
  agent.on('action', (a) => got.push(a.id));
  agent.start();
  await waitFor(() => got.includes(queued.id), { what: 'action after crash' });
  await agent.stop();
});
