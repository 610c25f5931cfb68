import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { Action, Reason, actionName, reasonName } from '../../src/domain/action.js';
import { decide, emptyHistory, type History, type PolicyInput } from '../../src/decisions/policy.js';
import { PolicyError, defaultPolicy, parsePolicy, type PolicyConfig, type PolicyInput as PolicyFileInput } from '../../src/decisions/policyFile.js';
import type { TelemetryEvent } from '../../src/domain/telemetry.js';
import { baseObservation, scriptObservations, type SceneStep } from './scenes.js';

const START = Date.UTC(2026, 10, 22, 9, 0, 0);
const A = Action;
const R = Reason;

/** "t=13 ACTION_WARNING REASON_NO_FACE": seconds after the script's start, readable in a failed diff. */
type Fired = string;
const fired = (t: number, action: Action, reason: Reason): Fired => `t=${t} ${actionName(action)} ${reasonName(reason)}`;

function runScript(steps: SceneStep[], config: PolicyConfig = defaultPolicy.config, history: History = emptyHistory()): { fired: Fired[]; history: History } {
  const out: Fired[] = [];
  let h = history;
  for (const { obs, now } of scriptObservations(steps, { startMs: START })) {
    const result = decide({ kind: 'observation', obs }, h, config, now);
    if (result.decision) out.push(fired((now - START) / 1_000, result.decision.action, result.decision.reason));
    h = result.history;
  }
  return { fired: out, history: h };
}

const withPolicy = (p: PolicyFileInput) => parsePolicy(p).config;

interface Case {
  name: string;
  steps: SceneStep[];
  policy?: PolicyFileInput;
  expect: Fired[];
}

