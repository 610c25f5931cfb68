import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestRedis, testConfig, connectTest, waitFor } from '../helpers/redis.js';
import { Reason } from '../../src/domain/action.js';
import { formatStatusFile } from '../../src/clients/statusFiles.js';
import { pendingReasons, serverDataDir, managers, silentLog, statusField, tempDataDir } from './helpers.js';
import { startStatusManager } from '../../src/clients/statusManager.js';

const { server } = await startTestRedis();

test('a hand edit reaches Redis and the agent within 1 s', async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir(['ann', 'bob', 'cat']) });
  const { redis, keys } = await connectTest(server, config);
  const mgr = await mgrs.start(config, redis, keys);
  const dir = serverDataDir(config);

  const timings: number[] = [];
  for (const [file, field, ids] of [
    ['pause_clients.json', 'paused_clients', ['ann', 'bob']],
    ['blocked_clients.json', 'blocked_clients', ['cat']],
    ['pause_clients.json', 'paused_clients', ['bob']],
  ] as const) {
    const started = performance.now();
    // Not atomic, as an editor writes: the manager must not read half a file as the truth.
    await writeFile(join(dir, file), JSON.stringify({ clients: ids }));
    await waitFor(async () => JSON.stringify(await statusField(redis, keys, field)) === JSON.stringify(ids), { timeoutMs: 1_000, what: `${field} = ${ids}` });
    timings.push(performance.now() - started);
  }
  console.log(`hand edit -> Redis: ${timings.map((ms) => ms.toFixed(0)).join(', ')} ms (2 shared cores)`);
  assert.deepEqual(await pendingReasons(redis, keys, 'ann'), [Reason.REASON_PAUSED_CLIENT, Reason.REASON_RESUME_CLIENT]);
  assert.deepEqual(await pendingReasons(redis, keys, 'bob'), [Reason.REASON_PAUSED_CLIENT]);
  assert.deepEqual(await pendingReasons(redis, keys, 'cat'), [Reason.REASON_BLOCKED_CLIENT]);
  assert.deepEqual((await mgr.service.get('cat')).state, 'blocked');
  // Editing a file by hand leaves its content alone (no reformatting behind the admin's back).
  assert.equal(await readFile(join(dir, 'pause_clients.json'), 'utf8'), JSON.stringify({ clients: ['bob'] }));

  // Deleting a file by hand empties that list (the seed reads a missing file as no clients).
  await unlink(join(dir, 'pause_clients.json'));
  await waitFor(async () => (await statusField(redis, keys, 'paused_clients')).length === 0, { timeoutMs: 1_000, what: 'paused emptied' });
  await waitFor(async () => (await readFile(join(dir, 'pause_clients.json'), 'utf8').catch(() => '')) === formatStatusFile([]), { timeoutMs: 1_000, what: 'file recreated' });
});

test('a bad file is reported, the last good state stays, the file is kept until fixed or changed through the API', async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir(['ann', 'bob', 'cat']) });
  const { redis, keys } = await connectTest(server, config);
  const mgr = await mgrs.start(config, redis, keys);
  const file = join(serverDataDir(config), 'pause_clients.json');

  await mgr.service.pause('ann');
  await waitFor(async () => (await readFile(file, 'utf8')) === formatStatusFile(['ann']), { timeoutMs: 1_000, what: 'file written' });

  const broken = '{\n  "clients": [\n    "ann",\n    "bob"\n';
  await writeFile(file, broken);
  await mgr.syncNow();
  await mgr.syncNow();
  assert.deepEqual(await statusField(redis, keys, 'paused_clients'), ['ann'], 'the last good state stays in force');
  assert.equal(await readFile(file, 'utf8'), broken, 'the bad file is not overwritten');
  const { problems } = await mgr.service.list();
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.file, 'pause_clients.json');
  assert.equal(problems[0]!.line, 5);
  assert.match(problems[0]!.message, /^pause_clients\.json: not valid JSON at line 5 column 1 \(position 38\)/);

  // Fixed by hand: picked up.
  await writeFile(file, '{"clients": ["ann", "bob"]}');
  await waitFor(async () => (await statusField(redis, keys, 'paused_clients')).length === 2, { timeoutMs: 1_000, what: 'fixed file picked up' });
  assert.deepEqual((await mgr.service.list()).problems, []);

  // Broken in shape this time, then the admin changes the list through the API: the file gets that state.
  await writeFile(file, '{"clients": ["ann", 42]}');
  await mgr.syncNow();
  assert.match((await mgr.service.list()).problems[0]!.message, /\$\.clients\[1\]: 42 is not a string/);
  assert.deepEqual(await statusField(redis, keys, 'paused_clients'), ['ann', 'bob']);
  await mgr.service.pause('cat');
  await waitFor(async () => (await readFile(file, 'utf8')) === formatStatusFile(['ann', 'bob', 'cat']), { timeoutMs: 1_000, what: 'API change overwrites the bad file' });
});

