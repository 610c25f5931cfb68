import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { connectTest, startTestRedis, testConfig, waitFor } from '../helpers/redis.js';
import { createLocalAnalyzer } from '../../src/vision/local.js';
import { euclidean } from '../../src/vision/evidence.js';
import { checkModelFiles, modelPaths, ModelFileError } from '../../src/vision/models.js';
import type { AnalysisResult, FrameAnalysis } from '../../src/vision/analyzer.js';
import { UsersDatabase } from '../../src/users/database.js';
import { ClientRegistry } from '../../src/clients/registry.js';
import { startVisionPool } from '../../src/vision/pool.js';
import { createLogger } from '../../src/log.js';
import type { Observation } from '../../src/domain/observation.js';

/** Real models on ../shared/data; loaded once for the file (loading costs seconds). */
const DATA = join(process.cwd(), '..', 'shared', 'data');
const FR = join(DATA, 'face', 'face_recognition');
const config = testConfig();
let local: Awaited<ReturnType<typeof createLocalAnalyzer>>;
const cache = new Map<string, AnalysisResult>();

before(async () => {
  local = await createLocalAnalyzer(config);
});

async function analyse(path: string): Promise<FrameAnalysis> {
  let r = cache.get(path);
  if (!r) {
    r = await local.describe(await readFile(path));
    cache.set(path, r);
  }
  assert.ok(r.ok, `${path}: ${r.ok ? '' : r.message}`);
  return r.analysis;
}

test('every model file is present, and a missing one is named with the fix', () => {
  const paths = modelPaths();
  checkModelFiles(paths);
  assert.throws(() => checkModelFiles({ ...paths, files: [...paths.files, join(paths.humanModels, 'nope.json')] }), (err: Error) => err instanceof ModelFileError && err.message.includes('nope.json') && err.message.includes('npm ci'));
});

test('faces are counted on single- and multi-person photos', async () => {
  const expected: [string, number][] = [
    [join(DATA, 'face', 'deepface', 'img1.jpg'), 1],
    [join(FR, 'examples', 'two_people.jpg'), 2],
    [join(FR, 'examples', 'knn_examples', 'test', 'kit_with_rose.jpg'), 2],
    // Obama, Biden and a girl at the lower right.
    [join(FR, 'examples', 'knn_examples', 'test', 'obama_and_biden.jpg'), 3],
  ];
  for (const [path, n] of expected) assert.equal((await analyse(path)).faces.length, n, path);
});

test('same-person pairs fall inside the match threshold and different-person pairs outside the non-match threshold', async () => {
  const d = async (a: string, b: string) => euclidean((await analyse(a)).descriptor!, (await analyse(b)).descriptor!);
  const df = (n: string) => join(DATA, 'face', 'deepface', n);
  const ti = (n: string) => join(FR, 'tests', 'test_images', n);
  for (const [a, b] of [[df('img1.jpg'), df('img2.jpg')], [ti('obama.jpg'), ti('obama2.jpg')], [df('img8.jpg'), df('img47.jpg')]] as const) {
    const dist = await d(a, b);
    assert.ok(dist <= config.VISION_MATCH_DISTANCE, `same ${a} ${b}: ${dist}`);
  }
  for (const [a, b] of [[ti('obama.jpg'), ti('biden.jpg')], [df('img1.jpg'), df('img8.jpg')]] as const) {
    const dist = await d(a, b);
    assert.ok(dist > config.VISION_NONMATCH_DISTANCE, `different ${a} ${b}: ${dist}`);
  }
});

test('EXIF orientation is honoured and WebP data under a .jpg name is read', async () => {
  const path = join(DATA, 'spoof', 'silentface', 'image_T1.jpg');
  const meta = await sharp(path).metadata();
  assert.equal(meta.orientation, 6);
  const a = await analyse(path);
  assert.deepEqual([a.width, a.height], [meta.height, meta.width], 'stored sideways, analysed upright');
  assert.equal(a.faces.length, 1);
  const webp = await analyse(join(DATA, 'face', 'deepface', 'img47.jpg'));
  assert.equal(webp.format, 'webp');
  assert.equal(webp.faces.length, 1);
});

