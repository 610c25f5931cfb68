import assert from 'node:assert/strict';
import test from 'node:test';
import type { Box } from '../../src/domain/observation.js';
import { carryVerdicts, rejectedBy, rememberRejected } from '../../src/vision/confirm.js';

const face: Box = [100, 100, 140, 140];
const background: Box = [500, 40, 60, 60];

test('a detection continuing a confirmed face keeps its confirmation and score; one continuing a rejected detection stays rejected', () => {
  const moved: Box = [110, 104, 140, 140];
  assert.deepEqual(carryVerdicts([moved, [502, 42, 60, 60]], { faces: [{ box: face, score: 1 }], rejected: [background] }), [{ face: true, score: 1 }, { face: false }]);
  assert.deepEqual(carryVerdicts([], { faces: [{ box: face, score: 1 }], rejected: [] }), [], 'a face that left needs no mesh');
});

test('any new detection, or one that moved too far, needs the mesh', () => {
  assert.equal(carryVerdicts([face, [300, 300, 120, 120]], { faces: [{ box: face, score: 1 }], rejected: [] }), undefined, 'a second person');
  assert.equal(carryVerdicts([[180, 100, 140, 140]], { faces: [{ box: face, score: 1 }], rejected: [] }), undefined, 'IoU 0.27');
  assert.equal(carryVerdicts([face], { faces: [], rejected: [] }), undefined, 'no previous verdict');
});

test('the better overlap decides between a confirmed face and a rejected detection', () => {
  const near: Box = [104, 100, 140, 140];
  assert.deepEqual(carryVerdicts([near], { faces: [{ box: [130, 100, 140, 140], score: 0.9 }], rejected: [face] }), [{ face: false }]);
});

test('detections without a face of the mesh over them are the rejected ones', () => {
  assert.deepEqual(rejectedBy([face, background], [[104, 98, 138, 142]]), [background]);
  assert.deepEqual(rejectedBy([face], []), [face]);
});

test('a rejection is remembered while the detector does not see it again, updated when it does', () => {
  const flickered: Box = [300, 20, 50, 50];
  assert.deepEqual(rememberRejected([], [face], [background, flickered]), [background, flickered]);
  assert.deepEqual(rememberRejected([[503, 41, 60, 60]], [face, [503, 41, 60, 60]], [background]), [[503, 41, 60, 60]]);
  assert.equal(rememberRejected([], [], Array.from({ length: 20 }, (_, i): Box => [i * 30, 0, 20, 20])).length, 8);
});
