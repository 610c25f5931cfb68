import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { pino } from 'pino';
import { startTestRedis, testConfig, connectTest, waitFor } from '../helpers/redis.js';
import { createDecisionEngine, type DecisionEngine } from '../../src/decisions/engine.js';
import { EvidenceWriter, evidenceBaseName } from '../../src/decisions/evidence.js';
import { PolicyError, defaultPolicy } from '../../src/decisions/policyFile.js';
import { ClientsData } from '../../src/clients/clientsData.js';
import { Action, Reason } from '../../src/domain/action.js';
import { dataFolders } from '../../src/data/folders.js';
import type { ActionRecord } from '../../src/decisions/actionRecord.js';
import { HistoryRepository } from '../../src/decisions/historyRepository.js';
import { AuditLog } from '../../src/decisions/audit.js';
import { AuditStreamActions } from '../../src/http/adapters.js';
import { decide, emptyHistory, type History } from '../../src/decisions/policy.js';
import type { Config } from '../../src/config/index.js';
import { scriptObservations, type SceneStep } from './scenes.js';

const { server } = await startTestRedis();
const log = pino({ level: 'silent' });
const JPEG = await readFile('../shared/data/spoof/silentface/image_T1.jpg');
const WEBP = await readFile('../shared/data/face/deepface/img47.jpg');
const START = Date.UTC(2026, 10, 22, 9, 0, 0);

async function tempDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-decisions-'));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function setup(overrides: Partial<Record<keyof Config, unknown>> = {}, clock?: () => number) {
  const config = testConfig({ DATA_DIR: await tempDataDir(), ...overrides });
  const conns = await connectTest(server, config);
  const engine = await createDecisionEngine({ config, log, redis: conns.redis, keys: conns.keys, now: clock });
  after(() => engine.close());
  return { config, engine, ...conns };
}

/** Feeds a script to the engine(s); `pick` chooses which engine handles each frame (several = racing). */
async function feed(steps: SceneStep[], engines: (frameIndex: number) => DecisionEngine[], clock: { t: number }, frame: Buffer = JPEG): Promise<ActionRecord[]> {
  const fired: ActionRecord[] = [];
  let i = 0;
  for (const { obs, now } of scriptObservations(steps, { startMs: START })) {
    clock.t = now;
    const results = await Promise.all(engines(i++).map((e) => e.onObservation(obs, frame)));
    for (const r of results) if (r) fired.push(r);
  }
  return fired;
}

async function listEvidence(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (d.isDirectory()) await walk(join(dir, d.name), `${rel}${d.name}/`);
      else out.push(`${rel}${d.name}`);
    }
  };
  await walk(join(root, 'Actions'), 'Actions/');
  return out.sort();
}

const script: SceneStep[] = [
  { scene: 'user', seconds: 3 },
  { scene: 'nobody', seconds: 12 },
  { scene: 'other_user', seconds: 6 },
  { scene: 'user', seconds: 6 },
  { scene: 'photo_of_user', seconds: 3 },
];
const expected = [
  [Action.ACTION_WARNING, Reason.REASON_NO_FACE],
  [Action.ACTION_LOCK_SCREEN, Reason.REASON_WRONG_USER],
  [Action.ACTION_LOCK_SCREEN, Reason.REASON_SPOOF_IMAGE],
];

test('engine: two engines racing on every frame of a client fire each decision once', async () => {
  const clock = { t: START };
  const a = await setup({}, () => clock.t);
  const b = await createDecisionEngine({ config: a.config, log, redis: (await connectTest(server, a.config)).redis, keys: a.keys, now: () => clock.t });
  after(() => b.close());

  const fired = await feed(script, () => [a.engine, b, a.engine, b], clock);
  assert.deepEqual(fired.map((r) => [r.action, r.reason]), expected);

  const queued = await new ClientsData(a.redis, a.keys, 'alice').pendingActions();
  assert.deepEqual(queued.map((m) => [m.action, m.reason]), expected);
  assert.deepEqual(queued.map((m) => m.id), fired.map((r) => r.id));
  assert.equal(await a.redis.xlen(a.keys.audit), 3);
  assert.equal((await listEvidence(a.config.DATA_DIR)).length, 6, 'one image and one sidecar per action');
  const conflicts = a.engine.stats().conflicts + b.stats().conflicts;
  assert.ok(conflicts > 0, 'the engines really raced (some commits were refused and retried)');
  assert.equal(a.engine.stats().actions + b.stats().actions, 3);
});