test('corrupt and unsupported images become errors; a dark frame is a quality finding, not an error', async () => {
  const jpeg = await readFile(join(DATA, 'face', 'deepface', 'img5.jpg'));
  const truncated = await local.describe(jpeg.subarray(0, jpeg.length >> 1));
  assert.equal(truncated.ok ? 'ok' : truncated.code, 'corrupt_image');
  const text = await local.describe(Buffer.from('not an image at all'));
  assert.equal(text.ok ? 'ok' : text.code, 'corrupt_image');
  const gif = await local.describe(await sharp({ create: { width: 64, height: 48, channels: 3, background: '#888' } }).gif().toBuffer());
  assert.equal(gif.ok ? 'ok' : gif.code, 'unsupported_format');
  const dark = await local.describe(await sharp({ create: { width: 640, height: 480, channels: 3, background: '#050505' } }).jpeg().toBuffer());
  assert.ok(dark.ok);
  assert.equal(dark.analysis.faces.length, 0);
  assert.equal(dark.analysis.quality.tooDark, true);
  const blurred = await local.describe(await sharp(jpeg).blur(8).jpeg().toBuffer());
  assert.ok(blurred.ok && blurred.analysis.quality.blurred);
});

test('enrolment keeps images with exactly one usable face, refuses the rest with the reason, and caches descriptors in Redis', async () => {
  const { server } = await startTestRedis();
  const conns = await connectTest(server, config);
  const dir = await mkdtemp(join(tmpdir(), 'vigil-users-'));
  try {
    const db = new UsersDatabase({ dir, describe: local.describe, modelVersion: local.models.modelVersion, redis: conns.redis, keys: conns.keys, ttlSeconds: 60 });
    const { accepted, refused } = await db.enrolUser('obama', [
      { name: 'obama.jpg', bytes: await readFile(join(FR, 'tests', 'test_images', 'obama.jpg')) },
      { name: 'two.jpg', bytes: await readFile(join(FR, 'examples', 'two_people.jpg')) },
      { name: 'broken.jpg', bytes: Buffer.from('garbage') },
    ]);
    assert.deepEqual(accepted.map((a) => a.name), ['obama.jpg']);
    assert.deepEqual(refused.map((r) => r.name), ['two.jpg', 'broken.jpg']);
    assert.match(refused[0]!.reason, /2 faces/);
    assert.match(refused[1]!.reason, /corrupt_image/);
    assert.equal((await readdir(join(dir, 'obama'))).filter((f) => f.endsWith('.jpg')).length, 1);
    assert.equal((await db.descriptors()).get('obama')?.length, 1);
    const cached = await conns.redis.keys(`${conns.keys.namespace}:embedding:*`);
    assert.ok(cached.length >= 2, 'descriptors (and refusals) cached by image hash');
    assert.ok((await conns.redis.ttl(cached[0]!)) > 0, 'with a TTL');
    await assert.rejects(db.enrolUser('../evil', []), /invalid user name/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the pool with a real worker thread analyses a frame and verifies identity against the users database', async () => {
  const { server } = await startTestRedis();
  const dir = await mkdtemp(join(tmpdir(), 'vigil-data-'));
  const cfg = testConfig({ DATA_DIR: dir, VISION_WORKERS: 1, VISION_JOB_TIMEOUT_MS: 60_000 });
  const conns = await connectTest(server, cfg);
  const seed = new UsersDatabase({ dir: join(dir, 'Users_DataBase'), describe: local.describe, modelVersion: local.models.modelVersion });
  await seed.enrolUser('barack', [{ name: 'obama.jpg', bytes: await readFile(join(FR, 'tests', 'test_images', 'obama.jpg')) }]);
  await seed.enrolUser('joe', [{ name: 'biden.jpg', bytes: await readFile(join(FR, 'tests', 'test_images', 'biden.jpg')) }]);
  const observations: Observation[] = [];
  const pool = await startVisionPool({ config: cfg, log: createLogger('silent'), redis: conns.redis, keys: conns.keys, onObservation: (o) => void observations.push(o), requestBurst: () => undefined });
  try {
    const registry = new ClientRegistry(conns.redis, conns.keys);
    await registry.storeFrame('barack', await readFile(join(FR, 'tests', 'test_images', 'obama2.jpg')), 'jpeg');
    await registry.storeFrame('joe', await readFile(join(FR, 'tests', 'test_images', 'obama3.jpg')), 'jpeg');
    await waitFor(() => observations.length === 2, { timeoutMs: 60_000, what: 'two observations' });
    const byClient = new Map(observations.map((o) => [o.clientId, o]));
    assert.equal(byClient.get('barack')!.identity?.verdict, 'match');
    assert.equal(byClient.get('joe')!.identity?.verdict, 'other_user');
    assert.equal(byClient.get('joe')!.identity?.nearestOther?.user, 'barack');
    assert.equal(byClient.get('barack')!.faces.length, 1);
  } finally {
    await pool.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
