import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admissionFor,
  agentActionFor,
  clientStatuses,
  computeDeactivated,
  diffLists,
  mergeLists,
  NOT_AVAILABLE_CLOSE_CODE,
} from '../../src/clients/statusPolicy.js';
import { formatStatusFile, parseStatusFile } from '../../src/clients/statusFiles.js';
import { Action, Reason } from '../../src/domain/action.js';
import { CloseCode } from '../../src/domain/protocol.js';

test('deactivated = (available − active) ∪ (available ∩ blocked)', () => {
  const available = ['ann', 'bob', 'cat', 'dan'];
  const active = ['ann', 'bob', 'eve'];
  const blocked = ['bob', 'zed'];
  // cat, dan: available, not active; bob: available and blocked (even though active); eve/zed are not available.
  assert.deepEqual(computeDeactivated(available, active, blocked), ['bob', 'cat', 'dan']);
  assert.deepEqual(computeDeactivated([], active, blocked), []);
  assert.deepEqual(computeDeactivated(available, [], []), available);
  assert.deepEqual(computeDeactivated(available, available, []), []);
});

test('three-way merge keeps both sides\' changes', () => {
  const base = ['a', 'b', 'c'];
  // file removed b and added f; redis (API) removed c and added r.
  assert.deepEqual(mergeLists(base, ['a', 'c', 'f'], ['a', 'b', 'r']), ['a', 'f', 'r']);
  assert.deepEqual(mergeLists(base, base, base), base);
  assert.deepEqual(mergeLists(base, [], base), [], 'a file emptied by hand empties the list');
  assert.deepEqual(mergeLists([], ['x'], ['x']), ['x'], 'the same change on both sides counts once');
  assert.deepEqual(diffLists(['a', 'b'], ['b', 'c']), { added: ['c'], removed: ['a'] });
});

test('client statuses: one primary state by precedence, every list named', () => {
  const statuses = clientStatuses({
    available: ['ann', 'bob', 'cat', 'dan'],
    active: ['ann', 'bob', 'cat'],
    paused: ['ann'],
    blocked: ['bob', 'old'],
    network: ['dan'],
  });
  const by = Object.fromEntries(statuses.map((s) => [s.id, s]));
  assert.deepEqual(Object.keys(by), ['ann', 'bob', 'cat', 'dan', 'old']);
  assert.equal(by.ann!.state, 'paused');
  assert.deepEqual(by.ann!.states, ['paused', 'active']);
  assert.equal(by.bob!.state, 'blocked');
  assert.deepEqual(by.bob!.states, ['blocked', 'active', 'deactivated']);
  assert.equal(by.cat!.state, 'active');
  assert.equal(by.dan!.state, 'connection_error');
  assert.deepEqual(by.dan!.states, ['connection_error', 'deactivated']);
  assert.equal(by.old!.enrolled, false);
  assert.equal(by.old!.state, 'blocked');
});

test('agent actions for each admin change', () => {
  assert.deepEqual(agentActionFor('paused', 'add', 'ACTION_LOCK_SCREEN'), { action: Action.NO_ACTION, reason: Reason.REASON_PAUSED_CLIENT });
  assert.deepEqual(agentActionFor('paused', 'remove', 'ACTION_LOCK_SCREEN'), { action: Action.NO_ACTION, reason: Reason.REASON_RESUME_CLIENT });
  assert.deepEqual(agentActionFor('blocked', 'add', 'ACTION_SIGN_OUT'), { action: Action.ACTION_SIGN_OUT, reason: Reason.REASON_BLOCKED_CLIENT });
  assert.equal(agentActionFor('blocked', 'remove', 'ACTION_SIGN_OUT'), undefined);
  assert.equal(agentActionFor('network', 'add', 'ACTION_SIGN_OUT'), undefined);
});

test('admission: blocked refused with 4003, unenrolled refused with 4006 or warned', () => {
  const opts = { blockedAction: 'ACTION_LOCK_SCREEN' as const, unenrolled: 'refuse' as const, actionId: 'x1', now: 5 };
  const blocked = admissionFor({ blocked: true, enrolled: true }, opts).admission;
  assert.equal(blocked.admitted, false);
  assert.ok(!blocked.admitted && blocked.closeCode === CloseCode.BLOCKED);
  assert.equal(!blocked.admitted && blocked.action?.reason, Reason.REASON_BLOCKED_CLIENT);
  assert.equal(!blocked.admitted && blocked.action?.action, Action.ACTION_LOCK_SCREEN);
  const unknown = admissionFor({ blocked: false, enrolled: false }, opts).admission;
  assert.ok(!unknown.admitted && unknown.closeCode === NOT_AVAILABLE_CLOSE_CODE);
  assert.equal(!unknown.admitted && unknown.action?.reason, Reason.REASON_CLIENT_NOT_AVAILABLE);
  const warned = admissionFor({ blocked: false, enrolled: false }, { ...opts, unenrolled: 'warn' });
  assert.deepEqual(warned.admission, { admitted: true });
  assert.equal(warned.notice?.reason, Reason.REASON_CLIENT_NOT_AVAILABLE);
  assert.equal(warned.notice?.action, Action.ACTION_WARNING);
  assert.deepEqual(admissionFor({ blocked: false, enrolled: false }, { ...opts, unenrolled: 'allow' }), { admission: { admitted: true } });
  assert.deepEqual(admissionFor({ blocked: false, enrolled: true }, opts).admission, { admitted: true });
});

test('state file format: seed layout, sorted, deduplicated', () => {
  assert.equal(formatStatusFile(['user2', 'user1', 'user2']), '{\n  "clients": [\n    "user1",\n    "user2"\n  ]\n}\n');
  assert.equal(formatStatusFile([]), '{\n  "clients": []\n}\n');
  assert.deepEqual(parseStatusFile('f.json', formatStatusFile(['b', 'a'])), { ok: true, clients: ['a', 'b'] });
  const empty = parseStatusFile('f.json', '  \n');
  assert.ok(!empty.ok, 'an empty file (an editor mid-write) is not taken as "no clients"');
  assert.match(empty.problem.message, /^f\.json: empty; write \{"clients": \[\]\}/);
});

test('bad state files are reported with the file name and the place', () => {
  const bad = parseStatusFile('pause_clients.json', '{\n  "clients": [\n    "a",\n    "b"\n  \n}');
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok);
  assert.match(bad.problem.message, /^pause_clients\.json: not valid JSON at line \d+ column \d+ \(position \d+\)/);
  assert.equal(bad.problem.line, 6);
  const cases: [string, RegExp][] = [
    ['[]', /\$: not an object/],
    ['{"client": []}', /\$\.client: unknown key/],
    ['{}', /\$\.clients: missing/],
    ['{"clients": "a"}', /\$\.clients: not an array/],
    ['{"clients": ["a", 3]}', /\$\.clients\[1\]: 3 is not a string/],
    ['{"clients": ["a", "../etc"]}', /\$\.clients\[1\]: "\.\.\/etc" is not a client id/],
  ];
  for (const [text, expected] of cases) {
    const r = parseStatusFile('blocked_clients.json', text);
    assert.ok(!r.ok, text);
    assert.match(r.problem.message, /^blocked_clients\.json: /);
    assert.match(r.problem.message, expected);
  }
});