test('engine: engines taking turns continue each other\'s history (any worker continues)', async () => {
  const clock = { t: START };
  const a = await setup({}, () => clock.t);
  const b = await createDecisionEngine({ config: a.config, log, redis: a.redis, keys: a.keys, now: () => clock.t });
  after(() => b.close());
  const fired = await feed(script, (i) => [i % 2 === 0 ? a.engine : b], clock);
  assert.deepEqual(fired.map((r) => [r.action, r.reason]), expected);
});

test('engine: a retried observation is harmless (idempotent)', async () => {
  const clock = { t: START };
  const { engine, redis, keys } = await setup({}, () => clock.t);
  let fired = 0;
  for (const { obs, now } of scriptObservations([{ scene: 'photo_of_user', seconds: 2 }], { startMs: START })) {
    clock.t = now;
    for (let retry = 0; retry < 3; retry++) if (await engine.onObservation(obs, JPEG)) fired++;
  }
  assert.equal(fired, 1);
  assert.equal(await redis.llen(keys.actions('alice')), 1);
});

test('engine: evidence at the seed path, JPEG and sidecar; audit stream, JSONL file, live event and action message agree', async () => {
  const clock = { t: START };
  const { engine, config, redis, keys, subscriber } = await setup({}, () => clock.t);
  const events: string[] = [];
  await subscriber.subscribe(keys.channels.events);
  subscriber.on('message', (ch, msg) => ch === keys.channels.events && events.push(msg));

  const [record] = await feed([{ scene: 'user', seconds: 3 }, { scene: 'photo_of_user', seconds: 1 }], () => [engine], clock);
  assert.ok(record);
  const base = 'Actions/Lock_screen/alice/22_11_2026-09_00_Lock_screen_Spoof_image';
  assert.deepEqual(await listEvidence(config.DATA_DIR), [`${base}.jpg`, `${base}.json`]);
  assert.deepEqual(record.evidence, { sidecar: `${base}.json`, image: `${base}.jpg` });
  assert.deepEqual(await readFile(join(config.DATA_DIR, `${base}.jpg`)), JPEG, 'a JPEG frame is kept byte for byte');

  const sidecar = JSON.parse(await readFile(join(config.DATA_DIR, `${base}.json`), 'utf8')) as ActionRecord;
  assert.deepEqual(sidecar, record);
  assert.equal(sidecar.clientId, 'alice');
  assert.equal(sidecar.user, 'alice');
  assert.equal(sidecar.action, Action.ACTION_LOCK_SCREEN);
  assert.equal(sidecar.reasonName, 'REASON_SPOOF_IMAGE');
  assert.equal(sidecar.frameTs, START + 3_000);
  assert.equal(sidecar.frameSeq, 4);
  assert.equal(sidecar.modelVersion, 'test-models-1');
  assert.equal(sidecar.policyVersion, defaultPolicy.version);
  assert.equal(sidecar.scores.realScore, 0.12);

  const entries = await redis.xrange(keys.audit, '-', '+');
  assert.equal(entries.length, 1);
  const fields = entries[0]![1];
  assert.deepEqual(JSON.parse(fields[fields.indexOf('record') + 1]!), record);

  const jsonl = await readFile(join(config.DATA_DIR, 'Audit', '2026-11-22.jsonl'), 'utf8');
  assert.deepEqual(jsonl.trim().split('\n').map((l) => JSON.parse(l) as ActionRecord), [record]);

  const [message] = await new ClientsData(redis, keys, 'alice').pendingActions();
  assert.deepEqual(message, { type: 'action', id: record.id, action: Action.ACTION_LOCK_SCREEN, reason: Reason.REASON_SPOOF_IMAGE, message: record.message, at: record.decidedAt });

  const event = JSON.parse(await waitFor(() => events[0], { what: 'live event' })) as { type: string; record: ActionRecord };
  assert.equal(event.type, 'action');
  assert.deepEqual(event.record, record);
});

