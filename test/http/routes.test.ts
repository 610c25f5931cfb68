import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteOptions } from 'fastify';
import { startTestRedis } from '../helpers/redis.js';
import { ADMIN, Browser, startAdminApp } from './harness.js';

// Every service present, so a refusal can only come from authentication, never from a 503.
const services = {
  status: { list: async () => ({ clients: [] }), pause: async () => 1, resume: async () => 1, block: async () => 1, unblock: async () => 1 },
  users: { list: async () => [], enrol: async () => ({ stored: 0 }), remove: async () => false },
  actions: { list: async () => [] },
};
const { server } = await startTestRedis();
const h = await startAdminApp(server, {}, services);

const PUBLIC = new Set(['POST /api/auth/login', 'GET /metrics', 'GET /agent/config.json', 'GET /', 'GET /index.html', 'GET /app.js', 'GET /agent', 'GET /agent.html', 'GET /agent.js', 'GET /style.css', 'GET /login']);
const SAMPLE: Record<string, string> = { id: 'alice', name: 'alice', label: 'Warning', user: 'alice', file: 'x.jpg' };

function expand(routes: RouteOptions[]) {
  return routes.flatMap((r) => (Array.isArray(r.method) ? r.method : [r.method]).map((method) => ({ method: String(method), url: r.url, public: Boolean((r.config as { public?: boolean } | undefined)?.public) })));
}
const all = expand(h.routes).filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
const guarded = all.filter((r) => !r.public);
const fill = (url: string) => url.replace(/:(\w+)/g, (_, p: string) => SAMPLE[p] ?? 'x');

async function call(method: string, url: string, headers: Record<string, string> = {}) {
  return fetch(h.url + fill(url), { method, headers: { ...headers, ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) }, body: method === 'GET' ? undefined : '{}' });
}

test('the route table: the public routes are exactly health, metrics, login, the agent config and static pages', () => {
  assert.ok(guarded.length >= 20, `expected the whole API to be recorded, got ${guarded.length} guarded routes`);
  const pub = all.filter((r) => r.public).map((r) => `${r.method} ${r.url}`);
  for (const p of pub) assert.ok(PUBLIC.has(p), `unexpected public route ${p}`);
  for (const p of ['POST /api/auth/login', 'GET /', 'GET /agent']) assert.ok(pub.includes(p), `${p} should be public`);
});

test('every non-public route refuses a request without credentials (401 JSON)', async () => {
  for (const r of guarded) {
    const res = await call(r.method, r.url);
    assert.equal(res.status, 401, `${r.method} ${r.url} without credentials`);
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'unauthorized', `${r.method} ${r.url}`);
  }
});

test('HEAD requests (fastify adds one per GET) are refused too', async () => {
  for (const r of guarded.filter((x) => x.method === 'GET')) {
    const res = await fetch(h.url + fill(r.url), { method: 'HEAD' });
    assert.equal(res.status, 401, `HEAD ${r.url}`);
  }
});

test('every non-public route refuses an unknown key and a revoked key', async () => {
  const { key, info } = await h.handles.apiKeys.create(ADMIN, 'revoked', ['read', 'control', 'enrol', 'admin']);
  assert.equal(await h.handles.apiKeys.revoke(info.id), true);
  const unknown = `vk_${'A'.repeat(43)}`;
  for (const r of guarded) {
    for (const k of [unknown, key]) {
      const res = await call(r.method, r.url, { authorization: `Bearer ${k}` });
      assert.equal(res.status, 401, `${r.method} ${r.url} with ${k === key ? 'a revoked' : 'an unknown'} key`);
    }
  }
});

test('every non-public route refuses an expired session, and idle or absolute expiry both end a session', async () => {
  const cfg = h.config;
  const absolute = await h.handles.sessions.create(ADMIN, Date.now() - cfg.SESSION_MAX_SEC * 1000 - 1000);
  const idle = await h.handles.sessions.create(ADMIN, Date.now() - cfg.SESSION_IDLE_SEC * 1000 - 1000);
  for (const r of guarded) {
    for (const [what, s] of [['absolute', absolute], ['idle', idle]] as const) {
      const res = await call(r.method, r.url, { cookie: `vigil_sid=${s.sid}`, 'x-csrf-token': s.session.csrf });
      assert.equal(res.status, 401, `${r.method} ${r.url} with an ${what}-expired session`);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'session_expired');
    }
  }
});

test("a key lacking a route's scope is refused with 403 on every change route", async () => {
  const { key } = await h.handles.apiKeys.create(ADMIN, 'reader', ['read']);
  // Logging out needs no scope (any principal may end its own session).
  for (const r of guarded.filter((x) => x.url !== '/api/auth/logout')) {
    const res = await call(r.method, r.url, { authorization: `Bearer ${key}` });
    if (r.method === 'GET') assert.notEqual(res.status, 401, `${r.method} ${r.url} accepts a read key`);
    else assert.equal(res.status, 403, `${r.method} ${r.url} with a read-only key`);
  }
});

test('a valid session passes every route (no 401/403 with the CSRF token)', async () => {
  const b = new Browser(h.url);
  await b.login();
  for (const r of guarded.filter((x) => x.url !== '/api/events' && x.url !== '/api/auth/logout')) {
    const res = await b.request(r.method, fill(r.url), r.method === 'GET' ? {} : { json: {} });
    assert.ok(![401, 403].includes(res.status), `${r.method} ${r.url} with a session got ${res.status}`);
  }
});
