import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boxJumped, emptyHistory, identityVerdict, livenessCues, phoneEvidence, phoneNearFace, spoofVerdict } from '../../src/vision/evidence.js';
import { auc, equalErrorRate, parsePairs, tarAtFar, verificationReport } from '../../src/vision/metrics.js';
import { foldAnalysis, newTrack, planFor, trackSettings } from '../../src/vision/tracker.js';
import { testConfig } from '../helpers/redis.js';
import type { AnalysisResult } from '../../src/vision/analyzer.js';
import { fakeAnalysis } from './fixtures.js';

const t = { match: 0.58, nonMatch: 0.65 };

test('identity verdicts tell the own user, another enrolled user, unknown and uncertain apart', () => {
  assert.equal(identityVerdict(0.4, [{ user: 'bob', distance: 0.9 }], t).verdict, 'match');
  assert.equal(identityVerdict(0.9, [{ user: 'bob', distance: 0.4 }], t).verdict, 'other_user');
  assert.equal(identityVerdict(0.9, [{ user: 'bob', distance: 0.4 }], t).nearestOther?.user, 'bob');
  assert.equal(identityVerdict(0.9, [{ user: 'bob', distance: 0.8 }], t).verdict, 'unknown');
  assert.equal(identityVerdict(0.6, [{ user: 'bob', distance: 0.8 }], t).verdict, 'uncertain');
  assert.equal(identityVerdict(undefined, [], t).verdict, 'unknown', 'a user without references: nobody matches');
  // A look-alike in the database does not lock out the right person...
  assert.equal(identityVerdict(0.45, [{ user: 'twin', distance: 0.44 }], t).verdict, 'match');
  // ...but a clearly closer other user wins.
  assert.equal(identityVerdict(0.56, [{ user: 'bob', distance: 0.3 }], t).verdict, 'other_user');
});

test('spoof needs several low scores and is vetoed by blinks or head motion', () => {
  const s = { spoofBelow: 0.3, liveAbove: 0.6, window: 3 };
  const none = { blink: false, headMotion: false };
  assert.equal(spoofVerdict({ ...emptyHistory(), real: [0.1, 0.1] }, 0.1, s, none).verdict, 'uncertain', 'too few analyses');
  assert.equal(spoofVerdict({ ...emptyHistory(), real: [0.1, 0.2, 0.1] }, 0.1, s, none).verdict, 'spoof');
  assert.equal(spoofVerdict({ ...emptyHistory(), real: [0.1, 0.2, 0.1] }, 0.1, s, { blink: true, headMotion: false }).verdict, 'live');
  assert.equal(spoofVerdict({ ...emptyHistory(), real: [0.8, 0.9, 0.7] }, 0.7, s, none).verdict, 'live');
  assert.equal(spoofVerdict({ ...emptyHistory(), real: [0.4, 0.5, 0.4] }, 0.4, s, none).verdict, 'uncertain');
});

test('blinks and head motion are found in mesh readings over time', () => {
  assert.deepEqual(livenessCues({ ...emptyHistory(), eyeOpen: [0.3, 0.31, 0.08, 0.3, 0.29], yaw: [0, 1, 2] }), { blink: true, headMotion: false });
  assert.deepEqual(livenessCues({ ...emptyHistory(), eyeOpen: [0.3, 0.3, 0.3], yaw: [-10, 5, 8] }), { blink: false, headMotion: true });
  assert.deepEqual(livenessCues({ ...emptyHistory(), eyeOpen: [0.3, 0.3, 0.08], yaw: [0] }), { blink: false, headMotion: false }, 'closed eyes that never reopen are not a blink');
});

test('phones count only near the face or hands, and only when they persist', () => {
  const face: [number, number, number, number] = [300, 100, 100, 120];
  assert.equal(phoneNearFace([320, 260, 60, 100], face), true, 'held below the face');
  assert.equal(phoneNearFace([20, 400, 40, 60], face), false, 'far away on the desk');
  const s = { hits: 2, window: 3 };
  const phone = [{ box: [320, 260, 60, 100] as [number, number, number, number], score: 0.5 }];
  const first = phoneEvidence(emptyHistory(), phone, face, s);
  assert.equal(first.observation.persistent, false);
  const second = phoneEvidence({ ...emptyHistory(), phoneHits: [first.hit] }, phone, face, s);
  assert.equal(second.observation.persistent, true);
});

