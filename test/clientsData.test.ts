import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRedis, testConfig, connectTest } from './helpers/redis.js';
import { ClientsData } from '../src/clients/clientsData.js';
import { Action, Reason } from '../src/domain/action.js';
import type { ActionMessage } from '../src/domain/protocol.js';

const { server } = await startTestRedis();

function action(id: string): ActionMessage {
  return { type: 'action', id, action: Action.ACTION_WARNING, reason: Reason.REASON_NO_FACE, message: 'x', at: 1 };
}

test('ClientsData: existence, queues in order, metadata, delete', async () => {
  const { redis, keys } = await connectTest(server, testConfig());
  const data = new ClientsData(redis, keys, 'alice');
  assert.equal(await data.clientExists(), false);
  await data.markExists();
  assert.equal(await data.clientExists(), true);

  await data.enqueueReceivedData({ n: 1 });
  await data.enqueueReceivedData({ n: 2 });
  assert.deepEqual(await data.dequeueReceivedData(), { n: 1 });
  assert.deepEqual(await data.dequeueReceivedData(), { n: 2 });
  assert.equal(await data.dequeueReceivedData(), undefined);

  await data.enqueueAction(action('a1'));
  await data.enqueueAction(action('a2'));
  assert.deepEqual((await data.pendingActions()).map((a) => a.id), ['a1', 'a2']);
  assert.equal(await data.ackAction('a1'), true);
  assert.equal(await data.ackAction('a1'), false, 'a second ack finds nothing');
  assert.deepEqual((await data.dequeueAction())?.id, 'a2');
  assert.equal(await data.dequeueAction(), undefined);

  await data.setMetadata({ username: 'alice', status: 'active', n: 3 });
  assert.deepEqual(await data.getMetadata(), { username: 'alice', status: 'active', n: '3' });

  await data.enqueueAction(action('a3'));
  await data.deleteClient();
  assert.equal(await data.clientExists(), false);
  assert.deepEqual(await data.getMetadata(), {});
  assert.deepEqual(await data.pendingActions(), []);
});

test('ClientsData: clients are isolated from each other and across namespaces', async () => {
  const config = testConfig();
  const { redis, keys } = await connectTest(server, config);
  const other = await connectTest(server, testConfig());
  await new ClientsData(redis, keys, 'bob').enqueueAction(action('b1'));
  assert.deepEqual(await new ClientsData(redis, keys, 'carol').pendingActions(), []);
  assert.deepEqual(await new ClientsData(other.redis, other.keys, 'bob').pendingActions(), []);
});