test('engine: a WebP frame is stored as JPEG; an unreadable frame leaves a sidecar saying so', async () => {
  const clock = { t: START };
  const { engine, config } = await setup({}, () => clock.t);
  const [r1] = await feed([{ scene: 'photo_of_user', seconds: 1 }], () => [engine], clock, WEBP);
  const img = await readFile(join(config.DATA_DIR, r1!.evidence!.image!));
  assert.deepEqual([...img.subarray(0, 3)], [0xff, 0xd8, 0xff]);

  // Recover (two live checks), then spoof again with garbage bytes as the frame.
  const more = await feed([{ scene: 'photo_of_user', seconds: 1 }, { scene: 'user', seconds: 4 }, { scene: 'photo_of_user', seconds: 1 }], () => [engine], clock, Buffer.from('not an image'));
  const r2 = more.at(-1)!;
  assert.equal(r2.evidence?.image, undefined);
  assert.match(r2.evidenceError ?? '', /not a JPEG, PNG or WebP/);
  const sidecar = JSON.parse(await readFile(join(config.DATA_DIR, r2.evidence!.sidecar), 'utf8')) as ActionRecord;
  assert.equal(sidecar.id, r2.id);
});

test('engine: a second action in the same minute never overwrites the first', async () => {
  const clock = { t: START + 10_000 };
  const { engine, config } = await setup({}, () => clock.t);
  const tel = (event: 'camera_detached' | 'camera_attached') => engine.onTelemetry({ clientId: 'alice', event, at: clock.t, receivedAt: clock.t });
  const r1 = await tel('camera_detached');
  clock.t += 5_000;
  await tel('camera_attached');
  clock.t += 5_000;
  const r2 = await tel('camera_detached');
  assert.ok(r1 && r2);
  const base = 'Actions/Lock_screen/alice/22_11_2026-09_00_Lock_screen_Camera_not_attach';
  assert.equal(r1.evidence?.sidecar, `${base}.json`);
  assert.equal(r2.evidence?.sidecar, `${base}_2.json`);
  assert.equal(r1.evidence?.image, undefined, 'device events have no frame');
  assert.equal(JSON.parse(await readFile(join(config.DATA_DIR, `${base}.json`), 'utf8')).id, r1.id);
  assert.equal(JSON.parse(await readFile(join(config.DATA_DIR, `${base}_2.json`), 'utf8')).id, r2.id);
});

test('evidence: concurrent writers of the same minute each get their own name', async () => {
  const root = await tempDataDir();
  const writer = new EvidenceWriter(dataFolders({ DATA_DIR: root, NAMESPACE: 'x' }));
  const record = { id: 'r', clientId: 'bob', user: 'bob', action: Action.ACTION_WARNING, reason: Reason.REASON_PHONE_DETECTION, frameTs: START, decidedAt: START } as ActionRecord;
  const written = await Promise.all(Array.from({ length: 6 }, (_, i) => writer.write({ ...record, id: `r${i}` }, JPEG)));
  const names = written.map((w) => w.evidence!.image!).sort();
  assert.equal(new Set(names).size, 6);
  assert.equal(evidenceBaseName(record), '22_11_2026-09_00_Warning_Phone_detection');
  for (const w of written) {
    const side = JSON.parse(await readFile(join(root, w.evidence!.sidecar), 'utf8')) as ActionRecord;
    assert.equal(side.id, w.id);
  }
  await assert.rejects(writer.write({ ...record, user: '../etc' }, JPEG), /refusing user name/);
});