test('box jumps and the adaptive plan', () => {
  assert.equal(boxJumped(undefined, [0, 0, 10, 10], 0.3), false);
  assert.equal(boxJumped([0, 0, 100, 100], [5, 5, 100, 100], 0.3), false);
  assert.equal(boxJumped([0, 0, 100, 100], [300, 0, 100, 100], 0.3), true);
  const s = trackSettings(testConfig({ VISION_IDENTITY_INTERVAL_MS: 4_000, VISION_PHONE_INTERVAL_MS: 2_500 }));
  const track = { ...newTrack(), lastBox: [0, 0, 10, 10] as [number, number, number, number], lastIdentityAt: 10_000, lastPhonesAt: 10_000 };
  assert.deepEqual([planFor(track, 11_000, s).identityDue, planFor(track, 11_000, s).phonesDue], [false, false]);
  assert.deepEqual([planFor(track, 14_000, s).identityDue, planFor(track, 12_500, s).phonesDue], [true, true]);
  assert.equal(planFor({ ...track, lastBox: undefined }, 11_000, s).identityDue, true, 'a new track is verified at once');
});

test('the mesh verdicts of a track reach the next plan; a frame where the mesh ran alone starts the rejections afresh', () => {
  const s = trackSettings(testConfig());
  const fold = (track: ReturnType<typeof newTrack>, over: Parameters<typeof fakeAnalysis>[0]) => foldAnalysis(track, { clientId: 'a', frameSeq: 1, frameTs: 0, modelVersion: 'm', now: 1_000, result: fakeAnalysis(over), users: new Map() }, s).track;
  const background: [number, number, number, number] = [500, 40, 60, 60];
  const seen = fold(newTrack(), { ran: { identity: false, spoof: false, phones: false, detector: true, meshConfirm: true }, rejected: [background] });
  assert.deepEqual(planFor(seen, 1_100, s).confirmed, { faces: seen.lastFaces, rejected: [background] });
  assert.equal(planFor(newTrack(), 1_100, s).confirmed, undefined, 'no track: the mesh confirms every detection');
  assert.equal(planFor(seen, 1_100, trackSettings(testConfig({ VISION_CONFIRM_EVERY_FRAME: true }))).confirmed, undefined);
  assert.deepEqual(fold(seen, { ran: { identity: true, spoof: true, phones: false, detector: true } }).rejectedFaces, []);
});

test('a corrupt frame folds into an error observation without touching the track', () => {
  const s = trackSettings(testConfig());
  const result: AnalysisResult = { ok: false, code: 'corrupt_image', message: 'bad', ms: 3 };
  const track = newTrack();
  const out = foldAnalysis(track, { clientId: 'a', frameSeq: 7, frameTs: 1, modelVersion: 'm', now: 2, result, users: new Map() }, s);
  assert.deepEqual(out.observation.error, { code: 'corrupt_image', message: 'bad' });
  assert.equal(out.track, track);
});

test('verification metrics: TAR at FAR, EER, AUC and the pairs file format', () => {
  const pairs = [
    ...[0.2, 0.3, 0.4, 0.5].map((distance) => ({ distance, same: true })),
    ...[0.45, 0.7, 0.8, 0.9].map((distance) => ({ distance, same: false })),
  ];
  assert.equal(tarAtFar(pairs, 0).tar, 0.75);
  assert.equal(auc(pairs), 15 / 16);
  assert.equal(equalErrorRate(pairs).rate, 0.25);
  const r = verificationReport(pairs, 0.42);
  assert.deepEqual([r.atThreshold.tar, r.atThreshold.far], [0.75, 0]);
  assert.deepEqual(parsePairs('img_a\timg_b\tlabel\treason\na.jpg\tb.jpg\tsame\twhy\n'), [{ a: 'a.jpg', b: 'b.jpg', label: 'same' }]);
  assert.throws(() => parsePairs('x\ty\n'), /header/);
  assert.throws(() => parsePairs('img_a\timg_b\tlabel\n../a.jpg\tb.jpg\tsame\n'), /relative/);
  assert.throws(() => parsePairs('img_a\timg_b\tlabel\na.jpg\tb.jpg\tmaybe\n'), /line 2/);
});
