import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestRedis, testConfig, connectTest, waitFor } from '../helpers/redis.js';
import { Action, Reason } from '../../src/domain/action.js';
import { CloseCode, type ActionMessage } from '../../src/domain/protocol.js';
import { closeBlockedAgents } from '../../src/clients/statusGateway.js';
import { NOT_AVAILABLE_CLOSE_CODE } from '../../src/clients/statusPolicy.js';
import { BadRequestError, NotFoundError } from '../../src/clients/statusService.js';
import { ClientsData } from '../../src/clients/clientsData.js';
import { createConnection } from '../../src/redis/connections.js';
import { StatusStore } from '../../src/clients/statusStore.js';
import { StatusEffects } from '../../src/clients/statusEffects.js';
import { createStatusHooks } from '../../src/clients/statusHooks.js';
import { collectEvents, pendingReasons, serverDataDir, managers, statusField, tempDataDir } from './helpers.js';

const { server } = await startTestRedis();

async function fileClients(dir: string, name: string): Promise<string[]> {
  return (JSON.parse(await readFile(join(dir, name), 'utf8')) as { clients: string[] }).clients;
}

test("every transition of seed 001's state diagram, through the hooks and the API", async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir(['ann', 'bob']), BLOCKED_CLIENT_ACTION: 'ACTION_SIGN_OUT' });
  const { redis, subscriber, keys } = await connectTest(server, config);
  const events = await collectEvents(subscriber, keys);
  const mgr = await mgrs.start(config, redis, keys);
  const dir = serverDataDir(config);
  const { service, hooks } = mgr;
  const state = async (id: string) => (await service.get(id)).state;
  const fileHas = (name: string, id: string) => waitFor(async () => (await fileClients(dir, name)).includes(id), { timeoutMs: 1_000, what: `${id} in ${name}` });
  const fileLacks = (name: string, id: string) => waitFor(async () => !(await fileClients(dir, name)).includes(id), { timeoutMs: 1_000, what: `${id} not in ${name}` });

  // [*] -> Available: an enrolled user with no agent is available, hence deactivated by the formula.
  assert.equal(mgr.isLeader(), true);
  assert.equal(await state('ann'), 'deactivated');
  assert.deepEqual(await fileClients(dir, 'deactivate_clients.json'), ['ann', 'bob']);
  assert.deepEqual(await fileClients(dir, 'pause_clients.json'), [], 'missing files are created empty, as in the seed');

  // Available -> Active: the client connects.
  assert.deepEqual(await hooks.admit!('ann'), { admitted: true });
  await hooks.onConnect!('ann', { address: '127.0.0.1', agent: 'test' });
  await fileHas('active_clients.json', 'ann');
  await fileLacks('deactivate_clients.json', 'ann');
  assert.equal(await state('ann'), 'active');
  assert.deepEqual(await statusField(redis, keys, 'active_clients'), ['ann']);

  // Active -> Paused: the admin pauses; the scheduler's field changes at once, the agent is told, the file follows.
  const paused = await service.pause('ann');
  assert.equal(paused.changed, true);
  assert.deepEqual(await statusField(redis, keys, 'paused_clients'), ['ann']);
  assert.deepEqual(await pendingReasons(redis, keys, 'ann'), [Reason.REASON_PAUSED_CLIENT]);
  await fileHas('pause_clients.json', 'ann');
  assert.equal(await state('ann'), 'paused');
  assert.equal((await service.pause('ann')).changed, false, 'pausing twice changes nothing');
  assert.deepEqual(await pendingReasons(redis, keys, 'ann'), [Reason.REASON_PAUSED_CLIENT]);

  // Paused -> Active: the admin resumes.
  await service.resume('ann');
  assert.deepEqual(await statusField(redis, keys, 'paused_clients'), []);
  assert.deepEqual(await pendingReasons(redis, keys, 'ann'), [Reason.REASON_PAUSED_CLIENT, Reason.REASON_RESUME_CLIENT]);
  await fileLacks('pause_clients.json', 'ann');
  assert.equal(await state('ann'), 'active');

  // Active -> Blocked: the agent is told with the configured action, the gateway is asked to close it,
  // new connections are refused, and the formula counts it as deactivated.
  await service.block('ann');
  const queued = await new ClientsData(redis, keys, 'ann').pendingActions();
  const blockedAction = queued.find((a) => a.reason === Reason.REASON_BLOCKED_CLIENT);
  assert.equal(blockedAction?.action, Action.ACTION_SIGN_OUT);
  await waitFor(() => events.find((e) => e.client === 'ann' && e.state === 'blocked'), { what: 'blocked event' });
  assert.equal(events.find((e) => e.state === 'blocked')?.action?.id, blockedAction?.id, 'the event carries the action to send before closing');
  await fileHas('blocked_clients.json', 'ann');
  await waitFor(async () => (await statusField(redis, keys, 'clients_to_close')).includes('ann'), { timeoutMs: 1_000, what: 'clients_to_close' });
  await fileHas('deactivate_clients.json', 'ann');
  assert.equal(await state('ann'), 'blocked');
  const refused = await hooks.admit!('ann');
  assert.ok(!refused.admitted);
  assert.equal(refused.closeCode, CloseCode.BLOCKED);
  assert.equal(refused.action?.reason, Reason.REASON_BLOCKED_CLIENT);
  assert.equal(refused.action?.action, Action.ACTION_SIGN_OUT);
  // The gateway closes it; the manager clears clients_to_close once it is gone.
  await hooks.onDisconnect!('ann', { abnormal: false, code: CloseCode.BLOCKED });
  await waitFor(async () => (await statusField(redis, keys, 'clients_to_close')).length === 0, { timeoutMs: 1_000, what: 'clients_to_close cleared' });

  // Blocked -> [*]: unblocked; the stale BLOCKED action is dropped so it cannot lock the agent later.
  await service.unblock('ann');
  assert.deepEqual(await pendingReasons(redis, keys, 'ann'), [Reason.REASON_PAUSED_CLIENT, Reason.REASON_RESUME_CLIENT]);
  await fileLacks('blocked_clients.json', 'ann');
  assert.deepEqual(await hooks.admit!('ann'), { admitted: true });
  assert.equal(await state('ann'), 'deactivated');

  // Active -> Deactivated: the client disconnects normally.
  await hooks.onConnect!('bob', { address: '127.0.0.1', agent: 'test' });
  await fileHas('active_clients.json', 'bob');
  await hooks.onDisconnect!('bob', { abnormal: false, code: 1000 });
  await fileLacks('active_clients.json', 'bob');
  await fileHas('deactivate_clients.json', 'bob');
  assert.equal(await state('bob'), 'deactivated');
  assert.deepEqual(await fileClients(dir, 'Network_Action.json'), []);

  // Active -> Connection_Error (telemetry) -> Active (network restored).
  await hooks.onConnect!('bob', { address: '127.0.0.1', agent: 'test' });
  await hooks.onTelemetry!({ clientId: 'bob', event: 'network_lost', at: Date.now(), receivedAt: Date.now() });
  await fileHas('Network_Action.json', 'bob');
  assert.equal(await state('bob'), 'connection_error');
  await hooks.onTelemetry!({ clientId: 'bob', event: 'network_restored', at: Date.now(), receivedAt: Date.now() });
  await fileLacks('Network_Action.json', 'bob');
  assert.equal(await state('bob'), 'active');

  // Active -> Connection_Error (connection lost abnormally) -> Active (reconnect).
  await hooks.onDisconnect!('bob', { abnormal: true, code: 1006 });
  await fileHas('Network_Action.json', 'bob');
  assert.deepEqual((await service.get('bob')).states, ['connection_error', 'deactivated']);
  await hooks.onConnect!('bob', { address: '127.0.0.1', agent: 'test' });
  await fileLacks('Network_Action.json', 'bob');
  assert.equal(await state('bob'), 'active');

  for (const s of ['paused', 'resumed', 'blocked', 'unblocked', 'active', 'inactive', 'deactivated', 'connection_error', 'connection_restored']) {
    assert.ok(events.some((e) => e.state === s), `a ${s} event was published`);
  }
});

