import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestRedis, testConfig, connectTest, waitFor } from '../helpers/redis.js';
import { createConnection } from '../../src/redis/connections.js';
import { Reason } from '../../src/domain/action.js';
import { ManagerLock } from '../../src/clients/managerLock.js';
import { formatStatusFile } from '../../src/clients/statusFiles.js';
import { pendingReasons, serverDataDir, managers, statusField, tempDataDir } from './helpers.js';

const { server, dir: redisDir } = await startTestRedis();

test('the lock: owner-checked renew and release, taken over when the lease ends', async () => {
  const config = testConfig();
  const { redis, keys } = await connectTest(server, config);
  const key = keys.lock('status-manager');
  const a = new ManagerLock(redis, key, 300);
  const b = new ManagerLock(redis, key, 300);
  assert.equal(await a.acquire(), true);
  assert.equal(await b.acquire(), false);
  assert.equal(await b.release(), false, 'b never held it');
  assert.equal(await redis.get(key), a.owner);
  assert.equal(await a.acquire(), true, 'the holder keeps it');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(await a.acquire(), true, 'past a third of the lease, acquire renews');
  assert.ok((await redis.pttl(key)) > 250, 'the lease was extended');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(await b.acquire(), true, 'the lease ended: b takes it');
  assert.equal(await a.renew(), false, 'a cannot renew b\'s lock');
  assert.equal(a.held, false);
  assert.equal(await a.release(), false);
  assert.equal(await redis.get(key), b.owner, 'a did not delete b\'s lock');
  assert.equal(await b.release(), true);
  assert.equal(await redis.exists(key), 0);
});

test('a standby manager takes over within a few seconds when the holder dies', async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir(['ann']), STATUS_LOCK_TTL_MS: 1_000 });
  const b = await connectTest(server, config);
  // The first manager has a connection of its own, cut below to simulate its death.
  const doomed = createConnection(config, server.url, 'normal');
  await doomed.connect();
  const m1 = await mgrs.start(config, doomed, b.keys);
  const m2 = await mgrs.start(config, b.redis, b.keys);
  assert.equal(m1.isLeader(), true);
  assert.equal(m2.isLeader(), false);

  const died = performance.now();
  doomed.disconnect();
  await waitFor(() => m2.isLeader(), { timeoutMs: 5_000, what: 'takeover' });
  const takeoverMs = performance.now() - died;
  console.log(`takeover after the holder died: ${takeoverMs.toFixed(0)} ms (lock TTL 1000 ms, cycle 500 ms, 2 shared cores)`);
  assert.ok(takeoverMs < 3_000);

  await m2.service.pause('ann');
  const file = join(serverDataDir(config), 'pause_clients.json');
  await waitFor(async () => (await readFile(file, 'utf8')) === formatStatusFile(['ann']), { timeoutMs: 1_000, what: 'new holder writes the file' });
});

test('states survive a restart of the manager, edits made while it was down are applied, Redis lost is rebuilt', async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir(['ann', 'bob', 'cat', 'dan']) });
  const { redis, keys } = await connectTest(server, config);
  const files = serverDataDir(config);

  const m1 = await mgrs.start(config, redis, keys);
  await m1.service.pause('ann');
  await m1.service.block('bob');
  await m1.hooks.onTelemetry!({ clientId: 'cat', event: 'network_lost', at: 1, receivedAt: 1 });
  await m1.stop();
  assert.equal(await readFile(join(files, 'pause_clients.json'), 'utf8'), formatStatusFile(['ann']), 'stop waits for the files');

  // Edited while Vigil was down: applied at start, with the agent told.
  await writeFile(join(files, 'pause_clients.json'), JSON.stringify({ clients: ['ann', 'dan'] }));
  const m2 = await mgrs.start(config, redis, keys);
  assert.deepEqual(await statusField(redis, keys, 'paused_clients'), ['ann', 'dan']);
  assert.deepEqual(await pendingReasons(redis, keys, 'dan'), [Reason.REASON_PAUSED_CLIENT]);
  await m2.stop();

  // Redis lost everything of this namespace: rebuilt from the files, and nobody is messaged again.
  await redis.del(keys.clientsStatus, keys.clientsStatusSynced, keys.actions('dan'));
  const m3 = await mgrs.start(config, redis, keys);
  assert.deepEqual(await statusField(redis, keys, 'paused_clients'), ['ann', 'dan']);
  assert.deepEqual(await statusField(redis, keys, 'blocked_clients'), ['bob']);
  assert.deepEqual(await statusField(redis, keys, 'connecting_internet_error'), ['cat']);
  assert.deepEqual(await statusField(redis, keys, 'deactivate_clients'), ['ann', 'bob', 'cat', 'dan']);
  assert.deepEqual(await pendingReasons(redis, keys, 'dan'), []);
  assert.equal((await m3.service.get('bob')).state, 'blocked');
});

test('states survive a restart of Redis, with and without its data', async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir(['ann', 'bob']) });
  const { redis, keys } = await connectTest(server, config);
  const mgr = await mgrs.start(config, redis, keys);
  const file = join(serverDataDir(config), 'blocked_clients.json');
  await mgr.service.block('ann');
  await waitFor(async () => (await readFile(file, 'utf8')) === formatStatusFile(['ann']), { timeoutMs: 1_000, what: 'file' });

  const ready = () => waitFor(() => redis.status === 'ready', { timeoutMs: 10_000, what: 'reconnect' });
  // A restart keeps the data (AOF).
  await server.stop();
  await server.start();
  await ready();
  assert.deepEqual(await statusField(redis, keys, 'blocked_clients'), ['ann']);

  // A restart that lost the data: the running manager rebuilds Clients_status from the files.
  await server.stop();
  for (const name of await readdir(redisDir)) await rm(join(redisDir, name), { recursive: true, force: true });
  await server.start();
  await ready();
  await waitFor(async () => (await statusField(redis, keys, 'blocked_clients').catch((): string[] => [])).includes('ann'), { timeoutMs: 2_000, what: 'rebuilt after data loss' });
  const refused = await mgr.hooks.admit!('ann');
  assert.equal(refused.admitted, false);

  // And it goes on working.
  await mgr.service.block('bob');
  await waitFor(async () => (await readFile(file, 'utf8')) === formatStatusFile(['ann', 'bob']), { timeoutMs: 1_000, what: 'file after restart' });
});
