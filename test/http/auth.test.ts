import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdminAccountStore, verifyPassword } from '../../src/http/auth/accounts.js';
import { dataFolders } from '../../src/data/folders.js';
import { startTestRedis } from '../helpers/redis.js';
import { ADMIN, Browser, PASSWORD, startAdminApp } from './harness.js';

const { server } = await startTestRedis();
const h = await startAdminApp(server, { LOGIN_RATE_PER_ACCOUNT: 3, LOGIN_RATE_PER_IP: 100 });

test('login sets an httpOnly SameSite=Strict session cookie and returns a CSRF token', async () => {
  const b = new Browser(h.url);
  const res = await b.login();
  assert.equal(res.status, 200);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('vigil_sid='));
  assert.ok(cookie);
  assert.match(cookie, /HttpOnly/i);
  assert.match(cookie, /SameSite=Strict/i);
  assert.doesNotMatch(cookie, /Secure/i, 'plain HTTP with COOKIE_SECURE=auto: no Secure flag');
  assert.ok(b.csrf && b.csrf.length >= 32);
  const me = await b.request('GET', '/api/auth/me');
  assert.equal(me.status, 200);
  assert.equal(((await me.json()) as { name: string }).name, ADMIN);
});

test('a wrong password or unknown admin is 401 invalid_credentials, with RateLimit headers', async () => {
  for (const [u, p] of [[ADMIN, 'wrong password!'], ['nobody', PASSWORD]] as const) {
    const res = await new Browser(h.url).login(u, p);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_credentials');
    assert.ok(res.headers.get('ratelimit-limit'), 'RateLimit-Limit');
    assert.ok(res.headers.get('ratelimit-remaining'), 'RateLimit-Remaining');
  }
});

test('session fixation: a session id brought to the login is dropped and a new one issued', async () => {
  const attacker = new Browser(h.url);
  await attacker.login();
  const planted = attacker.cookies.get('vigil_sid')!;
  const victim = new Browser(h.url);
  victim.cookies.set('vigil_sid', planted);
  await victim.login();
  const fresh = victim.cookies.get('vigil_sid')!;
  assert.notEqual(fresh, planted, 'login issues a new id');
  const res = await attacker.request('GET', '/api/auth/me');
  assert.equal(res.status, 401, 'the planted id no longer works');
  assert.equal((await victim.request('GET', '/api/auth/me')).status, 200);
});

test('logout deletes the session in Redis and clears the cookie', async () => {
  const b = new Browser(h.url);
  await b.login();
  const sid = b.cookies.get('vigil_sid')!;
  const before = await h.conns.redis.keys(`${h.config.NAMESPACE}:session:*`);
  const res = await b.request('POST', '/api/auth/logout');
  assert.equal(res.status, 204);
  assert.equal(b.cookies.has('vigil_sid'), false, 'cookie cleared');
  const after = await h.conns.redis.keys(`${h.config.NAMESPACE}:session:*`);
  assert.equal(after.length, before.length - 1);
  const replay = await fetch(`${h.url}/api/auth/me`, { headers: { cookie: `vigil_sid=${sid}` } });
  assert.equal(replay.status, 401);
});

test('CSRF: a cookie-authenticated change needs the session token; API keys do not', async () => {
  const b = new Browser(h.url);
  await b.login();
  const missing = await b.request('POST', '/api/keys', { json: { name: 'k', scopes: ['read'] }, csrf: false });
  assert.equal(missing.status, 403);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'csrf');
  const wrong = await b.request('POST', '/api/keys', { json: { name: 'k', scopes: ['read'] }, csrf: false, headers: { 'x-csrf-token': 'x'.repeat(32) } });
  assert.equal(wrong.status, 403);
  // Another session's token does not work either.
  const other = new Browser(h.url);
  await other.login();
  const crossed = await b.request('POST', '/api/keys', { json: { name: 'k', scopes: ['read'] }, csrf: false, headers: { 'x-csrf-token': other.csrf! } });
  assert.equal(crossed.status, 403);
  const ok = await b.request('POST', '/api/keys', { json: { name: 'k', scopes: ['read', 'admin'] } });
  assert.equal(ok.status, 201);
  const created = (await ok.json()) as { key: string; id: string };
  assert.match(created.key, /^vk_/);
  // The key is stored only as its SHA-256.
  const stored = await h.conns.redis.hgetall(h.conns.keys.apiKey(created.id));
  assert.ok(!JSON.stringify(stored).includes(created.key));
  const viaKey = await fetch(`${h.url}/api/keys`, { method: 'POST', headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'k2', scopes: ['read'] }) });
  assert.equal(viaKey.status, 201);
});

test('background refreshes (dashboard timers, live thumbnails) do not keep an idle session alive', async () => {
  const started = Date.now() - (h.config.SESSION_IDLE_SEC - 30) * 1000;
  const { sid, session } = await h.handles.sessions.create(ADMIN, started);
  const lastSeen = async () => Number(await h.conns.redis.hget(h.conns.keys.session(session.key), 'lastSeenAt'));
  const get = (headers: Record<string, string>) => fetch(`${h.url}/api/auth/me`, { headers: { cookie: `vigil_sid=${sid}`, ...headers } });
  assert.equal((await get({ 'x-vigil-background': '1' })).status, 200);
  assert.equal((await get({ 'sec-fetch-dest': 'image' })).status, 200);
  assert.equal(await lastSeen(), started, 'background requests leave the idle timer alone');
  assert.equal((await get({})).status, 200);
  assert.ok((await lastSeen()) > started + 10_000, 'a real request restarts it');
});