// With the defaults, 1 frame/s, identity re-checked every 3 frames, phones checked every 3 frames.
const cases: Case[] = [
  { name: 'the enrolled user at the desk: nothing', steps: [{ scene: 'user', seconds: 120 }], expect: [] },
  {
    name: 'no face: warning after 10 s, lock after 45 s, nothing more while it persists',
    steps: [{ scene: 'user', seconds: 3 }, { scene: 'nobody', seconds: 120 }],
    expect: [fired(13, A.ACTION_WARNING, R.REASON_NO_FACE), fired(48, A.ACTION_LOCK_SCREEN, R.REASON_NO_FACE)],
  },
  {
    name: 'no face: the user coming back clears it, leaving again warns again',
    steps: [{ scene: 'user', seconds: 2 }, { scene: 'nobody', seconds: 12 }, { scene: 'user', seconds: 3 }, { scene: 'nobody', seconds: 12 }],
    expect: [fired(12, A.ACTION_WARNING, R.REASON_NO_FACE), fired(27, A.ACTION_WARNING, R.REASON_NO_FACE)],
  },
  {
    name: 'no face: grace not reached, nothing',
    steps: [{ scene: 'user', seconds: 2 }, { scene: 'nobody', seconds: 9 }, { scene: 'user', seconds: 5 }],
    expect: [],
  },
  {
    name: 'darkness is never "no face": only a poor-image warning after 20 s',
    steps: [{ scene: 'user', seconds: 2 }, { scene: 'dark', seconds: 90 }],
    expect: [fired(22, A.ACTION_WARNING, R.REASON_POOR_IMAGE)],
  },
  {
    name: 'dark frames between empty frames neither advance nor reset "no face"',
    steps: [{ scene: 'nobody', seconds: 5 }, { scene: 'dark', seconds: 10 }, { scene: 'nobody', seconds: 2 }],
    expect: [fired(15, A.ACTION_WARNING, R.REASON_NO_FACE)],
  },
  {
    name: 'another enrolled user: lock at the second check, sign out after a minute',
    steps: [{ scene: 'user', seconds: 3 }, { scene: 'other_user', seconds: 70 }],
    expect: [fired(6, A.ACTION_LOCK_SCREEN, R.REASON_WRONG_USER), fired(63, A.ACTION_SIGN_OUT, R.REASON_WRONG_USER)],
  },
  {
    name: 'a stranger counts as wrong user by default',
    steps: [{ scene: 'user', seconds: 3 }, { scene: 'stranger', seconds: 10 }],
    expect: [fired(6, A.ACTION_LOCK_SCREEN, R.REASON_WRONG_USER)],
  },
  {
    name: 'a stranger is ignored with countUnknown off',
    steps: [{ scene: 'user', seconds: 3 }, { scene: 'stranger', seconds: 30 }],
    policy: { reasons: { wrongUser: { countUnknown: false } } },
    expect: [],
  },
  {
    name: 'wrong user threshold: distances below minDistanceToOwn do not count',
    steps: [{ scene: 'other_user', seconds: 30 }],
    policy: { reasons: { wrongUser: { minDistanceToOwn: 0.9 } } },
    expect: [],
  },
  {
    name: 'an uncertain identity is not acted upon',
    steps: [{ scene: 'user', seconds: 2 }, { scene: 'uncertain', seconds: 90 }],
    expect: [],
  },
  {
    name: 'a photo of the user: lock at once (the spoof verdict is already temporal)',
    steps: [{ scene: 'user', seconds: 3 }, { scene: 'photo_of_user', seconds: 20 }],
    expect: [fired(3, A.ACTION_LOCK_SCREEN, R.REASON_SPOOF_IMAGE)],
  },
  {
    name: 'spoof by score threshold when configured',
    steps: [{ scene: 'user', seconds: 9 }],
    policy: { reasons: { spoof: { realScoreBelow: 0.95 } } },
    expect: [fired(0, A.ACTION_LOCK_SCREEN, R.REASON_SPOOF_IMAGE)],
  },
  {
    name: 'phone: warning once persistent, lock if it persists 15 s',
    steps: [{ scene: 'user', seconds: 3 }, { scene: 'phone', seconds: 40 }],
    expect: [fired(8, A.ACTION_WARNING, R.REASON_PHONE_DETECTION), fired(23, A.ACTION_LOCK_SCREEN, R.REASON_PHONE_DETECTION)],
  },
  {
    name: 'phone put away before the lock: warning only; shown again: warned again',
    steps: [{ scene: 'phone', seconds: 12 }, { scene: 'user', seconds: 9 }, { scene: 'phone', seconds: 9 }],
    expect: [fired(5, A.ACTION_WARNING, R.REASON_PHONE_DETECTION), fired(26, A.ACTION_WARNING, R.REASON_PHONE_DETECTION)],
  },
  {
    name: 'phone on a single detection when persistence is not required',
    steps: [{ scene: 'user', seconds: 3 }, { scene: 'phone', seconds: 3 }],
    policy: { reasons: { phone: { requirePersistent: false, minScore: 0.8 } } },
    expect: [fired(5, A.ACTION_WARNING, R.REASON_PHONE_DETECTION)],
  },
  {
    name: 'phone detections below minScore are ignored',
    steps: [{ scene: 'phone', seconds: 30 }],
    policy: { reasons: { phone: { requirePersistent: false, minScore: 0.9 } } },
    expect: [],
  },
  {
    name: 'several faces: warning after 3 s',
    steps: [{ scene: 'user', seconds: 2 }, { scene: 'two_people', seconds: 10 }],
    expect: [fired(5, A.ACTION_WARNING, R.REASON_SEVERAL_FACES)],
  },
  {
    name: 'unreadable frames: error after three in a row, never "no face"',
    steps: [{ scene: 'corrupt', seconds: 30 }],
    expect: [fired(2, A.ACTION_ERROR, R.REASON_ANALYSIS_FAILED)],
  },
  {
    name: 'a disabled reason never fires',
    steps: [{ scene: 'nobody', seconds: 120 }],
    policy: { reasons: { noFace: { enabled: false } } },
    expect: [],
  },
  {
    name: 'a custom ladder: lock straight away after 5 s',
    steps: [{ scene: 'nobody', seconds: 20 }],
    policy: { reasons: { noFace: { ladder: [{ action: 'lock_screen', afterMs: 5_000 }] } } },
    expect: [fired(5, A.ACTION_LOCK_SCREEN, R.REASON_NO_FACE)],
  },
  {
    name: 'escalation: after the wrong user locks and leaves, the empty chair adds no warning (lock in force)',
    steps: [{ scene: 'other_user', seconds: 9 }, { scene: 'nobody', seconds: 50 }],
    expect: [fired(3, A.ACTION_LOCK_SCREEN, R.REASON_WRONG_USER)],
  },
  {
    name: 'without suppression the empty chair warns and locks on its own',
    steps: [{ scene: 'other_user', seconds: 9 }, { scene: 'nobody', seconds: 50 }],
    policy: { suppressLowerSeverity: false },
    expect: [fired(3, A.ACTION_LOCK_SCREEN, R.REASON_WRONG_USER), fired(19, A.ACTION_WARNING, R.REASON_NO_FACE), fired(54, A.ACTION_LOCK_SCREEN, R.REASON_NO_FACE)],
  },
  {
    name: 'the enrolled user verified twice clears the wrong-user lock; a new intruder locks again',
    steps: [{ scene: 'other_user', seconds: 6 }, { scene: 'user', seconds: 6 }, { scene: 'other_user', seconds: 6 }],
    expect: [fired(3, A.ACTION_LOCK_SCREEN, R.REASON_WRONG_USER), fired(15, A.ACTION_LOCK_SCREEN, R.REASON_WRONG_USER)],
  },
  {
    name: 'the issue scene: user, nobody, another enrolled person, a photo of the user, a phone',
    steps: [
      { scene: 'user', seconds: 5 },
      { scene: 'nobody', seconds: 15 },
      { scene: 'other_user', seconds: 6 },
      { scene: 'user', seconds: 6 },
      { scene: 'photo_of_user', seconds: 3 },
      { scene: 'user', seconds: 6 },
      { scene: 'phone', seconds: 9 },
    ],
    expect: [
      fired(15, A.ACTION_WARNING, R.REASON_NO_FACE),
      fired(23, A.ACTION_LOCK_SCREEN, R.REASON_WRONG_USER),
      fired(32, A.ACTION_LOCK_SCREEN, R.REASON_SPOOF_IMAGE),
      fired(44, A.ACTION_WARNING, R.REASON_PHONE_DETECTION),
    ],
  },
];

