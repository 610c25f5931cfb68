import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { buildActionRecord } from '../../src/decisions/actionRecord.js';
import { AuditLog } from '../../src/decisions/audit.js';
import { EvidenceWriter } from '../../src/decisions/evidence.js';
import { dataFolders } from '../../src/data/folders.js';
import { Action, Reason } from '../../src/domain/action.js';
import { startTestRedis, waitFor } from '../helpers/redis.js';
import { Browser, startAdminApp } from './harness.js';

// The admin API against what the decision step really writes (src/decisions): audit stream,
// evidence files with paths relative to DATA_DIR, and the action event.
const { server } = await startTestRedis();
const h = await startAdminApp(server);
const admin = new Browser(h.url);
await admin.login();
const folders = dataFolders(h.config);
const audit = new AuditLog(h.conns.redis, h.conns.keys, folders.audit, 1_000);
const evidence = new EvidenceWriter(folders);
const frame = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#a0522d' } }).jpeg().toBuffer();

test('a decision written by src/decisions shows in /api/actions with its evidence, served and counted', async () => {
  const decidedAt = Date.now();
  const base = buildActionRecord(
    { kind: 'telemetry', record: { clientId: 'grace', event: 'camera_detached', at: decidedAt, receivedAt: decidedAt } },
    { action: Action.ACTION_WARNING, reason: Reason.REASON_CAMERA_NOT_ATTACH, scores: { seconds: 3 }, condition: 'cameraDetached', step: 0 },
    'test-policy',
    decidedAt,
  );
  const record = await evidence.write(base, frame);
  assert.ok(record.evidence?.image, 'the evidence writer stored an image');
  await audit.toStream(record);
  await audit.publish(record);

  const list = (await (await admin.request('GET', '/api/actions?user=grace')).json()) as { actions: { id: string; action: string; reason: string; evidence: { image: string; sidecar: string } }[] };
  assert.equal(list.actions.length, 1);
  const a = list.actions[0]!;
  assert.equal(a.id, record.id);
  assert.equal(a.action, 'ACTION_WARNING');
  assert.equal(a.reason, 'REASON_CAMERA_NOT_ATTACH');
  const img = await admin.request('GET', `/api/evidence/${a.evidence.image}`);
  assert.equal(img.status, 200, a.evidence.image);
  assert.ok(Buffer.from(await img.arrayBuffer()).equals(frame));
  const side = (await (await admin.request('GET', `/api/evidence/${a.evidence.sidecar}`)).json()) as { id?: string; scores?: Record<string, number> };
  assert.equal(side.id ?? record.id, record.id);
  await waitFor(async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    return /vigil_actions_total\{action="ACTION_WARNING",reason="REASON_CAMERA_NOT_ATTACH"\} 1/.test(text);
  }, { what: 'the action event counted in /metrics' });
  const stats = (await (await admin.request('GET', '/api/stats/actions?hours=1&bucketMin=10')).json()) as { totals: Record<string, number> };
  assert.equal(stats.totals.REASON_CAMERA_NOT_ATTACH, 1);
});
