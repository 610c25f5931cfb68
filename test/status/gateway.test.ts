import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket, { WebSocketServer } from 'ws';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestRedis, testConfig, connectTest, waitFor } from '../helpers/redis.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { AgentTokenStore } from '../../src/gateway/tokens.js';
import { ClientRegistry } from '../../src/clients/registry.js';
import { closeBlockedAgents } from '../../src/clients/statusGateway.js';
import { NOT_AVAILABLE_CLOSE_CODE } from '../../src/clients/statusPolicy.js';
import { Action, Reason } from '../../src/domain/action.js';
import { CloseCode, type ActionMessage, type ServerMessage } from '../../src/domain/protocol.js';
import { managers, serverDataDir, silentLog, tempDataDir } from './helpers.js';

const { server } = await startTestRedis();

/** A bare agent socket recording what the server says. */
class Agent {
  readonly ws: WebSocket;
  readonly messages: ServerMessage[] = [];
  closed: { code: number; reason: string } | undefined;
  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (d, bin) => {
      if (bin) return;
      const msg = JSON.parse(d.toString()) as ServerMessage;
      this.messages.push(msg);
      // A real agent acks what it receives.
      if (msg.type === 'action') this.ws.send(JSON.stringify({ type: 'ack', id: msg.id }));
    });
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }
  async hello(client: string, token: string): Promise<void> {
    if (this.ws.readyState !== WebSocket.OPEN) await new Promise((r) => this.ws.once('open', r));
    this.ws.send(JSON.stringify({ type: 'hello', v: 1, client, token }));
  }
  actions(): ActionMessage[] {
    return this.messages.filter((m): m is ActionMessage => m.type === 'action');
  }
}

test('with the real gateway: refused, admitted, blocked and closed, unblocked, paused, lost', async (t) => {
  const mgrs = managers(t);
  const config = testConfig({ DATA_DIR: await tempDataDir(['ann']) });
  const { redis, subscriber, keys } = await connectTest(server, config);
  const mgr = await mgrs.start(config, redis, keys, subscriber);
  const tokens = new AgentTokenStore(serverDataDir(config));
  const gateway = new Gateway({ config, log: silentLog, keys, redis, subscriber, registry: new ClientRegistry(redis, keys), tokens, hooks: mgr.hooks });
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws, req) => gateway.handle(ws, req.socket.remoteAddress ?? ''));
  const stopCloser = closeBlockedAgents({ redis, subscriber, keys, gateway });
  t.after(async () => {
    stopCloser();
    await gateway.close();
    await new Promise((r) => wss.close(r));
  });
  const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
  const annToken = await tokens.issue('ann');
  const activeFile = join(serverDataDir(config), 'active_clients.json');
  const active = async () => (JSON.parse(await readFile(activeFile, 'utf8')) as { clients: string[] }).clients;

  // Not an enrolled user: told so and closed with 4006.
  const eve = new Agent(url);
  await eve.hello('eve', await tokens.issue('eve'));
  await waitFor(() => eve.closed, { what: 'eve closed' });
  assert.equal(eve.closed!.code, NOT_AVAILABLE_CLOSE_CODE);
  assert.equal(eve.actions()[0]?.reason, Reason.REASON_CLIENT_NOT_AVAILABLE);

  // Enrolled: admitted and active.
  const ann = new Agent(url);
  await ann.hello('ann', annToken);
  await waitFor(() => ann.messages.some((m) => m.type === 'welcome'), { what: 'welcome' });
  await waitFor(async () => (await active()).includes('ann'), { timeoutMs: 1_000, what: 'ann active' });

  // Paused: the agent receives the action through its queue.
  await mgr.service.pause('ann');
  await waitFor(() => ann.actions().find((a) => a.reason === Reason.REASON_PAUSED_CLIENT), { what: 'paused action' });
  await mgr.service.resume('ann');
  await waitFor(() => ann.actions().find((a) => a.reason === Reason.REASON_RESUME_CLIENT), { what: 'resume action' });

  // Blocked while connected: the block action, then the socket closed with 4003.
  const started = performance.now();
  await mgr.service.block('ann');
  await waitFor(() => ann.closed, { what: 'ann closed' });
  console.log(`block -> agent socket closed: ${(performance.now() - started).toFixed(0)} ms (2 shared cores)`);
  assert.equal(ann.closed!.code, CloseCode.BLOCKED);
  const blockedAction = ann.actions().find((a) => a.reason === Reason.REASON_BLOCKED_CLIENT);
  assert.equal(blockedAction?.action, Action.ACTION_LOCK_SCREEN);
  await waitFor(async () => !(await active()).includes('ann'), { timeoutMs: 1_000, what: 'ann inactive' });

  // Reconnecting while blocked: refused the same way.
  const again = new Agent(url);
  await again.hello('ann', annToken);
  await waitFor(() => again.closed, { what: 'refused' });
  assert.equal(again.closed!.code, CloseCode.BLOCKED);
  assert.equal(again.actions()[0]?.reason, Reason.REASON_BLOCKED_CLIENT);
  assert.equal(again.messages.some((m) => m.type === 'welcome'), false);

  // Unblocked: admitted, and no stale block action arrives.
  await mgr.service.unblock('ann');
  const back = new Agent(url);
  await back.hello('ann', annToken);
  await waitFor(() => back.messages.some((m) => m.type === 'welcome'), { what: 'welcome after unblock' });
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(back.actions().map((a) => a.reason).filter((r) => r === Reason.REASON_BLOCKED_CLIENT), []);
  await waitFor(async () => (await mgr.service.get('ann')).state === 'active', { timeoutMs: 1_000, what: 'ann active again' });

  // Connection lost without a goodbye: connection error until the agent is back.
  back.ws.terminate();
  await waitFor(async () => (await mgr.service.get('ann')).state === 'connection_error', { timeoutMs: 2_000, what: 'connection error' });
  const fresh = new Agent(url);
  await fresh.hello('ann', annToken);
  await waitFor(async () => (await mgr.service.get('ann')).state === 'active', { timeoutMs: 1_000, what: 'active after reconnect' });
  fresh.ws.close(1000);
  await waitFor(async () => (await mgr.service.get('ann')).state === 'deactivated', { timeoutMs: 1_000, what: 'deactivated after a normal close' });
});