for (const c of cases) {
  test(`policy: ${c.name}`, () => {
    const config = c.policy ? withPolicy(c.policy) : defaultPolicy.config;
    assert.deepEqual(runScript(c.steps, config).fired, c.expect);
  });
}

function telemetry(event: TelemetryEvent, at: number): PolicyInput {
  return { kind: 'telemetry', record: { clientId: 'alice', event, at, receivedAt: at } };
}

interface TelemetryCase {
  name: string;
  events: (TelemetryEvent | 'frame')[];
  policy?: PolicyFileInput;
  expect: (string | undefined)[];
}

const tcases: TelemetryCase[] = [
  {
    name: 'camera detached: lock once; repeated events do not re-send; attached clears; detached again locks again',
    events: ['camera_detached', 'camera_detached', 'camera_attached', 'camera_detached'],
    expect: ['ACTION_LOCK_SCREEN REASON_CAMERA_NOT_ATTACH', undefined, undefined, 'ACTION_LOCK_SCREEN REASON_CAMERA_NOT_ATTACH'],
  },
  {
    name: 'cable removed: lock; a later analysed frame proves the camera works and clears it',
    events: ['cable_removed', 'frame', 'cable_removed'],
    expect: ['ACTION_LOCK_SCREEN REASON_CABLE_REMOVE', undefined, 'ACTION_LOCK_SCREEN REASON_CABLE_REMOVE'],
  },
  {
    name: 'network lost: warning; restored clears it',
    events: ['network_lost', 'network_lost', 'network_restored', 'network_lost'],
    expect: ['ACTION_WARNING REASON_CONNECT_TO_INTERNET', undefined, undefined, 'ACTION_WARNING REASON_CONNECT_TO_INTERNET'],
  },
  {
    name: 'camera lock in force: a cable removal adds no second lock',
    events: ['camera_detached', 'cable_removed'],
    expect: ['ACTION_LOCK_SCREEN REASON_CAMERA_NOT_ATTACH', undefined],
  },
  {
    name: 'network action configurable; disabled camera reason is silent',
    events: ['network_lost', 'camera_detached'],
    policy: { reasons: { networkLost: { action: 'lock_screen' }, cameraDetached: { enabled: false } } },
    expect: ['ACTION_LOCK_SCREEN REASON_CONNECT_TO_INTERNET', undefined],
  },
  { name: 'recovery events alone do nothing', events: ['camera_attached', 'network_restored'], expect: [undefined, undefined] },
];

