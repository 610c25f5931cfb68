import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import sharp from 'sharp';
import { startTestRedis, waitFor } from './helpers/redis.js';
import { startTestVigil } from './helpers/vigil.js';
import { AgentClient } from '../src/agent/agentClient.js';
import { ClientsData } from '../src/clients/clientsData.js';
import { Action, Reason } from '../src/domain/action.js';
import { CloseCode, type ActionMessage, type ServerMessage } from '../src/domain/protocol.js';

const { server } = await startTestRedis();
const vigil = await startTestVigil(server, { AGENT_RATE_PER_SEC: 50, AGENT_RATE_BURST: 50, FRAME_MAX_BYTES: 200_000, HELLO_TIMEOUT_MS: 500, ACTION_REDELIVER_MS: 60_000 });
const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } }).jpeg().toBuffer();
const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).png().toBuffer();

/** A bare socket that records what the server says, for protocol-level checks. */
class RawAgent {
  readonly ws: WebSocket;
  readonly messages: ServerMessage[] = [];
  closed: { code: number; reason: string } | undefined;
  constructor(url = vigil.wsUrl) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (d, bin) => !bin && this.messages.push(JSON.parse(d.toString()) as ServerMessage));
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }
  opened(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }
  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }
  async next<T extends ServerMessage['type']>(type: T, from = 0): Promise<Extract<ServerMessage, { type: T }>> {
    return waitFor(() => this.messages.slice(from).find((m) => m.type === type) as Extract<ServerMessage, { type: T }> | undefined, { what: `a ${type} message` });
  }
  async hello(client: string, token: string): Promise<void> {
    await this.opened();
    this.send({ type: 'hello', v: 1, client, token, frameAcks: true });
    await this.next('welcome');
  }
}

async function issue(id: string): Promise<string> {
  return vigil.tokens.issue(id);
}

test('a good agent: hello, welcome, frame stored as bytes, client registered (seed 004)', async () => {
  const token = await issue('alice');
  const agent = new RawAgent();
  await agent.hello('alice', token);
  agent.ws.send(jpeg);
  const stored = await agent.next('stored');
  assert.equal(stored.n, 1);
  const frame = await vigil.registry.getClientImage('alice');
  assert.ok(frame);
  assert.ok(frame.data.equals(jpeg), 'the stored frame is the raw bytes');
  assert.equal(frame.size, jpeg.length);
  assert.equal(frame.format, 'jpeg');
  assert.equal(frame.frameNumber, stored.seq);
  assert.ok(await vigil.registry.getAllClients().then((c) => c.includes('alice')));
  const meta = await vigil.registry.getClientMetadata('alice');
  assert.equal(meta.status, 'connected');
  assert.equal(meta.address, '127.0.0.1');
  assert.match(meta.connected_at ?? '', /^\d{4}-\d\d-\d\dT/);
  assert.ok((await vigil.redis.redis.zscore(vigil.keys.ready, 'alice')) !== null, 'a new frame marks the client ready');

  // Latest wins: a second frame replaces the first.
  agent.ws.send(png);
  await waitFor(async () => (await vigil.registry.getClientImage('alice'))?.format === 'png', { what: 'the png frame' });
  const stats = await vigil.registry.getClientStats();
  assert.ok(stats.totalClients >= 1 && stats.clientsWithMetadata.alice?.status === 'connected');
  agent.ws.close();
});

test('bad messages get precise errors and the connection stays', async () => {
  const token = await issue('bob');
  const agent = new RawAgent();
  await agent.opened();
  agent.ws.send(jpeg);
  assert.equal((await agent.next('error')).code, 'not_authenticated');
  await agent.hello('bob', token);
  const cases: [unknown, string][] = [
    ['{nope', 'bad_json'],
    [{ type: 'dance' }, 'bad_message'],
    [{ type: 'telemetry', event: 'volcano' }, 'bad_message'],
    [{ type: 'ack' }, 'bad_message'],
    [{ type: 'ack', id: 'missing' }, 'unknown_action'],
    [{ type: 'hello', v: 1, client: 'bob', token }, 'already_authenticated'],
  ];
  for (const [msg, code] of cases) {
    const from = agent.messages.length;
    agent.send(msg);
    assert.equal((await agent.next('error', from)).code, code, `for ${JSON.stringify(msg)}`);
  }
  let from = agent.messages.length;
  agent.ws.send(Buffer.from('GIF89a not an accepted frame'));
  assert.equal((await agent.next('error', from)).code, 'bad_frame');
  from = agent.messages.length;
  agent.ws.send(Buffer.concat([jpeg, Buffer.alloc(250_000)]));
  const tooLarge = await agent.next('error', from);
  assert.equal(tooLarge.code, 'frame_too_large');
  assert.match(tooLarge.message, /200000/);
  // Still connected and working.
  from = agent.messages.length;
  agent.ws.send(jpeg);
  await agent.next('stored', from);
  assert.equal(agent.closed, undefined);
  agent.ws.close();
});

