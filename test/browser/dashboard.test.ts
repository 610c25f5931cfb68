import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser as PwBrowser, type Page } from 'playwright-core';
import { ClientsData } from '../../src/clients/clientsData.js';
import { dataFolders } from '../../src/data/folders.js';
import { Action, Reason, reasonMessage } from '../../src/domain/action.js';
import type { UploadedImage } from '../../src/http/services.js';
import { startTestRedis, waitFor } from '../helpers/redis.js';
import { ADMIN, PASSWORD, startAdminApp } from '../http/harness.js';
import { startStatusManager } from '../../src/clients/statusManager.js';
import { createLogger } from '../../src/log.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const VIDEO = join(process.cwd(), '../shared/data/sequence/proctoring_ai/center_left_center.mp4');

// A fake webcam: Chromium plays a .y4m file (raw yuv420p) in a loop as the camera.
const tmp = await mkdtemp(join(tmpdir(), 'vigil-browser-'));
after(() => rm(tmp, { recursive: true, force: true }));
const y4m = join(tmp, 'webcam.y4m');
const ff = spawnSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', VIDEO, '-t', '4', '-vf', 'scale=640:480,fps=10', '-pix_fmt', 'yuv420p', y4m]);
assert.equal(ff.status, 0, `ffmpeg failed: ${ff.stderr}`);
await mkdir(ARTIFACTS, { recursive: true });

const { server } = await startTestRedis();
const enrolled: { name: string; images: UploadedImage[] }[] = [];

// The real status manager (seed 001) behind the pause/resume buttons; alice is an enrolled user.
let manager: Awaited<ReturnType<typeof startStatusManager>> | undefined;
after(() => manager?.stop());
const app = await startAdminApp(server, { AGENT_FRAME_INTERVAL_MS: 300, ACTION_REDELIVER_MS: 60_000 }, async ({ config, conns }) => {
  manager = await startStatusManager({ config, log: createLogger('silent'), redis: conns.redis, keys: conns.keys, subscriber: conns.subscriber, availableUsers: async () => ['alice', 'bob'], watchFiles: false });
  return {
    status: manager.service,
    hooks: manager.hooks,
    users: {
      list: async () => enrolled.map((e) => ({ name: e.name, images: e.images.length, updatedAt: new Date().toISOString() })),
      enrol: async (name, images) => (enrolled.push({ name, images }), { stored: images.length }),
      remove: async () => false,
    },
  };
});

const browser: PwBrowser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`],
});
after(() => browser.close());
const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
const dash: Page = await context.newPage();
const agentPage: Page = await context.newPage();
const pageErrors: string[] = [];
for (const p of [dash, agentPage]) p.on('pageerror', (e) => pageErrors.push(e.message));

const agentState = () => agentPage.evaluate(() => (window as unknown as { vigilAgent: { framesSent: number; actions: { reason: string }[]; paused: boolean; locked: boolean; signedOut: boolean; connected: boolean } }).vigilAgent);

test('login page: a wrong password is refused with a message, the right one opens the dashboard', async () => {
  await dash.goto(`${app.url}/`);
  await dash.waitForSelector('#login-form');
  await dash.screenshot({ path: join(ARTIFACTS, '01-login.png') });
  await dash.fill('#username', ADMIN);
  await dash.fill('#password', 'not the password');
  await dash.click('#login-submit');
  await dash.waitForFunction(() => document.querySelector('#login-error')?.textContent?.includes('wrong'));
  await dash.fill('#password', PASSWORD);
  await dash.click('#login-submit');
  await dash.waitForSelector('#shell:not(.hidden)');
  assert.equal(await dash.textContent('#who-name'), ADMIN);
  const cookies = await context.cookies();
  const sid = cookies.find((c) => c.name === 'vigil_sid');
  assert.ok(sid?.httpOnly, 'the session cookie is httpOnly');
  assert.equal(sid?.sameSite, 'Strict');
});

test('an admin issues an agent link; the agent page streams the webcam over the WebSocket', async () => {
  await dash.goto(`${app.url}/#/access`);
  await dash.fill('#token-client', 'alice');
  await dash.click('form:has(#token-client) button[type=submit]');
  const link = (await (await dash.waitForSelector('#agent-link')).textContent())!;
  assert.match(link, /\/agent#client=alice&token=vgl_/);
  await agentPage.goto(link);
  await agentPage.waitForFunction(() => (window as unknown as { vigilAgent: { framesSent: number } }).vigilAgent.framesSent >= 3, undefined, { timeout: 15_000 });
  assert.equal(new URL(agentPage.url()).hash, '', 'the token leaves the address bar');
  const frame = await app.registry.getClientImage('alice');
  assert.ok(frame && frame.format === 'jpeg' && frame.size > 5_000, 'a real JPEG from the fake webcam is stored');
  await agentPage.screenshot({ path: join(ARTIFACTS, '03-agent.png') });
});