for (const c of tcases) {
  test(`policy (telemetry): ${c.name}`, () => {
    const config = c.policy ? withPolicy(c.policy) : defaultPolicy.config;
    let h = emptyHistory();
    let t = START;
    let seq = 0;
    const got = c.events.map((e) => {
      t += 1_000;
      const input: PolicyInput =
        e === 'frame' ? { kind: 'observation', obs: { ...baseObservation('alice', ++seq, t), faces: [{ box: [1, 1, 100, 100], score: 0.9 }] } } : telemetry(e, t);
      const r = decide(input, h, config, t);
      h = r.history;
      return r.decision ? `${actionName(r.decision.action)} ${reasonName(r.decision.reason)}` : undefined;
    });
    assert.deepEqual(got, c.expect);
  });
}

test('policy: a repeated or older frame is ignored and leaves the history untouched (retries, slow workers)', () => {
  const frames = [...scriptObservations([{ scene: 'nobody', seconds: 15 }], { startMs: START })];
  let h = emptyHistory();
  let warnings = 0;
  for (const { obs, now } of frames) {
    const r = decide({ kind: 'observation', obs }, h, defaultPolicy.config, now);
    if (r.decision) warnings++;
    // The same observation again (a retried call) and an older one (a slow worker) change nothing.
    const again = decide({ kind: 'observation', obs }, r.history, defaultPolicy.config, now + 5);
    assert.equal(again.ignored, true);
    assert.equal(again.decision, undefined);
    assert.equal(again.history, r.history);
    if (obs.frameSeq > 1) {
      const older = { ...obs, frameSeq: obs.frameSeq - 1, frameTs: obs.frameTs - 1_000 };
      assert.equal(decide({ kind: 'observation', obs: older }, r.history, defaultPolicy.config, now).ignored, true);
    }
    h = r.history;
  }
  assert.equal(warnings, 1);
});

test('policy: a phones-only follow-up of the last frame counts for phones only, once', () => {
  // Phones checked on every frame, acted on at the first sighting; no face on the frames (a phone hides it).
  const policy = parsePolicy({ reasons: { phone: { requirePersistent: false, minScore: 0.5 } } }).config;
  const { obs, now } = [...scriptObservations([{ scene: 'nobody', seconds: 1 }], { startMs: START })][0]!;
  const first = decide({ kind: 'observation', obs }, emptyHistory(), policy, now);
  assert.equal(first.history.conditions.noFace?.count, 1);
  const followUp = { ...obs, faces: [], stages: { identity: false, spoof: false, phones: true, detector: false, followUp: true }, phones: { detections: [{ box: [10, 10, 50, 90] as [number, number, number, number], score: 0.9 }], persistent: true } };
  const second = decide({ kind: 'observation', obs: followUp }, first.history, policy, now + 150);
  assert.notEqual(second.ignored, true);
  assert.equal(second.history.conditions.noFace?.count, 1, 'the frame\'s faces are not counted twice');
  assert.equal(second.history.conditions.phone?.count, 1);
  assert.equal(decide({ kind: 'observation', obs: followUp }, second.history, policy, now + 160).ignored, true, 'a repeated follow-up is ignored');
});