test('telemetry lands in the received-data queue (seed 000 ClientsData)', async () => {
  const token = await issue('tina');
  const agent = new RawAgent();
  await agent.hello('tina', token);
  agent.send({ type: 'telemetry', event: 'camera_detached', at: 1234 });
  const data = new ClientsData(vigil.redis.redis, vigil.keys, 'tina');
  const item = await waitFor(() => data.dequeueReceivedData<{ type: string; event: string; at: number }>(), { what: 'telemetry' });
  assert.deepEqual([item.type, item.event, item.at], ['telemetry', 'camera_detached', 1234]);
  agent.ws.close();
});

test('wrong token, unknown client and missing hello are refused with close codes', async () => {
  await issue('carol');
  const wrong = new RawAgent();
  await wrong.opened();
  wrong.send({ type: 'hello', v: 1, client: 'carol', token: 'vgl_wrong' });
  await waitFor(() => wrong.closed, { what: 'close' });
  assert.equal(wrong.closed?.code, CloseCode.AUTH_FAILED);
  assert.equal(wrong.messages.find((m) => m.type === 'error')?.type, 'error');

  const unknown = new RawAgent();
  await unknown.opened();
  unknown.send({ type: 'hello', v: 1, client: 'nobody', token: 'vgl_x' });
  await waitFor(() => unknown.closed, { what: 'close' });
  assert.equal(unknown.closed?.code, CloseCode.AUTH_FAILED);

  const silent = new RawAgent();
  await silent.opened();
  await waitFor(() => silent.closed, { what: 'hello timeout' });
  assert.equal(silent.closed?.code, CloseCode.HELLO_TIMEOUT);

  const badId = new RawAgent();
  await badId.opened();
  badId.send({ type: 'hello', v: 1, client: '../etc', token: 'x' });
  assert.equal((await badId.next('error')).code, 'bad_message');
  badId.ws.close();
});

test('a flood is rate-limited per client and the agent stays connected', async () => {
  const token = await issue('flood');
  const agent = new RawAgent();
  await agent.hello('flood', token);
  for (let i = 0; i < 200; i++) agent.send({ type: 'heartbeat' });
  const err = await agent.next('error');
  assert.equal(err.code, 'rate_limited');
  const limited = () => agent.messages.filter((m) => m.type === 'error' && m.code === 'rate_limited').length;
  await waitFor(() => limited() >= 100, { what: 'most of the flood refused' });
  assert.ok(limited() < 200, 'the burst allowance went through');
  await new Promise((r) => setTimeout(r, 300));
  const from = agent.messages.length;
  agent.ws.send(jpeg);
  await agent.next('stored', from);
  agent.ws.close();
});

test('a newer connection of the same client replaces the older one', async () => {
  const token = await issue('dave');
  const first = new RawAgent();
  await first.hello('dave', token);
  const second = new RawAgent();
  await second.hello('dave', token);
  await waitFor(() => first.closed, { what: 'first closed' });
  assert.equal(first.closed?.code, CloseCode.REPLACED);
  second.ws.send(jpeg);
  await second.next('stored');
  second.ws.close();
});

function action(reason: number = Reason.REASON_NO_FACE): ActionMessage {
  return { type: 'action', id: randomUUID(), action: Action.ACTION_WARNING, reason: reason as ActionMessage['reason'], message: 'test', at: Date.now() };
}