test('a removed administrator loses their sessions at once', async () => {
  await h.handles.accounts.add('temp-admin', 'another long password');
  const b = new Browser(h.url);
  assert.equal((await b.login('temp-admin', 'another long password')).status, 200);
  assert.equal(await h.handles.accounts.remove('temp-admin'), true);
  assert.equal((await b.request('GET', '/api/auth/me')).status, 401);
});

test('accounts are stored as scrypt hashes in Server_Data/<ns>/admins.json', async () => {
  const file = JSON.parse(await readFile(join(dataFolders(h.config).serverData, 'admins.json'), 'utf8')) as { admins: Record<string, { hash: string }> };
  assert.match(file.admins[ADMIN]!.hash, /^scrypt\$\d+\$8\$1\$/);
  assert.ok(!JSON.stringify(file).includes(PASSWORD));
  assert.equal(await verifyPassword(PASSWORD, file.admins[ADMIN]!.hash), true);
  assert.equal(await verifyPassword('nope', file.admins[ADMIN]!.hash), false);
});

test('`vigil admin add` creates an account from stdin; `list` shows it', async () => {
  const env = { ...process.env, DATA_DIR: h.dataDir, NAMESPACE: h.config.NAMESPACE, LOG_LEVEL: 'silent' };
  const cli = join(process.cwd(), 'test/http/fixtures/admin-cli.ts');
  const add = spawnSync(process.execPath, ['--import', 'tsx', cli, 'admin', 'add', 'carol'], { input: 'a very long secret\n', env, encoding: 'utf8' });
  assert.equal(add.status, 0, add.stderr);
  assert.match(add.stdout, /administrator carol created/);
  assert.equal(await new AdminAccountStore(dataFolders(h.config).serverData).verify('carol', 'a very long secret'), true);
  const again = spawnSync(process.execPath, ['--import', 'tsx', cli, 'admin', 'add', 'carol', '--password', 'a very long secret'], { env, encoding: 'utf8' });
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, /exists/);
  const short = spawnSync(process.execPath, ['--import', 'tsx', cli, 'admin', 'add', 'dave', '--password', 'short'], { env, encoding: 'utf8' });
  assert.notEqual(short.status, 0);
  assert.match(short.stderr, /at least 10/);
  const list = spawnSync(process.execPath, ['--import', 'tsx', cli, 'admin', 'list'], { env, encoding: 'utf8' });
  assert.match(list.stdout, /^carol\t/m);
});

test('login per account is rate limited: 429 with Retry-After and RateLimit headers', async () => {
  await h.handles.accounts.add('erin', 'erin long password');
  let last: Response | undefined;
  for (let i = 0; i < 4; i++) last = await new Browser(h.url).login('erin', 'bad password!');
  assert.equal(last!.status, 429);
  assert.ok(Number(last!.headers.get('retry-after')) > 0, 'Retry-After');
  assert.equal(last!.headers.get('ratelimit-remaining'), '0');
  assert.equal(((await last!.json()) as { error: { code: string } }).error.code, 'rate_limited');
  // Even the right password waits for the window: the limit guards the account.
  assert.equal((await new Browser(h.url).login('erin', 'erin long password')).status, 429);
});

test('with Redis unreachable, login fails closed with a clear 503', async () => {
  h.conns.redis.disconnect();
  const res = await new Browser(h.url).login();
  assert.equal(res.status, 503);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'redis_unavailable');
  assert.match(body.error.message, /Redis is unreachable/);
  assert.equal(res.headers.getSetCookie().length, 0, 'no session cookie');
});

test('the demo helper creates one administrator with a random password, once', async () => {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const store = new AdminAccountStore(await mkdtemp(join(tmpdir(), 'vigil-admins-')));
  const pw = await store.ensureAdmin('admin');
  assert.ok(pw && pw.length >= 16);
  assert.equal(await store.verify('admin', pw), true);
  assert.equal(await store.ensureAdmin('admin'), undefined, 'not again once an administrator exists');
});

test('the Secure cookie flag follows COOKIE_SECURE and the request protocol', async () => {
  const { cookieOptions } = await import('../../src/http/auth/guard.js');
  const req = (protocol: string) => ({ protocol }) as Parameters<typeof cookieOptions>[1];
  assert.equal(cookieOptions({ ...h.config, COOKIE_SECURE: 'auto' }, req('https')).secure, true);
  assert.equal(cookieOptions({ ...h.config, COOKIE_SECURE: 'auto' }, req('http')).secure, false);
  assert.equal(cookieOptions({ ...h.config, COOKIE_SECURE: 'always' }, req('http')).secure, true);
  assert.equal(cookieOptions({ ...h.config, COOKIE_SECURE: 'never' }, req('https')).secure, false);
});
