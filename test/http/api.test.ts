import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import WebSocket from 'ws';
import { dataFolders } from '../../src/data/folders.js';
import type { UploadedImage } from '../../src/http/services.js';
import { startTestRedis, waitFor } from '../helpers/redis.js';
import { Browser, startAdminApp } from './harness.js';

const { server } = await startTestRedis();
const calls: string[] = [];
const enrolled: { name: string; images: UploadedImage[] }[] = [];
const states: Record<string, string> = {};
const services = {
  vision: { stats: () => ({ analysed: 7, meanMs: 42.5, busy: 1 }) },
  status: {
    list: async () => ({ clients: Object.entries(states).map(([id, state]) => ({ id, state })) }),
    pause: async (id: string) => (calls.push(`pause ${id}`), (states[id] = 'paused')),
    resume: async (id: string) => (calls.push(`resume ${id}`), (states[id] = 'active')),
    block: async (id: string) => (calls.push(`block ${id}`), (states[id] = 'blocked')),
    unblock: async (id: string) => (calls.push(`unblock ${id}`), (states[id] = 'active')),
  },
  users: {
    list: async () => enrolled.map((e) => ({ name: e.name, images: e.images.length })),
    enrol: async (name: string, images: UploadedImage[]) => (enrolled.push({ name, images }), { stored: images.length }),
    remove: async (name: string) => enrolled.some((e) => e.name === name),
  },
};
const h = await startAdminApp(server, { UPLOAD_MAX_BYTES: 20_000 }, services);
// A second server with no services at all and private metrics.
const bare = await startAdminApp(server, { METRICS_PUBLIC: false });

const jpeg = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#4477aa' } }).jpeg().toBuffer();
const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#000' } }).png().toBuffer();
const admin = new Browser(h.url);
await admin.login();

function upload(path: string, files: { data: Buffer; type: string; name: string }[], b: Browser = admin, headers: Record<string, string> = {}) {
  const fd = new FormData();
  for (const f of files) fd.append('images', new Blob([new Uint8Array(f.data)], { type: f.type }), f.name);
  return b.request('POST', path, { body: fd, headers });
}

async function connectAgent(id: string): Promise<WebSocket> {
  const res = await admin.request('POST', `/api/clients/${id}/token`);
  assert.equal(res.status, 201);
  const { token, agentUrl } = (await res.json()) as { token: string; agentUrl: string };
  assert.equal(agentUrl, `/agent#client=${id}&token=${encodeURIComponent(token)}`);
  const ws = new WebSocket(`${h.url.replace('http', 'ws')}/v1/agent`);
  await new Promise((r) => ws.once('open', r));
  const welcome = new Promise((r) => ws.once('message', r));
  ws.send(JSON.stringify({ type: 'hello', v: 1, client: id, token, agent: 'test' }));
  await welcome;
  return ws;
}

test('clients: a connected agent appears with its latest frame as a JPEG thumbnail', async () => {
  const ws = await connectAgent('alice');
  ws.send(jpeg);
  const list = await waitFor(async () => {
    const r = (await (await admin.request('GET', '/api/clients')).json()) as { clients: { id: string; connected: boolean; frame: { seq: number } | null }[] };
    return r.clients.find((c) => c.id === 'alice' && c.frame) ? r : undefined;
  }, { what: 'alice with a frame' });
  assert.equal(list.clients.find((c) => c.id === 'alice')!.connected, true);
  const thumb = await admin.request('GET', '/api/clients/alice/frame?w=160');
  assert.equal(thumb.status, 200);
  assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
  const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
  assert.equal(meta.width, 160);
  assert.equal(meta.height, 120);
  const detail = (await (await admin.request('GET', '/api/clients/alice')).json()) as { connected: boolean; frame: { seq: number }; pendingActions: unknown[] };
  assert.equal(detail.connected, true);
  assert.ok(detail.frame.seq >= 1);
  assert.equal((await admin.request('GET', '/api/clients/nobody/frame')).status, 404);
  ws.close();
});

test('states: pause/resume/block/unblock call the status service and invalidate the cached list', async () => {
  states.bob = 'active';
  // The status manager announces its changes on the status channel; that invalidates the cache.
  await h.conns.redis.publish(h.conns.keys.channels.status, 'bob');
  await waitFor(async () => {
    const before = (await (await admin.request('GET', '/api/clients')).json()) as { clients: { id: string; state: string }[] };
    return before.clients.find((c) => c.id === 'bob')?.state === 'active';
  }, { what: 'bob listed as active' });
  for (const change of ['pause', 'resume', 'block', 'unblock'] as const) {
    const res = await admin.request('POST', `/api/clients/bob/${change}`);
    assert.equal(res.status, 200, change);
  }
  assert.deepEqual(calls.slice(-4), ['pause bob', 'resume bob', 'block bob', 'unblock bob']);
  await admin.request('POST', '/api/clients/bob/pause');
  const after = (await (await admin.request('GET', '/api/clients')).json()) as { clients: { id: string; state: string }[] };
  assert.equal(after.clients.find((c) => c.id === 'bob')?.state, 'paused', 'no stale cached state after a change');
  const bad = await admin.request('POST', '/api/clients/..%2Fetc/pause');
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'invalid_name');
});

