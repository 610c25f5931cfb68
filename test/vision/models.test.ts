import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { connectTest, startTestRedis, testConfig, waitFor } from '../helpers/redis.js';
import { createLocalAnalyzer } from '../../src/vision/local.js';
import { euclidean, iou } from '../../src/vision/evidence.js';
import { checkModelFiles, modelPaths, ModelFileError } from '../../src/vision/models.js';
import { analyzerOptions, FrameAnalyzer, type AnalysisResult, type FrameAnalysis } from '../../src/vision/analyzer.js';
import { downscaleFactor } from '../../src/vision/image.js';
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
  assert.ok(paths.files.some((f) => f.endsWith('jpeg-turbo.wasm')), 'the JPEG decoder is checked with the models');
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
    // Each frame: its faces and identity first, then the phone check as a follow-up of the same frame.
    await waitFor(() => observations.length === 4, { timeoutMs: 60_000, what: 'two observations per frame' });
    for (const id of ['barack', 'joe']) {
      const mine = observations.filter((o) => o.clientId === id);
      assert.deepEqual(mine.map((o) => o.stages?.followUp === true), [false, true]);
      assert.equal(mine[1]!.frameSeq, mine[0]!.frameSeq);
      assert.ok(mine[1]!.phones && !mine[1]!.identity && mine[0]!.phones === undefined);
    }
    const byClient = new Map(observations.filter((o) => !o.stages?.followUp).map((o) => [o.clientId, o]));
    assert.equal(byClient.get('barack')!.identity?.verdict, 'match');
    assert.equal(byClient.get('joe')!.identity?.verdict, 'other_user');
    assert.equal(byClient.get('joe')!.identity?.nearestOther?.user, 'barack');
    assert.equal(byClient.get('barack')!.faces.length, 1);
  } finally {
    await pool.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the motion gate skips the detector on an unchanged frame, and the mesh is skipped only where presence is enough', async () => {
  const bytes = await readFile(join(FR, 'tests', 'test_images', 'obama.jpg'));
  const first = await local.analyzer.analyze(bytes, { identityDue: false, phonesDue: false, jumpIou: 0.3, meshDue: false });
  assert.ok(first.ok && first.analysis.thumb && first.analysis.faces.length === 1);
  assert.equal(first.analysis.faces[0]!.eyeOpen, undefined, 'no mesh, no eye readings');
  const gate = { threshold: config.VISION_MOTION_THRESHOLD, detectRef: first.analysis.thumb, phonesRef: first.analysis.thumb, lastFaces: first.analysis.faces, phonesFaces: first.analysis.faces.map((f) => f.box) };
  const again = await local.analyzer.analyze(bytes, { identityDue: false, phonesDue: true, jumpIou: 0.3, motion: gate });
  assert.ok(again.ok);
  assert.deepEqual([again.analysis.ran.detector, again.analysis.ran.phones, again.analysis.ran.phonesUnchanged, again.analysis.timings.detect], [false, false, true, 0]);
  assert.deepEqual(again.analysis.faces, first.analysis.faces);
  const other = await local.analyzer.analyze(await readFile(join(FR, 'tests', 'test_images', 'obama2.jpg')), { identityDue: false, phonesDue: false, jumpIou: 0.3, motion: gate });
  assert.ok(other.ok && other.analysis.ran.detector === true && other.analysis.motion! > gate.threshold);
  // Identity always gets the mesh crop: due, or after a box jump seen on a mesh-less pass.
  const reference = await analyse(join(FR, 'tests', 'test_images', 'obama.jpg'));
  const jumped = await local.analyzer.analyze(bytes, { identityDue: false, phonesDue: false, jumpIou: 0.3, meshDue: false, lastBox: [0, 0, 10, 10] });
  assert.ok(jumped.ok && jumped.analysis.descriptor && reference.descriptor);
  assert.ok(euclidean(jumped.analysis.descriptor, reference.descriptor) < 0.02, 'same crop, same descriptor');
});

