import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectTest, startTestRedis, testConfig } from '../helpers/redis.js';
import { UsersDatabase, referenceUsability } from '../../src/users/database.js';
import type { AnalysisResult } from '../../src/vision/analyzer.js';
import { fakeAnalysis } from './fixtures.js';

/** The users database with a stand-in describer (no models): a file's first byte becomes its descriptor. */
const { server } = await startTestRedis();

function stubDescriber() {
  const calls: string[] = [];
  const describe = async (bytes: Buffer): Promise<AnalysisResult> => {
    calls.push(bytes.toString());
    const faces = bytes.toString().startsWith('two') ? 2 : 1;
    return fakeAnalysis({
      faces: Array.from({ length: faces }, () => ({ box: [10, 10, 100, 100] as [number, number, number, number], score: 0.9 })),
      descriptor: Array.from({ length: 128 }, () => bytes[0]! / 255),
      ran: { identity: true, spoof: false, phones: false },
    });
  };
  return { calls, describe };
}

test('the scan is cached, redone when a user folder changes, and descriptors come from the Redis cache by image hash', async () => {
  const config = testConfig();
  const { redis, keys } = await connectTest(server, config);
  const dir = await mkdtemp(join(tmpdir(), 'vigil-usersdb-'));
  try {
    await mkdir(join(dir, 'alice'));
    await mkdir(join(dir, 'bad name!'));
    await writeFile(join(dir, 'alice', 'a.jpg'), 'a-image');
    const stub = stubDescriber();
    const db = new UsersDatabase({ dir, describe: stub.describe, modelVersion: 'm1', redis, keys, ttlSeconds: 60 });
    assert.deepEqual(await db.listUsers(), ['alice'], 'a folder that is not a valid user name is ignored');
    assert.equal((await db.descriptors()).get('alice')?.length, 1);
    await db.descriptors();
    assert.equal(stub.calls.length, 1, 'unchanged folder: no rescan');

    await writeFile(join(dir, 'alice', 'b.jpg'), 'b-image');
    await writeFile(join(dir, 'alice', 'c.jpg'), 'two people');
    assert.equal((await db.descriptors()).get('alice')?.length, 2, 'new image picked up; the two-face image is not a reference');
    assert.equal(stub.calls.length, 3, 'only the new images were described');

    // A second process (or a restart) takes every descriptor from Redis.
    const other = stubDescriber();
    const db2 = new UsersDatabase({ dir, describe: other.describe, modelVersion: 'm1', redis, keys });
    assert.equal((await db2.descriptors()).get('alice')?.length, 2);
    assert.equal(other.calls.length, 0);
    // A model upgrade invalidates the cache.
    const upgraded = stubDescriber();
    await new UsersDatabase({ dir, describe: upgraded.describe, modelVersion: 'm2', redis, keys }).descriptors();
    assert.equal(upgraded.calls.length, 3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a reference image needs exactly one sharp, large enough face', () => {
  const base = { width: 640, height: 480, format: 'jpeg' as const, ran: { identity: true, spoof: false, phones: false }, timings: { decode: 0, quality: 0, detect: 0, phones: 0, spoof: 0, landmarks: 0, descriptor: 0, total: 0, model: 0 } };
  const q = { brightness: 120, sharpness: 300, tooDark: false, tooBright: false, blurred: false };
  const face = (w: number) => ({ box: [0, 0, w, w] as [number, number, number, number], score: 0.9 });
  const d = Array.from({ length: 128 }, () => 0);
  assert.equal(referenceUsability({ ok: true, analysis: { ...base, quality: q, faces: [face(100)], descriptor: d } }).ok, true);
  assert.match((referenceUsability({ ok: true, analysis: { ...base, quality: { ...q, tooDark: true }, faces: [] } }) as { reason: string }).reason, /too dark/);
  assert.match((referenceUsability({ ok: true, analysis: { ...base, quality: q, faces: [face(20)], descriptor: d } }) as { reason: string }).reason, /too small/);
  assert.match((referenceUsability({ ok: true, analysis: { ...base, quality: { ...q, blurred: true }, faces: [face(100)], descriptor: d } }) as { reason: string }).reason, /blurred/);
  assert.match((referenceUsability({ ok: false, code: 'corrupt_image', message: 'x', ms: 1 }) as { reason: string }).reason, /corrupt_image/);
});