test('engine: retention deletes old evidence and audit files, keeps recent ones', async () => {
  const now = Date.UTC(2026, 10, 22, 12, 0, 0);
  const { engine, config } = await setup({ EVIDENCE_RETENTION_DAYS: 30 }, () => now);
  const dir = join(config.DATA_DIR, 'Actions', 'Warning', 'carol');
  await mkdir(dir, { recursive: true });
  const oldDir = join(config.DATA_DIR, 'Actions', 'Sign_out', 'dave');
  await mkdir(oldDir, { recursive: true });
  const audit = join(config.DATA_DIR, 'Audit');
  await mkdir(audit, { recursive: true });
  const files = {
    old: join(dir, '01_10_2026-08_00_Warning_No_face.jpg'),
    oldSide: join(dir, '01_10_2026-08_00_Warning_No_face.json'),
    recent: join(dir, '20_11_2026-08_00_Warning_No_face.jpg'),
    onlyOld: join(oldDir, '01_01_2026-08_00_Sign_out_Wrong_user.json'),
    oldAudit: join(audit, '2026-10-01.jsonl'),
    recentAudit: join(audit, '2026-11-21.jsonl'),
  };
  for (const f of Object.values(files)) await writeFile(f, 'x');
  const result = await engine.sweepRetention();
  assert.deepEqual(result, { evidenceDeleted: 3, auditDeleted: 1 });
  const exists = async (p: string) => stat(p).then(() => true, () => false);
  assert.equal(await exists(files.old), false);
  assert.equal(await exists(files.oldSide), false);
  assert.equal(await exists(files.recent), true);
  assert.equal(await exists(oldDir), false, 'an emptied user folder goes too');
  assert.equal(await exists(files.oldAudit), false);
  assert.equal(await exists(files.recentAudit), true);

  // The loop runs a pass at start.
  await writeFile(files.old, 'x');
  engine.startRetention();
  await waitFor(async () => !(await exists(files.old)), { what: 'retention loop pass' });
});

test('engine: POLICY_FILE is loaded (YAML) and a bad one names the key', async () => {
  const dir = await tempDataDir();
  const good = join(dir, 'policy.yaml');
  await writeFile(good, 'version: strict-1\nreasons:\n  noFace:\n    ladder:\n      - { action: lock_screen, afterMs: 2000 }\n');
  const clock = { t: START };
  const { engine } = await setup({ POLICY_FILE: good }, () => clock.t);
  assert.match(engine.policy.version, /^strict-1\+[0-9a-f]{12}$/);
  const fired = await feed([{ scene: 'nobody', seconds: 3 }], () => [engine], clock);
  assert.deepEqual(fired.map((r) => [r.action, r.reason, r.policyVersion]), [[Action.ACTION_LOCK_SCREEN, Reason.REASON_NO_FACE, engine.policy.version]]);

  const bad = join(dir, 'bad.json');
  await writeFile(bad, JSON.stringify({ reasons: { phone: { minScor: 0.5, ladder: [{ action: 'explode', afterMs: 0 }] } } }));
  const config = testConfig({ DATA_DIR: dir, POLICY_FILE: bad });
  const { redis, keys } = await connectTest(server, config);
  await assert.rejects(createDecisionEngine({ config, log, redis, keys }), (err: Error) => {
    assert.ok(err instanceof PolicyError);
    assert.match(err.message, /reasons\.phone\.minScor: unknown key/);
    assert.match(err.message, /reasons\.phone\.ladder\[0\]\.action/);
    return true;
  });
});

test('engine: an invalid client id is refused before it reaches Redis or a path', async () => {
  const { engine } = await setup();
  const [first] = [...scriptObservations([{ scene: 'nobody', seconds: 1 }], { clientId: 'x' })];
  assert.ok(first);
  await assert.rejects(engine.onObservation({ ...first.obs, clientId: '../../etc' }), /invalid client id/);
});

test('history repository: round trip, compare-and-set refuses a stale revision and queues nothing', async () => {
  const config = testConfig();
  const { redis, keys } = await connectTest(server, config);
  const repo = new HistoryRepository(redis, keys, 60_000);
  const empty = await repo.load('erin');
  assert.deepEqual(empty, { rev: '0', history: emptyHistory(), trails: [] });
  const h1: History = { v: 1, lastFrame: { ts: 5, seq: 1 }, conditions: { noFace: { since: 1, lastSeen: 5, count: 2, misses: 0, step: 0, inForce: Action.ACTION_WARNING } } };
  const record = { id: 'm1', clientId: 'erin', user: 'erin', action: Action.ACTION_WARNING, reason: Reason.REASON_NO_FACE, message: 'x', decidedAt: 5 } as ActionRecord;
  assert.equal(await repo.commit('erin', '0', h1, record), true);
  const loaded = await repo.load('erin');
  assert.deepEqual(loaded, { rev: '1', history: h1, trails: [record] });
  assert.equal(await repo.commit('erin', '0', emptyHistory(), { ...record, id: 'm2' }), false, 'a writer that read revision 0 lost the race');
  assert.deepEqual(await new ClientsData(redis, keys, 'erin').pendingActions(), [{ type: 'action', id: 'm1', action: Action.ACTION_WARNING, reason: Reason.REASON_NO_FACE, message: 'x', at: 5 }]);
  assert.equal(await repo.trailDone('erin', 'm1'), true);
  assert.equal(await repo.trailDone('erin', 'm1'), false, 'only one claimer gets an outbox entry');
  assert.deepEqual((await repo.load('erin')).trails, []);
  const ttl = await redis.pttl(keys.history('erin'));
  assert.ok(ttl > 0 && ttl <= 60_000);
  await redis.hset(keys.history('erin'), 'state', '{"v":99}');
  const broken = await repo.load('erin');
  assert.deepEqual(broken.history, emptyHistory());
  assert.ok(broken.discarded);
});