test('phones are checked again when something beside the face moved, not when only the face did', async () => {
  const bytes = await readFile(join(FR, 'tests', 'test_images', 'obama.jpg'));
  const first = await local.analyzer.analyze(bytes, { identityDue: false, phonesDue: true, jumpIou: 0.3, meshDue: false });
  assert.ok(first.ok && first.analysis.ran.phones && first.analysis.thumb);
  const { data, info } = await sharp(bytes).rotate().resize(800, 800, { fit: 'inside', withoutEnlargement: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const [fx, fy, fw, fh] = first.analysis.faces[0]!.box;
  const variant = async (paint: (x: number, y: number) => boolean, value: (v: number) => number) => {
    const d = Buffer.from(data);
    for (let y = 0; y < info.height; y++) for (let x = 0; x < info.width; x++) if (paint(x, y)) for (let k = 0; k < 3; k++) d[(y * info.width + x) * 3 + k] = value(d[(y * info.width + x) * 3 + k]!);
    return sharp(d, { raw: { width: info.width, height: info.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  };
  // The mouth region changes (talking): inside the face box.
  const talking = await variant((x, y) => x > fx + fw * 0.3 && x < fx + fw * 0.7 && y > fy + fh * 0.65 && y < fy + fh * 0.85, (v) => Math.min(255, v + 60));
  // A dark phone-sized block well beside the face.
  const px = fx + fw * 1.4 < info.width - 60 ? Math.round(fx + fw * 1.4) : Math.max(0, Math.round(fx - fw * 0.6));
  const object = await variant((x, y) => x >= px && x < px + 50 && y >= fy + fh * 0.8 && y < fy + fh * 0.8 + 90, () => 10);
  const gate = { threshold: config.VISION_MOTION_THRESHOLD, detectRef: first.analysis.thumb, phonesRef: first.analysis.thumb, lastFaces: first.analysis.faces, phonesFaces: first.analysis.faces.map((f) => f.box), phonesIgnoreFace: true };
  const t = await local.analyzer.analyze(talking, { identityDue: false, phonesDue: true, jumpIou: 0.3, meshDue: false, motion: gate });
  assert.ok(t.ok);
  assert.deepEqual([t.analysis.ran.detector, t.analysis.ran.phones, t.analysis.ran.phonesUnchanged], [true, false, true], 'the face moved: detector yes, phones unchanged');
  const strict = await local.analyzer.analyze(talking, { identityDue: false, phonesDue: true, jumpIou: 0.3, meshDue: false, motion: { ...gate, phonesIgnoreFace: false } });
  assert.ok(strict.ok && strict.analysis.ran.phones, 'by default (VISION_PHONE_IGNORE_FACE_MOTION=false) any change runs phones');
  assert.equal(config.VISION_PHONE_IGNORE_FACE_MOTION, false);
  const o = await local.analyzer.analyze(object, { identityDue: false, phonesDue: true, jumpIou: 0.3, meshDue: false, motion: gate });
  assert.ok(o.ok);
  assert.deepEqual([o.analysis.ran.phones, o.analysis.ran.phonesUnchanged], [true, false], 'something beside the face moved: phones checked');
  const gone = await local.analyzer.analyze(bytes, { identityDue: false, phonesDue: true, jumpIou: 0.3, meshDue: false, motion: { ...gate, phonesFaces: [] } });
  assert.ok(gone.ok && gone.analysis.ran.phones, 'the faces changed since the last phone check: phones checked');
});

test('presence-only frames reach the detector at half size and give the same face boxes', async () => {
  for (const file of ['obama.jpg', 'obama2.jpg', 'biden.jpg']) {
    const bytes = await readFile(join(FR, 'tests', 'test_images', file));
    const plan = { identityDue: false, phonesDue: false, jumpIou: 0.3, meshDue: false };
    const small = await local.analyzer.analyze(bytes, plan);
    const fullSize = await local.analyzer.analyze(bytes, { ...plan, meshDue: true });
    assert.ok(small.ok && fullSize.ok);
    assert.ok(downscaleFactor(small.analysis, config.VISION_DETECT_SIDE) >= 2, `${file} is large enough to be shrunk`);
    assert.equal(small.analysis.faces.length, fullSize.analysis.faces.length, file);
    assert.ok(iou(small.analysis.faces[0]!.box, fullSize.analysis.faces[0]!.box) > 0.8, `${file}: ${small.analysis.faces[0]!.box} vs ${fullSize.analysis.faces[0]!.box}`);
  }
});

test('the face mesh confirms detections: a busy background has no face, webcam frames keep theirs', async () => {
  const demo = join(process.cwd(), 'node_modules', '@vladmandic', 'face-api', 'demo');
  // A corner of a bar (window frames, switch plates), shifted a little as a webcam shakes: the detector
  // alone reports weak faces (0.5–0.65) on about half of these frames.
  const presence = { identityDue: false, phonesDue: false, jumpIou: config.VISION_JUMP_IOU, meshDue: false };
  const unconfirmed = new FrameAnalyzer(local.models, { ...analyzerOptions(config), confirmFaces: false });
  let weak = 0;
  for (let i = 0; i < 8; i++) {
    const frame = await sharp(join(demo, 'sample3.jpg')).extract({ left: (i * 7) % 17, top: (i * 5) % 11, width: 500, height: 375 }).resize(640, 480).jpeg({ quality: 80 }).toBuffer();
    const alone = await unconfirmed.analyze(frame, presence);
    assert.ok(alone.ok);
    if (alone.analysis.faces.length > 0) weak++;
    const confirmed = await local.analyzer.analyze(frame, presence);
    assert.ok(confirmed.ok);
    assert.deepEqual(confirmed.analysis.faces, [], `frame ${i}`);
  }
  assert.ok(weak > 0, 'the detector alone sees a face in the background');
  for (const file of ['face/deepface/img1.jpg', 'spoof/silentface/image_T1.jpg', 'face/face_recognition/tests/test_images/obama.jpg']) {
    const r = await local.analyzer.analyze(await readFile(join(DATA, file)), presence);
    assert.ok(r.ok && r.analysis.faces.length === 1 && r.analysis.faces[0]!.score >= 0.9, `${file}: ${JSON.stringify(r.ok && r.analysis.faces)}`);
  }
});

test('a face the mesh confirmed keeps its confirmation on the next detector frame without the mesh; new and rejected detections are told apart', async () => {
  const presence = { identityDue: false, phonesDue: false, jumpIou: config.VISION_JUMP_IOU, meshDue: false };
  const photo = join(DATA, 'face', 'deepface', 'img1.jpg');
  const frame = (dx: number) => sharp(photo).rotate().resize(640, 480, { fit: 'cover' }).extend({ left: dx, right: 0, top: 0, bottom: 0, background: '#000' }).extract({ left: 0, top: 0, width: 640, height: 480 }).jpeg({ quality: 85 }).toBuffer();
  const first = await local.analyzer.analyze(await frame(0), { ...presence, confirmed: { faces: [], rejected: [] } });
  assert.ok(first.ok);
  assert.equal(first.analysis.ran.meshConfirm, true, 'a new detection runs the mesh');
  assert.equal(first.analysis.faces.length, 1);
  assert.deepEqual(first.analysis.rejected, []);
  const next = await local.analyzer.analyze(await frame(12), { ...presence, confirmed: { faces: first.analysis.faces, rejected: [] } });
  assert.ok(next.ok);
  assert.equal(next.analysis.ran.meshConfirm, undefined, 'the continuing face needs no mesh');
  assert.equal(next.analysis.faces.length, 1);
  assert.equal(next.analysis.faces[0]!.score, first.analysis.faces[0]!.score, 'it keeps the confirmed score');
  assert.ok(iou(next.analysis.faces[0]!.box, first.analysis.faces[0]!.box) > 0.7);

  // The busy background of the test above: the detector's weak faces are rejected once, then stay rejected.
  const demo = join(process.cwd(), 'node_modules', '@vladmandic', 'face-api', 'demo');
  let verdicts = { faces: [] as FrameAnalysis['faces'], rejected: [] as NonNullable<FrameAnalysis['rejected']> };
  let detections = 0;
  let meshPasses = 0;
  for (let i = 0; i < 8; i++) {
    const still = await sharp(join(demo, 'sample3.jpg')).extract({ left: i % 3, top: i % 2, width: 500, height: 375 }).resize(640, 480).jpeg({ quality: 80 }).toBuffer();
    const r = await local.analyzer.analyze(still, { ...presence, confirmed: verdicts });
    assert.ok(r.ok);
    assert.deepEqual(r.analysis.faces, [], `frame ${i}`);
    detections += r.analysis.rejected?.length ? 1 : 0;
    meshPasses += r.analysis.ran.meshConfirm ? 1 : 0;
    verdicts = { faces: r.analysis.faces, rejected: r.analysis.rejected ?? [] };
  }
  assert.ok(detections >= 4, `the detector alone sees a face in the background (${detections} of 8 frames)`);
  assert.ok(meshPasses < detections, `a rejected detection is not sent to the mesh again (${meshPasses} mesh passes for ${detections})`);
});