test('ids are validated and unknown clients are refused', async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir(['ann']) });
  const { redis, keys } = await connectTest(server, config);
  const mgr = await mgrs.start(config, redis, keys);
  await assert.rejects(mgr.service.pause('../etc'), BadRequestError);
  await assert.rejects(mgr.service.block('a b'), BadRequestError);
  await assert.rejects(mgr.service.pause('nobody'), NotFoundError);
  await assert.rejects(mgr.service.get('nobody'), (err: NotFoundError) => err.statusCode === 404);

  const refused = await mgr.hooks.admit!('stranger');
  assert.ok(!refused.admitted);
  assert.equal(refused.closeCode, NOT_AVAILABLE_CLOSE_CODE);
  assert.equal(refused.action?.reason, Reason.REASON_CLIENT_NOT_AVAILABLE);
});

test('UNENROLLED_CLIENTS=warn lets an unknown agent in with a warning', async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir([]), UNENROLLED_CLIENTS: 'warn' });
  const { redis, keys } = await connectTest(server, config);
  const mgr = await mgrs.start(config, redis, keys);
  assert.deepEqual(await mgr.hooks.admit!('stranger'), { admitted: true });
  assert.deepEqual(await pendingReasons(redis, keys, 'stranger'), [Reason.REASON_CLIENT_NOT_AVAILABLE]);
  await mgr.hooks.onConnect!('stranger', { address: '', agent: '' });
  await mgr.syncNow();
  const listed = await mgr.service.list();
  assert.deepEqual(listed.clients.map((c) => [c.id, c.state, c.enrolled]), [['stranger', 'active', false]]);
  // An agent reconnecting while paused is told again, once.
  await mgr.service.pause('stranger');
  await mgr.hooks.onConnect!('stranger', { address: '', agent: '' });
  assert.deepEqual(await pendingReasons(redis, keys, 'stranger'), [Reason.REASON_CLIENT_NOT_AVAILABLE, Reason.REASON_PAUSED_CLIENT]);
});