test('policy: a condition gone stale starts over instead of escalating at once', () => {
  const first = runScript([{ scene: 'nobody', seconds: 11 }]);
  assert.deepEqual(first.fired, [fired(10, A.ACTION_WARNING, R.REASON_NO_FACE)]);
  // Two minutes later (longer than staleAfterMs) the chair is still empty: the warning comes again
  // after the grace, and the lock is not fired on the first frame although 2 minutes have passed.
  let h = first.history;
  const out: Fired[] = [];
  for (const { obs, now } of scriptObservations([{ scene: 'nobody', seconds: 12 }], { startMs: START + 131_000 })) {
    const r = decide({ kind: 'observation', obs: { ...obs, frameSeq: obs.frameSeq + 100 } }, h, defaultPolicy.config, now);
    if (r.decision) out.push(fired((now - START) / 1_000, r.decision.action, r.decision.reason));
    h = r.history;
  }
  assert.deepEqual(out, [fired(141, A.ACTION_WARNING, R.REASON_NO_FACE)]);
});

test('policy: scores name the evidence behind a decision', () => {
  const result = [...scriptObservations([{ scene: 'user', seconds: 3 }, { scene: 'other_user', seconds: 4 }], { startMs: START })].reduce<{ h: History; d?: ReturnType<typeof decide>['decision'] }>(
    (acc, { obs, now }) => {
      const r = decide({ kind: 'observation', obs }, acc.h, defaultPolicy.config, now);
      return { h: r.history, d: r.decision ?? acc.d };
    },
    { h: emptyHistory() },
  );
  assert.equal(result.d?.reason, R.REASON_WRONG_USER);
  assert.equal(result.d?.scores.distanceToOwn, 0.82);
  assert.equal(result.d?.scores.nearestOtherDistance, 0.31);
  assert.equal(result.d?.scores.heldMs, 3_000);
  assert.equal(result.d?.scores.analyses, 2);
});

test('policy: several conditions due on one frame send the most severe; the other follows on the next frame', () => {
  const config = withPolicy({ reasons: { severalFaces: { ladder: [{ action: 'warning', afterMs: 0 }] }, wrongUser: { ladder: [{ action: 'lock_screen', afterMs: 0 }] } } });
  let h = emptyHistory();
  const got: string[] = [];
  for (let i = 1; i <= 2; i++) {
    const obs = { ...baseObservation('alice', i, START + i * 1_000), faces: [{ box: [0, 0, 99, 99] as [number, number, number, number], score: 0.9 }, { box: [200, 0, 99, 99] as [number, number, number, number], score: 0.9 }], identity: { verdict: 'other_user' as const } };
    const r = decide({ kind: 'observation', obs }, h, config, START + i * 1_000);
    h = r.history;
    got.push(r.decision ? `${actionName(r.decision.action)} ${reasonName(r.decision.reason)}` : '-');
  }
  // The warning for several faces is then suppressed by the lock in force.
  assert.deepEqual(got, ['ACTION_LOCK_SCREEN REASON_WRONG_USER', '-']);
  assert.equal(h.conditions.severalFaces?.step, 0);
});

test('policy file: docs/policy.md lists every key with its default', async () => {
  const text = await readFile('docs/policy.md', 'utf8');
  const block = /## Every key\s+```yaml\n([\s\S]*?)```/.exec(text)?.[1];
  assert.ok(block, 'docs/policy.md has the "Every key" YAML block');
  const documented = parseYaml(block) as unknown;
  assert.deepEqual(documented, defaultPolicy.config);
  assert.deepEqual(parsePolicy(documented).config, defaultPolicy.config);
});