test('engine: a worker that stopped after committing leaves its audit to the next worker (outbox)', async () => {
  const clock = { t: START };
  const { engine, config, redis, keys } = await setup({}, () => clock.t);
  // What a worker that died right after the commit leaves behind: the action queued, the record in the outbox.
  const repo = new HistoryRepository(redis, keys, 60_000);
  const lost = { id: 'lost-1', clientId: 'frank', user: 'frank', action: Action.ACTION_LOCK_SCREEN, actionName: 'ACTION_LOCK_SCREEN', reason: Reason.REASON_SPOOF_IMAGE, reasonName: 'REASON_SPOOF_IMAGE', message: 'm', condition: 'spoof', step: 0, scores: {}, source: 'observation', frameSeq: 1, frameTs: START, decidedAt: START, policyVersion: 'p' } as ActionRecord;
  assert.equal(await repo.commit('frank', '0', { v: 1, lastFrame: { ts: START, seq: 1 }, conditions: {} }, lost), true);

  // Within the reclaim delay the owner may still be writing: nothing is taken over.
  const frames = [...scriptObservations([{ scene: 'user', seconds: 90 }], { clientId: 'frank', startMs: START + 1_000 })];
  clock.t = frames[0]!.now;
  await engine.onObservation(frames[0]!.obs, JPEG);
  assert.equal(engine.stats().reclaimed, 0);
  const late = frames.find((f) => f.now - START > 60_000)!;
  clock.t = late.now;
  await engine.onObservation(late.obs, JPEG);
  await engine.close();
  assert.equal(engine.stats().reclaimed, 1);
  const audit = await redis.xrange(keys.audit, '-', '+');
  assert.equal(audit.length, 1);
  const base = 'Actions/Lock_screen/frank/22_11_2026-09_00_Lock_screen_Spoof_image.json';
  const sidecar = JSON.parse(await readFile(join(config.DATA_DIR, base), 'utf8')) as ActionRecord;
  assert.equal(sidecar.id, 'lost-1');
  assert.match(sidecar.evidenceError ?? '', /frame was lost/);
  assert.deepEqual((await repo.load('frank')).trails, []);
});

test('engine: a finished action leaves no outbox entry', async () => {
  const clock = { t: START };
  const { engine, redis, keys } = await setup({}, () => clock.t);
  const fired = await feed([{ scene: 'photo_of_user', seconds: 2 }], () => [engine], clock);
  assert.equal(fired.length, 1);
  assert.deepEqual(Object.keys(await redis.hgetall(keys.history('alice'))).sort(), ['rev', 'state']);
});

test('audit: recent() reads the stream newest first, optionally for one client', async () => {
  const config = testConfig({ DATA_DIR: await tempDataDir() });
  const { redis, keys } = await connectTest(server, config);
  const audit = new AuditLog(redis, keys, dataFolders(config).audit, 1_000);
  for (const [i, client] of ['a1', 'b2', 'a1'].entries()) {
    await audit.toStream({ id: `r${i}`, clientId: client, action: Action.ACTION_WARNING, reason: Reason.REASON_NO_FACE, decidedAt: START } as ActionRecord);
  }
  assert.deepEqual((await audit.recent(10)).map((r) => r.id), ['r2', 'r1', 'r0']);
  assert.deepEqual((await audit.recent(10, 'a1')).map((r) => r.id), ['r2', 'r0']);
  assert.deepEqual((await audit.recent(1)).map((r) => r.id), ['r2']);
});

