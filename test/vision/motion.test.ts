import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testConfig } from '../helpers/redis.js';
import { faceCells, motionScore, thumbnail, THUMB_H, THUMB_W } from '../../src/vision/motion.js';
import { foldAnalysis, frozenFeedCheck, newTrack, planFor, trackSettings } from '../../src/vision/tracker.js';
import type { FrameAnalysis } from '../../src/vision/analyzer.js';
import { fakeAnalysis } from './fixtures.js';

/** A textured 640x480 RGB image (a deterministic pseudo-random pattern, like a desk scene's detail). */
function scene(seed = 1): { data: Buffer; width: number; height: number } {
  const width = 640;
  const height = 480;
  const data = Buffer.alloc(width * height * 3);
  let x = seed;
  for (let y = 0; y < height; y++) {
    for (let c = 0; c < width; c++) {
      const base = 60 + ((Math.floor(c / 40) * 37 + Math.floor(y / 40) * 53) % 140);
      for (let k = 0; k < 3; k++) {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        data[(y * width + c) * 3 + k] = base + (x % 7);
      }
    }
  }
  return { data, width, height };
}

function edit(img: ReturnType<typeof scene>, f: (v: number, x: number, y: number) => number) {
  const data = Buffer.from(img.data);
  for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) for (let k = 0; k < 3; k++) {
    const i = (y * img.width + x) * 3 + k;
    data[i] = Math.max(0, Math.min(255, Math.round(f(data[i]!, x, y))));
  }
  return { ...img, data };
}

test('the motion gate ignores sensor noise and exposure shifts but sees a phone-sized object', () => {
  const a = scene(1);
  const ta = thumbnail(a);
  assert.equal(ta.length, THUMB_W * THUMB_H);
  const noisy = edit(a, (v) => v + (Math.random() - 0.5) * 16);
  const brighter = edit(a, (v) => v + 12);
  // A dark 40x70 object (a phone held up) beside the face region.
  const phone = edit(a, (v, x, y) => (x >= 450 && x < 490 && y >= 300 && y < 370 ? 15 : v));
  const threshold = testConfig().VISION_MOTION_THRESHOLD;
  assert.ok(motionScore(ta, thumbnail(noisy)) <= threshold, `noise scored ${motionScore(ta, thumbnail(noisy))}`);
  assert.ok(motionScore(ta, thumbnail(brighter)) <= threshold, 'a global exposure change is not motion');
  assert.ok(motionScore(ta, thumbnail(phone)) > threshold * 2, `a phone scored ${motionScore(ta, thumbnail(phone))}`);
  assert.equal(motionScore(ta, new Uint8Array(10)), Infinity);
});

test('the phone check can ignore motion on and around the face', () => {
  const a = scene(2);
  const face: [number, number, number, number] = [240, 100, 160, 200];
  const zone = faceCells(face, a.width, a.height);
  assert.deepEqual(zone, { x0: 9, y0: 2, x1: 23, y1: 18 });
  const talking = edit(a, (v, x, y) => (x >= 260 && x < 380 && y >= 150 && y < 290 ? 255 - v : v));
  const phone = edit(a, (v, x, y) => (x >= 450 && x < 490 && y >= 360 && y < 430 ? 15 : v));
  const ta = thumbnail(a);
  assert.ok(motionScore(ta, thumbnail(talking)) > 10, 'the detector gate sees the face move');
  assert.ok(motionScore(ta, thumbnail(talking), zone) <= 1, 'the phone check does not');
  assert.ok(motionScore(ta, thumbnail(phone), zone) > 4, 'an object beside the face is seen');
});

const analysis = (over: Partial<FrameAnalysis>) =>
  fakeAnalysis({
    faces: [{ box: [100, 100, 120, 140], score: 0.9, eyeOpen: 0.3, yaw: 2 }],
    ran: { identity: false, spoof: false, phones: false, detector: true },
    timings: { decode: 1, quality: 1, detect: 30, phones: 0, spoof: 0, landmarks: 0, descriptor: 0, total: 32, model: 30 },
    ...over,
  });

