import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { startTestRedis, testConfig, connectTest, waitFor, randomNamespace } from '../helpers/redis.js';
import { registerClientsCommands } from '../../src/cli/commands/clients.js';
import { formatStatusFile } from '../../src/clients/statusFiles.js';
import { Reason } from '../../src/domain/action.js';
import { managers, pendingReasons, serverDataDir, statusField, tempDataDir } from './helpers.js';

const { server } = await startTestRedis();

/** Runs `vigil clients ...` in-process with its own environment; returns what it printed. */
async function vigil(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('vigil').exitOverride();
  registerClientsCommands(program, { env: { LOG_LEVEL: 'silent', ...env }, out: (l) => out.push(l), err: (l) => err.push(l) });
  await program.parseAsync(args, { from: 'user' });
  return { out, err };
}

test('without REDIS_URL the CLI edits the files; list reads them', async () => {
  const dataDir = await tempDataDir(['ann', 'bob']);
  const env = { DATA_DIR: dataDir, NAMESPACE: randomNamespace() };
  const dir = serverDataDir(testConfig(env));
  assert.deepEqual((await vigil(env, 'clients', 'pause', 'ann')).out[0]?.startsWith('paused ann'), true);
  assert.equal(await readFile(join(dir, 'pause_clients.json'), 'utf8'), formatStatusFile(['ann']));
  assert.deepEqual((await vigil(env, 'clients', 'pause', 'ann')).out, ['ann was already paused']);
  await vigil(env, 'clients', 'block', 'bob');
  const listed = JSON.parse((await vigil(env, 'clients', 'list', '--json')).out.join('\n')) as { clients: { id: string; state: string }[] };
  assert.deepEqual(listed.clients.map((c) => [c.id, c.state]), [['ann', 'paused'], ['bob', 'blocked']]);
  const table = (await vigil(env, 'clients', 'list')).out;
  assert.match(table[0]!, /^CLIENT\s+STATE\s+ALL STATES\s+ENROLLED\s+CONNECTED$/);
  assert.match(table[1]!, /^ann\s+paused\s+paused,deactivated\s+yes\s+no$/);
  await vigil(env, 'clients', 'resume', 'ann');
  assert.equal(await readFile(join(dir, 'pause_clients.json'), 'utf8'), formatStatusFile([]));

  await assert.rejects(vigil(env, 'clients', 'pause', '../x'), /is not a client id/);
  await assert.rejects(vigil(env, 'clients', 'pause', 'nobody'), /no client nobody/);
  await writeFile(join(dir, 'blocked_clients.json'), '{"clients": [');
  await assert.rejects(vigil(env, 'clients', 'unblock', 'bob'), /blocked_clients\.json: not valid JSON at line 1 column 14 \(position 13\)/);
  const warned = await vigil(env, 'clients', 'list');
  assert.match(warned.err[0]!, /^warning: blocked_clients\.json: not valid JSON/);
});

test('with REDIS_URL the CLI changes Redis, tells the agent, and the file is written with or without a manager', async (t) => {
  const mgrs = managers(t);
  const dataDir = await tempDataDir(['ann', 'bob']);
  const env = { DATA_DIR: dataDir, NAMESPACE: randomNamespace(), REDIS_URL: server.url };
  const config = testConfig(env);
  const { redis, keys } = await connectTest(server, config);
  const file = join(serverDataDir(config), 'pause_clients.json');

  // No manager runs: the CLI writes the file itself, under the manager lock.
  const first = await vigil(env, 'clients', 'pause', 'ann');
  assert.match(first.out[0]!, /^paused ann \(written to pause_clients\.json\)$/);
  assert.deepEqual(await statusField(redis, keys, 'paused_clients'), ['ann']);
  assert.deepEqual(await pendingReasons(redis, keys, 'ann'), [Reason.REASON_PAUSED_CLIENT]);
  assert.equal(await readFile(file, 'utf8'), formatStatusFile(['ann']));
  assert.equal(await redis.exists(keys.lock('status-manager')), 0, 'the CLI released the lock');

  // A manager runs: it writes the file.
  const mgr = await mgrs.start(config, redis, keys);
  const second = await vigil(env, 'clients', 'pause', 'bob');
  assert.match(second.out[0]!, /^paused bob \(the running status manager writes the file\)$/);
  await waitFor(async () => (await readFile(file, 'utf8')) === formatStatusFile(['ann', 'bob']), { timeoutMs: 1_000, what: 'manager writes the file' });
  const listed = JSON.parse((await vigil(env, 'clients', 'list', '--json')).out.join('\n')) as { clients: { id: string; state: string }[] };
  assert.deepEqual(listed.clients.map((c) => c.state), ['paused', 'paused']);
  assert.equal(mgr.isLeader(), true);
});
