/**
 * End to end with the real models: an agent streams a scripted sequence (the enrolled user, nobody,
 * another enrolled person, the user again, a still photo of the user) and receives the expected
 * actions in order, with evidence files of the seed's names and JSON sidecars.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { startTestRedis, waitFor } from '../helpers/redis.js';
import { startTestVigil } from '../helpers/vigil.js';
import { withDrawnPhone } from '../helpers/phone.js';
import { AgentClient } from '../../src/agent/agentClient.js';
import { Action, Reason, actionName, reasonName } from '../../src/domain/action.js';
import type { ActionMessage } from '../../src/domain/protocol.js';
import { demoFrames } from '../../src/cli/demoScene.js';

const data = join('..', 'shared', 'data', 'face', 'deepface');
const { server } = await startTestRedis();

// Fast ladders so the scene takes seconds, not minutes; the rules are the shipped ones.
const policy = `
reasons:
  noFace:
    ladder:
      - { action: warning, afterMs: 1500, analyses: 2 }
  wrongUser:
    ladder:
      - { action: lock_screen, afterMs: 0, analyses: 2 }
  spoof:
    ladder:
      - { action: lock_screen, afterMs: 0, analyses: 1 }
  phone:
    ladder:
      - { action: warning, afterMs: 0, analyses: 1 }
`;

/** A webcam-like 640x480 frame of a photo, shifted a little so consecutive frames never repeat exactly. */
async function webcam(file: string, shift: number): Promise<Buffer> {
  const img = sharp(join(data, file)).rotate();
  const { width = 0, height = 0 } = await img.metadata();
  const cut = Math.round(Math.min(width, height) * 0.04);
  const dx = shift % 2 ? cut : 0;
  return sharp(join(data, file)).rotate().extract({ left: dx, top: cut - dx, width: width - cut, height: height - cut }).resize(640, 480, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer();
}

test('scripted scene: user, nobody, another enrolled user, a still photo, a phone -> warning, lock, lock, warning with evidence', { timeout: 300_000 }, async () => {
  let dataDir = '';
  const vigil = await startTestVigil(
    server,
    {
      ROLES: 'gateway,vision,manager',
      UNENROLLED_CLIENTS: 'refuse',
      VISION_WORKERS: 1,
      VISION_IDENTITY_INTERVAL_MS: 1_000,
      VISION_PHONE_INTERVAL_MS: 1_000,
    },
    async (dir) => {
      dataDir = dir;
      for (const [user, files] of [['alice', ['img1.jpg', 'img2.jpg']], ['bob', ['img8.jpg', 'img9.jpg']]] as const) {
        await mkdir(join(dir, 'Users_DataBase', user), { recursive: true });
        for (const f of files) await copyFile(join(data, f), join(dir, 'Users_DataBase', user, f));
      }
      await writeFile(join(dir, 'policy.yaml'), policy);
      return { POLICY_FILE: join(dir, 'policy.yaml') };
    },
  );

  const alice = await Promise.all(['img4.jpg', 'img5.jpg', 'img6.jpg', 'img7.jpg'].flatMap((f, i) => [webcam(f, i), webcam(f, i + 1)]));
  const bob = await Promise.all(['img47.jpg', 'img48.jpg', 'img49.jpg', 'img50.jpg'].flatMap((f, i) => [webcam(f, i), webcam(f, i + 1)]));
  // An empty chair: the demo scene's background region (no face, good light).
  const empty = (await demoFrames()).slice(20, 40);
  const photo = await webcam('img1.jpg', 0);
  const phone = await Promise.all(alice.map((f) => withDrawnPhone(f)));

  const token = await vigil.tokens.issue('alice');
  const agent = new AgentClient({ url: vigil.wsUrl, clientId: 'alice', token, reconnect: false });
  const received: ActionMessage[] = [];
  agent.on('action', (a) => received.push(a));
  agent.start();
  await agent.ready();

  let stream: NodeJS.Timeout | undefined;
  const play = (frames: Buffer[], fps = 3) => {
    clearInterval(stream);
    let i = 0;
    stream = setInterval(() => agent.sendFrame(frames[i++ % frames.length]), 1000 / fps);
  };
  const expect = async (reason: number, action: number, what: string) => {
    const from = received.length;
    const got = await waitFor(() => received.slice(from).find((a) => a.reason === reason), { timeoutMs: 60_000, what });
    assert.equal(actionName(got.action), actionName(action as never), what);
    return got;
  };
  const quiet = async (ms: number, what: string) => {
    const from = received.length;
    await new Promise((r) => setTimeout(r, ms));
    assert.deepEqual(received.slice(from).map((a) => `${actionName(a.action)}/${reasonName(a.reason)}`), [], what);
  };

  try {
    play(alice);
    await quiet(5_000, 'the enrolled user at the desk: no action');
    play(empty);
    await expect(Reason.REASON_NO_FACE, Action.ACTION_WARNING, 'an empty chair gives a no-face warning');
    play(alice);
    await quiet(4_000, 'the user back: no action');
    play(bob);
    await expect(Reason.REASON_WRONG_USER, Action.ACTION_LOCK_SCREEN, 'another enrolled user gives a wrong-user lock');
    play(alice);
    await new Promise((r) => setTimeout(r, 6_000));
    // A still photo held to the camera: the very same picture frame after frame (a live camera never repeats).
    play([photo]);
    await expect(Reason.REASON_SPOOF_IMAGE, Action.ACTION_LOCK_SCREEN, 'a still photo of the user gives a spoof lock');
    play(alice);
    await new Promise((r) => setTimeout(r, 4_000));
    play(phone);
    await expect(Reason.REASON_PHONE_DETECTION, Action.ACTION_WARNING, 'a phone held up beside the face gives a phone warning');
  } finally {
    clearInterval(stream);
    await agent.stop();
  }

  const sequence = received.map((a) => reasonName(a.reason));
  assert.deepEqual(
    sequence.filter((r) => ['REASON_NO_FACE', 'REASON_WRONG_USER', 'REASON_SPOOF_IMAGE', 'REASON_PHONE_DETECTION'].includes(r)),
    ['REASON_NO_FACE', 'REASON_WRONG_USER', 'REASON_SPOOF_IMAGE', 'REASON_PHONE_DETECTION'],
    `actions in order (all: ${sequence.join(', ')})`,
  );

  // Evidence: Actions/<Lock_screen|Warning>/alice/<dd_mm_yyyy-hh_mm>_<Action>_<Reason>.jpg + .json sidecar.
  await vigil.decisions.close();
  const expected = [
    ['Warning', 'No_face'],
    ['Lock_screen', 'Wrong_user'],
    ['Lock_screen', 'Spoof_image'],
    ['Warning', 'Phone_detection'],
  ];
  for (const [folder, reason] of expected) {
    const dir = join(dataDir, 'Actions', folder!, 'alice');
    const files = await readdir(dir);
    const jpg = files.find((f) => new RegExp(`^\\d\\d_\\d\\d_\\d{4}-\\d\\d_\\d\\d_${folder}_${reason}(_\\d+)?\\.jpg$`).test(f));
    assert.ok(jpg, `evidence ${folder}/${reason} in ${files.join(', ')}`);
    const head = await readFile(join(dir, jpg));
    assert.deepEqual([head[0], head[1]], [0xff, 0xd8], 'evidence is a JPEG');
    const sidecar = JSON.parse(await readFile(join(dir, jpg.replace(/\.jpg$/, '.json')), 'utf8')) as Record<string, unknown>;
    assert.equal(sidecar.clientId, 'alice');
    assert.equal(sidecar.user, 'alice');
    assert.equal(sidecar.reasonName, `REASON_${reason!.toUpperCase()}`);
    assert.ok(typeof sidecar.modelVersion === 'string' && typeof sidecar.policyVersion === 'string', 'sidecar names model and policy versions');
    assert.ok(typeof sidecar.frameTs === 'number', 'sidecar has the frame timestamp');
  }
});