test('the plan hands the gate its references until they expire; bursts run the mesh ungated', () => {
  const s = trackSettings(testConfig({ VISION_MOTION_MAX_SKIP_MS: 5_000, VISION_BURST_FRAMES: 5, VISION_BURST_FPS: 5 }));
  const thumb = new Uint8Array(THUMB_W * THUMB_H);
  const base = foldAnalysis(newTrack(), { clientId: 'a', frameSeq: 1, frameTs: 0, modelVersion: 'm', now: 1_000, result: analysis({ thumb, ran: { identity: true, spoof: true, phones: true, detector: true } }), users: new Map() }, s);
  assert.ok(base.burst, 'a new track asks for a burst');
  const inBurst = planFor(base.track, 2_000, s);
  assert.equal(inBurst.motion, undefined, 'burst frames are never gated');
  assert.equal(inBurst.meshDue, true);
  const later = planFor(base.track, 1_000 + 1_000 + 4_000 + 1, s);
  assert.equal(later.meshDue, false, 'after the burst, the mesh runs only with identity');
  assert.equal(later.motion?.detectRef, undefined, 'a reference older than VISION_MOTION_MAX_SKIP_MS forces the detector');
  const fresh = planFor({ ...base.track, meshUntil: 0 }, 3_000, s);
  assert.equal(fresh.motion?.detectRef, thumb);
  assert.equal(fresh.motion?.phonesRef, thumb);
  assert.deepEqual(fresh.motion?.lastFaces, base.track.lastFaces);
  assert.equal(planFor(base.track, 3_000, trackSettings(testConfig({ VISION_MOTION_THRESHOLD: 0 }))).motion, undefined, 'threshold 0 turns the gate off');
});

test('a gated frame carries the faces without new mesh readings; an unchanged phone check counts as a check', () => {
  const s = trackSettings(testConfig({ VISION_BURST_FRAMES: 0 }));
  const thumb = new Uint8Array(THUMB_W * THUMB_H);
  const first = foldAnalysis(newTrack(), { clientId: 'a', frameSeq: 1, frameTs: 0, modelVersion: 'm', now: 1_000, result: analysis({ thumb, ran: { identity: false, spoof: false, phones: true, detector: true } }), users: new Map() }, s);
  assert.deepEqual(first.track.history.eyeOpen, [0.3]);
  const carried = analysis({ thumb: new Uint8Array(THUMB_W * THUMB_H), faces: first.track.lastFaces, ran: { identity: false, spoof: false, phones: false, detector: false, phonesUnchanged: true }, motion: 0.4 });
  const second = foldAnalysis(first.track, { clientId: 'a', frameSeq: 2, frameTs: 0, modelVersion: 'm', now: 3_000, result: carried, users: new Map() }, s);
  assert.deepEqual(second.track.history.eyeOpen, [0.3], 'carried faces are not a second reading');
  assert.equal(second.track.detectRefAt, 1_000, 'the reference stays the frame the detector ran on');
  assert.equal(second.track.lastPhonesAt, 3_000);
  assert.equal(second.track.phonesRefAt, 1_000);
  assert.deepEqual(second.observation.faces, [{ box: [100, 100, 120, 140], score: 0.9 }]);
  assert.deepEqual(second.observation.stages, { identity: false, spoof: false, phones: false, detector: false, phonesUnchanged: true });
  assert.equal(second.observation.phones, undefined);
  assert.equal(second.observation.timings?.motion, 0.4);
});

test('bit-identical frames for VISION_FROZEN_FEED_MS become a frozen-feed spoof observation', () => {
  const s = trackSettings(testConfig({ VISION_FROZEN_FEED_MS: 5_000 }));
  const seen = foldAnalysis(newTrack(), { clientId: 'a', frameSeq: 1, frameTs: 0, modelVersion: 'm', now: 1_000, result: analysis({ spoof: { real: 0.8, live: 1 }, ran: { identity: false, spoof: true, phones: false, detector: true } }), users: new Map() }, s);
  const track = { ...seen.track, hashSince: 1_000 };
  const input = (now: number) => ({ clientId: 'a', frameSeq: 9, frameTs: now, modelVersion: 'm', now });
  assert.equal(frozenFeedCheck(track, input(5_999), s).observation, undefined, 'not before several seconds');
  const frozen = frozenFeedCheck(track, input(6_000), s);
  assert.equal(frozen.observation?.spoof?.verdict, 'spoof');
  assert.equal(frozen.observation?.spoof?.frozenFeed, true);
  assert.equal(frozen.observation?.spoof?.frozenForMs, 5_000);
  assert.equal(frozen.observation?.faces.length, 1);
  assert.equal(frozenFeedCheck(frozen.track, input(7_000), s).observation, undefined, 'reported once per VISION_FROZEN_FEED_MS');
  assert.ok(frozenFeedCheck(frozen.track, input(11_000), s).observation);
  assert.equal(frozenFeedCheck({ ...track, lastFaces: [] }, input(9_000), s).observation, undefined, 'no face, no spoof');
  assert.equal(frozenFeedCheck(track, input(60_000), trackSettings(testConfig({ VISION_FROZEN_FEED_MS: 0 }))).observation, undefined);
});