test('the client appears live in the dashboard grid with its latest frame', async () => {
  await dash.goto(`${app.url}/#/`);
  const thumb = '[data-client="alice"] .thumb img';
  await dash.waitForFunction((sel) => {
    const img = document.querySelector(sel) as HTMLImageElement | null;
    return !!img && img.complete && img.naturalWidth === 320;
  }, thumb, { timeout: 10_000 });
  const first = await dash.getAttribute(thumb, 'src');
  // Live: the thumbnail follows new frames without a reload.
  await dash.waitForFunction((prev) => document.querySelector('[data-client="alice"] .thumb img')?.getAttribute('src') !== prev, first, { timeout: 10_000 });
  assert.equal(await dash.textContent('#stat-connected'), '1');
  await dash.waitForSelector('[data-client="alice"] .badge[data-state="active"]', { timeout: 10_000 });
  await dash.waitForSelector('#live-dot.on');
});

test('pausing from the dashboard shows on the agent page, which acks the action', async () => {
  await dash.click('[data-client="alice"] button[data-change="pause"]');
  await agentPage.waitForSelector('#paused-banner', { timeout: 10_000 });
  assert.equal((await agentPage.textContent('#state-badge'))?.trim(), 'paused');
  await dash.waitForSelector('[data-client="alice"] .badge[data-state="paused"]', { timeout: 10_000 });
  await waitFor(async () => (await new ClientsData(app.conns.redis, app.conns.keys, 'alice').pendingActions()).length === 0, { what: 'the pause action to be acked', timeoutMs: 15_000 });
  await dash.screenshot({ path: join(ARTIFACTS, '02-dashboard-paused.png') });
  await dash.click('[data-client="alice"] button[data-change="resume"]');
  await agentPage.waitForFunction(() => !(window as unknown as { vigilAgent: { paused: boolean } }).vigilAgent.paused);
});

test('camera loss is reported as telemetry', async () => {
  await agentPage.evaluate(() => {
    const v = document.querySelector('#preview') as HTMLVideoElement;
    (v.srcObject as MediaStream).getVideoTracks()[0]!.dispatchEvent(new Event('ended'));
  });
  const item = await waitFor(async () => {
    const raw = await app.conns.redis.lrange(app.conns.keys.received('alice'), 0, -1);
    return raw.map((r) => JSON.parse(r) as { event?: string }).find((r) => r.event === 'camera_detached');
  }, { what: 'camera_detached telemetry', timeoutMs: 10_000 });
  assert.equal(item.event, 'camera_detached');
  await agentPage.waitForSelector('#camera-banner');
});

test('an action with evidence: warning banner on the agent, evidence in the client page', async () => {
  // What the decision step does (src/decisions): evidence files, an audit entry, the agent's action, an event.
  const frame = (await app.registry.getClientImage('alice'))!;
  const dir = join(dataFolders(app.config).actions, 'Warning', 'alice');
  await mkdir(dir, { recursive: true });
  const base = '22_11_2026-00_30_Warning_Phone_detection';
  await writeFile(join(dir, `${base}.jpg`), frame.data);
  await writeFile(join(dir, `${base}.json`), JSON.stringify({ scores: { phone: 0.91 }, model: 'coco-ssd', frameTs: frame.tsMs }));
  const at = Date.now();
  const record = { id: 'act-1', clientId: 'alice', user: 'alice', action: Action.ACTION_WARNING, reason: Reason.REASON_PHONE_DETECTION, message: reasonMessage[Reason.REASON_PHONE_DETECTION], decidedAt: at, evidence: { image: `Actions/Warning/alice/${base}.jpg`, sidecar: `Actions/Warning/alice/${base}.json` } };
  await app.conns.redis.xadd(app.conns.keys.audit, '*', 'id', record.id, 'client', 'alice', 'record', JSON.stringify(record));
  await new ClientsData(app.conns.redis, app.conns.keys, 'alice').enqueueAction({ type: 'action', id: record.id, action: record.action, reason: record.reason, message: record.message, at });
  await app.conns.redis.publish(app.conns.keys.channels.events, JSON.stringify({ type: 'action', record }));

  await agentPage.waitForSelector('.banner.warning >> text=phone', { timeout: 10_000 });
  await agentPage.screenshot({ path: join(ARTIFACTS, '04-agent-warning.png') });
  await dash.waitForSelector('[data-client="alice"] .last-action >> text=Phone detection', { timeout: 10_000 });
  await dash.evaluate(() => document.querySelector('#toasts')?.replaceChildren());
  await dash.screenshot({ path: join(ARTIFACTS, '05-dashboard.png'), fullPage: true });
  await dash.setViewportSize({ width: 390, height: 844 });
  await dash.screenshot({ path: join(ARTIFACTS, '05-dashboard-phone.png'), fullPage: true });
  await dash.setViewportSize({ width: 1360, height: 900 });

  await dash.goto(`${app.url}/#/clients/alice`);
  // The client page re-renders on live updates: find the image anew when clicking (a locator), not a handle.
  const evidence = 'tr[data-action-id="act-1"] img.evidence';
  await dash.waitForFunction((sel) => {
    const img = document.querySelector(sel) as HTMLImageElement | null;
    return !!img && img.complete && img.naturalWidth > 0;
  }, evidence, { timeout: 10_000 });
  await dash.locator(evidence).click({ timeout: 10_000 });
  await dash.waitForSelector('.modal >> text=scores.phone');
  await dash.screenshot({ path: join(ARTIFACTS, '06-client-evidence.png') });
  await dash.click('.modal button');
});