test('admin API adapter (AuditStreamActions) reads what the engine writes: newest first, filtered, evidence under Data/Actions', async () => {
  const clock = { t: START };
  const { engine, redis, keys } = await setup({}, () => clock.t);
  await feed(script, () => [engine], clock);
  const service = new AuditStreamActions(redis, keys);
  const all = await service.list({ limit: 100 });
  assert.deepEqual(all.map((a) => a.reason), [Reason.REASON_SPOOF_IMAGE, Reason.REASON_WRONG_USER, Reason.REASON_NO_FACE]);
  assert.equal(all[0]!.evidence?.image, 'Lock_screen/alice/22_11_2026-09_00_Lock_screen_Spoof_image.jpg');
  assert.equal(all[0]!.at, START + 27_000);
  assert.deepEqual((await service.list({ reason: Reason.REASON_NO_FACE, limit: 10 })).map((a) => a.reason), [Reason.REASON_NO_FACE]);
  assert.deepEqual(await service.list({ clientId: 'nobody-else', limit: 10 }), []);
  assert.equal((await service.list({ limit: 2 })).length, 2);
  assert.deepEqual(await service.list({ since: Date.now() + 60_000, limit: 10 }), []);
});

test('engine: many clients, three engines, every frame delivered twice: exactly the pure policy\'s actions, none lost, none doubled', async () => {
  const clock = { t: START };
  const a = await setup({}, () => clock.t);
  const engines = [a.engine];
  for (let i = 0; i < 2; i++) {
    const c = await connectTest(server, a.config);
    const e = await createDecisionEngine({ config: a.config, log, redis: c.redis, keys: c.keys, now: () => clock.t });
    after(() => e.close());
    engines.push(e);
  }
  const steps: SceneStep[] = [
    { scene: 'user', seconds: 3 },
    { scene: 'nobody', seconds: 14 },
    { scene: 'two_people', seconds: 5 },
    { scene: 'stranger', seconds: 7 },
    { scene: 'user', seconds: 7 },
    { scene: 'phone', seconds: 10 },
    { scene: 'photo_of_user', seconds: 2 },
  ];
  const clients = Array.from({ length: 12 }, (_, i) => `client-${i}`);
  const scripts = clients.map((id) => [...scriptObservations(steps, { clientId: id, startMs: START })]);

  // What the pure policy decides for one client, frame after frame.
  let h = emptyHistory();
  const expectedOne: [number, number][] = [];
  for (const { obs, now } of scripts[0]!) {
    const r = decide({ kind: 'observation', obs }, h, defaultPolicy.config, now);
    h = r.history;
    if (r.decision) expectedOne.push([r.decision.action, r.decision.reason]);
  }
  assert.ok(expectedOne.length >= 5, 'the script produces several actions');

  for (let f = 0; f < scripts[0]!.length; f++) {
    clock.t = scripts[0]![f]!.now;
    await Promise.all(
      scripts.flatMap((frames, c) => {
        const e1 = engines[(f + c) % 3]!;
        const e2 = engines[(f + c + 1) % 3]!;
        return [e1.onObservation(frames[f]!.obs, JPEG), e2.onObservation(frames[f]!.obs, JPEG)];
      }),
    );
  }
  await Promise.all(engines.map((e) => e.close()));
  for (const id of clients) {
    const queued = await new ClientsData(a.redis, a.keys, id).pendingActions();
    assert.deepEqual(queued.map((m) => [m.action, m.reason]), expectedOne, id);
  }
  const total = expectedOne.length * clients.length;
  assert.equal(await a.redis.xlen(a.keys.audit), total);
  assert.equal(engines.reduce((n, e) => n + e.stats().actions, 0), total);
  assert.equal((await listEvidence(a.config.DATA_DIR)).length, total * 2);
  const jsonl = await readFile(join(a.config.DATA_DIR, 'Audit', '2026-11-22.jsonl'), 'utf8');
  assert.equal(new Set(jsonl.trim().split('\n').map((l) => (JSON.parse(l) as ActionRecord).id)).size, total);
});