test('a missing status manager answers 503 unavailable', async () => {
  const b = new Browser(bare.url);
  await b.login();
  for (const change of ['pause', 'resume', 'block', 'unblock']) {
    const res = await b.request('POST', `/api/clients/bob/${change}`);
    assert.equal(res.status, 503, change);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unavailable');
  }
});

test('without a users service, enrolment drops upright JPEGs into Users_DataBase/<user>/ (seed 000)', async () => {
  const b = new Browser(bare.url);
  await b.login();
  const res = await upload('/api/users/frank/images', [{ data: png, type: 'image/png', name: 'face.png' }], b);
  assert.equal(res.status, 201);
  const body = (await res.json()) as { stored: number };
  assert.equal(body.stored, 1);
  const dir = join(dataFolders(bare.config).usersDatabase, 'frank');
  const files = await readdir(dir);
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^[0-9a-f]{16}\.jpg$/);
  assert.equal((await sharp(join(dir, files[0]!)).metadata()).format, 'jpeg');
  const list = (await (await b.request('GET', '/api/users')).json()) as { users: { name: string; images: number }[] };
  assert.deepEqual(list.users.map((u) => [u.name, u.images]), [['frank', 1]]);
  assert.equal((await b.request('DELETE', '/api/users/frank')).status, 204);
  assert.equal((await b.request('DELETE', '/api/users/frank')).status, 404);
  const after = (await (await b.request('GET', '/api/users')).json()) as { users: unknown[] };
  assert.deepEqual(after.users, []);
});

test('enrolment: path tricks in user names are refused before any service call', async () => {
  const n = enrolled.length;
  for (const name of ['..%2F..%2Fetc', 'a..b', '.hidden', '..%5Cwin', 'a%2Fb', '-dash', 'x'.repeat(65)]) {
    const res = await upload(`/api/users/${name}/images`, [{ data: jpeg, type: 'image/jpeg', name: 'a.jpg' }]);
    assert.equal(res.status, 400, name);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_name', name);
  }
  assert.equal(enrolled.length, n);
});