test("a crashed gateway's connections stop counting as active when its lease ends", async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir(['ann']) });
  const { redis, keys } = await connectTest(server, config);
  const mgr = await mgrs.start(config, redis, keys);
  // The gateway's own connection, cut below as if its process died.
  const doomed = createConnection(config, server.url, 'normal');
  await doomed.connect();
  const store = new StatusStore(doomed, keys);
  const effects = new StatusEffects(doomed, keys, store, { blockedAction: 'ACTION_LOCK_SCREEN' });
  const hooks = createStatusHooks({ redis: doomed, keys, store, effects, availableUsers: async () => ['ann'], blockedAction: 'ACTION_LOCK_SCREEN', unenrolled: 'refuse', leaseMs: 600 });
  t.after(() => hooks.close());
  await hooks.onConnect!('ann', { address: '', agent: '' });
  await waitFor(async () => (await mgr.service.get('ann')).connected, { timeoutMs: 1_000, what: 'ann active' });
  await new Promise((r) => setTimeout(r, 700));
  assert.equal((await mgr.service.get('ann')).connected, true, 'a live gateway renews its lease');
  doomed.disconnect();
  await waitFor(async () => !(await mgr.service.get('ann')).connected, { timeoutMs: 2_000, what: 'ann inactive after the lease' });
  await waitFor(async () => (await statusField(redis, keys, 'active_clients')).length === 0, { timeoutMs: 1_000, what: 'active_clients emptied' });
  assert.equal((await mgr.service.get('ann')).state, 'deactivated');
});

test('closeBlockedAgents: a gateway sends the block action and closes the socket with 4003', async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir(['ann', 'bob']) });
  const { redis, subscriber, keys } = await connectTest(server, config);
  const mgr = await mgrs.start(config, redis, keys);
  const seen: string[] = [];
  const gateway = {
    connected: new Set(['ann', 'bob']),
    sendTo(id: string, msg: ActionMessage) {
      seen.push(`send ${id} ${msg.reason}`);
      return this.connected.has(id);
    },
    disconnect(id: string, code: number) {
      if (!this.connected.delete(id)) return false;
      seen.push(`close ${id} ${code}`);
      return true;
    },
  };
  await mgr.hooks.onConnect!('ann', { address: '', agent: '' });
  await mgr.hooks.onConnect!('bob', { address: '', agent: '' });
  const stop = closeBlockedAgents({ redis, subscriber, keys, gateway, pollMs: 100 });
  t.after(stop);
  await new Promise((r) => setTimeout(r, 50));
  await mgr.service.block('ann');
  await waitFor(() => seen.length === 2, { what: 'ann closed' });
  assert.deepEqual(seen, [`send ann ${Reason.REASON_BLOCKED_CLIENT}`, `close ann ${CloseCode.BLOCKED}`]);

  // A gateway that missed the message closes the client through clients_to_close.
  stop();
  await mgr.service.block('bob');
  await waitFor(async () => (await statusField(redis, keys, 'clients_to_close')).includes('bob'), { timeoutMs: 1_000, what: 'bob to close' });
  const stop2 = closeBlockedAgents({ redis, subscriber, keys, gateway, pollMs: 100 });
  t.after(stop2);
  await waitFor(() => seen.includes(`close bob ${CloseCode.BLOCKED}`), { timeoutMs: 1_000, what: 'bob closed by the poll' });
});

test('[*] -> Available when a user is enrolled; Deactivated -> Available stays counted until the user is removed', async (t) => {
  const mgrs = managers(t);
  const dataDir = await tempDataDir(['ann']);
  const config = testConfig({ DATA_DIR: dataDir });
  const { redis, keys } = await connectTest(server, config);
  await mgrs.start(config, redis, keys);
  const deactivated = () => statusField(redis, keys, 'deactivate_clients');
  assert.deepEqual(await deactivated(), ['ann']);
  // Enrolment (a folder in Users_DataBase) makes a client available; not connected, so deactivated by the formula.
  await mkdir(join(dataDir, 'Users_DataBase', 'cat'));
  await mkdir(join(dataDir, 'Users_DataBase', 'dummy'));
  await mkdir(join(dataDir, 'Users_DataBase', '.hidden'));
  await waitFor(async () => (await deactivated()).includes('cat'), { timeoutMs: 1_000, what: 'cat available' });
  assert.deepEqual(await deactivated(), ['ann', 'cat'], "the seed's dummy user and invalid names are not users");
  // Removing the user ends it.
  await rm(join(dataDir, 'Users_DataBase', 'cat'), { recursive: true });
  await waitFor(async () => !(await deactivated()).includes('cat'), { timeoutMs: 1_000, what: 'cat gone' });
});