test('API changes from two managers and a hand edit at the same time: none is lost', async (t) => {
  const mgrs = managers(t);
  const users = Array.from({ length: 40 }, (_, i) => `u${String(i).padStart(2, '0')}`);
  const config = testConfig({ DATA_DIR: await tempDataDir([...users, 'hand1', 'hand2']) });
  const a = await connectTest(server, config);
  const b = await connectTest(server, config);
  const m1 = await mgrs.start(config, a.redis, a.keys);
  const m2 = await mgrs.start(config, b.redis, b.keys);
  assert.equal([m1.isLeader(), m2.isLeader()].filter(Boolean).length, 1, 'exactly one manager holds the lock');
  const file = join(serverDataDir(config), 'blocked_clients.json');

  // Half the users through each manager, all at once, while an admin edits the file by hand.
  const calls = users.map((u, i) => (i % 2 ? m1 : m2).service.block(u));
  await writeFile(file, JSON.stringify({ clients: ['hand1', 'hand2'] }));
  await Promise.all(calls);
  const expected = [...users, 'hand1', 'hand2'].sort();
  await waitFor(async () => JSON.stringify(await statusField(a.redis, a.keys, 'blocked_clients')) === JSON.stringify(expected), { timeoutMs: 2_000, what: 'every block in Redis' });
  await waitFor(async () => (await readFile(file, 'utf8')) === formatStatusFile(expected), { timeoutMs: 2_000, what: 'every block in the file' });

  // And the same the other way round.
  await Promise.all(users.map((u, i) => (i % 2 ? m2 : m1).service.unblock(u)));
  await waitFor(async () => (await readFile(file, 'utf8')) === formatStatusFile(['hand1', 'hand2']), { timeoutMs: 2_000, what: 'every unblock in the file' });
  assert.deepEqual(await statusField(a.redis, a.keys, 'blocked_clients'), ['hand1', 'hand2']);
});

test('an API change reaches the file within a cycle, from the lock holder\'s process or another', async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir(['ann', 'bob', 'cat', 'dan']) });
  const a = await connectTest(server, config);
  const b = await connectTest(server, config);
  const leader = await mgrs.start(config, a.redis, a.keys, a.subscriber);
  const other = await mgrs.start(config, b.redis, b.keys, b.subscriber);
  assert.equal(leader.isLeader(), true);
  const file = join(serverDataDir(config), 'pause_clients.json');
  const timings: string[] = [];
  const expected: string[] = [];
  for (const [mgr, id, where] of [[leader, 'ann', 'same process'], [other, 'bob', 'other process'], [leader, 'cat', 'same process'], [other, 'dan', 'other process']] as const) {
    const started = performance.now();
    await mgr.service.pause(id);
    expected.push(id);
    await waitFor(async () => (await readFile(file, 'utf8')) === formatStatusFile(expected), { timeoutMs: 1_000, intervalMs: 5, what: `${id} in the file` });
    timings.push(`${where} ${(performance.now() - started).toFixed(0)} ms`);
  }
  console.log(`API change -> file: ${timings.join(', ')} (2 shared cores)`);
  assert.equal(timings.length, 4);
});

test('without the file watcher, the 0.5 s cycle alone picks a hand edit up', async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir(['ann']) });
  const { redis, keys } = await connectTest(server, config);
  await mgrs.start(config, redis, keys, undefined, false);
  const started = performance.now();
  await writeFile(join(serverDataDir(config), 'blocked_clients.json'), '{"clients": ["ann"]}');
  await waitFor(async () => (await statusField(redis, keys, 'blocked_clients')).includes('ann'), { timeoutMs: 1_000, what: 'cycle picks the edit up' });
  console.log(`hand edit -> Redis by the cycle alone: ${(performance.now() - started).toFixed(0)} ms (cycle 500 ms, 2 shared cores)`);
  assert.deepEqual(await pendingReasons(redis, keys, 'ann'), [Reason.REASON_BLOCKED_CLIENT]);
});

test('manage: false (a gateway-only process) serves changes and hooks but never runs the cycle', async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir(['ann']), STATUS_LOCK_TTL_MS: 500 });
  const { redis, keys } = await connectTest(server, config);
  const gatewayOnly = await startStatusManager({ config, log: silentLog, redis, keys, manage: false });
  t.after(() => gatewayOnly.stop());
  const file = join(serverDataDir(config), 'pause_clients.json');
  await gatewayOnly.service.pause('ann');
  await gatewayOnly.hooks.onConnect!('ann', { address: '', agent: '' });
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(gatewayOnly.isLeader(), false);
  assert.equal(await redis.exists(keys.lock('status-manager')), 0, 'it never took the lock');
  assert.equal(await readFile(file, 'utf8').catch(() => 'none'), 'none', 'nor wrote a file');
  // A manager process writes what the gateway-only process did.
  await mgrs.start(config, redis, keys);
  assert.equal(await readFile(file, 'utf8'), formatStatusFile(['ann']));
  assert.deepEqual(await statusField(redis, keys, 'active_clients'), ['ann']);
});