test('enrolment: oversized and mistyped uploads are refused', async () => {
  const big = await sharp({ create: { width: 800, height: 800, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).jpeg({ quality: 95 }).toBuffer();
  assert.ok(big.length > 20_000);
  const tooBig = await upload('/api/users/carol/images', [{ data: big, type: 'image/jpeg', name: 'big.jpg' }]);
  assert.equal(tooBig.status, 413);
  assert.equal(((await tooBig.json()) as { error: { code: string } }).error.code, 'too_large');
  const text = await upload('/api/users/carol/images', [{ data: Buffer.from('#!/bin/sh\necho hi\n'), type: 'image/jpeg', name: 'evil.jpg' }]);
  assert.equal(text.status, 415, 'bytes that are not an image, whatever the declared type');
  const declared = await upload('/api/users/carol/images', [{ data: png, type: 'text/html', name: 'x.png' }]);
  assert.equal(declared.status, 415, 'a declared type that is not an image');
  const json = await admin.request('POST', '/api/users/carol/images', { json: { image: 'x' } });
  assert.equal(json.status, 415);
  assert.equal(enrolled.filter((e) => e.name === 'carol').length, 0);
});

test('enrolment: 5 per hour per key (seed 002) with RateLimit-* and Retry-After', async () => {
  const keyRes = await admin.request('POST', '/api/keys', { json: { name: 'enroller', scopes: ['enrol'] } });
  const { key } = (await keyRes.json()) as { key: string };
  const auth = { authorization: `Bearer ${key}` };
  const anon = new Browser(h.url);
  const remaining: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await upload('/api/users/dave/images', [{ data: png, type: 'image/png', name: `${i}.png` }], anon, auth);
    assert.equal(res.status, 201, `upload ${i + 1}`);
    assert.equal(res.headers.get('ratelimit-limit'), '5');
    remaining.push(res.headers.get('ratelimit-remaining')!);
  }
  assert.deepEqual(remaining, ['4', '3', '2', '1', '0']);
  const sixth = await upload('/api/users/dave/images', [{ data: png, type: 'image/png', name: '6.png' }], anon, auth);
  assert.equal(sixth.status, 429);
  const retry = Number(sixth.headers.get('retry-after'));
  assert.ok(retry > 3000 && retry <= 3600, `Retry-After ${retry}`);
  assert.equal(((await sixth.json()) as { error: { code: string } }).error.code, 'rate_limited');
  // Another principal has its own budget.
  assert.equal((await upload('/api/users/dave/images', [{ data: png, type: 'image/png', name: 'a.png' }])).status, 201);
  assert.equal(enrolled.filter((e) => e.name === 'dave').length, 6);
  const users = (await (await admin.request('GET', '/api/users')).json()) as { users: { name: string }[] };
  assert.ok(users.users.some((u) => u.name === 'dave'), 'the users list was invalidated by the enrolment');
});

async function addAudit(record: { id: string; clientId: string; action: number; reason: number; decidedAt: number; evidence?: object }) {
  await h.conns.redis.xadd(h.conns.keys.audit, `${record.decidedAt}-*`, 'id', record.id, 'client', record.clientId, 'record', JSON.stringify({ message: 'm', ...record }));
}

test('actions: the audit stream, filtered by user, reason and time; the timeline is cached until an action arrives', async () => {
  const now = Date.now();
  await addAudit({ id: 'a1', clientId: 'alice', action: 3, reason: 7, decidedAt: now - 3 * 3_600_000 });
  await addAudit({ id: 'a2', clientId: 'alice', action: 1, reason: 1, decidedAt: now - 60_000, evidence: { image: 'Actions/Lock_screen/alice/x.jpg', sidecar: 'Actions/Lock_screen/alice/x.json' } });
  await addAudit({ id: 'b1', clientId: 'bob', action: 3, reason: 7, decidedAt: now - 30_000 });
  const all = (await (await admin.request('GET', '/api/actions')).json()) as { actions: { id: string; reason: string; evidence: { image: string } | null }[] };
  assert.deepEqual(all.actions.map((a) => a.id), ['b1', 'a2', 'a1'], 'newest first');
  assert.equal(all.actions[1]!.evidence!.image, 'Lock_screen/alice/x.jpg', 'evidence paths relative to Data/Actions');
  const byUser = (await (await admin.request('GET', '/api/actions?user=alice')).json()) as { actions: { id: string }[] };
  assert.deepEqual(byUser.actions.map((a) => a.id), ['a2', 'a1']);
  const byReason = (await (await admin.request('GET', '/api/actions?reason=REASON_NO_FACE')).json()) as { actions: { id: string; reason: string }[] };
  assert.deepEqual(byReason.actions.map((a) => a.id), ['b1', 'a1']);
  const recent = (await (await admin.request('GET', `/api/actions?since=${now - 3_600_000}`)).json()) as { actions: { id: string }[] };
  assert.deepEqual(recent.actions.map((a) => a.id), ['b1', 'a2']);
  assert.equal((await admin.request('GET', '/api/actions?reason=REASON_NOPE')).status, 400);
  assert.equal((await admin.request('GET', '/api/actions?user=../x')).status, 400);

  const stats1 = (await (await admin.request('GET', '/api/stats/actions?hours=24')).json()) as { totals: Record<string, number> };
  assert.equal(stats1.totals.REASON_NO_FACE, 2);
  await addAudit({ id: 'b2', clientId: 'bob', action: 3, reason: 7, decidedAt: Date.now() });
  const cached = (await (await admin.request('GET', '/api/stats/actions?hours=24')).json()) as { totals: Record<string, number> };
  assert.equal(cached.totals.REASON_NO_FACE, 2, 'served from the cache');
  await h.conns.redis.publish(h.conns.keys.channels.events, JSON.stringify({ type: 'action', record: { id: 'b2', actionName: 'ACTION_WARNING', reasonName: 'REASON_NO_FACE' } }));
  await waitFor(async () => {
    const s = (await (await admin.request('GET', '/api/stats/actions?hours=24')).json()) as { totals: Record<string, number> };
    return s.totals.REASON_NO_FACE === 3;
  }, { what: 'the action event to invalidate the "actions" tag' });
});

test('evidence: files inside Data/Actions are served; traversal, odd names and symlinks out are refused', async () => {
  const dir = join(dataFolders(h.config).actions, 'Warning', 'alice');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, '22_11_2026-00_10_Warning_No_face.jpg'), jpeg);
  await writeFile(join(dir, '22_11_2026-00_10_Warning_No_face.json'), JSON.stringify({ scores: { face: 0.1 } }));
  await symlink('/etc/hostname', join(dir, 'link.jpg'));
  const img = await admin.request('GET', '/api/evidence/Warning/alice/22_11_2026-00_10_Warning_No_face.jpg');
  assert.equal(img.status, 200);
  assert.equal(img.headers.get('content-type'), 'image/jpeg');
  assert.ok(Buffer.from(await img.arrayBuffer()).equals(jpeg));
  const side = await admin.request('GET', '/api/evidence/Warning/alice/22_11_2026-00_10_Warning_No_face.json');
  assert.deepEqual(await side.json(), { scores: { face: 0.1 } });
  for (const path of [
    'Warning/alice/..%2F..%2F..%2F..%2Fetc%2Fpasswd',
    'Warning/..%2F..%2F..%2Fetc/passwd.jpg',
    '..%2F..%2FServer_Data/alice/admins.json',
    'Warning/alice/%2Fetc%2Fpasswd.json',
    'Warning/alice/x.txt',
    'Secrets/alice/x.jpg',
  ]) {
    const res = await admin.request('GET', `/api/evidence/${path}`);
    assert.equal(res.status, 400, path);
  }
  assert.equal((await admin.request('GET', '/api/evidence/Warning/alice/link.jpg')).status, 404, 'a symlink leading out');
  assert.equal((await admin.request('GET', '/api/evidence/Warning/alice/missing.jpg')).status, 404);
});