const badPolicies: { name: string; policy: unknown; message: RegExp }[] = [
  { name: 'unknown top-level key', policy: { reasonz: {} }, message: /reasonz: unknown key/ },
  { name: 'unknown reason', policy: { reasons: { noFaces: {} } }, message: /reasons\.noFaces: unknown key/ },
  { name: 'wrong type', policy: { staleAfterMs: '60s' }, message: /staleAfterMs: expected number/ },
  { name: 'threshold out of range', policy: { reasons: { noFace: { minFaceScore: 1.5 } } }, message: /reasons\.noFace\.minFaceScore: Too big/ },
  { name: 'empty ladder', policy: { reasons: { spoof: { ladder: [] } } }, message: /reasons\.spoof\.ladder: Too small/ },
  { name: 'ladder going backwards', policy: { reasons: { phone: { ladder: [{ action: 'lock_screen', afterMs: 100 }, { action: 'sign_out', afterMs: 50 }] } } }, message: /reasons\.phone\.ladder\[1\]: a step that comes no earlier/ },
  { name: 'unknown action', policy: { reasons: { cameraDetached: { action: 'shutdown' } } }, message: /reasons\.cameraDetached\.action: expected one of/ },
  { name: 'ladder on a device reason', policy: { reasons: { networkLost: { ladder: [] } } }, message: /reasons\.networkLost\.ladder: unknown key/ },
  { name: 'not an object', policy: [1, 2], message: /\(top level\)/ },
];

for (const c of badPolicies) {
  test(`policy file: refuses ${c.name}, naming the key`, () => {
    assert.throws(() => parsePolicy(c.policy, 'test.yaml'), (err: Error) => {
      assert.ok(err instanceof PolicyError);
      assert.match(err.message, /invalid decision policy in test\.yaml/);
      assert.match(err.message, c.message);
      return true;
    });
  });
}

test('policy file: an empty file means the defaults; the version names the settings', () => {
  assert.deepEqual(parsePolicy(null).config, defaultPolicy.config);
  assert.equal(parsePolicy(undefined).version, defaultPolicy.version);
  const custom = parsePolicy({ version: 'site-7', reasons: { noFace: { minFaceScore: 0.4 } } });
  assert.match(custom.version, /^site-7\+[0-9a-f]{12}$/);
  assert.notEqual(custom.version.split('+')[1], defaultPolicy.version.split('+')[1]);
});

test('policy: a lock left in force by a condition unseen for staleAfterMs no longer suppresses others', () => {
  // A wrong user locks and leaves; the chair stays empty past staleAfterMs with no identity check.
  const first = runScript([{ scene: 'other_user', seconds: 4 }]);
  assert.deepEqual(first.fired, [fired(3, A.ACTION_LOCK_SCREEN, R.REASON_WRONG_USER)]);
  assert.equal(first.history.conditions.wrongUser?.inForce, A.ACTION_LOCK_SCREEN);
  // Five minutes later the user is back, holding a phone: the old lock must not hide the warning.
  const out: Fired[] = [];
  let h = first.history;
  for (const { obs, now } of scriptObservations([{ scene: 'phone', seconds: 6 }], { startMs: START + 300_000 })) {
    const r = decide({ kind: 'observation', obs: { ...obs, frameSeq: obs.frameSeq + 100, identity: undefined } }, h, defaultPolicy.config, now);
    if (r.decision) out.push(fired((now - START) / 1_000, r.decision.action, r.decision.reason));
    h = r.history;
  }
  assert.deepEqual(out, [fired(305, A.ACTION_WARNING, R.REASON_PHONE_DETECTION)]);
  assert.equal(h.conditions.wrongUser, undefined, 'the stale episode was dropped');
});