test('enrolment from the dashboard: upload captured from the webcam', async () => {
  await dash.goto(`${app.url}/#/users`);
  await dash.fill('#enrol-name', 'bob');
  await dash.click('button:text("Start camera")');
  await dash.waitForFunction(() => (document.querySelector('.capture video') as HTMLVideoElement).videoWidth > 0);
  await dash.click('button:text("Capture")');
  await dash.waitForSelector('.shots img');
  await dash.click('#enrol-submit');
  await dash.waitForSelector('td >> text=bob', { timeout: 10_000 });
  assert.equal(enrolled.length, 1);
  assert.equal(enrolled[0]!.images[0]!.mime, 'image/jpeg');
  assert.ok(enrolled[0]!.images[0]!.data.length > 5_000);
  await dash.screenshot({ path: join(ARTIFACTS, '07-users.png') });
});

test('the agent reconnects by itself when the server drops its socket', async () => {
  const before = (await agentState()).framesSent;
  assert.equal(app.gateway.disconnect('alice', 1012, 'service restart'), true);
  await agentPage.waitForFunction(() => !(window as unknown as { vigilAgent: { connected: boolean } }).vigilAgent.connected);
  await agentPage.waitForFunction(() => (window as unknown as { vigilAgent: { connected: boolean } }).vigilAgent.connected, undefined, { timeout: 10_000 });
  await agentPage.waitForFunction((n) => (window as unknown as { vigilAgent: { framesSent: number } }).vigilAgent.framesSent > n + 2, before, { timeout: 10_000 });
  assert.deepEqual(app.gateway.connectedClients(), ['alice']);
});

test('lock overlay, then the signed-out screen', async () => {
  const data = new ClientsData(app.conns.redis, app.conns.keys, 'alice');
  await data.enqueueAction({ type: 'action', id: 'lock-1', action: Action.ACTION_LOCK_SCREEN, reason: Reason.REASON_WRONG_USER, message: reasonMessage[Reason.REASON_WRONG_USER], at: Date.now() });
  await agentPage.waitForSelector('#lock:not(.hidden)', { timeout: 10_000 });
  assert.match((await agentPage.textContent('#lock-message'))!, /not the enrolled user/);
  await agentPage.screenshot({ path: join(ARTIFACTS, '08-agent-locked.png') });
  await data.enqueueAction({ type: 'action', id: 'out-1', action: Action.ACTION_SIGN_OUT, reason: Reason.REASON_SPOOF_IMAGE, message: reasonMessage[Reason.REASON_SPOOF_IMAGE], at: Date.now() });
  await agentPage.waitForSelector('#signed-out:not(.hidden)', { timeout: 10_000 });
  const s = await agentState();
  assert.equal(s.signedOut, true);
  assert.ok(s.actions.some((a) => a.reason === 'REASON_PHONE_DETECTION'));
  await agentPage.screenshot({ path: join(ARTIFACTS, '09-agent-signed-out.png') });
  await waitFor(async () => (await data.pendingActions()).length === 0, { what: 'every action acked', timeoutMs: 15_000 });
  await waitFor(async () => (await app.registry.getAllClients()).length === 0, { what: 'the signed-out agent to disconnect', timeoutMs: 15_000 });
});

test('no script errors on any page', () => {
  // Screenshots stay in test-artifacts/; docs/dashboard.png is refreshed by hand from there (a test
  // must not rewrite tracked files).
  assert.deepEqual(pageErrors, []);
});