test('live updates: the SSE stream carries client arrivals, state changes and other parts\' events', async () => {
  const ctrl = new AbortController();
  const res = await fetch(`${h.url}/api/events`, { headers: { cookie: `vigil_sid=${admin.cookies.get('vigil_sid')}` }, signal: ctrl.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /text\/event-stream/);
  let text = '';
  const reader = res.body!.getReader();
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      text += new TextDecoder().decode(value);
    }
  })();
  const ws = await connectAgent('erin');
  await waitFor(() => /event: clients\ndata: .*"erin"/.test(text), { what: 'a clients event naming erin' });
  await h.conns.redis.publish(h.conns.keys.channels.status, 'erin');
  await waitFor(() => text.includes('event: status\ndata: {"clientId":"erin"}'), { what: 'a status event' });
  await h.conns.redis.publish(h.conns.keys.channels.events, JSON.stringify({ type: 'job_progress', pct: 50 }));
  await waitFor(() => text.includes('"type":"job_progress"'), { what: 'a pass-through event' });
  ws.close();
  ctrl.abort();
  await pump;
});

test('health/ready reports Redis ping, memory, clients, persistence, replication and slow log', async () => {
  const res = await admin.request('GET', '/health/ready');
  assert.equal(res.status, 200);
  const body = (await res.json()) as { status: string; redis: { ping: { pingMs: number }; memory: { usedMb: number }; clients: { connected: number }; persistence: { aofEnabled: boolean }; replication: { role: string }; slowLog: unknown[] } };
  assert.equal(body.status, 'ok');
  assert.ok(body.redis.ping.pingMs >= 0);
  assert.ok(body.redis.memory.usedMb > 0);
  assert.ok(body.redis.clients.connected >= 3);
  assert.equal(body.redis.persistence.aofEnabled, true);
  assert.equal(body.redis.replication.role, 'master');
  assert.ok(Array.isArray(body.redis.slowLog));
  assert.equal((await fetch(`${h.url}/health/ready`)).status, 401, 'readiness details need credentials');
});

test('metrics: Prometheus text with frames, latency and queue depths; private when METRICS_PUBLIC=false', async () => {
  const res = await fetch(`${h.url}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const frames = Number(/^vigil_frames_in_total (\d+)/m.exec(text)?.[1]);
  assert.ok(frames >= 1, 'the frame sent by the first test is counted');
  for (const name of ['vigil_redis_latency_ms_bucket', 'vigil_queue_depth{queue="ready_clients"}', 'vigil_actions_total', 'vigil_analysis_ms', 'vigil_http_requests_total']) assert.ok(text.includes(name), name);
  assert.match(text, /^vigil_frames_analysed_total 7$/m, "the vision pool's count");
  assert.match(text, /^vigil_analysis_mean_ms 42.5$/m);
  assert.match(text, /^vigil_actions_total\{action="ACTION_WARNING",reason="REASON_NO_FACE"\} [1-9]/m, 'actions announced on the events channel are counted by reason');
  assert.equal((await fetch(`${bare.url}/metrics`)).status, 401);
});

test('the API in general is rate limited per principal, with headers', async () => {
  const limited = await startAdminApp(server, { API_RATE_PER_MIN: 3 });
  const { key } = await limited.handles.apiKeys.create('root', 'script', ['read']);
  const statuses: number[] = [];
  let last: Response | undefined;
  for (let i = 0; i < 4; i++) {
    last = await fetch(`${limited.url}/api/auth/me`, { headers: { authorization: `Bearer ${key}` } });
    statuses.push(last.status);
  }
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  assert.ok(Number(last!.headers.get('retry-after')) > 0);
  assert.equal(last!.headers.get('ratelimit-policy'), '3;w=60');
  const other = await limited.handles.apiKeys.create('root', 'other', ['read']);
  assert.equal((await fetch(`${limited.url}/api/auth/me`, { headers: { authorization: `Bearer ${other.key}` } })).status, 200, 'another key has its own budget');
});