test('actions: pushed at once when connected, kept until acked, redelivered after a reconnect', async () => {
  const token = await issue('erin');
  const data = new ClientsData(vigil.redis.redis, vigil.keys, 'erin');
  const queued = action();
  await data.enqueueAction(queued);

  // Connected without acking: the queued action arrives at once on connect.
  const lazy = new AgentClient({ url: vigil.wsUrl, clientId: 'erin', token, autoAck: false, reconnect: false });
  const seen: ActionMessage[] = [];
  lazy.on('action', (a) => seen.push(a));
  lazy.start();
  await waitFor(() => seen.length === 1, { what: 'queued action on connect' });
  assert.equal(seen[0]!.id, queued.id);

  // A new action while connected is pushed without a reconnect (pub/sub wake-up).
  const live = action(Reason.REASON_PHONE_DETECTION);
  const t0 = Date.now();
  await data.enqueueAction(live);
  await waitFor(() => seen.length === 2, { what: 'live action' });
  assert.ok(Date.now() - t0 < 500, 'delivered within a fraction of a second');
  await lazy.stop();
  assert.equal((await data.pendingActions()).length, 2, 'unacked actions stay queued');

  // Reconnect with an acking agent: both come again, then leave the queue.
  const good = new AgentClient({ url: vigil.wsUrl, clientId: 'erin', token, reconnect: false });
  const got: string[] = [];
  good.on('action', (a) => got.push(a.id));
  good.start();
  await waitFor(() => got.length === 2, { what: 'redelivery after reconnect' });
  assert.deepEqual(got, [queued.id, live.id], 'in queue order');
  await waitFor(async () => (await data.pendingActions()).length === 0, { what: 'acks to empty the queue' });
  await good.stop();
});

test('frames written without a copy: a burst in one tick keeps every byte, the order and the latest; NOSCRIPT falls back to EVAL', async () => {
  const token = await issue('hana');
  const agent = new RawAgent();
  await agent.hello('hana', token);
  // Distinct JPEG-tagged payloads of different sizes, some larger than a socket write, sent back to back.
  const frames = Array.from({ length: 12 }, (_, i) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(1_000 + i * 15_000, i + 1), Buffer.from(`#${i}`)]));
  for (const f of frames) agent.ws.send(f);
  await waitFor(() => agent.messages.filter((m) => m.type === 'stored').length === frames.length, { what: 'every frame stored' });
  const stored = agent.messages.filter((m): m is Extract<ServerMessage, { type: 'stored' }> => m.type === 'stored');
  assert.deepEqual(stored.map((m) => m.n), frames.map((_, i) => i + 1));
  assert.deepEqual(stored.map((m) => m.seq), frames.map((_, i) => stored[0]!.seq + i), 'frame numbers follow arrival order');
  const latest = await vigil.registry.getClientImage('hana');
  assert.ok(latest?.data.equals(frames.at(-1)!), 'the last frame sent is the one stored, byte for byte');
  assert.equal(latest?.size, frames.at(-1)!.length);

  // Redis forgot its scripts (restart, SCRIPT FLUSH): the next frame is stored all the same.
  await vigil.redis.redis.script('FLUSH');
  const from = agent.messages.length;
  agent.ws.send(jpeg);
  const after = await agent.next('stored', from);
  assert.equal(after.seq, stored.at(-1)!.seq + 1);
  assert.ok((await vigil.registry.getClientImage('hana'))?.data.equals(jpeg));
  agent.ws.close();
});

test('seed 004 cleanup: a silent client is removed with its frame; a disconnect removes it at once', async () => {
  const token = await issue('frank');
  const agent = new RawAgent();
  await agent.hello('frank', token);
  agent.ws.send(jpeg);
  await agent.next('stored');
  agent.ws.close();
  await waitFor(async () => !(await vigil.registry.getAllClients()).includes('frank'), { what: 'removal on close' });
  assert.equal(await vigil.registry.getClientImage('frank'), undefined);
});

test('agents reconnect with backoff when the gateway goes away and their frames flow again', async () => {
  const token = await issue('gina');
  const frames = [jpeg];
  const agent = new AgentClient({ url: vigil.wsUrl, clientId: 'gina', token, frames, fps: 20, frameAcks: true });
  const closes: number[] = [];
  agent.on('close', (c) => closes.push(c.code));
  agent.start();
  await agent.ready();
  // The server drops every socket (a gateway restart looks like this to agents).
  for (const id of vigil.gateway.connectedClients()) vigil.gateway.session(id)?.close(1012, 'restart');
  await waitFor(() => closes.length >= 1, { what: 'disconnect' });
  let stored = 0;
  agent.on('stored', () => stored++);
  await waitFor(() => stored >= 3, { what: 'frames after reconnect', timeoutMs: 8_000 });
  await agent.stop();
});
